/* Fuzz target: the --net option parser. Checks what it promises: on
 * success a known kind, ports from 1 to 65535, at most NET_HOSTFWD_MAX
 * rules (none for tap), a printable interface name and a unicast MAC; on
 * failure a one-line reason. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct net_opts o;
	char *spec, err[128];
	int r;

	if (len > 4096)
		return 0;
	spec = malloc(len + 1);
	if (!spec)
		return 0;
	memcpy(spec, data, len);
	spec[len] = '\0';
	err[0] = 0;
	r = net_opts_parse(spec, &o, err, sizeof(err));
	if (r == 0) {
		size_t il = strnlen(o.ifname, sizeof(o.ifname));
		if ((o.kind != NET_USER && o.kind != NET_TAP) || o.nfwd > NET_HOSTFWD_MAX ||
		    (o.kind == NET_TAP && o.nfwd) || il == sizeof(o.ifname) ||
		    (o.have_mac && (o.mac[0] & 1)))
			abort();
		for (unsigned i = 0; i < o.nfwd; i++)
			if (!o.fwd[i].host_port || !o.fwd[i].guest_port)
				abort();
		for (size_t i = 0; i < il; i++)
			if (o.ifname[i] <= 0x20 || o.ifname[i] >= 0x7f)
				abort();
	} else if (r != -EINVAL || !err[0] || strchr(err, '\n')) {
		abort();
	}
	free(spec);
	return 0;
}
