// Threads for the CPU kernels: parallel_for splits [0, n) into contiguous chunks of at
// least `grain` items and runs fn(begin, end) on them, the calling thread included. Calls
// from inside a running parallel_for run serially. The chunks go to the host process's
// OpenMP runtime when the Python layer found one (torch's: set_openmp_parallel), else to a
// small persistent pool of our own. The thread count defaults to the hardware concurrency;
// the Python layer sets it to torch.get_num_threads() (qkern.set_num_threads).
#pragma once
#include <cstdint>
#include <functional>

namespace qkern {

int num_threads();
void set_num_threads(int n);

// gomp_parallel: the address of GOMP_parallel in the process's OpenMP runtime, or null
// for qkern's own pool.
void set_openmp_parallel(void* gomp_parallel);
bool uses_openmp();

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace qkern
