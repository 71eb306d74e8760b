// CUDA W4A16 launcher (host declaration; the kernels are in w4a16.cu). Pointers are device
// pointers (host pointers in the emulator build); the work is enqueued on `stream`.
#pragma once
#include <driver_types.h>  // cudaStream_t

#include "qkern/gemm.h"
#include "qkern/status.h"

namespace qkern {

// y = x W^T (+ bias) with a weight in the CUDA layout kW4CudaLayoutTag (qkern/gemm.h):
// p.packed, p.scale (f32, decoded, NVFP4 global scale folded in), p.zero (INT4 asymmetric,
// permuted) or null; p.global_scale and p.perm must be null. p.workspace holds
// splits * m * round_up(n, kW4CudaAlignN) floats. Returns kInvalidArgument for requests
// the kernel does not take (x not f16/bf16, k % 16 != 0, misaligned x, ...).
Status w4a16_cuda(const W4A16Params& p, int splits, cudaStream_t stream);

}  // namespace qkern
