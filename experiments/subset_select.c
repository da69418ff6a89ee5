/* Experiment `subset-select`: which examples of an unlabeled pool to annotate (METHODS.md §3).
 *
 * The pool is the training set (its labels unused until the selected examples are "annotated").
 * Label-free features: PCA of the pool's pixels (src/select/select.h; covariance summed in fixed
 * point over chunks of RL_ROW_CHUNK rows, so the basis is the same on any rank count), or the
 * bottleneck of an MLP autoencoder trained on the pool (src/train/autoencoder.h; chunk gradients
 * summed in fixed point: the same weights on any rank count) — both centered on the pool mean —
 * or the uncentered post-ReLU backbone output of a SimCLR contrastive encoder trained on the pool
 * (src/train/simclr.h; data-parallel, exact), optionally cached in an HDF5 file.
 * For each budget B of subset.budgets a selector (subset.selector, src/select) picks B examples
 * (nested selectors once, for the largest budget); a linear softmax classifier on the whitened
 * features of the B labelled examples (full-batch gradient descent) and/or an MLP on their
 * pixels (full-batch Adam) is trained, replicated on every rank in a fixed order, and evaluated
 * on the test set (correct counts summed exactly over ranks). Ranks hold whole chunks of the
 * pool's rows; the selected ids are bit-identical on any rank count (select.h). One metrics row
 * per budget; the selected ids of budget B in /arrays/selected_B. A run takes seconds to
 * minutes: no checkpoints (a stopped run restarts; the feature cache keeps the encoder, which
 * is not checkpointed while it trains).
 */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
#include "src/data/data.h"
#include "src/io/io.h"
#include "src/nn/nn.h"
#include "src/run/run.h"
#include "src/select/select.h"
#include "src/train/autoencoder.h"
#include "src/train/base_model.h"
#include "src/train/chunks.h"
#include "src/train/features.h"
#include "src/train/simclr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rl_ini_subset_select[];

#define MAX_BUDGETS 32

static const rl_cfg_spec subset_keys[] = {
    {"subset.selector", RL_CFG_CHOICE, "norm", 0, -1,
     "random|norm|norm-gs|kcenter|kcenter-norm|typiclust|typiclust-norm|probcover|probcover-norm|"
     "norm-gs-sampled",
     0,
     "random; norm sampling ∝ ‖F‖; norm with Gram–Schmidt diversity (greedy: the largest residual "
     "norm; norm-gs-sampled: drawn ∝ the residual norm, the paper's randomized variant); k-center "
     "greedy; k-center "
     "with score d_min·‖F‖ (norm plug-in); TypiClust; TypiClust with score typicality·‖F‖; "
     "ProbCover; ProbCover with score (uncovered points in the δ-ball)·‖F‖"},
    {"subset.delta", RL_CFG_FLOAT, "0", 0, 1e30, NULL, 0,
     "ProbCover ball radius on the features; 0: the largest radius with purity >= "
     "subset.purity"},
    {"subset.purity", RL_CFG_FLOAT, "0.95", 1e-6, 1, NULL, 0,
     "ProbCover's automatic radius: fraction of sampled δ-balls holding one k-means cluster "
     "(K = the number of classes)"},
    {"subset.budgets", RL_CFG_STRING, "10,20,50,100,200,500,1000", 0, -1, NULL, 0,
     "comma-separated budgets B (examples selected and labelled), each <= the pool"},
    {"subset.encoder", RL_CFG_CHOICE, "pca", 0, -1, "pca|autoencoder|simclr", 0,
     "label-free features: PCA of the pixels (subset.pca_dim), or the bottleneck of an MLP "
     "autoencoder (subset.ae_*) trained on the pool, both centered on the pool mean (‖F‖ is "
     "then the distance from the mean); simclr: the uncentered post-ReLU backbone output of a "
     "SimCLR contrastive encoder (subset.simclr_*) trained on the pool"},
    {"subset.pca_dim", RL_CFG_INT, "32", 1, 784, NULL, 0, "PCA feature dimension"},
    {"subset.ae_spec", RL_CFG_STRING, "mlp:784-256-32-256-784", 0, -1, NULL, 0,
     "autoencoder (input and output: the data dimension); features: the output of its narrowest "
     "dense layer"},
    {"subset.ae_epochs", RL_CFG_INT, "10", 1, 1000, NULL, 0, "autoencoder training epochs"},
    {"subset.ae_batch", RL_CFG_INT, "256", 1, 100000, NULL, 0,
     "autoencoder batch (cut into chunks of train.chunk examples split over ranks)"},
    {"subset.ae_lr", RL_CFG_FLOAT, "0.001", 1e-8, 10, NULL, 0, "autoencoder Adam learning rate"},
    {"subset.ae_seed", RL_CFG_INT, "1", 0, 2147483647, NULL, 0,
     "autoencoder initialization and order (separate from run.seed, so seeds share one encoder)"},
    {"subset.simclr_spec", RL_CFG_STRING,
     "cnn:1x28x28-conv16k3-relu-maxpool2-conv32k3-relu-maxpool2-fc128-relu", 0, -1, NULL, 0,
     "the contrastive encoder's backbone, a cnn: spec ending in relu (no bn, no drop); features: "
     "its output"},
    {"subset.simclr_proj", RL_CFG_INT, "64", 1, 4096, NULL, 0,
     "outputs of the dense projection head after the backbone (the NT-Xent embedding)"},
    {"subset.simclr_epochs", RL_CFG_INT, "10", 1, 1000, NULL, 0,
     "contrastive training epochs over subset.simclr_images images"},
    {"subset.simclr_images", RL_CFG_INT, "20000", 2, 2147483647, NULL, 0,
     "the first this many pool images train the encoder (all if the pool is smaller); every "
     "pool image is encoded"},
    {"subset.simclr_batch", RL_CFG_INT, "256", 2, 4096, NULL, 0,
     "images per batch (2x views; negatives: the other views of the batch), cut into chunks of "
     "train.chunk images split over ranks"},
    {"subset.simclr_lr", RL_CFG_FLOAT, "0.001", 1e-8, 10, NULL, 0,
     "contrastive encoder Adam learning rate"},
    {"subset.simclr_temperature", RL_CFG_FLOAT, "0.5", 1e-3, 100, NULL, 0,
     "NT-Xent temperature (SimCLR's CIFAR setting)"},
    {"subset.simclr_pad", RL_CFG_INT, "4", 0, 13, NULL, 0,
     "views: zero padding before the random crop (0: no crop); each view is also flipped "
     "left-right with probability 1/2"},
    {"subset.simclr_noise", RL_CFG_FLOAT, "0.1", 0, 10, NULL, 0,
     "views: standard deviation of the Gaussian noise added to every pixel (pixels in [0, 1])"},
    {"subset.simclr_seed", RL_CFG_INT, "1", 0, 2147483647, NULL, 0,
     "contrastive encoder initialization, order and views (separate from run.seed, so seeds "
     "share one encoder)"},
    {"subset.feature_cache", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "HDF5 file of the encoder's (autoencoder or simclr; simclr: also the test set's) features "
     "and weights: read if it exists (its key, the encoder's config and data, must match), else "
     "written; empty: off"},
    {"subset.iters", RL_CFG_INT, "300", 1, 100000, NULL, 0,
     "full-batch gradient steps of the linear classifier"},
    {"subset.lr", RL_CFG_FLOAT, "0.5", 1e-6, 100, NULL, 0, "classifier learning rate"},
    {"subset.l2", RL_CFG_FLOAT, "0.001", 0, 100, NULL, 0, "classifier L2 penalty"},
    {"subset.classifier", RL_CFG_CHOICE, "linear", 0, -1, "linear|mlp|both", 0,
     "linear: softmax regression on the whitened features (subset.iters, lr, l2), metric "
     "test_acc; mlp: subset.mlp_spec on the pixels (subset.mlp_steps full-batch Adam steps), "
     "metric mlp_test_acc; both: both (the one not trained is NaN)"},
    {"subset.mlp_spec", RL_CFG_STRING, "mlp:784-256-10", 0, -1, NULL, 0,
     "the pixel classifier of subset.classifier=mlp (inputs: the data dimension, outputs: the "
     "classes)"},
    {"subset.mlp_steps", RL_CFG_INT, "200", 1, 100000, NULL, 0,
     "full-batch Adam steps of the MLP classifier on the selected examples"},
    {"subset.mlp_lr", RL_CFG_FLOAT, "0.001", 1e-8, 10, NULL, 0, "Adam learning rate of the MLP"},
};

static void subset_declare(rl_config *cfg) {
    rl_declare_common_config(cfg);
    rl_data_declare_config(cfg);
    train_chunks_declare_config(cfg);
    rl_cfg_declare(cfg, subset_keys, sizeof subset_keys / sizeof subset_keys[0]);
}

/* Selection time is a measurement of the machine: logged, not recorded (results are bit-identical
 * on any rank count). */
static const char *const metric_names[] = {"budget", "test_acc", "classes_covered", "mlp_test_acc"};

/* subset.classifier: which classifiers are trained (bits). */
enum { CLASSIFIER_LINEAR = 1, CLASSIFIER_MLP = 2 };

typedef struct {
    rl_dataset train, test;
    select_kind kind;
    int n_budgets, k, iters, classifier, mlp_steps; /* classifier: CLASSIFIER_* bits */
    const char *mlp_spec;
    uint64_t seed;
    float mlp_lr;
    int64_t budgets[MAX_BUDGETS];
    double lr, l2, delta;    /* delta: ProbCover's radius (0: not ProbCover) */
    int64_t lo, hi;          /* my pool rows */
    float *mean, *basis, *f; /* PCA: (dim), (dim, k); features (hi − lo, k) */
    double eig[784];         /* variances of the k features (PCA eigenvalues) */
    autoencoder *ae;         /* the encoder of subset.encoder=autoencoder (NULL: PCA) */
    simclr *sc;              /* the encoder of subset.encoder=simclr (NULL: another) */
    float *f_mean, *f_test;  /* simclr: the pool features' mean (k); my test rows' (k each) */
    int64_t test_lo, test_hi; /* my test rows */
} subset_state;

static void state_free(subset_state *s) {
    rl_data_free(&s->train);
    rl_data_free(&s->test);
    free(s->mean);
    free(s->basis);
    free(s->f);
    autoencoder_free(s->ae);
    free(s->ae);
    simclr_free(s->sc);
    free(s->sc);
    free(s->f_mean);
    free(s->f_test);
}

static int parse_budgets(subset_state *s, const rl_config *cfg, int64_t pool) {
    return rl_cfg_int_list(cfg, "subset.budgets", 1, pool, MAX_BUDGETS, s->budgets,
                           &s->n_budgets);
}

/* An encoder's features (s->k, from `layer` of `spec`, config key `key`) are at most as many as
 * the selectors take; else an error with `hint`. */
static int check_feature_count(const subset_state *s, const char *key, const char *spec,
                               const char *layer, const char *hint) {
    size_t most = sizeof s->eig / sizeof s->eig[0];
    if (s->k <= (int)most)
        return 0;
    rl_fail("%s = \"%s\": %s gives %d features, more than the %zu the selectors take", NULL, key,
            spec, layer, s->k, most);
    return rl_fail_hint("%s", hint);
}

/* The autoencoder of subset.ae_spec: its bottleneck gives the features (s->k), at most as many
 * as the selectors take. */
static int ae_prepare(subset_state *s, const rl_config *cfg) {
    const char *spec = rl_cfg_str(cfg, "subset.ae_spec");
    s->ae = rl_xcalloc(1, sizeof *s->ae);
    if (autoencoder_init(s->ae, spec, "subset.ae_spec", &s->train,
                         (int)rl_cfg_int(cfg, "train.chunk")) < 0)
        return RL_ERR;
    s->k = s->ae->k;
    return check_feature_count(s, "subset.ae_spec", spec, "its narrowest inner layer",
                               "make the bottleneck narrower, e.g. "
                               "subset.ae_spec=mlp:784-256-32-256-784");
}

/* The contrastive encoder of subset.simclr_*: its backbone gives the features (s->k). */
static int simclr_prepare(subset_state *s, const rl_config *cfg) {
    s->sc = rl_xcalloc(1, sizeof *s->sc);
    if (simclr_init(s->sc, rl_cfg_str(cfg, "subset.simclr_spec"),
                    (int)rl_cfg_int(cfg, "subset.simclr_proj"), "subset.simclr_spec", &s->train,
                    (int)rl_cfg_int(cfg, "train.chunk")) < 0)
        return RL_ERR;
    s->k = s->sc->k;
    return check_feature_count(s, "subset.simclr_spec", rl_cfg_str(cfg, "subset.simclr_spec"),
                               "its output",
                               "end the backbone with a narrower layer, e.g. "
                               "-fc128-relu");
}

/* subset.mlp_spec fits the data, and what mlp_accuracy allocates for the largest budget B fits
 * in memory: its workspace, Adam state, and the B examples, labels and output gradients. */
static int mlp_prepare(const subset_state *s) {
    rl_model m = {0};
    if (rl_model_init(&m, s->mlp_spec) < 0)
        return RL_ERR;
    int rc = base_model_check_fit(&m, "subset.mlp_spec", &s->train, s->train.classes);
    int64_t b = 0;
    for (int i = 0; i < s->n_budgets; i++)
        b = s->budgets[i] > b ? s->budgets[i] : b;
    uint64_t bytes = rl_workspace_bytes(&m, (int)(b > RL_ROW_CHUNK ? b : RL_ROW_CHUNK));
    bytes = rl_size_add(bytes, rl_size_mul(m.n_params, 2 * sizeof(float)));
    bytes = rl_size_add(bytes, rl_size_mul((uint64_t)b, sizeof(float) *
                                                            ((uint64_t)s->train.dim +
                                                             (uint64_t)s->train.classes + 1)));
    if (rc == 0 && rl_mem_check(bytes, "training subset.mlp_spec = \"%s\" on %lld examples",
                                s->mlp_spec, (long long)b) < 0)
        rc = rl_fail_hint("use a smaller subset.mlp_spec or smaller subset.budgets");
    rl_model_free(&m);
    return rc;
}

/* Load the data and read the keys: every input error before anything is written. */
static int prepare(rl_run *run, subset_state *s) {
    const rl_config *cfg = rl_run_config(run);
    if (rl_data_load(cfg, rl_run_seed(run), &s->train, &s->test) < 0)
        return RL_ERR;
    base_model_record_inputs(run, &s->train, &s->test, NULL, NULL);
    if (s->train.classes < 2)
        return rl_fail("subset-select needs a classification data set (data.name = %s)",
                       "use data.name=fashion-mnist or blobs", s->train.name);
    s->kind = (select_kind)select_kind_parse(rl_cfg_str(cfg, "subset.selector"));
    s->k = (int)rl_cfg_int(cfg, "subset.pca_dim");
    s->iters = (int)rl_cfg_int(cfg, "subset.iters");
    s->lr = rl_cfg_float(cfg, "subset.lr");
    s->l2 = rl_cfg_float(cfg, "subset.l2");
    if (s->k > s->train.dim)
        return rl_fail("subset.pca_dim = %d exceeds the data dimension %d",
                       "choose a smaller subset.pca_dim", s->k, s->train.dim);
    if (!strcmp(rl_cfg_str(cfg, "subset.encoder"), "pca") && s->k >= s->train.n)
        return rl_fail("subset.pca_dim = %d, but the pool has %lld examples: their PCA has at "
                       "most %lld directions",
                       "choose subset.pca_dim well below the pool size (or raise "
                       "data.train_limit)",
                       s->k, (long long)s->train.n, (long long)s->train.n - 1);
    const char *cls = rl_cfg_str(cfg, "subset.classifier");
    s->classifier = strcmp(cls, "linear") == 0 ? CLASSIFIER_LINEAR
                    : strcmp(cls, "mlp") == 0  ? CLASSIFIER_MLP
                                               : CLASSIFIER_LINEAR | CLASSIFIER_MLP;
    s->mlp_spec = rl_cfg_str(cfg, "subset.mlp_spec");
    s->mlp_steps = (int)rl_cfg_int(cfg, "subset.mlp_steps");
    s->mlp_lr = (float)rl_cfg_float(cfg, "subset.mlp_lr");
    s->seed = rl_run_seed(run);
    const char *encoder = rl_cfg_str(cfg, "subset.encoder"),
               *cache = rl_cfg_str(cfg, "subset.feature_cache"), *slash = strrchr(cache, '/');
    if (slash && slash > cache) { /* its directory must be there before the encoder trains */
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - cache), cache);
        if (io_path_kind(dir) != IO_PATH_DIR)
            return rl_fail("subset.feature_cache=%s: the directory %s does not exist",
                           "create it first, or give a path in an existing directory", cache, dir);
    }
    if (strcmp(encoder, "autoencoder") == 0 && ae_prepare(s, cfg) < 0)
        return RL_ERR;
    if (strcmp(encoder, "simclr") == 0 && simclr_prepare(s, cfg) < 0)
        return RL_ERR;
    if (parse_budgets(s, cfg, s->train.n) < 0)
        return RL_ERR;
    return (s->classifier & CLASSIFIER_MLP) ? mlp_prepare(s) : 0;
}

/* Collective: the features of my pool rows (PCA or the autoencoder's). */
static int features(subset_state *s, const rl_config *cfg) {
    int64_t n = s->train.n;
    comm_chunk_range(n, RL_ROW_CHUNK, &s->lo, &s->hi);
    int dim = s->train.dim;
    s->f = rl_xmalloc(sizeof(float) * ((size_t)(s->hi - s->lo) * (size_t)s->k + 1));
    comm_chunk_range(s->test.n, RL_ROW_CHUNK, &s->test_lo, &s->test_hi);
    if (s->sc) {
        simclr_training t = {.epochs = (int)rl_cfg_int(cfg, "subset.simclr_epochs"),
                             .batch = (int)rl_cfg_int(cfg, "subset.simclr_batch"),
                             .pad = (int)rl_cfg_int(cfg, "subset.simclr_pad"),
                             .images = rl_cfg_int(cfg, "subset.simclr_images"),
                             .lr = rl_cfg_float(cfg, "subset.simclr_lr"),
                             .temperature = rl_cfg_float(cfg, "subset.simclr_temperature"),
                             .noise = rl_cfg_float(cfg, "subset.simclr_noise"),
                             .seed = (uint64_t)rl_cfg_int(cfg, "subset.simclr_seed")};
        s->f_test =
            rl_xmalloc(sizeof(float) * ((size_t)(s->test_hi - s->test_lo) * (size_t)s->k + 1));
        s->f_mean = rl_xmalloc(sizeof(float) * (size_t)s->k);
        if (simclr_features(s->sc, &s->train, &s->test, &t, rl_cfg_str(cfg, "subset.feature_cache"),
                            s->lo, s->hi, s->f, s->test_lo, s->test_hi, s->f_test) < 0)
            return RL_ERR;
        /* the selectors take the features as they are; the classifier standardizes them */
        return features_moments(s->f, s->hi - s->lo, s->k, n, s->f_mean, s->eig);
    }
    if (s->ae) {
        autoencoder_training t = {.epochs = (int)rl_cfg_int(cfg, "subset.ae_epochs"),
                                  .batch = (int)rl_cfg_int(cfg, "subset.ae_batch"),
                                  .lr = rl_cfg_float(cfg, "subset.ae_lr"),
                                  .seed = (uint64_t)rl_cfg_int(cfg, "subset.ae_seed")};
        const char *cache = rl_cfg_str(cfg, "subset.feature_cache");
        if (autoencoder_pool_features(s->ae, &s->train, &t, cache, s->lo, s->hi, s->f) < 0)
            return RL_ERR;
        return autoencoder_center(s->ae, s->f, s->hi - s->lo, n, s->eig);
    }
    int64_t mine = s->hi - s->lo;
    int rc = rl_mem_check(rl_size_mul(rl_size_mul((uint64_t)mine, (uint64_t)dim), sizeof(float)),
                          "the %lld pool rows of this rank as floats, for PCA", (long long)mine);
    if (comm_agree_error(rc < 0 ? rl_fail_hint("run on more ranks, or use a smaller pool "
                                               "(data.train_limit)")
                                : 0) < 0)
        return RL_ERR;
    s->mean = rl_xmalloc(sizeof(float) * (size_t)dim);
    s->basis = rl_xmalloc(sizeof(float) * (size_t)dim * (size_t)s->k);
    float *x = rl_xmalloc(sizeof(float) * ((size_t)mine * (size_t)dim + 1)); // (mine, dim)
    rl_data_rows(&s->train, s->lo, mine, x);
    rc = select_pca(x, mine, dim, s->lo, n, s->k, s->mean, s->basis, s->eig);
    if (rc == 0)
        select_pca_features(x, mine, dim, s->mean, s->basis, s->k, s->f);
    free(x);
    return rc;
}

/* Whitened features with a bias: z (n, k + 1) of rows idx of d (idx NULL: rows 0..n; of the
 * test set with simclr: my test rows). PCA and autoencoder features are centered already; simclr
 * features are centered here, for the classifier only. */
static void whitened(const subset_state *s, const rl_dataset *d, const int64_t *idx, int64_t n,
                     double *z) {
    int k = s->k, dim = d->dim;
    float *f = rl_xmalloc(sizeof(float) * (size_t)k), *x = rl_xmalloc(sizeof(float) * (size_t)dim);
    for (int64_t i = 0; i < n; i++) {
        int64_t id = idx ? idx[i] : i;
        if (s->sc && d == &s->test) {
            memcpy(f, s->f_test + (size_t)(id - s->test_lo) * (size_t)k, sizeof(float) * (size_t)k);
        } else {
            rl_data_rows(d, id, 1, x);
            if (s->sc)
                simclr_encode(s->sc, x, 1, f);
            else if (s->ae)
                autoencoder_encode(s->ae, x, 1, f);
            else
                select_pca_features(x, 1, dim, s->mean, s->basis, k, f);
        }
        for (int j = 0; j < k; j++)
            z[(size_t)i * (size_t)(k + 1) + (size_t)j] =
                (f[j] - (s->f_mean ? s->f_mean[j] : 0.0f)) / sqrt(s->eig[j] > 0 ? s->eig[j] : 1);
        z[(size_t)i * (size_t)(k + 1) + (size_t)k] = 1.0;
    }
    free(f);
    free(x);
}

/* Softmax scores of w (k + 1, C) for z (k + 1) into out (C). */
static void logits(const double *w, const double *z, int kk, int c, double *out) {
    for (int j = 0; j < c; j++)
        out[j] = 0.0;
    for (int p = 0; p < kk; p++)
        for (int j = 0; j < c; j++)
            out[j] += z[p] * w[(size_t)p * (size_t)c + (size_t)j];
}

/* Replicated on every rank: full-batch gradient descent of the L2-penalized softmax regression
 * on the selected examples; returns w (k + 1, C). */
static double *train_linear(const subset_state *s, const int64_t *ids, int64_t b) {
    int kk = s->k + 1, c = s->train.classes;
    double *z = rl_xmalloc(sizeof(double) * (size_t)b * (size_t)kk);
    double *w = rl_xcalloc((size_t)kk * (size_t)c, sizeof(double));
    double *g = rl_xmalloc(sizeof(double) * (size_t)kk * (size_t)c);
    double *o = rl_xmalloc(sizeof(double) * (size_t)c);
    whitened(s, &s->train, ids, b, z);
    for (int it = 0; it < s->iters; it++) {
        for (size_t t = 0; t < (size_t)kk * (size_t)c; t++)
            g[t] = s->l2 * w[t];
        for (int64_t i = 0; i < b; i++) {
            const double *zi = z + (size_t)i * (size_t)kk;
            logits(w, zi, kk, c, o);
            double mx = o[0], sum = 0.0;
            for (int j = 1; j < c; j++)
                mx = o[j] > mx ? o[j] : mx;
            for (int j = 0; j < c; j++)
                sum += o[j] = exp(o[j] - mx);
            for (int j = 0; j < c; j++) {
                double d = (o[j] / sum - (j == s->train.y_clean[ids[i]])) / (double)b;
                for (int p = 0; p < kk; p++)
                    g[(size_t)p * (size_t)c + (size_t)j] += d * zi[p];
            }
        }
        for (size_t t = 0; t < (size_t)kk * (size_t)c; t++)
            w[t] -= s->lr * g[t];
    }
    free(z);
    free(g);
    free(o);
    return w;
}

/* Collective: test accuracy of w (correct counts of each rank's block summed exactly). */
static int test_accuracy(const subset_state *s, const double *w, double *acc) {
    int kk = s->k + 1, c = s->test.classes;
    int64_t lo = s->test_lo, hi = s->test_hi;
    double *z = rl_xmalloc(sizeof(double) * (size_t)kk), *o = rl_xmalloc(sizeof(double) * c);
    int64_t correct = 0;
    for (int64_t i = lo; i < hi; i++) {
        whitened(s, &s->test, &i, 1, z);
        logits(w, z, kk, c, o);
        int best = 0;
        for (int j = 1; j < c; j++)
            best = o[j] > o[best] ? j : best;
        correct += best == s->test.y_clean[i];
    }
    free(z);
    free(o);
    comm_exact sum;
    comm_exact_init(&sum, 1);
    comm_exact_count(&sum, 0, correct);
    int rc = comm_exact_reduce(&sum);
    *acc = (double)comm_exact_raw(&sum, 0) / (double)s->test.n;
    comm_exact_free(&sum);
    return rc;
}

/* Collective: test accuracy of an MLP on the pixels, trained (replicated on every rank) by
 * subset.mlp_steps full-batch Adam steps on the b selected examples ids with their annotated
 * (clean) labels, evaluated by train_evaluate. */
static int mlp_accuracy(const subset_state *s, const int64_t *ids, int64_t b, double *acc) {
    rl_model m = {0};
    train_chunks c = {0};
    rl_optimizer opt = {0};
    int classes = s->train.classes;
    float *x = rl_xmalloc(sizeof(float) * (size_t)b * (size_t)s->train.dim);
    float *d_out = rl_xmalloc(sizeof(float) * (size_t)b * (size_t)classes);
    int32_t *y = rl_xmalloc(sizeof(int32_t) * (size_t)b);
    int rc = rl_model_init(&m, s->mlp_spec);
    rc = rc ? rc : train_chunks_init(&c, &m, &s->test, (int)b);
    rc = rc ? rc : rl_opt_init(&opt, RL_OPT_ADAM, m.n_params, s->mlp_lr, 0.0f, 0.0f);
    if (rc == 0) {
        rl_model_init_params(&m, s->seed);
        rl_data_gather(&s->train, ids, (int)b, x, NULL, NULL);
        for (int64_t i = 0; i < b; i++)
            y[i] = s->train.y_clean[ids[i]];
    }
    for (int it = 0; rc == 0 && it < s->mlp_steps; it++) {
        const float *out = rl_model_forward(&m, &c.ws, x, (int)b);
        rl_loss_softmax_ce(out, y, NULL, (int)b, classes, 1.0f / (float)b, d_out, NULL);
        rl_model_zero_grads(&m);
        rl_model_backward(&m, &c.ws, d_out, (int)b);
        rl_opt_step(&opt, m.params, m.grads);
    }
    double loss;
    rc = comm_agree_error(rc);
    rc = rc ? rc : train_evaluate(&c, &s->test, 0, &loss, acc);
    train_chunks_free(&c);
    rl_model_free(&m);
    rl_opt_free(&opt);
    free(x);
    free(d_out);
    free(y);
    return rc;
}

/* The selection's random key, from run.seed. */
static void select_key(const rl_run *run, uint32_t key[2]) {
    rl_rng rng = rl_rng_make(rl_run_seed(run), RL_RNG_SAMPLE);
    memcpy(key, rng.key, sizeof(uint32_t) * 2);
}

/* Collective: ProbCover's radius, subset.delta or (0) chosen by purity; before any output. */
static int probcover_radius(rl_run *run, subset_state *s) {
    if (s->kind != SELECT_PROBCOVER && s->kind != SELECT_PROBCOVER_NORM)
        return 0;
    s->delta = rl_cfg_float(rl_run_config(run), "subset.delta");
    if (s->delta > 0.0)
        return 0;
    uint32_t key[2];
    select_key(run, key);
    double t0 = rl_now();
    if (select_probcover_delta(s->f, s->hi - s->lo, s->k, s->lo, s->train.n, s->train.classes,
                               rl_cfg_float(rl_run_config(run), "subset.purity"), key, &s->delta) < 0)
        return RL_ERR;
    if (comm_rank() == 0)
        rl_log_info("subset-select: ProbCover radius %.4g (purity %.3g, %.3f s)", s->delta,
                    rl_cfg_float(rl_run_config(run), "subset.purity"), rl_now() - t0);
    return 0;
}

/* Collective: the test accuracies (linear, MLP: NaN if not asked for) of classifiers trained
 * on the b examples ids with their labels. */
static int classify(const subset_state *s, const int64_t *ids, int64_t b, double acc[2]) {
    int rc = 0;
    acc[0] = acc[1] = NAN;
    if (s->classifier & CLASSIFIER_LINEAR) {
        double *w = train_linear(s, ids, b);
        rc = test_accuracy(s, w, &acc[0]);
        free(w);
    }
    if (rc == 0 && (s->classifier & CLASSIFIER_MLP))
        rc = mlp_accuracy(s, ids, b, &acc[1]);
    return rc;
}

/* The budgets, one step each (no checkpoints: a stopped run starts over). A nested selector
 * picks the largest budget once; the others select every budget anew. */
typedef struct {
    subset_state *s;
    const char *selector;
    uint32_t key[2];
    int nested;
    int64_t *all; /* (largest budget) the selection */
} subset_loop;

static int loop_step(rl_run *run, void *ctx, int64_t bi) {
    subset_loop *l = ctx;
    subset_state *s = l->s;
    int64_t b = s->budgets[bi];
    double acc[2] = {NAN, NAN}, seconds = 0.0;
    int rc = 0;
    if (!l->nested) {
        double t0 = rl_now();
        rc = select_subset(s->kind, s->f, s->hi - s->lo, s->k, s->lo, s->train.n, b, s->delta,
                           l->key, l->all);
        seconds = rl_now() - t0;
        comm_max_f64(&seconds, 1);
    }
    rc = rc ? rc : classify(s, l->all, b, acc);
    int seen[256] = {0}, covered = 0;
    for (int64_t i = 0; i < b; i++)
        if (s->train.y_clean[l->all[i]] < 256 && !seen[s->train.y_clean[l->all[i]]]++)
            covered++;
    rl_run_set(run, "budget", (double)b);
    rl_run_set(run, "test_acc", acc[0]);
    rl_run_set(run, "classes_covered", (double)covered);
    rl_run_set(run, "mlp_test_acc", acc[1]);
    rc = rc ? rc : rl_run_record(run, bi);
    float *fid = rl_xmalloc(sizeof(float) * (size_t)b);
    char name[32];
    for (int64_t i = 0; i < b; i++)
        fid[i] = (float)l->all[i];
    snprintf(name, sizeof name, "selected_%lld", (long long)b);
    rc = rc ? rc : rl_run_final_array(run, name, fid, b, "selector", l->selector);
    free(fid);
    char accuracies[64] = "", *at = accuracies;
    static const char *const classifier_names[2] = {"linear", "mlp"};
    for (int c = 0; c < 2; c++) /* the classifiers that ran (the other's accuracy is NaN) */
        if (!isnan(acc[c]))
            at += snprintf(at, sizeof accuracies - (size_t)(at - accuracies), "%s%.2f %% %s",
                           at == accuracies ? "" : ", ", 100.0 * acc[c], classifier_names[c]);
    if (rc == 0)
        rl_log_info("subset-select: %s B=%lld test accuracy %s (%d classes, %.3f s)", l->selector,
                    (long long)b, accuracies, covered, seconds);
    return rc;
}

static void loop_describe(rl_run *run, void *ctx, int64_t bi, char *out, size_t n) {
    (void)run;
    snprintf(out, n, "B=%lld", (long long)((const subset_loop *)ctx)->s->budgets[bi]);
}

/* Collective: select, classify and record every budget. Nested selectors (select.h) select once,
 * for the largest budget, and every budget takes the first B of that selection. */
static int select_budgets(rl_run *run, subset_state *s) {
    subset_loop l = {s, rl_cfg_str(rl_run_config(run), "subset.selector"), {0, 0},
                     select_kind_nested(s->kind), NULL};
    select_key(run, l.key);
    int64_t most = 0;
    for (int bi = 0; bi < s->n_budgets; bi++)
        most = s->budgets[bi] > most ? s->budgets[bi] : most;
    l.all = rl_xmalloc(sizeof(int64_t) * (size_t)most);
    int rc = 0;
    if (l.nested) {
        double t0 = rl_now(), seconds;
        rc = select_subset(s->kind, s->f, s->hi - s->lo, s->k, s->lo, s->train.n, most, s->delta,
                           l.key, l.all);
        seconds = rl_now() - t0;
        comm_max_f64(&seconds, 1);
        rl_log_info("subset-select: %s selected B=%lld in %.3f s (nested: every budget is a "
                    "prefix)",
                    l.selector, (long long)most, seconds);
    }
    rl_loop loop = {.total = s->n_budgets, .step = loop_step, .describe = loop_describe};
    rc = comm_agree_error(rc);
    rc = rc ? rc : rl_run_loop(run, &loop, &l);
    free(l.all);
    return rc;
}

static int subset_run(rl_run *run) {
    subset_state s;
    memset(&s, 0, sizeof s);
    const rl_config *cfg = rl_run_config(run);
    int rc = comm_agree_error(prepare(run, &s));
    rc = rc ? rc : features(&s, cfg);
    rc = rc ? rc : probcover_radius(run, &s);
    rc = rc ? rc : rl_run_start(run, metric_names, sizeof metric_names / sizeof metric_names[0]);
    rc = rc ? rc : select_budgets(run, &s);
    double explained = 0.0;
    for (int j = 0; rc == 0 && j < s.k; j++)
        explained += s.eig[j];
    if (rc == 0)
        rc = rl_run_final(run, s.ae || s.sc ? "feature_variance" : "pca_variance", explained);
    if (rc == 0 && s.delta > 0.0)
        rc = rl_run_final(run, "probcover_delta", s.delta);
    /* a stop signal stopped every rank: RL_STOPPED as it is (exit 75, the run starts over) */
    rc = rc < 0 && rc != RL_STOPPED ? comm_agree_error(rc) : rc;
    state_free(&s);
    return rc;
}

static const rl_experiment rl_experiment_subset_select = {
    .name = "subset-select",
    .summary = "which pool examples to label: PCA/autoencoder/SimCLR features, norm/coverage "
               "selectors, accuracy",
    .doc = "Label-free features of the training pool (PCA or an autoencoder, centered; or the\n"
           "uncentered post-ReLU backbone output of a SimCLR contrastive encoder trained here\n"
           "on crop/flip/noise views with NT-Xent, subset.simclr_*; subset.encoder; cached\n"
           "with subset.feature_cache), then for each budget of\n"
           "subset.budgets the selector subset.selector (random, norm, norm-gs,\n"
           "norm-gs-sampled, kcenter, kcenter-norm, typiclust, typiclust-norm, probcover,\n"
           "probcover-norm) picks the\n"
           "examples to label; a linear softmax classifier on their whitened features and/or\n"
           "an MLP on their pixels is trained and evaluated. Selection is rank-independent.\n"
           "Metrics per budget: test_acc (linear), mlp_test_acc (MLP on pixels,\n"
           "subset.classifier), classes_covered (selection time logged). Arrays:\n"
           "selected_B. See experiments/subset-select.md.",
    .default_ini = rl_ini_subset_select,
    .declare = subset_declare,
    .run = subset_run,
};

RL_EXPERIMENT(rl_experiment_subset_select)
