/* Client requests over the API socket: one HTTP/1.1 request per
 * connection, the response parsed with libhttp-parser. */
#include "cli/client.h"

#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api.h"
#include "machine/exitcode.h"

#define CLIENT_TIMEOUT_MS 30000
#define CLIENT_MAX_RESPONSE (4u << 20)

struct client_resp {
	char *body;
	size_t len;
	int done;
};

static int client_on_body(http_parser *p, const char *at, size_t len)
{
	struct client_resp *r = p->data;
	char *b;

	if (r->len + len > CLIENT_MAX_RESPONSE || !(b = realloc(r->body, r->len + len + 1)))
		return -1;
	memcpy(b + r->len, at, len);
	r->body = b;
	r->len += len;
	r->body[r->len] = 0;
	return 0;
}

static int client_on_complete(http_parser *p)
{
	((struct client_resp *)p->data)->done = 1;
	return 0;
}

static int client_send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int client_request(const char *sock, const char *method, const char *path, const char *body,
		   int *status, char **resp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct client_resp r = { 0 };
	http_parser_settings s;
	http_parser p;
	char *req = NULL, buf[4096];
	int fd, n, err = 0;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		goto out;
	}
	n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
		     "%s%zu\r\n\r\n%s", method, path,
		     body ? "Content-Type: application/json\r\nContent-Length: " : "Content-Length: ",
		     body ? strlen(body) : 0, body ? body : "");
	if (n < 0) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = client_send_all(fd, req, (size_t)n)))
		goto out;
	http_parser_init(&p, HTTP_RESPONSE);
	http_parser_settings_init(&s);
	s.on_body = client_on_body;
	s.on_message_complete = client_on_complete;
	p.data = &r;
	while (!r.done) {
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, CLIENT_TIMEOUT_MS) <= 0) {
			err = -ETIMEDOUT;
			goto out;
		}
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			goto out;
		}
		size_t used = http_parser_execute(&p, &s, buf, (size_t)got);
		if (HTTP_PARSER_ERRNO(&p) != HPE_OK || used != (size_t)got) {
			err = -EPROTO;
			goto out;
		}
		if (got == 0 && !r.done) {
			err = -EPROTO;
			goto out;
		}
	}
	*status = p.status_code;
	*resp = r.body ? r.body : strdup("");
	r.body = NULL;
out:
	free(r.body);
	free(req);
	close(fd);
	return err;
}

int client_args(int argc, char **argv, const char *usage, const struct client_flag *flags,
		unsigned *set, char *sock, size_t len, const char **name)
{
	*name = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool known = false;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			return 0;
		}
		for (const struct client_flag *f = flags; f && f->name; f++)
			if (!strcmp(a, f->name))
				*set |= f->bit, known = true;
		if (known)
			continue;
		if (a[0] == '-') {
			fprintf(stderr, "vmon: unknown option '%s' (try 'vmon %s --help')\n", a, argv[0]);
			return VMON_EXIT_USAGE;
		}
		if (*name) {
			fprintf(stderr, "vmon: unexpected argument '%s' (try 'vmon %s --help')\n", a,
				argv[0]);
			return VMON_EXIT_USAGE;
		}
		*name = a;
	}
	if (!*name) {
		fprintf(stderr, "vmon: %s needs a monitor NAME (try 'vmon %s --help')\n", argv[0],
			argv[0]);
		return VMON_EXIT_USAGE;
	}
	if (!strchr(*name, '/') && !api_name_ok(*name)) {
		fprintf(stderr, "vmon: %s: not a monitor name\n", *name);
		return VMON_EXIT_USAGE;
	}
	if (api_socket_path(*name, sock, len)) {
		fprintf(stderr, "vmon: %s: socket path too long\n", *name);
		return VMON_EXIT_USAGE;
	}
	return -1;
}

int client_call(const char *name, const char *sock, const char *method, const char *path,
		const char *body, char **out)
{
	char *resp = NULL;
	int status, r = client_request(sock, method, path, body, &status, &resp);

	if (r == -ENOENT || r == -ECONNREFUSED) {
		fprintf(stderr, "vmon: %s: no monitor answers on %s\n", name, sock);
		return VMON_EXIT_USAGE;
	}
	if (r) {
		fprintf(stderr, "vmon: %s: %s\n", name, strerror(-r));
		return VMON_EXIT_USAGE;
	}
	if (status < 200 || status > 299) {
		json_t *j = json_loads(resp, 0, NULL);
		const char *why = json_string_value(json_object_get(j, "error"));
		fprintf(stderr, "vmon: %s: %s (HTTP %d)\n", name, why ? why : resp, status);
		json_decref(j);
		free(resp);
		return 1;
	}
	if (out)
		*out = resp;
	else
		free(resp);
	return 0;
}
