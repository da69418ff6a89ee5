/* Unit tests of selection and pruning pieces: the selection kernels against their references
 * (bit for bit; the distance kernels on every ISA level), the (key, id) merge giving the same
 * result however the items are split, the sampled sketch of Xw (with replacement, rescaled)
 * unbiased with the Drineas–Kannan–Mahoney variance (Monte Carlo), the rank-conditioning rescaling
 * without replacement unbiased, and SynFlow's conservation (every layer's scores sum to R, MLP and
 * CNN), and the column squares of the sketch score against their definition (conv through im2col,
 * dense). */
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "kernels/select.h"
#include "src/comm/comm.h"
#include "src/nn/nn.h"
#include "src/nn/prune.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t key[2] = {0x2468ace0u, 0x13579bdfu};

/* Positive weights in (0, 1] with a few exact zeros (every 7th) and repeated values. */
static void test_weights(double *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        w[i] = i % 7 == 3 ? 0.0 : kern_select_uniform(key, 99, (int64_t)(i % 50));
}

static void test_sample_keys_match_reference(void) {
    enum { N = 1001 };
    double w[N];
    kern_pair a[N], b[N];
    test_weights(w, N);
    kern_sample_keys(w, N, 123456789012LL, key, 5, a);
    kern_ref_sample_keys(w, N, 123456789012LL, key, 5, b);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    for (size_t i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(a[i].id, 123456789012LL + (int64_t)i);
        CU_ASSERT(w[i] > 0.0 ? isfinite(a[i].key) && a[i].key >= 0.0 : isinf(a[i].key));
    }
    /* An item's key depends on its id, not on where the run of items starts. */
    kern_sample_keys(w + 500, 10, 123456789012LL + 500, key, 5, b);
    CU_ASSERT_EQUAL(memcmp(a + 500, b, 10 * sizeof(kern_pair)), 0);
}

/* Both distance kernels, on every ISA level the CPU has, give the reference's bits: tiles and
 * the columns after the last tile, several rows at once, values of mixed scale. */
static void test_sqdist_matches_reference(void) {
    enum { R = 3, M = 77, D = 13 };
    double x[R * D], yt[D * M], s[R * M], ref[R * M];
    float xf[R * D], ytf[D * M], sf[R * M], reff[R * M];
    for (int i = 0; i < R * D; i++)
        xf[i] = (float)(x[i] = (kern_select_uniform(key, 11, i) - 0.5) * (1 + i % 5));
    for (int i = 0; i < D * M; i++)
        ytf[i] = (float)(yt[i] = (kern_select_uniform(key, 12, i) - 0.5) * (1 + i % 3));
    kern_ref_sqdist_f64(x, R, yt, M, D, ref);
    kern_ref_sqdist_f32(xf, R, ytf, M, D, reff);
    CU_ASSERT(fabs(ref[M + 5] - reff[M + 5]) < 1e-4 * ref[M + 5]); /* the same distances */
    for (int level = 0; level <= (int)kern_isa_best(); level++) {
        kern_isa_set((kern_isa_level)level);
        kern_sqdist_f64(x, R, yt, M, D, s);
        kern_sqdist_f32(xf, R, ytf, M, D, sf);
        CU_ASSERT_EQUAL(memcmp(s, ref, sizeof s), 0);
        CU_ASSERT_EQUAL(memcmp(sf, reff, sizeof sf), 0);
    }
    kern_isa_set(kern_isa_best());
}

static void test_select_smallest_matches_reference(void) {
    enum { N = 777 };
    kern_pair a[N];
    for (size_t i = 0; i < N; i++) { /* many tied keys: the order must break them by id */
        a[i].key = (double)(int)(10.0 * kern_select_uniform(key, 7, (int64_t)i));
        a[i].id = (int64_t)((i * 389) % N);
    }
    size_t ks[] = {0, 1, 2, 50, 388, 776, 777};
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        kern_pair x[N], y[N];
        memcpy(x, a, sizeof a);
        memcpy(y, a, sizeof a);
        kern_select_smallest(x, N, ks[t]);
        kern_ref_select_smallest(y, N, ks[t]);
        CU_ASSERT_EQUAL(memcmp(x, y, ks[t] * sizeof(kern_pair)), 0);
        for (size_t i = 1; i < ks[t]; i++)
            CU_ASSERT(kern_pair_cmp(&x[i - 1], &x[i]) < 0);
    }
}

/* The smallest k of the union equals the merge of each part's smallest k, whatever the split
 * (what comm_select_smallest relies on); and comm_select_smallest on this one rank agrees. */
static void test_merge_independent_of_split(void) {
    enum { N = 600, K = 97 };
    double w[N];
    kern_pair all[N], want[K], got[K];
    test_weights(w, N);
    kern_sample_keys(w, N, 0, key, 11, all);
    kern_pair sorted[N];
    memcpy(sorted, all, sizeof all);
    kern_ref_select_smallest(sorted, N, K);
    memcpy(want, sorted, sizeof want);
    for (int parts = 1; parts <= 5; parts++) {
        kern_pair cand[5 * K], piece[N];
        size_t n_cand = 0;
        for (int r = 0; r < parts; r++) {
            int64_t lo, hi;
            comm_block_range(N, parts, r, &lo, &hi);
            memcpy(piece, all + lo, sizeof(kern_pair) * (size_t)(hi - lo));
            size_t keep = (size_t)(hi - lo) < K ? (size_t)(hi - lo) : K;
            kern_select_smallest(piece, (size_t)(hi - lo), keep);
            memcpy(cand + n_cand, piece, keep * sizeof(kern_pair));
            n_cand += keep;
        }
        kern_select_smallest(cand, n_cand, K);
        CU_ASSERT_EQUAL(memcmp(cand, want, sizeof want), 0);
    }
    kern_pair mine[N];
    memcpy(mine, all, sizeof all);
    CU_ASSERT_EQUAL(comm_select_smallest(mine, N, K, got), 0);
    CU_ASSERT_EQUAL(memcmp(got, want, sizeof want), 0);
}

static void test_sample_draws_match_reference(void) {
    enum { N = 300, S = 5000 };
    double w[N], cdf[N], acc = 0.0;
    int64_t a[N] = {0}, b[N] = {0}, c[N] = {0};
    test_weights(w, N);
    w[0] = w[N - 1] = 0.0; /* zero weights at both ends */
    for (size_t i = 0; i < N; i++)
        cdf[i] = acc += w[i];
    kern_sample_draws(cdf, N, key, 3, 0, S, a);
    kern_ref_sample_draws(cdf, N, key, 3, 0, S, b);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    /* Draws split into pieces give the same counts (what the ranks do). */
    kern_sample_draws(cdf, N, key, 3, 0, 1234, c);
    kern_sample_draws(cdf, N, key, 3, 1234, S - 1234, c);
    CU_ASSERT_EQUAL(memcmp(a, c, sizeof a), 0);
    int64_t total = 0;
    for (size_t i = 0; i < N; i++) {
        total += a[i];
        if (w[i] == 0.0)
            CU_ASSERT_EQUAL(a[i], 0);
    }
    CU_ASSERT_EQUAL(total, S);
}

/* ---- the sampled sketch of Xw ---- */

enum { SK_N = 40, SK_D = 60, SK_S = 12, SK_TRIALS = 40000 };

typedef struct {
    double x[SK_N * SK_D]; /* (n, d), column k scaled by 1 + 4·k/d */
    double w[SK_D];
    double y[SK_N];     /* Xw */
    double colsq[SK_D]; /* ‖X_{:,k}‖² */
} sketch_problem;

static void make_problem(sketch_problem *p) {
    for (int i = 0; i < SK_N; i++)
        for (int k = 0; k < SK_D; k++)
            p->x[i * SK_D + k] =
                (2.0 * kern_select_uniform(key, 21, i * SK_D + k) - 1.0) * (1.0 + 4.0 * k / SK_D);
    for (int k = 0; k < SK_D; k++) {
        p->w[k] = 2.0 * kern_select_uniform(key, 22, k) - 1.0;
        p->colsq[k] = 0.0;
        for (int i = 0; i < SK_N; i++)
            p->colsq[k] += p->x[i * SK_D + k] * p->x[i * SK_D + k];
    }
    for (int i = 0; i < SK_N; i++) {
        p->y[i] = 0.0;
        for (int k = 0; k < SK_D; k++)
            p->y[i] += p->x[i * SK_D + k] * p->w[k];
    }
}

/* DKM: E‖X(m⊙w) − Xw‖² = (Σ_k ‖X_k‖² w_k² / p_k − ‖Xw‖²) / s for s draws with replacement
 * from p and m_k = count_k / (s p_k). */
static double dkm_variance(const sketch_problem *pr, const double *p) {
    double sum = 0.0, yy = 0.0;
    for (int k = 0; k < SK_D; k++)
        sum += pr->colsq[k] * pr->w[k] * pr->w[k] / p[k];
    for (int i = 0; i < SK_N; i++)
        yy += pr->y[i] * pr->y[i];
    return (sum - yy) / SK_S;
}

/* Monte Carlo over SK_TRIALS sketches (trial t uses stream t): checks every coordinate of the
 * mean sketch against Xw within 5 standard errors, and the mean squared error against the DKM
 * variance within 5 standard errors of the Monte Carlo mean. Returns the measured variance. */
static double check_sketch(const sketch_problem *pr, const double *weights) {
    double cdf[SK_D], p[SK_D], acc = 0.0;
    for (int k = 0; k < SK_D; k++)
        cdf[k] = acc += weights[k];
    for (int k = 0; k < SK_D; k++)
        p[k] = weights[k] / acc;
    double mean[SK_N] = {0}, sq[SK_N] = {0}, err_sum = 0.0, err_sq = 0.0;
    for (int t = 0; t < SK_TRIALS; t++) {
        int64_t counts[SK_D] = {0};
        kern_sample_draws(cdf, SK_D, key, 1000 + (uint32_t)t, 0, SK_S, counts);
        double err = 0.0;
        for (int i = 0; i < SK_N; i++) {
            double yh = 0.0;
            for (int k = 0; k < SK_D; k++)
                if (counts[k])
                    yh += pr->x[i * SK_D + k] * pr->w[k] * (double)counts[k] / (SK_S * p[k]);
            mean[i] += yh;
            sq[i] += (yh - pr->y[i]) * (yh - pr->y[i]);
            err += (yh - pr->y[i]) * (yh - pr->y[i]);
        }
        err_sum += err;
        err_sq += err * err;
    }
    int biased = 0;
    for (int i = 0; i < SK_N; i++) {
        double m = mean[i] / SK_TRIALS, se = sqrt(sq[i] / SK_TRIALS / SK_TRIALS);
        biased += fabs(m - pr->y[i]) > 5.0 * se;
    }
    CU_ASSERT_EQUAL(biased, 0);
    double v = err_sum / SK_TRIALS, se = sqrt((err_sq / SK_TRIALS - v * v) / SK_TRIALS);
    double want = dkm_variance(pr, p);
    printf("\n    E||sketch - Xw||^2: Monte Carlo %.4f +- %.4f, DKM %.4f (%.2f SE, %.2f %%) ", v,
           se, want, fabs(v - want) / se, 100.0 * fabs(v - want) / want);
    CU_ASSERT(fabs(v - want) <= 5.0 * se);
    CU_ASSERT(se <= 0.02 * want); /* the test resolves the variance to a few per cent */
    return v;
}

static void test_sketch_unbiased_dkm_variance(void) {
    static sketch_problem pr;
    make_problem(&pr);
    double uniform[SK_D], magnitude[SK_D], optimal[SK_D];
    for (int k = 0; k < SK_D; k++) {
        uniform[k] = 1.0;
        magnitude[k] = fabs(pr.w[k]);
        optimal[k] = sqrt(pr.colsq[k]) * fabs(pr.w[k]);
    }
    double vu = check_sketch(&pr, uniform);
    double vm = check_sketch(&pr, magnitude);
    double vo = check_sketch(&pr, optimal);
    /* p ∝ ‖X_k‖·|w_k| minimizes the variance (here the columns differ in norm). */
    CU_ASSERT(vo < vm && vo < vu);
}

/* Without replacement (keep the B smallest keys −ln U/w), rescaled by 1/(1 − exp(−w_k τ)) with
 * τ the (B+1)-th smallest key: Σ_{kept} v_k / π̂_k is unbiased for Σ_k v_k. */
static void test_rank_conditioning_unbiased(void) {
    enum { N = 30, B = 6, T = 40000 };
    double w[N], v[N], total = 0.0;
    for (int k = 0; k < N; k++) {
        w[k] = 0.1 + kern_select_uniform(key, 31, k);
        v[k] = w[k] * (1.0 + kern_select_uniform(key, 32, k)); /* not proportional to w */
        total += v[k];
    }
    double sum = 0.0, sq = 0.0;
    for (int t = 0; t < T; t++) {
        kern_pair p[N];
        kern_sample_keys(w, N, 0, key, 2000 + (uint32_t)t, p);
        kern_select_smallest(p, N, B + 1);
        double tau = p[B].key, est = 0.0;
        for (int i = 0; i < B; i++)
            est += v[p[i].id] / -expm1(-w[p[i].id] * tau);
        sum += est;
        sq += est * est;
    }
    double mean = sum / T, se = sqrt((sq / T - mean * mean) / T);
    printf("\n    without replacement: mean %.4f +- %.4f, true %.4f ", mean, se, total);
    CU_ASSERT(fabs(mean - total) <= 5.0 * se);
}

/* ---- SynFlow ---- */

/* On an MLP and on a CNN with max pooling and a strided conv (chains, no normalization). */
static void test_synflow_conservation(void) {
    static const char *const specs[] = {"mlp:20-15-12-5",
                                        "cnn:2x9x9-conv4k3-relu-maxpool2-conv6k3s2-relu-fc5"};
    for (size_t sp = 0; sp < sizeof specs / sizeof specs[0]; sp++) {
        rl_model m;
        rl_workspace ws;
        CU_ASSERT_FATAL(rl_model_init(&m, specs[sp]) == 0);
        rl_model_init_params(&m, 7);
        for (int l = 0; l < m.n_layers; l++) /* non-zero biases: SynFlow must set them to 0 */
            for (int o = 0; rl_layer_has_matrix(&m.layers[l]) && o < rl_layer_rows(&m.layers[l]);
                 o++)
                m.params[m.layers[l].b_off + (size_t)o] = 0.5f;
        CU_ASSERT_FATAL(rl_workspace_init(&ws, &m, 4) == 0);
        float *saved = malloc(sizeof(float) * m.n_params);
        float *keep = malloc(sizeof(float) * m.n_params);
        double *scores = malloc(sizeof(double) * m.n_params);
        memcpy(saved, m.params, sizeof(float) * m.n_params);
        for (int pass = 0; pass < 2; pass++) {
            for (size_t k = 0; k < m.n_params; k++)
                keep[k] = pass == 1 && kern_select_uniform(key, 41, (int64_t)k) < 0.4 ? 0.0f : 1.0f;
            double r = rl_prune_synflow(&m, &ws, keep, scores);
            CU_ASSERT(r > 0.0);
            CU_ASSERT_EQUAL(memcmp(saved, m.params, sizeof(float) * m.n_params), 0);
            int weight_layers = 0;
            for (int l = 0; l < m.n_layers; l++) {
                const rl_layer *ly = &m.layers[l];
                if (!rl_layer_has_matrix(ly))
                    continue;
                weight_layers++;
                double layer = 0.0;
                for (size_t i = 0; i < rl_layer_weight_count(ly); i++) {
                    double sc = scores[ly->w_off + i];
                    CU_ASSERT(sc >= 0.0);
                    if (keep[ly->w_off + i] == 0.0f)
                        CU_ASSERT_EQUAL(sc, 0.0);
                    layer += sc;
                }
                for (int o = 0; o < rl_layer_rows(ly); o++)
                    CU_ASSERT_EQUAL(scores[ly->b_off + (size_t)o], 0.0);
                CU_ASSERT(fabs(layer - r) <= 1e-5 * r);
            }
            CU_ASSERT_EQUAL(weight_layers, 3);
        }
        free(saved);
        free(keep);
        free(scores);
        rl_workspace_free(&ws);
        rl_model_free(&m);
    }
}

/* The column squares of a strided, padded conv (3 input channels, 7 x 6 images) and of a dense
 * layer against their definition: with a one-hot filter at column j and zero biases, the conv's
 * output is column j of im2col, so Σ of its squares is col_sq[j]; a dense layer's is Σ x_j². */
static void test_column_squares_definition(void) {
    enum { B = 3 };
    rl_model m;
    rl_workspace ws;
    CU_ASSERT_FATAL(rl_model_init(&m, "cnn:3x7x6-conv2k3s2-relu-fc4") == 0);
    CU_ASSERT_FATAL(rl_workspace_init(&ws, &m, B) == 0);
    const rl_layer *conv = &m.layers[0], *fc = &m.layers[2];
    CU_ASSERT_FATAL(conv->kind == RL_LAYER_CONV && fc->kind == RL_LAYER_DENSE);
    CU_ASSERT_EQUAL(conv->out_h * conv->out_w, 4 * 3);
    int fan_in = rl_layer_fan_in(conv), out_hw = conv->out_h * conv->out_w;
    float x[B * 3 * 7 * 6], conv_sq[3 * 3 * 3], fc_sq[2 * 4 * 3];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = (float)kern_select_uniform(key, 77, (int64_t)i) - 0.5f;
    for (int j = 0; j < fan_in; j++) {
        memset(m.params, 0, sizeof(float) * m.n_params);
        m.params[conv->w_off + (size_t)j] = 1.0f; /* filter 0, column j */
        rl_model_forward(&m, &ws, x, B);
        rl_prune_column_squares(&m, &ws, 0, B, conv_sq);
        double want = 0.0;
        for (int i = 0; i < B; i++)
            for (int p = 0; p < out_hw; p++) {
                double y = ws.act[1][(size_t)i * 2 * out_hw + (size_t)p]; /* channel 0 */
                want += y * y;
            }
        CU_ASSERT(fabs(conv_sq[j] - want) <= 1e-5 * want + 1e-12);
    }
    rl_prune_column_squares(&m, &ws, 2, B, fc_sq);
    for (int j = 0; j < fc->in; j++) {
        double want = 0.0;
        for (int i = 0; i < B; i++)
            want += (double)ws.act[2][(size_t)i * fc->in + j] * ws.act[2][(size_t)i * fc->in + j];
        CU_ASSERT(fabs(fc_sq[j] - want) <= 1e-5 * want + 1e-12);
    }
    rl_workspace_free(&ws);
    rl_model_free(&m);
}

static const rl_test tests[] = {
    {"sample keys match the reference", test_sample_keys_match_reference},
    {"select smallest matches the reference", test_select_smallest_matches_reference},
    {"squared distances match the reference on every ISA", test_sqdist_matches_reference},
    {"merge of candidates independent of the split", test_merge_independent_of_split},
    {"sample draws match the reference", test_sample_draws_match_reference},
    {"sampled sketch unbiased, DKM variance", test_sketch_unbiased_dkm_variance},
    {"rank-conditioning rescaling unbiased", test_rank_conditioning_unbiased},
    {"SynFlow conservation", test_synflow_conservation},
    {"column squares match their definition", test_column_squares_definition},
    {NULL, NULL},
};
RL_TEST_SUITE("select", tests)
