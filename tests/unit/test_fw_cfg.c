/* Unit tests: the fw_cfg device driven through the bus, as a guest would:
 * selector and data ports, the file directory, and the DMA interface. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dev/devices.h"
#include "dev/fw_cfg.h"
#include "machine/e820.h"
#include "machine/machine.h"
#include "fake_machine.h"

#define CMDLINE "console=ttyS0 quiet"

static int setup(void **state)
{
	static struct machine m;

	fake_machine_init(&m);
	assert_int_equal(gmem_init(&m.mem, 16ULL << 20), 0);
	m.ncpus = 3;
	m.cfg.cmdline = CMDLINE;
	assert_int_equal(fw_cfg_init(&m), 0);
	*state = &m;
	return 0;
}

static int teardown(void **state)
{
	struct machine *m = *state;

	fake_machine_destroy(m);
	gmem_destroy(&m->mem);
	return 0;
}

static void sel(struct machine *m, uint16_t key)
{
	uint64_t v = key;

	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_SEL, 2, true, &v));
}

static void rd(struct machine *m, void *buf, size_t n)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DATA, 1, false, &v));
		p[i] = (uint8_t)v;
	}
}

static uint64_t rd_le(struct machine *m, uint16_t key, size_t n)
{
	uint64_t v = 0;

	sel(m, key);
	rd(m, &v, n);
	return le64toh(v);
}

/* The selector of file name from the directory, and its size. */
static int find_file(struct machine *m, const char *name, uint32_t *size)
{
	uint32_t count;

	sel(m, FW_CFG_FILE_DIR);
	rd(m, &count, 4);
	count = be32toh(count);
	for (uint32_t i = 0; i < count; i++) {
		struct { uint32_t size; uint16_t select, reserved; char name[56]; } e;
		rd(m, &e, sizeof(e));
		assert_int_equal(e.name[55], 0);
		if (!strcmp(e.name, name)) {
			*size = be32toh(e.size);
			return be16toh(e.select);
		}
	}
	return -1;
}

static void test_fw_cfg_items(void **state)
{
	struct machine *m = *state;
	char sig[6];
	uint64_t v;

	sel(m, FW_CFG_SIGNATURE);
	rd(m, sig, 6);
	assert_memory_equal(sig, "QEMU\0\0", 6);          /* past the end: 0 */
	assert_int_equal(rd_le(m, FW_CFG_ID, 4), 3);
	assert_int_equal(rd_le(m, FW_CFG_RAM_SIZE, 8), 16ULL << 20);
	assert_int_equal(rd_le(m, FW_CFG_NB_CPUS, 2), 3);
	assert_int_equal(rd_le(m, FW_CFG_MAX_CPUS, 2), 3);
	/* Unknown keys and the arch-local set read as 0. */
	assert_int_equal(rd_le(m, 0x7ff, 8), 0);
	assert_int_equal(rd_le(m, 0x8000 | FW_CFG_SIGNATURE, 4), 0);
	/* Selecting again starts over; data-port writes and byte selector
	 * writes are ignored; a wider data read takes that many bytes. */
	sel(m, FW_CFG_SIGNATURE);
	rd(m, sig, 1);
	v = 0x55;
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DATA, 1, true, &v));
	v = FW_CFG_ID;
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_SEL, 1, true, &v));
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DATA, 1, false, &v));
	assert_int_equal(v, 'E');
	sel(m, FW_CFG_SIGNATURE);
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DATA, 1, false, &v));
	assert_int_equal(v, 'Q');
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_SEL, 1, false, &v));
	assert_int_equal(v, 0);
}

static void test_fw_cfg_files(void **state)
{
	struct machine *m = *state;
	struct e820_entry want[32], got[32];
	unsigned n = e820_build(&m->mem, want, 32);
	char cmd[64] = { 0 };
	uint32_t size;
	int key;

	key = find_file(m, "etc/e820", &size);
	assert_int_equal(key, FW_CFG_FILE_FIRST);
	assert_int_equal(size, n * 20);
	sel(m, (uint16_t)key);
	rd(m, got, size);
	assert_memory_equal(got, want, size);

	key = find_file(m, "opt/org.vmon/cmdline", &size);
	assert_int_equal(key, FW_CFG_FILE_FIRST + 1);
	assert_int_equal(size, strlen(CMDLINE));
	sel(m, (uint16_t)key);
	rd(m, cmd, size + 2);
	assert_string_equal(cmd, CMDLINE);

	/* Files added later show up in the directory. */
	assert_int_equal(fw_cfg_add_file(m, "opt/test", "abc", 3), 0);
	key = find_file(m, "opt/test", &size);
	assert_int_equal(key, FW_CFG_FILE_FIRST + 2);
	assert_int_equal(size, 3);
	assert_int_equal(rd_le(m, (uint16_t)key, 4), 0x636261);
	assert_int_equal(fw_cfg_add_file(m, "opt/test", "x", 1), -EEXIST);
	assert_int_equal(fw_cfg_add_file(m, "", "x", 1), -EINVAL);
	assert_int_equal(fw_cfg_add_file(m, "0123456789012345678901234567890123456789012345678901234567",
					 "x", 1), -EINVAL);
	for (int i = 3; i < FW_CFG_MAX_FILES; i++) {
		char name[24];
		snprintf(name, sizeof(name), "opt/f%d", i);
		assert_int_equal(fw_cfg_add_file(m, name, name, strlen(name)), 0);
	}
	assert_int_equal(fw_cfg_add_file(m, "opt/full", "x", 1), -ENOSPC);
	key = find_file(m, "opt/f31", &size);
	assert_int_equal(key, FW_CFG_FILE_FIRST + 31);
	sel(m, (uint16_t)key);
	rd(m, cmd, 8);
	assert_memory_equal(cmd, "opt/f31", 8);
}

struct dma_access {
	uint32_t control, length;
	uint64_t address;
} __attribute__((packed));

/* Writes the descriptor at desc and starts it the way Linux does. */
static uint32_t dma(struct machine *m, uint64_t desc, uint32_t control, uint32_t len, uint64_t addr)
{
	struct dma_access d = { htobe32(control), htobe32(len), htobe64(addr) };
	uint64_t v;

	assert_int_equal(gmem_write(&m->mem, desc, &d, sizeof(d)), 0);
	v = htobe32((uint32_t)(desc >> 32));
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DMA, 4, true, &v));
	v = htobe32((uint32_t)desc);
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DMA + 4, 4, true, &v));
	assert_int_equal(gmem_read(&m->mem, desc, &d, sizeof(d)), 0);
	return be32toh(d.control);
}

static void test_fw_cfg_dma(void **state)
{
	struct machine *m = *state;
	uint8_t *buf = gmem_ptr(&m->mem, 0x2000, 64);
	uint64_t v;
	uint32_t size;
	int key = find_file(m, "opt/org.vmon/cmdline", &size);

	/* The DMA register reads "QEMU CFG" in memory order. */
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DMA, 8, false, &v));
	assert_memory_equal(&v, "QEMU CFG", 8);
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DMA + 4, 4, false, &v));
	assert_memory_equal(&v, " CFG", 4);

	/* Select and read: the file, then zeros past its end. */
	memset(buf, 0xaa, 64);
	assert_int_equal(dma(m, 0x1000, FW_CFG_DMA_SELECT | FW_CFG_DMA_READ | ((uint32_t)key << 16),
			     40, 0x2000), 0);
	assert_memory_equal(buf, CMDLINE, strlen(CMDLINE));
	for (size_t i = strlen(CMDLINE); i < 40; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[40], 0xaa);

	/* Skip, then read the rest through the data port. */
	assert_int_equal(dma(m, 0x1000, FW_CFG_DMA_SELECT | FW_CFG_DMA_SKIP |
			     (FW_CFG_SIGNATURE << 16), 2, 0), 0);
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DATA, 1, false, &v));
	assert_int_equal(v, 'M');

	/* Errors: a target outside RAM, a write, and the host untouched. */
	assert_int_equal(dma(m, 0x1000, FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 16,
			     (16ULL << 20) - 8), FW_CFG_DMA_ERROR);
	assert_int_equal(dma(m, 0x1000, FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 16,
			     UINT64_MAX - 4), FW_CFG_DMA_ERROR);
	assert_int_equal(dma(m, 0x1000, FW_CFG_DMA_WRITE, 4, 0x2000), FW_CFG_DMA_ERROR);
	/* A descriptor outside RAM is dropped. */
	v = htobe32(0x10);
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DMA, 4, true, &v));
	v = 0;
	assert_true(bus_access(&m->bus, BUS_PIO, FW_CFG_PORT_DMA + 4, 4, true, &v));
	/* An unknown item reads as zeros. */
	memset(buf, 0xaa, 64);
	assert_int_equal(dma(m, 0x1000, FW_CFG_DMA_SELECT | FW_CFG_DMA_READ | (0x1234u << 16),
			     8, 0x2000), 0);
	assert_int_equal(*(uint64_t *)buf, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fw_cfg_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fw_cfg_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fw_cfg_dma, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
