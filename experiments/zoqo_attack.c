/* Experiment `zoqo-attack`: untargeted black-box ℓ∞ attacks (METHODS.md §1) on the MLP of a
 * `train` run (init.from, pretrained here when none is given), as an fp32 victim or as its
 * int8 quantization (integer forward, kernels/int8.h).
 *
 * Protocol: the first attack.images test images the victim classifies correctly are attacked;
 * every forward pass of the victim is a query, the clean one included (so an image's count
 * starts at 1); an attack stops at the first query whose prediction (first maximum of the
 * logits) differs from the label — a success, its query count recorded — or when
 * attack.max_queries are spent — a failure, recorded as -1. The loss ascended is the margin
 * max_{j≠y} z_j − z_y of the logits z, or the cross-entropy of the true label (attack.loss).
 * Methods (attack.methods), each from δ = 0 (SignHunter from δ = ε·1):
 *   zoqo        δ on the 8-bit pixel grid: integer codes in [−E, E], E = ⌊ε·255⌋, the image
 *               x_adv = clamp(x_code + δ, 0, 255) / 255. A step draws u (±m codes, Rademacher,
 *               or uniform in {−m..m}), queries clamp(δ ± u), and moves δ by c codes along
 *               sign(ℓ⁺ − ℓ⁻)·sign(u), clamped to the ball and the pixel range; a tie ℓ⁺ = ℓ⁻
 *               gives no step. Two queries per step (one forward pass of two images), and
 *               success is checked on them.
 *   sign        fp32 ZO-SignSGD: the same with δ continuous in [−ε, ε], u ~ N(0, 1) (or ±1,
 *               attack.sign_dist) scaled by μ, and a step of lr·sign(ℓ⁺ − ℓ⁻)·sign(u).
 *   signhunter  Al-Dujaili & O'Reilly (2020): δ = ε·s, s = all +1 first; flip the signs of
 *               chunk i of 2^h equal chunks (h = 0, 1, ..., ⌈log2 n⌉, then again from 0),
 *               keeping a flip when the loss does not decrease. One query per flip.
 * Randomness: perturbation of step t for image i (its test index) is regenerated from
 * (seed, RL_RNG_PERTURB) with counter (t, i), so an image's attack depends on nothing else.
 * Ranks: the attacked images are split in blocks; per-image results are gathered, so every
 * output is the same on any number of ranks. Checkpoints between images hold the per-image
 * results so far; a resumed run (on any number of ranks) attacks only the images not done.
 * Outputs: one metrics row per (method, ε); /final success rates, mean and median queries of
 * successes; /arrays/queries_<method>_eps<ε> per image; the ZOQO attack's adversarial images of
 * the first attack.save_images images as pixel codes (adv_zoqo_eps<ε>, beside clean_images). */
#include "src/train/base_model.h"
#include "src/run/run.h"
#include "kernels/perturb.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
#include "src/data/data.h"
#include "src/nn/nn.h"
#include "src/nn/qmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rl_ini_zoqo_attack[];

#define MAX_METHODS 3
#define MAX_EPS 8
#define CALIB_EXAMPLES 512 /* training images that calibrate the int8 victim's activations */
#define NOT_DONE (-2)      /* per-image result not computed yet (-1: failure) */

static const rl_cfg_spec attack_keys[] = {
    {"attack.victim", RL_CFG_CHOICE, "fp32", 0, -1, "fp32|int8", 0,
     "the victim: the fp32 MLP, or its 8-bit quantization with an integer forward"},
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

typedef enum { METHOD_ZOQO, METHOD_SIGN, METHOD_SIGNHUNTER } method_kind;
static const char *const method_names[] = {"zoqo", "sign", "signhunter"};

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
    uint32_t key[2];                /* the (seed, RL_RNG_PERTURB) stream */
    int n_methods, n_eps, n_combos; /* combo c = method c / n_eps at radius c % n_eps */
    method_kind methods[MAX_METHODS];
    double eps[MAX_EPS];
    int margin, zoqo_m, zoqo_c;
    kern_perturb_kind zoqo_kind, sign_kind;
    float sign_mu, sign_lr;
    int64_t cap;
    int dim, classes;
    /* the attacked images and their results */
    int64_t n_sel, scanned, n_save;
    int64_t *selected; /* (n_sel) test indices */
    int64_t *queries;  /* (n_sel, n_combos): queries at success, -1 failure, NOT_DONE */
    int8_t *adv;       /* (n_save, n_eps, dim) the ZOQO attack's final δ, in pixel codes */
    /* one image's scratch */
    float *x_adv;                      /* (2, dim) the queried images */
    float *fdelta, *fwork, *flo, *fhi; /* (dim) */
    int8_t *delta, *dwork;             /* (dim), (2, dim) */
    int16_t *xcode, *clo, *chi;        /* (dim) */
    int8_t *signs;                     /* (dim) SignHunter's s */
    int32_t *votes;                    /* (dim) */
} attack;

/* The state of one image's attack: its label, the queries spent, whether one succeeded and
 * which row of the last batch of queries did. */
typedef struct {
    int label;
    int64_t queries;
    int success, hit;
} image_state;

static int victim_init(attack *a, const rl_model *base) {
    victim *v = &a->v;
    v->int8 = !strcmp(rl_cfg_str(a->cfg, "attack.victim"), "int8");
    if (!v->int8) {
        if (rl_model_init(&v->fp, base->spec) < 0)
            return RL_ERR;
        memcpy(v->fp.params, base->params, sizeof(float) * base->n_params);
        return rl_workspace_init(&v->ws, &v->fp, 2);
    }
    rl_qmodel_options opt = {8, RL_QTRAIN_LAST, 0, 0.0f, 0};
    int calib = a->train.n < CALIB_EXAMPLES ? (int)a->train.n : CALIB_EXAMPLES;
    if (rl_qmodel_quantize(&v->q, base, &opt, a->train.x, calib) < 0)
        return RL_ERR;
    return rl_qworkspace_init(&v->qws, &v->q, 2);
}

static void victim_free(victim *v) {
    rl_model_free(&v->fp);
    rl_workspace_free(&v->ws);
    rl_qmodel_free(&v->q);
    rl_qworkspace_free(&v->qws);
}

/* Logits (rows, classes) of images x (rows, dim), rows <= 2. */
static const float *victim_logits(victim *v, const float *x, int rows) {
    if (v->int8)
        return rl_qmodel_forward(&v->q, &v->qws, v->q.trainable, x, rows);
    return rl_model_forward(&v->fp, &v->ws, x, rows);
}

/* Queries: one forward pass of the victim on images x (rows, dim), rows = 1 or 2 (the two
 * points of a ZO step go in one pass), each row counted as a query. Notes a changed prediction
 * (the first such row in s->hit); loss (rows) receives the losses to ascend. */
static void query(attack *a, image_state *s, const float *x, int rows, double *loss) {
    const float *logits = victim_logits(&a->v, x, rows);
    for (int r = 0; r < rows; r++) {
        const float *z = logits + (size_t)r * (size_t)a->classes;
        s->queries++;
        if (!s->success && rl_count_correct(z, &s->label, 1, a->classes) == 0) {
            s->success = 1;
            s->hit = r;
        }
        if (!a->margin) {
            loss[r] = rl_loss_softmax_ce(z, &s->label, NULL, 1, a->classes, 0.0f, NULL, NULL);
            continue;
        }
        double other = -INFINITY;
        for (int j = 0; j < a->classes; j++)
            if (j != s->label && z[j] > other)
                other = z[j];
        loss[r] = other - z[s->label];
    }
}

/* Queries an attack may still make for this image (0 once it succeeded), at most 2. */
static int queries_left(const attack *a, const image_state *s) {
    if (s->success)
        return 0;
    return a->cap - s->queries < 2 ? (int)(a->cap - s->queries) : 2;
}

static int eps_codes(double eps) {
    return (int)floor(eps * 255.0 + 1e-9);
}

static int sign_of(int32_t v) {
    return (v > 0) - (v < 0);
}

/* x_adv (dim) = clamp(x_code + δ, 0, 255) / 255, the data's own pixel values. */
static void codes_to_image(const attack *a, const int8_t *delta, float *x_adv) {
    for (int i = 0; i < a->dim; i++) {
        int v = a->xcode[i] + delta[i];
        x_adv[i] = (float)(v < 0 ? 0 : v > 255 ? 255 : v) / 255.0f;
    }
}

/* ZOQO: δ in codes on the 8-bit grid. adv (dim, or NULL) receives the δ of the image queried
 * last on success (else of the current iterate), as it acts on the image (pixel range applied). */
static void attack_zoqo(attack *a, image_state *s, uint32_t image, double eps, int8_t *adv) {
    const int n = a->dim, E = eps_codes(eps);
    for (int i = 0; i < n; i++) {
        a->clo[i] = (int16_t)(-a->xcode[i] > -E ? -a->xcode[i] : -E);
        a->chi[i] = (int16_t)(255 - a->xcode[i] < E ? 255 - a->xcode[i] : E);
    }
    memset(a->delta, 0, (size_t)n);
    int rows;
    for (uint32_t t = 0; (rows = queries_left(a, s)) > 0; t++) {
        double loss[2];
        for (int d = 0; d < rows; d++) {
            int8_t *point = a->dwork + (size_t)d * (size_t)n;
            kern_perturb_codes(point, a->delta, (size_t)n, a->key, t, image, a->zoqo_kind,
                               a->zoqo_m, d ? -1 : +1, E);
            codes_to_image(a, point, a->x_adv + (size_t)d * (size_t)n);
        }
        query(a, s, a->x_adv, rows, loss);
        if (s->success || rows < 2)
            break;
        int g = (loss[0] > loss[1]) - (loss[0] < loss[1]);
        if (g == 0) /* tie: no step */
            continue;
        memset(a->votes, 0, sizeof(int32_t) * (size_t)n);
        kern_perturb_vote(a->votes, (size_t)n, a->key, t, image, a->zoqo_kind, a->zoqo_m, g);
        for (int i = 0; i < n; i++) {
            int v = a->delta[i] + a->zoqo_c * sign_of(a->votes[i]);
            a->delta[i] = (int8_t)(v < a->clo[i] ? a->clo[i] : v > a->chi[i] ? a->chi[i] : v);
        }
    }
    const int8_t *last = s->success ? a->dwork + (size_t)s->hit * (size_t)n : a->delta;
    for (int i = 0; adv && i < n; i++) {
        int v = a->xcode[i] + last[i];
        adv[i] = (int8_t)((v < 0 ? 0 : v > 255 ? 255 : v) - a->xcode[i]);
    }
}

/* fp32 ZO-SignSGD: δ continuous in the ball, Gaussian perturbations of radius μ. */
static void attack_sign(attack *a, image_state *s, const float *x, uint32_t image, double eps) {
    const int n = a->dim;
    const float e = (float)eps;
    for (int i = 0; i < n; i++) {
        a->flo[i] = fmaxf(-e, -x[i]);
        a->fhi[i] = fminf(e, 1.0f - x[i]);
    }
    memset(a->fdelta, 0, sizeof(float) * (size_t)n);
    int rows;
    for (uint32_t t = 0; (rows = queries_left(a, s)) > 0; t++) {
        double loss[2];
        for (int d = 0; d < rows; d++) {
            float *point = a->x_adv + (size_t)d * (size_t)n;
            memcpy(a->fwork, a->fdelta, sizeof(float) * (size_t)n);
            kern_perturb_axpy(a->fwork, (size_t)n, a->key, t, image, a->sign_kind, 1,
                              d ? -a->sign_mu : a->sign_mu);
            for (int i = 0; i < n; i++)
                point[i] = fminf(fmaxf(x[i] + fminf(fmaxf(a->fwork[i], -e), e), 0.0f), 1.0f);
        }
        query(a, s, a->x_adv, rows, loss);
        if (s->success || rows < 2)
            break;
        int g = (loss[0] > loss[1]) - (loss[0] < loss[1]);
        if (g == 0)
            continue;
        memset(a->votes, 0, sizeof(int32_t) * (size_t)n);
        kern_perturb_vote(a->votes, (size_t)n, a->key, t, image, a->sign_kind, 1, g);
        for (int i = 0; i < n; i++) {
            float v = a->fdelta[i] + a->sign_lr * (float)sign_of(a->votes[i]);
            a->fdelta[i] = fminf(fmaxf(v, a->flo[i]), a->fhi[i]);
        }
    }
}

/* SignHunter: hierarchical sign flips of δ = ε·s, greedy on the loss. */
static void attack_signhunter(attack *a, image_state *s, const float *x, double eps) {
    const int n = a->dim;
    const float e = (float)eps;
    int levels = 0; /* ⌈log2 n⌉ */
    while ((1 << levels) < n)
        levels++;
    for (int i = 0; i < n; i++) {
        a->signs[i] = 1;
        a->x_adv[i] = fminf(x[i] + e, 1.0f);
    }
    double best, loss;
    query(a, s, a->x_adv, 1, &best);
    int h = 0, chunk_i = 0;
    while (queries_left(a, s) > 0) {
        int chunk = (n + (1 << h) - 1) >> h;
        int start = chunk_i * chunk, end = start + chunk < n ? start + chunk : n;
        for (int i = start; i < end; i++) {
            a->signs[i] = (int8_t)-a->signs[i];
            a->x_adv[i] = fminf(fmaxf(x[i] + e * a->signs[i], 0.0f), 1.0f);
        }
        query(a, s, a->x_adv, 1, &loss);
        if (loss >= best) {
            best = loss;
        } else {
            for (int i = start; i < end; i++) {
                a->signs[i] = (int8_t)-a->signs[i];
                a->x_adv[i] = fminf(fmaxf(x[i] + e * a->signs[i], 0.0f), 1.0f);
            }
        }
        if (++chunk_i == 1 << h || end == n) {
            chunk_i = 0;
            h = h == levels ? 0 : h + 1;
        }
    }
}

/* Attack selected image `sel` with combo c; its result goes to queries[sel, c]. */
static void attack_image(attack *a, int64_t sel, int c) {
    method_kind method = a->methods[c / a->n_eps];
    int e = c % a->n_eps;
    int64_t index = a->selected[sel];
    const float *x = a->test.x + index * a->dim;
    image_state s = {a->test.y[index], 1, 0, 0}; /* the clean query, made when selecting */
    for (int i = 0; i < a->dim; i++)
        a->xcode[i] = (int16_t)lrintf(x[i] * 255.0f);
    if (method == METHOD_ZOQO) {
        int8_t *adv = NULL;
        if (sel < a->n_save)
            adv = a->adv + ((size_t)sel * (size_t)a->n_eps + (size_t)e) * (size_t)a->dim;
        attack_zoqo(a, &s, (uint32_t)index, a->eps[e], adv);
    } else if (method == METHOD_SIGN) {
        attack_sign(a, &s, x, (uint32_t)index, a->eps[e]);
    } else {
        attack_signhunter(a, &s, x, a->eps[e]);
    }
    a->queries[sel * a->n_combos + c] = s.success ? s.queries : -1;
}

static int parse_methods(attack *a, const rl_config *cfg) {
    char **items;
    int n;
    if (rl_cfg_list(cfg, "attack.methods", MAX_METHODS, &items, &n) < 0)
        return RL_ERR;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        int m = 0;
        while (m < MAX_METHODS && strcmp(items[i], method_names[m]))
            m++;
        if (m == MAX_METHODS)
            rc = rl_fail("attack.methods: unknown attack '%s'",
                         "attacks are zoqo, sign and signhunter", items[i]);
        else
            a->methods[a->n_methods++] = (method_kind)m;
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
        const float *x = a->test.x + i * a->dim;
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
    rl_rng perturb = rl_rng_make(rl_run_seed(run), RL_RNG_PERTURB);
    memcpy(a->key, perturb.key, sizeof a->key);
    a->margin = !strcmp(rl_cfg_str(cfg, "attack.loss"), "margin");
    a->cap = rl_cfg_int(cfg, "attack.max_queries");
    a->zoqo_m = (int)rl_cfg_int(cfg, "attack.zoqo_m");
    a->zoqo_c = (int)rl_cfg_int(cfg, "attack.zoqo_c");
    a->zoqo_kind = !strcmp(rl_cfg_str(cfg, "attack.zoqo_dist"), "uniform")
                       ? KERN_PERTURB_UNIFORM
                       : KERN_PERTURB_RADEMACHER;
    a->sign_kind = !strcmp(rl_cfg_str(cfg, "attack.sign_dist"), "rademacher")
                       ? KERN_PERTURB_RADEMACHER
                       : KERN_PERTURB_GAUSSIAN;
    a->sign_mu = (float)rl_cfg_float(cfg, "attack.sign_mu");
    a->sign_lr = (float)rl_cfg_float(cfg, "attack.sign_lr");
    if (a->sign_mu == 0.0f)
        a->sign_mu = (float)a->zoqo_m / 255.0f;
    if (a->sign_lr == 0.0f)
        a->sign_lr = (float)a->zoqo_c / 255.0f;
    if (parse_methods(a, cfg) < 0 || parse_eps(a, cfg) < 0)
        return RL_ERR;
    a->n_combos = a->n_methods * a->n_eps;
    if (rl_data_load(cfg, rl_run_seed(run), &a->train, &a->test) < 0)
        return RL_ERR;
    if (a->test.classes == 0)
        return rl_fail("zoqo-attack needs a classification dataset, not %s",
                       "use data.name=fashion-mnist", a->test.name);
    a->dim = a->test.dim;
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
    a->x_adv = rl_xmalloc(sizeof(float) * 2 * n);
    a->fdelta = rl_xmalloc(sizeof(float) * n);
    a->fwork = rl_xmalloc(sizeof(float) * n);
    a->flo = rl_xmalloc(sizeof(float) * n);
    a->fhi = rl_xmalloc(sizeof(float) * n);
    a->delta = rl_xmalloc(n);
    a->dwork = rl_xmalloc(2 * n);
    a->xcode = rl_xmalloc(sizeof(int16_t) * n);
    a->clo = rl_xmalloc(sizeof(int16_t) * n);
    a->chi = rl_xmalloc(sizeof(int16_t) * n);
    a->signs = rl_xmalloc(n);
    a->votes = rl_xmalloc(sizeof(int32_t) * n);
    return 0;
}

static void attack_free(attack *a) {
    victim_free(&a->v);
    rl_data_free(&a->train);
    rl_data_free(&a->test);
    free(a->selected);
    free(a->queries);
    free(a->adv);
    free(a->x_adv);
    free(a->fdelta);
    free(a->fwork);
    free(a->flo);
    free(a->fhi);
    free(a->delta);
    free(a->dwork);
    free(a->xcode);
    free(a->clo);
    free(a->chi);
    free(a->signs);
    free(a->votes);
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
    rc = rc ? rc
            : io_ckpt_write(c, "attack/queries", IO_I64, a->n_sel * a->n_combos,
                            l->lo * a->n_combos, (l->hi - l->lo) * a->n_combos,
                            a->queries + l->lo * a->n_combos);
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
        rc = rl_fail("the checkpoint holds another selection of images",
                     "delete the run directory");
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
    snprintf(out, n, "%s eps %g", method_names[l->a->methods[c / l->a->n_eps]],
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
    snprintf(out, size, "%s%s_eps%s", prefix, method_names[a->methods[c / a->n_eps]], eps);
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
                (long long)a->cap, a->margin ? "margin" : "cross-entropy", "attack", "eps",
                "success", "mean q", "median q");
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
        rl_log_info("%-11s %6g %8.1f%% %10.1f %10.1f", method_names[a->methods[c / a->n_eps]],
                    a->eps[c % a->n_eps], 100.0 * rate, mean, median);
    }
    for (int64_t i = 0; i < a->n_sel; i++)
        buf[i] = (float)a->selected[i];
    rc = rc ? rc : rl_run_final_array(run, "selected", buf, a->n_sel, NULL, NULL);
    for (int64_t i = 0; i < a->n_sel; i++)
        buf[i] = (float)a->test.y[a->selected[i]];
    rc = rc ? rc : rl_run_final_array(run, "labels", buf, a->n_sel, NULL, NULL);
    /* Saved images as pixel codes 0..255: the clean ones and the ZOQO attack's. */
    size_t per = (size_t)a->dim;
    if (a->n_save > 0) {
        for (int64_t i = 0; i < a->n_save; i++)
            for (size_t p = 0; p < per; p++)
                buf[(size_t)i * per + p] =
                    (float)lrintf(a->test.x[a->selected[i] * a->dim + (int64_t)p] * 255.0f);
        rc = rc ? rc
                : rl_run_final_array(run, "clean_images", buf, a->n_save * (int64_t)per, "shape",
                                     "(images, pixels), pixel codes 0..255");
    }
    for (int m = 0; m < a->n_methods && a->n_save > 0; m++) {
        if (a->methods[m] != METHOD_ZOQO)
            continue;
        for (int e = 0; e < a->n_eps && rc == 0; e++) {
            for (int64_t i = 0; i < a->n_save; i++)
                for (size_t p = 0; p < per; p++) {
                    const int8_t *d = a->adv + ((size_t)i * (size_t)a->n_eps + (size_t)e) * per;
                    float clean =
                        (float)lrintf(a->test.x[a->selected[i] * a->dim + (int64_t)p] * 255.0f);
                    buf[(size_t)i * per + p] = clean + (float)d[p];
                }
            combo_name(a, m * a->n_eps + e, "adv_", name, sizeof name);
            rc = rl_run_final_array(run, name, buf, a->n_save * (int64_t)per, "shape",
                                    "(images, pixels), pixel codes 0..255");
        }
    }
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
