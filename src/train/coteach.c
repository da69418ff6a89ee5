/* Co-teaching: the forget-rate schedule, the exact small-loss selection over ranks, and the step
 * of both networks on each other's selection (see coteach.h). */
#include "src/train/coteach.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const rl_cfg_spec coteach_keys[] = {
    {"coteach.forget_rate", RL_CFG_FLOAT, "-1", -1, 0.99, NULL, 0,
     "co-teaching's τ: the fraction of each batch a network forgets from epoch "
     "coteach.forget_epochs on (-1: the expected fraction of wrong labels, data.noise_rate, "
     "times (C − 1)/C for uniform noise)"},
    {"coteach.forget_epochs", RL_CFG_INT, "10", 0, 100000, NULL, 0,
     "co-teaching's T_k: the forget rate grows linearly from 0 in the first epoch to τ at epoch "
     "T_k (0-based)"},
};

void coteach_declare_config(rl_config *cfg) {
    rl_cfg_declare(cfg, coteach_keys, sizeof coteach_keys / sizeof coteach_keys[0]);
}

double coteach_forget_rate(double tau, int64_t forget_epochs, int64_t epoch) {
    return epoch >= forget_epochs ? tau : tau * (double)epoch / (double)forget_epochs;
}

int64_t coteach_keep(int batch, double forget_rate) {
    int64_t keep = (int64_t)floor((1.0 - forget_rate) * (double)batch);
    return keep > 0 ? keep : 1;
}

int coteach_select(const float *losses, const int64_t *ids, int64_t n, int64_t keep,
                   kern_pair *mine, kern_pair *chosen, double *selected) {
    for (int64_t i = 0; i < n; i++) {
        mine[i].key = isnan(losses[i]) ? (double)INFINITY : (double)losses[i];
        mine[i].id = ids[i];
    }
    if (comm_select_smallest(mine, n, keep, chosen) < 0)
        return RL_ERR;
    for (int64_t j = 0; j < keep; j++)
        selected[chosen[j].id] = 1.0;
    return 0;
}

/* coteach.forget_rate, or (-1) the expected fraction of wrong labels. */
static int read_forget_rate(const rl_config *cfg, int classes, double *tau) {
    *tau = rl_cfg_float(cfg, "coteach.forget_rate");
    const char *noise = rl_cfg_str(cfg, "data.noise");
    if (*tau == -1.0) {
        *tau = strcmp(noise, "none") == 0 ? 0.0 : rl_cfg_float(cfg, "data.noise_rate");
        if (strcmp(noise, "uniform") == 0)
            *tau *= (double)(classes - 1) / classes;
    } else if (*tau < 0.0) {
        return rl_fail("coteach.forget_rate=%g is not a fraction of a batch",
                       "give τ in [0, 1), or -1 for the expected fraction of wrong labels", *tau);
    }
    return 0;
}

int coteach_init(coteach *c, dp_trainer *t, const rl_config *cfg, uint64_t seed) {
    memset(c, 0, sizeof *c);
    c->forget_epochs = rl_cfg_int(cfg, "coteach.forget_epochs");
    if (read_forget_rate(cfg, t->train.classes, &c->forget_rate) < 0)
        return RL_ERR;
    const char *conflict = t->mixup.alpha > 0.0                   ? "train.mixup"
                           : t->adv.eps > 0.0f                    ? "adv.train"
                           : rl_cfg_str(cfg, "init.from")[0] != 0 ? "init.from"
                                                                  : NULL;
    if (conflict) {
        rl_fail("co-teaching with %s is not implemented (it ranks plain examples by the losses "
                "of two differently initialized networks)",
                NULL, conflict);
        return rl_fail_hint("drop %s, or train without co-teaching", conflict);
    }
    uint32_t w[4];
    rl_rng_block(rl_rng_make(seed, RL_RNG_PEER_INIT), 0, 0, 0, w);
    if (dp_trainer_init_peer(&c->peer, t, cfg, seed, (uint64_t)w[0] << 32 | w[1]) < 0)
        return RL_ERR;
    c->peer.loss = t->loss;
    size_t n = (size_t)t->train.n, batch = (size_t)t->batches.batch;
    if (rl_mem_check(rl_size_add(rl_size_mul(n, 2 * sizeof(double)),
                                 rl_size_mul(batch, sizeof(float) + 2 * sizeof(kern_pair))),
                     "co-teaching's selection of %zu examples", n) < 0)
        return rl_fail_hint("use data.train_limit to train on fewer examples");
    c->selected[0] = rl_xcalloc(n, sizeof(double));
    c->selected[1] = rl_xcalloc(n, sizeof(double));
    c->losses = rl_xmalloc(sizeof(float) * batch);
    c->mine = rl_xmalloc(sizeof(kern_pair) * batch);
    c->chosen = rl_xmalloc(sizeof(kern_pair) * batch);
    t->weights = c->selected[0];
    c->peer.weights = c->selected[1];
    return 0;
}

void coteach_free(coteach *c) {
    if (!c)
        return;
    dp_trainer_free(&c->peer);
    free(c->selected[0]);
    free(c->selected[1]);
    free(c->losses);
    free(c->mine);
    free(c->chosen);
    memset(c, 0, sizeof *c);
}

int coteach_step(coteach *c, dp_trainer *t, int64_t step) {
    const int64_t *batch;
    int bsz = train_batches_at(&t->batches, step, &batch);
    int64_t epoch = step / t->batches.per_epoch;
    double forget = coteach_forget_rate(c->forget_rate, c->forget_epochs, epoch);
    int64_t keep = coteach_keep(bsz, forget);
    dp_trainer *nets[2] = {t, &c->peer};
    for (int k = 0; k < 2; k++) {
        /* the losses of the examples dp_step trains on: augmented alike */
        int64_t first,
            n = train_chunks_losses(&nets[k]->chunks, &t->train, batch, bsz, &nets[k]->loss,
                                    &nets[k]->augment, (uint32_t)epoch, c->losses, &first);
        /* network k's small-loss examples train the other one */
        if (coteach_select(c->losses, batch + first, n, keep, c->mine, c->chosen,
                           c->selected[1 - k]) < 0)
            return RL_ERR;
        for (int64_t j = 0; j < keep; j++) {
            int64_t id = c->chosen[j].id;
            c->kept_clean += t->train.y[id] == t->train.y_clean[id];
        }
        c->kept += keep;
    }
    int rc = dp_step(t, step);
    rc = rc ? rc : dp_step(&c->peer, step);
    for (int i = 0; i < bsz; i++)
        c->selected[0][batch[i]] = c->selected[1][batch[i]] = 0.0;
    return rc;
}

int coteach_epoch_end(rl_run *run, coteach *c, int64_t epoch) {
    double train_loss, test_loss, test_acc;
    if (dp_epoch_summary(&c->peer, &train_loss, &test_loss, &test_acc) < 0)
        return RL_ERR;
    rl_run_set(run, "forget_rate", coteach_forget_rate(c->forget_rate, c->forget_epochs, epoch));
    rl_run_set(run, "label_precision", c->kept > 0 ? (double)c->kept_clean / (double)c->kept : NAN);
    rl_run_set(run, "peer_train_loss", train_loss);
    rl_run_set(run, "peer_test_loss", test_loss);
    rl_run_set(run, "peer_test_acc", test_acc);
    c->kept = c->kept_clean = 0;
    return 0;
}

int coteach_save(const coteach *c, io_ckpt *ck) {
    int64_t counts[2] = {c->kept, c->kept_clean};
    int rc = dp_trainer_save(&c->peer, ck, "coteach/");
    return rc ? rc
              : io_ckpt_write(ck, "coteach/counts", IO_I64, 2, 0, comm_rank() == 0 ? 2 : 0, counts);
}

int coteach_load(coteach *c, io_ckpt *ck) {
    int64_t counts[2];
    if (io_ckpt_size(ck, "coteach/counts") != 2)
        return rl_fail("the checkpoint holds no second network",
                       "it was written by another mw.mode; delete the run directory");
    if (dp_trainer_load(&c->peer, ck, "coteach/") < 0 ||
        io_ckpt_read(ck, "coteach/counts", IO_I64, 0, 2, counts) < 0)
        return RL_ERR;
    c->kept = counts[0];
    c->kept_clean = counts[1];
    return 0;
}
