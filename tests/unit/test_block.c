/* Unit tests: the raw image back-end on temporary files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "block/block.h"

#define IMG_SIZE (1u << 20)

static char dir[64], img[96];

/* One request and its completion, waited for by the test thread. */
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

/* Submits one request and waits for it: its result. */
static int run(struct block *b, enum block_op op, unsigned flags, uint64_t off, uint64_t len,
	       const struct iovec *iov, unsigned iovcnt)
{
	struct waiter w = { .r = { .op = op, .flags = flags, .offset = off, .len = len,
				   .iov = iov, .iovcnt = iovcnt, .done = waiter_done } };

	w.r.opaque = &w;
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	block_submit(b, &w.r);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	return w.result;
}

static int rw(struct block *b, enum block_op op, uint64_t off, void *buf, size_t len)
{
	struct iovec v = { buf, len };

	return run(b, op, 0, off, 0, &v, 1);
}

static void make_file(const char *path, size_t size, uint8_t fill)
{
	uint8_t *buf = malloc(size ? size : 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	memset(buf, fill, size);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

static void read_file(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vmon-test-block-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	make_file(img, IMG_SIZE, 0xaa);
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	unlink(img);
	snprintf(path, sizeof(path), "%s/odd.img", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/empty.img", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
	return 0;
}

static void test_read_write(void **state)
{
	uint8_t buf[4096], got[4096];
	struct block *b;
	const char *why;

	(void)state;
	make_file(img, IMG_SIZE, 0xaa);
	assert_int_equal(block_open(img, false, &b, &why), 0);
	assert_int_equal(block_size(b), IMG_SIZE);
	assert_false(block_readonly(b));
	assert_true(block_can_write_zeroes(b));

	assert_int_equal(rw(b, BLOCK_READ, 0, got, 512), 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(got[i], 0xaa);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	/* Written through three vectors, one of them empty. */
	struct iovec v[3] = { { buf, 1000 }, { buf, 0 }, { buf + 1000, 3096 } };
	assert_int_equal(run(b, BLOCK_WRITE, 0, 8192, 0, v, 3), 4096);
	assert_int_equal(run(b, BLOCK_FLUSH, 0, 0, 0, NULL, 0), 0);
	read_file(img, 8192, got, 4096);
	assert_memory_equal(got, buf, 4096);
	memset(got, 0, sizeof(got));
	assert_int_equal(rw(b, BLOCK_READ, 8192, got, 4096), 4096);
	assert_memory_equal(got, buf, 4096);

	/* A durable write (FUA). */
	struct iovec one = { buf, 512 };
	assert_int_equal(run(b, BLOCK_WRITE, BLOCK_REQ_FUA, IMG_SIZE - 512, 0, &one, 1), 512);
	read_file(img, IMG_SIZE - 512, got, 512);
	assert_memory_equal(got, buf, 512);

	/* Out of range: past the end, overflowing, zero vectors. */
	assert_int_equal(rw(b, BLOCK_READ, IMG_SIZE - 511, got, 512), -EINVAL);
	assert_int_equal(rw(b, BLOCK_WRITE, IMG_SIZE, buf, 1), -EINVAL);
	assert_int_equal(rw(b, BLOCK_READ, UINT64_MAX - 10, got, 512), -EINVAL);
	assert_int_equal(run(b, BLOCK_READ, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(run(b, BLOCK_DISCARD, 0, IMG_SIZE, 1, NULL, 0),
			 block_can_discard(b) ? -EINVAL : -EOPNOTSUPP);
	assert_int_equal(run(b, BLOCK_WRITE_ZEROES, 0, 512, UINT64_MAX, NULL, 0), -EINVAL);
	block_close(b);
}

/* More vectors than one preadv takes, of one byte each. */
static void test_many_vectors(void **state)
{
	enum { N = IOV_MAX * 2 + 5 };
	static struct iovec v[N];
	static uint8_t data[N], got[N];
	struct block *b;
	const char *why;

	(void)state;
	for (int i = 0; i < N; i++) {
		data[i] = (uint8_t)(i * 13 + 1);
		v[i] = (struct iovec){ &data[i], 1 };
	}
	assert_int_equal(block_open(img, false, &b, &why), 0);
	assert_int_equal(run(b, BLOCK_WRITE, 0, 4096, 0, v, N), N);
	for (int i = 0; i < N; i++)
		v[i] = (struct iovec){ &got[N - 1 - i], 1 }; /* reversed */
	assert_int_equal(run(b, BLOCK_READ, 0, 4096, 0, v, N), N);
	for (int i = 0; i < N; i++)
		assert_int_equal(got[N - 1 - i], data[i]);
	block_close(b);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_discard_write_zeroes(void **state)
{
	static uint8_t got[65536];
	struct block *b;
	const char *why;
	struct stat st;

	(void)state;
	make_file(img, IMG_SIZE, 0xaa);
	assert_int_equal(block_open(img, false, &b, &why), 0);

	/* Write-zeroes without unmap: zeroes, the rest untouched. */
	assert_int_equal(run(b, BLOCK_WRITE_ZEROES, 0, 4096, 8192, NULL, 0), 0);
	read_file(img, 0, got, 16384);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(got[i], 0xaa);
	assert_true(all_zero(got + 4096, 8192));
	for (int i = 12288; i < 16384; i++)
		assert_int_equal(got[i], 0xaa);

	/* With unmap, durable. */
	assert_int_equal(run(b, BLOCK_WRITE_ZEROES, BLOCK_REQ_UNMAP | BLOCK_REQ_FUA, 65536, 65536,
			     NULL, 0), 0);
	read_file(img, 65536, got, 65536);
	assert_true(all_zero(got, 65536));
	read_file(img, 131072, got, 512);
	assert_int_equal(got[0], 0xaa);

	/* Discard: where the file system punches holes, the range reads as
	 * zeroes and its blocks are gone. */
	if (block_can_discard(b)) {
		assert_int_equal(stat(img, &st), 0);
		blkcnt_t before = st.st_blocks;
		assert_int_equal(run(b, BLOCK_DISCARD, 0, 262144, 262144, NULL, 0), 0);
		assert_int_equal(stat(img, &st), 0);
		assert_true(st.st_blocks < before);
		assert_int_equal(st.st_size, IMG_SIZE);
		read_file(img, 262144, got, 65536);
		assert_true(all_zero(got, 65536));
	} else {
		print_message("discard: not supported by this file system\n");
		assert_int_equal(run(b, BLOCK_DISCARD, 0, 262144, 262144, NULL, 0), -EOPNOTSUPP);
	}
	assert_int_equal(run(b, BLOCK_DISCARD, 0, 0, 0, NULL, 0),
			 block_can_discard(b) ? 0 : -EOPNOTSUPP);
	block_close(b);
}

/* Several requests in flight: the first completion waits (bounded) for a
 * second one to arrive, which only happens when two run at once. */
struct overlap {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int entered, finished;
	bool overlapped;
	int results[32];
	struct block_req r[32];
	struct iovec v[32];
	uint8_t buf[32][512];
};

static void overlap_done(struct block_req *r, int result)
{
	struct overlap *o = r->opaque;
	struct timespec ts;

	pthread_mutex_lock(&o->lock);
	o->results[r - o->r] = result;
	if (++o->entered >= 2)
		o->overlapped = true;
	pthread_cond_broadcast(&o->cond);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	while (!o->overlapped && pthread_cond_timedwait(&o->cond, &o->lock, &ts) == 0)
		;
	o->finished++;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

static void test_in_flight(void **state)
{
	static struct overlap o;
	uint8_t got[512];
	struct block *b;
	const char *why;

	(void)state;
	memset(&o, 0, sizeof(o));
	pthread_mutex_init(&o.lock, NULL);
	pthread_cond_init(&o.cond, NULL);
	assert_int_equal(block_open(img, false, &b, &why), 0);
	for (int i = 0; i < 32; i++) {
		memset(o.buf[i], i + 1, 512);
		o.v[i] = (struct iovec){ o.buf[i], 512 };
		o.r[i] = (struct block_req){ .op = BLOCK_WRITE, .offset = (uint64_t)i * 512,
					     .iov = &o.v[i], .iovcnt = 1, .done = overlap_done,
					     .opaque = &o };
		block_submit(b, &o.r[i]);
	}
	block_drain(b);
	assert_int_equal(o.finished, 32);
	assert_true(o.overlapped);
	for (int i = 0; i < 32; i++) {
		assert_int_equal(o.results[i], 512);
		read_file(img, (uint64_t)i * 512, got, 512);
		assert_int_equal(got[0], i + 1);
		assert_int_equal(got[511], i + 1);
	}
	block_close(b);
}

static void test_readonly(void **state)
{
	uint8_t buf[512];
	struct block *b;
	const char *why;

	(void)state;
	make_file(img, IMG_SIZE, 0x55);
	assert_int_equal(block_open(img, true, &b, &why), 0);
	assert_true(block_readonly(b));
	assert_false(block_can_discard(b));
	assert_false(block_can_write_zeroes(b));
	assert_int_equal(rw(b, BLOCK_READ, 512, buf, 512), 512);
	assert_int_equal(buf[0], 0x55);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(rw(b, BLOCK_WRITE, 512, buf, 512), -EROFS);
	assert_int_equal(run(b, BLOCK_WRITE_ZEROES, 0, 0, 512, NULL, 0), -EROFS);
	assert_int_equal(run(b, BLOCK_DISCARD, 0, 0, 512, NULL, 0), -EROFS);
	assert_int_equal(run(b, BLOCK_FLUSH, 0, 0, 0, NULL, 0), 0);
	block_close(b);
	read_file(img, 512, buf, 512);
	assert_int_equal(buf[0], 0x55);

	/* A file without write permission opens read-only only (not as root,
	 * which ignores permissions). */
	if (geteuid() != 0) {
		chmod(img, 0444);
		assert_int_equal(block_open(img, false, &b, &why), -EACCES);
		assert_int_equal(block_open(img, true, &b, &why), 0);
		block_close(b);
		chmod(img, 0644);
	}
}

static void test_lock(void **state)
{
	struct block *a, *b, *c;
	const char *why;

	(void)state;
	assert_int_equal(block_open(img, false, &a, &why), 0);
	assert_int_equal(block_open(img, false, &b, &why), -EBUSY);
	assert_null(b);
	assert_non_null(why);
	assert_int_equal(block_open(img, true, &b, &why), -EBUSY);
	block_close(a);
	/* Readers share; a writer waits for all of them. */
	assert_int_equal(block_open(img, true, &a, &why), 0);
	assert_int_equal(block_open(img, true, &b, &why), 0);
	assert_int_equal(block_open(img, false, &c, &why), -EBUSY);
	block_close(a);
	assert_int_equal(block_open(img, false, &c, &why), -EBUSY);
	block_close(b);
	assert_int_equal(block_open(img, false, &c, &why), 0);
	block_close(c);
}

static void test_bad_files(void **state)
{
	char path[128];
	struct block *b;
	const char *why;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.img", dir);
	assert_int_equal(block_open(path, false, &b, &why), -ENOENT);
	assert_null(why);

	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(block_open(path, false, &b, &why), -EISDIR);
	assert_string_equal(why, "is a directory");
	assert_int_equal(block_open(path, true, &b, &why), -EISDIR);
	assert_string_equal(why, "is a directory");

	snprintf(path, sizeof(path), "%s/odd.img", dir);
	make_file(path, 1000, 0);
	assert_int_equal(block_open(path, false, &b, &why), -EINVAL);
	assert_string_equal(why, "the image size is not a multiple of 512 bytes");

	snprintf(path, sizeof(path), "%s/empty.img", dir);
	make_file(path, 0, 0);
	assert_int_equal(block_open(path, true, &b, &why), -EINVAL);
	assert_string_equal(why, "the image is empty");

	assert_int_equal(block_open("/dev/null", true, &b, &why), -EINVAL);
	assert_string_equal(why, "not a regular file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_many_vectors),
		cmocka_unit_test(test_discard_write_zeroes),
		cmocka_unit_test(test_in_flight),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
