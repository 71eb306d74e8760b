// AVX-512 loops of RowKernels: the INT4 symmetric block quantizer and the INT8 encoder
// (quantize's and hadamard_quantize's epilogue), block statistics and the finite amax.
// Compiled with AVX-512 F/BW/VL (the _avx512.cpp suffix); entered only when active_isa()
// == Isa::kAvx512. The other entries, and every case these do not cover, are the AVX2
// ones. Zen 4 runs a 512-bit op as two 256-bit halves, so only fewer operations per
// element pay there: the INT4 and INT8 encoders below take about half the instructions
// of the AVX2 ones (hadamard_quantize at n = 4096: 4-8% and 14% faster); an E2M1 encoder
// by integer rounding of the scaled value's bits (13 ops per 16 elements) measured 1-3%
// slower than the AVX2 compare ladder on 16-bit lanes, so MXFP4/NVFP4 stay AVX2
// (docs/hadamard.md).
//
// Exactness: the bytes of row_kernels_scalar.cpp, as at the AVX2 level, but the codes come
// from a different computation, proven to give the same integers:
//
//  * rint(fl(x / s)) (INT4, INT8: int4_encode, int8_encode round the rounded quotient)
//    without dividing. t = fma(x, r, M) with M = 1.5 * 2^23 (+ an offset) rounds the exact
//    product x * r to an integer once, held in t's low mantissa bits while |x r| < 2^22;
//    n = t - M is exact and e = fma(x, r, -n) is x * r - n within 2^-25. x * r differs
//    from fl(x / s) by |x / s| * (the relative error of r, plus 2^-24 for the quotient's
//    rounding), below 2^-15 for INT8 (r = fl(1/s), |x / s| <= 256, checked) and INT4
//    (r < 2^-20 above 1/s, |x / s| <= 8.1), so |e| < 0.5 - 2^-14 proves rint(fl(x / s)) =
//    n. A 16-element step with a lane that fails the test (a tie or near-tie) is computed
//    as the codec does it instead (a division; the same IEEE operations).
//  * INT4 symmetric blocks bracket the quotient instead (one FMA more, no residual): with
//    r_lo = fl(1/s) - 5 ulp < (1 - 3 * 2^-24) / s and r_hi = fl(1/s) + 5 ulp > (1 + 3 *
//    2^-24) / s (an ulp is at least 2^-24 of the value; both normal), the exact products
//    x r_lo and x r_hi enclose fl(x / s), whose rounding is within 2^-24 relative (or which
//    is below 2^-126, where every candidate is 0). t1, t2 =
//    fma(x, r_lo or r_hi, M + 8) are rint(x r) + 8 once rounded (|x r| <= 8.1), and x ->
//    rint(fl(x / s)) is monotonic, so the code C(rint(fl(x / s)) + 8) lies between C(t1)
//    and C(t2) for any monotonic C; where they agree, that is the code. C = clamp into
//    [c_lo, 15], c_lo = int4_encode(-amax) computed per block by division: every x of the
//    block lies in [-amax, amax], so this C is the codec's clamp into [0, 15]. The near-tie
//    that amax / s ~ 7.5 has by construction (s = 2 amax / 15, rounded) then agrees at
//    +amax (15 either way), and at -amax the lower candidate C(t2) is c_lo, the code, so
//    lanes holding -amax skip the test. A 16-element step with another lane where they
//    differ (a tie or near-tie) is computed as the codec does. Blocks whose amax * r_hi
//    is outside [7, 8] (scales rounded far from 2 amax / 15: tiny amax, fp16 overflow) are
//    all computed as the codec does. (The first version tested the residual fma(x, r, -n)
//    of one product: 11 vector ops per 16 elements, against 9.)
//
// Lane layouts: 16 elements per zmm, one code per int32 lane; 4 zmm of codes are packed at
// once (store_nibbles64, store_int8x64).
#include "formats/row_kernels_x86.h"

namespace qkern {
namespace {

const RowKernels& avx2() { return row_kernels_avx2(); }

constexpr float kRoundMagic = 0x1.8p23f;     // t = y + M holds rint(y) in its low bits
constexpr float kTieMargin = 0.5f - 0x1p-14f;  // |e| below this proves the rounding

QK_FORCEINLINE __m512 abs16(__m512 v) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7FFFFFFF)));
}

// 64 codes 0..15 (c[k]: elements 16k .. 16k+15, one per int32 lane) -> 32 bytes at q,
// element 2j in the low nibble of byte j. The in-lane packs leave 128-bit lane l holding
// elements 4l .. 4l+3 of each c[k] in k order; MADDUBS (lo + 16 hi) makes the byte of each
// element pair, so lane l's word 2k + h is pair 8k + 2l + h; VPERMW moves pair P to lane
// P / 8, word P % 8; PACKUSWB and VPERMQ collect the low 8 bytes of the lanes. (A first
// version packed every 16 codes with VPMOVQB; the fused op timed the same.)
QK_FORCEINLINE void store_nibbles64(const __m512i* c, uint8_t* q) {
  alignas(64) static constexpr uint16_t kPairOrder[32] = {
      0, 1, 8, 9, 16, 17, 24, 25, 2, 3, 10, 11, 18, 19, 26, 27,   // lane L, word j: source
      4, 5, 12, 13, 20, 21, 28, 29, 6, 7, 14, 15, 22, 23, 30, 31}; // 8 (j / 2) + 2 L + j % 2
  const __m512i b = _mm512_packus_epi16(_mm512_packus_epi32(c[0], c[1]), _mm512_packus_epi32(c[2], c[3]));
  const __m512i pairs = _mm512_maddubs_epi16(b, _mm512_set1_epi16(0x1001));
  const __m512i ordered = _mm512_permutexvar_epi16(_mm512_load_si512(kPairOrder), pairs);
  const __m512i bytes = _mm512_packus_epi16(ordered, ordered);
  const __m512i out = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), bytes);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm512_castsi512_si256(out));
}

// 64 int32 values (c[k]: elements 16k .. 16k+15) saturated to int8 and clamped at -127
// -> 64 bytes at q. The in-lane packs leave dword (lane l, k) = elements 16k + 4l .. +3;
// VPERMD puts it at dword 4k + l.
QK_FORCEINLINE void store_int8x64(const __m512i* c, int8_t* q) {
  const __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(c[0], c[1]), _mm512_packs_epi32(c[2], c[3]));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i v = _mm512_max_epi8(_mm512_permutexvar_epi32(idx, b), _mm512_set1_epi8(-127));
  _mm512_storeu_si512(q, v);
}

// Runs fn(z) -> the codes of zmm z (elements 16z .. 16z+15) for z < nz (nz % 4 == 0), and
// store(c, z) for every 4 of them.
template <class Codes, class Store>
QK_FORCEINLINE void by_fours(int64_t nz, Codes&& codes, Store&& store) {
  for (int64_t z = 0; z < nz; z += 4) {
    const __m512i c[4] = {codes(z), codes(z + 1), codes(z + 2), codes(z + 3)};
    store(c, z);
  }
}

// ---------------------------------------------------------------- INT8

// int8_encode of 16 elements as int32: by one rounding (see the top) where every lane
// passes the test and lies within lim (~255 s, the proof's range); else as the codec
// does: clamp(rint(x / s), -127, 127) (the clamp's upper side by store_int8x64).
QK_FORCEINLINE __m512i int8x16(__m512 x, float scale, __m512 r, __m512 lim) {
  const __m512 magic = _mm512_set1_ps(kRoundMagic);
  const __m512 t = _mm512_fmadd_ps(x, r, magic);
  const __m512 e = _mm512_fmsub_ps(x, r, _mm512_sub_ps(t, magic));
  const __mmask16 bad = _mm512_cmp_ps_mask(abs16(e), _mm512_set1_ps(kTieMargin), _CMP_GE_OQ) |
                        _mm512_cmp_ps_mask(abs16(x), lim, _CMP_GT_OQ);
  if (!bad)  // t's bits - M's bits: rint(x r), two's complement
    return _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(magic));
  const __m512 q = _mm512_roundscale_ps(_mm512_div_ps(x, _mm512_set1_ps(scale)), _MM_FROUND_TO_NEAREST_INT);
  return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(q, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f)));
}

void encode_int8(const float* x, int64_t n, float scale, int8_t* q) {
  int64_t n64 = 0;
  const float r = 1.0f / scale;
  if (r >= 0x1p-126f && r <= 0x1.fffffep127f) {  // scale 0, tiny, Inf or NaN: AVX2
    n64 = n / 64 * 64;
    const __m512 rv = _mm512_set1_ps(r), lim = _mm512_set1_ps(255.0f * scale);
    by_fours(n64 / 16, [&](int64_t z) { return int8x16(_mm512_loadu_ps(x + 16 * z), scale, rv, lim); },
             [&](const __m512i* c, int64_t z) { store_int8x64(c, q + 16 * z); });
  }
  if (n64 < n) avx2().encode_int8(x + n64, n - n64, scale, q + n64);
}

// ---------------------------------------------------------------- statistics

// As the AVX2 block_stats, 16 lanes at a time.
BlockStats block_stats(const float* x, int64_t n) {
  if (n < 16) return avx2().block_stats(x, n);
  __m512 v = _mm512_loadu_ps(x);
  __m512 lo = v, hi = v;
  __m512i bad = _mm512_castps_si512(_mm512_sub_ps(v, v));
  int64_t i = 16;
  for (; i + 16 <= n; i += 16) {
    v = _mm512_loadu_ps(x + i);
    lo = _mm512_min_ps(v, lo);
    hi = _mm512_max_ps(v, hi);
    bad = _mm512_or_si512(bad, _mm512_castps_si512(_mm512_sub_ps(v, v)));
  }
  const BlockStats s{0.0f, _mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi), _mm512_test_epi32_mask(bad, bad) == 0};
  return finish_block_stats(s, x, i, n, avx2().block_stats);
}

// As the AVX2 finite_amax for fp32 input (NVFP4's global amax of rotated rows); f16/bf16
// input by the AVX2 entry.
float finite_amax(const void* src, DType t, int64_t n) {
  if (t != DType::kF32) return avx2().finite_amax(src, t, n);
  const float* x = static_cast<const float*>(src);
  const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
  __m512i bits = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    bits = _mm512_max_epi32(bits, _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(x + i)), magnitude));
  if (_mm512_cmpge_epi32_mask(bits, inf) != 0) {  // a NaN or Inf: again, skipping them
    bits = _mm512_setzero_si512();
    for (i = 0; i + 16 <= n; i += 16) {
      const __m512i a = _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(x + i)), magnitude);
      bits = _mm512_mask_max_epi32(bits, _mm512_cmplt_epi32_mask(a, inf), bits, a);
    }
  }
  float m = _mm512_reduce_max_ps(_mm512_castsi512_ps(bits));
  if (i < n) {
    const float tail = avx2().finite_amax(x + i, t, n - i);
    m = tail > m ? tail : m;
  }
  return m;
}

// ---------------------------------------------------------------- block quantization

// amax_bits8_with, 16 lanes per load (block % 16 == 0, quantize_blocks checks; kBlock 0:
// `block` at run time).
template <int kBlock>
QK_FORCEINLINE __m256i block_amax_bits8_512(const float* x, int64_t block) {
  if constexpr (kBlock > 0) block = kBlock;
  return amax_bits8_with(x, block, [block](const float* xj) {
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
    __m512i m = _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(xj)), magnitude);
    for (int64_t i = 16; i < block; i += 16)
      m = _mm512_max_epi32(m, _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(xj + i)), magnitude));
    return _mm256_max_epi32(_mm512_castsi512_si256(m), _mm512_extracti64x4_epi64(m, 1));
  });
}

// int4_encode of 16 elements with zero point 8, as the codec computes it.
QK_FORCEINLINE __m512i int4_exact16(__m512 x, float scale) {
  if (scale == 0.0f) return _mm512_set1_epi32(8);
  const __m512 q = _mm512_roundscale_ps(_mm512_div_ps(x, _mm512_set1_ps(scale)), _MM_FROUND_TO_NEAREST_INT);
  const __m512 v = _mm512_add_ps(q, _mm512_set1_ps(8.0f));
  return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(15.0f)));
}

// Codes of 8 finite INT4 symmetric blocks of `block` elements, scale[j] as stored (the
// bracket of the top).
QK_FORCEINLINE void encode_int4_blocks8(const float* x, int64_t block, const float* amax, const float* scale,
                                        uint8_t* q) {
  // Per block: r_lo and r_hi, whether the bracket applies, the code of -amax as t's bits
  // (M + c_lo, M = 1.5 * 2^23) and -amax's bits.
  alignas(32) float r_lo[8], r_hi[8];
  alignas(32) int32_t lo_bits[8], neg_amax_bits[8];
  const __m256 s = _mm256_load_ps(scale), a = _mm256_load_ps(amax);
  const __m256i r = _mm256_castps_si256(_mm256_div_ps(_mm256_set1_ps(1.0f), s));
  const __m256 lo = _mm256_castsi256_ps(_mm256_sub_epi32(r, _mm256_set1_epi32(5)));
  const __m256 hi = _mm256_castsi256_ps(_mm256_add_epi32(r, _mm256_set1_epi32(5)));
  const __m256 qa = _mm256_mul_ps(a, hi);
  // r_lo >= 2^-126 and r_hi finite (s > 0 normal, not tiny), amax * r_hi in [7, 8]
  const __m256 ok = _mm256_and_ps(
      _mm256_and_ps(_mm256_cmp_ps(lo, _mm256_set1_ps(0x1p-126f), _CMP_GE_OQ),
                    _mm256_cmp_ps(hi, _mm256_set1_ps(0x1.fffffep127f), _CMP_LE_OQ)),
      _mm256_and_ps(_mm256_cmp_ps(qa, _mm256_set1_ps(7.0f), _CMP_GE_OQ),
                    _mm256_cmp_ps(qa, _mm256_set1_ps(8.0f), _CMP_LE_OQ)));
  // int4_encode(-amax): clamp(rint(-amax / s) + 8, 0, 15), the same IEEE operations
  const __m256 neg = round_even8(_mm256_div_ps(_mm256_sub_ps(_mm256_setzero_ps(), a), s));
  const __m256 c_lo = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(neg, _mm256_set1_ps(8.0f)), _mm256_setzero_ps()),
                                    _mm256_set1_ps(15.0f));
  _mm256_store_si256(reinterpret_cast<__m256i*>(neg_amax_bits),
                     _mm256_castps_si256(_mm256_sub_ps(_mm256_setzero_ps(), a)));
  _mm256_store_ps(r_lo, lo);
  _mm256_store_ps(r_hi, hi);
  _mm256_store_si256(reinterpret_cast<__m256i*>(lo_bits),
                     _mm256_add_epi32(_mm256_cvtps_epi32(c_lo), _mm256_set1_epi32(0x4B400000)));
  const int fast = _mm256_movemask_ps(ok);

  const __m512 magic = _mm512_set1_ps(kRoundMagic + 8.0f);  // t's low bits: rint(x r) + 8
  const __m512i top = _mm512_set1_epi32(0x4B40000F);        // t's bits for code 15
  const int64_t zmm_per_block = block / 16;
  by_fours(
      8 * zmm_per_block,
      [&](int64_t z) {
        const int64_t j = z / zmm_per_block;
        const __m512 v = _mm512_loadu_ps(x + 16 * z);
        if (fast >> j & 1) {
          // t's bits are M + rint(x r) + 8, ordered as integers: C = clamp into [c_lo, 15]
          const __m512i bottom = _mm512_set1_epi32(lo_bits[j]);
          const __mmask16 tested = _mm512_cmpneq_epi32_mask(_mm512_castps_si512(v), _mm512_set1_epi32(neg_amax_bits[j]));
          const __m512i c1 = _mm512_max_epi32(_mm512_min_epi32(
              _mm512_castps_si512(_mm512_fmadd_ps(v, _mm512_set1_ps(r_lo[j]), magic)), top), bottom);
          const __m512i c2 = _mm512_max_epi32(_mm512_min_epi32(
              _mm512_castps_si512(_mm512_fmadd_ps(v, _mm512_set1_ps(r_hi[j]), magic)), top), bottom);
          if (!_mm512_mask_cmpneq_epi32_mask(tested, c1, c2)) return _mm512_and_si512(c2, _mm512_set1_epi32(0xF));
        }
        return int4_exact16(v, scale[j]);
      },
      [&](const __m512i* c, int64_t z) { store_nibbles64(c, q + 8 * z); });
}

// The AVX-512 level of quantize_blocks_batched: INT4 blocks of a multiple of 16 elements.
struct Avx512Blocks {
  template <int kBlock>
  static __m256i amax8(const float* x, int64_t block) { return block_amax_bits8_512<kBlock>(x, block); }
  template <int kBlock>
  static void encode8(const FormatSpec& f, const float* x, const float* amax, const float* arg, uint8_t* q) {
    encode_int4_blocks8(x, kBlock > 0 ? kBlock : f.block, amax, arg, q);
  }
  static const RowKernels& table() { return row_kernels_avx512(); }
};

void quantize_blocks(const FormatSpec& f, float d, const float* x, int64_t nb, const BlockOutputs& out) {
  if (f.kind != FormatKind::kInt4 || f.block % 16 != 0) return avx2().quantize_blocks(f, d, x, nb, out);
  quantize_blocks_batched<Avx512Blocks>(f, d, x, nb, out);
}

}  // namespace

const RowKernels& row_kernels_avx512() {
  static const RowKernels k = [] {
    RowKernels t = row_kernels_avx2();
    t.block_stats = block_stats;
    t.finite_amax = finite_amax;
    t.encode_int8 = encode_int8;
    t.quantize_blocks = quantize_blocks;
    return t;
  }();
  return k;
}

}  // namespace qkern
