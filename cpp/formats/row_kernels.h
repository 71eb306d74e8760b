// The inner loops of the CPU quantize/dequantize kernels, one table per instruction-set
// level. The driver (quantize.cpp) walks rows and blocks, applies the shared scale rules
// of qkern/recipes.h and calls these; every implementation must produce exactly the bytes
// of the scalar one (tests run both).
#pragma once
#include <cstdint>

#include "qkern/dtype.h"
#include "qkern/elements.h"
#include "qkern/recipes.h"

namespace qkern {

// amax, lo and hi are defined for finite blocks only (the driver ignores them otherwise);
// a zero lo or hi may carry either sign.
struct BlockStats {
  float amax;   // max |x| over the block (+0 for an all-zero block)
  float lo;     // min x
  float hi;     // max x
  bool finite;  // no NaN or Inf in the block
};

struct RowKernels {
  // n elements of dtype t (f32/f16/bf16) -> fp32.
  void (*load_f32)(const void* src, DType t, int64_t n, float* dst);
  // Statistics of n fp32 values (n >= 1).
  BlockStats (*block_stats)(const float* x, int64_t n);
  // max |x| over the finite elements of n values of dtype t (NVFP4 global amax).
  float (*finite_amax)(const void* src, DType t, int64_t n);

  // Encoders, one block each. 4-bit encoders write n/2 bytes (n even), element 2j in
  // the low nibble.
  void (*encode_int4)(const float* x, int64_t n, Int4Params p, uint8_t* q);
  void (*encode_e2m1)(const float* x, int64_t n, float factor, uint8_t* q);
  void (*encode_int8)(const float* x, int64_t n, float scale, int8_t* q);
  void (*encode_fp8)(const float* x, int64_t n, float scale, uint8_t* q);

  // Decoders, one row of n elements each, written in dtype t. `scale` (and `zero`) hold
  // one fp32 value per block of `block` elements; block divides n.
  void (*decode_int4_row)(const uint8_t* q, int64_t n, int block, const float* scale,
                          const float* zero, void* out, DType t);
  void (*decode_e2m1_row)(const uint8_t* q, int64_t n, int block, const float* scale, void* out,
                          DType t);
  void (*decode_int8_row)(const int8_t* q, int64_t n, float scale, void* out, DType t);
  void (*decode_fp8_row)(const uint8_t* q, int64_t n, float scale, void* out, DType t);
};

const RowKernels& row_kernels_scalar();
#if defined(QKERN_BUILD_AVX2)
const RowKernels& row_kernels_avx2();
#endif

}  // namespace qkern
