/* Pruning scores that need only the model (no data, no ranks): SynFlow, and the column norms the
 * sketch score ‖X_{:,k}‖·|w_k| is made of.
 *
 * SynFlow (Tanaka et al. 2020): linearize the network by taking |θ| (masked by `keep`, biases
 * set to 0), feed one all-ones input, and let R be the sum of its outputs. A parameter's score is
 * |θ_k| · ∂R/∂|θ_k|. With zero biases R is homogeneous of degree 1 in each layer's weights
 * (dense, conv, residual projection; ReLU and max / average pooling keep the homogeneity), so the
 * scores of every layer on a chain sum to R (conservation). Normalization layers break it: the
 * caller refuses them. Iterating (re-scoring after each pruning round with `keep`) is the caller's
 * loop.
 *
 *     double r = rl_prune_synflow(&model, &ws, keep, scores);   // scores (n_params)
 */
#ifndef RANKLAB_NN_PRUNE_H
#define RANKLAB_NN_PRUNE_H

#include "src/nn/nn.h"

/* SynFlow scores (n_params; 0 for everything but weight matrices, and for pruned weights) of the
 * model whose weights are |θ| ⊙ keep (keep (n_params) 0/1, or NULL for all). Uses ws (max_batch >=
 * 1) and m->grads; m->params is restored. Returns R. */
double rl_prune_synflow(rl_model *m, rl_workspace *ws, const float *keep, double *scores);

/* After rl_model_forward of c examples into ws: col_sq (fan-in of layer l, which has a weight
 * matrix) = Σ over the examples and the layer's output positions of the square of the input
 * each column of the weight matrix multiplies — for a dense layer its input, for a convolution
 * (and a residual 1 x 1 projection, which reads the shortcut) the im2col column of input channel
 * ci at kernel offset (ky, kx), 0 where that falls in the padding. Summed in float in a fixed
 * order (examples, then positions). */
void rl_prune_column_squares(const rl_model *m, const rl_workspace *ws, int l, int c,
                             float *col_sq);

#endif
