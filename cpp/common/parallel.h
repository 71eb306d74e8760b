// A small persistent thread pool for the CPU kernels: parallel_for splits [0, n) into
// contiguous chunks of at least `grain` items and runs fn(begin, end) on them, the
// calling thread included. Calls from inside a running parallel_for run serially.
// The pool size defaults to the hardware concurrency; the Python layer sets it to
// torch.get_num_threads() (qkern.set_num_threads).
#pragma once
#include <cstdint>
#include <functional>

namespace qkern {

int num_threads();
void set_num_threads(int n);

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace qkern
