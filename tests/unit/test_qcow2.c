/* Unit tests: the qcow2 driver on images made by qemu-img, checked
 * afterwards by qemu-img check and qemu-img compare against a raw copy. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "block/block.h"

#define DISK (8u << 20)

static char dir[64];

struct waiter {
	struct block_req r;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int result;
};

static void waiter_done(struct block_req *r, int result)
{
	struct waiter *w = r->opaque;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	w->result = result;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static int run(struct block *b, enum block_op op, uint64_t off, uint64_t len, void *buf)
{
	struct iovec v = { buf, len };
	struct waiter w = { .r = { .op = op, .offset = off, .len = len, .iov = &v,
				   .iovcnt = buf ? 1 : 0, .done = waiter_done } };

	w.r.opaque = &w;
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	block_submit(b, &w.r);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	return w.result;
}

/* Runs a shell command in dir: its exit status. */
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	int n = snprintf(cmd, sizeof(cmd), "cd %s && ", dir);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *at(const char *name)
{
	static char p[4][128];
	static unsigned i;
	char *s = p[i++ % 4];

	snprintf(s, 128, "%s/%s", dir, name);
	return s;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The same random writes, zeroings and discards on the qcow2 image q and
 * the raw file raw; then every byte of q is read back and compared. */
static void mirror(struct block *q, const char *raw, unsigned ops)
{
	int fd = open(raw, O_RDWR);
	uint8_t *buf = malloc(256 << 10), *back = malloc(DISK), *want = malloc(DISK);

	assert_true(fd >= 0 && buf && back && want);
	for (unsigned i = 0; i < ops; i++) {
		uint64_t len = (next() % 512 + 1) * 512, off = next() % (DISK / 512) * 512;
		unsigned kind = (unsigned)(next() % 8);
		if (off + len > DISK)
			len = DISK - off;
		if (kind == 0) {
			assert_int_equal(run(q, BLOCK_WRITE_ZEROES, off, len, NULL), 0);
			memset(buf, 0, len);
			assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
		} else if (kind == 1 && block_can_discard(q)) {
			/* Discard is advisory: afterwards the range must be rewritten. */
			assert_int_equal(run(q, BLOCK_DISCARD, off, len, NULL), 0);
			memset(buf, 0x5a, len);
			assert_int_equal(run(q, BLOCK_WRITE, off, len, buf), (int)len);
			assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
		} else {
			for (uint64_t k = 0; k < len; k++)
				buf[k] = (uint8_t)(next() >> 32);
			assert_int_equal(run(q, BLOCK_WRITE, off, len, buf), (int)len);
			assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
		}
	}
	assert_int_equal(run(q, BLOCK_FLUSH, 0, 0, NULL), 0);
	assert_int_equal(run(q, BLOCK_READ, 0, DISK, back), (int)DISK);
	assert_int_equal(pread(fd, want, DISK, 0), (ssize_t)DISK);
	assert_memory_equal(back, want, DISK);
	close(fd);
	free(buf);
	free(back);
	free(want);
}

static void open_ok(const char *name, bool ro, struct block **b)
{
	const char *why = NULL;
	int r = block_open_fmt(at(name), ro, BLOCK_FMT_AUTO, b, &why);

	if (r)
		fprintf(stderr, "open %s: %d %s\n", name, r, why ? why : "");
	assert_int_equal(r, 0);
	assert_string_equal(block_format(*b), "qcow2");
}

/* qemu-img check clean (0) and compare equal (0) against the raw copy. */
static void verify(const char *img, const char *raw)
{
	assert_int_equal(sh("qemu-img check -q %s", img), 0);
	assert_int_equal(sh("qemu-img compare -q -f qcow2 -F raw %s %s", img, raw), 0);
}

static void roundtrip(const char *opts)
{
	struct block *b;

	assert_int_equal(sh("rm -f t.qcow2 t.raw && qemu-img create -q -f qcow2 %s t.qcow2 %u && "
			    "truncate -s %u t.raw", opts, DISK, DISK), 0);
	open_ok("t.qcow2", false, &b);
	assert_int_equal(block_size(b), DISK);
	mirror(b, at("t.raw"), 300);
	block_close(b);
	verify("t.qcow2", "t.raw");
	/* Reopened: the metadata written is what a new open reads. */
	open_ok("t.qcow2", false, &b);
	mirror(b, at("t.raw"), 50);
	block_close(b);
	verify("t.qcow2", "t.raw");
}

static void test_v3(void **s) { (void)s; roundtrip("-o compat=1.1"); }
static void test_v2(void **s) { (void)s; roundtrip("-o compat=0.10"); }
/* Small clusters: many refcount blocks, so the refcount table grows. */
static void test_small_clusters(void **s) { (void)s; roundtrip("-o cluster_size=512"); }
static void test_refcount_bits(void **s)
{
	(void)s;
	roundtrip("-o cluster_size=4096,refcount_bits=1");
	roundtrip("-o cluster_size=1024,refcount_bits=64");
}

/* A base with a pattern, for overlays and compressed copies. */
static void make_base(void)
{
	assert_int_equal(sh("rm -f base.* ov.qcow2 && head -c %u /dev/urandom > base.raw && "
			    "truncate -s %u base.raw && "
			    "qemu-img convert -q -f raw -O qcow2 base.raw base.qcow2",
			    DISK / 2, DISK), 0);
}

static void test_backing_chain(void **s)
{
	struct block *b;

	(void)s;
	make_base();
	/* base.qcow2 <- mid.qcow2 (relative names) <- ov.qcow2, raw backing too. */
	assert_int_equal(sh("rm -f mid.qcow2 && qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 "
			    "mid.qcow2 && qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 ov.qcow2 "
			    "&& sha256sum base.qcow2 > base.sum && cp base.raw want.raw"), 0);
	open_ok("ov.qcow2", false, &b);
	mirror(b, at("want.raw"), 200);
	block_close(b);
	verify("ov.qcow2", "want.raw");
	assert_int_equal(sh("sha256sum -c --quiet base.sum"), 0);
	/* The backing was opened read-only: another reader may open it. */
	assert_int_equal(sh("qemu-img create -q -f qcow2 -b base.raw -F raw ov.qcow2 && "
			    "cp base.raw want.raw"), 0);
	open_ok("ov.qcow2", false, &b);
	mirror(b, at("want.raw"), 100);
	block_close(b);
	verify("ov.qcow2", "want.raw");
}

static void compressed(const char *type)
{
	struct block *b;
	uint8_t *back = malloc(DISK), *want = malloc(DISK);
	int fd;

	make_base();
	assert_int_equal(sh("qemu-img convert -q -c -f raw -O qcow2 -o compression_type=%s "
			    "base.raw c.qcow2 && cp base.raw want.raw", type), 0);
	open_ok("c.qcow2", false, &b);
	assert_int_equal(run(b, BLOCK_READ, 0, DISK, back), (int)DISK);
	assert_true((fd = open(at("base.raw"), O_RDONLY)) >= 0);
	assert_int_equal(pread(fd, want, DISK, 0), (ssize_t)DISK);
	close(fd);
	assert_memory_equal(back, want, DISK);
	/* Writing over compressed clusters frees them. */
	mirror(b, at("want.raw"), 100);
	block_close(b);
	verify("c.qcow2", "want.raw");
	free(back);
	free(want);
}

static void test_compressed_zlib(void **s) { (void)s; compressed("zlib"); }
static void test_compressed_zstd(void **s) { (void)s; compressed("zstd"); }

/* Opening must fail with a reason. */
static void refused(const char *name, bool ro)
{
	struct block *b = NULL;
	const char *why = NULL;
	int r = block_open_fmt(at(name), ro, BLOCK_FMT_AUTO, &b, &why);

	assert_true(r < 0);
	assert_null(b);
	assert_non_null(why);
}

static void patch(const char *name, uint64_t off, const void *bytes, size_t len)
{
	int fd = open(at(name), O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void patch32(const char *name, uint64_t off, uint32_t v)
{
	v = htobe32(v);
	patch(name, off, &v, 4);
}

static void patch64(const char *name, uint64_t off, uint64_t v)
{
	v = htobe64(v);
	patch(name, off, &v, 8);
}

static void fresh(void)
{
	assert_int_equal(sh("rm -f h.qcow2 && qemu-img create -q -f qcow2 h.qcow2 %u", DISK), 0);
}

static void test_hostile_headers(void **s)
{
	(void)s;
	fresh(); patch32("h.qcow2", 4, 4);              refused("h.qcow2", false); /* version */
	fresh(); patch32("h.qcow2", 20, 30);            refused("h.qcow2", false); /* cluster_bits */
	fresh(); patch32("h.qcow2", 20, 8);             refused("h.qcow2", true);
	fresh(); patch32("h.qcow2", 36, 0x10000000);    refused("h.qcow2", true);  /* huge L1 */
	fresh(); patch32("h.qcow2", 36, 0);             refused("h.qcow2", true);  /* L1 too small */
	fresh(); patch64("h.qcow2", 24, 1ULL << 50);    refused("h.qcow2", true);  /* size lies */
	fresh(); patch64("h.qcow2", 40, 0x30001);       refused("h.qcow2", true);  /* L1 unaligned */
	fresh(); patch64("h.qcow2", 40, 1ULL << 40);    refused("h.qcow2", true);  /* L1 outside */
	fresh(); patch64("h.qcow2", 48, 1ULL << 40);    refused("h.qcow2", true);  /* rt outside */
	fresh(); patch32("h.qcow2", 56, 1u << 30);      refused("h.qcow2", true);  /* rt huge */
	fresh(); patch64("h.qcow2", 72, 1ULL << 40);    refused("h.qcow2", true);  /* unknown bit */
	fresh(); patch64("h.qcow2", 72, 16);            refused("h.qcow2", true);  /* extended L2 */
	fresh(); patch64("h.qcow2", 72, 1);             refused("h.qcow2", false); /* dirty */
	fresh(); patch32("h.qcow2", 96, 7);             refused("h.qcow2", true);  /* refcount order */
	fresh(); patch32("h.qcow2", 32, 1);             refused("h.qcow2", true);  /* encrypted */
	fresh(); patch64("h.qcow2", 8, 1ULL << 30); patch32("h.qcow2", 16, 8);
	refused("h.qcow2", true); /* backing name outside the header cluster */
}

static void test_backing_loop(void **s)
{
	(void)s;
	assert_int_equal(sh("rm -f a.qcow2 b.qcow2 && qemu-img create -q -f qcow2 a.qcow2 1M && "
			    "qemu-img create -q -f qcow2 -u -b a.qcow2 -F qcow2 b.qcow2 1M && "
			    "qemu-img rebase -q -u -b b.qcow2 -F qcow2 a.qcow2"), 0);
	refused("a.qcow2", false);
	refused("b.qcow2", true);
	assert_int_equal(sh("qemu-img create -q -f qcow2 -u -b missing.qcow2 -F qcow2 a.qcow2 1M"),
			 0);
	refused("a.qcow2", true);
}

/* Pointers out of the file fail the request; the file does not grow. */
static void test_bad_pointers(void **s)
{
	struct block *b;
	uint8_t buf[4096];
	struct stat st0, st1;

	(void)s;
	fresh();
	open_ok("h.qcow2", false, &b);
	memset(buf, 1, sizeof(buf));
	assert_int_equal(run(b, BLOCK_WRITE, 0, sizeof(buf), buf), (int)sizeof(buf));
	block_close(b);
	/* The L1 table is at 0x30000 for a fresh 64 KiB-cluster image. */
	patch64("h.qcow2", 0x30000, (1ULL << 63) | (1ULL << 40));
	assert_int_equal(stat(at("h.qcow2"), &st0), 0);
	open_ok("h.qcow2", false, &b);
	assert_int_equal(run(b, BLOCK_READ, 0, sizeof(buf), buf), -EIO);
	assert_int_equal(run(b, BLOCK_WRITE, 0, sizeof(buf), buf), -EIO);
	block_close(b);
	patch64("h.qcow2", 0x30000, (1ULL << 63) | 0x30200); /* unaligned */
	open_ok("h.qcow2", false, &b);
	assert_int_equal(run(b, BLOCK_WRITE, 0, sizeof(buf), buf), -EIO);
	block_close(b);
	patch64("h.qcow2", 0x30000, (1ULL << 63) | 0x10000); /* the refcount table */
	open_ok("h.qcow2", false, &b);
	assert_int_equal(run(b, BLOCK_WRITE, 0, sizeof(buf), buf), -EIO);
	block_close(b);
	assert_int_equal(stat(at("h.qcow2"), &st1), 0);
	assert_int_equal(st0.st_size, st1.st_size);
}

static void test_format_forced(void **s)
{
	struct block *b;
	const char *why;

	(void)s;
	fresh();
	assert_int_equal(sh("truncate -s 1M h.qcow2"), 0);
	assert_int_equal(block_open_fmt(at("h.qcow2"), true, BLOCK_FMT_RAW, &b, &why), 0);
	assert_string_equal(block_format(b), "raw");
	block_close(b);
	assert_int_equal(sh("truncate -s 1M r.raw"), 0);
	assert_true(block_open_fmt(at("r.raw"), true, BLOCK_FMT_QCOW2, &b, &why) < 0);
	assert_non_null(why);
	/* A probed raw image refuses a write that would make it qcow2. */
	assert_int_equal(block_open(at("r.raw"), false, &b, &why), 0);
	uint8_t sec[512] = { 'Q', 'F', 'I', 0xfb };
	assert_int_equal(run(b, BLOCK_WRITE, 0, sizeof(sec), sec), -EPERM);
	block_close(b);
}

/* A writer killed before close leaves leaked clusters at most, which
 * qemu-img check sees (status 3) and repairs. */
static void test_killed_writer(void **s)
{
	uint8_t buf[65536];
	pid_t pid;
	int st;

	(void)s;
	fresh();
	memset(buf, 7, sizeof(buf));
	if ((pid = fork()) == 0) {
		struct block *b;
		const char *why;
		if (block_open(at("h.qcow2"), false, &b, &why) ||
		    run(b, BLOCK_WRITE, 65536, sizeof(buf), buf) != (int)sizeof(buf))
			_exit(1);
		_exit(0); /* no close, no flush */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(sh("qemu-img check -q h.qcow2 >/dev/null 2>&1"), 3);
	assert_int_equal(sh("qemu-img check -q -r leaks h.qcow2 >/dev/null 2>&1"), 0);
	assert_int_equal(sh("qemu-img check -q h.qcow2"), 0);
	assert_int_equal(sh("qemu-img convert -O raw h.qcow2 h.raw && "
			    "cmp -s -i 65536:0 -n 65536 h.raw /dev/zero"), 1);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vmon-test-qcow2-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return sh("cd / && rm -rf %s", dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v3),
		cmocka_unit_test(test_v2),
		cmocka_unit_test(test_small_clusters),
		cmocka_unit_test(test_refcount_bits),
		cmocka_unit_test(test_backing_chain),
		cmocka_unit_test(test_compressed_zlib),
		cmocka_unit_test(test_compressed_zstd),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_backing_loop),
		cmocka_unit_test(test_bad_pointers),
		cmocka_unit_test(test_format_forced),
		cmocka_unit_test(test_killed_writer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
