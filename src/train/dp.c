/* Data-parallel first-order training shared by experiments: trainer setup, the exact step over
 * chunks with optional per-example weights, evaluation, checkpoints of model + optimizer, and
 * the step loop (see dp.h). */
#include "src/train/dp.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/train/base_model.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rl_cfg_spec dp_keys[] = {
    {"model.spec", RL_CFG_STRING, "mlp:784-256-256-10", 0, -1, NULL, 0,
     "model: mlp:IN-HIDDEN...-OUT (dense layers, relu between them) or "
     "cnn:CxHxW-LAYER-... with layers convCkK (or convCkKsS, stride S), gnG (group norm), bn "
     "(batch norm), relu, maxpoolS, avgpoolS, gap (global average pooling), resCgG / resCsSgG "
     "(residual block with group norm), resCbn / resCsSbn (with batch norm), either followed by "
     "xN for N blocks (the first of stride S), dropP (dropout of a share P, e.g. drop0.5), fcN, "
     "e.g. cnn:1x28x28-conv8k5-relu-maxpool2-conv16k5-relu-maxpool2-fc10. "
     "ResNet-20 (group norm): cnn:1x28x28-conv16k3-gn4-relu-res16g4x3-res32s2g4x3-res64s2g4x3-"
     "gap-fc10; with batch norm: cnn:1x28x28-conv16k3-bn-relu-res16bnx3-res32s2bnx3-res64s2bnx3-"
     "gap-fc10; ResNet-32: x5 for x3. VGG-style (VGG-11's conv layers at a quarter width, batch "
     "norm): cnn:1x28x28-conv16k3-bn-relu-maxpool2-conv32k3-bn-relu-maxpool2-conv64k3-bn-relu-"
     "conv64k3-bn-relu-maxpool2-conv128k3-bn-relu-conv128k3-bn-relu-maxpool2-conv128k3-bn-relu-"
     "conv128k3-bn-relu-gap-fc128-relu-drop0.5-fc10 (3x32x32 for CIFAR). "
     "A vision transformer: vit:CxHxW-P<patch>-L<blocks>-D<width>-H<heads>-C<classes>, e.g. "
     "vit:1x28x28-P7-L2-D64-H4-C10 (P x P patches embedded linearly with learned position "
     "embeddings, pre-norm blocks with bidirectional attention and a GELU MLP, mean pooling "
     "over the patches, a linear head; src/nn/transformer.h). "
     "Batch norm in training normalizes over each chunk of train.chunk examples (ghost batch "
     "norm), not the whole batch: results do not depend on the rank count but differ from "
     "full-batch batch norm when train.chunk < train.batch; evaluation uses running averages "
     "(train.bn_momentum). Dropout masks are drawn per (step, example, unit), the same on any "
     "rank count, and are off in evaluation (src/nn/nn.h)"},
    {"model.init_scale", RL_CFG_FLOAT, "1", 1e-6, 1e6, NULL, 0,
     "multiply the initial weights (He-uniform) by this; above 1 training moves the weights "
     "little relative to their start (the lazy regime); with init.from it must stay 1"},
    {"train.epochs", RL_CFG_INT, "10", 1, 100000, NULL, 0, "passes over the training set"},
    {"train.batch", RL_CFG_INT, "128", 1, 1000000, NULL, 0, "examples per optimizer step"},
    {"train.lr", RL_CFG_FLOAT, "0.001", 0, 100, NULL, 0,
     "learning rate (of the first epochs, with train.lr_milestones)"},
    {"train.lr_milestones", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "epochs (comma list, in [1, train.epochs]) from which the learning rate is multiplied by "
     "train.lr_gamma once more, as torch's MultiStepLR (empty: a constant rate)"},
    {"train.lr_gamma", RL_CFG_FLOAT, "0.1", 0, 100, NULL, 0,
     "factor of the learning rate at each of train.lr_milestones"},
    {"train.label_smoothing", RL_CFG_FLOAT, "0", 0, 0.99, NULL, 0,
     "label smoothing ε of the training loss: cross-entropy against 1 − ε on the label and "
     "ε/(C − 1) on each other class, as the MW authors (0: plain cross-entropy)"},
    {"train.mixup", RL_CFG_FLOAT, "0", 0, 1000, NULL, 0,
     "mixup α: each batch trains on λ·x_i + (1 − λ)·x_π(i) with loss λ·ℓ(y_i) + (1 − λ)·ℓ(y_π(i)) "
     "(times the example weights, as the MW authors), λ ~ Beta(α, α) and π a permutation of the "
     "batch drawn per batch (0: off)"},
    {"train.bn_momentum", RL_CFG_FLOAT, "0.1", 0, 1, NULL, 0,
     "batch norm's running averages (used in evaluation): after each step, running = (1 − m) · "
     "running + m · the step's statistics (the chunks' means and unbiased variances averaged "
     "over the batch's examples, summed exactly over ranks), as torch's momentum m"},
    {"train.optim", RL_CFG_CHOICE, "adam", 0, -1, "adam|sgd", 0, "optimizer"},
    {"train.momentum", RL_CFG_FLOAT, "0.9", 0, 1, NULL, 0, "SGD momentum"},
    {"train.weight_decay", RL_CFG_FLOAT, "0", 0, 1, NULL, 0,
     "L2 weight decay added to the gradient"},
    {"adv.eps", RL_CFG_FLOAT, "0", 0, 1, NULL, 0,
     "ℓ∞ radius of the FGSM and PGD evaluation after training, pixels in [0, 1] (0: off; 8-bit "
     "images only: Fashion-MNIST, CIFAR, uint8 h5)"},
    {"adv.pgd_steps", RL_CFG_INT, "10", 1, 10000, NULL, 0,
     "PGD steps (evaluation and adversarial training)"},
    {"adv.pgd_alpha", RL_CFG_FLOAT, "0", 0, 1, NULL, 0, "PGD step size (0: 2.5·ε / adv.pgd_steps)"},
    {"adv.random_start", RL_CFG_BOOL, "false", 0, -1, NULL, 0,
     "PGD starts from a uniform random point of the ε-ball (Madry et al.; drawn from the counter "
     "RNG by example id, so the same on any rank); false: from the clean image"},
    {"adv.limit", RL_CFG_INT, "0", 0, 2147483647, NULL, 0,
     "attack the first N test examples (0: all)"},
    {"adv.train", RL_CFG_BOOL, "false", 0, -1, NULL, 0,
     "PGD adversarial training: every chunk is replaced by PGD examples of radius adv.eps "
     "made with the current model before its step"},
};

int dp_check_config(const rl_config *cfg) {
    rl_model m;
    int rc = rl_model_init(&m, rl_cfg_str(cfg, "model.spec"));
    rl_model_free(&m);
    return rc < 0 ? rl_fail_context("model.spec") : 0;
}

void dp_declare_config(rl_config *cfg) {
    rl_declare_common_config(cfg);
    rl_data_declare_config(cfg);
    rl_augment_declare_config(cfg);
    train_chunks_declare_config(cfg);
    base_model_declare_config(cfg, 0);
    rl_cfg_declare(cfg, dp_keys, sizeof dp_keys / sizeof dp_keys[0]);
}

void dp_trainer_free(dp_trainer *t) {
    if (!t)
        return;
    train_chunks_free(&t->chunks);
    if (!t->shares_data) {
        rl_data_free(&t->train);
        rl_data_free(&t->test);
    }
    rl_model_free(&t->model);
    rl_opt_free(&t->opt);
    rl_lora_free(t->lora);
    free(t->lora);
    train_batches_free(&t->batches);
    train_schedule_free(&t->lr);
    train_mixup_free(&t->mixup);
    comm_exact_free(&t->sum);
    free(t->stats_sum);
}

int dp_step(dp_trainer *t, int64_t step) {
    const int64_t *batch;
    int bsz = train_batches_at(&t->batches, step, &batch);
    int64_t epoch = step / t->batches.per_epoch;
    t->opt.lr = (float)train_schedule_at(&t->lr, epoch);
    /* Self-normalization Σ_B w_i, in batch order on every rank; a batch whose weights all
     * underflowed to 0 counts uniformly. Each chunk's weights have mean 1 over the batch. */
    double norm = 0.0;
    for (int i = 0; t->weights && i < bsz; i++)
        norm += t->weights[batch[i]];
    const double *weights = norm > 0.0 ? t->weights : NULL;
    size_t n = t->n_train;
    if (t->mixup.alpha > 0.0)
        train_mixup_draw(&t->mixup, batch, bsz, step);
    train_objective o = {.loss = &t->loss,
                         .adv = t->adv.eps > 0.0f ? &t->adv : NULL,
                         .weights = weights,
                         .weight_scale = weights ? (double)bsz / norm : 1.0,
                         .scale = 1.0f / (float)bsz,
                         .round = (uint32_t)step,
                         .mix_lambda = t->mixup.lambda,
                         .mix_partner = t->mixup.partner,
                         .augment = &t->augment,
                         .epoch = (uint32_t)epoch,
                         .sum_stats = t->model.n_stats > 0};
    comm_exact_zero(&t->sum);
    train_chunks_gradient(&t->chunks, &t->train, batch, bsz, &o, t->theta_grads, n, &t->sum);
    if (t->regularize) {
        memset(t->theta_grads, 0, sizeof(float) * n);
        t->regularize(t, t->theta_grads, t->reg_ctx);
        comm_exact_add(&t->sum, 0, t->theta_grads, n, RL_FIXED_FRAC_BITS);
    }
    if (comm_exact_reduce(&t->sum) < 0 || train_check_summed(&t->sum, step) < 0)
        return RL_ERR;
    comm_exact_read(&t->sum, 0, t->theta_grads, n, RL_FIXED_FRAC_BITS);
    rl_opt_step(&t->opt, t->theta, t->theta_grads);
    if (t->model.n_stats) {
        comm_exact_read(&t->sum, n + 1, t->stats_sum, t->model.n_stats, RL_FIXED_FRAC_BITS);
        rl_model_update_stats(&t->model, t->stats_sum, t->bn_momentum);
    }
    for (size_t i = 0; t->mask && i < n; i++)
        t->theta[i] *= t->mask[i];
    if (t->lora)
        rl_lora_apply(t->lora, &t->model);
    t->epoch_loss += comm_exact_raw(&t->sum, n);
    return 0;
}

int dp_evaluate(dp_trainer *t, double *loss, double *acc) {
    return train_evaluate(&t->chunks, &t->test, 0, loss, acc);
}

int dp_epoch_summary(dp_trainer *t, double *train_loss, double *test_loss, double *test_acc) {
    float epoch_loss = comm_fixed_to_float(t->epoch_loss, RL_FIXED_SUM_FRAC_BITS);
    t->epoch_loss = 0;
    *train_loss = (double)epoch_loss / (double)t->train.n;
    return dp_evaluate(t, test_loss, test_acc);
}

/* Collective, after the last step of `epoch`: the head metrics of the epoch's row. */
static int set_head_metrics(rl_run *run, dp_trainer *t, int64_t epoch) {
    double train_loss, test_loss, test_acc;
    if (dp_epoch_summary(t, &train_loss, &test_loss, &test_acc) < 0)
        return RL_ERR;
    rl_run_set(run, "epoch", (double)(epoch + 1));
    rl_run_set(run, "train_loss", train_loss);
    rl_run_set(run, "test_loss", test_loss);
    rl_run_set(run, "test_acc", test_acc);
    return 0;
}

/* What rl_run_loop drives: the trainer and the experiment's hooks. */
typedef struct {
    dp_trainer *t;
    const dp_hooks *h;
} dp_loop;

static int loop_step(rl_run *run, void *ctx, int64_t step) {
    dp_loop *l = ctx;
    dp_trainer *t = l->t;
    int64_t per_epoch = t->batches.per_epoch;
    if ((l->h->step ? l->h->step(t, step, l->h->ctx) : dp_step(t, step)) < 0)
        return RL_ERR;
    if ((step + 1) % per_epoch != 0)
        return 0;
    int64_t epoch = step / per_epoch;
    if (set_head_metrics(run, t, epoch) < 0 ||
        (l->h->epoch_end && l->h->epoch_end(run, t, epoch, l->h->ctx) < 0))
        return RL_ERR;
    return rl_run_record(run, step + 1);
}

/* The name `prefix` + `name`, e.g. "peer/" "model/params". */
static const char *prefixed(char *out, size_t size, const char *prefix, const char *name) {
    snprintf(out, size, "%s%s", prefix, name);
    return out;
}

int dp_state_save(io_ckpt *c, const char *prefix, const float *theta, const rl_optimizer *opt,
                  size_t n_values, int64_t epoch_loss) {
    /* Every rank holds the same trained values and optimizer state; each writes its block. */
    int64_t n = (int64_t)n_values, lo, hi;
    comm_block_range(n, comm_size(), comm_rank(), &lo, &hi);
    int root = comm_rank() == 0;
    int64_t scalars[2] = {opt->t, epoch_loss};
    char name[64];
    int rc = io_ckpt_write(c, prefixed(name, sizeof name, prefix, "model/params"), IO_F32, n, lo,
                           hi - lo, theta + lo);
    rc = rc ? rc
            : io_ckpt_write(c, prefixed(name, sizeof name, prefix, "optim/m"), IO_F32, n, lo,
                            hi - lo, opt->m + lo);
    if (opt->v)
        rc = rc ? rc
                : io_ckpt_write(c, prefixed(name, sizeof name, prefix, "optim/v"), IO_F32, n, lo,
                                hi - lo, opt->v + lo);
    return rc ? rc
              : io_ckpt_write(c, prefixed(name, sizeof name, prefix, "train/scalars"), IO_I64, 2, 0,
                              root ? 2 : 0, scalars);
}

int dp_state_load(io_ckpt *c, const char *prefix, float *theta, rl_optimizer *opt, size_t n_values,
                  int64_t *epoch_loss) {
    int64_t n = (int64_t)n_values, scalars[2];
    char name[64];
    int rc = io_ckpt_size(c, prefixed(name, sizeof name, prefix, "model/params")) == n
                 ? 0
                 : rl_fail("the checkpoint holds another model", "delete the run directory");
    rc = rc ? rc : io_ckpt_read(c, name, IO_F32, 0, n, theta);
    rc = rc ? rc
            : io_ckpt_read(c, prefixed(name, sizeof name, prefix, "optim/m"), IO_F32, 0, n, opt->m);
    if (opt->v)
        rc = rc ? rc
                : io_ckpt_read(c, prefixed(name, sizeof name, prefix, "optim/v"), IO_F32, 0, n,
                               opt->v);
    rc = rc ? rc
            : io_ckpt_read(c, prefixed(name, sizeof name, prefix, "train/scalars"), IO_I64, 0, 2,
                           scalars);
    if (rc < 0)
        return RL_ERR;
    opt->t = scalars[0];
    *epoch_loss = scalars[1];
    return 0;
}

int dp_trainer_save(const dp_trainer *t, io_ckpt *c, const char *prefix) {
    /* "model/params" holds the values trained (the model's parameters, or its adapters);
     * "model/stats" the model's running statistics (batch norm), when it has any. */
    int rc = dp_state_save(c, prefix, t->theta, &t->opt, t->n_train, t->epoch_loss);
    int64_t n_stats = (int64_t)t->model.n_stats, lo, hi;
    comm_block_range(n_stats, comm_size(), comm_rank(), &lo, &hi);
    char name[64];
    if (n_stats)
        rc = rc ? rc
                : io_ckpt_write(c, prefixed(name, sizeof name, prefix, "model/stats"), IO_F32,
                                n_stats, lo, hi - lo, t->model.stats + lo);
    return rc;
}

int dp_trainer_load(dp_trainer *t, io_ckpt *c, const char *prefix) {
    char name[64];
    if (dp_state_load(c, prefix, t->theta, &t->opt, t->n_train, &t->epoch_loss) < 0 ||
        (t->model.n_stats &&
         io_ckpt_read(c, prefixed(name, sizeof name, prefix, "model/stats"), IO_F32, 0,
                      (int64_t)t->model.n_stats, t->model.stats) < 0))
        return RL_ERR;
    if (t->lora)
        rl_lora_apply(t->lora, &t->model);
    return 0;
}

static int loop_save(rl_run *run, void *ctx, io_ckpt *c, int64_t next) {
    (void)run;
    (void)next;
    dp_loop *l = ctx;
    int rc = dp_trainer_save(l->t, c, "");
    if (l->h->save)
        rc = rc ? rc : l->h->save(l->t, c, l->h->ctx);
    return rc;
}

static int loop_load(rl_run *run, void *ctx, io_ckpt *c, int64_t *next) {
    (void)run;
    dp_loop *l = ctx;
    if (dp_trainer_load(l->t, c, "") < 0 ||
        (l->h->load && l->h->load(l->t, c, *next, l->h->ctx) < 0))
        return RL_ERR;
    return 0;
}

static void loop_describe(rl_run *run, void *ctx, int64_t step, char *out, size_t n) {
    const dp_loop *l = ctx;
    char loss[32], acc[32];
    snprintf(out, n, "epoch %lld | train loss %s | test acc %s",
             (long long)(step / l->t->batches.per_epoch + 1),
             rl_run_last_text(run, "train_loss", loss, sizeof loss),
             rl_run_last_text(run, "test_acc", acc, sizeof acc));
}

/* adv.*: the evaluation attack and adversarial training. */
static int read_attack(dp_trainer *t, const rl_config *cfg) {
    rl_attack *a = &t->eval_attack;
    a->eps = (float)rl_cfg_float(cfg, "adv.eps");
    a->steps = (int)rl_cfg_int(cfg, "adv.pgd_steps");
    a->random_start = rl_cfg_bool(cfg, "adv.random_start");
    a->alpha = (float)rl_cfg_float(cfg, "adv.pgd_alpha");
    if (a->alpha == 0.0f)
        a->alpha = 2.5f * a->eps / (float)a->steps;
    t->attack_limit = rl_cfg_int(cfg, "adv.limit");
    if (a->eps > 0 && !t->train.x_u8)
        return rl_fail("adv.eps=%g: attacks clip inputs to [0, 1], which only pixels are "
                       "(data.name=%s)",
                       "use 8-bit images (data.name=fashion-mnist, cifar10, cifar100, or h5 with "
                       "uint8 x) or set adv.eps=0",
                       (double)a->eps, t->train.name);
    if (rl_cfg_bool(cfg, "adv.train")) {
        if (a->eps == 0)
            return rl_fail("adv.train=true needs an attack radius",
                           "set adv.eps, e.g. adv.eps=0.1");
        t->adv = *a;
    }
    return 0;
}

/* The values trained: the model's parameters, or (dp_use_adapters) its adapters. */
static void train_values(dp_trainer *t, float *theta, float *grads, size_t n) {
    t->theta = theta;
    t->theta_grads = grads;
    t->n_train = n;
    comm_exact_free(&t->sum);
    comm_exact_init(&t->sum, n + 1 + t->model.n_stats);
}

/* Everything but the data (t->train, t->test, already set): the model with parameters drawn
 * from init_seed (then init.from's when `from` is not empty), optimizer, buffers, batches and
 * the training options, from cfg. */
static int setup_trainer(dp_trainer *t, const rl_config *cfg, uint64_t seed, uint64_t init_seed,
                         const char *from) {
    if (rl_model_init(&t->model, rl_cfg_str(cfg, "model.spec")) < 0)
        return RL_ERR;
    int outputs = t->train.classes > 0 ? t->train.classes : t->train.targets;
    if (base_model_check_fit(&t->model, "model.spec", &t->train, outputs) < 0)
        return RL_ERR;
    rl_model_init_params(&t->model, init_seed);
    float init_scale = (float)rl_cfg_float(cfg, "model.init_scale");
    rl_model_scale_weights(&t->model, init_scale);
    if (from[0] && init_scale != 1.0f)
        return rl_fail("model.init_scale=%g scales a fresh initialization, and init.from starts "
                       "from the finished run %s",
                       "leave model.init_scale at 1 with init.from", (double)init_scale, from);
    if (from[0] && base_model_load(&t->model, from, "init.from") < 0)
        return RL_ERR;
    int sgd = strcmp(rl_cfg_str(cfg, "train.optim"), "sgd") == 0;
    if (rl_opt_init(&t->opt, sgd ? RL_OPT_SGD : RL_OPT_ADAM, t->model.n_params,
                    (float)rl_cfg_float(cfg, "train.lr"),
                    (float)rl_cfg_float(cfg, "train.momentum"),
                    (float)rl_cfg_float(cfg, "train.weight_decay")) < 0)
        return RL_ERR;
    int batch = (int)rl_cfg_int(cfg, "train.batch");
    if (batch > t->train.n)
        return rl_fail("train.batch=%d is larger than the training set (%lld examples)",
                       "lower train.batch or raise data.train_limit", batch, (long long)t->train.n);
    if (rl_mem_check(
            sizeof(int64_t) * ((uint64_t)t->train.n + t->model.n_params + 1 + t->model.n_stats),
            "the order of %lld examples and the exact gradient sum", (long long)t->train.n) < 0 ||
        train_chunks_init(&t->chunks, &t->model, &t->train, (int)rl_cfg_int(cfg, "train.chunk")) <
            0)
        return RL_ERR;
    t->chunks.attack_rng = rl_rng_make(seed, RL_RNG_ATTACK);
    t->chunks.ws.dropout_rng = rl_rng_make(seed, RL_RNG_DROPOUT);
    t->loss = train_loss_for(&t->train);
    t->loss.label_smoothing = (float)rl_cfg_float(cfg, "train.label_smoothing");
    if (t->loss.label_smoothing > 0.0f && t->train.classes < 2)
        return rl_fail("train.label_smoothing=%g needs labelled data; data.name=%s has no classes",
                       "set train.label_smoothing=0, or use a classification data set",
                       (double)t->loss.label_smoothing, t->train.name);
    train_batches_init(&t->batches, t->train.n, batch, seed);
    if (rl_augment_read(&t->augment, cfg, seed, &t->train) < 0)
        return RL_ERR;
    int64_t epochs = rl_cfg_int(cfg, "train.epochs");
    t->total_steps = t->batches.per_epoch * epochs;
    train_values(t, t->model.params, t->model.grads, t->model.n_params);
    t->stats_sum = rl_xcalloc(t->model.n_stats, sizeof(float));
    t->bn_momentum = (float)rl_cfg_float(cfg, "train.bn_momentum");
    if (train_schedule_read(&t->lr, cfg, "train.lr", "train.lr_milestones", "train.lr_gamma",
                            epochs) < 0 ||
        read_attack(t, cfg) < 0)
        return RL_ERR;
    double alpha = rl_cfg_float(cfg, "train.mixup");
    if (alpha > 0.0 && t->train.classes < 2)
        return rl_fail("train.mixup=%g mixes labels; data.name=%s has no classes",
                       "set train.mixup=0, or use a classification data set", alpha, t->train.name);
    if (alpha > 0.0 && t->adv.eps > 0.0f)
        return rl_fail("train.mixup=%g with adv.train: mixing adversarial examples is not "
                       "implemented",
                       "set train.mixup=0 or adv.train=false", alpha);
    train_mixup_init(&t->mixup, alpha, batch, seed);
    return 0;
}

int dp_trainer_init(dp_trainer *t, const rl_config *cfg, uint64_t seed) {
    memset(t, 0, sizeof *t);
    if (rl_data_load(cfg, seed, &t->train, &t->test) < 0)
        return RL_ERR;
    return setup_trainer(t, cfg, seed, seed, rl_cfg_str(cfg, "init.from"));
}

int dp_trainer_init_peer(dp_trainer *peer, const dp_trainer *t, const rl_config *cfg, uint64_t seed,
                         uint64_t init_seed) {
    memset(peer, 0, sizeof *peer);
    peer->train = t->train;
    peer->test = t->test;
    peer->shares_data = 1;
    return setup_trainer(peer, cfg, seed, init_seed, "");
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
    train_values(t, t->lora->params, t->lora->grads, t->lora->n_params);
    t->chunks.lora = t->lora;
    rl_lora_apply(t->lora, &t->model);
    return 0;
}

/* Collective: finals attack_clean_acc, fgsm_acc and pgd_acc on the first adv.limit test
 * examples. */
static int write_attack_finals(rl_run *run, dp_trainer *t) {
    const rl_attack *pgd = &t->eval_attack;
    rl_attack fgsm = {.eps = pgd->eps, .alpha = pgd->eps, .steps = 1};
    double clean, acc_fgsm, acc_pgd;
    if (train_robust_accuracy(&t->chunks, &t->test, &fgsm, t->attack_limit, DP_ATTACK_ROUND_EVAL,
                              &clean, &acc_fgsm) < 0 ||
        train_robust_accuracy(&t->chunks, &t->test, pgd, t->attack_limit, DP_ATTACK_ROUND_EVAL,
                              &clean, &acc_pgd) < 0)
        return RL_ERR;
    int rc = rl_run_final(run, "attack_clean_acc", clean);
    rc = rc ? rc : rl_run_final(run, "fgsm_acc", acc_fgsm);
    rc = rc ? rc : rl_run_final(run, "pgd_acc", acc_pgd);
    if (rc == 0)
        rl_log_info("%s: ε = %g: clean accuracy %.2f %%, FGSM %.2f %%, PGD-%d %.2f %%",
                    rl_run_name(run), (double)pgd->eps, 100.0 * clean, 100.0 * acc_fgsm, pgd->steps,
                    100.0 * acc_pgd);
    return rc;
}

int dp_write_final(rl_run *run, dp_trainer *t, void *ctx) {
    (void)ctx;
    double train_loss = rl_run_last(run, "train_loss"), test_loss = rl_run_last(run, "test_loss"),
           test_acc = rl_run_last(run, "test_acc");
    int rc = rl_run_final(run, "train_loss", train_loss);
    rc = rc ? rc : rl_run_final(run, "test_loss", test_loss);
    rc = rc ? rc : rl_run_final(run, "test_acc", test_acc);
    rc = rc ? rc : rl_run_final(run, "steps", (double)t->total_steps);
    rc = rc ? rc
            : rl_run_final_array(run, "params", t->model.params, (int64_t)t->model.n_params,
                                 "model", t->model.spec);
    if (t->model.n_stats)
        rc = rc ? rc
                : rl_run_final_array(run, "bn_stats", t->model.stats, (int64_t)t->model.n_stats,
                                     "model", t->model.spec);
    if (rc == 0)
        rl_log_info("%s: test accuracy %.2f %%, test loss %.4f, train loss %.4f after %.0f "
                    "epochs (%lld steps, %.0f s)",
                    rl_run_name(run), 100.0 * test_acc, test_loss, train_loss,
                    rl_run_last(run, "epoch"), (long long)t->total_steps, rl_run_elapsed(run));
    if (comm_agree_error(rc) < 0)
        return RL_ERR;
    return t->eval_attack.eps > 0 ? write_attack_finals(run, t) : 0;
}

int dp_run(rl_run *run, const char *const *metric_names, int n_metrics, const dp_hooks *h) {
    dp_trainer t;
    const rl_config *cfg = rl_run_config(run);
    int rc = dp_trainer_init(&t, cfg, rl_run_seed(run));
    const char *from = rl_cfg_str(cfg, "init.from");
    if (rc == 0)
        base_model_record_inputs(run, &t.train, &t.test, "init.from", from[0] ? &t.model : NULL);
    if (rc == 0 && h->prepare)
        rc = h->prepare(run, &t, h->ctx);
    rc = comm_agree_error(rc);
    rc = rc ? rc : rl_run_start(run, metric_names, n_metrics);
    if (rc == 0) {
        dp_loop l = {&t, h};
        rl_loop loop = {.total = t.total_steps,
                        .step = loop_step,
                        .save = loop_save,
                        .load = loop_load,
                        .describe = loop_describe};
        rc = rl_run_loop(run, &loop, &l);
    }
    if (rc == 0)
        rc = comm_agree_error(h->finish ? h->finish(run, &t, h->ctx)
                                        : dp_write_final(run, &t, NULL));
    dp_trainer_free(&t);
    return rc;
}
