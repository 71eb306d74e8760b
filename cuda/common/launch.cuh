// qkern::launch: the ONE way kernels are launched, in both modes (no triple-chevron launches).
//   under nvcc      cudaLaunchKernelEx on the given stream (after raising the kernel's
//                   dynamic shared memory limit when it asks for more than 48 KiB);
//   under QKERN_SIM the emulator runs the kernel to completion before returning, as
//                   the emulated arch QKERN_ARCH of this translation unit.
// Returns Status::kOk, kInvalidArgument (a configuration the arch refuses) or kCudaError
// (the runtime or the emulator reported an error); launch_error_message() has the text.
#pragma once
#include <cstddef>
#include <string>
#include <tuple>
#include <utility>

#include "cuda/common/launch_error.h"
#include "cuda/common/prelude.cuh"
#include "qkern/status.h"

namespace qkern {
// The emulated arch is part of the launch (limits, messages): one copy per arch namespace.
inline namespace QKERN_ARCH_NAMESPACE {

struct LaunchConfig {
  const char* name;         // kernel name for messages
  dim3 grid;
  dim3 block;
  size_t smem = 0;          // dynamic shared memory, bytes
  cudaStream_t stream = nullptr;
};

template <class... Params, class... Args>
Status launch(const LaunchConfig& c, void (*kernel)(Params...), Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: wrong number of kernel arguments");
  launch_error_message().clear();
#if defined(QKERN_SIM)
  // Arguments are converted to the parameter types once, as cudaLaunchKernelEx does; each
  // emulated thread then receives its own copies.
  std::tuple<Params...> params(std::forward<Args>(args)...);
  struct Call {
    void (*kernel)(Params...);
    std::tuple<Params...>* params;
  } call{kernel, &params};
  auto body = [](void* p) {
    Call* c = static_cast<Call*>(p);
    std::apply(c->kernel, *c->params);
  };
  Status s = sim::launch(sim::LaunchSpec{c.name, QKERN_ARCH, c.grid, c.block, c.smem}, body, &call);
  if (s != Status::kOk) launch_error_message() = sim::last_error();
  return s;
#else
  auto fail = [&](cudaError_t e, const char* what) {
    launch_error_message() = std::string(what) + " of kernel '" + c.name + "': " + cudaGetErrorString(e);
    return Status::kCudaError;
  };
  if (c.smem > 48 * 1024) {
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(c.smem));
    if (e != cudaSuccess) return fail(e, "setting the shared memory size");
  }
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = c.grid;
  cfg.blockDim = c.block;
  cfg.dynamicSmemBytes = c.smem;
  cfg.stream = c.stream;
  cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
  if (e != cudaSuccess) return fail(e, "launch");
  return Status::kOk;
#endif
}

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern
