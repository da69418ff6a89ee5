/* Unit tests of the noisy-label losses and metrics in src/nn: generalized cross-entropy, the ELR
 * loss and cross-entropy against smoothed labels (values, limits, gradients against central
 * finite differences w.r.t. the logits, example weights), softmax, and the AUC (hand cases,
 * ties, order invariance, brute force), cross-entropy's bits against the sum over the classes,
 * and SimCLR's NT-Xent (a hand-worked value, finite
 * differences, invariance to the embeddings' lengths). */
#include "kernels/kernels.h"
#include "src/core/rng.h"
#include "src/nn/nn.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { B = 4, C = 5 };
#define FD_H 1e-3f

typedef struct {
    int kind; /* 0 GCE, 1 ELR, 2 smoothed cross-entropy */
    const int32_t *labels;
    const float *weights, *targets;
    float q, lambda, smoothing;
} loss_case;

static double eval_loss(const loss_case *lc, const float *logits, float scale, float *d) {
    if (lc->kind == 0)
        return rl_loss_gce(logits, lc->labels, lc->weights, B, C, lc->q, scale, d, NULL);
    if (lc->kind == 2)
        return rl_loss_smoothed_ce(logits, lc->labels, lc->weights, B, C, lc->smoothing, scale, d,
                                   NULL);
    return rl_loss_elr(logits, lc->labels, lc->targets, lc->weights, B, C, lc->lambda, scale, d,
                       NULL);
}

/* Analytic d(loss)/d(logits) (scale 1) against central differences; returns the largest
 * analytic magnitude so callers can check the comparison was not between zeros. */
static double check_logit_grads(const loss_case *lc, float *logits) {
    float d[B * C];
    eval_loss(lc, logits, 1.0f, d);
    double largest = 0.0;
    for (int i = 0; i < B * C; i++) {
        float saved = logits[i], hi = saved + FD_H, lo = saved - FD_H;
        logits[i] = hi;
        double f_hi = eval_loss(lc, logits, 0.0f, NULL);
        logits[i] = lo;
        double f_lo = eval_loss(lc, logits, 0.0f, NULL);
        logits[i] = saved;
        double numeric = (f_hi - f_lo) / ((double)hi - lo);
        double tol = 1e-2 * fmax(fabs(d[i]), fabs(numeric)) + 1e-3;
        CU_ASSERT(fabs(d[i] - numeric) <= tol);
        if (fabs(d[i] - numeric) > tol)
            fprintf(stderr, "\n  logit %d: analytic %.6g, numeric %.6g\n", i, d[i], numeric);
        largest = fmax(largest, fabs(d[i]));
    }
    return largest;
}

static void fill(float *x, size_t n, uint32_t stream, float lo, float hi) {
    rl_rng r = rl_rng_make(777, RL_RNG_SYNTH_DATA);
    kern_fill_uniform(x, n, r.key, stream, lo, hi);
}

static const int32_t labels[B] = {0, 4, 2, 1};
static const float weights[B] = {0.5f, 2.0f, 1.0f, 0.25f};

/* Σ weights[i] · per[i]: what a loss's weighted total must be, given its unweighted per-example
 * values. */
static double weighted_sum(const float per[B]) {
    double sum = 0.0;
    for (int i = 0; i < B; i++)
        sum += weights[i] * per[i];
    return sum;
}

static void test_gce_values(void) {
    /* Two equal logits: p_y = 1/2, ℓ = (1 − 2^−q) / q. */
    const float z[2] = {0.3f, 0.3f};
    const int32_t y[1] = {1};
    float per;
    double loss = rl_loss_gce(z, y, NULL, 1, 2, 0.7f, 0.0f, NULL, &per);
    CU_ASSERT(rl_test_close(loss, (1.0 - pow(0.5, 0.7f)) / 0.7f, 8));
    CU_ASSERT(rl_test_close(per, loss, 2));
    /* q → 0 approaches cross-entropy; q = 1 is 1 − p_y; huge logits stay finite. */
    float logits[B * C];
    fill(logits, B * C, 1, -3.0f, 3.0f);
    double ce = rl_loss_softmax_ce(logits, labels, NULL, B, C, 0.0f, NULL, NULL);
    double gce = rl_loss_gce(logits, labels, NULL, B, C, 0.01f, 0.0f, NULL, NULL);
    CU_ASSERT(fabs(gce - ce) < 0.05 * ce);
    float probs[B * C];
    rl_softmax(logits, B, C, probs);
    double mae = 0.0;
    for (int i = 0; i < B; i++)
        mae += 1.0 - probs[i * C + labels[i]];
    CU_ASSERT(
        rl_test_close(rl_loss_gce(logits, labels, NULL, B, C, 1.0f, 0.0f, NULL, NULL), mae, 16));
    const float big[3] = {1000.0f, -1000.0f, 0.0f};
    const int32_t y0[1] = {1};
    float d[3];
    double worst = rl_loss_gce(big, y0, NULL, 1, 3, 0.7f, 1.0f, d, NULL);
    CU_ASSERT(rl_test_close(worst, 1.0 / 0.7f, 8));
    CU_ASSERT(isfinite(d[0]) && isfinite(d[1]) && isfinite(d[2]));
}

static void test_gce_grads(void) {
    float logits[B * C];
    fill(logits, B * C, 2, -2.0f, 2.0f);
    loss_case lc = {0, labels, NULL, NULL, 0.7f, 0.0f, 0.0f};
    CU_ASSERT(check_logit_grads(&lc, logits) > 0.05);
    lc.weights = weights;
    lc.q = 0.3f;
    CU_ASSERT(check_logit_grads(&lc, logits) > 0.05);
    /* Weighted total and per-example values (unweighted). */
    float per[B];
    double total = rl_loss_gce(logits, labels, weights, B, C, 0.3f, 0.0f, NULL, per);
    CU_ASSERT(rl_test_close(total, weighted_sum(per), 16));
}

static void test_elr_without_targets_is_ce(void) {
    float logits[B * C], targets[B * C] = {0}, d_ce[B * C], d_elr[B * C], per_ce[B], per_elr[B];
    fill(logits, B * C, 3, -2.0f, 2.0f);
    double ce = rl_loss_softmax_ce(logits, labels, weights, B, C, 0.5f, d_ce, per_ce);
    double elr = rl_loss_elr(logits, labels, targets, weights, B, C, 3.0f, 0.5f, d_elr, per_elr);
    CU_ASSERT_EQUAL(ce, elr);
    CU_ASSERT(memcmp(per_ce, per_elr, sizeof per_ce) == 0);
    for (int i = 0; i < B * C; i++)
        CU_ASSERT(rl_test_close(d_ce[i], d_elr[i], 4));
}

static void test_elr_grads(void) {
    float logits[B * C], targets[B * C];
    fill(logits, B * C, 4, -2.0f, 2.0f);
    fill(targets, B * C, 5, 0.0f, 1.0f);
    for (int i = 0; i < B; i++) { /* rows of a probability simplex, like the running averages */
        float sum = 0.0f;
        for (int j = 0; j < C; j++)
            sum += targets[i * C + j];
        for (int j = 0; j < C; j++)
            targets[i * C + j] /= sum;
    }
    loss_case lc = {1, labels, NULL, targets, 0.0f, 3.0f, 0.0f};
    CU_ASSERT(check_logit_grads(&lc, logits) > 0.05);
    lc.weights = weights;
    CU_ASSERT(check_logit_grads(&lc, logits) > 0.05);
    /* A clamped probability (p < 1e-4) contributes no regularizer gradient, still exact. */
    logits[1] = -15.0f;
    CU_ASSERT(check_logit_grads(&lc, logits) > 0.05);
    /* The regularizer lowers the loss where the model agrees with its target. */
    float agree[C] = {4.0f, 0.0f, 0.0f, 0.0f, 0.0f}, t_agree[C] = {1.0f, 0, 0, 0, 0};
    float t_other[C] = {0, 1.0f, 0, 0, 0};
    const int32_t y[1] = {0};
    double with = rl_loss_elr(agree, y, t_agree, NULL, 1, C, 3.0f, 0.0f, NULL, NULL);
    double without = rl_loss_elr(agree, y, t_other, NULL, 1, C, 3.0f, 0.0f, NULL, NULL);
    CU_ASSERT(with < without);
}

static void test_smoothed_ce_values(void) {
    /* Logits (2, 0, 0), label 0, ε = 0.1: q = (0.9, 0.05, 0.05), ℓ = lse − 0.9·2 with
     * lse = log(e² + 2). Equal logits: log C whatever ε. */
    const float z[3] = {2.0f, 0.0f, 0.0f}, flat[3] = {0.5f, 0.5f, 0.5f};
    const int32_t y[1] = {0};
    float per, d[3];
    double loss = rl_loss_smoothed_ce(z, y, NULL, 1, 3, 0.1f, 1.0f, d, &per);
    double lse = log(exp(2.0) + 2.0);
    CU_ASSERT(rl_test_close(loss, lse - 0.9f * 2.0, 8));
    CU_ASSERT(rl_test_close(per, loss, 2));
    /* ∂ℓ/∂z = p − q */
    CU_ASSERT(rl_test_close(d[0], exp(2.0 - lse) - 0.9f, 8));
    CU_ASSERT(rl_test_close(d[1], exp(-lse) - 0.1f / 2, 8));
    CU_ASSERT(rl_test_close(rl_loss_smoothed_ce(flat, y, NULL, 1, 3, 0.3f, 0.0f, NULL, NULL),
                            log(3.0), 8));
    /* ε = 0 is cross-entropy, bit for bit (values, per-example values and gradients). */
    float logits[B * C], d_ce[B * C], d_ls[B * C], per_ce[B], per_ls[B];
    fill(logits, B * C, 6, -3.0f, 3.0f);
    double ce = rl_loss_softmax_ce(logits, labels, weights, B, C, 0.5f, d_ce, per_ce);
    double ls = rl_loss_smoothed_ce(logits, labels, weights, B, C, 0.0f, 0.5f, d_ls, per_ls);
    CU_ASSERT_EQUAL(ce, ls);
    CU_ASSERT(memcmp(per_ce, per_ls, sizeof per_ce) == 0);
    CU_ASSERT(memcmp(d_ce, d_ls, sizeof d_ce) == 0);
    /* Smoothing costs a confident right prediction and spares a confident wrong one. */
    const float sure[3] = {8.0f, 0.0f, 0.0f};
    const int32_t right[1] = {0}, wrong[1] = {1};
    CU_ASSERT(rl_loss_smoothed_ce(sure, right, NULL, 1, 3, 0.1f, 0.0f, NULL, NULL) >
              rl_loss_softmax_ce(sure, right, NULL, 1, 3, 0.0f, NULL, NULL));
    CU_ASSERT(rl_loss_smoothed_ce(sure, wrong, NULL, 1, 3, 0.1f, 0.0f, NULL, NULL) <
              rl_loss_softmax_ce(sure, wrong, NULL, 1, 3, 0.0f, NULL, NULL));
}

/* Cross-entropy as the sum over the classes of q_j (lse − z_j), q one-hot at the label, in
 * class order: the loss's bits (per example and total) on an LM-sized row, and with −∞ and NaN
 * logits, where that sum is not lse − z_y (0 · ∞ is NaN). */
static void test_ce_bits_of_the_class_sum(void) {
    enum { ROWS = 4, V = 1024 };
    static float z[ROWS * V];
    const int32_t y[ROWS] = {5, 1023, 0, 17};
    fill(z, ROWS * V, 9, -6.0f, 6.0f);
    z[1 * V + 3] = -INFINITY; // row 1: a −∞ logit off the label: the sum is NaN
    z[2 * V + 0] = -INFINITY; // row 2: at the label: +∞
    z[3 * V + 40] = NAN;      // row 3: NaN
    float per[ROWS];
    double total = rl_loss_softmax_ce(z, y, NULL, ROWS, V, 0.0f, NULL, per), want_total = 0.0;
    for (int i = 0; i < ROWS; i++) {
        const float *row = z + (size_t)i * V;
        float top = row[0];
        for (int j = 1; j < V; j++)
            top = row[j] > top ? row[j] : top;
        double sum = 0.0, loss = 0.0;
        for (int j = 0; j < V; j++)
            sum += exp((double)row[j] - top);
        double lse = top + log(sum);
        for (int j = 0; j < V; j++)
            loss += (j == y[i] ? 1.0 : 0.0) * (lse - row[j]);
        float want = (float)loss;
        CU_ASSERT(memcmp(&want, &per[i], sizeof want) == 0);
        want_total += loss;
    }
    CU_ASSERT(memcmp(&want_total, &total, sizeof total) == 0);
    CU_ASSERT(per[0] > 0.0f && isnan(per[1]) && isinf(per[2]) && isnan(per[3]));
}

static void test_smoothed_ce_grads(void) {
    float logits[B * C];
    fill(logits, B * C, 7, -2.0f, 2.0f);
    loss_case lc = {2, labels, NULL, NULL, 0.0f, 0.0f, 0.1f};
    CU_ASSERT(check_logit_grads(&lc, logits) > 0.05);
    /* With example weights (MW and label smoothing together), and heavier smoothing. */
    lc.weights = weights;
    CU_ASSERT(check_logit_grads(&lc, logits) > 0.05);
    lc.smoothing = 0.5f;
    CU_ASSERT(check_logit_grads(&lc, logits) > 0.05);
    float per[B];
    double total = rl_loss_smoothed_ce(logits, labels, weights, B, C, 0.5f, 0.0f, NULL, per);
    CU_ASSERT(rl_test_close(total, weighted_sum(per), 16));
}

static void test_softmax(void) {
    const float z[6] = {0.0f, 0.0f, 0.0f, 1000.0f, 999.0f, -1000.0f};
    float p[6];
    rl_softmax(z, 2, 3, p);
    CU_ASSERT(fabsf(p[0] - 1.0f / 3) < 1e-6f && fabsf(p[2] - 1.0f / 3) < 1e-6f);
    CU_ASSERT(fabsf(p[3] - 0.7310586f) < 1e-6f && fabsf(p[4] - 0.2689414f) < 1e-6f && p[5] == 0.0f);
    CU_ASSERT(fabsf(p[3] + p[4] + p[5] - 1.0f) < 1e-6f);
}

static void test_auc_hand_cases(void) {
    const double s[5] = {1.0, 2.0, 2.0, 2.0, 0.0};
    const uint8_t pos[5] = {1, 1, 1, 0, 0};
    /* Pairs (pos, neg): (1,2) 0, (1,0) 1, (2,2) ½, (2,0) 1, (2,2) ½, (2,0) 1 → 4 / 6. */
    CU_ASSERT(rl_test_close(rl_auc(s, pos, 5), 4.0 / 6.0, 2));
    const double sep[4] = {0.1, 0.2, 0.8, 0.9};
    const uint8_t hi[4] = {0, 0, 1, 1}, lo[4] = {1, 1, 0, 0}, none[4] = {0, 0, 0, 0};
    CU_ASSERT_EQUAL(rl_auc(sep, hi, 4), 1.0);
    CU_ASSERT_EQUAL(rl_auc(sep, lo, 4), 0.0);
    const double ties[4] = {0.5, 0.5, 0.5, 0.5};
    CU_ASSERT_EQUAL(rl_auc(ties, hi, 4), 0.5);
    CU_ASSERT(isnan(rl_auc(sep, none, 4)));
}

static void test_auc_brute_force_and_order(void) {
    enum { N = 300 };
    double s[N], s_perm[N];
    uint8_t pos[N], pos_perm[N];
    rl_rng r = rl_rng_make(99, RL_RNG_SAMPLE);
    for (int i = 0; i < N; i++) {
        s[i] = (double)rl_rng_below(r, 0, (uint32_t)i, 20); /* many ties */
        pos[i] = rl_rng_uniform(r, 1, (uint32_t)i) < 0.3 + 0.02 * s[i];
    }
    double wins = 0.0, pairs = 0.0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (pos[i] && !pos[j]) {
                wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
                pairs += 1.0;
            }
    double auc = rl_auc(s, pos, N);
    CU_ASSERT(rl_test_close(auc, wins / pairs, 4));
    CU_ASSERT(auc > 0.6);
    for (int i = 0; i < N; i++) { /* reversed order: the same bits */
        s_perm[i] = s[N - 1 - i];
        pos_perm[i] = pos[N - 1 - i];
    }
    double auc_perm = rl_auc(s_perm, pos_perm, N);
    CU_ASSERT(memcmp(&auc, &auc_perm, sizeof auc) == 0);
}

/* NT-Xent on two pairs of 2-d embeddings worked by hand: unit vectors u0 = (1, 0), u1 = (0, 1)
 * (pair 0), u2 = (−1, 0), u3 = (1, 1)/√2 (pair 1), τ = 1/2, so s_kl = 2·cos(u_k, u_l):
 *   ℓ0 = log(e^0 + e^-2 + e^√2)           (partner u1, s = 0)
 *   ℓ1 = log(e^0 + e^0 + e^√2)            (partner u0, s = 0)
 *   ℓ2 = √2 + log(e^-2 + e^0 + e^-√2)     (partner u3, s = −√2)
 *   ℓ3 = √2 + log(2·e^√2 + e^-√2)         (partner u2, s = −√2). */
static void test_nt_xent_hand_value(void) {
    const float z[8] = {1, 0, 0, 2, -3, 0, 1, 1}; /* lengths do not matter: cosines */
    double r2 = sqrt(2.0);
    double expected = log(1 + exp(-2.0) + exp(r2)) + log(2 + exp(r2)) + r2 +
                      log(exp(-2.0) + 1 + exp(-r2)) + r2 + log(2 * exp(r2) + exp(-r2));
    CU_ASSERT(rl_test_close(rl_loss_nt_xent(z, 2, 2, 0.5, 0.0f, NULL), expected, 8));
    /* a pair of identical views among orthogonal ones: ℓ = −2 + log(e^2 + 2) each, 4 views */
    const float same[8] = {1, 0, 1, 0, 0, 1, 0, 1};
    double l = rl_loss_nt_xent(same, 2, 2, 0.5, 0.0f, NULL);
    CU_ASSERT(rl_test_close(l, 4 * (-2.0 + log(exp(2.0) + 2.0)), 8));
}

typedef struct {
    const float *z;
    int pairs, dim;
    double temperature;
    float scale;
} nt_xent_case;

static double nt_xent_value(void *ctx) {
    const nt_xent_case *c = ctx;
    return c->scale * rl_loss_nt_xent(c->z, c->pairs, c->dim, c->temperature, 0.0f, NULL);
}

/* The gradient against central differences at two temperatures (a scale applied), its radial
 * part zero (the loss depends on directions only), and the loss unchanged by rescaling a row. */
static void test_nt_xent_grads(void) {
    enum { P = 3, D = 4, N = 2 * P * D };
    float z[N], d[N];
    rl_rng r = rl_rng_make(5, RL_RNG_SYNTH_DATA);
    for (int i = 0; i < N; i++)
        z[i] = (float)rl_rng_normal(r, 0, (uint32_t)i);
    for (int t = 0; t < 2; t++) {
        double tau = t ? 0.2 : 0.5;
        rl_loss_nt_xent(z, P, D, tau, 0.25f, d);
        nt_xent_case c = {z, P, D, tau, 0.25f};
        double largest = rl_test_check_grads(z, d, N, nt_xent_value, &c, FD_H);
        CU_ASSERT(largest > 1e-2);
        for (int k = 0; k < 2 * P; k++) {
            double radial = 0.0;
            for (int j = 0; j < D; j++)
                radial += (double)d[k * D + j] * z[k * D + j];
            CU_ASSERT(fabs(radial) < 1e-5);
        }
    }
    double before = rl_loss_nt_xent(z, P, D, 0.5, 0.0f, NULL);
    for (int j = 0; j < D; j++)
        z[3 * D + j] *= 7.0f;
    CU_ASSERT(rl_test_close(rl_loss_nt_xent(z, P, D, 0.5, 0.0f, NULL), before, 1e4));
}

static const rl_test tests[] = {
    {"GCE values, limits q->0 (CE) and q=1 (MAE), stability", test_gce_values},
    {"GCE gradients match finite differences", test_gce_grads},
    {"ELR with zero targets is cross-entropy", test_elr_without_targets_is_ce},
    {"ELR gradients match finite differences (with clamping)", test_elr_grads},
    {"smoothed cross-entropy: hand values, ε = 0 is cross-entropy", test_smoothed_ce_values},
    {"cross-entropy: the bits of the sum over the classes, with -inf and NaN logits too",
     test_ce_bits_of_the_class_sum},
    {"smoothed cross-entropy gradients match finite differences (weighted)",
     test_smoothed_ce_grads},
    {"softmax rows sum to 1 and are stable", test_softmax},
    {"AUC hand cases with ties", test_auc_hand_cases},
    {"AUC equals brute force and ignores input order", test_auc_brute_force_and_order},
    {"NT-Xent: hand-worked values on two pairs", test_nt_xent_hand_value},
    {"NT-Xent gradients match finite differences, are tangential, lengths do not matter",
     test_nt_xent_grads},
    {NULL, NULL},
};

RL_TEST_SUITE("losses", tests)
