/* Experiment `train`: first-order, data-parallel training (SGD or Adam) of an MLP.
 *
 * Each step takes the next batch of the epoch's order, cuts it into chunks of train.chunk
 * examples, and the ranks split the chunks (block ownership). Each chunk's gradient is turned
 * into fixed point and summed exactly over chunks and ranks, so parameters and metrics are
 * bit-identical for any rank count (they depend on train.chunk, not on the number of ranks).
 * Metrics per epoch: train loss (mean over the epoch's batches, before each update), test loss
 * and test accuracy. The final model is saved in /arrays/params so later runs can start from it
 * with init.from=RUN_DIR. */
#include "experiments/experiment.h"
#include "kernels/kernels.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/data/data.h"
#include "src/nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_CHUNK 250 /* test examples per evaluation chunk (fixed: results must not depend on P) */

extern const char rl_ini_train[];

static const rl_cfg_spec train_keys[] = {
    {"model.spec", RL_CFG_STRING, "mlp:784-256-256-10", 0, -1, NULL, 0,
     "model: mlp:IN-HIDDEN...-OUT (dense layers, relu between them)"},
    {"train.epochs", RL_CFG_INT, "10", 1, 100000, NULL, 0, "passes over the training set"},
    {"train.batch", RL_CFG_INT, "128", 1, 1000000, NULL, 0, "examples per optimizer step"},
    {"train.lr", RL_CFG_FLOAT, "0.001", 0, 100, NULL, 0, "learning rate"},
    {"train.optim", RL_CFG_CHOICE, "adam", 0, -1, "adam|sgd", 0, "optimizer"},
    {"train.momentum", RL_CFG_FLOAT, "0.9", 0, 1, NULL, 0, "SGD momentum"},
    {"train.weight_decay", RL_CFG_FLOAT, "0", 0, 1, NULL, 0, "L2 weight decay added to the gradient"},
    {"train.chunk", RL_CFG_INT, "32", 1, 1000000, NULL, 0,
     "examples per gradient chunk, the unit of work split over ranks (results depend on it, "
     "not on the rank count)"},
    {"init.from", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "start from the model saved by a finished train run (its run directory); empty: random"},
};

static void train_declare(rl_config *cfg) {
    rl_declare_common_config(cfg);
    rl_data_declare_config(cfg);
    rl_cfg_declare(cfg, train_keys, sizeof train_keys / sizeof train_keys[0]);
}

static const char *const metric_names[] = {"epoch", "train_loss", "test_loss", "test_acc"};
enum { N_METRICS = 4 };

typedef struct {
    rl_dataset train, test;
    rl_model model;
    rl_workspace ws;
    rl_optimizer opt;
    int batch, chunk;
    int64_t batches_per_epoch, total_steps;
    int64_t *order;     /* (train.n) this epoch's order */
    int64_t *acc;       /* (n_params + 1) fixed-point sums: gradient, then loss */
    int64_t epoch_loss; /* fixed-point sum of this epoch's example losses so far */
    float *xb, *d_out;  /* (EVAL_CHUNK or chunk, dim), (…, out_dim) */
    int32_t *yb;
    float *tb;
} trainer;

static void trainer_free(trainer *t) {
    rl_data_free(&t->train);
    rl_data_free(&t->test);
    rl_model_free(&t->model);
    rl_workspace_free(&t->ws);
    rl_opt_free(&t->opt);
    free(t->order);
    free(t->acc);
    free(t->xb);
    free(t->d_out);
    free(t->yb);
    free(t->tb);
}

/* Loss of a chunk (sum over its examples); gradient scaled by 1 / batch_size when d_out. */
static double chunk_loss(trainer *t, const rl_dataset *d, const int64_t *idx, int n, float scale,
                         int *correct) {
    rl_data_gather(d, idx, n, t->xb, t->yb, t->tb);
    const float *out = rl_model_forward(&t->model, &t->ws, t->xb, n);
    float *d_out = scale != 0.0f ? t->d_out : NULL;
    if (d->classes > 0) {
        if (correct)
            *correct = rl_count_correct(out, t->yb, n, d->classes);
        return rl_loss_softmax_ce(out, t->yb, NULL, n, d->classes, scale, d_out, NULL);
    }
    return rl_loss_mse(out, t->tb, NULL, n, d->targets, scale, d_out, NULL);
}

static int train_step(trainer *t, int64_t step) {
    int64_t b = step % t->batches_per_epoch;
    int64_t first = b * t->batch;
    int bsz = (int)(first + t->batch <= t->train.n ? t->batch : t->train.n - first);
    int64_t n_chunks = (bsz + t->chunk - 1) / t->chunk, lo, hi;
    comm_block_range(n_chunks, comm_size(), comm_rank(), &lo, &hi);
    size_t n_params = t->model.n_params;
    memset(t->acc, 0, sizeof(int64_t) * (n_params + 1));
    for (int64_t c = lo; c < hi; c++) {
        int64_t start = c * t->chunk;
        int n = (int)(start + t->chunk <= bsz ? t->chunk : bsz - start);
        rl_model_zero_grads(&t->model);
        float loss = (float)chunk_loss(t, &t->train, t->order + first + start, n, 1.0f / bsz, NULL);
        rl_model_backward(&t->model, &t->ws, t->d_out, n);
        kern_add_fixed(t->model.grads, t->acc, n_params, RL_FIXED_FRAC_BITS);
        kern_add_fixed(&loss, t->acc + n_params, 1, RL_FIXED_FRAC_BITS);
    }
    if (comm_sum_i64(t->acc, n_params + 1) < 0)
        return RL_ERR;
    kern_from_fixed(t->acc, t->model.grads, n_params, RL_FIXED_FRAC_BITS);
    rl_opt_step(&t->opt, t->model.params, t->model.grads);
    t->epoch_loss += t->acc[n_params];
    return 0;
}

/* Test loss (mean) and accuracy over the whole test set, split by chunks over ranks. */
static int evaluate(trainer *t, double *loss, double *acc) {
    int64_t n_chunks = (t->test.n + EVAL_CHUNK - 1) / EVAL_CHUNK, lo, hi;
    comm_block_range(n_chunks, comm_size(), comm_rank(), &lo, &hi);
    int64_t sums[2] = {0, 0}; /* fixed-point loss, correct count */
    int64_t idx[EVAL_CHUNK];
    for (int64_t c = lo; c < hi; c++) {
        int n = (int)(c * EVAL_CHUNK + EVAL_CHUNK <= t->test.n ? EVAL_CHUNK
                                                                : t->test.n - c * EVAL_CHUNK);
        for (int i = 0; i < n; i++)
            idx[i] = c * EVAL_CHUNK + i;
        int correct = 0;
        float l = (float)chunk_loss(t, &t->test, idx, n, 0.0f, &correct);
        kern_add_fixed(&l, &sums[0], 1, RL_FIXED_FRAC_BITS);
        sums[1] += correct;
    }
    if (comm_sum_i64(sums, 2) < 0)
        return RL_ERR;
    float total;
    kern_from_fixed(&sums[0], &total, 1, RL_FIXED_FRAC_BITS);
    *loss = (double)total / (double)t->test.n;
    *acc = t->test.classes > 0 ? (double)sums[1] / (double)t->test.n : NAN;
    return 0;
}

static int save_checkpoint(rl_run *run, trainer *t, int64_t step) {
    char *config_text = rl_cfg_text(run->cfg);
    io_ckpt *c;
    int rc = io_ckpt_begin(&c, run->ckpt_dir, step, run->run_id, config_text);
    free(config_text);
    if (rc < 0)
        return RL_ERR;
    /* Every rank holds the same parameters and optimizer state; each writes its block. */
    int64_t n = (int64_t)t->model.n_params, lo, hi;
    comm_block_range(n, comm_size(), comm_rank(), &lo, &hi);
    int root = comm_rank() == 0;
    int64_t scalars[2] = {t->opt.t, t->epoch_loss};
    rc = io_ckpt_write(c, "model/params", IO_F32, n, lo, hi - lo, t->model.params + lo);
    rc = rc ? rc : io_ckpt_write(c, "optim/m", IO_F32, n, lo, hi - lo, t->opt.m + lo);
    if (t->opt.v)
        rc = rc ? rc : io_ckpt_write(c, "optim/v", IO_F32, n, lo, hi - lo, t->opt.v + lo);
    rc = rc ? rc : io_ckpt_write(c, "train/scalars", IO_I64, 2, 0, root ? 2 : 0, scalars);
    rc = rc ? rc : rl_run_save_metrics(run, c);
    if (rc < 0) {
        io_ckpt_commit(c, run->ckpt_keep);
        return RL_ERR;
    }
    return io_ckpt_commit(c, run->ckpt_keep);
}

static int load_checkpoint(rl_run *run, trainer *t) {
    io_ckpt *c;
    if (io_ckpt_open(&c, run->resume_path) < 0)
        return RL_ERR;
    int64_t n = (int64_t)t->model.n_params, scalars[2];
    int rc = io_ckpt_size(c, "model/params") == n
                 ? 0
                 : rl_fail("checkpoint %s holds another model", "delete the run directory",
                           run->resume_path);
    rc = rc ? rc : io_ckpt_read(c, "model/params", IO_F32, 0, n, t->model.params);
    rc = rc ? rc : io_ckpt_read(c, "optim/m", IO_F32, 0, n, t->opt.m);
    if (t->opt.v)
        rc = rc ? rc : io_ckpt_read(c, "optim/v", IO_F32, 0, n, t->opt.v);
    rc = rc ? rc : io_ckpt_read(c, "train/scalars", IO_I64, 0, 2, scalars);
    rc = rc ? rc : rl_run_restore_metrics(run, c);
    io_ckpt_close(c);
    t->opt.t = scalars[0];
    t->epoch_loss = scalars[1];
    return rc;
}

/* Model from a finished run's /arrays/params (init.from). */
static int load_initial_model(trainer *t, const char *from) {
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

static int prepare(rl_run *run, trainer *t) {
    const rl_config *cfg = run->cfg;
    if (rl_data_load(cfg, run->seed, &t->train, &t->test) < 0 ||
        rl_model_init(&t->model, rl_cfg_str(cfg, "model.spec")) < 0)
        return RL_ERR;
    int outputs = t->train.classes > 0 ? t->train.classes : t->train.targets;
    if (t->model.in_dim != t->train.dim || t->model.out_dim != outputs)
        return rl_fail("model.spec %s takes %d inputs and gives %d outputs; data %s has %d "
                       "features and %d %s",
                       "match the first and last numbers of model.spec to the data",
                       t->model.spec, t->model.in_dim, t->model.out_dim, t->train.name,
                       t->train.dim, outputs, t->train.classes > 0 ? "classes" : "targets");
    rl_model_init_params(&t->model, run->seed);
    const char *from = rl_cfg_str(cfg, "init.from");
    if (from[0] && load_initial_model(t, from) < 0)
        return RL_ERR;
    int sgd = strcmp(rl_cfg_str(cfg, "train.optim"), "sgd") == 0;
    if (rl_opt_init(&t->opt, sgd ? RL_OPT_SGD : RL_OPT_ADAM, t->model.n_params,
                    (float)rl_cfg_float(cfg, "train.lr"), (float)rl_cfg_float(cfg, "train.momentum"),
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
    int widest = t->chunk > EVAL_CHUNK ? t->chunk : EVAL_CHUNK;
    if (rl_workspace_init(&t->ws, &t->model, widest) < 0)
        return RL_ERR;
    t->order = rl_xmalloc(sizeof(int64_t) * (size_t)t->train.n);
    t->acc = rl_xmalloc(sizeof(int64_t) * (t->model.n_params + 1));
    t->xb = rl_xmalloc(sizeof(float) * (size_t)widest * (size_t)t->train.dim);
    t->d_out = rl_xmalloc(sizeof(float) * (size_t)widest * (size_t)outputs);
    t->yb = rl_xmalloc(sizeof(int32_t) * (size_t)widest);
    t->tb = rl_xmalloc(sizeof(float) * (size_t)widest * (size_t)(t->train.targets + 1));
    return 0;
}

static int write_final(rl_run *run, trainer *t) {
    if (comm_rank() != 0)
        return 0;
    const double *last = run->row_values + (run->rows - 1) * N_METRICS;
    io_results *r = run->results;
    int rc = io_results_set_final(r, "train_loss", last[1]);
    rc = rc ? rc : io_results_set_final(r, "test_loss", last[2]);
    rc = rc ? rc : io_results_set_final(r, "test_acc", last[3]);
    rc = rc ? rc : io_results_set_final(r, "steps", (double)t->total_steps);
    rc = rc ? rc : io_results_write_array_f32(r, "params", t->model.params, t->model.n_params,
                                              "model", t->model.spec);
    if (rc == 0)
        rl_log_info("train: test accuracy %.2f %%, test loss %.4f, train loss %.4f after %lld "
                    "epochs (%lld steps, %.0f s)",
                    100.0 * last[3], last[2], last[1], (long long)last[0],
                    (long long)t->total_steps, rl_now() - run->t_start);
    return rc;
}

static int train_loop(rl_run *run, trainer *t) {
    int64_t step = run->resuming ? run->resume_step : 0;
    int64_t order_epoch = -1;
    rl_rng shuffle = rl_rng_make(run->seed, RL_RNG_SHUFFLE);
    rl_progress progress;
    rl_progress_start(&progress, "train", step, t->total_steps);
    double last_loss = NAN, last_acc = NAN;
    for (; step < t->total_steps; step++) {
        int sig = rl_run_should_stop(step);
        if (sig) {
            rl_progress_finish(&progress);
            rl_log_info("signal %d: checkpointing at step %lld", sig, (long long)step);
            return save_checkpoint(run, t, step) < 0 ? RL_ERR : RL_STOPPED;
        }
        int64_t epoch = step / t->batches_per_epoch;
        if (epoch != order_epoch) {
            rl_data_epoch_order(t->train.n, shuffle, (uint32_t)epoch, t->order);
            order_epoch = epoch;
        }
        if (train_step(t, step) < 0)
            return RL_ERR;
        if ((step + 1) % t->batches_per_epoch == 0) {
            float epoch_loss;
            kern_from_fixed(&t->epoch_loss, &epoch_loss, 1, RL_FIXED_FRAC_BITS);
            t->epoch_loss = 0;
            double row[N_METRICS] = {(double)(epoch + 1), (double)epoch_loss / (double)t->train.n};
            if (evaluate(t, &row[2], &row[3]) < 0 || rl_run_record(run, step + 1, row) < 0)
                return RL_ERR;
            last_loss = row[1];
            last_acc = row[3];
        }
        if (run->ckpt_every > 0 && (step + 1) % run->ckpt_every == 0 &&
            step + 1 < t->total_steps && save_checkpoint(run, t, step + 1) < 0)
            return RL_ERR;
        rl_progress_update(&progress, step + 1, "epoch %lld | train loss %.4f | test acc %.4f",
                           (long long)epoch + 1, last_loss, last_acc);
    }
    rl_progress_finish(&progress);
    return 0;
}

static int train_run(rl_run *run) {
    trainer t;
    memset(&t, 0, sizeof t);
    int failed = comm_any_failed(prepare(run, &t) < 0);
    int rc = failed ? RL_ERR : rl_run_start(run, metric_names, N_METRICS);
    if (rc == 0 && run->resuming)
        rc = load_checkpoint(run, &t);
    if (rc == 0)
        rc = train_loop(run, &t);
    if (rc == 0)
        rc = comm_any_failed(write_final(run, &t) < 0) ? RL_ERR : rl_run_finish(run);
    trainer_free(&t);
    return rc == 1 ? 0 : rc;
}

const rl_experiment rl_experiment_train = {
    .name = "train",
    .summary = "first-order data-parallel training (SGD/Adam) of an MLP; saves the model",
    .doc = "Trains model.spec on data.name with train.optim for train.epochs epochs. Each batch\n"
           "is cut into chunks of train.chunk examples that the ranks share; gradients are\n"
           "summed in fixed point, so results are bit-identical on any number of ranks.\n"
           "Metrics per epoch: train_loss, test_loss, test_acc. The final parameters go to\n"
           "/arrays/params; start another run from them with init.from=RUN_DIR.",
    .default_ini = rl_ini_train,
    .declare = train_declare,
    .run = train_run,
};
