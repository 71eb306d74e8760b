// qkern._C_cuda (real GPUs) and qkern._C_sim (the SIMT emulator): the same entry points
// over the CUDA launchers, built twice (QKERN_MODULE_NAME; QKERN_SIM for the emulator).
// The CUDA module links the static runtime, so importing it needs neither a driver nor a
// GPU; the first launch then fails with a clear error instead.
#include <cstdint>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings/format_bindings.h"
#include "bindings/hadamard_bindings.h"
#include "bindings/registry.h"
#include "cuda/common/launch_error.h"
#include "cuda/formats/formats.h"
#include "cuda/gemm/w4a16.h"
#include "cuda/hadamard/hadamard.h"
#include "cuda/ptx/probes/probes.h"

#if !defined(QKERN_SIM)
#include <cuda_runtime_api.h>
#endif

namespace qkern::bindings {

#if defined(QKERN_SIM)
void register_sim(py::module_& m);  // sim.cpp: schedules, statistics, self-tests, probes
#else
// "80,86,90a" (QKERN_CUDA_ARCHS at build time) -> ["sm_80", "sm_86", "sm_90a", "compute_90"]:
// SASS archs, then the PTX embedded for the newest (family-portable, without the "a").
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
  l.append(QKERN_CUDA_PTX_ARCH);
  return l;
}
#endif

// probe(op, inputs, out, n, arch=0, stream=0): runs a cuda/ptx probe kernel (probes.h).
// arch selects the emulated build of the op in _C_sim (0 = the first registered).
void register_probes(py::module_& m) {
  namespace pp = qkern::ptx_probes;
  m.def("probe", [](const std::string& op, std::vector<uintptr_t> inputs, uintptr_t out, int64_t n, int arch,
                    uintptr_t stream) {
    if (inputs.size() > 5) throw py::value_error("probe: at most 5 inputs");
    pp::ProbeArgs a{{nullptr, nullptr, nullptr, nullptr, nullptr}, ptr(out), n};
    for (size_t i = 0; i < inputs.size(); ++i) a.in[i] = ptr<const void>(inputs[i]);
    for (const pp::ProbeEntry& e : pp::registry()) {
      if (e.op != op || (arch != 0 && e.arch != arch)) continue;
      const std::string kernel = "probe " + op;
      run_kernel(kernel.c_str(), [&] { return e.fn(a, reinterpret_cast<cudaStream_t>(stream)); },
                 launch_error_message);
      return;
    }
    throw py::value_error("probe: no op '" + op + "'" + (arch ? " for arch " + std::to_string(arch) : "") +
                          " in this module");
  }, py::arg("op"), py::arg("inputs"), py::arg("out"), py::arg("n") = 0, py::arg("arch") = 0,
     py::arg("stream") = uintptr_t(0));
  m.def("probes", [] {
    py::list l;
    for (const pp::ProbeEntry& e : pp::registry()) l.append(py::make_tuple(e.op, e.arch, e.specific));
    return l;
  }, "Registered probe ops as (op, emulated arch or 0, arch-specific).");
}

// w4a16_linear(...): y = x W^T (+ bias) with a weight in the CUDA layout (cuda/gemm/w4a16.h).
void register_gemm(py::module_& m) {
  m.def("w4a16_linear",
        [](int kind, int block, bool symmetric, int64_t m, int64_t n, int64_t k, uintptr_t x, int64_t x_stride,
           int x_dtype, uintptr_t packed, uintptr_t scale, uintptr_t zero, uintptr_t bias, uintptr_t y,
           int64_t y_stride, uintptr_t workspace, int splits, uintptr_t stream) {
          W4A16Params p{make_spec(kind, block, symmetric, false, false), m, n, k, ptr<const void>(x), x_stride,
                        DType(x_dtype), nullptr, ptr<const uint8_t>(packed), ptr<const void>(scale),
                        DType::kF32, ptr<const uint8_t>(zero), nullptr, ptr<const void>(bias), ptr(y), y_stride,
                        ptr<float>(workspace)};
          run_kernel("w4a16_linear (CUDA)",
                     [&] { return w4a16_cuda(p, splits, reinterpret_cast<cudaStream_t>(stream)); },
                     launch_error_message);
        },
        py::arg("kind"), py::arg("block"), py::arg("symmetric"), py::arg("m"), py::arg("n"), py::arg("k"),
        py::arg("x"), py::arg("x_stride"), py::arg("x_dtype"), py::arg("packed"), py::arg("scale"),
        py::arg("zero"), py::arg("bias"), py::arg("y"), py::arg("y_stride"), py::arg("workspace"),
        py::arg("splits"), py::arg("stream") = uintptr_t(0));
  m.def("w4a16_layout", [] {
    py::dict d;
    d["tag"] = kW4CudaLayoutTag;
    d["align_n"] = kW4CudaAlignN;
    d["align_k"] = kW4CudaAlignK;
    return d;
  });
}

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
  b::def_hadamard_ops(
      m,
      [](const qkern::HadamardParams& p, float* ws, int64_t ws_rows, uintptr_t s) {
        return qkern::hadamard_cuda(p, ws, ws_rows, reinterpret_cast<cudaStream_t>(s));
      },
      [](const qkern::HadamardQuantizeParams& p, float* ws, int64_t ws_rows, uintptr_t s) {
        return qkern::hadamard_quantize_cuda(p, ws, ws_rows, reinterpret_cast<cudaStream_t>(s));
      },
      [] { return qkern::launch_error_message(); });
  m.def("hadamard_workspace_rows", &qkern::hadamard_cuda_workspace_rows, pybind11::arg("rows"), pybind11::arg("n"),
        "Rows of the fp32 workspace hadamard / hadamard_quantize need for rows x n (0: none).");
  b::register_probes(m);
  b::register_gemm(m);
#if defined(QKERN_SIM)
  m.doc() = "qkern CUDA kernels in the SIMT emulator (tests only; host pointers)";
  b::register_sim(m);
#else
  m.doc() = "qkern CUDA kernels (device pointers, raw cudaStream_t)";
  m.def("compiled_archs", &b::compiled_archs, "GPU archs with SASS in this binary (sm_XX), then the PTX arch (compute_XX).");
  m.def("device_count", [] {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
  }, "Usable CUDA devices (0 without a driver or GPU).");
  pybind11::dict has;
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
