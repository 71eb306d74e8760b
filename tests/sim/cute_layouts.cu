// Prints CuTe's (thread, value) -> coordinate maps of the MMA and ldmatrix traits that the
// emulator's layout functions (cuda/ptx/layouts.h) must match. Host-only program; compiled
// by tests/sim/test_cute_layouts.py with nvcc against the nvidia-cutlass headers (plain g++
// cannot parse them). Output, one line per (thread, value):
//   mma <trait> <operand> <thr> <val> <row> <col>   operand tile (rows x cols), col-major index
//   copy <trait> <dst thr> <dst bit> <src thr> <src bit>   ldmatrix: which lane's row
//                                                        address and which bit of that row
#include <cstdio>

#include <cute/atom/copy_traits_sm75.hpp>
#include <cute/atom/mma_traits_sm120.hpp>
#include <cute/atom/mma_traits_sm80.hpp>
#include <cute/atom/mma_traits_sm89.hpp>

using namespace cute;

template <class Layout>
void print_tv(const char* trait, const char* operand, Layout layout, int rows) {
  for (int t = 0; t < 32; ++t)
    for (int v = 0; v < int(size<1>(layout)); ++v) {
      int idx = int(layout(t, v));
      std::printf("mma %s %s %d %d %d %d\n", trait, operand, t, v, idx % rows, idx / rows);
    }
}

template <class Op>
void print_mma(const char* trait) {
  using T = MMA_Traits<Op>;
  constexpr int M = int(size<0>(typename T::Shape_MNK{}));
  constexpr int N = int(size<1>(typename T::Shape_MNK{}));
  print_tv(trait, "A", typename T::ALayout{}, M);
  print_tv(trait, "B", typename T::BLayout{}, N);
  print_tv(trait, "C", typename T::CLayout{}, M);
}

template <class Op>
void print_scaled_mma(const char* trait) {
  using T = MMA_Traits<Op>;
  print_mma<Op>(trait);
  print_tv(trait, "SFA", typename T::SFALayout{}, 16);
  print_tv(trait, "SFB", typename T::SFBLayout{}, 8);
}

// Values flow from the source (thr, bit) whose SrcLayout index equals the destination's
// DstLayout index; SrcLayout is (32 threads, 128 bits of the row each) -> 128 t + b.
template <class Op>
void print_copy(const char* trait) {
  using T = Copy_Traits<Op>;
  typename T::DstLayout dst;
  for (int t = 0; t < 32; ++t)
    for (int v = 0; v < int(size<1>(dst)); v += 16) {  // one line per 16-bit element
      int ref = int(dst(t, v));
      std::printf("copy %s %d %d %d %d\n", trait, t, v, ref / 128, ref % 128);
    }
}

int main() {
  print_mma<SM80_16x8x16_F32BF16BF16F32_TN>("SM80_16x8x16_F32BF16BF16F32_TN");
  print_mma<SM80_16x8x16_F32F16F16F32_TN>("SM80_16x8x16_F32F16F16F32_TN");
  print_mma<SM80_16x8x32_S32S8S8S32_TN>("SM80_16x8x32_S32S8S8S32_TN");
  print_mma<SM80_16x8x64_S32S4S4S32_TN>("SM80_16x8x64_S32S4S4S32_TN");
  print_mma<SM89_16x8x32_F32E4M3E4M3F32_TN>("SM89_16x8x32_F32E4M3E4M3F32_TN");
  print_scaled_mma<SM120::BLOCKSCALED::SM120_16x8x64_TN_VS<float_e2m1_t, float_e2m1_t, float, float_ue8m0_t, 32>>(
      "SM120_16x8x64_TN_VS_ue8m0_32");
  print_scaled_mma<SM120::BLOCKSCALED::SM120_16x8x64_TN_VS<float_e2m1_t, float_e2m1_t, float, float_ue4m3_t, 16>>(
      "SM120_16x8x64_TN_VS_ue4m3_16");
  print_copy<SM75_U32x1_LDSM_N>("SM75_U32x1_LDSM_N");
  print_copy<SM75_U32x2_LDSM_N>("SM75_U32x2_LDSM_N");
  print_copy<SM75_U32x4_LDSM_N>("SM75_U32x4_LDSM_N");
  print_copy<SM75_U16x2_LDSM_T>("SM75_U16x2_LDSM_T");
  print_copy<SM75_U16x4_LDSM_T>("SM75_U16x4_LDSM_T");
  print_copy<SM75_U16x8_LDSM_T>("SM75_U16x8_LDSM_T");
  return 0;
}
