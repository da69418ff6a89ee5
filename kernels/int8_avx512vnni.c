/* AVX-512 VNNI variant of the int8 kernels (kernels/int8.h).
 *
 * GEMM: vpdpbusd multiplies unsigned by signed bytes, so the weights are packed as w + 128
 * (u8) and the activations are the signed operand, broadcast 4 bytes (one k-group) at a time
 * straight from memory; then A · (W + 128)ᵀ - 128 · rowsum(A) = A · Wᵀ, all modulo 2³². The
 * packed weights (into the caller's scratch) are panels of VNNI_NR columns: for each k-group g,
 * VNNI_NV vectors of 16 columns × 4 bytes. A micro-tile of VNNI_MR rows × VNNI_NR columns keeps
 * its VNNI_MR · VNNI_NV accumulators in registers over the whole k loop; padding (columns past
 * n, k past the end) is packed as 0 and so adds nothing. */
#include "kernels/int8.h"

#include <immintrin.h>
#include <string.h>

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define VNNI_INLINE VNNI static inline __attribute__((always_inline))

enum { VNNI_MR = 12, VNNI_NV = 2, VNNI_NR = 16 * VNNI_NV };

typedef int32_t vnni_i32u __attribute__((aligned(1), may_alias));

static size_t vnni_panel_bytes(int k) {
    return ((size_t)k + 3) / 4 * VNNI_NR * 4;
}

static size_t vnni_scratch_size(int m, int n, int k) {
    size_t panels = ((size_t)n + VNNI_NR - 1) / VNNI_NR;
    return 64 + panels * vnni_panel_bytes(k) + (size_t)m * sizeof(int32_t);
}

/* The lanes of the first min(left, 16) of 16 elements (left >= 1). */
VNNI_INLINE __mmask16 vnni_mask16(size_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* In-register transpose of 16 rows × 16 dwords: afterwards r[g] holds dword g of every row. */
VNNI_INLINE void vnni_transpose16(__m512i r[16]) {
    __m512i t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* Per 128-bit lane L, r[4i + c] gets rows 4i..4i+3 of dword 4L + c. */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    /* A 4 × 4 transpose of 128-bit lanes for each c. */
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m512i u0 = _mm512_shuffle_i32x4(r[c], r[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
        __m512i u1 = _mm512_shuffle_i32x4(r[c], r[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
        __m512i u2 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
        __m512i u3 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
        t[c] = _mm512_shuffle_i32x4(u0, u2, _MM_SHUFFLE(2, 0, 2, 0));
        t[4 + c] = _mm512_shuffle_i32x4(u0, u2, _MM_SHUFFLE(3, 1, 3, 1));
        t[8 + c] = _mm512_shuffle_i32x4(u1, u3, _MM_SHUFFLE(2, 0, 2, 0));
        t[12 + c] = _mm512_shuffle_i32x4(u1, u3, _MM_SHUFFLE(3, 1, 3, 1));
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = t[i];
}

/* W (n, k) → panels of w + 128 as u8, (n_pad / NR, k4, NR, 4); padding is 0. */
VNNI static void vnni_pack_w(int n, int k, const int8_t *w, uint8_t *pw) {
    const int k4 = (k + 3) / 4;
    const int n_pad = (n + VNNI_NR - 1) / VNNI_NR * VNNI_NR;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int j0 = 0; j0 < n_pad; j0 += 16) {
        uint8_t *dst = pw + (size_t)(j0 / VNNI_NR) * vnni_panel_bytes(k) + (j0 % VNNI_NR) * 4;
        for (int kb = 0; kb < k; kb += 64) {
            __mmask64 mask = k - kb >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (k - kb)) - 1;
            __m512i flip_valid = _mm512_maskz_mov_epi8(mask, flip);
            __m512i r[16];
#pragma GCC unroll 16
            for (int t = 0; t < 16; t++)
                r[t] = j0 + t < n ? _mm512_xor_si512(_mm512_maskz_loadu_epi8(
                                                         mask, w + (size_t)(j0 + t) * k + kb),
                                                     flip_valid)
                                  : _mm512_setzero_si512();
            vnni_transpose16(r);
            int groups = k4 - kb / 4 < 16 ? k4 - kb / 4 : 16;
            for (int g = 0; g < groups; g++)
                _mm512_storeu_si512(dst + (size_t)(kb / 4 + g) * VNNI_NR * 4, r[g]);
        }
    }
}

/* sums (m) = Σ_k a[i, k], modulo 2³². */
VNNI static void vnni_row_sums(int m, int k, const int8_t *a, int32_t *sums) {
    const __m512i ones = _mm512_set1_epi8(1);
    for (int i = 0; i < m; i++) {
        const int8_t *ai = a + (size_t)i * k;
        __m512i acc = _mm512_setzero_si512();
        for (int p = 0; p < k; p += 64) {
            __mmask64 mask = k - p >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (k - p)) - 1;
            acc = _mm512_dpbusd_epi32(acc, ones, _mm512_maskz_loadu_epi8(mask, ai + p));
        }
        sums[i] = _mm512_reduce_add_epi32(acc);
    }
}

/* C (mr, ncols) at c (row stride n) for rows a (mr, k) against one packed panel pw. */
VNNI_INLINE void vnni_tile(const int mr, int n, int k, const int8_t *a, const uint8_t *pw,
                           const int32_t *sums, int32_t *c, int ncols) {
    const int k4 = k / 4, tail = k % 4;
    __m512i acc[VNNI_MR][VNNI_NV];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < VNNI_NV; v++)
            acc[r][v] = _mm512_setzero_si512();
    for (int g = 0; g < k4; g++) {
        const uint8_t *wg = pw + (size_t)g * VNNI_NR * 4;
        __m512i wv[VNNI_NV];
#pragma GCC unroll 4
        for (int v = 0; v < VNNI_NV; v++)
            wv[v] = _mm512_loadu_si512(wg + 64 * v);
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            __m512i b = _mm512_set1_epi32(*(const vnni_i32u *)(a + (size_t)r * k + 4 * g));
#pragma GCC unroll 4
            for (int v = 0; v < VNNI_NV; v++)
                acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], wv[v], b);
        }
    }
    if (tail) {
        const uint8_t *wg = pw + (size_t)k4 * VNNI_NR * 4;
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            int32_t q = 0;
            memcpy(&q, a + (size_t)r * k + 4 * k4, (size_t)tail);
            __m512i b = _mm512_set1_epi32(q);
#pragma GCC unroll 4
            for (int v = 0; v < VNNI_NV; v++)
                acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], _mm512_loadu_si512(wg + 64 * v), b);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
        __m512i corr = _mm512_set1_epi32((int32_t)((uint32_t)sums[r] * 128u));
#pragma GCC unroll 4
        for (int v = 0; v < VNNI_NV; v++) {
            int cols = ncols - 16 * v;
            if (cols <= 0)
                break;
            __mmask16 mask = vnni_mask16((size_t)cols);
            _mm512_mask_storeu_epi32(c + (size_t)r * n + 16 * v, mask,
                                     _mm512_sub_epi32(acc[r][v], corr));
        }
    }
}

VNNI static void vnni_gemm_s8(int m, int n, int k, const int8_t *a, const int8_t *w, int32_t *c,
                              void *scratch) {
    if (m <= 0 || n <= 0)
        return;
    uint8_t *pw = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    const int panels = (n + VNNI_NR - 1) / VNNI_NR;
    int32_t *sums = (int32_t *)(pw + (size_t)panels * vnni_panel_bytes(k)); // (m)
    vnni_pack_w(n, k, w, pw);
    vnni_row_sums(m, k, a, sums);
    for (int p = 0; p < panels; p++) {
        const uint8_t *panel = pw + (size_t)p * vnni_panel_bytes(k);
        int j0 = p * VNNI_NR, ncols = n - j0 < VNNI_NR ? n - j0 : VNNI_NR;
        for (int i0 = 0; i0 < m; i0 += VNNI_MR) {
            const int8_t *ai = a + (size_t)i0 * k;
            int32_t *ci = c + (size_t)i0 * n + j0;
            switch (m - i0 < VNNI_MR ? m - i0 : VNNI_MR) {
#define VNNI_TILE(R)                                                                               \
    case R:                                                                                        \
        vnni_tile(R, n, k, ai, panel, sums + i0, ci, ncols);                                       \
        break;
                VNNI_TILE(1)
                VNNI_TILE(2)
                VNNI_TILE(3)
                VNNI_TILE(4)
                VNNI_TILE(5)
                VNNI_TILE(6)
                VNNI_TILE(7)
                VNNI_TILE(8)
                VNNI_TILE(9)
                VNNI_TILE(10)
                VNNI_TILE(11)
                VNNI_TILE(12)
#undef VNNI_TILE
            }
        }
    }
}

/* (acc[0..] + bias[j..]) · scale[j..] in float, the mask's lanes of 16 (bias may be NULL). */
VNNI_INLINE __m512 vnni_dequantize16(const int32_t *acc, const int32_t *bias, const float *scale,
                                     int j, __mmask16 mask) {
    __m512i v = _mm512_maskz_loadu_epi32(mask, acc);
    if (bias)
        v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(mask, bias + j));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_maskz_loadu_ps(mask, scale + j));
}

VNNI static void vnni_requantize(const int32_t *acc, int m, int n, const int32_t *bias,
                                 const float *scale, float out_scale, int relu, int8_t *out) {
    const __m512 lo = _mm512_set1_ps(relu ? 0.0f : -127.0f), hi = _mm512_set1_ps(127.0f);
    const __m512 os = _mm512_set1_ps(out_scale);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j += 16) {
            size_t at = (size_t)i * n + j;
            __mmask16 mask = vnni_mask16((size_t)(n - j));
            __m512 t = vnni_dequantize16(acc + at, bias, scale, j, mask);
            t = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(t, os), lo), hi);
            __m512i q = _mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            _mm512_mask_cvtepi32_storeu_epi8(out + at, mask, q);
        }
}

VNNI static void vnni_dequantize_s32(const int32_t *acc, int m, int n, const int32_t *bias,
                                     const float *scale, float *out) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j += 16) {
            size_t at = (size_t)i * n + j;
            __mmask16 mask = vnni_mask16((size_t)(n - j));
            __m512 t = vnni_dequantize16(acc + at, bias, scale, j, mask);
            _mm512_mask_storeu_ps(out + at, mask, t);
        }
}

VNNI static void vnni_quantize_s8(const float *x, size_t n, float scale, int8_t *q) {
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    const __m512 s = _mm512_set1_ps(scale);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 mask = vnni_mask16(n - i);
        __m512 t = _mm512_div_ps(_mm512_maskz_loadu_ps(mask, x + i), s);
        t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
        __m512i v = _mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm512_mask_cvtepi32_storeu_epi8(q + i, mask, v);
    }
}

const kern_int8_ops kern_int8_avx512vnni_ops = {"avx512vnni",        vnni_scratch_size,
                                                vnni_gemm_s8,        vnni_requantize,
                                                vnni_dequantize_s32, vnni_quantize_s8};
