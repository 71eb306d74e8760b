// Walsh-Hadamard rotations: size decomposition, params structs and the block-scale swizzle,
// shared by the CPU kernels (cpp/hadamard) and the CUDA kernels (cuda/hadamard, later).
//
// The transform of a row x of n = K * 2^p elements (NUMERICS.md section 5):
//
//     y = x (H_K kron H_m) * scale,   m = 2^p, scale = 1/sqrt(n) unless overridden,
//
// H_m in Sylvester order (= scipy.linalg.hadamard(m)), H_K one fixed +-1 matrix per K
// (python/qkern/hadamard/matrices.py). Viewing x as Z[K][m] (row-major, element a*m + b):
//
//     Y = W . (Z H_m),   W = H_K^T for y = x H, W = H_K for the transpose y = x H^T,
//
// i.e. a length-m FWHT of each of the K sub-rows, then one K x K mix of the sub-rows.
// The kernels receive W as data (the code table below): they never build it, so the
// kernels and the offline rotation code share one matrix per K, and the transpose (the
// backward pass, and the inverse of a normalised rotation) needs no kernel of its own.
//
// Randomized Hadamard: R = diag(s) H / sqrt(n), s in {+1, -1}^n. The forward y = x R
// multiplies x by s before the rotation; the transpose y = x R^T multiplies after it.
#pragma once
#include <cstdint>

#include "qkern/dtype.h"
#include "qkern/formats.h"
#include "qkern/macros.h"

namespace qkern {

// ---------------------------------------------------------------- sizes

// Outer factors K with a stored matrix, and the largest power-of-two factor: every
// n = K * 2^p with K in this list and 0 <= p <= kHadamardMaxLog2 is supported.
constexpr int kHadamardFactors[] = {1, 12, 20, 28, 36, 40, 52, 60, 108, 140, 148, 156, 172};
constexpr int kHadamardNumFactors = sizeof(kHadamardFactors) / sizeof(kHadamardFactors[0]);
constexpr int kHadamardMaxLog2 = 15;
constexpr int kHadamardMaxFactor = 172;

struct HadamardSize {
  int k;       // outer factor, one of kHadamardFactors
  int log2_m;  // inner FWHT size m = 2^log2_m
  QK_HOST_DEVICE constexpr int64_t m() const { return int64_t(1) << log2_m; }
  QK_HOST_DEVICE constexpr int64_t n() const { return int64_t(k) << log2_m; }
};

// Decomposes n as K * 2^p. n = 40 * 2^p could also be read as 20 * 2^(p+1); the largest
// K wins (QuaRot's get_hadK order), so such sizes use H_40 = H_2 kron H_20. Returns false
// for unsupported n. Host only (constexpr: usable at compile time): the factor table is a
// host array, and kernels receive the decomposition in HadamardParams::size.
constexpr bool hadamard_decompose(int64_t n, HadamardSize* out) {
  for (int i = kHadamardNumFactors - 1; i >= 0; --i) {
    const int k = kHadamardFactors[i];
    if (n <= 0 || n % k != 0) continue;
    const int64_t m = n / k;
    if ((m & (m - 1)) != 0) continue;
    int log2_m = 0;
    while ((int64_t(1) << log2_m) < m) ++log2_m;
    if (log2_m > kHadamardMaxLog2) return false;
    *out = HadamardSize{k, log2_m};
    return true;
  }
  return false;
}

static_assert([] {
  HadamardSize s{};
  return hadamard_decompose(11008, &s) && s.k == 172 && s.log2_m == 6 &&
         hadamard_decompose(14336, &s) && s.k == 28 && s.log2_m == 9 &&
         hadamard_decompose(80, &s) && s.k == 40 && s.log2_m == 1 &&
         hadamard_decompose(1, &s) && s.k == 1 && s.log2_m == 0 &&
         !hadamard_decompose(65536, &s) && !hadamard_decompose(100, &s);
}(), "hadamard_decompose");

// ---------------------------------------------------------------- the K x K mix
//
// W (+-1, K x K; K is a multiple of 4 for every stored factor) reaches the kernels as one
// byte per output sub-row r and group g of four input sub-rows, codes[r][g] (K x K/4):
//
//   code = (W[r][4g] = -1 ? 8 : 0) | b1 | b2 << 1 | b3 << 2,  b_j = W[r][4g+j] != W[r][4g]
//
// so that W[r][4g..4g+3] . z[4g..4g+3] is one of 16 signed combinations of the group's
// four values. The mix forms the 16 combinations of each group once per column and sums
// K/4 of them per output instead of K products (4x fewer operations for K = 172; the
// 7.4 KB table of K = 172 fits in CUDA constant memory):
//
//   y[r][c] = (sum over even g + sum over odd g of comb_g,c[codes[r][g]]) * scale,
//
// each partial sum from +0 in increasing g, comb as in mix_combinations. This sequence
// of fp32 operations defines the bits of every backend.
constexpr int kMixGroup = 4;
constexpr int kMixCombos = 16;

// comb[code] for the 16 codes of one group of four values (T: float, or a vector type
// with elementwise + - and unary -).
template <class T>
QK_HOST_DEVICE QK_FORCEINLINE void mix_combinations(T z0, T z1, T z2, T z3, T* comb) {
  const T u[2] = {z0 + z1, z0 - z1};  // by b1
  const T v[2] = {z2 + z3, z2 - z3};  // by b2 != b3 (the sign of z3 relative to z2)
  for (int p = 0; p < kMixCombos / 2; ++p) {
    const int b1 = p & 1, b2 = (p >> 1) & 1, b3 = (p >> 2) & 1;
    comb[p] = b2 ? u[b1] - v[b2 ^ b3] : u[b1] + v[b2 ^ b3];
    comb[p | 8] = -comb[p];
  }
}

// ---------------------------------------------------------------- params

// One rotation over `rows` rows of n elements. Rows are `*_row_stride` elements apart;
// the last dim is contiguous. out may alias x exactly (in place).
struct HadamardParams {
  HadamardSize size;
  int64_t rows;
  const void* x;        // [rows, n] in x_dtype (f32, f16, bf16)
  int64_t x_row_stride;
  DType x_dtype;
  void* out;            // [rows, n] in out_dtype; unused by hadamard_quantize
  int64_t out_row_stride;
  DType out_dtype;
  const uint8_t* mix_codes;  // [K, K/4]: W of the mix Y = W . Z as codes (see above); K > 1
  const float* signs;   // [n] +-1, or null: randomized Hadamard
  bool signs_after;     // multiply the output by signs (transpose) instead of the input
  float scale;          // 1/sqrt(n) for the orthonormal transform
};

// Rotation + quantization of each rotated fp32 row (the "same way" contract: the result
// is bit-identical to quantize() of the fp32 rows hadamard() computes for an fp32 input).
struct HadamardQuantizeParams {
  HadamardParams h;  // out / out_dtype unused; signs_after must be false
  QuantizeParams q;  // rows, cols = h.rows, n; x unused; outputs as for quantize
  bool swizzled_scales;  // MXFP4/NVFP4: scales in the 128x4 block-scaled GEMM layout
  // NVFP4 two-level: q.global_scale holds the decode scale d on entry (a calibrated static
  // scale, >= 2^-120) and is used as is; no amax pass over the rotated tensor.
  bool static_global_scale;
};

// Cheap invariants re-checked by every backend (CPU and CUDA) after the Python layer has
// validated shapes, dtypes and devices: kInvalidArgument when violated. `with_output`:
// the plain transform, which writes out / out_dtype.
inline Status check_params(const HadamardParams& p, bool with_output) {
  HadamardSize s{};
  if (!hadamard_decompose(p.size.n(), &s) || s.k != p.size.k || s.log2_m != p.size.log2_m)
    return Status::kInvalidArgument;
  if (p.rows < 0 || !is_float_dtype(p.x_dtype) || !p.x) return Status::kInvalidArgument;
  if (p.size.k > 1 && !p.mix_codes) return Status::kInvalidArgument;
  if (p.rows > 1 && p.x_row_stride < p.size.n()) return Status::kInvalidArgument;
  if (with_output) {
    if (!is_float_dtype(p.out_dtype) || !p.out) return Status::kInvalidArgument;
    if (p.rows > 1 && p.out_row_stride < p.size.n()) return Status::kInvalidArgument;
  }
  return Status::kOk;
}

inline Status check_params(const HadamardQuantizeParams& p) {
  const HadamardParams& h = p.h;
  const QuantizeParams& q = p.q;
  if (Status s = check_params(h, false); s != Status::kOk) return s;
  if (h.signs_after || q.rows != h.rows || q.cols != h.size.n()) return Status::kInvalidArgument;
  if (Status s = check_spec(q.fmt, h.rows, q.cols); s != Status::kOk) return s;
  if (is_two_level(q.fmt) && !q.global_scale) return Status::kInvalidArgument;
  if (has_zero_point(q.fmt) && !q.zero) return Status::kInvalidArgument;
  if (p.swizzled_scales && q.fmt.kind != FormatKind::kMxfp4 && q.fmt.kind != FormatKind::kNvfp4)
    return Status::kInvalidArgument;
  if (p.static_global_scale && !is_two_level(q.fmt)) return Status::kInvalidArgument;
  return Status::kOk;
}

// ---------------------------------------------------------------- scale swizzle

// Block-scaled GEMM scale layout (CUTLASS SfKMajorAtom, NUMERICS.md section 3): atoms of
// 128 rows x 4 scale columns (512 bytes), offset in atom = (r % 32) * 16 + ((r % 128) / 32)
// * 4 + (kb % 4), atoms by row block with K-blocks contiguous. Rows pad to 128 and scale
// columns to 4; the padding is left to the caller (zero-filled).
QK_HOST_DEVICE constexpr int64_t swizzled_scale_cols(int64_t scale_cols) { return (scale_cols + 3) / 4 * 4; }
QK_HOST_DEVICE constexpr int64_t swizzled_scale_rows(int64_t rows) { return (rows + 127) / 128 * 128; }

QK_HOST_DEVICE constexpr int64_t swizzled_scale_offset(int64_t r, int64_t kb, int64_t scale_cols) {
  const int64_t atom = (r / 128) * (swizzled_scale_cols(scale_cols) / 4) + kb / 4;
  return atom * 512 + (r % 32) * 16 + ((r % 128) / 32) * 4 + (kb % 4);
}

}  // namespace qkern
