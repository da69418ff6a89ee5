/* Plain-C reference of the GOR penalty (kernels/gor.h), straight from the formula in double:
 * every entry of Gram − I is recomputed where it is needed. */
#include "kernels/gor.h"

#include <assert.h>

/* Row i of set g (kernels/gor.h): group_size = rows / groups. */
static int set_row(int group_size, int intra, int g, int i) {
    return intra ? g + i * group_size : g * group_size + i;
}

/* Entry (a, b) of the smaller Gram of set g (s rows) minus the identity: rows a, b of
 * W_g W_gᵀ − I when s <= cols, else columns a, b of W_gᵀ W_g − I. */
static double gram_minus_identity(const float *w, int cols, int s, int group_size, int intra, int g,
                                  int a, int b) {
    double acc = 0.0;
    if (s <= cols) {
        const float *x = w + (size_t)set_row(group_size, intra, g, a) * cols;
        const float *y = w + (size_t)set_row(group_size, intra, g, b) * cols;
        for (int k = 0; k < cols; k++)
            acc += (double)x[k] * (double)y[k];
    } else {
        for (int i = 0; i < s; i++) {
            const float *r = w + (size_t)set_row(group_size, intra, g, i) * cols;
            acc += (double)r[a] * (double)r[b];
        }
    }
    return acc - (a == b ? 1.0 : 0.0);
}

double kern_ref_gor_penalty(const float *w, int rows, int cols, int groups, int intra, float scale,
                            float *grad, float *scratch) {
    (void)scratch;
    assert(groups > 0 && rows % groups == 0);
    const int group_size = rows / groups, s = intra ? groups : group_size;
    const int n = s <= cols ? s : cols;
    double p = 0.0;
    for (int g = 0; g < rows / s; g++) {
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++) {
                double m = gram_minus_identity(w, cols, s, group_size, intra, g, a, b);
                p += m * m;
            }
        if (!grad)
            continue;
        for (int i = 0; i < s; i++) {
            const int row = set_row(group_size, intra, g, i);
            for (int k = 0; k < cols; k++) {
                double acc = 0.0; /* (∂P/∂W)_{row,k} / 4 */
                if (s <= cols)    /* Σ_j M_ij W_g[j][k] */
                    for (int j = 0; j < s; j++)
                        acc += gram_minus_identity(w, cols, s, group_size, intra, g, i, j) *
                               (double)w[(size_t)set_row(group_size, intra, g, j) * cols + k];
                else /* Σ_l W_g[i][l] M_lk */
                    for (int l = 0; l < cols; l++)
                        acc += (double)w[(size_t)row * cols + l] *
                               gram_minus_identity(w, cols, s, group_size, intra, g, l, k);
                grad[(size_t)row * cols + k] += (float)(4.0 * (double)scale * acc);
            }
        }
    }
    return p;
}
