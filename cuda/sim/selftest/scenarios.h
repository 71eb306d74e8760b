// Self-test kernels of the emulator (built into qkern._C_sim only): correct kernels, whose
// results tests check under every schedule, and deliberately wrong ones, each of which the
// emulator must report with a clear error (or, for the race, expose as a wrong result
// under some schedule).
#pragma once
#include <cstddef>
#include <string>

#include "qkern/status.h"

namespace qkern::sim_selftest {

// Runs scenario `name` with `blocks` x `threads` threads and `smem` bytes of dynamic shared
// memory; results go to out (int32, layout per scenario in scenarios.cu). kInvalidArgument
// for an unknown name.
Status run(const std::string& name, int* out, int blocks, int threads, size_t smem, int iters);

}  // namespace qkern::sim_selftest
