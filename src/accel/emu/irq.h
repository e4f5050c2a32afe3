/* The irqchip contract (dev/irqchip.h) as the emu CPU uses it.
 *
 * The interrupt controllers are written on another branch. Until that lands,
 * the references are weak so that vmon links without them: vm_create then
 * runs the CPU with no interrupt controller and says so. Once dev/irqchip*.c
 * are in the tree, delete the pragmas below (weak references would not pull
 * the irqchip out of libvmon.a). */
#ifndef VMON_ACCEL_EMU_IRQ_H
#define VMON_ACCEL_EMU_IRQ_H

#include "dev/irqchip.h"

#pragma weak irqchip_create
#pragma weak irqchip_set_irq
#pragma weak irqchip_send_msi
#pragma weak irqchip_lapic_read
#pragma weak irqchip_lapic_write
#pragma weak irqchip_msr_read
#pragma weak irqchip_msr_write
#pragma weak irqchip_poll
#pragma weak irqchip_pending
#pragma weak irqchip_ack
#pragma weak irqchip_take_events
#pragma weak irqchip_has_work
#pragma weak irqchip_set_tsc_offset

#endif
