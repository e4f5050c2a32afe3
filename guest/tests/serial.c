/* The console: hello world and every printf format the kit knows. */
#include "lib.h"

int main(void)
{
	puts("hello, world");
	printf("%%s: [%s] [%8s] [%s]\n", "vmon", "right", "");
	printf("%%d: %d %d %d %5d %05d %d\n", 0, 42, -42, -7, -7, 2147483647);
	printf("%%d min: %d\n", (int)0x80000000);
	printf("%%u: %u %u\n", 0u, 4294967295u);
	printf("%%x: %x %08x %x\n", 0xdeadbeefu, 0x2au, 0u);
	printf("%%lx: %lx %016lx\n", 0x123456789abcdef0ul, 0xfful);
	printf("%%ld %%lu: %ld %lu\n", -9223372036854775807l - 1, 18446744073709551615ul);
	printf("%%c: %c%c%c\n", 'v', 'm', 'n');
	printf("%%p: %p\n", (void *)0x1000);
	printf("%%%%: 100%%\n");
	putchar('o');
	putchar('k');
	putchar('\n');
	return 0;
}
