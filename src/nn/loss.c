/* Losses and their gradients w.r.t. the model output: softmax cross-entropy, squared error, and
 * the argmax accuracy count (see nn.h). Per-row sums are in double. */
#include "src/nn/nn.h"

#include <assert.h>
#include <math.h>

double rl_loss_softmax_ce(const float *logits, const int32_t *labels, const float *weights,
                          int batch, int classes, float scale, float *d_logits,
                          float *per_example) {
    double total = 0.0;
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * classes; // (classes)
        int32_t y = labels[i];
        assert(y >= 0 && y < classes);
        float z_max = z[0];
        for (int j = 1; j < classes; j++)
            if (z[j] > z_max)
                z_max = z[j];
        double sum = 0.0;
        for (int j = 0; j < classes; j++)
            sum += exp((double)z[j] - z_max);
        double log_sum_exp = z_max + log(sum);
        double loss = log_sum_exp - z[y];
        double w = weights ? weights[i] : 1.0;
        total += w * loss;
        if (per_example)
            per_example[i] = (float)loss;
        if (d_logits) {
            float *d = d_logits + (size_t)i * classes; // (classes)
            double c = (double)scale * w;
            for (int j = 0; j < classes; j++)
                d[j] = (float)(c * (exp((double)z[j] - log_sum_exp) - (j == y ? 1.0 : 0.0)));
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
