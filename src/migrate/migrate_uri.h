/* Where a migration stream goes: tcp:HOST:PORT or unix:PATH. */
#ifndef VMON_MIGRATE_MIGRATE_URI_H
#define VMON_MIGRATE_MIGRATE_URI_H

#include <stddef.h>

struct migrate_uri {
	enum { MIGRATE_TCP, MIGRATE_UNIX } kind;
	char host[256];
	char port[16];
	char path[108];
};

/* 0, or -EINVAL with why in err. */
int migrate_uri_parse(const char *s, struct migrate_uri *u, char *err, size_t errlen);
/* A connected socket within timeout_ms, or -errno. */
int migrate_uri_connect(const struct migrate_uri *u, int timeout_ms);
/* A listening socket, or -errno; the address it listens on (the port
 * chosen when PORT is 0) into where. */
int migrate_uri_listen(const struct migrate_uri *u, char *where, size_t len);

#endif
