/* Benchmark: boot, one line, exit (vmon status 1). */
#include "lib.h"

int main(void)
{
	puts("hello");
	return 0;
}
