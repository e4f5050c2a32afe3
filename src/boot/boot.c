/* Recognises the kernel's format and hands it to its loader. */
#include "boot/boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/machine.h"
#include "util/log.h"

struct boot_format {
	const char *name;
	int (*probe)(const uint8_t *img, size_t len);
	int (*load)(struct machine *m, const uint8_t *img, size_t len,
		    const uint8_t *initrd, size_t initrd_len);
};

/* bzImage first: its setup header is unambiguous. A vmlinux with a PVH note
 * is preferred to its Multiboot header, as QEMU does. */
static const struct boot_format boot_formats[] = {
	{ "bzImage", boot_linux_probe, boot_linux_load },
	{ "PVH ELF", boot_pvh_probe, boot_pvh_load },
	{ "Multiboot", boot_multiboot_probe, boot_multiboot_load },
};

static char boot_why[256];

int boot_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(boot_why, sizeof(boot_why), fmt, ap);
	va_end(ap);
	return err;
}

/* Maps a whole file read-only; -errno. */
static int boot_map(const char *path, const uint8_t **img, size_t *len)
{
	struct stat st;
	void *p;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
	} else if (st.st_size == 0) {
		*img = NULL;
		*len = 0;
	} else {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			err = -errno;
		} else {
			*img = p;
			*len = (size_t)st.st_size;
		}
	}
	close(fd);
	return err;
}

static void boot_unmap(const uint8_t *img, size_t len)
{
	if (img && len)
		munmap((void *)img, len);
}

int boot_load(struct machine *m)
{
	const char *kernel = m->cfg.kernel, *initrd = m->cfg.initrd;
	const uint8_t *img = NULL, *rd = NULL;
	size_t len = 0, rd_len = 0;
	const struct boot_format *f = NULL;
	int r;

	if ((r = boot_map(kernel, &img, &len))) {
		log_error("%s: %s", kernel, strerror(-r));
		return r;
	}
	if (initrd && (r = boot_map(initrd, &rd, &rd_len))) {
		log_error("%s: %s", initrd, strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < sizeof(boot_formats) / sizeof(boot_formats[0]); i++) {
		if (boot_formats[i].probe(img, len) > 0) {
			f = &boot_formats[i];
			break;
		}
	}
	if (!f) {
		log_error("%s: not a kernel vmon can boot (expected a bzImage, an ELF "
			  "with a PVH note, or a Multiboot kernel)", kernel);
		r = -ENOEXEC;
		goto out;
	}
	boot_why[0] = '\0';
	r = f->load(m, img, len, rd, rd_len);
	if (r)
		log_error("%s: %s", kernel, boot_why[0] ? boot_why : strerror(-r));
out:
	boot_unmap(img, len);
	boot_unmap(rd, rd_len);
	return r;
}
