/* The devices of the vmon PC. Each init registers its device on the bus and
 * with the machine; machine.c lists them once. */
#ifndef VMON_DEV_DEVICES_H
#define VMON_DEV_DEVICES_H

struct machine;

int serial_init(struct machine *m);     /* 16550A COM1, 0x3f8, IRQ 4 */
int i8042_init(struct machine *m);      /* keyboard controller: reset line, port 0x60/0x64 */
int rtc_init(struct machine *m);        /* MC146818 CMOS/RTC, 0x70/0x71, IRQ 8 */
int pci_init(struct machine *m);        /* host bridge: 0xcf8/0xcfc and ECAM */
int debug_exit_init(struct machine *m); /* isa-debug-exit, 0xf4 */
int fw_cfg_init(struct machine *m);     /* QEMU fw_cfg, 0x510/0x511 */
int acpi_pm_init(struct machine *m);    /* ACPI PM1 blocks, PM timer, reset 0xcf9 */
/* Presses the fixed-feature power button: PWRBTN_STS, and the SCI if the
 * guest enabled it. -ENODEV without the device. */
int acpi_pm_power_button(struct machine *m);

#endif
