/* Unit tests: the rate limiters' token bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/token_bucket.h"

#define S 1000000000ULL

static void test_unlimited(void **state)
{
	struct token_bucket b;

	(void)state;
	token_bucket_init(&b, 0, 0, 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(token_bucket_wait(&b, 1 << 20, 0), 0);
		token_bucket_take(&b, 1 << 20);
	}
}

/* Over 10 simulated seconds, taking whenever allowed gives rate +- a bucket. */
static void test_rate(void **state)
{
	struct token_bucket b;
	uint64_t now = 0, got = 0, w;

	(void)state;
	token_bucket_init(&b, 1000000, 0, 0);
	while (now < 10 * S) {
		if ((w = token_bucket_wait(&b, 65536, now))) {
			now += w;
			continue;
		}
		token_bucket_take(&b, 65536);
		got += 65536;
	}
	assert_in_range(got, 10000000 - 65536, 10000000 + 100000 + 65536);
}

static void test_wait_time(void **state)
{
	struct token_bucket b;

	(void)state;
	token_bucket_init(&b, 1000, 0, 0); /* size 100 */
	assert_int_equal(token_bucket_wait(&b, 300, 0), 0);
	token_bucket_take(&b, 300);        /* budget -200: a large request runs into debt */
	/* 201 tokens at 1000/s: 201 ms */
	assert_int_equal(token_bucket_wait(&b, 1, 0), 201000000);
	assert_int_not_equal(token_bucket_wait(&b, 1, 200000000), 0);
	assert_int_equal(token_bucket_wait(&b, 1, 201000000), 0);
}

static void test_idle_caps_budget(void **state)
{
	struct token_bucket b;

	(void)state;
	token_bucket_init(&b, 1000, 0, 0);
	/* an hour idle banks a tenth of a second, not an hour */
	assert_int_equal(token_bucket_wait(&b, 100, 3600 * S), 0);
	token_bucket_take(&b, 100);
	assert_int_not_equal(token_bucket_wait(&b, 1, 3600 * S), 0);
}

static void test_burst(void **state)
{
	struct token_bucket b;

	(void)state;
	token_bucket_init(&b, 1000, 5000, 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(token_bucket_wait(&b, 1000, 0), 0);
		token_bucket_take(&b, 1000);
	}
	assert_int_equal(b.burst, 0);
	assert_int_equal(b.budget, 100); /* the burst was spent first */
	assert_int_equal(token_bucket_wait(&b, 1000, 0), 0);
	token_bucket_take(&b, 1000);
	assert_int_not_equal(token_bucket_wait(&b, 1, 0), 0);
}

static void test_fractions_not_lost(void **state)
{
	struct token_bucket b;
	uint64_t now = 0;

	(void)state;
	token_bucket_init(&b, 3, 0, 0); /* size 1 */
	token_bucket_take(&b, 1);
	/* refills asked for every 1 ns still add a token after 1/3 s */
	for (now = 1; now < S / 3 + 1; now += 1000)
		(void)token_bucket_wait(&b, 1, now);
	assert_int_equal(token_bucket_wait(&b, 1, S / 3 + 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_wait_time),
		cmocka_unit_test(test_idle_caps_budget),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_fractions_not_lost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
