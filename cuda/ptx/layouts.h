// Fragment layouts of the warp-level tensor-core instructions (NUMERICS.md section 4):
// which (row, col) of a tile lane `lane` holds as its element i. Used by the emulator's
// mma/ldmatrix twins to gather and scatter fragments, by probe kernels to build fragments,
// and checked against CuTe's MMA/copy traits (tests/sim/test_cute_layouts.py), so the
// emulator agrees with the hardware by construction.
//
// Notation: g = lane >> 2 (group), t = lane & 3 (thread in group). Element i of a fragment
// is counted from the lowest bits of register 0: a register holds 2 (16-bit), 4 (8-bit) or
// 8 (4-bit) elements.
//
//   shape        A (16 x K) element i of lane          B (K x 8) element i     C/D (16 x 8)
//   m16n8k16     (g + 8((i>>1)&1), 2t + (i&1) + 8(i>>2)) (2t + (i&1) + 8(i>>1), g)  (g + 8(i>>1), 2t + (i&1))
//   m16n8k32     (g + 8((i>>2)&1), 4t + (i&3) + 16(i>>3)) (4t + (i&3) + 16(i>>2), g)  same
//   m16n8k64     (g + 8((i>>3)&1), 8t + (i&7) + 32(i>>4)) (8t + (i&7) + 32(i>>3), g)  same
//
// All three are one formula in the per-register element count v = K / 8 (2, 4, 8):
// A (g + 8((i/v)&1), v t + (i%v) + 4v (i/(2v))), B (v t + (i%v) + 4v (i/v), g).
#pragma once
#include "qkern/macros.h"

namespace qkern::ptx {

struct Coord {
  int row, col;
};

// K of the m16n8kK shape (16, 32 or 64) -> elements per 32-bit register.
QK_HOST_DEVICE constexpr int mma_elems_per_reg(int k) { return k / 8; }

// Element i (0 .. K/2 - 1) of lane's A fragment -> (row in 0..15, col k in 0..K-1).
QK_HOST_DEVICE constexpr Coord mma_a_coord(int k, int lane, int i) {
  const int v = mma_elems_per_reg(k), g = lane >> 2, t = lane & 3;
  return {g + 8 * ((i / v) & 1), v * t + i % v + 4 * v * (i / (2 * v))};
}

// Element i (0 .. K/4 - 1) of lane's B fragment -> (row k in 0..K-1, col n in 0..7).
QK_HOST_DEVICE constexpr Coord mma_b_coord(int k, int lane, int i) {
  const int v = mma_elems_per_reg(k), g = lane >> 2, t = lane & 3;
  return {v * t + i % v + 4 * v * (i / v), g};
}

// Element i (0..3) of lane's C/D fragment -> (row 0..15, col 0..7).
QK_HOST_DEVICE constexpr Coord mma_c_coord(int lane, int i) {
  return {(lane >> 2) + 8 * (i >> 1), 2 * (lane & 3) + (i & 1)};
}

// Block-scaled m16n8k64 (sm_120a, thread-id/byte-id selectors 0): the row of A whose
// scale factors lane holds (byte j = K block j), and the column of B. Lanes with
// (lane & 2) hold copies (CuTe SFALayout mode 2:0), all 4 lanes of a group copies for B.
QK_HOST_DEVICE constexpr int mma_sfa_row(int lane) { return (lane >> 2) + 8 * (lane & 1); }
QK_HOST_DEVICE constexpr int mma_sfb_col(int lane) { return lane >> 2; }

// ldmatrix .m8n8 .b16: half h (0, 1) of register j of lane -> (row, col) of 8x8 matrix j.
// Lanes 8j .. 8j+7 supply the row addresses of matrix j. With .trans the matrix is read
// transposed.
QK_HOST_DEVICE constexpr Coord ldmatrix_coord(bool trans, int lane, int h) {
  return trans ? Coord{2 * (lane & 3) + h, lane >> 2} : Coord{lane >> 2, 2 * (lane & 3) + h};
}

}  // namespace qkern::ptx
