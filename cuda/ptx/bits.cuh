// Bit-manipulation wrappers used by dequantization (Marlin-style magic numbers):
//   lop3<LUT>(a, b, c)  any 3-input boolean function, LUT = f(0xF0, 0xCC, 0xAA)
//   prmt(a, b, sel)     byte permute of {b, a} (a = bytes 0..3): result byte i = byte
//                       sel[4i+2 : 4i] of the pair; if sel bit 4i+3 is set the selected
//                       byte's sign bit is replicated over the result byte instead
//   lane_id()           %laneid
// Every arch qkern targets has them; the emulator twins are plain C++.
#pragma once
#include <cstdint>

#include "cuda/common/prelude.cuh"

namespace qkern::ptx {
inline namespace QKERN_ARCH_NAMESPACE {  // bodies depend on QKERN_ARCH (common/arch.cuh)

template <int kLut>
__device__ __forceinline__ uint32_t lop3(uint32_t a, uint32_t b, uint32_t c) {
  static_assert(kLut >= 0 && kLut <= 255, "lop3: LUT is 8 bits");
#if defined(QKERN_SIM)
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i) {
    int idx = int((a >> i & 1u) << 2 | (b >> i & 1u) << 1 | (c >> i & 1u));
    r |= uint32_t((kLut >> idx) & 1) << i;
  }
  return r;
#else
  uint32_t r;
  asm volatile("lop3.b32 %0, %1, %2, %3, %4;\n" : "=r"(r) : "r"(a), "r"(b), "r"(c), "n"(kLut));
  return r;
#endif
}

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
#if defined(QKERN_SIM)
  const uint64_t pair = uint64_t(b) << 32 | a;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) {
    const uint32_t s = sel >> (4 * i);
    uint32_t byte = uint32_t(pair >> (8 * (s & 7u))) & 0xFFu;
    if (s & 8u) byte = (byte & 0x80u) ? 0xFFu : 0u;
    r |= byte << (8 * i);
  }
  return r;
#else
  uint32_t r;
  asm volatile("prmt.b32 %0, %1, %2, %3;\n" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
#endif
}

__device__ __forceinline__ unsigned lane_id() {
#if defined(QKERN_SIM)
  return ::qkern::sim::lane_id();
#else
  unsigned l;
  asm volatile("mov.u32 %0, %%laneid;\n" : "=r"(l));
  return l;
#endif
}

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern::ptx
