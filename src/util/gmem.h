/* Guest RAM and the one checked way to reach it.
 *
 * RAM is one host mapping; the guest sees its first low_size bytes at
 * guest-physical 0 and the rest at 4 GiB (the PCI/APIC hole is between).
 * Every address and length that comes from the guest goes through
 * gmem_ptr(), which returns NULL unless the whole range is RAM. */
#ifndef VMON_UTIL_GMEM_H
#define VMON_UTIL_GMEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gmem {
	uint8_t *host;     /* host mapping of all guest RAM */
	uint64_t size;     /* total bytes of RAM */
	uint64_t low_size; /* bytes at guest-physical 0; the rest is at 4 GiB */
	/* Set by an accelerator that caches decoded guest code (emu), NULL
	 * otherwise: one byte per 4 KiB page of the host mapping, nonzero
	 * while code decoded from the page is cached. A device write to such
	 * a page calls code_written(code_opaque, page) so the cache drops it. */
	_Atomic uint8_t *code_pages;
	void (*code_written)(void *opaque, uint64_t page);
	void *code_opaque;
	/* Dirty-page tracking (machine/dirty.c): while set, one bit per 4 KiB
	 * page of the host mapping, set by device writes (gmem_written) and by
	 * emu's vCPUs; NULL while tracking is off. dirty_buf is its storage,
	 * kept until gmem_destroy: a writer may still hold the old pointer. */
	_Atomic(_Atomic uint64_t *) dirty;
	_Atomic uint64_t *dirty_buf;
};

int gmem_init(struct gmem *m, uint64_t size);
/* RAM backed by the file at path (a snapshot's memory), mapped MAP_PRIVATE:
 * pages load from the file on first touch, guest writes stay in this
 * process. The file must hold exactly size bytes (-EINVAL otherwise). */
int gmem_init_file(struct gmem *m, uint64_t size, const char *path);
void gmem_destroy(struct gmem *m);

/* Host pointer for [gpa, gpa + len), or NULL when any byte of it is not RAM
 * or the range overflows. len 0 is treated as 1. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Device writes through a pointer from gmem_ptr (DMA into guest RAM) end
 * with gmem_written(m, p, len), so an accelerator that caches code decoded
 * from those pages drops it and dirty-page tracking sees them; nothing but
 * two NULL tests without either. */
void gmem_code_written(const struct gmem *m, uint64_t off, uint64_t len);

/* Sets the dirty bits of [off, off + len) of the host mapping in bits. */
void gmem_dirty_mark(const struct gmem *m, _Atomic uint64_t *bits, uint64_t off, uint64_t len);

/* Marks page (host mapping offset / 4096) dirty when tracking is on. */
static inline void gmem_dirty_page(_Atomic uint64_t *bits, uint64_t page)
{
	atomic_fetch_or_explicit(&bits[page / 64], 1ULL << (page % 64), memory_order_release);
}

static inline void gmem_written(const struct gmem *m, const void *p, size_t len)
{
	_Atomic uint64_t *bits;

	if (!len)
		return;
	if (m->code_pages)
		gmem_code_written(m, (uint64_t)((const uint8_t *)p - m->host), len);
	bits = atomic_load_explicit(&m->dirty, memory_order_acquire);
	if (bits)
		gmem_dirty_mark(m, bits, (uint64_t)((const uint8_t *)p - m->host), len);
}

/* Copies with the same check; -EFAULT when the range is not RAM.
 * gmem_write is a device write: it calls gmem_written itself. */
int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, size_t len);
int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, size_t len);

/* The guest-physical end of RAM above 4 GiB (or of low RAM when none is high). */
uint64_t gmem_high_end(const struct gmem *m);

#endif
