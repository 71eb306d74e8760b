// Drivers of the CPU Hadamard rotation and of its fused quantize variant: they validate
// the params, split rows over the thread pool and run the per-row pipeline
//
//     load (dtype -> fp32, * signs) -> FWHT of each of the K sub-rows -> K x K mix (* scale)
//
// with the inner loops of the active ISA level (hadamard.h). For K = 1 the FWHT applies the
// scale in its last pass; for an fp32 output the row is rotated in the output memory
// itself, other dtypes go through a per-thread scratch row.
//
// hadamard_quantize quantizes each rotated fp32 row with the quantize_blocks row kernel
// (formats/row_kernels.h) while the row is in cache. NVFP4 with a global scale needs the
// amax of the whole rotated tensor before the first block scale: it makes two passes, the
// first rotating each row to take its finite amax (per-row maxima, reduced in order, so
// the result does not depend on threading), the second quantizing. When the caller gives
// a workspace for the whole tensor (up to kKeepRotatedMaxBytes, so it stays in L2/L3),
// pass 1 keeps the rotated rows there; otherwise pass 2 rotates every row again (one more
// transform, no fp32 copy of the tensor; the CUDA kernel does this, with an atomic max
// over the rows in the first pass).
#include "hadamard/hadamard.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/cpu_features.h"
#include "common/parallel.h"
#include "formats/quantize.h"
#include "qkern/recipes.h"

namespace qkern {
namespace {

const HadamardRowKernels& row_kernels() {
  return pick_kernels<HadamardRowKernels>(hadamard_row_kernels_scalar,
                                          QKERN_IF_AVX2(hadamard_row_kernels_avx2),
                                          QKERN_IF_AVX512(hadamard_row_kernels_avx512));
}

// Per-thread scratch, 64-byte aligned, grown on demand and kept: two fp32 rows, the mix's
// work area (prepared for p's codes: one plan per task) and room for one byte per element
// (a row's block scales before the swizzle).
struct Scratch {
  float* a;
  float* b;
  float* mix;
  uint8_t* scales;
};

Scratch thread_scratch(const HadamardRowKernels& rk, const HadamardParams& p) {
  const HadamardSize& size = p.size;
  constexpr int64_t kAlignFloats = 16;  // 64 bytes
  const auto aligned = [](int64_t floats) { return (floats + kAlignFloats - 1) / kAlignFloats * kAlignFloats; };
  const int64_t row = aligned(size.n()), mix = aligned(mix_work_floats(size.k));
  thread_local std::vector<float> buf;
  const int64_t scales = aligned(size.n() / 4);
  const int64_t total = 2 * row + mix + scales + kAlignFloats;
  if (int64_t(buf.size()) < total) buf.resize(size_t(total));
  const uintptr_t addr = reinterpret_cast<uintptr_t>(buf.data());
  float* base = reinterpret_cast<float*>((addr + 63) & ~uintptr_t(63));
  if (size.k > 1) rk.mix_plan(p.mix_codes, size.k, size.m(), base + 2 * row);
  return {base, base + row, base + 2 * row, reinterpret_cast<uint8_t*>(base + 2 * row + mix)};
}

// Rows per task: about 16K elements.
int64_t row_grain(int64_t n) { return std::max<int64_t>(1, 16384 / n); }

// Rotates row r of p.x into `dst` (n fp32, scaled; may be the output row, which may be the
// input row itself), using s.a and s.mix. Output signs (signs_after) are not applied.
void rotate_row(const HadamardRowKernels& rk, const HadamardParams& p, int64_t r, float* dst,
                const Scratch& s) {
  const int xsize = dtype_size(p.x_dtype);
  const char* x = static_cast<const char*>(p.x) + r * p.x_row_stride * xsize;
  const float* signs_in = p.signs_after ? nullptr : p.signs;
  const int k = p.size.k, log2_m = p.size.log2_m;
  const int64_t m = p.size.m();
  if (k == 1) {
    rk.fwht(x, p.x_dtype, signs_in, log2_m, p.scale, dst);
    return;
  }
  for (int a = 0; a < k; ++a)
    rk.fwht(x + a * m * xsize, p.x_dtype, signs_in ? signs_in + a * m : nullptr, log2_m, 1.0f,
            s.a + a * m);
  rk.mix(p.mix_codes, k, s.a, m, p.scale, dst, s.mix);
}

}  // namespace

Status hadamard_cpu(const HadamardParams& p) {
  if (Status s = check_params(p, true); s != Status::kOk) return s;
  const HadamardRowKernels& rk = row_kernels();
  const int64_t n = p.size.n();
  const float* signs_out = p.signs_after ? p.signs : nullptr;
  const bool direct = p.out_dtype == DType::kF32;  // rotate in the output row itself
  parallel_for(p.rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    const Scratch s = thread_scratch(rk, p);
    for (int64_t r = r0; r < r1; ++r) {
      void* out = static_cast<char*>(p.out) + r * p.out_row_stride * dtype_size(p.out_dtype);
      float* dst = direct ? static_cast<float*>(out) : s.b;
      rotate_row(rk, p, r, dst, s);
      if (!direct || signs_out) rk.store(dst, signs_out, n, out, p.out_dtype);
    }
  });
  return Status::kOk;
}

int64_t hadamard_quantize_workspace_rows_cpu(bool two_level, int64_t rows, int64_t n) {
  return two_level && rows * n * int64_t(sizeof(float)) <= kKeepRotatedMaxBytes ? rows : 0;
}

Status hadamard_quantize_cpu(const HadamardQuantizeParams& p, float* workspace, int64_t workspace_rows) {
  const HadamardParams& h = p.h;
  const QuantizeParams& q = p.q;
  const FormatSpec& f = q.fmt;
  if (Status s = check_params(p); s != Status::kOk) return s;
  const int64_t n = h.size.n();
  const bool two_level = is_two_level(f);
  if (h.rows == 0) return Status::kOk;

  const HadamardRowKernels& rk = row_kernels();
  const RowKernels& k = active_row_kernels();
  const int64_t grain = row_grain(n);

  // pass 1 (NVFP4 two-level without a static scale): the amax of the rotated tensor
  const bool amax_pass = two_level && !p.static_global_scale;
  // rotated rows kept by pass 1 (when given a workspace), else null
  float* kept = amax_pass && workspace && workspace_rows >= h.rows ? workspace : nullptr;
  float d = p.static_global_scale ? q.global_scale[0] : 1.0f;  // or set by pass 1
  if (amax_pass) {
    std::vector<float> row_amax(size_t(h.rows));
    parallel_for(h.rows, grain, [&](int64_t r0, int64_t r1) {
      const Scratch s = thread_scratch(rk, h);
      for (int64_t r = r0; r < r1; ++r) {
        float* row = kept ? kept + r * n : s.b;
        rotate_row(rk, h, r, row, s);
        row_amax[size_t(r)] = k.finite_amax(row, DType::kF32, n);
      }
    });
    d = nvfp4_global_scale(*std::max_element(row_amax.begin(), row_amax.end()));
    q.global_scale[0] = d;
  }

  const int64_t blocks_per_row = n / f.block;
  parallel_for(h.rows, grain, [&](int64_t r0, int64_t r1) {
    const Scratch s = thread_scratch(rk, h);
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = kept ? kept + r * n : s.b;
      if (!kept) rotate_row(rk, h, r, s.b, s);
      BlockOutputs out = block_outputs(q, r * blocks_per_row);
      if (!p.swizzled_scales) {
        k.quantize_blocks(f, d, row, blocks_per_row, out);
        continue;
      }
      out.scale = s.scales;  // MXFP4/NVFP4: one byte per block, then scattered
      k.quantize_blocks(f, d, row, blocks_per_row, out);
      for (int64_t j = 0; j < blocks_per_row; ++j)
        static_cast<uint8_t*>(q.scale)[swizzled_scale_offset(r, j, blocks_per_row)] = s.scales[j];
    }
  });
  return Status::kOk;
}

}  // namespace qkern
