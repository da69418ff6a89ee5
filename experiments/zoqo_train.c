/* Experiment `zoqo-train`: zero-order quantized fine-tuning (ZOQO, METHODS.md §1) against its
 * baselines, on a shifted Fashion-MNIST task.
 *
 * Start: the MLP of a finished `train` run (init.from), pretrained here when none is given.
 * Task (data.transform = mirror): the same garments mirrored left-right. The pretrained MLP drops
 * from about 88 % to about 61 % test accuracy on it (footwear points the other way, asymmetric
 * collars and bags move), while the features it learned still fit the task: a shift a small
 * fine-tuning can recover, like adapting a pretrained model to a new domain.
 * What is trained (zoqo.target): the last layer's weights, or LoRA adapters on every layer
 * over the frozen base. Arms (zoqo.arms; src/train/arm.h), each from the same start with the
 * same steps: zoqoB (ZOQO at B bits, integer forward), sign (fp32 ZO-SignSGD), mezo (MeZO), sgd
 * (first order), qatB (quantization-aware training at B bits).
 * All zero-order arms spend the same queries: 2·K forward passes on a batch per step.
 * Metrics rows (one per evaluation): arm index, step within the arm, test accuracy and loss,
 * queries so far, bytes exchanged per step, ties so far. Finals per arm: start and end
 * accuracy, queries, peak resident memory during the arm (VmHWM) and the memory of its updates:
 * that peak less the resident memory before the arm began (the data, the fp32 base model and
 * the runtime, which every arm shares). */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/data/data.h"
#include "src/run/run.h"
#include "src/train/arm.h"
#include "src/train/base_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rl_ini_zoqo_train[];

#define MAX_ARMS 8

static const rl_cfg_spec zoqo_keys[] = {
    {"zoqo.arms", RL_CFG_STRING, "zoqo8,zoqo4,sign,mezo,sgd", 0, -1, NULL, 0,
     "comma list of arms: zoqoB (B = 2..8 bits), sign, mezo, sgd, qatB (quantization-aware "
     "first-order training at B bits, zoqo.target=last); zoqoBbC, qatBbC: B-bit trained codes on "
     "a C-bit base"},
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

static const char *const metric_names[] = {"arm",     "arm_step",        "test_acc", "test_loss",
                                           "queries", "bytes_exchanged", "ties"};

typedef struct {
    const rl_config *cfg;
    uint64_t seed;
    rl_dataset train, test;
    rl_model base;
    int n_arms;
    train_arm_spec arms[MAX_ARMS];
    train_arm_setup setup;
    int batch, eval_every;
    int64_t steps;
    train_arm arm;              /* the current arm (arm.spec NULL between arms) */
    int64_t arm_start_kb;       /* resident memory before it began */
    double peak_mb[MAX_ARMS];   /* VmHWM during each finished arm (a measurement) */
    double update_mb[MAX_ARMS]; /* that less the resident memory before the arm began */
    train_batches batches;      /* zoqo.batch examples per step */
} zoqo;

static int parse_arms(zoqo *z, const rl_config *cfg) {
    char **items;
    int n;
    if (rl_cfg_list(cfg, "zoqo.arms", MAX_ARMS, &items, &n) < 0)
        return RL_ERR;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++)
        if ((rc = train_arm_parse(items[i], z->setup.lora, &z->arms[z->n_arms++])) < 0)
            rl_fail_hint("zoqo.arms names the arms, e.g. zoqo8,zoqo4,sign,mezo,sgd,qat4; qat "
                         "arms need zoqo.target=last");
    rl_cfg_list_free(items, n);
    return rc;
}

static int prepare(rl_run *run, zoqo *z) {
    const rl_config *cfg = rl_run_config(run);
    z->cfg = cfg;
    z->seed = rl_run_seed(run);
    z->setup = (train_arm_setup){cfg,
                                 z->seed,
                                 &z->train,
                                 &z->base,
                                 strcmp(rl_cfg_str(cfg, "zoqo.target"), "lora") == 0,
                                 (int)rl_cfg_int(cfg, "zoqo.lora_rank"),
                                 (float)rl_cfg_float(cfg, "zoqo.lora_range"),
                                 (int)rl_cfg_int(cfg, "train.chunk"),
                                 (float)rl_cfg_float(cfg, "zo.lr_sgd")};
    z->batch = (int)rl_cfg_int(cfg, "zoqo.batch");
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
    for (int a = 0; a < z->n_arms; a++)
        if (train_arm_check(&z->arms[a], &z->setup) < 0)
            return RL_ERR;
    /* the order; an fp32 arm's model (the chunks check their own buffers) */
    uint64_t bytes = rl_size_add(sizeof(int64_t) * (uint64_t)z->train.n,
                                 rl_size_mul(z->base.n_params, 2 * sizeof(float)));
    if (rl_mem_check(bytes, "zoqo-train's order and a copy of model %s", z->base.spec) < 0)
        return rl_fail_hint("use a smaller base model or data.train_limit");
    if (train_chunks_check(&z->base, &z->train, z->setup.chunk) < 0)
        return rl_fail_hint("lower train.chunk");
    train_batches_init(&z->batches, z->train.n, z->batch, z->seed);
    return 0;
}

static void zoqo_free(zoqo *z) {
    train_arm_free(&z->arm);
    rl_data_free(&z->train);
    rl_data_free(&z->test);
    rl_model_free(&z->base);
    train_batches_free(&z->batches);
}

/* Arm a from the base; its memory is measured from here. */
static int start_arm(zoqo *z, int a) {
    rl_mem_peak_reset();
    z->arm_start_kb = rl_mem_current_kb();
    return train_arm_init(&z->arm, &z->arms[a], &z->setup);
}

static int record(rl_run *run, zoqo *z, int arm_index, int64_t arm_step) {
    double loss, acc;
    if (train_arm_evaluate(&z->arm, &z->test, &loss, &acc) < 0)
        return RL_ERR;
    rl_run_set(run, "arm", arm_index);
    rl_run_set(run, "arm_step", (double)arm_step);
    rl_run_set(run, "test_acc", acc);
    rl_run_set(run, "test_loss", loss);
    rl_run_set(run, "queries", (double)z->arm.zo.queries);
    rl_run_set(run, "bytes_exchanged", (double)z->arm.zo.bytes_exchanged);
    rl_run_set(run, "ties", (double)z->arm.zo.ties);
    return rl_run_record(run, (int64_t)arm_index * z->steps + arm_step);
}

static io_type trainable_type(const zoqo *z) {
    return z->arm.spec->kind == ARM_ZOQO ? IO_I8 : IO_F32;
}

/* Before step `next` of the run: the arm and its step, and the arm's trainable values unless
 * the arm has not started (an arm boundary). */
static int loop_save(rl_run *run, void *ctx, io_ckpt *c, int64_t next) {
    (void)run;
    zoqo *z = ctx;
    int root = comm_rank() == 0;
    int64_t arm_index = next / z->steps, arm_step = next % z->steps;
    const zo_state *zo = &z->arm.zo;
    int64_t state[5] = {arm_index, arm_step, zo->queries, zo->ties, zo->bytes_exchanged};
    int rc = io_ckpt_write(c, "zoqo/state", IO_I64, 5, 0, root ? 5 : 0, state);
    if (z->arm.spec) {
        int64_t n = (int64_t)z->arm.n_trainable;
        rc = rc ? rc
                : io_ckpt_write(c, "zoqo/trainable", trainable_type(z), n, 0, root ? n : 0,
                                z->arm.trainable);
    }
    int arms = root ? MAX_ARMS : 0;
    rc = rc ? rc : io_ckpt_write(c, "zoqo/peak_mb", IO_F64, MAX_ARMS, 0, arms, z->peak_mb);
    rc = rc ? rc : io_ckpt_write(c, "zoqo/update_mb", IO_F64, MAX_ARMS, 0, arms, z->update_mb);
    return rc;
}

/* The arm in progress is re-initialized from the base, then given the saved values. */
static int loop_load(rl_run *run, void *ctx, io_ckpt *c, int64_t *next) {
    (void)run;
    zoqo *z = ctx;
    int64_t state[5] = {0, 0, 0, 0, 0};
    int rc = io_ckpt_read(c, "zoqo/state", IO_I64, 0, 5, state);
    rc = rc ? rc : io_ckpt_read(c, "zoqo/peak_mb", IO_F64, 0, MAX_ARMS, z->peak_mb);
    rc = rc ? rc : io_ckpt_read(c, "zoqo/update_mb", IO_F64, 0, MAX_ARMS, z->update_mb);
    if (rc == 0 && (state[0] < 0 || state[0] >= z->n_arms || state[1] < 0 || state[1] >= z->steps ||
                    state[0] * z->steps + state[1] != *next))
        rc = rl_fail("the checkpoint's arm %lld, step %lld are not this run's",
                     "delete the run directory", (long long)state[0], (long long)state[1]);
    if (rc < 0 || state[1] == 0)
        return rc; /* an arm boundary: the next step starts the arm */
    rc = start_arm(z, (int)state[0]);
    int64_t n = (int64_t)z->arm.n_trainable;
    if (rc == 0 && io_ckpt_size(c, "zoqo/trainable") != n)
        rc = rl_fail("the checkpoint holds another model", "delete the run directory");
    rc = rc ? rc : io_ckpt_read(c, "zoqo/trainable", trainable_type(z), 0, n, z->arm.trainable);
    if (rc < 0)
        return RL_ERR;
    train_arm_reload(&z->arm);
    z->arm.zo.queries = state[2];
    z->arm.zo.ties = state[3];
    z->arm.zo.bytes_exchanged = state[4];
    return 0;
}

static int write_final(rl_run *run, zoqo *z) {
    int rc = 0;
    char name[64];
    rl_log_info("\nzoqo-train: %s task, target %s, %lld steps per arm, K = %lld\n"
                "%-8s %6s %10s %10s %10s %12s %10s %10s",
                rl_cfg_str(z->cfg, "data.transform"), rl_cfg_str(z->cfg, "zoqo.target"),
                (long long)z->steps, (long long)rl_cfg_int(z->cfg, "zo.perturbations"), "arm",
                "bits", "start acc", "final acc", "queries", "bytes/step", "peak MB", "update MB");
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
        snprintf(name, sizeof name, "update_mb_%s", z->arms[a].name);
        rc = rc ? rc : rl_run_final(run, name, z->update_mb[a]);
        char bits[8] = "fp32"; /* trained codes' bits / the base's */
        const train_arm_spec *arm = &z->arms[a];
        if (arm->kind == ARM_ZOQO || arm->kind == ARM_QAT)
            snprintf(bits, sizeof bits, "%d/%d", arm->bits,
                     arm->base_bits ? arm->base_bits : arm->bits);
        rl_log_info("%-8s %6s %9.2f%% %9.2f%% %10.0f %12.0f %10.1f %10.1f", z->arms[a].name, bits,
                    100 * start, 100 * end, queries, bytes, z->peak_mb[a], z->update_mb[a]);
    }
    return rc;
}

/* Step `global` of the run: step s of arm a. An arm starts (from the base) at its step 0, with
 * a first evaluation, and ends after its last step, evaluated every zoqo.eval_every steps. */
static int loop_step(rl_run *run, void *ctx, int64_t global) {
    zoqo *z = ctx;
    int a = (int)(global / z->steps);
    int64_t s = global % z->steps;
    if (!z->arm.spec && (start_arm(z, a) < 0 || record(run, z, a, 0) < 0))
        return RL_ERR;
    const int64_t *idx;
    int n = train_batches_at(&z->batches, s, &idx);
    if (train_arm_step(&z->arm, (uint32_t)s, idx, n) < 0)
        return RL_ERR;
    if (((s + 1) % z->eval_every == 0 || s + 1 == z->steps) && record(run, z, a, s + 1) < 0)
        return RL_ERR;
    if (s + 1 == z->steps) {
        z->peak_mb[a] = (double)rl_mem_peak_kb() / 1024.0;
        z->update_mb[a] = (double)(rl_mem_peak_kb() - z->arm_start_kb) / 1024.0;
        train_arm_free(&z->arm);
    }
    return 0;
}

static void loop_describe(rl_run *run, void *ctx, int64_t global, char *out, size_t n) {
    const zoqo *z = ctx;
    char acc[32];
    snprintf(out, n, "%s | test acc %s", z->arms[global / z->steps].name,
             rl_run_last_text(run, "test_acc", acc, sizeof acc));
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
        "forward), fp32 ZO-SignSGD, MeZO, first-order SGD and quantization-aware training\n"
        "(qatB), training the last layer or LoRA adapters (zoqo.target). Ranks split the K "
        "perturbations of a step (or each\n"
        "batch, zo.split=data) and exchange two numbers per perturbation. Prints a table of\n"
        "start and final test accuracy, queries, bytes exchanged per step, peak memory and\n"
        "the memory of the arm's updates (the peak less what was resident before the arm).",
    .default_ini = rl_ini_zoqo_train,
    .declare = zoqo_declare,
    .run = zoqo_run,
};

RL_EXPERIMENT(rl_experiment_zoqo_train)
