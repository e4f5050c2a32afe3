/* The routes: a table of method, path and handler. Each handler fills a
 * response; JSON bodies are built and parsed with jansson. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/api.h"
#include "util/clock.h"

typedef void (*api_fn)(struct api *a, const struct api_request *rq, struct api_response *rs);

struct api_route {
	const char *method, *path;
	api_fn fn;
};

static void api_json(struct api_response *rs, int status, json_t *j)
{
	rs->status = status;
	rs->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (!rs->body) {
		rs->status = 500;
		rs->body = strdup("{\"error\":\"out of memory\"}");
	}
	json_decref(j);
}

void api_error(struct api_response *rs, int status, const char *why)
{
	char clean[API_MAX_PATH + 128];
	size_t i;

	/* Messages quote the request: keep them printable ASCII (valid JSON). */
	for (i = 0; why[i] && i < sizeof(clean) - 1; i++)
		clean[i] = why[i] >= 0x20 && why[i] < 0x7f ? why[i] : '?';
	clean[i] = 0;
	*rs = (struct api_response){ 0 };
	api_json(rs, status, json_pack("{s:s}", "error", clean));
}

/* The VM's answer to a state change: 200 with the new state, 409 when the
 * VM is in the wrong state for it. */
static void api_change(struct api *a, struct api_response *rs, int r, const char *what)
{
	char why[128];

	if (!r) {
		api_json(rs, 200, json_pack("{s:s}", "state", a->vm.state(a->vm.opaque)));
		return;
	}
	if (r == -EBUSY || r == -ECANCELED) {
		snprintf(why, sizeof(why), "cannot %s: the VM is %s", what,
			 a->vm.state(a->vm.opaque));
		api_error(rs, 409, why);
		return;
	}
	snprintf(why, sizeof(why), "cannot %s: %s", what, strerror(-r));
	api_error(rs, 500, why);
}

static void api_get_vm(struct api *a, const struct api_request *rq, struct api_response *rs)
{
	json_t *j = a->vm.info(a->vm.opaque);

	(void)rq;
	if (!j) {
		api_error(rs, 500, "out of memory");
		return;
	}
	json_object_set_new(j, "state", json_string(a->vm.state(a->vm.opaque)));
	api_json(rs, 200, j);
}

#define API_CHANGE(fn_name, call, what)                                                     \
	static void fn_name(struct api *a, const struct api_request *rq,                   \
			    struct api_response *rs)                                       \
	{                                                                                   \
		(void)rq;                                                                   \
		api_change(a, rs, a->vm.call(a->vm.opaque), what);                          \
	}
API_CHANGE(api_put_pause, pause, "pause")
API_CHANGE(api_put_resume, resume, "resume")
API_CHANGE(api_put_shutdown, shutdown, "shut down")
API_CHANGE(api_put_reset, reset, "reset")
API_CHANGE(api_put_stop, stop, "stop")

/* PUT /vm/snapshot {"snapshot_path": DIR}: the VM is paused while its
 * state and RAM are written, and runs on afterwards unless it was paused. */
static void api_put_snapshot(struct api *a, const struct api_request *rq,
			     struct api_response *rs)
{
	json_t *j = json_loadb(rq->body, rq->body_len, 0, NULL);
	const char *dir = j ? json_string_value(json_object_get(j, "snapshot_path")) : NULL;

	if (!a->vm.snapshot) {
		api_error(rs, 501, "snapshots are not available in this monitor (it runs under --jail)");
	} else if (!dir || !*dir) {
		api_error(rs, 400, "the body needs \"snapshot_path\": a directory");
	} else {
		int r = a->vm.snapshot(a->vm.opaque, dir);
		if (r == -EEXIST || r == -ENOENT || r == -ENOTDIR || r == -EACCES)
			api_error(rs, 400, strerror(-r));
		else
			api_change(a, rs, r, "snapshot");
	}
	json_decref(j);
}

/* PUT /vm/migrate {"uri": "tcp:HOST:PORT", "downtime_ms": 300}: starts the
 * migration and answers 202 at once; GET /vm/migration follows it. */
static void api_put_migrate(struct api *a, const struct api_request *rq,
			    struct api_response *rs)
{
	json_t *j = json_loadb(rq->body, rq->body_len, 0, NULL);
	const char *uri = j ? json_string_value(json_object_get(j, "uri")) : NULL;
	json_t *dt = j ? json_object_get(j, "downtime_ms") : NULL;
	char err[300];

	if (!a->vm.migrate) {
		api_error(rs, 501, "migration is not available in this monitor (it runs under --jail)");
	} else if (!uri || !*uri) {
		api_error(rs, 400, "the body needs \"uri\": tcp:HOST:PORT or unix:PATH");
	} else if (dt && (!json_is_integer(dt) || json_integer_value(dt) < 1 ||
			  json_integer_value(dt) > 600000)) {
		api_error(rs, 400, "\"downtime_ms\" must be an integer from 1 to 600000");
	} else {
		int r = a->vm.migrate(a->vm.opaque, uri, dt ? (uint64_t)json_integer_value(dt) : 300,
				      err, sizeof(err));
		if (!r)
			api_json(rs, 202, a->vm.migration(a->vm.opaque));
		else
			api_error(rs, r == -EBUSY ? 409 : r == -EINVAL || r == -EOPNOTSUPP ? 400 : 500,
				  err);
	}
	json_decref(j);
}

static void api_get_migration(struct api *a, const struct api_request *rq,
			      struct api_response *rs)
{
	(void)rq;
	if (!a->vm.migration)
		api_error(rs, 501, "migration is not available in this monitor");
	else
		api_json(rs, 200, a->vm.migration(a->vm.opaque));
}

static json_t *api_stats_json(const struct api_route_stats *s)
{
	return json_pack("{s:I,s:I,s:I}", "count", (json_int_t)s->count,
			 "total_us", (json_int_t)(s->total_ns / 1000),
			 "max_us", (json_int_t)(s->max_ns / 1000));
}

static void api_get_metrics(struct api *a, const struct api_request *rq, struct api_response *rs);

static const struct api_route api_routes[] = {
	{ "GET", "/vm", api_get_vm },
	{ "PUT", "/vm/pause", api_put_pause },
	{ "PUT", "/vm/resume", api_put_resume },
	{ "PUT", "/vm/shutdown", api_put_shutdown },
	{ "PUT", "/vm/reset", api_put_reset },
	{ "PUT", "/vm/stop", api_put_stop },
	{ "PUT", "/vm/snapshot", api_put_snapshot },
	{ "PUT", "/vm/migrate", api_put_migrate },
	{ "GET", "/vm/migration", api_get_migration },
	{ "GET", "/metrics", api_get_metrics },
};
static const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);
_Static_assert(sizeof(api_routes) / sizeof(api_routes[0]) <= API_MAX_ROUTES, "API_MAX_ROUTES");

static void api_get_metrics(struct api *a, const struct api_request *rq, struct api_response *rs)
{
	json_t *j = a->vm.metrics(a->vm.opaque), *calls = json_object();

	(void)rq;
	if (!j || !calls) {
		json_decref(j);
		json_decref(calls);
		api_error(rs, 500, "out of memory");
		return;
	}
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < api_nroutes; i++) {
		char key[API_MAX_PATH + 16];
		snprintf(key, sizeof(key), "%s %s", api_routes[i].method, api_routes[i].path);
		json_object_set_new(calls, key, api_stats_json(&a->stats[i]));
	}
	json_object_set_new(calls, "other", api_stats_json(&a->unrouted));
	pthread_mutex_unlock(&a->lock);
	json_object_set_new(j, "api", calls);
	api_json(rs, 200, j);
}


void api_init(struct api *a, const struct api_vm *vm)
{
	uint32_t seed = 0;

	memset(a, 0, sizeof(*a));
	a->vm = *vm;
	pthread_mutex_init(&a->lock, NULL);
	/* jansson seeds its hash from /dev/urandom at the first object, which
	 * a jailed vmon can no longer open: seed it now. */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed) || !seed)
		seed = (uint32_t)clock_ns() | 1;
	json_object_seed(seed);
}

void api_destroy(struct api *a)
{
	pthread_mutex_destroy(&a->lock);
}

static void api_count(struct api_route_stats *s, uint64_t ns)
{
	s->count++;
	s->total_ns += ns;
	if (ns > s->max_ns)
		s->max_ns = ns;
}

void api_count_unrouted(struct api *a, uint64_t ns)
{
	pthread_mutex_lock(&a->lock);
	api_count(&a->unrouted, ns);
	pthread_mutex_unlock(&a->lock);
}

/* A PUT body is optional; when given it must be a JSON object. */
static bool api_body_ok(const struct api_request *rq, char *why, size_t len)
{
	json_error_t err;
	json_t *j;

	if (!rq->body_len)
		return true;
	j = json_loadb(rq->body, rq->body_len, 0, &err);
	if (!j) {
		snprintf(why, len, "malformed JSON body: %s (line %d)", err.text, err.line);
		return false;
	}
	bool obj = json_is_object(j);
	json_decref(j);
	if (!obj)
		snprintf(why, len, "the body must be a JSON object");
	return obj;
}

void api_handle(struct api *a, const struct api_request *rq, struct api_response *rs)
{
	uint64_t t0 = clock_ns();
	char allow[64] = "";
	char why[API_MAX_PATH + 64];
	size_t i;

	memset(rs, 0, sizeof(*rs));
	for (i = 0; i < api_nroutes; i++) {
		if (strcmp(api_routes[i].path, rq->path))
			continue;
		if (!strcmp(api_routes[i].method, rq->method))
			break;
		/* The path exists: collect the methods it takes (405). */
		size_t n = strlen(allow);
		snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", api_routes[i].method);
	}
	if (i == api_nroutes) {
		if (allow[0]) {
			static __thread char allow_hdr[64];
			snprintf(allow_hdr, sizeof(allow_hdr), "%s", allow);
			snprintf(why, sizeof(why), "method %s not allowed on %s", rq->method, rq->path);
			api_error(rs, 405, why);
			rs->allow = allow_hdr;
		} else {
			snprintf(why, sizeof(why), "no such resource: %s", rq->path);
			api_error(rs, 404, why);
		}
		api_count_unrouted(a, clock_ns() - t0);
		return;
	}
	if (!api_body_ok(rq, why, sizeof(why)))
		api_error(rs, 400, why);
	else
		api_routes[i].fn(a, rq, rs);
	pthread_mutex_lock(&a->lock);
	api_count(&a->stats[i], clock_ns() - t0);
	pthread_mutex_unlock(&a->lock);
}
