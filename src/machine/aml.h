/* A tiny AML (ACPI Machine Language) writer: just enough to build the DSDT
 * (names, integers, strings, EISA ids, packages, scopes, devices, buffers
 * and the resource descriptors of a _CRS). Objects that carry a PkgLength
 * are opened with aml_scope/aml_device/aml_package and closed with aml_end,
 * which encodes the length once the contents are known. */
#ifndef VMON_MACHINE_AML_H
#define VMON_MACHINE_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool overflow;                 /* something did not fit or did not balance */
	size_t open[AML_MAX_DEPTH];    /* where each open object's contents start */
	unsigned depth;
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* Length written, or -ENOSPC when it did not fit (or -EINVAL when an object
 * is still open or a name was malformed). */
long aml_finish(struct aml *a);

void aml_bytes(struct aml *a, const void *p, size_t n);
/* "\\_SB.PCI0", "_S5", "^FOO": segments of up to 4 characters, padded with '_'. */
void aml_namestring(struct aml *a, const char *path);
/* Name(path, <next object>): the caller writes the object next. */
void aml_name(struct aml *a, const char *path);
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* A 7-character EISA id ("PNP0A08") as its 32-bit compressed integer. */
void aml_eisaid(struct aml *a, const char *id);
/* The 32-bit value aml_eisaid writes (for tests and _HID comparisons). */
uint32_t aml_eisaid_value(const char *id);
void aml_buffer(struct aml *a, const void *data, size_t len);

void aml_scope(struct aml *a, const char *path);
void aml_device(struct aml *a, const char *name);
void aml_package(struct aml *a, uint8_t nelems);
void aml_end(struct aml *a);

/* Resource descriptors, written into a struct aml that holds the bytes of
 * a resource template; aml_res_end adds the end tag. */
enum { AML_RES_MEM = 0, AML_RES_IO = 1, AML_RES_BUS = 2 };
void aml_res_word(struct aml *rt, uint8_t type, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *rt, uint32_t min, uint32_t max);
void aml_res_io(struct aml *rt, uint16_t base, uint8_t len);
void aml_res_mem32_fixed(struct aml *rt, uint32_t base, uint32_t len);
void aml_res_end(struct aml *rt);

#endif
