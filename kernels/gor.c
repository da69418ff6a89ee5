/* GOR penalty and gradient (kernels/gor.h): per set of rows a GEMM for the smaller Gram, the
 * squared Frobenius norm of Gram − I in double, a GEMM for the gradient into scratch, then an
 * element-wise add into the set's rows of grad. A set is a strided view of W (leading
 * dimension cols for inter, (rows / groups)·cols for intra), so nothing is gathered. */
#include "kernels/gor.h"
#include "kernels/kernels.h"

#include <assert.h>

int kern_gor_sets(int rows, int groups, int intra) {
    return intra ? rows / groups : groups;
}

size_t kern_gor_scratch_floats(int rows, int cols, int groups, int intra) {
    size_t s = (size_t)(intra ? groups : rows / groups), n = s < (size_t)cols ? s : (size_t)cols;
    return n * n + s * (size_t)cols;
}

double kern_gor_group_penalty(const float *w, int rows, int cols, int groups, int intra, int g,
                              float scale, float *grad, float *scratch) {
    assert(groups > 0 && rows % groups == 0 && g >= 0 && g < kern_gor_sets(rows, groups, intra));
    const int group_size = rows / groups;
    const int s = intra ? groups : group_size;                        /* rows of the set */
    const int ld = intra ? group_size * cols : cols;                  /* between its rows */
    const size_t first = (size_t)(intra ? g : g * group_size) * cols; /* offset of its row 0 */
    const float *wg = w + first;                                      // (s, cols), leading dim ld
    const int wide = s <= cols;                              /* Gram W_g W_gᵀ, else W_gᵀ W_g */
    const int n = wide ? s : cols;
    float *m = scratch; // (n, n): Gram − I
    if (wide)           /* W_g W_gᵀ, resp. W_gᵀ W_g */
        kern_sgemm(0, 1, n, n, cols, 1.0f, wg, ld, wg, ld, 0.0f, m, n);
    else
        kern_sgemm(1, 0, n, n, s, 1.0f, wg, ld, wg, ld, 0.0f, m, n);
    for (int i = 0; i < n; i++)
        m[(size_t)i * n + i] -= 1.0f;
    double p = 0.0;
    for (size_t k = 0; k < (size_t)n * n; k++)
        p += (double)m[k] * (double)m[k];
    if (grad) {
        float *d = scratch + (size_t)n * n; // (s, cols): scale · ∂P_g/∂W_g
        /* 4 (W_g W_gᵀ − I) W_g, resp. 4 W_g (W_gᵀ W_g − I) */
        if (wide)
            kern_sgemm(0, 0, s, cols, s, 4.0f * scale, m, n, wg, ld, 0.0f, d, cols);
        else
            kern_sgemm(0, 0, s, cols, cols, 4.0f * scale, wg, ld, m, n, 0.0f, d, cols);
        float *gg = grad + first;
        for (int i = 0; i < s; i++)
            for (int k = 0; k < cols; k++)
                gg[(size_t)i * ld + k] += d[(size_t)i * cols + k];
    }
    return p;
}

double kern_gor_penalty(const float *w, int rows, int cols, int groups, int intra, float scale,
                        float *grad, float *scratch) {
    double p = 0.0;
    for (int g = 0; g < kern_gor_sets(rows, groups, intra); g++)
        p += kern_gor_group_penalty(w, rows, cols, groups, intra, g, scale, grad, scratch);
    return p;
}
