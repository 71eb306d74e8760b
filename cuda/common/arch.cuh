// qkern's own arch macro, the one switch every arch-specific path tests.
//
//   QKERN_ARCH           800, 860, 890, 900, 1000, 1200 (the __CUDA_ARCH__ numbering);
//                        0 in host code. Under nvcc it is derived from __CUDA_ARCH__; the
//                        emulator build sets it per emulated arch (-DQKERN_ARCH=890).
//   QKERN_ARCH_SPECIFIC  1 for an arch-specific ("a") target: sm_90a, sm_100a, sm_120a.
//
// Feature predicates below are the only place that knows which arch has what; a wrapper
// compiled for an arch without its instruction becomes a trap (qk_trap_unsupported),
// never a silent no-op.
#pragma once

#if defined(QKERN_SIM)
#if !defined(QKERN_ARCH)
#error "QKERN_SIM builds must define QKERN_ARCH (the emulated arch, e.g. 800)"
#endif
#if !defined(QKERN_ARCH_SPECIFIC)
#define QKERN_ARCH_SPECIFIC 0
#endif
#elif defined(__CUDA_ARCH__)
#define QKERN_ARCH __CUDA_ARCH__
#if defined(__CUDA_ARCH_FEAT_SM90_ALL) || defined(__CUDA_ARCH_FEAT_SM100_ALL) || \
    defined(__CUDA_ARCH_FEAT_SM120_ALL) || defined(__CUDA_ARCH_FEAT_SM121_ALL)
#define QKERN_ARCH_SPECIFIC 1
#else
#define QKERN_ARCH_SPECIFIC 0
#endif
#else
#define QKERN_ARCH 0
#define QKERN_ARCH_SPECIFIC 0
#endif

// mma.sync m16n8k16 f16/bf16 and m16n8k32 s8, ldmatrix, cp.async: sm_80 and later.
#define QK_HAS_SM80 (QKERN_ARCH >= 800)
// mma.sync m16n8k64 s4: sm_80 and later in PTX (NUMERICS.md 4: slow or emulated on sm_90+).
#define QK_HAS_MMA_S4 (QKERN_ARCH >= 800)
// mma.sync m16n8k32 e4m3 and cvt to e4m3x2: sm_89 and later.
#define QK_HAS_FP8 (QKERN_ARCH >= 890)
// cvt to/from e2m1x2 and ue8m0x2: sm_100a / sm_120a (arch-specific features).
#define QK_HAS_FP4_CVT (QKERN_ARCH >= 1000 && QKERN_ARCH_SPECIFIC)
// Warp-level block-scaled mma (kind::mxf4nvf4): sm_120a only.
#define QK_HAS_MMA_BLOCK_SCALED (QKERN_ARCH >= 1200 && QKERN_ARCH_SPECIFIC)

#define QK_CAT2_(a, b) a##b
#define QK_CAT2(a, b) QK_CAT2_(a, b)
// Code whose body depends on QKERN_ARCH lives in this inline namespace, so that the
// emulator can link several emulated archs into one module without ODR clashes (the
// linker would otherwise keep one arch's body of an inline function for all). Under nvcc
// the name is fixed: the host and device passes see different __CUDA_ARCH__ values but
// must agree on kernel symbols.
#if defined(QKERN_SIM)
#define QKERN_ARCH_NAMESPACE QK_CAT2(QK_CAT2(sim_sm, QKERN_ARCH), QK_CAT2(_, QKERN_ARCH_SPECIFIC))
#else
#define QKERN_ARCH_NAMESPACE device
#endif
