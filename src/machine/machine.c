#include "machine/machine.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "char/chardev.h"
#include "dev/devices.h"
#include "block/disk_opts.h"
#include "dev/virtio/virtio_blk.h"
#include "dev/virtio/virtio_devices.h"
#include "dev/virtio/virtio_net.h"
#include "net/net_opts.h"
#include "machine/acpi.h"
#include "machine/memmap.h"
#include "machine/snapshot.h"
#include "dev/serial.h"
#include "util/iothread.h"
#include "util/log.h"

/* The devices of the machine, in the order they are created. */
static int (*const machine_devices[])(struct machine *) = {
	serial_init, i8042_init, rtc_init, pci_init, debug_exit_init,
	fw_cfg_init, acpi_pm_init,
};

int machine_add_device(struct machine *m, const char *name, void *state,
		       void (*destroy)(void *state))
{
	if (m->ndevices == MACHINE_MAX_DEVICES)
		return -ENOSPC;
	m->devices[m->ndevices++] = (struct machine_device){ name, state, destroy, NULL };
	return 0;
}

int machine_add_section(struct machine *m, void *state, const struct machine_section *sec)
{
	for (unsigned i = m->ndevices; i-- > 0;)
		if (m->devices[i].state == state) {
			m->devices[i].section = sec;
			return 0;
		}
	return -ENOENT;
}

void *machine_device(struct machine *m, const char *name)
{
	for (unsigned i = 0; i < m->ndevices; i++)
		if (!strcmp(m->devices[i].name, name))
			return m->devices[i].state;
	return NULL;
}

static int machine_map_ram(struct machine *m)
{
	int r = m->accel->vm_map_ram(m->vm, 0, m->mem.host, m->mem.low_size);

	if (!r && m->mem.size > m->mem.low_size)
		r = m->accel->vm_map_ram(m->vm, MEMMAP_HIGH_RAM, m->mem.host + m->mem.low_size,
					 m->mem.size - m->mem.low_size);
	return r;
}

static int machine_create_vcpus(struct machine *m)
{
	struct cpu_state ap;
	int r;

	for (unsigned i = 0; i < m->ncpus; i++) {
		struct machine_vcpu *v = &m->vcpus[i];
		v->m = m;
		v->index = i;
		r = m->accel->vcpu_create(m->vm, i, &v->acc);
		if (r)
			return r;
		if (i == 0 && !m->cfg.mem_file) {
			r = m->accel->vcpu_set_state(v->acc, &m->boot_state);
		} else {
			/* A restore's state comes from the snapshot later. */
			cpu_state_reset(&ap);
			ap.mp_state = i ? CPU_MP_UNINITIALIZED : CPU_MP_RUNNABLE;
			r = m->accel->vcpu_set_state(v->acc, &ap);
		}
		if (r)
			return r;
	}
	return 0;
}

int machine_create(struct machine *m, const struct machine_config *cfg)
{
	const char *why = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->accel = cfg->accel;
	m->ncpus = cfg->ncpus;
	pthread_mutex_init(&m->exit_lock, NULL);
	pthread_cond_init(&m->exit_cond, NULL);
	machine_pause_init(m);

	r = cfg->mem_file ? gmem_init_file(&m->mem, cfg->mem_size, cfg->mem_file)
			  : gmem_init(&m->mem, cfg->mem_size);
	if (r) {
		log_error("cannot allocate %" PRIu64 " MiB of guest RAM: %s",
			  cfg->mem_size >> 20, strerror(-r));
		return VMON_EXIT_HOST;
	}
	if ((r = bus_init(&m->bus)) || (r = iothread_start())) {
		log_error("cannot start: %s", strerror(-r));
		return VMON_EXIT_HOST;
	}
	/* A restored guest has its tables and kernel in the memory file. */
	if (!cfg->mem_file && (r = acpi_build(m))) {
		log_error("cannot build the ACPI tables: %s", strerror(-r));
		return VMON_EXIT_HOST;
	}
	if (!cfg->mem_file && boot_load(m))
		return VMON_EXIT_USAGE;
	/* Input is checked before the host is asked for anything. */
	if ((r = m->accel->probe(&why))) {
		log_error("accelerator %s is not available: %s", m->accel->name, why);
		return VMON_EXIT_HOST;
	}
	if ((r = m->accel->vm_create(m, &m->vm)) || (r = machine_map_ram(m))) {
		log_error("%s: cannot create the VM: %s", m->accel->name, strerror(-r));
		return VMON_EXIT_HOST;
	}
	for (size_t i = 0; i < sizeof(machine_devices) / sizeof(machine_devices[0]); i++) {
		if ((r = machine_devices[i](m))) {
			log_error("cannot create a device: %s", strerror(-r));
			return VMON_EXIT_HOST;
		}
	}
	if ((r = machine_create_vcpus(m))) {
		log_error("%s: cannot create the vCPUs: %s", m->accel->name, strerror(-r));
		return VMON_EXIT_HOST;
	}
	/* Devices the command line asked for, on PCI after the fixed ones;
	 * late, as they may create files (--vconsole file:PATH). */
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		const char *why;
		if ((r = virtio_blk_create(m, &cfg->disks[i], &why))) {
			log_error("--disk %s: %s", cfg->disks[i].path, why ? why : strerror(-r));
			return why ? VMON_EXIT_USAGE : VMON_EXIT_HOST;
		}
	}
	for (unsigned i = 0; i < cfg->nnets; i++) {
		char err[160];
		if ((r = virtio_net_create(m, &cfg->nets[i], i, err, sizeof(err)))) {
			log_error("--net: %s", err[0] ? err : strerror(-r));
			return err[0] ? VMON_EXIT_USAGE : VMON_EXIT_HOST;
		}
	}
	if (cfg->rng && (r = virtio_rng_init(m))) {
		log_error("cannot create the virtio-rng device: %s", strerror(-r));
		return VMON_EXIT_HOST;
	}
	if (cfg->vconsole && (r = virtio_console_init(m, cfg->vconsole))) {
		log_error("--vconsole %s: %s", cfg->vconsole,
			  r == -EINVAL ? "expected stdio, none or file:PATH" : strerror(-r));
		return VMON_EXIT_USAGE;
	}
	/* Last: a console file is created only once everything else is right. */
	if ((r = chardev_open(cfg->console, m, m->console_rx, m->console_rx_opaque,
			      &m->console))) {
		log_error("--console %s: %s", cfg->console,
			  r == -EINVAL ? "expected stdio, none or file:PATH" : strerror(-r));
		return VMON_EXIT_USAGE;
	}
	return 0;
}

void machine_request_exit(struct machine *m, int status)
{
	pthread_mutex_lock(&m->exit_lock);
	if (!atomic_load(&m->stopping)) {
		m->exit_status = status;
		atomic_store(&m->stopping, true);
		pthread_cond_broadcast(&m->exit_cond);
	}
	pthread_mutex_unlock(&m->exit_lock);
	machine_pause_wake(m);
	for (unsigned i = 0; i < m->ncpus; i++)
		if (m->vcpus[i].acc)
			m->accel->vcpu_kick(m->vcpus[i].acc);
}

int machine_set_irq(struct machine *m, unsigned gsi, int level)
{
	return m->accel->vm_set_irq(m->vm, gsi, level);
}

int machine_send_msi(struct machine *m, uint64_t addr, uint32_t data)
{
	return m->accel->vm_send_msi(m->vm, addr, data);
}

void machine_dump_vcpu(struct machine *m, unsigned index)
{
	static const char *const names[CPU_COUNT] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	struct cpu_state s;

	if (m->accel->vcpu_get_state(m->vcpus[index].acc, &s))
		return;
	fprintf(stderr, "vCPU %u: rip %016" PRIx64 " rflags %08" PRIx64 " cs %04x ss %04x\n",
		index, s.rip, s.rflags, s.seg[SEG_CS].selector, s.seg[SEG_SS].selector);
	for (int i = 0; i < CPU_COUNT; i++)
		fprintf(stderr, "  %-3s %016" PRIx64 "%s", names[i], s.gpr[i], i % 4 == 3 ? "\n" : "");
	fprintf(stderr, "  cr0 %016" PRIx64 " cr2 %016" PRIx64 " cr3 %016" PRIx64
		" cr4 %016" PRIx64 " efer %" PRIx64 "\n", s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
}

static void machine_io(struct machine *m, const struct vcpu_exit *e)
{
	unsigned size = e->io.size;

	for (uint32_t i = 0; i < e->io.count; i++) {
		uint64_t val = 0;
		uint8_t *p = e->io.data + (size_t)i * size;
		if (e->io.write)
			memcpy(&val, p, size);
		bus_access(&m->bus, BUS_PIO, e->io.port, size, e->io.write, &val);
		if (!e->io.write)
			memcpy(p, &val, size);
	}
}

static void machine_mmio(struct machine *m, const struct vcpu_exit *e)
{
	uint64_t val = 0;
	unsigned len = e->mmio.len;

	if (len == 0 || len > 8)
		return;
	if (e->mmio.write)
		memcpy(&val, e->mmio.data, len);
	bus_access(&m->bus, BUS_MMIO, e->mmio.addr, len, e->mmio.write, &val);
	if (!e->mmio.write)
		memcpy(e->mmio.data, &val, len);
}

/* Handles one exit; false when the vCPU should stop running. */
static bool machine_exit(struct machine_vcpu *v, struct vcpu_exit *e)
{
	struct machine *m = v->m;

	if ((unsigned)e->reason <= VCPU_EXIT_INTERNAL_ERROR)
		atomic_fetch_add_explicit(&m->exit_count[e->reason], 1, memory_order_relaxed);
	switch (e->reason) {
	case VCPU_EXIT_NONE:
		return true;
	case VCPU_EXIT_IO:
		machine_io(m, e);
		return true;
	case VCPU_EXIT_MMIO:
		machine_mmio(m, e);
		return true;
	case VCPU_EXIT_HLT:
		/* Interrupts off and halted: only this vCPU is done. When every
		 * vCPU is, nothing can ever run again. */
		if (atomic_fetch_add(&m->halted, 1) + 1 == m->ncpus) {
			log_error("guest halted with interrupts disabled on every vCPU");
			machine_request_exit(m, VMON_EXIT_INTERNAL);
		}
		return false;
	case VCPU_EXIT_SHUTDOWN:
		log_error("guest triple fault on vCPU %u", v->index);
		machine_dump_vcpu(m, v->index);
		machine_request_exit(m, VMON_EXIT_TRIPLE_FAULT);
		return false;
	case VCPU_EXIT_SYSTEM_RESET:
		machine_request_exit(m, VMON_EXIT_RESET);
		return false;
	case VCPU_EXIT_SYSTEM_OFF:
		machine_request_exit(m, VMON_EXIT_POWEROFF);
		return false;
	case VCPU_EXIT_FAIL_ENTRY:
	case VCPU_EXIT_INTERNAL_ERROR:
		log_error("%s: vCPU %u: %s (code 0x%" PRIx64 ")", m->accel->name, v->index,
			  e->error.what, e->error.code);
		machine_dump_vcpu(m, v->index);
		machine_request_exit(m, VMON_EXIT_INTERNAL);
		return false;
	}
	return true;
}

static void *machine_vcpu_thread(void *arg)
{
	struct machine_vcpu *v = arg;
	struct machine *m = v->m;
	struct vcpu_exit e = { .reason = VCPU_EXIT_NONE };

	if (m->cfg.vcpu_thread_start && m->cfg.vcpu_thread_start()) {
		machine_request_exit(m, VMON_EXIT_HOST);
		machine_pause_vcpu_gone(m);
		return NULL;
	}
	while (!atomic_load(&m->stopping)) {
		if (atomic_load(&m->pause_req)) {
			machine_pause_point(v, &e);
			continue;
		}
		int r = m->accel->vcpu_run(v->acc, &e);
		if (r) {
			log_error("%s: vCPU %u: %s", m->accel->name, v->index, strerror(-r));
			machine_request_exit(m, VMON_EXIT_HOST);
			break;
		}
		if (!machine_exit(v, &e))
			break;
		if (m->snap_after && e.reason == VCPU_EXIT_IO && e.io.write &&
		    e.io.port == SERIAL_PORT && ++m->snap_writes == m->snap_after) {
			snapshot_test_hook(v);
			break;
		}
	}
	machine_pause_vcpu_gone(m);
	return NULL;
}

int machine_run(struct machine *m)
{
	for (unsigned i = 0; i < m->ncpus; i++) {
		int r = pthread_create(&m->vcpus[i].thread, NULL, machine_vcpu_thread, &m->vcpus[i]);
		if (r) {
			log_error("cannot start vCPU %u: %s", i, strerror(r));
			machine_request_exit(m, VMON_EXIT_HOST);
			break;
		}
		m->vcpus[i].started = true;
	}
	pthread_mutex_lock(&m->exit_lock);
	while (!atomic_load(&m->stopping))
		pthread_cond_wait(&m->exit_cond, &m->exit_lock);
	pthread_mutex_unlock(&m->exit_lock);
	/* Kick again: a vCPU may have entered the guest after the first kick. */
	for (unsigned i = 0; i < m->ncpus; i++) {
		if (!m->vcpus[i].started)
			continue;
		m->accel->vcpu_kick(m->vcpus[i].acc);
		pthread_join(m->vcpus[i].thread, NULL);
	}
	return m->exit_status;
}

void machine_destroy(struct machine *m)
{
	iothread_stop();
	for (unsigned i = 0; i < m->ncpus; i++)
		if (m->vcpus[i].acc)
			m->accel->vcpu_destroy(m->vcpus[i].acc);
	/* Devices first: the serial port writes out what it still buffers. */
	for (unsigned i = m->ndevices; i-- > 0;)
		if (m->devices[i].destroy)
			m->devices[i].destroy(m->devices[i].state);
	if (m->console && m->console->close)
		m->console->close(m->console);
	if (m->vm)
		m->accel->vm_destroy(m->vm);
	gmem_destroy(&m->mem);
	bus_destroy(&m->bus);
}
