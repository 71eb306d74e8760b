// CUDA quantize / dequantize launchers (host declarations; the kernels are in
// quantize.cu and dequantize.cu). Same params structs as the CPU kernels; pointers are
// device pointers (host pointers in the emulator build) and the work is enqueued on
// `stream`. Return kInvalidArgument for a request check_params rejects; any other failure
// is kCudaError with launch_error_message() set.
#pragma once
#include <driver_types.h>  // cudaStream_t

#include "qkern/formats.h"
#include "qkern/status.h"

namespace qkern {

// Writes qdata, scale (and zero, and for two-level NVFP4 the decode scale d into
// global_scale[0], which also serves as the amax accumulator while the launch runs).
Status quantize_cuda(const QuantizeParams& p, cudaStream_t stream);
Status dequantize_cuda(const DequantizeParams& p, cudaStream_t stream);

// NVFP4 two-level global scale by atomic max (quantize.cu, also used by cuda/hadamard):
// reset zeroes global_scale[0], kernels then atomicMax the fp32 bits of finite |x| into
// it, finalize turns that amax into the decode scale d = nvfp4_global_scale(amax).
Status nvfp4_amax_reset_cuda(float* global_scale, cudaStream_t stream);
Status nvfp4_amax_finalize_cuda(float* global_scale, cudaStream_t stream);

namespace cuda_formats {
// The format goes through the team-per-block kernel (scale blocks of 16..128 elements)
// rather than the per-row one.
bool uses_block_kernel(const FormatSpec& f);
}  // namespace cuda_formats

}  // namespace qkern
