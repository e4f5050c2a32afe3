/* Far control flow in long mode through 64-bit call gates (CPL3 -> CPL0
 * with the TSS stack and a null SS, same-level gates, conforming targets)
 * and direct far calls at CPL3, with the faults of each (#GP and #NP with
 * their selectors); farcall0.c has the direct forms at CPL0. */
#include "lib.h"
#include "native.h"

#include "far.h"

static uint64_t tss_rsp0(void)
{
	uint64_t lo = gdt[SEL_TSS / 8], hi = gdt[SEL_TSS / 8 + 1], v;
	uint64_t base = ((lo >> 16) & 0xffffff) | ((lo >> 56) << 24) | hi << 32;
	memcpy(&v, (const void *)(base + 4), 8);
	return v;
}

static void check_cpl0_gate(void)
{
	unsigned b;
	int64_t d;

	g_cs = 0, g_rsp = 0;
	d = call32(S_GATE0, 0, &b);
	printf("cpl0 call gate dpl0: %s, cs 0x%x, pushed 16 bytes %s, rsp back %s\n",
	       fault_name(b), g_cs, g_rsp == g_s0 - 16 ? "yes" : "no", d == 0 ? "ok" : "wrong");
}

/* ---- CPL3 ---- */

/* 32-bit code at CPL3 that calls through the DPL3 gate (into 64-bit CPL0
 * code, whose lretq comes back to compatibility mode), then returns. */
void t32_gate(void);
volatile uint16_t g_cs32;
__asm__(".text\n.code32\n"
	"t32_gate:\n"
	"\tlcall $0x43, $0\n"           /* S_GATE3 | 3; a gate ignores the offset */
	"\tmovw %cs, %ss:g_cs32\n"
	"\tlretl\n"
	".code64\n");

struct ures { unsigned vector, error, faulted; int64_t drsp; };
static struct ures ures;

static uint64_t u_call(uint64_t arg)
{
	unsigned b;
	uint16_t sel = (uint16_t)arg;
	void (*fn)(void) = sel == S_UCODE32 ? t32_ret : t64_ret32;
	if (arg >> 16)   /* the 32-bit code that calls the gate */
		fn = t32_gate;
	ures.drsp = call32((uint16_t)(sel | 3), fn, &b);
	ures.faulted = last_trap.count != b;
	ures.vector = (unsigned)last_trap.vector, ures.error = (unsigned)last_trap.error;
	return 0;
}

static uint64_t u_jmp(uint64_t arg)
{
	unsigned b = last_trap.count;
	jmp32((uint16_t)(arg | 3), t64_ret32);
	ures.faulted = last_trap.count != b;
	ures.vector = (unsigned)last_trap.vector, ures.error = (unsigned)last_trap.error;
	return 0;
}

static uint64_t u_retf0(uint64_t arg)
{
	unsigned b = last_trap.count;
	(void)arg;
	__asm__ volatile("movq %%rsp, %%r10\n\t" TRY_PRE "pushq $0x08\n\tpushq %%r11\n\tlretq"
			 TRY_POST "\n\tmovq %%r10, %%rsp" ::: "r10", "r11", "memory");
	ures.faulted = last_trap.count != b;
	ures.vector = (unsigned)last_trap.vector, ures.error = (unsigned)last_trap.error;
	return 0;
}

static const char *ufault(void)
{
	return fault_str(ures.faulted, ures.vector, ures.error);
}

static void check_cpl3(void)
{
	uint64_t rsp0 = tss_rsp0();

	g_cs = g_ss = 0xffff, g_rsp = 0;
	user_call(u_call, S_GATE3);
	printf("cpl3 call gate dpl3: %s, cs 0x%x, ss 0x%x, rsp %s\n", ufault(), g_cs, g_ss,
	       g_rsp == rsp0 - 32 ? "tss rsp0 - 32" : "wrong");
	printf("cpl3 call gate frame: cs 0x%lx, ss 0x%lx, rip %s, rsp %s\n", g_frame[1],
	       g_frame[3], g_frame[0] == g_ret ? "ok" : "wrong", g_frame[2] == g_s0 ? "ok" : "wrong");
	printf("cpl3 back from the gate: rsp %s\n", ures.drsp == 0 ? "ok" : "wrong");
	user_call(u_call, S_GATE0);
	printf("cpl3 call gate dpl0: %s\n", ufault());
	user_call(u_call, S_GATENP);
	printf("cpl3 call not-present gate: %s\n", ufault());
	user_call(u_call, S_GATE32);
	printf("cpl3 call gate to 32-bit code: %s\n", ufault());
	user_call(u_jmp, S_GATE3);
	printf("cpl3 jmp gate to dpl0 code: %s\n", ufault());
	g_cs = 0;
	user_call(u_call, S_GATEC);
	printf("cpl3 call gate to conforming code: %s, cs 0x%x, rsp back %s\n", ufault(), g_cs,
	       ures.drsp == 0 ? "ok" : "wrong");
	g_cs = 0;
	user_call(u_call, S_CONF);
	printf("cpl3 call conforming code: %s, cs 0x%x\n", ufault(), g_cs);
	user_call(u_call, SEL_CODE64);
	printf("cpl3 call dpl0 code: %s\n", ufault());
	g_cs = 0, g_rax = 7;
	user_call(u_call, S_UCODE32);
	printf("cpl3 call 32-bit code: %s, cs 0x%x, eax after 0x48 %lu\n", ufault(), g_cs, g_rax);
	g_cs = g_cs32 = 0, g_frame[1] = 0;
	user_call(u_call, 1u << 16 | S_UCODE32);
	printf("cpl3 32-bit code through the gate: %s, gate cs 0x%x, frame cs 0x%lx, back in cs 0x%x, "
	       "rsp back %s\n", ufault(), g_cs, g_frame[1], g_cs32, ures.drsp == 0 ? "ok" : "wrong");
	user_call(u_retf0, 0);
	printf("cpl3 lretq to cpl0: %s\n", ufault());
}

int main(void)
{
	native_or_exit("farcall");
	gdt_build();
	check_cpl0_gate();
	check_cpl3();
	puts("farcall: done");
	return 0;
}
