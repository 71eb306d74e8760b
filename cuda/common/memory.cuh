// Vector loads and stores of global memory (128-bit LDG.E.128 / STG.E.128 where the
// caller has proved 16-byte alignment; 64- and 32-bit forms for narrower data), with the
// alignment checked in the emulator: a misaligned vector access is an error there, as it
// is a "misaligned address" fault on the GPU.
#pragma once
#include <cstdint>

#include "cuda/common/prelude.cuh"

namespace qkern {

template <class V>
__device__ __forceinline__ void check_vec_alignment(const void* p) {
#if defined(QKERN_SIM)
  if (reinterpret_cast<uintptr_t>(p) % sizeof(V) != 0)
    ::qkern::sim::fail("misaligned " + std::to_string(8 * sizeof(V)) + "-bit global access");
#endif
}

// V is uint4 (128 bit), uint2 (64 bit) or unsigned (32 bit); p must be aligned to sizeof(V).
template <class V>
__device__ __forceinline__ V load_vec(const void* p) {
  check_vec_alignment<V>(p);
  return *reinterpret_cast<const V*>(p);
}

template <class V>
__device__ __forceinline__ void store_vec(void* p, const V& v) {
  check_vec_alignment<V>(p);
  *reinterpret_cast<V*>(p) = v;
}

QK_HOST_DEVICE QK_FORCEINLINE bool is_aligned(const void* p, int bytes) {
  return reinterpret_cast<uintptr_t>(p) % unsigned(bytes) == 0;
}

}  // namespace qkern
