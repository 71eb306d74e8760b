// Device-side element access of the format kernels: the float dtypes as compile-time
// traits, 8-element loads/stores with a 128-bit path and a scalar path, and the block
// statistics every scale rule starts from. Conversions are the exact codecs of
// qkern/codecs.h, so the kernels round exactly like the CPU kernels and reference.py.
#pragma once
#include <cstdint>

#include "cuda/common/memory.cuh"
#include "cuda/common/prelude.cuh"
#include "qkern/codecs.h"
#include "qkern/dtype.h"

namespace qkern::cuda_formats {

constexpr int kVec = 8;  // elements per thread step: 16 bytes of f16/bf16, 32 of f32

template <DType kT>
struct Elem;
template <>
struct Elem<DType::kF32> {
  using storage_t = float;
  static QK_HOST_DEVICE QK_FORCEINLINE float to_f32(float v) { return v; }
  static QK_HOST_DEVICE QK_FORCEINLINE float from_f32(float v) { return v; }
};
template <>
struct Elem<DType::kF16> {
  using storage_t = uint16_t;
  static QK_HOST_DEVICE QK_FORCEINLINE float to_f32(uint16_t v) { return f16_to_f32(v); }
  static QK_HOST_DEVICE QK_FORCEINLINE uint16_t from_f32(float v) { return f32_to_f16(v); }
};
template <>
struct Elem<DType::kBF16> {
  using storage_t = uint16_t;
  static QK_HOST_DEVICE QK_FORCEINLINE float to_f32(uint16_t v) { return bf16_to_f32(v); }
  static QK_HOST_DEVICE QK_FORCEINLINE uint16_t from_f32(float v) { return f32_to_bf16(v); }
};

// Bytes of kVec elements of T, and the number of 128-bit words they fill (1 or 2).
template <DType kT>
constexpr int kVecWords = int(sizeof(typename Elem<kT>::storage_t)) * kVec / 16;

// kVec elements of T seen as the 128-bit words they fill (the vector path of load_chunk /
// store_chunk).
template <DType kT>
union VecChunk {
  uint4 words[kVecWords<kT>];
  typename Elem<kT>::storage_t elems[kVec];
};

// v[0..n) = x[first .. first+n) as fp32, n <= kVec. `vec`: n == kVec and the address is
// 16-byte aligned, so the chunk is read with 128-bit loads.
template <DType kT>
__device__ __forceinline__ void load_chunk(const void* x, int64_t first, int n, bool vec, float (&v)[kVec]) {
  using E = Elem<kT>;
  using S = typename E::storage_t;
  const S* p = static_cast<const S*>(x) + first;
  if (vec) {
    VecChunk<kT> u;
#pragma unroll
    for (int w = 0; w < kVecWords<kT>; ++w) u.words[w] = load_vec<uint4>(p + w * (kVec / kVecWords<kT>));
#pragma unroll
    for (int i = 0; i < kVec; ++i) v[i] = E::to_f32(u.elems[i]);
  } else {
#pragma unroll
    for (int i = 0; i < kVec; ++i) v[i] = i < n ? E::to_f32(p[i]) : 0.0f;
  }
}

// out[first .. first+n) = v[0..n) rounded to T; same `vec` contract as load_chunk.
template <DType kT>
__device__ __forceinline__ void store_chunk(void* out, int64_t first, int n, bool vec, const float (&v)[kVec]) {
  using E = Elem<kT>;
  using S = typename E::storage_t;
  S* p = static_cast<S*>(out) + first;
  if (vec) {
    VecChunk<kT> u;
#pragma unroll
    for (int i = 0; i < kVec; ++i) u.elems[i] = E::from_f32(v[i]);
#pragma unroll
    for (int w = 0; w < kVecWords<kT>; ++w) store_vec(p + w * (kVec / kVecWords<kT>), u.words[w]);
  } else {
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      if (i < n) p[i] = E::from_f32(v[i]);
  }
}

// Statistics of a set of elements, the input of every scale rule (recipes.h).
struct Stats {
  float amax;  // max |x| (over all elements; meaningful when finite)
  float lo;    // min x
  float hi;    // max x
  int finite;  // 1 when no element is NaN or Inf

  __device__ __forceinline__ static Stats empty() { return {0.0f, 0.0f, 0.0f, 1}; }
  __device__ __forceinline__ void add(float x) {
    finite &= is_finite_f32(x);
    amax = fmaxf(amax, fabsf(x));
    lo = fminf(lo, x);
    hi = fmaxf(hi, x);
  }
  __device__ __forceinline__ void merge(const Stats& o) {
    amax = fmaxf(amax, o.amax);
    lo = fminf(lo, o.lo);
    hi = fmaxf(hi, o.hi);
    finite &= o.finite;
  }
  // Merge over groups of `lanes` consecutive lanes (a power of two <= 32) of a fully
  // converged warp; every lane ends with its group's statistics.
  __device__ __forceinline__ void team_reduce(int lanes) {
    for (int o = lanes / 2; o > 0; o /= 2) {
      Stats t{__shfl_xor_sync(0xFFFFFFFFu, amax, o), __shfl_xor_sync(0xFFFFFFFFu, lo, o),
              __shfl_xor_sync(0xFFFFFFFFu, hi, o), __shfl_xor_sync(0xFFFFFFFFu, finite, o)};
      merge(t);
    }
  }
};

// Starting the statistics at lo = hi = 0 is exact for every rule that uses them: the INT4
// asymmetric range is [min(lo, 0), max(hi, 0)] (recipes.h) and amax >= 0 anyway.

}  // namespace qkern::cuda_formats
