/* The API socket: a thread of its own (never a vCPU's or the I/O thread's)
 * that answers one connection at a time, one request per connection. A
 * client is given a few seconds; whatever it sends or does (closing
 * mid-request, garbage, huge bodies) only affects its own connection. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api.h"
#include "util/clock.h"
#include "util/log.h"

#define API_CLIENT_TIMEOUT_MS 5000
#define API_LINGER_MS 200          /* per read while draining after an error */
#define API_LINGER_MAX (4u << 20)   /* bytes drained at most */

struct api_server {
	struct api api;
	int listen_fd, stop_fd;
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void api_server_send(int fd, const struct api_response *rs)
{
	size_t len, off = 0;
	char *out = api_http_format(rs, &len);

	while (out && off < len) {
		ssize_t n = send(fd, out + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the client left: its loss */
		off += (size_t)n;
	}
	free(out);
}

/* After an error answer to a client that may still be sending (a body too
 * large): closing with its bytes unread would reset the connection, and the
 * client could lose the answer. Reads and drops what follows, for a short
 * while, until the client closes. */
static void api_server_linger(int fd)
{
	char buf[4096];
	size_t total = 0;

	shutdown(fd, SHUT_WR);
	while (total < API_LINGER_MAX) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, API_LINGER_MS) <= 0)
			return;
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0)
			return;
		total += (size_t)r;
	}
}

/* Reads one request from fd until it is complete, bad, or the client is
 * gone or too slow; answers it. */
static void api_server_client(struct api_server *s, int fd)
{
	struct api_http *h = api_http_new();
	struct api_response rs = { 0 };
	uint64_t t0 = clock_ns();
	const char *why = NULL;
	char buf[4096];
	int st = 0;

	if (!h)
		return;
	while (!st) {
		struct pollfd p[2] = { { fd, POLLIN, 0 }, { s->stop_fd, POLLIN, 0 } };
		int n = poll(p, 2, API_CLIENT_TIMEOUT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || p[1].revents)
			goto out; /* too slow, or vmon is ending */
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out; /* closed mid-request: nothing to answer */
		st = api_http_feed(h, buf, (size_t)r, &why);
	}
	if (st == 1) {
		api_handle(&s->api, api_http_request(h), &rs);
	} else {
		api_error(&rs, st, why ? why : "bad request");
		api_count_unrouted(&s->api, clock_ns() - t0);
	}
	api_server_send(fd, &rs);
	if (st != 1)
		api_server_linger(fd);
	free(rs.body);
out:
	api_http_free(h);
}

static void *api_server_main(void *arg)
{
	struct api_server *s = arg;

	for (;;) {
		struct pollfd p[2] = { { s->listen_fd, POLLIN, 0 }, { s->stop_fd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("api: poll: %s", strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		if (!p[0].revents)
			continue;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* EAGAIN, ECONNABORTED, out of fds: the next one */
		api_server_client(s, fd);
		close(fd);
	}
}

/* Whether a monitor answers on path. */
static bool api_server_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = !connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	return live;
}

void api_server_detach_path(struct api_server *s)
{
	if (s)
		s->path[0] = 0;
}

void api_server_unlink_stale(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path) || lstat(path, &st) || !S_ISSOCK(st.st_mode))
		return;
	strcpy(sa.sun_path, path);
	if (!api_server_live(&sa))
		unlink(path);
}

int api_server_start(const char *path, const struct api_vm *vm, struct api_server **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct api_server *s;
	struct stat st;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (api_server_live(&sa))
			return -EADDRINUSE;
		unlink(path); /* stale: its monitor is gone */
	}
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	strcpy(s->path, path);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->stop_fd < 0 || s->listen_fd < 0)
		goto fail_errno;
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail_errno;
	if (listen(s->listen_fd, 16)) {
		r = -errno;
		unlink(path);
		goto fail;
	}
	api_init(&s->api, vm);
	if ((r = -pthread_create(&s->thread, NULL, api_server_main, s))) {
		api_destroy(&s->api);
		unlink(path);
		goto fail;
	}
	*out = s;
	return 0;
fail_errno:
	r = -errno;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s);
	return r;
}

void api_server_stop(struct api_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (write(s->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(s->thread, NULL);
	if (s->path[0])
		unlink(s->path);
	close(s->listen_fd);
	close(s->stop_fd);
	api_destroy(&s->api);
	free(s);
}

int api_socket_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n = xdg && xdg[0] ? snprintf(buf, len, "%s/vmon", xdg) : snprintf(buf, len, "/run/vmon");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int api_socket_path(const char *name, char *buf, size_t len)
{
	char dir[256];
	int n, r;

	if (strchr(name, '/')) {
		n = snprintf(buf, len, "%s", name);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	if ((r = api_socket_dir(dir, sizeof(dir))))
		return r;
	n = snprintf(buf, len, "%s/%s.sock", dir, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool api_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || name[0] == '.')
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789._-") == n;
}
