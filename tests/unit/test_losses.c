/* Unit tests of the noisy-label losses and metrics in src/nn: generalized cross-entropy, the ELR
 * loss and cross-entropy against smoothed labels (values, limits, gradients against central
 * finite differences w.r.t. the logits, example weights), softmax, and the AUC (hand cases,
 * ties, order invariance, brute force). */
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
    double expect = 0.0;
    for (int i = 0; i < B; i++)
        expect += weights[i] * per[i];
    CU_ASSERT(rl_test_close(total, expect, 16));
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
    double expect = 0.0;
    for (int i = 0; i < B; i++)
        expect += weights[i] * per[i];
    CU_ASSERT(rl_test_close(total, expect, 16));
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

static const rl_test tests[] = {
    {"GCE values, limits q->0 (CE) and q=1 (MAE), stability", test_gce_values},
    {"GCE gradients match finite differences", test_gce_grads},
    {"ELR with zero targets is cross-entropy", test_elr_without_targets_is_ce},
    {"ELR gradients match finite differences (with clamping)", test_elr_grads},
    {"smoothed cross-entropy: hand values, ε = 0 is cross-entropy", test_smoothed_ce_values},
    {"smoothed cross-entropy gradients match finite differences (weighted)",
     test_smoothed_ce_grads},
    {"softmax rows sum to 1 and are stable", test_softmax},
    {"AUC hand cases with ties", test_auc_hand_cases},
    {"AUC equals brute force and ignores input order", test_auc_brute_force_and_order},
    {NULL, NULL},
};

RL_TEST_SUITE("losses", tests)
