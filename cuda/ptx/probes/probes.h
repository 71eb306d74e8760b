// Probe kernels: one small kernel per cuda/ptx wrapper, run by tests in the emulator
// (qkern._C_sim, per emulated arch) and on a GPU (qkern._C_cuda) against the same
// expectations. Each probe source registers its ops here at load time, tagged with the
// arch it was compiled for (QKERN_ARCH; 0 in _C_cuda, where the GPU decides).
// Host-only header.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <driver_types.h>

#include "qkern/status.h"

namespace qkern::ptx_probes {

// Pointer arguments of a probe; meaning per op (probe_*.cu).
struct ProbeArgs {
  const void* in[5];
  void* out;
  int64_t n;  // elements, for element-wise probes
};
using ProbeFn = Status (*)(const ProbeArgs&, cudaStream_t);

struct ProbeEntry {
  std::string op;
  int arch;      // emulated arch (e.g. 890); 0 in the CUDA build
  bool specific; // compiled as an arch-specific ("a") target
  ProbeFn fn;
};

inline std::vector<ProbeEntry>& registry() {
  static std::vector<ProbeEntry> entries;
  return entries;
}

inline bool add(const char* op, int arch, bool specific, ProbeFn fn) {
  registry().push_back({op, arch, specific, fn});
  return true;
}

}  // namespace qkern::ptx_probes
