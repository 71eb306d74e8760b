// Bindings of the CPU Hadamard rotation, its fused quantize variant and the size facts
// (the Python layer builds its messages and matrices from these, so the supported sizes
// are stated once, in qkern/hadamard.h). The entry points are those of every backend
// module (hadamard_bindings.h); the CPU ignores stream, and uses a workspace only to keep
// NVFP4 two-level rotated rows between the passes of hadamard_quantize.
#include <cstdint>

#include "bindings/hadamard_bindings.h"
#include "bindings/registry.h"
#include "hadamard/hadamard.h"
#include "qkern/hadamard.h"

namespace qkern::bindings {

void register_hadamard(py::module_& m) {
  m.def("hadamard_factors", [] {
    py::list l;
    for (int k : kHadamardFactors) l.append(k);
    return l;
  }, "Outer factors K of the supported sizes n = K * 2^p (qkern/hadamard.h).");
  m.attr("hadamard_max_log2") = kHadamardMaxLog2;
  m.def("hadamard_decompose", [](int64_t n) -> py::object {
    HadamardSize s{};
    if (!hadamard_decompose(n, &s)) return py::none();
    return py::make_tuple(s.k, s.log2_m);
  }, py::arg("n"), "(K, p) with n = K * 2^p, or None when n is not supported.");
  m.def("hadamard_quantize_workspace_rows", [](int64_t rows, int64_t n, bool two_level) {
    return hadamard_quantize_workspace_rows_cpu(two_level, rows, n);
  }, py::arg("rows"), py::arg("n"), py::arg("two_level"),
     "Rows of the fp32 workspace hadamard_quantize wants (NVFP4 two-level keeps its rotated rows "
     "there between its passes when they fit kKeepRotatedMaxBytes; 0: none).");
  def_hadamard_ops(
      m, [](const HadamardParams& p, float*, int64_t, uintptr_t) { return hadamard_cpu(p); },
      [](const HadamardQuantizeParams& p, float* workspace, int64_t workspace_rows, uintptr_t) {
        return hadamard_quantize_cpu(p, workspace, workspace_rows);
      },
      no_detail);
}

}  // namespace qkern::bindings
