/* Unit tests of subset selection (src/select/) on small pools with known answers: PCA axes
 * and variances, random and norm sampling against the exponential keys' definition (zero-norm
 * rows never drawn), Gram–Schmidt diversity skipping a near-duplicate direction, k-center
 * greedy against brute-force farthest points, TypiClust on two clusters, ProbCover's greedy
 * coverage (and its fill once all is covered) and radius from purity, and the norm plug-in in
 * k-center, TypiClust and ProbCover. One rank. */
#include "kernels/select.h"
#include "src/select/select.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdlib.h>

static const uint32_t key[2] = {0x1234u, 0x5678u};

static void test_pca_axes(void) {
    /* ±3 e1, ±1 e2 around (1, 1, 1): variances 4.5 and 0.5 along e1 and e2, none along e3. */
    const float x[4 * 3] = {4, 1, 1, -2, 1, 1, 1, 2, 1, 1, 0, 1};
    float mean[3], basis[3 * 2];
    double eig[2];
    CU_ASSERT_EQUAL_FATAL(select_pca(x, 4, 3, 0, 4, 2, mean, basis, eig), 0);
    for (int p = 0; p < 3; p++)
        CU_ASSERT(fabsf(mean[p] - 1.0f) < 1e-6f);
    CU_ASSERT(fabs(eig[0] - 4.5) < 1e-6 && fabs(eig[1] - 0.5) < 1e-6);
    const float want[3 * 2] = {1, 0, 0, 1, 0, 0}; // (dim, k): e1, e2 with positive sign
    for (int t = 0; t < 6; t++)
        CU_ASSERT(fabsf(basis[t] - want[t]) < 1e-6f);
    float f[4 * 2];
    select_pca_features(x, 4, 3, mean, basis, 2, f);
    CU_ASSERT(fabsf(f[0] - 3.0f) < 1e-6f && fabsf(f[1]) < 1e-6f);
    CU_ASSERT(fabsf(f[6]) < 1e-6f && fabsf(f[7] + 1.0f) < 1e-6f);
    /* A shard that is not whole chunks is refused. */
    CU_ASSERT_NOT_EQUAL(select_pca(x, 4, 3, 1, 5, 2, mean, basis, eig), 0);
}

/* 1-D pool: values v (n) as features (n, 1). */
static void sampled_case(select_kind kind) {
    enum { N = 40, B = 10 };
    float f[N];
    double w[N];
    for (int i = 0; i < N; i++) {
        f[i] = i % 4 == 0 ? 0.0f : (float)(i % 7) + 0.5f;
        w[i] = kind == SELECT_RANDOM ? 1.0 : fabs((double)f[i]);
    }
    int64_t ids[B];
    CU_ASSERT_EQUAL_FATAL(select_subset(kind, f, N, 1, 0, N, B, 0.0, key, ids), 0);
    kern_pair p[N];
    kern_sample_keys(w, N, 0, key, 1, p); // stream 1: the selector's sampling stream
    kern_select_smallest(p, N, B);
    for (int b = 0; b < B; b++) {
        CU_ASSERT_EQUAL(ids[b], p[b].id);
        if (kind == SELECT_NORM)
            CU_ASSERT(f[ids[b]] != 0.0f);
    }
    /* The whole positive-norm part of the pool when the budget equals its size. */
    if (kind == SELECT_NORM) {
        int64_t all[30];
        CU_ASSERT_EQUAL_FATAL(select_subset(kind, f, N, 1, 0, N, 30, 0.0, key, all), 0);
        for (int b = 0; b < 30; b++)
            CU_ASSERT(all[b] % 4 != 0);
    }
}

static void test_random(void) {
    sampled_case(SELECT_RANDOM);
}
static void test_norm(void) {
    sampled_case(SELECT_NORM);
}

static void test_norm_gs(void) {
    /* (3, 0) first; (2.9, 0.1) is then almost spanned (residual 0.1), so (0, 1) comes next even
     * though its norm is smaller; then the span is exhausted and the pool restarts from F. */
    const float f[4 * 2] = {3, 0, 2.9f, 0.1f, 0, 1, 0.5f, 0.5f};
    int64_t ids[3];
    CU_ASSERT_EQUAL_FATAL(select_subset(SELECT_NORM_GS, f, 4, 2, 0, 4, 3, 0.0, key, ids), 0);
    CU_ASSERT_EQUAL(ids[0], 0);
    CU_ASSERT_EQUAL(ids[1], 2);
    CU_ASSERT_EQUAL(ids[2], 1); // after the restart: the largest norm left
}

/* The sampled Gram–Schmidt's law: F = (3, 0), (0, 1), (0, 2), (1, 1). The first draw is ∝ the
 * norms 3, 1, 2, √2; after (3, 0) the residuals are (0, 1), (0, 2), (0, 1), so the second is
 * ∝ 1, 2, 1. Over 20,000 keys each frequency lies within 4.5 binomial standard deviations of its
 * probability. */
static void test_norm_gs_sampled(void) {
    enum { TRIALS = 20000 };
    const float f[4 * 2] = {3, 0, 0, 1, 0, 2, 1, 1};
    const double norms[4] = {3, 1, 2, sqrt(2.0)}, total = 6 + sqrt(2.0);
    const double second[4] = {0, 0.25, 0.5, 0.25};
    int64_t first[4] = {0}, after[4] = {0}, after_first = 0;
    for (uint32_t t = 0; t < TRIALS; t++) {
        const uint32_t k[2] = {t, 0x5eedu};
        int64_t ids[2];
        CU_ASSERT_EQUAL_FATAL(select_subset(SELECT_NORM_GS_SAMPLED, f, 4, 2, 0, 4, 2, 0.0, k, ids),
                              0);
        CU_ASSERT_FATAL(ids[0] != ids[1]);
        first[ids[0]]++;
        if (ids[0] == 0) {
            after[ids[1]]++;
            after_first++;
        }
    }
    for (int i = 0; i < 4; i++) {
        double p = norms[i] / total, q = second[i];
        CU_ASSERT(fabs((double)first[i] - TRIALS * p) <= 4.5 * sqrt(TRIALS * p * (1 - p)));
        CU_ASSERT(fabs((double)after[i] - (double)after_first * q) <=
                  4.5 * sqrt((double)after_first * q * (1 - q)) + 0.5);
    }
}

static void test_kcenter(void) {
    enum { N = 30, B = 8 };
    float f[N * 2];
    for (int i = 0; i < N; i++) {
        f[2 * i] = (float)((i * 7) % 11);
        f[2 * i + 1] = (float)((i * 5) % 13);
    }
    int64_t ids[B];
    CU_ASSERT_EQUAL_FATAL(select_subset(SELECT_KCENTER, f, N, 2, 0, N, B, 0.0, key, ids), 0);
    for (int b = 1; b < B; b++) { // brute force: farthest from the chosen, ties to smallest id
        double best = -1.0;
        int64_t arg = -1;
        for (int i = 0; i < N; i++) {
            double m = INFINITY;
            for (int c = 0; c < b; c++) {
                double dx = f[2 * i] - f[2 * ids[c]], dy = f[2 * i + 1] - f[2 * ids[c] + 1];
                m = fmin(m, dx * dx + dy * dy);
            }
            int taken = 0;
            for (int c = 0; c < b; c++)
                taken |= ids[c] == i;
            if (!taken && m > best) {
                best = m;
                arg = i;
            }
        }
        CU_ASSERT_EQUAL(ids[b], arg);
    }
}

static void test_kcenter_norm(void) {
    /* 1-D: 0, 1, 2, 10. Start at the largest norm (10); then (d_min·‖F‖)²: 0 → 0, 1 → 81,
     * 2 → 256, so 2 (plain k-center would take 0, the farthest). */
    const float f[4] = {0, 1, 2, 10};
    int64_t ids[2];
    CU_ASSERT_EQUAL_FATAL(select_subset(SELECT_KCENTER_NORM, f, 4, 1, 0, 4, 2, 0.0, key, ids), 0);
    CU_ASSERT_EQUAL(ids[0], 3);
    CU_ASSERT_EQUAL(ids[1], 2);
    CU_ASSERT_NOT_EQUAL(select_subset(SELECT_KCENTER_NORM, f, 4, 1, 0, 4, 5, 0.0, key, ids), 0);
    CU_ASSERT_EQUAL(select_kind_parse("norm-gs"), SELECT_NORM_GS);
    CU_ASSERT_EQUAL(select_kind_parse("typiclust-norm"), SELECT_TYPICLUST_NORM);
    CU_ASSERT_EQUAL(select_kind_parse("probcover-norm"), SELECT_PROBCOVER_NORM);
    CU_ASSERT_EQUAL(select_kind_parse("probcover-typo"), -1);
}

static void test_typiclust(void) {
    /* Two clusters, {0..4} and {100, 101, 102}: k-means (K = B = 2) finds them from any start;
     * the larger cluster first, each gives its most typical point (1 / mean distance to its
     * other members): 2, then 101 (id 6). With the norm plug-in (typicality·|F|): 3 (scores 0,
     * 0.57, 1.33, 1.71, 1.6), then 101. */
    const float f[8] = {0, 1, 2, 3, 4, 100, 101, 102};
    int64_t ids[2];
    CU_ASSERT_EQUAL_FATAL(select_subset(SELECT_TYPICLUST, f, 8, 1, 0, 8, 2, 0.0, key, ids), 0);
    CU_ASSERT_EQUAL(ids[0], 2);
    CU_ASSERT_EQUAL(ids[1], 6);
    CU_ASSERT_EQUAL_FATAL(select_subset(SELECT_TYPICLUST_NORM, f, 8, 1, 0, 8, 2, 0.0, key, ids), 0);
    CU_ASSERT_EQUAL(ids[0], 3);
    CU_ASSERT_EQUAL(ids[1], 6);
    /* Another k-means start (another key) finds the same clusters and points. */
    int64_t more[2];
    const uint32_t other[2] = {7, 9};
    CU_ASSERT_EQUAL_FATAL(select_subset(SELECT_TYPICLUST, f, 8, 1, 0, 8, 2, 0.0, other, more), 0);
    CU_ASSERT(more[0] == 2 && more[1] == 6);
}

static void test_probcover(void) {
    /* 1-D: 0, 1, 2, 10, 11, 20 with δ = 1.5. Ball sizes 2, 3, 2, 2, 2, 1: take 1 (covers 0, 1,
     * 2); then 10 and 11 tie at 2 (take id 3, smallest); then 20 (id 5). Then everything is
     * covered: the rest is sampled uniformly from the unchosen {0, 2, 4}. */
    const float f[6] = {0, 1, 2, 10, 11, 20};
    int64_t ids[5];
    CU_ASSERT_EQUAL_FATAL(select_subset(SELECT_PROBCOVER, f, 6, 1, 0, 6, 5, 1.5, key, ids), 0);
    CU_ASSERT(ids[0] == 1 && ids[1] == 3 && ids[2] == 5);
    CU_ASSERT(ids[3] != ids[4]);
    for (int b = 3; b < 5; b++)
        CU_ASSERT(ids[b] == 0 || ids[b] == 2 || ids[b] == 4);
    /* Norm plug-in, count·|F|: 0, 3, 4, 20, 22, 20 → 11 (id 4; covers 10, 11); then 0, 3, 4,
     * 0, 0, 20 → 20 (id 5); then 0, 3, 4 → 2 (id 2), although 1 covers as many. */
    CU_ASSERT_EQUAL_FATAL(select_subset(SELECT_PROBCOVER_NORM, f, 6, 1, 0, 6, 3, 1.5, key, ids), 0);
    CU_ASSERT(ids[0] == 4 && ids[1] == 5 && ids[2] == 2);
    /* A radius of 0 is refused. */
    CU_ASSERT_NOT_EQUAL(select_subset(SELECT_PROBCOVER, f, 6, 1, 0, 6, 2, 0.0, key, ids), 0);
}

static void test_probcover_delta(void) {
    /* Clusters {0..3} and {100..103} (k-means, K = 2, finds them from any start): the closest
     * points of different clusters are 97 apart, so every ball is pure up to just below 97. */
    const float f[8] = {0, 1, 2, 3, 100, 101, 102, 103};
    double delta = 0.0;
    CU_ASSERT_EQUAL_FATAL(select_probcover_delta(f, 8, 1, 0, 8, 2, 0.95, key, &delta), 0);
    CU_ASSERT(delta < 97.0 && delta > 96.999);
    /* Purity 0.5 allows 4 of the 8 balls to be impure: just below the 5th smallest distance to
     * the other cluster (3 → 100: 97, 97, 98, 98, then 99). */
    CU_ASSERT_EQUAL_FATAL(select_probcover_delta(f, 8, 1, 0, 8, 2, 0.5, key, &delta), 0);
    CU_ASSERT(delta < 99.0 && delta > 98.999);
    /* δ = 1.5: balls of 2, 3, 3, 2 in each cluster; 1 wins the tie with 2, 101, 102 (smallest
     * id) and covers 0, 1, 2; then 101 (3 uncovered; 2 and 3 have 1 left). */
    int64_t ids[2];
    CU_ASSERT_EQUAL_FATAL(select_subset(SELECT_PROBCOVER, f, 8, 1, 0, 8, 2, 1.5, key, ids), 0);
    CU_ASSERT(ids[0] == 1 && ids[1] == 5);
    CU_ASSERT_NOT_EQUAL(select_probcover_delta(f, 8, 1, 0, 8, 9, 0.95, key, &delta), 0);
}

static void test_nested(void) {
    /* Every kind but TypiClust: the selection of a budget is the start of a larger one's
     * (ProbCover with δ = 4 covers this pool after a few picks, so its sampled fill is checked
     * too). */
    enum { N = 40, SMALL = 7, LARGE = 25 };
    float f[N * 2];
    for (int i = 0; i < N; i++) {
        f[2 * i] = (float)((i * 7) % 11);
        f[2 * i + 1] = (float)((i * 5) % 13);
    }
    for (int kind = 0; select_kind_parse("norm-gs-sampled") >= kind; kind++) {
        CU_ASSERT_EQUAL(select_kind_nested((select_kind)kind),
                        kind != SELECT_TYPICLUST && kind != SELECT_TYPICLUST_NORM);
        if (!select_kind_nested((select_kind)kind))
            continue;
        int64_t small[SMALL], large[LARGE];
        CU_ASSERT_EQUAL_FATAL(
            select_subset((select_kind)kind, f, N, 2, 0, N, SMALL, 4.0, key, small), 0);
        CU_ASSERT_EQUAL_FATAL(
            select_subset((select_kind)kind, f, N, 2, 0, N, LARGE, 4.0, key, large), 0);
        for (int b = 0; b < SMALL; b++)
            CU_ASSERT_EQUAL(small[b], large[b]);
    }
}

static const rl_test tests[] = {
    {"PCA finds the axes and variances", test_pca_axes},
    {"random selection is the smallest uniform keys", test_random},
    {"norm sampling is the smallest keys of w = |F|", test_norm},
    {"norm with Gram-Schmidt skips a spanned direction", test_norm_gs},
    {"sampled Gram-Schmidt draws rows in proportion to their residual norms", test_norm_gs_sampled},
    {"k-center greedy matches brute force", test_kcenter},
    {"k-center with the norm plug-in", test_kcenter_norm},
    {"TypiClust picks the most typical point per cluster", test_typiclust},
    {"ProbCover takes the largest uncovered balls, norm plug-in", test_probcover},
    {"ProbCover's radius from purity", test_probcover_delta},
    {"nested selectors: a budget's set starts a larger one's", test_nested},
    {NULL, NULL},
};
RL_TEST_SUITE("selectors", tests)
