/* Reference perturbation kernels: element by element, regenerating the element's Philox block
 * from its index (the obvious, slow way). */
#include "kernels/kernels.h"
#include "kernels/perturb.h"

#include <math.h>

/* Value of element i of perturbation k at step t (integer kinds: in codes; Gaussian: N(0,1)). */
static double element(const uint32_t key[2], uint32_t step, uint32_t k, kern_perturb_kind kind,
                      int m, size_t i) {
    size_t per = kind == KERN_PERTURB_RADEMACHER ? 128 : kind == KERN_PERTURB_UNIFORM ? 8 : 2;
    size_t j = i % per;
    uint32_t ctr[4] = {(uint32_t)(i / per), k, step, 0x50000000u | (uint32_t)kind}, w[4];
    kern_philox(key, ctr, w);
    if (kind == KERN_PERTURB_RADEMACHER)
        return ((w[j / 32] >> (j % 32)) & 1u) ? m : -m;
    if (kind == KERN_PERTURB_UNIFORM) {
        uint32_t bits16 = (w[j / 2] >> (16 * (j % 2))) & 0xffffu;
        return (double)((bits16 * (uint32_t)(2 * m + 1)) >> 16) - m;
    }
    double u1 = ((double)w[2 * j] + 1.0) / 4294967296.0, u2 = (double)w[2 * j + 1] / 4294967296.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void kern_ref_perturb_codes(int8_t *out, const int8_t *base, size_t n, const uint32_t key[2],
                            uint32_t step, uint32_t k, kern_perturb_kind kind, int m,
                            int direction, int qmax) {
    for (size_t i = 0; i < n; i++) {
        int v = base[i] + direction * (int)element(key, step, k, kind, m, i);
        out[i] = (int8_t)(v > qmax ? qmax : v < -qmax ? -qmax : v);
    }
}

void kern_ref_perturb_vote(int32_t *votes, size_t n, const uint32_t key[2], uint32_t step,
                           uint32_t k, kern_perturb_kind kind, int m, int weight) {
    for (size_t i = 0; i < n; i++) {
        double u = element(key, step, k, kind, m, i);
        votes[i] += u > 0 ? weight : u < 0 ? -weight : 0;
    }
}

void kern_ref_perturb_axpy(float *x, size_t n, const uint32_t key[2], uint32_t step, uint32_t k,
                           kern_perturb_kind kind, int m, float alpha) {
    for (size_t i = 0; i < n; i++)
        x[i] += alpha * (float)element(key, step, k, kind, m, i);
}
