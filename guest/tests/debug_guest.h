/* What the debug-register programs share: DR access, a #DB handler that
 * records each exception (RIP, DR6, RFLAGS, CPL) and then clears DR6 and
 * TF or sets RF as the test asks, and printing RIPs relative to a label. */
#ifndef GUEST_TESTS_DEBUG_GUEST_H
#define GUEST_TESTS_DEBUG_GUEST_H

#include "lib.h"

#define DR_GET(n) ({ uint64_t v_; __asm__ volatile("mov %%dr" #n ", %0" : "=r"(v_)); v_; })
#define DR_SET(n, v) __asm__ volatile("mov %0, %%dr" #n :: "r"((uint64_t)(v)) : "memory")

#define RF (1ull << 16)
#define TF (1ull << 8)
#define DR6_INIT 0xffff0ff0ull
#define DR7_INIT 0x400ull
/* DR7 for breakpoint n: L(n) enabled, R/W and LEN fields. */
#define DR7_BP(n, rw, len) ((1ull << (2 * (n))) | ((uint64_t)(rw) << (16 + 4 * (n))) | \
			    ((uint64_t)(len) << (18 + 4 * (n))))
enum { RW_EXEC = 0, RW_WRITE = 1, RW_IO = 2, RW_RDWR = 3 };
enum { LEN1 = 0, LEN2 = 1, LEN8 = 2, LEN4 = 3 };

struct db_rec { uint64_t rip, dr6, rflags, cs, dr7, rcx; };
#define DB_MAX 16
static struct db_rec dbr[DB_MAX];
static volatile unsigned ndb;
static volatile bool db_keep_dr6;   /* leave DR6 as the CPU set it */
static volatile bool db_set_rf;     /* resume with RF (past an instruction breakpoint) */
static volatile uint64_t db_stop;   /* clear TF when the trap lands here */

static void db_handler(struct trap_frame *f)
{
	if (ndb < DB_MAX)
		dbr[ndb] = (struct db_rec){ f->rip, DR_GET(6), f->rflags, f->cs, DR_GET(7), f->rcx };
	if (!db_keep_dr6)
		DR_SET(6, DR6_INIT);
	if (db_set_rf)
		f->rflags |= RF;
	/* Bounded: a runaway single-step stops after DB_MAX traps. */
	if (f->rip == db_stop || ndb + 1 >= DB_MAX) {
		f->rflags &= ~TF;
		DR_SET(7, DR7_INIT);
	}
	ndb++;
}

static void db_start(void)
{
	idt_set_handler(1, db_handler);
	ndb = 0;
	db_keep_dr6 = db_set_rf = false;
	db_stop = 0;
}

/* One line per #DB: where (relative to base), DR6 and the frame's RF/TF/CPL. */
static void db_print(const char *what, const void *base)
{
	printf("%s: %u #DB\n", what, ndb);
	for (unsigned i = 0; i < ndb && i < DB_MAX; i++) {
		const struct db_rec *r = &dbr[i];
		printf("  at +%ld dr6 %lx rf %lu tf %lu cpl %lu\n", (long)(r->rip - (uint64_t)base),
		       r->dr6, r->rflags >> 16 & 1, r->rflags >> 8 & 1, r->cs & 3);
	}
	ndb = 0;
}

#endif
