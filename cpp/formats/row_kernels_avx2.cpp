// AVX2+FMA+F16C loops of RowKernels. Compiled with -mavx2 -mfma -mf16c (the _avx2.cpp
// suffix); entered only when active_isa() == Isa::kAvx2.
//
// Exactness: every entry produces the bytes of row_kernels_scalar.cpp. The vector code
// performs the same IEEE operations in the same order as the scalar codecs (no FMA: the
// project builds with -ffp-contract=off and no _mm256_fmadd is used; _mm256_div_ps where
// the scalar code divides, except where only the integer a quotient rounds to is kept and
// round_quotient8 proves the reciprocal's result equal; _mm256_round_ps
// (_MM_FROUND_TO_NEAREST_INT) for rintf), and
// picks min/max operand order so that NaN lanes behave like fminf/fmaxf where the scalar
// code can see a NaN. Tails (n not a multiple of the vector step) run the scalar table on
// the remaining elements, so the tail code is the definition itself.
//
// Lane layouts:
//   * 4-bit codes: 8 elements = 4 bytes; element 2j in the low nibble of byte j. Decoders
//     broadcast the 32-bit word to all lanes and shift lane i right by 4*i (nibbles8).
//   * Encoders produce one code per int32 lane and pack 16 lanes into 8 bytes
//     (pack_nibbles16).
//   * f16/bf16 outputs of the 4-bit decoders go by per-block tables of the 16 possible
//     16-bit values where a table pays (Table16): 32 codes per step, 16 per 128-bit lane.
//
// Only always-inline helpers from the shared headers are used here (codecs.h, recipes.h),
// never a plain `inline` function: an out-of-line copy of such a function emitted from
// this AVX2 translation unit could be the one the linker keeps for the portable code too.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "formats/row_kernels.h"

namespace qkern {
namespace {

template <DType T>
using DTypeTag = std::integral_constant<DType, T>;

// Calls fn(DTypeTag<t>{}) for the float dtypes f32/f16/bf16, so that the element type is
// a compile-time constant in the vector loops.
template <class Fn>
QK_FORCEINLINE void dispatch_float_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF16: fn(DTypeTag<DType::kF16>{}); break;
    case DType::kBF16: fn(DTypeTag<DType::kBF16>{}); break;
    default: fn(DTypeTag<DType::kF32>{}); break;
  }
}

template <DType T>
constexpr int kElemBytes = T == DType::kF32 ? 4 : 2;

template <DType T, class P>
QK_FORCEINLINE P* advance(P* base, int64_t elements) {
  using Byte = std::conditional_t<std::is_const_v<P>, const char, char>;
  return reinterpret_cast<P*>(reinterpret_cast<Byte*>(base) + elements * kElemBytes<T>);
}

const RowKernels& scalar() { return row_kernels_scalar(); }

// ---------------------------------------------------------------- 8-lane load / store

// src[i..i+7] of dtype T -> fp32 (exact: F16C is exact for every fp16 value, bf16 is
// the upper half of an fp32). A signalling fp16 NaN loads quieted; only its NaN-ness is
// observable (the encoders never see a NaN, see quantize.cpp).
template <DType T>
QK_FORCEINLINE __m256 load8(const void* src, int64_t i) {
  if constexpr (T == DType::kF32) {
    return _mm256_loadu_ps(static_cast<const float*>(src) + i);
  } else {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(src) + i));
    if constexpr (T == DType::kF16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

// The output conversions take Is_nan_free = true only where no lane can be NaN; they then
// skip the NaN handling.

// f32_to_bf16 of codecs.h on 8 lanes: round to nearest even in integer arithmetic
// (x + 0x7FFF + lsb) >> 16; NaN -> 0x7FC0. The 16-bit results are packed in order.
template <bool Is_nan_free = false>
QK_FORCEINLINE __m128i f32x8_to_bf16(__m256 v) {
  const __m256i x = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7FFF)), lsb), 16);
  if constexpr (!Is_nan_free)
    r = _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7FC0), _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
  // Lanes hold values <= 0xFFFF, so the signed-to-unsigned saturating pack is exact.
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

// f32_to_f16 of codecs.h on 8 lanes: F16C with round-to-nearest-even gives the same
// bits for every non-NaN value (overflow to Inf, fp16 subnormals); NaN lanes are first
// replaced by the quiet NaN of their sign, which converts to sign|0x7E00 like the codec.
template <bool Is_nan_free = false>
QK_FORCEINLINE __m128i f32x8_to_f16(__m256 v) {
  if constexpr (!Is_nan_free) {
    const __m256 sign = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(int(0x80000000u))));
    const __m256 qnan = _mm256_or_ps(sign, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000)));
    v = _mm256_blendv_ps(v, qnan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// 8 lanes -> their 16-bit codes (T = f16 or bf16), in order.
template <DType T, bool Is_nan_free = false>
QK_FORCEINLINE __m128i f32x8_to_16bit(__m256 v) {
  return T == DType::kF16 ? f32x8_to_f16<Is_nan_free>(v) : f32x8_to_bf16<Is_nan_free>(v);
}

template <DType T, bool Is_nan_free = false>
QK_FORCEINLINE void store8(void* dst, int64_t i, __m256 v) {
  if constexpr (T == DType::kF32) {
    _mm256_storeu_ps(static_cast<float*>(dst) + i, v);
  } else {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(dst) + i),
                     f32x8_to_16bit<T, Is_nan_free>(v));
  }
}

// ---------------------------------------------------------------- small vector helpers

QK_FORCEINLINE __m256 abs8(__m256 v) {
  return _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_set1_epi32(int(0x80000000u))), v);
}

// All-ones in lanes holding NaN or +-Inf (exponent field all ones).
QK_FORCEINLINE __m256i nonfinite8(__m256 v) {
  const __m256i exp = _mm256_set1_epi32(0x7F800000);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v), exp), exp);
}

// op over the 8 lanes of v (op: _mm_min_ps or _mm_max_ps; lanes are not NaN).
template <class Op>
QK_FORCEINLINE float hreduce8(__m256 v, Op op) {
  __m128 m = op(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = op(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(op(m, _mm_movehdup_ps(m)));
}
QK_FORCEINLINE float hmax8(__m256 v) { return hreduce8(v, [](__m128 a, __m128 b) { return _mm_max_ps(a, b); }); }
QK_FORCEINLINE float hmin8(__m256 v) { return hreduce8(v, [](__m128 a, __m128 b) { return _mm_min_ps(a, b); }); }

QK_FORCEINLINE __m256 round_even8(__m256 v) {
  return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// round_even(x / s) on 8 lanes for encoders that clamp it into [-255, 255] (INT8: +-127;
// INT4: rint + zero into 0..15), mostly without dividing. With r = 1/s a normal fp32
// number, y = x * r is within |x / s| * 3 * 2^-24 (three roundings) of the rounded quotient
// q = x / s: below 2^-14 while |y| <= 256. So where y lies farther than 2^-14 from every
// half-integer, rint(y) = rint(q) (both carry x's sign, as s, r > 0), or |y| > 256 and
// then |q| > 255.99: both are integers beyond 255 of the same sign and clamp alike. If any
// lane fails the test (a tie or near-tie, NaN, Inf) the 8 lanes divide, as the scalar
// codec does. reciprocal8 gives r, or NaN (always divide) when 1/s is not normal.
QK_FORCEINLINE __m256 reciprocal8(float s) {
  const float r = 1.0f / s;
  return _mm256_set1_ps(r >= 0x1p-126f && r <= 0x1.fffffep127f ? r : __builtin_nanf(""));
}

QK_FORCEINLINE __m256 round_quotient8(__m256 x, __m256 s, __m256 r) {
  const __m256 y = _mm256_mul_ps(x, r);
  const __m256 ry = round_even8(y);
  const __m256 off = abs8(_mm256_sub_ps(y, ry));  // exact; NaN for NaN/Inf lanes
  if (_mm256_movemask_ps(_mm256_cmp_ps(off, _mm256_set1_ps(0.5f - 0x1p-14f), _CMP_LT_OQ)) == 0xFF) return ry;
  return round_even8(_mm256_div_ps(x, s));
}

// 8 codes of 4 bits (the 4 bytes at q) -> lane i holds code i in bits 3..0; the bits above
// are the following codes (callers that need the bare code mask with 0xF).
QK_FORCEINLINE __m256i nibbles8(const uint8_t* q) {
  int32_t word;
  __builtin_memcpy(&word, q, 4);
  return _mm256_srlv_epi32(_mm256_set1_epi32(word), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
}

// 16 codes 0..15 in 16-bit lanes, in the order _mm256_packs_epi32(c0, c1) leaves those of
// elements 0..7 (c0) and 8..15 (c1): per 128-bit half, 4 of c0 then 4 of c1 -> 8 bytes
// at q, element 2j in the low nibble of byte j.
//   packus_epi16 keeps each half's elements in groups of 4, so adjacent pairs (2j, 2j+1)
//   stay adjacent; maddubs then forms lo + 16*hi per pair; the final unpack interleaves
//   the two 128-bit halves back into element order.
QK_FORCEINLINE void pack_nibble_words16(__m256i w, uint8_t* q) {
  const __m256i b = _mm256_packus_epi16(w, w);
  const __m256i pairs = _mm256_maddubs_epi16(b, _mm256_set1_epi16(0x1001));  // lo*1 + hi*16
  const __m256i bytes = _mm256_packus_epi16(pairs, pairs);
  // bytes lane0: [c0 01, c0 23, c1 01, c1 23], lane1: [c0 45, c0 67, c1 45, c1 67]
  const __m128i out = _mm_unpacklo_epi16(_mm256_castsi256_si128(bytes), _mm256_extracti128_si256(bytes, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(q), out);
}

// 16 codes 0..15 (elements 0..7 in c0, 8..15 in c1, one per int32 lane) -> 8 bytes at q.
QK_FORCEINLINE void pack_nibbles16(__m256i c0, __m256i c1, uint8_t* q) {
  pack_nibble_words16(_mm256_packs_epi32(c0, c1), q);
}

// 8 int32 lanes in [-128, 127] -> 8 int8 at q (the packs saturate as signed).
QK_FORCEINLINE void pack_bytes8(__m256i v, void* q) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64(static_cast<__m128i*>(q), _mm_packs_epi16(w, w));
}

// ---------------------------------------------------------------- codecs on 8 lanes

// f32_to_e2m1 of codecs.h on 16 lanes (x0: elements 0..7, x1: 8..15; no NaN, the codec's
// precondition): the code is the number of rounding boundaries below |x|, plus the sign
// bit in bit 3, one code per 16-bit lane in pack_nibble_words16's order. The boundaries
// have 2 mantissa bits, so their low 16 bits are zero and |x| compares with them on its
// upper 16 bits: |x| >= c iff floor(|x| / 2^16) >= c / 2^16, and |x| > c iff
// ceil(|x| / 2^16) > c / 2^16 (as fp32 bit patterns; Inf is above every boundary). In
// 16-bit lanes one compare covers 16 elements.
QK_FORCEINLINE __m256i f32x16_to_e2m1(__m256 x0, __m256 x1) {
  const __m256i b0 = _mm256_castps_si256(x0), b1 = _mm256_castps_si256(x1);
  // upper halves with the sign (exact in int16): sign | exponent | 7 mantissa bits
  const __m256i upper = _mm256_packs_epi32(_mm256_srai_epi32(b0, 16), _mm256_srai_epi32(b1, 16));
  const __m256i floor16 = _mm256_and_si256(upper, _mm256_set1_epi16(0x7FFF));
  const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF), round_up = _mm256_set1_epi32(0xFFFF);
  auto ceil_upper = [&](__m256i b) {
    return _mm256_srli_epi32(_mm256_add_epi32(_mm256_and_si256(b, magnitude), round_up), 16);
  };
  const __m256i ceil16 = _mm256_packus_epi32(ceil_upper(b0), ceil_upper(b1));  // <= 0x7F80
  auto ge = [&](int16_t c) { return _mm256_cmpgt_epi16(floor16, _mm256_set1_epi16(int16_t(c - 1))); };
  auto gt = [&](int16_t c) { return _mm256_cmpgt_epi16(ceil16, _mm256_set1_epi16(c)); };
  // each comparison mask is -1 where true; upper bits of the boundaries:
  // 0.25 0x3E80, 0.75 0x3F40, 1.25 0x3FA0, 1.75 0x3FE0, 2.5 0x4020, 3.5 0x4060, 5 0x40A0
  __m256i code = _mm256_and_si256(_mm256_srli_epi16(upper, 12), _mm256_set1_epi16(8));
  code = _mm256_sub_epi16(code, _mm256_add_epi16(gt(0x3E80), ge(0x3F40)));
  code = _mm256_sub_epi16(code, _mm256_add_epi16(gt(0x3FA0), ge(0x3FE0)));
  code = _mm256_sub_epi16(code, _mm256_add_epi16(gt(0x4020), ge(0x4060)));
  return _mm256_sub_epi16(code, gt(0x40A0));
}

// e2m1_to_f32 of codecs.h for the code in bits 3..0 of each lane (higher bits ignored).
// permutevar8x32 reads bits 2..0 (the magnitude); code << 28 puts bit 3 on the fp32 sign
// but also bits 2..0 on bits 30..28, so the table entries carry those same bits xor-ed in
// beforehand and the xor cancels them: table[m] = bits(mag(m)) ^ (m << 28).
QK_FORCEINLINE __m256 e2m1x8_to_f32(__m256i code) {
  const __m256i mag = _mm256_setr_epi32(0x00000000, 0x3F000000, 0x3F800000, 0x3FC00000,   // 0 .5 1 1.5
                                        0x40000000, 0x40400000, 0x40800000, 0x40C00000);  // 2 3 4 6
  const __m256i table = _mm256_xor_si256(mag, _mm256_setr_epi32(0 << 28, 1 << 28, 2 << 28, 3 << 28,
                                                                4 << 28, 5 << 28, 6 << 28, 7 << 28));
  const __m256i v = _mm256_permutevar8x32_epi32(table, code);
  return _mm256_castsi256_ps(_mm256_xor_si256(v, _mm256_slli_epi32(code, 28)));
}

// f32_to_e4m3 of codecs.h on 8 lanes; one int32 code (0..255) per lane.
QK_FORCEINLINE __m256i f32x8_to_e4m3(__m256 f) {
  const __m256i x = _mm256_castps_si256(f);
  const __m256i sign = _mm256_and_si256(_mm256_srli_epi32(x, 24), _mm256_set1_epi32(0x80));
  const __m256i ax = _mm256_and_si256(x, _mm256_set1_epi32(0x7FFFFFFF));
  // normal: round the mantissa to 3 bits; ((r >> 23) - 120) << 3 | (r >> 20) & 7 equals
  // (r >> 20) - (120 << 3).
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(ax, 20), _mm256_set1_epi32(1));
  const __m256i r = _mm256_add_epi32(_mm256_add_epi32(ax, _mm256_set1_epi32(0x7FFFF)), lsb);
  __m256i code = _mm256_sub_epi32(_mm256_srli_epi32(r, 20), _mm256_set1_epi32(120 << 3));
  // below 2^-6: an integer count of 2^-9 (exact product, then rint)
  const __m256i sub = _mm256_cvtps_epi32(round_even8(_mm256_mul_ps(_mm256_castsi256_ps(ax), _mm256_set1_ps(512.0f))));
  code = _mm256_blendv_epi8(code, sub, _mm256_cmpgt_epi32(_mm256_set1_epi32(0x3C800000), ax));
  code = _mm256_blendv_epi8(code, _mm256_set1_epi32(0x7E), _mm256_cmpgt_epi32(ax, _mm256_set1_epi32(0x43DFFFFF)));
  code = _mm256_blendv_epi8(code, _mm256_set1_epi32(0x7F), _mm256_cmpgt_epi32(ax, _mm256_set1_epi32(0x7F800000)));
  return _mm256_or_si256(code, sign);
}

// e4m3_to_f32 of codecs.h: the 7 magnitude bits e|mmm moved to fp32 bits 26..20 read as
// 2^(e-127) * (1 + m/8) for e > 0 and as the subnormal m * 2^-129 for e = 0; times 2^120
// (exact, a power of two) that is 2^(e-7) * (1 + m/8), resp. m * 2^-9. 0x7F/0xFF are NaN.
QK_FORCEINLINE __m256 e4m3x8_to_f32(__m256i code) {
  const __m256i mag = _mm256_and_si256(code, _mm256_set1_epi32(0x7F));
  __m256 v = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(mag, 20)), _mm256_set1_ps(0x1p120f));
  v = _mm256_blendv_ps(v, _mm256_set1_ps(__builtin_nanf("")),
                       _mm256_castsi256_ps(_mm256_cmpeq_epi32(mag, _mm256_set1_epi32(0x7F))));
  const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(code, _mm256_set1_epi32(0x80)), 24);
  return _mm256_xor_ps(v, _mm256_castsi256_ps(sign));
}

// ---------------------------------------------------------------- RowKernels entries

void load_f32(const void* src, DType t, int64_t n, float* dst) {
  dispatch_float_dtype(t, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8<T>(src, i));
    if (i < n) scalar().load_f32(advance<T>(src, i), t, n - i, dst + i);
  });
}

// One pass keeps lo and hi per lane, and x - x, which is +0 for a finite x and NaN for
// NaN/Inf, OR-ed into `bad`. For a finite block max|x| = max(hi, -lo); the comparison
// against +0 turns an all-zero block's -0 into the scalar code's +0. lo/hi match the
// scalar fminf/fmaxf fold up to the sign of a zero, which the recipes erase (they clamp
// lo/hi against +0 with fminf/fmaxf).
BlockStats block_stats(const float* x, int64_t n) {
  if (n < 8) return scalar().block_stats(x, n);
  __m256 v = _mm256_loadu_ps(x);
  __m256 lo = v, hi = v, bad = _mm256_sub_ps(v, v);
  int64_t i = 8;
  for (; i + 8 <= n; i += 8) {
    v = _mm256_loadu_ps(x + i);
    lo = _mm256_min_ps(v, lo);
    hi = _mm256_max_ps(v, hi);
    bad = _mm256_or_ps(bad, _mm256_sub_ps(v, v));
  }
  BlockStats s{0.0f, hmin8(lo), hmax8(hi), _mm256_testz_si256(_mm256_castps_si256(bad), _mm256_castps_si256(bad)) != 0};
  if (i < n) {
    const BlockStats t = scalar().block_stats(x + i, n - i);
    s = {0.0f, s.lo < t.lo ? s.lo : t.lo, s.hi > t.hi ? s.hi : t.hi, s.finite && t.finite};
  }
  const float m = s.hi > -s.lo ? s.hi : -s.lo;
  s.amax = m > 0.0f ? m : 0.0f;
  return s;
}

// First the max of |x| as bits (int32 order is float order for non-negative floats, and
// NaN > Inf > finite): when it is finite, it is the answer; otherwise a second pass skips
// the non-finite lanes.
float finite_amax(const void* src, DType t, int64_t n) {
  float m = 0.0f;
  dispatch_float_dtype(t, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i bits = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      bits = _mm256_max_epi32(bits, _mm256_and_si256(_mm256_castps_si256(load8<T>(src, i)), magnitude));
    __m256 acc = _mm256_castsi256_ps(bits);
    if (_mm256_movemask_epi8(_mm256_cmpgt_epi32(bits, _mm256_set1_epi32(0x7F7FFFFF))) != 0) {
      acc = _mm256_setzero_ps();
      for (i = 0; i + 8 <= n; i += 8) {
        const __m256 v = load8<T>(src, i);
        acc = _mm256_max_ps(acc, _mm256_andnot_ps(_mm256_castsi256_ps(nonfinite8(v)), abs8(v)));
      }
    }
    m = hmax8(acc);
    if (i < n) {
      const float tail = scalar().finite_amax(advance<T>(src, i), t, n - i);
      m = tail > m ? tail : m;
    }
  });
  return m;
}

// Also inlined into encode8 (one call per block).
QK_FORCEINLINE void encode_int4(const float* x, int64_t n, Int4Params p, uint8_t* q) {
  int64_t i = 0;
  if (p.scale != 0.0f) {
    const __m256 s = _mm256_set1_ps(p.scale), r = reciprocal8(p.scale), z = _mm256_set1_ps(p.zero);
    const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(15.0f);
    auto code8 = [&](int64_t j) {
      __m256 v = _mm256_add_ps(round_quotient8(_mm256_loadu_ps(x + j), s, r), z);
      // max(v, lo) returns lo for a NaN v, like fmaxf(NaN, 0) in int4_encode.
      return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
    };
    for (; i + 16 <= n; i += 16) pack_nibbles16(code8(i), code8(i + 8), q + (i >> 1));
  }
  if (i < n) scalar().encode_int4(x + i, n - i, p, q + i / 2);
}

// Codes of the 16 elements at x scaled by f -> 8 bytes at q.
QK_FORCEINLINE void encode_e2m1_16(const float* x, __m256 f, uint8_t* q) {
  pack_nibble_words16(f32x16_to_e2m1(_mm256_mul_ps(_mm256_loadu_ps(x), f), _mm256_mul_ps(_mm256_loadu_ps(x + 8), f)),
                      q);
}

void encode_e2m1(const float* x, int64_t n, float factor, uint8_t* q) {
  const __m256 f = _mm256_set1_ps(factor);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) encode_e2m1_16(x + i, f, q + (i >> 1));
  if (i < n) scalar().encode_e2m1(x + i, n - i, factor, q + i / 2);
}

void encode_int8(const float* x, int64_t n, float scale, int8_t* q) {
  int64_t i = 0;
  if (scale != 0.0f) {
    const __m256 s = _mm256_set1_ps(scale), r = reciprocal8(scale);
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    for (; i + 8 <= n; i += 8) {
      const __m256 v = round_quotient8(_mm256_loadu_ps(x + i), s, r);
      pack_bytes8(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi)), q + i);
    }
  }
  if (i < n) scalar().encode_int8(x + i, n - i, scale, q + i);
}

void encode_fp8(const float* x, int64_t n, float scale, uint8_t* q) {
  int64_t i = 0;
  if (scale != 0.0f) {
    const __m256 s = _mm256_set1_ps(scale);
    // Codes are 0..255: the signed saturating pack of pack_bytes8 would clamp codes above
    // 127, so pack to 16 bits unsigned first.
    for (; i + 8 <= n; i += 8) {
      const __m256i c = f32x8_to_e4m3(_mm256_div_ps(_mm256_loadu_ps(x + i), s));
      const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packus_epi16(w, w));
    }
  }
  if (i < n) scalar().encode_fp8(x + i, n - i, scale, q + i);
}

// ---------------------------------------------------------------- block quantization
//
// Eight blocks at a time, one block per lane: per-block amax by a transposing reduction,
// the scale rules of recipes.h on the 8 lanes (the same IEEE operations in the same order,
// on finite statistics only), then each block's codes by the encoders above with its
// lane's factor. Batches holding a non-finite block, the last nb % 8 blocks, INT4
// asymmetric, per-row formats and long blocks go through quantize_blocks_with (the
// definition) on this table.

// r[j] = op over the 8 lanes of v[j]: pairs, then quads within each 128-bit half, then
// the two halves.
template <class Op>
QK_FORCEINLINE __m256i reduce8x8(const __m256i* v, Op op) {
  auto pairs = [&](__m256i a, __m256i b) {  // per half: [a, b, a, b]
    return op(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
  };
  auto quads = [&](__m256i a, __m256i b) {  // per half: [v0, v1, v2, v3] of a's and b's pairs
    return op(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
  };
  const __m256i lo = quads(pairs(v[0], v[1]), pairs(v[2], v[3]));
  const __m256i hi = quads(pairs(v[4], v[5]), pairs(v[6], v[7]));
  return op(_mm256_permute2x128_si256(lo, hi, 0x20), _mm256_permute2x128_si256(lo, hi, 0x31));
}

// Lane j: the fp32 bits of max |x| over block j of 8 consecutive blocks of kBlock elements
// (block % 8 == 0; kBlock 0: `block`, a run-time value). Non-negative floats order as their
// bits (as int32), and NaN > Inf > every finite value, so the block is finite iff its lane
// is below 0x7F800000, and then the lane is the block's amax (+0 for an all-zero block,
// as block_stats gives).
template <int kBlock>
QK_FORCEINLINE __m256i block_amax_bits8(const float* x, int64_t block) {
  if constexpr (kBlock > 0) block = kBlock;
  const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
  __m256i v[8];
  for (int j = 0; j < 8; ++j) {
    const float* xj = x + j * block;
    __m256i m = _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(xj)), magnitude);
    for (int64_t i = 8; i < block; i += 8)
      m = _mm256_max_epi32(m, _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(xj + i)), magnitude));
    v[j] = m;
  }
  return reduce8x8(v, [](__m256i a, __m256i b) { return _mm256_max_epi32(a, b); });
}

// 8 int32 lanes holding 0..255 -> 8 bytes at q.
QK_FORCEINLINE void store_bytes8(__m256i v, void* q) {
  const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64(static_cast<__m128i*>(q), _mm_packus_epi16(w, w));
}

// The E8M0 codes of 8 finite amax (bits): mx_scale_floor / mx_scale_rceil.
QK_FORCEINLINE __m256i mx_scale8(__m256i amax_bits, bool rceil) {
  if (!rceil)  // floor(log2(amax)) - 2 + 127 from the exponent field, >= 0 (<= 252: finite)
    return _mm256_max_epi32(_mm256_sub_epi32(_mm256_srli_epi32(amax_bits, 23), _mm256_set1_epi32(kE2m1MaxExp)),
                            _mm256_setzero_si256());
  // e8m0_ceil(amax / 6): field + (mantissa != 0), at most 254; subnormal v: 1 above 2^-127
  const __m256i b = _mm256_castps_si256(_mm256_div_ps(_mm256_castsi256_ps(amax_bits), _mm256_set1_ps(kE2m1Max)));
  const __m256i field = _mm256_srli_epi32(b, 23);
  const __m256i exact = _mm256_cmpeq_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7FFFFF)), _mm256_setzero_si256());
  const __m256i normal = _mm256_min_epi32(_mm256_add_epi32(_mm256_add_epi32(field, _mm256_set1_epi32(1)), exact),
                                          _mm256_set1_epi32(254));
  const __m256i subnormal = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_cmpgt_epi32(b, _mm256_set1_epi32(0x00400000)));
  return _mm256_blendv_epi8(normal, subnormal, _mm256_cmpeq_epi32(field, _mm256_setzero_si256()));
}

// mx_element_factor of 8 E8M0 codes (0..254): 2^(127 - code), subnormal 2^-127 for 254.
QK_FORCEINLINE __m256 mx_factor8(__m256i code) {
  const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_set1_epi32(254), code), 23);
  const __m256i tiny = _mm256_and_si256(_mm256_cmpeq_epi32(code, _mm256_set1_epi32(254)), _mm256_set1_epi32(0x00400000));
  return _mm256_castsi256_ps(_mm256_or_si256(normal, tiny));
}

// Codes of 8 consecutive E2M1 blocks of kBlock elements, block j scaled by factor[j]. The
// block size is a constant so that the loops unroll and the encoder's constants stay in
// registers across blocks.
template <int kBlock>
QK_FORCEINLINE void encode_e2m1_blocks8(const float* x, const float* factor, uint8_t* q) {
  static_assert(kBlock % 16 == 0, "E2M1 blocks are encoded 16 elements at a time");
  for (int j = 0; j < 8; ++j) {
    const __m256 f = _mm256_set1_ps(factor[j]);
    for (int i = j * kBlock; i < (j + 1) * kBlock; i += 16) encode_e2m1_16(x + i, f, q + i / 2);
  }
}

// The scale rules of 8 finite blocks of an INT4 symmetric, MXFP4 or NVFP4 format whose
// amax bits are in amax_bits: their scales to `scale` (index 0..7, the format's scale
// type) and their encoder arguments to arg[0..7] (INT4: the scale as stored; E2M1: the
// factor).
QK_FORCEINLINE void scale_rules8(const FormatSpec& f, float d, __m256i amax_bits, DType scale_dtype, void* scale,
                                 float* arg) {
  const __m256 amax = _mm256_castsi256_ps(amax_bits);
  switch (f.kind) {
    case FormatKind::kInt4: {  // int4_sym_params: round_to_dtype(2 * (amax / 15))
      __m256 s = _mm256_mul_ps(_mm256_set1_ps(2.0f), _mm256_div_ps(amax, _mm256_set1_ps(15.0f)));
      if (scale_dtype == DType::kF32) {
        _mm256_storeu_ps(static_cast<float*>(scale), s);
      } else {
        const __m128i h = scale_dtype == DType::kF16 ? f32x8_to_f16<true>(s) : f32x8_to_bf16<true>(s);
        _mm_storeu_si128(static_cast<__m128i*>(scale), h);
        s = scale_dtype == DType::kF16 ? _mm256_cvtph_ps(h)
                                       : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
      }
      _mm256_store_ps(arg, s);
      return;
    }
    case FormatKind::kMxfp4: {
      const __m256i code = mx_scale8(amax_bits, f.rceil);
      store_bytes8(code, scale);
      _mm256_store_ps(arg, mx_factor8(code));
      return;
    }
    default: {  // NVFP4: nvfp4_block_params / nvfp4_block_params_single
      __m256 s = _mm256_div_ps(amax, _mm256_set1_ps(kE2m1Max));
      if (f.global_scale) s = _mm256_div_ps(s, _mm256_set1_ps(d));
      // no NaN here: max/min give fmaxf/fminf's results
      s = _mm256_min_ps(_mm256_max_ps(s, _mm256_set1_ps(exp2i(-6))), _mm256_set1_ps(kE4m3Max));
      const __m256i code = f32x8_to_e4m3(s);
      store_bytes8(code, scale);
      const float one = f.global_scale ? 1.0f / d : 1.0f;
      _mm256_store_ps(arg, _mm256_div_ps(_mm256_set1_ps(one), e4m3x8_to_f32(code)));
      return;
    }
  }
}

// Codes of 8 blocks of kBlock elements (0: f.block at run time) with the arguments
// scale_rules8 gave.
template <int kBlock>
QK_FORCEINLINE void encode8(const FormatSpec& f, const float* x, const float* arg, uint8_t* q) {
  // E2M1 for the FP4 formats at their block sizes; INT4 (any block, 16 and 32 included:
  // per-channel INT4 of 16 or 32 columns) below
  if constexpr (kBlock == kNvBlock) {
    if (f.kind == FormatKind::kNvfp4) return encode_e2m1_blocks8<kNvBlock>(x, arg, q);
  } else if constexpr (kBlock == kMxBlock) {
    if (f.kind == FormatKind::kMxfp4) return encode_e2m1_blocks8<kMxBlock>(x, arg, q);
  }
  const int64_t block = kBlock > 0 ? kBlock : f.block;
  for (int j = 0; j < 8; ++j) encode_int4(x + j * block, block, Int4Params{arg[j], 8.0f}, q + j * block / 2);
}

// Calls fn(std::integral_constant<int, B>{}) with B = block for the block sizes of the
// formats on the vector path (NVFP4 16, MXFP4 and INT4 32, INT4 64 and 128), else B = 0.
template <class Fn>
QK_FORCEINLINE void dispatch_block(int64_t block, Fn&& fn) {
  switch (block) {
    case 16: fn(std::integral_constant<int, 16>{}); break;
    case 32: fn(std::integral_constant<int, 32>{}); break;
    case 64: fn(std::integral_constant<int, 64>{}); break;
    case 128: fn(std::integral_constant<int, 128>{}); break;
    default: fn(std::integral_constant<int, 0>{}); break;
  }
}

// Runs of up to kRun batches of 8 blocks, phase by phase: amax and scale rules of every
// batch, then the codes. The scale rules are chains of divisions and E4M3 conversions;
// back to back, those of different batches overlap instead of stalling the encoding.
// Batches with a non-finite block go to the definition.
void quantize_blocks(const FormatSpec& f, float d, const float* x, int64_t nb, const BlockOutputs& out) {
  const int64_t block = f.block;
  int64_t j = 0;
  if (block % 8 == 0 && block <= 512 &&
      (f.kind == FormatKind::kMxfp4 || f.kind == FormatKind::kNvfp4 || (f.kind == FormatKind::kInt4 && f.symmetric))) {
    const int scale_size = scale_bytes(f, out.scale_dtype);
    dispatch_block(block, [&](auto block_tag) {
      constexpr int kBlock = decltype(block_tag)::value;
      constexpr int kRun = 8;
      alignas(32) float arg[kRun * 8];
      bool finite[kRun];
      while (j + 8 <= nb) {
        const int batches = int(std::min<int64_t>(kRun, (nb - j) / 8));
        for (int t = 0; t < batches; ++t) {
          const int64_t b = j + 8 * t;
          const __m256i amax_bits = block_amax_bits8<kBlock>(x + b * block, block);
          finite[t] = _mm256_movemask_epi8(_mm256_cmpgt_epi32(amax_bits, _mm256_set1_epi32(0x7F7FFFFF))) == 0;
          if (finite[t])
            scale_rules8(f, d, amax_bits, out.scale_dtype, static_cast<char*>(out.scale) + b * scale_size, arg + 8 * t);
        }
        for (int t = 0; t < batches; ++t) {
          const int64_t b = j + 8 * t;
          if (finite[t])
            encode8<kBlock>(f, x + b * block, arg + 8 * t, static_cast<uint8_t*>(out.codes) + b * block / 2);
          else
            quantize_blocks_with(row_kernels_avx2(), f, d, x, b, b + 8, out);
        }
        j += 8 * batches;
      }
    });
  }
  if (j < nb) quantize_blocks_with(row_kernels_avx2(), f, d, x, j, nb, out);
}

// 16-bit outputs by table. A block of a 4-bit format holds at most 16 distinct values, so
// for f16/bf16 outputs the decoders convert those 16 values once per block, with the
// element path's own arithmetic and conversion (same bits by construction), and look the
// elements up: one pshufb per byte plane of a 16 x 16-bit table, 32 codes at a time, the
// 16 codes of each 128-bit lane in that lane's table.
struct Table16 {
  __m256i lo, hi;  // byte c of each 128-bit lane: low / high byte of the value of code c
};

// From the 16-bit values of codes 0..7 (words0_7) and 8..15 (words8_15), per lane.
QK_FORCEINLINE Table16 make_table16(__m256i words0_7, __m256i words8_15) {
  const __m256i planes = _mm256_broadcastsi128_si256(
      _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
  const __m256i a = _mm256_shuffle_epi8(words0_7, planes);   // lo 0..7 | hi 0..7 (per lane)
  const __m256i b = _mm256_shuffle_epi8(words8_15, planes);  // lo 8..15 | hi 8..15
  return {_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b)};
}

// One table in both lanes, from the fp32 values of codes 0..7 and 8..15. Used from 32
// elements per block (INT4, MXFP4).
template <DType T>
QK_FORCEINLINE Table16 block_table16(__m256 values0_7, __m256 values8_15) {
  return make_table16(_mm256_broadcastsi128_si256(f32x8_to_16bit<T>(values0_7)),
                      _mm256_broadcastsi128_si256(f32x8_to_16bit<T>(values8_15)));
}

// E2M1 tables for lane 0 scaled by s0 and lane 1 by s1, both finite. E2M1 is symmetric
// (code c | 8 is -value(c)) and so are the product and the RNE conversions: with no NaN
// in sight, out16(-(m * s)) = out16(m * s) ^ 0x8000. So only the 8 magnitudes m * s are
// converted per lane, which lets NVFP4's 16-element blocks (one per lane) repay a table.
template <DType T>
QK_FORCEINLINE Table16 e2m1_table16(float s0, float s1) {
  const __m256 mag = _mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f);
  const __m256i pos = _mm256_set_m128i(f32x8_to_16bit<T, true>(_mm256_mul_ps(mag, _mm256_set1_ps(s1))),
                                       f32x8_to_16bit<T, true>(_mm256_mul_ps(mag, _mm256_set1_ps(s0))));
  return make_table16(pos, _mm256_xor_si256(pos, _mm256_set1_epi16(int16_t(0x8000))));
}

// 32 elements (16 bytes of codes at q) -> 32 16-bit values at out; elements 0..15 use
// lane 0 of t, 16..31 lane 1.
QK_FORCEINLINE void lookup32(const uint8_t* q, const Table16& t, uint16_t* out) {
  const __m128i p = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m128i nib = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(p, nib), hi = _mm_and_si128(_mm_srli_epi16(p, 4), nib);
  // codes of elements 0..15 | 16..31 (element 2j = low nibble of byte j)
  const __m256i c = _mm256_set_m128i(_mm_unpackhi_epi8(lo, hi), _mm_unpacklo_epi8(lo, hi));
  const __m256i l = _mm256_shuffle_epi8(t.lo, c), h = _mm256_shuffle_epi8(t.hi, c);
  const __m256i a = _mm256_unpacklo_epi8(l, h);  // elements 0..7 | 16..23
  const __m256i b = _mm256_unpackhi_epi8(l, h);  // elements 8..15 | 24..31
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(a, b, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16), _mm256_permute2x128_si256(a, b, 0x31));
}

// The 4-bit decoders walk block by block: value8(b, nibbles8(...)) gives 8 values of
// block b, tail(b, i, m, out_i) writes the last m < 8 elements of a block (the scalar
// entry). Blocks are even (the driver checks), so every block and every 8- or 32-element
// step starts on a byte of the packed codes. Values are (finite code value) x scale[b]
// (INT4: (q - z) * s, E2M1: e2m1 * s), so a block with a finite scale has no NaN.
// (Byte offsets are written i >> 1: i >= 0, and the signed i / 2 costs two more ops.)
template <class Value8, class Tail>
QK_FORCEINLINE void decode_4bit_row(const uint8_t* q, int64_t n, int block, const float* scale,
                                    void* out, DType t, Value8&& value8, Tail&& tail) {
  dispatch_float_dtype(t, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    for (int64_t b = 0, first = 0; first < n; ++b, first += block) {
      const int64_t end = first + block;
      int64_t i = first;
      if constexpr (T != DType::kF32) {
        if (block >= 32) {
          const Table16 table = block_table16<T>(value8(b, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                                 value8(b, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15)));
          for (; i + 32 <= end; i += 32) lookup32(q + (i >> 1), table, static_cast<uint16_t*>(out) + i);
        }
      }
      auto steps8 = [&](auto nan_free) {
        for (; i + 8 <= end; i += 8) store8<T, nan_free()>(out, i, value8(b, nibbles8(q + (i >> 1))));
      };
      if (is_finite_f32(scale[b]))
        steps8(std::true_type{});
      else
        steps8(std::false_type{});
      if (i < end) tail(b, i, end - i, advance<T>(out, i));
    }
  });
}

void decode_int4_row(const uint8_t* q, int64_t n, int block, const float* scale, const float* zero,
                     void* out, DType t) {
  decode_4bit_row(
      q, n, block, scale, out, t,
      [&](int64_t b, __m256i codes) {
        const __m256 v = _mm256_cvtepi32_ps(_mm256_and_si256(codes, _mm256_set1_epi32(0xF)));
        return _mm256_mul_ps(_mm256_sub_ps(v, _mm256_set1_ps(zero[b])), _mm256_set1_ps(scale[b]));
      },
      [&](int64_t b, int64_t i, int64_t m, void* out_i) {
        scalar().decode_int4_row(q + i / 2, m, int(m), scale + b, zero + b, out_i, t);
      });
}

// Blocks of E2M1 codes by the generic walk.
void decode_e2m1_blocks(const uint8_t* q, int64_t n, int block, const float* scale, void* out,
                        DType t) {
  decode_4bit_row(
      q, n, block, scale, out, t,
      [&](int64_t b, __m256i codes) { return _mm256_mul_ps(e2m1x8_to_f32(codes), _mm256_set1_ps(scale[b])); },
      [&](int64_t b, int64_t i, int64_t m, void* out_i) {
        scalar().decode_e2m1_row(q + i / 2, m, int(m), scale + b, out_i, t);
      });
}

// f16/bf16 outputs of the MXFP4 / NVFP4 blocks (32 / 16 elements) go by e2m1_table16, 32
// elements at a time, where both halves have a finite scale; the rest by the generic walk.
void decode_e2m1_row(const uint8_t* q, int64_t n, int block, const float* scale, void* out,
                     DType t) {
  int64_t i = 0;
  dispatch_float_dtype(t, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    if constexpr (T != DType::kF32) {
      if (block != 16 && block != 32) return;
      const int log2_block = block == 16 ? 4 : 5;
      for (; i + 32 <= n; i += 32) {
        const float* s = scale + (i >> log2_block);
        const float s0 = s[0], s1 = block == 16 ? s[1] : s[0];
        if (is_finite_f32(s0) && is_finite_f32(s1))
          lookup32(q + (i >> 1), e2m1_table16<T>(s0, s1), static_cast<uint16_t*>(out) + i);
        else
          decode_e2m1_blocks(q + (i >> 1), 32, block, s, advance<T>(out, i), t);
      }
    }
    if (i < n) decode_e2m1_blocks(q + (i >> 1), n - i, block, scale + i / block, advance<T>(out, i), t);
  });
}

// The 8-bit decoders: value8 widens the 8 codes in the low bytes of a vector to fp32;
// tail is the scalar entry, for the last n % 8 elements.
template <class Code, class Value8>
QK_FORCEINLINE void decode_8bit_row(const Code* q, int64_t n, float scale, void* out, DType t,
                                    Value8&& value8, void (*tail)(const Code*, int64_t, float, void*, DType)) {
  dispatch_float_dtype(t, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    const __m256 s = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      store8<T>(out, i, _mm256_mul_ps(value8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i))), s));
    if (i < n) tail(q + i, n - i, scale, advance<T>(out, i), t);
  });
}

void decode_int8_row(const int8_t* q, int64_t n, float scale, void* out, DType t) {
  decode_8bit_row(q, n, scale, out, t, [](__m128i b) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)); },
                  scalar().decode_int8_row);
}

void decode_fp8_row(const uint8_t* q, int64_t n, float scale, void* out, DType t) {
  decode_8bit_row(q, n, scale, out, t, [](__m128i b) { return e4m3x8_to_f32(_mm256_cvtepu8_epi32(b)); },
                  scalar().decode_fp8_row);
}

}  // namespace

const RowKernels& row_kernels_avx2() {
  static const RowKernels k{load_f32,        block_stats,     finite_amax,     encode_int4,
                            encode_e2m1,     encode_int8,     encode_fp8,      quantize_blocks,
                            decode_int4_row, decode_e2m1_row, decode_int8_row, decode_fp8_row};
  return k;
}

}  // namespace qkern
