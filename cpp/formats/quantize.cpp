// Drivers of the CPU quantize/dequantize kernels: they validate the params, split the
// work over the thread pool, apply the shared scale rules (qkern/recipes.h) per block and
// call the inner loops of the active instruction-set level (row_kernels.h).
#include "formats/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/cpu_features.h"
#include "common/parallel.h"
#include "formats/row_kernels.h"

namespace qkern {

const RowKernels& active_row_kernels() {
  return pick_kernels<RowKernels>(row_kernels_scalar, QKERN_IF_AVX2(row_kernels_avx2), nullptr);
}

namespace {

// Elements of the row-major [rows, cols] view -> bytes of its quantized codes.
int64_t code_bytes(FormatKind k, int64_t elements) { return is_4bit(k) ? elements / 2 : elements; }

template <class T>
T* at(void* base, int64_t i) { return static_cast<T*>(base) + i; }
template <class T>
const T* at(const void* base, int64_t i) { return static_cast<const T*>(base) + i; }

float global_finite_amax(const RowKernels& k, const void* x, DType t, int64_t n) {
  constexpr int64_t kChunk = 1 << 16;
  int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<float> partial(size_t(chunks), 0.0f);
  const char* base = static_cast<const char*>(x);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      int64_t begin = c * kChunk, len = std::min(kChunk, n - begin);
      partial[size_t(c)] = k.finite_amax(base + begin * dtype_size(t), t, len);
    }
  });
  return *std::max_element(partial.begin(), partial.end());
}

}  // namespace

void quantize_block(const RowKernels& k, const QuantizeParams& p, float d, const float* x, int64_t b,
                    int64_t scale_index) {
  const FormatSpec& f = p.fmt;
  const int64_t block = f.block;
  const BlockStats st = k.block_stats(x, block);
  void* q = static_cast<char*>(p.qdata) + code_bytes(f.kind, b * block);
  if (!st.finite) std::memset(q, 0, size_t(code_bytes(f.kind, block)));
  switch (f.kind) {
    case FormatKind::kInt4: {
      Int4Params ip = f.symmetric ? int4_sym_params(st.amax, p.scale_dtype)
                                  : int4_asym_params(st.lo, st.hi, p.scale_dtype);
      if (!st.finite) ip = {NAN, 0.0f};
      store_one(p.scale, p.scale_dtype, scale_index, ip.scale);
      if (!f.symmetric) p.zero[b] = uint8_t(ip.zero);
      if (st.finite) k.encode_int4(x, block, ip, static_cast<uint8_t*>(q));
      break;
    }
    case FormatKind::kMxfp4: {
      uint8_t code = !st.finite ? kE8m0Nan : f.rceil ? mx_scale_rceil(st.amax)
                                                     : mx_scale_floor(st.amax);
      *at<uint8_t>(p.scale, scale_index) = code;
      if (st.finite) k.encode_e2m1(x, block, mx_element_factor(code), static_cast<uint8_t*>(q));
      break;
    }
    case FormatKind::kNvfp4: {
      Nvfp4BlockParams np = f.global_scale ? nvfp4_block_params(st.amax, d)
                                           : nvfp4_block_params_single(st.amax);
      *at<uint8_t>(p.scale, scale_index) = st.finite ? np.scale : kE4m3Nan;
      if (st.finite) k.encode_e2m1(x, block, np.factor, static_cast<uint8_t*>(q));
      break;
    }
    case FormatKind::kInt8: {
      float s = st.finite ? int8_row_scale(st.amax) : NAN;
      *at<float>(p.scale, scale_index) = s;
      if (st.finite) k.encode_int8(x, block, s, static_cast<int8_t*>(q));
      break;
    }
    case FormatKind::kFp8: {
      float s = st.finite ? fp8_row_scale(st.amax) : NAN;
      *at<float>(p.scale, scale_index) = s;
      if (st.finite) k.encode_fp8(x, block, s, static_cast<uint8_t*>(q));
      break;
    }
  }
}

Status quantize_cpu(const QuantizeParams& p) {
  const FormatSpec& f = p.fmt;
  if (Status s = check_params(p); s != Status::kOk) return s;
  if (p.rows == 0 || p.cols == 0) return Status::kOk;
  const RowKernels& k = active_row_kernels();
  const bool two_level = is_two_level(f);

  const float d = two_level
      ? nvfp4_global_scale(global_finite_amax(k, p.x, p.x_dtype, p.rows * p.cols))
      : 1.0f;
  if (two_level) p.global_scale[0] = d;

  const int64_t block = f.block, blocks = p.rows * p.cols / block;
  const int xsize = dtype_size(p.x_dtype);
  // Grain: about 16K elements per task.
  parallel_for(blocks, std::max<int64_t>(1, 16384 / block), [&](int64_t b0, int64_t b1) {
    thread_local std::vector<float> buf;
    buf.resize(size_t(block));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t first = b * block;  // first element of the block in the flat view
      k.load_f32(static_cast<const char*>(p.x) + first * xsize, p.x_dtype, block, buf.data());
      quantize_block(k, p, d, buf.data(), b, b);
    }
  });
  return Status::kOk;
}

Status dequantize_cpu(const DequantizeParams& p) {
  const FormatSpec& f = p.fmt;
  if (Status s = check_params(p); s != Status::kOk) return s;
  if (p.rows == 0 || p.cols == 0) return Status::kOk;
  const RowKernels& k = active_row_kernels();
  const bool two_level = is_two_level(f);
  const bool has_zero = has_zero_point(f);
  const float d = two_level ? p.global_scale[0] : 1.0f;

  // Work items are segments of a row, a whole number of blocks of about 16K elements,
  // so that a single long row still spreads over the threads.
  const int64_t block = f.block;
  const int64_t seg = std::max<int64_t>(block, (16384 / block) * block);
  const int64_t segs_per_row = (p.cols + seg - 1) / seg;
  const int64_t blocks_per_row = p.cols / block;
  const int osize = dtype_size(p.out_dtype);

  parallel_for(p.rows * segs_per_row, 1, [&](int64_t i0, int64_t i1) {
    thread_local std::vector<float> scale, zero;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t row = i / segs_per_row, col = (i % segs_per_row) * seg;
      const int64_t n = std::min(seg, p.cols - col), nb = n / block;
      const int64_t first = row * p.cols + col, b0 = row * blocks_per_row + col / block;
      const void* q = static_cast<const char*>(p.qdata) + code_bytes(f.kind, first);
      void* out = static_cast<char*>(p.out) + first * osize;
      scale.resize(size_t(nb));
      zero.resize(size_t(nb));
      for (int64_t j = 0; j < nb; ++j) {
        switch (f.kind) {
          case FormatKind::kInt4:
            scale[j] = load_one(p.scale, p.scale_dtype, b0 + j);
            zero[j] = has_zero ? float(p.zero[b0 + j]) : 8.0f;
            break;
          case FormatKind::kMxfp4: scale[j] = e8m0_to_f32(*at<uint8_t>(p.scale, b0 + j)); break;
          case FormatKind::kNvfp4: scale[j] = e4m3_to_f32(*at<uint8_t>(p.scale, b0 + j)) * d; break;
          case FormatKind::kInt8:
          case FormatKind::kFp8: scale[j] = *at<float>(p.scale, b0 + j); break;
        }
      }
      switch (f.kind) {
        case FormatKind::kInt4:
          k.decode_int4_row(static_cast<const uint8_t*>(q), n, int(block), scale.data(), zero.data(),
                            out, p.out_dtype);
          break;
        case FormatKind::kMxfp4:
        case FormatKind::kNvfp4:
          k.decode_e2m1_row(static_cast<const uint8_t*>(q), n, int(block), scale.data(), out,
                            p.out_dtype);
          break;
        case FormatKind::kInt8:
          k.decode_int8_row(static_cast<const int8_t*>(q), n, scale[0], out, p.out_dtype);
          break;
        case FormatKind::kFp8:
          k.decode_fp8_row(static_cast<const uint8_t*>(q), n, scale[0], out, p.out_dtype);
          break;
      }
    }
  });
  return Status::kOk;
}

}  // namespace qkern
