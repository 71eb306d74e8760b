// CUDA quantize: fp32/f16/bf16 [rows, cols] -> INT4 (sym/asym), MXFP4 (floor/rceil),
// NVFP4 (two-level/single), INT8 and FP8 (per row). Layouts in qkern/formats.h; scale
// rules are the shared QK_HOST_DEVICE functions of qkern/recipes.h, so results are
// bit-identical to the CPU kernels and python/qkern/reference.py.
//
// Kernels
//   quantize_block_kernel  scale blocks of 16..128 elements (MXFP4, NVFP4, INT4 groups).
//     Thread t owns elements [8t, 8t+8) of the flat view (one or two 128-bit loads); the
//     block/8 consecutive lanes of a "team" (2..16, a power of two, so teams never straddle
//     warps) share one scale block and merge their statistics with xor-shuffles. The team's
//     first lane stores the scale; every lane stores its 4 code bytes as one 32-bit word.
//   quantize_row_kernel    one scale per row (INT8, FP8, INT4 with group = cols of any even
//     size): one CTA per row, two passes over the row (statistics, then encode), 128-bit
//     loads where the row start is aligned, a scalar path for misaligned rows and tails.
//   NVFP4 two-level global scale: atomic-max, not two-pass. global_scale[0] is zeroed, a
//     grid-stride kernel folds |x| of finite elements into it with atomicMax on the fp32
//     bits (non-negative floats order like their bit patterns, and max is exact and
//     order-independent, so the result is deterministic), a one-thread kernel turns amax
//     into d = nvfp4_global_scale(amax) in place, and the block kernel reads d. This needs
//     no workspace beyond the output scalar; two-pass would need a partials buffer.
//
// Exactness: no a*b+c pattern is left to contraction (the recipes avoid them and this
// family is compiled with -fmad=false); division and sqrt are IEEE (no fast-math).
#include "cuda/formats/formats.h"

#include "cuda/common/dispatch.cuh"
#include "cuda/common/launch.cuh"
#include "cuda/formats/elements.cuh"
#include "cuda/formats/encode.cuh"
#include "qkern/elements.h"
#include "qkern/recipes.h"

namespace qkern::cuda_formats {

constexpr int kThreads = 256;  // threads per CTA of every kernel here

// ---------------------------------------------------------------- block formats

// p.fmt.block in {16, 32, 64, 128}; nvec = rows * cols / 8 threads do work.
// vec_x: x is 16-byte aligned (every chunk then is); al_q: qdata is 4-byte aligned.
template <FormatKind kKind, DType kX>
__global__ void __launch_bounds__(kThreads)
quantize_block_kernel(QuantizeParams p, int64_t nvec, bool vec_x, bool al_q) {
  static_assert(kKind == FormatKind::kInt4 || kKind == FormatKind::kMxfp4 || kKind == FormatKind::kNvfp4,
                "block kernel: 4-bit formats only");
  const int64_t t = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  const bool active = t < nvec;  // inactive lanes still join the team shuffles
  const int team = p.fmt.block / kVec;
  const int64_t blk = t * kVec / p.fmt.block;
  const bool leader = (threadIdx.x % team) == 0;

  float v[kVec];
  load_chunk<kX>(p.x, t * kVec, active ? kVec : 0, active && vec_x, v);
  Stats st = Stats::empty();
#pragma unroll
  for (int i = 0; i < kVec; ++i) st.add(v[i]);
  st.team_reduce(team);
  if (!active) return;  // no collectives below

  encode_block_chunk<kKind>(p, st, v, leader, blk, static_cast<uint8_t*>(p.qdata) + t * (kVec / 2), al_q);
}

// ---------------------------------------------------------------- NVFP4 global amax

__global__ void __launch_bounds__(1) u32_fill_kernel(unsigned* dst, unsigned value) { *dst = value; }

// amax_bits = max over finite elements of |x| as fp32 bits; n % 8 == 0.
template <DType kX>
__global__ void __launch_bounds__(kThreads)
finite_amax_kernel(const void* x, int64_t nvec, bool vec_x, unsigned* amax_bits) {
  float m = 0.0f;
  for (int64_t t = int64_t(blockIdx.x) * kThreads + threadIdx.x; t < nvec; t += int64_t(gridDim.x) * kThreads) {
    float v[kVec];
    load_chunk<kX>(x, t * kVec, kVec, vec_x, v);
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      if (is_finite_f32(v[i])) m = fmaxf(m, fabsf(v[i]));
  }
  for (int o = 16; o > 0; o /= 2) m = fmaxf(m, __shfl_xor_sync(0xFFFFFFFFu, m, o));
  if (threadIdx.x % 32 == 0) atomicMax(amax_bits, f32_bits(m));
}

// global_scale[0]: amax bits in, decode scale d out.
__global__ void __launch_bounds__(1) nvfp4_finalize_kernel(float* global_scale) {
  global_scale[0] = nvfp4_global_scale(f32_from_bits(*reinterpret_cast<unsigned*>(global_scale)));
}

// ---------------------------------------------------------------- per-row formats

// One CTA per row (blockIdx.x = row). kKind: INT8, FP8, or INT4 with block == cols.
template <FormatKind kKind, DType kX>
__global__ void __launch_bounds__(kThreads) quantize_row_kernel(QuantizeParams p) {
  static_assert(kKind == FormatKind::kInt4 || kKind == FormatKind::kInt8 || kKind == FormatKind::kFp8,
                "row kernel: per-row formats only");
  constexpr bool k4bit = kKind == FormatKind::kInt4;
  const int64_t row = blockIdx.x, cols = p.cols, first = row * cols;
  const int64_t nchunks = (cols + kVec - 1) / kVec;
  const int esize = int(sizeof(typename Elem<kX>::storage_t));
  const bool vec_x = is_aligned(static_cast<const char*>(p.x) + first * esize, 16);
  uint8_t* q = static_cast<uint8_t*>(p.qdata) + (k4bit ? first / 2 : first);
  // 4-bit: 4 code bytes per chunk; 8-bit: 8 code bytes per chunk.
  const bool al_q = is_aligned(q, RowEncoder<kKind>::kCodeAlign);

  Stats st = Stats::empty();
  for (int64_t ch = threadIdx.x; ch < nchunks; ch += kThreads) {
    const int n = int(cols - ch * kVec < kVec ? cols - ch * kVec : kVec);
    float v[kVec];
    load_chunk<kX>(p.x, first + ch * kVec, n, vec_x && n == kVec, v);
#pragma unroll
    for (int i = 0; i < kVec; ++i)  // fixed trip count: v stays in registers
      if (i < n) st.add(v[i]);
  }
  st = cta_reduce<kThreads>(st);
  const RowEncoder<kKind> enc(p, st);
  if (threadIdx.x == 0) enc.store_scale(p, row);

  for (int64_t ch = threadIdx.x; ch < nchunks; ch += kThreads) {
    const int n = int(cols - ch * kVec < kVec ? cols - ch * kVec : kVec);
    float v[kVec];
    load_chunk<kX>(p.x, first + ch * kVec, n, vec_x && n == kVec, v);
    enc.encode(q, ch, n, v, al_q);
  }
}

bool uses_block_kernel(const FormatSpec& f) {
  return f.kind != FormatKind::kInt8 && f.kind != FormatKind::kFp8 &&
         (f.block == 16 || f.block == 32 || f.block == 64 || f.block == 128);
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace qkern::cuda_formats

namespace qkern {

Status nvfp4_amax_reset_cuda(float* global_scale, cudaStream_t stream) {
  using namespace cuda_formats;
  return launch({"u32_fill", dim3(1), dim3(1), 0, stream}, u32_fill_kernel, reinterpret_cast<unsigned*>(global_scale),
                0u);
}

Status nvfp4_amax_finalize_cuda(float* global_scale, cudaStream_t stream) {
  using namespace cuda_formats;
  return launch({"nvfp4_finalize", dim3(1), dim3(1), 0, stream}, nvfp4_finalize_kernel, global_scale);
}

Status quantize_cuda(const QuantizeParams& p, cudaStream_t stream) {
  using namespace cuda_formats;
  if (Status s = check_params(p); s != Status::kOk) return fail_with(s, "quantize: invalid format, shape or pointer");
  if (p.rows == 0 || p.cols == 0) return Status::kOk;
  const int64_t n = p.rows * p.cols;
  const dim3 block(kThreads);
  return switch_float_dtype(p.x_dtype, "quantize", [&](auto xt) -> Status {
    constexpr DType kX = decltype(xt)::value;
    const bool vec_x = is_aligned(p.x, 16);
    if (uses_block_kernel(p.fmt)) {
      const int64_t nvec = n / kVec;
      if (is_two_level(p.fmt)) {
        unsigned* bits = reinterpret_cast<unsigned*>(p.global_scale);
        const int64_t grid = ceil_div(nvec, kThreads) < 1024 ? ceil_div(nvec, kThreads) : 1024;
        Status s = nvfp4_amax_reset_cuda(p.global_scale, stream);
        if (s == Status::kOk)
          s = launch({"finite_amax", dim3(unsigned(grid)), block, 0, stream}, finite_amax_kernel<kX>,
                     p.x, nvec, vec_x, bits);
        if (s == Status::kOk) s = nvfp4_amax_finalize_cuda(p.global_scale, stream);
        if (s != Status::kOk) return s;
      }
      const dim3 grid(unsigned(ceil_div(nvec, kThreads)));
      const bool al_q = is_aligned(p.qdata, 4);
      switch (p.fmt.kind) {
        case FormatKind::kInt4:
          return launch({"quantize_block<int4>", grid, block, 0, stream},
                        quantize_block_kernel<FormatKind::kInt4, kX>, p, nvec, vec_x, al_q);
        case FormatKind::kMxfp4:
          return launch({"quantize_block<mxfp4>", grid, block, 0, stream},
                        quantize_block_kernel<FormatKind::kMxfp4, kX>, p, nvec, vec_x, al_q);
        case FormatKind::kNvfp4:
          return launch({"quantize_block<nvfp4>", grid, block, 0, stream},
                        quantize_block_kernel<FormatKind::kNvfp4, kX>, p, nvec, vec_x, al_q);
        default: return not_instantiated("block format kind", int(p.fmt.kind), "quantize");
      }
    }
    if (p.rows > 0x7FFFFFFF) return fail_with(Status::kInvalidArgument, "quantize: more than 2^31-1 rows");
    const dim3 grid(unsigned(p.rows));
    switch (p.fmt.kind) {
      case FormatKind::kInt4:
        return launch({"quantize_row<int4>", grid, block, 0, stream}, quantize_row_kernel<FormatKind::kInt4, kX>, p);
      case FormatKind::kInt8:
        return launch({"quantize_row<int8>", grid, block, 0, stream}, quantize_row_kernel<FormatKind::kInt8, kX>, p);
      case FormatKind::kFp8:
        return launch({"quantize_row<fp8>", grid, block, 0, stream}, quantize_row_kernel<FormatKind::kFp8, kX>, p);
      default: return not_instantiated("row format kind", int(p.fmt.kind), "quantize");
    }
  });
}

}  // namespace qkern
