/* Convolution (im2col + GEMM over a group of examples), max/average and global pooling, group
 * and batch norm, dropout: forward and backward (see layers.h). Statistics of group and batch
 * norm are summed in double in a fixed order; group norm (and batch norm in evaluation) gives
 * the same bits for an example whatever else is in the batch. */
#include "src/nn/layers.h"

#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

int rl_conv_group(const rl_layer *ly, int batch) {
    size_t per_example = (size_t)rl_layer_fan_in(ly) * (size_t)ly->out_h * (size_t)ly->out_w;
    size_t group = RL_CONV_COL_FLOATS / (per_example ? per_example : 1);
    if (group < 1)
        group = 1;
    return group < (size_t)batch ? (int)group : batch;
}

/* im2col of examples x (n, c, h, w) into col (c · k · k, n · out_h · out_w):
 * col[(ci · k + ki) · k + kj][(i · out_h + oy) · out_w + ox] =
 *     x[i][ci][oy · stride + ki − pad][ox · stride + kj − pad], zero outside the image. */
static void im2col(const rl_layer *ly, const float *x, int n, float *col) {
    int k = ly->size, s = ly->stride, h = ly->in_h, w = ly->in_w;
    size_t out_hw = (size_t)ly->out_h * ly->out_w, cols = (size_t)n * out_hw;
    for (int ci = 0; ci < ly->in_c; ci++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *row = col + ((size_t)(ci * k + ki) * k + kj) * cols; // (n · out_hw)
                for (int i = 0; i < n; i++)
                    for (int oy = 0; oy < ly->out_h; oy++) {
                        int iy = oy * s + ki - ly->pad;
                        float *out = row + i * out_hw + (size_t)oy * ly->out_w;
                        if (iy < 0 || iy >= h) {
                            memset(out, 0, (size_t)ly->out_w * sizeof(float));
                            continue;
                        }
                        const float *in = x + (size_t)i * ly->in + ((size_t)ci * h + iy) * w;
                        for (int ox = 0; ox < ly->out_w; ox++) {
                            int ix = ox * s + kj - ly->pad;
                            out[ox] = ix >= 0 && ix < w ? in[ix] : 0.0f;
                        }
                    }
            }
}

/* The adjoint of im2col: dx (n, c, h, w) = Σ of the col entries that read each pixel. */
static void col2im(const rl_layer *ly, const float *col, int n, float *dx) {
    int k = ly->size, s = ly->stride, h = ly->in_h, w = ly->in_w;
    size_t out_hw = (size_t)ly->out_h * ly->out_w, cols = (size_t)n * out_hw;
    memset(dx, 0, (size_t)n * ly->in * sizeof(float));
    for (int ci = 0; ci < ly->in_c; ci++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *row = col + ((size_t)(ci * k + ki) * k + kj) * cols;
                for (int i = 0; i < n; i++)
                    for (int oy = 0; oy < ly->out_h; oy++) {
                        int iy = oy * s + ki - ly->pad;
                        if (iy < 0 || iy >= h)
                            continue;
                        float *out = dx + (size_t)i * ly->in + ((size_t)ci * h + iy) * w;
                        const float *in = row + i * out_hw + (size_t)oy * ly->out_w;
                        for (int ox = 0; ox < ly->out_w; ox++) {
                            int ix = ox * s + kj - ly->pad;
                            if (ix >= 0 && ix < w)
                                out[ix] += in[ox];
                        }
                    }
            }
}

void rl_conv_forward(const rl_layer *ly, const float *params, const float *x, float *y, int batch,
                     rl_conv_scratch *scratch) {
    int fan_in = rl_layer_fan_in(ly), out_hw = ly->out_h * ly->out_w;
    int group = rl_conv_group(ly, batch);
    const float *wt = params + ly->w_off;   // (out_c, fan_in)
    const float *bias = params + ly->b_off; // (out_c)
    for (int first = 0; first < batch; first += group) {
        int n = batch - first < group ? batch - first : group, cols = n * out_hw;
        im2col(ly, x + (size_t)first * ly->in, n, scratch->col); // (fan_in, n · out_hw)
        kern_sgemm(0, 0, ly->out_c, cols, fan_in, 1.0f, wt, fan_in, scratch->col, cols, 0.0f,
                   scratch->out, cols); // (out_c, n · out_hw)
        for (int i = 0; i < n; i++)
            for (int c = 0; c < ly->out_c; c++) {
                const float *from = scratch->out + (size_t)c * cols + (size_t)i * out_hw;
                float *to = y + (size_t)(first + i) * ly->out + (size_t)c * out_hw;
                for (int p = 0; p < out_hw; p++)
                    to[p] = from[p] + bias[c];
            }
    }
}

void rl_conv_backward(const rl_layer *ly, const float *params, float *grads, const float *x,
                      const float *dy, float *dx, int batch, rl_conv_scratch *scratch) {
    int fan_in = rl_layer_fan_in(ly), out_hw = ly->out_h * ly->out_w;
    int group = rl_conv_group(ly, batch);
    const float *wt = params + ly->w_off; // (out_c, fan_in)
    for (int first = 0; first < batch; first += group) {
        int n = batch - first < group ? batch - first : group, cols = n * out_hw;
        const float *dy_group = dy + (size_t)first * ly->out; // (n, out_c, out_hw)
        if (grads) {
            float *dw = grads + ly->w_off;    // (out_c, fan_in)
            float *dbias = grads + ly->b_off; // (out_c)
            im2col(ly, x + (size_t)first * ly->in, n, scratch->col);
            for (int i = 0; i < n; i++) {
                const float *dyi = dy_group + (size_t)i * ly->out; // (out_c, out_hw)
                kern_sgemm(0, 1, ly->out_c, fan_in, out_hw, 1.0f, dyi, out_hw,
                           scratch->col + (size_t)i * out_hw, cols, 1.0f, dw, fan_in);
                for (int c = 0; c < ly->out_c; c++) {
                    double sum = 0.0;
                    for (int p = 0; p < out_hw; p++)
                        sum += dyi[(size_t)c * out_hw + p];
                    dbias[c] += (float)sum;
                }
            }
        }
        if (dx) {
            for (int i = 0; i < n; i++)
                for (int c = 0; c < ly->out_c; c++)
                    memcpy(scratch->out + (size_t)c * cols + (size_t)i * out_hw,
                           dy_group + (size_t)i * ly->out + (size_t)c * out_hw,
                           (size_t)out_hw * sizeof(float)); // (out_c, n · out_hw)
            kern_sgemm(1, 0, fan_in, cols, ly->out_c, 1.0f, wt, fan_in, scratch->out, cols, 0.0f,
                       scratch->col, cols); // (fan_in, n · out_hw)
            col2im(ly, scratch->col, n, dx + (size_t)first * ly->in);
        }
    }
}

void rl_pool_forward(const rl_layer *ly, const float *x, float *y, int batch) {
    int s = ly->size, is_max = ly->kind == RL_LAYER_MAXPOOL;
    float inv_area = 1.0f / (float)(s * s);
    for (int i = 0; i < batch; i++)
        for (int c = 0; c < ly->out_c; c++) {
            const float *xc = x + (size_t)i * ly->in + (size_t)c * ly->in_h * ly->in_w;
            float *yc = y + (size_t)i * ly->out + (size_t)c * ly->out_h * ly->out_w;
            for (int oy = 0; oy < ly->out_h; oy++)
                for (int ox = 0; ox < ly->out_w; ox++) {
                    const float *win = xc + (size_t)oy * s * ly->in_w + (size_t)ox * s;
                    float acc = is_max ? win[0] : 0.0f;
                    for (int a = 0; a < s; a++)
                        for (int b = 0; b < s; b++) {
                            float v = win[(size_t)a * ly->in_w + b];
                            acc = is_max ? (v > acc ? v : acc) : acc + v;
                        }
                    yc[oy * ly->out_w + ox] = is_max ? acc : acc * inv_area;
                }
        }
}

void rl_pool_backward(const rl_layer *ly, const float *x, const float *dy, float *dx, int batch) {
    int s = ly->size, is_max = ly->kind == RL_LAYER_MAXPOOL;
    float inv_area = 1.0f / (float)(s * s);
    memset(dx, 0, (size_t)batch * ly->in * sizeof(float));
    for (int i = 0; i < batch; i++)
        for (int c = 0; c < ly->out_c; c++) {
            size_t in_base = (size_t)i * ly->in + (size_t)c * ly->in_h * ly->in_w;
            const float *dyc = dy + (size_t)i * ly->out + (size_t)c * ly->out_h * ly->out_w;
            for (int oy = 0; oy < ly->out_h; oy++)
                for (int ox = 0; ox < ly->out_w; ox++) {
                    size_t corner = in_base + (size_t)oy * s * ly->in_w + (size_t)ox * s;
                    float g = dyc[oy * ly->out_w + ox];
                    if (!is_max) {
                        for (int a = 0; a < s; a++)
                            for (int b = 0; b < s; b++)
                                dx[corner + (size_t)a * ly->in_w + b] += g * inv_area;
                        continue;
                    }
                    size_t best = corner;
                    for (int a = 0; a < s; a++)
                        for (int b = 0; b < s; b++) {
                            size_t at = corner + (size_t)a * ly->in_w + b;
                            if (x[at] > x[best])
                                best = at;
                        }
                    dx[best] += g;
                }
        }
}

void rl_globalpool_forward(const rl_layer *ly, const float *x, float *y, int batch) {
    size_t hw = (size_t)ly->in_h * ly->in_w;
    for (size_t row = 0; row < (size_t)batch * ly->out_c; row++) {
        const float *xc = x + row * hw; // (in_h · in_w) of one channel of one example
        double sum = 0.0;
        for (size_t p = 0; p < hw; p++)
            sum += xc[p];
        y[row] = (float)(sum / (double)hw);
    }
}

void rl_globalpool_backward(const rl_layer *ly, const float *dy, float *dx, int batch) {
    size_t hw = (size_t)ly->in_h * ly->in_w;
    float inv_area = 1.0f / (float)hw;
    for (size_t row = 0; row < (size_t)batch * ly->out_c; row++)
        for (size_t p = 0; p < hw; p++)
            dx[row * hw + p] = dy[row] * inv_area;
}

/* Mean and 1/sqrt(variance + eps) of the n values of one group. */
static void group_stats(const float *x, size_t n, double *mean, double *inv_std) {
    double sum = 0.0, sq = 0.0;
    for (size_t j = 0; j < n; j++)
        sum += x[j];
    *mean = sum / (double)n;
    for (size_t j = 0; j < n; j++) {
        double d = x[j] - *mean;
        sq += d * d;
    }
    *inv_std = 1.0 / sqrt(sq / (double)n + RL_GROUPNORM_EPS);
}

void rl_groupnorm_forward(const rl_layer *ly, const float *params, const float *x, float *y,
                          int batch) {
    int per_group = ly->out_c / ly->size, hw = ly->out_h * ly->out_w;
    const float *scale = params + ly->w_off; // (out_c)
    const float *shift = params + ly->b_off; // (out_c)
    size_t n = (size_t)per_group * hw;
    for (int i = 0; i < batch; i++)
        for (int g = 0; g < ly->size; g++) {
            size_t base = (size_t)i * ly->out + (size_t)g * n;
            double mean, inv_std;
            group_stats(x + base, n, &mean, &inv_std);
            for (int c = g * per_group; c < (g + 1) * per_group; c++)
                for (int p = 0; p < hw; p++) {
                    size_t at = (size_t)i * ly->out + (size_t)c * hw + p;
                    float x_hat = (float)((x[at] - mean) * inv_std);
                    y[at] = scale[c] * x_hat + shift[c];
                }
        }
}

/* With x̂ the normalized input and g = dy · scale: dx = inv_std · (g − mean(g) − x̂ · mean(g x̂))
 * over the group; dscale += Σ dy · x̂, dshift += Σ dy per channel. */
void rl_groupnorm_backward(const rl_layer *ly, const float *params, float *grads, const float *x,
                           const float *dy, float *dx, int batch) {
    int per_group = ly->out_c / ly->size, hw = ly->out_h * ly->out_w;
    const float *scale = params + ly->w_off; // (out_c)
    size_t n = (size_t)per_group * hw;
    for (int i = 0; i < batch; i++)
        for (int g = 0; g < ly->size; g++) {
            size_t base = (size_t)i * ly->out + (size_t)g * n;
            double mean, inv_std;
            group_stats(x + base, n, &mean, &inv_std);
            double sum_g = 0.0, sum_g_xhat = 0.0;
            for (int c = g * per_group; c < (g + 1) * per_group; c++) {
                double d_scale = 0.0, d_shift = 0.0;
                for (int p = 0; p < hw; p++) {
                    size_t at = (size_t)i * ly->out + (size_t)c * hw + p;
                    double x_hat = (x[at] - mean) * inv_std;
                    d_scale += dy[at] * x_hat;
                    d_shift += dy[at];
                    sum_g += (double)dy[at] * scale[c];
                    sum_g_xhat += (double)dy[at] * scale[c] * x_hat;
                }
                if (grads) {
                    grads[ly->w_off + c] += (float)d_scale;
                    grads[ly->b_off + c] += (float)d_shift;
                }
            }
            if (!dx)
                continue;
            double mean_g = sum_g / (double)n, mean_g_xhat = sum_g_xhat / (double)n;
            for (int c = g * per_group; c < (g + 1) * per_group; c++)
                for (int p = 0; p < hw; p++) {
                    size_t at = (size_t)i * ly->out + (size_t)c * hw + p;
                    double x_hat = (x[at] - mean) * inv_std;
                    dx[at] = (float)(inv_std * ((double)dy[at] * scale[c] - mean_g -
                                                x_hat * mean_g_xhat));
                }
        }
}

/* Mean and biased variance of channel c over the batch's examples and positions. */
static void channel_stats(const rl_layer *ly, const float *x, int batch, int c, double *mean,
                          double *var) {
    size_t hw = (size_t)ly->out_h * ly->out_w;
    double sum = 0.0, sq = 0.0;
    for (int i = 0; i < batch; i++) {
        const float *xc = x + (size_t)i * ly->out + (size_t)c * hw; // (hw)
        for (size_t p = 0; p < hw; p++)
            sum += xc[p];
    }
    double n = (double)batch * (double)hw;
    *mean = sum / n;
    for (int i = 0; i < batch; i++) {
        const float *xc = x + (size_t)i * ly->out + (size_t)c * hw; // (hw)
        for (size_t p = 0; p < hw; p++) {
            double d = xc[p] - *mean;
            sq += d * d;
        }
    }
    *var = sq / n;
}

/* The mean, variance and 1 / sqrt(variance + eps) channel c is normalized with. */
static void channel_norm(const rl_layer *ly, const float *running, int train, const float *x,
                         int batch, int c, double *mean, double *var, double *inv_std) {
    if (train) {
        channel_stats(ly, x, batch, c, mean, var);
    } else {
        *mean = running[c];
        *var = running[ly->out_c + c];
    }
    *inv_std = 1.0 / sqrt(*var + RL_BATCHNORM_EPS);
}

void rl_batchnorm_forward(const rl_layer *ly, const float *params, const float *running,
                          float *batch_stats, const float *x, float *y, int batch) {
    size_t hw = (size_t)ly->out_h * ly->out_w;
    const float *scale = params + ly->w_off; // (out_c)
    const float *shift = params + ly->b_off; // (out_c)
    for (int c = 0; c < ly->out_c; c++) {
        double mean, var, inv_std;
        channel_norm(ly, running, batch_stats != NULL, x, batch, c, &mean, &var, &inv_std);
        if (batch_stats) {
            batch_stats[c] = (float)mean;
            batch_stats[ly->out_c + c] = (float)var;
        }
        for (int i = 0; i < batch; i++)
            for (size_t p = 0; p < hw; p++) {
                size_t at = (size_t)i * ly->out + (size_t)c * hw + p;
                float x_hat = (float)((x[at] - mean) * inv_std);
                y[at] = scale[c] * x_hat + shift[c];
            }
    }
}

/* With x̂ the normalized input and g = dy · scale, over the channel's n values: training mode
 * dx = inv_std · (g − mean(g) − x̂ · mean(g x̂)), evaluation dx = inv_std · g; dscale += Σ dy · x̂,
 * dshift += Σ dy. */
void rl_batchnorm_backward(const rl_layer *ly, const float *params, const float *running, int train,
                           float *grads, const float *x, const float *dy, float *dx, int batch) {
    size_t hw = (size_t)ly->out_h * ly->out_w;
    double n = (double)batch * (double)hw;
    const float *scale = params + ly->w_off; // (out_c)
    for (int c = 0; c < ly->out_c; c++) {
        double mean, var, inv_std, d_scale = 0.0, d_shift = 0.0;
        channel_norm(ly, running, train, x, batch, c, &mean, &var, &inv_std);
        for (int i = 0; i < batch; i++)
            for (size_t p = 0; p < hw; p++) {
                size_t at = (size_t)i * ly->out + (size_t)c * hw + p;
                d_scale += dy[at] * ((x[at] - mean) * inv_std);
                d_shift += dy[at];
            }
        if (grads) {
            grads[ly->w_off + c] += (float)d_scale;
            grads[ly->b_off + c] += (float)d_shift;
        }
        if (!dx)
            continue;
        /* Σ g = scale · Σ dy and Σ g x̂ = scale · Σ dy x̂ */
        double mean_g = train ? scale[c] * d_shift / n : 0.0;
        double mean_g_xhat = train ? scale[c] * d_scale / n : 0.0;
        for (int i = 0; i < batch; i++)
            for (size_t p = 0; p < hw; p++) {
                size_t at = (size_t)i * ly->out + (size_t)c * hw + p;
                double x_hat = (x[at] - mean) * inv_std;
                dx[at] =
                    (float)(inv_std * ((double)dy[at] * scale[c] - mean_g - x_hat * mean_g_xhat));
            }
    }
}

/* The dropout scale of value u of example i: 0 (dropped) or 1 / (1 − rate). */
static void dropout_scales(const rl_layer *ly, const rl_dropout_key *key, int i, float *scales) {
    uint32_t threshold = (uint32_t)floor((double)ly->rate * 4294967296.0);
    float kept = 1.0f / (1.0f - ly->rate);
    uint32_t block[4];
    for (int u = 0; u < ly->out; u++) {
        if (u % 4 == 0)
            rl_rng_block(key->rng, key->round, (uint32_t)key->ids[i],
                         ((uint32_t)key->layer << 22) + (uint32_t)u / 4, block);
        scales[u] = block[u % 4] >= threshold ? kept : 0.0f;
    }
}

void rl_dropout_forward(const rl_layer *ly, const rl_dropout_key *key, const float *x, float *y,
                        int batch) {
    for (int i = 0; i < batch; i++) {
        float *yi = y + (size_t)i * ly->out; // (out): the scales first, then the values
        dropout_scales(ly, key, i, yi);
        for (int u = 0; u < ly->out; u++)
            yi[u] *= x[(size_t)i * ly->out + u];
    }
}

void rl_dropout_backward(const rl_layer *ly, const rl_dropout_key *key, const float *dy, float *dx,
                         int batch) {
    for (int i = 0; i < batch; i++) {
        float *dxi = dx + (size_t)i * ly->out; // (out): the scales first, then the gradient
        dropout_scales(ly, key, i, dxi);
        for (int u = 0; u < ly->out; u++)
            dxi[u] *= dy[(size_t)i * ly->out + u];
    }
}
