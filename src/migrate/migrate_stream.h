/* The live-migration stream (docs/migration.md): a preamble, then chunks
 * each way, every one with its own header and a CRC32 of header and
 * payload. One module for both ends; migrate_io hides the transport so
 * that the fuzzer can feed the parser from memory. */
#ifndef VMON_MIGRATE_MIGRATE_STREAM_H
#define VMON_MIGRATE_MIGRATE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "machine/snapshot.h"

#define MIGRATE_MAGIC     "VMONMIGR"
#define MIGRATE_VERSION   1
#define MIGRATE_PAGE      4096
#define MIGRATE_RUN_MAX   64                 /* pages in one PAGES chunk */
#define MIGRATE_STATE_MAX (64u << 20)        /* as a snapshot's state file */
#define MIGRATE_TEXT_MAX  256

enum migrate_chunk_type {
	MIG_HELLO = 1, /* s->t: struct migrate_hello */
	MIG_ANSWER,    /* t->s: arg 0 accepted, 1 refused; payload: why */
	MIG_PAGES,     /* s->t: arg first page; payload the pages */
	MIG_ZERO,      /* s->t: arg first page; payload u64 count: those pages are zero */
	MIG_ITER,      /* s->t: arg the iteration just sent (progress only) */
	MIG_STATE,     /* s->t: the state image (snapshot state file format) */
	MIG_END,       /* s->t: nothing more before the handover */
	MIG_READY,     /* t->s: the machine is built and loaded */
	MIG_GO,        /* s->t: the source has let go of the VM: run it */
	MIG_RUNNING,   /* t->s: running */
	MIG_FAIL,      /* either way: payload why; the migration is off */
	MIG_TYPE_MAX = MIG_FAIL,
};

struct migrate_preamble {
	char magic[8];
	uint32_t version, flags;
};

struct migrate_chunk {
	uint32_t type, length;  /* length of the payload that follows */
	uint64_t arg;
	uint32_t seq;           /* 0, 1, 2 ... in each direction */
	uint32_t crc;           /* CRC32 of this header (crc 0) and the payload */
};

/* The source's offer: what the target must be able to run. */
struct migrate_hello {
	struct snapshot_config cfg;
	uint32_t snapshot_version, page_size;
	uint32_t cpu_features[5];  /* host CPUID 1.ecx 1.edx 7.ebx 7.ecx 7.edx under kvm */
	uint32_t reserved;
	char vmon_version[48];
};

struct migrate_io {
	/* Exactly n bytes: 0, or -errno (-EPIPE: the peer closed). */
	int (*read)(void *opaque, void *buf, size_t n);
	int (*write)(void *opaque, const void *buf, size_t n);
	void *opaque;
	uint32_t rx_seq, tx_seq;
	uint8_t *buf;            /* the last chunk's payload (8-aligned) */
	size_t cap;
};

void migrate_io_free(struct migrate_io *io);

int migrate_send_preamble(struct migrate_io *io);
/* 0, or -EINVAL with why in err. */
int migrate_read_preamble(struct migrate_io *io, char *err, size_t errlen);

/* Sends one chunk whose payload is a then b (either may be empty). */
int migrate_send2(struct migrate_io *io, uint32_t type, uint64_t arg, const void *a,
		  uint32_t alen, const void *b, uint32_t blen);
int migrate_send(struct migrate_io *io, uint32_t type, uint64_t arg, const void *p,
		 uint32_t len);
/* A chunk with a one-line text payload (ANSWER, FAIL). */
int migrate_send_text(struct migrate_io *io, uint32_t type, uint64_t arg, const char *text);

/* Reads the next chunk into *h and io->buf, checking its type, its length
 * against the type's limit, its sequence number and its CRC. 0, the
 * transport's -errno (err set too), or -EINVAL with why in err. */
int migrate_read(struct migrate_io *io, struct migrate_chunk *h, char *err, size_t errlen);
/* The text of the last ANSWER/FAIL chunk, made printable, into out. */
void migrate_text(const struct migrate_io *io, const struct migrate_chunk *h, char *out,
		  size_t len);

/* The target's reading, without a machine (the fuzzer drives it). */
struct migrate_recv {
	struct migrate_io *io;
	uint8_t *ram;            /* ram_size bytes, zero at first: the pages go here */
	uint64_t ram_size;
	uint64_t *written;       /* pages received (calloc'ed by migrate_recv_ram) */
	uint8_t *state;          /* the STATE chunk (malloc, 8-aligned), state_len bytes */
	size_t state_len;
	uint64_t pages, zero_pages;
	uint32_t iterations;
};
/* The preamble and the HELLO chunk, checked (configuration, versions).
 * 0, or -errno with why in err. */
int migrate_recv_hello(struct migrate_io *io, struct migrate_hello *h, char *err,
		       size_t errlen);
/* PAGES, ZERO, ITER and one STATE until END; a FAIL from the source or
 * anything else is an error. 0, or -errno with why in err. */
int migrate_recv_ram(struct migrate_recv *r, char *err, size_t errlen);
void migrate_recv_free(struct migrate_recv *r);

/* Transport on a socket: reads and writes wait at most timeout_ms each. */
struct migrate_fd {
	int fd;
	int timeout_ms;
};
void migrate_io_fd(struct migrate_io *io, struct migrate_fd *f);

#endif
