/* Perturbation regeneration kernels (see perturb.h). Philox blocks are generated LANES at a
 * time with the rounds written over arrays, so the compiler vectorizes them (vpmuludq); the
 * per-element loops are plain array loops. Each kernel is compiled for AVX-512, AVX2 and
 * baseline x86-64 and runs at the level kern_isa() names (kernels/isa.h): integer and float
 * operations are element-wise and without FMA, so every level gives the same bits. */
#include "kernels/perturb.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

#define LANES 16 /* Philox blocks per batch */

/* Elements per Philox block for each kind. */
static inline size_t per_block(kern_perturb_kind kind) {
    return kind == KERN_PERTURB_RADEMACHER ? 128 : 8;
}

/* Philox4x32-10 of counters (b0 + lane, k, step, tag) for LANES lanes: w[word][lane]. */
static inline void philox_lanes(const uint32_t key[2], uint32_t b0, uint32_t k, uint32_t step,
                                uint32_t tag, uint32_t w[4][LANES]) {
    uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
    for (int l = 0; l < LANES; l++) {
        c0[l] = b0 + (uint32_t)l;
        c1[l] = k;
        c2[l] = step;
        c3[l] = tag;
    }
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        for (int l = 0; l < LANES; l++) {
            uint64_t p0 = (uint64_t)0xD2511F53u * c0[l], p1 = (uint64_t)0xCD9E8D57u * c2[l];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k1;
            c1[l] = (uint32_t)p1;
            c3[l] = (uint32_t)p0;
            c0[l] = n0;
            c2[l] = n2;
        }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    memcpy(w[0], c0, sizeof c0);
    memcpy(w[1], c1, sizeof c1);
    memcpy(w[2], c2, sizeof c2);
    memcpy(w[3], c3, sizeof c3);
}

/* N(0, 1) through a 16-bit inverse-CDF table: z = Φ⁻¹((i + ½) / 65536), rescaled to unit
 * variance. A 65536-level discretization of the Gaussian (tails cut at 4.3σ), one table lookup
 * per element instead of a logarithm, a square root and a cosine. */
static float gauss_table[1 << 16];

/* Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9). */
static double normal_quantile(double p) {
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - 0.02425)
        return -normal_quantile(1 - p);
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

const float *kern_perturb_gauss_table(void) {
    if (gauss_table[0] == 0.0f) {
        double sum_sq = 0.0;
        for (int i = 0; i < (1 << 16); i++) {
            double z = normal_quantile((i + 0.5) / 65536.0);
            sum_sq += z * z;
        }
        double scale = 1.0 / sqrt(sum_sq / 65536.0);
        for (int i = 0; i < (1 << 16); i++)
            gauss_table[i] = (float)(normal_quantile((i + 0.5) / 65536.0) * scale);
    }
    return gauss_table;
}

/* Within a batch of LANES blocks, element e comes from block e % LANES (word and bits by
 * j = e / LANES), so the inner loops below run over lanes with unit stride. */
static inline void batch_ints(const uint32_t w[4][LANES], kern_perturb_kind kind, int m,
                              size_t count, int32_t *u) {
    if (kind == KERN_PERTURB_RADEMACHER) {
        for (size_t j = 0; j * LANES < count; j++)
            for (size_t l = 0; l < LANES; l++)
                u[j * LANES + l] = ((w[j >> 5][l] >> (j & 31)) & 1u) ? m : -m;
    } else {
        const uint32_t span = (uint32_t)(2 * m + 1);
        for (size_t j = 0; j * LANES < count; j++)
            for (size_t l = 0; l < LANES; l++) {
                uint32_t bits16 = (w[j >> 1][l] >> (16 * (j & 1))) & 0xffffu;
                u[j * LANES + l] = (int32_t)((bits16 * span) >> 16) - m;
            }
    }
}

static inline void batch_gauss(const uint32_t w[4][LANES], size_t count, const float *table,
                               float *z) {
    for (size_t j = 0; j * LANES < count; j++)
        for (size_t l = 0; l < LANES; l++)
            z[j * LANES + l] = table[(w[j >> 1][l] >> (16 * (j & 1))) & 0xffffu];
}

#define TAG(kind) (0x50000000u | (uint32_t)(kind))

/* The batch of the perturbation from element start (at most LANES blocks, fewer at the end of
 * n): its Gaussian values into z when table is given, else its integers into u. Returns how many
 * elements it holds. */
static inline size_t draw_batch(const uint32_t key[2], size_t n, size_t start, uint32_t step,
                                uint32_t k, kern_perturb_kind kind, int m, const float *table,
                                int32_t *u, float *z) {
    const size_t batch = LANES * per_block(kind);
    size_t count = n - start < batch ? n - start : batch;
    uint32_t w[4][LANES];
    philox_lanes(key, (uint32_t)(start / per_block(kind)), k, step, TAG(kind), w);
    if (table)
        batch_gauss(w, count, table, z);
    else
        batch_ints(w, kind, m, count, u);
    return count;
}

KERN_ISA_BODY kern_perturb_codes_body(int8_t *out, const int8_t *base, size_t n, const uint32_t key[2],
                             uint32_t step, uint32_t k, kern_perturb_kind kind, int m,
                             int direction, int qmax) {
    const size_t batch = LANES * per_block(kind);
    uint32_t w[4][LANES];
    int32_t u[LANES * 128];
    for (size_t start = 0; start < n; start += batch) {
        size_t count = n - start < batch ? n - start : batch;
        philox_lanes(key, (uint32_t)(start / per_block(kind)), k, step, TAG(kind), w);
        if (kind == KERN_PERTURB_RADEMACHER && count == batch) { /* the hot path, fused */
            const int32_t up = direction * m;
            for (size_t j = 0; j < 128; j++)
                for (size_t l = 0; l < LANES; l++) {
                    size_t e = start + j * LANES + l;
                    int32_t v = base[e] + (((w[j >> 5][l] >> (j & 31)) & 1u) ? up : -up);
                    v = v > qmax ? qmax : v;
                    out[e] = (int8_t)(v < -qmax ? -qmax : v);
                }
            continue;
        }
        batch_ints(w, kind, m, count, u);
        for (size_t e = 0; e < count; e++) {
            int32_t v = base[start + e] + direction * u[e];
            v = v > qmax ? qmax : v;
            out[start + e] = (int8_t)(v < -qmax ? -qmax : v);
        }
    }
}

KERN_ISA_BODY kern_perturb_vote_body(int32_t *votes, size_t n, const uint32_t key[2], uint32_t step,
                            uint32_t k, kern_perturb_kind kind, int m, int weight) {
    if (weight == 0)
        return;
    const float *table = kind == KERN_PERTURB_GAUSSIAN ? kern_perturb_gauss_table() : NULL;
    int32_t u[LANES * 128];
    float z[LANES * 8];
    for (size_t start = 0, count; start < n; start += count) {
        count = draw_batch(key, n, start, step, k, kind, m, table, u, z);
        if (table)
            for (size_t e = 0; e < count; e++)
                votes[start + e] += z[e] > 0.0f ? weight : -weight; /* the table has no zero */
        else
            for (size_t e = 0; e < count; e++)
                votes[start + e] += u[e] > 0 ? weight : u[e] < 0 ? -weight : 0;
    }
}

KERN_ISA_BODY kern_perturb_axpy_body(float *x, size_t n, const uint32_t key[2], uint32_t step,
                                     uint32_t k, kern_perturb_kind kind, int m, float alpha) {
    const float *table = kind == KERN_PERTURB_GAUSSIAN ? kern_perturb_gauss_table() : NULL;
    int32_t u[LANES * 128];
    float z[LANES * 128];
    for (size_t start = 0, count; start < n; start += count) {
        count = draw_batch(key, n, start, step, k, kind, m, table, u, z);
        if (!table)
            for (size_t e = 0; e < count; e++)
                z[e] = (float)u[e];
        for (size_t e = 0; e < count; e++)
            x[start + e] += alpha * z[e];
    }
}

// clang-format off: the parameter lists are macro arguments
KERN_ISA_CLONES(, kern_perturb_codes,
                (int8_t *out, const int8_t *base, size_t n, const uint32_t key[2], uint32_t step,
                 uint32_t k, kern_perturb_kind kind, int m, int direction, int qmax),
                (out, base, n, key, step, k, kind, m, direction, qmax))
KERN_ISA_CLONES(, kern_perturb_vote,
                (int32_t *votes, size_t n, const uint32_t key[2], uint32_t step, uint32_t k,
                 kern_perturb_kind kind, int m, int weight),
                (votes, n, key, step, k, kind, m, weight))
KERN_ISA_CLONES(, kern_perturb_axpy,
                (float *x, size_t n, const uint32_t key[2], uint32_t step, uint32_t k,
                 kern_perturb_kind kind, int m, float alpha),
                (x, n, key, step, k, kind, m, alpha))
// clang-format on
