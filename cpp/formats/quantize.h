// CPU quantize / dequantize for every format of qkern/formats.h.
#pragma once
#include "formats/row_kernels.h"
#include "qkern/formats.h"
#include "qkern/status.h"

namespace qkern {

// Checks the cheap invariants of the params (the Python layer has validated shapes,
// dtypes and devices already) and runs the best kernel for the active ISA.
Status quantize_cpu(const QuantizeParams& p);
Status dequantize_cpu(const DequantizeParams& p);

// Building blocks of quantize_cpu, shared with fused producers (hadamard_quantize): the
// row kernels of the active ISA level, and the quantization of one block of f.block fp32
// values x (already loaded) into block b of p's outputs (codes at element b * block, zero at b, scale at scale_index, which is
// b in the canonical layout). d is the NVFP4 two-level decode scale (unused otherwise).
const RowKernels& active_row_kernels();
void quantize_block(const RowKernels& k, const QuantizeParams& p, float d, const float* x, int64_t b,
                    int64_t scale_index);

}  // namespace qkern
