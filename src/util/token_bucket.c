#include "util/token_bucket.h"

#define TB_NS 1000000000ULL

void token_bucket_init(struct token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
	b->rate = rate;
	b->size = rate / 10 ? (int64_t)(rate / 10) : 1;
	b->budget = b->size;
	b->burst = burst;
	b->last_ns = now_ns;
}

static void token_bucket_refill(struct token_bucket *b, uint64_t now_ns)
{
	unsigned __int128 add;

	if (now_ns <= b->last_ns)
		return;
	add = (unsigned __int128)(now_ns - b->last_ns) * b->rate / TB_NS;
	if (!add)
		return; /* keep last_ns: the fraction is not lost */
	if (add >= (unsigned __int128)(b->size - b->budget)) {
		b->budget = b->size;
		b->last_ns = now_ns;
	} else {
		b->budget += (int64_t)add;
		b->last_ns += (uint64_t)(add * TB_NS / b->rate);
	}
}

uint64_t token_bucket_wait(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
	if (!b->rate || b->burst >= n)
		return 0;
	token_bucket_refill(b, now_ns);
	if (b->budget > 0)
		return 0;
	/* until the budget is one token above zero */
	return (uint64_t)(((unsigned __int128)(1 - b->budget) * TB_NS + b->rate - 1) / b->rate);
}

void token_bucket_take(struct token_bucket *b, uint64_t n)
{
	if (!b->rate)
		return;
	if (b->burst >= n) {
		b->burst -= n;
		return;
	}
	b->budget -= (int64_t)n;
}
