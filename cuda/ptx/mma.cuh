// mma.sync wrappers: one per instruction, D = A * B + C on one warp (all 32 lanes).
// Fragment layouts in ptx/layouts.h (PTX ISA "Matrix fragments for mma.m16n8k*"):
//   A: 4 x b32 per lane (row-major 16 x K), B: 2 x b32 (column-major K x 8), C/D: 4 x f32/s32.
//
// Arch gates (common/arch.cuh): compiled for an arch without the instruction, a wrapper
// traps. Emulator twin: the 32 lanes meet in one warp collective; the last lane gathers
// the fragments into full tiles with the layout functions, computes D exactly (integers,
// with s32 wrap-around) or as the fp32 rounding of the exact sum C + sum(a*b) (every
// product of these formats is exact, the sum is taken in fp64), and scatters D back. The
// hardware's fp32 accumulation order is unspecified, so GEMM tests keep tolerances.
#pragma once
#include <cstdint>

#include "cuda/common/prelude.cuh"
#include "cuda/ptx/layouts.h"
#include "qkern/codecs.h"

namespace qkern::ptx {
inline namespace QKERN_ARCH_NAMESPACE {  // bodies depend on QKERN_ARCH (common/arch.cuh)

enum class MmaInput : int { kBF16, kF16, kS8, kE4M3, kS4, kE2M1 };
enum class MmaScale : int { kNone, kUe8m0x2, kUe4m3x4 };  // block-scale vector of kind::mxf4nvf4

#if defined(QKERN_SIM)
namespace sim_twin {

QK_HOST_DEVICE constexpr int mma_k(MmaInput t) {
  return t == MmaInput::kBF16 || t == MmaInput::kF16 ? 16 : (t == MmaInput::kS8 || t == MmaInput::kE4M3) ? 32 : 64;
}

// Element e (counted from bit 0) of a b32 fragment register, as an exact double.
inline double mma_elem(MmaInput t, uint32_t reg, int e) {
  switch (t) {
    case MmaInput::kBF16: return bf16_to_f32(uint16_t(reg >> (16 * e)));
    case MmaInput::kF16: return f16_to_f32(uint16_t(reg >> (16 * e)));
    case MmaInput::kS8: return double(int8_t(uint8_t(reg >> (8 * e))));
    case MmaInput::kE4M3: return e4m3_to_f32(uint8_t(reg >> (8 * e)));
    case MmaInput::kS4: return double(int32_t(reg << (28 - 4 * e)) >> 28);
    case MmaInput::kE2M1: return e2m1_to_f32(uint8_t((reg >> (4 * e)) & 0xFu));
  }
  return 0.0;
}

struct MmaLane {
  const uint32_t* a;  // [4]
  const uint32_t* b;  // [2]
  const void* c;      // float[4] or int32[4]
  void* d;            // written by the collective
  uint32_t sfa, sfb;  // block-scale registers (scaled kinds only)
};

// tag = input | scale << 4
inline void mma_fn(void* const* lanes, uint32_t, uint32_t tag) {
  const MmaInput t = MmaInput(tag & 0xF);
  const MmaScale sc = MmaScale(tag >> 4);
  const int k = mma_k(t), per_reg = k / 8;
  const bool integer = t == MmaInput::kS8 || t == MmaInput::kS4;
  auto L = [&](int l) { return static_cast<const MmaLane*>(lanes[l]); };
  double A[16][64], B[64][8];
  for (int l = 0; l < 32; ++l) {
    for (int i = 0; i < k / 2; ++i) {
      Coord c = mma_a_coord(k, l, i);
      A[c.row][c.col] = mma_elem(t, L(l)->a[i / per_reg], i % per_reg);
    }
    for (int i = 0; i < k / 4; ++i) {
      Coord c = mma_b_coord(k, l, i);
      B[c.row][c.col] = mma_elem(t, L(l)->b[i / per_reg], i % per_reg);
    }
  }
  if (sc != MmaScale::kNone) {  // scale A rows and B columns per K block
    const int vec = sc == MmaScale::kUe8m0x2 ? 32 : 16;
    for (int m = 0; m < 16; ++m)
      for (int kk = 0; kk < k; ++kk) {
        uint8_t code = uint8_t(L(4 * (m % 8) + m / 8)->sfa >> (8 * (kk / vec)));
        A[m][kk] *= sc == MmaScale::kUe8m0x2 ? e8m0_to_f32(code) : e4m3_to_f32(code);
      }
    for (int n = 0; n < 8; ++n)
      for (int kk = 0; kk < k; ++kk) {
        uint8_t code = uint8_t(L(4 * n)->sfb >> (8 * (kk / vec)));
        B[kk][n] *= sc == MmaScale::kUe8m0x2 ? e8m0_to_f32(code) : e4m3_to_f32(code);
      }
  }
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < 4; ++i) {
      Coord c = mma_c_coord(l, i);
      double acc = 0.0;
      for (int kk = 0; kk < k; ++kk) acc += A[c.row][kk] * B[kk][c.col];
      if (integer) {
        int64_t v = int64_t(static_cast<const int32_t*>(L(l)->c)[i]) + int64_t(acc);
        static_cast<int32_t*>(L(l)->d)[i] = int32_t(uint32_t(uint64_t(v)));  // s32 wraps
      } else {
        static_cast<float*>(L(l)->d)[i] = float(acc + double(static_cast<const float*>(L(l)->c)[i]));
      }
    }
}

inline constexpr ::qkern::sim::CollectiveKind kMma{"mma.sync", mma_fn};

// D may alias C: all lanes' inputs are read before any output is written.
template <class TC>
inline void run_mma(MmaInput t, MmaScale sc, TC (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                    const TC (&c)[4], uint32_t sfa = 0, uint32_t sfb = 0) {
  TC out[4];
  MmaLane lane{a, b, c, out, sfa, sfb};
  ::qkern::sim::warp_collective(kMma, 0xFFFFFFFFu, uint32_t(t) | uint32_t(sc) << 4, &lane);
  for (int i = 0; i < 4; ++i) d[i] = out[i];
}

}  // namespace sim_twin
#endif

// The float-accumulating forms share one operand list.
#define QK_MMA_F32_OPERANDS                                                             \
  : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])                                      \
  : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), \
    "f"(c[2]), "f"(c[3])
#define QK_MMA_S32_OPERANDS                                                             \
  : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])                                      \
  : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(c[0]), "r"(c[1]), \
    "r"(c[2]), "r"(c[3])

// m16n8k16, bf16 x bf16 -> f32 (sm_80+).
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                  const float (&c)[4]) {
#if !QK_HAS_SM80
  qk_trap_unsupported("mma.sync.m16n8k16.bf16");
#elif defined(QKERN_SIM)
  sim_twin::run_mma(MmaInput::kBF16, MmaScale::kNone, d, a, b, c);
#else
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%10,%11,%12,%13};\n" QK_MMA_F32_OPERANDS);
#endif
}

// m16n8k16, f16 x f16 -> f32 (sm_80+).
__device__ __forceinline__ void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                 const float (&c)[4]) {
#if !QK_HAS_SM80
  qk_trap_unsupported("mma.sync.m16n8k16.f16");
#elif defined(QKERN_SIM)
  sim_twin::run_mma(MmaInput::kF16, MmaScale::kNone, d, a, b, c);
#else
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%10,%11,%12,%13};\n" QK_MMA_F32_OPERANDS);
#endif
}

// m16n8k32, s8 x s8 -> s32 (sm_80+), wrapping (no .satfinite).
__device__ __forceinline__ void mma_m16n8k32_s8(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                const int32_t (&c)[4]) {
#if !QK_HAS_SM80
  qk_trap_unsupported("mma.sync.m16n8k32.s8");
#elif defined(QKERN_SIM)
  sim_twin::run_mma(MmaInput::kS8, MmaScale::kNone, d, a, b, c);
#else
  asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%10,%11,%12,%13};\n" QK_MMA_S32_OPERANDS);
#endif
}

// m16n8k32, e4m3 x e4m3 -> f32 (sm_89+).
__device__ __forceinline__ void mma_m16n8k32_e4m3(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                  const float (&c)[4]) {
#if !QK_HAS_FP8
  qk_trap_unsupported("mma.sync.m16n8k32.e4m3");
#elif defined(QKERN_SIM)
  sim_twin::run_mma(MmaInput::kE4M3, MmaScale::kNone, d, a, b, c);
#else
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%10,%11,%12,%13};\n" QK_MMA_F32_OPERANDS);
#endif
}

// m16n8k64, s4 x s4 -> s32 (sm_80+; NUMERICS.md 4: fast on sm_80/86/89 only), wrapping.
__device__ __forceinline__ void mma_m16n8k64_s4(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                const int32_t (&c)[4]) {
#if !QK_HAS_MMA_S4
  qk_trap_unsupported("mma.sync.m16n8k64.s4");
#elif defined(QKERN_SIM)
  sim_twin::run_mma(MmaInput::kS4, MmaScale::kNone, d, a, b, c);
#else
  asm volatile("mma.sync.aligned.m16n8k64.row.col.s32.s4.s4.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%10,%11,%12,%13};\n" QK_MMA_S32_OPERANDS);
#endif
}

// Block-scaled m16n8k64 e2m1 x e2m1 -> f32 (kind::mxf4nvf4, sm_120a). Scales: sfa holds the
// row mma_sfa_row(lane) of A's scales, sfb the column mma_sfb_col(lane) of B's, byte j for
// K block j; thread-id and byte-id selectors are 0.
//   _ue8m0: scale_vec::2X, 2 E8M0 scales per row (K blocks of 32; MXFP4)
//   _ue4m3: scale_vec::4X, 4 E4M3 scales per row (K blocks of 16; NVFP4)
__device__ __forceinline__ void mma_m16n8k64_e2m1_ue8m0(float (&d)[4], const uint32_t (&a)[4],
                                                        const uint32_t (&b)[2], const float (&c)[4],
                                                        uint32_t sfa, uint32_t sfb) {
#if !QK_HAS_MMA_BLOCK_SCALED
  qk_trap_unsupported("mma.sync.kind::mxf4nvf4.scale_vec::2X.ue8m0");
#elif defined(QKERN_SIM)
  sim_twin::run_mma(MmaInput::kE2M1, MmaScale::kUe8m0x2, d, a, b, c, sfa, sfb);
#else
  const uint16_t zero = 0;
  asm volatile(
      "mma.sync.aligned.kind::mxf4nvf4.block_scale.scale_vec::2X.m16n8k64.row.col.f32.e2m1.e2m1.f32.ue8m0 "
      "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13}, {%14}, {%15,%16}, {%17}, {%18,%19};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]), "r"(sfa), "h"(zero), "h"(zero), "r"(sfb), "h"(zero), "h"(zero));
#endif
}

__device__ __forceinline__ void mma_m16n8k64_e2m1_ue4m3(float (&d)[4], const uint32_t (&a)[4],
                                                        const uint32_t (&b)[2], const float (&c)[4],
                                                        uint32_t sfa, uint32_t sfb) {
#if !QK_HAS_MMA_BLOCK_SCALED
  qk_trap_unsupported("mma.sync.kind::mxf4nvf4.scale_vec::4X.ue4m3");
#elif defined(QKERN_SIM)
  sim_twin::run_mma(MmaInput::kE2M1, MmaScale::kUe4m3x4, d, a, b, c, sfa, sfb);
#else
  const uint16_t zero = 0;
  asm volatile(
      "mma.sync.aligned.kind::mxf4nvf4.block_scale.scale_vec::4X.m16n8k64.row.col.f32.e2m1.e2m1.f32.ue4m3 "
      "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13}, {%14}, {%15,%16}, {%17}, {%18,%19};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]), "r"(sfa), "h"(zero), "h"(zero), "r"(sfb), "h"(zero), "h"(zero));
#endif
}

#undef QK_MMA_F32_OPERANDS
#undef QK_MMA_S32_OPERANDS

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern::ptx
