/* Unit tests: the --net option parser. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "net/net_opts.h"

static struct net_opts o;
static char err[256];

static int parse(const char *s)
{
	err[0] = 0;
	return net_opts_parse(s, &o, err, sizeof(err));
}

static uint32_t ip(const char *a)
{
	struct in_addr r;

	assert_int_equal(inet_pton(AF_INET, a, &r), 1);
	return r.s_addr;
}

static void test_user(void **state)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

	(void)state;
	assert_int_equal(parse("user"), 0);
	assert_int_equal(o.kind, NET_USER);
	assert_false(o.have_mac);
	assert_int_equal(o.nfwd, 0);

	assert_int_equal(parse("user,hostfwd=tcp::8080-:80"), 0);
	assert_int_equal(o.nfwd, 1);
	assert_false(o.fwd[0].udp);
	assert_int_equal(o.fwd[0].host_addr.s_addr, 0);
	assert_int_equal(o.fwd[0].host_port, 8080);
	assert_int_equal(o.fwd[0].guest_addr.s_addr, 0);
	assert_int_equal(o.fwd[0].guest_port, 80);

	assert_int_equal(parse("user,hostfwd=tcp:127.0.0.1:2222-10.0.2.16:22,"
			       "hostfwd=udp::5353-:53,hostfwd=::1-:65535,mac=52:54:00:AB:cd:ef"), 0);
	assert_int_equal(o.nfwd, 3);
	assert_int_equal(o.fwd[0].host_addr.s_addr, ip("127.0.0.1"));
	assert_int_equal(o.fwd[0].guest_addr.s_addr, ip("10.0.2.16"));
	assert_int_equal(o.fwd[0].host_port, 2222);
	assert_int_equal(o.fwd[0].guest_port, 22);
	assert_true(o.fwd[1].udp);
	assert_int_equal(o.fwd[1].host_port, 5353);
	assert_false(o.fwd[2].udp);   /* no protocol: tcp */
	assert_int_equal(o.fwd[2].host_port, 1);
	assert_int_equal(o.fwd[2].guest_port, 65535);
	assert_true(o.have_mac);
	assert_memory_equal(o.mac, mac, 6);
}

static void test_tap(void **state)
{
	(void)state;
	assert_int_equal(parse("tap,ifname=vmontap0"), 0);
	assert_int_equal(o.kind, NET_TAP);
	assert_string_equal(o.ifname, "vmontap0");
	assert_int_equal(parse("tap"), 0);
	assert_string_equal(o.ifname, "");
	assert_int_equal(parse("tap,mac=02:00:00:00:00:01,ifname=abcdefghijklmno"), 0);
	assert_string_equal(o.ifname, "abcdefghijklmno");
	assert_int_equal(o.bps, 0);
	assert_int_equal(parse("tap,bps=1000000,pps=500"), 0);
	assert_int_equal(o.bps, 1000000);
	assert_int_equal(o.pps, 500);
	assert_int_equal(parse("user,pps=10,hostfwd=tcp::1-:2,bps=4096"), 0);
	assert_int_equal(o.bps, 4096);
	assert_int_equal(o.pps, 10);
}

static void test_default_mac(void **state)
{
	static const uint8_t m0[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	static const uint8_t m3[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x59 };
	uint8_t mac[6];

	(void)state;
	net_default_mac(0, mac);
	assert_memory_equal(mac, m0, 6);
	net_default_mac(3, mac);
	assert_memory_equal(mac, m3, 6);
}

static void test_bad(void **state)
{
	static const struct { const char *spec, *msg; } cases[] = {
		{ "", "'' is not a network type (expected user or tap)" },
		{ "bridge", "'bridge' is not a network type (expected user or tap)" },
		{ "user,", "empty option" },
		{ "user,bps=0", "bps=0: expected a positive number" },
		{ "user,bps=", "bps=: expected a positive number" },
		{ "tap,pps=-3", "pps=-3: expected a positive number" },
		{ "tap,pps=fast", "pps=fast: expected a positive number" },
		{ "user,bps=1,bps=2", "bps is given twice" },
		{ "user,,mac=52:54:00:00:00:01", "empty option" },
		{ "user,mac", "'mac' needs a value (key=value)" },
		{ "user,ifname=x", "unknown key 'ifname' for user (expected hostfwd, mac, bps or pps)" },
		{ "tap,hostfwd=tcp::1-:2", "unknown key 'hostfwd' for tap (expected ifname, mac, bps or pps)" },
		{ "user,mac=52:54:00:00:00", "mac=52:54:00:00:00: expected six hex bytes like 52:54:00:12:34:56" },
		{ "user,mac=52-54-00-00-00-01", "mac=52-54-00-00-00-01: expected six hex bytes like 52:54:00:12:34:56" },
		{ "user,mac=5g:54:00:00:00:01", "mac=5g:54:00:00:00:01: expected six hex bytes like 52:54:00:12:34:56" },
		{ "user,mac=01:00:5e:00:00:01", "mac=01:00:5e:00:00:01 is a multicast address" },
		{ "user,mac=52:54:00:00:00:01,mac=52:54:00:00:00:02", "mac is given twice" },
		{ "user,hostfwd=tcp:8080-:80", "hostfwd=tcp:8080-:80: expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT" },
		{ "user,hostfwd=sctp::1-:2", "hostfwd=sctp::1-:2: the protocol is tcp or udp" },
		{ "user,hostfwd=tcp::0-:80", "hostfwd=tcp::0-:80: a port is not a number from 1 to 65535" },
		{ "user,hostfwd=tcp::65536-:80", "hostfwd=tcp::65536-:80: a port is not a number from 1 to 65535" },
		{ "user,hostfwd=tcp::80-:", "hostfwd=tcp::80-:: a port is not a number from 1 to 65535" },
		{ "user,hostfwd=tcp::8x-:80", "hostfwd=tcp::8x-:80: a port is not a number from 1 to 65535" },
		{ "user,hostfwd=tcp:localhost:80-:80", "hostfwd=tcp:localhost:80-:80: an address is not IPv4 (a.b.c.d, or empty)" },
		{ "user,hostfwd=tcp::80-10.0.2:80", "hostfwd=tcp::80-10.0.2:80: an address is not IPv4 (a.b.c.d, or empty)" },
		{ "tap,ifname=", "ifname must have 1 to 15 characters" },
		{ "tap,ifname=abcdefghijklmnop", "ifname must have 1 to 15 characters" },
		{ "tap,ifname=a/b", "ifname=a/b: not a valid interface name" },
		{ "tap,ifname=a,ifname=b", "ifname is given twice" },
		{ "user,foo=\nbar", "unknown key 'foo' for user (expected hostfwd, mac, bps or pps)" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse(cases[i].spec);
		if (r != -EINVAL || strcmp(err, cases[i].msg))
			fail_msg("'%s': got %d '%s', want '%s'", cases[i].spec, r, err, cases[i].msg);
	}
	/* More rules than fit. */
	char spec[2048] = "user";
	for (int i = 0; i <= NET_HOSTFWD_MAX; i++)
		snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), ",hostfwd=::%d-:80", 1000 + i);
	assert_int_equal(parse(spec), -EINVAL);
	assert_string_equal(err, "at most 16 hostfwd rules");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_tap),
		cmocka_unit_test(test_default_mac),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
