/* Perturbation regeneration kernels: whole Philox blocks at a time (see perturb.h). */
#include "kernels/perturb.h"
#include "kernels/kernels.h"

#include <math.h>

/* Counter of block b of perturbation k at step t; word 3 tags the distribution so the kinds
 * draw from disjoint streams. */
static void block_for(const uint32_t key[2], uint32_t step, uint32_t k, kern_perturb_kind kind,
                      size_t b, uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)b, k, step, 0x50000000u | (uint32_t)kind};
    kern_philox(key, ctr, out);
}

/* Elements per Philox block for each kind. */
static size_t per_block(kern_perturb_kind kind) {
    return kind == KERN_PERTURB_RADEMACHER ? 128 : kind == KERN_PERTURB_UNIFORM ? 8 : 2;
}

/* The values u of the block's first `count` elements: Rademacher ±m, uniform in [-m, m]. */
static void int_values(const uint32_t w[4], kern_perturb_kind kind, int m, size_t count,
                       int *u) {
    if (kind == KERN_PERTURB_RADEMACHER) {
        for (size_t j = 0; j < count; j++)
            u[j] = (w[j >> 5] >> (j & 31)) & 1u ? m : -m;
    } else {
        uint32_t span = (uint32_t)(2 * m + 1);
        for (size_t j = 0; j < count; j++) {
            uint32_t bits16 = (w[j >> 1] >> (16 * (j & 1))) & 0xffffu;
            u[j] = (int)((bits16 * span) >> 16) - m;
        }
    }
}

static void gaussian_values(const uint32_t w[4], size_t count, float *z) {
    for (size_t j = 0; j < count; j++) {
        double u1 = ((double)w[2 * j] + 1.0) * (1.0 / 4294967296.0); /* (0, 1] */
        double u2 = (double)w[2 * j + 1] * (1.0 / 4294967296.0);
        z[j] = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
}

void kern_perturb_codes(int8_t *out, const int8_t *base, size_t n, const uint32_t key[2],
                        uint32_t step, uint32_t k, kern_perturb_kind kind, int m, int direction,
                        int qmax) {
    const size_t per = per_block(kind);
    int u[128];
    uint32_t w[4];
    for (size_t start = 0, b = 0; start < n; start += per, b++) {
        size_t count = n - start < per ? n - start : per;
        block_for(key, step, k, kind, b, w);
        int_values(w, kind, m, count, u);
        for (size_t j = 0; j < count; j++) {
            int v = base[start + j] + direction * u[j];
            out[start + j] = (int8_t)(v > qmax ? qmax : v < -qmax ? -qmax : v);
        }
    }
}

void kern_perturb_vote(int32_t *votes, size_t n, const uint32_t key[2], uint32_t step, uint32_t k,
                       kern_perturb_kind kind, int m, int weight) {
    if (weight == 0)
        return;
    const size_t per = per_block(kind);
    int u[128];
    float z[2];
    uint32_t w[4];
    for (size_t start = 0, b = 0; start < n; start += per, b++) {
        size_t count = n - start < per ? n - start : per;
        block_for(key, step, k, kind, b, w);
        if (kind == KERN_PERTURB_GAUSSIAN) {
            gaussian_values(w, count, z);
            for (size_t j = 0; j < count; j++)
                votes[start + j] += z[j] > 0.0f ? weight : z[j] < 0.0f ? -weight : 0;
        } else {
            int_values(w, kind, m, count, u);
            for (size_t j = 0; j < count; j++)
                votes[start + j] += u[j] > 0 ? weight : u[j] < 0 ? -weight : 0;
        }
    }
}

void kern_perturb_axpy(float *x, size_t n, const uint32_t key[2], uint32_t step, uint32_t k,
                       kern_perturb_kind kind, int m, float alpha) {
    const size_t per = per_block(kind);
    int u[128];
    float z[2];
    uint32_t w[4];
    for (size_t start = 0, b = 0; start < n; start += per, b++) {
        size_t count = n - start < per ? n - start : per;
        block_for(key, step, k, kind, b, w);
        if (kind == KERN_PERTURB_GAUSSIAN) {
            gaussian_values(w, count, z);
            for (size_t j = 0; j < count; j++)
                x[start + j] += alpha * z[j];
        } else {
            int_values(w, kind, m, count, u);
            for (size_t j = 0; j < count; j++)
                x[start + j] += alpha * (float)u[j];
        }
    }
}
