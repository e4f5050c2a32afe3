/* Token buckets for the rate limiters (Firecracker's model): a budget of
 * `rate` tokens a second, held to a tenth of a second's worth so a pause
 * does not bank a long burst, plus an optional one-time burst spent first. */
#ifndef VMON_UTIL_TOKEN_BUCKET_H
#define VMON_UTIL_TOKEN_BUCKET_H

#include <stdint.h>

struct token_bucket {
	uint64_t rate;      /* tokens a second; 0 = unlimited */
	int64_t size;       /* the most the budget holds */
	int64_t budget;     /* may go below 0: a request larger than size */
	uint64_t burst;     /* one-time tokens left */
	uint64_t last_ns;   /* when the budget was last refilled */
};

void token_bucket_init(struct token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns);
/* 0 when n tokens may be taken now, else the nanoseconds to wait. */
uint64_t token_bucket_wait(struct token_bucket *b, uint64_t n, uint64_t now_ns);
/* Takes n tokens (after token_bucket_wait said 0). */
void token_bucket_take(struct token_bucket *b, uint64_t n);

#endif
