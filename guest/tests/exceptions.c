/* Exceptions raised at CPL3 reach the CPL0 handlers through the TSS with
 * the right vector, error code, RIP and (for #PF) CR2, and the program
 * resumes after each. */
#include "lib.h"

#define NOT_PRESENT 0x100001234ULL   /* above the 4 GiB identity map */

/* Set by the user code: where the faulting instruction and the next one are. */
volatile uint64_t fault_rip, next_rip;

/* Runs insn at label 1 (after setup) and resumes at label 2. */
#define FAULT(setup, insn, ...)                                              \
	__asm__ volatile(setup "\n\t"                                        \
			 "leaq 1f(%%rip), %%r11\n\t"                         \
			 "movq %%r11, fault_rip(%%rip)\n\t"                  \
			 "leaq 2f(%%rip), %%r11\n\t"                         \
			 "movq %%r11, next_rip(%%rip)\n\t"                   \
			 "movq %%r11, trap_resume(%%rip)\n"                  \
			 "1:\t" insn "\n"                                    \
			 "2:" ::: "r11", "memory", ##__VA_ARGS__)

static uint64_t u_de(uint64_t a) { FAULT("xorl %%ecx, %%ecx; movl $1, %%eax; xorl %%edx, %%edx", "divl %%ecx", "rax", "rcx", "rdx"); return a; }
static uint64_t u_ud(uint64_t a) { FAULT("", "ud2"); return a; }
static uint64_t u_bp(uint64_t a) { FAULT("", "int3"); return a; }
static uint64_t u_cli(uint64_t a) { FAULT("", "cli"); return a; }
static uint64_t u_in(uint64_t a) { FAULT("movl $0x70, %%edx", "inb %%dx, %%al", "rax", "rdx"); return a; }
static uint64_t u_cr3(uint64_t a) { FAULT("", "movq %%cr3, %%rax", "rax"); return a; }
static uint64_t u_noncanon(uint64_t a) { FAULT("movabsq $0x8000000000000000, %%rax", "movq (%%rax), %%rax", "rax"); return a; }
static uint64_t u_pf_write(uint64_t a) { FAULT("movabsq $0x100001234, %%rax", "movb $1, (%%rax)", "rax"); return a; }
static uint64_t u_pf_read(uint64_t a) { FAULT("movabsq $0x100001234, %%rax", "movb (%%rax), %%al", "rax"); return a; }

static uint64_t u_cs(uint64_t a)
{
	uint16_t cs;
	__asm__ volatile("movw %%cs, %0" : "=r"(cs));
	return cs + a;
}

struct check {
	const char *name;
	user_fn_t fn;
	uint64_t vector, error;
	bool trap;       /* RIP after the instruction (#BP), else at it */
	bool cr2;
};

static const struct check checks[] = {
	{ "#DE div by zero", u_de, 0, 0, false, false },
	{ "#UD ud2", u_ud, 6, 0, false, false },
	{ "#BP int3", u_bp, 3, 0, true, false },
	{ "#GP cli", u_cli, 13, 0, false, false },
	{ "#GP in from port 0x70", u_in, 13, 0, false, false },
	{ "#GP mov from cr3", u_cr3, 13, 0, false, false },
	{ "#GP non-canonical load", u_noncanon, 13, 0, false, false },
	{ "#PF user write, not present", u_pf_write, 14, 6, false, true },
	{ "#PF user read, not present", u_pf_read, 14, 4, false, true },
};

int main(void)
{
	/* Only the RPL: this host's PVM-style KVM shows its own selector. */
	uint64_t cs = user_call(u_cs, 0x1000) - 0x1000;
	printf("user mode: cs rpl %lu\n", cs & 3);
	if ((cs & 3) != 3)
		return 2;

	int failed = 0;
	for (unsigned i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct check *c = &checks[i];
		unsigned before = last_trap.count;
		fault_rip = next_rip = 0;
		uint64_t ret = user_call(c->fn, 0x600d0000 + i);
		bool taken = last_trap.count == before + 1;
		bool rip_ok = last_trap.rip == (c->trap ? next_rip : fault_rip);
		bool cr2_ok = !c->cr2 || last_trap.cr2 == NOT_PRESENT;
		bool ok = taken && last_trap.vector == c->vector && last_trap.error == c->error &&
			  (last_trap.cs & 3) == 3 && rip_ok && cr2_ok && ret == 0x600d0000 + i;
		printf("%s: vector %lu error %lx from cpl %lu, rip %s%s, %s\n", c->name,
		       taken ? last_trap.vector : 999, taken ? last_trap.error : 0xfff,
		       last_trap.cs & 3, rip_ok ? "ok" : "wrong",
		       !c->cr2 ? "" : cr2_ok ? ", cr2 ok" : ", cr2 wrong",
		       ret == 0x600d0000 + i ? "resumed" : "not resumed");
		if (!ok && !failed)
			failed = 3 + (int)i;
	}
	if (failed)
		return failed;
	puts("exceptions: ok");
	return 0;
}
