/* A hand-made struct machine for device unit tests: a bus, a fake
 * accelerator that records interrupt line levels, a fake console. */
#ifndef VMON_TESTS_FAKE_MACHINE_H
#define VMON_TESTS_FAKE_MACHINE_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "char/chardev.h"
#include "dev/bus.h"
#include "machine/machine.h"

#define FAKE_GSIS 24

struct fake_vm {
	atomic_int level[FAKE_GSIS];
	atomic_int raises[FAKE_GSIS];  /* low-to-high transitions */
};

struct fake_console {
	struct chardev c;
	uint8_t out[8192];
	size_t len;
};

static struct fake_vm fake_vm;

static int fake_vm_set_irq(struct accel_vm *vm, unsigned gsi, int level)
{
	struct fake_vm *f = (struct fake_vm *)vm;

	if (gsi >= FAKE_GSIS)
		return -1;
	if (level && !atomic_load(&f->level[gsi]))
		atomic_fetch_add(&f->raises[gsi], 1);
	atomic_store(&f->level[gsi], level);
	return 0;
}

static const struct accel_ops fake_accel = {
	.name = "fake",
	.vm_set_irq = fake_vm_set_irq,
};

static void fake_console_write(struct chardev *c, const uint8_t *buf, size_t len)
{
	struct fake_console *f = (struct fake_console *)c;

	for (size_t i = 0; i < len && f->len < sizeof(f->out); i++)
		f->out[f->len++] = buf[i];
}

static inline void fake_machine_init(struct machine *m)
{
	memset(m, 0, sizeof(*m));
	memset(&fake_vm, 0, sizeof(fake_vm));
	bus_init(&m->bus);
	pthread_mutex_init(&m->exit_lock, NULL);
	pthread_cond_init(&m->exit_cond, NULL);
	m->accel = &fake_accel;
	m->vm = (struct accel_vm *)&fake_vm;
}

static inline void fake_console_attach(struct machine *m, struct fake_console *c)
{
	memset(c, 0, sizeof(*c));
	c->c.write = fake_console_write;
	m->console = &c->c;
}

static inline void fake_machine_destroy(struct machine *m)
{
	for (unsigned i = m->ndevices; i-- > 0;)
		if (m->devices[i].destroy)
			m->devices[i].destroy(m->devices[i].state);
	bus_destroy(&m->bus);
	pthread_mutex_destroy(&m->exit_lock);
	pthread_cond_destroy(&m->exit_cond);
}

static inline uint64_t io_in(struct machine *m, uint64_t port, unsigned size)
{
	uint64_t v = 0;

	bus_access(&m->bus, BUS_PIO, port, size, false, &v);
	return v;
}

static inline void io_out(struct machine *m, uint64_t port, unsigned size, uint64_t v)
{
	bus_access(&m->bus, BUS_PIO, port, size, true, &v);
}

static inline uint64_t mmio_rd(struct machine *m, uint64_t addr, unsigned size)
{
	uint64_t v = 0;

	bus_access(&m->bus, BUS_MMIO, addr, size, false, &v);
	return v;
}

static inline void mmio_wr(struct machine *m, uint64_t addr, unsigned size, uint64_t v)
{
	bus_access(&m->bus, BUS_MMIO, addr, size, true, &v);
}

static inline int irq_level(unsigned gsi)
{
	return atomic_load(&fake_vm.level[gsi]);
}

#endif
