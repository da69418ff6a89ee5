/* Zero-order estimators: ZOQO, fp32 ZO-SignSGD, MeZO (see zo.h). */
#include "src/train/zo.h"
#include "src/comm/comm.h"
#include "src/core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
static void evaluate_pair(zo_state *z, uint32_t t, uint32_t k, int mine, zo_loss_fn loss,
                          void *ctx, int64_t *plus, int64_t *minus) {
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
    return comm_exact_raw(&z->losses, 2 * (size_t)k) - comm_exact_raw(&z->losses, 2 * (size_t)k + 1);
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
