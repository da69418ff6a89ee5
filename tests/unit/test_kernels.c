/* Unit tests of kernels/: every kernel against its kern_ref_ reference bit for bit at every ISA
 * level (sgemm's exact path: the FMA chain of kern_ref_sgemm; fixed point, uniform fill), sgemm
 * on both paths within an epsilon-scaled bound of the product in double, the symmetric
 * eigensolver, fixed-point sums independent of order and grouping, and the Random123
 * Philox4x32-10 known-answer vectors. */
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "src/core/rng.h"
#include "tests/unit/harness.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX_LIMIT 4611686018427387904.0 /* 2^62, the saturation bound */

static const uint32_t test_key[2] = {0x01234567u, 0x89abcdefu};

/* Uniform test data in [lo, hi), reproducible from `stream`. */
static void fill(float *x, size_t n, uint32_t stream, float lo, float hi) {
    kern_ref_fill_uniform(x, n, test_key, stream, lo, hi);
}

/* ---- sgemm ---- */

/* Element (i, j) of op(X) for a row-major X with leading dimension ld. */
static float op_at(const float *x, int trans, int ld, int i, int j) {
    return trans ? x[(size_t)j * ld + i] : x[(size_t)i * ld + j];
}

/* alpha · op(A) · op(B) + beta · C summed in double, rounded once to float. */
static void sgemm_in_double(int ta, int tb, int m, int n, int k, float alpha, const float *a,
                            int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double acc = 0.0;
            for (int p = 0; p < k; p++)
                acc += (double)op_at(a, ta, lda, i, p) * op_at(b, tb, ldb, p, j);
            double prev = beta == 0.0f ? 0.0 : (double)beta * c[(size_t)i * ldc + j];
            c[(size_t)i * ldc + j] = (float)(alpha * acc + prev);
        }
}

/* Runs kern_sgemm and the product in double on the same random inputs and checks every element
 * of C against |diff| <= tol · eps · (|alpha| · sum_k |a_ik · b_kj| + |beta · c_ij|), that
 * nothing is NaN, and that the padding columns of C (beyond n, up to ldc) are untouched. With
 * beta = 0 C starts as NaN, which must not leak into the result. exact: kern_sgemm's result must
 * also equal kern_ref_sgemm's bit for bit. Returns the number of bad elements. */
static int check_sgemm(int ta, int tb, int m, int n, int k, int pad, float alpha, float beta,
                       uint32_t seed, int exact) {
    const float sentinel = 12345.0f;
    int a_rows = ta ? k : m, a_cols = ta ? m : k;
    int b_rows = tb ? n : k, b_cols = tb ? k : n;
    int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
    size_t na = (size_t)a_rows * lda, nb = (size_t)b_rows * ldb, nc = (size_t)m * ldc;
    float *a = malloc(na * sizeof(float)), *b = malloc(nb * sizeof(float));
    float *c = malloc(nc * sizeof(float)), *c_ref = malloc(nc * sizeof(float));
    float *c0 = malloc(nc * sizeof(float)), *c_chain = malloc(nc * sizeof(float));
    fill(a, na, seed, -1.0f, 1.0f);
    fill(b, nb, seed + 1, -2.0f, 2.0f);
    fill(c0, nc, seed + 2, -1.0f, 1.0f);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ldc; j++) {
            float *v = &c0[(size_t)i * ldc + j];
            if (j >= n)
                *v = sentinel;
            else if (beta == 0.0f)
                *v = NAN;
        }
    memcpy(c, c0, nc * sizeof(float));
    memcpy(c_ref, c0, nc * sizeof(float));
    memcpy(c_chain, c0, nc * sizeof(float));
    kern_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    sgemm_in_double(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c_ref, ldc);
    kern_ref_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c_chain, ldc);

    const double tol = 4.0 + k; /* the textbook gamma_k bound, in units of eps */
    int bad = 0;
    if (exact && memcmp(c, c_chain, nc * sizeof(float)) != 0) {
        fprintf(stderr,
                "\n  sgemm (%s) ta=%d tb=%d %dx%dx%d pad=%d alpha=%g beta=%g differs from "
                "the FMA chain\n",
                kern_isa_name(kern_isa()), ta, tb, m, n, k, pad, alpha, beta);
        bad++;
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ldc; j++) {
            size_t at = (size_t)i * ldc + j;
            if (j >= n) {
                bad += c[at] != sentinel || c_ref[at] != sentinel;
                continue;
            }
            double sum_abs = 0.0;
            for (int p = 0; p < k; p++)
                sum_abs += fabs((double)op_at(a, ta, lda, i, p) * op_at(b, tb, ldb, p, j));
            double prev = beta == 0.0f ? 0.0 : fabs((double)beta * c0[at]);
            double bound = tol * FLT_EPSILON * (fabs(alpha) * sum_abs + prev);
            double diff = fabs((double)c[at] - c_ref[at]);
            if (isnan(c[at]) || isnan(c_ref[at]) || !(diff <= bound)) {
                if (bad < 3)
                    fprintf(stderr,
                            "\n  sgemm ta=%d tb=%d %dx%dx%d pad=%d alpha=%g beta=%g (%d,%d): "
                            "%.9g vs ref %.9g (bound %.3g)\n",
                            ta, tb, m, n, k, pad, alpha, beta, i, j, c[at], c_ref[at], bound);
                bad++;
            }
        }
    free(a);
    free(b);
    free(c);
    free(c_ref);
    free(c0);
    free(c_chain);
    return bad;
}

/* Every shape, transposition, leading dimension and alpha/beta case on the current path. */
static void sgemm_cases(void) {
    static const int shapes[][3] = {{1, 1, 1},     {7, 5, 3}, {33, 17, 65},
                                    {64, 128, 96}, {2, 9, 1}, {3, 4, 0}};
    static const float ab[][2] = {{1.0f, 0.0f}, {-1.5f, 0.0f}, {0.75f, 0.5f}, {1.0f, 1.0f}};
    uint32_t seed = 10;
    int cases = 0, exact = kern_compute() == KERN_COMPUTE_EXACT;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (size_t c = 0; c < sizeof ab / sizeof ab[0]; c++)
                    for (int pad = 0; pad <= 3; pad += 3) {
                        int bad = check_sgemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], pad,
                                              ab[c][0], ab[c][1], seed, exact);
                        CU_ASSERT_EQUAL(bad, 0);
                        seed += 3;
                        cases++;
                    }
    CU_ASSERT_EQUAL(cases, 6 * 4 * 4 * 2);
    /* Shapes across the blocking: two K blocks and a short one, several M and N blocks, edges
     * of every micro-tile size. */
    static const int big[][3] = {
        {97, 37, 300}, {13, 600, 520}, {300, 33, 257}, {9, 1100, 17}, {600, 20, 40}};
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        for (int t = 0; t < 4; t++) {
            CU_ASSERT_EQUAL(check_sgemm(t >> 1, t & 1, big[s][0], big[s][1], big[s][2], 3,
                                        t ? 0.75f : 1.0f, t & 1 ? 0.5f : 0.0f, seed, exact),
                            0);
            seed += 3;
        }
}

static void test_sgemm_exact_every_isa(void) {
    rl_test_each_isa(sgemm_cases);
}

static void test_sgemm_blas_within_bound(void) {
    kern_compute_set(KERN_COMPUTE_BLAS);
    sgemm_cases();
    kern_compute_set(KERN_COMPUTE_EXACT);
}

/* The outputs a tile computes do not change an output's bits: a row of C alone, a column alone
 * and a single element equal the same entries of the whole product, at every level. */
static void sgemm_slices(void) {
    enum { M = 11, N = 45, K = 301 };
    float a[M * K], b[K * N], c[M * N], part[N];
    fill(a, M * K, 70, -1.0f, 1.0f);
    fill(b, K * N, 71, -1.0f, 1.0f);
    kern_sgemm(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    for (int i = 0; i < M; i += 5) {
        kern_sgemm(0, 0, 1, N, K, 1.0f, a + i * K, K, b, N, 0.0f, part, N);
        CU_ASSERT(memcmp(part, c + i * N, sizeof part) == 0);
    }
    for (int j = 0; j < N; j += 7) {
        float col[M], one;
        kern_sgemm(0, 0, M, 1, K, 1.0f, a, K, b + j, N, 0.0f, col, 1);
        for (int i = 0; i < M; i++)
            CU_ASSERT(col[i] == c[i * N + j]);
        kern_sgemm(0, 0, 1, 1, K, 1.0f, a + 3 * K, K, b + j, N, 0.0f, &one, 1);
        CU_ASSERT(one == c[3 * N + j]);
    }
}

static void test_sgemm_slices_every_isa(void) {
    rl_test_each_isa(sgemm_slices);
}

/* ---- symmetric eigensolver ---- */

/* A = Q diag(lambda) Qᵀ with a random orthogonal Q (Gram-Schmidt): the solver finds lambda in
 * ascending order and unit eigenvectors with A v = λ v; a non-finite matrix is refused. */
static void test_sym_eigen(void) {
    enum { N = 40 };
    static double q[N * N], a[N * N], w[N], scratch[N];
    float r[N * N];
    fill(r, N * N, 80, -1.0f, 1.0f);
    for (int i = 0; i < N; i++) { /* rows of q: Gram-Schmidt of r's rows */
        for (int p = 0; p < N; p++)
            q[i * N + p] = r[i * N + p];
        for (int j = 0; j < i; j++) {
            double d = 0.0;
            for (int p = 0; p < N; p++)
                d += q[i * N + p] * q[j * N + p];
            for (int p = 0; p < N; p++)
                q[i * N + p] -= d * q[j * N + p];
        }
        double norm = 0.0;
        for (int p = 0; p < N; p++)
            norm += q[i * N + p] * q[i * N + p];
        for (int p = 0; p < N; p++)
            q[i * N + p] /= sqrt(norm);
    }
    double lambda[N];
    for (int i = 0; i < N; i++)
        lambda[i] = i < 3 ? 2.0 : 0.5 * i - 7.0; /* a triple eigenvalue, negatives, a zero */
    for (int x = 0; x < N; x++)
        for (int y = 0; y < N; y++) {
            double s = 0.0;
            for (int i = 0; i < N; i++)
                s += q[i * N + x] * lambda[i] * q[i * N + y];
            a[x * N + y] = s;
        }
    double a0[N * N];
    memcpy(a0, a, sizeof a0);
    CU_ASSERT_EQUAL(kern_sym_eigen(a, N, w, scratch), 0);
    double sorted[N];
    memcpy(sorted, lambda, sizeof sorted);
    for (int i = 1; i < N; i++) /* insertion sort */
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            double t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    double worst_value = 0.0, worst_residual = 0.0, worst_norm = 0.0;
    for (int j = 0; j < N; j++) {
        worst_value = fmax(worst_value, fabs(w[j] - sorted[j]));
        const double *v = a + j * N;
        double norm = 0.0;
        for (int x = 0; x < N; x++) {
            double av = 0.0;
            for (int y = 0; y < N; y++)
                av += a0[x * N + y] * v[y];
            worst_residual = fmax(worst_residual, fabs(av - w[j] * v[x]));
            norm += v[x] * v[x];
        }
        worst_norm = fmax(worst_norm, fabs(norm - 1.0));
    }
    CU_ASSERT(worst_value < 1e-12);
    CU_ASSERT(worst_residual < 1e-12);
    CU_ASSERT(worst_norm < 1e-12);
    memcpy(a, a0, sizeof a0);
    a[5] = NAN;
    CU_ASSERT_EQUAL(kern_sym_eigen(a, N, w, scratch), -1);
}

/* A hand example: the four transposition combinations of [[1,2],[3,4]]·[[5,6],[7,8]]. */
static void sgemm_hand_example(void) {
    const float x[] = {1, 2, 3, 4}, y[] = {5, 6, 7, 8};
    /* op(x)·op(y) for (ta, tb) = (0,0), (0,1), (1,0), (1,1). */
    const float expect[4][4] = {
        {19, 22, 43, 50}, {17, 23, 39, 53}, {26, 30, 38, 44}, {23, 31, 34, 46}};
    for (int t = 0; t < 4; t++) {
        float c[4] = {NAN, NAN, NAN, NAN};
        kern_sgemm(t >> 1, t & 1, 2, 2, 2, 1.0f, x, 2, y, 2, 0.0f, c, 2);
        for (int i = 0; i < 4; i++)
            CU_ASSERT_EQUAL(c[i], expect[t][i]);
        /* alpha = 2, beta = 0.5 on top of the previous result: 2·E + 0.5·E. */
        kern_sgemm(t >> 1, t & 1, 2, 2, 2, 2.0f, x, 2, y, 2, 0.5f, c, 2);
        for (int i = 0; i < 4; i++)
            CU_ASSERT_EQUAL(c[i], 2.5f * expect[t][i]);
    }
}

static void test_sgemm_hand_example(void) {
    rl_test_each_isa(sgemm_hand_example);
}

/* ---- fixed point ---- */

/* The number of elements of x that must saturate (or are NaN) at frac_bits. */
static size_t expected_saturated(const float *x, size_t n, int frac_bits) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += isnan(x[i]) || fabs(ldexp((double)x[i], frac_bits)) > FIX_LIMIT;
    return count;
}

/* 1000 random values of mixed magnitudes and signs followed by special values. */
static size_t fixed_inputs(float *x, size_t cap, int frac_bits) {
    size_t n = 1000;
    fill(x, n, 300, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++)
        x[i] = ldexpf(x[i], (int)(i % 31) - 15); /* 2^-15 .. 2^15 */
    const float half = ldexpf(1.0f, -frac_bits - 1);
    const float limit_x = ldexpf(1.0f, 62 - frac_bits); /* exactly 2^62 in fixed point */
    const float specials[] = {
        0.0f,
        -0.0f,
        half,
        -half,
        3 * half,
        -3 * half,
        5 * half,
        -5 * half,
        7 * half,
        -7 * half,
        1e30f,
        -1e30f,
        FLT_MAX,
        -FLT_MAX,
        INFINITY,
        -INFINITY,
        NAN,
        -NAN,
        limit_x,
        -limit_x,
        nextafterf(limit_x, INFINITY),
        -nextafterf(limit_x, INFINITY),
        nextafterf(limit_x, 0.0f),
        FLT_MIN,
        -FLT_MIN,
        1.0f,
        -1.0f,
    };
    for (size_t i = 0; i < sizeof specials / sizeof specials[0] && n < cap; i++)
        x[n++] = specials[i];
    return n;
}

static void test_to_fixed_matches_ref(void) {
    static const int frac[] = {0, 8, 24, 40};
    float x[1100];
    int64_t q[1100], q_ref[1100];
    for (size_t f = 0; f < sizeof frac / sizeof frac[0]; f++) {
        size_t n = fixed_inputs(x, 1100, frac[f]);
        memset(q, 0x5a, sizeof q);
        memset(q_ref, 0xa5, sizeof q_ref);
        size_t sat = kern_to_fixed(x, q, n, frac[f]);
        size_t sat_ref = kern_ref_to_fixed(x, q_ref, n, frac[f]);
        CU_ASSERT(memcmp(q, q_ref, n * sizeof(int64_t)) == 0);
        CU_ASSERT_EQUAL(sat, sat_ref);
        CU_ASSERT_EQUAL(sat, expected_saturated(x, n, frac[f]));
        CU_ASSERT(sat >= 8); /* ±1e30, ±FLT_MAX, ±inf, two NaNs at least */
        for (size_t i = 0; i < n; i++) {
            double scaled = ldexp((double)x[i], frac[f]);
            int64_t expect = 0;
            if (fabs(scaled) > FIX_LIMIT)
                expect = scaled > 0 ? (int64_t)1 << 62 : -((int64_t)1 << 62);
            else if (!isnan(x[i]))
                expect = (int64_t)nearbyint(scaled);
            CU_ASSERT_EQUAL(q[i], expect);
        }
    }
}

static void test_to_fixed_every_isa(void) {
    rl_test_each_isa(test_to_fixed_matches_ref);
}

/* Exact halves round to even; the saturation bound itself does not saturate. */
static void test_to_fixed_rounding_and_saturation(void) {
    const int f = 40;
    const float h = ldexpf(1.0f, -f - 1); /* half a unit */
    const float x[] = {h,
                       -h,
                       3 * h,
                       -3 * h,
                       5 * h,
                       -5 * h,
                       7 * h,
                       ldexpf(1.0f, 22),
                       -ldexpf(1.0f, 22),
                       ldexpf(1.0f, 23),
                       -INFINITY,
                       NAN};
    const int64_t expect[] = {0,
                              0,
                              2,
                              -2,
                              2,
                              -2,
                              4,
                              (int64_t)1 << 62,
                              -((int64_t)1 << 62),
                              (int64_t)1 << 62,
                              -((int64_t)1 << 62),
                              0};
    enum { N = sizeof x / sizeof x[0] };
    int64_t q[N], q_ref[N];
    CU_ASSERT_EQUAL(kern_to_fixed(x, q, N, f), 3);
    CU_ASSERT_EQUAL(kern_ref_to_fixed(x, q_ref, N, f), 3);
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(q[i], expect[i]);
        CU_ASSERT_EQUAL(q_ref[i], expect[i]);
    }
}

static void test_add_fixed_matches_ref(void) {
    static const int frac[] = {0, 24, 40};
    float x[1100];
    int64_t acc[1100], acc_ref[1100], q[1100];
    for (size_t f = 0; f < sizeof frac / sizeof frac[0]; f++) {
        size_t n = fixed_inputs(x, 1100, frac[f]);
        /* Start from arbitrary accumulators well inside the int64 range. */
        for (size_t i = 0; i < n; i++)
            acc[i] = acc_ref[i] = ((int64_t)i * 7919 - 3000000) * ((int64_t)1 << 30);
        size_t sat = kern_add_fixed(x, acc, n, frac[f]);
        size_t sat_ref = kern_ref_add_fixed(x, acc_ref, n, frac[f]);
        CU_ASSERT(memcmp(acc, acc_ref, n * sizeof(int64_t)) == 0);
        CU_ASSERT_EQUAL(sat, sat_ref);
        CU_ASSERT_EQUAL(sat, expected_saturated(x, n, frac[f]));
        /* Adding is converting then adding. */
        kern_to_fixed(x, q, n, frac[f]);
        int ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= acc[i] == ((int64_t)i * 7919 - 3000000) * ((int64_t)1 << 30) + q[i];
        CU_ASSERT(ok);
    }
}

static void test_from_fixed_matches_ref(void) {
    enum { N = 1000 };
    int64_t q[N];
    float x[N], x_ref[N];
    uint32_t w[4], ctr[4] = {0, 0, 7, 0};
    for (int i = 0; i < N; i += 2) {
        ctr[1] = (uint32_t)i;
        kern_philox(test_key, ctr, w);
        /* Random 64-bit values of every magnitude up to ±2^62, both signs. */
        int64_t v = (int64_t)((((uint64_t)w[0] << 32) | w[1]) >> (2 + w[2] % 62));
        q[i] = v;
        q[i + 1] = -v;
    }
    q[0] = 0;
    q[1] = (int64_t)1 << 62;
    q[2] = -((int64_t)1 << 62);
    q[3] = 1;
    q[4] = -1;
    static const int frac[] = {0, 8, 24, 40};
    for (size_t f = 0; f < sizeof frac / sizeof frac[0]; f++) {
        kern_from_fixed(q, x, N, frac[f]);
        kern_ref_from_fixed(q, x_ref, N, frac[f]);
        CU_ASSERT(memcmp(x, x_ref, sizeof x) == 0);
        /* Each value is q · 2^-f correctly rounded to float (within half an ulp). */
        int close = 1;
        for (int i = 0; i < N; i++) {
            double exact = ldexp((double)q[i], -frac[f]);
            close &= fabs(x[i] - exact) <= 0.5 * FLT_EPSILON * fabs(exact) * (1 + 1e-6);
        }
        CU_ASSERT(close);
    }
}

/* Saturated values that pile up in a sum never overflow it: the sum stays at ±2^62 and every
 * value that could not be added exactly is counted (so callers see the sum is no number). */
static void test_fixed_sum_saturates(void) {
    const float big[3] = {INFINITY, 1e30f, NAN}, neg = -1e30f;
    int64_t acc = 0;
    CU_ASSERT_EQUAL(kern_add_fixed(big, &acc, 1, 40), 1u);
    CU_ASSERT_EQUAL(kern_add_fixed(big + 1, &acc, 1, 40), 2u); /* saturates, and so does the sum */
    CU_ASSERT_EQUAL(acc, (int64_t)1 << 62);
    CU_ASSERT_EQUAL(kern_add_fixed(big + 2, &acc, 1, 40), 1u); /* NaN: counted, adds 0 */
    CU_ASSERT_EQUAL(acc, (int64_t)1 << 62);
    CU_ASSERT_EQUAL(kern_add_fixed(&neg, &acc, 1, 40), 1u); /* −2^62 brings it back to 0 */
    CU_ASSERT_EQUAL(acc, 0);
}

/* float -> fixed -> float is the identity for values the fixed format represents. */
static void test_fixed_round_trip(void) {
    enum { N = 1000 };
    const int f = 40;
    float x[N], back[N];
    int64_t q[N];
    /* k · 2^-f for integers |k| < 2^24: exact in float and in fixed point, q must equal k. */
    int32_t k[N];
    fill(x, N, 400, -16777215.0f, 16777215.0f);
    for (int i = 0; i < N; i++) {
        k[i] = (int32_t)x[i];
        x[i] = ldexpf((float)k[i], -f);
    }
    CU_ASSERT_EQUAL(kern_to_fixed(x, q, N, f), 0);
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok &= q[i] == k[i];
    CU_ASSERT(ok);
    kern_from_fixed(q, back, N, f);
    CU_ASSERT(memcmp(x, back, sizeof x) == 0);

    /* Ordinary floats of magnitude >= 2^-17 have ulp >= 2^-40: they round-trip exactly. */
    fill(x, N, 401, -1000.0f, 1000.0f);
    CU_ASSERT_EQUAL(kern_to_fixed(x, q, N, f), 0);
    kern_from_fixed(q, back, N, f);
    int checked = 0;
    ok = 1;
    for (int i = 0; i < N; i++) {
        double scaled = ldexp((double)x[i], f);
        if (scaled != floor(scaled))
            continue;
        ok &= back[i] == x[i];
        checked++;
    }
    CU_ASSERT(ok);
    CU_ASSERT(checked > 990);
}

/* Sum of x[i] for i in [lo, hi) with a stride, one kern_add_fixed per element. */
static int64_t fixed_sum(const float *x, long lo, long hi, long stride, int frac_bits) {
    int64_t acc = 0;
    if (stride > 0)
        for (long i = lo; i < hi; i += stride)
            kern_add_fixed(&x[i], &acc, 1, frac_bits);
    else
        for (long i = hi - 1; i >= lo; i += stride)
            kern_add_fixed(&x[i], &acc, 1, frac_bits);
    return acc;
}

/* The reason for fixed point: the int64 sum of the same floats is the same whatever the order
 * and grouping (the number of ranks), where float sums are not. */
static void test_fixed_sum_order_independent(void) {
    enum { N = 1000 };
    const int f = 40;
    float x[N];
    fill(x, N, 500, -1.0f, 1.0f);
    for (int i = 0; i < N; i++)
        x[i] = ldexpf(x[i], (i * 7) % 21 - 10); /* magnitudes 2^-10 .. 2^10 */

    int64_t forward = fixed_sum(x, 0, N, 1, f);
    CU_ASSERT_EQUAL(fixed_sum(x, 0, N, -1, f), forward);

    /* Whole-array conversion, then an integer sum. */
    int64_t q[N], total = 0;
    kern_to_fixed(x, q, N, f);
    for (int i = 0; i < N; i++)
        total += q[i];
    CU_ASSERT_EQUAL(total, forward);

    /* g partial accumulators (contiguous blocks, or cyclic), added in reverse order. */
    for (int g = 2; g <= 4; g++) {
        int64_t blocks = 0, cyclic = 0;
        for (int r = g - 1; r >= 0; r--) {
            long lo = (long)N * r / g, hi = (long)N * (r + 1) / g;
            blocks += fixed_sum(x, lo, hi, r % 2 ? -1 : 1, f);
            cyclic += fixed_sum(x, r, N, g, f);
        }
        CU_ASSERT_EQUAL(blocks, forward);
        CU_ASSERT_EQUAL(cyclic, forward);
    }

    /* A random permutation, and vector accumulators: 10 "items" of 100 values, split over
     * 1..4 "ranks" that each accumulate their items and are then added. */
    int perm[N];
    for (int i = 0; i < N; i++)
        perm[i] = i;
    uint32_t w[4], ctr[4] = {0, 0, 9, 0};
    for (int i = N - 1; i > 0; i--) {
        ctr[1] = (uint32_t)i;
        kern_philox(test_key, ctr, w);
        int j = (int)(w[0] % (uint32_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int64_t shuffled = 0;
    for (int i = 0; i < N; i++)
        kern_add_fixed(&x[perm[i]], &shuffled, 1, f);
    CU_ASSERT_EQUAL(shuffled, forward);

    int64_t one_rank[100] = {0};
    for (int item = 0; item < 10; item++)
        kern_add_fixed(x + item * 100, one_rank, 100, f);
    for (int p = 2; p <= 4; p++) {
        int64_t total_p[100] = {0};
        for (int r = 0; r < p; r++) {
            int64_t mine[100] = {0};
            for (int item = 10 * r / p; item < 10 * (r + 1) / p; item++)
                kern_add_fixed(x + item * 100, mine, 100, f);
            for (int j = 0; j < 100; j++)
                total_p[j] += mine[j];
        }
        CU_ASSERT(memcmp(total_p, one_rank, sizeof one_rank) == 0);
    }

    /* The same data does expose float non-associativity (so the test means something). */
    float fwd = 0.0f, rev = 0.0f;
    for (int i = 0; i < N; i++) {
        fwd += x[i];
        rev += x[N - 1 - i];
    }
    CU_ASSERT(fwd != rev);
}

/* ---- Philox and uniform fill ---- */

static void test_philox_known_answers(void) {
    /* Random123's kat_vectors for philox4x32 10: counter, key, expected. */
    static const uint32_t kat[][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (size_t v = 0; v < sizeof kat / sizeof kat[0]; v++) {
        uint32_t out[4] = {0, 0, 0, 0};
        kern_philox(&kat[v][4], &kat[v][0], out);
        for (int i = 0; i < 4; i++)
            CU_ASSERT_EQUAL(out[i], kat[v][6 + i]);
    }
}

static void test_fill_uniform_matches_ref(void) {
    static const size_t sizes[] = {0, 1, 3, 4, 5, 1001};
    static float x[1002], x_ref[1002];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        for (size_t i = 0; i <= n; i++)
            x[i] = x_ref[i] = -7.0f; /* x[n] is a guard: nothing is written past n */
        kern_fill_uniform(x, n, test_key, 3, -0.5f, 2.0f);
        kern_ref_fill_uniform(x_ref, n, test_key, 3, -0.5f, 2.0f);
        CU_ASSERT(memcmp(x, x_ref, (n + 1) * sizeof(float)) == 0);
        CU_ASSERT_EQUAL(x[n], -7.0f);
        for (size_t i = 0; i < n; i++)
            CU_ASSERT(x[i] >= -0.5f && x[i] < 2.0f);
    }
}

static void test_fill_uniform_prefix_and_streams(void) {
    float a[1001], b[10], c[1001], d[1001];
    kern_fill_uniform(a, 1001, test_key, 5, 0.0f, 1.0f);
    kern_fill_uniform(b, 10, test_key, 5, 0.0f, 1.0f);
    CU_ASSERT(memcmp(a, b, sizeof b) == 0); /* element i does not depend on n */
    kern_fill_uniform(b, 7, test_key, 5, 0.0f, 1.0f);
    CU_ASSERT(memcmp(a, b, 7 * sizeof(float)) == 0);
    /* Element i is word i % 4 of Philox(key, (stream, i / 4, 0, 0)). */
    uint32_t w[4], ctr[4] = {5, 250, 0, 0};
    kern_philox(test_key, ctr, w);
    CU_ASSERT_EQUAL(a[1000], kern_u32_to_unit(w[0]));
    ctr[1] = 249;
    kern_philox(test_key, ctr, w);
    CU_ASSERT_EQUAL(a[999], kern_u32_to_unit(w[3]));
    CU_ASSERT_EQUAL(a[998], kern_u32_to_unit(w[2]));

    const uint32_t other_key[2] = {test_key[0] ^ 1u, test_key[1]};
    kern_fill_uniform(c, 1001, test_key, 6, 0.0f, 1.0f);
    kern_fill_uniform(d, 1001, other_key, 5, 0.0f, 1.0f);
    int same_stream = 0, same_key = 0;
    for (int i = 0; i < 1001; i++) {
        same_stream += a[i] == c[i];
        same_key += a[i] == d[i];
    }
    CU_ASSERT(same_stream < 5);
    CU_ASSERT(same_key < 5);
}

static void test_fill_uniform_range_and_mean(void) {
    enum { N = 100000 };
    static float x[N];
    kern_fill_uniform(x, N, test_key, 11, 0.0f, 1.0f);
    double sum = 0.0;
    float lo = 1.0f, hi = 0.0f;
    int in_range = 1;
    for (int i = 0; i < N; i++) {
        in_range &= x[i] >= 0.0f && x[i] < 1.0f;
        sum += x[i];
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    CU_ASSERT(in_range);
    CU_ASSERT(fabs(sum / N - 0.5) < 0.01);
    CU_ASSERT(lo < 1e-3f && hi > 1.0f - 1e-3f);

    static const float ranges[][2] = {{-1.0f, 1.0f}, {-0.25f, 0.25f}, {3.0f, 7.5f}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        kern_fill_uniform(x, N, test_key, 12 + (uint32_t)r, ranges[r][0], ranges[r][1]);
        in_range = 1;
        sum = 0.0;
        for (int i = 0; i < N; i++) {
            in_range &= x[i] >= ranges[r][0] && x[i] < ranges[r][1];
            sum += x[i];
        }
        CU_ASSERT(in_range);
        double mid = 0.5 * ((double)ranges[r][0] + ranges[r][1]);
        CU_ASSERT(fabs(sum / N - mid) < 0.01 * (ranges[r][1] - ranges[r][0]));
    }
}

/* [lo, hi) must hold for the largest word too: lo + (hi - lo) · (1 - 2^-24) rounds to hi in
 * float when lo's exponent exceeds the width's (e.g. [1, 2)). Finds a stream whose block 0 has
 * a word with all top 24 bits set, and fills [1, 2) from it. */
static void test_fill_uniform_excludes_hi(void) {
    uint32_t stream = 0, w[4];
    int word = -1;
    for (; stream < (1u << 26) && word < 0; stream++) {
        uint32_t ctr[4] = {stream, 0, 0, 0};
        kern_philox(test_key, ctr, w);
        for (int j = 0; j < 4 && word < 0; j++)
            if ((w[j] >> 8) == 0xffffffu)
                word = j;
    }
    CU_ASSERT_FATAL(word >= 0);
    stream--;
    float x[4], x_ref[4];
    kern_fill_uniform(x, 4, test_key, stream, 1.0f, 2.0f);
    kern_ref_fill_uniform(x_ref, 4, test_key, stream, 1.0f, 2.0f);
    if (!(x[word] < 2.0f))
        fprintf(stderr, "\n  fill [1, 2), stream %u element %d: got %.9g (== hi)\n", stream, word,
                x[word]);
    CU_ASSERT(x[word] >= 1.0f && x[word] < 2.0f);
    CU_ASSERT(x_ref[word] >= 1.0f && x_ref[word] < 2.0f);

    /* With an offset range the same rounding hits hi often. */
    enum { N = 1000 };
    float y[N];
    const float lo = 1048576.0f, hi = 1048577.0f; /* 2^20: float spacing 1/8 */
    kern_fill_uniform(y, N, test_key, 21, lo, hi);
    int at_hi = 0;
    for (int i = 0; i < N; i++)
        at_hi += !(y[i] < hi);
    if (at_hi)
        fprintf(stderr, "\n  fill [2^20, 2^20 + 1): %d of %d elements == hi\n", at_hi, N);
    CU_ASSERT_EQUAL(at_hi, 0);
}

/* kern_tanh_f64 against glibc's tanh, bit for bit: the GELU arguments of every 4,099th float
 * (bench/libm_exact.c checks every float), each path's boundaries and the special values. */
static void tanh_cases(void) {
    enum { SPREAD = 4099, EXTRA = 40 };
    size_t n = ((size_t)1 << 32) / SPREAD + 1 + 2 * EXTRA;
    double *in = malloc(sizeof(double) * n), *out = malloc(sizeof(double) * n);
    size_t m = 0;
    for (uint64_t b = 0; b <= 0xffffffffu; b += SPREAD) {
        uint32_t w = (uint32_t)b;
        float f;
        memcpy(&f, &w, sizeof f);
        double v = f;
        in[m++] = 0.7978845608028654 * (v + 0.044715 * v * v * v);
    }
    const double edges[EXTRA / 2] = {
        0.0,          0x1p-56,       0x1p-55,      0x1.fffffffffffffp-56,
        0.1732867951, 0.17328679514, 0.5198603854, 0.51986038541,
        0.999999999,  1.0,           1.0000001,    6.9314718056,
        6.93147,      19.408121055,  19.4081210,   21.999999,
        22.0,         1e300,         INFINITY,     NAN};
    for (int i = 0; i < EXTRA / 2; i++) {
        in[m++] = edges[i];
        in[m++] = -edges[i];
    }
    rl_rng r = rl_rng_make(3, RL_RNG_SYNTH_DATA);
    for (int i = 0; i < EXTRA; i++) // log-uniform magnitudes 2^-60 .. 2^6, both signs
        in[m++] = (i % 2 ? -1.0 : 1.0) * exp2(-60.0 + 66.0 * rl_rng_uniform(r, 0, (uint32_t)i));
    kern_tanh_f64(in, out, m);
    size_t differ = 0;
    for (size_t i = 0; i < m; i++) {
        double want = tanh(in[i]);
        differ += memcmp(&want, &out[i], sizeof want) != 0;
    }
    CU_ASSERT_EQUAL(differ, 0);
    if (differ)
        fprintf(stderr, "\n  %s: kern_tanh_f64 differs from glibc on %zu of %zu values\n",
                kern_isa_name(kern_isa()), differ, m);
    free(in);
    free(out);
}

static void test_tanh_every_isa(void) {
    rl_test_each_isa(tanh_cases);
}

/* kern_exp_f64 against glibc's exp, bit for bit: a grid of 2^20 arguments on (−745, 0] (every
 * table entry, the subnormal range), 2^20 differences of two floats on a grid of (−30, 0] (the
 * softmaxes' arguments) and the edges of glibc's paths (0, 2^−54, 512, overflow, inf, NaN);
 * bench/libm_exact.c checks 2^30 random ones. */
static void exp_cases(void) {
    enum { N = 1 << 20, EDGES = 26 };
    double *in = malloc(sizeof(double) * (2 * N + EDGES)),
           *out = malloc(sizeof(double) * (2 * N + EDGES));
    for (int i = 0; i < N; i++) {
        in[i] = -745.0 * i / N;
        float a = (float)(-30.0 * i / N), b = (float)(-30.0 * (((uint32_t)i * 7919u) % N) / N);
        in[N + i] = (double)a - b;
    }
    const double edges[EDGES / 2] = {0.0,      0x1p-54, 0x1.fffffffffffffp-55,
                                     511.9999, 512.0,   708.39,
                                     708.4,    709.78,  745.13,
                                     745.2,    1100.0,  INFINITY,
                                     NAN};
    for (int i = 0; i < EDGES / 2; i++) {
        in[2 * N + 2 * i] = edges[i];
        in[2 * N + 2 * i + 1] = -edges[i];
    }
    kern_exp_f64(in, out, 2 * N + EDGES);
    size_t differ = 0;
    for (size_t i = 0; i < 2 * N + EDGES; i++) {
        double want = exp(in[i]);
        differ += memcmp(&want, &out[i], sizeof want) != 0;
    }
    CU_ASSERT_EQUAL(differ, 0);
    if (differ)
        fprintf(stderr, "\n  %s: kern_exp_f64 differs from glibc on %zu of %d values\n",
                kern_isa_name(kern_isa()), differ, 2 * N + EDGES);
    free(in);
    free(out);
}

static void test_exp_every_isa(void) {
    rl_test_each_isa(exp_cases);
}

static const rl_test tests[] = {
    {"exp: glibc's bits at every ISA level (a grid to −745, softmax arguments, path edges)",
     test_exp_every_isa},
    {"tanh: glibc's bits at every ISA level (GELU arguments, boundaries, specials)",
     test_tanh_every_isa},
    {"sgemm matches a hand example in all four transpositions", test_sgemm_hand_example},
    {"sgemm exact: the FMA chain bit for bit at every ISA level, within eps of double",
     test_sgemm_exact_every_isa},
    {"sgemm exact: a row, a column or an element alone has the bits of the whole product",
     test_sgemm_slices_every_isa},
    {"sgemm blas: within eps of double (transposes, shapes, ld, alpha, beta, NaN C)",
     test_sgemm_blas_within_bound},
    {"symmetric eigensolver: values ascending, A v = λ v, unit vectors; NaN refused",
     test_sym_eigen},
    {"to_fixed matches the reference at every ISA level, saturation counted",
     test_to_fixed_every_isa},
    {"to_fixed rounds halves to even and saturates at 2^62", test_to_fixed_rounding_and_saturation},
    {"add_fixed matches the reference and equals to_fixed + add", test_add_fixed_matches_ref},
    {"from_fixed matches the reference", test_from_fixed_matches_ref},
    {"float -> fixed -> float is exact for representable values", test_fixed_round_trip},
    {"saturated values piling up in a sum never overflow it", test_fixed_sum_saturates},
    {"fixed-point sums are independent of order and grouping", test_fixed_sum_order_independent},
    {"philox4x32-10 matches the Random123 known answers", test_philox_known_answers},
    {"fill_uniform matches the reference bit for bit, no overrun", test_fill_uniform_matches_ref},
    {"fill_uniform: element i independent of n; streams and keys differ",
     test_fill_uniform_prefix_and_streams},
    {"fill_uniform stays in range with the right mean", test_fill_uniform_range_and_mean},
    {"fill_uniform never returns hi", test_fill_uniform_excludes_hi},
    {NULL, NULL},
};

RL_TEST_SUITE("kernels", tests)
