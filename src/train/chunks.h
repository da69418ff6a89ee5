/* A model trained and evaluated on chunks of examples that the ranks split: the one routine
 * for an exact data gradient and the one evaluation routine of every experiment.
 *
 * A set of examples (a batch, a training set) is cut into chunks of `chunk` examples in its own
 * order; the ranks take the chunks by blocks (train_chunk_range). A chunk's contribution — a
 * gradient, a loss — is added in fixed point into a comm_exact, which sums it exactly over
 * chunks and ranks: the result depends on the chunk size, never on the number of ranks.
 *
 *     train_chunks c;
 *     train_chunks_init(&c, &model, &train, 32);
 *     train_loss ce = train_loss_for(&train);              // CE for labelled data
 *     train_objective o = {.loss = &ce, .scale = 1.0f / B};  // the mean loss of the batch
 *     comm_exact e;  comm_exact_init(&e, model.n_params + 1);
 *     train_chunks_gradient(&c, &train, batch, B, &o, model.grads, model.n_params, &e);
 *     comm_exact_reduce(&e);                                // the gradient of the mean loss
 *     train_evaluate(&c, &test, 0, &loss, &acc);            // collective
 */
#ifndef RANKLAB_TRAIN_CHUNKS_H
#define RANKLAB_TRAIN_CHUNKS_H

#include "src/comm/comm.h"
#include "src/core/config.h"
#include "src/data/augment.h"
#include "src/data/data.h"
#include "src/nn/attack.h"
#include "src/nn/lora.h"
#include "src/nn/nn.h"

#include <stdint.h>

/* The loss a model is trained with (a small object). Labelled data: cross-entropy (optionally
 * against smoothed labels), or the noise-robust GCE or ELR; regression targets: MSE; an
 * autoencoder: MSE to its own input. */
typedef enum {
    TRAIN_LOSS_CE,
    TRAIN_LOSS_GCE,
    TRAIN_LOSS_ELR,
    TRAIN_LOSS_MSE,
    TRAIN_LOSS_RECONSTRUCT,
} train_loss_kind;

typedef struct {
    train_loss_kind kind;
    float gce_q;              /* GCE: q of rl_loss_gce */
    float elr_lambda;         /* ELR: λ of rl_loss_elr */
    const float *elr_targets; /* ELR: (n examples, classes), replicated on every rank */
    float temperature;        /* CE, GCE, ELR: logits divided by it first (0 or 1: none) */
    float label_smoothing;    /* CE: against smoothed labels, rl_loss_smoothed_ce (0: none) */
} train_loss;

/* A forward pass other than the model's fp32 one (e.g. an int8 model's): the output
 * (n, outputs) of inputs x (n, dim). */
typedef const float *(*train_forward_fn)(void *ctx, const float *x, int n);
/* A model's backward from the output gradient d_out (n, outputs) of the latest forward into the
 * gradients the caller sums (e.g. the straight-through gradient of a quantized model). */
typedef void (*train_backward_fn)(void *ctx, const float *d_out, int n);

typedef struct {
    rl_model *model;          /* not owned */
    rl_workspace ws;
    int chunk;                /* examples per chunk of a gradient */
    int rows;                 /* rows of the buffers: max(chunk, RL_ROW_CHUNK) */
    int dim, outputs, targets;
    rl_rng attack_rng;        /* random starts of attacks */
    rl_lora *lora;            /* gradients wanted for these adapters (NULL: the model's own) */
    train_forward_fn forward; /* NULL: the model's fp32 forward */
    train_backward_fn backward; /* NULL: the model's fp32 backward (and the adapters') */
    void *hook_ctx;             /* given to forward and backward */
    /* one chunk: inputs, labels, regression targets, weights, ELR targets, output gradient */
    float *xb, *tb, *wb, *targets_b, *d_out; /* (rows, dim), (rows, targets + 1), (rows),
                                              * (rows, outputs), (rows, outputs) */
    int32_t *yb;                              /* (rows) */
    /* mixup: the partners' inputs, labels, weights and output gradient */
    float *x_mix, *w_mix, *d_mix; /* (rows, dim), (rows), (rows, outputs) */
    int32_t *y_mix;               /* (rows) */
    float *augment_row;           /* (dim) one augmented image */
    float *stats_b;               /* (model->n_stats) one chunk's batch-norm statistics */
    rl_attack_scratch attack;
} train_chunks;

/* train.chunk, the one key of the chunk size (every experiment that cuts examples into chunks). */
void train_chunks_declare_config(rl_config *cfg);

/* The batches of training: an epoch is a permutation of the n examples (regenerated from the
 * counter RNG for each epoch, the same on every rank) cut into ⌈n/B⌉ batches of B, the last
 * one shorter. */
typedef struct {
    int64_t n, per_epoch;
    int batch;
    uint64_t seed;
    int64_t *order; /* (n) the order of epoch `epoch` */
    int64_t epoch;  /* -1: none yet */
} train_batches;

void train_batches_init(train_batches *b, int64_t n, int batch, uint64_t seed);
void train_batches_free(train_batches *b); /* NULL-safe */
/* The examples of step `step` (batch step % per_epoch of epoch step / per_epoch): *idx points
 * into the order; returns the batch's size. */
int train_batches_at(train_batches *b, int64_t step, const int64_t **idx);

/* Buffers and a workspace for `model` on examples shaped like d's, chunks of `chunk`. Sizes
 * checked (rl_mem_check) first. */
int train_chunks_init(train_chunks *c, rl_model *model, const rl_dataset *d, int chunk);
/* The memory check of train_chunks_init alone, for a run that makes its chunks later. */
int train_chunks_check(const rl_model *model, const rl_dataset *d, int chunk);
void train_chunks_free(train_chunks *c); /* NULL-safe */

/* Gather examples idx[0..n) of d into the buffers (n <= rows) and run the forward: the output
 * (n, outputs), owned by the workspace (or the forward function's). */
const float *train_chunks_forward(train_chunks *c, const rl_dataset *d, const int64_t *idx,
                                  int n);
/* The default loss of d: cross-entropy for labelled data, MSE for regression targets. */
train_loss train_loss_for(const rl_dataset *d);
/* Σ_i w_i·ℓ_i·scale of the last forward (examples idx, their labels and targets in the
 * buffers); w may be NULL (all 1); d_out (the gradient of the same sum with respect to the
 * output) and per_example (ℓ_i) are optional. */
double train_chunks_loss(train_chunks *c, const train_loss *loss, const float *out,
                         const int64_t *idx, int n, const float *w, float scale, float *d_out,
                         float *per_example);

/* This rank's share of the gradient of Σ_i w_i·ℓ_i·scale (ℓ: `loss`) over examples idx[0..n) of
 * d: for each of its chunks, attacked first if adv is not NULL (random starts keyed by
 * `round`), the gradient of the values whose gradients are `grads` (n_grads: the model's, or
 * c->lora's) is added into e[0..n_grads) (RL_FIXED_FRAC_BITS) and the loss into e[n_grads]
 * (RL_FIXED_SUM_FRAC_BITS). Weights: w_i = weights[idx[i]] · weight_scale (NULL: 1). With mixup
 * (mix_partner, src/train/mixup.h) example i trains on λ·x_i + (1 − λ)·x_p with the loss
 * λ·w_i·ℓ(y_i) + (1 − λ)·w_p·ℓ(y_p), p = mix_partner[i] any example of d. With augmentation
 * every example (partners too) is augmented as in epoch `epoch` (rl_augment_rows) before the rest.
 * The caller reduces e. The model runs in training mode (rl_workspace.train: batch norm
 * normalizes each chunk with its own statistics, dropout masks are keyed by (round, example
 * id)); with sum_stats, each chunk's batch-norm statistics times m / n (m its examples) are added
 * into e[n_grads + 1, n_grads + 1 + model->n_stats) (RL_FIXED_FRAC_BITS;
 * rl_model_add_batch_stats): after the reduction, the means over the n examples for
 * rl_model_update_stats. */
typedef struct {
    const train_loss *loss;
    const rl_attack *adv; /* adversarial training (NULL: none) */
    const double *weights;
    double weight_scale;
    float scale;
    uint32_t round;
    float mix_lambda;           /* mixup: λ, the share of each example's own input and label */
    const int64_t *mix_partner; /* mixup: (n) the partner of each example (NULL: no mixup) */
    const rl_augment *augment;  /* training examples augmented (NULL: none) */
    uint32_t epoch;             /* the epoch the augmentation is drawn for */
    int sum_stats;              /* sum the chunks' batch-norm statistics too (e is larger) */
} train_objective;
int train_chunks_gradient(train_chunks *c, const rl_dataset *d, const int64_t *idx, int64_t n,
                          const train_objective *o, const float *grads, size_t n_grads,
                          comm_exact *e);

/* The per-example losses ℓ_i (`loss`, unweighted) of this rank's chunks of idx[0..n), the
 * chunks of train_chunks_gradient, on the examples as augmentation `augment` (NULL: none) makes
 * them in epoch `epoch`: positions [*first, *first + count) of idx into losses[0..count);
 * returns count. */
int64_t train_chunks_losses(train_chunks *c, const rl_dataset *d, const int64_t *idx, int64_t n,
                            const train_loss *loss, const rl_augment *augment, uint32_t epoch,
                            float *losses, int64_t *first);
/* After the reduction of step `step`'s gradient sum: an error with a hint when some loss or
 * gradient value could not be summed exactly (NaN, or beyond the fixed point's range): the
 * training diverged. Every rank agrees (the count is part of the reduction). */
int train_check_summed(const comm_exact *e, int64_t step);

/* Collective: mean loss (cross-entropy, or MSE for regression; NAN when a loss is not finite or
 * too large to sum) and accuracy (NAN for regression) on the first `limit` examples of d (0:
 * all), in RL_ROW_CHUNK chunks. */
int train_evaluate(train_chunks *c, const rl_dataset *d, int64_t limit, double *loss,
                   double *acc);
/* Collective: accuracy on the first `limit` examples of d (0: all) before and after attack a
 * (random starts keyed by `round`). */
int train_robust_accuracy(train_chunks *c, const rl_dataset *d, const rl_attack *a,
                          int64_t limit, uint32_t round, double *clean_acc, double *robust_acc);

#endif
