/* Benchmark: a quicksort (median of three, insertion sort below 16
 * elements) of "n=COUNT" pseudo-random 32-bit ints (default 2 million) at
 * CPL3. The result is checked to be in order (exit 2 otherwise); the
 * checksum is over the sorted array. */
#include "bench.h"

static uint32_t *const a = (uint32_t *)BENCH_BUF;

static void swap(uint32_t *x, uint32_t *y)
{
	uint32_t t = *x;
	*x = *y;
	*y = t;
}

static void insertion_sort(uint32_t *v, int64_t n)
{
	for (int64_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		int64_t j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Recurses on the smaller part only: depth at most log2(n). */
static void quicksort(uint32_t *v, int64_t n)
{
	while (n > 16) {
		int64_t m = n / 2, i = 0, j = n - 1;
		if (v[m] < v[0])
			swap(&v[m], &v[0]);
		if (v[n - 1] < v[0])
			swap(&v[n - 1], &v[0]);
		if (v[n - 1] < v[m])
			swap(&v[n - 1], &v[m]);
		uint32_t p = v[m];
		for (;;) {
			while (v[i] < p)
				i++;
			while (v[j] > p)
				j--;
			if (i >= j)
				break;
			swap(&v[i++], &v[j--]);
		}
		/* [0, j] <= p <= [j + 1, n) */
		if (j + 1 < n - j - 1) {
			quicksort(v, j + 1);
			v += j + 1;
			n -= j + 1;
		} else {
			quicksort(v + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	insertion_sort(v, n);
}

static uint64_t sort_run(uint64_t n)
{
	quicksort(a, (int64_t)n);
	for (uint64_t i = 1; i < n; i++)
		if (a[i - 1] > a[i])
			return 0;
	return bench_hash(a, n * 4);
}

/* The input (an LCG's high halves), at CPL3: CPL0 code is slow on hosts
 * whose KVM emulates it. */
static uint64_t fill(uint64_t n)
{
	uint64_t x = 0x853c49e6748fea9bULL;

	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		a[i] = (uint32_t)(x >> 32);
	}
	return 0;
}

int main(void)
{
	uint64_t n = boot_param("n", 2000000), sum;

	if (n < 2 || n * 4 > BENCH_BUF_MAX)
		return 3;
	user_call(fill, n);
	puts("@start");
	sum = user_call(sort_run, n);
	printf("@end %016lx\n", sum);
	return sum ? 0 : 2;
}
