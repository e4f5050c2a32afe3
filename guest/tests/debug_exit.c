/* isa-debug-exit with a value: 0x2a makes the monitor exit with 85. */
#include "lib.h"

int main(void)
{
	puts("exiting with 0x2a");
	exit(0x2a);
}
