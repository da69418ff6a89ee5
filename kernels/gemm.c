/* fp32 GEMM (kernels.h): the exact path, whose every output is one fixed chain of FMAs, and the
 * BLAS path (OpenBLAS).
 *
 * Exact path, BLIS-style: C is cut into NC-column blocks, then MC-row blocks, then KC-deep
 * blocks of the sum; op(A) and op(B) are seen as micro-panels (MR rows, NR columns), read in
 * place where the layout allows or packed (zero-padded at the edges), and a micro-kernel
 * computes an MR × NR tile of sums in registers.
 * Between K blocks a tile's running sums go to `gemm_partial` and come back unchanged, so each
 * output's chain s = fma(a_ip, b_pj, s), p = 0 .. k−1, is the same whatever the blocking, the
 * tile it falls in or the vector width: the ISA level changes only how many outputs are computed
 * at once. Padding rows and columns compute values that are never stored. The last K block
 * applies alpha and beta (kernels.h). One thread per rank: the packing buffers are static. */
#include "kernels/isa.h"
#include "kernels/kernels.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

enum { GEMM_KC = 256, GEMM_MC = 264, GEMM_NC = 512 }; /* MC, NC: multiples of every MR, NR */

static float gemm_pack_a[GEMM_MC * GEMM_KC] __attribute__((aligned(64)));
static float gemm_pack_b[GEMM_KC * GEMM_NC] __attribute__((aligned(64)));
static float gemm_partial[GEMM_MC * GEMM_NC] __attribute__((aligned(64)));

static int compute_path = KERN_COMPUTE_EXACT;

void kern_compute_set(kern_compute_path path) {
    __atomic_store_n(&compute_path, (int)path, __ATOMIC_RELEASE);
}

kern_compute_path kern_compute(void) {
    return (kern_compute_path)__atomic_load_n(&compute_path, __ATOMIC_ACQUIRE);
}

const char *kern_blas_config(void) {
    return openblas_get_config();
}

const char *kern_blas_core(void) {
    return openblas_get_corename();
}

/* Where a micro-kernel's tile goes: its running sums (first K block: start from 0; not the last:
 * store them back), and on the last K block its rows × cols corner of C. */
typedef struct {
    int first, last;
    float *partial; /* (MR · NR) running sums, row-major */
    float *c;
    int ldc, rows, cols; /* rows ≤ MR, cols ≤ NR */
    float alpha, beta;
} gemm_tile;

/* The end of every chain, the same at every level: alpha · s, or fma(alpha, s, beta · c). */
static inline float gemm_finish(float s, float alpha, float beta, float c) {
    return beta == 0.0f ? alpha * s : fmaf(alpha, s, beta * c);
}

/* ---- micro-kernels: kc steps of an A micro-panel (MR rows) and a B micro-panel (NR columns),
 * a_row floats between A's rows, a_step and b_step floats from one sum to the next ---- */

enum {
    GENERIC_MR = 4,
    GENERIC_NR = 8,
    AVX2_MR = 6,
    AVX2_NR = 16,
    AVX512_MR = 8,
    AVX512_NR = 32,
    GEMM_NR_MAX = 32
};

static void tile_generic(int kc, const float *ap, int a_row, int a_step, const float *bp,
                         int b_step, const gemm_tile *t) {
    float s[GENERIC_MR][GENERIC_NR];
    for (int r = 0; r < GENERIC_MR; r++)
        for (int j = 0; j < GENERIC_NR; j++)
            s[r][j] = t->first ? 0.0f : t->partial[r * GENERIC_NR + j];
    for (int p = 0; p < kc; p++, ap += a_step, bp += b_step)
        for (int r = 0; r < GENERIC_MR; r++)
            for (int j = 0; j < GENERIC_NR; j++)
                s[r][j] = fmaf(ap[(size_t)r * a_row], bp[j], s[r][j]);
    if (!t->last) {
        memcpy(t->partial, s, sizeof s);
        return;
    }
    for (int r = 0; r < t->rows; r++)
        for (int j = 0; j < t->cols; j++) {
            float *c = t->c + (size_t)r * t->ldc + j;
            *c = gemm_finish(s[r][j], t->alpha, t->beta, *c);
        }
}

__attribute__((target("avx2,fma"))) static void tile_avx2(int kc, const float *ap, int a_row,
                                                          int a_step, const float *bp, int b_step,
                                                          const gemm_tile *t) {
    __m256 lo[AVX2_MR], hi[AVX2_MR]; /* columns 0-7 and 8-15 of each row */
#pragma GCC unroll 6
    for (int r = 0; r < AVX2_MR; r++) {
        lo[r] = t->first ? _mm256_setzero_ps() : _mm256_load_ps(t->partial + r * AVX2_NR);
        hi[r] = t->first ? _mm256_setzero_ps() : _mm256_load_ps(t->partial + r * AVX2_NR + 8);
    }
    for (int p = 0; p < kc; p++, ap += a_step, bp += b_step) {
        __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
        for (int r = 0; r < AVX2_MR; r++) {
            __m256 a = _mm256_broadcast_ss(ap + (size_t)r * a_row);
            lo[r] = _mm256_fmadd_ps(a, b0, lo[r]);
            hi[r] = _mm256_fmadd_ps(a, b1, hi[r]);
        }
    }
    if (!t->last) {
#pragma GCC unroll 6
        for (int r = 0; r < AVX2_MR; r++) {
            _mm256_store_ps(t->partial + r * AVX2_NR, lo[r]);
            _mm256_store_ps(t->partial + r * AVX2_NR + 8, hi[r]);
        }
        return;
    }
    /* The sums leave the registers in one unrolled sweep (a loop over t->rows would keep lo
     * and hi in memory throughout). */
    float sums[AVX2_MR][AVX2_NR] __attribute__((aligned(32)));
#pragma GCC unroll 6
    for (int r = 0; r < AVX2_MR; r++) {
        _mm256_store_ps(sums[r], lo[r]);
        _mm256_store_ps(sums[r] + 8, hi[r]);
    }
    if (t->cols == AVX2_NR) {
        const __m256 alpha = _mm256_set1_ps(t->alpha), beta = _mm256_set1_ps(t->beta);
        for (int r = 0; r < t->rows; r++) {
            float *c = t->c + (size_t)r * t->ldc;
            for (int half = 0; half < AVX2_NR; half += 8) {
                __m256 s = _mm256_load_ps(sums[r] + half);
                _mm256_storeu_ps(
                    c + half, t->beta == 0.0f
                                  ? _mm256_mul_ps(alpha, s)
                                  : _mm256_fmadd_ps(
                                        alpha, s, _mm256_mul_ps(beta, _mm256_loadu_ps(c + half))));
            }
        }
        return;
    }
    for (int r = 0; r < t->rows; r++)
        for (int j = 0; j < t->cols; j++) {
            float *c = t->c + (size_t)r * t->ldc + j;
            *c = gemm_finish(sums[r][j], t->alpha, t->beta, *c);
        }
}

/* Columns [at, at + 16) of one row of C, masked to the tile's columns. */
__attribute__((target("avx512f"))) static inline void
store_avx512(float *c, __m512 s, __mmask16 mask, __m512 alpha, __m512 beta, int keep_c) {
    __m512 v = keep_c
                   ? _mm512_fmadd_ps(alpha, s, _mm512_mul_ps(beta, _mm512_maskz_loadu_ps(mask, c)))
                   : _mm512_mul_ps(alpha, s);
    _mm512_mask_storeu_ps(c, mask, v);
}

__attribute__((target("avx512f"))) static void tile_avx512(int kc, const float *ap, int a_row,
                                                           int a_step, const float *bp, int b_step,
                                                           const gemm_tile *t) {
    __m512 lo[AVX512_MR], hi[AVX512_MR]; /* columns 0-15 and 16-31 of each row */
#pragma GCC unroll 8
    for (int r = 0; r < AVX512_MR; r++) {
        lo[r] = t->first ? _mm512_setzero_ps() : _mm512_load_ps(t->partial + r * AVX512_NR);
        hi[r] = t->first ? _mm512_setzero_ps() : _mm512_load_ps(t->partial + r * AVX512_NR + 16);
    }
    for (int p = 0; p < kc; p++, ap += a_step, bp += b_step) {
        __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 8
        for (int r = 0; r < AVX512_MR; r++) {
            __m512 a = _mm512_set1_ps(ap[(size_t)r * a_row]);
            lo[r] = _mm512_fmadd_ps(a, b0, lo[r]);
            hi[r] = _mm512_fmadd_ps(a, b1, hi[r]);
        }
    }
    if (!t->last) {
#pragma GCC unroll 8
        for (int r = 0; r < AVX512_MR; r++) {
            _mm512_store_ps(t->partial + r * AVX512_NR, lo[r]);
            _mm512_store_ps(t->partial + r * AVX512_NR + 16, hi[r]);
        }
        return;
    }
    float sums[AVX512_MR][AVX512_NR] __attribute__((aligned(64))); /* as in tile_avx2 */
#pragma GCC unroll 8
    for (int r = 0; r < AVX512_MR; r++) {
        _mm512_store_ps(sums[r], lo[r]);
        _mm512_store_ps(sums[r] + 16, hi[r]);
    }
    const __m512 alpha = _mm512_set1_ps(t->alpha), beta = _mm512_set1_ps(t->beta);
    const int cols_lo = t->cols < 16 ? t->cols : 16, cols_hi = t->cols - cols_lo;
    const __mmask16 mask_lo = (__mmask16)((1u << cols_lo) - 1u);
    const __mmask16 mask_hi = (__mmask16)((1u << cols_hi) - 1u);
    const int keep_c = t->beta != 0.0f;
    for (int r = 0; r < t->rows; r++) {
        float *c = t->c + (size_t)r * t->ldc;
        store_avx512(c, _mm512_load_ps(sums[r]), mask_lo, alpha, beta, keep_c);
        if (cols_hi > 0)
            store_avx512(c + 16, _mm512_load_ps(sums[r] + 16), mask_hi, alpha, beta, keep_c);
    }
}

typedef struct {
    int mr, nr;
    void (*tile)(int kc, const float *ap, int a_row, int a_step, const float *bp, int b_step,
                 const gemm_tile *t);
} gemm_micro;

static const gemm_micro gemm_micros[KERN_ISA_LEVELS] = {
    {GENERIC_MR, GENERIC_NR, tile_generic},
    {AVX2_MR, AVX2_NR, tile_avx2},
    {AVX512_MR, AVX512_NR, tile_avx512},
};

/* ---- panels (data movement only) ---- */

/* Panels of a block, for the smallest tile. */
enum { GEMM_A_PANELS_MAX = GEMM_MC / GENERIC_MR, GEMM_B_PANELS_MAX = GEMM_NC / GENERIC_NR };

/* A micro-panel: mr rows of op(A) (or nr columns of op(B)) over kc sums. Whole panels of op(A)
 * are read in place (the micro-kernel broadcasts one value at a time); whole panels of op(B) are
 * read in place when B's rows already hold the columns side by side; others are packed. */
typedef struct {
    const float *at;
    int row, step; /* floats from one row (column) of the panel to the next, and from one sum */
} gemm_panel;

static const float gemm_zeros[GEMM_KC]; /* the source of a panel's padding rows */

/* dst (kc, w) = the transpose of `rows` source rows (src[r] + p for p < kc); the w − rows
 * padding columns are zero. */
static void transpose_scalar(const float *const *src, int kc, int w, float *dst) {
    for (int p = 0; p < kc; p++)
        for (int r = 0; r < w; r++)
            dst[(size_t)p * w + r] = src[r][p];
}

/* The same with 8 × 8 blocks transposed in registers; src has a multiple of 8 rows (the ones
 * beyond w are not stored). */
__attribute__((target("avx2"))) static void transpose_avx2(const float *const *src, int kc, int w,
                                                           float *dst) {
    int p = 0;
    for (; p + 8 <= kc; p += 8)
        for (int r = 0; r < w; r += 8) {
            __m256 v[8], t[8];
            for (int i = 0; i < 8; i++)
                v[i] = _mm256_loadu_ps(src[r + i] + p);
            for (int i = 0; i < 8; i += 2) {
                t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
                t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
            }
            for (int i = 0; i < 8; i += 4) {
                v[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
                v[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
                v[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
                v[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
            }
            for (int i = 0; i < 4; i++) {
                t[i] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x20);
                t[i + 4] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x31);
            }
            if (r + 8 <= w) {
                for (int i = 0; i < 8; i++)
                    _mm256_storeu_ps(dst + (size_t)(p + i) * w + r, t[i]);
            } else { /* the last w − r < 8 rows (no masked stores: slow on some CPUs) */
                float block[8][8];
                for (int i = 0; i < 8; i++)
                    _mm256_storeu_ps(block[i], t[i]);
                for (int i = 0; i < 8; i++)
                    for (int j = 0; j < w - r; j++)
                        dst[(size_t)(p + i) * w + r + j] = block[i][j];
            }
        }
    for (; p < kc; p++)
        for (int r = 0; r < w; r++)
            dst[(size_t)p * w + r] = src[r][p];
}

/* Pack w rows, of which the first `rows` start at first + r·ld (the others are zero), over kc
 * sums, transposed into dst (kc, w). */
static void pack_rows(const float *first, size_t ld, int rows, int kc, int w, float *dst) {
    const float *src[GEMM_NR_MAX];
    for (int r = 0; r < GEMM_NR_MAX; r++)
        src[r] = r < rows ? first + (size_t)r * ld : gemm_zeros;
    if (kern_isa() >= KERN_ISA_AVX2)
        transpose_avx2(src, kc, w, dst);
    else
        transpose_scalar(src, kc, w, dst);
}

/* Pack kc rows of w values side by side, of which the first `cols` are at first + p·ld (the
 * others are zero), into dst (kc, w). */
static void pack_columns(const float *first, size_t ld, int cols, int kc, int w, float *dst) {
    for (int p = 0; p < kc; p++) {
        float *row = dst + (size_t)p * w;
        memcpy(row, first + (size_t)p * ld, sizeof(float) * (size_t)cols);
        memset(row + cols, 0, sizeof(float) * (size_t)(w - cols));
    }
}

/* Rows [i0, i0 + mc) and sums [p0, p0 + kc) of op(A) as panels of mr rows: whole ones read in
 * place, the last partial one packed into `out` as (kc, mr), zero beyond m. */
static void panels_a(int trans, const float *a, int lda, int m, int i0, int mc, int p0, int kc,
                     int mr, float *out, gemm_panel *panels) {
    for (int q = 0; q < mc; q += mr) {
        int rows = m - (i0 + q) < mr ? m - (i0 + q) : mr;
        gemm_panel *panel = &panels[q / mr];
        if (rows == mr) { /* in place: A's rows, or for Aᵀ its columns */
            panel->at = trans ? a + (size_t)p0 * lda + i0 + q : a + (size_t)(i0 + q) * lda + p0;
            panel->row = trans ? 1 : lda;
            panel->step = trans ? lda : 1;
            continue;
        }
        float *dst = out + (size_t)q * kc;
        if (trans)
            pack_columns(a + (size_t)p0 * lda + i0 + q, (size_t)lda, rows, kc, mr, dst);
        else
            pack_rows(a + (size_t)(i0 + q) * lda + p0, (size_t)lda, rows, kc, mr, dst);
        panel->at = dst;
        panel->row = 1;
        panel->step = mr;
    }
}

/* Sums [p0, p0 + kc) and columns [j0, j0 + nc) of op(B) as panels of nr columns; packed ones go
 * to `out` as (kc, nr), zero beyond n. */
static void panels_b(int trans, const float *b, int ldb, int n, int p0, int kc, int j0, int nc,
                     int nr, float *out, gemm_panel *panels) {
    for (int q = 0; q < nc; q += nr) {
        int cols = n - (j0 + q) < nr ? n - (j0 + q) : nr;
        gemm_panel *panel = &panels[q / nr];
        panel->step = !trans && cols == nr ? ldb : nr;
        if (!trans && cols == nr) { /* row p of B holds the panel's values of sum p */
            panel->at = b + (size_t)p0 * ldb + j0 + q;
            continue;
        }
        float *dst = out + (size_t)q * kc;
        if (trans) /* column j of the panel is row j0 + q + j of B */
            pack_rows(b + (size_t)(j0 + q) * ldb + p0, (size_t)ldb, cols, kc, nr, dst);
        else
            pack_columns(b + (size_t)p0 * ldb + j0 + q, (size_t)ldb, cols, kc, nr, dst);
        panel->at = dst;
    }
}

static void gemm_exact(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                       int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    kern_isa_level level = kern_isa();
    /* Narrow products waste most of a 32-wide tile: the 16-wide one computes the same bits. */
    if (level == KERN_ISA_AVX512 && n <= AVX2_NR)
        level = KERN_ISA_AVX2;
    const gemm_micro *u = &gemm_micros[level];
    gemm_panel a_panels[GEMM_A_PANELS_MAX], b_panels[GEMM_B_PANELS_MAX];
    for (int j0 = 0; j0 < n; j0 += GEMM_NC) {
        int nc = n - j0 < GEMM_NC ? n - j0 : GEMM_NC;
        for (int i0 = 0; i0 < m; i0 += GEMM_MC) {
            int mc = m - i0 < GEMM_MC ? m - i0 : GEMM_MC;
            for (int p0 = 0; p0 == 0 || p0 < k; p0 += GEMM_KC) { /* k = 0: one empty block */
                int kc = k - p0 < GEMM_KC ? k - p0 : GEMM_KC;
                if (k > GEMM_KC || i0 == 0) /* else this B block is ready */
                    panels_b(trans_b, b, ldb, n, p0, kc, j0, nc, u->nr, gemm_pack_b, b_panels);
                panels_a(trans_a, a, lda, m, i0, mc, p0, kc, u->mr, gemm_pack_a, a_panels);
                gemm_tile t = {.first = p0 == 0,
                               .last = p0 + kc >= k,
                               .ldc = ldc,
                               .alpha = alpha,
                               .beta = beta};
                for (int jr = 0; jr < nc; jr += u->nr)
                    for (int ir = 0; ir < mc; ir += u->mr) {
                        const gemm_panel *pa = &a_panels[ir / u->mr], *pb = &b_panels[jr / u->nr];
                        t.partial = gemm_partial + ((size_t)(ir / u->mr) * (GEMM_NC / u->nr) +
                                                    (size_t)(jr / u->nr)) *
                                                       (size_t)(u->mr * u->nr);
                        t.c = c + (size_t)(i0 + ir) * ldc + j0 + jr;
                        t.rows = mc - ir < u->mr ? mc - ir : u->mr;
                        t.cols = nc - jr < u->nr ? nc - jr : u->nr;
                        u->tile(kc, pa->at, pa->row, pa->step, pb->at, pb->step, &t);
                    }
            }
        }
    }
}

void kern_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0)
        return;
    if (kern_compute() == KERN_COMPUTE_BLAS)
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc);
    else
        gemm_exact(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
