/* QEMU's isa-debug-exit at port 0xf4: a write of v ends vmon with status
 * (v << 1) | 1. QEMU passes that to exit(), whose status the OS truncates to
 * 8 bits; vmon truncates it itself so that m->exit_status is what the shell
 * sees: only the low 7 bits of v matter. Any write of 1, 2 or 4 bytes in
 * 0xf4..0xf7 counts, as in QEMU with iosize 4; reads return 0. */
#include <errno.h>
#include <stdlib.h>

#include "dev/devices.h"
#include "machine/machine.h"

#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_LEN  4

/* No guest-visible state: the device only ends the machine. */
struct debug_exit {
	struct machine *m;
};

static uint64_t debug_exit_read(void *opaque, uint64_t off, unsigned size)
{
	(void)opaque, (void)off, (void)size;
	return 0;
}

static void debug_exit_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct debug_exit *d = opaque;

	(void)off;
	if (size < 8)
		val &= (1ULL << (8 * size)) - 1;
	/* machine_request_exit is thread-safe: the first request wins. */
	machine_request_exit(d->m, (int)(((val << 1) | 1) & 0xff));
}

static const struct bus_ops debug_exit_ops = { debug_exit_read, debug_exit_write };

int debug_exit_init(struct machine *m)
{
	struct debug_exit *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->m = m;
	r = bus_register(&m->bus, BUS_PIO, DEBUG_EXIT_PORT, DEBUG_EXIT_LEN, &debug_exit_ops, d);
	if (r) {
		free(d);
		return r;
	}
	r = machine_add_device(m, "debug-exit", d, free);
	if (r) {
		bus_unregister(&m->bus, BUS_PIO, DEBUG_EXIT_PORT);
		free(d);
	}
	return r;
}
