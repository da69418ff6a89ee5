/* Metrics over many examples: the AUC of a score separating two classes (see nn.h). */
#include "src/core/error.h"
#include "src/nn/nn.h"

#include <math.h>
#include <stdlib.h>

static int compare_score(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double rl_auc(const double *score, const uint8_t *positive, int64_t n) {
    /* Sort (score, is_positive) pairs; tied scores form runs whose ranks are averaged. */
    double(*pairs)[2] = rl_xmalloc(sizeof *pairs * (size_t)(n > 0 ? n : 1));
    int64_t n_pos = 0;
    for (int64_t i = 0; i < n; i++) {
        pairs[i][0] = score[i];
        pairs[i][1] = positive[i] ? 1.0 : 0.0;
        n_pos += positive[i] != 0;
    }
    qsort(pairs, (size_t)n, sizeof *pairs, compare_score);
    double rank_sum = 0.0; /* Σ of the (1-based, tie-averaged) ranks of the positives */
    for (int64_t a = 0; a < n;) {
        int64_t b = a, pos_in_run = 0;
        while (b < n && pairs[b][0] == pairs[a][0])
            pos_in_run += pairs[b++][1] != 0.0;
        rank_sum += (double)pos_in_run * 0.5 * (double)(a + 1 + b);
        a = b;
    }
    free(pairs);
    int64_t n_neg = n - n_pos;
    if (n_pos == 0 || n_neg == 0)
        return NAN;
    return (rank_sum - 0.5 * (double)n_pos * (double)(n_pos + 1)) / ((double)n_pos * (double)n_neg);
}
