#include "common/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace qkern {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures r;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    r.avx2 = __builtin_cpu_supports("avx2");
    r.fma = __builtin_cpu_supports("fma");
    r.f16c = __builtin_cpu_supports("f16c");
    r.avx512f = __builtin_cpu_supports("avx512f");
#endif
    return r;
  }();
  return f;
}

static bool isa_available(Isa isa) {
  if (isa == Isa::kScalar) return true;
#if defined(QKERN_BUILD_AVX2)
  const CpuFeatures& f = cpu_features();
  return f.avx2 && f.fma && f.f16c;
#else
  return false;
#endif
}

static std::atomic<int>& isa_slot() {
  static std::atomic<int> slot([] {
    Isa best = isa_available(Isa::kAvx2) ? Isa::kAvx2 : Isa::kScalar;
    const char* env = std::getenv("QKERN_CPU_ISA");
    if (env && std::strcmp(env, "scalar") == 0) best = Isa::kScalar;
    return int(best);
  }());
  return slot;
}

Isa active_isa() { return Isa(isa_slot().load(std::memory_order_relaxed)); }

bool set_isa(Isa isa) {
  if (!isa_available(isa)) return false;
  isa_slot().store(int(isa));
  return true;
}

const char* isa_name(Isa isa) { return isa == Isa::kAvx2 ? "avx2" : "scalar"; }

}  // namespace qkern
