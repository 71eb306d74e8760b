// Drivers of the CPU quantize/dequantize kernels: they validate the params, split the
// work over the thread pool and call the inner loops of the active instruction-set level
// (row_kernels.h; quantize_blocks applies the shared scale rules of qkern/recipes.h).
#include "formats/quantize.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/cpu_features.h"
#include "common/parallel.h"
#include "formats/row_kernels.h"

namespace qkern {

const RowKernels& active_row_kernels() {
  return pick_kernels<RowKernels>(row_kernels_scalar, QKERN_IF_AVX2(row_kernels_avx2),
                                  QKERN_IF_AVX512(row_kernels_avx512));
}

namespace {

template <class T>
T* at(void* base, int64_t i) { return static_cast<T*>(base) + i; }
template <class T>
const T* at(const void* base, int64_t i) { return static_cast<const T*>(base) + i; }

// fp32 value of every code of an 8-bit scale format (E8M0, E4M3), built once from the
// codecs: dequantize decodes one scale per 16 or 32 elements, a table read is cheaper
// than the codec's branches.
template <class Decode>
const float* scale_code_table(Decode decode) {
  static const std::array<float, 256> table = [&] {
    std::array<float, 256> t{};
    for (int c = 0; c < 256; ++c) t[size_t(c)] = decode(uint8_t(c));
    return t;
  }();
  return table.data();
}

// fp32 scales (and INT4 zero points) of blocks b0 .. b0+nb-1, as the decoders take them.
// NVFP4 folds the global decode scale d into each block scale: s_b * d, the reference's
// order of operations.
void block_scales(const DequantizeParams& p, int64_t b0, int64_t nb, float d, float* scale,
                  float* zero) {
  switch (p.fmt.kind) {
    case FormatKind::kInt4:
      for (int64_t j = 0; j < nb; ++j) scale[j] = load_one(p.scale, p.scale_dtype, b0 + j);
      for (int64_t j = 0; j < nb; ++j) zero[j] = has_zero_point(p.fmt) ? float(p.zero[b0 + j]) : 8.0f;
      break;
    case FormatKind::kMxfp4: {
      const float* table = scale_code_table([](uint8_t c) { return e8m0_to_f32(c); });
      for (int64_t j = 0; j < nb; ++j) scale[j] = table[*at<uint8_t>(p.scale, b0 + j)];
      break;
    }
    case FormatKind::kNvfp4: {
      const float* table = scale_code_table([](uint8_t c) { return e4m3_to_f32(c); });
      for (int64_t j = 0; j < nb; ++j) scale[j] = table[*at<uint8_t>(p.scale, b0 + j)] * d;
      break;
    }
    case FormatKind::kInt8:
    case FormatKind::kFp8:
      for (int64_t j = 0; j < nb; ++j) scale[j] = *at<float>(p.scale, b0 + j);
      break;
  }
}

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

BlockOutputs block_outputs(const QuantizeParams& p, int64_t b0) {
  return {static_cast<char*>(p.qdata) + code_bytes(p.fmt.kind, b0 * p.fmt.block),
          static_cast<char*>(p.scale) + b0 * scale_bytes(p.fmt, p.scale_dtype), p.scale_dtype,
          p.zero ? p.zero + b0 : nullptr};
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
  // Blocks go to quantize_blocks in runs of about 4K elements (f16/bf16 input is widened
  // a run at a time into a buffer that stays in L1).
  const int64_t run = std::max<int64_t>(1, 4096 / block);
  // Grain: about 16K elements per task.
  parallel_for(blocks, std::max<int64_t>(1, 16384 / block), [&](int64_t b0, int64_t b1) {
    thread_local std::vector<float> buf;  // a run of f16/bf16 input, widened
    for (int64_t r0 = b0; r0 < b1; r0 += run) {
      const int64_t nb = std::min(run, b1 - r0), first = r0 * block;
      // fp32 input is read in place
      const float* x = static_cast<const float*>(p.x) + first;
      if (p.x_dtype != DType::kF32) {
        buf.resize(size_t(nb * block));
        k.load_f32(static_cast<const char*>(p.x) + first * xsize, p.x_dtype, nb * block, buf.data());
        x = buf.data();
      }
      k.quantize_blocks(f, d, x, nb, block_outputs(p, r0));
    }
  });
  return Status::kOk;
}

Status dequantize_cpu(const DequantizeParams& p) {
  const FormatSpec& f = p.fmt;
  if (Status s = check_params(p); s != Status::kOk) return s;
  if (p.rows == 0 || p.cols == 0) return Status::kOk;
  const RowKernels& k = active_row_kernels();
  const float d = is_two_level(f) ? p.global_scale[0] : 1.0f;

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
      block_scales(p, b0, nb, d, scale.data(), zero.data());
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
