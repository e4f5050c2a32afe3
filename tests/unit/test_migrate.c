/* The migration stream without sockets: chunks written and read back
 * through a memory pipe; every kind of damage refused (CRC, sequence,
 * lengths, types, pages outside RAM, truncation); the offer's checks;
 * URIs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/migrate_stream.h"
#include "migrate/migrate_uri.h"

#define PIPE_MAX (1u << 20)

struct pipe {
	uint8_t data[PIPE_MAX];
	size_t len, pos;
};

static int pipe_read(void *o, void *buf, size_t n)
{
	struct pipe *p = o;
	if (n > p->len - p->pos)
		return -EPIPE;
	memcpy(buf, p->data + p->pos, n);
	p->pos += n;
	return 0;
}

static int pipe_write(void *o, const void *buf, size_t n)
{
	struct pipe *p = o;
	if (n > PIPE_MAX - p->len)
		return -ENOSPC;
	memcpy(p->data + p->len, buf, n);
	p->len += n;
	return 0;
}

static struct pipe pp;

static void pipe_io(struct migrate_io *io)
{
	memset(io, 0, sizeof(*io));
	io->read = pipe_read;
	io->write = pipe_write;
	io->opaque = &pp;
}

static struct migrate_hello hello;

/* A writer's pipe holding the preamble and a good HELLO for 16 MiB. */
static void offer(struct migrate_io *w)
{
	memset(&pp, 0, sizeof(pp));
	pipe_io(w);
	memset(&hello, 0, sizeof(hello));
	hello.cfg.mem_size = 16 << 20;
	hello.cfg.ncpus = 1;
	strcpy(hello.cfg.accel, "emu");
	hello.snapshot_version = SNAPSHOT_VERSION;
	hello.page_size = MIGRATE_PAGE;
	strcpy(hello.vmon_version, "test");
	assert_int_equal(migrate_send_preamble(w), 0);
	assert_int_equal(migrate_send(w, MIG_HELLO, 0, &hello, sizeof(hello)), 0);
}

static void test_roundtrip(void **state)
{
	struct migrate_io w, r;
	struct migrate_hello h;
	struct migrate_recv rx;
	static uint8_t ram[16 << 20], page[2 * MIGRATE_PAGE];
	uint64_t n = 3;
	char err[200];
	(void)state;

	offer(&w);
	memset(page, 0xab, sizeof(page));
	memset(ram + 100 * MIGRATE_PAGE, 0x11, 3 * MIGRATE_PAGE);
	assert_int_equal(migrate_send(&w, MIG_PAGES, 7, page, sizeof(page)), 0);
	assert_int_equal(migrate_send(&w, MIG_PAGES, 100, page, MIGRATE_PAGE), 0);
	assert_int_equal(migrate_send(&w, MIG_ZERO, 100, &n, 8), 0);
	assert_int_equal(migrate_send(&w, MIG_ITER, 1, NULL, 0), 0);
	assert_int_equal(migrate_send(&w, MIG_STATE, 0, "state!", 6), 0);
	assert_int_equal(migrate_send(&w, MIG_END, 0, NULL, 0), 0);

	pipe_io(&r);
	assert_int_equal(migrate_recv_hello(&r, &h, err, sizeof(err)), 0);
	assert_int_equal(h.cfg.mem_size, 16 << 20);
	rx = (struct migrate_recv){ .io = &r, .ram = ram, .ram_size = sizeof(ram) };
	assert_int_equal(migrate_recv_ram(&rx, err, sizeof(err)), 0);
	assert_memory_equal(ram + 7 * MIGRATE_PAGE, page, sizeof(page));
	assert_int_equal(ram[6 * MIGRATE_PAGE + 4095], 0);
	assert_int_equal(ram[9 * MIGRATE_PAGE], 0);
	/* Page 100 was sent, then zeroed; 101 and 102 were never sent: left. */
	assert_int_equal(ram[100 * MIGRATE_PAGE + 5], 0);
	assert_int_equal(ram[101 * MIGRATE_PAGE], 0x11);
	assert_int_equal(rx.pages, 3);
	assert_int_equal(rx.zero_pages, 3);
	assert_int_equal(rx.iterations, 1);
	assert_int_equal(rx.state_len, 6);
	assert_memory_equal(rx.state, "state!", 6);
	migrate_recv_free(&rx);
	migrate_io_free(&r);
}

/* Receives a stream whose bytes past the offer were damaged by fn: the
 * error and its message. */
static int recv_damaged(void (*fn)(struct migrate_io *w), const char *want)
{
	struct migrate_io w, r;
	struct migrate_hello h;
	static uint8_t ram[16 << 20];
	struct migrate_recv rx = { .ram = ram, .ram_size = sizeof(ram) };
	char err[200] = "";
	int e;

	offer(&w);
	fn(&w);
	pipe_io(&r);
	rx.io = &r;
	e = migrate_recv_hello(&r, &h, err, sizeof(err));
	if (!e)
		e = migrate_recv_ram(&rx, err, sizeof(err));
	assert_int_not_equal(e, 0);
	if (!strstr(err, want))
		fail_msg("error '%s', expected '%s'", err, want);
	migrate_recv_free(&rx);
	migrate_io_free(&r);
	return e;
}

static uint8_t pg[MIGRATE_PAGE];
static void d_flip(struct migrate_io *w)
{
	migrate_send(w, MIG_PAGES, 1, pg, sizeof(pg));
	pp.data[pp.len - 100] ^= 1;
}
static void d_seq(struct migrate_io *w)
{
	w->tx_seq++;
	migrate_send(w, MIG_PAGES, 1, pg, sizeof(pg));
}
static void d_outside(struct migrate_io *w)
{
	migrate_send(w, MIG_PAGES, 4096, pg, sizeof(pg)); /* page 4096 of 4096 */
}
static void d_zero_wrap(struct migrate_io *w)
{
	uint64_t n = UINT64_MAX;
	migrate_send(w, MIG_ZERO, 1, &n, 8);
}
static void d_len(struct migrate_io *w)
{
	migrate_send(w, MIG_PAGES, 1, pg, 100);
}
static void d_type(struct migrate_io *w)
{
	migrate_send(w, 99, 0, NULL, 0);
}
static void d_truncated(struct migrate_io *w)
{
	migrate_send(w, MIG_PAGES, 1, pg, sizeof(pg));
	pp.len -= 10;
}
static void d_no_state(struct migrate_io *w)
{
	migrate_send(w, MIG_END, 0, NULL, 0);
}
static void d_two_states(struct migrate_io *w)
{
	migrate_send(w, MIG_STATE, 0, "a", 1);
	migrate_send(w, MIG_STATE, 0, "b", 1);
}
static void d_fail(struct migrate_io *w)
{
	migrate_send_text(w, MIG_FAIL, 0, "cannot pause\n");
}
static void d_wrong_phase(struct migrate_io *w)
{
	migrate_send(w, MIG_GO, 0, NULL, 0);
}

static void test_damage(void **state)
{
	(void)state;
	recv_damaged(d_flip, "checksum");
	recv_damaged(d_seq, "out of sequence");
	recv_damaged(d_outside, "outside");
	recv_damaged(d_zero_wrap, "outside");
	recv_damaged(d_len, "bad length");
	recv_damaged(d_type, "unknown type");
	assert_int_equal(recv_damaged(d_truncated, "truncated"), -EPIPE);
	recv_damaged(d_no_state, "without the VM's state");
	recv_damaged(d_two_states, "second state");
	assert_int_equal(recv_damaged(d_fail, "gave up: cannot pause?"), -ECANCELED);
	recv_damaged(d_wrong_phase, "during the RAM transfer");
}

static void test_bad_offer(void **state)
{
	struct migrate_io w, r;
	struct migrate_hello h;
	char err[200];
	(void)state;

	offer(&w);
	pp.data[0] = 'X';
	pipe_io(&r);
	assert_int_equal(migrate_recv_hello(&r, &h, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "magic"));
	migrate_io_free(&r);
	offer(&w);
	pp.data[8] = 2;
	pipe_io(&r);
	assert_int_equal(migrate_recv_hello(&r, &h, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "version"));
	migrate_io_free(&r);
	/* A HELLO with a configuration restore would refuse: 1 MiB of RAM. */
	memset(&pp, 0, sizeof(pp));
	pipe_io(&w);
	hello.cfg.mem_size = 1 << 20;
	migrate_send_preamble(&w);
	migrate_send(&w, MIG_HELLO, 0, &hello, sizeof(hello));
	pipe_io(&r);
	assert_int_equal(migrate_recv_hello(&r, &h, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "memory size"));
	migrate_io_free(&r);
	/* Short: the stream ends inside the preamble. */
	pp.len = 5;
	pipe_io(&r);
	assert_int_not_equal(migrate_recv_hello(&r, &h, err, sizeof(err)), 0);
	migrate_io_free(&r);
}

static void test_uri(void **state)
{
	struct migrate_uri u;
	char err[200];
	(void)state;

	assert_int_equal(migrate_uri_parse("tcp:127.0.0.1:4444", &u, err, sizeof(err)), 0);
	assert_int_equal(u.kind, MIGRATE_TCP);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "4444");
	assert_int_equal(migrate_uri_parse("tcp:[::1]:0", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(migrate_uri_parse("unix:/tmp/m.sock", &u, err, sizeof(err)), 0);
	assert_int_equal(u.kind, MIGRATE_UNIX);
	assert_string_equal(u.path, "/tmp/m.sock");
	assert_int_equal(migrate_uri_parse("tcp:host", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(migrate_uri_parse("tcp::80", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(migrate_uri_parse("tcp:h:65536", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(migrate_uri_parse("tcp:h:8x", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(migrate_uri_parse("udp:h:1", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(migrate_uri_parse("unix:", &u, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_bad_offer),
		cmocka_unit_test(test_uri),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
