// Prototype microbenchmark (not part of the library; the evidence behind docs/hadamard.md,
// session 8): the cheapest INT4 g128 quantize epilogue we could write for one fp32 row of
// 4096 in L1, to compare with the budget that "fused within 1.3x of the plain transform"
// leaves at n = 4096 (0.3 x ~1.15 us per row on the development VM, ~350 ns).
//
// Per 128-element block: amax (8 loads, and-abs, max, one horizontal max), s = amax / 7.5,
// r = 1 / s; per 16 elements: multiply by r, round (VCVTPS2DQ), + 8, clamp at 15, and per
// 32 elements one shift + or + VPMOVDB to bytes. That is ~5 vector ops per 16 elements
// against the library's 9 + packing, and it is NOT the codec: no division semantics (so
// not bit-identical to quantize()), no lower clamp, nibbles not in the canonical order.
// It only bounds from below what any exact epilogue can cost on this core.
//
// Build: g++ -O3 -mavx512f -mavx512bw -mavx512vl -mavx512dq -o hadamard_epilogue_floor hadamard_epilogue_floor.cpp
// Run:   ./hadamard_epilogue_floor   (best of 200 x 1000 rows)
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <random>

namespace {

alignas(64) float row[4096];
alignas(64) uint8_t codes[2048];
float scales[32];

__attribute__((noinline)) void epilogue(const float* x, uint8_t* out, float* scale) {
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512i eight = _mm512_set1_epi32(8), fifteen = _mm512_set1_epi32(15);
  for (int b = 0; b < 32; ++b) {
    const float* xb = x + b * 128;
    __m512 v[8], m = _mm512_setzero_ps();
    for (int i = 0; i < 8; ++i) {
      v[i] = _mm512_loadu_ps(xb + 16 * i);
      m = _mm512_max_ps(m, _mm512_and_ps(v[i], abs_mask));
    }
    const float s = _mm512_reduce_max_ps(m) / 7.5f;
    scale[b] = s;
    const __m512 r = _mm512_set1_ps(s > 0 ? 1.0f / s : 0.0f);
    for (int i = 0; i < 8; i += 2) {
      const __m512i c0 = _mm512_min_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v[i], r)), eight), fifteen);
      const __m512i c1 = _mm512_min_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v[i + 1], r)), eight), fifteen);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + b * 64 + i * 8),
                       _mm512_cvtepi32_epi8(_mm512_or_si512(c0, _mm512_slli_epi32(c1, 4))));
    }
  }
}

}  // namespace

int main() {
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  for (float& v : row) v = normal(gen);
  double best = 1e30;
  for (int rep = 0; rep < 200; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < 1000; ++k) {
      epilogue(row, codes, scales);
      asm volatile("" ::: "memory");
    }
    best = std::min(best, std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / 1000);
  }
  std::printf("INT4 g128 epilogue floor: %.0f ns per 4096-element row (%.3f ns per element; first byte %d)\n",
              best, best / 4096, codes[0]);
}
