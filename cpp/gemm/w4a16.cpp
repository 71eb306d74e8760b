// Driver of the CPU W4A16 linear layer: validates the params, converts x to fp32 in packed
// column order, follows the plan of qkern/gemm.h (GEMV for few rows, blocked GEMM above),
// splits the work over the thread pool and writes y (bias added in fp32, one rounding).
#include "gemm/w4a16.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/cpu_features.h"
#include "common/parallel.h"
#include "qkern/elements.h"
#include "gemm/w4a16_kernels.h"

namespace qkern {
namespace {

const W4Kernels& kernels() {
  return pick_kernels<W4Kernels>(w4_kernels_scalar, QKERN_IF_AVX2(w4_kernels_avx2),
                                 QKERN_IF_AVX512(w4_kernels_avx512));
}

// perm (null, or [k] column indices) stays inside the k columns it indexes.
bool perm_in_range(const int32_t* perm, int64_t k) {
  if (!perm) return true;
  for (int64_t i = 0; i < k; ++i)
    if (perm[i] < 0 || perm[i] >= k) return false;
  return true;
}

// The format spec fits an [n, k] weight (qkern/formats.h), is 4-bit with groups of whole
// tiles, and the scale dtype is the format's (INT4: a float dtype; MXFP4 / NVFP4: E8M0 /
// E4M3 codes as u8).
Status check_format(const FormatSpec& f, int64_t n, int64_t k, DType scale_dtype) {
  if (Status st = check_spec(f, n, k); st != Status::kOk) return st;
  if (!is_4bit(f.kind) || k <= 0 || w4_cpu_shape(n, k, f.block).group % kW4TileK != 0)
    return Status::kInvalidArgument;
  const bool scale_ok = f.kind == FormatKind::kInt4 ? is_float_dtype(scale_dtype)
                                                     : scale_dtype == DType::kU8;
  return scale_ok ? Status::kOk : Status::kInvalidArgument;
}

W4Weights make_weights(const FormatSpec& f, const W4CpuShape& s, DType scale_dtype,
                       const uint8_t* packed, const void* scale, const uint8_t* zero,
                       const float* global_scale) {
  W4Weights w{};
  w.packed = packed;
  w.scale = static_cast<const uint8_t*>(scale);
  w.zero = has_zero_point(f) ? zero : nullptr;
  w.scale_mul = 1.0f;
  switch (f.kind) {
    case FormatKind::kInt4:
      w.scale_kind = scale_dtype == DType::kF32   ? W4ScaleKind::kF32
                     : scale_dtype == DType::kF16 ? W4ScaleKind::kF16
                                                  : W4ScaleKind::kBF16;
      break;
    case FormatKind::kMxfp4: w.scale_kind = W4ScaleKind::kE8m0; break;
    default:
      w.scale_kind = W4ScaleKind::kE4m3;
      if (is_two_level(f) && global_scale) w.scale_mul = global_scale[0];
      break;
  }
  for (int c = 0; c < 16; ++c)
    w.table[c] = f32_to_bf16(f.kind == FormatKind::kInt4 ? float(c) - 8.0f : e2m1_to_f32(uint8_t(c)));
  w.k_chunks = s.k_pad / kW4TileK;
  w.groups = s.groups;
  w.group_chunks = s.group / kW4TileK;
  return w;
}

// The activations as the kernels take them: fp32 rows [m][k_pad] in packed column order
// (f32, the fp32 kernels), bf16 pairs u32 (pairs, row stride ld_pairs, x[2j] in the low
// half; the bf16 kernels) and the fp32 sums of each group (sum, [m][groups], row stride
// ld_sum; read only for zero points, else null with ld_sum 0).
struct XRows {
  const float* f32;
  const uint32_t* pairs;
  int64_t ld_pairs;
  const float* sum;
  int64_t ld_sum;
};

// dst[j] = x[perm[j]] (or x[j] without act-order) in fp32, j < k.
void row_to_f32(const void* x, DType t, const int32_t* perm, int64_t k, float* dst) {
  dispatch_float_dtype(t, [&](auto T) {
    if (perm)
      for (int64_t j = 0; j < k; ++j) dst[j] = load_one(x, T, perm[j]);
    else
      for (int64_t j = 0; j < k; ++j) dst[j] = load_one(x, T, j);
  });
}

// Rows [m0, m1) of x -> fp32 workspace rows [k_pad] (xw, zero padded), then where given
// the sums of each group (xsum, in order) and the row as bf16 pairs [k_pad / 2] (pairs;
// truncating the fp32 of a bf16 is exact).
void convert_x(const W4A16Params& p, const W4CpuShape& s, int64_t m0, int64_t m1, float* xw,
               float* xsum, uint32_t* pairs) {
  const int esize = dtype_size(p.x_dtype);
  for (int64_t i = m0; i < m1; ++i) {
    float* dst = xw + i * s.k_pad;
    row_to_f32(static_cast<const char*>(p.x) + i * p.x_stride * esize, p.x_dtype, p.perm, s.k, dst);
    std::fill(dst + s.k, dst + s.k_pad, 0.0f);
    for (int64_t g = 0; xsum && g < s.groups; ++g) {
      float acc = 0.0f;
      for (int64_t k = g * s.group; k < (g + 1) * s.group; ++k) acc += dst[k];
      xsum[i * s.groups + g] = acc;
    }
    if (pairs) {
      const uint32_t* bits = reinterpret_cast<const uint32_t*>(dst);
      for (int64_t j = 0; j < s.k_pad / 2; ++j)
        pairs[i * s.k_pad / 2 + j] = (bits[2 * j] >> 16) | (bits[2 * j + 1] & 0xFFFF0000u);
    }
  }
}

// The XRows of p for the fp32 (bf16 = false) or bf16 kernels. bf16 x already is bf16
// pairs in memory: without act-order, K % 8 == 0 (no padding) and an even row stride,
// the bf16 kernels read x itself and nothing is converted unless the weight has zero
// points (their group sums). Else rows go through the workspace (xw [m][k_pad], then
// sums [m][groups]) and a thread-local pair buffer.
XRows prepare_x(const W4A16Params& p, const W4CpuShape& s, bool bf16, bool sums) {
  float* xw = p.workspace;
  float* xsum = sums ? p.workspace + p.m * s.k_pad : nullptr;
  const bool in_place = bf16 && !p.perm && s.k == s.k_pad && p.x_stride % 2 == 0 &&
                        reinterpret_cast<uintptr_t>(p.x) % 4 == 0;
  thread_local std::vector<uint32_t> pairs;  // the calling thread's; workers fill it
  if (bf16 && !in_place) pairs.resize(size_t(p.m * s.k_pad / 2));
  uint32_t* xp = bf16 && !in_place ? pairs.data() : nullptr;
  if (!in_place || sums)
    parallel_for(p.m, std::max<int64_t>(1, 16384 / s.k_pad),
                 [&](int64_t m0, int64_t m1) { convert_x(p, s, m0, m1, xw, xsum, xp); });
  const int64_t ld_sum = sums ? s.groups : 0;
  if (in_place) return {nullptr, static_cast<const uint32_t*>(p.x), p.x_stride / 2, xsum, ld_sum};
  return {bf16 ? nullptr : xw, xp, s.k_pad / 2, xsum, ld_sum};
}

// y[i, n0 + j] = acc[i][j] + bias[n0 + j], rounded once to y's dtype, for j < cols.
void store_rows(const W4A16Params& p, const float* acc, int64_t ldacc, int64_t m0, int64_t m1,
                int64_t n0, int64_t cols) {
  const int esize = dtype_size(p.x_dtype);
  dispatch_float_dtype(p.x_dtype, [&](auto T) {
    for (int64_t i = m0; i < m1; ++i) {
      const float* a = acc + (i - m0) * ldacc;
      void* row = static_cast<char*>(p.y) + (i * p.y_stride + n0) * esize;
      if (p.bias)
        for (int64_t j = 0; j < cols; ++j) store_one(row, T, j, a[j] + load_one(p.bias, T, n0 + j));
      else
        for (int64_t j = 0; j < cols; ++j) store_one(row, T, j, a[j]);
    }
  });
}

// GEMV over all m rows: blocks of kW4GemvMaxM rows per kernel call; with more than one
// block (bf16 GEMV only, m <= kW4Bf16GemvMaxM), a call per strip so that the later row
// blocks read the strip's tiles from L1 / L2. The level's bf16 GEMV where x.pairs is
// given, else the fp32 GEMV on x.f32.
void run_gemv(const W4A16Params& p, const W4CpuShape& s, const W4Weights& w, const XRows& x) {
  const W4Kernels& k = kernels();
  // At least ~64 KiB of weights per task: waking a pool worker costs tens of
  // microseconds, more than a whole small GEMV.
  const int64_t strip_bytes = (s.k_pad / kW4TileK) * kW4TileBytes;
  const int64_t grain = std::max<int64_t>(1, (64 << 10) / strip_bytes);
  parallel_for(s.n_pad / kW4TileN, grain, [&](int64_t t0, int64_t t1) {
    const int64_t ldo = (t1 - t0) * kW4TileN;
    thread_local std::vector<float> out;
    out.resize(size_t(p.m * ldo));
    const int64_t tstep = p.m > kW4GemvMaxM ? 1 : t1 - t0;
    for (int64_t ta = t0; ta < t1; ta += tstep) {
      const int64_t tb = std::min(t1, ta + tstep);
      for (int64_t i0 = 0; i0 < p.m; i0 += kW4GemvMaxM) {
        const int mr = int(std::min<int64_t>(kW4GemvMaxM, p.m - i0));
        const float* xs = x.sum + i0 * x.ld_sum;
        float* o = out.data() + i0 * ldo + (ta - t0) * kW4TileN;
        if (x.pairs)
          k.gemv_bf16(w, x.pairs + i0 * x.ld_pairs, x.ld_pairs, xs, x.ld_sum, mr, ta, tb, o, ldo);
        else
          k.gemv(w, x.f32 + i0 * s.k_pad, s.k_pad, xs, x.ld_sum, mr, ta, tb, o, ldo);
      }
    }
    const int64_t n0 = t0 * kW4TileN;
    store_rows(p, out.data(), ldo, 0, p.m, n0, std::min(s.n, t1 * kW4TileN) - n0);
  });
}

// bf16 GEMM: work items of (up to kRowBlock rows) x (32 channels: 2 strips, the last
// may be 1), row-block-major so that consecutive items share the x rows (L2).
void run_gemm_bf16(const W4A16Params& p, const W4CpuShape& s, const W4Weights& w, const XRows& x) {
  constexpr int64_t kRowBlock = 120, kTilesPerItem = 2;
  const W4Kernels& k = kernels();
  const int64_t tiles = s.n_pad / kW4TileN;
  const int64_t col_items = (tiles + kTilesPerItem - 1) / kTilesPerItem;
  const int64_t row_items = (p.m + kRowBlock - 1) / kRowBlock;
  parallel_for(row_items * col_items, 1, [&](int64_t i0, int64_t i1) {
    constexpr int64_t ldo = kTilesPerItem * kW4TileN;
    thread_local std::vector<float> stage;
    stage.resize(size_t(kRowBlock * ldo));
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t m0 = (item / col_items) * kRowBlock, m1 = std::min(p.m, m0 + kRowBlock);
      const int64_t t0 = (item % col_items) * kTilesPerItem;
      const int64_t nt = std::min(kTilesPerItem, tiles - t0);
      k.gemm_bf16(w, x.pairs + m0 * x.ld_pairs, x.ld_pairs, x.sum + m0 * x.ld_sum, x.ld_sum, m1 - m0, t0, nt,
                  stage.data(), ldo);
      const int64_t n0 = t0 * kW4TileN;
      store_rows(p, stage.data(), ldo, m0, m1, n0, std::min(s.n, n0 + nt * kW4TileN) - n0);
    }
  });
}

void run_gemm(const W4A16Params& p, const W4CpuShape& s, const W4Weights& w, const XRows& x,
              const W4CpuPlan& plan) {
  const W4Kernels& k = kernels();
  const int64_t tiles = s.n_pad / kW4TileN, kc_chunks = plan.kc / kW4TileK;
  // Items in row-block-major order: consecutive items share the x block (L2/L3 reuse).
  parallel_for(plan.work_m * plan.work_n, 1, [&](int64_t i0, int64_t i1) {
    thread_local std::vector<float> panel, stage;
    panel.resize(size_t(plan.kc * plan.nc));
    stage.resize(size_t(plan.mc * plan.nc));
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t m0 = (item / plan.work_n) * plan.mc, m1 = std::min(p.m, m0 + plan.mc);
      const int64_t t0 = (item % plan.work_n) * (plan.nc / kW4TileN);
      const int64_t nt = std::min(tiles - t0, plan.nc / kW4TileN);
      for (int64_t c0 = 0; c0 < w.k_chunks; c0 += kc_chunks) {
        const int64_t nch = std::min(kc_chunks, w.k_chunks - c0);
        k.dequant(w, t0, nt, c0, nch, panel.data());
        for (int64_t sub = 0; sub < nt; ++sub)
          for (int64_t i = m0; i < m1; i += kW4GemmMr)
            k.micro(x.f32 + i * s.k_pad + c0 * kW4TileK, s.k_pad,
                    panel.data() + sub * nch * kW4TileK * kW4GemmNr, nch * kW4TileK,
                    stage.data() + (i - m0) * plan.nc + sub * kW4GemmNr, plan.nc,
                    int(std::min<int64_t>(kW4GemmMr, m1 - i)), c0 > 0);
      }
      const int64_t n0 = t0 * kW4TileN;
      store_rows(p, stage.data(), plan.nc, m0, m1, n0, std::min(s.n, n0 + nt * kW4TileN) - n0);
    }
  });
}

}  // namespace

Status w4a16_prepack_cpu(const W4PrepackParams& p) {
  if (Status st = check_format(p.fmt, p.n, p.k, p.scale_dtype); st != Status::kOk) return st;
  const W4CpuShape s = w4_cpu_shape(p.n, p.k, p.fmt.block);
  if (has_zero_point(p.fmt) != (p.zero != nullptr) || !perm_in_range(p.perm, p.k))
    return Status::kInvalidArgument;
  if (s.n == 0) return Status::kOk;
  const uint8_t pad_code = p.fmt.kind == FormatKind::kInt4 ? 8 : 0;  // decodes to 0
  const int64_t kblocks = s.k / p.fmt.block, sb = dtype_size(p.scale_dtype);
  const int64_t chunks = s.k_pad / kW4TileK;
  const bool nvfp4 = p.fmt.kind == FormatKind::kNvfp4;  // unsigned scales (w4_cpu_e4m3_scale)
  parallel_for(s.n_pad / kW4TileN, 4, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      uint8_t* tiles = p.packed + t * chunks * kW4TileBytes;
      for (int lane = 0; lane < kW4TileN; ++lane) {
        const int64_t n = t * kW4TileN + lane;
        const uint8_t* row = n < s.n ? p.qdata + n * (s.k / 2) : nullptr;
        const uint8_t* row_scale = row ? static_cast<const uint8_t*>(p.scale) + n * kblocks * sb : nullptr;
        for (int64_t c = 0; c < chunks; ++c) {
          // codes of packed columns 8c + v, then placed in the tile
          uint8_t code[kW4TileK];
          const int64_t k0 = c * kW4TileK;
          if (row && !p.perm && k0 + kW4TileK <= s.k) {  // common case: 4 whole bytes
            for (int v = 0; v < kW4TileK; ++v) code[v] = (row[k0 / 2 + v / 2] >> (4 * (v & 1))) & 0xF;
          } else {
            for (int v = 0; v < kW4TileK; ++v) {
              const int64_t src = k0 + v < s.k ? (p.perm ? p.perm[k0 + v] : k0 + v) : -1;
              code[v] = row && src >= 0 ? (row[src / 2] >> (4 * (src & 1))) & 0xF : pad_code;
            }
          }
          // a chunk lies in one group (groups of whole tiles): a negative NVFP4 scale's
          // sign goes into its codes
          if (nvfp4 && row && w4_cpu_e4m3_scale(row_scale[c * kW4TileK / s.group]).negative)
            for (uint8_t& q : code) q ^= 0x8;
          uint32_t word = 0;  // stored little-endian (gemm.h)
          for (int v = 0; v < kW4TileK; ++v) word |= uint32_t(code[v]) << (4 * w4_tile_nibble(v));
          std::memcpy(tiles + c * kW4TileBytes + 4 * lane, &word, 4);
        }
        // Scales and zeros: [tile][group][lane]; padding channels get scale bytes 0
        // (finite in every encoding) and zero point 8.
        for (int64_t g = 0; g < s.groups; ++g) {
          const int64_t dst = (t * s.groups + g) * kW4TileN + lane;
          uint8_t* so = static_cast<uint8_t*>(p.scale_out) + dst * sb;
          if (!row)
            std::memset(so, 0, size_t(sb));
          else if (nvfp4)
            *so = w4_cpu_e4m3_scale(row_scale[g]).byte;
          else
            std::memcpy(so, row_scale + g * sb, size_t(sb));
          if (p.zero_out) p.zero_out[dst] = n < s.n ? p.zero[n * kblocks + g] : 8;
        }
      }
    }
  });
  return Status::kOk;
}

Status w4a16_linear_cpu(const W4A16Params& p) {
  if (Status st = check_format(p.fmt, p.n, p.k, p.scale_dtype); st != Status::kOk) return st;
  const W4CpuShape s = w4_cpu_shape(p.n, p.k, p.fmt.block);
  if (p.m < 0 || !is_float_dtype(p.x_dtype) || p.x_stride < s.k || p.y_stride < s.n)
    return Status::kInvalidArgument;
  if (has_zero_point(p.fmt) != (p.zero != nullptr) || !perm_in_range(p.perm, p.k))
    return Status::kInvalidArgument;
  if (is_two_level(p.fmt) != (p.global_scale != nullptr)) return Status::kInvalidArgument;
  if (p.m == 0 || s.n == 0) return Status::kOk;
  if (!p.x || !p.packed || !p.scale || !p.y || !p.workspace) return Status::kInvalidArgument;

  const W4Weights w = make_weights(p.fmt, s, p.scale_dtype, p.packed, p.scale, p.zero,
                                   p.global_scale);
  // Route: the GEMV for few rows, else the level's bf16 GEMM or the fp32 GEMM. bf16 x
  // (exact in bf16) goes to the level's bf16 kernels where it has them, as bf16 pairs.
  const W4Kernels& k = kernels();
  const W4CpuPlan plan = w4a16_cpu_plan(p.m, s, num_threads());
  const bool x_bf16 = p.x_dtype == DType::kBF16;
  const bool gemv = plan.gemv || (p.m <= kW4Bf16GemvMaxM && x_bf16 && k.gemv_bf16);
  const bool bf16 = x_bf16 && (gemv ? k.gemv_bf16 != nullptr : k.gemm_bf16 != nullptr);
  const XRows x = prepare_x(p, s, bf16, w.zero != nullptr);
  if (gemv)
    run_gemv(p, s, w, x);
  else if (bf16)
    run_gemm_bf16(p, s, w, x);
  else
    run_gemm(p, s, w, x, plan);
  return Status::kOk;
}

Status w4a16_decode_scales_cpu(const FormatSpec& fmt, DType scale_dtype, float global_scale,
                               const void* codes, int64_t n, float* out) {
  if (n < 0 || !is_4bit(fmt.kind)) return Status::kInvalidArgument;
  // The kernels decode a strip's kW4TileN scales at once: codes zero-padded to whole strips.
  const int64_t n_pad = round_up(n, kW4TileN), esize = dtype_size(scale_dtype);
  std::vector<uint8_t> padded(size_t(n_pad * esize), 0);
  if (n > 0) std::memcpy(padded.data(), codes, size_t(n * esize));
  // NVFP4: the layout's unsigned codes; the sign, which the layout moves into the weight
  // codes, is put back on the decoded value below
  std::vector<bool> negative(size_t(n), false);
  if (fmt.kind == FormatKind::kNvfp4)
    for (int64_t i = 0; i < n; ++i) {
      const W4CpuE4m3Scale e = w4_cpu_e4m3_scale(padded[size_t(i)]);
      padded[size_t(i)] = e.byte;
      negative[size_t(i)] = e.negative;
    }
  std::vector<float> decoded(static_cast<size_t>(n_pad));
  const float gs = global_scale;
  const W4CpuShape s = w4_cpu_shape(kW4TileN, 2 * kW4TileK, 2 * kW4TileK);
  W4Weights w = make_weights(fmt, s, scale_dtype, nullptr, padded.data(), nullptr, &gs);
  w.groups = 1;
  for (int64_t t = 0; t < n_pad / kW4TileN; ++t) kernels().scales(w, t, 0, decoded.data() + t * kW4TileN);
  for (int64_t i = 0; i < n; ++i) out[i] = negative[size_t(i)] ? -decoded[size_t(i)] : decoded[size_t(i)];
  return Status::kOk;
}

}  // namespace qkern
