/* Forward and backward of the convolutional-network layers (conv, pools, group and batch norm,
 * dropout) for src/nn/model.c. Activations are (batch, C, H, W) row-major; shapes and parameter
 * offsets come from the rl_layer. Backward functions ADD parameter gradients into grads (when not
 * NULL) and write the input gradient into dx (when not NULL). */
#ifndef RANKLAB_NN_LAYERS_H
#define RANKLAB_NN_LAYERS_H

#include "src/nn/nn.h"

/* A convolution runs im2col + one GEMM over a group of examples: up to RL_CONV_COL_FLOATS
 * im2col values at a time (1 MiB: the group's im2col stays in the core's L2 cache between im2col
 * and the GEMM, and between the GEMM and col2im; larger groups ran at half the speed). Each output
 * value (and each input-gradient value) is one fma chain of the exact GEMM over the layer's fan-in
 * (out_c), so its bits do not depend on the group or on the other examples; the weight gradient is
 * one GEMM per example (a chain over its out_h · out_w positions), added example by example in
 * order. */
#define RL_CONV_COL_FLOATS ((size_t)1 << 18)
/* Examples per group for a batch of `batch` (1 .. batch). */
int rl_conv_group(const rl_layer *ly, int batch);
/* Scratch of a convolution, sized for its group: col (fan_in, group · out_h · out_w),
 * out (out_c, max(group · out_h · out_w, fan_in)) (the backward pass keeps dWᵀ in it). */
typedef struct {
    float *col, *out;
} rl_conv_scratch;
void rl_conv_forward(const rl_layer *ly, const float *params, const float *x, float *y, int batch,
                     rl_conv_scratch *scratch);
void rl_conv_backward(const rl_layer *ly, const float *params, float *grads, const float *x,
                      const float *dy, float *dx, int batch, rl_conv_scratch *scratch);
void rl_pool_forward(const rl_layer *ly, const float *x, float *y, int batch);
/* Max pooling routes each window's gradient to its first maximum, recomputed from x. */
void rl_pool_backward(const rl_layer *ly, const float *x, const float *dy, float *dx, int batch);
/* Global average pooling (C, H, W) -> (C, 1, 1), summed in double in a fixed order. */
void rl_globalpool_forward(const rl_layer *ly, const float *x, float *y, int batch);
void rl_globalpool_backward(const rl_layer *ly, const float *dy, float *dx, int batch);
void rl_groupnorm_forward(const rl_layer *ly, const float *params, const float *x, float *y,
                          int batch);
void rl_groupnorm_backward(const rl_layer *ly, const float *params, float *grads, const float *x,
                           const float *dy, float *dx, int batch);

/* Batch norm per channel over the batch's examples and H x W positions. Training mode
 * (batch_stats not NULL): normalizes with the batch's mean and biased variance, stored into
 * batch_stats (mean (out_c), variance (out_c)); evaluation (batch_stats NULL): with the running
 * averages `running` (same layout). Statistics are summed in double in a fixed order. */
void rl_batchnorm_forward(const rl_layer *ly, const float *params, const float *running,
                          float *batch_stats, const float *x, float *y, int batch);
/* train: the gradient through the batch's statistics (recomputed from x), else through the
 * fixed running averages. */
void rl_batchnorm_backward(const rl_layer *ly, const float *params, const float *running, int train,
                           float *grads, const float *x, const float *dy, float *dx, int batch);
/* Where dropout keeps a value: unit u of example `id` in layer `layer` is kept when the 32-bit
 * word u % 4 of the counter RNG's block (round, id, layer · 2^22 + u / 4) is at least
 * rate · 2^32. Kept values are scaled by 1 / (1 − rate). */
typedef struct {
    rl_rng rng;
    uint32_t round;
    const int64_t *ids; /* (batch) */
    int layer;
} rl_dropout_key;
void rl_dropout_forward(const rl_layer *ly, const rl_dropout_key *key, const float *x, float *y,
                        int batch);
void rl_dropout_backward(const rl_layer *ly, const rl_dropout_key *key, const float *dy, float *dx,
                         int batch);

#endif
