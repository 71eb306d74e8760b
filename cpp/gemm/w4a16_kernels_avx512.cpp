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
// Only the GEMV (M <= kW4GemvMaxM) is AVX-512 here; the GEMM parts (dequant, micro) and
// scales are the AVX2 entries.
#include <immintrin.h>

#include "gemm/w4a16_kernels.h"
#include "gemm/w4a16_x86.h"

namespace qkern {
namespace {

struct Avx512Ops {
  using V = __m512;
  static V zero() { return _mm512_setzero_ps(); }
  static V fmadd_bcast(const float* x, V w, V acc) {
    return _mm512_fmadd_ps(_mm512_set1_ps(*x), w, acc);
  }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
};
using Chains = W4Chains<Avx512Ops>;

struct Tables {
  __m512i lo, hi;  // w4_byte_tables in all four 128-bit lanes
};

Tables make_tables(const W4Weights& w) {
  const W4ByteTables t = w4_byte_tables(w);
  return {_mm512_broadcast_i32x4(t.lo), _mm512_broadcast_i32x4(t.hi)};
}

// idx: one code per byte, [tile t | tile t+1] -> w[0..3] (order of gemm.h within each half).
QK_FORCEINLINE void decode_codes(__m512i idx, const Tables& tb, __m512* w) {
  const __m512i a = _mm512_shuffle_epi8(tb.lo, idx), b = _mm512_shuffle_epi8(tb.hi, idx);
  const __m512i u0 = _mm512_unpacklo_epi8(a, b), u1 = _mm512_unpackhi_epi8(a, b);
  const __m512i odd = _mm512_set1_epi32(int(0xFFFF0000u));
  w[0] = _mm512_castsi512_ps(_mm512_slli_epi32(u0, 16));
  w[1] = _mm512_castsi512_ps(_mm512_and_si512(u0, odd));
  w[2] = _mm512_castsi512_ps(_mm512_slli_epi32(u1, 16));
  w[3] = _mm512_castsi512_ps(_mm512_and_si512(u1, odd));
}

// Tiles a (strip t) and b (strip t+1, or a again for a lone last strip) -> w[v], v < 8.
QK_FORCEINLINE void decode_pair(const uint8_t* a, const uint8_t* b, const Tables& tb, __m512* w) {
  const __m512i bytes = _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), 1);
  const __m512i nib = _mm512_set1_epi8(0x0F);
  decode_codes(_mm512_and_si512(bytes, nib), tb, w);
  decode_codes(_mm512_and_si512(_mm512_srli_epi16(bytes, 4), nib), tb, w + 4);
}

QK_FORCEINLINE __m512 join(__m256 lo, __m256 hi) {
  return _mm512_castpd_ps(
      _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}

// MR rows of strips t and t + 1 (Pair; else strip t alone, in lanes 0..7) over all of K.
// Each row sums a group in P partial vectors (MR * P = 4 chains), then scales the sum once,
// as the AVX2 strip kernel does.
template <W4ScaleKind SK, bool Asym, int MR, bool Pair>
void gemv_pair(const W4Weights& w, const Tables& tb, const float* x, int64_t ldx,
               const float* xsum, int64_t ldxs, int64_t t, float* out, int64_t ldo) {
  constexpr int P = MR >= 4 ? 1 : 4 / MR;
  const __m256 mul256 = _mm256_set1_ps(256.0f * w.scale_mul);
  const int64_t group_chunks = w.group_chunks, groups = w.groups;
  const int64_t t_hi = Pair ? t + 1 : t;
  const uint8_t* tile_lo = w.packed + t * w.k_chunks * kW4TileBytes;  // contiguous along K
  const uint8_t* tile_hi = w.packed + t_hi * w.k_chunks * kW4TileBytes;
  __m512 acc[MR];
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    const __m512 zero = _mm512_setzero_ps();
    Chains ch{zero, zero, zero, zero};
    const float* xr[MR];  // this chunk's x, one pointer per row
    for (int i = 0; i < MR; ++i) xr[i] = x + i * ldx + g * group_chunks * kW4TileK;
    for (int64_t c = 0; c < group_chunks; ++c) {
      __m512 wv[kW4TileK];
      decode_pair(tile_lo, tile_hi, tb, wv);
      tile_lo += kW4TileBytes, tile_hi += kW4TileBytes;
      w4_fma_tile<MR, P>(ch, xr, wv, std::make_integer_sequence<int, kW4TileK>());
      for (int i = 0; i < MR; ++i) xr[i] += kW4TileK;
    }
    const __m512 s = join(load_scales<SK>(scale_at(w, t, g, kScaleBytes<SK>), mul256),
                          load_scales<SK>(scale_at(w, t_hi, g, kScaleBytes<SK>), mul256));
    __m512 zs = zero;
    if constexpr (Asym)
      zs = _mm512_mul_ps(join(load_zero_offsets(w.zero + (t * groups + g) * kW4TileN),
                              load_zero_offsets(w.zero + (t_hi * groups + g) * kW4TileN)),
                         s);
    for (int i = 0; i < MR; ++i) {
      acc[i] = _mm512_fmadd_ps(w4_row_sum<P>(ch, i), s, acc[i]);
      if constexpr (Asym) acc[i] = _mm512_fmadd_ps(zs, _mm512_set1_ps(xsum[i * ldxs + g]), acc[i]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    if constexpr (Pair) _mm512_storeu_ps(out + i * ldo, acc[i]);
    else _mm256_storeu_ps(out + i * ldo, _mm512_castps512_ps256(acc[i]));
  }
}

// Rows 0..MR1-1, then MR1..MR1+MR2-1 of each pair of strips (the second pass reads the
// pair's tiles from L1); an odd last strip alone.
template <W4ScaleKind SK, bool Asym>
struct GemvRows {
  template <int MR, bool Pair>
  static void strips(const W4Weights& w, const Tables& tb, const float* x, int64_t ldx,
                     const float* xsum, int64_t ldxs, int64_t t, float* o, int64_t ldo, int r0) {
    gemv_pair<SK, Asym, MR, Pair>(w, tb, x + r0 * ldx, ldx, xsum + r0 * ldxs, ldxs, t,
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

template <W4ScaleKind SK, bool Asym>
void gemv_kind(const W4Weights& w, const float* x, int64_t ldx, const float* xsum, int64_t ldxs,
               int mr, int64_t t0, int64_t t1, float* out, int64_t ldo) {
  w4_gemv_row_split<GemvRows<SK, Asym>>(mr, w, x, ldx, xsum, ldxs, t0, t1, out, ldo);
}

void gemv(const W4Weights& w, const float* x, int64_t ldx, const float* xsum, int64_t ldxs,
          int mr, int64_t t0, int64_t t1, float* out, int64_t ldo) {
  QK_W4_DISPATCH(w, gemv_kind, w, x, ldx, xsum, ldxs, mr, t0, t1, out, ldo)
}

#undef QK_W4_DISPATCH

}  // namespace

const W4Kernels& w4_kernels_avx512() {
  const W4Kernels& avx2 = w4_kernels_avx2();
  static const W4Kernels k{gemv, avx2.dequant, avx2.micro, avx2.scales};
  return k;
}

}  // namespace qkern
