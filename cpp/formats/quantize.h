// CPU quantize / dequantize for every format of qkern/formats.h.
#pragma once
#include "qkern/formats.h"
#include "qkern/status.h"

namespace qkern {

// Checks the cheap invariants of the params (the Python layer has validated shapes,
// dtypes and devices already) and runs the best kernel for the active ISA.
Status quantize_cpu(const QuantizeParams& p);
Status dequantize_cpu(const DequantizeParams& p);

}  // namespace qkern
