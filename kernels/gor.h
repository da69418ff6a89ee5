/* Group orthogonalization regularization (GOR, arXiv 2306.10001): the penalty of one weight
 * matrix and its gradient.
 *
 * W (rows, cols) is a layer's weight, row-major: rows = output filters/units, cols = fan-in
 * (c_in·k·k for a conv, in for a dense layer). Its rows are split into `groups` G groups of
 * s = rows / G rows each (G must divide rows: the caller's problem, checked by an assert only):
 *   inter (intra = 0): group g is rows g·s .. g·s + s − 1 (contiguous filters)
 *   intra (intra = 1): group g is rows g, g + G, g + 2G, … (strided)
 * W_g (s, cols) is group g's block. The penalty uses the smaller Gram of each block:
 *   P = Σ_g ‖W_g W_gᵀ − I_s‖²_F       (s <= cols)    ∂P/∂W_g = 4 (W_g W_gᵀ − I) W_g
 *   P = Σ_g ‖W_gᵀ W_g − I_cols‖²_F    (s > cols)     ∂P/∂W_g = 4 W_g (W_gᵀ W_g − I)
 * G = 1 is plain soft orthogonality (SO); G groups cost 1/G of SO's flops (4·rows·s·cols).
 *
 * A group's Gram is a kern_sgemm in fp32 (the whole square: on the exact path it is symmetric
 * bit for bit, fma being commutative), its gradient a GEMM into scratch; the squared Frobenius
 * norm is summed in double in a fixed order, and the gradient is added into `grad` element by
 * element afterwards, so a group's contribution has the same bits whatever `grad` held. Same
 * input → same bits (on any CPU, on kern_sgemm's exact path). The whole-layer call is the
 * loop g = 0 .. G−1 over the per-group call, summing the penalties in that order, so a caller
 * that splits the groups over ranks gets the same bits per group:
 *
 *     float *scratch = malloc(kern_gor_scratch_floats(rows, cols, G) * sizeof(float));
 *     double p = kern_gor_penalty(w, rows, cols, G, 0, lambda, grad, scratch); // grad += λ∂P/∂W
 *     // or, groups first..last on this rank:
 *     for (int g = first; g <= last; g++)
 *         p_g[g] = kern_gor_group_penalty(w, rows, cols, G, 0, g, lambda, grad, scratch);
 *
 * kern_ref_gor_penalty (kernels/ref/gor_ref.c) computes the same from the formula in double
 * (Gram entries recomputed on the fly: for small test shapes only).
 */
#ifndef RANKLAB_KERNELS_GOR_H
#define RANKLAB_KERNELS_GOR_H

#include <stddef.h>

/* Floats of scratch that kern_gor_penalty / kern_gor_group_penalty need for this shape:
 * min(s, cols)² (the Gram) + s·cols (the group's gradient), s = rows / groups. Largest for
 * groups = 1, so that size serves every G of the same matrix. */
size_t kern_gor_scratch_floats(int rows, int cols, int groups);

/* Penalty of group g (0 <= g < groups) of W (rows, cols), grouping as above (intra 0 or 1).
 * If grad (rows, cols) is not NULL, adds scale · ∂P_g/∂W into it (only group g's rows change).
 * scratch: kern_gor_scratch_floats(rows, cols, groups) floats, not aliasing w or grad. */
double kern_gor_group_penalty(const float *w, int rows, int cols, int groups, int intra, int g,
                              float scale, float *grad, float *scratch);

/* P = Σ_g P_g (summed in double, g in increasing order) and, if grad is not NULL,
 * grad (rows, cols) += scale · ∂P/∂W. Same arguments as kern_gor_group_penalty. */
double kern_gor_penalty(const float *w, int rows, int cols, int groups, int intra, float scale,
                        float *grad, float *scratch);
double kern_ref_gor_penalty(const float *w, int rows, int cols, int groups, int intra, float scale,
                            float *grad, float *scratch);

#endif
