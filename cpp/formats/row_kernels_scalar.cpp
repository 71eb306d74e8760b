// Portable reference loops of RowKernels: plain C++ over the shared codecs. They define
// the bytes every faster table must reproduce.
#include <cmath>

#include "formats/row_kernels.h"

namespace qkern {
namespace {

void load_f32(const void* src, DType t, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = load_one(src, t, i);
}

BlockStats block_stats(const float* x, int64_t n) {
  BlockStats s{0.0f, x[0], x[0], true};
  for (int64_t i = 0; i < n; ++i) {
    s.finite = s.finite && is_finite_f32(x[i]);
    s.amax = fmaxf(s.amax, fabsf(x[i]));
    s.lo = fminf(s.lo, x[i]);
    s.hi = fmaxf(s.hi, x[i]);
  }
  return s;
}

float finite_amax(const void* src, DType t, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    float v = load_one(src, t, i);
    if (is_finite_f32(v)) m = fmaxf(m, fabsf(v));
  }
  return m;
}

void encode_int4(const float* x, int64_t n, Int4Params p, uint8_t* q) {
  for (int64_t i = 0; i < n; i += 2)
    q[i / 2] = uint8_t(int4_encode(x[i], p) | (int4_encode(x[i + 1], p) << 4));
}

void encode_e2m1(const float* x, int64_t n, float factor, uint8_t* q) {
  for (int64_t i = 0; i < n; i += 2)
    q[i / 2] = uint8_t(f32_to_e2m1(x[i] * factor) | (f32_to_e2m1(x[i + 1] * factor) << 4));
}

void encode_int8(const float* x, int64_t n, float scale, int8_t* q) {
  for (int64_t i = 0; i < n; ++i) q[i] = int8_encode(x[i], scale);
}

void encode_fp8(const float* x, int64_t n, float scale, uint8_t* q) {
  for (int64_t i = 0; i < n; ++i) q[i] = fp8_encode(x[i], scale);
}

void decode_int4_row(const uint8_t* q, int64_t n, int block, const float* scale, const float* zero,
                     void* out, DType t) {
  for (int64_t i = 0; i < n; ++i) {
    uint8_t code = (q[i / 2] >> (4 * (i & 1))) & 0xF;
    store_one(out, t, i, int4_decode(code, scale[i / block], zero[i / block]));
  }
}

void decode_e2m1_row(const uint8_t* q, int64_t n, int block, const float* scale, void* out,
                     DType t) {
  for (int64_t i = 0; i < n; ++i) {
    uint8_t code = (q[i / 2] >> (4 * (i & 1))) & 0xF;
    store_one(out, t, i, e2m1_to_f32(code) * scale[i / block]);
  }
}

void decode_int8_row(const int8_t* q, int64_t n, float scale, void* out, DType t) {
  for (int64_t i = 0; i < n; ++i) store_one(out, t, i, float(q[i]) * scale);
}

void decode_fp8_row(const uint8_t* q, int64_t n, float scale, void* out, DType t) {
  for (int64_t i = 0; i < n; ++i) store_one(out, t, i, e4m3_to_f32(q[i]) * scale);
}

}  // namespace

const RowKernels& row_kernels_scalar() {
  static const RowKernels k{load_f32,        block_stats,     finite_amax,     encode_int4,
                            encode_e2m1,     encode_int8,     encode_fp8,      decode_int4_row,
                            decode_e2m1_row, decode_int8_row, decode_fp8_row};
  return k;
}

}  // namespace qkern
