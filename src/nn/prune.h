/* Pruning scores that need only the model (no data, no ranks): SynFlow.
 *
 * SynFlow (Tanaka et al. 2020): linearize the network by taking |θ| (masked by `keep`, biases
 * set to 0), feed one all-ones input, and let R be the sum of its outputs. A parameter's score is
 * |θ_k| · ∂R/∂|θ_k|. With zero biases R is homogeneous of degree 1 in each dense layer's weights,
 * so the scores of every dense layer sum to R (conservation). Iterating (re-scoring after each
 * pruning round with `keep`) is the caller's loop.
 *
 *     double r = rl_prune_synflow(&model, &ws, keep, scores);   // scores (n_params)
 */
#ifndef RANKLAB_NN_PRUNE_H
#define RANKLAB_NN_PRUNE_H

#include "src/nn/nn.h"

/* SynFlow scores (n_params; 0 for biases and for pruned weights) of the model whose weights are
 * |θ| ⊙ keep (keep (n_params) 0/1, or NULL for all). Uses ws (max_batch >= 1) and m->grads;
 * m->params is restored. Returns R. */
double rl_prune_synflow(rl_model *m, rl_workspace *ws, const float *keep, double *scores);

#endif
