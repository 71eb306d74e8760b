// Probes of the sm_120a wrappers: block-scaled mma (kind::mxf4nvf4, ue8m0 x2 and ue4m3 x4)
// and the e2m1x2 / ue8m0x2 conversions. Compiled only for sm_120a in _C_cuda (defines
// QKERN_HAS_PROBE_SM120A); in _C_sim at sm_120a and, to prove the traps, sm_80.
#include "cuda/ptx/cvt.cuh"
#include "cuda/ptx/probes/mma_probe.cuh"

namespace qkern::ptx_probes {
inline namespace QKERN_ARCH_NAMESPACE {

// cvt_e2m1x2 / cvt_ue8m0x2: in0 = lo, in1 = hi (f32) -> out u8 / u16.
// cvt_e2m1x2_to_f16x2: in0 = u8 codes -> out u32.
struct E2m1x2 {
  __device__ uint8_t operator()(float lo, float hi, float) const { return ptx::cvt_e2m1x2(lo, hi); }
};
struct Ue8m0x2 {
  __device__ uint16_t operator()(float lo, float hi, float) const { return ptx::cvt_ue8m0x2(lo, hi); }
};
struct E2m1x2ToF16x2 {
  __device__ uint32_t operator()(uint8_t c, uint8_t, uint8_t) const { return ptx::cvt_e2m1x2_to_f16x2(c); }
};

Status run_e2m1x2(const ProbeArgs& p, cudaStream_t s) { return run_map_probe<uint8_t, float>(p, s, E2m1x2{}); }
Status run_ue8m0x2(const ProbeArgs& p, cudaStream_t s) { return run_map_probe<uint16_t, float>(p, s, Ue8m0x2{}); }
Status run_e2m1x2_to_f16x2(const ProbeArgs& p, cudaStream_t s) {
  return run_map_probe<uint32_t, uint8_t>(p, s, E2m1x2ToF16x2{});
}

const bool kRegistered[] = {
    add("mma_e2m1_ue8m0", QK_PROBE_ARCH, run_mma_probe<MmaInput::kE2M1, MmaScale::kUe8m0x2>),
    add("mma_e2m1_ue4m3", QK_PROBE_ARCH, run_mma_probe<MmaInput::kE2M1, MmaScale::kUe4m3x4>),
    add("cvt_e2m1x2", QK_PROBE_ARCH, run_e2m1x2),
    add("cvt_ue8m0x2", QK_PROBE_ARCH, run_ue8m0x2),
    add("cvt_e2m1x2_to_f16x2", QK_PROBE_ARCH, run_e2m1x2_to_f16x2),
};

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern::ptx_probes
