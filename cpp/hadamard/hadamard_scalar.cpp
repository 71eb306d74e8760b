// Portable reference loops of HadamardRowKernels. They define the bits every faster table
// must reproduce (see the contract in hadamard.h).
#include "formats/row_kernels.h"
#include "hadamard/hadamard.h"

namespace qkern {
namespace {

void fwht(const void* x, DType t, const float* signs, int log2_m, float scale, float* v) {
  const int64_t m = int64_t(1) << log2_m;
  for (int64_t i = 0; i < m; ++i) v[i] = signs ? load_one(x, t, i) * signs[i] : load_one(x, t, i);
  for (int64_t h = 1; h < m; h *= 2) {
    for (int64_t base = 0; base < m; base += 2 * h) {
      for (int64_t i = base; i < base + h; ++i) {
        const float a = v[i], b = v[i + h];
        v[i] = a + b;
        v[i + h] = a - b;
      }
    }
  }
  if (scale != 1.0f)
    for (int64_t i = 0; i < m; ++i) v[i] *= scale;
}

void mix(const float* w, int k, const float* z, int64_t m, float scale, float* y) {
  for (int r = 0; r < k; ++r) {
    float* yr = y + r * m;
    for (int64_t c = 0; c < m; ++c) yr[c] = 0.0f;
    for (int a = 0; a < k; ++a) {
      const float wa = w[r * k + a];
      const float* za = z + a * m;
      for (int64_t c = 0; c < m; ++c) yr[c] += wa * za[c];
    }
    for (int64_t c = 0; c < m; ++c) yr[c] *= scale;
  }
}

void store(const float* src, const float* signs, int64_t n, void* out, DType t) {
  for (int64_t i = 0; i < n; ++i) store_one(out, t, i, signs ? src[i] * signs[i] : src[i]);
}

}  // namespace

const HadamardRowKernels& hadamard_row_kernels_scalar() {
  static const HadamardRowKernels k{fwht, mix, store};
  return k;
}

}  // namespace qkern
