// AVX-512 W4A16 kernels. Compiled with AVX2+FMA+F16C and AVX-512 F/BW/VL (the _avx512.cpp
// suffix); entered only when active_isa() >= Isa::kAvx512 (pick_kernels).
//
// Layout qkern.cpu.w4.n16k8.v3 (qkern/gemm.h): a tile is one zmm, 32-bit lane = channel,
// input v in nibble w4_tile_nibble(v) of the lane (nibbles 0..7 = inputs 0 2 4 6 1 3 5 7). Shifting the tile
// right by 4j puts inputs (2j, 2j + 1) in the low 4 bits of the lane's two 16-bit words,
// and VPERMW (which reads only the low 5 bits of each index word) turns both into their
// exact bf16 values in one op from a 32-entry table (entry i = value of code i & 15; bit 4
// is the next nibble's low bit, hence the copy). Per tile (128 weights): 1 load, 3 shifts,
// 4 VPERMW -> 4 vectors of bf16 word pairs, the operand VDPBF16PS takes; the same
// instructions for INT4, E2M1 and asymmetric INT4 (docs/gemm.md: the prototype that chose
// this decode). fp32 activations widen each pair into two fp32 vectors (shift, mask).
// Scales and zero points: 16 channels at once, with the 8-channel decoders' formulas
// (gemm/w4a16_x86.h), so every channel's values and rounding are those of the AVX2 level.
//
// Also compiled with -mavx512bf16: VDPBF16PS appears only in the bf16 GEMV (Bf16Ops) and
// the bf16 GEMM (bf16_tile), which the table holds only where cpu_features().avx512bf16.
//
// AVX-512 here: the GEMVs (fp32 x and bf16 x), the bf16 GEMM and the scale decoder; the
// fp32 GEMM parts (dequant, micro) are the AVX2 entries.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "common/cpu_features.h"
#include "gemm/w4a16_kernels.h"
#include "gemm/w4a16_x86.h"

namespace qkern {
namespace {

// VPERMW table: word i = bf16 bits of table[i & 15].
__m512i word_table(const W4Weights& w) {
  alignas(64) uint16_t t[32];
  for (int i = 0; i < 32; ++i) t[i] = w.table[i & 15];
  return _mm512_load_si512(t);
}

// The tile's exact bf16 words: u[j] holds inputs (2j, 2j + 1) of each channel's lane.
QK_FORCEINLINE void tile_words(const uint8_t* tile, __m512i table, __m512i* u) {
  __m512i d = _mm512_loadu_si512(tile);
#if defined(__GNUC__)
  // One load into a register: otherwise GCC folds the load into each of the 3 shifts.
  asm("" : "+v"(d));
#endif
  u[0] = _mm512_permutexvar_epi16(d, table);
  u[1] = _mm512_permutexvar_epi16(_mm512_srli_epi32(d, 4), table);
  u[2] = _mm512_permutexvar_epi16(_mm512_srli_epi32(d, 8), table);
  u[3] = _mm512_permutexvar_epi16(_mm512_srli_epi32(d, 12), table);
}

// The GEMV's arithmetic, two variants (Ops of W4Chains plus a tile decoder):
//   Fp32Ops  x fp32 [mr][k_pad]; kInputs = 8 vectors per tile, one FMA each.
//   Bf16Ops  x as bf16 pairs [mr][k_pad / 2] u32 (low half x[2j], high x[2j + 1]), exact
//            only for bf16 activations; word pair (2j, 2j + 1) of a channel sits in one
//            32-bit lane, so VDPBF16PS adds x[2j] w[2j] + x[2j+1] w[2j+1] per lane: 4
//            instructions per tile, no widening. Both products are exact in fp32 (the
//            words are the exact code values); VDPBF16PS rounds to nearest even after
//            each addition, treats bf16 denormal inputs as 0 and flushes denormal results.
// Register budget of the GEMV (32 zmm): up to 8 partial-sum chains and 8 row accumulators,
// the decoded tile (4 or 8 vectors), the table and a broadcast.
constexpr int kAvx512Chains = 8;
constexpr int kAvx512RowBlock = 8;
// Chains per row at most: 4 hide the dot product's latency behind one tile's decode; 8
// (two tiles per step) was slower at one row in the layout's prototype
// (benchmarks/prototypes/w4a16_v2_layout.cpp, its c8u2 against c4u1 variants). NVFP4's
// 16-element groups (2 tiles) take 2: the chains restart every group, so the groups'
// sums overlap anyway, and each chain more costs an add per group (docs/gemm.md).
template <W4ScaleKind SK>
constexpr int kMaxChainsPerRow = SK == W4ScaleKind::kE4m3 ? 2 : 4;
constexpr int kPrefetchBytes = 512;  // software prefetch distance along a strip

struct Fp32Ops {
  using V = __m512;
  static constexpr int kChains = kAvx512Chains;
  static constexpr int kInputs = kW4TileK;
  static V zero() { return _mm512_setzero_ps(); }
  static V fmadd_bcast(const float* x, V w, V acc) {
    return _mm512_fmadd_ps(_mm512_set1_ps(*x), w, acc);
  }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // w[v] = unscaled fp32 values of input v: the even word of a lane by a shift, the odd
  // one by a mask
  static void decode(const uint8_t* tile, __m512i table, V* w) {
    const __m512i odd = _mm512_set1_epi32(int(0xFFFF0000u));
    __m512i u[4];
    tile_words(tile, table, u);
    for (int j = 0; j < 4; ++j) {
      w[2 * j] = _mm512_castsi512_ps(_mm512_slli_epi32(u[j], 16));
      w[2 * j + 1] = _mm512_castsi512_ps(_mm512_and_si512(u[j], odd));
    }
  }
};

struct Bf16Ops {
  using V = __m512;
  static constexpr int kChains = kAvx512Chains;
  static constexpr int kInputs = kW4TileK / 2;  // x pairs per tile
  static V zero() { return _mm512_setzero_ps(); }
  // x: one u32 bf16 pair, broadcast from memory inside the instruction ({1to16}): GCC
  // does not fold _mm512_set1_epi32(*x) into it, and the separate broadcast costs an op
  // per dot product.
  static V fmadd_bcast(const float* x, V w, V acc) {
#if defined(__GNUC__)
    asm("vdpbf16ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*x));
    return acc;
#else
    return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)_mm512_set1_ps(*x));
#endif
  }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void decode(const uint8_t* tile, __m512i table, V* w) {
    tile_words(tile, table, reinterpret_cast<__m512i*>(w));
  }
};

// The 16 scales at p (scale_at) as fp32, the 8-channel decoders' formulas on 16 lanes;
// mul256 = 256 * scale_mul (E4M3 only).
template <W4ScaleKind SK>
QK_FORCEINLINE __m512 load_scales16(const uint8_t* p, __m512 mul256) {
  if constexpr (SK == W4ScaleKind::kF32) {
    return _mm512_loadu_ps(p);
  } else if constexpr (SK == W4ScaleKind::kF16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else if constexpr (SK == W4ScaleKind::kBF16) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
  } else if constexpr (SK == W4ScaleKind::kE8m0) {
    const __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __mmask16 edge = _mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()) |
                           _mm512_cmpeq_epi32_mask(e, _mm512_set1_epi32(255));
    const __m512i bits = _mm512_slli_epi32(e, 23);
    return _mm512_castsi512_ps(_mm512_mask_or_epi32(bits, edge, bits, _mm512_set1_epi32(0x00400000)));
  } else {
    const __m256i c = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_mul_ps(_mm512_cvtph_ps(_mm256_slli_epi16(c, 7)), mul256);
  }
}

// 8 - zero of the 16 channels at p (zero_at; INT4 asymmetric).
QK_FORCEINLINE __m512 zero_offsets16(const uint8_t* p) {
  const __m512i z = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm512_sub_ps(_mm512_set1_ps(8.0f), _mm512_cvtepi32_ps(z));
}

// MR rows of strip t over all of K. Each row sums a group in P partial vectors (MR * P <=
// 8 chains), then scales the sum once, as the AVX2 kernel does per half strip.
template <class Ops, W4ScaleKind SK, bool Asym, int MR>
void gemv_strip(const W4Weights& w, __m512i table, const float* x, int64_t ldx,
                const float* xsum, int64_t ldxs, int64_t t, float* out, int64_t ldo) {
  constexpr int P = std::min(kMaxChainsPerRow<SK>, kW4ChainsPerRow<Ops, MR>);
  static_assert(P <= Ops::kInputs, "one tile per step feeds every chain");
  const __m512 mul256 = _mm512_set1_ps(256.0f * w.scale_mul);
  const int64_t group_chunks = w.group_chunks, groups = w.groups;
  const uint8_t* tile = w.packed + t * w.k_chunks * kW4TileBytes;  // contiguous along K
  __m512 acc[MR];
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    const __m512 zero = _mm512_setzero_ps();
    W4Chains<Ops> ch{zero, zero, zero, zero, zero, zero, zero, zero};
    const float* xr[MR];  // this chunk's x (Ops::kInputs words per tile), one pointer per row
    for (int i = 0; i < MR; ++i) xr[i] = x + i * ldx + g * group_chunks * Ops::kInputs;
    for (int64_t c = 0; c < group_chunks; ++c, tile += kW4TileBytes) {
      // Cold weights (streamed from DRAM, as in a decode step) are 10-20% faster with a
      // software prefetch at one and two threads; hot ones unchanged (docs/gemm.md).
      _mm_prefetch(reinterpret_cast<const char*>(tile + kPrefetchBytes), _MM_HINT_T0);
      __m512 wv[Ops::kInputs];
      Ops::decode(tile, table, wv);
      w4_fma_tile<MR, P>(ch, xr, wv, std::make_integer_sequence<int, Ops::kInputs>());
      for (int i = 0; i < MR; ++i) xr[i] += Ops::kInputs;
    }
    const __m512 s = load_scales16<SK>(scale_at(w, t, g, kScaleBytes<SK>), mul256);
    __m512 zs = zero;
    if constexpr (Asym) zs = _mm512_mul_ps(zero_offsets16(zero_at(w, t, g)), s);
    for (int i = 0; i < MR; ++i) {
      acc[i] = _mm512_fmadd_ps(w4_row_sum<P>(ch, i), s, acc[i]);
      if constexpr (Asym) acc[i] = _mm512_fmadd_ps(zs, _mm512_set1_ps(xsum[i * ldxs + g]), acc[i]);
    }
  }
  for (int i = 0; i < MR; ++i) _mm512_storeu_ps(out + i * ldo, acc[i]);
}

// Rows 0..MR1-1, then MR1..MR1+MR2-1 of each strip (the second pass reads the strip's
// tiles from L1).
template <class Ops, W4ScaleKind SK, bool Asym>
struct GemvRows {
  template <int MR1, int MR2>
  static void run(const W4Weights& w, const float* x, int64_t ldx, const float* xsum,
                  int64_t ldxs, int64_t t0, int64_t t1, float* out, int64_t ldo) {
    const __m512i table = word_table(w);
    for (int64_t t = t0; t < t1; ++t) {
      float* o = out + (t - t0) * kW4TileN;
      gemv_strip<Ops, SK, Asym, MR1>(w, table, x, ldx, xsum, ldxs, t, o, ldo);
      if constexpr (MR2 > 0)
        gemv_strip<Ops, SK, Asym, MR2>(w, table, x + MR1 * ldx, ldx, xsum + MR1 * ldxs, ldxs, t,
                                       o + MR1 * ldo, ldo);
    }
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
  Gemv<Bf16Ops>::run(w, reinterpret_cast<const float*>(x), ldx, xsum, ldxs, mr, t0, t1, out, ldo);
}

template <W4ScaleKind SK, bool Asym>
void scales_kind(const W4Weights& w, int64_t t, int64_t g, float* out) {
  _mm512_storeu_ps(out, load_scales16<SK>(scale_at(w, t, g, kScaleBytes<SK>),
                                          _mm512_set1_ps(256.0f * w.scale_mul)));
}

void scales(const W4Weights& w, int64_t t, int64_t g, float* out) {
  QK_W4_DISPATCH(w, scales_kind, w, t, g, out)
}

// ---------------------------------------------------------------- bf16 GEMM
//
// One work item: rows [0, m) of x (bf16 pairs) times the 16 or 32 channels of strips
// [t0, t0 + ntiles) (ntiles 1 or 2) over all of K. K is walked in chunks of whole scale
// groups (kW4Bf16GemmChunkK inputs, or one group if larger). Per chunk the tiles are
// decoded once into a panel of exact bf16 words, [k pair][32 channels] u32 (the word
// pairs of tile_words(), unscaled: value = table[code]), and the chunk's scales (and zero
// terms) into [group][32] fp32; then row blocks of kBf16GemmMr rows run the register tile:
// per group, chains[r][b] += VDPBF16PS(panel word, x pair) over the group's k pairs, then
// acc[r][b] += chains * scale (+ (8 - zero) * scale * sum of x), the same per-group
// summation as the GEMV, exact products. The accumulators live in out between chunks.
// Per k pair and 6 rows: 2 panel loads, 6 broadcasts, 12 dot products (the GEMV needs a
// broadcast per dot product), and the decode is shared by all rows.

constexpr int kBf16GemmMr = 6;       // rows per register tile: 12 chains + 12 accumulators
constexpr int64_t kBf16GemmChunkK = 256;

// Decodes the chunk [c0, c0 + nchunks) of strips t0 .. t0 + nb - 1 into panel
// [nchunks * 4][nb * 16] and groups [g0, g0 + ng) of their scales into scale
// [ng][nb * 16] (and zs, asymmetric only: (8 - zero) * scale).
template <W4ScaleKind SK, bool Asym>
void bf16_panel_kind(const W4Weights& w, int64_t t0, int nb, int64_t c0, int64_t nchunks,
                     int64_t g0, int64_t ng, uint32_t* panel, float* scale, float* zs) {
  const __m512i table = word_table(w);
  const __m512 mul256 = _mm512_set1_ps(256.0f * w.scale_mul);
  const int width = nb * kW4TileN;
  for (int b = 0; b < nb; ++b) {
    const int64_t t = t0 + b;
    const uint8_t* tile = w.packed + (t * w.k_chunks + c0) * kW4TileBytes;
    for (int64_t c = 0; c < nchunks; ++c) {
      __m512i u[4];
      tile_words(tile + c * kW4TileBytes, table, u);
      for (int j = 0; j < 4; ++j) _mm512_storeu_si512(panel + (c * 4 + j) * width + b * kW4TileN, u[j]);
    }
    for (int64_t g = 0; g < ng; ++g) {
      const __m512 sv = load_scales16<SK>(scale_at(w, t, g0 + g, kScaleBytes<SK>), mul256);
      _mm512_storeu_ps(scale + g * width + b * kW4TileN, sv);
      if constexpr (Asym)
        _mm512_storeu_ps(zs + g * width + b * kW4TileN,
                         _mm512_mul_ps(zero_offsets16(zero_at(w, t, g0 + g)), sv));
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
  const int nb = int(ntiles);
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
      const float* xs = xsum ? xsum + i * ldxs + g0 : nullptr;
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
  static const W4Kernels k{Gemv<Fp32Ops>::run, avx2.dequant, avx2.micro, scales,
                           bf16 ? gemv_bf16 : nullptr, bf16 ? gemm_bf16 : nullptr};
  return k;
}

}  // namespace qkern
