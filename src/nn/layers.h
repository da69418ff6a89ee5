/* Forward and backward of the convolutional-network layers (conv, pools, group norm) for
 * src/nn/model.c. Activations are (batch, C, H, W) row-major; shapes and parameter offsets come
 * from the rl_layer. Backward functions ADD parameter gradients into grads (when not NULL) and
 * write the input gradient into dx (when not NULL). */
#ifndef RANKLAB_NN_LAYERS_H
#define RANKLAB_NN_LAYERS_H

#include "src/nn/nn.h"

/* col: (in_c · k · k, in_h · in_w) scratch. */
void rl_conv_forward(const rl_layer *ly, const float *params, const float *x, float *y, int batch,
                     float *col);
/* col, d_col: (in_c · k · k, in_h · in_w) scratch. */
void rl_conv_backward(const rl_layer *ly, const float *params, float *grads, const float *x,
                      const float *dy, float *dx, int batch, float *col, float *d_col);
void rl_pool_forward(const rl_layer *ly, const float *x, float *y, int batch);
/* Max pooling routes each window's gradient to its first maximum, recomputed from x. */
void rl_pool_backward(const rl_layer *ly, const float *x, const float *dy, float *dx, int batch);
void rl_groupnorm_forward(const rl_layer *ly, const float *params, const float *x, float *y,
                          int batch);
void rl_groupnorm_backward(const rl_layer *ly, const float *params, float *grads, const float *x,
                           const float *dy, float *dx, int batch);

#endif
