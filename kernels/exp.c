/* kern_exp_f64: exp in double with the bits of glibc's exp on the CPUs ranklab runs on (AVX2 +
 * FMA: src/core/compute.h), vectorized. glibc 2.36 runs its FMA variant there: its exp
 * (sysdeps/ieee754/dbl-64/e_exp.c, from Arm's optimized-routines) compiled with FMA contraction.
 * This is that algorithm, x = (k + r·128/ln2)·ln2/128 with a 128-entry table of 2^(k/128)
 * (kernels/exp_table.h, computed by kernels/gen_exp_table.py from 2^(k/128) to 60 digits) and a
 * degree-5 polynomial, with fma() exactly where that build fuses (the rounding to k, both steps of
 * the reduction, the polynomial and the final scale + scale·tmp; GCC's widening_mul dump of the
 * same code compiled with -mfma) and plain operations elsewhere (-ffp-contract=off). Every lane
 * takes the main path; lanes glibc treats apart (|x| < 2^−54, |x| >= 512, inf, NaN) are then
 * recomputed by libm's exp itself. Unit test kernels "exp: glibc's bits at every ISA level".
 */
#include "kernels/isa.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdint.h>

#include "kernels/exp_table.h"

#define INV_LN2_N (0x1.71547652b82fep0 * 128) /* 128/ln2 */
#define NEG_LN2_HI_N -0x1.62e42fefa0000p-8    /* −ln2/128, high part */
#define NEG_LN2_LO_N -0x1.cf79abc9e3b3ap-47   /* and low part */
#define SHIFT 0x1.8p52                        /* rounds to an integer when added */
#define C2 0x1.ffffffffffdbdp-2
#define C3 0x1.555555555543cp-3
#define C4 0x1.55555cf172b91p-5
#define C5 0x1.1111167a4d017p-7

/* glibc's test for the lanes it treats apart: |x| < 2^−54, |x| >= 512, inf or NaN. */
static inline int apart(double x) {
    uint32_t abstop = (uint32_t)(kern_bits_f64(x) >> 52) & 0x7ffu;
    return abstop - 0x3c9u >= 0x408u - 0x3c9u;
}

KERN_ISA_BODY kern_exp_f64_lanes_body(const double *in, double *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = apart(in[i]) ? 0.0 : in[i]; // a lane set apart computes on 0, then libm's
        double shifted = fma(x, INV_LN2_N, SHIFT);
        uint64_t ki = kern_bits_f64(shifted);
        double kd = shifted - SHIFT;
        double r = fma(kd, NEG_LN2_LO_N, fma(kd, NEG_LN2_HI_N, x));
        uint64_t idx = 2 * (ki % 128);
        double tail = kern_f64_of_bits(exp_table[idx]);
        double scale = kern_f64_of_bits(exp_table[idx + 1] + (ki << 45));
        double r2 = r * r;
        double tmp = fma(r2 * r2, fma(r, C5, C4), fma(fma(r, C3, C2), r2, r + tail));
        out[i] = fma(tmp, scale, scale);
    }
}

KERN_ISA_CLONES(static, kern_exp_f64_lanes, (const double *in, double *out, size_t n), (in, out, n))

void kern_exp_f64(const double *in, double *out, size_t n) {
    kern_exp_f64_lanes(in, out, n);
    for (size_t i = 0; i < n; i++)
        if (apart(in[i]))
            out[i] = exp(in[i]);
}
