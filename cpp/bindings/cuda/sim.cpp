// qkern._C_sim only: the emulator's controls (schedule, statistics, arch limits) and its
// self-test scenarios. The kernels themselves are bound in module.cpp like _C_cuda's.
#include <cstdint>
#include <string>

#include "bindings/registry.h"
#include "cuda/common/launch_error.h"
#include "cuda/ptx/layouts.h"
#include "cuda/sim/runtime.h"
#include "cuda/sim/selftest/scenarios.h"

namespace qkern::bindings {

void register_sim(py::module_& m) {
  namespace sim = qkern::sim;
  m.def("set_schedule", [](const std::string& name, uint64_t seed) {
    if (name == "forward") sim::set_schedule(sim::Schedule::kForward, seed);
    else if (name == "reverse") sim::set_schedule(sim::Schedule::kReverse, seed);
    else if (name == "shuffle") sim::set_schedule(sim::Schedule::kShuffle, seed);
    else throw py::value_error("set_schedule: expected 'forward', 'reverse' or 'shuffle', got '" + name + "'");
  }, py::arg("schedule"), py::arg("seed") = 0,
     "Order in which later launches on this thread run the fibers of a block.");
  m.def("get_schedule", [] {
    switch (sim::schedule()) {
      case sim::Schedule::kForward: return "forward";
      case sim::Schedule::kReverse: return "reverse";
      default: return "shuffle";
    }
  });
  m.def("stats", [] {
    const sim::Stats s = sim::stats();
    py::dict d = fields<int64_t>({{"launches", s.launches}, {"blocks", s.blocks}, {"threads", s.threads},
                                  {"switches", s.switches}, {"collectives", s.collectives},
                                  {"barriers", s.barriers}});
    d["seconds"] = s.seconds;
    return d;
  }, "Emulator counters of this thread since reset_stats().");
  m.def("reset_stats", &sim::reset_stats);
  m.def("arch_limits", [](int arch) {
    const sim::ArchLimits l = sim::arch_limits(arch);
    return fields<int64_t>({{"max_threads_per_block", l.max_threads_per_block},
                            {"max_dyn_smem_optin", l.max_dyn_smem_optin}});
  }, py::arg("arch"));
  // The emulator's fragment layouts (cuda/ptx/layouts.h), for the CuTe comparison:
  // a list of (lane, element, row, col).
  m.def("mma_layout", [](int k, const std::string& operand) {
    if (k != 16 && k != 32 && k != 64) throw py::value_error("mma_layout: k must be 16, 32 or 64");
    py::list l;
    for (int lane = 0; lane < 32; ++lane) {
      if (operand == "A") {
        for (int i = 0; i < k / 2; ++i) { auto c = ptx::mma_a_coord(k, lane, i); l.append(py::make_tuple(lane, i, c.row, c.col)); }
      } else if (operand == "B") {
        for (int i = 0; i < k / 4; ++i) { auto c = ptx::mma_b_coord(k, lane, i); l.append(py::make_tuple(lane, i, c.row, c.col)); }
      } else if (operand == "C") {
        for (int i = 0; i < 4; ++i) { auto c = ptx::mma_c_coord(lane, i); l.append(py::make_tuple(lane, i, c.row, c.col)); }
      } else if (operand == "SFA") {
        l.append(py::make_tuple(lane, 0, ptx::mma_sfa_row(lane), 0));
      } else if (operand == "SFB") {
        l.append(py::make_tuple(lane, 0, ptx::mma_sfb_col(lane), 0));
      } else {
        throw py::value_error("mma_layout: operand must be A, B, C, SFA or SFB");
      }
    }
    return l;
  }, py::arg("k"), py::arg("operand"));
  m.def("ldmatrix_layout", [](bool trans) {
    py::list l;
    for (int lane = 0; lane < 32; ++lane)
      for (int h = 0; h < 2; ++h) { auto c = ptx::ldmatrix_coord(trans, lane, h); l.append(py::make_tuple(lane, h, c.row, c.col)); }
    return l;
  }, py::arg("trans"), "(lane, half, row, col) of register j of matrix j (the same for every j).");
  m.def("selftest", [](const std::string& name, uintptr_t out, int blocks, int threads, size_t smem, int iters) {
    const std::string kernel = "sim self-test " + name;
    run_kernel(kernel.c_str(), [&] { return sim_selftest::run(name, ptr<int>(out), blocks, threads, smem, iters); },
               launch_error_message);
  }, py::arg("name"), py::arg("out"), py::arg("blocks") = 1, py::arg("threads") = 32, py::arg("smem") = 0,
     py::arg("iters") = 1, "Run an emulator self-test scenario (cuda/sim/selftest/scenarios.cu).");
}

}  // namespace qkern::bindings
