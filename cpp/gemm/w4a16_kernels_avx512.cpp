// AVX-512 W4A16 kernels. Compiled with AVX2+FMA+F16C and AVX-512 F/BW/VL (the _avx512.cpp
// suffix); entered only when active_isa() >= Isa::kAvx512 (pick_kernels).
//
// Same prepacked layout as the AVX2 level (qkern.cpu.w4.n8k8.v1, qkern/gemm.h): a zmm holds
// two 8-channel strips, tiles t (bytes 0..31, lanes 0..7) and t + 1 (bytes 32..63, lanes
// 8..15) at the same K chunk. The AVX2 decode (w4a16_kernels_avx2.cpp) works within 128-bit
// lanes (PSHUFB, UNPCKLO/HI_EPI8), so run on 512 bits it decodes each 256-bit half exactly
// as it decodes one tile there: w[v] = [strip t | strip t+1] unscaled values of input v,
// 16 channels per op at the cost of 8. Scales and zero points come from the two strips'
// 8-channel decoders (gemm/w4a16_x86.h) joined into one zmm, so values and rounding per
// channel are those of the AVX2 level (same chains, same order of the sums).
//
// Also compiled with -mavx512bf16: VDPBF16PS appears only in the bf16 GEMV (Bf16Ops) and
// the bf16 GEMM (bf16_tile), which the table holds only where cpu_features().avx512bf16.
//
// AVX-512 here: the GEMVs (fp32 x and bf16 x) and the bf16 GEMM; the fp32 GEMM parts
// (dequant, micro) and scales are the AVX2 entries.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "common/cpu_features.h"
#include "gemm/w4a16_kernels.h"
#include "gemm/w4a16_x86.h"

namespace qkern {
namespace {

struct Tables {
  __m512i lo, hi;  // w4_byte_tables in all four 128-bit lanes
  __m512i offset;  // FP4: (2 * value(code) + 12) * 4 per code (Bf16Ops), in all four lanes
};

Tables make_tables(const W4Weights& w) {
  const W4ByteTables t = w4_byte_tables(w);
  alignas(16) uint8_t offset[16];
  for (int c = 0; c < 16; ++c) offset[c] = uint8_t((int(2.0f * bf16_to_f32(w.table[c])) + 12) * 4);
  return {_mm512_broadcast_i32x4(t.lo), _mm512_broadcast_i32x4(t.hi),
          _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(offset)))};
}

// idx: one code per byte, [tile t | tile t+1] -> u[0..1]: the codes' bf16 bits as 16-bit
// words, the 32-bit lane of a channel holding inputs (v, v + 1): u[0] v = 0, 1; u[1] v = 2, 3
// (for the low nibbles; the high ones give v + 4), per gemm.h's tile order in each half.
QK_FORCEINLINE void words(__m512i idx, const Tables& tb, __m512* u) {
  const __m512i a = _mm512_shuffle_epi8(tb.lo, idx), b = _mm512_shuffle_epi8(tb.hi, idx);
  u[0] = _mm512_castsi512_ps(_mm512_unpacklo_epi8(a, b));
  u[1] = _mm512_castsi512_ps(_mm512_unpackhi_epi8(a, b));
}

// Tiles a (strip t) and b (strip t+1, or a again for a lone last strip) in one zmm.
QK_FORCEINLINE __m512i load_pair(const uint8_t* a, const uint8_t* b) {
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), 1);
}

// The pair's exact bf16 words: u[j] holds inputs (2j, 2j + 1) in each channel's lane.
QK_FORCEINLINE void pair_words(const uint8_t* a, const uint8_t* b, const Tables& tb, __m512* u) {
  const __m512i bytes = load_pair(a, b), nib = _mm512_set1_epi8(0x0F);
  words(_mm512_and_si512(bytes, nib), tb, u);
  words(_mm512_and_si512(_mm512_srli_epi16(bytes, 4), nib), tb, u + 2);
}

// The pair's unscaled fp32 values, w[v] = input v, v < 8: the even word of a lane by a
// shift, the odd one by a mask.
QK_FORCEINLINE void decode_pair(const uint8_t* a, const uint8_t* b, const Tables& tb, __m512* w) {
  const __m512i odd = _mm512_set1_epi32(int(0xFFFF0000u));
  __m512 u[4];
  pair_words(a, b, tb, u);
  for (int j = 0; j < 4; ++j) {
    const __m512i uj = _mm512_castps_si512(u[j]);
    w[2 * j] = _mm512_castsi512_ps(_mm512_slli_epi32(uj, 16));
    w[2 * j + 1] = _mm512_castsi512_ps(_mm512_and_si512(uj, odd));
  }
}

// The GEMV's arithmetic, two variants (Ops of W4Chains plus a tile decoder):
//   Fp32Ops  x fp32 [mr][k_pad]; kInputs = 8 vectors per tile, one FMA each (as AVX2).
//   Bf16Ops  x as bf16 pairs [mr][k_pad / 2] u32 (low half x[2j], high x[2j + 1]), exact
//            only for bf16 activations; the decoded 16-bit words are bf16 (with an
//            offset, see below), and word pair (v, v + 1) of a channel sits in one 32-bit
//            lane, so VDPBF16PS adds x[2j] w[2j] + x[2j+1] w[2j+1] per lane: 4
//            instructions per tile, no bf16 -> fp32 widening. Both products are exact in
//            fp32; VDPBF16PS rounds to nearest even after each addition, treats bf16
//            denormal inputs as 0 and flushes denormal results.
// Register budget of the GEMV (32 zmm): 8 partial-sum chains and 8 row accumulators, the
// decoded tile pair (4 or 8 vectors), the tables and a broadcast; rows per pass and
// chains measured in docs/gemm.md.
constexpr int kAvx512Chains = 8;
constexpr int kPrefetchBytes = 1024;  // software prefetch distance along a strip
constexpr int kAvx512RowBlock = 8;

struct Fp32Ops {
  using V = __m512;
  static constexpr int kChains = kAvx512Chains;
  static constexpr int kInputs = kW4TileK;
  static constexpr float kCodeOffset = 0.0f;  // decoded value = table[code] exactly
  static constexpr float kValueScale = 1.0f;
  static V zero() { return _mm512_setzero_ps(); }
  static V fmadd_bcast(const float* x, V w, V acc) {
    return _mm512_fmadd_ps(_mm512_set1_ps(*x), w, acc);
  }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void decode(const uint8_t* a, const uint8_t* b, const Tables& tb, V* w) {
    decode_pair(a, b, tb, w);
  }
};

// x as bf16 pairs; the decoded words are bf16(base + byte(code) * step) with
// byte(code) = q * value(code) + b0 an integer, made by UNPCKing a byte with the constant
// high byte of bf16(base): exact, as base + b * step has at most 8 significant bits.
//   INT4  base 128, step 1, byte = code (value code - 8: q = 1, b0 = 8): the masked
//         nibbles themselves, no lookup;
//   FP4   base 32, step 1, byte = 2 * e2m1(code) + 12 (q = 2, b0 = 12; 0..24) by a PSHUFB
//         table (holding it times 4, the low byte of bf16(32 + b)).
// 4 UNPCK (+ 2 PSHUFB for FP4) per tile pair instead of 4 PSHUFB + 4 UNPCK for exact table
// words: ~25% faster hot on Zen 4. The dot product then is q * sum(value x) + kCodeOffset
// * sum(x) (kCodeOffset = base + b0), so gemv_pair scales by kValueScale = 1 / q and takes
// kCodeOffset * scale * (the group's sum of x) off per group.
// Precision: every product is still exact and the group sum is in fp32, but its terms are
// ~kCodeOffset |x| instead of |value x|, and its rounding error grows with them (~20x
// for INT4's mean |c - 8| of 4; the products also overflow to inf for |x| above ~2e36). On
// x = 10 randn + 5 (K = 8192, g128) the worst output error relative to max(|y|, 1) was
// 1.1e-2 (INT4) against 3.7e-3 for the exact decode (the bf16 rounding of y) and 2.1 for
// torch's bf16 linear on the bf16-rounded weight (docs/gemm.md). A smaller INT4 base (16: code << 3 by a
// shift and a VPTERNLOG per half, 6e-3) measured 14% slower, so INT4 keeps 128; the FP4
// table gets base 32 at no cost. An infinite x gives NaN (inf - inf) where the exact
// decode may give +-inf.
template <bool kLookup>
struct Bf16Ops {
  using V = __m512;
  static constexpr int kChains = kAvx512Chains;
  static constexpr int kInputs = kW4TileK / 2;  // x pairs per tile
  static constexpr float kCodeOffset = kLookup ? 44.0f : 136.0f;
  static constexpr float kValueScale = kLookup ? 0.5f : 1.0f;
  static V zero() { return _mm512_setzero_ps(); }
  static V fmadd_bcast(const float* x, V w, V acc) {  // x: one u32 bf16 pair
    return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)_mm512_set1_ps(*x));
  }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // w[j]: 32-bit lane = the words of inputs (2j, 2j + 1) of the lane's channel, in the
  // order words() gives
  static void decode(const uint8_t* a, const uint8_t* b, const Tables& tb, V* w) {
    const __m512i bytes = load_pair(a, b);
    const __m512i nib = _mm512_set1_epi8(0x0F);
    __m512i lo = _mm512_and_si512(bytes, nib);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), nib);
    if constexpr (kLookup) lo = _mm512_shuffle_epi8(tb.offset, lo), hi = _mm512_shuffle_epi8(tb.offset, hi);
    const __m512i high_byte = _mm512_set1_epi8(kLookup ? 0x42 : 0x43);  // bf16(32), bf16(128)
    w[0] = _mm512_castsi512_ps(_mm512_unpacklo_epi8(lo, high_byte));
    w[1] = _mm512_castsi512_ps(_mm512_unpackhi_epi8(lo, high_byte));
    w[2] = _mm512_castsi512_ps(_mm512_unpacklo_epi8(hi, high_byte));
    w[3] = _mm512_castsi512_ps(_mm512_unpackhi_epi8(hi, high_byte));
  }
};

QK_FORCEINLINE __m512 join(__m256 lo, __m256 hi) {
  return _mm512_castpd_ps(
      _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}

// The 16 scales of two strips (8 at lo, 8 at hi) as fp32. E4M3 (NVFP4: a group is 2
// tiles, so this runs once per 2 tile pairs) is decoded 16 at once by the 8-channel
// decoder's method (gemm/w4a16_x86.h); the other kinds join two 8-channel decodes.
template <W4ScaleKind SK>
QK_FORCEINLINE __m512 load_scales16(const uint8_t* lo, const uint8_t* hi, __m256 mul256) {
  if constexpr (SK == W4ScaleKind::kE4m3) {
    const __m128i b = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(lo)),
                                         _mm_loadl_epi64(reinterpret_cast<const __m128i*>(hi)));
    const __m256i c = _mm256_cvtepu8_epi16(b);
    const __m256i mag = _mm256_and_si256(c, _mm256_set1_epi16(0x7F));
    const __m256i h = _mm256_or_si256(_mm256_slli_epi16(mag, 7),
                                      _mm256_slli_epi16(_mm256_and_si256(c, _mm256_set1_epi16(0x80)), 8));
    const __mmask16 nan = _mm256_cmpeq_epi16_mask(mag, _mm256_set1_epi16(0x7F));
    const __m512 v = _mm512_mul_ps(_mm512_cvtph_ps(h), join(mul256, mul256));
    return _mm512_mask_mov_ps(v, nan, _mm512_castsi512_ps(_mm512_set1_epi32(-1)));
  } else {
    return join(load_scales<SK>(lo, mul256), load_scales<SK>(hi, mul256));
  }
}

// 8 - zero of the 16 channels of strips lo and hi in group g (INT4 asymmetric).
QK_FORCEINLINE __m512 zero_offsets16(const W4Weights& w, int64_t lo, int64_t hi, int64_t g) {
  return join(load_zero_offsets(w.zero + (lo * w.groups + g) * kW4TileN),
              load_zero_offsets(w.zero + (hi * w.groups + g) * kW4TileN));
}

// U consecutive K chunks of the strip pair into the chains of rows 0..MR-1 (their x are
// consecutive too, so input v of chunk u is input u * kInputs + v of one long tile);
// advances the tile and x pointers.
template <int U, int MR, int P, class Ops>
QK_FORCEINLINE void steps(const uint8_t*& tile_lo, const uint8_t*& tile_hi, const Tables& tb,
                          W4Chains<Ops>& ch, const float** xr) {
  __m512 wv[U * Ops::kInputs];
  // 1 KiB ahead in both strips: cold weights (streamed from DRAM, as in a decode step)
  // 10-20% faster at one and two threads; hot ones unchanged (docs/gemm.md).
  _mm_prefetch(reinterpret_cast<const char*>(tile_lo + kPrefetchBytes), _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char*>(tile_hi + kPrefetchBytes), _MM_HINT_T0);
  for (int u = 0; u < U; ++u)
    Ops::decode(tile_lo + u * kW4TileBytes, tile_hi + u * kW4TileBytes, tb, wv + u * Ops::kInputs);
  tile_lo += U * kW4TileBytes, tile_hi += U * kW4TileBytes;
  w4_fma_tile<MR, P>(ch, xr, wv, std::make_integer_sequence<int, U * Ops::kInputs>());
  for (int i = 0; i < MR; ++i) xr[i] += U * Ops::kInputs;
}

// MR rows of strips t and t + 1 (Pair; else strip t alone, in lanes 0..7) over all of K.
// Each row sums a group in P partial vectors (MR * P <= 8 chains), then scales the sum
// once, as the AVX2 strip kernel does.
template <class Ops, W4ScaleKind SK, bool Asym, int MR, bool Pair>
void gemv_pair(const W4Weights& w, const Tables& tb, const float* x, int64_t ldx,
               const float* xsum, int64_t ldxs, int64_t t, float* out, int64_t ldo) {
  // NVFP4's groups are 2 chunks: there, summing 8 chains per group costs more than the
  // latency they hide (one row, one thread: 0.70 ms with 4 chains, 0.75-0.89 with 8).
  constexpr int P = SK == W4ScaleKind::kE4m3 ? std::min(4, kW4ChainsPerRow<Ops, MR>)
                                             : kW4ChainsPerRow<Ops, MR>;
  // Chunks per step: enough inputs to feed all P chains of a row (bf16, one row: 2).
  constexpr int U = P > Ops::kInputs ? P / Ops::kInputs : 1;
  const __m256 mul256 = _mm256_set1_ps(256.0f * w.scale_mul);
  const int64_t group_chunks = w.group_chunks, groups = w.groups;
  const int64_t t_hi = Pair ? t + 1 : t;
  const uint8_t* tile_lo = w.packed + t * w.k_chunks * kW4TileBytes;  // contiguous along K
  const uint8_t* tile_hi = w.packed + t_hi * w.k_chunks * kW4TileBytes;
  __m512 acc[MR];
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    const __m512 zero = _mm512_setzero_ps();
    W4Chains<Ops> ch{zero, zero, zero, zero, zero, zero, zero, zero};
    const float* xr[MR];  // this chunk's x (Ops::kInputs words per tile), one pointer per row
    for (int i = 0; i < MR; ++i) xr[i] = x + i * ldx + g * group_chunks * Ops::kInputs;
    int64_t c = 0;
    for (; c + U <= group_chunks; c += U) steps<U, MR, P>(tile_lo, tile_hi, tb, ch, xr);
    if constexpr (U > 1)
      for (; c < group_chunks; ++c) steps<1, MR, P>(tile_lo, tile_hi, tb, ch, xr);
    __m512 s = load_scales16<SK>(scale_at(w, t, g, kScaleBytes<SK>),
                                 scale_at(w, t_hi, g, kScaleBytes<SK>), mul256);
    if constexpr (Ops::kValueScale != 1.0f) s = _mm512_mul_ps(s, _mm512_set1_ps(Ops::kValueScale));
    // x-sum term per channel: (8 - zero - kCodeOffset) * scale (zero 8 where symmetric)
    constexpr bool kXsumTerm = Asym || Ops::kCodeOffset != 0.0f;
    __m512 zs = zero;
    if constexpr (Asym)
      zs = zero_offsets16(w, t, t_hi, g);
    if constexpr (Ops::kCodeOffset != 0.0f) zs = _mm512_sub_ps(zs, _mm512_set1_ps(Ops::kCodeOffset));
    if constexpr (kXsumTerm) zs = _mm512_mul_ps(zs, s);
    for (int i = 0; i < MR; ++i) {
      acc[i] = _mm512_fmadd_ps(w4_row_sum<P>(ch, i), s, acc[i]);
      if constexpr (kXsumTerm) acc[i] = _mm512_fmadd_ps(zs, _mm512_set1_ps(xsum[i * ldxs + g]), acc[i]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    if constexpr (Pair) _mm512_storeu_ps(out + i * ldo, acc[i]);
    else _mm256_storeu_ps(out + i * ldo, _mm512_castps512_ps256(acc[i]));
  }
}

// Rows 0..MR1-1, then MR1..MR1+MR2-1 of each pair of strips (the second pass reads the
// pair's tiles from L1); an odd last strip alone.
template <class Ops, W4ScaleKind SK, bool Asym>
struct GemvRows {
  template <int MR, bool Pair>
  static void strips(const W4Weights& w, const Tables& tb, const float* x, int64_t ldx,
                     const float* xsum, int64_t ldxs, int64_t t, float* o, int64_t ldo, int r0) {
    gemv_pair<Ops, SK, Asym, MR, Pair>(w, tb, x + r0 * ldx, ldx, xsum + r0 * ldxs, ldxs, t,
                                  o + r0 * ldo, ldo);
  }

  template <int MR1, int MR2, bool Pair>
  static void both(const W4Weights& w, const Tables& tb, const float* x, int64_t ldx,
                   const float* xsum, int64_t ldxs, int64_t t, float* o, int64_t ldo) {
    strips<MR1, Pair>(w, tb, x, ldx, xsum, ldxs, t, o, ldo, 0);
    if constexpr (MR2 > 0) strips<MR2, Pair>(w, tb, x, ldx, xsum, ldxs, t, o, ldo, MR1);
  }

  template <int MR1, int MR2>
  static void run(const W4Weights& w, const float* x, int64_t ldx, const float* xsum,
                  int64_t ldxs, int64_t t0, int64_t t1, float* out, int64_t ldo) {
    const Tables tb = make_tables(w);
    int64_t t = t0;
    for (; t + 2 <= t1; t += 2)
      both<MR1, MR2, true>(w, tb, x, ldx, xsum, ldxs, t, out + (t - t0) * kW4TileN, ldo);
    if (t < t1) both<MR1, MR2, false>(w, tb, x, ldx, xsum, ldxs, t, out + (t - t0) * kW4TileN, ldo);
  }
};

template <class Ops>
struct Gemv {
  template <W4ScaleKind SK, bool Asym>
  static void kind(const W4Weights& w, const float* x, int64_t ldx, const float* xsum,
                   int64_t ldxs, int mr, int64_t t0, int64_t t1, float* out, int64_t ldo) {
    w4_gemv_row_split<kAvx512RowBlock, GemvRows<Ops, SK, Asym>>(mr, w, x, ldx, xsum, ldxs, t0, t1, out, ldo);
  }

  static void run(const W4Weights& w, const float* x, int64_t ldx, const float* xsum,
                  int64_t ldxs, int mr, int64_t t0, int64_t t1, float* out, int64_t ldo) {
    QK_W4_DISPATCH(w, kind, w, x, ldx, xsum, ldxs, mr, t0, t1, out, ldo)
  }
};

void gemv_bf16(const W4Weights& w, const uint32_t* x, int64_t ldx, const float* xsum,
               int64_t ldxs, int mr, int64_t t0, int64_t t1, float* out, int64_t ldo) {
  const float* xf = reinterpret_cast<const float*>(x);
  if (w4_is_int4(w))
    Gemv<Bf16Ops<false>>::run(w, xf, ldx, xsum, ldxs, mr, t0, t1, out, ldo);
  else
    Gemv<Bf16Ops<true>>::run(w, xf, ldx, xsum, ldxs, mr, t0, t1, out, ldo);
}

// ---------------------------------------------------------------- bf16 GEMM
//
// One work item: rows [0, m) of x (bf16 pairs) times the 16 or 32 channels of tiles
// [t0, t0 + ntiles) (ntiles 2 or 4) over all of K. K is walked in chunks of whole scale
// groups (kW4Bf16GemmChunkK inputs, or one group if larger). Per chunk the tiles are
// decoded once into a panel of exact bf16 words, [k pair][32 channels] u32 (the word
// pairs of words(), unscaled: value = table[code]), and the chunk's scales (and zero
// terms) into [group][32] fp32; then row blocks of kBf16GemmMr rows run the register tile:
// per group, chains[r][b] += VDPBF16PS(panel word, x pair) over the group's k pairs, then
// acc[r][b] += chains * scale (+ (8 - zero) * scale * sum of x), the same per-group
// summation as the GEMV, exact products. The accumulators live in out between chunks.
// Per k pair and 6 rows: 2 panel loads, 6 broadcasts, 12 dot products (the GEMV needs a
// broadcast per dot product), and the decode is shared by all rows.

constexpr int kBf16GemmMr = 6;       // rows per register tile: 12 chains + 12 accumulators
constexpr int64_t kBf16GemmChunkK = 256;

// Decodes the chunk [c0, c0 + nchunks) of tiles t0 .. t0 + ntiles - 1 (ntiles = 2 * NB)
// into panel [nchunks * 4][NB * 16] and groups [g0, g0 + ng) of their scales into
// scale [ng][NB * 16] (and zs, asymmetric only: (8 - zero) * scale).
template <W4ScaleKind SK, bool Asym>
void bf16_panel_kind(const W4Weights& w, int64_t t0, int nb, int64_t c0, int64_t nchunks,
                     int64_t g0, int64_t ng, uint32_t* panel, float* scale, float* zs) {
  const Tables tb = make_tables(w);
  const __m256 mul256 = _mm256_set1_ps(256.0f * w.scale_mul);
  const int width = nb * 16;
  for (int b = 0; b < nb; ++b) {
    const int64_t t = t0 + 2 * b;
    const uint8_t* lo = w.packed + (t * w.k_chunks + c0) * kW4TileBytes;
    const uint8_t* hi = w.packed + ((t + 1) * w.k_chunks + c0) * kW4TileBytes;
    for (int64_t c = 0; c < nchunks; ++c) {
      __m512 u[4];
      pair_words(lo + c * kW4TileBytes, hi + c * kW4TileBytes, tb, u);
      for (int j = 0; j < 4; ++j) _mm512_storeu_ps(panel + (c * 4 + j) * width + b * 16, u[j]);
    }
    for (int64_t g = 0; g < ng; ++g) {
      const __m512 sv = load_scales16<SK>(scale_at(w, t, g0 + g, kScaleBytes<SK>),
                                          scale_at(w, t + 1, g0 + g, kScaleBytes<SK>), mul256);
      _mm512_storeu_ps(scale + g * width + b * 16, sv);
      if constexpr (Asym)
        _mm512_storeu_ps(zs + g * width + b * 16,
                         _mm512_mul_ps(zero_offsets16(w, t, t + 1, g0 + g), sv));
    }
  }
}

// The register tile: rows 0..MR-1 x NB * 16 channels over ng groups of group_pairs k
// pairs of the panel; x pairs at x (row stride ldx) start at the chunk; xsum at the
// chunk's first group (row stride ldxs); out (row stride ldo) holds the accumulators
// (read unless first).
template <int MR, int NB>
void bf16_tile(const uint32_t* x, int64_t ldx, const float* xsum, int64_t ldxs,
               const uint32_t* panel, const float* scale, const float* zs, int64_t ng,
               int64_t group_pairs, float* out, int64_t ldo, bool first) {
  static_assert(MR >= 1 && MR <= kBf16GemmMr && (NB == 1 || NB == 2), "6 x 32 register tile");
  constexpr int W = NB * 16;
  const __m512 zero = _mm512_setzero_ps();
  // Named registers (an array of them would live in memory): a<r><b> accumulators,
  // c<r><b> chains of the current group.
#define QK_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define QK_DECL(r) __m512 a##r##0 = zero, a##r##1 = zero, c##r##0, c##r##1;
  QK_ROWS(QK_DECL)
#undef QK_DECL
#define QK_LOAD(r)                                                                  \
  if constexpr (MR > r) {                                                           \
    if (!first) {                                                                   \
      a##r##0 = _mm512_loadu_ps(out + r * ldo);                                     \
      if constexpr (NB == 2) a##r##1 = _mm512_loadu_ps(out + r * ldo + 16);         \
    }                                                                               \
  }
  QK_ROWS(QK_LOAD)
#undef QK_LOAD
  for (int64_t g = 0; g < ng; ++g) {
#define QK_ZERO(r) c##r##0 = zero, c##r##1 = zero;
    QK_ROWS(QK_ZERO)
#undef QK_ZERO
    const uint32_t* pw = panel + g * group_pairs * W;
    const uint32_t* xg = x + g * group_pairs;
    for (int64_t j = 0; j < group_pairs; ++j) {
      const __m512bh b0 = (__m512bh)_mm512_loadu_ps(pw + j * W);
      const __m512bh b1 = NB == 2 ? (__m512bh)_mm512_loadu_ps(pw + j * W + 16) : b0;
#define QK_DOT(r)                                                                   \
      if constexpr (MR > r) {                                                       \
        const __m512bh xv = (__m512bh)_mm512_set1_epi32(int(xg[r * ldx + j]));      \
        c##r##0 = _mm512_dpbf16_ps(c##r##0, b0, xv);                                \
        if constexpr (NB == 2) c##r##1 = _mm512_dpbf16_ps(c##r##1, b1, xv);         \
      }
      QK_ROWS(QK_DOT)
#undef QK_DOT
    }
    const __m512 s0 = _mm512_loadu_ps(scale + g * W);
    const __m512 s1 = NB == 2 ? _mm512_loadu_ps(scale + g * W + 16) : s0;
#define QK_SCALE(r)                                                                 \
    if constexpr (MR > r) {                                                         \
      a##r##0 = _mm512_fmadd_ps(c##r##0, s0, a##r##0);                              \
      if constexpr (NB == 2) a##r##1 = _mm512_fmadd_ps(c##r##1, s1, a##r##1);       \
      if (zs) {                                                                     \
        const __m512 xs = _mm512_set1_ps(xsum[r * ldxs + g]);                       \
        a##r##0 = _mm512_fmadd_ps(_mm512_loadu_ps(zs + g * W), xs, a##r##0);        \
        if constexpr (NB == 2)                                                      \
          a##r##1 = _mm512_fmadd_ps(_mm512_loadu_ps(zs + g * W + 16), xs, a##r##1); \
      }                                                                             \
    }
    QK_ROWS(QK_SCALE)
#undef QK_SCALE
  }
#define QK_STORE(r)                                                                 \
  if constexpr (MR > r) {                                                           \
    _mm512_storeu_ps(out + r * ldo, a##r##0);                                       \
    if constexpr (NB == 2) _mm512_storeu_ps(out + r * ldo + 16, a##r##1);           \
  }
  QK_ROWS(QK_STORE)
#undef QK_STORE
#undef QK_ROWS
}

template <int NB>
void bf16_tile_rows(int mr, const uint32_t* x, int64_t ldx, const float* xsum, int64_t ldxs,
                    const uint32_t* panel, const float* scale, const float* zs, int64_t ng,
                    int64_t group_pairs, float* out, int64_t ldo, bool first) {
  static_assert(kBf16GemmMr == 6, "one instantiation per row count");
  switch (mr) {
    case 1: return bf16_tile<1, NB>(x, ldx, xsum, ldxs, panel, scale, zs, ng, group_pairs, out, ldo, first);
    case 2: return bf16_tile<2, NB>(x, ldx, xsum, ldxs, panel, scale, zs, ng, group_pairs, out, ldo, first);
    case 3: return bf16_tile<3, NB>(x, ldx, xsum, ldxs, panel, scale, zs, ng, group_pairs, out, ldo, first);
    case 4: return bf16_tile<4, NB>(x, ldx, xsum, ldxs, panel, scale, zs, ng, group_pairs, out, ldo, first);
    case 5: return bf16_tile<5, NB>(x, ldx, xsum, ldxs, panel, scale, zs, ng, group_pairs, out, ldo, first);
    default: return bf16_tile<6, NB>(x, ldx, xsum, ldxs, panel, scale, zs, ng, group_pairs, out, ldo, first);
  }
}

void bf16_panel(const W4Weights& w, int64_t t0, int nb, int64_t c0, int64_t nchunks, int64_t g0,
                int64_t ng, uint32_t* panel, float* scale, float* zs) {
  QK_W4_DISPATCH(w, bf16_panel_kind, w, t0, nb, c0, nchunks, g0, ng, panel, scale, zs)
}

void gemm_bf16(const W4Weights& w, const uint32_t* x, int64_t ldx, const float* xsum,
               int64_t ldxs, int64_t m, int64_t t0, int64_t ntiles, float* out, int64_t ldo) {
  const int nb = int(ntiles / 2);
  const int64_t group_pairs = w.group_chunks * 4;
  const int64_t chunk_groups = std::max<int64_t>(1, kBf16GemmChunkK / (w.group_chunks * kW4TileK));
  thread_local std::vector<uint32_t> panel;
  thread_local std::vector<float> scale, zs;
  panel.resize(size_t(chunk_groups * group_pairs * 32));
  scale.resize(size_t(chunk_groups * 32));
  zs.resize(w.zero ? size_t(chunk_groups * 32) : 0);
  for (int64_t g0 = 0; g0 < w.groups; g0 += chunk_groups) {
    const int64_t ng = std::min(chunk_groups, w.groups - g0);
    bf16_panel(w, t0, nb, g0 * w.group_chunks, ng * w.group_chunks, g0, ng, panel.data(),
               scale.data(), w.zero ? zs.data() : nullptr);
    for (int64_t i = 0; i < m; i += kBf16GemmMr) {
      const int mr = int(std::min<int64_t>(kBf16GemmMr, m - i));
      const uint32_t* xi = x + i * ldx + g0 * group_pairs;
      const float* xs = xsum + i * ldxs + g0;
      float* o = out + i * ldo;
      const float* z = w.zero ? zs.data() : nullptr;
      if (nb == 2)
        bf16_tile_rows<2>(mr, xi, ldx, xs, ldxs, panel.data(), scale.data(), z, ng, group_pairs, o, ldo, g0 == 0);
      else
        bf16_tile_rows<1>(mr, xi, ldx, xs, ldxs, panel.data(), scale.data(), z, ng, group_pairs, o, ldo, g0 == 0);
    }
  }
}

#undef QK_W4_DISPATCH

}  // namespace

const W4Kernels& w4_kernels_avx512() {
  const W4Kernels& avx2 = w4_kernels_avx2();
  const bool bf16 = cpu_features().avx512bf16;
  static const W4Kernels k{Gemv<Fp32Ops>::run, avx2.dequant, avx2.micro, avx2.scales,
                           bf16 ? gemv_bf16 : nullptr, bf16 ? gemm_bf16 : nullptr};
  return k;
}

}  // namespace qkern
