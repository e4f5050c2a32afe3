/* PCI bus 0 behind the host bridge: configuration space through mechanism 1
 * (0xcf8/0xcfc) and ECAM (MEMMAP_ECAM), and the API that PCI devices use.
 *
 * A device fills a struct pci_function (pci_function_init, pci_set_bar,
 * pci_add_capability, pci_set_interrupt_pin), then pci_add_function() puts
 * it at a device/function number. From then on the guest owns its
 * configuration space through the write masks; BARs appear on the bus when
 * the guest gives them an address and enables decoding in the command
 * register, and move or disappear when it changes them. */
#ifndef VMON_DEV_PCI_H
#define VMON_DEV_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/bus.h"

struct machine;
struct pci_host;

#define PCI_CFG_SIZE      4096  /* with the PCI Express extended space */
#define PCI_CFG_LEGACY    256   /* what mechanism 1 reaches */
#define PCI_NUM_BARS      6
#define PCI_DEVFN(dev, fn) ((unsigned)(dev) << 3 | (unsigned)(fn))
#define PCI_MAX_DEVFN     256

/* Configuration header offsets (type 0). */
#define PCI_VENDOR_ID       0x00
#define PCI_DEVICE_ID       0x02
#define PCI_COMMAND         0x04
#define PCI_STATUS          0x06
#define PCI_REVISION_ID     0x08
#define PCI_CLASS_PROG      0x09
#define PCI_HEADER_TYPE     0x0e
#define PCI_BAR0            0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID    0x2e
#define PCI_ROM_ADDRESS     0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE  0x3c
#define PCI_INTERRUPT_PIN   0x3d

#define PCI_COMMAND_IO      0x0001
#define PCI_COMMAND_MEMORY  0x0002
#define PCI_COMMAND_MASTER  0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_CAP_LIST  0x0010

enum pci_bar_type {
	PCI_BAR_NONE,
	PCI_BAR_IO,       /* I/O space, size >= 4 */
	PCI_BAR_MEM32,    /* 32-bit memory, size >= 16 */
	PCI_BAR_MEM64,    /* 64-bit memory: takes this BAR and the next */
};

struct pci_bar {
	enum pci_bar_type type;
	bool prefetchable;
	uint64_t size;                /* a power of two */
	const struct bus_ops *ops;    /* accesses to the BAR, offsets from its base */
	void *opaque;
	/* Where the BAR is on the bus now (valid when mapped). */
	bool mapped;
	uint64_t mapped_addr;
};

struct pci_function {
	/* Guest-visible state: the configuration space image, plain data. */
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t irq_level;            /* the device's INTx output */

	/* Set up by the device model before pci_add_function. */
	uint8_t wmask[PCI_CFG_SIZE];  /* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SIZE];/* bits the guest clears by writing 1 */
	struct pci_bar bars[PCI_NUM_BARS];
	/* Optional: called after the guest wrote [off, off + len) of the
	 * configuration space (with the bus's configuration lock held), so the
	 * device can react (MSI-X enable, ...). */
	void (*config_written)(struct pci_function *f, unsigned off, unsigned len);
	void *opaque;                 /* for the device model */

	/* Filled by pci_add_function. */
	struct machine *m;
	struct pci_host *host;
	unsigned devfn;
	unsigned gsi;                 /* where INTx goes */
	unsigned next_cap;            /* where pci_add_capability puts the next one */
};

/* PCI interrupt routing, shared by the host bridge and the ACPI _PRT:
 * INTx of slot s, pin p (1..4 = INTA..INTD) reaches GSI
 * pci_intx_gsi[(s + p - 1) & 3], ISA interrupts no legacy device uses
 * (SeaBIOS's choice for QEMU). The lines are shared, level-triggered and
 * active-low: a _PRT entry without a link device says so (ACPI 6.4,
 * 6.2.13), and the MADT repeats it for those ISA IRQs. Levels given to
 * machine_set_irq are logical (1: asserted), as KVM's IOAPIC takes them. */
#define PCI_INTX_TRIGGER_FLAGS 0xf  /* MPS INTI flags: active-low, level */
extern const uint8_t pci_intx_gsi[4];

/* Starts a type 0 header: ids, class (base << 16 | sub << 8 | prog-if),
 * revision; a writable command register and the interrupt line. */
void pci_function_init(struct pci_function *f, uint16_t vendor, uint16_t device,
		       uint32_t class_code, uint8_t revision);
/* Declares BAR n (n + 1 too for PCI_BAR_MEM64). -EINVAL for a bad index,
 * type or size (not a power of two, too small, MEM32 or IO too big). */
int pci_set_bar(struct pci_function *f, unsigned n, enum pci_bar_type type, uint64_t size,
		bool prefetchable, const struct bus_ops *ops, void *opaque);
/* Adds a capability of len bytes (id, next pointer and len - 2 bytes of
 * body, read-only unless the caller opens wmask) to the capabilities list.
 * Returns its offset in the configuration space, or -ENOSPC. */
int pci_add_capability(struct pci_function *f, uint8_t id, unsigned len);
/* INTA..INTD = 1..4; 0 for none. */
void pci_set_interrupt_pin(struct pci_function *f, uint8_t pin);

/* Puts f at devfn on bus 0 (the host bridge is 00:00.0). f must stay alive
 * until the machine is destroyed. -EINVAL for a bad devfn, -EEXIST when
 * taken, -ENODEV before pci_init. */
int pci_add_function(struct machine *m, struct pci_function *f, unsigned devfn);

/* The level of f's INTx line (shared lines are wired-OR). The command
 * register's interrupt disable bit masks it; the status register shows it. */
void pci_set_irq(struct pci_function *f, int level);

/* Snapshot load: the guest-writable bits of cfg (read-only ids and
 * capabilities stay the device model's), the INTx level; BARs go where
 * the image says. */
void pci_function_load(struct pci_function *f, const uint8_t *cfg, uint8_t irq_level);

#endif
