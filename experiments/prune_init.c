/* Experiment `prune-init`: pruning at initialization seen as sketching (METHODS.md §5).
 *
 * A mask is chosen at initialization from a score (random, magnitude |w|, SNIP |g⊙w|, GraSP
 * (Hg)⊙w, iterated data-free SynFlow, or the sketch score ‖X_{:,k}‖·|w_k| where X_{:,k} is the
 * column of layer inputs that weight k multiplies) by top-k or by sampling ∝ score (with or
 * without replacement, with or without 1/p rescaling), over all weights or per layer. The weights
 * are the matrices of dense and convolution layers and residual projections; biases and
 * normalization parameters are never pruned. Then either the masked model is trained
 * (prune.train=masked: pruned weights stay 0) or the dense model is trained and the init mask is
 * applied to the trained weights (prune.train=dense: the sketch m⊙w_T of w_T). For a linear model
 * (one dense layer) the run also reports the sketch error ‖X(m⊙w) − Xw‖_F over the training set (X
 * without the bias) and the Drineas–Kannan–Mahoney value sqrt(E‖·‖²) = sqrt((Σ_k ‖X_{:,k}‖² w_k² /
 * p_k − ‖Xw‖²) / s) for the probabilities p the mask was sampled with, at init (w_0) and after
 * training (w_T).
 *
 * Rank independence: scores are computed identically on every rank (data gradients and column
 * norms are fixed-point sums over chunks split over ranks); selection over a group of weights
 * uses global ids (arena offsets): top-k and sampling without replacement take the smallest keys
 * of the items each rank owns and merge them with comm_select_smallest (ties by id); sampling
 * with replacement splits the s draws over ranks (each draw keyed by its index) and sums the
 * integer counts. The mask is a function of the config only, recomputed on resume.
 *
 * Sampling without replacement: keys κ_k = −ln U_k / w_k, the B smallest kept (Efraimidis–
 * Spirakis); the rescaling is 1/π̂_k with π̂_k = 1 − exp(−w_k τ), τ the (B+1)-th smallest key
 * (rank-conditioning estimator, unbiased). With replacement: s = B draws from p = w / Σw, kept
 * if drawn, rescaled by count_k / (s p_k) (unbiased; the DKM formula is its exact variance).
 */
#include "src/train/dp.h"
#include "kernels/kernels.h"
#include "kernels/select.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/nn/prune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rl_ini_prune_init[];

/* Streams of (seed, RL_RNG_SAMPLE) counters: keys keyed by weight id, random scores keyed by
 * weight id, draws with replacement keyed by draw index (one stream per selection group). */
enum { STREAM_KEYS = 1, STREAM_RANDOM = 2, STREAM_DRAWS = 16 };

static const rl_cfg_spec prune_keys[] = {
    {"prune.score", RL_CFG_CHOICE, "magnitude", 0, -1, "random|magnitude|snip|grasp|synflow|sketch",
     0,
     "score: uniform random, |w| (data-free; sampled ∝ |w| it is the data-free sketch), SNIP "
     "|g⊙w|, GraSP (Hg)⊙w, SynFlow (iterated, data-free), sketch ‖X_{:,k}‖·|w_k|"},
    {"prune.select", RL_CFG_CHOICE, "topk", 0, -1, "topk|sample", 0,
     "keep the largest scores, or sample ∝ score (GraSP: ∝ score − its minimum)"},
    {"prune.replace", RL_CFG_BOOL, "false", 0, -1, NULL, 0,
     "sample with replacement (B draws; fewer than B distinct weights may be kept)"},
    {"prune.rescale", RL_CFG_BOOL, "false", 0, -1, NULL, 0,
     "multiply kept weights by 1/p (with replacement: count/(B·p); without: 1/(1 − exp(−w·τ)))"},
    {"prune.scope", RL_CFG_CHOICE, "global", 0, -1, "global|layer", 0,
     "select among all weights, or within each layer's weight matrix at the same density"},
    {"prune.sparsity", RL_CFG_FLOAT, "0.9", 0, 0.9999, NULL, 0,
     "fraction of the weights pruned (biases are kept)"},
    {"prune.train", RL_CFG_CHOICE, "masked", 0, -1, "masked|dense", 0,
     "masked: train the pruned model; dense: train densely, apply the init mask at the end"},
    {"prune.synflow_iters", RL_CFG_INT, "100", 1, 10000, NULL, 0,
     "SynFlow rounds: density^(i/n) after round i (the last round uses prune.select)"},
    {"prune.score_examples", RL_CFG_INT, "0", 0, 2147483647, NULL, 0,
     "first N training examples for the SNIP and GraSP gradients (0: all)"},
    {"prune.grasp_temp", RL_CFG_FLOAT, "200", 1e-3, 1e6, NULL, 0,
     "GraSP: logits divided by this temperature (classification)"},
    {"prune.mask_seed", RL_CFG_INT, "0", 0, 9007199254740992.0, NULL, 0,
     "seed of the mask's random draws (random scores, sampling); 0: run.seed. Other mask seeds "
     "with the same run.seed draw other masks for the same initialization and training"},
    {"prune.feature_scale", RL_CFG_FLOAT, "1", 1, 1e6, NULL, 0,
     "linreg only: feature k scaled by R^(−k/(dim−1)), norms from 1 down to 1/R"},
    {"prune.feature_corr", RL_CFG_FLOAT, "0", 0, 0.999, NULL, 0,
     "linreg only: features made AR(1) with correlation ρ^|i−j| (before scaling)"},
};

static void prune_declare(rl_config *cfg) {
    dp_declare_config(cfg);
    rl_cfg_declare(cfg, prune_keys, sizeof prune_keys / sizeof prune_keys[0]);
}

static const char *const metric_names[] = {DP_METRICS};

typedef enum { SC_RANDOM, SC_MAGNITUDE, SC_SNIP, SC_GRASP, SC_SYNFLOW, SC_SKETCH } score_kind;

typedef struct {
    score_kind score;
    int sample, replace, rescale, per_layer, dense_train;
    double density;
    size_t n;         /* parameters */
    int64_t prunable; /* weights */
    double *scores;   /* (n) final scores (0 for biases) */
    double *weights;  /* (n) sampling weights of the final selection */
    double *csq;    /* (n) ‖X_{:,k}‖² of the input column weight k multiplies (0 for biases) */
    double *prob;   /* (n) p_k the final selection sampled with (0 for top-k) */
    int64_t draws;  /* s of the DKM formula: B (with replacement: the number of draws) */
    float *mask;    /* (n) m: 0 pruned, else 1 or the rescaling; 1 for biases */
    float *support; /* (n) 0/1: the trainer's mask (masked training) */
    float *start;   /* (n) w_0, the parameters training starts from (masked, if trained so) */
    int64_t kept;   /* weights with m != 0 */
    double init_error, init_norm, init_bound; /* sketch of X w_0 */
} prune_state;

static void prune_free(prune_state *s) {
    free(s->scores);
    free(s->weights);
    free(s->csq);
    free(s->prob);
    free(s->mask);
    free(s->support);
    free(s->start);
}

/* The weight matrices' ranges: a selection group is a list of them, its items are their
 * weights in order, and an item's id is its arena offset. */
typedef struct {
    int n_layers;
    size_t off[RL_MAX_LAYERS], len[RL_MAX_LAYERS];
    int64_t total;
} group;

static int64_t group_budget(const group *g, double density) {
    int64_t b = llround(density * (double)g->total);
    return b < 1 ? 1 : b;
}

/* Arena offset of item `pos` of the group. */
static size_t group_offset(const group *g, int64_t pos) {
    for (int l = 0;; l++) {
        if (pos < (int64_t)g->len[l])
            return g->off[l] + (size_t)pos;
        pos -= (int64_t)g->len[l];
    }
}

/* This rank's items [lo, hi) of the group (block ownership) as pairs: key −score (top-k) or the
 * exponential sampling key of the weight. */
static kern_pair *group_pairs(const group *g, const double *values, int topk, rl_rng rng,
                              int64_t *count) {
    int64_t lo, hi;
    comm_block_range(g->total, comm_size(), comm_rank(), &lo, &hi);
    kern_pair *p = rl_xmalloc(sizeof(kern_pair) * (size_t)(hi - lo + 1));
    int64_t pos = 0, k = 0;
    for (int l = 0; l < g->n_layers; l++) {
        int64_t end = pos + (int64_t)g->len[l];
        int64_t a = lo > pos ? lo : pos, b = hi < end ? hi : end;
        if (a < b) {
            size_t first = g->off[l] + (size_t)(a - pos);
            if (topk) {
                for (int64_t i = 0; i < b - a; i++) {
                    p[k + i].key = -values[first + (size_t)i];
                    p[k + i].id = (int64_t)first + i;
                }
            } else {
                kern_sample_keys(values + first, (size_t)(b - a), (int64_t)first, rng.key,
                                 STREAM_KEYS, p + k);
            }
            k += b - a;
        }
        pos = end;
    }
    *count = k;
    return p;
}

/* Collective: select B = density · |group| weights of the group into mask (n) (others of the
 * group set to 0; entries outside the group untouched). values are scores (top-k) or sampling
 * weights (>= 0). Fills prob and s->draws for the sampled case when prob is not NULL. */
static int select_group(const prune_state *s, const group *g, const double *values, int sample,
                        rl_rng rng, uint32_t draw_stream, float *mask, double *prob,
                        int64_t *draws) {
    int64_t budget = group_budget(g, s->density);
    for (int l = 0; l < g->n_layers; l++)
        for (size_t i = 0; i < g->len[l]; i++)
            mask[g->off[l] + i] = 0.0f;
    double total = 0.0;
    if (sample) {
        for (int64_t pos = 0; pos < g->total; pos++)
            total += values[group_offset(g, pos)];
        if (!(total > 0.0) || !isfinite(total))
            return rl_fail("prune.select=sample: the weights of a selection group sum to %g",
                           "use a score with positive values (or prune.select=topk)", total);
        for (int64_t pos = 0; prob && pos < g->total; pos++) {
            size_t k = group_offset(g, pos);
            prob[k] = values[k] / total;
        }
    }
    *draws = budget;
    if (sample && s->replace) {
        double *cdf = rl_xmalloc(sizeof(double) * (size_t)g->total);
        comm_exact counts; /* times each position is drawn (my draws, then all ranks') */
        comm_exact_init(&counts, (size_t)g->total);
        double acc = 0.0;
        for (int64_t pos = 0; pos < g->total; pos++)
            cdf[pos] = acc += values[group_offset(g, pos)];
        int64_t lo, hi;
        comm_block_range(budget, comm_size(), comm_rank(), &lo, &hi);
        kern_sample_draws(cdf, (size_t)g->total, rng.key, draw_stream, lo, hi - lo, counts.sum);
        int rc = comm_exact_reduce(&counts);
        for (int64_t pos = 0; rc == 0 && pos < g->total; pos++) {
            size_t k = group_offset(g, pos);
            int64_t drawn = comm_exact_raw(&counts, (size_t)pos);
            if (drawn > 0)
                mask[k] = s->rescale ? (float)((double)drawn * total / ((double)budget * values[k]))
                                     : 1.0f;
        }
        free(cdf);
        comm_exact_free(&counts);
        return rc;
    }
    int64_t want = budget < g->total ? budget + 1 : budget, n_mine;
    kern_pair *mine = group_pairs(g, values, !sample, rng, &n_mine);
    kern_pair *top = rl_xmalloc(sizeof(kern_pair) * (size_t)want);
    int rc = comm_select_smallest(mine, n_mine, want, top);
    double tau = want > budget ? top[budget].key : INFINITY;
    for (int64_t i = 0; rc == 0 && i < budget; i++) {
        size_t k = (size_t)top[i].id;
        double pi = sample && s->rescale && values[k] > 0.0 ? -expm1(-values[k] * tau) : 1.0;
        mask[k] = (float)(1.0 / pi);
    }
    free(mine);
    free(top);
    return rc;
}

/* Collective: the final selection (prune.select, prune.scope) from s->scores into s->mask. */
static int select_mask(prune_state *s, const rl_model *m, rl_rng rng, const double *values,
                       int sample, float *mask, double *prob, int64_t *draws) {
    group all = {0};
    for (int l = 0; l < m->n_layers; l++)
        if (rl_layer_has_matrix(&m->layers[l])) {
            all.off[all.n_layers] = m->layers[l].w_off;
            all.len[all.n_layers] = rl_layer_weight_count(&m->layers[l]);
            all.total += (int64_t)all.len[all.n_layers++];
        }
    if (!s->per_layer)
        return select_group(s, &all, values, sample, rng, STREAM_DRAWS, mask, prob, draws);
    for (int l = 0; l < all.n_layers; l++) {
        group one = {
            .n_layers = 1, .off = {all.off[l]}, .len = {all.len[l]}, .total = (int64_t)all.len[l]};
        if (select_group(s, &one, values, sample, rng, STREAM_DRAWS + (uint32_t)l, mask, prob,
                         draws) < 0)
            return RL_ERR;
    }
    return 0;
}

/* Collective: grad (n) = ∇ of the mean training loss over the first n_ex examples, logits
 * divided by temp (classification), summed exactly over chunks and ranks. */
static int data_gradient(dp_trainer *t, const int64_t *first, int64_t n_ex, float temp,
                         float *grad) {
    size_t n = t->model.n_params;
    train_loss loss = t->loss;
    loss.temperature = temp;
    train_objective o = {.loss = &loss, .scale = 1.0f / (float)n_ex};
    comm_exact e;
    comm_exact_init(&e, n + 1);
    train_chunks_gradient(&t->chunks, &t->train, first, n_ex, &o, t->model.grads, n, &e);
    int rc = comm_exact_reduce(&e);
    comm_exact_read(&e, 0, grad, n, RL_FIXED_FRAC_BITS);
    comm_exact_free(&e);
    return rc;
}

/* Collective: csq (n) = squared norm over the training set of the input column each weight
 * multiplies (the model's own layer inputs at the current parameters; 0 outside the weights). */
static int column_norms(dp_trainer *t, double *csq) {
    const rl_model *m = &t->model;
    int64_t width = 0;
    for (int l = 0; l < m->n_layers; l++)
        if (rl_layer_has_matrix(&m->layers[l]))
            width += rl_layer_fan_in(&m->layers[l]);
    comm_exact sum;
    comm_exact_init(&sum, (size_t)width);
    float *chunk_sq = rl_xmalloc(sizeof(float) * (size_t)width);
    int64_t lo, hi, idx[RL_ROW_CHUNK];
    comm_chunk_range(t->train.n, RL_ROW_CHUNK, &lo, &hi);
    for (int64_t start = lo; start < hi; start += RL_ROW_CHUNK) {
        int c = (int)(start + RL_ROW_CHUNK <= hi ? RL_ROW_CHUNK : hi - start);
        for (int i = 0; i < c; i++)
            idx[i] = start + i;
        train_chunks_forward(&t->chunks, &t->train, idx, c);
        int64_t col = 0;
        for (int l = 0; l < m->n_layers; l++) {
            const rl_layer *ly = &m->layers[l];
            if (!rl_layer_has_matrix(ly))
                continue;
            rl_prune_column_squares(m, &t->chunks.ws, l, c, chunk_sq + col);
            col += rl_layer_fan_in(ly);
        }
        comm_exact_add(&sum, 0, chunk_sq, (size_t)width, RL_FIXED_SUM_FRAC_BITS);
    }
    int rc = comm_exact_reduce(&sum);
    memset(csq, 0, sizeof(double) * m->n_params);
    int64_t col = 0;
    for (int l = 0; rc == 0 && l < m->n_layers; l++) {
        const rl_layer *ly = &m->layers[l];
        if (!rl_layer_has_matrix(ly))
            continue;
        int fan_in = rl_layer_fan_in(ly);
        for (int o = 0; o < rl_layer_rows(ly); o++)
            for (int j = 0; j < fan_in; j++)
                csq[ly->w_off + (size_t)o * fan_in + j] =
                    comm_exact_value(&sum, (size_t)(col + j), RL_FIXED_SUM_FRAC_BITS);
        col += fan_in;
    }
    comm_exact_free(&sum);
    free(chunk_sq);
    return rc;
}

/* Collective, linear models: the sketch error ‖X(m⊙w) − Xw‖_F over the training set and ‖Xw‖_F
 * (biases left out), for the parameters in t->model.params. */
static int sketch_error(dp_trainer *t, const float *mask, double *error, double *norm) {
    rl_model *m = &t->model;
    size_t n = m->n_params;
    const rl_layer *ly = &m->layers[0];
    float *dense = rl_xmalloc(sizeof(float) * n), *masked = rl_xmalloc(sizeof(float) * n);
    float *ref = rl_xmalloc(sizeof(float) * (size_t)RL_ROW_CHUNK * (size_t)m->out_dim);
    for (size_t i = 0; i < n; i++) {
        dense[i] = m->params[i];
        masked[i] = m->params[i] * mask[i];
    }
    memset(dense + ly->b_off, 0, sizeof(float) * (size_t)ly->out);
    memset(masked + ly->b_off, 0, sizeof(float) * (size_t)ly->out);
    float *params = m->params;
    int64_t lo, hi, idx[RL_ROW_CHUNK];
    comm_exact sums; /* error², norm² */
    comm_exact_init(&sums, 2);
    comm_chunk_range(t->train.n, RL_ROW_CHUNK, &lo, &hi);
    for (int64_t start = lo; start < hi; start += RL_ROW_CHUNK) {
        int c = (int)(start + RL_ROW_CHUNK <= hi ? RL_ROW_CHUNK : hi - start);
        size_t len = (size_t)c * (size_t)m->out_dim;
        for (int i = 0; i < c; i++)
            idx[i] = start + i;
        m->params = dense;
        memcpy(ref, train_chunks_forward(&t->chunks, &t->train, idx, c), sizeof(float) * len);
        m->params = masked;
        const float *out = train_chunks_forward(&t->chunks, &t->train, idx, c);
        float part[2] = {0.0f, 0.0f};
        for (size_t i = 0; i < len; i++) {
            part[0] += (out[i] - ref[i]) * (out[i] - ref[i]);
            part[1] += ref[i] * ref[i];
        }
        comm_exact_add(&sums, 0, part, 2, RL_FIXED_SUM_FRAC_BITS);
    }
    m->params = params;
    free(dense);
    free(masked);
    free(ref);
    int rc = comm_exact_reduce(&sums);
    int saturated = comm_exact_saturated(&sums) > 0;
    *error = sqrt(comm_exact_value(&sums, 0, RL_FIXED_SUM_FRAC_BITS));
    *norm = sqrt(comm_exact_value(&sums, 1, RL_FIXED_SUM_FRAC_BITS));
    comm_exact_free(&sums);
    if (rc == 0 && saturated) { /* beyond the fixed point's range: no number, not a wrong one */
        rl_log_warn(
            "prune-init: the sketch error exceeds the range of its exact sum; not reported");
        *error = *norm = NAN;
    }
    return rc;
}

/* sqrt((Σ_k ‖X_k‖² w_k² / p_k − ‖Xw‖²) / s): the root expected squared sketch error of s draws
 * with replacement from p, rescaled (Drineas, Kannan, Mahoney 2006, Lemma 3). Infinite when a
 * weight on a non-zero column has p_k = 0. */
static double dkm_bound(const prune_state *s, const float *w, double norm) {
    double sum = 0.0;
    for (size_t k = 0; k < s->n; k++) {
        double term = s->csq[k] * (double)w[k] * (double)w[k];
        if (term > 0.0)
            sum += s->prob[k] > 0.0 ? term / s->prob[k] : INFINITY;
    }
    double v = (sum - norm * norm) / (double)s->draws;
    return sqrt(v > 0.0 ? v : 0.0);
}

static int is_linear(const rl_model *m) {
    return m->n_layers == 1 && m->layers[0].kind == RL_LAYER_DENSE;
}

/* values (n_params) set to 0 outside the weight matrices (biases, normalization parameters). */
static void keep_weights_only(const rl_model *m, double *values) {
    double *weights = rl_xcalloc(m->n_params, sizeof(double));
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *ly = &m->layers[l];
        memcpy(weights + ly->w_off, values + ly->w_off, sizeof(double) * rl_layer_weight_count(ly));
    }
    memcpy(values, weights, sizeof(double) * m->n_params);
    free(weights);
}

/* linreg: AR(1) correlation ρ^|i−j| between features, then feature k scaled by R^(−k/(D−1)). */
static void shape_features(rl_dataset *d, double rho, double ratio) {
    int dim = d->dim;
    double mix = sqrt(1.0 - rho * rho);
    for (int64_t i = 0; i < d->n; i++) {
        float *x = d->x_f32 + (size_t)i * (size_t)dim;
        double prev = x[0];
        for (int k = 1; k < dim; k++) {
            prev = rho * prev + mix * x[k];
            x[k] = (float)prev;
        }
        for (int k = 0; k < dim; k++)
            x[k] = (float)(x[k] * pow(ratio, -(double)k / (dim > 1 ? dim - 1 : 1)));
    }
}

/* Collective: s->scores from the init parameters; SynFlow also iterates its own top-k rounds
 * into `keep` before the final round. */
static int compute_scores(prune_state *s, dp_trainer *t, const rl_config *cfg, rl_rng rng) {
    rl_model *m = &t->model;
    size_t n = s->n;
    int64_t n_ex = rl_cfg_int(cfg, "prune.score_examples");
    if (n_ex == 0 || n_ex > t->train.n)
        n_ex = t->train.n;
    int64_t *first = rl_xmalloc(sizeof(int64_t) * (size_t)n_ex); /* the first n_ex examples */
    for (int64_t i = 0; i < n_ex; i++)
        first[i] = i;
    float *g = rl_xmalloc(sizeof(float) * n);
    int rc = 0;
    switch (s->score) {
    case SC_RANDOM:
        for (size_t k = 0; k < n; k++)
            s->scores[k] = kern_select_uniform(rng.key, STREAM_RANDOM, (int64_t)k);
        break;
    case SC_MAGNITUDE:
        for (size_t k = 0; k < n; k++)
            s->scores[k] = fabs((double)m->params[k]);
        break;
    case SC_SKETCH:
        for (size_t k = 0; k < n; k++)
            s->scores[k] = sqrt(s->csq[k]) * fabs((double)m->params[k]);
        break;
    case SC_SNIP:
        rc = data_gradient(t, first, n_ex, 1.0f, g);
        for (size_t k = 0; rc == 0 && k < n; k++)
            s->scores[k] = fabs((double)g[k] * (double)m->params[k]);
        break;
    case SC_GRASP: {
        /* Hg by a central difference of gradients along g: (∇L(θ + εg) − ∇L(θ − εg)) / 2ε,
         * with ‖εg‖ = 1e-3 ‖θ‖. */
        float temp = (float)rl_cfg_float(cfg, "prune.grasp_temp");
        float *theta = rl_xmalloc(sizeof(float) * n), *gp = rl_xmalloc(sizeof(float) * n);
        memcpy(theta, m->params, sizeof(float) * n);
        rc = data_gradient(t, first, n_ex, temp, g);
        double gn = 0.0, tn = 0.0;
        for (size_t k = 0; k < n; k++) {
            gn += (double)g[k] * g[k];
            tn += (double)theta[k] * theta[k];
        }
        double eps = gn > 0.0 ? 1e-3 * sqrt(tn / gn) : 0.0;
        for (size_t k = 0; k < n; k++)
            m->params[k] = (float)(theta[k] + eps * g[k]);
        rc = rc ? rc : data_gradient(t, first, n_ex, temp, gp);
        for (size_t k = 0; k < n; k++)
            m->params[k] = (float)(theta[k] - eps * g[k]);
        rc = rc ? rc : data_gradient(t, first, n_ex, temp, g);
        memcpy(m->params, theta, sizeof(float) * n);
        for (size_t k = 0; rc == 0 && k < n; k++)
            s->scores[k] = eps > 0.0 ? ((double)gp[k] - g[k]) / (2.0 * eps) * theta[k] : 0.0;
        free(theta);
        free(gp);
        break;
    }
    case SC_SYNFLOW: {
        int iters = (int)rl_cfg_int(cfg, "prune.synflow_iters");
        double target = s->density;
        int64_t unused;
        for (size_t k = 0; k < n; k++)
            s->support[k] = 1.0f;
        for (int i = 0; rc == 0 && i + 1 < iters; i++) {
            rl_prune_synflow(m, &t->chunks.ws, s->support, s->scores);
            s->density = pow(target, (double)(i + 1) / iters);
            rc = select_mask(s, m, rng, s->scores, 0, s->support, NULL, &unused);
        }
        s->density = target;
        if (rc == 0)
            rl_prune_synflow(m, &t->chunks.ws, s->support, s->scores);
        break;
    }
    }
    keep_weights_only(m, s->scores);
    free(first);
    free(g);
    return rc;
}

static int prune_prepare(rl_run *run, dp_trainer *t, void *ctx) {
    prune_state *s = ctx;
    const rl_config *cfg = rl_run_config(run);
    rl_model *m = &t->model;
    if (rl_model_is_vit(m))
        return rl_fail("prune-init prunes the layers of mlp: and cnn: models; model.spec %s is a "
                       "vision transformer",
                       "use an mlp: or cnn: model.spec", m->spec);
    static const char *const scores[] = {"random", "magnitude", "snip",
                                         "grasp",  "synflow",   "sketch"};
    const char *score = rl_cfg_str(cfg, "prune.score");
    for (int i = 0; i < 6; i++)
        if (strcmp(score, scores[i]) == 0)
            s->score = (score_kind)i;
    for (int l = 0; s->score == SC_SYNFLOW && l < m->n_layers; l++)
        if (m->layers[l].kind == RL_LAYER_GROUPNORM || m->layers[l].kind == RL_LAYER_BATCHNORM)
            return rl_fail("prune.score=synflow needs a network that is homogeneous in each "
                           "layer's weights; model.spec %s normalizes (layer %d is a %s norm)",
                           "use a model.spec without gnG, bn or resC...gG / resC...bn layers for "
                           "SynFlow, or another prune.score",
                           m->spec, l + 1,
                           m->layers[l].kind == RL_LAYER_GROUPNORM ? "group" : "batch");
    s->sample = strcmp(rl_cfg_str(cfg, "prune.select"), "sample") == 0;
    s->replace = rl_cfg_bool(cfg, "prune.replace");
    s->rescale = rl_cfg_bool(cfg, "prune.rescale");
    s->per_layer = strcmp(rl_cfg_str(cfg, "prune.scope"), "layer") == 0;
    s->dense_train = strcmp(rl_cfg_str(cfg, "prune.train"), "dense") == 0;
    s->density = 1.0 - rl_cfg_float(cfg, "prune.sparsity");
    double ratio = rl_cfg_float(cfg, "prune.feature_scale");
    double rho = rl_cfg_float(cfg, "prune.feature_corr");
    if (!s->sample && (s->replace || s->rescale))
        return rl_fail("prune.%s=true has no effect with prune.select=topk",
                       "set prune.select=sample, or leave prune.replace and prune.rescale false",
                       s->replace ? "replace" : "rescale");
    int linreg = strcmp(rl_cfg_str(cfg, "data.name"), "linreg") == 0;
    if (!linreg && (ratio != 1.0 || rho != 0.0))
        return rl_fail("prune.feature_scale and prune.feature_corr shape synthetic features; "
                       "data.name=%s has its own",
                       "use data.name=linreg, or leave them at 1 and 0",
                       rl_cfg_str(cfg, "data.name"));
    if (linreg) {
        shape_features(&t->train, rho, ratio);
        shape_features(&t->test, rho, ratio);
    }
    s->n = m->n_params;
    /* per parameter: scores, weights, csq, prob (double), mask, support, w_0, the score gradients
     * (3 floats), their exact sum (int64) and the selection's (key, id) pairs and sampling
     * tables (3 x 16 bytes); per example scored: its index */
    uint64_t per_param = 5 * sizeof(double) + 6 * sizeof(float) + 3 * 16;
    if (rl_mem_check(rl_size_add(rl_size_mul(s->n, per_param),
                                 rl_size_mul((uint64_t)t->train.n, sizeof(int64_t))),
                     "pruning the %zu parameters of model %s", s->n, m->spec) < 0)
        return rl_fail_hint("use a smaller model.spec");
    s->scores = rl_xcalloc(s->n, sizeof(double));
    s->weights = rl_xcalloc(s->n, sizeof(double));
    s->csq = rl_xcalloc(s->n, sizeof(double));
    s->prob = rl_xcalloc(s->n, sizeof(double));
    s->mask = rl_xmalloc(sizeof(float) * s->n);
    s->support = rl_xmalloc(sizeof(float) * s->n);
    for (size_t k = 0; k < s->n; k++)
        s->mask[k] = 1.0f;
    for (int l = 0; l < m->n_layers; l++)
        s->prunable += (int64_t)rl_layer_weight_count(&m->layers[l]);

    int64_t mask_seed = rl_cfg_int(cfg, "prune.mask_seed");
    rl_rng rng = rl_rng_make(mask_seed ? (uint64_t)mask_seed : rl_run_seed(run), RL_RNG_SAMPLE);
    if (column_norms(t, s->csq) < 0 || compute_scores(s, t, cfg, rng) < 0)
        return RL_ERR;
    double lowest = INFINITY;
    for (int l = 0; l < m->n_layers; l++)
        for (size_t i = 0; i < rl_layer_weight_count(&m->layers[l]); i++)
            lowest = fmin(lowest, s->scores[m->layers[l].w_off + i]);
    for (size_t k = 0; k < s->n; k++) /* GraSP's signed scores: sampled ∝ score − minimum */
        s->weights[k] = s->score == SC_GRASP ? s->scores[k] - lowest : s->scores[k];
    if (select_mask(s, m, rng, s->sample ? s->weights : s->scores, s->sample, s->mask, s->prob,
                    &s->draws) < 0)
        return RL_ERR;
    for (size_t k = 0; k < s->n; k++) {
        s->support[k] = s->mask[k] != 0.0f ? 1.0f : 0.0f;
        s->kept += s->mask[k] != 0.0f;
    }
    s->kept -= (int64_t)s->n - s->prunable; /* biases are kept */
    if (is_linear(m) && s->sample) {
        if (sketch_error(t, s->mask, &s->init_error, &s->init_norm) < 0)
            return RL_ERR;
        s->init_bound = dkm_bound(s, m->params, s->init_norm);
    }
    if (!s->dense_train) {
        for (size_t k = 0; k < s->n; k++)
            m->params[k] *= s->mask[k];
        t->mask = s->support;
    }
    s->start = rl_xmalloc(sizeof(float) * s->n);
    memcpy(s->start, m->params, sizeof(float) * s->n);
    rl_log_info("prune-init: %s %s%s%s, %s scope, kept %lld of %lld weights (density %.4f)", score,
                rl_cfg_str(cfg, "prune.select"), s->sample && s->replace ? " with replacement" : "",
                s->sample && s->rescale ? ", rescaled" : "", s->per_layer ? "per-layer" : "global",
                (long long)s->kept, (long long)s->prunable, (double)s->kept / (double)s->prunable);
    return 0;
}

/* ‖w_T − w_0‖ / ‖w_0‖ over the weights (not the biases): how far training moved them from
 * where the mask was chosen. In double, in parameter order (the parameters are replicated). */
static double weight_change(const prune_state *s, const rl_model *m) {
    double moved = 0.0, start = 0.0;
    for (int l = 0; l < m->n_layers; l++)
        for (size_t i = 0; i < rl_layer_weight_count(&m->layers[l]); i++) {
            size_t k = m->layers[l].w_off + i;
            double d = (double)m->params[k] - (double)s->start[k];
            moved += d * d;
            start += (double)s->start[k] * (double)s->start[k];
        }
    return sqrt(moved / start);
}

static int prune_finish(rl_run *run, dp_trainer *t, void *ctx) {
    prune_state *s = ctx;
    rl_model *m = &t->model;
    double trained_loss = rl_run_last(run, "test_loss"), trained_acc = rl_run_last(run, "test_acc");
    double error = NAN, norm = NAN, bound = NAN, test_loss = trained_loss, test_acc = trained_acc;
    int linear = is_linear(m), rc = 0;
    double change = weight_change(s, m); /* before the dense-trained weights are masked */
    if (s->dense_train) {
        if (linear)
            rc = sketch_error(t, s->mask, &error, &norm);
        if (rc == 0 && linear && s->sample)
            bound = dkm_bound(s, m->params, norm);
        for (size_t k = 0; k < s->n; k++)
            m->params[k] *= s->mask[k];
        rc = rc ? rc : dp_evaluate(t, &test_loss, &test_acc);
    }
    if (comm_agree_error(rc) < 0)
        return RL_ERR;
    if (comm_rank() != 0)
        return 0;
    int applies = linear && s->dense_train && s->sample && s->replace && s->rescale;
    struct {
        const char *name;
        double value;
    } finals[] = {
        {"train_loss", rl_run_last(run, "train_loss")},
        {"trained_test_loss", trained_loss},
        {"trained_test_acc", trained_acc},
        {"test_loss", test_loss},
        {"test_acc", test_acc},
        {"steps", (double)t->total_steps},
        {"kept", (double)s->kept},
        {"density", (double)s->kept / (double)s->prunable},
        {"draws", (double)s->draws},
        {"sketch_error", error},
        {"sketch_norm", norm},
        {"sketch_rel_error", error / norm},
        {"sketch_bound", bound},
        {"bound_applies", applies},
        {"init_sketch_error", linear && s->sample ? s->init_error : NAN},
        {"init_sketch_bound", linear && s->sample ? s->init_bound : NAN},
        {"weight_change", change},
    };
    for (size_t i = 0; rc == 0 && i < sizeof finals / sizeof finals[0]; i++)
        rc = rl_run_final(run, finals[i].name, finals[i].value);
    float *scores = rl_xmalloc(sizeof(float) * s->n);
    for (size_t k = 0; k < s->n; k++)
        scores[k] = (float)s->scores[k];
    int64_t n = (int64_t)s->n;
    rc = rc ? rc : rl_run_final_array(run, "mask", s->mask, n, "model", m->spec);
    rc = rc ? rc : rl_run_final_array(run, "scores", scores, n, "model", m->spec);
    rc = rc ? rc : rl_run_final_array(run, "params", m->params, n, "model", m->spec);
    free(scores);
    if (rc == 0)
        rl_log_info("prune-init: density %.4f, test accuracy %.2f %%, test loss %.4f",
                    (double)s->kept / (double)s->prunable, 100.0 * test_acc, test_loss);
    if (rc == 0 && linear && s->dense_train)
        rl_log_info("prune-init: sketch error %.4g (relative %.4g), DKM value %.4g%s", error,
                    error / norm, bound, applies ? "" : " (does not apply to this selection)");
    return rc;
}

static int prune_run(rl_run *run) {
    prune_state s;
    memset(&s, 0, sizeof s);
    dp_hooks hooks = {
        .ctx = &s, .prepare = prune_prepare, .finish = prune_finish};
    int rc = dp_run(run, metric_names, sizeof metric_names / sizeof metric_names[0], &hooks);
    prune_free(&s);
    return rc;
}

static const rl_experiment rl_experiment_prune_init = {
    .name = "prune-init",
    .summary = "pruning at initialization as sketching: scores, top-k or sampled masks, training",
    .doc =
        "Chooses a mask at initialization from prune.score (random, magnitude, snip, grasp,\n"
        "synflow, sketch) by prune.select (topk, or sample ∝ score with prune.replace and\n"
        "prune.rescale) over all weights or per layer (prune.scope) at prune.sparsity, then\n"
        "trains model.spec masked (prune.train=masked) or dense with the init mask applied to\n"
        "the trained weights (prune.train=dense). Selection is rank-independent (global\n"
        "exponential-key merge, draws split over ranks), so masks and results are identical\n"
        "on any number of ranks. Weights are the matrices of dense and conv layers and\n"
        "residual projections (biases and normalization parameters are kept). Finals: test_loss, "
        "test_acc (the pruned model), density,\n"
        "and for linear models (one dense layer) sketch_error ‖X(m⊙w_T) − Xw_T‖ and the\n"
        "Drineas–Kannan–Mahoney value sketch_bound (bound_applies = 1 for sampling with\n"
        "replacement and rescaling); weight_change ‖w_T − w_0‖/‖w_0‖ says how far training\n"
        "moved the weights from where the mask was chosen. Arrays: mask, scores, params.\n"
        "See experiments/prune-init.md.",
    .default_ini = rl_ini_prune_init,
    .declare = prune_declare,
    .check = dp_check_config,
    .run = prune_run,
};

RL_EXPERIMENT(rl_experiment_prune_init)
