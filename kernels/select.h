/* Selection kernels: weighted sampling keys and draws from the counter RNG, and the smallest k of
 * (key, id) pairs. Shared by every selector that must pick the same items on any rank count
 * (subset selection, pruning masks): an item's random numbers depend only on (key, stream, id).
 *
 * Without replacement, ∝ w (Efraimidis–Spirakis): κ_i = −ln(U_i)/w_i, keep the B smallest.
 *
 *     kern_sample_keys(w, n, first_id, key, stream, pairs);   // my items' keys
 *     kern_select_smallest(pairs, n, B);                      // my B smallest, sorted
 *     ... merge every rank's candidates (comm_select_smallest) ...
 *
 * With replacement: s independent draws from p_i = w_i / Σ w, from the cumulative sums:
 *
 *     kern_sample_draws(cdf, n, key, stream, 0, s, counts);   // counts[i] += times i drawn
 *
 * Squared distances for the geometric selectors (k-means, TypiClust, ProbCover), from rows to the
 * columns of a transposed block, each pair with the bits of the plain loop on every ISA level:
 *
 *     kern_sqdist_f64(x, r, yt, m, d, s);   // s[a·m + j] = Σ_p (x[a·d + p] − yt[p·m + j])²
 */
#ifndef RANKLAB_KERNELS_SELECT_H
#define RANKLAB_KERNELS_SELECT_H

#include <stddef.h>
#include <stdint.h>

/* Word 3 of every selection counter: keeps these draws apart from the other users of a key
 * (kern_fill_uniform and rl_rng_block leave word 3 at 0). */
#define KERN_SELECT_TAG 0x53454c31u

/* An item and its key, ordered by (key, id): a total order, so ties break by id. */
typedef struct {
    double key;
    int64_t id;
} kern_pair;

/* -1, 0 or 1 as a comes before, equals or follows b in the (key, id) order (qsort comparator). */
int kern_pair_cmp(const void *a, const void *b);

/* The uniform in (0, 1] of draw `index` (53 random bits) from counter (stream, index low word,
 * index high word, KERN_SELECT_TAG). */
double kern_select_uniform(const uint32_t key[2], uint32_t stream, int64_t index);

/* out[i] = (κ, first_id + i) with κ = −ln(U)/w[i], U = kern_select_uniform(key, stream,
 * first_id + i); +inf where w[i] <= 0 (never before a positive weight). */
void kern_sample_keys(const double *w, size_t n, int64_t first_id, const uint32_t key[2],
                      uint32_t stream, kern_pair *out);
void kern_ref_sample_keys(const double *w, size_t n, int64_t first_id, const uint32_t key[2],
                          uint32_t stream, kern_pair *out);

/* Reorder p (n) so that p[0..k) are its k smallest pairs in increasing (key, id) order (k <= n;
 * the rest in no particular order). */
void kern_select_smallest(kern_pair *p, size_t n, size_t k);
void kern_ref_select_smallest(kern_pair *p, size_t n, size_t k);

/* Draws first_draw .. first_draw + n_draws − 1 from p_i = (cdf[i] − cdf[i−1]) / cdf[n−1], cdf
 * (n) the non-decreasing cumulative weights with cdf[n−1] > 0: draw d takes U =
 * kern_select_uniform(key, stream, d) and the first i with cdf[i] >= U·cdf[n−1]
 * (so a zero-weight item is never drawn); counts[i] += 1. */
void kern_sample_draws(const double *cdf, size_t n, const uint32_t key[2], uint32_t stream,
                       int64_t first_draw, int64_t n_draws, int64_t *counts);
void kern_ref_sample_draws(const double *cdf, size_t n, const uint32_t key[2], uint32_t stream,
                           int64_t first_draw, int64_t n_draws, int64_t *counts);

/* s (r, m): s[a·m + j] = Σ_p (x[a·d + p] − yt[p·m + j])², p = 0 … d − 1 in order, in double
 * (f32: in float): the squared distances of the r rows of x (r, d) to the m rows held transposed
 * in yt (d, m). Every pair has the bits of that plain loop, on every instruction-set level. */
void kern_sqdist_f64(const double *x, int r, const double *yt, int m, int d, double *s);
void kern_sqdist_f32(const float *x, int r, const float *yt, int m, int d, float *s);
void kern_ref_sqdist_f64(const double *x, int r, const double *yt, int m, int d, double *s);
void kern_ref_sqdist_f32(const float *x, int r, const float *yt, int m, int d, float *s);

#endif
