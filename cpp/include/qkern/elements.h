// One element of an f32 / f16 / bf16 buffer, read or written as fp32 with the exact codecs
// of codecs.h; the dtype is a run-time value. Shared by the CPU kernels (scalar paths and
// tails) and the CUDA kernels (scale tensors, whose dtype is chosen at run time).
#pragma once
#include <cstdint>
#include <type_traits>

#include "qkern/codecs.h"
#include "qkern/dtype.h"

namespace qkern {

QK_HOST_DEVICE QK_FORCEINLINE float load_one(const void* src, DType t, int64_t i) {
  switch (t) {
    case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(src)[i]);
    case DType::kBF16: return bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
    default: return static_cast<const float*>(src)[i];
  }
}

QK_HOST_DEVICE QK_FORCEINLINE void store_one(void* dst, DType t, int64_t i, float v) {
  switch (t) {
    case DType::kF16: static_cast<uint16_t*>(dst)[i] = f32_to_f16(v); break;
    case DType::kBF16: static_cast<uint16_t*>(dst)[i] = f32_to_bf16(v); break;
    default: static_cast<float*>(dst)[i] = v; break;
  }
}

template <DType T>
using DTypeTag = std::integral_constant<DType, T>;

// Calls fn(DTypeTag<t>{}) for the float dtypes f32/f16/bf16 (host code), so that the
// dtype is a compile-time constant in fn's loops: load_one / store_one fold their switch
// away and the loops vectorize.
template <class Fn>
QK_FORCEINLINE void dispatch_float_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF16: fn(DTypeTag<DType::kF16>{}); break;
    case DType::kBF16: fn(DTypeTag<DType::kBF16>{}); break;
    default: fn(DTypeTag<DType::kF32>{}); break;
  }
}

}  // namespace qkern
