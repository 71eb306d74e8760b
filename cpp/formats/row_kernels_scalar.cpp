// Portable reference loops of RowKernels: plain C++ over the shared codecs. They define
// the bytes every faster table must reproduce.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "formats/row_kernels.h"

namespace qkern {
namespace {

void load_f32(const void* src, DType t, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = load_one(src, t, i);
}

BlockStats block_stats(const float* x, int64_t n) {
  BlockStats s{0.0f, x[0], x[0], true};
  for (int64_t i = 0; i < n; ++i) {
    s.finite = s.finite && is_finite_f32(x[i]);
    s.amax = fmaxf(s.amax, fabsf(x[i]));
    s.lo = fminf(s.lo, x[i]);
    s.hi = fmaxf(s.hi, x[i]);
  }
  return s;
}

float finite_amax(const void* src, DType t, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    float v = load_one(src, t, i);
    if (is_finite_f32(v)) m = fmaxf(m, fabsf(v));
  }
  return m;
}

void encode_int4(const float* x, int64_t n, Int4Params p, uint8_t* q) {
  for (int64_t i = 0; i < n; i += 2)
    q[i / 2] = uint8_t(int4_encode(x[i], p) | (int4_encode(x[i + 1], p) << 4));
}

void encode_e2m1(const float* x, int64_t n, float factor, uint8_t* q) {
  for (int64_t i = 0; i < n; i += 2)
    q[i / 2] = uint8_t(f32_to_e2m1(x[i] * factor) | (f32_to_e2m1(x[i + 1] * factor) << 4));
}

void encode_int8(const float* x, int64_t n, float scale, int8_t* q) {
  for (int64_t i = 0; i < n; ++i) q[i] = int8_encode(x[i], scale);
}

void encode_fp8(const float* x, int64_t n, float scale, uint8_t* q) {
  for (int64_t i = 0; i < n; ++i) q[i] = fp8_encode(x[i], scale);
}

void quantize_blocks(const FormatSpec& f, float d, const float* x, int64_t nb, const BlockOutputs& out) {
  quantize_blocks_with(row_kernels_scalar(), f, d, x, 0, nb, out);
}

void decode_int4_row(const uint8_t* q, int64_t n, int block, const float* scale, const float* zero,
                     void* out, DType t) {
  for (int64_t i = 0; i < n; ++i) {
    uint8_t code = (q[i / 2] >> (4 * (i & 1))) & 0xF;
    store_one(out, t, i, int4_decode(code, scale[i / block], zero[i / block]));
  }
}

void decode_e2m1_row(const uint8_t* q, int64_t n, int block, const float* scale, void* out,
                     DType t) {
  for (int64_t i = 0; i < n; ++i) {
    uint8_t code = (q[i / 2] >> (4 * (i & 1))) & 0xF;
    store_one(out, t, i, e2m1_to_f32(code) * scale[i / block]);
  }
}

void decode_int8_row(const int8_t* q, int64_t n, float scale, void* out, DType t) {
  for (int64_t i = 0; i < n; ++i) store_one(out, t, i, float(q[i]) * scale);
}

void decode_fp8_row(const uint8_t* q, int64_t n, float scale, void* out, DType t) {
  for (int64_t i = 0; i < n; ++i) store_one(out, t, i, e4m3_to_f32(q[i]) * scale);
}

// What the encoder of one block takes: INT4 {scale, zero}; MXFP4/NVFP4 {factor, -};
// INT8/FP8 {scale, -}.
struct EncodeArgs {
  float a, b;
};

// The scale rules of recipes.h for nb blocks (statistics in st): writes their scales (and
// INT4 zero points) to out and their encoder arguments to args. Non-finite blocks get the
// NaN scale of their format; their args are not used.
void apply_scale_rules(const FormatSpec& f, float d, int64_t nb, const BlockStats* st, const BlockOutputs& out,
                       EncodeArgs* args) {
  switch (f.kind) {
    case FormatKind::kInt4:
      for (int64_t j = 0; j < nb; ++j) {
        Int4Params ip = f.symmetric ? int4_sym_params(st[j].amax, out.scale_dtype)
                                    : int4_asym_params(st[j].lo, st[j].hi, out.scale_dtype);
        if (!st[j].finite) ip = {NAN, 0.0f};
        store_one(out.scale, out.scale_dtype, j, ip.scale);
        if (!f.symmetric) out.zero[j] = uint8_t(ip.zero);
        args[j] = {ip.scale, ip.zero};
      }
      break;
    case FormatKind::kMxfp4:
      for (int64_t j = 0; j < nb; ++j) {
        const uint8_t code = !st[j].finite ? kE8m0Nan
                             : f.rceil    ? mx_scale_rceil(st[j].amax)
                                          : mx_scale_floor(st[j].amax);
        static_cast<uint8_t*>(out.scale)[j] = code;
        args[j] = {mx_element_factor(code), 0.0f};
      }
      break;
    case FormatKind::kNvfp4:
      for (int64_t j = 0; j < nb; ++j) {
        const Nvfp4BlockParams np = f.global_scale ? nvfp4_block_params(st[j].amax, d)
                                                   : nvfp4_block_params_single(st[j].amax);
        static_cast<uint8_t*>(out.scale)[j] = st[j].finite ? np.scale : kE4m3Nan;
        args[j] = {np.factor, 0.0f};
      }
      break;
    case FormatKind::kInt8:
    case FormatKind::kFp8:
      for (int64_t j = 0; j < nb; ++j) {
        const float s = !st[j].finite                 ? NAN
                        : f.kind == FormatKind::kInt8 ? int8_row_scale(st[j].amax)
                                                      : fp8_row_scale(st[j].amax);
        static_cast<float*>(out.scale)[j] = s;
        args[j] = {s, 0.0f};
      }
      break;
  }
}

// Codes of nb blocks of x into q; non-finite blocks get all-zero codes.
void encode_blocks(const RowKernels& k, const FormatSpec& f, const float* x, int64_t nb, const BlockStats* st,
                   const EncodeArgs* args, void* q) {
  const int64_t block = f.block, bytes = code_bytes(f.kind, block);
  for (int64_t j = 0; j < nb; ++j) {
    const float* xj = x + j * block;
    void* qj = static_cast<char*>(q) + j * bytes;
    if (!st[j].finite) {
      std::memset(qj, 0, size_t(bytes));
      continue;
    }
    switch (f.kind) {
      case FormatKind::kInt4:
        k.encode_int4(xj, block, Int4Params{args[j].a, args[j].b}, static_cast<uint8_t*>(qj));
        break;
      case FormatKind::kMxfp4:
      case FormatKind::kNvfp4: k.encode_e2m1(xj, block, args[j].a, static_cast<uint8_t*>(qj)); break;
      case FormatKind::kInt8: k.encode_int8(xj, block, args[j].a, static_cast<int8_t*>(qj)); break;
      case FormatKind::kFp8: k.encode_fp8(xj, block, args[j].a, static_cast<uint8_t*>(qj)); break;
    }
  }
}

}  // namespace

// Runs of up to kRun blocks, phase by phase: the statistics of every block, then their
// scale rules, then their encoding. The scale rules are short scalar chains (divisions,
// E4M3 round trips) that would otherwise sit between two blocks' vector work on the
// critical path; in a loop of their own, those of different blocks overlap.
void quantize_blocks_with(const RowKernels& k, const FormatSpec& f, float d, const float* x, int64_t j0,
                          int64_t j1, const BlockOutputs& out) {
  constexpr int64_t kRun = 64;
  BlockStats st[kRun];
  EncodeArgs args[kRun];
  const int64_t block = f.block;
  const int sbytes = scale_bytes(f, out.scale_dtype);
  for (; j0 < j1; j0 += kRun) {
    const int64_t n = std::min(kRun, j1 - j0);
    const float* xr = x + j0 * block;
    for (int64_t j = 0; j < n; ++j) st[j] = k.block_stats(xr + j * block, block);
    const BlockOutputs o{static_cast<char*>(out.codes) + code_bytes(f.kind, j0 * block),
                         static_cast<char*>(out.scale) + j0 * sbytes, out.scale_dtype,
                         out.zero ? out.zero + j0 : nullptr};
    apply_scale_rules(f, d, n, st, o, args);
    encode_blocks(k, f, xr, n, st, args, o.codes);
  }
}

const RowKernels& row_kernels_scalar() {
  static const RowKernels k{load_f32,        block_stats,     finite_amax,     encode_int4,
                            encode_e2m1,     encode_int8,     encode_fp8,      quantize_blocks,
                            decode_int4_row, decode_e2m1_row, decode_int8_row, decode_fp8_row};
  return k;
}

}  // namespace qkern
