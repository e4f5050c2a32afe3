/* The value of --net, in QEMU's syntax:
 *   user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,mac=MAC]
 *   tap[,ifname=NAME][,mac=MAC]
 * An empty HOSTADDR is every host address (0.0.0.0); an empty GUESTADDR is
 * the address DHCP gives the guest (10.0.2.15). */
#ifndef VMON_NET_NET_OPTS_H
#define VMON_NET_NET_OPTS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX         4     /* --net options per VM */
#define NET_HOSTFWD_MAX 16    /* hostfwd rules per --net user */
#define NET_IFNAME_MAX  16    /* IFNAMSIZ, with the NUL */

enum net_kind { NET_USER, NET_TAP };

struct net_hostfwd {
	bool udp;
	struct in_addr host_addr;   /* INADDR_ANY: every address */
	uint16_t host_port;
	struct in_addr guest_addr;  /* INADDR_ANY: the guest's DHCP address */
	uint16_t guest_port;
};

struct net_opts {
	enum net_kind kind;
	bool have_mac;
	uint8_t mac[6];
	char ifname[NET_IFNAME_MAX];  /* tap: "" lets the kernel choose */
	struct net_hostfwd fwd[NET_HOSTFWD_MAX];
	unsigned nfwd;
	uint64_t bps, pps;            /* rate limits each way, 0 = none */
};

/* Parses spec into o. Returns 0, or -EINVAL with a one-line reason in err. */
int net_opts_parse(const char *spec, struct net_opts *o, char *err, size_t errlen);
/* The default MAC of the index-th network card: 52:54:00:12:34:56 + index. */
void net_default_mac(unsigned index, uint8_t mac[6]);

#endif
