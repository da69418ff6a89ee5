/* kern_tanh_f64: tanh in double with the bits of glibc's tanh on the CPUs ranklab runs on
 * (AVX2 + FMA: src/core/compute.h), vectorized. glibc 2.36 computes tanh there with its FMA
 * variant: fdlibm's s_tanh.c and s_expm1.c compiled by GCC with FMA contraction. This is that
 * algorithm — the same operations on the same constants in the same order, with fma() exactly
 * where that build fuses a product into an addition (R1, R2, R3 and r1, t, 6 − x·t, x·e − hxs,
 * (e − c)·x − c, the k = ±1 returns, x − k·ln2_hi; checked against glibc on every float GELU
 * argument, bench/RESULTS.md) and plain operations everywhere else (-ffp-contract=off) —
 * written without branches: every lane computes every path of the argument reduction and of
 * expm1's reconstruction, and picks one by masks. tanh gives expm1 −2|x| ∈ (−2, 0) (|x| < 1) or
 * 2|x| ∈ [2, 44) (1 <= |x| < 22), which reach its paths k = 0, k = ±1, k <= −2, 2 <= k < 20,
 * 20 <= k <= 56 and k > 56 but not its overflow or tiny-argument filters. Lanes outside (|x| >= 22,
 * zeros, tiny, inf, NaN) take fdlibm's special values (±1, x, x·(1 + x), 1/x ± 1).
 *
 * fdlibm's notice, for the algorithm and its constants:
 *   Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
 *   Developed at SunPro, a Sun Microsystems, Inc. business.
 *   Permission to use, copy, modify, and distribute this software is freely granted, provided
 *   that this notice is preserved.
 */
#include "kernels/isa.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdint.h>

#define LN2_HI 6.93147180369123816490e-01 /* 0x3fe62e42 fee00000 */
#define LN2_LO 1.90821492927058770002e-10 /* 0x3dea39ef 35793c76 */
#define INV_LN2 1.44269504088896338700e+00
/* expm1's rational function, coefficients scaled by 2^i */
#define Q1 -3.33333333333331316428e-02
#define Q2 1.58730158725481460165e-03
#define Q3 -7.93650757867487942473e-05
#define Q4 4.00821782732936239552e-06
#define Q5 -2.01099218183624371326e-07

/* x · 2^k by adding k to the exponent field (fdlibm's SET_HIGH_WORD(y, high + (k << 20))). */
static inline double add_exponent(double y, int64_t k) {
    return kern_f64_of_bits(kern_bits_f64(y) + ((uint64_t)k << 52));
}

/* cond ? a : b by masks (no branch: the loop stays one basic block, which vectorizes). */
static inline uint64_t mask_of(int64_t cond) {
    return (uint64_t)0 - (uint64_t)(cond != 0);
}
static inline double pick(int64_t cond, double a, double b) {
    uint64_t m = mask_of(cond);
    return kern_f64_of_bits((kern_bits_f64(a) & m) | (kern_bits_f64(b) & ~m));
}
static inline int64_t pick_int(int64_t cond, int64_t a, int64_t b) {
    uint64_t m = mask_of(cond);
    return (int64_t)(((uint64_t)a & m) | ((uint64_t)b & ~m));
}

/* fdlibm's expm1 for a in (−2, 0) or [2, 44): every path computed, the right one picked. */
static inline double expm1_lane(double a) {
    uint64_t b = kern_bits_f64(a), hx = (b >> 32) & 0x7fffffffu;
    int64_t negative = b >> 63;
    // the argument reduction a = k·ln2 + r (r = hi − lo, c its rounding error)
    int64_t reduced = hx > 0x3fd62e42u;                   // |a| > 0.5 ln2 (else k = 0)
    int64_t near = reduced & (int64_t)(hx < 0x3ff0a2b2u); // and |a| < 1.5 ln2: k = ±1
    int64_t k_far = (int32_t)(INV_LN2 * a + pick(negative, -0.5, 0.5));
    double t_far = (double)k_far;
    double hi = pick(near, pick(negative, a + LN2_HI, a - LN2_HI), fma(-t_far, LN2_HI, a));
    double lo = pick(near, pick(negative, -LN2_LO, LN2_LO), t_far * LN2_LO);
    int64_t k = pick_int(reduced, pick_int(near, pick_int(negative, -1, 1), k_far), 0);
    double r_reduced = hi - lo;
    double x = pick(reduced, r_reduced, a);
    double c = (hi - r_reduced) - lo;
    // expm1(r) on the primary range
    double hfx = 0.5 * x;
    double hxs = x * hfx;
    double R1 = fma(hxs, Q1, 1.0), h2 = hxs * hxs;
    double R2 = fma(hxs, Q3, Q2), h4 = h2 * h2;
    double R3 = fma(hxs, Q5, Q4);
    double r1 = fma(h4, R3, fma(h2, R2, R1));
    double t = fma(-hfx, r1, 3.0);
    double e = hxs * ((r1 - t) / fma(-t, x, 6.0));
    double k0 = x - fma(x, e, -hxs);
    double ec = fma(e - c, x, -c) - hxs;
    double km1 = fma(x - ec, 0.5, -0.5);
    double k1 = pick(x < -0.25, -2.0 * (ec - (x + 0.5)), fma(x - ec, 2.0, 1.0));
    double wide = add_exponent(1.0 - (ec - x), k) - 1.0; // k <= −2 or k > 56
    int64_t k_small = pick_int(k < 0, 0, pick_int(k > 19, 19, k));
    int64_t k_large = pick_int(k < 20, 20, pick_int(k > 56, 56, k));
    double one_less =
        kern_f64_of_bits((uint64_t)(0x3ff00000u - (0x200000u >> k_small)) << 32); // 1−2^−k
    double small = add_exponent(one_less - (ec - x), k);                          // 2 <= k < 20
    double inverse = kern_f64_of_bits((uint64_t)(0x3ff - k_large) << 52);         // 2^−k
    double large = add_exponent((x - (ec + inverse)) + 1.0, k);                   // 20 <= k <= 56
    double general = pick((k <= -2) | (k > 56), wide, pick(k < 20, small, large));
    return pick(k == 0, k0, pick(k == -1, km1, pick(k == 1, k1, general)));
}

KERN_ISA_BODY kern_tanh_f64_body(const double *in, double *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = in[i];
        uint64_t b = kern_bits_f64(x), ix = (b >> 32) & 0x7fffffffu;
        int64_t negative = b >> 63;
        int64_t in_range = (int64_t)(ix >= 0x3c800000u) & (int64_t)(ix < 0x40360000u);
        double ax =
            pick(in_range, kern_f64_of_bits(b & 0x7fffffffffffffffu), 0.5); // 2^−55 <= |x| < 22
        int64_t big = ix >= 0x3ff00000u;                                    // |x| >= 1
        double t = expm1_lane(pick(big, 2.0 * ax, -2.0 * ax));
        double q = pick(big, 2.0, -t) / (t + 2.0); // 2/(t + 2) or −t/(t + 2), one division
        double z = pick(big, 1.0 - q, q);
        // inf: 1/x ± 1 = ±1; NaN: 1/x ± 1 is x made quiet, as x + x is
        double not_finite = pick(x != x, x + x, pick(negative, -1.0, 1.0));
        double special = pick(ix >= 0x7ff00000u, not_finite,
                              pick(ix >= 0x40360000u, pick(negative, -1.0, 1.0),
                                   pick((b << 1) == 0, x, x * (1.0 + x))));
        out[i] = pick(in_range, pick(negative, -z, z), special);
    }
}

KERN_ISA_CLONES(, kern_tanh_f64, (const double *in, double *out, size_t n), (in, out, n))
