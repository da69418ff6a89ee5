/* Float <-> fixed-point conversion for exact, rank-count-independent sums. */
#include "kernels/kernels.h"

#include <math.h>

static inline int64_t to_fixed_one(float x, double scale, size_t *saturated) {
    const double limit = 4611686018427387904.0; /* 2^62, an integer: |rint(v)| > limit iff |v| is */
    double v = (double)x * scale;
    if (!(fabs(v) <= limit)) {
        (*saturated)++;
        return v != v ? 0 : (v > 0 ? (int64_t)limit : -(int64_t)limit);
    }
    return (int64_t)lrint(v); /* round to nearest even, as nearbyint; inlined (cvtsd2si) */
}

size_t kern_to_fixed(const float *x, int64_t *q, size_t n, int frac_bits) {
    const double scale = ldexp(1.0, frac_bits);
    size_t saturated = 0;
    for (size_t i = 0; i < n; i++)
        q[i] = to_fixed_one(x[i], scale, &saturated);
    return saturated;
}

size_t kern_add_fixed(const float *x, int64_t *acc, size_t n, int frac_bits) {
    const double scale = ldexp(1.0, frac_bits);
    size_t saturated = 0;
    for (size_t i = 0; i < n; i++)
        acc[i] += to_fixed_one(x[i], scale, &saturated);
    return saturated;
}

void kern_from_fixed(const int64_t *q, float *x, size_t n, int frac_bits) {
    const double inv_scale = ldexp(1.0, -frac_bits);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)q[i] * inv_scale);
}
