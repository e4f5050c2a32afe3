/* The 16550A UART (COM1). serial_init() is in dev/devices.h. */
#ifndef VMON_DEV_SERIAL_H
#define VMON_DEV_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#define SERIAL_PORT     0x3f8
#define SERIAL_IRQ      4
#define SERIAL_FIFO     16
#define SERIAL_INBUF    4096  /* host input held behind the RX FIFO */

/* Host input for the guest (the console's receive callback; opaque is the
 * device's state, m->console_rx_opaque). Bytes beyond SERIAL_INBUF waiting
 * are dropped and reported to the guest as an overrun. */
void serial_receive(void *opaque, const uint8_t *buf, size_t len);

#endif
