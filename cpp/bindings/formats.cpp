// Bindings of the CPU quantize/dequantize kernels and of the element codecs (the codec
// entry points serve the property tests that compare them with the spec).
#include <cstdint>

#include "bindings/registry.h"
#include "formats/quantize.h"
#include "qkern/recipes.h"

namespace qkern::bindings {
namespace {

FormatSpec make_spec(int kind, int block, bool symmetric, bool rceil, bool global_scale) {
  return FormatSpec{FormatKind(kind), block, symmetric, rceil, global_scale};
}

// codec(i) over n elements, from one buffer to another: used only by tests.
template <class In, class Out, class Fn>
void map_codec(uintptr_t src, uintptr_t dst, int64_t n, Fn fn) {
  const In* s = ptr<const In>(src);
  Out* d = ptr<Out>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = fn(s[i]);
}

}  // namespace

void register_formats(py::module_& m) {
  m.def("quantize",
        [](int kind, int block, bool symmetric, bool rceil, bool global_scale, int64_t rows,
           int64_t cols, uintptr_t x, int x_dtype, uintptr_t qdata, uintptr_t scale,
           int scale_dtype, uintptr_t zero, uintptr_t global_scale_out) {
          QuantizeParams p{make_spec(kind, block, symmetric, rceil, global_scale),
                           rows, cols, ptr<const void>(x), DType(x_dtype), ptr(qdata),
                           ptr(scale), DType(scale_dtype), ptr<uint8_t>(zero),
                           ptr<float>(global_scale_out)};
          Status s;
          {
            py::gil_scoped_release nogil;
            s = quantize_cpu(p);
          }
          check_status(s, "quantize");
        },
        py::arg("kind"), py::arg("block"), py::arg("symmetric"), py::arg("rceil"),
        py::arg("global_scale"), py::arg("rows"), py::arg("cols"), py::arg("x"),
        py::arg("x_dtype"), py::arg("qdata"), py::arg("scale"), py::arg("scale_dtype"),
        py::arg("zero"), py::arg("global_scale_out"));

  m.def("dequantize",
        [](int kind, int block, bool symmetric, bool rceil, bool global_scale, int64_t rows,
           int64_t cols, uintptr_t qdata, uintptr_t scale, int scale_dtype, uintptr_t zero,
           uintptr_t global_scale_in, uintptr_t out, int out_dtype) {
          DequantizeParams p{make_spec(kind, block, symmetric, rceil, global_scale),
                             rows, cols, ptr<const void>(qdata), ptr<const void>(scale),
                             DType(scale_dtype), ptr<const uint8_t>(zero),
                             ptr<const float>(global_scale_in), ptr(out), DType(out_dtype)};
          Status s;
          {
            py::gil_scoped_release nogil;
            s = dequantize_cpu(p);
          }
          check_status(s, "dequantize");
        },
        py::arg("kind"), py::arg("block"), py::arg("symmetric"), py::arg("rceil"),
        py::arg("global_scale"), py::arg("rows"), py::arg("cols"), py::arg("qdata"),
        py::arg("scale"), py::arg("scale_dtype"), py::arg("zero"), py::arg("global_scale_in"),
        py::arg("out"), py::arg("out_dtype"));

  py::module_ c = m.def_submodule("codecs", "Element codecs of qkern/codecs.h (for tests)");
  c.def("f32_to_e2m1", [](uintptr_t s, uintptr_t d, int64_t n) {
    map_codec<float, uint8_t>(s, d, n, f32_to_e2m1);
  });
  c.def("e2m1_to_f32", [](uintptr_t s, uintptr_t d, int64_t n) {
    map_codec<uint8_t, float>(s, d, n, e2m1_to_f32);
  });
  c.def("f32_to_e4m3", [](uintptr_t s, uintptr_t d, int64_t n) {
    map_codec<float, uint8_t>(s, d, n, f32_to_e4m3);
  });
  c.def("e4m3_to_f32", [](uintptr_t s, uintptr_t d, int64_t n) {
    map_codec<uint8_t, float>(s, d, n, e4m3_to_f32);
  });
  c.def("e8m0_to_f32", [](uintptr_t s, uintptr_t d, int64_t n) {
    map_codec<uint8_t, float>(s, d, n, e8m0_to_f32);
  });
  c.def("f32_to_f16", [](uintptr_t s, uintptr_t d, int64_t n) {
    map_codec<float, uint16_t>(s, d, n, f32_to_f16);
  });
  c.def("f32_to_bf16", [](uintptr_t s, uintptr_t d, int64_t n) {
    map_codec<float, uint16_t>(s, d, n, f32_to_bf16);
  });
  c.def("mx_scale_floor", [](uintptr_t s, uintptr_t d, int64_t n) {
    map_codec<float, uint8_t>(s, d, n, mx_scale_floor);
  });
  c.def("mx_scale_rceil", [](uintptr_t s, uintptr_t d, int64_t n) {
    map_codec<float, uint8_t>(s, d, n, mx_scale_rceil);
  });
}

}  // namespace qkern::bindings
