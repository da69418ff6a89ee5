/* Co-teaching (Han et al. 2018): two networks with different initializations train side by
 * side. On every batch each network ranks the batch by its own per-example loss, and the OTHER
 * network trains on the keep = ⌊(1 − f)·B⌋ examples with the smallest losses (at least one),
 * f = τ·min(e / T_k, 1) the forget rate of epoch e (0-based): no example is forgotten in the
 * first epoch, τ from epoch T_k on.
 *
 * Exact and independent of the rank count: each rank computes the losses of its chunks of the
 * batch (train.chunk, the chunks of the gradient, so the same values on any rank count); the
 * keep smallest (loss, example id) pairs are selected over ranks by comm_select_smallest, ties
 * broken by id (a NaN loss ranks last); each network then takes a dp_step with example weights
 * 1 on its selected examples and 0 elsewhere, so its loss is the mean over them (Σ_B w = keep).
 *
 * Keys (coteach_declare_config): coteach.forget_rate (τ; -1, the default, is the expected
 * fraction of wrong labels of data.noise at data.noise_rate) and coteach.forget_epochs (T_k).
 *
 *     coteach co;
 *     coteach_init(&co, &t, cfg, seed);        // t->weights now co's selection
 *     coteach_step(&co, &t, step);             // both networks, instead of dp_step
 *     coteach_epoch_end(run, &co, epoch);      // sets the COTEACH_METRICS of the epoch's row
 *     coteach_free(&co);
 */
#ifndef RANKLAB_TRAIN_COTEACH_H
#define RANKLAB_TRAIN_COTEACH_H

#include "kernels/select.h"
#include "src/train/dp.h"

#include <stdint.h>

/* The metrics coteach_epoch_end sets: the epoch's forget rate, the fraction of clean labels
 * among the examples selected (for both networks; Han et al.'s label precision), and the second
 * network's training loss, test loss and test accuracy. */
#define COTEACH_METRICS                                                                            \
    "forget_rate", "label_precision", "peer_train_loss", "peer_test_loss", "peer_test_acc"

typedef struct {
    dp_trainer peer;          /* the second network, on the first one's data */
    double forget_rate;       /* τ */
    int64_t forget_epochs;    /* T_k */
    double *selected[2];      /* (n) 1 where network k trains on the example this step, else 0 */
    float *losses;            /* (batch) this rank's per-example losses */
    kern_pair *mine, *chosen; /* (batch) this rank's (loss, id) pairs, the selected ones */
    int64_t kept, kept_clean; /* this epoch: examples selected (for both networks) and how many
                               * of them carry their clean label */
} coteach;

/* The forget rate of epoch `epoch` (0-based): τ·min(epoch / forget_epochs, 1) (τ when
 * forget_epochs is 0). */
double coteach_forget_rate(double tau, int64_t forget_epochs, int64_t epoch);
/* How many of a batch of `batch` examples each network trains on: ⌊(1 − f)·batch⌋, at least 1. */
int64_t coteach_keep(int batch, double forget_rate);
/* Collective: the keep smallest of the (losses[i], ids[i]) pairs of every rank (n on this one;
 * ids unique over ranks) in (loss, id) order — NaN as +∞ — into chosen (keep), the same on every
 * rank, and selected[id] = 1 for each of them. mine: scratch (n). */
int coteach_select(const float *losses, const int64_t *ids, int64_t n, int64_t keep,
                   kern_pair *mine, kern_pair *chosen, double *selected);

void coteach_declare_config(rl_config *cfg);
/* τ and T_k from cfg, the second network (parameters from a seed drawn for it from `seed`), the
 * selection arrays; t->weights and the peer's point at them. Refuses what co-teaching does not
 * combine with (train.mixup, adv.train, init.from). Errors have hints. */
int coteach_init(coteach *c, dp_trainer *t, const rl_config *cfg, uint64_t seed);
void coteach_free(coteach *c); /* NULL-safe */
/* Collective: step `step` of both networks on each other's small-loss examples. */
int coteach_step(coteach *c, dp_trainer *t, int64_t step);

/* Collective, after the last step of `epoch`: sets the COTEACH_METRICS of its row (resets the
 * epoch's counts). */
int coteach_epoch_end(rl_run *run, coteach *c, int64_t epoch);
/* Collective: the second network and the epoch's counts into a checkpoint (under "coteach/"),
 * and back. */
int coteach_save(const coteach *c, io_ckpt *ck);
int coteach_load(coteach *c, io_ckpt *ck);

#endif
