// AVX2+FMA+F16C loops of HadamardRowKernels. Compiled with -mavx2 -mfma -mf16c (the
// _avx2.cpp suffix); entered only when active_isa() >= Isa::kAvx2. Every loop computes
// each element with the scalar table's operations in the scalar table's order (the
// contract in hadamard.h), so the two tables give the same bits.
//
// FWHT of a row of m = 2^p floats (p >= 3; smaller rows use the scalar loop):
//   * the first pass loads the row (dtype -> fp32, * signs) and does strides 1, 2, 4
//     inside each __m256 (lanes i and i ^ h: a permute and one FMA with a +-1 vector);
//   * larger strides go in passes of up to three stages: 8 vectors at stride h are loaded,
//     combined at strides h, 2h, 4h in registers and stored (radix 8), so a row crosses
//     the cache about p / 3 times instead of p times;
//   * cache blocking: the stages below kBlockLog2 run block by block (16 KB blocks, in
//     L1), the remaining (large) strides then run as passes over the whole row (in L2);
//   * the last pass applies the scale.
// The transform is bound by its n log2 n additions, so half of the butterflies are issued
// as FMAs with a +-1 factor: a + b = fma(b, 1, a) and a - b = fma(-b, 1, a) round the same
// exact sums (the products are exact), and the add and FMA pipes then both work.
//
// The K x K mix is hadamard_x86.h's on 8-lane vectors; the dtype stores use
// row_kernels_x86.h's conversions.
#include <immintrin.h>

#include <algorithm>

#include "formats/row_kernels_x86.h"
#include "hadamard/hadamard.h"
#include "hadamard/hadamard_x86.h"

namespace qkern {
namespace {

constexpr int kLanes = 8;
constexpr int kLanesLog2 = 3;
constexpr int kBlockLog2 = 12;     // 4096 floats = 16 KB: one cache block of the row
constexpr int kMaxPassLevels = 3;  // radix-8 passes: 8 live vectors of the 16 ymm registers

// ---------------------------------------------------------------- loads

QK_FORCEINLINE __m256 load_row8(const void* x, DType t, int64_t i) {
  switch (t) {
    case DType::kF16: return load8<DType::kF16>(x, i);
    case DType::kBF16: return load8<DType::kBF16>(x, i);
    default: return load8<DType::kF32>(x, i);
  }
}

// The row a first pass reads: x of dtype t, times signs when not null.
struct Source {
  const void* x;
  DType t;
  const float* signs;

  Source at(int64_t i) const {
    return {static_cast<const char*>(x) + i * dtype_size(t), t, signs ? signs + i : nullptr};
  }
  QK_FORCEINLINE __m256 load(int64_t i) const {
    const __m256 v = load_row8(x, t, i);
    return signs ? _mm256_mul_ps(v, _mm256_loadu_ps(signs + i)) : v;
  }
};

// ---------------------------------------------------------------- butterflies

// (a, b) -> (a + b, a - b); on_fma: the same values computed on the FMA pipes.
QK_FORCEINLINE void butterfly(__m256& a, __m256& b, bool on_fma) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sum = on_fma ? _mm256_fmadd_ps(b, one, a) : _mm256_add_ps(a, b);
  b = on_fma ? _mm256_fnmadd_ps(b, one, a) : _mm256_sub_ps(a, b);
  a = sum;
}

// One stage at stride h < 8 inside v: lane i with (i & h) == 0 gets v[i] * 1 + v[i+h],
// lane i + h gets v[i+h] * -1 + v[i] (the permuted copy p supplies the partner).
template <int kH>
QK_FORCEINLINE __m256 stage_in_vector(__m256 v) {
  static_assert(kH == 1 || kH == 2 || kH == 4, "in-vector strides");
  __m256 p, sign;
  if constexpr (kH == 1) {
    p = _mm256_permute_ps(v, 0xB1);
    sign = _mm256_setr_ps(1, -1, 1, -1, 1, -1, 1, -1);
  } else if constexpr (kH == 2) {
    p = _mm256_permute_ps(v, 0x4E);
    sign = _mm256_setr_ps(1, 1, -1, -1, 1, 1, -1, -1);
  } else {
    p = _mm256_permute2f128_ps(v, v, 1);
    sign = _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1);
  }
  return _mm256_fmadd_ps(v, sign, p);
}

QK_FORCEINLINE __m256 stages_in_vector(__m256 v) {
  return stage_in_vector<4>(stage_in_vector<2>(stage_in_vector<1>(v)));
}

// ---------------------------------------------------------------- radix-2^R passes

// Stages at strides h, 2h, ..., 2^(kLevels-1) h (h >= 8, h * 2^kLevels <= len) over
// v[0, len). kFirst: the vectors come from `src` (loaded, signed) and get strides 1, 2, 4
// inside each vector first (then h must be 8). kScale: * scale after the last stage.
template <int kLevels, bool kFirst, bool kScale>
void radix_pass(const Source& src, float* v, int64_t len, int64_t h, __m256 scale) {
  static_assert(kLevels >= 0 && kLevels <= kMaxPassLevels, "levels per pass");
  constexpr int kVecs = 1 << kLevels;
  for (int64_t base = 0; base < len; base += kVecs * h) {
    for (int64_t off = base; off < base + h; off += kLanes) {
      __m256 r[kVecs];
#pragma GCC unroll 8
      for (int j = 0; j < kVecs; ++j)
        r[j] = kFirst ? stages_in_vector(src.load(off + j * h)) : _mm256_loadu_ps(v + off + j * h);
#pragma GCC unroll 8
      for (int s = 1; s < kVecs; s *= 2) {
        int pair = 0;
#pragma GCC unroll 8
        for (int j = 0; j < kVecs; ++j)
          if (!(j & s)) butterfly(r[j], r[j + s], pair++ & 1);
      }
#pragma GCC unroll 8
      for (int j = 0; j < kVecs; ++j)
        _mm256_storeu_ps(v + off + j * h, kScale ? _mm256_mul_ps(r[j], scale) : r[j]);
    }
  }
}

// Runtime levels -> the template above; fails loudly on a value not instantiated.
template <bool kFirst, bool kScale>
void radix_pass_n(int levels, const Source& src, float* v, int64_t len, int64_t h, __m256 scale) {
  switch (levels) {
    case 0: radix_pass<0, kFirst, kScale>(src, v, len, h, scale); return;
    case 1: radix_pass<1, kFirst, kScale>(src, v, len, h, scale); return;
    case 2: radix_pass<2, kFirst, kScale>(src, v, len, h, scale); return;
    case 3: radix_pass<3, kFirst, kScale>(src, v, len, h, scale); return;
  }
  __builtin_trap();
}

// Stages with strides 2^first .. 2^(last-1) over v[0, len) in passes of up to three
// levels (first >= 3). from_src: the first pass reads `src` and also does strides 1, 2,
// 4. The last pass applies the scale when `scaled`.
void run_stages(const Source& src, float* v, int64_t len, int first, int last, bool from_src,
                bool scaled, __m256 scale) {
  while (from_src || first < last) {
    const int levels = std::min(kMaxPassLevels, last - first);
    const bool scale_now = scaled && first + levels == last;
    const int64_t h = int64_t(1) << first;
    if (from_src) {
      scale_now ? radix_pass_n<true, true>(levels, src, v, len, h, scale)
                : radix_pass_n<true, false>(levels, src, v, len, h, scale);
    } else {
      scale_now ? radix_pass_n<false, true>(levels, src, v, len, h, scale)
                : radix_pass_n<false, false>(levels, src, v, len, h, scale);
    }
    from_src = false;
    first += levels;
  }
}

void fwht(const void* x, DType t, const float* signs, int log2_m, float scale, float* v) {
  if (log2_m < kLanesLog2) {
    hadamard_row_kernels_scalar().fwht(x, t, signs, log2_m, scale, v);
    return;
  }
  const Source src{x, t, signs};
  const int64_t m = int64_t(1) << log2_m;
  const int block_log2 = std::min(log2_m, kBlockLog2);
  const int64_t block = int64_t(1) << block_log2;
  const bool scaled = scale != 1.0f;
  const __m256 vscale = _mm256_set1_ps(scale);
  const bool blocked = block_log2 < log2_m;
  for (int64_t b = 0; b < m; b += block)
    run_stages(src.at(b), v + b, block, kLanesLog2, block_log2, true, scaled && !blocked, vscale);
  if (blocked) run_stages(src, v, m, block_log2, log2_m, false, scaled, vscale);
}

// ---------------------------------------------------------------- K x K mix

// 8 fp32 lanes for hadamard_x86.h's mix.
struct Avx2Vec {
  using T = __m256;
  static constexpr int kLanes = 8;
  static QK_FORCEINLINE T load(const float* p) { return _mm256_loadu_ps(p); }
  static QK_FORCEINLINE void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static QK_FORCEINLINE T set1(float f) { return _mm256_set1_ps(f); }
  static QK_FORCEINLINE T add(T a, T b) { return _mm256_add_ps(a, b); }
  static QK_FORCEINLINE T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static QK_FORCEINLINE T fmadd(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
};

// ---------------------------------------------------------------- store

void store(const float* src, const float* signs, int64_t n, void* out, DType t) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    __m256 v = _mm256_loadu_ps(src + i);
    if (signs) v = _mm256_mul_ps(v, _mm256_loadu_ps(signs + i));
    switch (t) {
      case DType::kF16:
        _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(out) + i), f32x8_to_f16(v));
        break;
      case DType::kBF16:
        _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(out) + i), f32x8_to_bf16(v));
        break;
      default: _mm256_storeu_ps(static_cast<float*>(out) + i, v); break;
    }
  }
  for (; i < n; ++i) store_one(out, t, i, signs ? src[i] * signs[i] : src[i]);
}

}  // namespace

const HadamardRowKernels& hadamard_row_kernels_avx2() {
  static const HadamardRowKernels k{fwht, mix_plan_level<Avx2Vec, hadamard_row_kernels_scalar>,
                                    mix_level<Avx2Vec, hadamard_row_kernels_scalar>, store};
  return k;
}

}  // namespace qkern
