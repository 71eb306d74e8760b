// CUDA W4A16 GEMM/GEMV: y[m, n] = sum_k x[m, k] W[n, k] (+ bias[n]), x and y f16 or bf16,
// W 4-bit (INT4 sym/asym, MXFP4, NVFP4) in the prepacked layout below, mma.sync m16n8k16
// with fp32 accumulators, split-K over blockIdx.z into an fp32 workspace that a second
// kernel reduces (adding the bias and rounding once to y's dtype).
//
// ---- Prepacked layout "qkern.cuda.w4.m16n8k16.v1" (made by python/qkern/ops/gemm_cuda.py)
// mma.m16n8k16 computes D = A B with B K x N = W^T. Its B fragment (NUMERICS.md 4): lane l
// (g = l >> 2, t = l & 3) holds b_i = B(k = 2t + (i & 1) + 8 (i >> 1), n = g), i = 0..3, two
// per 32-bit register (b[0] = i 0,1; b[1] = i 2,3; lower element in the low half).
// One 128-bit lane word covers a 32 (n) x 32 (k) tile: 32-bit register w = n8 tile w
// (channels 8w..8w+7), and inside it nibble p (bits 4p..4p+3) is fragment element
//   j = (p >> 1) & 1         (k16 step: k offset 16 j)
//   i = (p >> 2) | (p & 1) << 1
// so element (n = 32 s + 8 w + g, k = 32 c + 16 j + 2t + (i & 1) + 8 (i >> 1)) of W sits in
// packed[s][c][lane = 4g + t][4 w + p / 2] (byte), nibble p & 1 (0 low). Why this order:
// (r >> 4 q) & 0x000F000F holds nibbles q and q + 4, i.e. for q = 0, 1, 2, 3 exactly the
// (lo, hi) element pairs of b[0] of step 0, b[1] of step 0, b[0] of step 1, b[1] of step 1,
// each already in its 16-bit half; one shift and one lop3 per register pair, no prmt.
// Scales are decoded to fp32 at prepack and stored per lane need: the accumulator c_i of
// n8 tile w is column 8w + 2t + (i & 1), so lane t reads 8 floats [w][i & 1] (two 128-bit
// loads) per group: scale[s][group][t][2 w + (i & 1)]. INT4 zero points are needed by the
// B fragment (column 8w + g): zero[s][group][g][w] (one 32-bit load). N and K are padded
// to 32: padding codes, zero points and scales are 0 and x is zero-filled past K, so the
// padding contributes exact zeros.
//
// ---- Dequantization in registers (no int -> float conversion instruction)
// INT4: lop3 (r & 0x000F000F) | M with M = 0x64006400 (f16 1024.0) or 0x43004300 (bf16
// 128.0) gives the halves M + q: q lands in the low 4 mantissa bits, and 1024 (f16, 10
// fraction bits) and 128 (bf16, 7 fraction bits) have unit spacing, so M + q is exact.
// Subtracting (M + z) (bits M | z) with one hsub2 gives q - z exactly (|q - z| <= 15).
// E2M1 (sign s, exponent e1 e0, mantissa m): the 8 magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6 are
// exact in f16 and bf16; prmt looks bytes up in an 8-byte table with a 3-bit selector, so
// one prmt gives the high bytes (f16: 00 38 3C 3E 40 42 44 46; bf16: 00 3F 3F 3F 40 40 40
// 40) and, for bf16 only, a second the low bytes (00 00 80 C0 00 40 80 C0; f16's are 0);
// the sign bit is moved to bit 15 of each half. Table index 0 is 0x00, which fills the
// bytes a half does not look up.
// Scales: the mma runs on the unscaled exact values (q - z or E2M1) per k16 step into a
// zeroed fragment, which is then added to the accumulator times the fp32 scale of its
// group (groups are multiples of 16). The weight is therefore never rounded to 16 bits.
//
// ---- Tiling (one config; kernels/configs beyond it need a benchmark to justify them)
// Block: kW4CudaWarps warps; warp w owns the 32-channel strip 4 blockIdx.x + w, the block
// rows 16 blockIdx.y .. +15, and K tiles [c0, c1) of split blockIdx.z. Per 32-wide K tile
// the block stages with cp.async, in one commit group: A (16 x 32 x 16-bit = 1 KiB,
// zero-filled past M and K), each warp's B words (32 lanes x 16 bytes) and the fp32
// scales its lanes need for the tile's two k16 steps (2 x 4 (t) x 8 floats).
// Pipeline: kStages tiles in flight; iteration c issues the copies of tile c + kStages - 1,
// waits for tile c's group, barrier, computes, barrier (the next copies reuse the stage).
// Why everything goes through the pipeline: the first version loaded B and the scales
// with plain loads in the iteration that used them, one tile at a time per warp; on an
// H100 (2026-11-22, `qkern bench --device cuda --ops w4a16`) M = 1 .. 16 at 4096 x 4096
// then took 32 us whatever M, 267 GB/s: one HBM latency per K tile.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "cuda/common/dispatch.cuh"
#include "cuda/common/launch.cuh"
#include "cuda/common/memory.cuh"
#include "cuda/formats/elements.cuh"
#include "cuda/gemm/w4a16.h"
#include "cuda/ptx/bits.cuh"
#include "cuda/ptx/cp_async.cuh"
#include "cuda/ptx/mma.cuh"

namespace qkern::cuda_gemm {

using cuda_formats::Elem;

template <DType kX, bool kE2m1>
struct W4A16Traits {
  static_assert(kX == DType::kF16 || kX == DType::kBF16, "W4A16 CUDA: x is f16 or bf16");
  static constexpr bool kIsBf16 = kX == DType::kBF16;
  static constexpr int kWarps = kW4CudaWarps;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kBlockM = kW4CudaBlockM;         // one mma m16
  static constexpr int kTileK = kW4CudaAlignK;          // 32: two k16 steps per lane word
  static constexpr int kStripN = kW4CudaAlignN;         // 32: four n8 tiles per warp
  static constexpr int kChunks = kBlockM * kTileK / 8;  // 16-byte cp.async chunks of A per tile
  static constexpr int kScaleChunks = 2 * 4 * 2;        // per warp and tile: [k16 step][t][2 x 4 floats]
  static constexpr int kStages = 4;                     // tiles in flight (cp.async groups)
  static constexpr uint32_t kMagic = kIsBf16 ? 0x43004300u : 0x64006400u;  // 128.0 / 1024.0
  // E2M1 magnitude tables for prmt (byte c = value of code c): high and low bytes.
  static constexpr uint32_t kHiLo = kIsBf16 ? 0x3F3F3F00u : 0x3E3C3800u;
  static constexpr uint32_t kHiHi = kIsBf16 ? 0x40404040u : 0x46444240u;
  static constexpr uint32_t kLoLo = 0xC0800000u;  // bf16 only
  static constexpr uint32_t kLoHi = 0xC0804000u;
  static_assert(kChunks <= kThreads, "one cp.async chunk of A per thread at most");
  static_assert(kScaleChunks <= 32, "one scale chunk per lane at most");
  static_assert(kStages >= 1 && kStages <= 8, "cp.async stages (wait_group takes 0..7)");
  static_assert(kStripN == 4 * 8 && kTileK == 2 * 16, "lane word = 4 n8 tiles x 2 k16 steps");
};

// hsub2 on raw bits (f16x2 or bf16x2); unions rather than pointer casts (strict aliasing).
template <bool kIsBf16>
__device__ __forceinline__ uint32_t hsub2_bits(uint32_t a, uint32_t b) {
  using h2_t = std::conditional_t<kIsBf16, __nv_bfloat162, __half2>;
  union Bits {
    uint32_t u;
    h2_t h;
    __device__ __forceinline__ Bits() : u(0) {}
  } x, y, d;
  x.u = a;
  y.u = b;
  d.h = __hsub2(x.h, y.h);
  return d.u;
}

// Register pair q (0..3) of a lane's n8-tile register r: the b32 holding nibbles q, q + 4
// as two 16-bit values (see the layout above). zz = bits of (M + z) in both halves (INT4).
template <class Tr, bool kE2m1>
__device__ __forceinline__ uint32_t dequant_pair(uint32_t r, int q, uint32_t zz) {
  const uint32_t s = r >> (4 * q);
  if constexpr (!kE2m1) {
    const uint32_t v = ptx::lop3<0xEA>(s, 0x000F000Fu, Tr::kMagic);  // (a & b) | c
    return hsub2_bits<Tr::kIsBf16>(v, zz);
  } else {
    const uint32_t u = s & 0x00070007u;               // magnitudes at bits 0..2, 16..18
    const uint32_t sign = (s & 0x00080008u) << 12;    // bits 3, 19 -> 15, 31
    // prmt reads only the low 16 selector bits: byte 1 <- table[u0], byte 3 <- table[u1].
    uint32_t v = ptx::prmt(Tr::kHiLo, Tr::kHiHi, (u << 4) | (u >> 4));
    if constexpr (Tr::kIsBf16) v |= ptx::prmt(Tr::kLoLo, Tr::kLoHi, u | (u >> 8));  // bytes 0, 2
    return v | sign;
  }
}

template <bool kIsBf16>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                         const float (&c)[4]) {
  if constexpr (kIsBf16) ptx::mma_m16n8k16_bf16(d, a, b, c);
  else ptx::mma_m16n8k16_f16(d, a, b, c);
}

// p: x [m, k] row stride p.x_stride (16-byte aligned rows), packed/scale/zero in the CUDA
// layout, workspace f32 [gridDim.z][m][np]. k_tiles = Kp / 32, groups = Gp.
// kAsym: INT4 with zero points (p.zero); else the zero point is the constant 8 (INT4) or
// unused (E2M1).
template <DType kX, bool kE2m1, bool kAsym>
__global__ void __launch_bounds__(W4A16Traits<kX, kE2m1>::kThreads)
w4a16_mma_kernel(W4A16Params p, int64_t np, int k_tiles, int groups, int tiles_per_split) {
  static_assert(!(kE2m1 && kAsym), "E2M1 has no zero point");
  using Tr = W4A16Traits<kX, kE2m1>;
  // per stage: A [16][32] row-major (1 KiB), each warp's B words [lane] (2 KiB) and
  // scales [warp][k16 step][t][8] (1 KiB)
  __shared__ __align__(16) uint16_t a_sh[Tr::kStages][Tr::kBlockM * Tr::kTileK];
  __shared__ __align__(16) uint4 b_sh[Tr::kStages][Tr::kWarps][32];
  __shared__ __align__(16) float s_sh[Tr::kStages][Tr::kWarps][2][4][8];

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int g = lane >> 2, t = lane & 3;
  const int64_t strip = int64_t(blockIdx.x) * Tr::kWarps + warp;  // 32-channel strip
  const bool strip_live = strip * Tr::kStripN < np;
  const int64_t m0 = int64_t(blockIdx.y) * Tr::kBlockM;
  const int c0 = int(blockIdx.z) * tiles_per_split;
  const int c1 = c0 + tiles_per_split < k_tiles ? c0 + tiles_per_split : k_tiles;
  // k16 steps per scale group (block % 16 == 0); the group of step s is s / gk, a shift
  // for the power-of-two blocks (a division is ~20 instructions, per tile)
  const int gk = p.fmt.block / 16;
  const int gk_log2 = (gk & (gk - 1)) == 0 ? __popc(gk - 1) : -1;
  const auto group_of = [gk, gk_log2](int step) { return gk_log2 >= 0 ? step >> gk_log2 : step / gk; };

  // This thread's A chunk: row tid / 4, columns 8 (tid % 4) .. +7 of the K tile.
  const int a_row = tid / 4, a_col = 8 * (tid % 4);
  const bool a_row_live = tid < Tr::kChunks && m0 + a_row < p.m;
  const uint16_t* x = static_cast<const uint16_t*>(p.x);
  const uint4* b_gl = reinterpret_cast<const uint4*>(p.packed) + (strip * k_tiles) * 32 + lane;

  // This lane's scale chunk (lane < kScaleChunks): k16 step sj, row t = st, floats 4 sh .. +3.
  const int sj = lane >> 3, st = (lane >> 1) & 3, sh = lane & 1;
  const float* scale = static_cast<const float*>(p.scale);

  // acc: the scaled sums [n8 tile w][c_i]; gacc: the current scale group's unscaled sums
  // (the mma accumulates a whole group, then one FMA per element applies its scale).
  float acc[4][4] = {}, gacc[4][4] = {};
  // Tile c -> stage (c - c0) % kStages, one commit group per tile (empty past c1). Strips
  // past N copy nothing (zero-filled; their results are never stored).
  auto fetch = [&](int c) {
    if (c < c1) {
      const int stage = (c - c0) % Tr::kStages;
      if (tid < Tr::kChunks) {
        const int64_t kk = int64_t(c) * Tr::kTileK + a_col;
        const bool live = a_row_live && kk < p.k;  // k % 16 == 0: a chunk is all in or all out
        const uint16_t* src = live ? x + (m0 + a_row) * p.x_stride + kk : x;
        ptx::cp_async_16_zfill(a_sh[stage] + a_row * Tr::kTileK + a_col, src, live ? 16 : 0);
      }
      ptx::cp_async_16_zfill(&b_sh[stage][warp][lane], strip_live ? static_cast<const void*>(b_gl + int64_t(c) * 32) : p.packed,
                             strip_live ? 16 : 0);
      if (lane < Tr::kScaleChunks) {
        const int64_t group = group_of(c * 2 + sj);
        const float* src = strip_live ? scale + ((strip * groups + group) * 4 + st) * 8 + 4 * sh : scale;
        ptx::cp_async_16_zfill(&s_sh[stage][warp][sj][st][4 * sh], src, strip_live ? 16 : 0);
      }
    }
    ptx::cp_async_commit();
  };
#pragma unroll
  for (int s = 0; s < Tr::kStages - 1; ++s) fetch(c0 + s);

  // acc += gacc * the group's scales (read from step j's slot of stage `stage`); the
  // group's first step then starts gacc afresh (mma with a zero C)
  const auto flush = [&](int stage, int j) {
    const float4 s_lo = *reinterpret_cast<const float4*>(&s_sh[stage][warp][j][t][0]);
    const float4 s_hi = *reinterpret_cast<const float4*>(&s_sh[stage][warp][j][t][4]);
    const float sc[8] = {s_lo.x, s_lo.y, s_lo.z, s_lo.w, s_hi.x, s_hi.y, s_hi.z, s_hi.w};
#pragma unroll
    for (int w = 0; w < 4; ++w)
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[w][i] += gacc[w][i] * sc[2 * w + (i & 1)];
  };
  int left = gk - (2 * c0) % gk;  // steps until the current group ends (gacc starts at 0)

  for (int c = c0; c < c1; ++c) {
    fetch(c + Tr::kStages - 1);  // into the stage read in iteration c - 1 (barrier below)
    const int stage = (c - c0) % Tr::kStages;
    const uint16_t* a_st = a_sh[stage];
    uint32_t zw2[2] = {0x08080808u, 0x08080808u};  // per k16 step: 4 zero points (kAsym)
    if (kAsym && strip_live)  // issued before the wait: its latency overlaps
#pragma unroll
      for (int j = 0; j < 2; ++j)
        zw2[j] = load_vec<uint32_t>(p.zero + ((strip * groups + group_of(c * 2 + j)) * 8 + g) * 4);
    ptx::cp_async_wait<Tr::kStages - 1>();  // tile c has landed (this thread's copies)
    __syncthreads();                         // ... and every other thread's

    if (strip_live) {
      const uint4 bw = b_sh[stage][warp][lane];
      const uint32_t bwr[4] = {bw.x, bw.y, bw.z, bw.w};
#pragma unroll
      for (int j = 0; j < 2; ++j) {  // k16 step
        // A fragment (NUMERICS.md 4): a[r] = A(g + 8 (r & 1), 2t + 8 (r >> 1) + {0, 1}) of step j.
        uint32_t a[4];
#pragma unroll
        for (int r = 0; r < 4; ++r)
          a[r] = *reinterpret_cast<const uint32_t*>(a_st + (g + 8 * (r & 1)) * Tr::kTileK + 16 * j + 2 * t +
                                                    8 * (r >> 1));
        const bool fresh = left == gk;  // the group's first step (always, for 16-element groups)
        const float zero4[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int w = 0; w < 4; ++w) {
          constexpr uint32_t kZz8 = (Tr::kMagic | 8u) | (Tr::kMagic | 8u) << 16;  // M + 8 in both halves
          uint32_t zz = kZz8;
          if constexpr (kAsym) {
            const uint32_t z = (zw2[j] >> (8 * w)) & 0xFFu;
            zz = (Tr::kMagic | z) | (Tr::kMagic | z) << 16;
          }
          const uint32_t b[2] = {dequant_pair<Tr, kE2m1>(bwr[w], 2 * j, zz),
                                 dequant_pair<Tr, kE2m1>(bwr[w], 2 * j + 1, zz)};
          if (fresh)
            mma16816<Tr::kIsBf16>(gacc[w], a, b, zero4);
          else
            mma16816<Tr::kIsBf16>(gacc[w], a, b, gacc[w]);
        }
        // the group ends with this step, or the split does (inside a group: its part of
        // the group, with the scales of its last step). One call site: a second one made
        // nvcc keep the lambda out of line, with a stack frame (sm_90a).
        if (--left == 0 || (c + 1 == c1 && j == 1)) {
          flush(stage, j);
          left = gk;
        }
      }
    }
    __syncthreads();  // the next iteration's copies overwrite this stage
  }
  if (!strip_live) return;
  float* ws = p.workspace + int64_t(blockIdx.z) * p.m * np;
#pragma unroll
  for (int w = 0; w < 4; ++w)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t row = m0 + g + 8 * (i >> 1), col = strip * Tr::kStripN + 8 * w + 2 * t + (i & 1);
      if (row < p.m) ws[row * np + col] = acc[w][i];
    }
}

constexpr int kReduceThreads = 256;

// y[row, col] = sum over splits of workspace[s][row][col] (+ bias[col]), rounded once.
// On an H100 it takes ~3.6 us at M = 1 whatever its loop (issuing the 16 splits' loads
// together timed the same): a launch of its own, which is what it costs.
template <DType kX>
__global__ void __launch_bounds__(kReduceThreads)
w4a16_reduce_kernel(W4A16Params p, int64_t np, int splits) {
  const int64_t e = int64_t(blockIdx.x) * kReduceThreads + threadIdx.x;
  if (e >= p.m * p.n) return;
  const int64_t row = e / p.n, col = e % p.n;
  float v = 0.0f;
  for (int s = 0; s < splits; ++s) v += p.workspace[(s * p.m + row) * np + col];
  using T = typename Elem<kX>::storage_t;
  if (p.bias) v += Elem<kX>::to_f32(static_cast<const T*>(p.bias)[col]);
  static_cast<T*>(p.y)[row * p.y_stride + col] = Elem<kX>::from_f32(v);
}

}  // namespace qkern::cuda_gemm

namespace qkern {

Status w4a16_cuda(const W4A16Params& p, int splits, cudaStream_t stream) {
  using namespace cuda_gemm;
  const int64_t block = p.fmt.block;
  if ((p.x_dtype != DType::kF16 && p.x_dtype != DType::kBF16) || p.k % 16 != 0 || block % 16 != 0 ||
      p.k % block != 0 || p.perm || p.global_scale || splits < 1 || splits > kW4CudaMaxSplits ||
      !is_aligned(p.x, 16) || p.x_stride % 8 != 0 || !is_aligned(p.packed, 16) || !is_aligned(p.scale, 16) ||
      (p.zero && !is_aligned(p.zero, 4)) || !p.workspace || p.m < 0 || p.n < 1)
    return fail_with(Status::kInvalidArgument, "w4a16_cuda: unsupported dtype, shape, alignment or pointer");
  if (p.m == 0) return Status::kOk;
  const int64_t np = round_up(p.n, kW4CudaAlignN), kp = round_up(p.k, kW4CudaAlignK);
  const int k_tiles = int(kp / kW4CudaAlignK), groups = int((kp + block - 1) / block);
  const int per_split = (k_tiles + splits - 1) / splits;
  const bool e2m1 = p.fmt.kind != FormatKind::kInt4;
  return switch_float_dtype(p.x_dtype, "w4a16_cuda", [&](auto xt) -> Status {
    constexpr DType kX = decltype(xt)::value;
    if constexpr (kX == DType::kF32) {
      return fail_with(Status::kInvalidArgument, "w4a16_cuda: x must be f16 or bf16");
    } else {
      const dim3 grid(unsigned((np / kW4CudaAlignN + kW4CudaWarps - 1) / kW4CudaWarps),
                      unsigned((p.m + kW4CudaBlockM - 1) / kW4CudaBlockM), unsigned(splits));
      const dim3 threads(32 * kW4CudaWarps);
      const LaunchConfig cfg{"w4a16_mma", grid, threads, 0, stream};
      Status s = e2m1     ? launch(cfg, w4a16_mma_kernel<kX, true, false>, p, np, k_tiles, groups, per_split)
                 : p.zero ? launch(cfg, w4a16_mma_kernel<kX, false, true>, p, np, k_tiles, groups, per_split)
                          : launch(cfg, w4a16_mma_kernel<kX, false, false>, p, np, k_tiles, groups, per_split);
      if (s != Status::kOk) return s;
      const dim3 rgrid(unsigned((p.m * p.n + kReduceThreads - 1) / kReduceThreads));
      return launch({"w4a16_reduce", rgrid, dim3(kReduceThreads), 0, stream}, w4a16_reduce_kernel<kX>, p, np,
                    splits);
    }
  });
}

}  // namespace qkern
