// CPU features detected at run time, and the instruction-set level the kernels use.
// Levels are ordered scalar < avx2 < avx512; a file named *_avx2.cpp / *_avx512.cpp is
// compiled for its level (cpp/CMakeLists.txt) and may only be entered when active_isa()
// is at least that level. Families pick their table with pick_kernels().
#pragma once
#include <string>

namespace qkern {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, avx512f = false, avx512bw = false, avx512vl = false,
       avx512bf16 = false;  // optional within kAvx512: kernels check it themselves
};

const CpuFeatures& cpu_features();

// kAvx2: AVX2+FMA+F16C. kAvx512: kAvx2 plus AVX-512 F/BW/VL.
enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// The best level this binary and this CPU support, unless lowered by set_isa() or by
// the QKERN_CPU_ISA environment variable (scalar|avx2|avx512) read at load time.
Isa active_isa();
// Returns false (and changes nothing) when the requested level is not available.
bool set_isa(Isa isa);
const char* isa_name(Isa isa);
// The level named name ("scalar", "avx2", "avx512"); false for any other name.
bool isa_from_name(const char* name, Isa* isa);

// QKERN_IF_AVX2(f) / QKERN_IF_AVX512(f): &f where that level is compiled in, else nullptr
// (f is then not even declared).
#if defined(QKERN_BUILD_AVX2)
#define QKERN_IF_AVX2(f) (&f)
#else
#define QKERN_IF_AVX2(f) nullptr
#endif
#if defined(QKERN_BUILD_AVX512)
#define QKERN_IF_AVX512(f) (&f)
#else
#define QKERN_IF_AVX512(f) nullptr
#endif

// The kernel table of the highest level <= active_isa() that a family provides; a null
// getter means the family has no table at that level (not written, or not compiled in).
// The one place that maps the active level to a table, e.g.
//   pick_kernels<RowKernels>(row_kernels_scalar, QKERN_IF_AVX2(row_kernels_avx2), nullptr)
template <class Table>
const Table& pick_kernels(const Table& (*scalar)(), const Table& (*avx2)(),
                          const Table& (*avx512)()) {
  const Isa isa = active_isa();
  if (avx512 && isa >= Isa::kAvx512) return avx512();
  if (avx2 && isa >= Isa::kAvx2) return avx2();
  return scalar();
}

}  // namespace qkern
