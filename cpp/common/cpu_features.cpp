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
    r.avx512bw = __builtin_cpu_supports("avx512bw");
    r.avx512vl = __builtin_cpu_supports("avx512vl");
    r.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
    return r;
  }();
  return f;
}

static bool isa_available(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2:
#if defined(QKERN_BUILD_AVX2)
      return f.avx2 && f.fma && f.f16c;
#else
      return false;
#endif
    case Isa::kAvx512:
#if defined(QKERN_BUILD_AVX512)
      return isa_available(Isa::kAvx2) && f.avx512f && f.avx512bw && f.avx512vl;
#else
      return false;
#endif
  }
  return false;
}

static const char* const kIsaNames[] = {"scalar", "avx2", "avx512"};

static std::atomic<int>& isa_slot() {
  static std::atomic<int> slot([] {
    Isa best = Isa::kScalar, env_isa;
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
      if (isa_available(isa)) best = isa;
    // the variable can only lower the level
    const char* env = std::getenv("QKERN_CPU_ISA");
    if (env && isa_from_name(env, &env_isa) && env_isa < best) best = env_isa;
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

const char* isa_name(Isa isa) { return kIsaNames[int(isa)]; }

bool isa_from_name(const char* name, Isa* isa) {
  for (int i = 0; i < 3; ++i)
    if (std::strcmp(name, kIsaNames[i]) == 0) return *isa = Isa(i), true;
  return false;
}

}  // namespace qkern
