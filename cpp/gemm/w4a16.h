// CPU W4A16 linear layer: prepack (canonical -> kernel layout) and the matmul driver.
// Layouts, params and heuristics in qkern/gemm.h.
#pragma once
#include <cstdint>

#include "qkern/gemm.h"
#include "qkern/status.h"

namespace qkern {

// Check the cheap invariants (Python has validated shapes, dtypes and devices) and run.
Status w4a16_prepack_cpu(const W4PrepackParams& p);
Status w4a16_linear_cpu(const W4A16Params& p);

// Test hook: n scales (any n) of a weight in format `fmt` with scale dtype
// `scale_dtype`, decoded to fp32 by the active level's kernel (global scale d applied).
// NVFP4 codes go through the layout's unsigned encoding first and get their sign back
// after the decode (the value the kernels apply, with the sign they take from the codes).
Status w4a16_decode_scales_cpu(const FormatSpec& fmt, DType scale_dtype, float global_scale,
                               const void* codes, int64_t n, float* out);

}  // namespace qkern
