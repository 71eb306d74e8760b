// qkern._C_cuda (real GPUs) and qkern._C_sim (the SIMT emulator): the same entry points
// over the CUDA launchers, built twice (QKERN_MODULE_NAME; QKERN_SIM for the emulator).
// The CUDA module links the static runtime, so importing it needs neither a driver nor a
// GPU; the first launch then fails with a clear error instead.
#include <cstdint>
#include <string>

#include "bindings/format_bindings.h"
#include "bindings/registry.h"
#include "cuda/common/launch_error.h"
#include "cuda/formats/formats.h"

#if !defined(QKERN_SIM)
#include <cuda_runtime_api.h>
#endif

namespace qkern::bindings {

#if defined(QKERN_SIM)
void register_sim(py::module_& m);  // sim.cpp: schedules, statistics, self-tests, probes
#else
// "80,86,90a" (QKERN_CUDA_ARCHS at build time) -> ["sm_80", "sm_86", "sm_90a"].
py::list compiled_archs() {
  py::list l;
  std::string all = QKERN_CUDA_ARCH_LIST, cur;
  for (size_t i = 0; i <= all.size(); ++i) {
    if (i == all.size() || all[i] == ',') {
      if (!cur.empty()) l.append("sm_" + cur);
      cur.clear();
    } else {
      cur += all[i];
    }
  }
  return l;
}
#endif

}  // namespace qkern::bindings

PYBIND11_MODULE(QKERN_MODULE_NAME, m) {
  namespace b = qkern::bindings;
  using qkern::DequantizeParams;
  using qkern::QuantizeParams;
  m.attr("__version__") = QKERN_VERSION;
  b::def_format_ops(
      m,
      [](const QuantizeParams& p, uintptr_t s) { return qkern::quantize_cuda(p, reinterpret_cast<cudaStream_t>(s)); },
      [](const DequantizeParams& p, uintptr_t s) { return qkern::dequantize_cuda(p, reinterpret_cast<cudaStream_t>(s)); },
      [] { return qkern::launch_error_message(); });
#if defined(QKERN_SIM)
  m.doc() = "qkern CUDA kernels in the SIMT emulator (tests only; host pointers)";
  b::register_sim(m);
#else
  m.doc() = "qkern CUDA kernels (device pointers, raw cudaStream_t)";
  m.def("compiled_archs", &b::compiled_archs, "GPU archs with SASS in this binary (sm_XX).");
  m.def("device_count", [] {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
  }, "Usable CUDA devices (0 without a driver or GPU).");
  py::dict has;
#if defined(QKERN_HAS_PROBE_SM89)
  has["fp8_mma"] = true;
#else
  has["fp8_mma"] = false;
#endif
#if defined(QKERN_HAS_PROBE_SM120A)
  has["block_scaled_mma"] = true;
#else
  has["block_scaled_mma"] = false;
#endif
  m.attr("features") = has;
#endif
}
