/* Unit tests of the GOR penalty (kernels/gor.h): the authors' inter and intra partitions on a
 * hand-worked case, intra with s = 1 as SO; the kernel against its double reference (penalty
 * and gradient, sets of at most and more than cols rows, inter and intra, several G); the
 * gradient against central finite differences of the penalty; G = 1 against soft orthogonality
 * computed through the other Gram; intra grouping as inter grouping of the row-permuted matrix;
 * the sum over sets equal to the whole-layer call bit for bit; orthonormal sets give P = 0. */
#include "kernels/gor.h"
#include "kernels/kernels.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t test_key[2] = {0x60a1b2c3u, 0x0d4e5f67u};

/* Kernel against reference: |P − P_ref| <= REF_TOL·P_ref and, element-wise, |Δgrad − Δgrad_ref|
 * <= REF_TOL·max|Δgrad_ref|. Measured: 1e-7 (penalty) and 3e-7 (gradient) at worst over these
 * cases (fp32 Grams of sums of at most 64 products of values in [−0.5, 0.5]); 1e-5 leaves a
 * margin. */
#define REF_TOL 1e-5

/* Weights uniform in [−0.5, 0.5): generic floats, or (grid != 0) multiples of 2^-8, so that
 * w ± 2^-10 is exact (and the fp32 Gram too: no rounding to test there). */
static void fill_weights(float *w, size_t n, uint32_t stream, int grid) {
    kern_ref_fill_uniform(w, n, test_key, stream, -0.5f, 0.5f);
    for (size_t i = 0; grid && i < n; i++)
        w[i] = roundf(w[i] * 256.0f) / 256.0f;
}

/* Scratch of the documented size, filled with NaN: nothing of it may leak into results. */
static float *scratch_for(int rows, int cols, int groups, int intra) {
    size_t n = kern_gor_scratch_floats(rows, cols, groups, intra);
    float *s = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        s[i] = NAN;
    return s;
}

static double max_abs(const float *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)x[i]));
    return m;
}

/* Rows of each set (the grouping of kernels/gor.h), and row i of set g. */
static int set_rows(int rows, int groups, int intra) {
    return intra ? groups : rows / groups;
}
static int set_row(int rows, int groups, int intra, int g, int i) {
    return intra ? g + i * (rows / groups) : g * (rows / groups) + i;
}

/* The authors' partitions (weight_regularization.py) by hand, W (6, 2), G = 2 groups of s = 3:
 * rows r0 = (1, 0), r1 = (1, 0), r2 = (2, 0), r3 = (0, 1), r4 = (1, 0), r5 = (0, 0).
 * intra, reshape(G, s, d).permute(1, 0, 2): s = 3 sets of 2, {r0, r3} {r1, r4} {r2, r5}:
 *   {r0, r3} orthonormal: 0; {r1, r4}: WWᵀ − I = [[0, 1], [1, 0]]: 2, ∂ = 4·(1, 0) on r1, r4;
 *   {r2, r5}: WWᵀ − I = [[3, 0], [0, −1]]: 10, ∂ = 4·(6, 0) on r2, 0 on r5.  P = 12.
 * (the transposed partition {r0, r2, r4} {r1, r3, r5} would give 26 + 0 = 26.)
 * inter: {r0, r1, r2} (3 rows > 2 cols: WᵀW − I = [[5, 0], [0, −1]]: 26) and {r3, r4, r5}
 * (WᵀW = I: 0). P = 26, ∂ = 4·W·[[5, 0], [0, −1]] = (20, 0), (20, 0), (40, 0) on r0..r2.
 * And intra with s = 1 (G = rows) is SO of all rows, bit for bit. */
static void test_authors_partitions(void) {
    const float w[6 * 2] = {1, 0, 1, 0, 2, 0, 0, 1, 1, 0, 0, 0};
    const float intra_grad[6 * 2] = {0, 0, 4, 0, 24, 0, 0, 0, 4, 0, 0, 0};
    const float inter_grad[6 * 2] = {20, 0, 20, 0, 40, 0, 0, 0, 0, 0, 0, 0};
    float g[6 * 2] = {0}, scratch[64];
    CU_ASSERT_EQUAL(kern_gor_sets(6, 2, 1), 3);
    CU_ASSERT_EQUAL(kern_gor_sets(6, 2, 0), 2);
    CU_ASSERT_EQUAL(kern_gor_penalty(w, 6, 2, 2, 1, 1.0f, g, scratch), 12.0);
    CU_ASSERT_EQUAL(memcmp(g, intra_grad, sizeof g), 0);
    memset(g, 0, sizeof g);
    CU_ASSERT_EQUAL(kern_gor_penalty(w, 6, 2, 2, 0, 1.0f, g, scratch), 26.0);
    CU_ASSERT_EQUAL(memcmp(g, inter_grad, sizeof g), 0);

    const int rows = 12, cols = 20;
    const size_t n = (size_t)rows * cols;
    float *v = malloc(n * sizeof(float)), *g_so = calloc(n, sizeof(float));
    float *g_intra = calloc(n, sizeof(float)), *big = scratch_for(rows, cols, 1, 0);
    fill_weights(v, n, 700, 0);
    double p_so = kern_gor_penalty(v, rows, cols, 1, 0, 0.5f, g_so, big);
    CU_ASSERT(p_so > 0.0);
    CU_ASSERT_EQUAL(kern_gor_penalty(v, rows, cols, rows, 1, 0.5f, g_intra, big), p_so);
    CU_ASSERT_EQUAL(memcmp(g_so, g_intra, n * sizeof(float)), 0);
    free(v);
    free(g_so);
    free(g_intra);
    free(big);
}

typedef struct {
    int rows, cols;
} shape;

/* (24, 60): s <= cols for every G; (64, 9): s > cols for G <= 4, s <= cols for G >= 8;
 * (12, 5): s > cols for G = 1, 2. */
static const shape shapes[] = {{24, 60}, {64, 9}, {12, 5}};
static const int group_counts[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 64};

static void test_matches_reference(void) {
    int cases = 0;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++)
        for (size_t q = 0; q < sizeof group_counts / sizeof group_counts[0]; q++)
            for (int intra = 0; intra < 2; intra++) {
                const int rows = shapes[t].rows, cols = shapes[t].cols, G = group_counts[q];
                if (rows % G != 0)
                    continue;
                const size_t n = (size_t)rows * cols;
                float *w = malloc(n * sizeof(float)), *base = malloc(n * sizeof(float));
                float *g1 = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float));
                float *scratch = scratch_for(rows, cols, G, intra);
                fill_weights(w, n, (uint32_t)(10 * t + q), 0);
                kern_ref_fill_uniform(base, n, test_key, 1000 + (uint32_t)t, -1.0f, 1.0f);
                memcpy(g1, base, n * sizeof(float));
                memcpy(g2, base, n * sizeof(float));
                const float scale = 0.375f;
                double p = kern_gor_penalty(w, rows, cols, G, intra, scale, g1, scratch);
                double p_ref = kern_ref_gor_penalty(w, rows, cols, G, intra, scale, g2, scratch);
                CU_ASSERT(p > 0.0 && fabs(p - p_ref) <= REF_TOL * p_ref);
                /* without a gradient: the same penalty, bit for bit */
                CU_ASSERT_EQUAL(kern_gor_penalty(w, rows, cols, G, intra, scale, NULL, scratch), p);
                for (size_t i = 0; i < n; i++) { /* the added parts */
                    g1[i] -= base[i];
                    g2[i] -= base[i];
                }
                double gmax = max_abs(g2, n);
                int bad = 0;
                for (size_t i = 0; i < n; i++)
                    bad += fabs((double)g1[i] - (double)g2[i]) > REF_TOL * gmax;
                CU_ASSERT(gmax > 0.0);
                CU_ASSERT_EQUAL(bad, 0);
                cases++;
                free(w);
                free(base);
                free(g1);
                free(g2);
                free(scratch);
            }
    CU_ASSERT(cases >= 30);
}

/* Central differences of the reference penalty (double) with step h = 2^-10 on weights on the
 * 2^-8 grid (w ± h exact in fp32). P is a quartic in each weight whose third derivative is
 * 24·w (only ‖row‖² or ‖column‖² terms are quartic), so the difference quotient is exact up to
 * h²/6 · 24·|w| <= 2h² ≈ 1.9e-6: tolerance FD_TOL = 1e-5 (absolute) for the reference gradient
 * (itself rounded to fp32: < 1e-6 here), 1e-4 · max|grad| for the fp32 kernel. */
#define FD_STEP (1.0f / 1024.0f)
#define FD_TOL 1e-5

static void test_gradient_finite_differences(void) {
    const struct {
        int rows, cols, groups;
    } cases[] = {{12, 10, 3}, {12, 3, 2}, {8, 8, 1}, {10, 4, 5}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++)
        for (int intra = 0; intra < 2; intra++) {
            const int rows = cases[t].rows, cols = cases[t].cols, G = cases[t].groups;
            const size_t n = (size_t)rows * cols;
            float *w = malloc(n * sizeof(float)), *scratch = scratch_for(rows, cols, G, intra);
            float *g_ref = calloc(n, sizeof(float)), *g = calloc(n, sizeof(float));
            fill_weights(w, n, 200 + (uint32_t)t, 1);
            kern_ref_gor_penalty(w, rows, cols, G, intra, 1.0f, g_ref, scratch);
            kern_gor_penalty(w, rows, cols, G, intra, 1.0f, g, scratch);
            double gmax = max_abs(g_ref, n);
            int bad_ref = 0, bad = 0;
            for (size_t i = 0; i < n; i++) {
                const float w0 = w[i];
                w[i] = w0 + FD_STEP;
                double plus = kern_ref_gor_penalty(w, rows, cols, G, intra, 1.0f, NULL, scratch);
                w[i] = w0 - FD_STEP;
                double minus = kern_ref_gor_penalty(w, rows, cols, G, intra, 1.0f, NULL, scratch);
                w[i] = w0;
                double fd = (plus - minus) / (2.0 * (double)FD_STEP);
                bad_ref += fabs(fd - (double)g_ref[i]) > FD_TOL;
                bad += fabs(fd - (double)g[i]) > 1e-4 * gmax;
            }
            CU_ASSERT(gmax > 0.1);
            CU_ASSERT_EQUAL(bad_ref, 0);
            CU_ASSERT_EQUAL(bad, 0);
            free(w);
            free(scratch);
            free(g_ref);
            free(g);
        }
}

/* G = 1 is soft orthogonality, here through the other (larger) Gram: for rows <= cols
 * ‖WWᵀ − I‖² = ‖WᵀW‖² − 2‖W‖² + rows and 4(WWᵀ − I)W = 4(W(WᵀW) − W); for rows > cols
 * ‖WᵀW − I‖² = ‖WWᵀ‖² − 2‖W‖² + cols and 4W(WᵀW − I) = 4((WWᵀ)W − W). In double; the kernel
 * within 1e-5 relative (penalty) and 1e-5 · max|grad| (gradient). */
static void test_one_group_is_soft_orthogonality(void) {
    const shape cases[] = {{10, 30}, {30, 10}, {16, 16}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int rows = cases[t].rows, cols = cases[t].cols;
        const int wide = rows <= cols, big = wide ? cols : rows; /* the larger Gram's side */
        const size_t n = (size_t)rows * cols;
        float *w = malloc(n * sizeof(float)), *g = calloc(n, sizeof(float));
        float *scratch = scratch_for(rows, cols, 1, 0);
        double *gram = malloc((size_t)big * big * sizeof(double));
        fill_weights(w, n, 300 + (uint32_t)t, 0);
        double frob_w = 0.0, frob_gram = 0.0;
        for (size_t i = 0; i < n; i++)
            frob_w += (double)w[i] * w[i];
        for (int a = 0; a < big; a++) /* WᵀW (cols, cols) when wide, else WWᵀ (rows, rows) */
            for (int b = 0; b < big; b++) {
                double acc = 0.0;
                for (int k = 0; k < (wide ? rows : cols); k++)
                    acc += wide ? (double)w[k * cols + a] * w[k * cols + b]
                                : (double)w[a * cols + k] * w[b * cols + k];
                gram[a * big + b] = acc;
                frob_gram += acc * acc;
            }
        double p_so = frob_gram - 2.0 * frob_w + (wide ? rows : cols);
        double p = kern_gor_penalty(w, rows, cols, 1, 0, 1.0f, g, scratch);
        CU_ASSERT(p_so > 0.0 && fabs(p - p_so) <= 1e-5 * p_so);
        double gmax = max_abs(g, n);
        int bad = 0;
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < cols; k++) {
                double acc = 0.0;
                if (wide) /* (W · WᵀW)_ik */
                    for (int l = 0; l < cols; l++)
                        acc += (double)w[i * cols + l] * gram[l * big + k];
                else /* (WWᵀ · W)_ik */
                    for (int j = 0; j < rows; j++)
                        acc += gram[i * big + j] * (double)w[j * cols + k];
                double want = 4.0 * (acc - (double)w[i * cols + k]);
                bad += fabs(want - (double)g[i * cols + k]) > 1e-5 * gmax;
            }
        CU_ASSERT_EQUAL(bad, 0);
        free(w);
        free(g);
        free(scratch);
        free(gram);
    }
}

/* Intra grouping of W with G groups equals inter grouping with s = rows / G groups of P·W, where
 * row j·G + i of P·W is row j + i·s of W (penalty and gradient bit for bit: the same arithmetic
 * on a strided view). */
static void test_intra_is_permuted_inter(void) {
    const struct {
        int rows, cols, groups;
    } cases[] = {{24, 60, 4}, {24, 60, 6}, {64, 9, 4}, {64, 9, 16}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int rows = cases[t].rows, cols = cases[t].cols, G = cases[t].groups;
        const int s = rows / G;
        const size_t n = (size_t)rows * cols, row_bytes = (size_t)cols * sizeof(float);
        float *w = malloc(n * sizeof(float)), *wp = malloc(n * sizeof(float));
        float *g = calloc(n, sizeof(float)), *gp = calloc(n, sizeof(float));
        float *scratch = scratch_for(rows, cols, 1, 0); /* SO's: enough for every grouping */
        fill_weights(w, n, 400 + (uint32_t)t, 0);
        for (int j = 0; j < s; j++)
            for (int i = 0; i < G; i++)
                memcpy(wp + (size_t)(j * G + i) * cols, w + (size_t)(j + i * s) * cols, row_bytes);
        double p_intra = kern_gor_penalty(w, rows, cols, G, 1, 0.5f, g, scratch);
        double p_inter = kern_gor_penalty(wp, rows, cols, s, 0, 0.5f, gp, scratch);
        CU_ASSERT_EQUAL(p_intra, p_inter);
        /* and differs from inter grouping of W itself (the grouping matters) */
        CU_ASSERT_NOT_EQUAL(kern_gor_penalty(w, rows, cols, G, 0, 0.5f, NULL, scratch), p_intra);
        int same = 1;
        for (int j = 0; j < s; j++)
            for (int i = 0; i < G; i++)
                same &= memcmp(gp + (size_t)(j * G + i) * cols, g + (size_t)(j + i * s) * cols,
                               row_bytes) == 0;
        CU_ASSERT(same);
        free(w);
        free(wp);
        free(g);
        free(gp);
        free(scratch);
    }
}

/* Σ_g kern_gor_group_penalty (g in order) is the whole-layer call bit for bit, gradient too;
 * a set touches only its rows; a set's contribution does not depend on what grad held
 * (grad from base = base + grad from zero, bit for bit), so sets split over ranks into zeroed
 * buffers give the same per-set bits. */
static void test_groups_sum_to_whole(void) {
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++)
        for (int intra = 0; intra < 2; intra++) {
            const int rows = shapes[t].rows, cols = shapes[t].cols, G = 4;
            const size_t n = (size_t)rows * cols;
            float *w = malloc(n * sizeof(float)), *base = malloc(n * sizeof(float));
            float *whole = malloc(n * sizeof(float)), *split = malloc(n * sizeof(float));
            float *zero = calloc(n, sizeof(float)), *one = calloc(n, sizeof(float));
            float *scratch = scratch_for(rows, cols, G, intra);
            fill_weights(w, n, 500 + (uint32_t)t, 0);
            kern_ref_fill_uniform(base, n, test_key, 501, -1.0f, 1.0f);
            memcpy(whole, base, n * sizeof(float));
            memcpy(split, base, n * sizeof(float));
            double p = kern_gor_penalty(w, rows, cols, G, intra, 0.25f, whole, scratch);
            double sum = 0.0;
            for (int q = 0; q < kern_gor_sets(rows, G, intra); q++)
                sum += kern_gor_group_penalty(w, rows, cols, G, intra, q, 0.25f, split, scratch);
            CU_ASSERT_EQUAL(sum, p);
            CU_ASSERT_EQUAL(memcmp(whole, split, n * sizeof(float)), 0);
            kern_gor_penalty(w, rows, cols, G, intra, 0.25f, zero, scratch);
            int same = 1;
            for (size_t i = 0; i < n; i++)
                same &= whole[i] == base[i] + zero[i];
            CU_ASSERT(same);
            /* set 1 alone changes exactly its own rows (all of them: generic weights) */
            kern_gor_group_penalty(w, rows, cols, G, intra, 1, 0.25f, one, scratch);
            int ok = 1;
            for (int r = 0; r < rows; r++) {
                int mine = 0;
                for (int i = 0; i < set_rows(rows, G, intra); i++)
                    mine |= set_row(rows, G, intra, 1, i) == r;
                for (int k = 0; k < cols; k++)
                    ok &= (one[(size_t)r * cols + k] != 0.0f) == mine;
            }
            CU_ASSERT(ok);
            free(w);
            free(base);
            free(whole);
            free(split);
            free(zero);
            free(one);
            free(scratch);
        }
}

/* Orthonormal sets give P = 0 and a zero gradient, exactly: for sets of s <= cols rows each
 * set's rows are distinct signed unit vectors ±e_j; for s > cols each set is four stacked copies
 * of the 4×4 Hadamard matrix times 1/4 (orthonormal columns). The same weights times 2 have Gram
 * 4·I: Gram − I = 3·I, so P = 9·(Gram side)·sets and the gradient is 4·3·W = 12·W, exact. */
static void test_orthonormal_groups(void) {
    static const float hadamard[4][4] = {
        {1, 1, 1, 1}, {1, -1, 1, -1}, {1, 1, -1, -1}, {1, -1, -1, 1}};
    const struct {
        int rows, cols, groups;
    } cases[] = {{16, 8, 4}, {16, 8, 2}, {8, 8, 1}, {32, 4, 2}, {16, 4, 1}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++)
        for (int intra = 0; intra < 2; intra++) {
            const int rows = cases[t].rows, cols = cases[t].cols, G = cases[t].groups;
            const int s = set_rows(rows, G, intra), sets = kern_gor_sets(rows, G, intra);
            const size_t n = (size_t)rows * cols;
            float *w = calloc(n, sizeof(float)), *g = calloc(n, sizeof(float));
            float *scratch = scratch_for(rows, cols, G, intra);
            for (int q = 0; q < sets; q++)
                for (int i = 0; i < s; i++) {
                    float *row = w + (size_t)set_row(rows, G, intra, q, i) * cols;
                    if (s <= cols) /* column (3i + q) mod cols: distinct within the set */
                        row[(3 * i + q) % cols] = (i + q) % 2 ? -1.0f : 1.0f;
                    else /* cols == 4, s == 16 */
                        for (int k = 0; k < 4; k++)
                            row[k] = 0.25f * hadamard[i % 4][k];
                }
            CU_ASSERT_EQUAL(kern_gor_penalty(w, rows, cols, G, intra, 1.0f, g, scratch), 0.0);
            CU_ASSERT_EQUAL(max_abs(g, n), 0.0);
            for (size_t i = 0; i < n; i++)
                w[i] *= 2.0f;
            const int side = s <= cols ? s : cols;
            double p = kern_gor_penalty(w, rows, cols, G, intra, 1.0f, g, scratch);
            CU_ASSERT_EQUAL(p, 9.0 * side * sets);
            int exact = 1;
            for (size_t i = 0; i < n; i++)
                exact &= g[i] == 12.0f * w[i];
            CU_ASSERT(exact);
            free(w);
            free(g);
            free(scratch);
        }
}

static const rl_test tests[] = {
    {"the authors' inter and intra partitions by hand; intra with s = 1 is SO",
     test_authors_partitions},
    {"penalty and gradient match the double reference (shapes, G, inter/intra)",
     test_matches_reference},
    {"gradient matches central finite differences of the penalty",
     test_gradient_finite_differences},
    {"G = 1 is soft orthogonality (through the other Gram)", test_one_group_is_soft_orthogonality},
    {"intra grouping is inter grouping of the row-permuted matrix, bit for bit",
     test_intra_is_permuted_inter},
    {"sum over sets is the whole-layer call, bit for bit", test_groups_sum_to_whole},
    {"orthonormal sets give P = 0; doubled, P = 9·side·sets and grad = 12·W",
     test_orthonormal_groups},
    {NULL, NULL}};
RL_TEST_SUITE("gor", tests)
