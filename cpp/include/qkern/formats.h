// Format descriptors and the params structs of the quantize / dequantize kernels, shared
// by the CPU and CUDA implementations. Filled once by the bindings, passed by value.
//
// Canonical layout of a quantized tensor x[rows, cols] (rows = all leading dims):
//   4-bit formats  qdata u8 [rows, cols/2]: element 2j in bits 3..0, 2j+1 in bits 7..4
//   8-bit formats  qdata [rows, cols] (i8 for INT8, E4M3 bytes for FP8)
//   scale          [rows, cols/block] in scale_dtype (INT4: f32/f16/bf16; INT8/FP8: f32;
//                  MXFP4: E8M0 bytes; NVFP4: E4M3 bytes)
//   zero           u8 [rows, cols/block], INT4 asymmetric only
//   global_scale   f32 [1], NVFP4 two-level only: the decode scale d
#pragma once
#include <cstdint>

#include "qkern/dtype.h"
#include "qkern/recipes.h"
#include "qkern/status.h"

namespace qkern {

enum class FormatKind : int {
  kInt4 = 0,
  kMxfp4 = 1,
  kNvfp4 = 2,
  kInt8 = 3,  // per-row, for activations
  kFp8 = 4,   // E4M3 per-row, for activations
};

struct FormatSpec {
  FormatKind kind;
  int block;          // elements per scale: INT4 group, 32, 16, or cols (per-row formats)
  bool symmetric;     // INT4: GPTQ symmetric (zero 8, no zero tensor) or asymmetric
  bool rceil;         // MXFP4: RCEIL scale rule instead of the OCP FLOOR rule
  bool global_scale;  // NVFP4: two-level scaling with an fp32 per-tensor decode scale
};

inline bool is_4bit(FormatKind k) {
  return k == FormatKind::kInt4 || k == FormatKind::kMxfp4 || k == FormatKind::kNvfp4;
}

struct QuantizeParams {
  FormatSpec fmt;
  int64_t rows, cols;  // x is [rows, cols], row-major and contiguous
  const void* x;
  DType x_dtype;       // f32, f16 or bf16
  void* qdata;
  void* scale;
  DType scale_dtype;
  uint8_t* zero;        // INT4 asymmetric, else null
  float* global_scale;  // NVFP4 two-level: written with d, else null
};

struct DequantizeParams {
  FormatSpec fmt;
  int64_t rows, cols;
  const void* qdata;
  const void* scale;
  DType scale_dtype;
  const uint8_t* zero;
  const float* global_scale;
  void* out;  // [rows, cols] in out_dtype (f32, f16 or bf16)
  DType out_dtype;
};

// Cheap invariants of a request, re-checked by every backend (CPU and CUDA) after the
// Python layer has validated shapes, dtypes and devices: kInvalidArgument when violated.
inline Status check_spec(const FormatSpec& f, int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0 || f.block <= 0) return Status::kInvalidArgument;
  if (rows == 0 || cols == 0) return Status::kOk;
  if (cols % f.block != 0) return Status::kInvalidArgument;
  if (is_4bit(f.kind) && f.block % 2 != 0) return Status::kInvalidArgument;
  switch (f.kind) {
    case FormatKind::kMxfp4: return f.block == kMxBlock ? Status::kOk : Status::kInvalidArgument;
    case FormatKind::kNvfp4: return f.block == kNvBlock ? Status::kOk : Status::kInvalidArgument;
    case FormatKind::kInt8:
    case FormatKind::kFp8: return f.block == cols ? Status::kOk : Status::kInvalidArgument;
    case FormatKind::kInt4: return Status::kOk;
  }
  return Status::kInvalidArgument;
}

inline bool has_zero_point(const FormatSpec& f) { return f.kind == FormatKind::kInt4 && !f.symmetric; }
inline bool is_two_level(const FormatSpec& f) { return f.kind == FormatKind::kNvfp4 && f.global_scale; }

inline Status check_params(const QuantizeParams& p) {
  if (Status s = check_spec(p.fmt, p.rows, p.cols); s != Status::kOk) return s;
  if (!is_float_dtype(p.x_dtype)) return Status::kInvalidArgument;
  if (is_two_level(p.fmt) && !p.global_scale) return Status::kInvalidArgument;
  if (has_zero_point(p.fmt) && !p.zero) return Status::kInvalidArgument;
  return Status::kOk;
}

inline Status check_params(const DequantizeParams& p) {
  if (Status s = check_spec(p.fmt, p.rows, p.cols); s != Status::kOk) return s;
  if (!is_float_dtype(p.out_dtype)) return Status::kInvalidArgument;
  if (is_two_level(p.fmt) && !p.global_scale) return Status::kInvalidArgument;
  if (has_zero_point(p.fmt) && !p.zero) return Status::kInvalidArgument;
  return Status::kOk;
}

}  // namespace qkern
