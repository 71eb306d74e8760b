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

void mix_plan(const uint8_t*, int, int64_t, float*) {}  // the loop below reads the codes

void mix(const uint8_t* codes, int k, const float* z, int64_t m, float scale, float* y,
         float* work) {
  const int groups = k / kMixGroup;
  for (int64_t c = 0; c < m; ++c) {
    for (int g = 0; g < groups; ++g) {
      const float* zg = z + g * kMixGroup * m + c;
      mix_combinations(zg[0], zg[m], zg[2 * m], zg[3 * m], work + g * kMixCombos);
    }
    for (int r = 0; r < k; ++r) {
      float sum[2] = {0.0f, 0.0f};  // even and odd groups
      for (int g = 0; g < groups; ++g) sum[g & 1] += work[g * kMixCombos + codes[r * groups + g]];
      y[r * m + c] = (sum[0] + sum[1]) * scale;
    }
  }
}

void store(const float* src, const float* signs, int64_t n, void* out, DType t) {
  for (int64_t i = 0; i < n; ++i) store_one(out, t, i, signs ? src[i] * signs[i] : src[i]);
}

}  // namespace

const HadamardRowKernels& hadamard_row_kernels_scalar() {
  static const HadamardRowKernels k{fwht, mix_plan, mix, store};
  return k;
}

}  // namespace qkern
