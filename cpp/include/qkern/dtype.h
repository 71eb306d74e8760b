// Element types crossing the binding boundary. The Python layer maps torch dtypes to
// these codes (qkern/_dtypes.py); the numbers are part of the binding ABI.
#pragma once
#include <cstdint>

namespace qkern {

enum class DType : int {
  kF32 = 0,
  kF16 = 1,
  kBF16 = 2,
  kU8 = 3,     // packed 4-bit codes, E4M3/E8M0 codes, INT4 zero points
  kI8 = 4,     // INT8 activations
};

inline int dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16:
    case DType::kBF16: return 2;
    default: return 1;
  }
}

inline bool is_float_dtype(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
}

}  // namespace qkern
