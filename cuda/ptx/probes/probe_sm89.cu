// Probes of the sm_89 wrappers (FP8): mma m16n8k32 e4m3 and the e4m3x2 conversions.
// Compiled for archs >= sm_89 in _C_cuda; in _C_sim at sm_89 and, to prove the traps, sm_80.
#include "cuda/ptx/cvt.cuh"
#include "cuda/ptx/probes/mma_probe.cuh"

namespace qkern::ptx_probes {
inline namespace QKERN_ARCH_NAMESPACE {

// cvt_e4m3x2: in0 = lo, in1 = hi (f32) -> out u16.  to_f16x2: in0 = u16 codes -> out u32.
struct E4m3x2 {
  __device__ uint16_t operator()(float lo, float hi, float) const { return ptx::cvt_e4m3x2(lo, hi); }
};
struct E4m3x2ToF16x2 {
  __device__ uint32_t operator()(uint16_t c, uint16_t, uint16_t) const { return ptx::cvt_e4m3x2_to_f16x2(c); }
};

Status run_e4m3x2(const ProbeArgs& p, cudaStream_t s) { return run_map_probe<uint16_t, float>(p, s, E4m3x2{}); }
Status run_e4m3x2_to_f16x2(const ProbeArgs& p, cudaStream_t s) {
  return run_map_probe<uint32_t, uint16_t>(p, s, E4m3x2ToF16x2{});
}

const bool kRegistered[] = {
    add("mma_e4m3", QK_PROBE_ARCH, run_mma_probe<MmaInput::kE4M3, MmaScale::kNone>),
    add("cvt_e4m3x2", QK_PROBE_ARCH, run_e4m3x2),
    add("cvt_e4m3x2_to_f16x2", QK_PROBE_ARCH, run_e4m3x2_to_f16x2),
};

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern::ptx_probes
