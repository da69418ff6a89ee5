/* Data-parallel first-order training, shared by the experiments that train a model on a data
 * set split over ranks (train, mw-train, gor-train, prune-init).
 *
 * Each step takes the next batch of the epoch's order (⌈n/B⌉ batches, the last one shorter) and
 * cuts it into chunks of train.chunk examples; the ranks split the chunks and their gradients
 * are summed exactly (train_chunks_gradient, comm_exact), so parameters and metrics are
 * bit-identical for any rank count (they depend on train.chunk, not on the number of ranks).
 * Optional per-example weights w (replicated on every rank) make the batch loss self-normalized:
 * Σ_B w_i ℓ_i / Σ_B w_i, with Σ_B w_i summed by every rank in batch order before the backward.
 * The learning rate may step down at milestone epochs (train.lr_milestones, train.lr_gamma;
 * src/train/schedule.h); the loss may be smoothed (train.label_smoothing) and the batch mixed
 * (train.mixup, src/train/mixup.h) and the training images augmented (data.augment,
 * src/data/augment.h: drawn per epoch and example id; evaluations never augment). Optional: LoRA
 * adapters trained instead of the model (dp_use_adapters), a parameter-only regularizer whose terms
 * the ranks share (t->regularize), PGD adversarial training and FGSM/PGD evaluation (adv.* keys,
 * every data-parallel experiment).
 *
 * An experiment supplies hooks and calls dp_run:
 *
 *     static const char *const names[] = {DP_METRICS, "my_metric"};
 *     static const dp_hooks hooks = {.epoch_end = my_epoch_end};   // sets "my_metric"
 *     return dp_run(run, names, 5, &hooks);
 *
 * dp_run loads data and model (every input error before anything is written), starts or resumes
 * the run and drives rl_run_loop over the steps. After each epoch's last step it sets the
 * DP_METRICS of the epoch's row (epoch, train_loss, test_loss, test_acc), calls epoch_end (which
 * sets the experiment's own metrics) and records the row; after the last step, finish (default
 * dp_write_final) stages the finals.
 */
#ifndef RANKLAB_TRAIN_DP_H
#define RANKLAB_TRAIN_DP_H

#include "src/comm/comm.h"
#include "src/core/rng.h"
#include "src/data/augment.h"
#include "src/data/data.h"
#include "src/nn/attack.h"
#include "src/nn/lora.h"
#include "src/nn/nn.h"
#include "src/run/run.h"
#include "src/train/chunks.h"
#include "src/train/mixup.h"
#include "src/train/schedule.h"

#include <stdint.h>

/* The metrics dp_run sets in every row: the experiment's names start with these. */
#define DP_METRICS "epoch", "train_loss", "test_loss", "test_acc"

/* Rounds of random starts of attacks: a training step attacks with round = its step number;
 * the evaluation and the loss pass of an epoch (mw-train) use rounds counted down from the
 * top. */
#define DP_ATTACK_ROUND_EVAL UINT32_MAX
#define DP_ATTACK_ROUND_PASS(epoch) (UINT32_MAX - 1u - (uint32_t)(epoch))

typedef struct dp_trainer dp_trainer;
struct dp_trainer {
    rl_dataset train, test;
    int shares_data; /* train and test belong to another trainer (dp_trainer_init_peer) */
    rl_model model;
    train_chunks chunks;    /* buffers and workspace of chunks of train.chunk examples */
    train_loss loss;        /* default: CE (labelled data) or MSE (regression) */
    rl_attack adv;          /* adversarial training: each chunk is attacked with the current
                             * model before its step (eps 0: off) */
    rl_optimizer opt;
    train_schedule lr;      /* the learning rate of each epoch (train.lr_milestones) */
    train_mixup mixup;      /* mixup's draws per batch (train.mixup; alpha 0: off) */
    train_batches batches;  /* train.batch examples per step */
    rl_augment augment;     /* of the training steps' examples (data.augment; off: none) */
    int64_t total_steps;
    comm_exact sum;         /* (n_train + 1 + model.n_stats) a step's gradient, its loss, and
                             * its chunks' batch-norm statistics */
    float *stats_sum;       /* (model.n_stats) a step's batch-norm statistics, summed */
    float bn_momentum;      /* train.bn_momentum */
    int64_t epoch_loss;     /* fixed-point (RL_FIXED_SUM_FRAC_BITS) sum of the epoch's losses */
    const double *weights;  /* (train.n) per-example weights, replicated; NULL: uniform */
    const float *mask;      /* (n_train) 0/1 multiplied into the trained values after every
                             * step (pruned weights stay 0); NULL: none */
    rl_attack eval_attack;  /* PGD evaluation after training (FGSM with the same ε too; eps 0:
                             * off) */
    int64_t attack_limit;   /* attack the first N test examples (0: all) */
    rl_lora *lora;          /* adapters trained instead of the model (NULL: the model) */
    size_t n_train;         /* values trained: model.n_params, or lora->n_params */
    float *theta, *theta_grads; /* (n_train) the values trained and their gradient */
    /* Parameter-only regularizer (NULL: none), called by every rank once per step: ADDS this
     * rank's share of ∂R/∂θ into grads (n_train), e.g. the terms of a penalty the rank owns. The
     * shares are summed exactly over ranks with the data gradient, so R's terms may be split
     * over ranks in any way that gives each term to exactly one rank. */
    void (*regularize)(const dp_trainer *t, float *grads, void *ctx);
    void *reg_ctx;
};

typedef struct {
    void *ctx; /* passed to every hook */
    /* After the data and model are loaded, before anything is written: read the experiment's
     * keys, set t->loss and t->weights, allocate. Errors (with hints) stop the run cleanly. */
    int (*prepare)(rl_run *run, dp_trainer *t, void *ctx);
    /* Collective: replaces dp_step (NULL: dp_step), e.g. to train a second network too. */
    int (*step)(dp_trainer *t, int64_t step, void *ctx);
    /* Collective, after the last step of `epoch` (0-based): set the experiment's metrics of the
     * epoch's row (rl_run_set); dp_run records it. */
    int (*epoch_end)(rl_run *run, dp_trainer *t, int64_t epoch, void *ctx);
    /* Collective: extra checkpoint content, and reading it back when resuming before step
     * `next`. */
    int (*save)(dp_trainer *t, io_ckpt *c, void *ctx);
    int (*load)(dp_trainer *t, io_ckpt *c, int64_t next, void *ctx);
    /* Collective, after the last step: stage the finals (rl_run_final*); NULL: dp_write_final. */
    int (*finish)(rl_run *run, dp_trainer *t, void *ctx);
} dp_hooks;

/* Keys of every data-parallel experiment: common, data.* (data.augment too), model.spec, train.*,
 * init.from, adv.*. */
void dp_declare_config(rl_config *cfg);
/* rl_experiment.check of the data-parallel experiments: model.spec parses and fits in memory. */
int dp_check_config(const rl_config *cfg);
/* The whole run (see above); 0, 1 (already complete), RL_STOPPED or RL_ERR. */
int dp_run(rl_run *run, const char *const *metric_names, int n_metrics, const dp_hooks *hooks);

/* Load data and model, make the optimizer and buffers, read the attack settings from cfg (the
 * keys of dp_declare_config); t->weights, t->loss, t->mask stay default. Errors have hints;
 * dp_trainer_free either way. */
int dp_trainer_init(dp_trainer *t, const rl_config *cfg, uint64_t seed);
/* Train LoRA adapters of rank `rank` on every dense and conv layer instead of the model, whose
 * current parameters (e.g. from init.from) stay frozen as the base; A drawn from seed. Call from
 * a prepare hook. Checkpoints then hold the adapters; /arrays/params the adapted model. */
int dp_use_adapters(dp_trainer *t, int rank, uint64_t seed);
/* A second trainer on t's data (shared, not copied: t's data must outlive the peer's use, and
 * freeing the peer leaves it): the same config, data order (seed) and options, its model's
 * parameters drawn from init_seed instead (init.from is not read). */
int dp_trainer_init_peer(dp_trainer *peer, const dp_trainer *t, const rl_config *cfg, uint64_t seed,
                         uint64_t init_seed);
void dp_trainer_free(dp_trainer *t);
/* Collective: one optimizer step on the batch of step `step` (train_batches_at), at the
 * learning rate of its epoch (t->lr): the exact gradient of its chunks (train_chunks_gradient)
 * and of the regularizer; adds the batch's loss to t->epoch_loss. */
int dp_step(dp_trainer *t, int64_t step);
/* Collective: test loss (mean cross-entropy, or MSE for regression) and accuracy. */
int dp_evaluate(dp_trainer *t, double *loss, double *acc);
/* Collective, after an epoch's last step: its mean training loss (the sum of its batches'
 * objectives over the examples; resets the sum), and dp_evaluate. */
int dp_epoch_summary(dp_trainer *t, double *train_loss, double *test_loss, double *test_acc);
/* Collective: the values trained, batch norms' running averages, the optimizer state and the
 * step counters into a checkpoint, named "model/params", "model/stats", "optim/m", ... after
 * `prefix` ("" for the run's trainer); and back. */
int dp_trainer_save(const dp_trainer *t, io_ckpt *c, const char *prefix);
/* The same for any trained values: theta (n_values), the optimizer's state and step count, and
 * a running fixed-point loss sum (dp_trainer_save is this with the trainer's). */
int dp_state_save(io_ckpt *c, const char *prefix, const float *theta, const rl_optimizer *opt,
                  size_t n_values, int64_t epoch_loss);
int dp_state_load(io_ckpt *c, const char *prefix, float *theta, rl_optimizer *opt, size_t n_values,
                  int64_t *epoch_loss);
int dp_trainer_load(dp_trainer *t, io_ckpt *c, const char *prefix);
/* Collective: finals train_loss, test_loss, test_acc (of the last row), steps, and
 * /arrays/params (usable with init.from; with batch norm, its running averages in
 * /arrays/bn_stats), and with adv.eps > 0 attack_clean_acc, fgsm_acc and
 * pgd_acc on the first adv.limit test examples; logs a summary. A dp_hooks.finish. */
int dp_write_final(rl_run *run, dp_trainer *t, void *ctx);

#endif
