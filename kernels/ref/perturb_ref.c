/* Reference perturbation kernels: element by element, regenerating the element's Philox block
 * from its index with kern_philox (the obvious, slow way). */
#include "kernels/kernels.h"
#include "kernels/perturb.h"

/* Value of element i of perturbation k at step t (integer kinds: in codes; Gaussian: N(0,1)). */
static double element(const uint32_t key[2], uint32_t step, uint32_t k, kern_perturb_kind kind,
                      int m, size_t i) {
    /* Batches of 16 blocks: element e of a batch comes from block e % 16, position e / 16. */
    size_t per = kind == KERN_PERTURB_RADEMACHER ? 128 : 8, batch = 16 * per;
    size_t e = i % batch, block = (i / batch) * 16 + e % 16, j = e / 16;
    uint32_t ctr[4] = {(uint32_t)block, k, step, 0x50000000u | (uint32_t)kind}, w[4];
    kern_philox(key, ctr, w);
    if (kind == KERN_PERTURB_RADEMACHER)
        return ((w[j / 32] >> (j % 32)) & 1u) ? m : -m;
    uint32_t bits16 = (w[j / 2] >> (16 * (j % 2))) & 0xffffu;
    if (kind == KERN_PERTURB_UNIFORM)
        return (double)((bits16 * (uint32_t)(2 * m + 1)) >> 16) - m;
    return kern_perturb_gauss_table()[bits16];
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
