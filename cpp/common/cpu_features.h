// CPU features detected at run time, and the instruction-set level the kernels use.
// Kernels compiled with AVX2 (files named *_avx2.cpp) may only be entered when
// active_isa() == Isa::kAvx2.
#pragma once
#include <string>

namespace qkern {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, avx512f = false;
};

const CpuFeatures& cpu_features();

enum class Isa : int { kScalar = 0, kAvx2 = 1 };

// The best level this binary and this CPU support, unless lowered by set_isa() or by
// the QKERN_CPU_ISA environment variable (scalar|avx2) read at load time.
Isa active_isa();
// Returns false (and changes nothing) when the requested level is not available.
bool set_isa(Isa isa);
const char* isa_name(Isa isa);

}  // namespace qkern
