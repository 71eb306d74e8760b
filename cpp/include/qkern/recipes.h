// Scale rules: how one block's statistics become its stored scale and the factor its
// elements are encoded with. One function per rule, shared by every backend, so the CPU
// kernels, the CUDA kernels and python/qkern/reference.py agree bit for bit.
//
// Policies (documented in docs/formats.md and tested):
//   * a block holding NaN or +-Inf gets a NaN scale (INT4/INT8/FP8: NaN in the scale
//     dtype, MXFP4: E8M0 0xFF, NVFP4: E4M3 0x7F) and all-zero codes, so it dequantizes
//     to NaN: a non-finite input never silently becomes finite;
//   * a block whose (rounded) scale is zero, e.g. all zeros, encodes every element as the
//     zero point and dequantizes to exact zeros.
#pragma once
#include <cstdint>

#include "qkern/codecs.h"
#include "qkern/dtype.h"

namespace qkern {

// Round an fp32 value to the storage precision of a scale tensor and back.
QK_HOST_DEVICE QK_FORCEINLINE float round_to_dtype(float v, DType t) {
  switch (t) {
    case DType::kF16: return f16_to_f32(f32_to_f16(v));
    case DType::kBF16: return bf16_to_f32(f32_to_bf16(v));
    default: return v;
  }
}

// ---------------------------------------------------------------- INT4 (group-wise)
// Codes 0..15 with value (q - zero) * scale.

struct Int4Params {
  float scale;  // as stored (already rounded to the scale dtype)
  float zero;   // integer-valued zero point in [0, 15]
};

// GPTQ / compressed-tensors symmetric convention: scale = 2*amax/15, zero = 8.
QK_HOST_DEVICE QK_FORCEINLINE Int4Params int4_sym_params(float amax, DType scale_dtype) {
  return {round_to_dtype(2.0f * (amax / 15.0f), scale_dtype), 8.0f};
}

// Asymmetric: the range [min(lo, 0), max(hi, 0)] maps onto 0..15 with an integer zero.
QK_HOST_DEVICE QK_FORCEINLINE Int4Params int4_asym_params(float lo, float hi, DType scale_dtype) {
  lo = fminf(lo, 0.0f);
  hi = fmaxf(hi, 0.0f);
  float s = round_to_dtype((hi - lo) / 15.0f, scale_dtype);
  float z = s == 0.0f ? 0.0f : fminf(fmaxf(round_even(-lo / s), 0.0f), 15.0f);
  return {s, z};
}

QK_HOST_DEVICE QK_FORCEINLINE uint8_t int4_encode(float x, Int4Params p) {
  if (p.scale == 0.0f) return uint8_t(p.zero);
  return uint8_t(fminf(fmaxf(round_even(x / p.scale) + p.zero, 0.0f), 15.0f));
}

QK_HOST_DEVICE QK_FORCEINLINE float int4_decode(uint8_t q, float scale, float zero) {
  return (float(q) - zero) * scale;
}

// ---------------------------------------------------------------- MXFP4 (E8M0 per 32)

constexpr int kMxBlock = 32;
constexpr int kE2m1MaxExp = 2;  // emax of E2M1: 6 = 1.5 * 2^2

// OCP MX v1.0 ("FLOOR"): shared exponent floor(log2(amax)) - emax, read from the fp32
// exponent field (zero and subnormal amax give the smallest scale), clamped to E8M0.
QK_HOST_DEVICE QK_FORCEINLINE uint8_t mx_scale_floor(float amax) {
  int e = int((f32_bits(amax) >> 23) & 0xFFu) - 127 - kE2m1MaxExp;
  e = e < -127 ? -127 : (e > 127 ? 127 : e);
  return uint8_t(e + 127);
}

// E8M0 code of the smallest power of two >= v (v >= 0 and finite), clamped to 2^127:
// ceil(log2(v)) exactly from the bits. This is PTX cvt.rp.satfinite.ue8m0x2.f32 for such
// inputs (the cuda/ptx twin uses it).
QK_HOST_DEVICE QK_FORCEINLINE uint8_t e8m0_ceil(float v) {
  uint32_t b = f32_bits(v);
  uint32_t field = (b >> 23) & 0xFFu;
  if (field == 0) return b > 0x00400000u ? 1 : 0;  // subnormal: 2^-126 or 2^-127
  int e = int(field) - 127 + ((b & 0x7FFFFFu) != 0);
  e = e > 127 ? 127 : e;
  return uint8_t(e + 127);
}

// RCEIL (NVIDIA's recipe, PTX cvt.rp.satfinite.ue8m0x2.f32): ceil(log2(amax / 6)),
// computed exactly from the bits, so the scaled block max never exceeds 6 (no clipping).
QK_HOST_DEVICE QK_FORCEINLINE uint8_t mx_scale_rceil(float amax) { return e8m0_ceil(amax / 6.0f); }

// Factor the elements are multiplied by: 2^-(scale exponent), exact for every code.
QK_HOST_DEVICE QK_FORCEINLINE float mx_element_factor(uint8_t scale) { return exp2i(127 - int(scale)); }

constexpr uint8_t kE8m0Nan = 0xFF;

// ---------------------------------------------------------------- NVFP4 (E4M3 per 16)

constexpr int kNvBlock = 16;
constexpr float kE4m3Max = 448.0f;
constexpr float kE2m1Max = 6.0f;
constexpr uint8_t kE4m3Nan = 0x7F;

struct Nvfp4BlockParams {
  uint8_t scale;  // E4M3 code of the block scale
  float factor;   // elements are encoded as e2m1(x * factor)
};

// Global decode scale d = amax / (448 * 6) over the finite elements of the tensor. Tensors
// whose d would be below 2^-120 (all zero, or amax < ~2e-33) use d = 1 so that the encode
// factor (1/d) / s_b stays finite; their codes are all zero either way.
QK_HOST_DEVICE QK_FORCEINLINE float nvfp4_global_scale(float amax) {
  float d = amax / (kE4m3Max * kE2m1Max);
  return d >= exp2i(-120) ? d : 1.0f;
}

// Two-level (the torchao / MSLK reciprocal form): s_b = e4m3(clamp((amax_b / 6) / d,
// 2^-6, 448)), factor = (1/d) / s_b. The clamp gives zero blocks the smallest normal
// E4M3 scale (torchao's convention).
QK_HOST_DEVICE QK_FORCEINLINE Nvfp4BlockParams nvfp4_block_params(float block_amax, float d) {
  float s = fminf(fmaxf((block_amax / kE2m1Max) / d, exp2i(-6)), kE4m3Max);
  uint8_t code = f32_to_e4m3(s);
  return {code, (1.0f / d) / e4m3_to_f32(code)};
}

// Single level (no global scale): s_b = e4m3(clamp(amax_b / 6, 2^-6, 448)), factor 1/s_b.
QK_HOST_DEVICE QK_FORCEINLINE Nvfp4BlockParams nvfp4_block_params_single(float block_amax) {
  float s = fminf(fmaxf(block_amax / kE2m1Max, exp2i(-6)), kE4m3Max);
  uint8_t code = f32_to_e4m3(s);
  return {code, 1.0f / e4m3_to_f32(code)};
}

// ---------------------------------------------------------------- per-row INT8 / FP8

// INT8: scale = amax / 127, q = clamp(rne(x / scale), -127, 127).
QK_HOST_DEVICE QK_FORCEINLINE float int8_row_scale(float amax) { return amax / 127.0f; }
QK_HOST_DEVICE QK_FORCEINLINE int8_t int8_encode(float x, float scale) {
  if (scale == 0.0f) return 0;
  return int8_t(fminf(fmaxf(round_even(x / scale), -127.0f), 127.0f));
}

// FP8 E4M3: scale = amax / 448, q = e4m3(x / scale) (saturating).
QK_HOST_DEVICE QK_FORCEINLINE float fp8_row_scale(float amax) { return amax / kE4m3Max; }
QK_HOST_DEVICE QK_FORCEINLINE uint8_t fp8_encode(float x, float scale) {
  return scale == 0.0f ? uint8_t(0) : f32_to_e4m3(x / scale);
}

}  // namespace qkern
