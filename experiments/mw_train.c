/* Experiment `mw-train`: data-parallel training with multiplicative reweighting of examples (MW,
 * METHODS.md §2) and the noisy-label baselines it is compared with (uniform cross-entropy, GCE,
 * MW on GCE, ELR, Co-teaching; label smoothing and mixup are train.* options of every mode that
 * allows them), with per-epoch diagnostics of how the weights treat noisy examples; optional
 * FGSM/PGD robust accuracy after training and PGD adversarial training (adv.eps,
 * adv.train, shared by the data-parallel experiments; with MW the loss pass then measures
 * adversarial losses).
 *
 * Ownership: the training set is cut into chunks of RL_ROW_CHUNK examples and the chunks are
 * split over ranks by blocks (train_chunk_range); each rank owns the examples of its chunks: their
 * cumulative losses L_i, their ELR targets, and computing their weights. After each epoch:
 *   1. loss pass: each rank computes ℓ_i (the mode's loss, without the ELR term) of its examples;
 *   2. L_i += ℓ_i; p_i = exp(−η L_i − M) / S with M = max over ranks of −η L_j (exact) and
 *      S = Σ_j exp(−η L_j − M) summed in fixed point over ranks (exact); η = mw.eta, times
 *      mw.eta_gamma after each of mw.eta_milestones;
 *   3. optional cap (mw.cap = c > 0): weights above c/N are set to c/N and the excess is spread
 *      over the uncapped weights in proportion to them, repeated until none exceeds c/N;
 *   4. the owned weights (and ELR targets) are replicated to every rank (allgather), so a rank
 *      can weight any example of the chunks it trains on; the batch loss is self-normalized,
 *      Σ_B p_i ℓ_i / Σ_B p_i (src/train/dp.c).
 * Everything is bit-identical on any rank count and after resume: the loss pass uses fixed chunk
 * boundaries, the weights are a function of L (recomputed from the checkpointed L on resume).
 * Co-teaching (src/train/coteach.c) replaces the step: a second network, and each network
 * trains on the other's small-loss examples; its state is checkpointed beside the first's.
 */
#include "kernels/kernels.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/train/coteach.h"
#include "src/train/dp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MW_CAP_ROUNDS 1000 /* cap rounds before giving up (each caps at least one more weight) */
/* Σ_i exp(…) <= N must fit the fixed point: N · 2^RL_FIXED_FRAC_BITS <= 2^62. */
#define MW_MAX_EXAMPLES (1 << (62 - RL_FIXED_FRAC_BITS))

extern const char rl_ini_mw_train[];

static const rl_cfg_spec mw_keys[] = {
    {"mw.mode", RL_CFG_CHOICE, "mw", 0, -1, "uniform|mw|gce|mw-gce|elr|coteaching", 0,
     "uniform: cross-entropy; mw: cross-entropy with MW weights; gce: generalized CE; mw-gce: "
     "GCE with MW weights; elr: cross-entropy + early-learning regularization; coteaching: two "
     "networks, each trained on the other's small-loss examples"},
    {"mw.eta", RL_CFG_FLOAT, "0.1", 0, 1000, NULL, 0,
     "MW rate η_p: p_i ∝ exp(−η_p·L_i), L_i = sum of example i's losses at the end of each "
     "epoch (scale with the loss range and the number of epochs)"},
    {"mw.eta_milestones", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "epochs (comma list, in [1, train.epochs]) after which η_p is multiplied by mw.eta_gamma "
     "once more, for the weights of that epoch's loss pass on (the authors' mr_milestones; "
     "empty: a constant η_p)"},
    {"mw.eta_gamma", RL_CFG_FLOAT, "1", 0, 1000, NULL, 0,
     "factor of η_p at each of mw.eta_milestones (the authors' gamma_mr, default 1)"},
    {"mw.cap", RL_CFG_FLOAT, "0", 0, 1e9, NULL, 0,
     "cap c on the weights: none above c/N, excess spread over the others (0: no cap; else >= 1)"},
    {"mw.gce_q", RL_CFG_FLOAT, "0.7", 0.01, 1, NULL, 0, "q of the generalized cross-entropy"},
    {"mw.elr_lambda", RL_CFG_FLOAT, "3", 0, 1000, NULL, 0, "λ of the ELR regularizer"},
    {"mw.elr_beta", RL_CFG_FLOAT, "0.7", 0, 0.9999, NULL, 0,
     "ELR target average: t_i = β·t_i + (1 − β)·prediction, once per epoch"},
    {"mw.save_epochs", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "epochs whose weights are also saved as /arrays/weights_epoch_E: comma list or 'all' (the "
     "final weights are always /arrays/weights)"},
};

static void mw_declare(rl_config *cfg) {
    dp_declare_config(cfg);
    coteach_declare_config(cfg);
    rl_cfg_declare(cfg, mw_keys, sizeof mw_keys / sizeof mw_keys[0]);
}

#define MW_METRICS                                                                                 \
    DP_METRICS, "pass_loss", "loss_clean", "loss_noisy", "noisy_weight", "weight_clean",           \
        "weight_noisy", "weight_max", "auc", "loss_auc", "noisy_fit"
static const char *const metric_names[] = {MW_METRICS};
static const char *const coteach_metric_names[] = {MW_METRICS, COTEACH_METRICS};

typedef enum { MODE_UNIFORM, MODE_MW, MODE_GCE, MODE_MW_GCE, MODE_ELR, MODE_COTEACHING } mw_mode;

typedef struct {
    mw_mode mode;
    int reweight; /* MW weights on (mw, mw-gce) */
    train_schedule eta; /* η_p of the weights used in each epoch */
    double cap;
    float elr_beta;
    int64_t n, lo, hi; /* training examples; this rank owns [lo, hi) */
    int classes;
    double *cum_loss;   /* (hi - lo) L_i of the owned examples */
    double *weights;    /* (n) p_i, replicated */
    float *pass_loss;   /* (n) this epoch's ℓ_i, replicated */
    float *elr_targets; /* (n, classes) ELR targets, replicated (ELR only) */
    float *probs;       /* (RL_ROW_CHUNK, classes) scratch */
    uint8_t *clean;     /* (n) 1 where the training label is the clean one */
    int64_t n_noisy;
    int n_save;           /* epochs whose weights are saved */
    int64_t *save_epochs; /* (n_save) 1-based, increasing */
    float **snapshots;    /* (n_save) owned slices (hi - lo), NULL until taken */
    coteach *coteach;     /* the second network and the selection (coteaching only) */
} mw_state;

static void mw_free(mw_state *s) {
    coteach_free(s->coteach);
    free(s->coteach);
    train_schedule_free(&s->eta);
    free(s->cum_loss);
    free(s->weights);
    free(s->pass_loss);
    free(s->elr_targets);
    free(s->probs);
    free(s->clean);
    for (int k = 0; s->snapshots && k < s->n_save; k++)
        free(s->snapshots[k]);
    free(s->snapshots);
    free(s->save_epochs);
}

/* mw.save_epochs: "" (none), "all", or a list of epochs (train_epoch_list). */
static int parse_save_epochs(mw_state *s, const rl_config *cfg, int64_t epochs) {
    int rc = 0;
    if (strcmp(rl_cfg_str(cfg, "mw.save_epochs"), "all") == 0) {
        s->n_save = (int)epochs;
        s->save_epochs = rl_xmalloc(sizeof(int64_t) * (size_t)epochs);
        for (int64_t e = 0; e < epochs; e++)
            s->save_epochs[e] = e + 1;
    } else {
        rc = train_epoch_list(cfg, "mw.save_epochs", epochs, &s->save_epochs, &s->n_save);
    }
    s->snapshots = rl_xcalloc((size_t)s->n_save + 1, sizeof(float *));
    return rc;
}

static mw_mode mode_of(const char *mode) {
    return strcmp(mode, "uniform") == 0  ? MODE_UNIFORM
           : strcmp(mode, "mw") == 0     ? MODE_MW
           : strcmp(mode, "gce") == 0    ? MODE_GCE
           : strcmp(mode, "mw-gce") == 0 ? MODE_MW_GCE
           : strcmp(mode, "elr") == 0    ? MODE_ELR
                                         : MODE_COTEACHING;
}

static int mw_prepare(rl_run *run, dp_trainer *t, void *ctx) {
    mw_state *s = ctx;
    const rl_config *cfg = rl_run_config(run);
    const char *mode = rl_cfg_str(cfg, "mw.mode");
    s->mode = mode_of(mode);
    s->reweight = s->mode == MODE_MW || s->mode == MODE_MW_GCE;
    s->cap = rl_cfg_float(cfg, "mw.cap");
    s->elr_beta = (float)rl_cfg_float(cfg, "mw.elr_beta");
    if (t->train.classes < 2)
        return rl_fail("mw-train needs a classification data set; data.name=%s has no classes",
                       "use data.name=fashion-mnist or data.name=blobs", t->train.name);
    if (t->train.n > MW_MAX_EXAMPLES)
        return rl_fail("mw-train normalizes the weights with an exact fixed-point sum that holds "
                       "at most %d examples; the training set has %lld",
                       "use data.train_limit to train on fewer examples", MW_MAX_EXAMPLES,
                       (long long)t->train.n);
    if (s->cap > 0 && s->cap < 1)
        return rl_fail("mw.cap=%g would hold every weight below the uniform 1/N",
                       "set mw.cap=0 (no cap) or a value >= 1, e.g. mw.cap=5", s->cap);
    if (s->cap > 0 && !s->reweight)
        return rl_fail("mw.cap=%g has no effect with mw.mode=%s",
                       "use mw.mode=mw or mw.mode=mw-gce, or set mw.cap=0", s->cap, mode);
    int cross_entropy = s->mode == MODE_UNIFORM || s->mode == MODE_MW || s->mode == MODE_COTEACHING;
    if (t->loss.label_smoothing > 0.0f && !cross_entropy)
        return rl_fail("train.label_smoothing=%g smooths cross-entropy; mw.mode=%s trains with "
                       "another loss",
                       "use mw.mode=uniform or mw.mode=mw, or set train.label_smoothing=0",
                       (double)t->loss.label_smoothing, mode);
    if (t->mixup.alpha > 0.0 && s->mode == MODE_ELR)
        return rl_fail("train.mixup=%g with mw.mode=elr: ELR's targets belong to single examples, "
                       "not to mixed ones",
                       "use another mw.mode, or set train.mixup=0", t->mixup.alpha);
    int64_t epochs = rl_cfg_int(cfg, "train.epochs");
    if (parse_save_epochs(s, cfg, epochs) < 0 ||
        train_schedule_read(&s->eta, cfg, "mw.eta", "mw.eta_milestones", "mw.eta_gamma", epochs) <
            0)
        return RL_ERR;
    s->n = t->train.n;
    s->classes = t->train.classes;
    comm_chunk_range(s->n, RL_ROW_CHUNK, &s->lo, &s->hi);
    /* per example: weights and the epoch's negated losses (double), pass_loss, clean, ELR
     * targets; per owned example: cum_loss (double), the saved weights and the final slices */
    uint64_t per_example = 2 * sizeof(double) + sizeof(float) + 1 +
                           (s->mode == MODE_ELR ? sizeof(float) * (uint64_t)s->classes : 0);
    uint64_t per_owned = sizeof(double) + sizeof(float) * ((uint64_t)s->n_save + 3);
    if (rl_mem_check(rl_size_add(rl_size_mul((uint64_t)s->n, per_example),
                                 rl_size_mul((uint64_t)(s->hi - s->lo + 1), per_owned)),
                     "mw-train's per-example state for %lld examples and %d saved epochs",
                     (long long)s->n, s->n_save) < 0)
        return rl_fail_hint("save fewer epochs (mw.save_epochs) or use data.train_limit");
    s->cum_loss = rl_xcalloc((size_t)(s->hi - s->lo) + 1, sizeof(double));
    s->weights = rl_xmalloc(sizeof(double) * (size_t)s->n);
    s->pass_loss = rl_xcalloc((size_t)s->n, sizeof(float));
    s->probs = rl_xmalloc(sizeof(float) * RL_ROW_CHUNK * (size_t)s->classes);
    s->clean = rl_xmalloc((size_t)s->n);
    for (int64_t i = 0; i < s->n; i++) {
        s->weights[i] = 1.0 / (double)s->n;
        s->clean[i] = t->train.y[i] == t->train.y_clean[i];
        s->n_noisy += !s->clean[i];
    }
    train_loss *loss = &t->loss;
    loss->kind = s->mode == MODE_GCE || s->mode == MODE_MW_GCE ? TRAIN_LOSS_GCE
                 : s->mode == MODE_ELR                         ? TRAIN_LOSS_ELR
                                                               : TRAIN_LOSS_CE;
    loss->gce_q = (float)rl_cfg_float(cfg, "mw.gce_q");
    loss->elr_lambda = (float)rl_cfg_float(cfg, "mw.elr_lambda");
    if (s->mode == MODE_ELR) {
        s->elr_targets = rl_xcalloc((size_t)s->n * (size_t)s->classes, sizeof(float));
        loss->elr_targets = s->elr_targets;
    }
    t->weights = s->reweight ? s->weights : NULL;
    if (s->mode != MODE_COTEACHING)
        return 0;
    s->coteach = rl_xcalloc(1, sizeof *s->coteach);
    return coteach_init(s->coteach, t, cfg, rl_run_seed(run));
}

/* Collective: weights of the owned examples from L at rate eta (log-sum-exp over ranks,
 * exact), the cap, then replicated to every rank. */
static int mw_update_weights(mw_state *s, double eta) {
    int64_t m = s->hi - s->lo;
    double *p = s->weights + s->lo; // (m) owned
    double top = -INFINITY;
    for (int64_t i = 0; i < m; i++)
        top = fmax(top, -eta * s->cum_loss[i]);
    if (comm_max_f64(&top, 1) < 0)
        return RL_ERR;
    comm_exact sum; /* Σ exp(…), then per cap round: weights above the cap, at or above it, and
                     * the mass below it */
    comm_exact_init(&sum, 3);
    for (int64_t i = 0; i < m; i++) {
        p[i] = exp(-eta * s->cum_loss[i] - top);
        float e = (float)p[i];
        comm_exact_add(&sum, 0, &e, 1, RL_FIXED_FRAC_BITS);
    }
    int rc = comm_exact_reduce(&sum);
    double total = comm_exact_value(&sum, 0, RL_FIXED_FRAC_BITS); /* >= 1: the top term is 1 */
    for (int64_t i = 0; rc == 0 && i < m; i++)
        p[i] /= total;
    double cap = s->cap / (double)s->n;
    for (int round = 0; rc == 0 && s->cap > 0; round++) {
        comm_exact_zero(&sum);
        for (int64_t i = 0; i < m; i++) {
            comm_exact_count(&sum, 0, p[i] > cap);
            comm_exact_count(&sum, 1, p[i] >= cap);
            if (p[i] < cap) {
                float v = (float)p[i];
                comm_exact_add(&sum, 2, &v, 1, RL_FIXED_FRAC_BITS);
            }
        }
        if ((rc = comm_exact_reduce(&sum)) < 0 || comm_exact_raw(&sum, 0) == 0 ||
            comm_exact_raw(&sum, 2) == 0)
            break;
        if (round == MW_CAP_ROUNDS) {
            rc = rl_fail("mw.cap: weights still above the cap after %d rounds",
                         "raise mw.cap or lower mw.eta", MW_CAP_ROUNDS);
            break;
        }
        double scale = (1.0 - (double)comm_exact_raw(&sum, 1) * cap) /
                       comm_exact_value(&sum, 2, RL_FIXED_FRAC_BITS);
        for (int64_t i = 0; i < m; i++)
            p[i] = p[i] >= cap ? cap : p[i] * scale;
    }
    comm_exact_free(&sum);
    if (rc < 0)
        return RL_ERR;
    return comm_allgather_blocks(s->weights, sizeof(double), s->lo, s->hi);
}

/* Collective: the loss pass over the owned examples after epoch `epoch`, L_i += ℓ_i, ELR
 * targets, the weights of epoch + 1 (η_p of that epoch, as the authors: η changes after the
 * milestone epoch, before its weights).
 * sums (3): Σℓ over clean and noisy examples (RL_FIXED_SUM_FRAC_BITS), and the number of noisy
 * examples the model fits to their noisy label. */
static int mw_loss_pass(mw_state *s, dp_trainer *t, int64_t epoch, comm_exact *sums) {
    train_chunks *c = &t->chunks;
    int64_t idx[RL_ROW_CHUNK];
    int C = s->classes;
    for (int64_t start = s->lo; start < s->hi; start += RL_ROW_CHUNK) {
        int n = (int)(start + RL_ROW_CHUNK <= s->hi ? RL_ROW_CHUNK : s->hi - start);
        for (int i = 0; i < n; i++)
            idx[i] = start + i;
        const float *out = train_chunks_forward(c, &t->train, idx, n); // (n, C)
        if (t->adv.eps > 0.0f) { /* adversarial training: the losses on PGD examples */
            rl_attack_inputs(&t->adv, &t->model, &c->ws, c->xb, c->yb, idx, n, c->attack_rng,
                             DP_ATTACK_ROUND_PASS(epoch), &c->attack);
            out = rl_model_forward(&t->model, &c->ws, c->xb, n);
        }
        float *loss = s->pass_loss + start; // (n)
        if (s->mode == MODE_GCE || s->mode == MODE_MW_GCE)
            rl_loss_gce(out, c->yb, NULL, n, C, t->loss.gce_q, 0.0f, NULL, loss);
        else
            rl_loss_softmax_ce(out, c->yb, NULL, n, C, 0.0f, NULL, loss);
        for (int i = 0; i < n; i++) {
            int64_t e = start + i;
            s->cum_loss[e - s->lo] += loss[i];
            comm_exact_add(sums, s->clean[e] ? 0 : 1, &loss[i], 1, RL_FIXED_SUM_FRAC_BITS);
            if (!s->clean[e])
                comm_exact_count(sums, 2, rl_count_correct(out + (size_t)i * C, c->yb + i, 1, C));
        }
        if (s->mode == MODE_ELR) {
            /* t_i = β t_i + (1 − β) p̂_i, p̂ = clamp(softmax, c, 1 − c) renormalized */
            rl_softmax(out, n, C, s->probs);
            for (int i = 0; i < n; i++) {
                float *p = s->probs + (size_t)i * C, total = 0.0f;
                float *target = s->elr_targets + (size_t)(start + i) * C;
                for (int j = 0; j < C; j++) {
                    p[j] = fminf(fmaxf(p[j], (float)RL_ELR_CLAMP), 1.0f - (float)RL_ELR_CLAMP);
                    total += p[j];
                }
                for (int j = 0; j < C; j++)
                    target[j] = s->elr_beta * target[j] + (1.0f - s->elr_beta) * (p[j] / total);
            }
        }
    }
    if (comm_exact_reduce(sums) < 0 ||
        comm_allgather_blocks(s->pass_loss, sizeof(float), s->lo, s->hi) < 0)
        return RL_ERR;
    if (s->mode == MODE_ELR &&
        comm_allgather_blocks(s->elr_targets, sizeof(float) * (size_t)C, s->lo, s->hi) < 0)
        return RL_ERR;
    return s->reweight ? mw_update_weights(s, train_schedule_at(&s->eta, epoch + 1)) : 0;
}

static int mw_epoch_end(rl_run *run, dp_trainer *t, int64_t epoch, void *ctx) {
    mw_state *s = ctx;
    comm_exact sums;
    comm_exact_init(&sums, 3);
    int rc = mw_loss_pass(s, t, epoch, &sums);
    float loss_sum[2];
    comm_exact_read(&sums, 0, loss_sum, 2, RL_FIXED_SUM_FRAC_BITS);
    int64_t noisy_fit = comm_exact_raw(&sums, 2);
    comm_exact_free(&sums);
    if (rc < 0)
        return RL_ERR;
    /* Replicated arrays: every rank computes the same sums in index order. */
    double w_clean = 0.0, w_noisy = 0.0, w_max = 0.0;
    double *neg_loss = rl_xmalloc(sizeof(double) * (size_t)s->n);
    for (int64_t i = 0; i < s->n; i++) {
        *(s->clean[i] ? &w_clean : &w_noisy) += s->weights[i];
        w_max = fmax(w_max, s->weights[i]);
        neg_loss[i] = -(double)s->pass_loss[i];
    }
    double n = (double)s->n, n_noisy = (double)s->n_noisy, n_clean = n - n_noisy;
    rl_run_set(run, "pass_loss", ((double)loss_sum[0] + (double)loss_sum[1]) / n);
    rl_run_set(run, "loss_clean", n_clean > 0 ? (double)loss_sum[0] / n_clean : NAN);
    rl_run_set(run, "loss_noisy", n_noisy > 0 ? (double)loss_sum[1] / n_noisy : NAN);
    rl_run_set(run, "noisy_weight", w_noisy);
    /* mean weight × N: 1 = uniform */
    rl_run_set(run, "weight_clean", n_clean > 0 ? w_clean * n / n_clean : NAN);
    rl_run_set(run, "weight_noisy", n_noisy > 0 ? w_noisy * n / n_noisy : NAN);
    rl_run_set(run, "weight_max", w_max * n);
    rl_run_set(run, "auc", rl_auc(s->weights, s->clean, s->n));
    rl_run_set(run, "loss_auc", rl_auc(neg_loss, s->clean, s->n));
    rl_run_set(run, "noisy_fit", n_noisy > 0 ? (double)noisy_fit / n_noisy : NAN);
    free(neg_loss);
    for (int k = 0; k < s->n_save; k++)
        if (s->save_epochs[k] == epoch + 1) {
            s->snapshots[k] = rl_xmalloc(sizeof(float) * (size_t)(s->hi - s->lo + 1));
            for (int64_t i = s->lo; i < s->hi; i++)
                s->snapshots[k][i - s->lo] = (float)s->weights[i];
        }
    return s->coteach ? coteach_epoch_end(run, s->coteach, epoch) : 0;
}

static int mw_coteach_step(dp_trainer *t, int64_t step, void *ctx) {
    mw_state *s = ctx;
    return coteach_step(s->coteach, t, step);
}

static void snapshot_name(char *name, size_t size, int64_t epoch) {
    snprintf(name, size, "weights_epoch_%04lld", (long long)epoch);
}

static int mw_save(dp_trainer *t, io_ckpt *c, void *ctx) {
    (void)t;
    mw_state *s = ctx;
    int64_t m = s->hi - s->lo;
    int rc = io_ckpt_write(c, "mw/cum_loss", IO_F64, s->n, s->lo, m, s->cum_loss);
    if (s->mode == MODE_ELR)
        rc = rc ? rc
                : io_ckpt_write(c, "mw/elr_targets", IO_F32, s->n * s->classes, s->lo * s->classes,
                                m * s->classes, s->elr_targets + s->lo * s->classes);
    char name[64];
    for (int k = 0; rc == 0 && k < s->n_save && s->snapshots[k]; k++) {
        snprintf(name, sizeof name, "mw/");
        snapshot_name(name + 3, sizeof name - 3, s->save_epochs[k]);
        rc = io_ckpt_write(c, name, IO_F32, s->n, s->lo, m, s->snapshots[k]);
    }
    return rc || !s->coteach ? rc : coteach_save(s->coteach, c);
}

static int mw_load(dp_trainer *t, io_ckpt *c, int64_t next, void *ctx) {
    mw_state *s = ctx;
    int64_t m = s->hi - s->lo;
    if (io_ckpt_size(c, "mw/cum_loss") != s->n)
        return rl_fail("the checkpoint holds no example losses for %lld examples",
                       "it was written by another experiment; delete the run directory",
                       (long long)s->n);
    int rc = io_ckpt_read(c, "mw/cum_loss", IO_F64, s->lo, m, s->cum_loss);
    if (s->mode == MODE_ELR)
        rc = rc ? rc
                : io_ckpt_read(c, "mw/elr_targets", IO_F32, s->lo * s->classes, m * s->classes,
                               s->elr_targets + s->lo * s->classes);
    char name[64];
    for (int k = 0; rc == 0 && k < s->n_save; k++) {
        snprintf(name, sizeof name, "mw/");
        snapshot_name(name + 3, sizeof name - 3, s->save_epochs[k]);
        if (io_ckpt_size(c, name) < 0)
            break;
        s->snapshots[k] = rl_xmalloc(sizeof(float) * (size_t)(m + 1));
        rc = io_ckpt_read(c, name, IO_F32, s->lo, m, s->snapshots[k]);
    }
    if (rc == 0 && s->coteach)
        rc = coteach_load(s->coteach, c);
    /* The weights are a function of L and of the epoch of step `next`; the ELR targets are
     * replicated like them. */
    if (comm_any_failed(rc < 0))
        return rc < 0 ? RL_ERR
                      : rl_fail("another rank could not read the checkpoint", "see its error");
    if (s->mode == MODE_ELR &&
        comm_allgather_blocks(s->elr_targets, sizeof(float) * s->classes, s->lo, s->hi) < 0)
        return RL_ERR;
    return s->reweight
               ? mw_update_weights(s, train_schedule_at(&s->eta, next / t->batches.per_epoch))
               : 0;
}

static int mw_finish(rl_run *run, dp_trainer *t, void *ctx) {
    mw_state *s = ctx;
    int rc = dp_write_final(run, t, NULL);
    if (rc == 0) {
        double best = -INFINITY;
        for (int64_t r = 0; r < rl_run_rows(run); r++)
            best = fmax(best, rl_run_value(run, r, "test_acc"));
        double noisy_weight = rl_run_last(run, "noisy_weight"), auc = rl_run_last(run, "auc");
        rc = rl_run_final(run, "best_test_acc", best);
        rc = rc ? rc : rl_run_final(run, "noisy_weight", noisy_weight);
        rc = rc ? rc : rl_run_final(run, "auc", auc);
        rc = rc ? rc : rl_run_final(run, "noise_fraction", (double)s->n_noisy / s->n);
        if (s->coteach)
            rc = rc ? rc : rl_run_final(run, "peer_test_acc", rl_run_last(run, "peer_test_acc"));
        if (rc == 0)
            rl_log_info("%s: best test accuracy %.2f %%, weight on noisy examples %.4f (%.1f %% "
                        "of the examples are noisy), weight AUC %.4f",
                        rl_run_name(run), 100.0 * best, noisy_weight, 100.0 * s->n_noisy / s->n,
                        auc);
    }
    if (comm_agree_error(rc) < 0)
        return RL_ERR;
    /* Owned slices, written collectively: final weights, L, noise mask, saved epochs. */
    int64_t m = s->hi - s->lo;
    int n_arrays = 3 + s->n_save;
    const char **names = rl_xcalloc((size_t)n_arrays, sizeof(char *));
    float **slices = rl_xcalloc((size_t)n_arrays, sizeof(float *));
    char(*snap_names)[32] = rl_xcalloc((size_t)s->n_save + 1, sizeof *snap_names);
    names[0] = "weights";
    names[1] = "cum_loss";
    names[2] = "noisy";
    for (int a = 0; a < 3; a++)
        slices[a] = rl_xmalloc(sizeof(float) * (size_t)(m + 1));
    for (int64_t i = 0; i < m; i++) {
        slices[0][i] = (float)s->weights[s->lo + i];
        slices[1][i] = (float)s->cum_loss[i];
        slices[2][i] = s->clean[s->lo + i] ? 0.0f : 1.0f;
    }
    for (int k = 0; k < s->n_save; k++) {
        snapshot_name(snap_names[k], sizeof snap_names[k], s->save_epochs[k]);
        names[3 + k] = snap_names[k];
        slices[3 + k] = s->snapshots[k];
    }
    rc = rl_run_final_slices(run, n_arrays, names, s->n, s->lo, m, (const float *const *)slices);
    for (int a = 0; a < 3; a++)
        free(slices[a]);
    free(slices);
    free(names);
    free(snap_names);
    return rc;
}

static int mw_run(rl_run *run) {
    mw_state s;
    memset(&s, 0, sizeof s);
    int coteaching = mode_of(rl_cfg_str(rl_run_config(run), "mw.mode")) == MODE_COTEACHING;
    dp_hooks hooks = {.ctx = &s,
                      .prepare = mw_prepare,
                      .step = coteaching ? mw_coteach_step : NULL,
                      .epoch_end = mw_epoch_end,
                      .save = mw_save,
                      .load = mw_load,
                      .finish = mw_finish};
    int rc = coteaching
                 ? dp_run(run, coteach_metric_names,
                          sizeof coteach_metric_names / sizeof coteach_metric_names[0], &hooks)
                 : dp_run(run, metric_names, sizeof metric_names / sizeof metric_names[0], &hooks);
    mw_free(&s);
    return rc;
}

static const rl_experiment rl_experiment_mw_train = {
    .name = "mw-train",
    .summary = "training with multiplicative reweighting of examples (MW) and noisy-label "
               "baselines",
    .doc = "Trains model.spec on data.name (with label noise data.noise at data.noise_rate) with\n"
           "mw.mode: uniform cross-entropy, mw (examples reweighted by p_i ∝ exp(−mw.eta·L_i),\n"
           "L_i the cumulative loss of example i over end-of-epoch loss passes, minibatch loss\n"
           "Σ p_i ℓ_i / Σ p_i), gce (generalized cross-entropy, mw.gce_q), mw-gce, elr\n"
           "(early-learning regularization) or coteaching (two networks, each trained on the\n"
           "other's small-loss examples, forget rate coteach.forget_rate reached at epoch\n"
           "coteach.forget_epochs). train.label_smoothing and train.mixup add the authors' label\n"
           "smoothing and mixup. Each rank owns a block of examples and their\n"
           "weights; normalization is an exact reduction over ranks, so results are\n"
           "bit-identical on any number of ranks. Metrics per epoch: train/test loss, test\n"
           "accuracy, loss pass mean, mean loss of clean and noisy examples, total weight on\n"
           "noisy examples, mean weight (×N) of clean and noisy examples, largest weight (×N),\n"
           "AUC of the weights and of the losses separating clean from noisy, fraction of noisy\n"
           "examples fitted; with coteaching also the forget rate, the fraction of clean labels\n"
           "among the selected examples and the second network's losses and accuracy.\n"
           "Arrays: weights, cum_loss, noisy, params, weights_epoch_E.\n"
           "adv.eps > 0: FGSM and PGD robust accuracy after training (finals fgsm_acc,\n"
           "pgd_acc); adv.train: PGD adversarial training (with mw.mode=mw the MW\n"
           "weights reweight the adversarial losses).\n"
           "See experiments/mw-train.md.",
    .default_ini = rl_ini_mw_train,
    .declare = mw_declare,
    .check = dp_check_config,
    .run = mw_run,
};

RL_EXPERIMENT(rl_experiment_mw_train)
