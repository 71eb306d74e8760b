// Bindings of the CPU Hadamard rotation, its fused quantize variant and the size facts
// (the Python layer builds its messages and matrices from these, so the supported sizes
// are stated once, in qkern/hadamard.h).
#include <cstdint>

#include "bindings/registry.h"
#include "hadamard/hadamard.h"
#include "qkern/hadamard.h"

namespace qkern::bindings {
namespace {

HadamardSize size_of(int64_t n) {
  HadamardSize s{};
  if (!hadamard_decompose(n, &s))
    throw py::value_error("qkern kernel 'hadamard': unsupported size " + std::to_string(n));
  return s;
}

HadamardParams make_params(int64_t rows, int64_t n, uintptr_t x, int64_t x_row_stride, int x_dtype,
                           uintptr_t out, int64_t out_row_stride, int out_dtype, uintptr_t mix_codes,
                           uintptr_t signs, bool signs_after, float scale) {
  return HadamardParams{size_of(n),         rows,          ptr<const void>(x), x_row_stride,
                        DType(x_dtype),     ptr(out),      out_row_stride,     DType(out_dtype),
                        ptr<const uint8_t>(mix_codes), ptr<const float>(signs), signs_after, scale};
}

}  // namespace

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

  m.def("hadamard",
        [](int64_t rows, int64_t n, uintptr_t x, int64_t x_row_stride, int x_dtype, uintptr_t out,
           int64_t out_row_stride, int out_dtype, uintptr_t mix_codes, uintptr_t signs, bool signs_after,
           float scale) {
          const HadamardParams p = make_params(rows, n, x, x_row_stride, x_dtype, out, out_row_stride,
                                               out_dtype, mix_codes, signs, signs_after, scale);
          Status s;
          {
            py::gil_scoped_release nogil;
            s = hadamard_cpu(p);
          }
          check_status(s, "hadamard");
        },
        py::arg("rows"), py::arg("n"), py::arg("x"), py::arg("x_row_stride"), py::arg("x_dtype"),
        py::arg("out"), py::arg("out_row_stride"), py::arg("out_dtype"), py::arg("mix_codes"),
        py::arg("signs"), py::arg("signs_after"), py::arg("scale"));

  m.def("hadamard_quantize",
        [](int64_t rows, int64_t n, uintptr_t x, int64_t x_row_stride, int x_dtype, uintptr_t mix_codes,
           uintptr_t signs, float scale, int kind, int block, bool symmetric, bool rceil,
           bool global_scale, uintptr_t qdata, uintptr_t scale_out, int scale_dtype, uintptr_t zero,
           uintptr_t global_scale_out, bool swizzled_scales) {
          HadamardQuantizeParams p{
              make_params(rows, n, x, x_row_stride, x_dtype, 0, 0, x_dtype, mix_codes, signs, false, scale),
              QuantizeParams{FormatSpec{FormatKind(kind), block, symmetric, rceil, global_scale},
                             rows, n, nullptr, DType(x_dtype), ptr(qdata), ptr(scale_out),
                             DType(scale_dtype), ptr<uint8_t>(zero), ptr<float>(global_scale_out)},
              swizzled_scales};
          Status s;
          {
            py::gil_scoped_release nogil;
            s = hadamard_quantize_cpu(p);
          }
          check_status(s, "hadamard_quantize");
        },
        py::arg("rows"), py::arg("n"), py::arg("x"), py::arg("x_row_stride"), py::arg("x_dtype"),
        py::arg("mix_codes"), py::arg("signs"), py::arg("scale"), py::arg("kind"), py::arg("block"),
        py::arg("symmetric"), py::arg("rceil"), py::arg("global_scale"), py::arg("qdata"),
        py::arg("scale_out"), py::arg("scale_dtype"), py::arg("zero"), py::arg("global_scale_out"),
        py::arg("swizzled_scales"));
}

}  // namespace qkern::bindings
