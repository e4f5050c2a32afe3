/* Dirty-page tracking: one bitmap in gmem that devices (gmem_written) and
 * emu's vCPUs set, plus the accelerator's own log (KVM), merged at each
 * collect. The gmem bitmap is drained before the accelerator's collect:
 * emu re-arms its write tracking there, after the bits it reports are
 * gone, so a vCPU write in between lands on a page already reported. */
#include "machine/dirty.h"

#include <errno.h>
#include <stdlib.h>

#include "machine/machine.h"

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
