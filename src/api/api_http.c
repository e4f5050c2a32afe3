/* HTTP/1.1 requests with libhttp-parser: method, path, body; limits on
 * the path and body sizes; anything malformed is 400. */
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

struct api_http {
	http_parser p;
	http_parser_settings s;
	struct api_request rq;
	char url[API_MAX_PATH * 2];
	size_t url_len, body_cap;
	int error;                 /* an HTTP status, once set */
	const char *why;
	bool done;
};

static struct api_http *api_http_of(http_parser *p)
{
	return (struct api_http *)((char *)p - offsetof(struct api_http, p));
}

static int api_http_fail(struct api_http *h, int status, const char *why)
{
	h->error = status;
	h->why = why;
	return -1;
}

static int api_http_on_url(http_parser *p, const char *at, size_t len)
{
	struct api_http *h = api_http_of(p);

	if (len > sizeof(h->url) - 1 - h->url_len)
		return api_http_fail(h, 400, "request target too long");
	memcpy(h->url + h->url_len, at, len);
	h->url_len += len;
	h->url[h->url_len] = 0;
	return 0;
}

static int api_http_on_headers_complete(http_parser *p)
{
	struct api_http *h = api_http_of(p);
	struct http_parser_url u;
	const char *m = http_method_str((enum http_method)p->method);

	/* Content-Length is known here: refuse a big body before reading it. */
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > API_MAX_BODY)
		return api_http_fail(h, 413, "request body too large");
	http_parser_url_init(&u);
	if (http_parser_parse_url(h->url, h->url_len, 0, &u) || !(u.field_set & (1 << UF_PATH)))
		return api_http_fail(h, 400, "malformed request target");
	if (u.field_data[UF_PATH].len >= sizeof(h->rq.path))
		return api_http_fail(h, 400, "request target too long");
	memcpy(h->rq.path, h->url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
	h->rq.path[u.field_data[UF_PATH].len] = 0;
	snprintf(h->rq.method, sizeof(h->rq.method), "%s", m);
	return 0;
}

static int api_http_on_body(http_parser *p, const char *at, size_t len)
{
	struct api_http *h = api_http_of(p);

	if (len > API_MAX_BODY - h->rq.body_len)
		return api_http_fail(h, 413, "request body too large");
	if (h->rq.body_len + len + 1 > h->body_cap) {
		size_t cap = h->body_cap ? h->body_cap : 1024;
		while (cap < h->rq.body_len + len + 1)
			cap *= 2;
		char *b = realloc(h->rq.body, cap);
		if (!b)
			return api_http_fail(h, 500, "out of memory");
		h->rq.body = b;
		h->body_cap = cap;
	}
	memcpy(h->rq.body + h->rq.body_len, at, len);
	h->rq.body_len += len;
	h->rq.body[h->rq.body_len] = 0;
	return 0;
}

static int api_http_on_message_complete(http_parser *p)
{
	struct api_http *h = api_http_of(p);

	h->done = true;
	http_parser_pause(p, 1); /* one request per connection */
	return 0;
}

struct api_http *api_http_new(void)
{
	struct api_http *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	http_parser_init(&h->p, HTTP_REQUEST);
	http_parser_settings_init(&h->s);
	h->s.on_url = api_http_on_url;
	h->s.on_headers_complete = api_http_on_headers_complete;
	h->s.on_body = api_http_on_body;
	h->s.on_message_complete = api_http_on_message_complete;
	return h;
}

void api_http_free(struct api_http *h)
{
	if (!h)
		return;
	free(h->rq.body);
	free(h);
}

int api_http_feed(struct api_http *h, const char *data, size_t len, const char **why)
{
	if (h->done)
		return 1;
	if (!h->error) {
		size_t n = http_parser_execute(&h->p, &h->s, data, len);
		enum http_errno e = HTTP_PARSER_ERRNO(&h->p);
		if (h->done)
			return 1;
		if (!h->error && (e != HPE_OK || n != len)) {
			h->error = e == HPE_HEADER_OVERFLOW ? 413 : 400;
			h->why = e == HPE_HEADER_OVERFLOW ? "request headers too large"
							  : http_errno_description(e);
		}
	}
	if (h->error) {
		*why = h->why;
		return h->error;
	}
	return 0;
}

const struct api_request *api_http_request(const struct api_http *h)
{
	return h->done ? &h->rq : NULL;
}

static const char *api_http_reason(int status)
{
	static const struct { int status; const char *reason; } reasons[] = {
		{ 200, "OK" }, { 202, "Accepted" }, { 204, "No Content" }, { 400, "Bad Request" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 409, "Conflict" },
		{ 413, "Payload Too Large" }, { 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
	};
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

char *api_http_format(const struct api_response *rs, size_t *len)
{
	size_t blen = rs->body ? strlen(rs->body) : 0;
	char *out = NULL;
	int n = asprintf(&out,
			 "HTTP/1.1 %d %s\r\nServer: vmon\r\nConnection: close\r\n"
			 "%s%s%s"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 rs->status, api_http_reason(rs->status),
			 rs->allow ? "Allow: " : "", rs->allow ? rs->allow : "",
			 rs->allow ? "\r\n" : "", blen, rs->body ? rs->body : "");
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return out;
}
