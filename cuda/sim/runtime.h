// The SIMT emulator's runtime: what the prelude's device mappings (sim/device.h), the
// launch helper and the cuda/ptx twins call. Host C++ only; no CUDA runtime.
//
// Execution model (SIM.md):
//   * a launch runs its blocks one after another on the calling OS thread;
//   * the threads of a block are cooperative fibers (ucontext, own stacks); a fiber runs
//     until it reaches a barrier, a warp collective or its end, then the scheduler picks
//     the next runnable fiber in the order of the active Schedule (forward, reverse or a
//     seeded shuffle), so a missing barrier shows up as a wrong result under some order;
//   * warp collectives (shuffles, votes, mma, ldmatrix, __syncwarp) park the arriving lane;
//     when every lane named in the mask has arrived at the same collective (same kind,
//     same tag, same mask), the last one computes the result for all and releases them;
//   * misuse (a barrier or collective that not all required threads reach, lanes of one
//     mask at different collectives, a write past the dynamic shared memory, a trap, a
//     launch the emulated arch would refuse) aborts the launch with a message naming the
//     kernel, the block and the threads; the launch then returns Status::kCudaError
//     (kInvalidArgument for a refused configuration) and last_error() holds the text.
//
// Because only one block runs at a time and fibers never run concurrently, `__shared__`
// variables are function-static (thread_local, so that two OS threads can emulate at the
// same time) and atomics are plain read-modify-writes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include <vector_types.h>  // dim3, uint3 (plain structs; g++ compiles the header)

#include "qkern/status.h"

namespace qkern::sim {

enum class Schedule : int {
  kForward = 0,  // lowest thread index first
  kReverse = 1,  // highest first
  kShuffle = 2,  // a fresh permutation every round, from a seeded generator
};

// The schedule of later launches on this OS thread.
void set_schedule(Schedule s, uint64_t seed);
Schedule schedule();

// What the emulator has done on this OS thread since the last reset: for throughput
// numbers (docs/cuda.md) and tests.
struct Stats {
  uint64_t launches = 0;
  uint64_t blocks = 0;
  uint64_t threads = 0;   // emulated threads run to completion
  uint64_t switches = 0;  // fiber context switches (each direction counts)
  uint64_t collectives = 0;
  uint64_t barriers = 0;
  double seconds = 0.0;   // wall time inside launches
};
Stats stats();
void reset_stats();

// Hardware limits of the emulated arch (the values cudaDeviceProp reports on such GPUs).
struct ArchLimits {
  int arch;                     // 800, 860, ...
  int max_threads_per_block;    // 1024 everywhere
  size_t max_dyn_smem_optin;    // cudaDevAttrMaxSharedMemoryPerBlockOptin
};
ArchLimits arch_limits(int arch);

// One kernel launch: the body is called once per emulated thread, on that thread's fiber.
struct LaunchSpec {
  const char* kernel;  // name for messages
  int arch;            // emulated arch (QKERN_ARCH of the kernel's translation unit)
  dim3 grid, block;
  size_t dyn_smem;     // bytes of dynamic shared memory
};
Status launch(const LaunchSpec& spec, void (*body)(void*), void* arg);

// The message of the last failed launch on this OS thread ("" after a good one).
const std::string& last_error();

// ---------------------------------------------------------------- inside a kernel

const uint3& thread_idx();
const uint3& block_idx();
const dim3& block_dim();
const dim3& grid_dim();
unsigned lane_id();

// Dynamic shared memory of the running block: poisoned with 0xCD at block start and
// framed by red zones that are checked at every barrier and at the block's end.
unsigned char* dynamic_smem();

// __syncthreads(): every thread of the block must arrive, none may have exited.
void syncthreads();

// A warp collective. Every lane in `mask` must call it with the same kind, tag and mask;
// `fn` runs once, on the last lane to arrive, with the 32 lanes' data pointers (null for
// lanes outside the mask) and then all of them continue. `fn` may call fail().
struct CollectiveKind {
  const char* name;  // "__shfl_sync", "mma.m16n8k16.bf16", ...
  void (*fn)(void* const* lane_data, uint32_t mask, uint32_t tag);
};
void warp_collective(const CollectiveKind& kind, uint32_t mask, uint32_t tag, void* data);

// Lanes of the calling warp that exist and have not exited (models __activemask()).
uint32_t live_lanes();

// Aborts the launch with a message (the kernel, block and thread are added). Never returns.
[[noreturn]] void fail(const std::string& what);

// cp.async twin: copies are queued per thread at issue (the source bytes are read then)
// and written to shared memory only at the cp_async_wait_group that covers their group.
void cp_async_issue(void* dst, const void* src, int bytes, int src_bytes);
void cp_async_commit();
void cp_async_wait(int pending_groups_allowed);

}  // namespace qkern::sim
