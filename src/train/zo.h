/* Zero-order estimators shared by the ZOQO experiments (METHODS.md §1): ZOQO on integer codes,
 * fp32 ZO-SignSGD, and ZO-SGD as in MeZO.
 *
 * A step draws K perturbations; perturbation k of step t is regenerated from (key, t, k) by any
 * rank (kernels/perturb.h), never stored. With zo.split = perturbations the ranks split the K
 * perturbations and each evaluates its own on the whole batch; with zo.split = data every rank
 * evaluates every perturbation on its share of the batch. Either way the ranks exchange two
 * loss values per perturbation (fixed point, exact), never a vector of the model's size, and
 * every rank applies the same update:
 *
 *   ZOQO   codes  k ← clamp(k − c·ĝ),  ĝ = sign(Σ_k sign(ℓ⁺_k − ℓ⁻_k)·sign(u_k))   (vote)
 *                                      ĝ = sign(Σ_k (ℓ⁺_k − ℓ⁻_k)·u_k)              (mean)
 *          θ± = clamp(θ ± u), u in codes; a tie ℓ⁺ = ℓ⁻ gives that perturbation no vote, and
 *          an element whose votes cancel gets no step.
 *   SIGN   fp32   θ ← θ − lr·ĝ with θ± = θ ± μ·u, u ~ N(0, 1), ĝ as above
 *   MEZO   fp32   θ ← θ − lr · (1/K) Σ_k (ℓ⁺_k − ℓ⁻_k)/(2μ) · z_k, perturbed in place
 *
 *     zo_state z;
 *     zo_options_from_config(&opt, cfg, ZO_ZOQO, seed);   // then opt.qmax (ZOQO)
 *     zo_init(&z, &opt, params, n);
 *     zo_step(&z, t, loss_fn, ctx);        // loss_fn(ctx, params) -> my part of the batch loss
 */
#ifndef RANKLAB_TRAIN_ZO_H
#define RANKLAB_TRAIN_ZO_H

#include "kernels/perturb.h"
#include "src/comm/comm.h"
#include "src/core/config.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { ZO_ZOQO, ZO_SIGN, ZO_MEZO } zo_method;

typedef struct {
    zo_method method;
    int perturbations;      /* K */
    int vote;               /* 1: majority vote of signs; 0: mean of loss differences */
    int split_data;         /* 0: ranks split perturbations; 1: ranks split the batch */
    kern_perturb_kind kind; /* ZOQO: RADEMACHER or UNIFORM; fp32: GAUSSIAN */
    int m, c, qmax;         /* ZOQO: perturbation magnitude and step, in codes; code bound */
    float mu, lr;           /* fp32: smoothing radius, step size */
    const float *lr_scale;  /* SIGN: per-element factor of lr (n), or NULL for 1 */
    uint32_t key[2];        /* the (seed, RL_RNG_PERTURB) stream */
} zo_options;

/* Loss over the examples this rank evaluates, with trainable parameters `params` (int8 codes
 * for ZOQO, float for the fp32 methods), in fixed point with RL_FIXED_FRAC_BITS (src/comm): the
 * ranks' parts then sum exactly, so splitting the batch gives the same bits as not splitting. */
typedef int64_t (*zo_loss_fn)(void *ctx, const void *params);

typedef struct {
    zo_options opt;
    size_t n;
    void *params;            /* the caller's trainable parameters, updated in place */
    int8_t *work;            /* ZOQO: the perturbed codes (n) */
    int32_t *votes;          /* (n) */
    float *direction;        /* (n) mean aggregation */
    comm_exact losses;       /* (2K) fixed point: ℓ⁺_k, ℓ⁻_k, my parts then every rank's */
    int64_t bytes_exchanged; /* by this rank in the last step */
    int64_t queries;         /* loss evaluations on a batch, all ranks, all steps */
    int64_t ties;            /* perturbations with ℓ⁺ = ℓ⁻, all steps */
} zo_state;

/* The zo.* keys (K, aggregation, split, perturbation law, ZOQO m and c, fp32 μ and steps, and
 * the first-order SGD baseline's zo.lr_sgd). */
void zo_declare_config(rl_config *cfg);
/* The options of `method` from the zo.* keys, perturbations keyed by (seed, RL_RNG_PERTURB);
 * lr is zo.lr_sign or zo.lr_mezo as given. qmax (ZOQO) and lr_scale are the caller's. */
void zo_options_from_config(zo_options *o, const rl_config *cfg, zo_method method, uint64_t seed);

int zo_init(zo_state *z, const zo_options *opt, void *params, size_t n);
void zo_free(zo_state *z);
/* One step t on the current batch (collective). */
int zo_step(zo_state *z, uint32_t t, zo_loss_fn loss, void *ctx);

#endif
