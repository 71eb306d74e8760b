// The mma probe kernel, shared by the probe sources of every arch set: one warp builds its
// A/B/C fragments from full tiles in global memory with the layout functions, runs one
// mma wrapper and scatters D. Tiles: A [16][K] row-major, B [8][K] (n-major, the "col"
// operand), C and D [16][8] row-major. Elements are bytes (8- and 4-bit formats, 4-bit in
// the low nibble, s4 as int8 -8..7) or 16-bit words; block scales: sfa [16][K/vec],
// sfb [8][K/vec] bytes.
#pragma once
#include <cstdint>
#include <type_traits>

#include "cuda/common/launch.cuh"
#include "cuda/ptx/layouts.h"
#include "cuda/ptx/mma.cuh"
#include "cuda/ptx/probes/probes.h"

// Registration tag of a probe source: the emulated arch, or 0 in the CUDA build.
#if defined(QKERN_SIM)
#define QK_PROBE_ARCH QKERN_ARCH, bool(QKERN_ARCH_SPECIFIC)
#else
#define QK_PROBE_ARCH 0, false
#endif

namespace qkern::ptx_probes {
inline namespace QKERN_ARCH_NAMESPACE {

using ptx::MmaInput;
using ptx::MmaScale;

template <MmaInput kT>
constexpr int kMmaK = kT == MmaInput::kBF16 || kT == MmaInput::kF16 ? 16
                    : (kT == MmaInput::kS8 || kT == MmaInput::kE4M3) ? 32 : 64;
template <MmaInput kT>
constexpr bool kMmaInt = kT == MmaInput::kS8 || kT == MmaInput::kS4;

// Raw bits of element idx of a tile.
template <MmaInput kT>
__device__ __forceinline__ uint32_t tile_bits(const void* tile, int idx) {
  if constexpr (kMmaK<kT> == 16) return static_cast<const uint16_t*>(tile)[idx];
  else if constexpr (kMmaK<kT> == 32) return static_cast<const uint8_t*>(tile)[idx];
  else return static_cast<const uint8_t*>(tile)[idx] & 0xFu;
}

template <MmaInput kT, MmaScale kS>
__global__ void mma_probe_kernel(const void* a, const void* b, const void* c, void* d, const uint8_t* sfa,
                                 const uint8_t* sfb) {
  using acc_t = typename std::conditional<kMmaInt<kT>, int32_t, float>::type;
  constexpr int K = kMmaK<kT>, v = K / 8, bits = 32 / v;
  constexpr int nvec = kS == MmaScale::kUe8m0x2 ? 2 : 4;
  const int lane = threadIdx.x;
  uint32_t ra[4] = {0, 0, 0, 0}, rb[2] = {0, 0};
  for (int i = 0; i < K / 2; ++i) {
    ptx::Coord co = ptx::mma_a_coord(K, lane, i);
    ra[i / v] |= tile_bits<kT>(a, co.row * K + co.col) << (bits * (i % v));
  }
  for (int i = 0; i < K / 4; ++i) {
    ptx::Coord co = ptx::mma_b_coord(K, lane, i);
    rb[i / v] |= tile_bits<kT>(b, co.col * K + co.row) << (bits * (i % v));
  }
  acc_t rc[4], rd[4];
  for (int i = 0; i < 4; ++i) {
    ptx::Coord co = ptx::mma_c_coord(lane, i);
    rc[i] = static_cast<const acc_t*>(c)[co.row * 8 + co.col];
  }
  uint32_t sa = 0, sb = 0;
  if constexpr (kS != MmaScale::kNone) {
    for (int j = 0; j < nvec; ++j) {
      sa |= uint32_t(sfa[ptx::mma_sfa_row(lane) * nvec + j]) << (8 * j);
      sb |= uint32_t(sfb[ptx::mma_sfb_col(lane) * nvec + j]) << (8 * j);
    }
  }
  if constexpr (kT == MmaInput::kBF16) ptx::mma_m16n8k16_bf16(rd, ra, rb, rc);
  else if constexpr (kT == MmaInput::kF16) ptx::mma_m16n8k16_f16(rd, ra, rb, rc);
  else if constexpr (kT == MmaInput::kS8) ptx::mma_m16n8k32_s8(rd, ra, rb, rc);
  else if constexpr (kT == MmaInput::kE4M3) ptx::mma_m16n8k32_e4m3(rd, ra, rb, rc);
  else if constexpr (kT == MmaInput::kS4) ptx::mma_m16n8k64_s4(rd, ra, rb, rc);
  else if constexpr (kS == MmaScale::kUe8m0x2) ptx::mma_m16n8k64_e2m1_ue8m0(rd, ra, rb, rc, sa, sb);
  else ptx::mma_m16n8k64_e2m1_ue4m3(rd, ra, rb, rc, sa, sb);
  for (int i = 0; i < 4; ++i) {
    ptx::Coord co = ptx::mma_c_coord(lane, i);
    static_cast<acc_t*>(d)[co.row * 8 + co.col] = rd[i];
  }
}

// in = {A, B, C, sfa, sfb}, out = D.
template <MmaInput kT, MmaScale kS>
Status run_mma_probe(const ProbeArgs& p, cudaStream_t stream) {
  return launch({"mma_probe", dim3(1), dim3(32), 0, stream}, mma_probe_kernel<kT, kS>, p.in[0], p.in[1], p.in[2],
                p.out, static_cast<const uint8_t*>(p.in[3]), static_cast<const uint8_t*>(p.in[4]));
}

// Element-wise probes: out[i] = f(in0[i], in1[i], in2[i]) for i < n, one thread each.
template <class Out, class In, class F>
__global__ void map_probe_kernel(Out* out, const In* in0, const In* in1, const In* in2, int64_t n, F f) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = f(in0[i], in1 ? in1[i] : In(), in2 ? in2[i] : In());
}

template <class Out, class In, class F>
Status run_map_probe(const ProbeArgs& p, cudaStream_t stream, F f) {
  const dim3 grid(unsigned((p.n + 127) / 128));
  return launch({"map_probe", grid, dim3(128), 0, stream}, map_probe_kernel<Out, In, F>, static_cast<Out*>(p.out),
                static_cast<const In*>(p.in[0]), static_cast<const In*>(p.in[1]), static_cast<const In*>(p.in[2]),
                p.n, f);
}

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern::ptx_probes
