/* The control API without a socket: the HTTP parser (whole, split, bad and
 * oversized requests) and the routes over a fake VM (codes, JSON bodies,
 * wrong states, per-route counts). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"

struct fake_vm {
	bool paused, stopping;
	int pauses, resumes, shutdowns, resets, stops, snapshots, migrations;
	char snapshot_dir[64], migrate_uri[64];
	uint64_t downtime_ms;
};

static int fake_pause(void *o)
{
	struct fake_vm *f = o;
	if (f->stopping)
		return -ECANCELED;
	f->pauses++;
	f->paused = true;
	return 0;
}

static int fake_resume(void *o)
{
	struct fake_vm *f = o;
	if (f->stopping)
		return -ECANCELED;
	f->resumes++;
	f->paused = false;
	return 0;
}

static int fake_shutdown(void *o)
{
	struct fake_vm *f = o;
	if (f->paused)
		return -EBUSY;
	f->shutdowns++;
	return 0;
}

static int fake_reset(void *o) { ((struct fake_vm *)o)->resets++; return 0; }
static int fake_stop(void *o) { ((struct fake_vm *)o)->stops++; return -EIO; }

static int fake_snapshot(void *o, const char *dir)
{
	struct fake_vm *f = o;
	if (!strcmp(dir, "/missing/dir"))
		return -ENOENT;
	f->snapshots++;
	snprintf(f->snapshot_dir, sizeof(f->snapshot_dir), "%s", dir);
	return 0;
}

static int fake_migrate(void *o, const char *uri, uint64_t downtime_ms, char *err, size_t len)
{
	struct fake_vm *f = o;
	if (strncmp(uri, "tcp:", 4)) {
		snprintf(err, len, "%s: expected tcp:HOST:PORT", uri);
		return -EINVAL;
	}
	if (f->migrations) {
		snprintf(err, len, "a migration is under way");
		return -EBUSY;
	}
	f->migrations++;
	f->downtime_ms = downtime_ms;
	snprintf(f->migrate_uri, sizeof(f->migrate_uri), "%s", uri);
	return 0;
}

static json_t *fake_migration(void *o)
{
	struct fake_vm *f = o;
	return json_pack("{s:s,s:s}", "status", f->migrations ? "setup" : "none", "uri",
			 f->migrate_uri);
}

static const char *fake_state(void *o)
{
	struct fake_vm *f = o;
	return f->stopping ? "stopping" : f->paused ? "paused" : "running";
}

static json_t *fake_info(void *o) { (void)o; return json_pack("{s:s}", "name", "fake"); }
static json_t *fake_metrics(void *o) { (void)o; return json_pack("{s:{}}", "exits"); }

static struct fake_vm fake;
static struct api api;

static int setup(void **state)
{
	struct api_vm vm = {
		.opaque = &fake, .pause = fake_pause, .resume = fake_resume,
		.shutdown = fake_shutdown, .reset = fake_reset, .stop = fake_stop,
		.state = fake_state, .info = fake_info, .metrics = fake_metrics,
		.snapshot = fake_snapshot, .migrate = fake_migrate, .migration = fake_migration,
	};
	(void)state;
	memset(&fake, 0, sizeof(fake));
	api_init(&api, &vm);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	api_destroy(&api);
	return 0;
}

/* Parses raw as one request and answers it: the status; *body the JSON. */
static int roundtrip(const char *raw, json_t **body)
{
	struct api_http *h = api_http_new();
	struct api_response rs;
	const char *why = NULL;
	int st = api_http_feed(h, raw, strlen(raw), &why);

	assert_non_null(h);
	if (st == 1) {
		api_handle(&api, api_http_request(h), &rs);
	} else {
		assert_int_not_equal(st, 0);
		assert_non_null(why);
		api_error(&rs, st, why);
	}
	api_http_free(h);
	*body = rs.body ? json_loads(rs.body, 0, NULL) : NULL;
	assert_non_null(*body); /* every answer is JSON */
	free(rs.body);
	return rs.status;
}

static const char *jstr(json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static void test_get_vm(void **state)
{
	json_t *j;
	(void)state;
	assert_int_equal(roundtrip("GET /vm HTTP/1.1\r\nHost: x\r\n\r\n", &j), 200);
	assert_string_equal(jstr(j, "name"), "fake");
	assert_string_equal(jstr(j, "state"), "running");
	json_decref(j);
	/* A query string is not part of the path. */
	assert_int_equal(roundtrip("GET /vm?x=1 HTTP/1.1\r\n\r\n", &j), 200);
	json_decref(j);
}

static void test_pause_resume(void **state)
{
	json_t *j;
	(void)state;
	assert_int_equal(roundtrip("PUT /vm/pause HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &j), 200);
	assert_string_equal(jstr(j, "state"), "paused");
	json_decref(j);
	assert_int_equal(fake.pauses, 1);
	/* Shutdown while paused: wrong state. */
	assert_int_equal(roundtrip("PUT /vm/shutdown HTTP/1.1\r\n\r\n", &j), 409);
	assert_non_null(strstr(jstr(j, "error"), "paused"));
	json_decref(j);
	assert_int_equal(fake.shutdowns, 0);
	assert_int_equal(roundtrip("PUT /vm/resume HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", &j), 200);
	assert_string_equal(jstr(j, "state"), "running");
	json_decref(j);
	assert_int_equal(roundtrip("PUT /vm/shutdown HTTP/1.1\r\n\r\n", &j), 200);
	json_decref(j);
	assert_int_equal(fake.shutdowns, 1);
	fake.stopping = true;
	assert_int_equal(roundtrip("PUT /vm/pause HTTP/1.1\r\n\r\n", &j), 409);
	assert_non_null(strstr(jstr(j, "error"), "stopping"));
	json_decref(j);
}

static void test_snapshot(void **state)
{
	json_t *j;
	(void)state;
	assert_int_equal(roundtrip("PUT /vm/snapshot HTTP/1.1\r\n\r\n", &j), 400);
	json_decref(j);
	assert_int_equal(roundtrip("PUT /vm/snapshot HTTP/1.1\r\nContent-Length: 20\r\n\r\n"
				   "{\"snapshot_path\": 7}", &j), 400);
	json_decref(j);
	assert_int_equal(fake.snapshots, 0);
	assert_int_equal(roundtrip("PUT /vm/snapshot HTTP/1.1\r\nContent-Length: 25\r\n\r\n"
				   "{\"snapshot_path\": \"/s/1\"}", &j), 200);
	assert_string_equal(jstr(j, "state"), "running");
	json_decref(j);
	assert_int_equal(fake.snapshots, 1);
	assert_string_equal(fake.snapshot_dir, "/s/1");
	assert_int_equal(roundtrip("PUT /vm/snapshot HTTP/1.1\r\nContent-Length: 33\r\n\r\n"
				   "{\"snapshot_path\": \"/missing/dir\"}", &j), 400);
	assert_non_null(strstr(jstr(j, "error"), "No such file"));
	json_decref(j);
	assert_int_equal(roundtrip("GET /vm/snapshot HTTP/1.1\r\n\r\n", &j), 405);
	json_decref(j);
}

static void test_migrate(void **state)
{
	json_t *j;
	(void)state;
	assert_int_equal(roundtrip("GET /vm/migration HTTP/1.1\r\n\r\n", &j), 200);
	assert_string_equal(jstr(j, "status"), "none");
	json_decref(j);
	assert_int_equal(roundtrip("PUT /vm/migrate HTTP/1.1\r\n\r\n", &j), 400);
	json_decref(j);
	assert_int_equal(roundtrip("PUT /vm/migrate HTTP/1.1\r\nContent-Length: 41\r\n\r\n"
				   "{\"uri\": \"tcp:h:1\", \"downtime_ms\": \"fast\"}", &j), 400);
	assert_non_null(strstr(jstr(j, "error"), "downtime_ms"));
	json_decref(j);
	assert_int_equal(roundtrip("PUT /vm/migrate HTTP/1.1\r\nContent-Length: 16\r\n\r\n"
				   "{\"uri\": \"ftp:x\"}", &j), 400);
	assert_non_null(strstr(jstr(j, "error"), "expected"));
	json_decref(j);
	assert_int_equal(fake.migrations, 0);
	assert_int_equal(roundtrip("PUT /vm/migrate HTTP/1.1\r\nContent-Length: 18\r\n\r\n"
				   "{\"uri\": \"tcp:h:1\"}", &j), 202);
	assert_string_equal(jstr(j, "status"), "setup");
	json_decref(j);
	assert_int_equal(fake.downtime_ms, 300);
	assert_string_equal(fake.migrate_uri, "tcp:h:1");
	assert_int_equal(roundtrip("PUT /vm/migrate HTTP/1.1\r\nContent-Length: 37\r\n\r\n"
				   "{\"uri\": \"tcp:h:2\", \"downtime_ms\": 50}", &j), 409);
	json_decref(j);
	assert_int_equal(roundtrip("GET /vm/migration HTTP/1.1\r\n\r\n", &j), 200);
	assert_string_equal(jstr(j, "uri"), "tcp:h:1");
	json_decref(j);
}

static void test_errors(void **state)
{
	json_t *j;
	(void)state;
	assert_int_equal(roundtrip("GET /nope HTTP/1.1\r\n\r\n", &j), 404);
	assert_non_null(jstr(j, "error"));
	json_decref(j);
	assert_int_equal(roundtrip("DELETE /vm HTTP/1.1\r\n\r\n", &j), 405);
	json_decref(j);
	assert_int_equal(roundtrip("GET /vm/pause HTTP/1.1\r\n\r\n", &j), 405);
	json_decref(j);
	/* A failing VM call is a 500 with the reason. */
	assert_int_equal(roundtrip("PUT /vm/stop HTTP/1.1\r\n\r\n", &j), 500);
	assert_non_null(strstr(jstr(j, "error"), "error"));
	json_decref(j);
	assert_int_equal(fake.stops, 1);
}

static void test_bad_json(void **state)
{
	json_t *j;
	(void)state;
	assert_int_equal(roundtrip("PUT /vm/pause HTTP/1.1\r\nContent-Length: 4\r\n\r\n{bad", &j), 400);
	assert_non_null(strstr(jstr(j, "error"), "JSON"));
	json_decref(j);
	assert_int_equal(roundtrip("PUT /vm/pause HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]", &j), 400);
	json_decref(j);
	assert_int_equal(fake.pauses, 0); /* a bad body changes nothing */
}

static void test_bad_http(void **state)
{
	json_t *j;
	(void)state;
	assert_int_equal(roundtrip("garbage\r\n\r\n", &j), 400);
	json_decref(j);
	assert_int_equal(roundtrip("GET /vm HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", &j), 413);
	json_decref(j);
	assert_int_equal(roundtrip("GET /vm HTTP/1.1\r\nContent-Length: x\r\n\r\n", &j), 400);
	json_decref(j);
}

static void test_long_path(void **state)
{
	char raw[2048];
	json_t *j;
	(void)state;
	memset(raw, 'a', sizeof(raw));
	memcpy(raw, "GET /", 5);
	strcpy(raw + 1500, " HTTP/1.1\r\n\r\n");
	assert_int_equal(roundtrip(raw, &j), 400);
	json_decref(j);
}

/* Byte by byte: the parser keeps its state between reads. */
static void test_split(void **state)
{
	const char *raw = "PUT /vm/pause HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
	struct api_http *h = api_http_new();
	const char *why;
	int st = 0;
	(void)state;
	for (size_t i = 0; raw[i]; i++) {
		assert_int_equal(st, 0);
		st = api_http_feed(h, raw + i, 1, &why);
	}
	assert_int_equal(st, 1);
	assert_string_equal(api_http_request(h)->method, "PUT");
	assert_string_equal(api_http_request(h)->path, "/vm/pause");
	assert_int_equal(api_http_request(h)->body_len, 2);
	api_http_free(h);
}

/* A body larger than the limit sent without Content-Length (chunked). */
static void test_chunked_too_large(void **state)
{
	static const char head[] = "PUT /vm/pause HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
	struct api_http *h = api_http_new();
	char chunk[6 + 4096 + 2];
	const char *why;
	int st, i;
	(void)state;
	st = api_http_feed(h, head, strlen(head), &why);
	assert_int_equal(st, 0);
	memcpy(chunk, "1000\r\n", 6);
	memset(chunk + 6, ' ', 4096);
	memcpy(chunk + 6 + 4096, "\r\n", 2);
	for (i = 0; i < 40 && st == 0; i++)
		st = api_http_feed(h, chunk, sizeof(chunk), &why);
	api_http_free(h);
	assert_int_equal(st, 413);
	assert_true(i > 15); /* not before 64 KiB had come */
}

static void test_metrics(void **state)
{
	json_t *j, *calls;
	(void)state;
	json_decref((roundtrip("GET /vm HTTP/1.1\r\n\r\n", &j), j));
	json_decref((roundtrip("GET /vm HTTP/1.1\r\n\r\n", &j), j));
	json_decref((roundtrip("GET /x HTTP/1.1\r\n\r\n", &j), j));
	assert_int_equal(roundtrip("GET /metrics HTTP/1.1\r\n\r\n", &j), 200);
	calls = json_object_get(j, "api");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(calls, "GET /vm"), "count")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(calls, "other"), "count")), 1);
	assert_non_null(json_object_get(j, "exits"));
	json_decref(j);
}

static void test_names(void **state)
{
	char buf[64];
	(void)state;
	assert_true(api_name_ok("vm-1.a_b"));
	assert_false(api_name_ok(""));
	assert_false(api_name_ok(".hidden"));
	assert_false(api_name_ok("a/b"));
	assert_false(api_name_ok("a b"));
	setenv("XDG_RUNTIME_DIR", "/tmp/xdg", 1);
	assert_int_equal(api_socket_path("vm1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/xdg/vmon/vm1.sock");
	assert_int_equal(api_socket_path("./s.sock", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "./s.sock");
	unsetenv("XDG_RUNTIME_DIR");
	assert_int_equal(api_socket_path("vm1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/vmon/vm1.sock");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_vm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
