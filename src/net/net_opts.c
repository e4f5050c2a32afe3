#include "net/net_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/size.h"

void net_default_mac(unsigned index, uint8_t mac[6])
{
	static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

	memcpy(mac, base, 6);
	mac[5] = (uint8_t)(base[5] + index);
}

static int net_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* XX:XX:XX:XX:XX:XX, unicast. */
static int net_parse_mac(const char *v, size_t len, uint8_t mac[6], char *err, size_t errlen)
{
	if (len != 17)
		goto bad;
	for (unsigned i = 0; i < 6; i++) {
		int hi = net_hex(v[3 * i]), lo = net_hex(v[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && v[3 * i + 2] != ':'))
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1)
		return log_input_error(err, errlen, "mac=%.17s is a multicast address", v);
	return 0;
bad:
	return log_input_error(err, errlen, "mac=%.*s: expected six hex bytes like 52:54:00:12:34:56",
			    (int)(len > 40 ? 40 : len), v);
}

/* A port 1..65535 in [v, v + len). */
static bool net_parse_port(const char *v, size_t len, uint16_t *port)
{
	unsigned n = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (unsigned)(v[i] - '0');
	}
	if (n == 0 || n > 65535)
		return false;
	*port = (uint16_t)n;
	return true;
}

/* An IPv4 address, or INADDR_ANY when empty. */
static bool net_parse_addr(const char *v, size_t len, struct in_addr *a)
{
	char buf[16];

	if (len == 0) {
		a->s_addr = htonl(INADDR_ANY);
		return true;
	}
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, v, len);
	buf[len] = 0;
	return inet_pton(AF_INET, buf, a) == 1;
}

/* [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
static int net_parse_hostfwd(const char *v, size_t len, struct net_hostfwd *f, char *err,
			     size_t errlen)
{
	const char *end = v + len, *c1, *c2, *dash, *c3;
	int shown = (int)(len > 60 ? 60 : len);

	memset(f, 0, sizeof(*f));
	if (!(c1 = memchr(v, ':', len)))
		goto bad;
	if (c1 - v == 3 && !memcmp(v, "udp", 3))
		f->udp = true;
	else if (!(c1 == v || (c1 - v == 3 && !memcmp(v, "tcp", 3))))
		return log_input_error(err, errlen, "hostfwd=%.*s: the protocol is tcp or udp", shown, v);
	if (!(c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1))) ||
	    !(dash = memchr(c2 + 1, '-', (size_t)(end - c2 - 1))) ||
	    !(c3 = memchr(dash + 1, ':', (size_t)(end - dash - 1))))
		goto bad;
	if (!net_parse_addr(c1 + 1, (size_t)(c2 - c1 - 1), &f->host_addr) ||
	    !net_parse_addr(dash + 1, (size_t)(c3 - dash - 1), &f->guest_addr))
		return log_input_error(err, errlen, "hostfwd=%.*s: an address is not IPv4 "
				    "(a.b.c.d, or empty)", shown, v);
	if (!net_parse_port(c2 + 1, (size_t)(dash - c2 - 1), &f->host_port) ||
	    !net_parse_port(c3 + 1, (size_t)(end - c3 - 1), &f->guest_port))
		return log_input_error(err, errlen, "hostfwd=%.*s: a port is not a number from "
				    "1 to 65535", shown, v);
	return 0;
bad:
	return log_input_error(err, errlen, "hostfwd=%.*s: expected [tcp|udp]:[HOSTADDR]:HOSTPORT-"
			    "[GUESTADDR]:GUESTPORT", shown, v);
}

int net_opts_parse(const char *spec, struct net_opts *o, char *err, size_t errlen)
{
	const char *s = strchr(spec, ','), *kind_end = s ? s : spec + strlen(spec);
	size_t klen = (size_t)(kind_end - spec);
	bool have_ifname = false;

	memset(o, 0, sizeof(*o));
	if (klen == 4 && !memcmp(spec, "user", 4))
		o->kind = NET_USER;
	else if (klen == 3 && !memcmp(spec, "tap", 3))
		o->kind = NET_TAP;
	else
		return log_input_error(err, errlen, "'%.*s' is not a network type (expected user "
				    "or tap)", (int)(klen > 40 ? 40 : klen), spec);
	for (s = kind_end; *s == ',';) {
		const char *opt = s + 1, *end = strchr(opt, ','), *eq, *v;
		size_t len, kl, vlen;
		int r;

		if (!end)
			end = opt + strlen(opt);
		len = (size_t)(end - opt);
		s = end;
		if (len == 0)
			return log_input_error(err, errlen, "empty option");
		if (!(eq = memchr(opt, '=', len)))
			return log_input_error(err, errlen, "'%.*s' needs a value (key=value)",
					    (int)(len > 40 ? 40 : len), opt);
		kl = (size_t)(eq - opt);
		v = eq + 1;
		vlen = len - kl - 1;
		if (kl == 3 && !memcmp(opt, "mac", 3)) {
			if (o->have_mac)
				return log_input_error(err, errlen, "mac is given twice");
			if ((r = net_parse_mac(v, vlen, o->mac, err, errlen)))
				return r;
			o->have_mac = true;
		} else if (kl == 7 && !memcmp(opt, "hostfwd", 7) && o->kind == NET_USER) {
			if (o->nfwd == NET_HOSTFWD_MAX)
				return log_input_error(err, errlen, "at most %d hostfwd rules",
						    NET_HOSTFWD_MAX);
			if ((r = net_parse_hostfwd(v, vlen, &o->fwd[o->nfwd], err, errlen)))
				return r;
			o->nfwd++;
		} else if (kl == 6 && !memcmp(opt, "ifname", 6) && o->kind == NET_TAP) {
			if (have_ifname)
				return log_input_error(err, errlen, "ifname is given twice");
			if (vlen == 0 || vlen >= NET_IFNAME_MAX)
				return log_input_error(err, errlen, "ifname must have 1 to %d characters",
						    NET_IFNAME_MAX - 1);
			for (size_t i = 0; i < vlen; i++)
				if (v[i] <= 0x20 || v[i] >= 0x7f || v[i] == '/' || v[i] == ':')
					return log_input_error(err, errlen, "ifname=%.*s: not a valid "
							    "interface name", (int)vlen, v);
			memcpy(o->ifname, v, vlen);
			have_ifname = true;
		} else if ((kl == 3 && !memcmp(opt, "bps", 3)) || (kl == 3 && !memcmp(opt, "pps", 3))) {
			uint64_t *dst = opt[0] == 'b' ? &o->bps : &o->pps;
			char num[24];

			if (*dst)
				return log_input_error(err, errlen, "%.3s is given twice", opt);
			if (vlen == 0 || vlen >= sizeof(num) || v[0] == '0' ||
			    (memcpy(num, v, vlen), num[vlen] = 0,
			     size_parse_uint(num, 1, UINT64_MAX / 4, dst)))
				return log_input_error(err, errlen, "%.3s=%.*s: expected a positive "
						    "number", opt, (int)(vlen > 40 ? 40 : vlen), v);
		} else {
			return log_input_error(err, errlen, "unknown key '%.*s' for %s (expected %s)",
					    (int)(kl > 40 ? 40 : kl), opt,
					    o->kind == NET_USER ? "user" : "tap",
					    o->kind == NET_USER ? "hostfwd, mac, bps or pps" :
								  "ifname, mac, bps or pps");
		}
	}
	return 0;
}
