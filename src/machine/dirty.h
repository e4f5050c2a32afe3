/* Dirty-page tracking for live migration: 4 KiB pages of guest RAM written
 * by vCPUs (KVM's dirty log / emu's soft MMU) or devices (gmem_written)
 * since the last collect. Page i is host mapping offset i * 4096 (gmem
 * order: low RAM, then high RAM). A bitmap has dirty_bitmap_words() 64-bit
 * words: gmem.size / 4096 bits rounded up to 64. One caller at a time
 * (the migration thread); the vCPUs and devices may run throughout. */
#ifndef VMON_MACHINE_DIRTY_H
#define VMON_MACHINE_DIRTY_H

#include <stddef.h>
#include <stdint.h>

struct machine;
struct gmem;

/* 0 or -errno (-ENOTSUP: the accelerator cannot track, -EBUSY: already
 * on); all pages clean from now on. */
int dirty_start(struct machine *m);
/* ORs the pages written since start / the last collect into bitmap and
 * clears them; the count of bits newly set in bitmap, or -errno (-EINVAL:
 * tracking is off). Safe while vCPUs run. A write that starts before the
 * return is either in bitmap or reported by the next collect. */
int64_t dirty_collect(struct machine *m, uint64_t *bitmap);
void dirty_stop(struct machine *m);

/* Words of a bitmap for this RAM. */
size_t dirty_bitmap_words(const struct gmem *mem);

/* Test hook VMON_TEST_DIRTY=MS (cli/run.c): tracking on from before the
 * vCPUs start, a thread collecting every MS ms until the machine stops;
 * dirty_test_end (after machine_run) joins it and logs the counts. */
void dirty_test_env(struct machine *m);
void dirty_test_end(struct machine *m);

#endif
