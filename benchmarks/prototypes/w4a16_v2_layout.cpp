// Prototype microbenchmark (not part of the library; the evidence behind the CPU layout
// v2, docs/gemm.md "How the v2 layout was chosen"): W4A16 GEMV at M = 1, qkern's former
// AVX-512 bf16 layout (v1, n8k8 tiles, two strips per zmm, UNPCK decode) against a
// shuffle-free layout (v2: n16k8 tiles, one channel's 8 codes per 32-bit lane, nibbles in
// order c0 c2 c4 c6 c1 c3 c5 c7) decoded by shift + VPTERNLOG (offset words, as v1) or by
// shift + VPERMW from a 32-entry table of exact bf16 values ("v2d": no offset, one kernel
// for INT4 and FP4). N = K = 4096, group 128, symmetric, bf16 x, fp32 accumulation; each
// kernel is checked against a double-precision reference before timing. Modes: hot (one
// 8 MiB weight), cold (a rotation over copies), l2 (each thread repeats a 512 KiB block).
//
// Build: g++ -O3 -march=native -fopenmp -o w4a16_v2_layout w4a16_v2_layout.cpp
// Run:   ./w4a16_v2_layout [reps=41] [copies=12] ["kernel,kernel,..."]
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#define FI __attribute__((always_inline)) inline

static constexpr int N = 4096, K = 4096, G = 128, GROUPS = K / G, KCH = K / 8;
static const float kE2M1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.f, -0.5f, -1, -1.5f, -2, -3, -4, -6};

static float bf16f(uint16_t h) { uint32_t u = uint32_t(h) << 16; float f; memcpy(&f, &u, 4); return f; }
static uint16_t f2bf(float f) {  // round to nearest even
  uint32_t u; memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}

// ------------------------------------------------------------------ shared inputs
struct Inputs {
  std::vector<uint8_t> codes;      // [N][K] 0..15
  std::vector<uint16_t> scale;     // [N][GROUPS] bf16
  std::vector<uint16_t> xb;        // [K] bf16
  std::vector<uint32_t> xp;        // [K/2] bf16 pairs
  std::vector<float> xsum;         // [GROUPS] fp32 sums of x per group
};

// ------------------------------------------------------------------ v1 layout (qkern n8k8)
static int w4_tile_byte(int v, int lane) {
  return (lane & 3) * 2 + (lane >> 2) * 16 + (v & 1) + ((v >> 1) & 1) * 8;
}
// packed [N/8][KCH][32]; scales [N/8][GROUPS][8] bf16
static void pack_v1(const Inputs& in, uint8_t* p, uint16_t* s) {
  for (int t = 0; t < N / 8; ++t)
    for (int c = 0; c < KCH; ++c) {
      uint8_t* tile = p + (int64_t(t) * KCH + c) * 32;
      memset(tile, 0, 32);
      for (int lane = 0; lane < 8; ++lane)
        for (int v = 0; v < 8; ++v) {
          const int code = in.codes[int64_t(t * 8 + lane) * K + c * 8 + v];
          tile[w4_tile_byte(v, lane)] |= uint8_t(code << (4 * (v >> 2)));
        }
    }
  for (int t = 0; t < N / 8; ++t)
    for (int g = 0; g < GROUPS; ++g)
      for (int l = 0; l < 8; ++l) s[(int64_t(t) * GROUPS + g) * 8 + l] = in.scale[int64_t(t * 8 + l) * GROUPS + g];
}

// ------------------------------------------------------------------ v2 layout (n16k8, lane = channel)
// nibble slot j (bits 4j..4j+3) of a channel's dword holds k = kSlot[j]
static const int kSlot[8] = {0, 2, 4, 6, 1, 3, 5, 7};
// packed [N/16][KCH][16 lanes][4]; scales [N/16][GROUPS][16] bf16
static void pack_v2(const Inputs& in, uint8_t* p, uint16_t* s) {
  for (int t = 0; t < N / 16; ++t)
    for (int c = 0; c < KCH; ++c) {
      uint32_t* tile = reinterpret_cast<uint32_t*>(p + (int64_t(t) * KCH + c) * 64);
      for (int lane = 0; lane < 16; ++lane) {
        uint32_t d = 0;
        for (int j = 0; j < 8; ++j) d |= uint32_t(in.codes[int64_t(t * 16 + lane) * K + c * 8 + kSlot[j]]) << (4 * j);
        tile[lane] = d;
      }
    }
  for (int t = 0; t < N / 16; ++t)
    for (int g = 0; g < GROUPS; ++g)
      for (int l = 0; l < 16; ++l) s[(int64_t(t) * GROUPS + g) * 16 + l] = in.scale[int64_t(t * 16 + l) * GROUPS + g];
}

// FP4 PSHUFB table: (2 * value + 12) * 4, the low byte of bf16(32 + 2 value + 12) under 0x42
static __m512i fp4_table() {
  alignas(64) uint8_t t[64];
  for (int i = 0; i < 64; ++i) t[i] = uint8_t((int(2.0f * kE2M1[i & 15]) + 12) * 4);
  return _mm512_load_si512(t);
}

template <int EB = 0>
FI __m512 dp(__m512 acc, __m512i w, const uint32_t* x) {
  if constexpr (EB) {  // embedded-broadcast memory operand
    asm("vdpbf16ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*x));
    return acc;
  } else return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)_mm512_castsi512_ps(_mm512_set1_epi32(int(*x))));
}

// Chain accumulate of 4*U word vectors against x pairs xr[0..4U-1]: input v to chain v % CH.
template <int CH, int NV, int EB = 0>
FI void fma_all(__m512* c, const __m512i* w, const uint32_t* xr) {
#pragma GCC unroll 32
  for (int v = 0; v < NV; ++v) c[v % CH] = dp<EB>(c[v % CH], w[v], xr + v);
}

template <int CH>
FI __m512 chain_sum(const __m512* c) {
  __m512 s = c[0];
#pragma GCC unroll 8
  for (int j = 1; j < CH; ++j) s = _mm512_add_ps(s, c[j]);
  return s;
}

// ------------------------------------------------------------------ v1 kernel (as qkern Bf16Ops + gemv_pair, MR=1)
template <bool FP4>
FI void v1_decode(const uint8_t* a, const uint8_t* b, __m512i table, __m512i* w) {
  const __m512i bytes = _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), 1);
  const __m512i nib = _mm512_set1_epi8(0x0F);
  __m512i lo = _mm512_and_si512(bytes, nib);
  __m512i hi = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), nib);
  if constexpr (FP4) lo = _mm512_shuffle_epi8(table, lo), hi = _mm512_shuffle_epi8(table, hi);
  const __m512i hb = _mm512_set1_epi8(FP4 ? 0x42 : 0x43);
  w[0] = _mm512_unpacklo_epi8(lo, hb);
  w[1] = _mm512_unpackhi_epi8(lo, hb);
  w[2] = _mm512_unpacklo_epi8(hi, hb);
  w[3] = _mm512_unpackhi_epi8(hi, hb);
}

// strip pairs [s0, s1) (strips 2s, 2s+1) -> y[16 s .. 16 s1)
template <bool FP4, int CH, int U, int PF, int OPT = 0>
void v1_range(const uint8_t* packed, const uint16_t* scales, const uint32_t* xp, const float* xsum,
              float* y, int s0, int s1) {
  constexpr float kOff = FP4 ? 44.0f : 136.0f, kVs = FP4 ? 0.5f : 1.0f;
  const __m512i table = fp4_table();
  for (int sp = s0; sp < s1; ++sp) {
    const int t = 2 * sp;
    const uint8_t* lo = packed + int64_t(t) * KCH * 32;
    const uint8_t* hi = lo + int64_t(KCH) * 32;
    __m512 acc = _mm512_setzero_ps();
    for (int g = 0; g < GROUPS; ++g) {
      __m512 c[CH];
      for (int j = 0; j < CH; ++j) c[j] = _mm512_setzero_ps();
      const uint32_t* xr = xp + g * (G / 2);
      for (int st = 0; st < G / 8 / U; ++st) {
        if constexpr (PF > 0) {
          _mm_prefetch(reinterpret_cast<const char*>(lo + PF), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(hi + PF), _MM_HINT_T0);
        }
        __m512i w[4 * U];
#pragma GCC unroll 8
        for (int u = 0; u < U; ++u) v1_decode<FP4>(lo + 32 * u, hi + 32 * u, table, w + 4 * u);
        lo += 32 * U, hi += 32 * U;
        fma_all<CH, 4 * U, (OPT >> 1) & 1>(c, w, xr);
        xr += 4 * U;
      }
      const __m128i slo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + (int64_t(t) * GROUPS + g) * 8));
      const __m128i shi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + (int64_t(t + 1) * GROUPS + g) * 8));
      const __m512i s16 = _mm512_cvtepu16_epi32(_mm256_inserti128_si256(_mm256_castsi128_si256(slo), shi, 1));
      __m512 s = _mm512_castsi512_ps(_mm512_slli_epi32(s16, 16));
      if constexpr (kVs != 1.0f) s = _mm512_mul_ps(s, _mm512_set1_ps(kVs));
      const __m512 zs = _mm512_mul_ps(_mm512_set1_ps(-kOff), s);
      acc = _mm512_fmadd_ps(chain_sum<CH>(c), s, acc);
      acc = _mm512_fmadd_ps(zs, _mm512_set1_ps(xsum[g]), acc);
    }
    _mm512_storeu_ps(y + 16 * sp, acc);
  }
}

// ------------------------------------------------------------------ v2 kernel
// Variant D: 0 = AND + PSHUFB (FP4) ; 1 = VPERMB with a 64-entry table (no AND) (FP4 only)
template <bool FP4, int D, int LB>
FI void v2_decode(const uint8_t* a, __m512i table, __m512i* w) {
  __m512i d = _mm512_loadu_si512(a);
  if constexpr (LB) asm("" : "+v"(d));  // one load, not one memory-operand shift per use
  if constexpr (D == 8) {  // v2d: VPERMW exact words, one load + 3 shifts (no split load)
    const __m512i src[4] = {d, _mm512_srli_epi32(d, 4), _mm512_srli_epi32(d, 8), _mm512_srli_epi32(d, 12)};
    for (int p = 0; p < 4; ++p) w[p] = _mm512_permutexvar_epi16(src[p], table);
  } else if constexpr (D >= 4) {
    // v2b/v2c: byte-offset load replaces the >> 8: d = bytes [0, 64), d1 = bytes [1, 65)
    __m512i d1 = _mm512_loadu_si512(a + 1);
    if constexpr (LB) asm("" : "+v"(d1));
    const __m512i src[4] = {d, _mm512_srli_epi32(d, 4), d1, _mm512_srli_epi32(d1, 4)};
    if constexpr (D == 4) {  // INT4, ternlog, bf16(128 + code)
      const __m512i m = _mm512_set1_epi32(0x000F000F), hb = _mm512_set1_epi32(0x43004300);
      for (int p = 0; p < 4; ++p) w[p] = _mm512_ternarylogic_epi32(src[p], m, hb, 0xEA);
    } else if constexpr (D == 5 || D == 6) {  // VPERMW: exact bf16 value words (table of 32)
      for (int p = 0; p < 4; ++p) w[p] = _mm512_permutexvar_epi16(src[p], table);
    } else {  // D == 7, FP4: VPERMB (64-entry byte table) + ternlog 0x42 high byte
      const __m512i m = _mm512_set1_epi32(0x00FF00FF), hb = _mm512_set1_epi32(0x42004200);
      for (int p = 0; p < 4; ++p) w[p] = _mm512_ternarylogic_epi32(_mm512_permutexvar_epi8(src[p], table), m, hb, 0xEA);
    }
  } else if constexpr (D == 2) {  // floor: no decode, the raw tile as all 4 word vectors (wrong result)
    w[0] = w[1] = w[2] = w[3] = d;
  } else if constexpr (D == 3) {  // floor: one AND per word vector, no shift/or
    const __m512i m = _mm512_set1_epi32(0x000F000F);
    w[0] = _mm512_and_si512(d, m);
    w[1] = _mm512_and_si512(d, _mm512_set1_epi32(0x00F000F0));
    w[2] = _mm512_and_si512(d, _mm512_set1_epi32(0x0F000F00));
    w[3] = _mm512_and_si512(d, _mm512_set1_epi32(0xF000F000));
  } else if constexpr (!FP4) {
    const __m512i m = _mm512_set1_epi32(0x000F000F), hb = _mm512_set1_epi32(0x43004300);
    // (A & B) | C : imm 0xEA
    w[0] = _mm512_ternarylogic_epi32(d, m, hb, 0xEA);
    w[1] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(d, 4), m, hb, 0xEA);
    w[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(d, 8), m, hb, 0xEA);
    w[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(d, 12), m, hb, 0xEA);
  } else {
    const __m512i m = _mm512_set1_epi32(0x00FF00FF), hb = _mm512_set1_epi32(0x42004200);
    __m512i t0, t1;
    if constexpr (D == 0) {
      const __m512i nib = _mm512_set1_epi8(0x0F);
      t0 = _mm512_shuffle_epi8(table, _mm512_and_si512(d, nib));                      // c0 c4 c1 c5
      t1 = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi32(d, 4), nib));  // c2 c6 c3 c7
    } else {
      t0 = _mm512_permutexvar_epi8(d, table);
      t1 = _mm512_permutexvar_epi8(_mm512_srli_epi32(d, 4), table);
    }
    w[0] = _mm512_ternarylogic_epi32(t0, m, hb, 0xEA);                          // c0 c1
    w[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(t0, 8), m, hb, 0xEA);    // c4 c5
    w[1] = _mm512_ternarylogic_epi32(t1, m, hb, 0xEA);                          // c2 c3
    w[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(t1, 8), m, hb, 0xEA);    // c6 c7
  }
}

// strips of 16 [s0, s1) -> y[16 s0 .. 16 s1)
// OPT bit 0: load barrier (single zmm load per tile); bit 1: embedded broadcast of x
static __m512i word_table(bool fp4) {  // 32 bf16 words, entry i = value(i & 15)
  alignas(64) uint16_t t[32];
  for (int i = 0; i < 32; ++i) t[i] = f2bf(fp4 ? kE2M1[i & 15] : float((i & 15) - 8));
  return _mm512_load_si512(t);
}

template <bool FP4, int CH, int U, int PF, int D = 0, int OPT = 1>
void v2_range(const uint8_t* packed, const uint16_t* scales, const uint32_t* xp, const float* xsum,
              float* y, int s0, int s1) {
  constexpr bool kExact = D == 5 || D == 6 || D == 8;
  constexpr float kOff = kExact ? 0.0f : FP4 ? 44.0f : 136.0f, kVs = (FP4 && !kExact) ? 0.5f : 1.0f;
  const __m512i table = kExact ? word_table(FP4) : fp4_table();
  for (int sp = s0; sp < s1; ++sp) {
    const uint8_t* p = packed + int64_t(sp) * KCH * 64;
    __m512 acc = _mm512_setzero_ps();
    for (int g = 0; g < GROUPS; ++g) {
      __m512 c[CH];
      for (int j = 0; j < CH; ++j) c[j] = _mm512_setzero_ps();
      const uint32_t* xr = xp + g * (G / 2);
      for (int st = 0; st < G / 8 / U; ++st) {
        if constexpr (PF > 0) {
#pragma GCC unroll 8
          for (int u = 0; u < U; ++u) _mm_prefetch(reinterpret_cast<const char*>(p + PF + 64 * u), _MM_HINT_T0);
        }
        __m512i w[4 * U];
#pragma GCC unroll 8
        for (int u = 0; u < U; ++u) v2_decode<FP4, D, OPT & 1>(p + 64 * u, table, w + 4 * u);
        p += 64 * U;
        fma_all<CH, 4 * U, (OPT >> 1) & 1>(c, w, xr);
        xr += 4 * U;
      }
      const __m512i s16 = _mm512_cvtepu16_epi32(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + (int64_t(sp) * GROUPS + g) * 16)));
      __m512 s = _mm512_castsi512_ps(_mm512_slli_epi32(s16, 16));
      if constexpr (kVs != 1.0f) s = _mm512_mul_ps(s, _mm512_set1_ps(kVs));
      acc = _mm512_fmadd_ps(chain_sum<CH>(c), s, acc);
      if constexpr (kOff != 0.0f) {
        const __m512 zs = _mm512_mul_ps(_mm512_set1_ps(-kOff), s);
        acc = _mm512_fmadd_ps(zs, _mm512_set1_ps(xsum[g]), acc);
      }
    }
    _mm512_storeu_ps(y + 16 * sp, acc);
  }
}

// ------------------------------------------------------------------ driver
using RangeFn = void (*)(const uint8_t*, const uint16_t*, const uint32_t*, const float*, float*, int, int);

static void run_gemv(RangeFn f, int threads, const uint8_t* p, const uint16_t* s, const Inputs& in, float* y) {
  constexpr int units = N / 16;  // strip pairs (v1) or 16-strips (v2)
  if (threads == 1) {
    f(p, s, in.xp.data(), in.xsum.data(), y, 0, units);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    f(p, s, in.xp.data(), in.xsum.data(), y, units * t / T, units * (t + 1) / T);
  }
}

// Same work as a full GEMV, but each thread repeats a 512 KiB block of 16 units (256
// channels) from its own L2: the decode + dot-product throughput without L3/DRAM.
static void run_l2(RangeFn f, int threads, const uint8_t* p, const uint16_t* s, const Inputs& in, float* y) {
  constexpr int units = N / 16, blk = 16;
  auto body = [&](int t, int T) {
    for (int r = 0; r < units / blk / T; ++r) f(p, s, in.xp.data(), in.xsum.data(), y, t * blk, (t + 1) * blk);
  };
  if (threads == 1) { body(0, 1); return; }
#pragma omp parallel num_threads(threads)
  body(omp_get_thread_num(), omp_get_num_threads());
}

struct Kernel {
  std::string name;
  int layout;  // 1 or 2
  bool fp4;
  RangeFn f;
};

static double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  const int reps = argc > 1 ? atoi(argv[1]) : 41;
  const int copies = argc > 2 ? atoi(argv[2]) : 16;
  const char* filter = argc > 3 ? argv[3] : "";

  Inputs in;
  std::mt19937 rng(123);
  in.codes.resize(int64_t(N) * K);
  for (auto& c : in.codes) c = uint8_t(rng() & 15);
  in.scale.resize(int64_t(N) * GROUPS);
  std::uniform_real_distribution<float> us(0.005f, 0.02f);
  for (auto& s : in.scale) s = f2bf(us(rng));
  std::normal_distribution<float> nd(0.f, 1.f);
  in.xb.resize(K);
  for (auto& x : in.xb) x = f2bf(nd(rng));
  in.xp.resize(K / 2);
  for (int j = 0; j < K / 2; ++j) in.xp[j] = uint32_t(in.xb[2 * j]) | (uint32_t(in.xb[2 * j + 1]) << 16);
  in.xsum.assign(GROUPS, 0.f);
  for (int g = 0; g < GROUPS; ++g)
    for (int k = 0; k < G; ++k) in.xsum[g] += bf16f(in.xb[g * G + k]);

  // references (double)
  std::vector<double> ref_int4(N), ref_fp4(N);
  for (int n = 0; n < N; ++n) {
    double yi = 0, yf = 0;
    for (int g = 0; g < GROUPS; ++g) {
      double si = 0, sf = 0;
      for (int k = g * G; k < (g + 1) * G; ++k) {
        const int c = in.codes[int64_t(n) * K + k];
        const double x = bf16f(in.xb[k]);
        si += (c - 8) * x, sf += kE2M1[c] * x;
      }
      const double s = bf16f(in.scale[int64_t(n) * GROUPS + g]);
      yi += s * si, yf += s * sf;
    }
    ref_int4[n] = yi, ref_fp4[n] = yf;
  }

  // weight copies (the same codes: INT4 and FP4 differ only in the decode)
  const int64_t wbytes = int64_t(N) * K / 2, sbytes = int64_t(N) * GROUPS * 2;
  // +64: the v2b/v2c decode reads 1 byte past a strip's last tile (never used)
  auto alloc = [](int64_t b) { return static_cast<uint8_t*>(aligned_alloc(64, (b + 63) / 64 * 64 + 64)); };
  std::vector<uint8_t*> P1(copies), P2(copies);
  std::vector<uint16_t*> S1(copies), S2(copies);
  {
    uint8_t* p = alloc(wbytes); uint16_t* s = reinterpret_cast<uint16_t*>(alloc(sbytes));
    uint8_t* q = alloc(wbytes); uint16_t* r = reinterpret_cast<uint16_t*>(alloc(sbytes));
    pack_v1(in, p, s);
    pack_v2(in, q, r);
    P1[0] = p, S1[0] = s, P2[0] = q, S2[0] = r;
    for (int i = 1; i < copies; ++i) {
      P1[i] = alloc(wbytes), P2[i] = alloc(wbytes);
      S1[i] = reinterpret_cast<uint16_t*>(alloc(sbytes)), S2[i] = reinterpret_cast<uint16_t*>(alloc(sbytes));
      memcpy(P1[i], p, wbytes), memcpy(P2[i], q, wbytes), memcpy(S1[i], s, sbytes), memcpy(S2[i], r, sbytes);
    }
  }

  std::vector<Kernel> ks = {
      // main comparison: v1 = qkern's kernel as is; v2 = the candidate layout, same loop
      {"v1 int4", 1, false, v1_range<false, 8, 2, 1024>},
      {"v1 fp4", 1, true, v1_range<true, 8, 2, 1024>},
      {"v2 int4", 2, false, v2_range<false, 8, 2, 1024>},
      {"v2 fp4", 2, true, v2_range<true, 8, 2, 1024>},
      // variants
      {"v1 int4 eb", 1, false, v1_range<false, 8, 2, 1024, 2>},
      {"v1 fp4 eb", 1, true, v1_range<true, 8, 2, 1024, 2>},
      {"v1 int4 c4u1", 1, false, v1_range<false, 4, 1, 1024>},
      {"v2 int4 eb", 2, false, v2_range<false, 8, 2, 1024, 0, 3>},
      {"v2 int4 c4u1", 2, false, v2_range<false, 4, 1, 1024>},
      {"v2 int4 c4u1 eb", 2, false, v2_range<false, 4, 1, 1024, 0, 3>},
      {"v2 int4 c8u4", 2, false, v2_range<false, 8, 4, 1024>},
      {"v2 int4 pf0", 2, false, v2_range<false, 8, 2, 0>},
      {"v2 int4 pf512", 2, false, v2_range<false, 8, 2, 512>},
      {"v2 int4 pf2k", 2, false, v2_range<false, 8, 2, 2048>},
      {"v2 int4 pf512 eb", 2, false, v2_range<false, 8, 2, 512, 0, 3>},
      {"v2 int4 nobar", 2, false, v2_range<false, 8, 2, 1024, 0, 0>},
      {"v2b int4 ldoff eb", 2, false, v2_range<false, 8, 2, 1024, 4, 3>},
      {"v2c int4 vpermw eb", 2, false, v2_range<false, 8, 2, 1024, 5, 3>},
      {"v2 fp4 eb", 2, true, v2_range<true, 8, 2, 1024, 0, 3>},
      {"v2 fp4 vpermb", 2, true, v2_range<true, 8, 2, 1024, 1>},
      {"v2 fp4 vpermb eb", 2, true, v2_range<true, 8, 2, 1024, 1, 3>},
      {"v2c fp4 vpermw", 2, true, v2_range<true, 8, 2, 1024, 6, 1>},
      {"v2c fp4 vpermw eb", 2, true, v2_range<true, 8, 2, 1024, 6, 3>},
      {"v2c fp4 vpermw eb pf512", 2, true, v2_range<true, 8, 2, 512, 6, 3>},
      {"v2 int4 c4u1 eb pf512", 2, false, v2_range<false, 4, 1, 512, 0, 3>},
      {"v2c int4 vpermw c4u1 eb pf512", 2, false, v2_range<false, 4, 1, 512, 5, 3>},
      {"v2c fp4 vpermw c4u1 eb pf512", 2, true, v2_range<true, 4, 1, 512, 6, 3>},
      {"v2d int4 vpermw c4u1 eb pf512", 2, false, v2_range<false, 4, 1, 512, 8, 3>},
      {"v2d fp4 vpermw c4u1 eb pf512", 2, true, v2_range<true, 4, 1, 512, 8, 3>},
      {"v1 int4 eb pf512", 1, false, v1_range<false, 8, 2, 512, 2>},
      {"v1 int4 eb pf0", 1, false, v1_range<false, 8, 2, 0, 2>},
      {"v1 int4 c4u1 eb pf512", 1, false, v1_range<false, 4, 1, 512, 2>},
      {"v1 fp4 c4u1 eb pf512", 1, true, v1_range<true, 4, 1, 512, 2>},
      {"v1 int4 c4u1 eb", 1, false, v1_range<false, 4, 1, 1024, 2>},
      {"v1 fp4 c4u1 eb", 1, true, v1_range<true, 4, 1, 1024, 2>},
      {"v2c int4 vpermw eb pf512", 2, false, v2_range<false, 8, 2, 512, 5, 3>},
      {"FLOOR dp only (no decode)", 2, false, v2_range<false, 8, 2, 1024, 2, 3>},
  };


  // correctness (rel err = max |y - ref| / max |ref|)
  std::vector<float> y(N);
  for (auto& k : ks) {
    if (*filter && (std::string(",") + filter + ",").find("," + k.name + ",") == std::string::npos) continue;
    for (int th : {1, 2}) {
      std::fill(y.begin(), y.end(), NAN);
      run_gemv(k.f, th, k.layout == 1 ? P1[0] : P2[0], k.layout == 1 ? S1[0] : S2[0], in, y.data());
      const auto& ref = k.fp4 ? ref_fp4 : ref_int4;
      double e = 0, m = 0;
      for (int n = 0; n < N; ++n) e = std::max(e, std::fabs(y[n] - ref[n])), m = std::max(m, std::fabs(ref[n]));
      if (k.name.find("FLOOR") != std::string::npos) break;
      if (!(e / m < 1e-3)) { printf("FAIL %s threads %d rel err %.3g\n", k.name.c_str(), th, e / m); return 1; }
      if (th == 1) printf("check %-26s rel err %.2e (max|ref| %.3g)\n", k.name.c_str(), e / m, m);
    }
  }

  // timing: per (threads, hot/cold), kernels interleaved round-robin in blocks of `blk`
  // calls; median over reps calls per kernel.
  printf("\nweights %.2f MiB (+ scales %.2f MiB); cold rotates over %d copies; median of %d calls\n",
         wbytes / 1048576.0, sbytes / 1048576.0, copies, reps);
  printf("%-26s %3s %4s %8s %8s %7s %8s\n", "kernel", "thr", "mode", "med_ms", "min_ms", "GB/s", "cpu_med");
  // kernels interleaved every blk calls (background load hits all alike); hot and l2: one
  // untimed call first in each block, so the weights are the kernel's own (v1 and v2 use
  // different 8 MiB buffers)
  const int blk = 4;
  for (int th : {1, 2}) {
    for (int cold : {0, 1, 2}) {  // hot (L3), cold (DRAM), l2 (compute bound)
      std::vector<std::vector<double>> t(ks.size()), tc(ks.size());
      int ci = 0;
      for (int done = 0; done < reps; done += blk) {
        for (size_t i = 0; i < ks.size(); ++i) {
          if (*filter && (std::string(",") + filter + ",").find("," + ks[i].name + ",") == std::string::npos) continue;
          auto& k = ks[i];
          const int n = std::min(blk, reps - done);
          for (int r = -(done == 0 ? 2 : cold == 1 ? 0 : 1); r < n; ++r) {
            const int c = cold == 1 ? (ci++ % copies) : 0;
            const double c0 = cpu_ms(), t0 = now_ms();
            (cold == 2 ? run_l2 : run_gemv)(k.f, th, k.layout == 1 ? P1[c] : P2[c], k.layout == 1 ? S1[c] : S2[c], in, y.data());
            const double t1 = now_ms(), c1 = cpu_ms();
            if (r >= 0) t[i].push_back(t1 - t0), tc[i].push_back(c1 - c0);
          }
        }
      }
      for (size_t i = 0; i < ks.size(); ++i) {
        if (t[i].empty()) continue;
        auto v = t[i];
        std::sort(v.begin(), v.end());
        const double med = v[v.size() / 2];
        auto vc = tc[i];
        std::sort(vc.begin(), vc.end());
        printf("%-26s %3d %4s %8.4f %8.4f %7.1f %8.4f\n", ks[i].name.c_str(), th, cold == 2 ? "l2" : cold ? "cold" : "hot", med, v[0],
               wbytes / med / 1e6, th == 1 ? vc[vc.size() / 2] : 0.0);
      }
    }
  }
  return 0;
}
