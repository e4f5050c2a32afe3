/* ACPI tables: RSDP, XSDT, FADT (poweroff and reset), DSDT, MADT, MCFG. */
#ifndef VMON_MACHINE_ACPI_H
#define VMON_MACHINE_ACPI_H

#include <stdint.h>

struct machine;

/* I/O ports of the ACPI fixed hardware (src/dev/acpi_pm.c). */
#define ACPI_PM1_EVT   0x600  /* PM1a event block, 4 bytes */
#define ACPI_PM1_CNT   0x604  /* PM1a control block, 2 bytes */
#define ACPI_PM_TMR    0x608  /* PM timer, 4 bytes, 3.579545 MHz */
#define ACPI_RESET     0xcf9  /* reset register, value ACPI_RESET_VALUE */
#define ACPI_RESET_VALUE 0x06
#define ACPI_SCI_IRQ   9
#define ACPI_S5_TYPE   5      /* SLP_TYP of \_S5 in the DSDT */

/* Writes the tables into the BIOS area of guest RAM and sets m->rsdp. */
int acpi_build(struct machine *m);

#endif
