// The K x K mix of HadamardRowKernels (hadamard.h), written once over a vector type V and
// instantiated by hadamard_avx2.cpp (8 lanes) and hadamard_avx512.cpp (16 lanes).
// Everything is always-inline or in an anonymous namespace, so each including file
// compiles its own copy with its own -m flags (no AVX-512 instruction can reach the AVX2
// path). Bits: the scalar table's (the sums as qkern/hadamard.h defines them).
//
// V provides: type T; kLanes; load / store (fp32), set1, add, mul, fmadd(a, b, c) = a b + c.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "hadamard/hadamard.h"

namespace qkern {
namespace {

// HadamardRowKernels::mix for m >= V::kLanes (m a power of two, so a multiple of it).
// Per strip of kLanes columns: the 16 combinations of every group (16 * k/4 vectors at
// the start of `work`: 44 KB for K = 172 in zmm), then 4 output sub-rows at a time with
// an even and an odd accumulator each (8 independent chains; the odd ones on the FMA
// pipes, fma(comb, 1, acc) rounding as acc + comb), as qkern/hadamard.h defines the sums.
// mix_plan_x86 turns the codes into byte offsets of their combination (after the
// combinations in `work`) once per task, so a term is an offset load and an add from
// memory instead of five instructions of index arithmetic. Measured and not kept: storing only the 8
// combinations of one sign (22 KB, in L1) with each term an FMA by +-1 was 1.2-1.3x
// slower at n = 11008 (every term then on the FMA pipes).
constexpr int kMixRows = 4;

// The term offsets [k][groups] in `work`, after the combinations.
QK_FORCEINLINE int32_t* mix_offsets(float* work, int k) {
  return reinterpret_cast<int32_t*>(work + mix_combination_floats(k));
}

template <class V>
void mix_plan_x86(const uint8_t* codes, int k, float* work) {
  const int groups = k / kMixGroup;
  int32_t* offset = mix_offsets(work, k);
  for (int r = 0; r < k; ++r)
    for (int g = 0; g < groups; ++g)
      offset[r * groups + g] = int32_t((g * kMixCombos + codes[r * groups + g]) * sizeof(typename V::T));
}

template <class V>
void mix_x86(int k, const float* z, int64_t m, float scale, float* y, float* work) {
  using T = typename V::T;
  const int groups = k / kMixGroup;
  T* comb = reinterpret_cast<T*>(work);
  const int32_t* offset = mix_offsets(work, k);
  const char* comb_bytes = reinterpret_cast<const char*>(comb);
  const auto term = [comb_bytes](int32_t off) { return *reinterpret_cast<const T*>(comb_bytes + off); };
  const T vscale = V::set1(scale), one = V::set1(1.0f);
  for (int64_t c = 0; c < m; c += V::kLanes) {
    for (int g = 0; g < groups; ++g) {
      const float* zg = z + g * kMixGroup * m + c;
      mix_combinations(V::load(zg), V::load(zg + m), V::load(zg + 2 * m), V::load(zg + 3 * m),
                       comb + g * kMixCombos);
    }
    for (int r = 0; r < k; r += kMixRows) {
      T even[kMixRows], odd[kMixRows];
      for (int i = 0; i < kMixRows; ++i) even[i] = odd[i] = V::set1(0.0f);
      const int32_t* orow = offset + r * groups;
      int g = 0;
      for (; g + 1 < groups; g += 2) {
        for (int i = 0; i < kMixRows; ++i) {
          even[i] = V::add(even[i], term(orow[i * groups + g]));
          odd[i] = V::fmadd(term(orow[i * groups + g + 1]), one, odd[i]);
        }
      }
      if (g < groups)
        for (int i = 0; i < kMixRows; ++i) even[i] = V::add(even[i], term(orow[i * groups + g]));
      for (int i = 0; i < kMixRows; ++i)
        V::store(y + (r + i) * m + c, V::mul(V::add(even[i], odd[i]), vscale));
    }
  }
}

// A level's mix_plan and mix entries: V's loops for m >= V::kLanes, else the table of the
// level below (Lower); the plan and the loop pick the level by the same test of m.
template <class V, const HadamardRowKernels& (*Lower)()>
void mix_plan_level(const uint8_t* codes, int k, int64_t m, float* work) {
  if (m < V::kLanes) return Lower().mix_plan(codes, k, m, work);
  mix_plan_x86<V>(codes, k, work);
}

template <class V, const HadamardRowKernels& (*Lower)()>
void mix_level(const uint8_t* codes, int k, const float* z, int64_t m, float scale, float* y, float* work) {
  if (m < V::kLanes) return Lower().mix(codes, k, z, m, scale, y, work);
  mix_x86<V>(k, z, m, scale, y, work);
}

}  // namespace
}  // namespace qkern
