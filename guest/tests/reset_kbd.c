/* Reset through the i8042 keyboard controller (0xfe to port 0x64): the
 * monitor ends with status 4. */
#include "lib.h"

int main(void)
{
	struct deadline d;
	deadline_set(&d, 100000);
	while (inb(0x64) & 2)   /* input buffer full */
		if (deadline_passed(&d)) {
			puts("i8042 input buffer stays full");
			return 2;
		}
	puts("resetting");
	outb(0x64, 0xfe);
	delay_us(1000000);
	puts("still running after reset");
	return 3;
}
