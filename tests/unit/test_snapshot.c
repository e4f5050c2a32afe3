/* The snapshot state file: a round trip, and every corruption refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "accel/vm_state.h"
#include "machine/snapshot.h"

static struct snapshot_config cfg;

static void build(struct snapshot_buf *b)
{
	static const uint8_t dev[13] = "device bytes";
	uint64_t v = 0x1122334455667788ULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.mem_size = 64ULL << 20;
	cfg.ncpus = 2;
	strcpy(cfg.accel, "emu");
	snapshot_buf_init(b);
	snapshot_buf_add(b, "config", 0, 1, &cfg, sizeof(cfg));
	snapshot_buf_add(b, "serial", 0, 1, dev, sizeof(dev));
	snapshot_buf_add(b, "serial", 1, 3, &v, sizeof(v));
	assert_int_equal(snapshot_buf_finish(b), 0);
}

/* Recomputes the CRC after a deliberate change, so the check behind it runs. */
static void reseal(struct snapshot_buf *b)
{
	uint32_t crc = (uint32_t)crc32(0, b->data, (uInt)(b->len - 4));
	memcpy(b->data + b->len - 4, &crc, 4);
}

static int parse(const struct snapshot_buf *b, size_t len, char *err)
{
	struct snapshot_image img;
	uint8_t *copy = aligned_alloc(8, (len + 15) & ~(size_t)7); /* size: a multiple of 8 */
	memcpy(copy, b->data, len);
	int r = snapshot_parse(copy, len, &img, err, 160);
	free(copy);
	return r;
}

static void test_round_trip(void **state)
{
	struct snapshot_buf b;
	struct snapshot_image img;
	uint32_t ver, size;
	char err[160];
	(void)state;

	build(&b);
	assert_int_equal(snapshot_parse(b.data, b.len, &img, err, sizeof(err)), 0);
	assert_int_equal(img.nsections, 3);
	assert_int_equal(img.cfg->ncpus, 2);
	assert_int_equal(img.cfg->mem_size, 64ULL << 20);
	const char *d = snapshot_find(&img, "serial", 0, &ver, &size);
	assert_non_null(d);
	assert_int_equal(size, 13);
	assert_string_equal(d, "device bytes");
	const uint64_t *v = snapshot_find(&img, "serial", 1, &ver, &size);
	assert_non_null(v);
	assert_int_equal(ver, 3);
	assert_int_equal(*v, 0x1122334455667788ULL);
	assert_null(snapshot_find(&img, "serial", 2, &ver, &size));
	assert_null(snapshot_find(&img, "rtc", 0, &ver, &size));
	snapshot_buf_free(&b);
}

static void expect_refused(struct snapshot_buf *b, size_t len, const char *what)
{
	char err[160] = "";
	assert_int_equal(parse(b, len, err), -22);
	assert_non_null(strstr(err, what));
}

static void test_corruptions(void **state)
{
	struct snapshot_buf b;
	struct snapshot_header h;
	(void)state;

	build(&b);
	b.data[0] ^= 1;
	expect_refused(&b, b.len, "magic");
	b.data[0] ^= 1;

	memcpy(&h, b.data, sizeof(h));
	h.version = SNAPSHOT_VERSION - 1;   /* the format before this one */
	memcpy(b.data, &h, sizeof(h));
	expect_refused(&b, b.len, "version");
	h.version = SNAPSHOT_VERSION;
	memcpy(b.data, &h, sizeof(h));

	/* Truncated anywhere, and a byte flipped anywhere after the header. */
	for (size_t n = 0; n < b.len; n += 97)
		expect_refused(&b, n, n < sizeof(h) + 4 ? "truncated" : "truncated or extended");
	for (size_t i = sizeof(h); i < b.len; i += 101) {
		b.data[i] ^= 0x40;
		expect_refused(&b, b.len, "checksum");
		b.data[i] ^= 0x40;
	}
	snapshot_buf_free(&b);

	/* A section longer than the file, with a valid CRC. */
	build(&b);
	struct snapshot_section_header s;
	size_t off = sizeof(h) + sizeof(s) + ((sizeof(cfg) + 7) & ~7ul);
	memcpy(&s, b.data + off, sizeof(s));
	s.size = 1u << 30;
	memcpy(b.data + off, &s, sizeof(s));
	reseal(&b);
	expect_refused(&b, b.len, "longer than the file");
	snapshot_buf_free(&b);

	/* A name without its NUL. */
	build(&b);
	memset(b.data + off, 'a', SNAPSHOT_NAME_MAX);
	reseal(&b);
	expect_refused(&b, b.len, "bad name");
	snapshot_buf_free(&b);

	/* A configuration that no machine has. */
	build(&b);
	struct snapshot_config *c = (void *)(b.data + sizeof(h) + sizeof(s));
	c->ncpus = 0;
	reseal(&b);
	expect_refused(&b, b.len, "vCPU count");
	c->ncpus = 1;
	c->mem_size = 1ULL << 60;
	reseal(&b);
	expect_refused(&b, b.len, "memory size");
	c->mem_size = 64ULL << 20;
	c->ndisks = 1;
	memset(c->disks[0].path, 'x', sizeof(c->disks[0].path));
	reseal(&b);
	expect_refused(&b, b.len, "disk 0");
	snapshot_buf_free(&b);

	/* No configuration at all. */
	snapshot_buf_init(&b);
	snapshot_buf_add(&b, "serial", 0, 1, "x", 1);
	assert_int_equal(snapshot_buf_finish(&b), 0);
	expect_refused(&b, b.len, "configuration");
	snapshot_buf_free(&b);

	/* The wrong configuration size. */
	snapshot_buf_init(&b);
	snapshot_buf_add(&b, "config", 0, 1, &cfg, sizeof(cfg) - 8);
	assert_int_equal(snapshot_buf_finish(&b), 0);
	expect_refused(&b, b.len, "configuration");
	snapshot_buf_free(&b);
}

/* The "vm" section from a file: only states the models can be in. */
static void test_vm_state_check(void **state)
{
	struct vm_state v;
	(void)state;

	memset(&v, 0, sizeof(v));
	pic_reset(&v.pic);
	ioapic_reset(&v.ioapic);
	pit_reset(&v.pit, 0);
	assert_int_equal(vm_state_check(&v), 0);
	v.pit.ch[1].mode = 6;
	assert_int_equal(vm_state_check(&v), -22);
	pit_reset(&v.pit, 0);
	v.pit.ch[0].count = 0;
	v.pit.ch[0].running = 1;        /* would divide by zero */
	assert_int_equal(vm_state_check(&v), -22);
	pit_reset(&v.pit, 0);
	v.pit.ch[2].latched = 9;
	assert_int_equal(vm_state_check(&v), -22);
	pit_reset(&v.pit, 0);
	v.ioapic.regsel = 0x40;
	assert_int_equal(vm_state_check(&v), -22);
	ioapic_reset(&v.ioapic);
	v.pic.chip[1].init_step = 4;
	assert_int_equal(vm_state_check(&v), -22);
	pic_reset(&v.pic);
	assert_int_equal(vm_state_check(&v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_corruptions),
		cmocka_unit_test(test_vm_state_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
