/* Boot loaders: put a kernel (and initrd, command line) into guest RAM and
 * set the boot vCPU's entry state (m->boot_state). */
#ifndef VMON_BOOT_BOOT_H
#define VMON_BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct machine;

/* Reads m->cfg.kernel/initrd/cmdline, recognises the format and loads it.
 * Errors are reported here, once, naming the file: -ENOENT/-EACCES for
 * unreadable files, -ENOEXEC for a file that is no kernel vmon knows,
 * -E2BIG for a kernel, initrd or command line that does not fit. */
int boot_load(struct machine *m);

/* For loaders: records why the load failed (one line, without the file
 * name, which boot_load adds) and returns err. */
int boot_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One module per format. probe: 1 if img is of this format. load: -errno. */
int boot_linux_probe(const uint8_t *img, size_t len);
int boot_linux_load(struct machine *m, const uint8_t *img, size_t len,
		    const uint8_t *initrd, size_t initrd_len);
/* Where a bzImage's compressed kernel is (payload_offset/length, protocol
 * 2.08+): 0 with its file offset and length, -ENOEXEC when absent or not
 * inside the file. */
int linux_bzimage_payload(const uint8_t *img, size_t len, size_t *off, size_t *plen);
int boot_pvh_probe(const uint8_t *img, size_t len);
int boot_pvh_load(struct machine *m, const uint8_t *img, size_t len,
		  const uint8_t *initrd, size_t initrd_len);
int boot_multiboot_probe(const uint8_t *img, size_t len);
int boot_multiboot_load(struct machine *m, const uint8_t *img, size_t len,
			const uint8_t *initrd, size_t initrd_len);

#endif
