// The CUDA device vocabulary for the host compiler (QKERN_SIM): included by
// common/prelude.cuh only. Maps the execution-space keywords, the built-in index variables,
// barriers, warp intrinsics, atomics and bit intrinsics onto the emulator (runtime.h).
//
// Semantics follow the CUDA C++ Programming Guide; where the hardware leaves a case
// undefined (a shuffle reading a lane outside the mask, a barrier in divergent code), the
// emulator reports an error instead of picking a value.
#pragma once

#if !defined(QKERN_SIM)
#error "sim/device.h is for QKERN_SIM builds only"
#endif

// Keywords first, so that CUDA's host_defines.h (pulled in by vector_types.h) keeps ours;
// if a CUDA header came earlier, its attribute spellings are replaced.
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __noinline__
#undef __launch_bounds__
#undef __grid_constant__
#undef __shared__
#undef __constant__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __grid_constant__
// One block runs at a time on an OS thread, so block-shared storage is function-static;
// thread_local lets two OS threads emulate at once.
#define __shared__ static thread_local
#define __constant__ static

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <vector_types.h>
#include <vector_functions.h>  // make_uint4, ...
#include <driver_types.h>  // cudaStream_t (a pointer; the emulator ignores streams)

#include "cuda/sim/runtime.h"

#define threadIdx (::qkern::sim::thread_idx())
#define blockIdx (::qkern::sim::block_idx())
#define blockDim (::qkern::sim::block_dim())
#define gridDim (::qkern::sim::grid_dim())
#ifndef warpSize
#define warpSize 32
#endif

namespace qkern::sim::intrinsics {

// ---------------------------------------------------------------- barriers, traps

inline void __syncthreads() { ::qkern::sim::syncthreads(); }
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __nanosleep(unsigned) {}
[[noreturn]] inline void __trap() { ::qkern::sim::fail("__trap() executed"); }

// ---------------------------------------------------------------- warp collectives

// Payload of one lane at a shuffle / vote: its value, the lane it reads, its result.
struct WarpSlot {
  uint64_t value;
  int src;
  uint64_t result;
};

inline void shfl_fn(void* const* lanes, uint32_t mask, uint32_t) {
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    auto* s = static_cast<WarpSlot*>(lanes[l]);
    if (!(mask >> s->src & 1u))
      ::qkern::sim::fail("__shfl*_sync: lane " + std::to_string(l) + " reads lane " +
                         std::to_string(s->src) + ", which is not in the mask (undefined)");
    s->result = static_cast<WarpSlot*>(lanes[s->src])->value;
  }
}

inline void ballot_fn(void* const* lanes, uint32_t mask, uint32_t) {
  uint64_t bits = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && static_cast<WarpSlot*>(lanes[l])->value) bits |= 1ull << l;
  for (int l = 0; l < 32; ++l)
    if (mask >> l & 1u) static_cast<WarpSlot*>(lanes[l])->result = bits;
}

// __reduce_*_sync: the tag selects the operation (0 add, 1 min, 2 max, 3 and, 4 or, 5 xor)
// and whether values are signed (bit 8).
inline void reduce_fn(void* const* lanes, uint32_t mask, uint32_t tag) {
  const bool is_signed = tag & 0x100u;
  uint64_t acc = 0;
  bool first = true;
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    uint32_t v = uint32_t(static_cast<WarpSlot*>(lanes[l])->value);
    if (first) { acc = v; first = false; continue; }
    uint32_t a = uint32_t(acc);
    switch (tag & 0xFFu) {
      case 0: a += v; break;
      case 1: a = is_signed ? uint32_t(std::min(int32_t(a), int32_t(v))) : std::min(a, v); break;
      case 2: a = is_signed ? uint32_t(std::max(int32_t(a), int32_t(v))) : std::max(a, v); break;
      case 3: a &= v; break;
      case 4: a |= v; break;
      default: a ^= v; break;
    }
    acc = a;
  }
  for (int l = 0; l < 32; ++l)
    if (mask >> l & 1u) static_cast<WarpSlot*>(lanes[l])->result = acc;
}

inline void syncwarp_fn(void* const*, uint32_t, uint32_t) {}

inline constexpr ::qkern::sim::CollectiveKind kShfl{"__shfl_sync", shfl_fn};
inline constexpr ::qkern::sim::CollectiveKind kShflUp{"__shfl_up_sync", shfl_fn};
inline constexpr ::qkern::sim::CollectiveKind kShflDown{"__shfl_down_sync", shfl_fn};
inline constexpr ::qkern::sim::CollectiveKind kShflXor{"__shfl_xor_sync", shfl_fn};
inline constexpr ::qkern::sim::CollectiveKind kBallot{"__ballot_sync", ballot_fn};
inline constexpr ::qkern::sim::CollectiveKind kAny{"__any_sync", ballot_fn};
inline constexpr ::qkern::sim::CollectiveKind kAll{"__all_sync", ballot_fn};
inline constexpr ::qkern::sim::CollectiveKind kReduce{"__reduce_*_sync", reduce_fn};
inline constexpr ::qkern::sim::CollectiveKind kSyncwarp{"__syncwarp", syncwarp_fn};

template <class T>
uint64_t to_slot(T v) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "shuffles move 4- or 8-byte values");
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}
template <class T>
T from_slot(uint64_t u) {
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}

// Width must be a power of two in [1, 32]; lanes form independent groups of `width`.
inline void check_width(int width) {
  if (width < 1 || width > 32 || (width & (width - 1)))
    ::qkern::sim::fail("__shfl*_sync width " + std::to_string(width) + " is not a power of two <= 32");
}

template <class T>
T shuffle(const ::qkern::sim::CollectiveKind& kind, uint32_t mask, T var, int src, int width) {
  WarpSlot s{to_slot(var), src, 0};
  ::qkern::sim::warp_collective(kind, mask, uint32_t(width) | uint32_t(sizeof(T)) << 8, &s);
  return from_slot<T>(s.result);
}

template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32) {
  check_width(width);
  int lane = int(::qkern::sim::lane_id());
  return shuffle(kShfl, mask, var, (lane & ~(width - 1)) + (src_lane & (width - 1)), width);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32) {
  check_width(width);
  int lane = int(::qkern::sim::lane_id());
  int src = (lane & (width - 1)) >= int(delta) ? lane - int(delta) : lane;
  return shuffle(kShflUp, mask, var, src, width);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
  check_width(width);
  int lane = int(::qkern::sim::lane_id());
  int src = (lane & (width - 1)) + int(delta) < width ? lane + int(delta) : lane;
  return shuffle(kShflDown, mask, var, src, width);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32) {
  check_width(width);
  int lane = int(::qkern::sim::lane_id());
  int src = lane ^ lane_mask;
  if (src >= (lane & ~(width - 1)) + width) src = lane;  // later groups: own value
  return shuffle(kShflXor, mask, var, src, width);
}

inline unsigned __ballot_sync(unsigned mask, int pred) {
  WarpSlot s{uint64_t(pred != 0), 0, 0};
  ::qkern::sim::warp_collective(kBallot, mask, 0, &s);
  return unsigned(s.result);
}
inline int __any_sync(unsigned mask, int pred) {
  WarpSlot s{uint64_t(pred != 0), 0, 0};
  ::qkern::sim::warp_collective(kAny, mask, 0, &s);
  return s.result != 0;
}
inline int __all_sync(unsigned mask, int pred) {
  WarpSlot s{uint64_t(pred != 0), 0, 0};
  ::qkern::sim::warp_collective(kAll, mask, 0, &s);
  return uint32_t(s.result) == mask;
}
inline void __syncwarp(unsigned mask = 0xFFFFFFFFu) {
  ::qkern::sim::warp_collective(kSyncwarp, mask, 0, nullptr);
}
inline unsigned __activemask() { return ::qkern::sim::live_lanes(); }

template <class T>
T reduce_sync(unsigned mask, T v, uint32_t op) {
  WarpSlot s{uint64_t(uint32_t(v)), 0, 0};
  ::qkern::sim::warp_collective(kReduce, mask, op | (std::is_signed<T>::value ? 0x100u : 0u), &s);
  return T(uint32_t(s.result));
}
inline unsigned __reduce_add_sync(unsigned m, unsigned v) { return reduce_sync(m, v, 0); }
inline int __reduce_add_sync(unsigned m, int v) { return reduce_sync(m, v, 0); }
inline unsigned __reduce_min_sync(unsigned m, unsigned v) { return reduce_sync(m, v, 1); }
inline int __reduce_min_sync(unsigned m, int v) { return reduce_sync(m, v, 1); }
inline unsigned __reduce_max_sync(unsigned m, unsigned v) { return reduce_sync(m, v, 2); }
inline int __reduce_max_sync(unsigned m, int v) { return reduce_sync(m, v, 2); }
inline unsigned __reduce_and_sync(unsigned m, unsigned v) { return reduce_sync(m, v, 3); }
inline unsigned __reduce_or_sync(unsigned m, unsigned v) { return reduce_sync(m, v, 4); }
inline unsigned __reduce_xor_sync(unsigned m, unsigned v) { return reduce_sync(m, v, 5); }

// ---------------------------------------------------------------- atomics
// Fibers never run concurrently and switch only at collectives, so a read-modify-write
// is atomic by construction.

template <class T> T atomicAdd(T* p, T v) { T o = *p; *p = o + v; return o; }
template <class T> T atomicSub(T* p, T v) { T o = *p; *p = o - v; return o; }
template <class T> T atomicMax(T* p, T v) { T o = *p; *p = o < v ? v : o; return o; }
template <class T> T atomicMin(T* p, T v) { T o = *p; *p = v < o ? v : o; return o; }
template <class T> T atomicAnd(T* p, T v) { T o = *p; *p = o & v; return o; }
template <class T> T atomicOr(T* p, T v) { T o = *p; *p = o | v; return o; }
template <class T> T atomicXor(T* p, T v) { T o = *p; *p = o ^ v; return o; }
template <class T> T atomicExch(T* p, T v) { T o = *p; *p = v; return o; }
template <class T> T atomicCAS(T* p, T cmp, T v) { T o = *p; if (o == cmp) *p = v; return o; }

// ---------------------------------------------------------------- bits and floats

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
// Byte i of the result is byte (s >> 4i) & 7 of the 8-byte value {y, x} (x = bytes 0..3).
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
  uint64_t v = uint64_t(y) << 32 | x;
  unsigned r = 0;
  for (int i = 0; i < 4; ++i) r |= unsigned((v >> (8 * ((s >> (4 * i)) & 7u))) & 0xFFu) << (8 * i);
  return r;
}
// Funnel shifts of the 64-bit value {hi, lo}: the shift is taken mod 32 ("wrap").
inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned s) {
  return unsigned(((uint64_t(hi) << 32 | lo) << (s & 31)) >> 32);
}
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned s) {
  return unsigned((uint64_t(hi) << 32 | lo) >> (s & 31));
}
inline unsigned __funnelshift_lc(unsigned lo, unsigned hi, unsigned s) {
  return s >= 32 ? lo : __funnelshift_l(lo, hi, s);
}
inline unsigned __funnelshift_rc(unsigned lo, unsigned hi, unsigned s) {
  return s >= 32 ? hi : __funnelshift_r(lo, hi, s);
}
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __float_as_int(float f) { int u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
// Correctly rounded single operations (the build uses -ffp-contract=off, so no FMA forms).
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
template <class T> T __ldg(const T* p) { return *p; }

// CUDA's device-side min/max overloads.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a < b ? b : a; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a < b ? b : a; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a < b ? b : a; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

}  // namespace qkern::sim::intrinsics

// Kernel code calls the intrinsics unqualified, as under nvcc.
using namespace ::qkern::sim::intrinsics;
