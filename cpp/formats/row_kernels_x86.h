// x86 vector pieces shared by the row-kernel levels (row_kernels_avx2.cpp,
// row_kernels_avx512.cpp): 8-lane loads, stores and conversions, the codecs on 8 lanes,
// the per-block amax reduction and scale rules of 8 blocks at a time, and the batch driver
// of quantize_blocks, templated on the level's amax and encoders. Everything is
// always-inline in an anonymous namespace, so each including file compiles its own copy
// with its own -m flags (no AVX-512 instruction can reach the AVX2 path). Needs
// AVX2+FMA+F16C. Exactness rules: row_kernels_avx2.cpp.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "formats/row_kernels.h"

namespace qkern {
namespace {

template <DType T>
constexpr int kElemBytes = T == DType::kF32 ? 4 : 2;

template <DType T, class P>
QK_FORCEINLINE P* advance(P* base, int64_t elements) {
  using Byte = std::conditional_t<std::is_const_v<P>, const char, char>;
  return reinterpret_cast<P*>(reinterpret_cast<Byte*>(base) + elements * kElemBytes<T>);
}

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

// ---------------------------------------------------------------- block quantization
//
// Eight blocks at a time, one block per lane: per-block amax by a transposing reduction,
// the scale rules of recipes.h on the 8 lanes (the same IEEE operations in the same order,
// on finite statistics only), then each block's codes by the level's encoders with its
// lane's factor (quantize_blocks_batched). Batches holding a non-finite block, the last
// nb % 8 blocks, INT4 asymmetric, per-row formats and long blocks go through
// quantize_blocks_with (the definition) on the level's table.

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

// Lane j: the fp32 bits of max |x| over block j of 8 consecutive blocks of `block`
// elements, from block_max(xj) = 8 lanes whose max is that of block j's |x| bits (as int32).
// Non-negative floats order as their bits (as int32), and NaN > Inf > every finite value,
// so the block is finite iff its lane is below 0x7F800000, and then the lane is the
// block's amax (+0 for an all-zero block, as block_stats gives).
template <class BlockMax>
QK_FORCEINLINE __m256i amax_bits8_with(const float* x, int64_t block, BlockMax&& block_max) {
  __m256i v[8];
  for (int j = 0; j < 8; ++j) v[j] = block_max(x + j * block);
  return reduce8x8(v, [](__m256i a, __m256i b) { return _mm256_max_epi32(a, b); });
}

// amax_bits8_with, 8 lanes per load (block % 8 == 0; kBlock 0: `block`, a run-time value).
template <int kBlock>
QK_FORCEINLINE __m256i block_amax_bits8(const float* x, int64_t block) {
  if constexpr (kBlock > 0) block = kBlock;
  return amax_bits8_with(x, block, [block](const float* xj) {
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i m = _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(xj)), magnitude);
    for (int64_t i = 8; i < block; i += 8)
      m = _mm256_max_epi32(m, _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(xj + i)), magnitude));
    return m;
  });
}

// block_stats' end: folds in the statistics of the tail x[i..n) (the level's `tail` table
// entry, i < n) and sets amax. For a finite block max|x| = max(hi, -lo); the comparison
// against +0 turns an all-zero block's -0 into the scalar code's +0. lo/hi match the
// scalar fminf/fmaxf fold up to the sign of a zero, which the recipes erase (they clamp
// lo/hi against +0 with fminf/fmaxf).
QK_FORCEINLINE BlockStats finish_block_stats(BlockStats s, const float* x, int64_t i, int64_t n,
                                             BlockStats (*tail)(const float*, int64_t)) {
  if (i < n) {
    const BlockStats t = tail(x + i, n - i);
    s = {0.0f, s.lo < t.lo ? s.lo : t.lo, s.hi > t.hi ? s.hi : t.hi, s.finite && t.finite};
  }
  const float m = s.hi > -s.lo ? s.hi : -s.lo;
  s.amax = m > 0.0f ? m : 0.0f;
  return s;
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
// Batches with a non-finite block go to the definition, on the level's table. Level:
//   amax8<kBlock>(x, block)   lane j: the bits of max |x| of block j (block_amax_bits8)
//   encode8<kBlock>(f, x, amax, arg, q)   the codes of 8 finite blocks, given their
//                             amax (fp32, 8 values) and scale_rules8's arguments
//   table()                   the level's RowKernels (quantize_blocks_with's fallback)
template <class Level>
void quantize_blocks_batched(const FormatSpec& f, float d, const float* x, int64_t nb, const BlockOutputs& out) {
  const int64_t block = f.block;
  int64_t j = 0;
  if (block % 8 == 0 && block <= 512 &&
      (f.kind == FormatKind::kMxfp4 || f.kind == FormatKind::kNvfp4 || (f.kind == FormatKind::kInt4 && f.symmetric))) {
    const int scale_size = scale_bytes(f, out.scale_dtype);
    dispatch_block(block, [&](auto block_tag) {
      constexpr int kBlock = decltype(block_tag)::value;
      constexpr int kRun = 8;
      alignas(32) float arg[kRun * 8];
      alignas(32) float amax[kRun * 8];
      bool finite[kRun];
      while (j + 8 <= nb) {
        const int batches = int(std::min<int64_t>(kRun, (nb - j) / 8));
        for (int t = 0; t < batches; ++t) {
          const int64_t b = j + 8 * t;
          const __m256i amax_bits = Level::template amax8<kBlock>(x + b * block, block);
          finite[t] = _mm256_movemask_epi8(_mm256_cmpgt_epi32(amax_bits, _mm256_set1_epi32(0x7F7FFFFF))) == 0;
          if (finite[t]) {
            _mm256_store_si256(reinterpret_cast<__m256i*>(amax + 8 * t), amax_bits);
            scale_rules8(f, d, amax_bits, out.scale_dtype, static_cast<char*>(out.scale) + b * scale_size, arg + 8 * t);
          }
        }
        for (int t = 0; t < batches; ++t) {
          const int64_t b = j + 8 * t;
          if (finite[t])
            Level::template encode8<kBlock>(f, x + b * block, amax + 8 * t, arg + 8 * t,
                                            static_cast<uint8_t*>(out.codes) + b * block / 2);
          else
            quantize_blocks_with(Level::table(), f, d, x, b, b + 8, out);
        }
        j += 8 * batches;
      }
    });
  }
  if (j < nb) quantize_blocks_with(Level::table(), f, d, x, j, nb, out);
}

}  // namespace
}  // namespace qkern
