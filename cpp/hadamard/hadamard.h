// CPU Walsh-Hadamard rotation (qkern/hadamard.h) and its fused quantize variant.
//
// The driver (hadamard.cpp) splits rows over the thread pool and runs, per row, the inner
// loops of the active ISA level below; the quantize epilogue is formats/quantize.h's
// quantize_block on the rotated fp32 row while it is still in cache.
//
// Bit-exactness contract: every table computes each output element with the same
// sequence of fp32 operations as the scalar one (butterfly stages in increasing stride,
// a + b / a - b; mix sums in increasing a starting from +0; then * scale), so all ISA
// levels give identical bits (tests compare them), and the fused variant sees exactly the
// fp32 row that hadamard() of an fp32 input returns.
#pragma once
#include <cstdint>

#include "qkern/dtype.h"
#include "qkern/hadamard.h"
#include "qkern/status.h"

namespace qkern {

Status hadamard_cpu(const HadamardParams& p);
Status hadamard_quantize_cpu(const HadamardQuantizeParams& p);

struct HadamardRowKernels {
  // v = FWHT(x * signs) * scale over m = 2^log2_m elements: x of dtype t (f32 x may be v
  // itself), loaded as v[i] = x[i] * signs[i] (signs null: no multiply); unnormalised
  // FWHT in Sylvester order (stage h pairs i and i + h: a + b, a - b; strides 1, 2, 4,
  // ...); then * scale when scale != 1.
  void (*fwht)(const void* x, DType t, const float* signs, int log2_m, float scale, float* v);
  // y[r][c] = (sum over a = 0..k-1 of w[r][a] * z[a][c]) * scale, z and y [k][m] fp32,
  // w [k][k] +-1. k is a multiple of 4 (every stored factor is).
  void (*mix)(const float* w, int k, const float* z, int64_t m, float scale, float* y);
  // out[i] = src[i] * signs[i] rounded to dtype t (signs null: no multiply); src may be
  // out itself when t is f32.
  void (*store)(const float* src, const float* signs, int64_t n, void* out, DType t);
};

const HadamardRowKernels& hadamard_row_kernels_scalar();
#if defined(QKERN_BUILD_AVX2)
const HadamardRowKernels& hadamard_row_kernels_avx2();
#endif

}  // namespace qkern
