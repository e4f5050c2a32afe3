#include "machine/aml.h"

#include <errno.h>
#include <string.h>

/* AML opcodes (ACPI 6.4, section 20.3). */
enum {
	AML_ZERO = 0x00, AML_ONE = 0x01, AML_NAME = 0x08, AML_BYTE = 0x0a,
	AML_WORD = 0x0b, AML_DWORD = 0x0c, AML_STRING = 0x0d, AML_QWORD = 0x0e,
	AML_SCOPE = 0x10, AML_BUFFER = 0x11, AML_PACKAGE = 0x12, AML_EXT = 0x5b,
	AML_EXT_DEVICE = 0x82, AML_ONES = 0xff,
	AML_ROOT = '\\', AML_PARENT = '^', AML_DUAL_NAME = 0x2e, AML_MULTI_NAME = 0x2f,
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

long aml_finish(struct aml *a)
{
	if (a->overflow)
		return -ENOSPC;
	if (a->depth)
		return -EINVAL;
	return (long)a->len;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

static bool aml_seg_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

void aml_namestring(struct aml *a, const char *path)
{
	uint8_t segs[32][4];
	unsigned nseg = 0;
	const char *p = path;

	while (*p == AML_ROOT || *p == AML_PARENT)
		aml_byte(a, (uint8_t)*p++);
	while (*p) {
		unsigned n = 0;
		if (nseg == 32) {
			a->overflow = true;
			return;
		}
		while (*p && *p != '.') {
			if (n == 4 || !aml_seg_char(*p, n == 0)) {
				a->overflow = true;
				return;
			}
			segs[nseg][n++] = (uint8_t)*p++;
		}
		if (n == 0) {
			a->overflow = true;
			return;
		}
		memset(&segs[nseg][n], '_', 4 - n);
		nseg++;
		if (*p == '.')
			p++;
	}
	if (nseg == 0)
		aml_byte(a, 0); /* NullName */
	else if (nseg == 2)
		aml_byte(a, AML_DUAL_NAME);
	else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)nseg);
	}
	aml_bytes(a, segs, 4 * nseg);
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, path);
}

void aml_integer(struct aml *a, uint64_t v)
{
	/* The shortest encoding: a one-byte constant, else the smallest prefix. */
	static const struct { uint64_t max; uint8_t op, bytes; } forms[] = {
		{ 0xff, AML_BYTE, 1 }, { 0xffff, AML_WORD, 2 },
		{ 0xffffffff, AML_DWORD, 4 }, { UINT64_MAX, AML_QWORD, 8 },
	};

	if (v == 0 || v == 1 || v == UINT64_MAX) {
		aml_byte(a, v == 0 ? AML_ZERO : v == 1 ? AML_ONE : AML_ONES);
		return;
	}
	for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		if (v <= forms[i].max) {
			aml_byte(a, forms[i].op);
			aml_le(a, v, forms[i].bytes);
			return;
		}
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

static unsigned aml_hex(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'A' && c <= 'F')
		return (unsigned)(c - 'A' + 10);
	return 16;
}

uint32_t aml_eisaid_value(const char *id)
{
	uint32_t v = 0;

	if (strlen(id) != 7)
		return 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return 0;
		v |= (uint32_t)(id[i] - 0x40) << (26 - 5 * i);
	}
	for (int i = 0; i < 4; i++) {
		unsigned h = aml_hex(id[3 + i]);
		if (h > 15)
			return 0;
		v |= h << (12 - 4 * i);
	}
	/* Stored big-endian: the manufacturer code comes first in memory. */
	return __builtin_bswap32(v);
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = aml_eisaid_value(id);

	if (!v) {
		a->overflow = true;
		return;
	}
	aml_byte(a, AML_DWORD);
	aml_le(a, v, 4);
}

/* Starts an object whose PkgLength is written by aml_end. */
static void aml_open(struct aml *a)
{
	if (a->depth == AML_MAX_DEPTH) {
		a->overflow = true;
		return;
	}
	a->open[a->depth++] = a->len;
}

void aml_end(struct aml *a)
{
	size_t start, body, total;
	unsigned n;

	if (a->depth == 0) {
		a->overflow = true;
		return;
	}
	start = a->open[--a->depth];
	if (a->overflow)
		return;
	body = a->len - start;
	/* PkgLength counts its own bytes: 1 byte up to 63, else 2..4 bytes
	 * holding 4 + 8 * (n - 1) bits. */
	for (n = 1; n <= 4; n++)
		if (body + n < (n == 1 ? 0x40u : 1u << (4 + 8 * (n - 1))))
			break;
	if (n > 4 || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	total = body + n;
	memmove(a->buf + start + n, a->buf + start, body);
	if (n == 1) {
		a->buf[start] = (uint8_t)total;
	} else {
		a->buf[start] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (unsigned i = 1; i < n; i++)
			a->buf[start + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	a->len += n;
}

void aml_scope(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE);
	aml_open(a);
	aml_namestring(a, path);
}

void aml_device(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT);
	aml_byte(a, AML_EXT_DEVICE);
	aml_open(a);
	aml_namestring(a, name);
}

void aml_package(struct aml *a, uint8_t nelems)
{
	aml_byte(a, AML_PACKAGE);
	aml_open(a);
	aml_byte(a, nelems);
}

void aml_buffer(struct aml *a, const void *data, size_t len)
{
	aml_byte(a, AML_BUFFER);
	aml_open(a);
	aml_integer(a, len);
	aml_bytes(a, data, len);
	aml_end(a);
}

/* Resource descriptors (ACPI 6.4, section 6.4). Address space descriptors
 * are producers with fixed minimum and maximum, positive decode. */
#define AML_RES_FLAGS_FIXED 0x0c  /* _MIF | _MAF */

void aml_res_word(struct aml *rt, uint8_t type, uint16_t min, uint16_t max)
{
	/* I/O: entire range (ISA and non-ISA); bus numbers: no flags. */
	uint8_t specific = type == AML_RES_IO ? 3 : 0;

	aml_byte(rt, 0x88);
	aml_le(rt, 13, 2);
	aml_byte(rt, type);
	aml_byte(rt, AML_RES_FLAGS_FIXED);
	aml_byte(rt, specific);
	aml_le(rt, 0, 2);                 /* granularity */
	aml_le(rt, min, 2);
	aml_le(rt, max, 2);
	aml_le(rt, 0, 2);                 /* translation offset */
	aml_le(rt, (uint32_t)max - min + 1, 2);
}

void aml_res_dword_mem(struct aml *rt, uint32_t min, uint32_t max)
{
	aml_byte(rt, 0x87);
	aml_le(rt, 23, 2);
	aml_byte(rt, AML_RES_MEM);
	aml_byte(rt, AML_RES_FLAGS_FIXED);
	aml_byte(rt, 1);                  /* read-write, non-cacheable */
	aml_le(rt, 0, 4);
	aml_le(rt, min, 4);
	aml_le(rt, max, 4);
	aml_le(rt, 0, 4);
	aml_le(rt, (uint64_t)max - min + 1, 4);
}

void aml_res_io(struct aml *rt, uint16_t base, uint8_t len)
{
	aml_byte(rt, 0x47);
	aml_byte(rt, 1);                  /* 16-bit decode */
	aml_le(rt, base, 2);
	aml_le(rt, base, 2);
	aml_byte(rt, 1);                  /* alignment */
	aml_byte(rt, len);
}

void aml_res_mem32_fixed(struct aml *rt, uint32_t base, uint32_t len)
{
	aml_byte(rt, 0x86);
	aml_le(rt, 9, 2);
	aml_byte(rt, 1);                  /* read-write */
	aml_le(rt, base, 4);
	aml_le(rt, len, 4);
}

void aml_res_end(struct aml *rt)
{
	aml_byte(rt, 0x79);
	aml_byte(rt, 0);                  /* checksum 0: "treat as correct" */
}
