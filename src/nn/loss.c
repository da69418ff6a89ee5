/* Losses and their gradients w.r.t. the model output: softmax cross-entropy (also against
 * smoothed labels), generalized cross-entropy, cross-entropy with the early-learning
 * regularizer, squared error, SimCLR's NT-Xent, and the argmax accuracy count (see nn.h). Per-row
 * sums are in double. */
#include "src/nn/nn.h"

#include "kernels/kernels.h"
#include "src/core/error.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

/* Values per pass of the row loops below: exp(z_j − shift) of a block by kern_exp_f64 (glibc's
 * bits, vectorized), then the block's arithmetic in column order. */
#define EXP_BLOCK 256

/* exps[0..n) = exp(z[j0 + j] − shift) for the block of n classes from j0. */
static void exp_block(const float *z, int j0, int n, double shift, double *exps) {
    double args[EXP_BLOCK];
    for (int j = 0; j < n; j++)
        args[j] = (double)z[j0 + j] - shift;
    kern_exp_f64(args, exps, (size_t)n);
}

/* log Σ_j exp(z_j), with the maximum subtracted. */
static double log_sum_exp(const float *z, int classes) {
    float z_max = z[0];
    for (int j = 1; j < classes; j++)
        if (z[j] > z_max)
            z_max = z[j];
    double sum = 0.0, exps[EXP_BLOCK];
    for (int j0 = 0; j0 < classes; j0 += EXP_BLOCK) {
        int n = classes - j0 < EXP_BLOCK ? classes - j0 : EXP_BLOCK;
        exp_block(z, j0, n, z_max, exps);
        for (int j = 0; j < n; j++)
            sum += exps[j];
    }
    return z_max + log(sum);
}

/* d (classes) = c · (softmax(z) − q), softmax from the row's log-sum-exp, q the target
 * distribution: `on` at the label y, `off` at every other class (one-hot: 1 and 0). */
static void softmax_minus_target(float *d, const float *z, double lse, int32_t y, int classes,
                                 double c, double on, double off) {
    double exps[EXP_BLOCK];
    for (int j0 = 0; j0 < classes; j0 += EXP_BLOCK) {
        int n = classes - j0 < EXP_BLOCK ? classes - j0 : EXP_BLOCK;
        exp_block(z, j0, n, lse, exps);
        for (int j = 0; j < n; j++)
            d[j0 + j] = (float)(c * (exps[j] - (j0 + j == y ? on : off)));
    }
}

/* Whether Σ_j q_j (lse − z_j), q = `on` at the label and 0 elsewhere, is exactly on · (lse − z_y):
 * lse ≥ z_j, so each other term 0 · (lse − z_j) is +0, unless lse is not finite or some z_j is
 * −∞ (0 · ∞ is NaN); the one-hot loss then skips the sum over the classes, with the same bits. */
static int one_hot_sum_exact(const float *z, int classes, double lse) {
    int minus_inf = 0;
    for (int j = 0; j < classes; j++)
        minus_inf |= z[j] == -INFINITY;
    return isfinite(lse) && !minus_inf;
}

double rl_loss_smoothed_ce(const float *logits, const int32_t *labels, const float *weights,
                           int batch, int classes, float smoothing, float scale, float *d_logits,
                           float *per_example) {
    assert((classes >= 2 || smoothing == 0.0f) && smoothing >= 0.0f && smoothing <= 1.0f);
    const double on = 1.0 - smoothing, off = smoothing > 0.0f ? smoothing / (classes - 1.0) : 0.0;
    double total = 0.0;
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * classes; // (classes)
        int32_t y = labels[i];
        assert(y >= 0 && y < classes);
        double lse = log_sum_exp(z, classes);
        double loss = 0.0; /* Σ_j q_j · (−log p_j) */
        if (off == 0.0 && one_hot_sum_exact(z, classes, lse))
            loss = on * (lse - z[y]);
        else
            for (int j = 0; j < classes; j++)
                loss += (j == y ? on : off) * (lse - z[j]);
        double w = weights ? weights[i] : 1.0;
        total += w * loss;
        if (per_example)
            per_example[i] = (float)loss;
        if (d_logits)
            softmax_minus_target(d_logits + (size_t)i * classes, z, lse, y, classes,
                                 (double)scale * w, on, off);
    }
    return total;
}

/* Plain cross-entropy: the smoothed one with ε = 0 (the off-label terms add exact zeros). */
double rl_loss_softmax_ce(const float *logits, const int32_t *labels, const float *weights,
                          int batch, int classes, float scale, float *d_logits,
                          float *per_example) {
    return rl_loss_smoothed_ce(logits, labels, weights, batch, classes, 0.0f, scale, d_logits,
                               per_example);
}

double rl_loss_gce(const float *logits, const int32_t *labels, const float *weights, int batch,
                   int classes, float q, float scale, float *d_logits, float *per_example) {
    assert(q > 0.0f && q <= 1.0f);
    double total = 0.0;
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * classes; // (classes)
        int32_t y = labels[i];
        assert(y >= 0 && y < classes);
        double lse = log_sum_exp(z, classes);
        double p_y_q = exp(q * ((double)z[y] - lse)); /* p_y^q */
        double loss = (1.0 - p_y_q) / q;
        double w = weights ? weights[i] : 1.0;
        total += w * loss;
        if (per_example)
            per_example[i] = (float)loss;
        if (d_logits) /* ∂ℓ/∂z_j = p_y^q · (p_j − [j = y]) */
            softmax_minus_target(d_logits + (size_t)i * classes, z, lse, y, classes,
                                 (double)scale * w * p_y_q, 1.0, 0.0);
    }
    return total;
}

double rl_loss_elr(const float *logits, const int32_t *labels, const float *targets,
                   const float *weights, int batch, int classes, float lambda, float scale,
                   float *d_logits, float *per_example) {
    const double lo = RL_ELR_CLAMP, hi = 1.0 - RL_ELR_CLAMP;
    double total = 0.0;
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * classes;  // (classes)
        const float *t = targets + (size_t)i * classes; // (classes)
        int32_t y = labels[i];
        assert(y >= 0 && y < classes);
        double lse = log_sum_exp(z, classes);
        double s = 0.0, s_free = 0.0; /* ⟨clamp(p), t⟩ and its part over unclamped classes */
        for (int j = 0; j < classes; j++) {
            double p = exp((double)z[j] - lse);
            s += (p < lo ? lo : p > hi ? hi : p) * t[j];
            s_free += p >= lo && p <= hi ? p * t[j] : 0.0;
        }
        double loss = lse - z[y] + lambda * log(1.0 - s);
        double w = weights ? weights[i] : 1.0;
        total += w * loss;
        if (per_example)
            per_example[i] = (float)loss;
        if (d_logits) {
            /* ∂/∂z_j log(1 − s) = −p_j ([p_j unclamped] t_j − s_free) / (1 − s) */
            float *d = d_logits + (size_t)i * classes; // (classes)
            double c = (double)scale * w, r = lambda / (1.0 - s);
            for (int j = 0; j < classes; j++) {
                double p = exp((double)z[j] - lse);
                double t_free = p >= lo && p <= hi ? t[j] : 0.0;
                d[j] = (float)(c * (p - (j == y ? 1.0 : 0.0) - r * p * (t_free - s_free)));
            }
        }
    }
    return total;
}

double rl_loss_mse(const float *out, const float *targets, const float *weights, int batch, int dim,
                   float scale, float *d_out, float *per_example) {
    double total = 0.0;
    for (int i = 0; i < batch; i++) {
        const float *o = out + (size_t)i * dim;     // (dim)
        const float *t = targets + (size_t)i * dim; // (dim)
        double w = weights ? weights[i] : 1.0;
        double c = (double)scale * w;
        double sq = 0.0;
        for (int j = 0; j < dim; j++) {
            double diff = (double)o[j] - t[j];
            sq += diff * diff;
            if (d_out)
                d_out[(size_t)i * dim + j] = (float)(c * diff); // (B, dim)
        }
        double loss = 0.5 * sq;
        total += w * loss;
        if (per_example)
            per_example[i] = (float)loss;
    }
    return total;
}

void rl_softmax(const float *logits, int batch, int classes, float *probs) {
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * classes; // (classes)
        double lse = log_sum_exp(z, classes);
        for (int j = 0; j < classes; j++)
            probs[(size_t)i * classes + j] = (float)exp((double)z[j] - lse);
    }
}

int rl_count_correct(const float *logits, const int32_t *labels, int batch, int classes) {
    int correct = 0;
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * classes; // (classes)
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (z[j] > z[best])
                best = j;
        correct += best == labels[i];
    }
    return correct;
}

double rl_loss_nt_xent(const float *z, int pairs, int dim, double temperature, float scale,
                       float *d_z) {
    const int n = 2 * pairs;
    double *u = rl_xmalloc(sizeof(double) * (size_t)n * (size_t)dim); /* unit rows */
    double *norm = rl_xmalloc(sizeof(double) * (size_t)n);
    double *p = rl_xmalloc(sizeof(double) * (size_t)n * (size_t)n); /* s, then ∂Σℓ/∂s */
    double *du = rl_xmalloc(sizeof(double) * (size_t)dim);          /* ∂Σℓ/∂u_k */
    for (int k = 0; k < n; k++) {
        double sq = 0.0;
        for (int j = 0; j < dim; j++)
            sq += (double)z[(size_t)k * dim + j] * z[(size_t)k * dim + j];
        norm[k] = sqrt(sq) > 1e-12 ? sqrt(sq) : 1e-12;
        for (int j = 0; j < dim; j++)
            u[(size_t)k * dim + j] = z[(size_t)k * dim + j] / norm[k];
    }
    double total = 0.0;
    for (int k = 0; k < n; k++) {
        double *row = p + (size_t)k * n, top = -INFINITY, sum = 0.0;
        for (int l = 0; l < n; l++) {
            double dot = 0.0;
            for (int j = 0; j < dim; j++)
                dot += u[(size_t)k * dim + j] * u[(size_t)l * dim + j];
            row[l] = dot / temperature;
            top = l != k && row[l] > top ? row[l] : top;
        }
        for (int l = 0; l < n; l++)
            sum += l != k ? exp(row[l] - top) : 0.0;
        int partner = k ^ 1;
        total += top + log(sum) - row[partner];
        /* ∂ℓ_k/∂s_kl: softmax over l ≠ k, minus 1 at the partner */
        for (int l = 0; l < n; l++)
            row[l] = l != k ? exp(row[l] - top) / sum - (l == partner) : 0.0;
    }
    for (int k = 0; d_z && k < n; k++) {
        /* ∂Σℓ/∂u_k = Σ_l (∂/∂s_kl + ∂/∂s_lk) u_l / τ; then through u_k = z_k / ‖z_k‖ */
        double radial = 0.0;
        for (int j = 0; j < dim; j++)
            du[j] = 0.0;
        for (int l = 0; l < n; l++) {
            double w = (p[(size_t)k * n + l] + p[(size_t)l * n + k]) / temperature;
            for (int j = 0; j < dim; j++)
                du[j] += w * u[(size_t)l * dim + j];
        }
        for (int j = 0; j < dim; j++)
            radial += du[j] * u[(size_t)k * dim + j];
        for (int j = 0; j < dim; j++)
            d_z[(size_t)k * dim + j] =
                (float)(scale * (du[j] - radial * u[(size_t)k * dim + j]) / norm[k]);
    }
    free(u);
    free(norm);
    free(p);
    free(du);
    return total;
}
