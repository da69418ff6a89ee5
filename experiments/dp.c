/* Data-parallel first-order training shared by experiments: trainer setup, the exact step over
 * chunks with optional per-example weights, evaluation, checkpoints of model + optimizer, and
 * the step loop (see dp.h). */
#include "experiments/dp.h"
#include "experiments/base_model.h"
#include "kernels/kernels.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rl_cfg_spec dp_keys[] = {
    {"model.spec", RL_CFG_STRING, "mlp:784-256-256-10", 0, -1, NULL, 0,
     "model: mlp:IN-HIDDEN...-OUT (dense layers, relu between them) or "
     "cnn:CxHxW-LAYER-... with layers convCkK, gnG, relu, maxpoolS, avgpoolS, fcN, e.g. "
     "cnn:1x28x28-conv8k5-relu-maxpool2-conv16k5-relu-maxpool2-fc10 (src/nn/nn.h)"},
    {"train.epochs", RL_CFG_INT, "10", 1, 100000, NULL, 0, "passes over the training set"},
    {"train.batch", RL_CFG_INT, "128", 1, 1000000, NULL, 0, "examples per optimizer step"},
    {"train.lr", RL_CFG_FLOAT, "0.001", 0, 100, NULL, 0, "learning rate"},
    {"train.optim", RL_CFG_CHOICE, "adam", 0, -1, "adam|sgd", 0, "optimizer"},
    {"train.momentum", RL_CFG_FLOAT, "0.9", 0, 1, NULL, 0, "SGD momentum"},
    {"train.weight_decay", RL_CFG_FLOAT, "0", 0, 1, NULL, 0,
     "L2 weight decay added to the gradient"},
    {"train.chunk", RL_CFG_INT, "32", 1, 1000000, NULL, 0,
     "examples per gradient chunk, the unit of work split over ranks (results depend on it, "
     "not on the rank count)"},
    {"init.from", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "start from the model saved by a finished train run (its run directory); empty: random"},
    {"adv.eps", RL_CFG_FLOAT, "0", 0, 1, NULL, 0,
     "ℓ∞ radius of the FGSM and PGD evaluation after training, pixels in [0, 1] (0: off; "
     "Fashion-MNIST only)"},
    {"adv.pgd_steps", RL_CFG_INT, "10", 1, 10000, NULL, 0,
     "PGD steps (evaluation and adversarial training)"},
    {"adv.pgd_alpha", RL_CFG_FLOAT, "0", 0, 1, NULL, 0,
     "PGD step size (0: 2.5·ε / adv.pgd_steps)"},
    {"adv.random_start", RL_CFG_BOOL, "false", 0, -1, NULL, 0,
     "PGD starts from a uniform random point of the ε-ball (Madry et al.; drawn from the counter "
     "RNG by example id, so the same on any rank); false: from the clean image"},
    {"adv.limit", RL_CFG_INT, "0", 0, 2147483647, NULL, 0,
     "attack the first N test examples (0: all)"},
    {"adv.train", RL_CFG_BOOL, "false", 0, -1, NULL, 0,
     "PGD adversarial training: every chunk is replaced by PGD examples of radius adv.eps "
     "made with the current model before its step"},
};

void dp_declare_config(rl_config *cfg) {
    rl_declare_common_config(cfg);
    rl_data_declare_config(cfg);
    rl_cfg_declare(cfg, dp_keys, sizeof dp_keys / sizeof dp_keys[0]);
}

void dp_trainer_free(dp_trainer *t) {
    if (!t)
        return;
    rl_data_free(&t->train);
    rl_data_free(&t->test);
    rl_model_free(&t->model);
    rl_workspace_free(&t->ws);
    rl_opt_free(&t->opt);
    rl_lora_free(t->lora);
    free(t->lora);
    free(t->order);
    free(t->acc);
    free(t->xb);
    free(t->d_out);
    free(t->tb);
    free(t->wb);
    free(t->targets_b);
    free(t->yb);
    free(t->x0);
    free(t->dx);
}

void dp_chunk_range(int64_t n, int chunk, int64_t *lo, int64_t *hi) {
    int64_t c_lo, c_hi;
    comm_block_range((n + chunk - 1) / chunk, comm_size(), comm_rank(), &c_lo, &c_hi);
    *lo = c_lo * chunk < n ? c_lo * chunk : n;
    *hi = c_hi * chunk < n ? c_hi * chunk : n;
}

const float *dp_forward(dp_trainer *t, const rl_dataset *d, const int64_t *idx, int n) {
    rl_data_gather(d, idx, n, t->xb, t->yb, t->tb);
    return rl_model_forward(&t->model, &t->ws, t->xb, n);
}

double dp_train_loss(dp_trainer *t, const float *out, const int64_t *idx, int n, const float *w,
                     float scale, float *d_out, float *per_example) {
    int classes = t->train.classes;
    if (classes == 0)
        return rl_loss_mse(out, t->tb, w, n, t->train.targets, scale, d_out, per_example);
    switch (t->loss.kind) {
    case DP_LOSS_GCE:
        return rl_loss_gce(out, t->yb, w, n, classes, t->loss.gce_q, scale, d_out, per_example);
    case DP_LOSS_ELR:
        for (int i = 0; i < n; i++)
            memcpy(t->targets_b + (size_t)i * classes,
                   t->loss.elr_targets + (size_t)idx[i] * classes, sizeof(float) * classes);
        return rl_loss_elr(out, t->yb, t->targets_b, w, n, classes, t->loss.elr_lambda, scale,
                           d_out, per_example);
    case DP_LOSS_CE:
        break;
    }
    return rl_loss_softmax_ce(out, t->yb, w, n, classes, scale, d_out, per_example);
}

/* xb = clip(x0 + U(−ε, ε), 0, 1): pixel p of example idx[i] uses word p % 4 of block p / 4 of
 * (round, idx[i]). */
static void random_start(dp_trainer *t, float eps, const int64_t *idx, int n, uint32_t round) {
    int dim = t->train.dim;
    for (int i = 0; i < n; i++) {
        float *x = t->xb + (size_t)i * dim;
        const float *x0 = t->x0 + (size_t)i * dim;
        uint32_t words[4];
        for (int p = 0; p < dim; p++) {
            if (p % 4 == 0)
                rl_rng_block(t->attack_rng, round, (uint32_t)idx[i], (uint32_t)(p / 4), words);
            float u = (float)(words[p % 4] >> 8) * 0x1p-24f; /* [0, 1) */
            x[p] = fminf(fmaxf(x0[p] + eps * (2.0f * u - 1.0f), 0.0f), 1.0f);
        }
    }
}

void dp_attack_inputs(dp_trainer *t, const dp_attack *a, const int64_t *idx, int n,
                      uint32_t round) {
    size_t len = (size_t)n * (size_t)t->train.dim;
    int classes = t->model.out_dim;
    memcpy(t->x0, t->xb, sizeof(float) * len);
    if (a->random_start)
        random_start(t, a->eps, idx, n, round);
    for (int k = 0; k < a->steps; k++) {
        const float *out = rl_model_forward(&t->model, &t->ws, t->xb, n);
        rl_loss_softmax_ce(out, t->yb, NULL, n, classes, 1.0f, t->d_out, NULL);
        rl_model_input_grad(&t->model, &t->ws, t->d_out, n, t->dx);
        for (size_t i = 0; i < len; i++) {
            float g = t->dx[i], x = t->xb[i] + (g > 0.0f ? a->alpha : g < 0.0f ? -a->alpha : 0.0f);
            x = fminf(fmaxf(x, t->x0[i] - a->eps), t->x0[i] + a->eps);
            t->xb[i] = fminf(fmaxf(x, 0.0f), 1.0f);
        }
    }
}

int dp_robust_accuracy(dp_trainer *t, const dp_attack *a, int64_t limit, double *clean_acc,
                       double *robust_acc) {
    int64_t total = limit > 0 && limit < t->test.n ? limit : t->test.n, lo, hi;
    int64_t idx[DP_EVAL_CHUNK], correct[2] = {0, 0}; /* clean, attacked */
    int classes = t->model.out_dim;
    dp_chunk_range(total, DP_EVAL_CHUNK, &lo, &hi);
    for (int64_t start = lo; start < hi; start += DP_EVAL_CHUNK) {
        int n = (int)(start + DP_EVAL_CHUNK <= hi ? DP_EVAL_CHUNK : hi - start);
        for (int i = 0; i < n; i++)
            idx[i] = start + i;
        correct[0] += rl_count_correct(dp_forward(t, &t->test, idx, n), t->yb, n, classes);
        dp_attack_inputs(t, a, idx, n, DP_ATTACK_ROUND_EVAL);
        const float *out = rl_model_forward(&t->model, &t->ws, t->xb, n);
        correct[1] += rl_count_correct(out, t->yb, n, classes);
    }
    if (comm_sum_i64(correct, 2) < 0)
        return RL_ERR;
    *clean_acc = (double)correct[0] / (double)total;
    *robust_acc = (double)correct[1] / (double)total;
    return 0;
}

int dp_step(dp_trainer *t, int64_t step) {
    int64_t first = (step % t->batches_per_epoch) * t->batch;
    int bsz = (int)(first + t->batch <= t->train.n ? t->batch : t->train.n - first);
    const int64_t *batch = t->order + first;
    /* Self-normalization Σ_B w_i, in batch order on every rank; a batch whose weights all
     * underflowed to 0 counts uniformly. */
    double norm = 0.0;
    for (int i = 0; t->weights && i < bsz; i++)
        norm += t->weights[batch[i]];
    const double *weights = norm > 0.0 ? t->weights : NULL;
    int64_t n_chunks = (bsz + t->chunk - 1) / t->chunk, lo, hi;
    comm_block_range(n_chunks, comm_size(), comm_rank(), &lo, &hi);
    size_t n_train = t->n_train;
    memset(t->acc, 0, sizeof(int64_t) * (n_train + 1));
    for (int64_t c = lo; c < hi; c++) {
        int64_t start = c * t->chunk;
        int n = (int)(start + t->chunk <= bsz ? t->chunk : bsz - start);
        const int64_t *idx = batch + start;
        for (int i = 0; weights && i < n; i++)
            t->wb[i] = (float)(weights[idx[i]] * (double)bsz / norm); /* mean 1 over the batch */
        const float *out = dp_forward(t, &t->train, idx, n);
        if (t->adv.eps > 0.0f) {
            dp_attack_inputs(t, &t->adv, idx, n, (uint32_t)step);
            out = rl_model_forward(&t->model, &t->ws, t->xb, n);
        }
        rl_model_zero_grads(&t->model);
        float loss = (float)dp_train_loss(t, out, idx, n, weights ? t->wb : NULL, 1.0f / bsz,
                                          t->d_out, NULL);
        rl_model_backward(&t->model, &t->ws, t->d_out, n);
        if (t->lora)
            rl_lora_backward(t->lora, &t->model);
        kern_add_fixed(t->theta_grads, t->acc, n_train, RL_FIXED_FRAC_BITS);
        kern_add_fixed(&loss, t->acc + n_train, 1, RL_FIXED_SUM_FRAC_BITS);
    }
    if (t->regularize) {
        memset(t->theta_grads, 0, sizeof(float) * n_train);
        t->regularize(t, t->theta_grads, t->reg_ctx);
        kern_add_fixed(t->theta_grads, t->acc, n_train, RL_FIXED_FRAC_BITS);
    }
    if (comm_sum_i64(t->acc, n_train + 1) < 0)
        return RL_ERR;
    kern_from_fixed(t->acc, t->theta_grads, n_train, RL_FIXED_FRAC_BITS);
    rl_opt_step(&t->opt, t->theta, t->theta_grads);
    for (size_t i = 0; t->mask && i < n_train; i++)
        t->theta[i] *= t->mask[i];
    if (t->lora)
        rl_lora_apply(t->lora, &t->model);
    t->epoch_loss += t->acc[n_train];
    return 0;
}

int dp_evaluate(dp_trainer *t, double *loss, double *acc) {
    int64_t lo, hi, idx[DP_EVAL_CHUNK];
    dp_chunk_range(t->test.n, DP_EVAL_CHUNK, &lo, &hi);
    int64_t sums[2] = {0, 0}; /* fixed-point loss, correct count */
    for (int64_t start = lo; start < hi; start += DP_EVAL_CHUNK) {
        int n = (int)(start + DP_EVAL_CHUNK <= hi ? DP_EVAL_CHUNK : hi - start);
        for (int i = 0; i < n; i++)
            idx[i] = start + i;
        const float *out = dp_forward(t, &t->test, idx, n);
        float l;
        if (t->test.classes > 0) {
            sums[1] += rl_count_correct(out, t->yb, n, t->test.classes);
            l = (float)rl_loss_softmax_ce(out, t->yb, NULL, n, t->test.classes, 0.0f, NULL, NULL);
        } else {
            l = (float)rl_loss_mse(out, t->tb, NULL, n, t->test.targets, 0.0f, NULL, NULL);
        }
        kern_add_fixed(&l, &sums[0], 1, RL_FIXED_SUM_FRAC_BITS);
    }
    if (comm_sum_i64(sums, 2) < 0)
        return RL_ERR;
    float total;
    kern_from_fixed(&sums[0], &total, 1, RL_FIXED_SUM_FRAC_BITS);
    *loss = (double)total / (double)t->test.n;
    *acc = t->test.classes > 0 ? (double)sums[1] / (double)t->test.n : NAN;
    return 0;
}

int dp_row_head(dp_trainer *t, int64_t epoch, double *row) {
    float epoch_loss;
    kern_from_fixed(&t->epoch_loss, &epoch_loss, 1, RL_FIXED_SUM_FRAC_BITS);
    t->epoch_loss = 0;
    row[0] = (double)(epoch + 1);
    row[1] = (double)epoch_loss / (double)t->train.n;
    return dp_evaluate(t, &row[2], &row[3]);
}

static int save_checkpoint(rl_run *run, dp_trainer *t, int64_t step, const dp_hooks *h) {
    io_ckpt *c;
    if (rl_run_checkpoint_begin(run, step, &c) < 0)
        return RL_ERR;
    /* Every rank holds the same trained values and optimizer state; each writes its block.
     * "model/params" holds the values trained (the model's parameters, or its adapters). */
    int64_t n = (int64_t)t->n_train, lo, hi;
    comm_block_range(n, comm_size(), comm_rank(), &lo, &hi);
    int root = comm_rank() == 0;
    int64_t scalars[2] = {t->opt.t, t->epoch_loss};
    int rc = io_ckpt_write(c, "model/params", IO_F32, n, lo, hi - lo, t->theta + lo);
    rc = rc ? rc : io_ckpt_write(c, "optim/m", IO_F32, n, lo, hi - lo, t->opt.m + lo);
    if (t->opt.v)
        rc = rc ? rc : io_ckpt_write(c, "optim/v", IO_F32, n, lo, hi - lo, t->opt.v + lo);
    rc = rc ? rc : io_ckpt_write(c, "train/scalars", IO_I64, 2, 0, root ? 2 : 0, scalars);
    if (h->save)
        rc = rc ? rc : h->save(t, c, h->ctx);
    return rl_run_checkpoint_commit(run, c, rc);
}

static int load_checkpoint(rl_run *run, dp_trainer *t, const dp_hooks *h) {
    io_ckpt *c;
    if (rl_run_checkpoint_open(run, &c) < 0)
        return RL_ERR;
    int64_t n = (int64_t)t->n_train, scalars[2];
    int rc = io_ckpt_size(c, "model/params") == n
                 ? 0
                 : rl_fail("checkpoint %s holds another model", "delete the run directory",
                           run->resume_path);
    rc = rc ? rc : io_ckpt_read(c, "model/params", IO_F32, 0, n, t->theta);
    rc = rc ? rc : io_ckpt_read(c, "optim/m", IO_F32, 0, n, t->opt.m);
    if (t->opt.v)
        rc = rc ? rc : io_ckpt_read(c, "optim/v", IO_F32, 0, n, t->opt.v);
    rc = rc ? rc : io_ckpt_read(c, "train/scalars", IO_I64, 0, 2, scalars);
    if (h->load)
        rc = rc ? rc : h->load(t, c, h->ctx);
    io_ckpt_close(c);
    if (rc < 0)
        return RL_ERR;
    t->opt.t = scalars[0];
    t->epoch_loss = scalars[1];
    if (t->lora)
        rl_lora_apply(t->lora, &t->model);
    return 0;
}

/* Model from a finished run's /arrays/params (init.from). */
static int load_initial_model(dp_trainer *t, const char *from) {
    char path[PATH_MAX + 32], spec[128] = "";
    snprintf(path, sizeof path, "%s/results.h5", from);
    float *params;
    size_t n;
    if (io_results_read_array_f32(path, "params", &params, &n, "model", spec, sizeof spec) < 0)
        return rl_fail_context("init.from=%s", from);
    int rc = 0;
    if (strcmp(spec, t->model.spec) != 0 || n != t->model.n_params)
        rc = rl_fail("init.from=%s holds model %s, this run builds %s",
                     "set model.spec to the same spec as the run you start from", from, spec,
                     t->model.spec);
    else
        memcpy(t->model.params, params, sizeof(float) * n);
    free(params);
    return rc;
}

/* adv.*: the evaluation attack and adversarial training. */
static int read_attack(dp_trainer *t, const rl_config *cfg) {
    dp_attack *a = &t->eval_attack;
    a->eps = (float)rl_cfg_float(cfg, "adv.eps");
    a->steps = (int)rl_cfg_int(cfg, "adv.pgd_steps");
    a->random_start = rl_cfg_bool(cfg, "adv.random_start");
    a->alpha = (float)rl_cfg_float(cfg, "adv.pgd_alpha");
    if (a->alpha == 0.0f)
        a->alpha = 2.5f * a->eps / (float)a->steps;
    t->attack_limit = rl_cfg_int(cfg, "adv.limit");
    if (a->eps > 0 && strcmp(t->train.name, "fashion-mnist") != 0)
        return rl_fail("adv.eps=%g: attacks clip inputs to [0, 1], which only pixels are "
                       "(data.name=%s)",
                       "use data.name=fashion-mnist or set adv.eps=0", (double)a->eps,
                       t->train.name);
    if (rl_cfg_bool(cfg, "adv.train")) {
        if (a->eps == 0)
            return rl_fail("adv.train=true needs an attack radius",
                           "set adv.eps, e.g. adv.eps=0.1");
        t->adv = *a;
    }
    return 0;
}

int dp_trainer_init(dp_trainer *t, const rl_config *cfg, uint64_t seed) {
    memset(t, 0, sizeof *t);
    if (rl_data_load(cfg, seed, &t->train, &t->test) < 0 ||
        rl_model_init(&t->model, rl_cfg_str(cfg, "model.spec")) < 0)
        return RL_ERR;
    int outputs = t->train.classes > 0 ? t->train.classes : t->train.targets;
    if (base_model_check_fit(&t->model, "model.spec", &t->train, outputs) < 0)
        return RL_ERR;
    rl_model_init_params(&t->model, seed);
    const char *from = rl_cfg_str(cfg, "init.from");
    if (from[0] && load_initial_model(t, from) < 0)
        return RL_ERR;
    int sgd = strcmp(rl_cfg_str(cfg, "train.optim"), "sgd") == 0;
    if (rl_opt_init(&t->opt, sgd ? RL_OPT_SGD : RL_OPT_ADAM, t->model.n_params,
                    (float)rl_cfg_float(cfg, "train.lr"),
                    (float)rl_cfg_float(cfg, "train.momentum"),
                    (float)rl_cfg_float(cfg, "train.weight_decay")) < 0)
        return RL_ERR;
    t->batch = (int)rl_cfg_int(cfg, "train.batch");
    t->chunk = (int)rl_cfg_int(cfg, "train.chunk");
    if (t->batch > t->train.n)
        return rl_fail("train.batch=%d is larger than the training set (%lld examples)",
                       "lower train.batch or raise data.train_limit", t->batch,
                       (long long)t->train.n);
    t->batches_per_epoch = (t->train.n + t->batch - 1) / t->batch;
    t->total_steps = t->batches_per_epoch * rl_cfg_int(cfg, "train.epochs");
    int widest = t->chunk > DP_EVAL_CHUNK ? t->chunk : DP_EVAL_CHUNK;
    if (rl_workspace_init(&t->ws, &t->model, widest) < 0)
        return RL_ERR;
    /* order and acc (int64); per chunk example: xb, x0, dx (dim), d_out, targets_b (outputs),
     * tb (targets + 1), wb, yb (1) */
    uint64_t per_example = 3 * (uint64_t)t->train.dim + 2 * (uint64_t)outputs +
                           (uint64_t)t->train.targets + 3;
    uint64_t bytes = rl_size_add(rl_size_mul(per_example, (uint64_t)widest * sizeof(float)),
                                 sizeof(int64_t) * ((uint64_t)t->train.n + t->model.n_params + 1));
    if (rl_mem_check(bytes, "the training buffers for chunks of %d examples", widest) < 0)
        return rl_fail_hint("lower train.chunk");
    t->order = rl_xmalloc(sizeof(int64_t) * (size_t)t->train.n);
    t->attack_rng = rl_rng_make(seed, RL_RNG_ATTACK);
    t->n_train = t->model.n_params;
    t->theta = t->model.params;
    t->theta_grads = t->model.grads;
    t->acc = rl_xmalloc(sizeof(int64_t) * (t->n_train + 1));
    t->xb = rl_xmalloc(sizeof(float) * (size_t)widest * (size_t)t->train.dim);
    t->d_out = rl_xmalloc(sizeof(float) * (size_t)widest * (size_t)outputs);
    t->tb = rl_xmalloc(sizeof(float) * (size_t)widest * (size_t)(t->train.targets + 1));
    t->wb = rl_xmalloc(sizeof(float) * (size_t)widest);
    t->targets_b = rl_xmalloc(sizeof(float) * (size_t)widest * (size_t)outputs);
    t->yb = rl_xmalloc(sizeof(int32_t) * (size_t)widest);
    t->x0 = rl_xmalloc(sizeof(float) * (size_t)widest * (size_t)t->train.dim);
    t->dx = rl_xmalloc(sizeof(float) * (size_t)widest * (size_t)t->train.dim);
    return read_attack(t, cfg);
}

int dp_use_adapters(dp_trainer *t, int rank, uint64_t seed) {
    t->lora = rl_xcalloc(1, sizeof *t->lora);
    if (rl_lora_init(t->lora, &t->model, rank, seed) < 0)
        return RL_ERR;
    rl_opt_kind kind = t->opt.kind;
    float lr = t->opt.lr, momentum = t->opt.momentum, weight_decay = t->opt.weight_decay;
    rl_opt_free(&t->opt);
    if (rl_opt_init(&t->opt, kind, t->lora->n_params, lr, momentum, weight_decay) < 0)
        return RL_ERR;
    t->n_train = t->lora->n_params;
    t->theta = t->lora->params;
    t->theta_grads = t->lora->grads;
    free(t->acc);
    t->acc = rl_xmalloc(sizeof(int64_t) * (t->n_train + 1));
    rl_lora_apply(t->lora, &t->model);
    return 0;
}

/* Collective: finals attack_clean_acc, fgsm_acc and pgd_acc on the first adv.limit test
 * examples. */
static int write_attack_finals(rl_run *run, dp_trainer *t) {
    const dp_attack *pgd = &t->eval_attack;
    dp_attack fgsm = {.eps = pgd->eps, .alpha = pgd->eps, .steps = 1};
    double clean, acc_fgsm, acc_pgd;
    if (dp_robust_accuracy(t, &fgsm, t->attack_limit, &clean, &acc_fgsm) < 0 ||
        dp_robust_accuracy(t, pgd, t->attack_limit, &clean, &acc_pgd) < 0)
        return RL_ERR;
    int rc = rl_run_final(run, "attack_clean_acc", clean);
    rc = rc ? rc : rl_run_final(run, "fgsm_acc", acc_fgsm);
    rc = rc ? rc : rl_run_final(run, "pgd_acc", acc_pgd);
    if (rc == 0)
        rl_log_info("%s: ε = %g: clean accuracy %.2f %%, FGSM %.2f %%, PGD-%d %.2f %%",
                    run->exp->name, (double)pgd->eps, 100.0 * clean, 100.0 * acc_fgsm,
                    pgd->steps, 100.0 * acc_pgd);
    return rc;
}

int dp_write_final(rl_run *run, dp_trainer *t, void *ctx) {
    (void)ctx;
    const double *last = run->row_values + (run->rows - 1) * run->n_metrics;
    int rc = rl_run_final(run, "train_loss", last[1]);
    rc = rc ? rc : rl_run_final(run, "test_loss", last[2]);
    rc = rc ? rc : rl_run_final(run, "test_acc", last[3]);
    rc = rc ? rc : rl_run_final(run, "steps", (double)t->total_steps);
    rc = rc ? rc
            : rl_run_final_array(run, "params", t->model.params, (int64_t)t->model.n_params,
                                 "model", t->model.spec);
    if (rc == 0)
        rl_log_info("%s: test accuracy %.2f %%, test loss %.4f, train loss %.4f after %lld "
                    "epochs (%lld steps, %.0f s)",
                    run->exp->name, 100.0 * last[3], last[2], last[1], (long long)last[0],
                    (long long)t->total_steps, rl_now() - run->t_start);
    if (comm_any_failed(rc < 0))
        return RL_ERR;
    return t->eval_attack.eps > 0 ? write_attack_finals(run, t) : 0;
}

static int train_loop(rl_run *run, dp_trainer *t, const dp_hooks *h) {
    int64_t step = run->resuming ? run->resume_step : 0;
    int64_t order_epoch = -1;
    rl_rng shuffle = rl_rng_make(run->seed, RL_RNG_SHUFFLE);
    rl_progress progress;
    rl_progress_start(&progress, run->exp->name, step, t->total_steps);
    for (; step < t->total_steps; step++) {
        int sig = rl_run_should_stop(step);
        if (sig) {
            rl_progress_finish(&progress);
            rl_log_info("signal %d: checkpointing at step %lld", sig, (long long)step);
            return save_checkpoint(run, t, step, h) < 0 ? RL_ERR : RL_STOPPED;
        }
        int64_t epoch = step / t->batches_per_epoch;
        if (epoch != order_epoch) {
            rl_data_epoch_order(t->train.n, shuffle, (uint32_t)epoch, t->order);
            order_epoch = epoch;
        }
        if (dp_step(t, step) < 0)
            return RL_ERR;
        if ((step + 1) % t->batches_per_epoch == 0 && h->epoch_end(run, t, epoch, h->ctx) < 0)
            return RL_ERR;
        if (run->ckpt_every > 0 && (step + 1) % run->ckpt_every == 0 && step + 1 < t->total_steps &&
            save_checkpoint(run, t, step + 1, h) < 0)
            return RL_ERR;
        const double *last = run->rows ? run->row_values + (run->rows - 1) * run->n_metrics : NULL;
        rl_progress_update(&progress, step + 1, "epoch %lld | train loss %.4f | test acc %.4f",
                           (long long)epoch + 1, last ? last[1] : NAN, last ? last[3] : NAN);
    }
    rl_progress_finish(&progress);
    return 0;
}

int dp_run(rl_run *run, const char *const *metric_names, int n_metrics, const dp_hooks *h) {
    dp_trainer t;
    int rc = dp_trainer_init(&t, run->cfg, run->seed);
    const char *from = rl_cfg_str(run->cfg, "init.from");
    if (rc == 0)
        base_model_record_inputs(run, &t.train, &t.test, "init.from", from[0] ? &t.model : NULL);
    if (rc == 0 && h->prepare)
        rc = h->prepare(run, &t, h->ctx);
    int failed = comm_any_failed(rc < 0);
    rc = failed ? RL_ERR : rl_run_start(run, metric_names, n_metrics);
    if (rc == 0 && run->resuming)
        rc = load_checkpoint(run, &t, h);
    if (rc == 0)
        rc = train_loop(run, &t, h);
    if (rc == 0) {
        int finished = h->finish ? h->finish(run, &t, h->ctx) : 0;
        rc = comm_any_failed(finished < 0) ? RL_ERR : rl_run_finish(run);
    }
    dp_trainer_free(&t);
    return rc == 1 ? 0 : rc;
}
