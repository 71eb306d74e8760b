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
// row kernels of the active ISA level (whose quantize_blocks quantizes runs of blocks of
// fp32 values already loaded), and the outputs of block b0 onwards of p in the canonical
// layout (blocks numbered row-major over the [rows, cols / block] scale grid).
const RowKernels& active_row_kernels();
BlockOutputs block_outputs(const QuantizeParams& p, int64_t b0);

}  // namespace qkern
