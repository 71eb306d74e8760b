// Conversion wrappers to and from the narrow formats (NUMERICS.md 1-3). Pairs follow the
// packing of qkern's layouts: `lo` goes to the low nibble/byte/half, `hi` to the high one
// (PTX cvt takes them as (a = hi, b = lo)).
//   cvt_e2m1x2(lo, hi)        cvt.rn.satfinite.e2m1x2.f32     sm_100a / sm_120a
//   cvt_e2m1x2_to_f16x2(b)    cvt.rn.f16x2.e2m1x2             sm_100a / sm_120a
//   cvt_e4m3x2(lo, hi)        cvt.rn.satfinite.e4m3x2.f32     sm_89+
//   cvt_e4m3x2_to_f16x2(h)    cvt.rn.f16x2.e4m3x2             sm_89+
//   cvt_ue8m0x2(lo, hi)       cvt.rp.satfinite.ue8m0x2.f32    sm_100a / sm_120a
// Emulator twins use the codecs of qkern/codecs.h (the CPU kernels' conversions), so a GPU
// run of the cvt probe checks hardware == codecs. NaN inputs: E4M3 gives 0x7F (its NaN);
// E2M1 has no NaN and the twin gives +6 (0x7) as CUDA's cuda_fp4.hpp converter does
// [hardware unconfirmed here]; UE8M0 gives 0xFF. Negative inputs to ue8m0 give 0x00.
#pragma once
#include <cstdint>

#include "cuda/common/prelude.cuh"
#include "qkern/codecs.h"
#include "qkern/recipes.h"

namespace qkern::ptx {
inline namespace QKERN_ARCH_NAMESPACE {  // bodies depend on QKERN_ARCH (common/arch.cuh)

#if defined(QKERN_SIM)
namespace sim_twin {
inline uint8_t e2m1_sat(float x) { return x != x ? uint8_t(0x7) : f32_to_e2m1(x); }
inline uint8_t ue8m0_rp(float x) {
  if (x != x) return 0xFF;
  if (!(x > 0.0f)) return 0x00;
  return is_finite_f32(x) ? e8m0_ceil(x) : uint8_t(0xFE);
}
}  // namespace sim_twin
#endif

__device__ __forceinline__ uint8_t cvt_e2m1x2(float lo, float hi) {
#if !QK_HAS_FP4_CVT
  qk_trap_unsupported("cvt.e2m1x2.f32");
  return 0;
#elif defined(QKERN_SIM)
  return uint8_t(sim_twin::e2m1_sat(lo) | sim_twin::e2m1_sat(hi) << 4);
#else
  uint32_t r;
  asm volatile(
      "{\n.reg .b8 b0, b1, b2, b3;\ncvt.rn.satfinite.e2m1x2.f32 b0, %1, %2;\nmov.b32 %0, {b0, b1, b2, b3};\n}\n"
      : "=r"(r) : "f"(hi), "f"(lo));
  return uint8_t(r & 0xFFu);
#endif
}

__device__ __forceinline__ uint32_t cvt_e2m1x2_to_f16x2(uint8_t codes) {
#if !QK_HAS_FP4_CVT
  qk_trap_unsupported("cvt.f16x2.e2m1x2");
  return 0;
#elif defined(QKERN_SIM)
  return uint32_t(f32_to_f16(e2m1_to_f32(codes & 0xFu))) | uint32_t(f32_to_f16(e2m1_to_f32(codes >> 4))) << 16;
#else
  uint32_t r;
  asm volatile("{\n.reg .b8 b0, b1, b2, b3;\nmov.b32 {b0, b1, b2, b3}, %1;\ncvt.rn.f16x2.e2m1x2 %0, b0;\n}\n"
               : "=r"(r) : "r"(uint32_t(codes)));
  return r;
#endif
}

__device__ __forceinline__ uint16_t cvt_e4m3x2(float lo, float hi) {
#if !QK_HAS_FP8
  qk_trap_unsupported("cvt.e4m3x2.f32");
  return 0;
#elif defined(QKERN_SIM)
  return uint16_t(f32_to_e4m3(lo) | f32_to_e4m3(hi) << 8);
#else
  uint16_t r;
  asm volatile("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(r) : "f"(hi), "f"(lo));
  return r;
#endif
}

__device__ __forceinline__ uint32_t cvt_e4m3x2_to_f16x2(uint16_t codes) {
#if !QK_HAS_FP8
  qk_trap_unsupported("cvt.f16x2.e4m3x2");
  return 0;
#elif defined(QKERN_SIM)
  return uint32_t(f32_to_f16(e4m3_to_f32(uint8_t(codes)))) | uint32_t(f32_to_f16(e4m3_to_f32(uint8_t(codes >> 8)))) << 16;
#else
  uint32_t r;
  asm volatile("cvt.rn.f16x2.e4m3x2 %0, %1;\n" : "=r"(r) : "h"(codes));
  return r;
#endif
}

__device__ __forceinline__ uint16_t cvt_ue8m0x2(float lo, float hi) {
#if !QK_HAS_FP4_CVT
  qk_trap_unsupported("cvt.rp.ue8m0x2.f32");
  return 0;
#elif defined(QKERN_SIM)
  return uint16_t(sim_twin::ue8m0_rp(lo) | sim_twin::ue8m0_rp(hi) << 8);
#else
  uint16_t r;
  asm volatile("cvt.rp.satfinite.ue8m0x2.f32 %0, %1, %2;\n" : "=h"(r) : "f"(hi), "f"(lo));
  return r;
#endif
}

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern::ptx
