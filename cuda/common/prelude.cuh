// The one header every kernel file includes first. Under nvcc it is thin glue (the CUDA
// runtime and qkern's arch macro); under QKERN_SIM it maps the CUDA device vocabulary onto
// the SIMT emulator (sim/device.h), so the SAME source builds for GPUs and for the CPU.
//
// Rules for kernel files (both compilers must accept them):
//   * launch only through qkern::launch (common/launch.cuh), never the triple-chevron syntax;
//   * dynamic shared memory only through QK_DYNAMIC_SMEM (extern __shared__ cannot be
//     emulated: it is one array per kernel on hardware, a per-block buffer in the emulator);
//   * inline PTX only in cuda/ptx wrappers, each with its emulator twin;
//   * arch-specific code only behind the QK_HAS_* predicates of common/arch.cuh, and inside
//     namespace QKERN_ARCH_NAMESPACE when its body depends on the arch.
#pragma once

#if defined(QKERN_SIM)
#include "cuda/sim/device.h"
#else
#include <cuda_runtime.h>
#endif

#include "cuda/common/arch.cuh"
#include "qkern/macros.h"

// T* name = the block's dynamic shared memory (aligned to 16 bytes).
#if defined(QKERN_SIM)
#define QK_DYNAMIC_SMEM(T, name) T* name = reinterpret_cast<T*>(::qkern::sim::dynamic_smem())
#else
#define QK_DYNAMIC_SMEM(T, name)                             \
  extern __shared__ __align__(16) unsigned char qk_dyn_smem_[]; \
  T* name = reinterpret_cast<T*>(qk_dyn_smem_)
#endif

namespace qkern {
inline namespace QKERN_ARCH_NAMESPACE {

// Traps with a message in the emulator; on a GPU the kernel dies with an illegal
// instruction (cudaErrorLaunchFailure). Used by wrappers compiled for an arch that lacks
// their instruction: never a silent no-op.
#if defined(QKERN_SIM)
[[noreturn]] inline void qk_trap_unsupported(const char* what) {
  ::qkern::sim::fail(std::string(what) + " is not available on the emulated sm_" +
                     std::to_string(QKERN_ARCH / 10) + (QKERN_ARCH_SPECIFIC ? "a" : ""));
}
#else
__device__ __forceinline__ void qk_trap_unsupported(const char*) { __trap(); }
#endif

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern
