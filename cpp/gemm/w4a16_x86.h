// Pieces shared by the x86 W4A16 kernel files (w4a16_kernels_avx2.cpp, _avx512.cpp):
// the 8-channel scale and zero-point decoders, the GEMV partial-sum chains (templated on
// the level's vector ops) and the (scale kind, zero point) dispatch. Everything is in an
// anonymous namespace: each including file gets its own copy, compiled with its own -m
// flags, so no AVX-512 code can be linked into the AVX2 path (one definition rule).
// Needs AVX2+FMA+F16C.
//
// Scale decoders (8 channels at once) reproduce the codecs of qkern/codecs.h bit for bit:
//   E8M0  bits = e << 23 for e in 1..254; e = 0 -> 0x00400000 (2^-127), e = 255 -> NaN.
//   E4M3  the layout's unsigned codes (w4_cpu_e4m3_scale: 0x00..0x7E, NaN as 0xFF):
//         c << 7 is the fp16 of e4m3(c) * 2^-8, subnormals included (both formats put the
//         exponent right above the mantissa), and 0xFF << 7 an fp16 NaN; F16C converts,
//         one multiply by 256 * d restores the value and applies the global scale in a
//         single rounding, as e4m3_to_f32(c) * d does.
#pragma once
#include <immintrin.h>

#include <utility>

#include "gemm/w4a16_kernels.h"

namespace qkern {
namespace {

// PSHUFB tables: low / high byte of each code's bf16 bits (W4Weights::table).
struct W4ByteTables {
  __m128i lo, hi;
};

inline W4ByteTables w4_byte_tables(const W4Weights& w) {
  alignas(16) uint8_t lo[16], hi[16];
  for (int c = 0; c < 16; ++c) {
    lo[c] = uint8_t(w.table[c] & 0xFF);
    hi[c] = uint8_t(w.table[c] >> 8);
  }
  return {_mm_load_si128(reinterpret_cast<const __m128i*>(lo)),
          _mm_load_si128(reinterpret_cast<const __m128i*>(hi))};
}

template <W4ScaleKind SK>
constexpr int kScaleBytes = SK == W4ScaleKind::kF32 ? 4 : (SK == W4ScaleKind::kE8m0 || SK == W4ScaleKind::kE4m3) ? 1 : 2;

// The 8 scales at p as fp32; mul256 = 256 * scale_mul (E4M3 only).
template <W4ScaleKind SK>
QK_FORCEINLINE __m256 load_scales(const uint8_t* p, __m256 mul256) {
  if constexpr (SK == W4ScaleKind::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  } else if constexpr (SK == W4ScaleKind::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else if constexpr (SK == W4ScaleKind::kBF16) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
  } else if constexpr (SK == W4ScaleKind::kE8m0) {
    const __m256i e = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m256i edge = _mm256_or_si256(_mm256_cmpeq_epi32(e, _mm256_setzero_si256()),
                                         _mm256_cmpeq_epi32(e, _mm256_set1_epi32(255)));
    const __m256i bits = _mm256_or_si256(_mm256_slli_epi32(e, 23),
                                         _mm256_and_si256(edge, _mm256_set1_epi32(0x00400000)));
    return _mm256_castsi256_ps(bits);
  } else {
    const __m128i c = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_mul_ps(_mm256_cvtph_ps(_mm_slli_epi16(c, 7)), mul256);
  }
}

// 8 - zero for the 8 channels at p.
QK_FORCEINLINE __m256 load_zero_offsets(const uint8_t* p) {
  const __m256i z = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  return _mm256_sub_ps(_mm256_set1_ps(8.0f), _mm256_cvtepi32_ps(z));
}

// The 16 scales (of `bytes` bytes each) and zero points of strip t in group g.
QK_FORCEINLINE const uint8_t* scale_at(const W4Weights& w, int64_t t, int64_t g, int bytes) {
  return w.scale + (t * w.groups + g) * kW4TileN * bytes;
}
QK_FORCEINLINE const uint8_t* zero_at(const W4Weights& w, int64_t t, int64_t g) {
  return w.zero + (t * w.groups + g) * kW4TileN;
}

// Up to eight fp32 vectors of partial sums, named rather than an array: GCC keeps vector
// arrays of a kernel's accumulators in memory and stores them on every iteration. A level
// uses the first Ops::kChains (AVX2 4 of its 16 ymm, AVX-512 8 of its 32 zmm); the others
// stay zero and are never read. Ops: the level's vector type V, kChains and
// zero / fmadd_bcast(x*, w, acc) = acc + x[0] * w / add.
template <class Ops>
struct W4Chains {
  using V = typename Ops::V;
  V c0, c1, c2, c3, c4, c5, c6, c7;
};

template <int J, class Ops>
QK_FORCEINLINE typename Ops::V& w4_chain(W4Chains<Ops>& ch) {
  static_assert(J >= 0 && J < Ops::kChains && J < 8, "chain index");
  if constexpr (J == 0) return ch.c0;
  else if constexpr (J == 1) return ch.c1;
  else if constexpr (J == 2) return ch.c2;
  else if constexpr (J == 3) return ch.c3;
  else if constexpr (J == 4) return ch.c4;
  else if constexpr (J == 5) return ch.c5;
  else if constexpr (J == 6) return ch.c6;
  else return ch.c7;
}

// Chains per row for MR rows: all of the level's chains shared out (P * MR <= kChains).
template <class Ops, int MR>
constexpr int kW4ChainsPerRow = MR >= Ops::kChains ? 1 : Ops::kChains / MR;

// Input v of a tile into the chains of rows 0..MR-1 (x of row i at xr[i]): row i, input v
// goes to chain i * P + v % P.
template <int MR, int P, int V, class Ops, int... I>
QK_FORCEINLINE void w4_fma_input(W4Chains<Ops>& ch, const float* const* xr, typename Ops::V w,
                                 std::integer_sequence<int, I...>) {
  ((w4_chain<I * P + V % P>(ch) = Ops::fmadd_bcast(xr[I] + V, w, w4_chain<I * P + V % P>(ch))),
   ...);
}

// The tile's inputs (wv[v], lanes = channels) into the chains of rows 0..MR-1.
template <int MR, int P, class Ops, int... V>
QK_FORCEINLINE void w4_fma_tile(W4Chains<Ops>& ch, const float* const* xr,
                                const typename Ops::V* wv, std::integer_sequence<int, V...>) {
  (w4_fma_input<MR, P, V>(ch, xr, wv[V], std::make_integer_sequence<int, MR>()), ...);
}

// Sum of row i's P chains, in chain order.
template <int P, class Ops>
QK_FORCEINLINE typename Ops::V w4_row_sum(const W4Chains<Ops>& ch, int i) {
  const typename Ops::V c[8] = {ch.c0, ch.c1, ch.c2, ch.c3, ch.c4, ch.c5, ch.c6, ch.c7};
  typename Ops::V sum = c[i * P];
  for (int q = 1; q < P; ++q) sum = Ops::add(sum, c[i * P + q]);
  return sum;
}

// GEMV rows mr (1..kW4GemvMaxM) -> Rows::run<MR1, MR2>(args...), which does rows 0..MR1-1
// and then MR1..MR1+MR2-1 (MR2 may be 0) of each strip: passes of at most Block rows
// (the level's register budget), each with its own instantiation.
template <int Block, class Rows, class... Args>
void w4_gemv_row_split(int mr, Args... args) {
  static_assert(kW4GemvMaxM == 8 && (Block == 4 || Block == 8), "one instantiation per row count");
  switch (mr) {
    case 1: return Rows::template run<1, 0>(args...);
    case 2: return Rows::template run<2, 0>(args...);
    case 3: return Rows::template run<3, 0>(args...);
    case 4: return Rows::template run<4, 0>(args...);
  }
  if constexpr (Block == 8) {
    switch (mr) {
      case 5: return Rows::template run<5, 0>(args...);
      case 6: return Rows::template run<6, 0>(args...);
      case 7: return Rows::template run<7, 0>(args...);
      default: return Rows::template run<8, 0>(args...);
    }
  } else {
    switch (mr) {
      case 5: return Rows::template run<4, 1>(args...);
      case 6: return Rows::template run<4, 2>(args...);
      case 7: return Rows::template run<4, 3>(args...);
      default: return Rows::template run<4, 4>(args...);
    }
  }
}

// Runtime (scale kind, zero point) -> one instantiation of F. E8M0/E4M3 scales come only
// with symmetric formats (MXFP4, NVFP4).
#define QK_W4_DISPATCH(w, F, ...)                                                        \
  switch ((w).scale_kind) {                                                              \
    case W4ScaleKind::kF32:                                                              \
      return (w).zero ? F<W4ScaleKind::kF32, true>(__VA_ARGS__)                          \
                      : F<W4ScaleKind::kF32, false>(__VA_ARGS__);                        \
    case W4ScaleKind::kF16:                                                              \
      return (w).zero ? F<W4ScaleKind::kF16, true>(__VA_ARGS__)                          \
                      : F<W4ScaleKind::kF16, false>(__VA_ARGS__);                        \
    case W4ScaleKind::kBF16:                                                             \
      return (w).zero ? F<W4ScaleKind::kBF16, true>(__VA_ARGS__)                         \
                      : F<W4ScaleKind::kBF16, false>(__VA_ARGS__);                       \
    case W4ScaleKind::kE8m0: return F<W4ScaleKind::kE8m0, false>(__VA_ARGS__);           \
    case W4ScaleKind::kE4m3: return F<W4ScaleKind::kE4m3, false>(__VA_ARGS__);           \
  }

}  // namespace
}  // namespace qkern
