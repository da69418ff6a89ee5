/* Experiment `zoqo-attack`: untargeted black-box ℓ∞ attacks (METHODS.md §1) on the model (an MLP
 * or a CNN) of a `train` run (init.from, pretrained here when none is given), as an fp32 victim or
 * as its int8 quantization (integer forward, kernels/int8.h).
 *
 * Protocol: the first attack.images test images the victim classifies correctly are attacked,
 * each by every method of attack.methods (src/nn/blackbox.h: ZOQO on the 8-bit pixel grid, fp32
 * ZO-SignSGD, SignHunter) at every radius of attack.eps, counting every forward pass of the
 * victim (the clean one included) up to attack.max_queries; a success records its query count,
 * a failure -1. The perturbations of image i come from (seed, RL_RNG_PERTURB) with counter
 * (step, i), so an image's attack depends on nothing else.
 * Ranks: the attacked images are split in blocks; per-image results are gathered, so every
 * output is the same on any number of ranks. Checkpoints between images hold the per-image
 * results so far; a resumed run (on any number of ranks) attacks only the images not done.
 * Outputs: one metrics row per (method, ε); /final success rates, mean and median queries of
 * successes; /arrays/queries_<method>_eps<ε> per image; the ZOQO attack's adversarial images of
 * the first attack.save_images images as pixel codes (adv_zoqo_eps<ε>, beside clean_images). */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
#include "src/data/data.h"
#include "src/nn/blackbox.h"
#include "src/nn/nn.h"
#include "src/nn/qmodel.h"
#include "src/run/run.h"
#include "src/train/base_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rl_ini_zoqo_attack[];

#define MAX_METHODS RL_BLACKBOX_METHODS
#define MAX_EPS 8
#define CALIB_EXAMPLES 512 /* training images that calibrate the int8 victim's activations */
#define NOT_DONE (-2)      /* per-image result not computed yet (-1: failure) */

static const rl_cfg_spec attack_keys[] = {
    {"attack.victim", RL_CFG_CHOICE, "fp32", 0, -1, "fp32|int8", 0,
     "the victim: the fp32 model, or its 8-bit quantization with an integer forward (MLPs, and "
     "CNNs of conv, relu, pool and fc layers: int8 im2col convolutions)"},
    {"attack.methods", RL_CFG_STRING, "zoqo,sign,signhunter", 0, -1, NULL, 0,
     "comma list of attacks: zoqo (8-bit grid), sign (fp32 ZO-SignSGD), signhunter"},
    {"attack.eps", RL_CFG_STRING, "0.05,0.1,0.2", 0, -1, NULL, 0,
     "comma list of l-inf radii, each in [1/255, 127/255]"},
    {"attack.images", RL_CFG_INT, "200", 1, 1e6, NULL, 0,
     "images attacked: the first ones of the test set the victim classifies correctly"},
    {"attack.max_queries", RL_CFG_INT, "10000", 2, 1e9, NULL, 0,
     "query cap per image, the clean forward included"},
    {"attack.loss", RL_CFG_CHOICE, "margin", 0, -1, "margin|ce", 0,
     "loss ascended: margin max_{j!=y} z_j - z_y, or cross-entropy of the true label"},
    {"attack.zoqo_m", RL_CFG_INT, "4", 1, 127, NULL, 0,
     "ZOQO perturbation magnitude, in pixel codes (1/255)"},
    {"attack.zoqo_c", RL_CFG_INT, "1", 1, 127, NULL, 0, "ZOQO step, in pixel codes (1/255)"},
    {"attack.zoqo_dist", RL_CFG_CHOICE, "rademacher", 0, -1, "rademacher|uniform", 0,
     "ZOQO perturbation per pixel: +-m, or uniform in {-m..m} (zeros possible)"},
    {"attack.sign_dist", RL_CFG_CHOICE, "gaussian", 0, -1, "gaussian|rademacher", 0,
     "fp32 ZO-SignSGD perturbation per pixel: N(0, 1), or +-1 (scaled by attack.sign_mu)"},
    {"attack.sign_mu", RL_CFG_FLOAT, "0", 0, 1, NULL, 0,
     "fp32 ZO-SignSGD smoothing radius; 0: attack.zoqo_m / 255"},
    {"attack.sign_lr", RL_CFG_FLOAT, "0", 0, 1, NULL, 0,
     "fp32 ZO-SignSGD step; 0: attack.zoqo_c / 255"},
    {"attack.save_images", RL_CFG_INT, "10", 0, 1e6, NULL, 0,
     "save the ZOQO attack's adversarial images of the first N attacked images"},
};

static void attack_declare(rl_config *cfg) {
    rl_declare_common_config(cfg);
    rl_data_declare_config(cfg);
    base_model_declare_config(cfg, 1);
    rl_cfg_declare(cfg, attack_keys, sizeof attack_keys / sizeof attack_keys[0]);
}

static const char *const metric_names[] = {
    "method", "eps", "images", "successes", "success_rate", "mean_queries", "median_queries"};

/* The classifier under attack, one image per forward pass. */
typedef struct {
    int int8;
    rl_model fp;
    rl_workspace ws;
    rl_qmodel q;
    rl_qworkspace qws;
} victim;

typedef struct {
    const rl_config *cfg;
    rl_dataset train, test;
    victim v;
    rl_blackbox attacker;
    int n_methods, n_eps, n_combos; /* combo c = method c / n_eps at radius c % n_eps */
    rl_blackbox_method methods[MAX_METHODS];
    double eps[MAX_EPS];
    int dim, classes;
    /* the attacked images and their results */
    int64_t n_sel, scanned, n_save;
    int64_t *selected; /* (n_sel) test indices */
    int64_t *queries;  /* (n_sel, n_combos): queries at success, -1 failure, NOT_DONE */
    int8_t *adv;       /* (n_save, n_eps, dim) the ZOQO attack's final δ, in pixel codes */
    float *image;      /* (dim) the test image being scanned or attacked */
} attack;

static int victim_init(attack *a, const rl_model *base) {
    victim *v = &a->v;
    v->int8 = !strcmp(rl_cfg_str(a->cfg, "attack.victim"), "int8");
    if (!v->int8) {
        if (rl_model_init(&v->fp, base->spec) < 0)
            return RL_ERR;
        memcpy(v->fp.params, base->params, sizeof(float) * base->n_params);
        return rl_workspace_init(&v->ws, &v->fp, 2);
    }
    rl_qmodel_options opt = {.bits = 8, .target = RL_QTRAIN_LAST};
    int calib = a->train.n < CALIB_EXAMPLES ? (int)a->train.n : CALIB_EXAMPLES;
    float *calib_x = rl_xmalloc(sizeof(float) * (size_t)calib * (size_t)a->dim); // (calib, dim)
    rl_data_rows(&a->train, 0, calib, calib_x);
    int rc = rl_qmodel_quantize(&v->q, base, &opt, calib_x, calib);
    free(calib_x);
    if (rc < 0 && rl_qmodel_check(base) < 0)
        return rl_fail_hint("attack.victim=int8 needs a model of dense, conv, relu and pool layers "
                            "ending with fc; attack the fp32 model (attack.victim=fp32)");
    return rc < 0 ? RL_ERR : rl_qworkspace_init(&v->qws, &v->q, 2);
}

static void victim_free(victim *v) {
    rl_model_free(&v->fp);
    rl_workspace_free(&v->ws);
    rl_qmodel_free(&v->q);
    rl_qworkspace_free(&v->qws);
}

/* rl_blackbox_logits_fn: logits (rows, classes) of images x (rows, dim), rows <= 2. */
static const float *victim_logits(void *ctx, const float *x, int rows) {
    victim *v = ctx;
    if (v->int8)
        return rl_qmodel_forward(&v->q, &v->qws, v->q.trainable, x, rows);
    return rl_model_forward(&v->fp, &v->ws, x, rows);
}

/* Attack selected image `sel` with combo c; its result goes to queries[sel, c]. */
static void attack_image(attack *a, int64_t sel, int c) {
    rl_blackbox_method method = a->methods[c / a->n_eps];
    int e = c % a->n_eps;
    int64_t index = a->selected[sel];
    int8_t *adv = NULL;
    if (method == RL_BLACKBOX_ZOQO && sel < a->n_save)
        adv = a->adv + ((size_t)sel * (size_t)a->n_eps + (size_t)e) * (size_t)a->dim;
    rl_data_rows(&a->test, index, 1, a->image);
    a->queries[sel * a->n_combos + c] = rl_blackbox_attack(
        &a->attacker, method, a->image, a->test.y[index], (uint32_t)index, a->eps[e], adv);
}

static int parse_methods(attack *a, const rl_config *cfg) {
    char **items;
    int n;
    if (rl_cfg_list(cfg, "attack.methods", MAX_METHODS, &items, &n) < 0)
        return RL_ERR;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        int m = 0;
        while (m < MAX_METHODS && strcmp(items[i], rl_blackbox_method_names[m]))
            m++;
        if (m == MAX_METHODS)
            rc = rl_fail("attack.methods: unknown attack '%s'",
                         "attacks are zoqo, sign and signhunter", items[i]);
        else
            a->methods[a->n_methods++] = (rl_blackbox_method)m;
    }
    rl_cfg_list_free(items, n);
    return rc;
}

/* The ε part of the names of an attack's finals ("success_zoqo_eps0.1"). */
static void eps_text(double eps, char *out, size_t size) {
    snprintf(out, size, "%g", eps);
}

static int parse_eps(attack *a, const rl_config *cfg) {
    char **items;
    int n;
    if (rl_cfg_list(cfg, "attack.eps", MAX_EPS, &items, &n) < 0)
        return RL_ERR;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        char *end, name[32], other[32];
        double e = strtod(items[i], &end);
        if (*end || !(e >= 1.0 / 255 - 1e-12 && e <= 127.0 / 255)) {
            rc = rl_fail("attack.eps: '%s' is not a radius in [1/255, 127/255]",
                         "radii are in image units, e.g. attack.eps=0.05,0.1,0.2", items[i]);
            break;
        }
        /* Two radii that name the same finals would collide only when the work is done. */
        eps_text(e, name, sizeof name);
        for (int k = 0; rc == 0 && k < a->n_eps; k++) {
            eps_text(a->eps[k], other, sizeof other);
            if (!strcmp(name, other))
                rc = rl_fail("attack.eps lists the radius %s twice ('%s' and '%s')",
                             "list each radius once", name, items[k], items[i]);
        }
        a->eps[a->n_eps++] = e;
    }
    rl_cfg_list_free(items, n);
    return rc;
}

/* The first attack.images test images the victim classifies correctly (one query each). */
static int select_images(attack *a) {
    int64_t want = rl_cfg_int(a->cfg, "attack.images");
    a->selected = rl_xmalloc(sizeof(int64_t) * (size_t)want);
    int64_t i = 0;
    for (; i < a->test.n && a->n_sel < want; i++) {
        rl_data_rows(&a->test, i, 1, a->image);
        const float *x = a->image;
        for (int j = 0; j < a->dim; j++) {
            float v = x[j] * 255.0f;
            if (!(v >= 0.0f && v <= 255.0f) || (float)lrintf(v) / 255.0f != x[j])
                return rl_fail("test image %lld is not on the 8-bit pixel grid of [0, 1] "
                               "(pixel %d = %g)",
                               "zoqo-attack attacks images: use data.name=fashion-mnist",
                               (long long)i, j, (double)x[j]);
        }
        if (rl_count_correct(victim_logits(&a->v, x, 1), &a->test.y[i], 1, a->classes))
            a->selected[a->n_sel++] = i;
    }
    a->scanned = i;
    if (a->n_sel < want)
        return rl_fail("attack.images=%lld, but the victim classifies only %lld of the %lld "
                       "test images correctly",
                       "lower attack.images or raise data.test_limit", (long long)want,
                       (long long)a->n_sel, (long long)a->test.n);
    return 0;
}

static int prepare(rl_run *run, attack *a) {
    const rl_config *cfg = rl_run_config(run);
    a->cfg = cfg;
    if (parse_methods(a, cfg) < 0 || parse_eps(a, cfg) < 0)
        return RL_ERR;
    a->n_combos = a->n_methods * a->n_eps;
    if (rl_data_load(cfg, rl_run_seed(run), &a->train, &a->test) < 0)
        return RL_ERR;
    if (a->test.classes == 0)
        return rl_fail("zoqo-attack needs a classification dataset, not %s",
                       "use data.name=fashion-mnist", a->test.name);
    a->dim = a->test.dim;
    a->image = rl_xmalloc(sizeof(float) * (size_t)a->dim);
    a->classes = a->test.classes;
    rl_model base;
    memset(&base, 0, sizeof base);
    int rc = base_model_get(cfg, rl_cfg_str(cfg, "init.from"),
                            rl_cfg_int(cfg, "init.pretrain_epochs"), &a->test, &base);
    if (rc == 0)
        base_model_record_inputs(run, &a->train, &a->test, "base model", &base);
    rc = rc ? rc : victim_init(a, &base);
    rl_model_free(&base);
    if (rc != 0)
        return rc;
    if (select_images(a) < 0)
        return RL_ERR;
    int64_t save = rl_cfg_int(cfg, "attack.save_images");
    a->n_save = save < a->n_sel ? save : a->n_sel;
    size_t n = (size_t)a->dim;
    /* queries (n_sel, n_combos) int64; adv (n_save, n_eps, dim) pixel codes */
    uint64_t bytes = rl_size_add(rl_size_mul((uint64_t)a->n_sel, sizeof(int64_t) * a->n_combos),
                                 rl_size_mul((uint64_t)a->n_save, (uint64_t)a->n_eps * n));
    if (rl_mem_check(bytes, "the results of %lld images and %lld saved adversarial images",
                     (long long)a->n_sel, (long long)a->n_save) < 0)
        return rl_fail_hint("lower attack.images or attack.save_images");
    a->queries = rl_xmalloc(sizeof(int64_t) * (size_t)(a->n_sel * a->n_combos));
    for (int64_t i = 0; i < a->n_sel * a->n_combos; i++)
        a->queries[i] = NOT_DONE;
    a->adv = rl_xcalloc((size_t)a->n_save * (size_t)a->n_eps * n + 1, 1);
    rl_blackbox_options o = {
        .logits = victim_logits,
        .ctx = &a->v,
        .dim = a->dim,
        .classes = a->classes,
        .margin = !strcmp(rl_cfg_str(cfg, "attack.loss"), "margin"),
        .max_queries = rl_cfg_int(cfg, "attack.max_queries"),
        .zoqo_m = (int)rl_cfg_int(cfg, "attack.zoqo_m"),
        .zoqo_c = (int)rl_cfg_int(cfg, "attack.zoqo_c"),
        .zoqo_kind = !strcmp(rl_cfg_str(cfg, "attack.zoqo_dist"), "uniform")
                         ? KERN_PERTURB_UNIFORM
                         : KERN_PERTURB_RADEMACHER,
        .sign_kind = !strcmp(rl_cfg_str(cfg, "attack.sign_dist"), "rademacher")
                         ? KERN_PERTURB_RADEMACHER
                         : KERN_PERTURB_GAUSSIAN,
        .sign_mu = (float)rl_cfg_float(cfg, "attack.sign_mu"),
        .sign_lr = (float)rl_cfg_float(cfg, "attack.sign_lr"),
    };
    if (o.sign_mu == 0.0f)
        o.sign_mu = (float)o.zoqo_m / 255.0f;
    if (o.sign_lr == 0.0f)
        o.sign_lr = (float)o.zoqo_c / 255.0f;
    memcpy(o.key, rl_rng_make(rl_run_seed(run), RL_RNG_PERTURB).key, sizeof o.key);
    rl_blackbox_init(&a->attacker, &o);
    return 0;
}

static void attack_free(attack *a) {
    victim_free(&a->v);
    rl_data_free(&a->train);
    rl_data_free(&a->test);
    free(a->selected);
    free(a->queries);
    free(a->adv);
    free(a->image);
    rl_blackbox_free(&a->attacker);
}

/* The slice of the saved images a block [lo, hi) of attacked images owns: [*slo, *shi). */
static void save_range(const attack *a, int64_t lo, int64_t hi, int64_t *slo, int64_t *shi) {
    *slo = lo < a->n_save ? lo : a->n_save;
    *shi = hi < a->n_save ? hi : a->n_save;
}

/* In round j of combo c, every rank attacks the j-th image of its block [lo, hi) (if it has
 * one): step c · rounds + j of the loop. */
typedef struct {
    attack *a;
    int64_t lo, hi, rounds;
} attack_loop;

/* Every image's results so far, each rank writing its block. */
static int loop_save(rl_run *run, void *ctx, io_ckpt *c, int64_t next) {
    (void)run;
    (void)next;
    attack_loop *l = ctx;
    attack *a = l->a;
    int64_t shape[4] = {a->n_sel, a->n_combos, a->n_save, a->dim}, slo, shi;
    int64_t per_image = (int64_t)a->n_eps * a->dim;
    save_range(a, l->lo, l->hi, &slo, &shi);
    int rc = io_ckpt_write(c, "attack/shape", IO_I64, 4, 0, comm_rank() == 0 ? 4 : 0, shape);
    rc =
        rc ? rc
           : io_ckpt_write(c, "attack/queries", IO_I64, a->n_sel * a->n_combos, l->lo * a->n_combos,
                           (l->hi - l->lo) * a->n_combos, a->queries + l->lo * a->n_combos);
    rc = rc ? rc
            : io_ckpt_write(c, "attack/adv", IO_I8, a->n_save * per_image, slo * per_image,
                            (shi - slo) * per_image, a->adv + slo * per_image);
    return rc;
}

/* Every rank reads every image's results so far, then the rounds start over, skipping what is
 * done: so any rank count may resume. */
static int loop_load(rl_run *run, void *ctx, io_ckpt *c, int64_t *next) {
    (void)run;
    attack *a = ((attack_loop *)ctx)->a;
    int64_t shape[4] = {0, 0, 0, 0};
    int64_t per_image = (int64_t)a->n_eps * a->dim;
    int rc = io_ckpt_size(c, "attack/shape") == 4
                 ? io_ckpt_read(c, "attack/shape", IO_I64, 0, 4, shape)
                 : rl_fail("the checkpoint has no attack state", "delete the run directory");
    if (rc == 0 && (shape[0] != a->n_sel || shape[1] != a->n_combos || shape[2] != a->n_save ||
                    shape[3] != a->dim))
        rc =
            rl_fail("the checkpoint holds another selection of images", "delete the run directory");
    rc = rc ? rc : io_ckpt_read(c, "attack/queries", IO_I64, 0, a->n_sel * a->n_combos, a->queries);
    rc = rc ? rc : io_ckpt_read(c, "attack/adv", IO_I8, 0, a->n_save * per_image, a->adv);
    int64_t done = 0;
    for (int64_t i = 0; rc == 0 && i < a->n_sel * a->n_combos; i++)
        done += a->queries[i] != NOT_DONE;
    if (rc == 0)
        rl_log_info("zoqo-attack: %lld of %lld attacks done; the others follow", (long long)done,
                    (long long)(a->n_sel * a->n_combos));
    *next = 0;
    return rc;
}

static int loop_step(rl_run *run, void *ctx, int64_t step) {
    (void)run;
    attack_loop *l = ctx;
    int c = (int)(step / l->rounds);
    int64_t j = step % l->rounds;
    if (l->lo + j < l->hi && l->a->queries[(l->lo + j) * l->a->n_combos + c] == NOT_DONE)
        attack_image(l->a, l->lo + j, c);
    return 0;
}

static void loop_describe(rl_run *run, void *ctx, int64_t step, char *out, size_t n) {
    (void)run;
    const attack_loop *l = ctx;
    int c = (int)(step / l->rounds);
    snprintf(out, n, "%s eps %g", rl_blackbox_method_names[l->a->methods[c / l->a->n_eps]],
             l->a->eps[c % l->a->n_eps]);
}

/* Collective: every attack, then every rank holds every image's results. */
static int attack_all(rl_run *run, attack *a) {
    attack_loop l = {a, 0, 0, (a->n_sel + comm_size() - 1) / comm_size()};
    comm_block_range(a->n_sel, comm_size(), comm_rank(), &l.lo, &l.hi);
    rl_loop loop = {.total = l.rounds * a->n_combos,
                    .step = loop_step,
                    .save = loop_save,
                    .load = loop_load,
                    .describe = loop_describe};
    int rc = rl_run_loop(run, &loop, &l);
    if (rc < 0)
        return rc;
    int64_t slo, shi;
    save_range(a, l.lo, l.hi, &slo, &shi);
    if (comm_allgather_blocks(a->queries, sizeof(int64_t) * (size_t)a->n_combos, l.lo, l.hi) < 0 ||
        comm_allgather_blocks(a->adv, (size_t)a->n_eps * (size_t)a->dim, slo, shi) < 0)
        return RL_ERR;
    return 0;
}

static int compare_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Success rate and mean / median queries of the successes of combo c (NAN without any). */
static void combo_stats(const attack *a, int c, int64_t *successes, double *mean, double *median) {
    int64_t *q = rl_xmalloc(sizeof(int64_t) * (size_t)a->n_sel), n = 0;
    double sum = 0.0;
    for (int64_t i = 0; i < a->n_sel; i++) {
        int64_t v = a->queries[i * a->n_combos + c];
        if (v > 0) {
            q[n++] = v;
            sum += (double)v;
        }
    }
    qsort(q, (size_t)n, sizeof *q, compare_i64);
    *successes = n;
    *mean = n ? sum / (double)n : NAN;
    *median = n == 0       ? NAN
              : n % 2 == 1 ? (double)q[n / 2]
                           : 0.5 * (double)(q[n / 2 - 1] + q[n / 2]);
    free(q);
}

static void combo_name(const attack *a, int c, const char *prefix, char *out, size_t size) {
    char eps[32];
    eps_text(a->eps[c % a->n_eps], eps, sizeof eps);
    snprintf(out, size, "%s%s_eps%s", prefix, rl_blackbox_method_names[a->methods[c / a->n_eps]],
             eps);
}

/* Metrics rows (all ranks), then finals, arrays and the table (rank 0). */
static int write_results(rl_run *run, attack *a) {
    int rc = 0;
    for (int c = 0; c < a->n_combos && rc == 0; c++) {
        int64_t successes;
        double mean, median;
        combo_stats(a, c, &successes, &mean, &median);
        rl_run_set(run, "method", a->methods[c / a->n_eps]);
        rl_run_set(run, "eps", a->eps[c % a->n_eps]);
        rl_run_set(run, "images", (double)a->n_sel);
        rl_run_set(run, "successes", (double)successes);
        rl_run_set(run, "success_rate", (double)successes / (double)a->n_sel);
        rl_run_set(run, "mean_queries", mean);
        rl_run_set(run, "median_queries", median);
        rc = rl_run_record(run, c);
    }
    if (comm_rank() != 0 || rc < 0)
        return rc;
    rl_log_info("\nzoqo-attack: %s victim, %lld images (clean accuracy %.2f%% on the first "
                "%lld), cap %lld queries, %s loss\n%-11s %6s %9s %10s %10s",
                rl_cfg_str(a->cfg, "attack.victim"), (long long)a->n_sel,
                100.0 * (double)a->n_sel / (double)a->scanned, (long long)a->scanned,
                (long long)a->attacker.o.max_queries,
                a->attacker.o.margin ? "margin" : "cross-entropy", "attack", "eps", "success",
                "mean q", "median q");
    rc = rl_run_final(run, "images", (double)a->n_sel);
    rc = rc ? rc : rl_run_final(run, "clean_acc", (double)a->n_sel / (double)a->scanned);
    char name[96];
    float *buf = rl_xmalloc(sizeof(float) * (size_t)(a->n_sel + 1) * (size_t)a->dim);
    for (int c = 0; c < a->n_combos && rc == 0; c++) {
        double rate = rl_run_value(run, c, "success_rate"),
               mean = rl_run_value(run, c, "mean_queries"),
               median = rl_run_value(run, c, "median_queries");
        combo_name(a, c, "success_", name, sizeof name);
        rc = rl_run_final(run, name, rate);
        combo_name(a, c, "mean_queries_", name, sizeof name);
        rc = rc ? rc : rl_run_final(run, name, mean);
        combo_name(a, c, "median_queries_", name, sizeof name);
        rc = rc ? rc : rl_run_final(run, name, median);
        for (int64_t i = 0; i < a->n_sel; i++)
            buf[i] = (float)a->queries[i * a->n_combos + c];
        combo_name(a, c, "queries_", name, sizeof name);
        rc = rc ? rc : rl_run_final_array(run, name, buf, a->n_sel, "failure", "-1");
        rl_log_info("%-11s %6g %8.1f%% %10.1f %10.1f",
                    rl_blackbox_method_names[a->methods[c / a->n_eps]], a->eps[c % a->n_eps],
                    100.0 * rate, mean, median);
    }
    for (int64_t i = 0; i < a->n_sel; i++)
        buf[i] = (float)a->selected[i];
    rc = rc ? rc : rl_run_final_array(run, "selected", buf, a->n_sel, NULL, NULL);
    for (int64_t i = 0; i < a->n_sel; i++)
        buf[i] = (float)a->test.y[a->selected[i]];
    rc = rc ? rc : rl_run_final_array(run, "labels", buf, a->n_sel, NULL, NULL);
    /* Saved images as pixel codes 0..255: the clean ones and the ZOQO attack's. */
    size_t per = (size_t)a->dim, saved = (size_t)a->n_save * per;
    float *clean = rl_xmalloc(sizeof(float) * (saved + 1)); // (n_save, dim) pixel codes
    rl_data_gather(&a->test, a->selected, (int)a->n_save, clean, NULL, NULL);
    for (size_t k = 0; k < saved; k++)
        clean[k] = (float)lrintf(clean[k] * 255.0f);
    if (a->n_save > 0)
        rc = rc ? rc
                : rl_run_final_array(run, "clean_images", clean, (int64_t)saved, "shape",
                                     "(images, pixels), pixel codes 0..255");
    for (int m = 0; m < a->n_methods && a->n_save > 0; m++) {
        if (a->methods[m] != RL_BLACKBOX_ZOQO)
            continue;
        for (int e = 0; e < a->n_eps && rc == 0; e++) {
            for (int64_t i = 0; i < a->n_save; i++)
                for (size_t p = 0; p < per; p++) {
                    const int8_t *d = a->adv + ((size_t)i * (size_t)a->n_eps + (size_t)e) * per;
                    buf[(size_t)i * per + p] = clean[(size_t)i * per + p] + (float)d[p];
                }
            combo_name(a, m * a->n_eps + e, "adv_", name, sizeof name);
            rc = rl_run_final_array(run, name, buf, (int64_t)saved, "shape",
                                    "(images, pixels), pixel codes 0..255");
        }
    }
    free(clean);
    free(buf);
    return rc;
}

static int attack_run(rl_run *run) {
    attack a;
    memset(&a, 0, sizeof a);
    int rc = prepare(run, &a);
    if (rc != RL_STOPPED) /* a stopped pretraining stopped on every rank */
        rc = comm_agree_error(rc);
    rc = rc ? rc : rl_run_start(run, metric_names, sizeof metric_names / sizeof metric_names[0]);
    rc = rc ? rc : attack_all(run, &a);
    rc = rc ? rc : comm_agree_error(write_results(run, &a));
    attack_free(&a);
    return rc;
}

static const rl_experiment rl_experiment_zoqo_attack = {
    .name = "zoqo-attack",
    .summary = "black-box l-inf attacks (ZOQO on the 8-bit grid, ZO-SignSGD, SignHunter)",
    .doc = "Attacks the MLP of a train run (init.from, or pretrained now), as an fp32 or an\n"
           "int8 victim (attack.victim), on the first attack.images test images it classifies\n"
           "correctly: untargeted, l-inf radius attack.eps, every forward pass counted (the\n"
           "clean one included), at most attack.max_queries per image. Attacks: ZOQO (the\n"
           "perturbation on the 8-bit pixel grid, integer perturbations and steps), fp32\n"
           "ZO-SignSGD, SignHunter. Ranks split the images; results are the same on any number\n"
           "of ranks. Prints success rate and mean / median queries of successes per attack\n"
           "and radius; per-image query counts (-1: failure) go to /arrays.",
    .default_ini = rl_ini_zoqo_attack,
    .declare = attack_declare,
    .run = attack_run,
};

RL_EXPERIMENT(rl_experiment_zoqo_attack)
