/* Console input: echoes what arrives on COM1 until it reads 'q', then exits
 * with 0x11 (vmon status 35). Driven through a pty by tests/e2e/15-console.sh;
 * it waits for input without a bound, so it is not part of the suite. */
#include "lib.h"

int main(void)
{
	puts("echo: ready");
	for (;;) {
		int c;
		while (!(inb(0x3fd) & 1)) /* LSR.DR */
			pause();
		c = inb(0x3f8);
		if (c == 'q') {
			puts("echo: bye");
			exit(0x11);
		}
		putchar(c == '\r' ? '\n' : c);
	}
}
