// Bindings of the CPU W4A16 linear layer (prepack, matmul) and of its pure helpers
// (layout sizes, tile plan) that the Python layer and the tests use.
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "bindings/registry.h"
#include "gemm/w4a16.h"
#include "qkern/gemm.h"

namespace qkern::bindings {
namespace {

FormatSpec spec(int kind, int block, bool symmetric, bool global_scale) {
  return FormatSpec{FormatKind(kind), block, symmetric, false, global_scale};
}

}  // namespace

void register_gemm(py::module_& m) {
  m.def("w4a16_cpu_layout", [] {
    py::dict d = fields<int64_t>({{"tile_n", kW4TileN}, {"tile_k", kW4TileK}, {"tile_bytes", kW4TileBytes},
                         {"align_n", kW4CpuAlignN}, {"gemv_max_m", kW4GemvMaxM}});
    d["tag"] = kW4CpuLayoutTag;
    return d;
  }, "Constants of the prepacked CPU W4 layout (qkern/gemm.h).");

  m.def("w4a16_cpu_shape", [](int64_t n, int64_t k, int64_t block) {
    const W4CpuShape s = w4_cpu_shape(n, k, block);
    return fields<int64_t>({{"n", s.n}, {"k", s.k}, {"n_pad", s.n_pad}, {"k_pad", s.k_pad},
                   {"group", s.group}, {"groups", s.groups}});
  }, py::arg("n"), py::arg("k"), py::arg("block"));

  m.def("w4a16_cpu_workspace_floats", [](int64_t m, int64_t n, int64_t k, int64_t block) {
    return w4a16_cpu_workspace_floats(m, w4_cpu_shape(n, k, block));
  }, py::arg("m"), py::arg("n"), py::arg("k"), py::arg("block"));

  m.def("w4a16_cpu_plan", [](int64_t m, int64_t n, int64_t k, int64_t block, int threads) {
    const W4CpuPlan p = w4a16_cpu_plan(m, w4_cpu_shape(n, k, block), threads);
    py::dict d = fields<int64_t>({{"mc", p.mc}, {"nc", p.nc}, {"kc", p.kc}, {"work_m", p.work_m},
                         {"work_n", p.work_n}});
    d["gemv"] = p.gemv;
    return d;
  }, py::arg("m"), py::arg("n"), py::arg("k"), py::arg("block"), py::arg("threads"),
     "The CPU tile plan for an [m, k] x [n, k]^T problem (a pure function, for tests).");

  m.def("w4a16_cuda_splits", [](int64_t m, int64_t n, int64_t k, int sms) { return w4a16_cuda_splits(m, n, k, sms); },
        py::arg("m"), py::arg("n"), py::arg("k"), py::arg("sms"),
        "Split-K count of the CUDA W4A16 kernel for an [m, k] x [n, k]^T problem on `sms` SMs "
        "(a pure function of qkern/gemm.h).");

  m.def("w4a16_prepack",
        [](int kind, int block, bool symmetric, bool global_scale, int64_t n, int64_t k,
           uintptr_t qdata, uintptr_t scale, int scale_dtype, uintptr_t zero, uintptr_t perm,
           uintptr_t packed, uintptr_t scale_out, uintptr_t zero_out) {
          W4PrepackParams p{spec(kind, block, symmetric, global_scale), n, k,
                            ptr<const uint8_t>(qdata), ptr<const void>(scale), DType(scale_dtype),
                            ptr<const uint8_t>(zero), ptr<const int32_t>(perm), ptr<uint8_t>(packed),
                            ptr(scale_out), ptr<uint8_t>(zero_out)};
          run_kernel("w4a16_prepack", [&] { return w4a16_prepack_cpu(p); });
        },
        py::arg("kind"), py::arg("block"), py::arg("symmetric"), py::arg("global_scale"),
        py::arg("n"), py::arg("k"), py::arg("qdata"), py::arg("scale"), py::arg("scale_dtype"),
        py::arg("zero"), py::arg("perm"), py::arg("packed"), py::arg("scale_out"),
        py::arg("zero_out"));

  m.def("w4a16_linear",
        [](int kind, int block, bool symmetric, bool global_scale, int64_t m, int64_t n,
           int64_t k, uintptr_t x, int64_t x_stride, int x_dtype, uintptr_t perm, uintptr_t packed,
           uintptr_t scale, int scale_dtype, uintptr_t zero, uintptr_t global_scale_in,
           uintptr_t bias, uintptr_t y, int64_t y_stride, uintptr_t workspace) {
          W4A16Params p{spec(kind, block, symmetric, global_scale), m, n, k,
                        ptr<const void>(x), x_stride, DType(x_dtype), ptr<const int32_t>(perm),
                        ptr<const uint8_t>(packed), ptr<const void>(scale), DType(scale_dtype),
                        ptr<const uint8_t>(zero), ptr<const float>(global_scale_in),
                        ptr<const void>(bias), ptr(y), y_stride, ptr<float>(workspace)};
          run_kernel("w4a16_linear", [&] { return w4a16_linear_cpu(p); });
        },
        py::arg("kind"), py::arg("block"), py::arg("symmetric"), py::arg("global_scale"),
        py::arg("m"), py::arg("n"), py::arg("k"), py::arg("x"), py::arg("x_stride"),
        py::arg("x_dtype"), py::arg("perm"), py::arg("packed"), py::arg("scale"),
        py::arg("scale_dtype"), py::arg("zero"), py::arg("global_scale_in"), py::arg("bias"),
        py::arg("y"), py::arg("y_stride"), py::arg("workspace"));

  m.def("w4a16_decode_scales",
        [](int kind, int block, bool symmetric, bool global_scale, int scale_dtype,
           float global_scale_value, uintptr_t codes, int64_t n, uintptr_t out) {
          const FormatSpec f = spec(kind, block, symmetric, global_scale);
          run_kernel("w4a16_decode_scales", [&] {
            return w4a16_decode_scales_cpu(f, DType(scale_dtype), global_scale_value,
                                           ptr<const void>(codes), n, ptr<float>(out));
          });
        },
        py::arg("kind"), py::arg("block"), py::arg("symmetric"), py::arg("global_scale"),
        py::arg("scale_dtype"), py::arg("global_scale_value"), py::arg("codes"), py::arg("n"),
        py::arg("out"),
        "Test hook: n scale codes decoded to fp32 by the active level's W4A16 kernel.");
}

}  // namespace qkern::bindings
