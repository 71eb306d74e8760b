// AVX-512 level of HadamardRowKernels: the K x K mix on 16-lane vectors (hadamard_x86.h);
// the FWHT, the dtype store and sub-rows shorter than 16 are the AVX2 table's. Compiled
// with AVX-512 F/BW/VL (the _avx512.cpp suffix); entered only when active_isa() ==
// Isa::kAvx512. Bits: the scalar table's (hadamard.h).
//
// Zen 4 runs a 512-bit op as two 256-bit halves, so only fewer instructions pay. The mix
// gains (halved index and load work per column): n = 11008 (K = 172) 1.25x, 14336 (K =
// 28) 1.2x over the AVX2 table (docs/hadamard.md). The FWHT on zmm did not: radix-8
// passes timed 1.05-1.35x slower than the AVX2 loops at n = 4096 and radix-16 passes
// (2 instead of 3 crossings of L1) 1.2x slower (the in-vector strides 1..8 cost a
// permute and an FMA per stage on either width, and the radix-16 pass needs 16 address
// registers and spilled), so it is not kept.
#include <immintrin.h>

#include "hadamard/hadamard.h"
#include "hadamard/hadamard_x86.h"

namespace qkern {
namespace {

// 16 fp32 lanes for hadamard_x86.h's mix.
struct Avx512Vec {
  using T = __m512;
  static constexpr int kLanes = 16;
  static QK_FORCEINLINE T load(const float* p) { return _mm512_loadu_ps(p); }
  static QK_FORCEINLINE void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static QK_FORCEINLINE T set1(float f) { return _mm512_set1_ps(f); }
  static QK_FORCEINLINE T add(T a, T b) { return _mm512_add_ps(a, b); }
  static QK_FORCEINLINE T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static QK_FORCEINLINE T fmadd(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
};

}  // namespace

const HadamardRowKernels& hadamard_row_kernels_avx512() {
  const HadamardRowKernels& avx2 = hadamard_row_kernels_avx2();
  static const HadamardRowKernels k{avx2.fwht, mix_plan_level<Avx512Vec, hadamard_row_kernels_avx2>,
                                    mix_level<Avx512Vec, hadamard_row_kernels_avx2>, avx2.store};
  return k;
}

}  // namespace qkern
