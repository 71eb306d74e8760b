// ldmatrix wrappers: ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16 (sm_75+; qkern
// requires sm_80). Lanes 8j .. 8j+7 pass the shared-memory addresses of the 8 rows (16
// bytes each, 16-byte aligned) of matrix j; register j of every lane receives two b16
// elements of matrix j at ptx::ldmatrix_coord(trans, lane, 0/1) (layouts.h). Lanes beyond
// the matrices in use (x1: 8..31, x2: 16..31) still take part; their addresses are ignored.
//
// Emulator twin: one warp collective; the last lane reads the rows through the gathered
// addresses and fills every lane's registers.
#pragma once
#include <cstdint>
#include <cstring>

#include "cuda/common/prelude.cuh"
#include "cuda/ptx/layouts.h"

namespace qkern::ptx {
inline namespace QKERN_ARCH_NAMESPACE {  // bodies depend on QKERN_ARCH (common/arch.cuh)

#if defined(QKERN_SIM)
namespace sim_twin {

struct LdmatrixLane {
  const unsigned char* row;  // this lane's row address
  uint32_t r[4];
};

// tag = number of matrices | trans << 4
inline void ldmatrix_fn(void* const* lanes, uint32_t, uint32_t tag) {
  const int num = int(tag & 0xF);
  const bool trans = tag >> 4;
  auto L = [&](int l) { return static_cast<LdmatrixLane*>(lanes[l]); };
  for (int j = 0; j < num; ++j)
    for (int r = 0; r < 8; ++r)
      if (reinterpret_cast<uintptr_t>(L(8 * j + r)->row) % 16)
        ::qkern::sim::fail("ldmatrix: row address of lane " + std::to_string(8 * j + r) + " is not 16-byte aligned");
  for (int l = 0; l < 32; ++l)
    for (int j = 0; j < num; ++j) {
      uint32_t v = 0;
      for (int h = 0; h < 2; ++h) {
        Coord c = ldmatrix_coord(trans, l, h);
        uint16_t e;
        std::memcpy(&e, L(8 * j + c.row)->row + 2 * c.col, 2);
        v |= uint32_t(e) << (16 * h);
      }
      L(l)->r[j] = v;
    }
}

inline constexpr ::qkern::sim::CollectiveKind kLdmatrix{"ldmatrix", ldmatrix_fn};

template <int kNum>
inline void run_ldmatrix(uint32_t (&r)[kNum], const void* row, bool trans) {
  LdmatrixLane lane{static_cast<const unsigned char*>(row), {}};
  ::qkern::sim::warp_collective(kLdmatrix, 0xFFFFFFFFu, uint32_t(kNum) | (trans ? 0x10u : 0u), &lane);
  for (int j = 0; j < kNum; ++j) r[j] = lane.r[j];
}

}  // namespace sim_twin
#else
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
#endif

#if defined(QKERN_SIM)
#define QK_LDMATRIX_BODY(num, trans, asm_text, ...) sim_twin::run_ldmatrix<num>(r, row, trans)
#else
#define QK_LDMATRIX_BODY(num, trans, asm_text, ...) asm volatile(asm_text : __VA_ARGS__ : "r"(smem_addr(row)))
#endif

// x1: matrix 0 from lanes 0..7.
__device__ __forceinline__ void ldmatrix_x1(uint32_t (&r)[1], const void* row) {
#if !QK_HAS_SM80
  qk_trap_unsupported("ldmatrix");
#else
  QK_LDMATRIX_BODY(1, false, "ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n", "=r"(r[0]));
#endif
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t (&r)[2], const void* row) {
#if !QK_HAS_SM80
  qk_trap_unsupported("ldmatrix");
#else
  QK_LDMATRIX_BODY(2, false, "ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n", "=r"(r[0]), "=r"(r[1]));
#endif
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
#if !QK_HAS_SM80
  qk_trap_unsupported("ldmatrix");
#else
  QK_LDMATRIX_BODY(4, false, "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n", "=r"(r[0]),
                   "=r"(r[1]), "=r"(r[2]), "=r"(r[3]));
#endif
}
__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t (&r)[1], const void* row) {
#if !QK_HAS_SM80
  qk_trap_unsupported("ldmatrix");
#else
  QK_LDMATRIX_BODY(1, true, "ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n", "=r"(r[0]));
#endif
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t (&r)[2], const void* row) {
#if !QK_HAS_SM80
  qk_trap_unsupported("ldmatrix");
#else
  QK_LDMATRIX_BODY(2, true, "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n", "=r"(r[0]),
                   "=r"(r[1]));
#endif
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
#if !QK_HAS_SM80
  qk_trap_unsupported("ldmatrix");
#else
  QK_LDMATRIX_BODY(4, true, "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n", "=r"(r[0]),
                   "=r"(r[1]), "=r"(r[2]), "=r"(r[3]));
#endif
}

#undef QK_LDMATRIX_BODY

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern::ptx
