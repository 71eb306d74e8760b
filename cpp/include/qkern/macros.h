// Portability macros for code shared by the CPU kernels, the CUDA kernels and the SIMT
// emulator. Under nvcc QK_HOST_DEVICE marks a function for both sides; under the host
// compiler (CPU build and QKERN_SIM) it is empty.
#pragma once

#if defined(__CUDACC__)
#define QK_HOST_DEVICE __host__ __device__
#define QK_FORCEINLINE __forceinline__
#else
#define QK_HOST_DEVICE
#define QK_FORCEINLINE inline __attribute__((always_inline))
#endif
