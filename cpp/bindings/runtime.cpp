// Build and machine facts, the thread pool and the ISA switch.
#include <string>

#include "bindings/registry.h"
#include "common/cpu_features.h"
#include "common/parallel.h"

namespace qkern::bindings {

void register_runtime(py::module_& m) {
  m.attr("__version__") = QKERN_VERSION;
  m.def("cpu_features", [] {
    const CpuFeatures& f = cpu_features();
    return fields<bool>({{"avx2", f.avx2}, {"fma", f.fma}, {"f16c", f.f16c}, {"avx512f", f.avx512f},
                         {"avx512bw", f.avx512bw}, {"avx512vl", f.avx512vl},
                         {"avx512bf16", f.avx512bf16}});
  }, "CPU features detected at run time.");
  m.def("compiled_isas", [] {
    py::list l;
    l.append("scalar");
#if defined(QKERN_BUILD_AVX2)
    l.append("avx2");
#endif
#if defined(QKERN_BUILD_AVX512)
    l.append("avx512");
#endif
    return l;
  }, "Instruction-set levels compiled into this binary.");
  m.def("get_isa", [] { return std::string(isa_name(active_isa())); },
        "The instruction-set level the CPU kernels use now.");
  m.def("set_isa", [](const std::string& name) {
    Isa isa;
    if (!isa_from_name(name.c_str(), &isa) || !set_isa(isa))
      throw py::value_error("set_isa: expected 'scalar' or an available level, got '" + name + "'");
  }, py::arg("isa"),
     "Select the CPU kernel level ('scalar', 'avx2' or 'avx512'); for tests and benchmarks.");
  m.def("get_num_threads", &num_threads);
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("set_num_threads: expected n >= 1, got " + std::to_string(n));
    set_num_threads(n);
  }, py::arg("n"));
  m.def("set_openmp_parallel", [](uintptr_t address) {
    set_openmp_parallel(reinterpret_cast<void*>(address));
  }, py::arg("address"),
     "Run the CPU kernels' threads on the OpenMP runtime whose GOMP_parallel is at this "
     "address (0: qkern's own pool).");
  m.def("thread_runtime", [] { return std::string(uses_openmp() ? "openmp" : "qkern pool"); });
}

}  // namespace qkern::bindings
