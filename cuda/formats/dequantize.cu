// CUDA dequantize: every format of qkern/formats.h -> fp32 / f16 / bf16, computed in fp32
// and rounded once (the element formulas of reference.dequantize).
//
// Thread c owns one 16-byte chunk of qdata in the flat view: 32 codes of a 4-bit format or
// 16 of an 8-bit one. A full chunk with 16-byte-aligned qdata is read with one 128-bit
// load and, when out is aligned too, written with 128-bit stores (one per 8 f16/bf16
// outputs, two per 8 fp32); the last, partial chunk and misaligned tensors take the
// scalar path. The scale of element i is that of block (first + i) / block; the kernel tracks
// the next block boundary instead of dividing per element (blocks are >= 2 elements, but
// per-row formats may have any size, so a chunk can cross several boundaries).
#include "cuda/common/dispatch.cuh"
#include "cuda/common/launch.cuh"
#include "cuda/formats/elements.cuh"
#include "cuda/formats/formats.h"
#include "qkern/elements.h"
#include "qkern/recipes.h"

namespace qkern::cuda_formats {

constexpr int kDequantThreads = 256;

template <FormatKind kKind>
constexpr bool kIs4bit = kKind == FormatKind::kInt4 || kKind == FormatKind::kMxfp4 || kKind == FormatKind::kNvfp4;
// Codes per 16-byte chunk of qdata.
template <FormatKind kKind>
constexpr int kChunkCodes = kIs4bit<kKind> ? 32 : 16;

// The per-block factors of block b: value = decode(code, s, z).
template <FormatKind kKind>
__device__ __forceinline__ void block_factors(const DequantizeParams& p, float d, int64_t b, float& s, float& z) {
  z = 0.0f;
  if constexpr (kKind == FormatKind::kInt4) {
    s = load_one(p.scale, p.scale_dtype, b);
    z = p.zero ? float(p.zero[b]) : 8.0f;
  } else if constexpr (kKind == FormatKind::kMxfp4) {
    s = e8m0_to_f32(static_cast<const uint8_t*>(p.scale)[b]);
  } else if constexpr (kKind == FormatKind::kNvfp4) {
    s = e4m3_to_f32(static_cast<const uint8_t*>(p.scale)[b]) * d;
  } else {
    s = static_cast<const float*>(p.scale)[b];
  }
}

template <FormatKind kKind>
__device__ __forceinline__ float decode(uint8_t code, float s, float z) {
  if constexpr (kKind == FormatKind::kInt4) return int4_decode(code, s, z);
  else if constexpr (kKind == FormatKind::kInt8) return float(int8_t(code)) * s;
  else if constexpr (kKind == FormatKind::kFp8) return e4m3_to_f32(code) * s;
  else return e2m1_to_f32(code) * s;  // MXFP4, NVFP4
}

// n = rows * cols elements. vec_q: qdata 16-byte aligned; vec_out: out 16-byte aligned.
template <FormatKind kKind, DType kOut>
__global__ void __launch_bounds__(kDequantThreads)
dequantize_kernel(DequantizeParams p, int64_t n, bool vec_q, bool vec_out) {
  constexpr int kE = kChunkCodes<kKind>;
  const int64_t c = int64_t(blockIdx.x) * kDequantThreads + threadIdx.x;
  const int64_t first = c * kE;
  if (first >= n) return;
  const int count = int(n - first < kE ? n - first : kE);
  const bool full = count == kE;

  union {
    uint4 word;
    uint8_t bytes[16];
  } q;
  const uint8_t* qsrc = static_cast<const uint8_t*>(p.qdata) + c * 16;
  if (full && vec_q) {
    q.word = load_vec<uint4>(qsrc);
  } else {
    const int nbytes = kIs4bit<kKind> ? count / 2 : count;
#pragma unroll
    for (int i = 0; i < 16; ++i) q.bytes[i] = i < nbytes ? qsrc[i] : 0;
  }

  const float d = kKind == FormatKind::kNvfp4 && p.fmt.global_scale ? p.global_scale[0] : 1.0f;
  const int64_t block = p.fmt.block;
  int64_t b = first / block, next = (b + 1) * block;
  float s, z;
  block_factors<kKind>(p, d, b, s, z);

#pragma unroll
  for (int g = 0; g < kE / kVec; ++g) {  // groups of 8 outputs: one store_chunk each
    float v[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      const int e = g * kVec + i;
      if (e >= count) {
        v[i] = 0.0f;
        continue;
      }
      if (first + e == next) {
        ++b;
        next += block;
        block_factors<kKind>(p, d, b, s, z);
      }
      const uint8_t code = kIs4bit<kKind> ? uint8_t((q.bytes[e / 2] >> (4 * (e & 1))) & 0xFu) : q.bytes[e];
      v[i] = decode<kKind>(code, s, z);
    }
    const int m = count - g * kVec;
    if (m <= 0) break;
    store_chunk<kOut>(p.out, first + g * kVec, m < kVec ? m : kVec, vec_out && full, v);
  }
}

}  // namespace qkern::cuda_formats

namespace qkern {

Status dequantize_cuda(const DequantizeParams& p, cudaStream_t stream) {
  using namespace cuda_formats;
  if (Status s = check_params(p); s != Status::kOk) return fail_with(s, "dequantize: invalid format, shape or pointer");
  if (p.rows == 0 || p.cols == 0) return Status::kOk;
  const int64_t n = p.rows * p.cols;
  const bool vec_q = is_aligned(p.qdata, 16), vec_out = is_aligned(p.out, 16);
  return switch_format(p.fmt.kind, "dequantize", [&](auto kt) -> Status {
    constexpr FormatKind kKind = decltype(kt)::value;
    return switch_float_dtype(p.out_dtype, "dequantize", [&](auto ot) -> Status {
      constexpr DType kOut = decltype(ot)::value;
      const int64_t chunks = (n + kChunkCodes<kKind> - 1) / kChunkCodes<kKind>;
      const dim3 grid(unsigned((chunks + kDequantThreads - 1) / kDequantThreads));
      return launch({"dequantize", grid, dim3(kDequantThreads), 0, stream}, dequantize_kernel<kKind, kOut>,
                    p, n, vec_q, vec_out);
    });
  });
}

}  // namespace qkern
