// Device-side encoders of the quantize kernels, shared by cuda/formats/quantize.cu and the
// fused epilogue of cuda/hadamard: from the statistics of a scale block (or a row) to the
// stored scale and the codes of 8 elements, with the scale rules of qkern/recipes.h, so
// every CUDA kernel that quantizes gives the bytes of the CPU kernels and reference.py.
#pragma once
#include <cstdint>

#include "cuda/formats/elements.cuh"
#include "qkern/elements.h"
#include "qkern/formats.h"
#include "qkern/recipes.h"

namespace qkern::cuda_formats {

// Packs 8 codes (0..15) into 4 bytes: element 2j in the low nibble of byte j.
__device__ __forceinline__ unsigned pack8(const uint8_t (&c)[kVec]) {
  unsigned w = 0;
#pragma unroll
  for (int i = 0; i < kVec; ++i) w |= unsigned(c[i] & 0xFu) << (4 * i);
  return w;
}

__device__ __forceinline__ void store_u32(uint8_t* p, unsigned w, bool aligned) {
  if (aligned) {
    store_vec(p, w);
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i) p[i] = uint8_t(w >> (8 * i));
  }
}

// One chunk of 8 elements of a scale block (MXFP4, NVFP4, INT4 groups of 16..128) whose
// statistics `st` are already merged over the block's team of lanes. The team leader
// stores the scale (and zero) at `scale_index` (the canonical index blk, or a swizzled
// one); every lane stores its 4 code bytes at q (4-byte aligned when al_q). NVFP4
// two-level reads the decode scale d from p.global_scale[0].
template <FormatKind kKind>
__device__ __forceinline__ void encode_block_chunk(const QuantizeParams& p, const Stats& st, const float (&v)[kVec],
                                                   bool leader, int64_t scale_index, uint8_t* q, bool al_q) {
  static_assert(kKind == FormatKind::kInt4 || kKind == FormatKind::kMxfp4 || kKind == FormatKind::kNvfp4,
                "block encoder: 4-bit formats only");
  uint8_t c[kVec];
  if constexpr (kKind == FormatKind::kInt4) {
    Int4Params ip = p.fmt.symmetric ? int4_sym_params(st.amax, p.scale_dtype)
                                    : int4_asym_params(st.lo, st.hi, p.scale_dtype);
    if (!st.finite) ip = {NAN, 0.0f};
    if (leader) {
      store_one(p.scale, p.scale_dtype, scale_index, ip.scale);
      if (!p.fmt.symmetric) p.zero[scale_index] = uint8_t(ip.zero);
    }
#pragma unroll
    for (int i = 0; i < kVec; ++i) c[i] = st.finite ? int4_encode(v[i], ip) : 0;
  } else {
    uint8_t code;
    float factor;
    if constexpr (kKind == FormatKind::kMxfp4) {
      code = !st.finite ? kE8m0Nan : p.fmt.rceil ? mx_scale_rceil(st.amax) : mx_scale_floor(st.amax);
      factor = mx_element_factor(code);
    } else {
      Nvfp4BlockParams np = p.fmt.global_scale ? nvfp4_block_params(st.amax, p.global_scale[0])
                                               : nvfp4_block_params_single(st.amax);
      code = st.finite ? np.scale : kE4m3Nan;
      factor = np.factor;
    }
    if (leader) static_cast<uint8_t*>(p.scale)[scale_index] = code;
#pragma unroll
    for (int i = 0; i < kVec; ++i) c[i] = st.finite ? f32_to_e2m1(v[i] * factor) : 0;
  }
  store_u32(q, pack8(c), al_q);
}

// Merges per-thread statistics over a CTA of kThreads threads; every thread gets the
// result. One __syncthreads inside; a caller that reduces again must sync in between.
template <int kThreads>
__device__ __forceinline__ Stats cta_reduce(Stats st) {
  static_assert(kThreads % 32 == 0, "whole warps");
  __shared__ Stats warp_stats[kThreads / 32];
  st.team_reduce(32);
  const int warp = threadIdx.x / 32;
  if (threadIdx.x % 32 == 0) warp_stats[warp] = st;
  __syncthreads();
  Stats all = warp_stats[0];
  for (int w = 1; w < kThreads / 32; ++w) all.merge(warp_stats[w]);
  return all;
}

// One scale per row (INT8, FP8, or INT4 with group = cols): the row's scale from its
// statistics, then chunks of 8 codes. Row layout of the codes: 4-bit formats cols/2 bytes,
// 8-bit formats cols bytes, starting at q.
template <FormatKind kKind>
struct RowEncoder {
  static_assert(kKind == FormatKind::kInt4 || kKind == FormatKind::kInt8 || kKind == FormatKind::kFp8,
                "row encoder: per-row formats only");
  static constexpr bool k4bit = kKind == FormatKind::kInt4;
  static constexpr int kCodeAlign = k4bit ? 4 : 8;  // bytes a full chunk of codes needs

  Int4Params ip{0.0f, 0.0f};
  float scale = 0.0f;
  bool finite;

  __device__ __forceinline__ RowEncoder(const QuantizeParams& p, const Stats& st) : finite(st.finite) {
    if constexpr (k4bit) {
      ip = p.fmt.symmetric ? int4_sym_params(st.amax, p.scale_dtype) : int4_asym_params(st.lo, st.hi, p.scale_dtype);
      if (!st.finite) ip = {NAN, 0.0f};
    } else {
      scale = !st.finite ? NAN : kKind == FormatKind::kInt8 ? int8_row_scale(st.amax) : fp8_row_scale(st.amax);
    }
  }

  __device__ __forceinline__ void store_scale(const QuantizeParams& p, int64_t row) const {
    if constexpr (k4bit) {
      store_one(p.scale, p.scale_dtype, row, ip.scale);
      if (!p.fmt.symmetric) p.zero[row] = uint8_t(ip.zero);
    } else {
      static_cast<float*>(p.scale)[row] = scale;
    }
  }

  // Codes of chunk ch (elements [8ch, 8ch + n) of the row, n <= 8, even for 4-bit) into q.
  __device__ __forceinline__ void encode(uint8_t* q, int64_t ch, int n, const float (&v)[kVec], bool al_q) const {
    uint8_t c[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      if constexpr (k4bit) c[i] = finite ? int4_encode(v[i], ip) : 0;
      else if constexpr (kKind == FormatKind::kInt8) c[i] = finite ? uint8_t(int8_encode(v[i], scale)) : 0;
      else c[i] = finite ? fp8_encode(v[i], scale) : 0;
    }
    if constexpr (k4bit) {
      if (n == kVec) {
        store_u32(q + ch * (kVec / 2), pack8(c), al_q);
      } else {  // tail: n is even because cols is
#pragma unroll
        for (int i = 0; i < kVec; i += 2)
          if (i < n) q[ch * (kVec / 2) + i / 2] = uint8_t(c[i] | (c[i + 1] << 4));
      }
    } else if (n == kVec && al_q) {
      uint2 w;
      w.x = unsigned(c[0]) | unsigned(c[1]) << 8 | unsigned(c[2]) << 16 | unsigned(c[3]) << 24;
      w.y = unsigned(c[4]) | unsigned(c[5]) << 8 | unsigned(c[6]) << 16 | unsigned(c[7]) << 24;
      store_vec(q + ch * kVec, w);
    } else {
#pragma unroll
      for (int i = 0; i < kVec; ++i)
        if (i < n) q[ch * kVec + i] = c[i];
    }
  }
};

}  // namespace qkern::cuda_formats
