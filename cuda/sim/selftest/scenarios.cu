// Emulator self-test scenarios (see scenarios.h). Each kernel states what it computes or
// which misuse it commits; tests/sim/test_sim_core.py holds the expectations.
#include "cuda/sim/selftest/scenarios.h"

#include "cuda/common/launch.cuh"

namespace qkern::sim_selftest {

// out[b] = sum over the block of (tid + 1), through shared memory with barriers.
__global__ void block_sum(int* out) {
  QK_DYNAMIC_SMEM(int, s);
  const int t = threadIdx.x, n = blockDim.x;
  s[t] = t + 1;
  __syncthreads();
  for (int stride = 1; stride < n; stride *= 2) {
    int v = (t % (2 * stride) == 0 && t + stride < n) ? s[t + stride] : 0;
    __syncthreads();
    s[t] += v;
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

// The same exchange with the barrier missing: out[t] = s[(t + 1) % n], which only holds
// t + 2 if the neighbour happened to write first (a race the schedules must expose).
__global__ void neighbour_race(int* out) {
  QK_DYNAMIC_SMEM(int, s);
  const int t = threadIdx.x, n = blockDim.x;
  s[t] = t + 1;
  // missing __syncthreads();
  out[t] = s[(t + 1) % n];
}

// Warp butterfly sum with shuffles; a partial last warp (a power of two of lanes) uses the
// mask of its lanes. out[tid] = sum of (lane + 1) over the lanes of its warp.
__global__ void warp_sum(int* out) {
  const int t = threadIdx.x, lane = t % 32;
  const int warp_threads = min(32, int(blockDim.x) - (t - lane));
  const unsigned mask = warp_threads == 32 ? 0xFFFFFFFFu : ((1u << warp_threads) - 1u);
  int v = lane + 1;
  for (int o = 16; o > 0; o /= 2)
    if (o < warp_threads) v += __shfl_xor_sync(mask, v, o);
  out[t] = v;
}

// out[0] += 1 from every thread of every block.
__global__ void atomic_count(int* out) { atomicAdd(out, 1); }

// Votes: out[t] = ballot of odd lanes, out[n + t] = any(lane == 5), out[2n + t] = all(lane < 32).
__global__ void votes(int* out) {
  const int t = threadIdx.x, lane = t % 32, n = blockDim.x;
  out[t] = int(__ballot_sync(0xFFFFFFFFu, lane & 1));
  out[n + t] = __any_sync(0xFFFFFFFFu, lane == 5);
  out[2 * n + t] = __all_sync(0xFFFFFFFFu, lane < 32);
}

// Misuse: half of the block skips the barrier.
__global__ void divergent_barrier(int*) {
  if (threadIdx.x < blockDim.x / 2) __syncthreads();
}

// Misuse: thread 0 leaves before a barrier the others wait at.
__global__ void exit_before_barrier(int*) {
  if (threadIdx.x == 0) return;
  __syncthreads();
}

// Misuse: even lanes shuffle while odd lanes vote, both with the full mask.
__global__ void mismatched_collectives(int* out) {
  if (threadIdx.x % 2 == 0) out[threadIdx.x] = __shfl_xor_sync(0xFFFFFFFFu, 1, 1);
  else out[threadIdx.x] = int(__ballot_sync(0xFFFFFFFFu, 1));
}

// Misuse: lane 0 exits, the rest shuffle with the full mask.
__global__ void collective_after_exit(int* out) {
  if (threadIdx.x % 32 == 0) return;
  out[threadIdx.x] = __shfl_sync(0xFFFFFFFFu, 1, 1);
}

// Misuse: lanes 0..15 shuffle with mask 0xFFFF but read lane 16.
__global__ void shuffle_outside_mask(int* out) {
  if (threadIdx.x < 16) out[threadIdx.x] = __shfl_sync(0x0000FFFFu, 1, 16);
}

// Misuse: the last thread writes one int past the dynamic shared memory.
__global__ void smem_overflow(int*) {
  QK_DYNAMIC_SMEM(int, s);
  const int t = threadIdx.x, n = blockDim.x;
  s[t + (t == n - 1 ? 1 : 0)] = 1;
}

// Misuse: a trap.
__global__ void trap(int*) {
  if (threadIdx.x == 3) __trap();
}

// Throughput: `iters` barriers and `iters` warp shuffles per thread.
__global__ void switch_bench(int* out, int iters) {
  int v = threadIdx.x;
  for (int i = 0; i < iters; ++i) {
    __syncthreads();
    v += __shfl_xor_sync(0xFFFFFFFFu, v, 1) & 1;
  }
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}

Status run(const std::string& name, int* out, int blocks, int threads, size_t smem, int iters) {
  const LaunchConfig c{name.c_str(), dim3(unsigned(blocks)), dim3(unsigned(threads)), smem, nullptr};
  if (name == "block_sum") return launch(c, block_sum, out);
  if (name == "neighbour_race") return launch(c, neighbour_race, out);
  if (name == "warp_sum") return launch(c, warp_sum, out);
  if (name == "atomic_count") return launch(c, atomic_count, out);
  if (name == "votes") return launch(c, votes, out);
  if (name == "divergent_barrier") return launch(c, divergent_barrier, out);
  if (name == "exit_before_barrier") return launch(c, exit_before_barrier, out);
  if (name == "mismatched_collectives") return launch(c, mismatched_collectives, out);
  if (name == "collective_after_exit") return launch(c, collective_after_exit, out);
  if (name == "shuffle_outside_mask") return launch(c, shuffle_outside_mask, out);
  if (name == "smem_overflow") return launch(c, smem_overflow, out);
  if (name == "trap") return launch(c, trap, out);
  if (name == "switch_bench") return launch(c, switch_bench, out, iters);
  launch_error_message() = "unknown self-test scenario '" + name + "'";
  return Status::kInvalidArgument;
}

}  // namespace qkern::sim_selftest
