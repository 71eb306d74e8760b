// Bindings of the CPU quantize/dequantize kernels and of the element codecs (the codec
// entry points serve the property tests that compare them with the spec).
#include <cstdint>

#include "bindings/format_bindings.h"
#include "bindings/registry.h"
#include "formats/quantize.h"
#include "qkern/recipes.h"

namespace qkern::bindings {
namespace {

// codec(i) over n elements, from one buffer to another: used only by tests.
template <class In, class Out, class Fn>
void map_codec(uintptr_t src, uintptr_t dst, int64_t n, Fn fn) {
  const In* s = ptr<const In>(src);
  Out* d = ptr<Out>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = fn(s[i]);
}

}  // namespace

void register_formats(py::module_& m) {
  def_format_ops(
      m, [](const QuantizeParams& p, uintptr_t) { return quantize_cpu(p); },
      [](const DequantizeParams& p, uintptr_t) { return dequantize_cpu(p); }, [] { return std::string(); });

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
