/* Group orthogonalization regularization (GOR, arXiv 2306.10001): the penalty of one weight
 * matrix and its gradient.
 *
 * W (rows, cols) is a layer's weight, row-major: rows = output filters/units, cols = fan-in
 * (c_in·k·k for a conv, in for a dense layer). Its rows are split into `groups` G groups of
 * s = rows / G contiguous rows (G must divide rows: the caller's problem, checked by an assert
 * only), and the penalty orthogonalizes sets of rows, as the authors' weight_regularization.py:
 *   inter (intra = 0): the G groups are the sets; set g is rows g·s .. g·s + s − 1
 *   intra (intra = 1): s sets of G rows, one from each group; set j is rows j, j + s, j + 2s, …,
 *                      j + (G − 1)·s (the authors' reshape(G, s, d).permute(1, 0, 2))
 * kern_gor_sets() counts them. G = 1 inter, and G = rows intra (s = 1), are plain soft
 * orthogonality (SO) of all rows. W_g (n_g, cols) is set g's block, n_g its rows. The penalty
 * uses the smaller Gram of each block:
 *   P = Σ_g ‖W_g W_gᵀ − I‖²_F       (n_g <= cols)    ∂P/∂W_g = 4 (W_g W_gᵀ − I) W_g
 *   P = Σ_g ‖W_gᵀ W_g − I_cols‖²_F    (n_g > cols)    ∂P/∂W_g = 4 W_g (W_gᵀ W_g − I)
 * (for n_g = cols both are the same number: W_g W_gᵀ and W_gᵀ W_g share their eigenvalues).
 * Grouped sets cost a fraction of SO's flops: 1/G inter, 1/s intra.
 *
 * A set's Gram is a kern_sgemm in fp32 (the whole square: on the exact path it is symmetric
 * bit for bit, fma being commutative), its gradient a GEMM into scratch; the squared Frobenius
 * norm is summed in double in a fixed order, and the gradient is added into `grad` element by
 * element afterwards, so a set's contribution has the same bits whatever `grad` held. Same
 * input → same bits (on any CPU, on kern_sgemm's exact path). The whole-layer call is the
 * loop g = 0 .. sets−1 over the per-set call, summing the penalties in that order, so a caller
 * that splits the sets over ranks gets the same bits per set:
 *
 *     float *scratch = malloc(kern_gor_scratch_floats(rows, cols, G, 0) * sizeof(float));
 *     double p = kern_gor_penalty(w, rows, cols, G, 0, lambda, grad, scratch); // grad += λ∂P/∂W
 *     // or, sets first..last (of kern_gor_sets(rows, G, 0)) on this rank:
 *     for (int g = first; g <= last; g++)
 *         p_g[g] = kern_gor_group_penalty(w, rows, cols, G, 0, g, lambda, grad, scratch);
 *
 * kern_ref_gor_penalty (kernels/ref/gor_ref.c) computes the same from the formula in double
 * (Gram entries recomputed on the fly: for small test shapes only).
 */
#ifndef RANKLAB_KERNELS_GOR_H
#define RANKLAB_KERNELS_GOR_H

#include <stddef.h>

/* The number of sets the grouping makes: G (inter) or rows / G (intra). */
int kern_gor_sets(int rows, int groups, int intra);

/* Floats of scratch that kern_gor_penalty / kern_gor_group_penalty need for this grouping:
 * min(n, cols)² (the Gram) + n·cols (the set's gradient), n the rows of a set. Largest for SO
 * (groups = 1, inter), so that size serves every grouping of the same matrix. */
size_t kern_gor_scratch_floats(int rows, int cols, int groups, int intra);

/* Penalty of set g (0 <= g < kern_gor_sets(rows, groups, intra)) of W (rows, cols), grouping as
 * above. If grad (rows, cols) is not NULL, adds scale · ∂P_g/∂W into it (only set g's rows
 * change). scratch: kern_gor_scratch_floats(rows, cols, groups, intra) floats, not aliasing w or
 * grad. */
double kern_gor_group_penalty(const float *w, int rows, int cols, int groups, int intra, int g,
                              float scale, float *grad, float *scratch);

/* P = Σ_g P_g over the sets (summed in double, g in increasing order) and, if grad is not NULL,
 * grad (rows, cols) += scale · ∂P/∂W. Same arguments as kern_gor_group_penalty. */
double kern_gor_penalty(const float *w, int rows, int cols, int groups, int intra, float scale,
                        float *grad, float *scratch);
double kern_ref_gor_penalty(const float *w, int rows, int cols, int groups, int intra, float scale,
                            float *grad, float *scratch);

#endif
