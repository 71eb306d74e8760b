// The quantize / dequantize entry points, defined once for every module that has them:
// qkern._C (CPU kernels), qkern._C_cuda and qkern._C_sim (CUDA kernels, real or emulated).
// All take the same pointer-style arguments (addresses, sizes, dtype and format codes) and
// a `stream` keyword (a cudaStream_t as an integer, default 0; ignored by the CPU and the
// emulator), so the Python layer calls every backend the same way.
#pragma once
#include <cstdint>
#include <string>

#include "bindings/registry.h"
#include "qkern/formats.h"

namespace qkern::bindings {

inline FormatSpec make_spec(int kind, int block, bool symmetric, bool rceil, bool global_scale) {
  return FormatSpec{FormatKind(kind), block, symmetric, rceil, global_scale};
}

// quantize_fn(const QuantizeParams&, uintptr_t stream) -> Status, and likewise dequantize_fn;
// `detail()` returns extra text for a failed status (e.g. the emulator's message).
template <class QFn, class DFn, class Detail>
void def_format_ops(py::module_& m, QFn quantize_fn, DFn dequantize_fn, Detail detail) {
  auto q = [=](int kind, int block, bool symmetric, bool rceil, bool global_scale, int64_t rows,
               int64_t cols, uintptr_t x, int x_dtype, uintptr_t qdata, uintptr_t scale,
               int scale_dtype, uintptr_t zero, uintptr_t global_scale_out, uintptr_t stream) {
    QuantizeParams p{make_spec(kind, block, symmetric, rceil, global_scale), rows, cols,
                     ptr<const void>(x), DType(x_dtype), ptr(qdata), ptr(scale), DType(scale_dtype),
                     ptr<uint8_t>(zero), ptr<float>(global_scale_out)};
    run_kernel("quantize", [&] { return quantize_fn(p, stream); }, detail);
  };
  auto d = [=](int kind, int block, bool symmetric, bool rceil, bool global_scale, int64_t rows,
               int64_t cols, uintptr_t qdata, uintptr_t scale, int scale_dtype, uintptr_t zero,
               uintptr_t global_scale_in, uintptr_t out, int out_dtype, uintptr_t stream) {
    DequantizeParams p{make_spec(kind, block, symmetric, rceil, global_scale), rows, cols,
                       ptr<const void>(qdata), ptr<const void>(scale), DType(scale_dtype),
                       ptr<const uint8_t>(zero), ptr<const float>(global_scale_in), ptr(out),
                       DType(out_dtype)};
    run_kernel("dequantize", [&] { return dequantize_fn(p, stream); }, detail);
  };
  auto stream_arg = py::arg("stream") = uintptr_t(0);
  m.def("quantize", q, py::arg("kind"), py::arg("block"), py::arg("symmetric"), py::arg("rceil"),
        py::arg("global_scale"), py::arg("rows"), py::arg("cols"), py::arg("x"), py::arg("x_dtype"),
        py::arg("qdata"), py::arg("scale"), py::arg("scale_dtype"), py::arg("zero"),
        py::arg("global_scale_out"), stream_arg);
  m.def("dequantize", d, py::arg("kind"), py::arg("block"), py::arg("symmetric"), py::arg("rceil"),
        py::arg("global_scale"), py::arg("rows"), py::arg("cols"), py::arg("qdata"), py::arg("scale"),
        py::arg("scale_dtype"), py::arg("zero"), py::arg("global_scale_in"), py::arg("out"),
        py::arg("out_dtype"), stream_arg);
}

}  // namespace qkern::bindings
