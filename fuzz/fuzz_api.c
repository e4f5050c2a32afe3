/* The control API's request path: arbitrary bytes, split into reads at
 * arbitrary points, through the HTTP parser, and when a request comes out,
 * the routes over a fake VM. Every answer must be valid JSON with a status
 * the API documents. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static bool paused;
static int f_pause(void *o) { (void)o; paused = true; return 0; }
static int f_resume(void *o) { (void)o; paused = false; return 0; }
static int f_shutdown(void *o) { (void)o; return paused ? -EBUSY : 0; }
static int f_reset(void *o) { (void)o; return -ECANCELED; }
static int f_stop(void *o) { (void)o; return -EIO; }
static const char *f_state(void *o) { (void)o; return paused ? "paused" : "running"; }
static json_t *f_info(void *o) { (void)o; return json_pack("{s:s}", "name", "fuzz"); }
static json_t *f_metrics(void *o) { (void)o; return json_object(); }
static int f_snapshot(void *o, const char *dir) { (void)o; return dir[0] == '/' ? 0 : -ENOENT; }
static int f_migrate(void *o, const char *uri, uint64_t ms, char *err, size_t len)
{
	(void)o;
	(void)ms;
	snprintf(err, len, "no");
	return !strncmp(uri, "tcp:", 4) ? 0 : uri[0] == 'u' ? -EBUSY : -EINVAL;
}
static json_t *f_migration(void *o) { (void)o; return json_pack("{s:s}", "status", "none"); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api api;
	static bool ready;
	struct api_http *h;
	struct api_response rs;
	const char *why = NULL;
	size_t off = 0, split;
	int st = 0;

	if (!ready) {
		struct api_vm vm = { NULL, f_pause, f_resume, f_shutdown, f_reset, f_stop,
				     f_state, f_info, f_metrics, f_snapshot, f_migrate, f_migration };
		api_init(&api, &vm);
		ready = true;
	}
	if (size < 1)
		return 0;
	/* The first byte picks the read size (1..256). */
	split = (size_t)data[0] + 1;
	data++, size--;
	if (!(h = api_http_new()))
		return 0;
	while (off < size && st == 0) {
		size_t n = size - off < split ? size - off : split;
		st = api_http_feed(h, (const char *)data + off, n, &why);
		off += n;
	}
	if (st == 0) {
		api_http_free(h);
		return 0; /* incomplete: the server would wait, then drop it */
	}
	if (st == 1)
		api_handle(&api, api_http_request(h), &rs);
	else
		api_error(&rs, st, why);
	if (rs.status != 200 && rs.status != 202 && rs.status != 400 && rs.status != 404 && rs.status != 405 &&
	    rs.status != 409 && rs.status != 413 && rs.status != 500)
		abort();
	json_t *j = rs.body ? json_loads(rs.body, 0, NULL) : NULL;
	if (!j)
		abort();
	json_decref(j);
	size_t len;
	free(api_http_format(&rs, &len));
	free(rs.body);
	api_http_free(h);
	return 0;
}
