// cp.async wrappers (sm_80+): asynchronous global -> shared copies in commit groups.
//   cp_async_16(dst, src)            cp.async.cg.shared.global, 16 bytes (L2 only)
//   cp_async_16_zfill(dst, src, n)   copies n (0..16) bytes and zero-fills the rest
//   cp_async_commit()                closes the group of copies issued so far
//   cp_async_wait<N>()               waits until at most N committed groups are in flight
// Both addresses must be 16-byte aligned. Data is visible to the issuing thread after the
// wait; to other threads only after a barrier as well.
//
// Emulator twin: copies are queued per thread at issue and land in shared memory only at
// the wait_group that covers their group (sim::cp_async_*), so reading before the wait
// sees stale data, as it may on the GPU.
#pragma once
#include <cstdint>

#include "cuda/common/prelude.cuh"

namespace qkern::ptx {
inline namespace QKERN_ARCH_NAMESPACE {  // bodies depend on QKERN_ARCH (common/arch.cuh)

__device__ __forceinline__ void cp_async_16_zfill(void* smem_dst, const void* gmem_src, int src_bytes) {
#if !QK_HAS_SM80
  qk_trap_unsupported("cp.async");
#elif defined(QKERN_SIM)
  ::qkern::sim::cp_async_issue(smem_dst, gmem_src, 16, src_bytes);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(
                   static_cast<uint32_t>(__cvta_generic_to_shared(smem_dst))),
               "l"(gmem_src), "r"(src_bytes));
#endif
}

__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* gmem_src) {
#if !QK_HAS_SM80
  qk_trap_unsupported("cp.async");
#elif defined(QKERN_SIM)
  ::qkern::sim::cp_async_issue(smem_dst, gmem_src, 16, 16);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(
                   static_cast<uint32_t>(__cvta_generic_to_shared(smem_dst))),
               "l"(gmem_src));
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if !QK_HAS_SM80
  qk_trap_unsupported("cp.async.commit_group");
#elif defined(QKERN_SIM)
  ::qkern::sim::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

template <int N>
__device__ __forceinline__ void cp_async_wait() {
  static_assert(N >= 0 && N <= 7, "cp.async.wait_group takes 0..7");
#if !QK_HAS_SM80
  qk_trap_unsupported("cp.async.wait_group");
#elif defined(QKERN_SIM)
  ::qkern::sim::cp_async_wait(N);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern::ptx
