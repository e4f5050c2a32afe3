/* Host side of a guest character device (the serial console): where its
 * output goes and where its input comes from. */
#ifndef VMON_CHAR_CHARDEV_H
#define VMON_CHAR_CHARDEV_H

#include <stddef.h>
#include <stdint.h>

struct machine;

struct chardev {
	void (*write)(struct chardev *c, const uint8_t *buf, size_t len);
	void (*close)(struct chardev *c);
	/* Set by the guest device: called on the I/O thread with host input. */
	void (*receive)(void *opaque, const uint8_t *buf, size_t len);
	void *receive_opaque;
};

typedef void (*chardev_receive_fn)(void *opaque, const uint8_t *buf, size_t len);

/* spec: "stdio" (raw terminal, Ctrl-A x quits), "none", "file:PATH".
 * Host input goes to receive(opaque, ...) on the I/O thread.
 * -EINVAL for an unknown spec, -errno when the host refuses. */
int chardev_open(const char *spec, struct machine *m, chardev_receive_fn receive,
		 void *opaque, struct chardev **out);

static inline void chardev_write(struct chardev *c, const uint8_t *buf, size_t len)
{
	if (c && c->write)
		c->write(c, buf, len);
}

#endif
