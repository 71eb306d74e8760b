// AVX2+FMA+F16C W4A16 kernels. Compiled with -mavx2 -mfma -mf16c (the _avx2.cpp suffix);
// entered only when active_isa() >= Isa::kAvx2 (pick_kernels).
//
// A 64-byte tile (16 channels x 8 inputs, order in qkern/gemm.h) is read as two halves of
// 32 bytes, channels 0..7 and 8..15, each one ymm whose 32-bit lanes are channels. A half
// decodes into 8 fp32 vectors, one per input k, lanes = channels: every format's 16 code
// values are exact in bf16, so two PSHUFB lookups give the low and high bytes of each
// value's bf16 bits; a shift and a byte blend join the two bytes of an input into a 16-bit
// word inside the channel's lane (two inputs per lane), and a shift (even word) and a mask
// (odd word) make fp32. Per 64 weights: 1 load, 3 ops to split nibbles, 4 PSHUFB,
// 4 shifts + 4 blends, 8 shift/mask: 24 ops for 8 vectors (v1's layout took 20), no int->float conversion, the
// same for INT4, E2M1 and asymmetric INT4, and nothing crosses a lane.
//
// Scale decoders: gemm/w4a16_x86.h.
#include <immintrin.h>

#include <utility>

#include "gemm/w4a16_kernels.h"
#include "gemm/w4a16_x86.h"

namespace qkern {
namespace {

constexpr int kHalfN = kW4TileN / 2;       // channels per ymm
constexpr int kHalfBytes = kW4TileBytes / 2;

struct Tables {
  __m256i lo, hi;  // w4_byte_tables in both 128-bit halves
};

Tables make_tables(const W4Weights& w) {
  const W4ByteTables t = w4_byte_tables(w);
  return {_mm256_broadcastsi128_si256(t.lo), _mm256_broadcastsi128_si256(t.hi)};
}

// idx: one code (0..15) per byte, byte b of a channel's lane holding inputs (i0, i2, i1,
// i3) = the nibbles 2b (low: inputs 0 4 1 5) or 2b + 1 (high: 2 6 3 7) of its word ->
// w[i0], w[i1] (bytes 0 and 2: one word pair) and w[i2], w[i3] (bytes 1 and 3).
template <int I0, int I1, int I2, int I3>
QK_FORCEINLINE void decode_codes(__m256i idx, const Tables& tb, __m256* w) {
  const __m256i a = _mm256_shuffle_epi8(tb.lo, idx), b = _mm256_shuffle_epi8(tb.hi, idx);
  const __m256i high = _mm256_set1_epi16(int16_t(0xFF00));  // blend: high byte of each word from b
  const __m256i u02 = _mm256_blendv_epi8(a, _mm256_slli_epi16(b, 8), high);
  const __m256i u13 = _mm256_blendv_epi8(_mm256_srli_epi16(a, 8), b, high);
  const __m256i odd = _mm256_set1_epi32(int(0xFFFF0000u));
  w[I0] = _mm256_castsi256_ps(_mm256_slli_epi32(u02, 16));
  w[I1] = _mm256_castsi256_ps(_mm256_and_si256(u02, odd));
  w[I2] = _mm256_castsi256_ps(_mm256_slli_epi32(u13, 16));
  w[I3] = _mm256_castsi256_ps(_mm256_and_si256(u13, odd));
}

// One half tile (8 channels' words) -> w[v] = unscaled values of inputs k0 + v.
QK_FORCEINLINE void decode_half(const uint8_t* half, const Tables& tb, __m256* w) {
  const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(half));
  const __m256i nib = _mm256_set1_epi8(0x0F);
  decode_codes<0, 1, 4, 5>(_mm256_and_si256(bytes, nib), tb, w);
  decode_codes<2, 3, 6, 7>(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), nib), tb, w);
}

// The 8 scales (fp32) and the 8 zero offsets (8 - zero) of half h of strip t in group g.
template <W4ScaleKind SK>
QK_FORCEINLINE __m256 half_scales(const W4Weights& w, int64_t t, int64_t g, int h, __m256 mul256) {
  return load_scales<SK>(scale_at(w, t, g, kScaleBytes<SK>) + h * kHalfN * kScaleBytes<SK>, mul256);
}
QK_FORCEINLINE __m256 half_zero_offsets(const W4Weights& w, int64_t t, int64_t g, int h) {
  return load_zero_offsets(zero_at(w, t, g) + h * kHalfN);
}

// ---------------------------------------------------------------- GEMV

struct Avx2Ops {
  using V = __m256;
  static constexpr int kChains = 4;
  static V zero() { return _mm256_setzero_ps(); }
  static V fmadd_bcast(const float* x, V w, V acc) { return _mm256_fmadd_ps(_mm256_broadcast_ss(x), w, acc); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
};
using Chains = W4Chains<Avx2Ops>;

// MR rows of half h (channels 8h .. 8h + 7) of strip t over all of K. Each row sums a
// group in P partial vectors (MR * P = 4 chains, enough to hide the FMA latency), then
// scales the sum once. One half at a time: sharing the x broadcasts between the two
// 8-channel strips of the v1 layout saved loads but cost registers, and the spills cost
// more (16 ymm: 4 decode constants then, 5 now, 4 chains, temps); the second half's pass reads the
// strip from L2.
template <W4ScaleKind SK, bool Asym, int MR>
void gemv_half(const W4Weights& w, const Tables& tb, const float* x, int64_t ldx,
               const float* xsum, int64_t ldxs, int64_t t, int h, float* out, int64_t ldo) {
  constexpr int P = kW4ChainsPerRow<Avx2Ops, MR>;
  const __m256 mul256 = _mm256_set1_ps(256.0f * w.scale_mul);
  const int64_t group_chunks = w.group_chunks, groups = w.groups;
  // the strip's tiles are contiguous along K; this half is bytes [32h, 32h + 32) of each
  const uint8_t* tile = w.packed + t * w.k_chunks * kW4TileBytes + h * kHalfBytes;
  __m256 acc[MR];
  for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    const __m256 zero = _mm256_setzero_ps();
    Chains ch{zero, zero, zero, zero, zero, zero, zero, zero};
    const float* xr[MR];  // this chunk's x, one pointer per row
    for (int i = 0; i < MR; ++i) xr[i] = x + i * ldx + g * group_chunks * kW4TileK;
    for (int64_t c = 0; c < group_chunks; ++c, tile += kW4TileBytes) {
      __m256 wv[kW4TileK];
      decode_half(tile, tb, wv);
      w4_fma_tile<MR, P>(ch, xr, wv, std::make_integer_sequence<int, kW4TileK>());
      for (int i = 0; i < MR; ++i) xr[i] += kW4TileK;
    }
    const __m256 s = half_scales<SK>(w, t, g, h, mul256);
    __m256 zs = zero;
    if constexpr (Asym) zs = _mm256_mul_ps(half_zero_offsets(w, t, g, h), s);
    for (int i = 0; i < MR; ++i) {
      acc[i] = _mm256_fmadd_ps(w4_row_sum<P>(ch, i), s, acc[i]);
      if constexpr (Asym) acc[i] = _mm256_fmadd_ps(zs, _mm256_set1_ps(xsum[i * ldxs + g]), acc[i]);
    }
  }
  for (int i = 0; i < MR; ++i) _mm256_storeu_ps(out + i * ldo, acc[i]);
}

// Rows 0..MR1-1, then MR1..MR1+MR2-1 (MR2 may be 0) of each half strip: the second pass
// reads its tiles from L1.
template <W4ScaleKind SK, bool Asym>
struct GemvRows {
  template <int MR1, int MR2>
  static void run(const W4Weights& w, const float* x, int64_t ldx, const float* xsum,
                  int64_t ldxs, int64_t t0, int64_t t1, float* out, int64_t ldo) {
    const Tables tb = make_tables(w);
    for (int64_t t = t0; t < t1; ++t)
      for (int h = 0; h < 2; ++h) {
        float* o = out + (t - t0) * kW4TileN + h * kHalfN;
        gemv_half<SK, Asym, MR1>(w, tb, x, ldx, xsum, ldxs, t, h, o, ldo);
        if constexpr (MR2 > 0)
          gemv_half<SK, Asym, MR2>(w, tb, x + MR1 * ldx, ldx, xsum + MR1 * ldxs, ldxs, t, h,
                                   o + MR1 * ldo, ldo);
      }
  }
};

template <W4ScaleKind SK, bool Asym>
void gemv_kind(const W4Weights& w, const float* x, int64_t ldx, const float* xsum, int64_t ldxs,
               int mr, int64_t t0, int64_t t1, float* out, int64_t ldo) {
  w4_gemv_row_split<kW4GemvRowBlock, GemvRows<SK, Asym>>(mr, w, x, ldx, xsum, ldxs, t0, t1, out, ldo);
}

// ---------------------------------------------------------------- GEMM parts

template <W4ScaleKind SK, bool Asym>
void dequant_kind(const W4Weights& w, int64_t t0, int64_t ntiles, int64_t c0, int64_t nchunks,
                  float* panel) {
  const Tables tb = make_tables(w);
  const __m256 mul256 = _mm256_set1_ps(256.0f * w.scale_mul);
  for (int64_t dt = 0; dt < ntiles; ++dt) {
    const int64_t t = t0 + dt;
    float* strip = panel + dt * nchunks * kW4TileK * kW4GemmNr;
    const uint8_t* tile = w.packed + (t * w.k_chunks + c0) * kW4TileBytes;
    int64_t g = c0 / w.group_chunks, left = 0;  // chunks left in group g
    __m256 s[2] = {}, off[2] = {};             // per half
    for (int64_t dc = 0; dc < nchunks; ++dc, tile += kW4TileBytes) {
      if (left == 0) {  // entering a group: c0 + dc is its first chunk, or dc == 0
        left = (g + 1) * w.group_chunks - (c0 + dc);
        for (int h = 0; h < 2; ++h) {
          s[h] = half_scales<SK>(w, t, g, h, mul256);
          if constexpr (Asym) off[h] = half_zero_offsets(w, t, g, h);
        }
        ++g;
      }
      --left;
      for (int h = 0; h < 2; ++h) {
        __m256 wv[kW4TileK];
        decode_half(tile + h * kHalfBytes, tb, wv);
        for (int v = 0; v < kW4TileK; ++v) {
          // (value + 8 - z) * s: the integer add is exact, so this rounds like the reference
          const __m256 val = Asym ? _mm256_add_ps(wv[v], off[h]) : wv[v];
          _mm256_storeu_ps(strip + (dc * kW4TileK + v) * kW4GemmNr + h * kHalfN, _mm256_mul_ps(val, s[h]));
        }
      }
    }
  }
}

// C[MR][16] (+)= A[MR][kc] B[kc][16]: 2*MR accumulators, one broadcast of A per row and k.
// The block's sum starts from zero and is added to C at the end: summing K in blocks of kc
// keeps the fp32 rounding error near sqrt(kc) + sqrt(K/kc) terms instead of sqrt(K).
template <int MR>
void micro_rows(const float* a, int64_t lda, const float* b, int64_t kc, float* c, int64_t ldc,
                bool accumulate) {
  // Named accumulators: GCC keeps a __m256 array of this size in memory (a store per FMA).
  const __m256 zero = _mm256_setzero_ps();
  __m256 c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero;
  __m256 c30 = zero, c31 = zero, c40 = zero, c41 = zero, c50 = zero, c51 = zero;
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b + k * kW4GemmNr), b1 = _mm256_loadu_ps(b + k * kW4GemmNr + 8);
#define QK_W4_ROW(r)                                                  \
    if constexpr (MR > r) {                                           \
      const __m256 av = _mm256_broadcast_ss(a + r * lda + k);         \
      c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);                     \
      c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);                     \
    }
    QK_W4_ROW(0) QK_W4_ROW(1) QK_W4_ROW(2) QK_W4_ROW(3) QK_W4_ROW(4) QK_W4_ROW(5)
#undef QK_W4_ROW
  }
  const auto put = [&](int r, int j, __m256 v) {
    float* p = c + r * ldc + 8 * j;
    _mm256_storeu_ps(p, accumulate ? _mm256_add_ps(_mm256_loadu_ps(p), v) : v);
  };
  put(0, 0, c00), put(0, 1, c01);
  if constexpr (MR > 1) put(1, 0, c10), put(1, 1, c11);
  if constexpr (MR > 2) put(2, 0, c20), put(2, 1, c21);
  if constexpr (MR > 3) put(3, 0, c30), put(3, 1, c31);
  if constexpr (MR > 4) put(4, 0, c40), put(4, 1, c41);
  if constexpr (MR > 5) put(5, 0, c50), put(5, 1, c51);
}

void micro(const float* a, int64_t lda, const float* b, int64_t kc, float* c, int64_t ldc, int mr,
           bool accumulate) {
  static_assert(kW4GemmMr == 6 && kW4GemmNr == 16, "micro_rows covers 6 x 16");
  switch (mr) {
    case 1: return micro_rows<1>(a, lda, b, kc, c, ldc, accumulate);
    case 2: return micro_rows<2>(a, lda, b, kc, c, ldc, accumulate);
    case 3: return micro_rows<3>(a, lda, b, kc, c, ldc, accumulate);
    case 4: return micro_rows<4>(a, lda, b, kc, c, ldc, accumulate);
    case 5: return micro_rows<5>(a, lda, b, kc, c, ldc, accumulate);
    default: return micro_rows<6>(a, lda, b, kc, c, ldc, accumulate);
  }
}

template <W4ScaleKind SK, bool Asym>
void scales_kind(const W4Weights& w, int64_t t, int64_t g, float* out) {
  const __m256 mul256 = _mm256_set1_ps(256.0f * w.scale_mul);
  for (int h = 0; h < 2; ++h)
    _mm256_storeu_ps(out + h * kHalfN, half_scales<SK>(w, t, g, h, mul256));
}

void gemv(const W4Weights& w, const float* x, int64_t ldx, const float* xsum, int64_t ldxs,
          int mr, int64_t t0, int64_t t1, float* out, int64_t ldo) {
  QK_W4_DISPATCH(w, gemv_kind, w, x, ldx, xsum, ldxs, mr, t0, t1, out, ldo)
}

void dequant(const W4Weights& w, int64_t t0, int64_t ntiles, int64_t c0, int64_t nchunks,
             float* panel) {
  QK_W4_DISPATCH(w, dequant_kind, w, t0, ntiles, c0, nchunks, panel)
}

void scales(const W4Weights& w, int64_t t, int64_t g, float* out) {
  QK_W4_DISPATCH(w, scales_kind, w, t, g, out)
}

#undef QK_W4_DISPATCH

}  // namespace

const W4Kernels& w4_kernels_avx2() {
  static const W4Kernels k{gemv, dequant, micro, scales, nullptr, nullptr};
  return k;
}

}  // namespace qkern
