// Bindings of the CPU quantize/dequantize kernels and of the element codecs (the codec
// entry points serve the property tests that compare them with the spec).
#include <cstdint>

#include "bindings/format_bindings.h"
#include "bindings/registry.h"
#include "formats/quantize.h"
#include "qkern/recipes.h"

namespace qkern::bindings {
namespace {

// Binds name(src, dst, n): dst[i] = Codec(src[i]) over raw buffers; used only by tests.
template <class In, class Out, Out (*Codec)(In)>
void bind_codec(py::module_& m, const char* name) {
  m.def(name, [](uintptr_t src, uintptr_t dst, int64_t n) {
    const In* s = ptr<const In>(src);
    Out* d = ptr<Out>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = Codec(s[i]);
  });
}

}  // namespace

void register_formats(py::module_& m) {
  def_format_ops(
      m, [](const QuantizeParams& p, uintptr_t) { return quantize_cpu(p); },
      [](const DequantizeParams& p, uintptr_t) { return dequantize_cpu(p); }, no_detail);

  py::module_ c = m.def_submodule("codecs", "Element codecs of qkern/codecs.h (for tests)");
  bind_codec<float, uint8_t, f32_to_e2m1>(c, "f32_to_e2m1");
  bind_codec<uint8_t, float, e2m1_to_f32>(c, "e2m1_to_f32");
  bind_codec<float, uint8_t, f32_to_e4m3>(c, "f32_to_e4m3");
  bind_codec<uint8_t, float, e4m3_to_f32>(c, "e4m3_to_f32");
  bind_codec<uint8_t, float, e8m0_to_f32>(c, "e8m0_to_f32");
  bind_codec<float, uint16_t, f32_to_f16>(c, "f32_to_f16");
  bind_codec<float, uint16_t, f32_to_bf16>(c, "f32_to_bf16");
  bind_codec<float, uint8_t, mx_scale_floor>(c, "mx_scale_floor");
  bind_codec<float, uint8_t, mx_scale_rceil>(c, "mx_scale_rceil");
}

}  // namespace qkern::bindings
