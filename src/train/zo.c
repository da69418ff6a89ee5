/* Zero-order estimators: ZOQO, fp32 ZO-SignSGD, MeZO (see zo.h). */
#include "src/train/zo.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const rl_cfg_spec zo_keys[] = {
    {"zo.perturbations", RL_CFG_INT, "8", 1, 1e6, NULL, 0, "perturbations K per step"},
    {"zo.aggregate", RL_CFG_CHOICE, "vote", 0, -1, "vote|mean", 0,
     "combine the K estimates by majority vote of signs or by the mean of loss differences"},
    {"zo.split", RL_CFG_CHOICE, "perturbations", 0, -1, "perturbations|data", 0,
     "ranks split the perturbations, or each perturbation's batch (same results either way)"},
    {"zo.dist", RL_CFG_CHOICE, "rademacher", 0, -1, "rademacher|uniform", 0,
     "ZOQO perturbation per code: ±m, or uniform in {-m..m} (zeros possible)"},
    {"zo.m", RL_CFG_INT, "1", 1, 127, NULL, 0, "ZOQO perturbation magnitude, in codes"},
    {"zo.c", RL_CFG_INT, "1", 1, 127, NULL, 0, "ZOQO step, in codes"},
    {"zo.mu", RL_CFG_FLOAT, "0.001", 1e-9, 10, NULL, 0, "fp32 smoothing radius (sign, mezo)"},
    {"zo.lr_sign", RL_CFG_FLOAT, "0", 0, 10, NULL, 0,
     "fp32 ZO-SignSGD step; 0: each tensor's 8-bit grid step, so it moves like zoqo8"},
    {"zo.lr_mezo", RL_CFG_FLOAT, "0.001", 0, 10, NULL, 0, "MeZO learning rate"},
    {"zo.lr_sgd", RL_CFG_FLOAT, "0.05", 0, 10, NULL, 0,
     "learning rate of the first-order SGD baseline"},
};

void zo_declare_config(rl_config *cfg) {
    rl_cfg_declare(cfg, zo_keys, sizeof zo_keys / sizeof zo_keys[0]);
}

void zo_options_from_config(zo_options *o, const rl_config *cfg, zo_method method, uint64_t seed) {
    memset(o, 0, sizeof *o);
    o->method = method;
    o->perturbations = (int)rl_cfg_int(cfg, "zo.perturbations");
    o->vote = !strcmp(rl_cfg_str(cfg, "zo.aggregate"), "vote");
    o->split_data = !strcmp(rl_cfg_str(cfg, "zo.split"), "data");
    memcpy(o->key, rl_rng_make(seed, RL_RNG_PERTURB).key, sizeof o->key);
    if (method == ZO_ZOQO) {
        o->kind = !strcmp(rl_cfg_str(cfg, "zo.dist"), "uniform") ? KERN_PERTURB_UNIFORM
                                                                 : KERN_PERTURB_RADEMACHER;
        o->m = (int)rl_cfg_int(cfg, "zo.m");
        o->c = (int)rl_cfg_int(cfg, "zo.c");
        return;
    }
    o->kind = KERN_PERTURB_GAUSSIAN;
    o->mu = (float)rl_cfg_float(cfg, "zo.mu");
    o->lr = (float)rl_cfg_float(cfg, method == ZO_MEZO ? "zo.lr_mezo" : "zo.lr_sign");
}

int zo_init(zo_state *z, const zo_options *opt, void *params, size_t n) {
    memset(z, 0, sizeof *z);
    if (opt->perturbations < 1)
        return rl_fail("zo.perturbations=%d", "use at least 1 perturbation per step",
                       opt->perturbations);
    z->opt = *opt;
    z->n = n;
    z->params = params;
    if (opt->method == ZO_ZOQO)
        z->work = rl_xmalloc(n);
    if (opt->method != ZO_MEZO) {
        z->votes = rl_xmalloc(sizeof(int32_t) * n);
        z->direction = rl_xmalloc(sizeof(float) * n);
    }
    comm_exact_init(&z->losses, 2 * (size_t)opt->perturbations);
    return 0;
}

void zo_free(zo_state *z) {
    if (!z)
        return;
    free(z->work);
    free(z->votes);
    free(z->direction);
    comm_exact_free(&z->losses);
    memset(z, 0, sizeof *z);
}

/* ℓ⁺ and ℓ⁻ of perturbation k. ZOQO evaluates a perturbed copy of the codes. fp32 perturbs in
 * place: θ + μu, θ − μu, then back, and the way back is not exact in float, so every rank walks
 * every perturbation (evaluating only its own): θ then carries the same rounding on every rank
 * and for any rank count. */
static void evaluate_pair(zo_state *z, uint32_t t, uint32_t k, int mine, zo_loss_fn loss, void *ctx,
                          int64_t *plus, int64_t *minus) {
    const zo_options *o = &z->opt;
    if (o->method == ZO_ZOQO) {
        if (!mine)
            return;
        const int8_t *codes = z->params;
        kern_perturb_codes(z->work, codes, z->n, o->key, t, k, o->kind, o->m, +1, o->qmax);
        *plus = loss(ctx, z->work);
        kern_perturb_codes(z->work, codes, z->n, o->key, t, k, o->kind, o->m, -1, o->qmax);
        *minus = loss(ctx, z->work);
        return;
    }
    float *theta = z->params;
    kern_perturb_axpy(theta, z->n, o->key, t, k, o->kind, 1, o->mu);
    if (mine)
        *plus = loss(ctx, theta);
    kern_perturb_axpy(theta, z->n, o->key, t, k, o->kind, 1, -2.0f * o->mu);
    if (mine)
        *minus = loss(ctx, theta);
    kern_perturb_axpy(theta, z->n, o->key, t, k, o->kind, 1, o->mu);
}

/* ℓ⁺_k − ℓ⁻_k in fixed point, and as a double. */
static int64_t difference(const zo_state *z, int k) {
    return comm_exact_raw(&z->losses, 2 * (size_t)k) -
           comm_exact_raw(&z->losses, 2 * (size_t)k + 1);
}

static double difference_value(const zo_state *z, int k) {
    return ldexp((double)difference(z, k), -RL_FIXED_FRAC_BITS);
}

/* The sign estimate ĝ from the K loss differences, into z->votes as -1, 0, +1. */
static void sign_estimate(zo_state *z, uint32_t t) {
    const zo_options *o = &z->opt;
    const int K = o->perturbations;
    memset(z->votes, 0, sizeof(int32_t) * z->n);
    if (o->vote) {
        for (int k = 0; k < K; k++) {
            int64_t d = difference(z, k);
            kern_perturb_vote(z->votes, z->n, o->key, t, (uint32_t)k, o->kind, o->m,
                              (d > 0) - (d < 0));
        }
        return;
    }
    memset(z->direction, 0, sizeof(float) * z->n);
    for (int k = 0; k < K; k++) {
        kern_perturb_axpy(z->direction, z->n, o->key, t, (uint32_t)k, o->kind, o->m,
                          (float)difference_value(z, k));
    }
    for (size_t i = 0; i < z->n; i++)
        z->votes[i] = (z->direction[i] > 0.0f) - (z->direction[i] < 0.0f);
}

int zo_step(zo_state *z, uint32_t t, zo_loss_fn loss, void *ctx) {
    const zo_options *o = &z->opt;
    const int K = o->perturbations;
    int64_t lo = 0, hi = K;
    if (!o->split_data)
        comm_block_range(K, comm_size(), comm_rank(), &lo, &hi);
    comm_exact_zero(&z->losses);
    for (int64_t k = 0; k < K; k++) {
        int64_t plus = 0, minus = 0;
        evaluate_pair(z, t, (uint32_t)k, k >= lo && k < hi, loss, ctx, &plus, &minus);
        comm_exact_count(&z->losses, 2 * (size_t)k, plus);
        comm_exact_count(&z->losses, 2 * (size_t)k + 1, minus);
    }
    if (comm_exact_reduce(&z->losses) < 0)
        return RL_ERR;
    z->bytes_exchanged = (int64_t)sizeof(int64_t) * 2 * K;
    z->queries += 2 * K;
    for (int k = 0; k < K; k++)
        z->ties += difference(z, k) == 0;

    if (o->method == ZO_MEZO) {
        float *theta = z->params;
        for (int k = 0; k < K; k++) {
            float alpha = (float)(-o->lr * difference_value(z, k) / (2.0 * o->mu * K));
            kern_perturb_axpy(theta, z->n, o->key, t, (uint32_t)k, o->kind, 1, alpha);
        }
        return 0;
    }
    sign_estimate(z, t);
    if (o->method == ZO_ZOQO) {
        int8_t *codes = z->params;
        for (size_t i = 0; i < z->n; i++) {
            int v = codes[i] - o->c * (z->votes[i] > 0 ? 1 : z->votes[i] < 0 ? -1 : 0);
            codes[i] = (int8_t)(v > o->qmax ? o->qmax : v < -o->qmax ? -o->qmax : v);
        }
    } else {
        float *theta = z->params;
        for (size_t i = 0; i < z->n; i++) {
            float step = o->lr_scale ? o->lr * o->lr_scale[i] : o->lr;
            theta[i] -= step * (float)((z->votes[i] > 0) - (z->votes[i] < 0));
        }
    }
    return 0;
}
