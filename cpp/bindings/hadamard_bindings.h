// The hadamard / hadamard_quantize entry points, defined once for every module that has
// them: qkern._C (CPU kernels), qkern._C_cuda and qkern._C_sim (CUDA kernels, real or
// emulated). All take the same pointer-style arguments, plus `workspace` /
// `workspace_rows` (an fp32 buffer for rows too long for shared memory; see
// cuda/hadamard/hadamard.h; ignored by the CPU) and `stream` (a cudaStream_t as an
// integer; ignored by the CPU and the emulator), so the Python layer calls every backend
// the same way. Both start with the same 8 arguments (rows .. scale), and the Python layer
// passes them by position (pybind11's keyword matching costs ~3 us a call).
#pragma once
#include <cstdint>
#include <string>

#include "bindings/registry.h"
#include "qkern/hadamard.h"

namespace qkern::bindings {

inline HadamardSize hadamard_size_of(int64_t n) {
  HadamardSize s{};
  if (!hadamard_decompose(n, &s))
    throw py::value_error("qkern kernel 'hadamard': unsupported size " + std::to_string(n));
  return s;
}

inline HadamardParams make_hadamard_params(int64_t rows, int64_t n, uintptr_t x, int64_t x_row_stride, int x_dtype,
                                           uintptr_t out, int64_t out_row_stride, int out_dtype, uintptr_t mix_codes,
                                           uintptr_t signs, bool signs_after, float scale) {
  return HadamardParams{hadamard_size_of(n), rows,          ptr<const void>(x), x_row_stride,
                        DType(x_dtype),      ptr(out),      out_row_stride,     DType(out_dtype),
                        ptr<const uint8_t>(mix_codes), ptr<const float>(signs), signs_after, scale};
}

// hfn(const HadamardParams&, float* workspace, int64_t workspace_rows, uintptr_t stream)
// -> Status, qfn likewise for HadamardQuantizeParams; `detail()` returns extra text for a
// failed status (e.g. the emulator's message).
template <class HFn, class QFn, class Detail>
void def_hadamard_ops(py::module_& m, HFn hfn, QFn qfn, Detail detail) {
  m.def("hadamard",
        [=](int64_t rows, int64_t n, uintptr_t x, int64_t x_row_stride, int x_dtype, uintptr_t mix_codes,
            uintptr_t signs, float scale, uintptr_t out, int64_t out_row_stride, int out_dtype, bool signs_after,
            uintptr_t workspace, int64_t workspace_rows, uintptr_t stream) {
          const HadamardParams p = make_hadamard_params(rows, n, x, x_row_stride, x_dtype, out, out_row_stride,
                                                        out_dtype, mix_codes, signs, signs_after, scale);
          run_kernel("hadamard", [&] { return hfn(p, ptr<float>(workspace), workspace_rows, stream); },
                     detail);
        },
        py::arg("rows"), py::arg("n"), py::arg("x"), py::arg("x_row_stride"), py::arg("x_dtype"),
        py::arg("mix_codes"), py::arg("signs"), py::arg("scale"), py::arg("out"), py::arg("out_row_stride"),
        py::arg("out_dtype"), py::arg("signs_after"), py::arg("workspace") = uintptr_t(0),
        py::arg("workspace_rows") = int64_t(0), py::arg("stream") = uintptr_t(0));

  m.def("hadamard_quantize",
        [=](int64_t rows, int64_t n, uintptr_t x, int64_t x_row_stride, int x_dtype, uintptr_t mix_codes,
            uintptr_t signs, float scale, int kind, int block, bool symmetric, bool rceil, bool global_scale,
            uintptr_t qdata, uintptr_t scale_out, int scale_dtype, uintptr_t zero, uintptr_t global_scale_out,
            bool swizzled_scales, uintptr_t workspace, int64_t workspace_rows, uintptr_t stream,
            bool static_global_scale) {
          HadamardQuantizeParams p{
              make_hadamard_params(rows, n, x, x_row_stride, x_dtype, 0, 0, x_dtype, mix_codes, signs, false, scale),
              QuantizeParams{FormatSpec{FormatKind(kind), block, symmetric, rceil, global_scale}, rows, n, nullptr,
                             DType(x_dtype), ptr(qdata), ptr(scale_out), DType(scale_dtype), ptr<uint8_t>(zero),
                             ptr<float>(global_scale_out)},
              swizzled_scales, static_global_scale};
          run_kernel("hadamard_quantize",
                     [&] { return qfn(p, ptr<float>(workspace), workspace_rows, stream); }, detail);
        },
        py::arg("rows"), py::arg("n"), py::arg("x"), py::arg("x_row_stride"), py::arg("x_dtype"),
        py::arg("mix_codes"), py::arg("signs"), py::arg("scale"), py::arg("kind"), py::arg("block"),
        py::arg("symmetric"), py::arg("rceil"), py::arg("global_scale"), py::arg("qdata"),
        py::arg("scale_out"), py::arg("scale_dtype"), py::arg("zero"), py::arg("global_scale_out"),
        py::arg("swizzled_scales"), py::arg("workspace") = uintptr_t(0), py::arg("workspace_rows") = int64_t(0),
        py::arg("stream") = uintptr_t(0), py::arg("static_global_scale") = false);
}

}  // namespace qkern::bindings
