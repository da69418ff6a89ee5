/* Plain-C references of the selection kernels (kernels/select.h): the obvious loops. */
#include "kernels/select.h"

#include <math.h>
#include <stdlib.h>

void kern_ref_sample_keys(const double *w, size_t n, int64_t first_id, const uint32_t key[2],
                          uint32_t stream, kern_pair *out) {
    for (size_t i = 0; i < n; i++) {
        double u = kern_select_uniform(key, stream, first_id + (int64_t)i);
        out[i].key = w[i] <= 0.0 ? INFINITY : -log(u) / w[i];
        out[i].id = first_id + (int64_t)i;
    }
}

void kern_ref_select_smallest(kern_pair *p, size_t n, size_t k) {
    (void)k;
    qsort(p, n, sizeof *p, kern_pair_cmp);
}

void kern_ref_sample_draws(const double *cdf, size_t n, const uint32_t key[2], uint32_t stream,
                           int64_t first_draw, int64_t n_draws, int64_t *counts) {
    for (int64_t d = first_draw; d < first_draw + n_draws; d++) {
        double target = kern_select_uniform(key, stream, d) * cdf[n - 1];
        size_t i = 0;
        while (cdf[i] < target)
            i++;
        counts[i]++;
    }
}

void kern_ref_sqdist_f64(const double *x, int r, const double *yt, int m, int d, double *s) {
    for (int a = 0; a < r; a++)
        for (int j = 0; j < m; j++) {
            double sum = 0.0;
            for (int p = 0; p < d; p++)
                sum += (x[a * d + p] - yt[p * m + j]) * (x[a * d + p] - yt[p * m + j]);
            s[a * m + j] = sum;
        }
}

void kern_ref_sqdist_f32(const float *x, int r, const float *yt, int m, int d, float *s) {
    for (int a = 0; a < r; a++)
        for (int j = 0; j < m; j++) {
            float sum = 0.0f;
            for (int p = 0; p < d; p++)
                sum += (x[a * d + p] - yt[p * m + j]) * (x[a * d + p] - yt[p * m + j]);
            s[a * m + j] = sum;
        }
}
