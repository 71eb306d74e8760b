// Element codecs shared by the CPU kernels, the CUDA kernels and the SIMT emulator.
// Every function here is exact: the CPU kernels, the CUDA kernels and python/qkern/
// reference.py must agree bit for bit, so nothing may be left to the compiler's choice
// (no fast-math, no FMA contraction in the files that use these; see CMake flags).
//
// Facts (../shared/NUMERICS.md, OCP MX v1.0, IEEE 754):
//   fp16  1|5|10, bias 15      bf16  1|8|7, bias 127     (both: round to nearest even)
//   E2M1  s|ee|m, bias 1, values {0, .5, 1, 1.5, 2, 3, 4, 6}, no Inf/NaN, saturating
//   E4M3  (fn) s|eeee|mmm, bias 7, max 448, 0x7F/0xFF = NaN, no Inf, saturating
//   E8M0  unsigned exponent, value 2^(e-127), 0xFF = NaN
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>

#include "qkern/macros.h"

namespace qkern {

// ---------------------------------------------------------------- bit casts, 2^e

QK_HOST_DEVICE QK_FORCEINLINE uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

QK_HOST_DEVICE QK_FORCEINLINE float f32_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// Exact 2^e for e in [-149, 127] (subnormal results included).
QK_HOST_DEVICE QK_FORCEINLINE float exp2i(int e) {
  return e >= -126 ? f32_from_bits(uint32_t(e + 127) << 23) : f32_from_bits(1u << (e + 149));
}

QK_HOST_DEVICE QK_FORCEINLINE bool is_finite_f32(float x) {
  return (f32_bits(x) & 0x7F800000u) != 0x7F800000u;
}

// Round to nearest integer, ties to even (the default IEEE rounding mode on the host).
QK_HOST_DEVICE QK_FORCEINLINE float round_even(float x) { return rintf(x); }

// ---------------------------------------------------------------- fp16 / bf16

QK_HOST_DEVICE QK_FORCEINLINE float bf16_to_f32(uint16_t h) { return f32_from_bits(uint32_t(h) << 16); }

// Round to nearest even; NaN becomes the canonical quiet NaN 0x7FC0 (as torch does).
QK_HOST_DEVICE QK_FORCEINLINE uint16_t f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;
  return uint16_t((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

QK_HOST_DEVICE QK_FORCEINLINE float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0x1F) return f32_from_bits(sign | 0x7F800000u | (m << 13));
  if (e == 0) {  // zero or subnormal: m * 2^-24, exact
    float v = float(m) * exp2i(-24);
    return sign ? -v : v;
  }
  return f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
}

// Round to nearest even; overflow to +-Inf; NaN keeps its sign as quiet NaN 0x7E00.
QK_HOST_DEVICE QK_FORCEINLINE uint16_t f32_to_f16(float f) {
  uint32_t x = f32_bits(f);
  uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return sign | 0x7E00;
  if (ax >= 0x477FF000u) return sign | 0x7C00;  // >= 65520 rounds past 65504
  if (ax >= 0x38800000u) {                       // normal fp16 (>= 2^-14)
    uint32_t r = ax + 0xFFFu + ((ax >> 13) & 1u);
    return sign | uint16_t((r - (112u << 23)) >> 13);
  }
  // subnormal fp16: an integer count of 2^-24, which may round up to the smallest normal
  return sign | uint16_t(round_even(f32_from_bits(ax) * exp2i(24)));
}

// ---------------------------------------------------------------- E2M1 (FP4)

// code: bit 3 sign, bits 2..1 exponent, bit 0 mantissa.
QK_HOST_DEVICE QK_FORCEINLINE float e2m1_to_f32(uint8_t code) {
  uint32_t e = (code >> 1) & 3u, m = code & 1u;
  float mag = e ? f32_from_bits(((e + 126u) << 23) | (m << 22)) : 0.5f * float(m);
  return (code & 8u) ? -mag : mag;
}

// Round to nearest even, saturating at +-6; the sign is kept (so -0.1 -> 0x8, "-0").
// Precondition: x is not NaN (callers zero non-finite blocks before encoding).
// Ties: 0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4; each comparison below
// is one boundary, strict where the even neighbour is below it.
QK_HOST_DEVICE QK_FORCEINLINE uint8_t f32_to_e2m1(float x) {
  float a = fabsf(x);
  uint8_t c = uint8_t((a > 0.25f) + (a >= 0.75f) + (a > 1.25f) + (a >= 1.75f) + (a > 2.5f) +
                      (a >= 3.5f) + (a > 5.0f));
  return c | ((f32_bits(x) >> 28) & 8u);
}

// ---------------------------------------------------------------- E4M3 (FP8, "fn")

QK_HOST_DEVICE QK_FORCEINLINE float e4m3_to_f32(uint8_t code) {
  uint32_t e = (code >> 3) & 0xFu, m = code & 7u;
  float mag;
  if (e == 0xF && m == 7) mag = NAN;
  else if (e == 0) mag = float(m) * exp2i(-9);
  else mag = f32_from_bits(((e + 120u) << 23) | (m << 20));
  return (code & 0x80u) ? -mag : mag;
}

// Round to nearest even, saturating at +-448 (Inf too, "satfinite"); NaN -> 0x7F|sign.
QK_HOST_DEVICE QK_FORCEINLINE uint8_t f32_to_e4m3(float f) {
  uint32_t x = f32_bits(f);
  uint8_t sign = uint8_t((x >> 24) & 0x80u);
  uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return sign | 0x7F;
  if (ax >= 0x43E00000u) return sign | 0x7E;  // >= 448
  if (ax < 0x3C800000u)                        // below 2^-6: subnormal, count of 2^-9
    return sign | uint8_t(round_even(f32_from_bits(ax) * exp2i(9)));
  uint32_t r = ax + 0x7FFFFu + ((ax >> 20) & 1u);  // round the mantissa to 3 bits
  return sign | uint8_t((((r >> 23) - 120u) << 3) | ((r >> 20) & 7u));
}

// ---------------------------------------------------------------- E8M0

QK_HOST_DEVICE QK_FORCEINLINE float e8m0_to_f32(uint8_t code) {
  return code == 0xFF ? NAN : exp2i(int(code) - 127);
}

}  // namespace qkern
