/* The virtio devices the machine adds when the command line asks for
 * them (each one a PCI function at the next free slot of bus 0). */
#ifndef VMON_DEV_VIRTIO_VIRTIO_DEVICES_H
#define VMON_DEV_VIRTIO_VIRTIO_DEVICES_H

#include <stddef.h>
#include <stdint.h>

struct machine;
struct virtio_dev;

/* virtio-rng: one queue, filled from getrandom(2). */
int virtio_rng_init(struct machine *m);
/* virtio-console with one port (hvc0); spec as --console: stdio, none,
 * file:PATH. -EINVAL for a bad spec. */
int virtio_console_init(struct machine *m, const char *spec);

/* The device behind a PCI function, for tests and the fuzzer. */
struct virtio_dev *virtio_rng_dev(struct machine *m);
struct virtio_dev *virtio_console_dev(struct machine *m);
/* Host input for the console, as its chardev delivers it (I/O thread). */
void virtio_console_input(struct virtio_dev *d, const uint8_t *buf, size_t len);

#endif
