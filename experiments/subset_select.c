/* Experiment `subset-select`: which examples of an unlabeled pool to annotate (METHODS.md §3).
 *
 * The pool is the training set (its labels unused until the selected examples are "annotated").
 * Label-free features: PCA of the pool's pixels (src/data/subset.h; covariance summed in fixed
 * point over chunks of SUBSET_CHUNK rows, so the basis is the same on any rank count). For each
 * budget B of subset.budgets a selector (subset.selector) picks B examples; a linear softmax
 * classifier on the whitened PCA features of the B labelled examples is trained by full-batch
 * gradient descent (replicated on every rank, fixed order) and evaluated on the test set (correct
 * counts summed exactly over ranks). Ranks hold whole chunks of the pool's rows; the selected ids
 * are bit-identical on any rank count (subset.h). One metrics row per budget; the selected ids of
 * budget B in /arrays/selected_B. A run takes seconds: no checkpoints (a stopped run restarts).
 */
#include "experiments/experiment.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/rng.h"
#include "src/data/data.h"
#include "src/data/subset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rl_ini_subset_select[];

#define MAX_BUDGETS 32

static const rl_cfg_spec subset_keys[] = {
    {"subset.selector", RL_CFG_CHOICE, "norm", 0, -1,
     "random|norm|norm-gs|kcenter|kcenter-norm|typiclust|typiclust-norm", 0,
     "random; norm sampling ∝ ‖F‖; norm with Gram–Schmidt diversity; k-center greedy; k-center "
     "with score d_min·‖F‖ (norm plug-in); TypiClust; TypiClust with score typicality·‖F‖"},
    {"subset.budgets", RL_CFG_STRING, "10,20,50,100,200,500,1000", 0, -1, NULL, 0,
     "comma-separated budgets B (examples selected and labelled), each <= the pool"},
    {"subset.pca_dim", RL_CFG_INT, "32", 1, 784, NULL, 0, "PCA feature dimension"},
    {"subset.iters", RL_CFG_INT, "300", 1, 100000, NULL, 0,
     "full-batch gradient steps of the linear classifier"},
    {"subset.lr", RL_CFG_FLOAT, "0.5", 1e-6, 100, NULL, 0, "classifier learning rate"},
    {"subset.l2", RL_CFG_FLOAT, "0.001", 0, 100, NULL, 0, "classifier L2 penalty"},
};

static void subset_declare(rl_config *cfg) {
    rl_declare_common_config(cfg);
    rl_data_declare_config(cfg);
    rl_cfg_declare(cfg, subset_keys, sizeof subset_keys / sizeof subset_keys[0]);
}

/* Selection time is a measurement of the machine: logged, not recorded (results are bit-identical
 * on any rank count). */
static const char *const metric_names[] = {"budget", "test_acc", "classes_covered"};
enum { N_METRICS = 3 };

typedef struct {
    rl_dataset train, test;
    subset_kind kind;
    int n_budgets, k, iters;
    int64_t budgets[MAX_BUDGETS];
    double lr, l2;
    int64_t lo, hi;          /* my pool rows */
    float *mean, *basis, *f; /* (dim), (dim, k), (hi − lo, k) */
    double eig[784];         /* PCA eigenvalues (k) */
} subset_state;

static void state_free(subset_state *s) {
    rl_data_free(&s->train);
    rl_data_free(&s->test);
    free(s->mean);
    free(s->basis);
    free(s->f);
}

static int parse_budgets(subset_state *s, const char *text, int64_t pool) {
    const char *p = text;
    s->n_budgets = 0;
    while (*p) {
        char *end;
        long long b = strtoll(p, &end, 10);
        if (end == p || b < 1 || b > pool || s->n_budgets == MAX_BUDGETS ||
            (*end != ',' && *end != '\0'))
            return rl_fail("subset.budgets = \"%s\": not a list of at most %d budgets in [1, %lld]",
                           "write e.g. subset.budgets=10,100,1000 (no larger than the pool)", text,
                           MAX_BUDGETS, (long long)pool);
        s->budgets[s->n_budgets++] = b;
        p = *end == ',' ? end + 1 : end;
    }
    return s->n_budgets > 0 ? 0 : rl_fail("subset.budgets is empty", "give budgets, e.g. 10,100");
}

/* Load the data and read the keys: every input error before anything is written. */
static int prepare(rl_run *run, subset_state *s) {
    const rl_config *cfg = run->cfg;
    if (rl_data_load(cfg, run->seed, &s->train, &s->test) < 0)
        return RL_ERR;
    if (s->train.classes < 2)
        return rl_fail("subset-select needs a classification data set (data.name = %s)",
                       "use data.name=fashion-mnist or blobs", s->train.name);
    s->kind = (subset_kind)subset_kind_parse(rl_cfg_str(cfg, "subset.selector"));
    s->k = (int)rl_cfg_int(cfg, "subset.pca_dim");
    s->iters = (int)rl_cfg_int(cfg, "subset.iters");
    s->lr = rl_cfg_float(cfg, "subset.lr");
    s->l2 = rl_cfg_float(cfg, "subset.l2");
    if (s->k > s->train.dim)
        return rl_fail("subset.pca_dim = %d exceeds the data dimension %d",
                       "choose a smaller subset.pca_dim", s->k, s->train.dim);
    return parse_budgets(s, rl_cfg_str(cfg, "subset.budgets"), s->train.n);
}

/* Collective: PCA of the pool and the features of my rows. */
static int features(subset_state *s) {
    int64_t n = s->train.n, chunks = (n + SUBSET_CHUNK - 1) / SUBSET_CHUNK, clo, chi;
    comm_block_range(chunks, comm_size(), comm_rank(), &clo, &chi);
    s->lo = clo * SUBSET_CHUNK;
    s->hi = chi * SUBSET_CHUNK < n ? chi * SUBSET_CHUNK : n;
    int dim = s->train.dim;
    s->mean = rl_xmalloc(sizeof(float) * (size_t)dim);
    s->basis = rl_xmalloc(sizeof(float) * (size_t)dim * (size_t)s->k);
    s->f = rl_xmalloc(sizeof(float) * ((size_t)(s->hi - s->lo) * (size_t)s->k + 1));
    const float *x = s->train.x + (size_t)s->lo * (size_t)dim;
    if (subset_pca(x, s->hi - s->lo, dim, s->lo, n, s->k, s->mean, s->basis, s->eig) < 0)
        return RL_ERR;
    subset_features(x, s->hi - s->lo, dim, s->mean, s->basis, s->k, s->f);
    return 0;
}

/* Whitened features with a bias: z (n, k + 1) of rows idx of d (idx NULL: rows 0..n). */
static void whitened(const subset_state *s, const rl_dataset *d, const int64_t *idx, int64_t n,
                     double *z) {
    int k = s->k, dim = d->dim;
    float *f = rl_xmalloc(sizeof(float) * (size_t)k);
    for (int64_t i = 0; i < n; i++) {
        int64_t row = idx ? idx[i] : i;
        subset_features(d->x + (size_t)row * (size_t)dim, 1, dim, s->mean, s->basis, k, f);
        for (int j = 0; j < k; j++)
            z[(size_t)i * (size_t)(k + 1) + (size_t)j] = f[j] / sqrt(s->eig[j] > 0 ? s->eig[j] : 1);
        z[(size_t)i * (size_t)(k + 1) + (size_t)k] = 1.0;
    }
    free(f);
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
    int64_t lo, hi;
    comm_block_range(s->test.n, comm_size(), comm_rank(), &lo, &hi);
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
    int rc = comm_sum_i64(&correct, 1);
    *acc = (double)correct / (double)s->test.n;
    return rc;
}

static int subset_loop(rl_run *run, subset_state *s) {
    uint32_t key[2];
    rl_rng rng = rl_rng_make(run->seed, RL_RNG_SAMPLE);
    memcpy(key, rng.key, sizeof key);
    for (int bi = 0; bi < s->n_budgets; bi++) {
        int64_t b = s->budgets[bi], *ids = rl_xmalloc(sizeof(int64_t) * (size_t)b);
        double t0 = rl_now(), acc = 0.0;
        int rc = subset_select(s->kind, s->f, s->hi - s->lo, s->k, s->lo, s->train.n, b, key, ids);
        double seconds = rl_now() - t0;
        comm_max_f64(&seconds, 1);
        double *w = rc == 0 ? train_linear(s, ids, b) : NULL;
        rc = rc ? rc : test_accuracy(s, w, &acc);
        int seen[256] = {0}, covered = 0;
        for (int64_t i = 0; i < b; i++)
            if (s->train.y_clean[ids[i]] < 256 && !seen[s->train.y_clean[ids[i]]]++)
                covered++;
        double row[N_METRICS] = {(double)b, acc, (double)covered};
        rc = rc ? rc : rl_run_record(run, bi, row);
        if (rc == 0 && comm_rank() == 0) {
            float *fid = rl_xmalloc(sizeof(float) * (size_t)b);
            char name[32];
            for (int64_t i = 0; i < b; i++)
                fid[i] = (float)ids[i];
            snprintf(name, sizeof name, "selected_%lld", (long long)b);
            rc = io_results_write_array_f32(run->results, name, fid, (size_t)b, "selector",
                                            rl_cfg_str(run->cfg, "subset.selector"));
            free(fid);
            rl_log_info("subset-select: %s B=%lld test accuracy %.2f %% (%d classes, %.3f s)",
                        rl_cfg_str(run->cfg, "subset.selector"), (long long)b, 100.0 * acc, covered,
                        seconds);
        }
        free(w);
        free(ids);
        if (comm_any_failed(rc < 0))
            return RL_ERR;
    }
    return 0;
}

static int subset_run(rl_run *run) {
    subset_state s;
    memset(&s, 0, sizeof s);
    int rc = comm_any_failed(prepare(run, &s) < 0) ? RL_ERR : 0;
    rc = rc ? rc : features(&s);
    rc = rc ? rc : rl_run_start(run, metric_names, N_METRICS);
    rc = rc ? rc : subset_loop(run, &s);
    double explained = 0.0;
    for (int j = 0; rc == 0 && j < s.k; j++)
        explained += s.eig[j];
    if (rc == 0 && comm_rank() == 0)
        rc = io_results_set_final(run->results, "pca_variance", explained);
    rc = rc ? rc : rl_run_finish(run);
    state_free(&s);
    return rc == 1 ? 0 : rc;
}

const rl_experiment rl_experiment_subset_select = {
    .name = "subset-select",
    .summary = "which pool examples to label: PCA features, norm/coverage selectors, accuracy",
    .doc = "PCA features of the training pool (label-free), then for each budget of\n"
           "subset.budgets the selector subset.selector (random, norm, norm-gs, kcenter,\n"
           "kcenter-norm, typiclust, typiclust-norm) picks the examples to label; a linear\n"
           "softmax classifier on their whitened features is trained and evaluated. Selection\n"
           "is rank-independent.\n"
           "Metrics per budget: test_acc, classes_covered (selection time logged). Arrays:\n"
           "selected_B. See experiments/subset-select.md.",
    .default_ini = rl_ini_subset_select,
    .declare = subset_declare,
    .run = subset_run,
};
