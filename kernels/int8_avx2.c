/* AVX2 variant of the int8 kernels (kernels/int8.h).
 *
 * GEMM: AVX2 has no exact 8-bit dot product (vpmaddubsw saturates int16 pairs), so both
 * operands are widened to int16 in the caller's scratch and multiplied with vpmaddwd (two
 * int16 products summed into int32, exact for int8 inputs). A is packed row-major as k-pairs;
 * W as panels of AVX2_NR columns: for each k-pair g, AVX2_NV vectors of 8 columns × 2 int16.
 * A micro-tile of AVX2_MR rows × AVX2_NR columns keeps its accumulators in registers; padding
 * is packed as 0. Float kernels: 8 lanes, the row tail through the reference (same ops). */
#include "kernels/int8.h"

#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2")))
#define AVX2_INLINE AVX2 static inline __attribute__((always_inline))

enum { AVX2_MR = 6, AVX2_NV = 2, AVX2_NR = 8 * AVX2_NV };

static size_t avx2_panel_bytes(int k) {
    return ((size_t)k + 1) / 2 * AVX2_NR * 4;
}

static size_t avx2_scratch_size(int m, int n, int k) {
    size_t panels = ((size_t)n + AVX2_NR - 1) / AVX2_NR;
    return 64 + panels * avx2_panel_bytes(k) + (size_t)m * (((size_t)k + 1) / 2) * 4;
}

/* 16 int8 from p (only `len` < 16 of them when short; the rest 0) as 16 int16. */
AVX2_INLINE __m256i avx2_widen16(const int8_t *p, int len) {
    if (len >= 16)
        return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
    int8_t buf[16] = {0};
    memcpy(buf, p, (size_t)len);
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)buf));
}

/* In-register transpose of 8 rows × 8 dwords: afterwards r[g] holds dword g of every row. */
AVX2_INLINE void avx2_transpose8(__m256i r[8]) {
    __m256i t[8];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* Per 128-bit lane L, r[4i + c] gets rows 4i..4i+3 of dword 4L + c. */
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) {
        r[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        t[c] = _mm256_permute2x128_si256(r[c], r[4 + c], 0x20);
        t[4 + c] = _mm256_permute2x128_si256(r[c], r[4 + c], 0x31);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        r[i] = t[i];
}

/* W (n, k) → int16 panels (n_pad / NR, k2, NR, 2); padding is 0. */
AVX2 static void avx2_pack_w(int n, int k, const int8_t *w, int16_t *pw) {
    const int k2 = (k + 1) / 2;
    const int n_pad = (n + AVX2_NR - 1) / AVX2_NR * AVX2_NR;
    for (int j0 = 0; j0 < n_pad; j0 += 8) {
        int16_t *dst = pw + (size_t)(j0 / AVX2_NR) * avx2_panel_bytes(k) / 2 + (j0 % AVX2_NR) * 2;
        for (int kb = 0; kb < k; kb += 16) {
            __m256i r[8];
#pragma GCC unroll 8
            for (int t = 0; t < 8; t++)
                r[t] = j0 + t < n ? avx2_widen16(w + (size_t)(j0 + t) * k + kb, k - kb)
                                  : _mm256_setzero_si256();
            avx2_transpose8(r);
            int groups = k2 - kb / 2 < 8 ? k2 - kb / 2 : 8;
            for (int g = 0; g < groups; g++)
                _mm256_storeu_si256((__m256i *)(dst + (size_t)(kb / 2 + g) * AVX2_NR * 2), r[g]);
        }
    }
}

/* A (m, k) → int16 (m, 2 · k2), the odd tail padded with 0. */
AVX2 static void avx2_pack_a(int m, int k, const int8_t *a, int16_t *pa) {
    const size_t row = ((size_t)k + 1) / 2 * 2;
    for (int i = 0; i < m; i++) {
        const int8_t *ai = a + (size_t)i * k;
        int16_t *dst = pa + (size_t)i * row;
        int p = 0;
        for (; p + 16 <= k; p += 16)
            _mm256_storeu_si256((__m256i *)(dst + p), avx2_widen16(ai + p, 16));
        for (; (size_t)p < row; p++)
            dst[p] = p < k ? ai[p] : 0;
    }
}

/* C (mr, ncols) at c (row stride n) for packed rows pa (mr, k2 pairs) and one panel pw. */
AVX2_INLINE void avx2_tile(const int mr, int n, int k2, const int32_t *pa, const int16_t *pw,
                           int32_t *c, int ncols) {
    __m256i acc[AVX2_MR][AVX2_NV];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < AVX2_NV; v++)
            acc[r][v] = _mm256_setzero_si256();
    for (int g = 0; g < k2; g++) {
        const int16_t *wg = pw + (size_t)g * AVX2_NR * 2;
        __m256i wv[AVX2_NV];
#pragma GCC unroll 4
        for (int v = 0; v < AVX2_NV; v++)
            wv[v] = _mm256_loadu_si256((const __m256i *)(wg + 16 * v));
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            __m256i b = _mm256_set1_epi32(pa[(size_t)r * k2 + g]);
#pragma GCC unroll 4
            for (int v = 0; v < AVX2_NV; v++)
                acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(b, wv[v]));
        }
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < AVX2_NV; v++) {
            int cols = ncols - 8 * v;
            int32_t *dst = c + (size_t)r * n + 8 * v;
            if (cols >= 8)
                _mm256_storeu_si256((__m256i *)dst, acc[r][v]);
            else if (cols > 0)
                _mm256_maskstore_epi32(dst, _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lane),
                                       acc[r][v]);
        }
}

AVX2 static void avx2_gemm_s8(int m, int n, int k, const int8_t *a, const int8_t *w, int32_t *c,
                              void *scratch) {
    if (m <= 0 || n <= 0)
        return;
    const int k2 = (k + 1) / 2;
    const int panels = (n + AVX2_NR - 1) / AVX2_NR;
    int16_t *pw = (int16_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    int16_t *pa = pw + (size_t)panels * avx2_panel_bytes(k) / 2; // (m, 2 · k2)
    avx2_pack_w(n, k, w, pw);
    avx2_pack_a(m, k, a, pa);
    const int32_t *pairs = (const int32_t *)pa;
    for (int p = 0; p < panels; p++) {
        const int16_t *panel = pw + (size_t)p * avx2_panel_bytes(k) / 2;
        int j0 = p * AVX2_NR, ncols = n - j0 < AVX2_NR ? n - j0 : AVX2_NR;
        for (int i0 = 0; i0 < m; i0 += AVX2_MR) {
            const int32_t *ai = pairs + (size_t)i0 * k2;
            int32_t *ci = c + (size_t)i0 * n + j0;
            switch (m - i0 < AVX2_MR ? m - i0 : AVX2_MR) {
#define AVX2_TILE(R)                                                                               \
    case R:                                                                                        \
        avx2_tile(R, n, k2, ai, panel, ci, ncols);                                                 \
        break;
                AVX2_TILE(1)
                AVX2_TILE(2)
                AVX2_TILE(3)
                AVX2_TILE(4)
                AVX2_TILE(5)
                AVX2_TILE(6)
#undef AVX2_TILE
            }
        }
    }
}

/* 8 int32 in [-127, 127] → 8 bytes at out. */
AVX2_INLINE void avx2_store8_s8(int8_t *out, __m256i q) {
    __m256i h = _mm256_packs_epi32(q, q);
    __m256i b = _mm256_packs_epi16(h, h); // each 128-bit lane L starts with q[4L..4L+3]
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
    _mm_storel_epi64((__m128i *)out, _mm256_castsi256_si128(b));
}

/* clamp(round_half_even(t), lo, hi) as int32; NaN gives lo (max_ps returns its second operand). */
AVX2_INLINE __m256i avx2_round_clamp(__m256 t, __m256 lo, __m256 hi) {
    t = _mm256_min_ps(_mm256_max_ps(t, lo), hi);
    return _mm256_cvtps_epi32(_mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* (acc[0..8) + bias[j..j+8)) · scale[j..j+8) in float (bias may be NULL). */
AVX2_INLINE __m256 avx2_dequantize8(const int32_t *acc, const int32_t *bias, const float *scale,
                                    int j) {
    __m256i v = _mm256_loadu_si256((const __m256i *)acc);
    if (bias)
        v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)(bias + j)));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_loadu_ps(scale + j));
}

AVX2 static void avx2_requantize(const int32_t *acc, int m, int n, const int32_t *bias,
                                 const float *scale, float out_scale, int relu, int8_t *out) {
    const __m256 lo = _mm256_set1_ps(relu ? 0.0f : -127.0f), hi = _mm256_set1_ps(127.0f);
    const __m256 os = _mm256_set1_ps(out_scale);
    for (int i = 0; i < m; i++) {
        size_t row = (size_t)i * n;
        int j = 0;
        for (; j + 8 <= n; j += 8) {
            __m256 t = avx2_dequantize8(acc + row + j, bias, scale, j);
            avx2_store8_s8(out + row + j, avx2_round_clamp(_mm256_div_ps(t, os), lo, hi));
        }
        if (j < n)
            kern_ref_requantize(acc + row + j, 1, n - j, bias ? bias + j : NULL, scale + j,
                                out_scale, relu, out + row + j);
    }
}

AVX2 static void avx2_dequantize_s32(const int32_t *acc, int m, int n, const int32_t *bias,
                                     const float *scale, float *out) {
    for (int i = 0; i < m; i++) {
        size_t row = (size_t)i * n;
        int j = 0;
        for (; j + 8 <= n; j += 8) {
            _mm256_storeu_ps(out + row + j, avx2_dequantize8(acc + row + j, bias, scale, j));
        }
        if (j < n)
            kern_ref_dequantize_s32(acc + row + j, 1, n - j, bias ? bias + j : NULL, scale + j,
                                    out + row + j);
    }
}

AVX2 static void avx2_quantize_s8(const float *x, size_t n, float scale, int8_t *q) {
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    const __m256 s = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        avx2_store8_s8(q + i, avx2_round_clamp(_mm256_div_ps(_mm256_loadu_ps(x + i), s), lo, hi));
    if (i < n)
        kern_ref_quantize_s8(x + i, n - i, scale, q + i);
}

const kern_int8_ops kern_int8_avx2_ops = {"avx2",          avx2_scratch_size,   avx2_gemm_s8,
                                          avx2_requantize, avx2_dequantize_s32, avx2_quantize_s8};
