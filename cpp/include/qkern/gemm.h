// W4A16 linear layers: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) with a 4-bit weight W
// (INT4 sym/asym, MXFP4, NVFP4) and 16/32-bit activations x, fp32 accumulation.
//
// Shared by the CPU kernels (cpp/gemm) and, later, the CUDA kernels: the params structs
// (sizes, strides in elements, pointers; filled once by the bindings, passed by value),
// the prepacked layouts' arithmetic and the tile heuristics, as pure functions that the
// tests call through the bindings.
//
// Prepacked CPU layout, tag kW4CpuLayoutTag ("qkern.cpu.w4.n16k8.v3"). A canonical weight
// qdata [N, K/2] (element 2j low nibble), scale [N, K/G], zero [N, K/G] becomes:
//   packed  u8 [Np/16][Kp/8][64]  one 64-byte tile holds 16 output channels x 8 input
//                                  channels; tiles of one 16-channel strip are contiguous
//                                  along K, so the GEMV streams each strip once.
//   scale   [Np/16][groups][16]   the 16 channels' scales of a group side by side (one
//                                  vector load), in the canonical encoding (INT4:
//                                  f32/f16/bf16; MXFP4: E8M0 bytes) except NVFP4's:
//                                  unsigned E4M3 (w4_cpu_e4m3_scale), whose decoder is
//                                  one shift and one F16C conversion
//   zero    u8 [Np/16][groups][16] INT4 asymmetric only
// Np = N rounded up to kW4CpuAlignN, Kp = K rounded up to kW4TileK (only per-channel INT4
// can have K % 8 != 0). Padding codes decode to 0 (INT4: 8 with zero 8; E2M1: 0) and
// padding scales are finite, so padded rows/columns contribute exact zeros.
// Inside a tile, the little-endian 32-bit word `lane` (bytes 4 lane .. 4 lane + 3) holds the
// 8 codes of channel n0 + lane: input k0 + v in nibble w4_tile_nibble(v) (bits 4p..4p+3),
// i.e. nibbles 0..7 = inputs 0 2 4 6 1 3 5 7. So (word >> 4j) has inputs 2j and 2j + 1 in
// the low bits of its two 16-bit halves: the AVX-512 decoder turns a whole tile into the
// bf16 word pairs VDPBF16PS takes with 3 shifts and 4 VPERMW from a table of each code's
// exact bf16 value, one kernel for INT4 and E2M1 (cpp/gemm/w4a16_kernels_avx512.cpp); AVX2
// reads the tile as two halves of 8 channels (w4a16_kernels_avx2.cpp). Every lane is one
// channel, so nothing in a decode crosses channels.
// Act-order (GPTQ g_idx): packed column k' is column perm[k'] of the canonical weight and
// of x, with perm a stable argsort of g_idx, so that every group is contiguous.
// v3 (from v2): NVFP4 scales carry no sign bit (a v2 weight is refused: prepack again).
#pragma once
#include <cstdint>

#include "qkern/dtype.h"
#include "qkern/formats.h"
#include "qkern/macros.h"

namespace qkern {

constexpr const char* kW4CpuLayoutTag = "qkern.cpu.w4.n16k8.v3";
constexpr int kW4TileN = 16;                       // output channels per tile (one fp32 zmm)
constexpr int kW4TileK = 8;                        // input channels per tile
constexpr int kW4TileBytes = kW4TileN * kW4TileK / 2;  // 64: one cache line, one zmm load
constexpr int kW4CpuAlignN = kW4TileN;

// Nibble of a channel's 32-bit word that holds input v (0..7) of the tile.
QK_HOST_DEVICE constexpr int w4_tile_nibble(int v) { return (v >> 1) + 4 * (v & 1); }

QK_HOST_DEVICE constexpr int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// An NVFP4 scale code c in the CPU layout: the E4M3 code of |c| (0x00..0x7E), or 0xFF for
// NaN (0x7F, 0xFF), so that (byte << 7) is the fp16 of e4m3(byte) * 2^-8 for every byte
// stored, NaN included, with no sign or NaN handling in the decoders. A negative scale's
// sign moves into the E2M1 codes of its group (bit 3 flipped: e2m1(q ^ 8) = -e2m1(q)
// exactly, -0 for 0), so every element keeps its value.
struct W4CpuE4m3Scale {
  uint8_t byte;
  bool negative;  // flip the sign bit of the group's codes
};

QK_HOST_DEVICE constexpr W4CpuE4m3Scale w4_cpu_e4m3_scale(uint8_t c) {
  return (c & 0x7F) == 0x7F ? W4CpuE4m3Scale{0xFF, false}
                            : W4CpuE4m3Scale{uint8_t(c & 0x7F), (c & 0x80) != 0};
}

// Sizes of a prepacked CPU weight for an [n, k] weight with scale groups of `block`
// elements (block == k for per-channel INT4).
struct W4CpuShape {
  int64_t n, k;        // logical
  int64_t n_pad, k_pad;
  int64_t group;       // input channels per scale group in the packed layout (multiple of 8)
  int64_t groups;      // scale groups per row
};

QK_HOST_DEVICE inline W4CpuShape w4_cpu_shape(int64_t n, int64_t k, int64_t block) {
  W4CpuShape s{};
  s.n = n;
  s.k = k;
  s.n_pad = round_up(n, kW4CpuAlignN);
  s.k_pad = round_up(k, kW4TileK);
  s.group = block == k ? s.k_pad : block;
  s.groups = s.k_pad / s.group;
  return s;
}

// Canonical -> prepacked (one pass over the weight). Logical sizes only: each backend
// derives its layout's padded shape (CPU: w4_cpu_shape).
struct W4PrepackParams {
  FormatSpec fmt;          // kind, block (= k for per-channel INT4), symmetric, global_scale
  int64_t n, k;            // the weight is [n, k]
  const uint8_t* qdata;    // [n, k/2]
  const void* scale;       // [n, k/block]
  DType scale_dtype;       // INT4: f32/f16/bf16; MXFP4 / NVFP4: u8 (E8M0 / E4M3 codes)
  const uint8_t* zero;     // [n, k/block] INT4 asymmetric, else null
  const int32_t* perm;     // [k] act-order column order, or null for the identity
  uint8_t* packed;         // outputs, layouts above
  void* scale_out;
  uint8_t* zero_out;
};

// y = x W^T (+ bias) with a prepacked weight (the backend's layout).
struct W4A16Params {
  FormatSpec fmt;
  int64_t m, n, k;         // y [m, n] = x [m, k] W[n, k]^T; m = all leading dims of x
  const void* x;           // [m, k], row stride x_stride (elements), unit column stride
  int64_t x_stride;
  DType x_dtype;           // f32, f16 or bf16; y and bias have the same dtype
  const int32_t* perm;     // [k] act-order, or null
  const uint8_t* packed;   // prepacked weight (layout above)
  const void* scale;
  DType scale_dtype;       // INT4: f32/f16/bf16; MXFP4 / NVFP4: u8 (E8M0 / the layout's unsigned E4M3)
  const uint8_t* zero;     // INT4 asymmetric, else null
  const float* global_scale;  // NVFP4 two-level: [1], else null
  const void* bias;        // [n] or null
  void* y;                 // [m, n], row stride y_stride (elements); must not overlap x
  int64_t y_stride;
  float* workspace;        // CPU: w4a16_cpu_workspace_floats(...) fp32 elements
};

// ---------------------------------------------------------------- CPU tile heuristics
// Pure functions of the problem size, unit-tested (tests/test_w4a16_plan.py).

// Rows up to kW4GemvMaxM run the GEMV kernel: it decodes each weight tile in registers and
// uses it for up to kW4GemvRowBlock rows at once on AVX2 (more rows would spill the 16
// ymm; the AVX-512 level takes 8 rows per pass in its 32 zmm), so
// its cost is (decode + rows x FMA) per weight vector, the decode repeated per row block
// from L1. Above it the GEMM kernel (decode once into an fp32 panel, 6x16 register tiles)
// wins. Measured (N = K = 4096, one Zen 4 core, thread CPU time): GEMV 5.9 ms vs GEMM
// 6.8 ms at m = 8, GEMV 7.9 ms vs GEMM 7.0 ms at m = 10.
constexpr int kW4GemvMaxM = 8;
constexpr int kW4GemvRowBlock = 4;
constexpr int kW4GemmMr = 6;    // GEMM register tile: 6 rows x 16 columns (12 ymm accumulators)
constexpr int kW4GemmNr = kW4TileN;  // the dequantized panel is one strip wide

struct W4CpuPlan {
  bool gemv;        // GEMV kernel (m <= kW4GemvMaxM) or GEMM
  int64_t mc;       // GEMM: rows per work item (multiple of kW4GemmMr unless it is m)
  int64_t nc;       // GEMM: columns per work item (multiple of kW4GemmNr)
  int64_t kc;       // GEMM: input channels per dequantized panel (multiple of 8)
  int64_t work_m, work_n;  // GEMM: work items along m and n (the thread pool takes them)
};

// Workspace (fp32 elements) the caller allocates: x converted to fp32 in packed column
// order, [m][k_pad], then the per-group sums of x, [m][groups] (for zero points). The bf16
// kernels may leave it unused (they read bf16 x in place: cpp/gemm/w4a16.cpp).
QK_HOST_DEVICE inline int64_t w4a16_cpu_workspace_floats(int64_t m, const W4CpuShape& s) {
  return m * (s.k_pad + s.groups);
}

QK_HOST_DEVICE inline W4CpuPlan w4a16_cpu_plan(int64_t m, const W4CpuShape& s, int threads) {
  W4CpuPlan p{};
  threads = threads < 1 ? 1 : threads;
  p.gemv = m <= kW4GemvMaxM;
  if (p.gemv) return p;
  // Dequantized panel kc x nc fp32 = 64 KiB; the x block mc x kc (60 KiB) and the fp32
  // output block mc x nc (60 KiB) stay in L2 beside it. kc = 128 also sets the blocked
  // summation of K (fp32 error ~ sqrt(128) + sqrt(K/128) terms; the GEMM is then as
  // accurate as PyTorch's own fp32 GEMM, which a longer chain of FMAs was not).
  p.kc = s.k_pad < 128 ? s.k_pad : 128;
  p.nc = 128;
  if (p.nc > s.n_pad) p.nc = s.n_pad;
  p.mc = 120;
  if (p.mc > m) p.mc = m;
  p.work_m = (m + p.mc - 1) / p.mc;
  p.work_n = (s.n_pad + p.nc - 1) / p.nc;
  // Enough items for the pool (2 per thread): narrow the columns, then the rows.
  while (p.work_m * p.work_n < 2 * threads && p.nc > kW4GemmNr) {
    p.nc = round_up(p.nc / 2, kW4GemmNr);
    p.work_n = (s.n_pad + p.nc - 1) / p.nc;
  }
  while (p.work_m * p.work_n < 2 * threads && p.mc > kW4GemmMr) {
    p.mc = round_up(p.mc / 2, kW4GemmMr);
    p.work_m = (m + p.mc - 1) / p.mc;
  }
  return p;
}

// ---------------------------------------------------------------- CUDA layout and plan
// Prepacked CUDA layout "qkern.cuda.w4.m16n8k16.v1" (derivation: cuda/gemm/w4a16.cu;
// made by python/qkern/ops/gemm_cuda.py). Np = round_up(N, 32), Kp = round_up(K, 32),
// Gp = ceil(Kp / group) (padding groups have scale 0):
//   packed  u8  [Np/32][Kp/32][32 lanes][16]  one 128-bit word per lane per 32 x 32 tile
//   scale   f32 [Np/32][Gp][4 (t)][8]         decoded scales (NVFP4: x global scale)
//   zero    u8  [Np/32][Gp][8 (g)][4]         INT4 asymmetric zero points
constexpr const char* kW4CudaLayoutTag = "qkern.cuda.w4.m16n8k16.v1";
constexpr int kW4CudaAlignN = 32;   // output channels per warp tile (4 mma n8 tiles)
constexpr int kW4CudaAlignK = 32;   // input channels per lane word (2 mma k16 steps)
constexpr int kW4CudaWarps = 4;     // warps per block: a block covers 4 x 32 channels
constexpr int kW4CudaBlockM = 16;   // rows per block (one mma m16)
constexpr int kW4CudaMaxSplits = 16;

// Split-K count: enough blocks for kW4CudaBlocksPerSm on every SM (small M launches few
// output tiles; on an H100 8 per SM, with up to 32 splits, was no faster than 4),
// at most one split per 32-wide K tile and at most kW4CudaMaxSplits (the fp32 workspace
// and the reduction grow with it). A pure function, unit-tested (tests/sim/test_w4a16_sim.py).
constexpr int kW4CudaBlocksPerSm = 4;
QK_HOST_DEVICE inline int w4a16_cuda_splits(int64_t m, int64_t n, int64_t k, int sms) {
  const int64_t tiles = ((round_up(n, kW4CudaAlignN) / kW4CudaAlignN + kW4CudaWarps - 1) / kW4CudaWarps) *
                        ((m + kW4CudaBlockM - 1) / kW4CudaBlockM);
  const int64_t k_tiles = round_up(k, kW4CudaAlignK) / kW4CudaAlignK;
  const int64_t want = int64_t(kW4CudaBlocksPerSm) * sms;
  int64_t s = tiles >= want ? 1 : (want + tiles - 1) / tiles;
  if (s > k_tiles) s = k_tiles;
  if (s > kW4CudaMaxSplits) s = kW4CudaMaxSplits;
  return s < 1 ? 1 : int(s);
}

}  // namespace qkern
