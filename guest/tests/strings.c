/* String instructions with segment overrides, address sizes and DF=1: in
 * 64-bit code FS and GS add their bases (from the MSRs) and the other
 * segments none; 0x67 uses ESI/EDI/ECX and writes them back 32-bit; in
 * compatibility mode every segment's base counts and 0x67 gives 16-bit
 * SI/DI/CX. OUTS takes an override, INS writes ES:RDI. */
#include "lib.h"

extern uint64_t gdt[];

#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101

enum { S_FSDATA = 0x40, S_END = 0x48 };

static uint64_t pgdt[S_END / 8] __attribute__((aligned(16)));
static uint8_t src[256] __attribute__((aligned(16))), dst[256] __attribute__((aligned(16)));

volatile uint64_t r_si, r_di, r_cx, r_ax, r_fl;

static void reset(void)
{
	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1), dst[i] = 0;
}

static unsigned sum(const uint8_t *b, unsigned n)
{
	unsigned s = 0;
	for (unsigned i = 0; i < n; i++)
		s = s * 31 + b[i];
	return s;
}

void c32_movs(void);
__asm__(".text\n.code32\n"
	"c32_movs:\n"
	/* FS base is src: fs movsb from FS:ESI to ES:EDI (ES base 0). */
	"\tmovl $0x40, %eax\n\tmovw %ax, %fs\n"
	"\tmovl $8, %esi\n\tmovl $dst, %edi\n\tmovl $4, %ecx\n"
	"\tcld\n\trep movsb %fs:(%esi), %es:(%edi)\n"
	/* 16-bit addressing: SI only; the upper half stays. */
	"\tmovl $0xabcd0010, %esi\n"
	"\taddr16 lodsb %fs:(%si), %al\n"
	"\tmovl %esi, %ss:r_si\n\tmovl %eax, %ss:r_ax\n"
	"\tlretl\n"
	".code64\n");

int main(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p;
	uint64_t si, di, cx, fl;

	reset();
	/* FS and GS overrides in 64-bit code. */
	wrmsr(MSR_FS_BASE, (uint64_t)src);
	wrmsr(MSR_GS_BASE, (uint64_t)src + 0x80);
	si = 0x10, di = (uint64_t)dst, cx = 16;
	__asm__ volatile("cld; rep movsb %%fs:(%%rsi), %%es:(%%rdi)" : "+S"(si), "+D"(di), "+c"(cx) :: "memory");
	printf("rep fs movsb: copied %s, rsi 0x%lx, rcx %lu\n",
	       !memcmp(dst, src + 0x10, 16) ? "fs:0x10.." : "wrong", si, cx);
	uint64_t v;
	si = 8;
	__asm__ volatile("lodsq %%gs:(%%rsi), %%rax" : "=a"(v), "+S"(si) :: "memory");
	printf("gs lodsq: %s, rsi 0x%lx\n", !memcmp(&v, src + 0x88, 8) ? "gs:8" : "wrong", si);
	/* DS/ES overrides have no base in 64-bit code. */
	si = (uint64_t)src + 4;
	__asm__ volatile("movw %w2, %%ds; lodsb %%ds:(%%rsi), %%al; movw %w3, %%ds"
			 : "=a"(v), "+S"(si) : "r"(SEL_UDATA), "r"(SEL_DATA) : "memory");
	printf("ds lodsb: 0x%lx\n", v & 0xff);

	/* 0x67: ESI/EDI/ECX, written back zero-extended. */
	reset();
	si = 0xdead000000000000ull | (uint64_t)src, di = 0xbeef000000000000ull | (uint64_t)dst;
	cx = 0x5555000000000008ull;
	__asm__ volatile("cld; addr32 rep movsb" : "+S"(si), "+D"(di), "+c"(cx) :: "memory");
	printf("addr32 rep movsb: copied %s, rsi-src %ld, rdi-dst %ld, rcx 0x%lx\n",
	       !memcmp(dst, src, 8) ? "8" : "wrong", (int64_t)(si - (uint64_t)src),
	       (int64_t)(di - (uint64_t)dst), cx);
	/* DF=1. */
	reset();
	si = (uint64_t)src + 14, di = (uint64_t)dst + 14, cx = 4;
	__asm__ volatile("std; rep movsw; cld" : "+S"(si), "+D"(di), "+c"(cx) :: "memory");
	printf("std rep movsw: copied %s, rsi-src %ld\n",
	       !memcmp(dst + 8, src + 8, 8) && !dst[7] ? "8..15" : "wrong", (int64_t)(si - (uint64_t)src));
	si = (uint64_t)src + 31, di = (uint64_t)dst + 31, cx = 32;
	memcpy(dst, src, 32);
	dst[20] ^= 1;
	__asm__ volatile("std; repe cmpsb; pushfq; popq %3; cld" : "+S"(si), "+D"(di), "+c"(cx), "=r"(fl) :: "memory");
	printf("std repe cmpsb: stops at %ld, rcx %lu, zf %lu\n", (int64_t)(si + 1 - (uint64_t)src),
	       cx, fl >> 6 & 1);
	di = (uint64_t)src, cx = 64;
	__asm__ volatile("cld; repne scasb" : "+D"(di), "+c"(cx) : "a"(src[40]) : "memory");
	printf("repne scasb: found at %ld, rcx %lu\n", (int64_t)(di - 1 - (uint64_t)src), cx);
	reset();
	di = (uint64_t)dst + 8, cx = 3;
	__asm__ volatile("std; rep stosw; cld" : "+D"(di), "+c"(cx) : "a"(0x1234) : "memory");
	printf("std rep stosw: sum 0x%x, rdi-dst %ld\n", sum(dst, 16), (int64_t)(di - (uint64_t)dst));

	/* OUTS takes a segment override (here GS: its base is the text), INS
	 * writes ES:RDI; both by element through the port. The serial port
	 * prints the text; its line control register (8N1: 0x03) is read. */
	{
		static const char fwd[] = "gs rep outsb\n", back[] = "\nbstuo per dts";
		wrmsr(MSR_GS_BASE, (uint64_t)fwd);
		si = 0, cx = sizeof(fwd) - 1;
		__asm__ volatile("cld; rep outsb %%gs:(%%rsi), %%dx" : "+S"(si), "+c"(cx)
				 : "d"(0x3f8) : "memory");
		si = 0xffffffff00000000ull | (uint64_t)(back + sizeof(back) - 2), cx = sizeof(back) - 1;
		__asm__ volatile("std; addr32 rep outsb; cld" : "+S"(si), "+c"(cx) : "d"(0x3f8) : "memory");
		printf("addr32 std rep outsb: rsi 0x%lx below the text\n",
		       (uint64_t)(back - 1) - si);
		reset();
		di = (uint64_t)dst, cx = 4;
		__asm__ volatile("cld; rep insb" : "+D"(di), "+c"(cx) : "d"(0x3fb) : "memory");
		printf("rep insb from the lcr: %x %x %x %x %x, rdi-dst %ld\n", dst[0], dst[1], dst[2],
		       dst[3], dst[4], (int64_t)(di - (uint64_t)dst));
	}

	/* Compatibility mode: FS with a base. */
	reset();
	memcpy(pgdt, gdt, 0x40);
	uint64_t b = (uint64_t)src;
	pgdt[S_FSDATA / 8] = 0x00cf92000000ffffull | (b & 0xffffff) << 16 | (b >> 24) << 56;
	p.limit = sizeof(pgdt) - 1, p.base = (uint64_t)pgdt;
	__asm__ volatile("lgdt %0" :: "m"(p) : "memory");
	struct __attribute__((packed)) { uint32_t off; uint16_t sel; } fp = { (uint32_t)(uint64_t)c32_movs, SEL_CODE32 };
	__asm__ volatile("lcall *%0" :: "m"(fp) : "rax", "rcx", "rsi", "rdi", "memory");
	printf("compat rep fs movsb: copied %s\n", !memcmp(dst, src + 8, 4) ? "fs:8.." : "wrong");
	printf("compat addr16 fs lodsb: al 0x%lx (fs:0x10 0x%x), esi 0x%lx\n", r_ax & 0xff, src[0x10], r_si);
	__asm__ volatile("movw %w0, %%fs" :: "r"(0));
	puts("strings: done");
	return 0;
}
