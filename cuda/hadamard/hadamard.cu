// CUDA Walsh-Hadamard rotation y = x (H_K kron H_m) * scale over rows of n = K * 2^p
// (qkern/hadamard.h), with the plain store or a fused quantization epilogue.
//
// One kernel family, hadamard_kernel<Traits>: a CTA of 256 threads owns a tile of R rows
// (R = max(1, 2048 / n) for the plain transform and the block formats, 1 for per-row
// formats) held in fp32 in one buffer, `buf` [R][K][m] (row r, sub-row a, column c at
// r*n + a*m + c): dynamic shared memory when R*n*4 <= 96 KiB, else one row of a global
// workspace per CTA (__syncthreads orders global memory within a block just as well).
//
//   1. load + in-thread + warp butterflies: thread t of the tile takes chunk ch (8
//      consecutive elements of one row: one 128-bit load of f16/bf16, two of f32), times
//      signs; strides 1, 2, 4 inside the thread, strides 8..128 across the 32 lanes of
//      the warp (lane xor 1..16, consecutive lanes hold consecutive chunks); -> buf.
//   2. shared-memory exchange: strides 256 .. m/2 in radix-8 passes over buf (a thread
//      gathers 8 elements S apart, S = 256, 2048, 16384, and does 3 strides in registers;
//      lanes take consecutive columns, so the accesses are conflict-free).
//   3. K x K stage (K > 1): Y = W . Z over the K sub-rows of each row, summed exactly as
//      qkern/hadamard.h defines it: each group of 4 sub-rows is first replaced in place by
//      u = (z0 + z1, z0 - z1) and v = (z2 + z3, z2 - z3), then every output sums, per
//      group, comb = u[b1] +- v[b2 ^ b3] (negated for code bit 8, i.e. subtracted) into an
//      even- and an odd-group partial sum: the CPU's mix_combinations values, bit for bit.
//      Outputs are computed for column tiles of Wc columns x K sub-rows (<= 8 outputs per
//      thread, in registers) and written back over their own inputs after a barrier.
//   4. epilogue from buf, 8 elements per thread: the plain store (signs after, rounding to
//      x's dtype, 128-bit stores), or the NVFP4 amax pass, or the block quantizer (teams of
//      block/8 lanes as in cuda/formats, optionally swizzled scales), or the per-row one
//      (one CTA reduction) -- the encoders of cuda/formats/encode.cuh.
//
// Exactness: every butterfly stage is a + b / a - b on the same operands, in increasing
// stride, as the CPU kernels do (stages in-thread, across lanes or through buf are the same
// operations); the scale is one multiply after the last stage (K = 1) or after the mix sum
// (K > 1); then * signs for the transpose. Compiled with -fmad=false and no fast-math,
// the rotated fp32 rows are therefore bit-identical to the CPU kernels' (tested), and
// hadamard_quantize(x, f) == quantize(hadamard(x.float()), f) holds on CUDA too.
//
// Instantiated configs (24 kernels, one translation unit): the x dtype (f32, f16, bf16)
// times the epilogue: store, NVFP4 amax, block INT4/MXFP4/NVFP4, row INT4/INT8/FP8. Sizes
// are run-time values (m decides which stages run, K the mix), so no kernel per size.
#include "cuda/hadamard/hadamard.h"

#include "cuda/common/dispatch.cuh"
#include "cuda/common/launch.cuh"
#include "cuda/formats/elements.cuh"
#include "cuda/formats/encode.cuh"
#include "cuda/formats/formats.h"
#include "qkern/recipes.h"

namespace qkern::cuda_hadamard {

using cuda_formats::Elem;
using cuda_formats::kVec;
using cuda_formats::Stats;

enum class Epilogue : int {
  kStore = 0,  // out = y (* signs), rounded to x's dtype
  kAmax = 1,   // NVFP4 pass 1: atomicMax of finite |y| into the global-scale slot
  kBlock = 2,  // quantize scale blocks of 16..128 elements (INT4 groups, MXFP4, NVFP4)
  kRow = 3,    // quantize with one scale per row (INT4 per row, INT8, FP8)
};

constexpr int kThreads = 256;                     // threads per CTA
constexpr int kTileElems = kThreads * kVec;       // elements a tile aims at (one chunk per thread)
constexpr int64_t kSmemRowBytes = 96 * 1024;      // largest tile kept in shared memory (all archs)
constexpr int64_t kWorkspaceFloats = int64_t(1) << 24;  // cap of the global workspace
constexpr int kMixPerThread = 8;                  // K x K stage outputs per thread and column tile

template <DType kX, Epilogue kEpi, FormatKind kKind>
struct HadamardTraits {
  static constexpr DType kXType = kX;
  static constexpr Epilogue kEpilogue = kEpi;
  static constexpr FormatKind kFormat = kKind;  // meaningful for kBlock / kRow
  static constexpr int kLog2Vec = 3;            // strides 1, 2, 4 in-thread
  static constexpr int kWarpSpan = 32 * kVec;   // strides 8 .. 128 by shuffles
  static constexpr int kRadix = 8;              // strides >= 256: radix-8 passes over buf
  static_assert(kVec == 1 << kLog2Vec && kRadix == kVec, "a chunk is one radix-8 butterfly");
  static_assert(kThreads % 32 == 0 && kTileElems % kWarpSpan == 0, "whole warps");
  static_assert(int64_t(kThreads) * kMixPerThread == kTileElems, "a column tile has <= kTileElems outputs");
  static_assert(kEpi != Epilogue::kBlock || kKind == FormatKind::kInt4 || kKind == FormatKind::kMxfp4 ||
                    kKind == FormatKind::kNvfp4,
                "block epilogue: 4-bit block formats");
  static_assert(kEpi != Epilogue::kRow || kKind == FormatKind::kInt4 || kKind == FormatKind::kInt8 ||
                    kKind == FormatKind::kFp8,
                "row epilogue: per-row formats");
};

// Launch geometry, computed on the host (launch_geometry below).
struct Tile {
  int64_t rows_per_tile;  // R
  int64_t tiles;          // ceil(rows / R); CTAs loop over tiles
  int64_t mix_width;      // Wc, columns per K x K column tile (a power of two)
  float* workspace;       // null: buf is dynamic shared memory; else gridDim.x x R*n floats
  bool swizzled_scales;   // block epilogue: scales in the 128x4-atom layout
};

// Butterflies of strides 1, 2, 4 (< limit) over 8 values in registers.
__device__ __forceinline__ void butterfly8(float (&v)[kVec], int64_t limit) {
#pragma unroll
  for (int h = 1; h < kVec; h *= 2) {
    if (h >= limit) break;
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      if (i & h) continue;
      const float a = v[i], b = v[i + h];
      v[i] = a + b;
      v[i + h] = a - b;
    }
  }
}

// buf[off .. off+cnt) <-> v (cnt <= 8; off % 4 == 0 when cnt == 8, so float4 accesses).
__device__ __forceinline__ void buf_load(const float* buf, int64_t off, int cnt, float (&v)[kVec]) {
  if (cnt == kVec) {
    const float4 a = *reinterpret_cast<const float4*>(buf + off), b = *reinterpret_cast<const float4*>(buf + off + 4);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  } else {
#pragma unroll
    for (int i = 0; i < kVec; ++i) v[i] = i < cnt ? buf[off + i] : 0.0f;
  }
}

__device__ __forceinline__ void buf_store(float* buf, int64_t off, int cnt, const float (&v)[kVec]) {
  if (cnt == kVec) {
    *reinterpret_cast<float4*>(buf + off) = make_float4(v[0], v[1], v[2], v[3]);
    *reinterpret_cast<float4*>(buf + off + 4) = make_float4(v[4], v[5], v[6], v[7]);
  } else {
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      if (i < cnt) buf[off + i] = v[i];
  }
}

// Chunk ch of a tile of rows of n elements: row rr, first column c0, cnt valid elements.
struct Chunk {
  int64_t rr, c0;
  int cnt;
  __device__ __forceinline__ Chunk(int64_t ch, int64_t n, int64_t chunks_per_row, int64_t total) {
    rr = ch / chunks_per_row;
    c0 = (ch - rr * chunks_per_row) * kVec;
    cnt = ch < total ? int(n - c0 < kVec ? n - c0 : kVec) : 0;
  }
};

template <DType kT>
__device__ __forceinline__ const void* row_ptr(const void* base, int64_t row, int64_t stride) {
  return static_cast<const typename Elem<kT>::storage_t*>(base) + row * stride;
}

// Step 1: x (* signs) -> buf with the butterflies of strides 1 .. 128 (< m).
template <DType kX>
__device__ __forceinline__ void load_rotate_warp(const HadamardParams& h, float* buf, int64_t row0, int64_t rows_here) {
  using S = typename Elem<kX>::storage_t;
  const int64_t n = h.size.n(), m = h.size.m(), per_row = (n + kVec - 1) / kVec, total = rows_here * per_row;
  const int lane = threadIdx.x % 32;
  const float* signs = h.signs_after ? nullptr : h.signs;
  for (int64_t base = 0; base < total; base += kThreads) {  // uniform trip count: shuffles below
    const Chunk c(base + threadIdx.x, n, per_row, total);
    const S* x = static_cast<const S*>(row_ptr<kX>(h.x, row0 + c.rr, h.x_row_stride));
    float v[kVec];
    cuda_formats::load_chunk<kX>(x, c.c0, c.cnt, c.cnt == kVec && is_aligned(x + c.c0, 16), v);
    if (signs) {
      float s[kVec];
      cuda_formats::load_chunk<DType::kF32>(signs, c.c0, c.cnt, c.cnt == kVec && is_aligned(signs + c.c0, 16), s);
#pragma unroll
      for (int i = 0; i < kVec; ++i) v[i] *= s[i];
    }
    butterfly8(v, m);
    for (int l = 1; l < 32 && l * kVec < m; l *= 2) {  // stride 8l: pairs lanes lane and lane ^ l
      const bool low = (lane & l) == 0;
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        const float other = __shfl_xor_sync(0xFFFFFFFFu, v[i], l);
        v[i] = low ? v[i] + other : other - v[i];  // low: a + b; high: a - b
      }
    }
    if (c.cnt > 0) buf_store(buf, c.rr * n + c.c0, c.cnt, v);
  }
}

// Step 2: strides 256 .. m/2 in radix-8 passes over buf (total = rows_here * n elements).
__device__ __forceinline__ void rotate_shared(float* buf, int64_t m, int64_t total) {
  for (int64_t s = 32 * kVec; s < m; s *= kVec) {
    const int64_t g = m / s < kVec ? m / s : kVec;  // elements per butterfly group: 2, 4 or 8
    __syncthreads();
    for (int64_t q = threadIdx.x; q < total / g; q += kThreads) {
      const int64_t lo = q % s, first = (q / s) * g * s + lo;
      float v[kVec];
#pragma unroll
      for (int j = 0; j < kVec; ++j) v[j] = j < g ? buf[first + j * s] : 0.0f;
      butterfly8(v, g);
#pragma unroll
      for (int j = 0; j < kVec; ++j)
        if (j < g) buf[first + j * s] = v[j];
    }
  }
}

// Step 3: Y = W . Z * scale over the K sub-rows of each of the tile's rows, in place.
__device__ __forceinline__ void mix_shared(const HadamardParams& h, float* buf, int64_t rows_here, int64_t width) {
  const int k = h.size.k, groups = k / kMixGroup;
  const int64_t n = h.size.n(), m = h.size.m(), cols = rows_here * m;  // "columns": (row, c) pairs
  const uint8_t* codes = h.mix_codes;
  __syncthreads();
  for (int64_t i = threadIdx.x; i < cols * groups; i += kThreads) {  // z -> u, v of each group
    const int64_t g = i / cols, cc = i - g * cols;
    float* z = buf + (cc / m) * n + g * kMixGroup * m + cc % m;
    const float z0 = z[0], z1 = z[m], z2 = z[2 * m], z3 = z[3 * m];
    z[0] = z0 + z1, z[m] = z0 - z1, z[2 * m] = z2 + z3, z[3 * m] = z2 - z3;
  }
  __syncthreads();
  for (int64_t c0 = 0; c0 < cols; c0 += width) {
    float y[kMixPerThread];
    int64_t at[kMixPerThread];  // buf offset of each output, -1 when none
#pragma unroll
    for (int j = 0; j < kMixPerThread; ++j) {
      const int64_t o = threadIdx.x + int64_t(j) * kThreads, r = o / width, cc = c0 + o % width;
      at[j] = -1;
      y[j] = 0.0f;
      if (r >= k || cc >= cols) continue;
      const float* col = buf + (cc / m) * n + cc % m;
      const uint8_t* code_row = codes + r * groups;
      float sum[2] = {0.0f, 0.0f};  // even and odd groups, each from +0 in increasing g
      for (int g = 0; g < groups; ++g) {
        const int code = code_row[g];
        const float u = col[(g * kMixGroup + (code & 1)) * m];
        const float v = col[(g * kMixGroup + 2 + (((code >> 1) ^ (code >> 2)) & 1)) * m];
        const float comb = (code & 2) ? u - v : u + v;
        const float acc = (g & 1) ? sum[1] : sum[0];
        const float next = (code & 8) ? acc - comb : acc + comb;  // + (-comb) == - comb exactly
        if (g & 1) sum[1] = next;
        else sum[0] = next;
      }
      y[j] = (sum[0] + sum[1]) * h.scale;
      at[j] = (cc / m) * n + r * m + cc % m;
    }
    __syncthreads();  // every output of this column tile is computed before any is stored
#pragma unroll
    for (int j = 0; j < kMixPerThread; ++j)
      if (at[j] >= 0) buf[at[j]] = y[j];
  }
}

// y of chunk c from buf: the final rotated fp32 values (K = 1: the scale is applied here,
// one multiply after the last butterfly, as the CPU kernels do).
__device__ __forceinline__ void load_rotated(const HadamardParams& h, const float* buf, const Chunk& c,
                                             float (&v)[kVec]) {
  buf_load(buf, c.rr * h.size.n() + c.c0, c.cnt, v);
  if (h.size.k == 1) {
#pragma unroll
    for (int i = 0; i < kVec; ++i) v[i] *= h.scale;
  }
}

// Step 4 variants.
template <class Tr>
__device__ __forceinline__ void epilogue(const HadamardParams& h, const QuantizeParams& q, const Tile& t,
                                         const float* buf, int64_t row0, int64_t rows_here) {
  constexpr DType kX = Tr::kXType;
  using S = typename Elem<kX>::storage_t;
  const int64_t n = h.size.n(), per_row = (n + kVec - 1) / kVec, total = rows_here * per_row;

  if constexpr (Tr::kEpilogue == Epilogue::kStore) {
    for (int64_t ch = threadIdx.x; ch < total; ch += kThreads) {
      const Chunk c(ch, n, per_row, total);
      float v[kVec];
      load_rotated(h, buf, c, v);
      if (h.signs_after && h.signs) {
        float s[kVec];
        cuda_formats::load_chunk<DType::kF32>(h.signs, c.c0, c.cnt,
                                              c.cnt == kVec && is_aligned(h.signs + c.c0, 16), s);
#pragma unroll
        for (int i = 0; i < kVec; ++i) v[i] *= s[i];
      }
      S* out = static_cast<S*>(h.out) + (row0 + c.rr) * h.out_row_stride;
      cuda_formats::store_chunk<kX>(out, c.c0, c.cnt, c.cnt == kVec && is_aligned(out + c.c0, 16), v);
    }
  } else if constexpr (Tr::kEpilogue == Epilogue::kAmax) {
    float mx = 0.0f;
    for (int64_t ch = threadIdx.x; ch < total; ch += kThreads) {
      const Chunk c(ch, n, per_row, total);
      float v[kVec];
      load_rotated(h, buf, c, v);
#pragma unroll
      for (int i = 0; i < kVec; ++i)
        if (i < c.cnt && is_finite_f32(v[i])) mx = fmaxf(mx, fabsf(v[i]));
    }
    for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xFFFFFFFFu, mx, o));
    if (threadIdx.x % 32 == 0) atomicMax(reinterpret_cast<unsigned*>(q.global_scale), f32_bits(mx));
  } else if constexpr (Tr::kEpilogue == Epilogue::kBlock) {
    // n % block == 0 and block in {16, 32, 64, 128}: chunks are full, a team of block/8
    // consecutive lanes covers one scale block (teams never straddle warps or rows).
    const int block = q.fmt.block, team = block / kVec;
    const int64_t blocks_per_row = n / block;
    const bool al_q = is_aligned(q.qdata, 4);
    for (int64_t base = 0; base < total; base += kThreads) {  // uniform trip count: team shuffles
      const Chunk c(base + threadIdx.x, n, per_row, total);
      float v[kVec];
      load_rotated(h, buf, c, v);
      Stats st = Stats::empty();
#pragma unroll
      for (int i = 0; i < kVec; ++i) st.add(v[i]);
      st.team_reduce(team);
      if (c.cnt == 0) continue;
      const int64_t row = row0 + c.rr, kb = c.c0 / block;
      const int64_t scale_index =
          t.swizzled_scales ? swizzled_scale_offset(row, kb, blocks_per_row) : row * blocks_per_row + kb;
      uint8_t* qd = static_cast<uint8_t*>(q.qdata) + row * (n / 2) + c.c0 / 2;
      cuda_formats::encode_block_chunk<Tr::kFormat>(q, st, v, threadIdx.x % team == 0, scale_index, qd, al_q);
    }
  } else {
    static_assert(Tr::kEpilogue == Epilogue::kRow, "epilogue");
    using Enc = cuda_formats::RowEncoder<Tr::kFormat>;  // rows_here == 1
    Stats st = Stats::empty();
    for (int64_t ch = threadIdx.x; ch < total; ch += kThreads) {
      const Chunk c(ch, n, per_row, total);
      float v[kVec];
      load_rotated(h, buf, c, v);
#pragma unroll
      for (int i = 0; i < kVec; ++i)  // fixed trip count: v stays in registers
        if (i < c.cnt) st.add(v[i]);
    }
    st = cuda_formats::cta_reduce<kThreads>(st);
    const Enc enc(q, st);
    if (threadIdx.x == 0) enc.store_scale(q, row0);
    uint8_t* qd = static_cast<uint8_t*>(q.qdata) + row0 * (Enc::k4bit ? n / 2 : n);
    const bool al_q = is_aligned(qd, Enc::kCodeAlign);
    for (int64_t ch = threadIdx.x; ch < total; ch += kThreads) {
      const Chunk c(ch, n, per_row, total);
      float v[kVec];
      load_rotated(h, buf, c, v);
      enc.encode(qd, ch, c.cnt, v, al_q);
    }
  }
}

// h.rows rows of n = K * 2^p: CTA b rotates tiles b, b + gridDim.x, ... (see the top).
template <class Tr>
__global__ void __launch_bounds__(kThreads) hadamard_kernel(HadamardParams h, QuantizeParams q, Tile t) {
  QK_DYNAMIC_SMEM(float, smem);
  const int64_t n = h.size.n();
  float* buf = t.workspace ? t.workspace + int64_t(blockIdx.x) * t.rows_per_tile * n : smem;
  for (int64_t tile = blockIdx.x; tile < t.tiles; tile += gridDim.x) {
    const int64_t row0 = tile * t.rows_per_tile;
    const int64_t rows_here = h.rows - row0 < t.rows_per_tile ? h.rows - row0 : t.rows_per_tile;
    __syncthreads();  // the previous tile's epilogue has finished reading buf
    load_rotate_warp<Tr::kXType>(h, buf, row0, rows_here);
    rotate_shared(buf, h.size.m(), rows_here * n);
    if (h.size.k > 1) mix_shared(h, buf, rows_here, t.mix_width);
    __syncthreads();
    epilogue<Tr>(h, q, t, buf, row0, rows_here);
  }
}

// ---------------------------------------------------------------- host side

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Launch {
  Tile tile;
  dim3 grid;
  size_t smem;
};

// per_row: one row per tile (the per-row epilogue). Fails when the rows need a workspace
// and none was given.
Status launch_geometry(const HadamardParams& h, bool per_row, float* workspace, int64_t workspace_rows,
                       Launch* out) {
  const int64_t n = h.size.n();
  int64_t r = per_row || workspace ? 1 : (kTileElems / n > 1 ? kTileElems / n : 1);
  if (r > h.rows) r = h.rows;
  if (!workspace && r * n * int64_t(sizeof(float)) > kSmemRowBytes)
    return fail_with(Status::kInvalidArgument, "hadamard: rows of " + std::to_string(n) +
                                                   " elements need a workspace (hadamard_cuda_workspace_rows)");
  if (workspace && workspace_rows < 1) return fail_with(Status::kInvalidArgument, "hadamard: workspace_rows < 1");
  int64_t width = 1;  // largest power of two with width * K <= kTileElems
  while (width * 2 * h.size.k <= kTileElems) width *= 2;
  const int64_t tiles = ceil_div(h.rows, r);
  int64_t grid = tiles < (int64_t(1) << 30) ? tiles : (int64_t(1) << 30);
  if (workspace && grid > workspace_rows) grid = workspace_rows;
  *out = Launch{Tile{r, tiles, width, workspace, false}, dim3(unsigned(grid)),
                workspace ? 0 : size_t(r * n) * sizeof(float)};
  return Status::kOk;
}

template <class Tr>
Status run(const char* name, const Launch& l, const HadamardParams& h, const QuantizeParams& q, cudaStream_t stream) {
  return launch({name, l.grid, dim3(kThreads), l.smem, stream}, hadamard_kernel<Tr>, h, q, l.tile);
}

}  // namespace qkern::cuda_hadamard

namespace qkern {

int64_t hadamard_cuda_workspace_rows(int64_t rows, int64_t n) {
  using namespace cuda_hadamard;
  if (n * int64_t(sizeof(float)) <= kSmemRowBytes || rows <= 0) return 0;
  const int64_t fit = kWorkspaceFloats / n > 1 ? kWorkspaceFloats / n : 1;
  return rows < fit ? rows : fit;
}

Status hadamard_cuda(const HadamardParams& p, float* workspace, int64_t workspace_rows, cudaStream_t stream) {
  using namespace cuda_hadamard;
  if (check_params(p, true) != Status::kOk || p.out_dtype != p.x_dtype)
    return fail_with(Status::kInvalidArgument, "hadamard: invalid size, pointer, stride or dtype");
  if (p.rows == 0) return Status::kOk;
  Launch l;
  if (Status s = launch_geometry(p, false, workspace, workspace_rows, &l); s != Status::kOk) return s;
  const QuantizeParams none{};
  return switch_float_dtype(p.x_dtype, "hadamard", [&](auto xt) -> Status {
    constexpr DType kX = decltype(xt)::value;
    return run<HadamardTraits<kX, Epilogue::kStore, FormatKind::kInt4>>("hadamard", l, p, none, stream);
  });
}

Status hadamard_quantize_cuda(const HadamardQuantizeParams& p, float* workspace, int64_t workspace_rows,
                              cudaStream_t stream) {
  using namespace cuda_hadamard;
  if (check_params(p) != Status::kOk)
    return fail_with(Status::kInvalidArgument, "hadamard_quantize: invalid size, format, shape or pointer");
  if (p.h.rows == 0) return Status::kOk;
  const HadamardParams& h = p.h;
  const QuantizeParams& q = p.q;
  const bool block = cuda_formats::uses_block_kernel(q.fmt);
  Launch l;
  if (Status s = launch_geometry(h, !block, workspace, workspace_rows, &l); s != Status::kOk) return s;
  l.tile.swizzled_scales = p.swizzled_scales;
  return switch_float_dtype(h.x_dtype, "hadamard_quantize", [&](auto xt) -> Status {
    constexpr DType kX = decltype(xt)::value;
    if (block) {
      // pass 1: amax of the rotated tensor (see docs/hadamard.md), unless d is given
      if (is_two_level(q.fmt) && !p.static_global_scale) {
        Status s = nvfp4_amax_reset_cuda(q.global_scale, stream);
        if (s == Status::kOk)
          s = run<HadamardTraits<kX, Epilogue::kAmax, FormatKind::kNvfp4>>("hadamard_amax", l, h, q, stream);
        if (s == Status::kOk) s = nvfp4_amax_finalize_cuda(q.global_scale, stream);
        if (s != Status::kOk) return s;
      }
      switch (q.fmt.kind) {
        case FormatKind::kInt4:
          return run<HadamardTraits<kX, Epilogue::kBlock, FormatKind::kInt4>>("hadamard_quantize<int4>", l, h, q, stream);
        case FormatKind::kMxfp4:
          return run<HadamardTraits<kX, Epilogue::kBlock, FormatKind::kMxfp4>>("hadamard_quantize<mxfp4>", l, h, q,
                                                                                 stream);
        case FormatKind::kNvfp4:
          return run<HadamardTraits<kX, Epilogue::kBlock, FormatKind::kNvfp4>>("hadamard_quantize<nvfp4>", l, h, q,
                                                                                 stream);
        default: return not_instantiated("block format kind", int(q.fmt.kind), "hadamard_quantize");
      }
    }
    switch (q.fmt.kind) {
      case FormatKind::kInt4:
        return run<HadamardTraits<kX, Epilogue::kRow, FormatKind::kInt4>>("hadamard_quantize_row<int4>", l, h, q, stream);
      case FormatKind::kInt8:
        return run<HadamardTraits<kX, Epilogue::kRow, FormatKind::kInt8>>("hadamard_quantize_row<int8>", l, h, q, stream);
      case FormatKind::kFp8:
        return run<HadamardTraits<kX, Epilogue::kRow, FormatKind::kFp8>>("hadamard_quantize_row<fp8>", l, h, q, stream);
      default: return not_instantiated("row format kind", int(q.fmt.kind), "hadamard_quantize");
    }
  });
}

}  // namespace qkern
