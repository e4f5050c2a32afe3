/* The control API: HTTP/1.1 + JSON on a UNIX socket (Firecracker style).
 * api_http.c parses requests (libhttp-parser), api.c routes them to the
 * VM (libjansson), api_server.c owns the socket and its thread, api_vm.c
 * is the VM side backed by a machine. */
#ifndef VMON_API_API_H
#define VMON_API_API_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_MAX_BODY  (64u << 10)  /* larger bodies get 413 */
#define API_MAX_PATH  256
#define API_MAX_ROUTES 16

struct api_request {
	char method[16];
	char path[API_MAX_PATH];      /* without the query */
	char *body;                   /* NUL-terminated, body_len bytes */
	size_t body_len;
};

struct api_response {
	int status;
	char *body;                   /* JSON text (malloc), or NULL */
	const char *allow;            /* 405: the methods the path takes */
};

/* What the routes ask of the VM: the machine in vmon, a fake in tests.
 * The int calls return 0 or -errno (-EBUSY / -ECANCELED: wrong state). */
struct api_vm {
	void *opaque;
	int (*pause)(void *opaque);
	int (*resume)(void *opaque);
	int (*shutdown)(void *opaque);    /* ACPI power button */
	int (*reset)(void *opaque);
	int (*stop)(void *opaque);        /* immediate end */
	const char *(*state)(void *opaque); /* "running", "paused", "stopping" */
	json_t *(*info)(void *opaque);    /* GET /vm, without "state" */
	json_t *(*metrics)(void *opaque); /* the VM's counters for GET /metrics */
	int (*snapshot)(void *opaque, const char *dir); /* paused around it */
	/* Starts a live migration to uri (docs/migration.md); -EINVAL or
	 * -EOPNOTSUPP with why in err, -EBUSY when one is under way. */
	int (*migrate)(void *opaque, const char *uri, uint64_t downtime_ms, char *err,
		       size_t errlen);
	json_t *(*migration)(void *opaque); /* GET /vm/migration */
};

struct api_route_stats {
	uint64_t count, total_ns, max_ns;
};

struct api {
	struct api_vm vm;
	pthread_mutex_t lock;             /* stats */
	struct api_route_stats stats[API_MAX_ROUTES];
	struct api_route_stats unrouted;  /* 404, 405 and parse errors */
};

void api_init(struct api *a, const struct api_vm *vm);
void api_destroy(struct api *a);
/* Answers one parsed request; rs->body is the caller's to free. */
void api_handle(struct api *a, const struct api_request *rq, struct api_response *rs);
/* A JSON error response {"error": why}. */
void api_error(struct api_response *rs, int status, const char *why);
/* Counts a request that never reached a route (parse errors). */
void api_count_unrouted(struct api *a, uint64_t ns);

/* The request parser of one connection. */
struct api_http;
struct api_http *api_http_new(void);
void api_http_free(struct api_http *h);
/* Feeds received bytes: 0 more are needed, 1 the request is complete
 * (api_http_request), or an HTTP error status (400, 413) with *why set. */
int api_http_feed(struct api_http *h, const char *data, size_t len, const char **why);
const struct api_request *api_http_request(const struct api_http *h);
/* The response as bytes on the wire (malloc). */
char *api_http_format(const struct api_response *rs, size_t *len);

/* The server: listens on path, answers on a thread of its own. */
struct api_server;
/* Binds path: a stale socket file is replaced; one a live monitor answers
 * on is refused with -EADDRINUSE. */
int api_server_start(const char *path, const struct api_vm *vm, struct api_server **out);
/* Stops the thread and removes the socket file. */
void api_server_stop(struct api_server *s);
/* A jailed monitor cannot remove its socket: it leaves it to its supervisor
 * outside, which removes the socket when no monitor answers on it. */
void api_server_detach_path(struct api_server *s);
void api_server_unlink_stale(const char *path);

/* The default socket directory: $XDG_RUNTIME_DIR/vmon, else /run/vmon. */
int api_socket_dir(char *buf, size_t len);
/* PATH for NAME: NAME itself when it has a '/', else DIR/NAME.sock. */
int api_socket_path(const char *name, char *buf, size_t len);
/* Whether a monitor name is acceptable: [A-Za-z0-9._-], 1..64, no leading dot. */
bool api_name_ok(const char *name);

struct machine;
/* The VM side backed by a running machine. */
void api_vm_machine(struct api_vm *vm, struct machine *m, const char *name);

#endif
