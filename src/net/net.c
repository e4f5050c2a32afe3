#include "net/net.h"

#include "net/net_opts.h"

int net_backend_open(const struct net_opts *o, struct net_backend **out, char *err,
		     size_t errlen)
{
	return o->kind == NET_TAP ? net_tap_open(o, out, err, errlen) :
				    net_slirp_open(o, out, err, errlen);
}
