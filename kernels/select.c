/* Selection kernels: exponential sampling keys, draws with replacement by binary search on the
 * cumulative weights, and the k smallest (key, id) pairs by quickselect (see select.h). */
#include "kernels/select.h"
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
