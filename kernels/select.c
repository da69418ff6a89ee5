/* Selection kernels: exponential sampling keys, draws with replacement by binary search on the
 * cumulative weights, the k smallest (key, id) pairs by quickselect, and squared distances in
 * register tiles (see select.h). */
#include "kernels/select.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>

int kern_pair_cmp(const void *a, const void *b) {
    const kern_pair *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

double kern_select_uniform(const uint32_t key[2], uint32_t stream, int64_t index) {
    uint32_t ctr[4] = {stream, (uint32_t)index, (uint32_t)((uint64_t)index >> 32), KERN_SELECT_TAG};
    uint32_t w[4];
    kern_philox(key, ctr, w);
    uint64_t bits = ((uint64_t)w[0] << 21) ^ (uint64_t)(w[1] >> 11);
    return (double)((bits & ((1ull << 53) - 1)) + 1) * (1.0 / 9007199254740992.0);
}

void kern_sample_keys(const double *w, size_t n, int64_t first_id, const uint32_t key[2],
                      uint32_t stream, kern_pair *out) {
    for (size_t i = 0; i < n; i++) {
        int64_t id = first_id + (int64_t)i;
        out[i].id = id;
        out[i].key =
            w[i] > 0.0 ? -log(kern_select_uniform(key, stream, id)) / w[i] : (double)INFINITY;
    }
}

static void swap_pairs(kern_pair *a, kern_pair *b) {
    kern_pair t = *a;
    *a = *b;
    *b = t;
}

/* Quickselect: afterwards p[0..k) holds the k smallest pairs (unordered). Median-of-three pivot,
 * Lomuto partition (no two pairs compare equal: ids are unique). */
static void select_k(kern_pair *p, size_t n, size_t k) {
    size_t lo = 0, hi = n; /* the k-th smallest lies in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (kern_pair_cmp(&p[mid], &p[lo]) < 0)
            swap_pairs(&p[mid], &p[lo]);
        if (kern_pair_cmp(&p[hi - 1], &p[lo]) < 0)
            swap_pairs(&p[hi - 1], &p[lo]);
        if (kern_pair_cmp(&p[hi - 1], &p[mid]) < 0)
            swap_pairs(&p[hi - 1], &p[mid]);
        kern_pair pivot = p[mid];
        swap_pairs(&p[mid], &p[hi - 1]);
        size_t store = lo;
        for (size_t i = lo; i + 1 < hi; i++)
            if (kern_pair_cmp(&p[i], &pivot) < 0)
                swap_pairs(&p[i], &p[store++]);
        swap_pairs(&p[store], &p[hi - 1]); /* pivot at its final place */
        if (store == k)
            return;
        if (store < k)
            lo = store + 1;
        else
            hi = store;
    }
}

void kern_select_smallest(kern_pair *p, size_t n, size_t k) {
    if (k < n)
        select_k(p, n, k);
    qsort(p, k, sizeof *p, kern_pair_cmp);
}

void kern_sample_draws(const double *cdf, size_t n, const uint32_t key[2], uint32_t stream,
                       int64_t first_draw, int64_t n_draws, int64_t *counts) {
    const double total = cdf[n - 1];
    for (int64_t d = first_draw; d < first_draw + n_draws; d++) {
        double target = kern_select_uniform(key, stream, d) * total;
        size_t lo = 0, hi = n - 1; /* the first i with cdf[i] >= target lies in [lo, hi] */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] >= target)
                hi = mid;
            else
                lo = mid + 1;
        }
        counts[lo]++;
    }
}

/* Columns of yt per register tile of the distance kernels: a tile's partial sums stay in
 * registers while p runs over the dimensions, and its (d, SQDIST_TILE) slice of yt in L1 while
 * the r rows of x take their turn. */
enum { SQDIST_TILE = 32 };

/* The body of kern_sqdist_f64 / _f32 for element type T: each pair's sum runs over p in order
 * (vectorized across the columns of a tile, so no sum is reassociated). */
#define SQDIST_BODY(T)                                                                             \
    int j0 = 0;                                                                                    \
    for (; j0 + SQDIST_TILE <= m; j0 += SQDIST_TILE)                                               \
        for (int a = 0; a < r; a++) {                                                              \
            const T *xa = x + (size_t)a * (size_t)d;                                               \
            T acc[SQDIST_TILE] = {0};                                                              \
            for (int p = 0; p < d; p++) {                                                          \
                const T xp = xa[p], *y = yt + (size_t)p * (size_t)m + j0;                          \
                for (int j = 0; j < SQDIST_TILE; j++) {                                            \
                    T t = xp - y[j];                                                               \
                    acc[j] += t * t;                                                               \
                }                                                                                  \
            }                                                                                      \
            for (int j = 0; j < SQDIST_TILE; j++)                                                  \
                s[(size_t)a * (size_t)m + (size_t)(j0 + j)] = acc[j];                              \
        }                                                                                          \
    for (; j0 < m; j0++) /* the columns after the last whole tile */                               \
        for (int a = 0; a < r; a++) {                                                              \
            T acc = 0;                                                                             \
            for (int p = 0; p < d; p++) {                                                          \
                T t = x[(size_t)a * (size_t)d + (size_t)p] - yt[(size_t)p * (size_t)m + j0];       \
                acc += t * t;                                                                      \
            }                                                                                      \
            s[(size_t)a * (size_t)m + (size_t)j0] = acc;                                           \
        }

KERN_ISA_BODY kern_sqdist_f64_body(const double *x, int r, const double *yt, int m, int d,
                                   double *s) {
    SQDIST_BODY(double);
}

KERN_ISA_BODY kern_sqdist_f32_body(const float *x, int r, const float *yt, int m, int d, float *s) {
    SQDIST_BODY(float);
}

// clang-format off: the parameter lists are macro arguments
KERN_ISA_CLONES(, kern_sqdist_f64,
                (const double *x, int r, const double *yt, int m, int d, double *s),
                (x, r, yt, m, d, s))
KERN_ISA_CLONES(, kern_sqdist_f32, (const float *x, int r, const float *yt, int m, int d, float *s),
                (x, r, yt, m, d, s))
// clang-format on
