/* Fuzz target: the target side of a migration stream (vmon run
 * --incoming): preamble, offer, RAM chunks, state image, as they come off
 * the socket, then the state image's parse. Answers go nowhere. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/migrate_stream.h"

#define FUZZ_RAM_MAX (32ULL << 20)

struct fuzz_src {
	const uint8_t *p;
	size_t left;
};

static int fuzz_read(void *o, void *buf, size_t n)
{
	struct fuzz_src *s = o;

	if (n > s->left)
		return -EPIPE;
	memcpy(buf, s->p, n);
	s->p += n;
	s->left -= n;
	return 0;
}

static int fuzz_write(void *o, const void *buf, size_t n)
{
	(void)o;
	(void)buf;
	(void)n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct migrate_hello h;
	struct fuzz_src s = { data, len };
	struct migrate_io io = { .read = fuzz_read, .write = fuzz_write, .opaque = &s };
	struct migrate_recv rx = { .io = &io };
	struct snapshot_image img;
	char err[300];

	if (migrate_recv_hello(&io, &h, err, sizeof(err)) || h.cfg.mem_size > FUZZ_RAM_MAX)
		goto out;
	rx.ram_size = h.cfg.mem_size;
	if (!(rx.ram = calloc(1, rx.ram_size)))
		goto out;
	if (!migrate_recv_ram(&rx, err, sizeof(err)))
		snapshot_parse(rx.state, rx.state_len, &img, err, sizeof(err));
	free(rx.ram);
out:
	migrate_recv_free(&rx);
	migrate_io_free(&io);
	return 0;
}
