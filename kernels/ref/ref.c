/* Plain-C reference kernels: the obvious loop for each optimized kernel in kernels/. */
#include "kernels/kernels.h"

#include <math.h>

void kern_ref_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++) {
                float av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s = fmaf(av, bv, s);
            }
            float *out = &c[(size_t)i * ldc + j];
            *out = beta == 0.0f ? alpha * s : fmaf(alpha, s, beta * *out);
        }
}

size_t kern_ref_to_fixed(const float *x, int64_t *q, size_t n, int frac_bits) {
    size_t saturated = 0;
    const double limit = 4611686018427387904.0; /* 2^62 */
    for (size_t i = 0; i < n; i++) {
        double v = nearbyint((double)x[i] * pow(2.0, frac_bits)); /* ties to even */
        if (isnan(v)) {
            v = 0.0;
            saturated++;
        } else if (fabs(v) > limit) {
            v = v > 0 ? limit : -limit;
            saturated++;
        }
        q[i] = (int64_t)v;
    }
    return saturated;
}

void kern_ref_from_fixed(const int64_t *q, float *x, size_t n, int frac_bits) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)q[i] / pow(2.0, frac_bits));
}

void kern_ref_fill_uniform(float *x, size_t n, const uint32_t key[2], uint32_t stream, float lo,
                           float hi) {
    for (size_t i = 0; i < n; i++) {
        uint32_t ctr[4] = {stream, (uint32_t)(i / 4), 0, 0}, block[4];
        kern_philox(key, ctr, block);
        float v = lo + (hi - lo) * kern_u32_to_unit(block[i % 4]);
        x[i] = v < hi ? v : nextafterf(hi, lo);
    }
}

size_t kern_ref_add_fixed(const float *x, int64_t *acc, size_t n, int frac_bits) {
    size_t saturated = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t q;
        saturated += kern_ref_to_fixed(&x[i], &q, 1, frac_bits);
        acc[i] += q;
    }
    return saturated;
}
