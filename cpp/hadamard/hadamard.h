// CPU Walsh-Hadamard rotation (qkern/hadamard.h) and its fused quantize variant.
//
// The driver (hadamard.cpp) splits rows over the thread pool and runs, per row, the inner
// loops of the active ISA level below; the quantize epilogue is the quantize_blocks row
// kernel of formats/row_kernels.h on the rotated fp32 row while it is still in cache.
//
// Bit-exactness contract: every table computes each output element with the same
// sequence of fp32 operations as the scalar one (butterfly stages in increasing stride,
// a + b / a - b; the mix as qkern/hadamard.h defines it; then * scale), so all ISA
// levels give identical bits (tests compare them), and the fused variant sees exactly the
// fp32 row that hadamard() of an fp32 input returns.
#pragma once
#include <cstdint>

#include "qkern/dtype.h"
#include "qkern/hadamard.h"
#include "qkern/status.h"

namespace qkern {

Status hadamard_cpu(const HadamardParams& p);

// NVFP4 two-level needs the amax of the whole rotated tensor before its first block scale.
// With a workspace of workspace_rows >= p.h.rows rows of n fp32 (row r at workspace + r * n),
// the first pass keeps the rotated rows there and the second only quantizes them;
// without one, the second pass rotates every row again. Other formats ignore it.
Status hadamard_quantize_cpu(const HadamardQuantizeParams& p, float* workspace, int64_t workspace_rows);

// Rows of the workspace hadamard_quantize_cpu wants for `rows` rows of n elements:
// all of them for NVFP4 two-level (two_level = is_two_level(format)) when they take at most kKeepRotatedMaxBytes (rotated
// rows then stay in L2/L3 between the passes, and the second transform is saved), else 0.
constexpr int64_t kKeepRotatedMaxBytes = int64_t(16) << 20;
int64_t hadamard_quantize_workspace_rows_cpu(bool two_level, int64_t rows, int64_t n);

struct HadamardRowKernels {
  // v = FWHT(x * signs) * scale over m = 2^log2_m elements: x of dtype t (f32 x may be v
  // itself), loaded as v[i] = x[i] * signs[i] (signs null: no multiply); unnormalised
  // FWHT in Sylvester order (stage h pairs i and i + h: a + b, a - b; strides 1, 2, 4,
  // ...); then * scale when scale != 1.
  void (*fwht)(const void* x, DType t, const float* signs, int log2_m, float scale, float* v);
  // Prepares `work` (mix_work_floats(k) floats, 64-byte aligned) for mix calls with these
  // codes, k and m: once per task, not per row (the vector levels' term offsets).
  void (*mix_plan)(const uint8_t* codes, int k, int64_t m, float* work);
  // y = (W . z) * scale, z and y [k][m] fp32, W given by codes [k][k/4] and summed as
  // qkern/hadamard.h defines; work prepared by mix_plan with the same codes, k and m.
  void (*mix)(const uint8_t* codes, int k, const float* z, int64_t m, float scale, float* y,
              float* work);
  // out[i] = src[i] * signs[i] rounded to dtype t (signs null: no multiply); src may be
  // out itself when t is f32.
  void (*store)(const float* src, const float* signs, int64_t n, void* out, DType t);
};

// Scratch of the mix, in floats: the 16 combinations of every group of 4 sub-rows for a
// strip of 16 columns (the widest level's vector), then one int32 per code (K x K/4: the
// vector levels' mix_plan turns the codes into byte offsets into the combinations).
constexpr int64_t mix_combination_floats(int k) { return int64_t(kMixCombos) * 16 * (k / kMixGroup); }
constexpr int64_t mix_work_floats(int k) { return mix_combination_floats(k) + int64_t(k) * (k / kMixGroup); }

const HadamardRowKernels& hadamard_row_kernels_scalar();
#if defined(QKERN_BUILD_AVX2)
const HadamardRowKernels& hadamard_row_kernels_avx2();
#endif
#if defined(QKERN_BUILD_AVX512)
const HadamardRowKernels& hadamard_row_kernels_avx512();
#endif

}  // namespace qkern
