#include "util/gmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/memmap.h"

int gmem_init(struct gmem *m, uint64_t size)
{
	void *p;

	memset(m, 0, sizeof(*m));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Ask for huge pages where the host offers them: fewer TLB misses. */
	madvise(p, size, MADV_HUGEPAGE);
	m->host = p;
	m->size = size;
	m->low_size = size < MEMMAP_LOW_RAM_MAX ? size : MEMMAP_LOW_RAM_MAX;
	return 0;
}

int gmem_init_file(struct gmem *m, uint64_t size, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *p;

	memset(m, 0, sizeof(*m));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || (uint64_t)st.st_size != size) {
		close(fd);
		return -EINVAL;
	}
	/* Writable but private: the file is never changed; the mapping keeps
	 * the file alive after the close. */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	m->host = p;
	m->size = size;
	m->low_size = size < MEMMAP_LOW_RAM_MAX ? size : MEMMAP_LOW_RAM_MAX;
	return 0;
}

void gmem_destroy(struct gmem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	m->host = NULL;
	atomic_store(&m->dirty, NULL);
	free((void *)m->dirty_buf);
	m->dirty_buf = NULL;
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	uint64_t high = m->size - m->low_size;

	if (!len)
		len = 1;
	if (gpa < m->low_size)
		return len <= m->low_size - gpa ? m->host + gpa : NULL;
	if (gpa >= MEMMAP_HIGH_RAM && gpa - MEMMAP_HIGH_RAM < high &&
	    len <= high - (gpa - MEMMAP_HIGH_RAM))
		return m->host + m->low_size + (gpa - MEMMAP_HIGH_RAM);
	return NULL;
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, size_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	gmem_written(m, p, len);
	return 0;
}

void gmem_code_written(const struct gmem *m, uint64_t off, uint64_t len)
{
	if (off >= m->size || !len)
		return;
	if (len > m->size - off)
		len = m->size - off;
	/* The bytes are stored before the marks are read; a vCPU stores its
	 * mark before it reads the bytes. Either it sees the new bytes or
	 * this sees its mark. */
	atomic_thread_fence(memory_order_seq_cst);
	for (uint64_t pg = off >> 12; pg <= (off + len - 1) >> 12; pg++)
		if (atomic_load_explicit(&m->code_pages[pg], memory_order_relaxed))
			m->code_written(m->code_opaque, pg);
}

void gmem_dirty_mark(const struct gmem *m, _Atomic uint64_t *bits, uint64_t off, uint64_t len)
{
	if (off >= m->size || !len)
		return;
	if (len > m->size - off)
		len = m->size - off;
	/* The bytes are stored before their bits (release): whoever takes a
	 * bit (acquire) and then reads the page sees them. */
	for (uint64_t pg = off >> 12; pg <= (off + len - 1) >> 12; pg++)
		gmem_dirty_page(bits, pg);
}

uint64_t gmem_high_end(const struct gmem *m)
{
	if (m->size > m->low_size)
		return MEMMAP_HIGH_RAM + (m->size - m->low_size);
	return m->low_size;
}
