/* Dirty-page tracking: one bitmap in gmem that devices (gmem_written) and
 * emu's vCPUs set, plus the accelerator's own log (KVM), merged at each
 * collect. The gmem bitmap is drained before the accelerator's collect:
 * emu re-arms its write tracking there, after the bits it reports are
 * gone, so a vCPU write in between lands on a page already reported. */
#include "machine/dirty.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "machine/machine.h"
#include "util/log.h"

size_t dirty_bitmap_words(const struct gmem *mem)
{
	return (size_t)(((mem->size + 4095) / 4096 + 63) / 64);
}

int dirty_start(struct machine *m)
{
	struct gmem *mem = &m->mem;
	size_t n = dirty_bitmap_words(mem);
	int r;

	if (!m->accel || !m->accel->vm_dirty_log || !m->accel->vm_dirty_collect)
		return -ENOTSUP;
	if (atomic_load(&mem->dirty))
		return -EBUSY;
	if (!mem->dirty_buf) {
		mem->dirty_buf = calloc(n, sizeof(*mem->dirty_buf));
		if (!mem->dirty_buf)
			return -ENOMEM;
	}
	/* A writer of an earlier round may still hold the buffer: atomics. */
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(&mem->dirty_buf[i], 0, memory_order_relaxed);
	atomic_store(&mem->dirty, mem->dirty_buf);
	r = m->accel->vm_dirty_log(m->vm, true);
	if (r < 0) {
		atomic_store(&mem->dirty, NULL);
		return r;
	}
	return 0;
}

int64_t dirty_collect(struct machine *m, uint64_t *bitmap)
{
	_Atomic uint64_t *bits = atomic_load(&m->mem.dirty);
	size_t n = dirty_bitmap_words(&m->mem);
	int64_t count = 0, r;

	if (!bits)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		uint64_t w;
		if (!atomic_load_explicit(&bits[i], memory_order_relaxed))
			continue;
		w = atomic_exchange_explicit(&bits[i], 0, memory_order_acq_rel);
		count += __builtin_popcountll(w & ~bitmap[i]);
		bitmap[i] |= w;
	}
	r = m->accel->vm_dirty_collect(m->vm, bitmap);
	return r < 0 ? r : count + r;
}

void dirty_stop(struct machine *m)
{
	if (!atomic_load(&m->mem.dirty))
		return;
	m->accel->vm_dirty_log(m->vm, false);
	/* The buffer stays (gmem_destroy frees it): a device or vCPU may
	 * still be setting a bit through the pointer it loaded. */
	atomic_store(&m->mem.dirty, NULL);
}

/* ---- The test hook (bench/migrate.sh measures emu's cost with it) ---- */

static pthread_t test_thread;
static bool test_on;
static unsigned test_ms;
static uint64_t test_collects, test_pages;

static void *dirty_test_loop(void *arg)
{
	struct machine *m = arg;
	size_t n = dirty_bitmap_words(&m->mem);
	uint64_t *bm = calloc(n, sizeof(*bm));

	while (bm && !atomic_load(&m->stopping)) {
		struct timespec ts = { test_ms / 1000, (long)(test_ms % 1000) * 1000000 };
		nanosleep(&ts, NULL);
		memset(bm, 0, n * sizeof(*bm));
		int64_t r = dirty_collect(m, bm);
		if (r < 0) {
			log_error("VMON_TEST_DIRTY: collect: %s", strerror((int)-r));
			break;
		}
		test_collects++;
		test_pages += (uint64_t)r;
	}
	free(bm);
	return NULL;
}

void dirty_test_env(struct machine *m)
{
	const char *e = getenv("VMON_TEST_DIRTY");
	char *end;
	int r;

	if (!e)
		return;
	unsigned long ms = strtoul(e, &end, 10);
	if (*end || !ms || ms > 60000) {
		log_error("VMON_TEST_DIRTY=%s: expected milliseconds (1..60000)", e);
		return;
	}
	test_ms = (unsigned)ms;
	if ((r = dirty_start(m))) {
		log_error("VMON_TEST_DIRTY: %s", strerror(-r));
		return;
	}
	if ((r = pthread_create(&test_thread, NULL, dirty_test_loop, m))) {
		log_error("VMON_TEST_DIRTY: %s", strerror(r));
		dirty_stop(m);
		return;
	}
	test_on = true;
}

void dirty_test_end(struct machine *m)
{
	if (!test_on)
		return;
	pthread_join(test_thread, NULL);
	dirty_stop(m);
	test_on = false;
	log_info("dirty tracking: %llu collects every %u ms, %llu pages dirty",
		 (unsigned long long)test_collects, test_ms, (unsigned long long)test_pages);
}
