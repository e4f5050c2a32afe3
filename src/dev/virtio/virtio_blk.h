/* virtio-blk (virtio 1.2, 5.2) on an image file (block/block.h). */
#ifndef VMON_DEV_VIRTIO_VIRTIO_BLK_H
#define VMON_DEV_VIRTIO_VIRTIO_BLK_H

#include <stdbool.h>

struct machine;
struct disk_opts;
struct virtio_dev;

/* Opens the image of o and puts a virtio-blk PCI function on bus 0.
 * Returns 0 or -errno; when the image itself is refused (missing, locked,
 * bad size ...) *why says why in a few words: the user's input was bad. */
int virtio_blk_create(struct machine *m, const struct disk_opts *o, const char **why);
/* The first disk's virtio device, or NULL (tests and the fuzzer). */
struct virtio_dev *virtio_blk_dev(struct machine *m);
/* Waits until no request of any disk is in flight (a pause: the vCPUs and
 * the I/O thread are parked, so none starts again). */
void virtio_blk_quiesce(struct machine *m);
/* block_handover on every disk of a quiesced machine; on failure the disks
 * already released are locked again. 0 or -errno. */
int virtio_blk_handover(struct machine *m, bool release);
/* Why the disks cannot be handed over, or NULL. */
const char *virtio_blk_handover_problem(struct machine *m);

#endif
