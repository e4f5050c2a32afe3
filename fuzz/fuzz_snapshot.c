/* Fuzz target: the snapshot state-file loader (vmon restore's first step):
 * parse, then look up every section the parse accepted; a cpu section's
 * APIC page goes through emu's converter (lapic_page_set), whose timer
 * arithmetic takes any count. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "accel/cpu_state.h"
#include "accel/vm_state.h"
#include "dev/lapic.h"
#include "machine/snapshot.h"

static void fuzz_one(uint8_t *buf, size_t len)
{
	struct snapshot_image img;
	uint32_t ver, size;
	char err[200];

	if (!snapshot_parse(buf, len, &img, err, sizeof(err))) {
		static const char *const names[] = { "config", "cpu", "vm", "pci", "serial", "rtc" };
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			const uint8_t *p = snapshot_find(&img, names[i], 0, &ver, &size);
			volatile uint8_t sink = 0;
			for (uint32_t k = 0; p && k < size; k++)
				sink ^= p[k];
			(void)sink;
		}
		const uint8_t *p = snapshot_find(&img, "vm", 0, &ver, &size);
		if (p && size == sizeof(struct vm_state)) {
			static struct vm_state vs;
			memcpy(&vs, p, sizeof(vs));
			(void)vm_state_check(&vs);
		}
		p = snapshot_find(&img, "cpu", 0, &ver, &size);
		if (p && size == sizeof(struct cpu_state)) {
			static struct lapic_state l;
			uint8_t page[LAPIC_PAGE_SIZE];
			memcpy(page, p + offsetof(struct cpu_state, lapic), sizeof(page));
			lapic_reset(&l, 0, 0xfee00900);
			if (!lapic_page_set(&l, page, 1000000000ULL)) {
				lapic_timer_poll(&l, 2000000000ULL);
				lapic_page_get(&l, page, 3000000000ULL);
			}
		}
	}
}

/* As given, then with the header's length and the CRC made right, so
 * that mutations reach the section checks behind the checksum. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t *buf = aligned_alloc(8, (len + 8) & ~(size_t)7);
	struct snapshot_header h;
	uint32_t crc;

	if (!buf)
		return 0;
	memcpy(buf, data, len);
	fuzz_one(buf, len);
	if (len >= sizeof(h) + sizeof(crc)) {
		memcpy(buf, data, len);
		memcpy(&h, buf, sizeof(h));
		h.length = len;
		memcpy(buf, &h, sizeof(h));
		crc = (uint32_t)crc32(0, buf, (uInt)(len - sizeof(crc)));
		memcpy(buf + len - sizeof(crc), &crc, sizeof(crc));
		fuzz_one(buf, len);
	}
	free(buf);
	return 0;
}
