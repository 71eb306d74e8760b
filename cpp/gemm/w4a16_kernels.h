// Inner kernels of the CPU W4A16 linear layer, one table per instruction-set level. The
// driver (w4a16.cpp) converts x, picks the plan (qkern/gemm.h), splits the work over the
// thread pool and applies the epilogue; these do the arithmetic. Layouts in qkern/gemm.h.
#pragma once
#include <cstdint>

#include "qkern/codecs.h"
#include "qkern/gemm.h"

namespace qkern {

// How the prepacked scales are stored, decoded in the kernels: the canonical encodings,
// except NVFP4's unsigned E4M3 (w4_cpu_e4m3_scale in qkern/gemm.h).
enum class W4ScaleKind : int { kF32, kF16, kBF16, kE8m0, kE4m3 };

// Rows up to which a level's bf16 GEMV (W4Kernels::gemv_bf16, where present) runs for bf16
// activations, in blocks of kW4GemvMaxM rows; above it the level's bf16 GEMM (gemm_bf16)
// if present, else the GEMM of w4a16_cpu_plan. Measured on Zen 4 (AVX-512 level, N = K =
// 4096, one thread): the GEMV is faster at M = 9 and 10 (3.0 vs 3.5 ms), even at 12 and 14,
// the bf16 GEMM from 16 (4.1-5.3 vs 5.1-6.0 ms) and at 32 (8.1 vs 9.3 ms).
constexpr int64_t kW4Bf16GemvMaxM = 12;

// A prepacked weight as the kernels see it. Value of element (n, k) in group g:
//   INT4     (table[code] + 8 - zero[n, g]) * scale[n, g]   (table[c] = c - 8; zero 8 if sym)
//   MXFP4    table[code] * e8m0(scale[n, g])                 (table[c] = e2m1(c))
//   NVFP4    table[code] * (e4m3(scale[n, g]) * scale_mul)   (scale_mul = global d, or 1;
//            scale the layout's unsigned E4M3 code, its sign in the codes: qkern/gemm.h)
struct W4Weights {
  const uint8_t* packed;  // [n_pad/16][k_chunks][64]
  const uint8_t* scale;   // [n_pad/16][groups][16] elements of scale_kind
  const uint8_t* zero;    // [n_pad/16][groups][16], INT4 asymmetric only, else null
  W4ScaleKind scale_kind;
  float scale_mul;
  uint16_t table[16];     // unscaled value of each 4-bit code as bf16 bits (exact for all formats)
  int64_t k_chunks;       // k_pad / 8
  int64_t groups;         // scale groups per row
  int64_t group_chunks;   // group / 8
};

// INT4 weights (the only ones with float scales).
inline bool w4_is_int4(const W4Weights& w) {
  return w.scale_kind == W4ScaleKind::kF32 || w.scale_kind == W4ScaleKind::kF16 ||
         w.scale_kind == W4ScaleKind::kBF16;
}

// Scale of channel (strip t, lane) in group g, as fp32 (scale_mul applied).
inline float w4_scale(const W4Weights& w, int64_t t, int64_t g, int lane) {
  const int64_t i = (t * w.groups + g) * kW4TileN + lane;
  switch (w.scale_kind) {
    case W4ScaleKind::kF32: return reinterpret_cast<const float*>(w.scale)[i];
    case W4ScaleKind::kF16: return f16_to_f32(reinterpret_cast<const uint16_t*>(w.scale)[i]);
    case W4ScaleKind::kBF16: return bf16_to_f32(reinterpret_cast<const uint16_t*>(w.scale)[i]);
    case W4ScaleKind::kE8m0: return e8m0_to_f32(w.scale[i]);
    case W4ScaleKind::kE4m3: return e4m3_to_f32(w.scale[i]) * w.scale_mul;
  }
  return 0.0f;
}

// 8 - zero of channel (strip t, lane) in group g: the offset added to table[code].
inline float w4_zero_offset(const W4Weights& w, int64_t t, int64_t g, int lane) {
  return w.zero ? 8.0f - float(w.zero[(t * w.groups + g) * kW4TileN + lane]) : 0.0f;
}

struct W4Kernels {
  // GEMV block: out[i][(t - t0) * 16 + lane] = sum_k x[i][k] W[16t + lane][k] for rows
  // i < mr (mr <= kW4GemvMaxM; the level's rows per pass over a strip: AVX2
  // kW4GemvRowBlock, AVX-512 8) and strips t in [t0, t1). x: fp32 [mr][k_pad] with row
  // stride ldx; xsum: per-group sums of x, [mr][groups] (row stride ldxs), read only for
  // zero points (else null, ldxs 0); out: row stride ldo.
  void (*gemv)(const W4Weights& w, const float* x, int64_t ldx, const float* xsum, int64_t ldxs,
               int mr, int64_t t0, int64_t t1, float* out, int64_t ldo);
  // Dequantizes strips [t0, t0 + ntiles) x chunks [c0, c0 + nchunks) into panel
  // [ntiles][nchunks*8][16]: element (k = 8(c0 + c) + v, n = 16t + lane) at
  // panel[(t - t0) * nchunks*8*16 + (8c + v) * 16 + lane].
  void (*dequant)(const W4Weights& w, int64_t t0, int64_t ntiles, int64_t c0, int64_t nchunks,
                  float* panel);
  // c[i][j] (+)= sum_{k < kc} a[i * lda + k] * b[k * 16 + j] for i < mr (<= 6), j < 16;
  // c has row stride ldc; accumulate = false overwrites c. The kc-term sum is formed on its
  // own and then added to c (blocked summation, see w4a16_kernels_avx2.cpp).
  void (*micro)(const float* a, int64_t lda, const float* b, int64_t kc, float* c, int64_t ldc,
                int mr, bool accumulate);
  // The 16 scales of strip t in group g as fp32 (what gemv and dequant use); for tests.
  void (*scales)(const W4Weights& w, int64_t t, int64_t g, float* out);
  // Optional (null where absent): gemv for activations exact in bf16, x given as bf16
  // pairs u32 [mr][k_pad / 2] (row stride ldx; low half x[2j], high half x[2j + 1]).
  void (*gemv_bf16)(const W4Weights& w, const uint32_t* x, int64_t ldx, const float* xsum,
                    int64_t ldxs, int mr, int64_t t0, int64_t t1, float* out, int64_t ldo);
  // Optional: GEMM work item for bf16 activations (x pairs as for gemv_bf16, xsum as for
  // gemv): out[i][(t - t0) * 16 + lane] = sum_k x[i][k] W[16t + lane][k] for i < m and
  // strips t in [t0, t0 + ntiles), ntiles 1 or 2; out has row stride ldo.
  void (*gemm_bf16)(const W4Weights& w, const uint32_t* x, int64_t ldx, const float* xsum,
                    int64_t ldxs, int64_t m, int64_t t0, int64_t ntiles, float* out, int64_t ldo);
};

const W4Kernels& w4_kernels_scalar();
#if defined(QKERN_BUILD_AVX2)
const W4Kernels& w4_kernels_avx2();
#endif
#if defined(QKERN_BUILD_AVX512)
const W4Kernels& w4_kernels_avx512();  // GEMVs, bf16 GEMM, scales; dequant / micro: AVX2's
#endif

}  // namespace qkern
