// Probes of the sm_80 wrappers: mma bf16/f16/s8/s4, ldmatrix x1/x2/x4 (.trans), cp.async
// groups, lop3, prmt. Op names and buffers are listed at the registrations below.
#include "cuda/ptx/bits.cuh"
#include "cuda/ptx/cp_async.cuh"
#include "cuda/ptx/ldmatrix.cuh"
#include "cuda/ptx/probes/mma_probe.cuh"

namespace qkern::ptx_probes {
inline namespace QKERN_ARCH_NAMESPACE {

// ldmatrix: in0 = 4 matrices of 8 x 8 u16 (row-major, matrix-major); out = u32 [32][kNum].
// The matrices are staged in shared memory with a row pitch of 24 halves (48 bytes) so the
// row addresses are 16-byte aligned but not contiguous.
template <int kNum, bool kTrans>
__global__ void ldmatrix_probe_kernel(const uint16_t* in, uint32_t* out) {
  constexpr int kPitch = 24;
  __shared__ __align__(16) uint16_t tile[4 * 8 * kPitch];
  const int lane = threadIdx.x;
  for (int i = lane; i < 4 * 64; i += 32) tile[(i / 8) * kPitch + i % 8] = in[i];
  __syncwarp();
  const uint16_t* row = tile + ((lane / 8) % kNum * 8 + lane % 8) * kPitch;
  uint32_t r[kNum];
  if constexpr (kNum == 1) kTrans ? ptx::ldmatrix_x1_trans(r, row) : ptx::ldmatrix_x1(r, row);
  else if constexpr (kNum == 2) kTrans ? ptx::ldmatrix_x2_trans(r, row) : ptx::ldmatrix_x2(r, row);
  else kTrans ? ptx::ldmatrix_x4_trans(r, row) : ptx::ldmatrix_x4(r, row);
  for (int j = 0; j < kNum; ++j) out[lane * kNum + j] = r[j];
}

template <int kNum, bool kTrans>
Status run_ldmatrix(const ProbeArgs& p, cudaStream_t s) {
  return launch({"ldmatrix_probe", dim3(1), dim3(32), 0, s}, ldmatrix_probe_kernel<kNum, kTrans>,
                static_cast<const uint16_t*>(p.in[0]), static_cast<uint32_t*>(p.out));
}

// cp.async: in0 = 1024 bytes (two sources of 512), out = 4 x 512 bytes, one 16-byte chunk
// per lane in each: [0] buffer 0 right after issuing both groups (stale in the emulator,
// racy on a GPU), [1] buffer 0 after wait_group 1 (landed), [2] buffer 1 at the same time
// (stale in the emulator, racy on a GPU), [3] buffer 1 after wait_group 0 (landed).
__global__ void cp_async_probe_kernel(const uint4* in, uint4* out) {
  __shared__ __align__(16) uint4 buf[2][32];
  const int lane = threadIdx.x;
  const uint4 sentinel = make_uint4(0xEEEEEEEEu, 0xEEEEEEEEu, 0xEEEEEEEEu, 0xEEEEEEEEu);
  buf[0][lane] = sentinel;
  buf[1][lane] = sentinel;
  ptx::cp_async_16(&buf[0][lane], &in[lane]);
  ptx::cp_async_commit();
  ptx::cp_async_16(&buf[1][lane], &in[32 + lane]);
  ptx::cp_async_commit();
  out[lane] = buf[0][lane];
  ptx::cp_async_wait<1>();
  out[32 + lane] = buf[0][lane];
  out[64 + lane] = buf[1][lane];
  ptx::cp_async_wait<0>();
  out[96 + lane] = buf[1][lane];
}

Status run_cp_async(const ProbeArgs& p, cudaStream_t s) {
  return launch({"cp_async_probe", dim3(1), dim3(32), 0, s}, cp_async_probe_kernel,
                static_cast<const uint4*>(p.in[0]), static_cast<uint4*>(p.out));
}

// Element-wise u32 functors: out = lop3<0x96>(a, b, c) (a ^ b ^ c), lop3<0xE8> (majority),
// prmt(a, b, c) (c = selector).
struct Xor3 {
  __device__ uint32_t operator()(uint32_t a, uint32_t b, uint32_t c) const { return ptx::lop3<0x96>(a, b, c); }
};
struct Majority {
  __device__ uint32_t operator()(uint32_t a, uint32_t b, uint32_t c) const { return ptx::lop3<0xE8>(a, b, c); }
};
struct Prmt {
  __device__ uint32_t operator()(uint32_t a, uint32_t b, uint32_t c) const { return ptx::prmt(a, b, c); }
};

Status run_xor3(const ProbeArgs& p, cudaStream_t s) { return run_map_probe<uint32_t, uint32_t>(p, s, Xor3{}); }
Status run_majority(const ProbeArgs& p, cudaStream_t s) { return run_map_probe<uint32_t, uint32_t>(p, s, Majority{}); }
Status run_prmt(const ProbeArgs& p, cudaStream_t s) { return run_map_probe<uint32_t, uint32_t>(p, s, Prmt{}); }

const bool kRegistered[] = {
    add("mma_bf16", QK_PROBE_ARCH, run_mma_probe<MmaInput::kBF16, MmaScale::kNone>),
    add("mma_f16", QK_PROBE_ARCH, run_mma_probe<MmaInput::kF16, MmaScale::kNone>),
    add("mma_s8", QK_PROBE_ARCH, run_mma_probe<MmaInput::kS8, MmaScale::kNone>),
    add("mma_s4", QK_PROBE_ARCH, run_mma_probe<MmaInput::kS4, MmaScale::kNone>),
    add("ldmatrix_x1", QK_PROBE_ARCH, run_ldmatrix<1, false>),
    add("ldmatrix_x2", QK_PROBE_ARCH, run_ldmatrix<2, false>),
    add("ldmatrix_x4", QK_PROBE_ARCH, run_ldmatrix<4, false>),
    add("ldmatrix_x1_trans", QK_PROBE_ARCH, run_ldmatrix<1, true>),
    add("ldmatrix_x2_trans", QK_PROBE_ARCH, run_ldmatrix<2, true>),
    add("ldmatrix_x4_trans", QK_PROBE_ARCH, run_ldmatrix<4, true>),
    add("cp_async", QK_PROBE_ARCH, run_cp_async),
    add("lop3_xor3", QK_PROBE_ARCH, run_xor3),
    add("lop3_majority", QK_PROBE_ARCH, run_majority),
    add("prmt", QK_PROBE_ARCH, run_prmt),
};

}  // namespace QKERN_ARCH_NAMESPACE
}  // namespace qkern::ptx_probes
