/* Experiment `gor-train`: data-parallel training with group orthogonalization regularization
 * (GOR, METHODS.md §4) and its baselines: no regularizer and plain soft orthogonality (SO, one
 * group). Three settings share the code: (a) training a model (e.g. a CNN with group norm) from
 * scratch, the penalty on its conv filters; (b) adapting a pretrained model (init.from) to a
 * shifted task (data.transform=mirror) with LoRA adapters, the penalty on the adapters' up-matrices
 * B — also a ViT's (vit: specs: adapters on q, v, fc1, fc2 and the head, e.g. pretrained on five
 * classes and adapted to the other five with data.classes_keep); (c) either of them with PGD
 * adversarial training (adv.train, adv.eps).
 *
 * The penalty λ Σ_matrices Σ_sets ‖W_g W_gᵀ − I‖²_F (kernels/gor.h: inter, the G groups; intra,
 * the s sets of one filter from each group) depends on the parameters only, so its terms are
 * split over ranks: the (matrix, set) pairs in a fixed global order are cut into blocks, each
 * rank adds the gradient of its block into the step's exact fixed-point sum
 * (dp_trainer.regularize). Every set touches its own rows, so results are bit-identical on any
 * number of ranks. */
#include "src/train/dp.h"
#include "kernels/gor.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"

#include <stdlib.h>
#include <string.h>

extern const char rl_ini_gor_train[];

static const rl_cfg_spec gor_keys[] = {
    {"gor.method", RL_CFG_CHOICE, "gor", 0, -1, "gor|so|none", 0,
     "regularizer: gor (groups of filters, gor.groups), so (soft orthogonality: one group), "
     "none"},
    {"gor.lambda", RL_CFG_FLOAT, "0.01", 0, 1e6, NULL, 0,
     "λ: the objective is the mean loss + λ · Σ_groups ‖W_g W_gᵀ − I‖²_F"},
    {"gor.groups", RL_CFG_INT, "0", 0, 1 << 20, NULL, 0,
     "groups per matrix G, dividing its rows (0: the authors' min(32, rows / 4), lowered to a "
     "divisor of rows)"},
    {"gor.grouping", RL_CFG_CHOICE, "inter", 0, -1, "inter|intra", 0,
     "inter: each of the G groups of s = rows / G contiguous filters is orthogonalized; intra "
     "(the authors' permute): s sets of G filters, one from each group (j, j + s, j + 2s, ...)"},
    {"gor.adapt", RL_CFG_BOOL, "false", 0, -1, NULL, 0,
     "train LoRA adapters of every dense and conv layer of the pretrained init.from model "
     "instead of the model (of a vit: model, of each block's q, v, fc1 and fc2 and of the class "
     "head); the penalty then applies to the adapters' up-matrices B (a ViT's head's excepted)"},
    {"gor.lora_rank", RL_CFG_INT, "4", 1, 1024, NULL, 0, "rank of the adapters (gor.adapt)"},
};

static const char *const metric_names[] = {DP_METRICS, "penalty", "so_penalty"};

/* One regularized matrix (rows, cols) at offset `off` of the trained values. */
typedef struct {
    size_t off;
    int rows, cols, groups;
} gor_matrix;

typedef struct {
    int n_matrices;
    gor_matrix matrices[RL_MAX_LAYERS];
    int intra;
    float lambda;
    int64_t n_terms, lo, hi; /* all (matrix, group) pairs; this rank's block [lo, hi) */
    float *scratch;          /* for the largest matrix with one group */
} gor_state;

static void gor_declare(rl_config *cfg) {
    dp_declare_config(cfg);
    rl_cfg_declare(cfg, gor_keys, sizeof gor_keys / sizeof gor_keys[0]);
}

/* The authors' G = min(32, rows / 4), lowered until it divides rows. */
static int auto_groups(int rows) {
    int g = rows / 4 < 32 ? rows / 4 : 32;
    while (g > 1 && rows % g != 0)
        g--;
    return g > 0 ? g : 1;
}

static int add_matrix(gor_state *s, size_t off, int rows, int cols, int groups_cfg, int so) {
    int groups = so ? 1 : groups_cfg > 0 ? groups_cfg : auto_groups(rows);
    if (rows % groups != 0)
        return rl_fail("gor.groups=%d does not divide a regularized matrix's %d rows",
                       "choose gor.groups dividing every conv layer's filters (or adapter's rows), "
                       "or gor.groups=0 for the authors' choice",
                       groups, rows);
    s->matrices[s->n_matrices++] = (gor_matrix){off, rows, cols, groups};
    return 0;
}

/* Collective-free: adds this rank's share of λ ∂P/∂θ into grads (dp_trainer.regularize). */
static void gor_regularize(const dp_trainer *t, float *grads, void *ctx) {
    const gor_state *s = ctx;
    int64_t first = 0;
    for (int k = 0; k < s->n_matrices; k++) {
        const gor_matrix *mx = &s->matrices[k];
        for (int g = 0; g < kern_gor_sets(mx->rows, mx->groups, s->intra); g++, first++)
            if (first >= s->lo && first < s->hi)
                kern_gor_group_penalty(t->theta + mx->off, mx->rows, mx->cols, mx->groups,
                                       s->intra, g, s->lambda, grads + mx->off, s->scratch);
    }
}

/* Σ over the matrices of P with their groups (groups) or one group (SO), replicated. */
static double gor_total(const gor_state *s, const dp_trainer *t, int one_group) {
    double total = 0.0;
    for (int k = 0; k < s->n_matrices; k++) {
        const gor_matrix *mx = &s->matrices[k];
        total +=
            kern_gor_penalty(t->theta + mx->off, mx->rows, mx->cols, one_group ? 1 : mx->groups,
                             one_group ? 0 : s->intra, 0.0f, NULL, s->scratch);
    }
    return total;
}

static int gor_prepare(rl_run *run, dp_trainer *t, void *ctx) {
    gor_state *s = ctx;
    const rl_config *cfg = rl_run_config(run);
    const char *method = rl_cfg_str(cfg, "gor.method");
    int so = strcmp(method, "so") == 0;
    int groups_cfg = (int)rl_cfg_int(cfg, "gor.groups");
    s->intra = !so && strcmp(rl_cfg_str(cfg, "gor.grouping"), "intra") == 0; /* SO: one set */
    s->lambda = (float)rl_cfg_float(cfg, "gor.lambda");
    if (t->train.classes < 2)
        return rl_fail("gor-train needs a classification data set; data.name=%s has no classes",
                       "use data.name=fashion-mnist or data.name=blobs", t->train.name);
    int adapt = rl_cfg_bool(cfg, "gor.adapt");
    if (adapt) {
        if (!rl_cfg_str(cfg, "init.from")[0])
            return rl_fail("gor.adapt=true adapts a pretrained model, and init.from is empty",
                           "set init.from to the directory of a finished train or gor-train run "
                           "with the same model.spec");
        if (dp_use_adapters(t, (int)rl_cfg_int(cfg, "gor.lora_rank"), rl_run_seed(run)) < 0)
            return RL_ERR;
        for (int i = 0; i < t->lora->n_adapted; i++) {
            const rl_lora_target *target = &t->lora->adapters[i].target;
            if (rl_model_is_vit(&t->model) && target->w_off == t->model.vit.head_w)
                continue; /* a ViT's class head is adapted to the new classes, not regularized */
            if (add_matrix(s, t->lora->adapters[i].b_off, target->rows, t->lora->rank, groups_cfg,
                           so) < 0)
                return RL_ERR;
        }
    } else {
        for (int l = 0; l < t->model.n_layers; l++) {
            const rl_layer *ly = &t->model.layers[l];
            if (ly->kind == RL_LAYER_CONV &&
                add_matrix(s, ly->w_off, ly->out_c, rl_layer_fan_in(ly), groups_cfg, so) < 0)
                return RL_ERR;
        }
        if (s->n_matrices == 0 && strcmp(method, "none") != 0)
            return rl_fail("gor.method=%s regularizes conv filters; model.spec %s has no conv "
                           "layer",
                           "use a cnn: model.spec (e.g. cnn:1x28x28-conv16k3-gn4-relu-maxpool2-"
                           "fc10), gor.adapt=true, or gor.method=none",
                           method, t->model.spec);
    }
    size_t most = 0;
    for (int k = 0; k < s->n_matrices; k++) {
        const gor_matrix *mx = &s->matrices[k];
        s->n_terms += kern_gor_sets(mx->rows, mx->groups, s->intra);
        size_t need = kern_gor_scratch_floats(mx->rows, mx->cols, 1, 0);
        most = need > most ? need : most;
    }
    if (rl_mem_check(rl_size_mul(most, sizeof(float)), "the GOR penalty's scratch") < 0)
        return rl_fail_hint("use fewer or smaller conv layers (or LoRA ranks) in model.spec");
    s->scratch = rl_xmalloc(sizeof(float) * (most ? most : 1));
    comm_block_range(s->n_terms, comm_size(), comm_rank(), &s->lo, &s->hi);
    if (strcmp(method, "none") != 0 && s->lambda > 0.0f) {
        t->regularize = gor_regularize;
        t->reg_ctx = s;
    }
    return 0;
}

static int gor_epoch_end(rl_run *run, dp_trainer *t, int64_t epoch, void *ctx) {
    (void)epoch;
    const gor_state *s = ctx;
    rl_run_set(run, "penalty", gor_total(s, t, 0));
    rl_run_set(run, "so_penalty", gor_total(s, t, 1));
    return 0;
}

static int gor_finish(rl_run *run, dp_trainer *t, void *ctx) {
    (void)ctx;
    double penalty = rl_run_last(run, "penalty"), so_penalty = rl_run_last(run, "so_penalty");
    int rc = dp_write_final(run, t, NULL);
    rc = rc ? rc : rl_run_final(run, "penalty", penalty);
    rc = rc ? rc : rl_run_final(run, "so_penalty", so_penalty);
    if (rc == 0)
        rl_log_info("%s: penalty %.4g with its groups, %.4g as one group (SO)", rl_run_name(run),
                    penalty, so_penalty);
    return rc;
}

static int gor_run(rl_run *run) {
    gor_state s;
    memset(&s, 0, sizeof s);
    dp_hooks hooks = {
        .ctx = &s, .prepare = gor_prepare, .epoch_end = gor_epoch_end, .finish = gor_finish};
    int rc = dp_run(run, metric_names, sizeof metric_names / sizeof metric_names[0], &hooks);
    free(s.scratch);
    return rc;
}

static const rl_experiment rl_experiment_gor_train = {
    .name = "gor-train",
    .summary = "group orthogonalization (GOR) vs SO: training, LoRA adapters, PGD-AT",
    .doc = "Trains model.spec with λ·Σ_g ‖W_g W_gᵀ − I‖²_F added to the loss (gor.method=gor:\n"
           "the filters of each conv layer in gor.groups groups G; gor.grouping=inter makes each\n"
           "group orthogonal, intra each set of one filter per group, as the authors' code;\n"
           "so: one group; none). gor.adapt=true instead trains LoRA adapters (gor.lora_rank)\n"
           "of the init.from model, the penalty on their up-matrices, e.g. on a shifted task\n"
           "(data.transform=mirror) or, for a vit: model, new classes (data.classes_keep). "
           "adv.train=true trains on PGD examples; adv.eps > 0\n"
           "reports FGSM and PGD accuracy. The penalty's sets are split over ranks; results\n"
           "are bit-identical on any number of ranks. Metrics per epoch: train/test loss, test\n"
           "accuracy, penalty (with the run's groups, unscaled) and so_penalty (one group).\n"
           "See experiments/gor-train.md.",
    .default_ini = rl_ini_gor_train,
    .declare = gor_declare,
    .check = dp_check_config,
    .run = gor_run,
};

RL_EXPERIMENT(rl_experiment_gor_train)
