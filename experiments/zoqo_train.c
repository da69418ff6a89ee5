/* Experiment `zoqo-train`: zero-order quantized fine-tuning (ZOQO, METHODS.md §1) against its
 * baselines, on a shifted Fashion-MNIST task.
 *
 * Start: the MLP of a finished `train` run (init.from), pretrained here when none is given.
 * Task (data.transform = mirror): the same garments mirrored left-right. The pretrained MLP drops
 * from about 88 % to about 61 % test accuracy on it (footwear points the other way, asymmetric
 * collars and bags move), while the features it learned still fit the task: a shift a small
 * fine-tuning can recover, like adapting a pretrained model to a new domain.
 * What is trained (zoqo.target): the last layer's weights, or LoRA adapters on every layer
 * over the frozen base. Arms (zoqo.arms), each from the same start with the same steps:
 *   zoqoB  ZOQO with B-bit codes: integer forward (kernels/int8.h), integer perturbations and
 *          steps, nothing leaves the grid;
 *   sign   fp32 ZO-SignSGD with Gaussian perturbations;
 *   mezo   fp32 ZO-SGD as in MeZO (in-place perturbation, regenerated);
 *   sgd    first-order SGD on the same trainable parameters (backpropagation).
 * All zero-order arms spend the same queries: 2·K forward passes on a batch per step.
 * Metrics rows (one per evaluation): arm index, step within the arm, test accuracy and loss,
 * queries so far, bytes exchanged per step, ties so far. Finals per arm: start and end
 * accuracy, queries, peak resident memory while stepping (VmHWM). */
#include "kernels/kernels.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/data/data.h"
#include "src/nn/lora.h"
#include "src/nn/nn.h"
#include "src/nn/qmodel.h"
#include "src/run/run.h"
#include "src/train/base_model.h"
#include "src/train/chunks.h"
#include "src/train/zo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rl_ini_zoqo_train[];

#define MAX_ARMS 8
#define CALIB_EXAMPLES 512

static const rl_cfg_spec zoqo_keys[] = {
    {"zoqo.arms", RL_CFG_STRING, "zoqo8,zoqo4,sign,mezo,sgd", 0, -1, NULL, 0,
     "comma list of arms: zoqoB (B = 2..8 bits), sign, mezo, sgd"},
    {"zoqo.target", RL_CFG_CHOICE, "last", 0, -1, "last|lora", 0,
     "what is trained: the last layer's weights or LoRA adapters on every layer"},
    {"zoqo.lora_rank", RL_CFG_INT, "4", 1, 256, NULL, 0, "rank of the LoRA adapters"},
    {"zoqo.lora_range", RL_CFG_FLOAT, "2", 1e-6, 100, NULL, 0,
     "LoRA B entries live in [-range, range] (the quantized grid's span)"},
    {"zoqo.steps", RL_CFG_INT, "1000", 1, 1e9, NULL, 0, "steps per arm"},
    {"zoqo.batch", RL_CFG_INT, "256", 1, 1e6, NULL, 0, "examples per step"},
    {"zoqo.eval_every", RL_CFG_INT, "100", 1, 1e9, NULL, 0, "steps between test evaluations"},
};

static void zoqo_declare(rl_config *cfg) {
    rl_declare_common_config(cfg);
    rl_data_declare_config(cfg);
    train_chunks_declare_config(cfg);
    base_model_declare_config(cfg, 1);
    zo_declare_config(cfg);
    rl_cfg_declare(cfg, zoqo_keys, sizeof zoqo_keys / sizeof zoqo_keys[0]);
}

typedef enum { ARM_ZOQO, ARM_SIGN, ARM_MEZO, ARM_SGD } arm_kind;

typedef struct {
    char name[16];
    arm_kind kind;
    int bits;
} arm_spec;

static const char *const metric_names[] = {"arm",     "arm_step",        "test_acc", "test_loss",
                                           "queries", "bytes_exchanged", "ties"};

typedef struct {
    const rl_config *cfg;
    uint64_t seed;
    rl_dataset train, test;
    rl_model base;
    int n_arms;
    arm_spec arms[MAX_ARMS];
    int lora, lora_rank, batch, chunk, eval_every;
    int64_t steps;
    /* the current arm */
    const arm_spec *arm;
    rl_qmodel q;
    rl_qworkspace qws;
    const int8_t *codes; /* the ZOQO arm's codes its forward computes with */
    rl_model work;       /* fp32 arms: the model trained (ZOQO arms: the base, for shapes) */
    train_chunks chunks; /* the arm's forward, loss and gradient on chunks of train.chunk */
    rl_lora adapters;
    void *trainable; /* int8 codes (zoqo) or floats */
    size_t n_trainable;
    zo_state zo; /* zo arms; its queries count the sgd arm's forward passes too */
    rl_optimizer sgd;
    float *sign_steps;        /* sign arm: each trainable number's 8-bit grid step */
    double peak_mb[MAX_ARMS]; /* VmHWM while each finished arm stepped (a measurement) */
    train_batches batches;    /* zoqo.batch examples per step */
    const int64_t *batch_idx;
    int bsz;        /* the step's batch and its size */
    comm_exact sum; /* sgd: the gradient and the loss; zo arms: my part of a batch's loss */
    float *grad;    /* sgd: (n_trainable) */
} zoqo;

static int parse_arms(zoqo *z, const rl_config *cfg) {
    char **items;
    int n;
    if (rl_cfg_list(cfg, "zoqo.arms", MAX_ARMS, &items, &n) < 0)
        return RL_ERR;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *tok = items[i];
        arm_spec *a = &z->arms[z->n_arms++];
        snprintf(a->name, sizeof a->name, "%s", tok);
        int bits = 0;
        char extra;
        if (sscanf(tok, "zoqo%d%c", &bits, &extra) == 1 && bits >= 2 && bits <= 8 &&
            strlen(tok) == 5)
            a->kind = ARM_ZOQO, a->bits = bits;
        else if (!strcmp(tok, "sign"))
            a->kind = ARM_SIGN;
        else if (!strcmp(tok, "mezo"))
            a->kind = ARM_MEZO;
        else if (!strcmp(tok, "sgd"))
            a->kind = ARM_SGD;
        else
            rc = rl_fail("zoqo.arms: unknown arm '%s'",
                         "arms are zoqoB with B from 2 to 8 (e.g. zoqo8), sign, mezo, sgd", tok);
    }
    rl_cfg_list_free(items, n);
    return rc;
}

static int prepare(rl_run *run, zoqo *z) {
    const rl_config *cfg = rl_run_config(run);
    z->cfg = cfg;
    z->seed = rl_run_seed(run);
    z->lora = strcmp(rl_cfg_str(cfg, "zoqo.target"), "lora") == 0;
    z->lora_rank = (int)rl_cfg_int(cfg, "zoqo.lora_rank");
    z->batch = (int)rl_cfg_int(cfg, "zoqo.batch");
    z->chunk = (int)rl_cfg_int(cfg, "train.chunk");
    z->eval_every = (int)rl_cfg_int(cfg, "zoqo.eval_every");
    z->steps = rl_cfg_int(cfg, "zoqo.steps");
    if (parse_arms(z, cfg) < 0 || rl_data_load(cfg, z->seed, &z->train, &z->test) < 0)
        return RL_ERR;
    if (z->train.classes == 0)
        return rl_fail("zoqo-train needs a classification dataset, not %s",
                       "use data.name=fashion-mnist or blobs", z->train.name);
    if (z->batch > z->train.n)
        return rl_fail("zoqo.batch=%d is larger than the training set (%lld)",
                       "lower zoqo.batch or raise data.train_limit", z->batch,
                       (long long)z->train.n);
    /* The base model: a finished train run, or one pretrained now. */
    int rc = base_model_get(cfg, rl_cfg_str(cfg, "init.from"),
                            rl_cfg_int(cfg, "init.pretrain_epochs"), &z->train, &z->base);
    if (rc != 0)
        return rc;
    base_model_record_inputs(run, &z->train, &z->test, "base model", &z->base);
    /* the order; an fp32 arm's model (the chunks check their own buffers) */
    uint64_t bytes = rl_size_add(sizeof(int64_t) * (uint64_t)z->train.n,
                                 rl_size_mul(z->base.n_params, 2 * sizeof(float)));
    if (rl_mem_check(bytes, "zoqo-train's order and a copy of model %s", z->base.spec) < 0)
        return rl_fail_hint("use a smaller base model or data.train_limit");
    if (train_chunks_check(&z->base, &z->train, z->chunk) < 0)
        return rl_fail_hint("lower train.chunk");
    train_batches_init(&z->batches, z->train.n, z->batch, z->seed);
    return 0;
}

static void arm_free(zoqo *z) {
    train_chunks_free(&z->chunks);
    rl_qmodel_free(&z->q);
    rl_qworkspace_free(&z->qws);
    rl_model_free(&z->work);
    rl_lora_free(&z->adapters);
    zo_free(&z->zo);
    rl_opt_free(&z->sgd);
    comm_exact_free(&z->sum);
    free(z->grad);
    free(z->sign_steps);
    z->grad = NULL;
    z->sign_steps = NULL;
    z->arm = NULL;
}

static void zoqo_free(zoqo *z) {
    arm_free(z);
    rl_data_free(&z->train);
    rl_data_free(&z->test);
    rl_model_free(&z->base);
    train_batches_free(&z->batches);
}

/* The ZOQO arm's forward: the integer model with the codes of the moment. */
static const float *int8_forward(void *ctx, const float *x, int n) {
    zoqo *z = ctx;
    return rl_qmodel_forward(&z->q, &z->qws, z->codes, x, n);
}

/* For fp32 arms, make the model compute with the current trainable values. */
static void sync_fp32(zoqo *z) {
    if (z->arm->kind != ARM_ZOQO && z->lora)
        rl_lora_apply(&z->adapters, &z->work);
}

typedef struct {
    zoqo *z;
    int64_t lo, hi; /* chunks of the batch this rank evaluates */
} loss_ctx;

/* zo_loss_fn: Σ over my chunks of (chunk loss sum / batch), chunk by chunk in fixed point. */
static int64_t batch_loss(void *ctx_, const void *params) {
    loss_ctx *ctx = ctx_;
    zoqo *z = ctx->z;
    sync_fp32(z);
    z->codes = params;
    comm_exact_zero(&z->sum);
    for (int64_t c = ctx->lo; c < ctx->hi; c++) {
        int64_t start = c * z->chunk;
        int n = (int)(start + z->chunk <= z->bsz ? z->chunk : z->bsz - start);
        const float *logits = train_chunks_forward(&z->chunks, &z->train, z->batch_idx + start, n);
        float l = (float)(rl_loss_softmax_ce(logits, z->chunks.yb, NULL, n, z->train.classes, 0.0f,
                                             NULL, NULL) /
                          z->bsz);
        comm_exact_add(&z->sum, 0, &l, 1, RL_FIXED_FRAC_BITS);
    }
    return comm_exact_raw(&z->sum, 0);
}

static int evaluate(zoqo *z, double *loss, double *acc) {
    sync_fp32(z);
    z->codes = z->trainable;
    return train_evaluate(&z->chunks, &z->test, 0, loss, acc);
}

/* First-order step on the trainable parameters: the exact gradient of the batch's chunks. */
static int sgd_step(zoqo *z) {
    sync_fp32(z);
    const float *grads =
        z->lora ? z->adapters.grads : z->work.grads + ((float *)z->trainable - z->work.params);
    train_loss ce = train_loss_for(&z->train);
    train_objective o = {.loss = &ce, .scale = 1.0f / (float)z->bsz};
    comm_exact_zero(&z->sum);
    train_chunks_gradient(&z->chunks, &z->train, z->batch_idx, z->bsz, &o, grads, z->n_trainable,
                          &z->sum);
    if (comm_exact_reduce(&z->sum) < 0)
        return RL_ERR;
    comm_exact_read(&z->sum, 0, z->grad, z->n_trainable, RL_FIXED_FRAC_BITS);
    rl_opt_step(&z->sgd, z->trainable, z->grad);
    z->zo.queries += 1;
    return 0;
}

/* The quantization of the base model at `bits` bits with the run's target. */
static int quantize(const zoqo *z, int bits, rl_qmodel *q) {
    rl_qmodel_options opt = {bits, z->lora ? RL_QTRAIN_LORA : RL_QTRAIN_LAST, z->lora_rank,
                             (float)rl_cfg_float(z->cfg, "zoqo.lora_range"), z->seed};
    int calib = z->train.n < CALIB_EXAMPLES ? (int)z->train.n : CALIB_EXAMPLES;
    float *calib_x = rl_xmalloc(sizeof(float) * (size_t)calib * (size_t)z->train.dim);
    rl_data_rows(&z->train, 0, calib, calib_x); // (calib, dim)
    int rc = rl_qmodel_quantize(q, &z->base, &opt, calib_x, calib);
    free(calib_x);
    return rc;
}

static int arm_init(zoqo *z, const arm_spec *arm) {
    const rl_config *cfg = z->cfg;
    z->arm = arm;
    const rl_layer *last = &z->base.layers[z->base.n_layers - 1];
    zo_options opt; /* unused by the sgd arm */
    zo_options_from_config(&opt, cfg,
                           arm->kind == ARM_ZOQO   ? ZO_ZOQO
                           : arm->kind == ARM_MEZO ? ZO_MEZO
                                                   : ZO_SIGN,
                           z->seed);
    if (arm->kind == ARM_ZOQO) {
        if (train_chunks_init(&z->chunks, &z->base, &z->train, z->chunk) < 0 ||
            quantize(z, arm->bits, &z->q) < 0 ||
            rl_qworkspace_init(&z->qws, &z->q, z->chunks.rows) < 0)
            return RL_ERR;
        z->chunks.forward = int8_forward;
        z->chunks.forward_ctx = z;
        z->trainable = z->q.trainable;
        z->n_trainable = z->q.n_trainable;
        comm_exact_init(&z->sum, 1);
        opt.qmax = z->q.qmax;
        return zo_init(&z->zo, &opt, z->trainable, z->n_trainable);
    }
    if (rl_model_init(&z->work, z->base.spec) < 0 ||
        train_chunks_init(&z->chunks, &z->work, &z->train, z->chunk) < 0)
        return RL_ERR;
    memcpy(z->work.params, z->base.params, sizeof(float) * z->base.n_params);
    if (z->lora) {
        if (rl_lora_init(&z->adapters, &z->work, z->lora_rank, z->seed) < 0)
            return RL_ERR;
        z->trainable = z->adapters.params;
        z->n_trainable = z->adapters.n_params;
        z->chunks.lora = &z->adapters;
    } else {
        z->trainable = z->work.params + last->w_off;
        z->n_trainable = (size_t)last->out * (size_t)last->in;
    }
    comm_exact_init(&z->sum, z->n_trainable + 1);
    if (arm->kind == ARM_SGD) {
        z->grad = rl_xmalloc(sizeof(float) * z->n_trainable);
        return rl_opt_init(&z->sgd, RL_OPT_SGD, z->n_trainable,
                           (float)rl_cfg_float(cfg, "zo.lr_sgd"), 0.0f, 0.0f);
    }
    if (arm->kind == ARM_SIGN && opt.lr == 0.0f) { /* one 8-bit code step, as zoqo8 moves */
        rl_qmodel grid;
        if (quantize(z, 8, &grid) < 0)
            return RL_ERR;
        z->sign_steps = rl_xmalloc(sizeof(float) * grid.n_trainable);
        rl_qmodel_code_steps(&grid, z->sign_steps);
        rl_qmodel_free(&grid);
        opt.lr = 1.0f;
        opt.lr_scale = z->sign_steps;
    }
    return zo_init(&z->zo, &opt, z->trainable, z->n_trainable);
}

static int record(rl_run *run, zoqo *z, int arm_index, int64_t arm_step) {
    double loss, acc;
    if (evaluate(z, &loss, &acc) < 0)
        return RL_ERR;
    rl_run_set(run, "arm", arm_index);
    rl_run_set(run, "arm_step", (double)arm_step);
    rl_run_set(run, "test_acc", acc);
    rl_run_set(run, "test_loss", loss);
    rl_run_set(run, "queries", (double)z->zo.queries);
    rl_run_set(run, "bytes_exchanged", (double)z->zo.bytes_exchanged);
    rl_run_set(run, "ties", (double)z->zo.ties);
    return rl_run_record(run, (int64_t)arm_index * z->steps + arm_step);
}

static io_type trainable_type(const zoqo *z) {
    return z->arm->kind == ARM_ZOQO ? IO_I8 : IO_F32;
}

/* Before step `next` of the run: the arm and its step, and the arm's trainable values unless
 * the arm has not started (an arm boundary). */
static int loop_save(rl_run *run, void *ctx, io_ckpt *c, int64_t next) {
    (void)run;
    zoqo *z = ctx;
    int root = comm_rank() == 0;
    int64_t arm_index = next / z->steps, arm_step = next % z->steps;
    int64_t state[5] = {arm_index, arm_step, z->zo.queries, z->zo.ties, z->zo.bytes_exchanged};
    int rc = io_ckpt_write(c, "zoqo/state", IO_I64, 5, 0, root ? 5 : 0, state);
    if (z->arm) {
        int64_t n = (int64_t)z->n_trainable;
        rc = rc ? rc
                : io_ckpt_write(c, "zoqo/trainable", trainable_type(z), n, 0, root ? n : 0,
                                z->trainable);
    }
    rc =
        rc ? rc
           : io_ckpt_write(c, "zoqo/peak_mb", IO_F64, MAX_ARMS, 0, root ? MAX_ARMS : 0, z->peak_mb);
    return rc;
}

/* The arm in progress is re-initialized from the base, then given the saved values. */
static int loop_load(rl_run *run, void *ctx, io_ckpt *c, int64_t *next) {
    (void)run;
    zoqo *z = ctx;
    int64_t state[5] = {0, 0, 0, 0, 0};
    int rc = io_ckpt_read(c, "zoqo/state", IO_I64, 0, 5, state);
    rc = rc ? rc : io_ckpt_read(c, "zoqo/peak_mb", IO_F64, 0, MAX_ARMS, z->peak_mb);
    if (rc == 0 && (state[0] < 0 || state[0] >= z->n_arms || state[1] < 0 || state[1] >= z->steps ||
                    state[0] * z->steps + state[1] != *next))
        rc = rl_fail("the checkpoint's arm %lld, step %lld are not this run's",
                     "delete the run directory", (long long)state[0], (long long)state[1]);
    if (rc < 0 || state[1] == 0)
        return rc; /* an arm boundary: the next step starts the arm */
    rc = arm_init(z, &z->arms[state[0]]);
    if (rc == 0 && io_ckpt_size(c, "zoqo/trainable") != (int64_t)z->n_trainable)
        rc = rl_fail("the checkpoint holds another model", "delete the run directory");
    rc = rc ? rc
            : io_ckpt_read(c, "zoqo/trainable", trainable_type(z), 0, (int64_t)z->n_trainable,
                           z->trainable);
    if (rc < 0)
        return RL_ERR;
    z->zo.queries = state[2];
    z->zo.ties = state[3];
    z->zo.bytes_exchanged = state[4];
    return 0;
}

static int write_final(rl_run *run, zoqo *z) {
    int rc = 0;
    char name[64];
    rl_log_info("\nzoqo-train: %s task, target %s, %lld steps per arm, K = %lld\n"
                "%-8s %6s %10s %10s %10s %12s %10s",
                rl_cfg_str(z->cfg, "data.transform"), rl_cfg_str(z->cfg, "zoqo.target"),
                (long long)z->steps, (long long)rl_cfg_int(z->cfg, "zo.perturbations"), "arm",
                "bits", "start acc", "final acc", "queries", "bytes/step", "peak MB");
    for (int a = 0; a < z->n_arms && rc == 0; a++) {
        double start = NAN, end = NAN, queries = 0, bytes = 0;
        for (int64_t i = 0; i < rl_run_rows(run); i++) {
            if ((int)rl_run_value(run, i, "arm") != a)
                continue;
            if (rl_run_value(run, i, "arm_step") == 0)
                start = rl_run_value(run, i, "test_acc");
            end = rl_run_value(run, i, "test_acc");
            queries = rl_run_value(run, i, "queries");
            bytes = rl_run_value(run, i, "bytes_exchanged");
        }
        snprintf(name, sizeof name, "start_acc_%s", z->arms[a].name);
        rc = rl_run_final(run, name, start);
        snprintf(name, sizeof name, "test_acc_%s", z->arms[a].name);
        rc = rc ? rc : rl_run_final(run, name, end);
        snprintf(name, sizeof name, "queries_%s", z->arms[a].name);
        rc = rc ? rc : rl_run_final(run, name, queries);
        snprintf(name, sizeof name, "peak_mb_%s", z->arms[a].name);
        rc = rc ? rc : rl_run_final(run, name, z->peak_mb[a]);
        char bits[8] = "fp32";
        if (z->arms[a].kind == ARM_ZOQO)
            snprintf(bits, sizeof bits, "%d", z->arms[a].bits);
        rl_log_info("%-8s %6s %9.2f%% %9.2f%% %10.0f %12.0f %10.1f", z->arms[a].name, bits,
                    100 * start, 100 * end, queries, bytes, z->peak_mb[a]);
    }
    return rc;
}

/* Step `global` of the run: step s of arm a. An arm starts (from the base) at its step 0, with
 * a first evaluation, and ends after its last step, evaluated every zoqo.eval_every steps. */
static int loop_step(rl_run *run, void *ctx, int64_t global) {
    zoqo *z = ctx;
    int a = (int)(global / z->steps);
    int64_t s = global % z->steps;
    if (!z->arm) {
        if (arm_init(z, &z->arms[a]) < 0 || record(run, z, a, 0) < 0)
            return RL_ERR;
        rl_mem_peak_reset();
    }
    z->bsz = train_batches_at(&z->batches, s, &z->batch_idx);
    int64_t n_chunks = (z->bsz + z->chunk - 1) / z->chunk;
    loss_ctx lc = {z, 0, n_chunks};
    if (z->zo.opt.split_data)
        comm_block_range(n_chunks, comm_size(), comm_rank(), &lc.lo, &lc.hi);
    int rc = z->arm->kind == ARM_SGD ? sgd_step(z) : zo_step(&z->zo, (uint32_t)s, batch_loss, &lc);
    if (rc < 0)
        return RL_ERR;
    if (((s + 1) % z->eval_every == 0 || s + 1 == z->steps) && record(run, z, a, s + 1) < 0)
        return RL_ERR;
    if (s + 1 == z->steps) {
        z->peak_mb[a] = (double)rl_mem_peak_kb() / 1024.0;
        arm_free(z);
    }
    return 0;
}

static void loop_describe(rl_run *run, void *ctx, int64_t global, char *out, size_t n) {
    const zoqo *z = ctx;
    snprintf(out, n, "%s | test acc %.4f", z->arms[global / z->steps].name,
             rl_run_last(run, "test_acc"));
}

static int zoqo_run(rl_run *run) {
    zoqo z;
    memset(&z, 0, sizeof z);
    int rc = prepare(run, &z);
    if (rc != RL_STOPPED) /* a stopped pretraining stopped on every rank */
        rc = comm_agree_error(rc);
    rc = rc ? rc : rl_run_start(run, metric_names, sizeof metric_names / sizeof metric_names[0]);
    if (rc == 0) {
        rl_loop loop = {.total = (int64_t)z.n_arms * z.steps,
                        .step = loop_step,
                        .save = loop_save,
                        .load = loop_load,
                        .describe = loop_describe};
        rc = rl_run_loop(run, &loop, &z);
    }
    if (rc == 0)
        rc = comm_agree_error(write_final(run, &z));
    zoqo_free(&z);
    return rc;
}

static const rl_experiment rl_experiment_zoqo_train = {
    .name = "zoqo-train",
    .summary = "zero-order quantized fine-tuning (ZOQO) vs ZO-SignSGD, MeZO and SGD",
    .doc =
        "Fine-tunes a pretrained MLP (init.from, or pretrained now) on a shifted\n"
        "Fashion-MNIST task (data.transform=mirror: images mirrored left-right) with each arm of\n"
        "zoqo.arms in turn, from the same start: ZOQO at B bits (integer codes, integer\n"
        "forward), fp32 ZO-SignSGD, MeZO and first-order SGD, training the last layer or\n"
        "LoRA adapters (zoqo.target). Ranks split the K perturbations of a step (or each\n"
        "batch, zo.split=data) and exchange two numbers per perturbation. Prints a table of\n"
        "start and final test accuracy, queries, bytes exchanged per step and peak memory.",
    .default_ini = rl_ini_zoqo_train,
    .declare = zoqo_declare,
    .run = zoqo_run,
};

RL_EXPERIMENT(rl_experiment_zoqo_train)
