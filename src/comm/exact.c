/* Exact sums over chunks and ranks in fixed point (see comm.h): the one primitive every result
 * that the ranks share is summed with. */
#include "kernels/kernels.h"
#include "src/comm/comm.h"
#include "src/core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void comm_exact_init(comm_exact *e, size_t n) {
    e->n = n;
    e->sum = rl_xcalloc(n + 1, sizeof(int64_t));
}

void comm_exact_free(comm_exact *e) {
    if (!e)
        return;
    free(e->sum);
    e->sum = NULL;
    e->n = 0;
}

void comm_exact_zero(comm_exact *e) {
    memset(e->sum, 0, sizeof(int64_t) * (e->n + 1));
}

size_t comm_exact_add(comm_exact *e, size_t at, const float *v, size_t count, int frac_bits) {
    size_t saturated = kern_add_fixed(v, e->sum + at, count, frac_bits);
    e->sum[e->n] += (int64_t)saturated;
    return saturated;
}

void comm_exact_count(comm_exact *e, size_t at, int64_t k) {
    e->sum[at] += k;
}

int comm_exact_reduce(comm_exact *e) {
    return comm_sum_i64(e->sum, e->n + 1);
}

void comm_exact_read(const comm_exact *e, size_t at, float *out, size_t count, int frac_bits) {
    kern_from_fixed(e->sum + at, out, count, frac_bits);
}

double comm_exact_value(const comm_exact *e, size_t at, int frac_bits) {
    return ldexp((double)e->sum[at], -frac_bits);
}

int64_t comm_exact_raw(const comm_exact *e, size_t at) {
    return e->sum[at];
}

int64_t comm_exact_saturated(const comm_exact *e) {
    return e->sum[e->n];
}

float comm_fixed_to_float(int64_t raw, int frac_bits) {
    float x;
    kern_from_fixed(&raw, &x, 1, frac_bits);
    return x;
}
