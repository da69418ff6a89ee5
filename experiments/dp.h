/* Data-parallel first-order training, shared by the experiments that train a model on a data
 * set split over ranks (`train`, `mw-train`).
 *
 * Each step takes the next batch of the epoch's order and cuts it into chunks of train.chunk
 * examples; the ranks split the chunks (block ownership). Each chunk's gradient is turned into
 * fixed point and summed exactly over chunks and ranks, so parameters and metrics are
 * bit-identical for any rank count (they depend on train.chunk, not on the number of ranks).
 * Optional per-example weights w (replicated on every rank) make the batch loss self-normalized:
 * Σ_B w_i ℓ_i / Σ_B w_i, with Σ_B w_i summed by every rank in batch order before the backward.
 * Optional: LoRA adapters trained instead of the model (dp_use_adapters), a parameter-only
 * regularizer whose terms the ranks share (t->regularize), PGD adversarial training and FGSM/PGD
 * evaluation (adv.* keys, every data-parallel experiment).
 *
 * An experiment supplies hooks and calls dp_run:
 *
 *     static const dp_hooks hooks = {.epoch_end = my_epoch_end, .finish = dp_write_final};
 *     return dp_run(run, metric_names, n_metrics, &hooks, ctx);
 *
 * dp_run loads data and model (every input error before anything is written), starts or resumes
 * the run, loops over steps (stop signals agreed on and checkpointed at step boundaries,
 * checkpoints every ckpt.every steps), calls epoch_end after each epoch's last step, finish after
 * the last, and completes the results. Metric rows start with DP_ROW_HEAD values (epoch,
 * train_loss, test_loss, test_acc), filled by dp_row_head.
 */
#ifndef RANKLAB_EXPERIMENTS_DP_H
#define RANKLAB_EXPERIMENTS_DP_H

#include "experiments/experiment.h"
#include "src/data/data.h"
#include "src/nn/lora.h"
#include "src/core/rng.h"
#include "src/nn/nn.h"

#include <stdint.h>

#define DP_EVAL_CHUNK 250 /* examples per evaluation chunk (fixed, so independent of P) */
#define DP_ROW_HEAD 4     /* epoch, train_loss, test_loss, test_acc */

typedef enum { DP_LOSS_CE, DP_LOSS_GCE, DP_LOSS_ELR } dp_loss_kind;

typedef struct {
    dp_loss_kind kind;        /* classification loss used for training (regression: MSE) */
    float gce_q;              /* DP_LOSS_GCE: q of rl_loss_gce */
    float elr_lambda;         /* DP_LOSS_ELR: λ of rl_loss_elr */
    const float *elr_targets; /* DP_LOSS_ELR: (train.n, classes), replicated on every rank */
} dp_loss;

/* An ℓ∞ attack on inputs in [0, 1] (pixels): `steps` steps of projected gradient ascent on the
 * cross-entropy of the true label, x ← clip(Π_ε(x + α·sign(∇_x ℓ)), 0, 1), from the clean x, or
 * with random_start from clip(x + U(−ε, ε)^d, 0, 1) (Madry et al.), the noise drawn from the
 * counter RNG keyed by (run seed, RL_RNG_ATTACK, round, example id), so the same on any rank.
 * FGSM is steps = 1, α = ε, no random start. eps = 0: off. */
typedef struct {
    float eps, alpha;
    int steps, random_start;
} dp_attack;

/* Rounds of random starts: a training step attacks with round = its step number; the
 * evaluation and the loss pass of an epoch (mw-train) use rounds counted down from the top. */
#define DP_ATTACK_ROUND_EVAL UINT32_MAX
#define DP_ATTACK_ROUND_PASS(epoch) (UINT32_MAX - 1u - (uint32_t)(epoch))

typedef struct dp_trainer dp_trainer;
struct dp_trainer {
    rl_dataset train, test;
    rl_model model;
    rl_workspace ws;
    rl_optimizer opt;
    int batch, chunk;
    int64_t batches_per_epoch, total_steps;
    dp_loss loss;           /* default: cross-entropy */
    const double *weights;  /* (train.n) per-example weights, replicated; NULL: uniform */
    const float *mask;      /* (n_params) 0/1 multiplied into the parameters after every step
                             * (pruned weights stay 0); NULL: none */
    dp_attack adv;          /* adversarial training: each chunk is attacked with the current
                             * model before its step (eps 0: off) */
    dp_attack eval_attack;  /* PGD evaluation after training (FGSM with the same ε too; eps 0:
                             * off) */
    int64_t attack_limit;   /* attack the first N test examples (0: all) */
    rl_rng attack_rng;      /* random starts (seed, RL_RNG_ATTACK) */
    rl_lora *lora;          /* adapters trained instead of the model (NULL: the model) */
    size_t n_train;         /* values trained: model.n_params, or lora->n_params */
    float *theta, *theta_grads; /* (n_train) the values trained and their gradient */
    /* Parameter-only regularizer (NULL: none), called by every rank once per step: ADDS this
     * rank's share of ∂R/∂θ into grads (n_train), e.g. the terms of a penalty the rank owns. The
     * shares are summed exactly over ranks with the data gradient, so R's terms may be split
     * over ranks in any way that gives each term to exactly one rank. */
    void (*regularize)(const dp_trainer *t, float *grads, void *ctx);
    void *reg_ctx;
    int64_t *order;         /* (train.n) this epoch's order */
    int64_t *acc;           /* (n_params + 1) fixed-point sums: gradient, then loss */
    int64_t epoch_loss;     /* fixed-point sum of this epoch's (weighted) example losses so far */
    float *xb, *d_out, *tb; /* (widest, dim), (widest, out_dim), (widest, targets + 1) */
    float *wb, *targets_b;  /* (widest), (widest, out_dim) */
    int32_t *yb;            /* (widest) */
    float *x0, *dx;         /* (widest, dim) clean inputs and input gradient of an attack */
};

typedef struct {
    void *ctx; /* passed to every hook */
    /* After the data and model are loaded, before anything is written: read the experiment's
     * keys, set t->loss and t->weights, allocate. Errors (with hints) stop the run cleanly. */
    int (*prepare)(rl_run *run, dp_trainer *t, void *ctx);
    /* Collective, after the last step of `epoch` (0-based); must rl_run_record one row. */
    int (*epoch_end)(rl_run *run, dp_trainer *t, int64_t epoch, void *ctx);
    /* Collective: extra checkpoint content, and reading it back when resuming. */
    int (*save)(dp_trainer *t, io_ckpt *c, void *ctx);
    int (*load)(dp_trainer *t, io_ckpt *c, void *ctx);
    /* Collective, after the last step: final scalars and arrays (rank 0 holds run->results). */
    int (*finish)(rl_run *run, dp_trainer *t, void *ctx);
} dp_hooks;

/* Keys of every data-parallel experiment: common, data.*, model.spec, train.*, init.from,
 * adv.*. */
void dp_declare_config(rl_config *cfg);
/* The whole run (see above); 0, RL_STOPPED or RL_ERR. */
int dp_run(rl_run *run, const char *const *metric_names, int n_metrics, const dp_hooks *hooks);

/* Load data and model, make the optimizer and buffers, read the attack settings from cfg (the
 * keys of dp_declare_config); t->weights, t->loss, t->mask stay default. Errors have hints;
 * dp_trainer_free either way. */
int dp_trainer_init(dp_trainer *t, const rl_config *cfg, uint64_t seed);
/* Train LoRA adapters of rank `rank` on every dense and conv layer instead of the model, whose
 * current parameters (e.g. from init.from) stay frozen as the base; A drawn from seed. Call from
 * a prepare hook. Checkpoints then hold the adapters; /arrays/params the adapted model. */
int dp_use_adapters(dp_trainer *t, int rank, uint64_t seed);
void dp_trainer_free(dp_trainer *t);
/* Collective: one optimizer step on batch step % batches_per_epoch of t->order (the chunked
 * fixed-point step above); adds the batch's loss to t->epoch_loss. */
int dp_step(dp_trainer *t, int64_t step);
/* This rank's examples [lo, hi) of n when they are cut into chunks of `chunk` examples and the
 * chunks are split over ranks by blocks. The chunk boundaries do not depend on the rank count. */
void dp_chunk_range(int64_t n, int chunk, int64_t *lo, int64_t *hi);
/* Gather examples idx[0..n) of d into the trainer's buffers and run the model; returns the
 * output (n, out_dim), owned by the workspace. n <= max(train.chunk, DP_EVAL_CHUNK). */
const float *dp_forward(dp_trainer *t, const rl_dataset *d, const int64_t *idx, int n);
/* Σ_i w_i ℓ_i of the training loss (t->loss) for the last dp_forward on the training set; w may
 * be NULL (all 1); d_out and per_example as in rl_loss_softmax_ce (may be NULL). */
double dp_train_loss(dp_trainer *t, const float *out, const int64_t *idx, int n, const float *w,
                     float scale, float *d_out, float *per_example);
/* Replace the n inputs in t->xb (labels t->yb; example ids idx, for the random start of `round`)
 * by adversarial examples of the current model (a->eps > 0); uses the workspace, leaves the
 * parameter gradients alone. */
void dp_attack_inputs(dp_trainer *t, const dp_attack *a, const int64_t *idx, int n,
                      uint32_t round);
/* Collective: accuracy on the first `limit` test examples (0: all) before and after the attack a,
 * split over ranks by fixed chunks (rank-count independent). */
int dp_robust_accuracy(dp_trainer *t, const dp_attack *a, int64_t limit, double *clean_acc,
                       double *robust_acc);
/* Collective: test loss (mean cross-entropy, or MSE for regression) and accuracy. */
int dp_evaluate(dp_trainer *t, double *loss, double *acc);
/* Collective: row[0..DP_ROW_HEAD) = epoch + 1, the epoch's mean training loss (which it resets),
 * test loss and test accuracy. */
int dp_row_head(dp_trainer *t, int64_t epoch, double *row);
/* Collective: finals train_loss, test_loss, test_acc (from the last row), steps, and
 * /arrays/params (usable with init.from), and with adv.eps > 0 attack_clean_acc, fgsm_acc and
 * pgd_acc on the first adv.limit test examples; logs a summary. A dp_hooks.finish. */
int dp_write_final(rl_run *run, dp_trainer *t, void *ctx);

#endif
