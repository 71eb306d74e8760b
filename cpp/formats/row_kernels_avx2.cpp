// AVX2+FMA+F16C loops of RowKernels. Compiled with -mavx2 -mfma -mf16c (the _avx2.cpp
// suffix); entered only when active_isa() >= Isa::kAvx2 (the AVX-512 table uses most of these entries).
//
// Exactness: every entry produces the bytes of row_kernels_scalar.cpp. The vector code
// performs the same IEEE operations in the same order as the scalar codecs (no FMA: the
// project builds with -ffp-contract=off and no _mm256_fmadd is used; _mm256_div_ps where
// the scalar code divides, except where only the integer a quotient rounds to is kept and
// round_quotient8 proves the reciprocal's result equal; _mm256_round_ps
// (_MM_FROUND_TO_NEAREST_INT) for rintf), and
// picks min/max operand order so that NaN lanes behave like fminf/fmaxf where the scalar
// code can see a NaN. Tails (n not a multiple of the vector step) run the scalar table on
// the remaining elements, so the tail code is the definition itself.
//
// Lane layouts:
//   * 4-bit codes: 8 elements = 4 bytes; element 2j in the low nibble of byte j. Decoders
//     broadcast the 32-bit word to all lanes and shift lane i right by 4*i (nibbles8).
//   * Encoders produce one code per int32 lane and pack 16 lanes into 8 bytes
//     (pack_nibbles16).
//   * f16/bf16 outputs of the 4-bit decoders go by per-block tables of the 16 possible
//     16-bit values where a table pays (Table16): 32 codes per step, 16 per 128-bit lane.
//
// Only always-inline helpers from the shared headers are used here (codecs.h, recipes.h),
// never a plain `inline` function: an out-of-line copy of such a function emitted from
// this AVX2 translation unit could be the one the linker keeps for the portable code too.
#include "formats/row_kernels_x86.h"

namespace qkern {
namespace {

const RowKernels& scalar() { return row_kernels_scalar(); }

// ---------------------------------------------------------------- RowKernels entries

void load_f32(const void* src, DType t, int64_t n, float* dst) {
  dispatch_float_dtype(t, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8<T>(src, i));
    if (i < n) scalar().load_f32(advance<T>(src, i), t, n - i, dst + i);
  });
}

// One pass keeps lo and hi per lane, and x - x, which is +0 for a finite x and NaN for
// NaN/Inf, OR-ed into `bad`; finish_block_stats does the tail and amax.
BlockStats block_stats(const float* x, int64_t n) {
  if (n < 8) return scalar().block_stats(x, n);
  __m256 v = _mm256_loadu_ps(x);
  __m256 lo = v, hi = v, bad = _mm256_sub_ps(v, v);
  int64_t i = 8;
  for (; i + 8 <= n; i += 8) {
    v = _mm256_loadu_ps(x + i);
    lo = _mm256_min_ps(v, lo);
    hi = _mm256_max_ps(v, hi);
    bad = _mm256_or_ps(bad, _mm256_sub_ps(v, v));
  }
  const BlockStats s{0.0f, hmin8(lo), hmax8(hi),
                     _mm256_testz_si256(_mm256_castps_si256(bad), _mm256_castps_si256(bad)) != 0};
  return finish_block_stats(s, x, i, n, scalar().block_stats);
}

// First the max of |x| as bits (int32 order is float order for non-negative floats, and
// NaN > Inf > finite): when it is finite, it is the answer; otherwise a second pass skips
// the non-finite lanes.
float finite_amax(const void* src, DType t, int64_t n) {
  float m = 0.0f;
  dispatch_float_dtype(t, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i bits = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      bits = _mm256_max_epi32(bits, _mm256_and_si256(_mm256_castps_si256(load8<T>(src, i)), magnitude));
    __m256 acc = _mm256_castsi256_ps(bits);
    if (_mm256_movemask_epi8(_mm256_cmpgt_epi32(bits, _mm256_set1_epi32(0x7F7FFFFF))) != 0) {
      acc = _mm256_setzero_ps();
      for (i = 0; i + 8 <= n; i += 8) {
        const __m256 v = load8<T>(src, i);
        acc = _mm256_max_ps(acc, _mm256_andnot_ps(_mm256_castsi256_ps(nonfinite8(v)), abs8(v)));
      }
    }
    m = hmax8(acc);
    if (i < n) {
      const float tail = scalar().finite_amax(advance<T>(src, i), t, n - i);
      m = tail > m ? tail : m;
    }
  });
  return m;
}

// Also inlined into encode_blocks8 (one call per block).
QK_FORCEINLINE void encode_int4(const float* x, int64_t n, Int4Params p, uint8_t* q) {
  int64_t i = 0;
  if (p.scale != 0.0f) {
    const __m256 s = _mm256_set1_ps(p.scale), r = reciprocal8(p.scale), z = _mm256_set1_ps(p.zero);
    const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(15.0f);
    auto code8 = [&](int64_t j) {
      __m256 v = _mm256_add_ps(round_quotient8(_mm256_loadu_ps(x + j), s, r), z);
      // max(v, lo) returns lo for a NaN v, like fmaxf(NaN, 0) in int4_encode.
      return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
    };
    for (; i + 16 <= n; i += 16) pack_nibbles16(code8(i), code8(i + 8), q + (i >> 1));
  }
  if (i < n) scalar().encode_int4(x + i, n - i, p, q + i / 2);
}

// Codes of the 16 elements at x scaled by f -> 8 bytes at q.
QK_FORCEINLINE void encode_e2m1_16(const float* x, __m256 f, uint8_t* q) {
  pack_nibble_words16(f32x16_to_e2m1(_mm256_mul_ps(_mm256_loadu_ps(x), f), _mm256_mul_ps(_mm256_loadu_ps(x + 8), f)),
                      q);
}

void encode_e2m1(const float* x, int64_t n, float factor, uint8_t* q) {
  const __m256 f = _mm256_set1_ps(factor);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) encode_e2m1_16(x + i, f, q + (i >> 1));
  if (i < n) scalar().encode_e2m1(x + i, n - i, factor, q + i / 2);
}

void encode_int8(const float* x, int64_t n, float scale, int8_t* q) {
  int64_t i = 0;
  if (scale != 0.0f) {
    const __m256 s = _mm256_set1_ps(scale), r = reciprocal8(scale);
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    for (; i + 8 <= n; i += 8) {
      const __m256 v = round_quotient8(_mm256_loadu_ps(x + i), s, r);
      pack_bytes8(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi)), q + i);
    }
  }
  if (i < n) scalar().encode_int8(x + i, n - i, scale, q + i);
}

void encode_fp8(const float* x, int64_t n, float scale, uint8_t* q) {
  int64_t i = 0;
  if (scale != 0.0f) {
    const __m256 s = _mm256_set1_ps(scale);
    // Codes are 0..255: the signed saturating pack of pack_bytes8 would clamp codes above
    // 127, so pack to 16 bits unsigned first.
    for (; i + 8 <= n; i += 8) {
      const __m256i c = f32x8_to_e4m3(_mm256_div_ps(_mm256_loadu_ps(x + i), s));
      const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packus_epi16(w, w));
    }
  }
  if (i < n) scalar().encode_fp8(x + i, n - i, scale, q + i);
}

// Codes of 8 consecutive E2M1 blocks of kBlock elements, block j scaled by factor[j]. The
// block size is a constant so that the loops unroll and the encoder's constants stay in
// registers across blocks.
template <int kBlock>
QK_FORCEINLINE void encode_e2m1_blocks8(const float* x, const float* factor, uint8_t* q) {
  static_assert(kBlock % 16 == 0, "E2M1 blocks are encoded 16 elements at a time");
  for (int j = 0; j < 8; ++j) {
    const __m256 f = _mm256_set1_ps(factor[j]);
    for (int i = j * kBlock; i < (j + 1) * kBlock; i += 16) encode_e2m1_16(x + i, f, q + i / 2);
  }
}

// Codes of 8 blocks of kBlock elements (0: f.block at run time) with the arguments
// scale_rules8 gave.
template <int kBlock>
QK_FORCEINLINE void encode_blocks8(const FormatSpec& f, const float* x, const float* arg, uint8_t* q) {
  // E2M1 for the FP4 formats at their block sizes; INT4 (any block, 16 and 32 included:
  // per-channel INT4 of 16 or 32 columns) below
  if constexpr (kBlock == kNvBlock) {
    if (f.kind == FormatKind::kNvfp4) return encode_e2m1_blocks8<kNvBlock>(x, arg, q);
  } else if constexpr (kBlock == kMxBlock) {
    if (f.kind == FormatKind::kMxfp4) return encode_e2m1_blocks8<kMxBlock>(x, arg, q);
  }
  const int64_t block = kBlock > 0 ? kBlock : f.block;
  for (int j = 0; j < 8; ++j) encode_int4(x + j * block, block, Int4Params{arg[j], 8.0f}, q + j * block / 2);
}

// The AVX2 level of quantize_blocks_batched: block_amax_bits8 and the encoders above.
struct Avx2Blocks {
  template <int kBlock>
  static __m256i amax8(const float* x, int64_t block) { return block_amax_bits8<kBlock>(x, block); }
  template <int kBlock>
  static void encode8(const FormatSpec& f, const float* x, const float* amax, const float* arg, uint8_t* q) {
    encode_blocks8<kBlock>(f, x, arg, q);
  }
  static const RowKernels& table() { return row_kernels_avx2(); }
};

void quantize_blocks(const FormatSpec& f, float d, const float* x, int64_t nb, const BlockOutputs& out) {
  quantize_blocks_batched<Avx2Blocks>(f, d, x, nb, out);
}

// 16-bit outputs by table. A block of a 4-bit format holds at most 16 distinct values, so
// for f16/bf16 outputs the decoders convert those 16 values once per block, with the
// element path's own arithmetic and conversion (same bits by construction), and look the
// elements up: one pshufb per byte plane of a 16 x 16-bit table, 32 codes at a time, the
// 16 codes of each 128-bit lane in that lane's table.
struct Table16 {
  __m256i lo, hi;  // byte c of each 128-bit lane: low / high byte of the value of code c
};

// From the 16-bit values of codes 0..7 (words0_7) and 8..15 (words8_15), per lane.
QK_FORCEINLINE Table16 make_table16(__m256i words0_7, __m256i words8_15) {
  const __m256i planes = _mm256_broadcastsi128_si256(
      _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
  const __m256i a = _mm256_shuffle_epi8(words0_7, planes);   // lo 0..7 | hi 0..7 (per lane)
  const __m256i b = _mm256_shuffle_epi8(words8_15, planes);  // lo 8..15 | hi 8..15
  return {_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b)};
}

// One table in both lanes, from the fp32 values of codes 0..7 and 8..15. Used from 32
// elements per block (INT4, MXFP4).
template <DType T>
QK_FORCEINLINE Table16 block_table16(__m256 values0_7, __m256 values8_15) {
  return make_table16(_mm256_broadcastsi128_si256(f32x8_to_16bit<T>(values0_7)),
                      _mm256_broadcastsi128_si256(f32x8_to_16bit<T>(values8_15)));
}

// E2M1 tables for lane 0 scaled by s0 and lane 1 by s1, both finite. E2M1 is symmetric
// (code c | 8 is -value(c)) and so are the product and the RNE conversions: with no NaN
// in sight, out16(-(m * s)) = out16(m * s) ^ 0x8000. So only the 8 magnitudes m * s are
// converted per lane, which lets NVFP4's 16-element blocks (one per lane) repay a table.
template <DType T>
QK_FORCEINLINE Table16 e2m1_table16(float s0, float s1) {
  const __m256 mag = _mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f);
  const __m256i pos = _mm256_set_m128i(f32x8_to_16bit<T, true>(_mm256_mul_ps(mag, _mm256_set1_ps(s1))),
                                       f32x8_to_16bit<T, true>(_mm256_mul_ps(mag, _mm256_set1_ps(s0))));
  return make_table16(pos, _mm256_xor_si256(pos, _mm256_set1_epi16(int16_t(0x8000))));
}

// 32 elements (16 bytes of codes at q) -> 32 16-bit values at out; elements 0..15 use
// lane 0 of t, 16..31 lane 1.
QK_FORCEINLINE void lookup32(const uint8_t* q, const Table16& t, uint16_t* out) {
  const __m128i p = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m128i nib = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(p, nib), hi = _mm_and_si128(_mm_srli_epi16(p, 4), nib);
  // codes of elements 0..15 | 16..31 (element 2j = low nibble of byte j)
  const __m256i c = _mm256_set_m128i(_mm_unpackhi_epi8(lo, hi), _mm_unpacklo_epi8(lo, hi));
  const __m256i l = _mm256_shuffle_epi8(t.lo, c), h = _mm256_shuffle_epi8(t.hi, c);
  const __m256i a = _mm256_unpacklo_epi8(l, h);  // elements 0..7 | 16..23
  const __m256i b = _mm256_unpackhi_epi8(l, h);  // elements 8..15 | 24..31
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(a, b, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16), _mm256_permute2x128_si256(a, b, 0x31));
}

// The 4-bit decoders walk block by block: value8(b, nibbles8(...)) gives 8 values of
// block b, tail(b, i, m, out_i) writes the last m < 8 elements of a block (the scalar
// entry). Blocks are even (the driver checks), so every block and every 8- or 32-element
// step starts on a byte of the packed codes. Values are (finite code value) x scale[b]
// (INT4: (q - z) * s, E2M1: e2m1 * s), so a block with a finite scale has no NaN.
// (Byte offsets are written i >> 1: i >= 0, and the signed i / 2 costs two more ops.)
template <class Value8, class Tail>
QK_FORCEINLINE void decode_4bit_row(const uint8_t* q, int64_t n, int block, const float* scale,
                                    void* out, DType t, Value8&& value8, Tail&& tail) {
  dispatch_float_dtype(t, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    for (int64_t b = 0, first = 0; first < n; ++b, first += block) {
      const int64_t end = first + block;
      int64_t i = first;
      if constexpr (T != DType::kF32) {
        if (block >= 32) {
          const Table16 table = block_table16<T>(value8(b, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                                 value8(b, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15)));
          for (; i + 32 <= end; i += 32) lookup32(q + (i >> 1), table, static_cast<uint16_t*>(out) + i);
        }
      }
      auto steps8 = [&](auto nan_free) {
        for (; i + 8 <= end; i += 8) store8<T, nan_free()>(out, i, value8(b, nibbles8(q + (i >> 1))));
      };
      if (is_finite_f32(scale[b]))
        steps8(std::true_type{});
      else
        steps8(std::false_type{});
      if (i < end) tail(b, i, end - i, advance<T>(out, i));
    }
  });
}

void decode_int4_row(const uint8_t* q, int64_t n, int block, const float* scale, const float* zero,
                     void* out, DType t) {
  decode_4bit_row(
      q, n, block, scale, out, t,
      [&](int64_t b, __m256i codes) {
        const __m256 v = _mm256_cvtepi32_ps(_mm256_and_si256(codes, _mm256_set1_epi32(0xF)));
        return _mm256_mul_ps(_mm256_sub_ps(v, _mm256_set1_ps(zero[b])), _mm256_set1_ps(scale[b]));
      },
      [&](int64_t b, int64_t i, int64_t m, void* out_i) {
        scalar().decode_int4_row(q + i / 2, m, int(m), scale + b, zero + b, out_i, t);
      });
}

// Blocks of E2M1 codes by the generic walk.
void decode_e2m1_blocks(const uint8_t* q, int64_t n, int block, const float* scale, void* out,
                        DType t) {
  decode_4bit_row(
      q, n, block, scale, out, t,
      [&](int64_t b, __m256i codes) { return _mm256_mul_ps(e2m1x8_to_f32(codes), _mm256_set1_ps(scale[b])); },
      [&](int64_t b, int64_t i, int64_t m, void* out_i) {
        scalar().decode_e2m1_row(q + i / 2, m, int(m), scale + b, out_i, t);
      });
}

// f16/bf16 outputs of the MXFP4 / NVFP4 blocks (32 / 16 elements) go by e2m1_table16, 32
// elements at a time, where both halves have a finite scale; the rest by the generic walk.
void decode_e2m1_row(const uint8_t* q, int64_t n, int block, const float* scale, void* out,
                     DType t) {
  int64_t i = 0;
  dispatch_float_dtype(t, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    if constexpr (T != DType::kF32) {
      if (block != 16 && block != 32) return;
      const int log2_block = block == 16 ? 4 : 5;
      for (; i + 32 <= n; i += 32) {
        const float* s = scale + (i >> log2_block);
        const float s0 = s[0], s1 = block == 16 ? s[1] : s[0];
        if (is_finite_f32(s0) && is_finite_f32(s1))
          lookup32(q + (i >> 1), e2m1_table16<T>(s0, s1), static_cast<uint16_t*>(out) + i);
        else
          decode_e2m1_blocks(q + (i >> 1), 32, block, s, advance<T>(out, i), t);
      }
    }
    if (i < n) decode_e2m1_blocks(q + (i >> 1), n - i, block, scale + i / block, advance<T>(out, i), t);
  });
}

// The 8-bit decoders: value8 widens the 8 codes in the low bytes of a vector to fp32;
// tail is the scalar entry, for the last n % 8 elements.
template <class Code, class Value8>
QK_FORCEINLINE void decode_8bit_row(const Code* q, int64_t n, float scale, void* out, DType t,
                                    Value8&& value8, void (*tail)(const Code*, int64_t, float, void*, DType)) {
  dispatch_float_dtype(t, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    const __m256 s = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      store8<T>(out, i, _mm256_mul_ps(value8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i))), s));
    if (i < n) tail(q + i, n - i, scale, advance<T>(out, i), t);
  });
}

void decode_int8_row(const int8_t* q, int64_t n, float scale, void* out, DType t) {
  decode_8bit_row(q, n, scale, out, t, [](__m128i b) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)); },
                  scalar().decode_int8_row);
}

void decode_fp8_row(const uint8_t* q, int64_t n, float scale, void* out, DType t) {
  decode_8bit_row(q, n, scale, out, t, [](__m128i b) { return e4m3x8_to_f32(_mm256_cvtepu8_epi32(b)); },
                  scalar().decode_fp8_row);
}

}  // namespace

const RowKernels& row_kernels_avx2() {
  static const RowKernels k{load_f32,        block_stats,     finite_amax,     encode_int4,
                            encode_e2m1,     encode_int8,     encode_fp8,      quantize_blocks,
                            decode_int4_row, decode_e2m1_row, decode_int8_row, decode_fp8_row};
  return k;
}

}  // namespace qkern
