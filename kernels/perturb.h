/* Zero-order perturbations regenerated from the counter RNG (never stored).
 *
 * Perturbation k of step t is a vector u whose element i depends only on (key, t, k, i): any
 * rank regenerates any perturbation, so ranks exchange one number per perturbation, not a
 * vector. Three distributions:
 *   KERN_PERTURB_RADEMACHER  u_i = ±m          (1 random bit per element)
 *   KERN_PERTURB_UNIFORM     u_i in {-m..m}     (16 random bits per element, multiply-high)
 *   KERN_PERTURB_GAUSSIAN    u_i ~ N(0, 1)      (16 random bits per element into a 65536-level
 *                                               inverse-CDF table, unit variance)
 * The integer kinds are for quantized codes (ZOQO); GAUSSIAN is for fp32 (ZO-SignSGD, MeZO).
 * Layout: elements come in batches of 16 Philox blocks (counter (block, k, t, kind tag));
 * element e of a batch takes its bits from block e % 16 at position e / 16.
 *
 *     kern_perturb_codes(plus, theta, n, key, t, k, KERN_PERTURB_RADEMACHER, m, +1, qmax);
 *     kern_perturb_codes(minus, theta, n, key, t, k, KERN_PERTURB_RADEMACHER, m, -1, qmax);
 *     ... losses ...
 *     kern_perturb_vote(votes, n, key, t, k, KERN_PERTURB_RADEMACHER, m, sign_of_difference);
 */
#ifndef RANKLAB_KERNELS_PERTURB_H
#define RANKLAB_KERNELS_PERTURB_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    KERN_PERTURB_RADEMACHER,
    KERN_PERTURB_UNIFORM,
    KERN_PERTURB_GAUSSIAN,
} kern_perturb_kind;

/* out (n) = clamp(base + direction · u, -qmax, qmax) for integer kinds (u in codes, magnitude m).
 * direction is +1 or -1. out may not alias base. */
void kern_perturb_codes(int8_t *out, const int8_t *base, size_t n, const uint32_t key[2],
                        uint32_t step, uint32_t k, kern_perturb_kind kind, int m, int direction,
                        int qmax);
void kern_ref_perturb_codes(int8_t *out, const int8_t *base, size_t n, const uint32_t key[2],
                            uint32_t step, uint32_t k, kern_perturb_kind kind, int m,
                            int direction, int qmax);

/* votes (n) += weight · sign(u_i) (weight is the perturbation's vote, e.g. sign(l+ - l-)).
 * m is the magnitude of integer kinds (ignored for GAUSSIAN). */
void kern_perturb_vote(int32_t *votes, size_t n, const uint32_t key[2], uint32_t step, uint32_t k,
                       kern_perturb_kind kind, int m, int weight);
void kern_ref_perturb_vote(int32_t *votes, size_t n, const uint32_t key[2], uint32_t step,
                           uint32_t k, kern_perturb_kind kind, int m, int weight);

/* x (n) += alpha · u_i in float. In place, so MeZO-style perturb / restore never stores u. */
void kern_perturb_axpy(float *x, size_t n, const uint32_t key[2], uint32_t step, uint32_t k,
                       kern_perturb_kind kind, int m, float alpha);
void kern_ref_perturb_axpy(float *x, size_t n, const uint32_t key[2], uint32_t step, uint32_t k,
                           kern_perturb_kind kind, int m, float alpha);

/* The Gaussian's 65536-entry table (built on first use; static storage, no allocation). */
const float *kern_perturb_gauss_table(void);

#endif
