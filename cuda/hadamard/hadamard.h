// CUDA Walsh-Hadamard rotation and its fused quantize variant (host declarations; kernels
// in hadamard.cu). Same params structs as the CPU kernels (qkern/hadamard.h); pointers
// are device pointers (host pointers in the emulator build), work is enqueued on `stream`.
// Return kInvalidArgument for a request check_params rejects; any other failure is
// kCudaError with launch_error_message() set.
#pragma once
#include <driver_types.h>  // cudaStream_t

#include "qkern/hadamard.h"
#include "qkern/status.h"

namespace qkern {

// A CTA rotates its rows in fp32 in shared memory when a row fits in 96 KiB (n <= 24576,
// every arch); longer rows use a global fp32 workspace of workspace_rows x n floats, one
// row per CTA. Returns the workspace_rows the launchers need for `rows` rows of n
// elements: 0 when shared memory suffices, else min(rows, max(1, 2^24 / n)) (<= 64 MiB).
int64_t hadamard_cuda_workspace_rows(int64_t rows, int64_t n);

// workspace: null, or workspace_rows x n fp32 (a non-null workspace is used even when
// shared memory would suffice: the tests exercise that path on small rows).
// hadamard_cuda writes out in out_dtype == x_dtype.
Status hadamard_cuda(const HadamardParams& p, float* workspace, int64_t workspace_rows, cudaStream_t stream);
Status hadamard_quantize_cuda(const HadamardQuantizeParams& p, float* workspace, int64_t workspace_rows,
                              cudaStream_t stream);

}  // namespace qkern
