/* Float <-> fixed-point conversion for exact, rank-count-independent sums.
 *
 * The conversion runs once per chunk over the whole gradient, so it is a hot loop. Blocks whose
 * values all lie well inside the fixed range (|x · 2^frac_bits| < 2^51) round with the
 * magic-number trick: adding 1.5 · 2^52 to a double of magnitude below 2^51 leaves exactly
 * round-to-nearest-even(v) in the low mantissa bits, so an integer subtraction of the bit
 * patterns gives lrint(v) without a conversion instruction AVX2 lacks. Other blocks (large
 * values, saturation, NaN) take the scalar path. Both give the same bits; the fast loop is
 * compiled for AVX-512, AVX2 and baseline x86-64, the level kern_isa() names (kernels/isa.h). */
#include "kernels/isa.h"
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

#define FIXED_BLOCK 256
#define MAGIC 6755399441055744.0 /* 1.5 · 2^52 */
#define MAGIC_BITS 0x4338000000000000LL

#define FIXED_LIMIT 4611686018427387904LL /* 2^62: where values saturate */

static inline int64_t to_fixed_one(float x, double scale, size_t *saturated) {
    const double limit = (double)FIXED_LIMIT; /* an integer: |rint(v)| > limit iff |v| is */
    double v = (double)x * scale;
    if (!(fabs(v) <= limit)) {
        (*saturated)++;
        return v != v ? 0 : (v > 0 ? FIXED_LIMIT : -FIXED_LIMIT);
    }
    return (int64_t)lrint(v); /* round to nearest even, as nearbyint; inlined (cvtsd2si) */
}

/* Number of x[i] with |x[i]| not below fast_limit (NaN counts): zero means the block may take
 * the magic-number path. */
static inline int fixed_count_slow(const float *x, size_t n, double fast_limit) {
    int slow = 0;
    for (size_t i = 0; i < n; i++)
        slow += !(fabs((double)x[i]) < fast_limit);
    return slow;
}

/* round-to-nearest-even(x · scale) for |x · scale| < 2^51. */
static inline int64_t fixed_round_small(float x, double scale) {
    double t = (double)x * scale + MAGIC;
    int64_t bits;
    memcpy(&bits, &t, sizeof bits);
    return bits - MAGIC_BITS;
}

/* acc = add ? acc + fixed(x) : fixed(x); *saturated: how many saturated. */
KERN_ISA_BODY fixed_convert_body(const float *x, int64_t *acc, size_t n, int frac_bits, int add,
                                size_t *saturated_out) {
    const double scale = ldexp(1.0, frac_bits);
    const double fast_limit = ldexp(1.0, 51 - frac_bits); /* |x| below: |x · scale| < 2^51 */
    size_t saturated = 0;
    for (size_t start = 0; start < n; start += FIXED_BLOCK) {
        size_t len = n - start < FIXED_BLOCK ? n - start : FIXED_BLOCK;
        const float *xb = x + start;
        int64_t *ab = acc + start;
        if (fixed_count_slow(xb, len, fast_limit) == 0) {
            if (add)
                for (size_t i = 0; i < len; i++)
                    ab[i] += fixed_round_small(xb[i], scale);
            else
                for (size_t i = 0; i < len; i++)
                    ab[i] = fixed_round_small(xb[i], scale);
        } else {
            for (size_t i = 0; i < len; i++) {
                int64_t q = to_fixed_one(xb[i], scale, &saturated), sum;
                if (!add)
                    sum = q;
                else if (__builtin_add_overflow(ab[i], q, &sum)) { /* saturated values piled up */
                    sum = q > 0 ? FIXED_LIMIT : -FIXED_LIMIT;
                    saturated++;
                }
                ab[i] = sum;
            }
        }
    }
    *saturated_out = saturated;
}

KERN_ISA_CLONES(static, fixed_convert,
                (const float *x, int64_t *acc, size_t n, int frac_bits, int add, size_t *saturated),
                (x, acc, n, frac_bits, add, saturated))

size_t kern_to_fixed(const float *x, int64_t *q, size_t n, int frac_bits) {
    size_t saturated;
    fixed_convert(x, q, n, frac_bits, 0, &saturated);
    return saturated;
}

size_t kern_add_fixed(const float *x, int64_t *acc, size_t n, int frac_bits) {
    size_t saturated;
    fixed_convert(x, acc, n, frac_bits, 1, &saturated);
    return saturated;
}

void kern_from_fixed(const int64_t *q, float *x, size_t n, int frac_bits) {
    const double inv_scale = ldexp(1.0, -frac_bits);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)q[i] * inv_scale);
}
