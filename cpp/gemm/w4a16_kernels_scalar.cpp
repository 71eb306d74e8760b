// Portable W4A16 kernels: plain C++ over the shared codecs, the same blocking as the AVX2
// level (per-group partial sums in the GEMV, scaled fp32 panels in the GEMM) so that the
// tests of both levels exercise one driver.
#include <cstring>

#include "gemm/w4a16_kernels.h"

namespace qkern {
namespace {

// The 128 values of tile (t, c), unscaled: vals[v][lane] = table[code(16t + lane, 8c + v)].
void decode_tile(const W4Weights& w, int64_t t, int64_t c, float vals[kW4TileK][kW4TileN]) {
  const uint8_t* tile = w.packed + (t * w.k_chunks + c) * kW4TileBytes;
  for (int lane = 0; lane < kW4TileN; ++lane) {
    uint32_t word;  // little-endian, as every x86 and Arm host
    std::memcpy(&word, tile + 4 * lane, 4);
    for (int v = 0; v < kW4TileK; ++v)
      vals[v][lane] = bf16_to_f32(w.table[(word >> (4 * w4_tile_nibble(v))) & 0xF]);
  }
}

void scales(const W4Weights& w, int64_t t, int64_t g, float* out) {
  for (int lane = 0; lane < kW4TileN; ++lane) out[lane] = w4_scale(w, t, g, lane);
}

void gemv(const W4Weights& w, const float* x, int64_t ldx, const float* xsum, int64_t ldxs,
          int mr, int64_t t0, int64_t t1, float* out, int64_t ldo) {
  float vals[kW4TileK][kW4TileN];
  for (int64_t t = t0; t < t1; ++t) {
    float acc[kW4GemvMaxM][kW4TileN] = {};
    for (int64_t g = 0; g < w.groups; ++g) {
      // sum over the group of x * table[code], then one multiply by the scale
      float part[kW4GemvMaxM][kW4TileN] = {};
      for (int64_t c = g * w.group_chunks; c < (g + 1) * w.group_chunks; ++c) {
        decode_tile(w, t, c, vals);
        for (int i = 0; i < mr; ++i)
          for (int v = 0; v < kW4TileK; ++v) {
            const float xv = x[i * ldx + c * kW4TileK + v];
            for (int lane = 0; lane < kW4TileN; ++lane) part[i][lane] += xv * vals[v][lane];
          }
      }
      for (int lane = 0; lane < kW4TileN; ++lane) {
        const float s = w4_scale(w, t, g, lane), off = w4_zero_offset(w, t, g, lane);
        for (int i = 0; i < mr; ++i) {
          acc[i][lane] += part[i][lane] * s;
          if (w.zero) acc[i][lane] += (off * s) * xsum[i * ldxs + g];
        }
      }
    }
    for (int i = 0; i < mr; ++i)
      for (int lane = 0; lane < kW4TileN; ++lane)
        out[i * ldo + (t - t0) * kW4TileN + lane] = acc[i][lane];
  }
}

void dequant(const W4Weights& w, int64_t t0, int64_t ntiles, int64_t c0, int64_t nchunks,
             float* panel) {
  float vals[kW4TileK][kW4TileN];
  for (int64_t dt = 0; dt < ntiles; ++dt) {
    float* strip = panel + dt * nchunks * kW4TileK * kW4GemmNr;
    for (int64_t dc = 0; dc < nchunks; ++dc) {
      const int64_t t = t0 + dt, c = c0 + dc, g = c / w.group_chunks;
      decode_tile(w, t, c, vals);
      for (int lane = 0; lane < kW4TileN; ++lane) {
        const float s = w4_scale(w, t, g, lane), off = w4_zero_offset(w, t, g, lane);
        for (int v = 0; v < kW4TileK; ++v)
          strip[(dc * kW4TileK + v) * kW4GemmNr + lane] = (vals[v][lane] + off) * s;
      }
    }
  }
}

void micro(const float* a, int64_t lda, const float* b, int64_t kc, float* c, int64_t ldc, int mr,
           bool accumulate) {
  for (int i = 0; i < mr; ++i) {
    float acc[kW4GemmNr] = {};
    for (int64_t k = 0; k < kc; ++k) {
      const float av = a[i * lda + k];
      for (int j = 0; j < kW4GemmNr; ++j) acc[j] += av * b[k * kW4GemmNr + j];
    }
    for (int j = 0; j < kW4GemmNr; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[j] : acc[j];
  }
}

}  // namespace

const W4Kernels& w4_kernels_scalar() {
  static const W4Kernels k{gemv, dequant, micro, scales, nullptr, nullptr};
  return k;
}

}  // namespace qkern
