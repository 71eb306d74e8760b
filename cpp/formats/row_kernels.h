// The inner loops of the CPU quantize/dequantize kernels, one table per instruction-set
// level. The driver (quantize.cpp) walks rows and runs of blocks and calls these; the
// shared scale rules of qkern/recipes.h are applied by quantize_blocks. Every
// implementation must produce exactly the bytes of the scalar one (tests run both).
#pragma once
#include <cstdint>

#include "qkern/dtype.h"
#include "qkern/elements.h"
#include "qkern/formats.h"
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

// Where quantize_blocks writes nb consecutive blocks, block j's outputs at index j:
// codes at codes + j * (block bytes: block/2 for 4-bit formats, block for INT8/FP8);
// scale[j] of the format's scale type (INT4: scale_dtype; MXFP4/NVFP4: one byte, the
// E8M0/E4M3 code; INT8/FP8: fp32); zero[j] (INT4 asymmetric only, else unused).
struct BlockOutputs {
  void* codes;
  void* scale;
  DType scale_dtype;
  uint8_t* zero;
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

  // nb consecutive blocks of f.block fp32 values x -> codes, scales (and zero points):
  // block statistics, the scale rules of recipes.h, the encoders above. Non-finite blocks
  // get their format's NaN scale and all-zero codes. d is the NVFP4 two-level decode
  // scale (unused otherwise). quantize_blocks_with (below) is the definition.
  void (*quantize_blocks)(const FormatSpec& f, float d, const float* x, int64_t nb,
                          const BlockOutputs& out);

  // Decoders, one row of n elements each, written in dtype t. `scale` (and `zero`) hold
  // one fp32 value per block of `block` elements; block divides n.
  void (*decode_int4_row)(const uint8_t* q, int64_t n, int block, const float* scale,
                          const float* zero, void* out, DType t);
  void (*decode_e2m1_row)(const uint8_t* q, int64_t n, int block, const float* scale, void* out,
                          DType t);
  void (*decode_int8_row)(const int8_t* q, int64_t n, float scale, void* out, DType t);
  void (*decode_fp8_row)(const uint8_t* q, int64_t n, float scale, void* out, DType t);
};

// The definition of quantize_blocks, composed from the block_stats and encoder entries of
// table k, for blocks j0 .. j1-1 of the run that starts at x and out (the scalar table's
// quantize_blocks is this with k = the scalar table, j0 = 0, j1 = nb).
void quantize_blocks_with(const RowKernels& k, const FormatSpec& f, float d, const float* x, int64_t j0,
                          int64_t j1, const BlockOutputs& out);

// Bytes of the codes of `elements` elements of format kind k.
QK_FORCEINLINE int64_t code_bytes(FormatKind k, int64_t elements) { return is_4bit(k) ? elements / 2 : elements; }

// Bytes of one stored block scale of format f (scale_dtype: INT4's).
QK_FORCEINLINE int scale_bytes(const FormatSpec& f, DType scale_dtype) {
  switch (f.kind) {
    case FormatKind::kInt4: return dtype_size(scale_dtype);
    case FormatKind::kMxfp4:
    case FormatKind::kNvfp4: return 1;
    default: return 4;
  }
}

const RowKernels& row_kernels_scalar();
#if defined(QKERN_BUILD_AVX2)
const RowKernels& row_kernels_avx2();
#endif
#if defined(QKERN_BUILD_AVX512)
const RowKernels& row_kernels_avx512();
#endif

}  // namespace qkern
