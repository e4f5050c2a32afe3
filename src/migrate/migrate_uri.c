/* Migration endpoints on TCP or UNIX sockets. */
#include "migrate/migrate_uri.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

int migrate_uri_parse(const char *s, struct migrate_uri *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof(*u));
	if (!strncmp(s, "unix:", 5)) {
		u->kind = MIGRATE_UNIX;
		if (!s[5] || strlen(s + 5) >= sizeof(u->path))
			return log_input_error(err, errlen, "%s: expected unix:PATH (at most 107 bytes)", s);
		strcpy(u->path, s + 5);
		return 0;
	}
	if (strncmp(s, "tcp:", 4))
		return log_input_error(err, errlen, "%s: expected tcp:HOST:PORT or unix:PATH", s);
	const char *host = s + 4, *colon = strrchr(host, ':');
	size_t hl;
	char *end;
	if (!colon)
		return log_input_error(err, errlen, "%s: expected tcp:HOST:PORT", s);
	hl = (size_t)(colon - host);
	/* [v6 address]:port */
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host++;
		hl -= 2;
	}
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!hl || hl >= sizeof(u->host) || !colon[1] || *end || port > 65535)
		return log_input_error(err, errlen, "%s: expected tcp:HOST:PORT (PORT 0 to 65535)", s);
	u->kind = MIGRATE_TCP;
	memcpy(u->host, host, hl);
	snprintf(u->port, sizeof(u->port), "%lu", port);
	return 0;
}

static int migrate_uri_unix_addr(const struct migrate_uri *u, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, u->path);
	return 0;
}

/* Waits for a non-blocking connect; then the socket blocks again. */
static int migrate_uri_finish(int fd, int r, int timeout_ms)
{
	struct pollfd p = { fd, POLLOUT, 0 };
	int e = 0;
	socklen_t el = sizeof(e);

	if (r && errno != EINPROGRESS)
		return -errno;
	if (r) {
		int n;
		do
			n = poll(&p, 1, timeout_ms);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return n ? -errno : -ETIMEDOUT;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el))
			return -errno;
		if (e)
			return -e;
	}
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ? -errno : 0;
}

int migrate_uri_connect(const struct migrate_uri *u, int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *a;
	int fd, r = -ECONNREFUSED, one = 1;

	if (u->kind == MIGRATE_UNIX) {
		struct sockaddr_un sa;
		migrate_uri_unix_addr(u, &sa);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
			return -errno;
		r = migrate_uri_finish(fd, connect(fd, (struct sockaddr *)&sa, sizeof(sa)), timeout_ms);
		if (r) {
			close(fd);
			return r;
		}
		return fd;
	}
	if ((r = getaddrinfo(u->host, u->port, &hints, &res)))
		return r == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	r = -ECONNREFUSED;
	for (a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    a->ai_protocol);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		r = migrate_uri_finish(fd, connect(fd, a->ai_addr, a->ai_addrlen), timeout_ms);
		if (!r) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			freeaddrinfo(res);
			return fd;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return r;
}

int migrate_uri_listen(const struct migrate_uri *u, char *where, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];
	int fd, r, one = 1;

	if (u->kind == MIGRATE_UNIX) {
		struct sockaddr_un sa;
		struct stat st;
		migrate_uri_unix_addr(u, &sa);
		/* A stale socket file is replaced; anything else is left alone. */
		if (!lstat(u->path, &st)) {
			if (!S_ISSOCK(st.st_mode))
				return -EEXIST;
			unlink(u->path);
		}
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return -errno;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
			r = -errno;
			close(fd);
			return r;
		}
		snprintf(where, len, "unix:%s", u->path);
		return fd;
	}
	if ((r = getaddrinfo(u->host, u->port, &hints, &res)))
		return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0) {
		r = -errno;
		freeaddrinfo(res);
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 1) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		r = -errno;
		freeaddrinfo(res);
		close(fd);
		return r;
	}
	freeaddrinfo(res);
	if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(where, len, "tcp:%s:%s", u->host, u->port);
	else
		snprintf(where, len, strchr(host, ':') ? "tcp:[%s]:%s" : "tcp:%s:%s", host, port);
	return fd;
}
