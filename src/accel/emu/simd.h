/* Element access for the packed-integer handlers of ssse3.c and sse4.c. */
#ifndef VMON_ACCEL_EMU_SIMD_H
#define VMON_ACCEL_EMU_SIMD_H

#include "accel/emu/cpu.h"

/* d = d op s over n bytes (8 for MMX, 16 for XMM); imm is the imm8. */
typedef void (*simd_lane_fn)(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm);

/* Element k of size es (1, 2, 4, 8) bytes, signed or unsigned. */
static inline uint64_t simd_get_u(const uint8_t *p, unsigned es, unsigned k)
{
	return host_load(p + es * k, es);
}

static inline int64_t simd_get_s(const uint8_t *p, unsigned es, unsigned k)
{
	return sext(host_load(p + es * k, es), es);
}

static inline void simd_put(uint8_t *p, unsigned es, unsigned k, uint64_t v)
{
	host_store(p + es * k, es, v);
}

static inline int64_t simd_sat_s(int64_t v, unsigned es)
{
	int64_t hi = (int64_t)(sz_sign(es) - 1), lo = -hi - 1;

	return v < lo ? lo : v > hi ? hi : v;
}

static inline uint64_t simd_sat_u(int64_t v, unsigned es)
{
	return v < 0 ? 0 : (uint64_t)v > sz_mask(es) ? sz_mask(es) : (uint64_t)v;
}

#endif
