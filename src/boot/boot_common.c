/* Loader helpers shared by the Linux, PVH and Multiboot protocols. */
#include "boot/boot_common.h"

#include <errno.h>
#include <inttypes.h>

#include "accel/cpu_state.h"
#include "boot/boot.h"
#include "machine/machine.h"
#include "machine/memmap.h"

/* Flat 4 GiB descriptors with the accessed bit set, as the segment state
 * from cpu_state_flat32/long64 describes them (type 11 and 3, G, P). */
#define GDT_CODE32 0x00cf9b000000ffffULL
#define GDT_CODE64 0x00af9b000000ffffULL /* L = 1, D = 0 */
#define GDT_DATA   0x00cf93000000ffffULL

#define PTE_P  0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL
#define PAGE   0x1000ULL

/* Null, null, code at selector 0x10, data at 0x18: Linux's __BOOT_CS and
 * __BOOT_DS; the other protocols only need some flat segments. */
static int boot_gdt(struct machine *m, uint64_t code)
{
	const uint64_t gdt[4] = { 0, 0, code, GDT_DATA };
	uint8_t buf[sizeof(gdt)];

	for (unsigned i = 0; i < 4; i++)
		boot_wr64(buf + 8 * i, gdt[i]);
	if (gmem_write(&m->mem, MEMMAP_BOOT_GDT, buf, sizeof(buf)))
		return boot_fail(-E2BIG, "guest RAM is too small for the boot tables");
	m->boot_state.gdt.base = MEMMAP_BOOT_GDT;
	m->boot_state.gdt.limit = sizeof(buf) - 1;
	return 0;
}

/* PML4, PDPT and four page directories of 2 MiB pages: 0-4 GiB identity. */
static int boot_page_tables(struct machine *m)
{
	uint8_t *pt = gmem_ptr(&m->mem, MEMMAP_BOOT_PML4, 6 * PAGE);

	if (!pt)
		return boot_fail(-E2BIG, "guest RAM is too small for the boot page tables");
	memset(pt, 0, 6 * PAGE);
	boot_wr64(pt, (MEMMAP_BOOT_PML4 + PAGE) | PTE_P | PTE_RW);
	for (unsigned i = 0; i < 4; i++)
		boot_wr64(pt + PAGE + 8 * i,
			  (MEMMAP_BOOT_PML4 + (2 + i) * PAGE) | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4 * 512; i++)
		boot_wr64(pt + 2 * PAGE + 8 * i, (i << 21) | PTE_P | PTE_RW | PTE_PS);
	return 0;
}

int boot_enter_flat32(struct machine *m, uint64_t entry)
{
	cpu_state_flat32(&m->boot_state);
	m->boot_state.rip = entry;
	return boot_gdt(m, GDT_CODE32);
}

int boot_enter_long64(struct machine *m, uint64_t entry)
{
	int r;

	cpu_state_long64(&m->boot_state, MEMMAP_BOOT_PML4);
	m->boot_state.rip = entry;
	if ((r = boot_page_tables(m)))
		return r;
	return boot_gdt(m, GDT_CODE64);
}

int boot_cmdline(struct machine *m, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	uint8_t *p;

	if (max > MEMMAP_CMDLINE_MAX - 1)
		max = MEMMAP_CMDLINE_MAX - 1;
	if (n > max)
		return boot_fail(-E2BIG, "the command line has %zu bytes, the kernel "
				 "accepts at most %zu", n, max);
	if (!(p = gmem_ptr(&m->mem, MEMMAP_CMDLINE, n + 1)))
		return boot_fail(-E2BIG, "guest RAM is too small for the command line");
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return 0;
}

int boot_initrd(struct machine *m, const uint8_t *rd, size_t len,
		uint64_t lo, uint64_t hi, uint64_t *gpa)
{
	uint64_t start = 0, end = m->mem.low_size, addr;
	uint8_t *p;

	if (lo >= MEMMAP_HIGH_RAM) {
		start = MEMMAP_HIGH_RAM;
		end = gmem_high_end(&m->mem);
	}
	if (lo < start)
		lo = start;
	if (hi > end)
		hi = end;
	addr = hi >= len ? (hi - len) & ~(PAGE - 1) : 0;
	if (hi < lo || hi - lo < len || addr < lo || !(p = gmem_ptr(&m->mem, addr, len)))
		return boot_fail(-E2BIG, "the initrd has %zu bytes, but only %" PRIu64
				 " are free for it in guest RAM (%#" PRIx64 "-%#" PRIx64 ")",
				 len, hi > lo ? hi - lo : 0, lo, hi);
	memcpy(p, rd, len);
	*gpa = addr;
	return 0;
}

int boot_segment(struct machine *m, uint64_t gpa, const uint8_t *src,
		 uint64_t filesz, uint64_t memsz)
{
	uint8_t *p;

	if (filesz > memsz)
		return boot_fail(-ENOEXEC, "segment at %#" PRIx64 " has more bytes in the "
				 "file (%" PRIu64 ") than in memory (%" PRIu64 ")",
				 gpa, filesz, memsz);
	if (gpa < MEMMAP_KERNEL)
		return boot_fail(-ENOEXEC, "segment at %#" PRIx64 " is below 1 MiB, "
				 "where vmon keeps the boot tables", gpa);
	if (!(p = gmem_ptr(&m->mem, gpa, memsz)))
		return boot_fail(-E2BIG, "segment of %" PRIu64 " bytes at %#" PRIx64
				 " is not inside guest RAM (%" PRIu64 " MiB)",
				 memsz, gpa, m->mem.size >> 20);
	if (filesz)
		memcpy(p, src, filesz);
	memset(p + filesz, 0, memsz - filesz);
	return 0;
}
