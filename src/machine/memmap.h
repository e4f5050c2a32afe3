/* The guest-physical memory map of the vmon PC. */
#ifndef VMON_MACHINE_MEMMAP_H
#define VMON_MACHINE_MEMMAP_H

#define MEMMAP_LOW_RAM_MAX   0xC0000000ULL  /* RAM above 3 GiB goes above 4 GiB */
#define MEMMAP_HIGH_RAM      0x100000000ULL
#define MEMMAP_PCI_MMIO      0xC0000000ULL  /* 32-bit PCI BAR window */
#define MEMMAP_PCI_MMIO_SIZE 0x20000000ULL
#define MEMMAP_ECAM          0xE0000000ULL  /* PCI ECAM, 256 buses x 1 MiB */
#define MEMMAP_ECAM_SIZE     0x10000000ULL
#define MEMMAP_IOAPIC        0xFEC00000ULL
#define MEMMAP_LAPIC         0xFEE00000ULL
#define MEMMAP_KVM_TSS       0xFFFBD000ULL  /* 3 pages KVM needs on Intel */
#define MEMMAP_KVM_IDMAP     0xFFFBC000ULL

/* Low memory used by the boot loaders and firmware tables. */
#define MEMMAP_EBDA          0x0009FC00ULL  /* reserved up to 1 MiB */
#define MEMMAP_BIOS          0x000E0000ULL  /* ACPI tables, RSDP scan area */
#define MEMMAP_BIOS_SIZE     0x00020000ULL
#define MEMMAP_ZERO_PAGE     0x00007000ULL  /* boot_params / start_info / mbi */
#define MEMMAP_BOOT_GDT      0x00008000ULL
#define MEMMAP_BOOT_PML4     0x00009000ULL  /* + PDPT, 4 PDs: identity map 4 GiB */
#define MEMMAP_CMDLINE       0x00020000ULL
#define MEMMAP_CMDLINE_MAX   0x00010000ULL
#define MEMMAP_KERNEL        0x00100000ULL

#endif
