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

/* The output positions ox in [*lo, *hi) of a row whose input column ox · s + kj − pad is inside
 * the image (0 <= it < w); the others read the zero padding. */
static void valid_columns(const rl_layer *ly, int kj, int *lo, int *hi) {
    int s = ly->stride, first = ly->pad - kj; // ox · s >= first, ox · s <= w − 1 + first
    *lo = first <= 0 ? 0 : (first + s - 1) / s;
    *hi = ly->in_w - 1 + first < 0 ? 0 : (ly->in_w - 1 + first) / s + 1;
    *hi = *hi < ly->out_w ? *hi : ly->out_w;
    *lo = *lo < *hi ? *lo : *hi;
}

/* im2col's row (ki, kj) of one input plane (h, w) for stride 1 and out_w = w (columns [lo, hi)
 * of each row inside the image): out[oy · w + ox] = plane[oy · w + ox + shift] with
 * shift = (ki − pad) · w + kj − pad: one long copy over the rows inside the image, then zeros
 * where the row or the column is outside it (the copy put a neighbouring row's pixels there). */
static void im2col_plane(const rl_layer *ly, const float *restrict plane, int ki, int kj, int lo,
                         int hi, float *restrict out) {
    int w = ly->in_w, out_h = ly->out_h, dy = ki - ly->pad;
    int oy_lo = dy < 0 ? -dy : 0, oy_hi = ly->in_h - dy < out_h ? ly->in_h - dy : out_h;
    int plane_size = out_h * w;
    if (oy_hi <= oy_lo || hi <= lo) {
        for (int p = 0; p < plane_size; p++)
            out[p] = 0.0f;
        return;
    }
    int first = oy_lo * w + lo, last = (oy_hi - 1) * w + hi, shift = dy * w + kj - ly->pad;
    const float *from =
        plane + first + shift; // inside the plane: pixel (oy_lo + dy, lo + kj − pad)
    for (int p = 0; p < first; p++)
        out[p] = 0.0f;
    for (int p = 0; p < last - first; p++)
        out[first + p] = from[p];
    for (int p = last; p < plane_size; p++)
        out[p] = 0.0f;
    for (int oy = oy_lo; oy < oy_hi; oy++) {
        for (int ox = 0; ox < lo; ox++)
            out[oy * w + ox] = 0.0f;
        for (int ox = hi; ox < w; ox++)
            out[oy * w + ox] = 0.0f;
    }
}

/* im2col of examples x (n, c, h, w) into col (c · k · k, n · out_h · out_w):
 * col[(ci · k + ki) · k + kj][(i · out_h + oy) · out_w + ox] =
 *     x[i][ci][oy · stride + ki − pad][ox · stride + kj − pad], zero outside the image. */
static void im2col(const rl_layer *ly, const float *x, int n, float *col) {
    int k = ly->size, s = ly->stride, h = ly->in_h, w = ly->in_w, out_w = ly->out_w;
    size_t out_hw = (size_t)ly->out_h * out_w, cols = (size_t)n * out_hw;
    for (int ci = 0; ci < ly->in_c; ci++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *row = col + ((size_t)(ci * k + ki) * k + kj) * cols; // (n · out_hw)
                int lo, hi;
                valid_columns(ly, kj, &lo, &hi);
                if (s == 1 && out_w == w) { // a plane of one example is a shifted copy
                    for (int i = 0; i < n; i++)
                        im2col_plane(ly, x + (size_t)i * ly->in + (size_t)ci * h * w, ki, kj, lo,
                                     hi, row + i * out_hw);
                    continue;
                }
                for (int i = 0; i < n; i++)
                    for (int oy = 0; oy < ly->out_h; oy++) {
                        int iy = oy * s + ki - ly->pad;
                        float *out = row + i * out_hw + (size_t)oy * out_w;
                        if (iy < 0 || iy >= h) {
                            for (int ox = 0; ox < out_w; ox++)
                                out[ox] = 0.0f;
                            continue;
                        }
                        const float *in = x + (size_t)i * ly->in + ((size_t)ci * h + iy) * w;
                        int shift = kj - ly->pad; // column ox reads in[ox · s + shift]
                        /* rows are short (an image's width): loops, not library calls */
                        int ox = 0;
                        for (; ox < lo; ox++)
                            out[ox] = 0.0f;
                        if (s == 1)
                            for (; ox < hi; ox++)
                                out[ox] = in[ox + shift];
                        else
                            for (; ox < hi; ox++)
                                out[ox] = in[ox * s + shift];
                        for (; ox < out_w; ox++)
                            out[ox] = 0.0f;
                    }
            }
}

/* The adjoint of im2col: dx (n, c, h, w) = Σ of the col entries that read each pixel, added in
 * the order of im2col's loops. */
static void col2im(const rl_layer *ly, const float *col, int n, float *dx) {
    int k = ly->size, s = ly->stride, h = ly->in_h, w = ly->in_w;
    size_t out_hw = (size_t)ly->out_h * ly->out_w, cols = (size_t)n * out_hw;
    memset(dx, 0, (size_t)n * ly->in * sizeof(float));
    for (int ci = 0; ci < ly->in_c; ci++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *row = col + ((size_t)(ci * k + ki) * k + kj) * cols;
                int lo, hi;
                valid_columns(ly, kj, &lo, &hi);
                for (int i = 0; i < n; i++)
                    for (int oy = 0; oy < ly->out_h; oy++) {
                        int iy = oy * s + ki - ly->pad;
                        if (iy < 0 || iy >= h)
                            continue;
                        float *restrict out = dx + (size_t)i * ly->in + ((size_t)ci * h + iy) * w;
                        const float *restrict in = row + i * out_hw + (size_t)oy * ly->out_w;
                        int shift = kj - ly->pad; // column ox adds into out[ox · s + shift]
                        if (s == 1)               // a unit stride vectorizes
                            for (int ox = lo; ox < hi; ox++)
                                out[ox + shift] += in[ox];
                        else
                            for (int ox = lo; ox < hi; ox++)
                                out[ox * s + shift] += in[ox];
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

/* dbias[c] += Σ_p dy[c][p] (summed in double, p in order) for the out_c channels of one example,
 * CONV_BIAS_LANES channels at a time so that their chains overlap. */
enum { CONV_BIAS_LANES = 8 };
static void conv_bias_grad(const float *dy, int out_c, int out_hw, float *dbias) {
    for (int c0 = 0; c0 < out_c; c0 += CONV_BIAS_LANES) {
        int lanes = out_c - c0 < CONV_BIAS_LANES ? out_c - c0 : CONV_BIAS_LANES;
        double sum[CONV_BIAS_LANES] = {0};
        for (int p = 0; p < out_hw; p++)
            for (int c = 0; c < lanes; c++)
                sum[c] += dy[(size_t)(c0 + c) * out_hw + p];
        for (int c = 0; c < lanes; c++)
            dbias[c0 + c] += (float)sum[c];
    }
}

/* dW (out_c, fan_in) += dy_i · col_iᵀ example by example, computed as its transpose
 * dWᵀ += col_i · dy_iᵀ in `dw_t` (fan_in, out_c): each entry is the same fma chain over the
 * example's positions (a product is the same either way round), added to the running dW the same
 * way, but col_i is read in place instead of being transposed. */
static void conv_weight_grad(const rl_layer *ly, const float *col, const float *dy_group, int n,
                             float *dw, float *dw_t) {
    int fan_in = rl_layer_fan_in(ly), out_hw = ly->out_h * ly->out_w, out_c = ly->out_c;
    size_t cols = (size_t)n * out_hw;
    for (int c = 0; c < out_c; c++)
        for (int f = 0; f < fan_in; f++)
            dw_t[(size_t)f * out_c + c] = dw[(size_t)c * fan_in + f];
    for (int i = 0; i < n; i++)
        kern_sgemm(0, 1, fan_in, out_c, out_hw, 1.0f, col + (size_t)i * out_hw, (int)cols,
                   dy_group + (size_t)i * ly->out, out_hw, 1.0f, dw_t, out_c);
    for (int c = 0; c < out_c; c++)
        for (int f = 0; f < fan_in; f++)
            dw[(size_t)c * fan_in + f] = dw_t[(size_t)f * out_c + c];
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
            im2col(ly, x + (size_t)first * ly->in, n, scratch->col);
            conv_weight_grad(ly, scratch->col, dy_group, n, grads + ly->w_off, scratch->out);
            for (int i = 0; i < n; i++)
                conv_bias_grad(dy_group + (size_t)i * ly->out, ly->out_c, out_hw,
                               grads + ly->b_off);
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

/* Max pooling over 2 x 2 windows (the common case), in the generic loop's order: the first of
 * the window's values a, b (top row), c, d (bottom row) that no later one exceeds. Returns 0-3. */
static inline int max2x2_index(float a, float b, float c, float d, float *max) {
    float m = a;
    int at = 0, later; // branch-free, so that the loops over windows vectorize
    later = b > m;
    m = later ? b : m;
    at = later ? 1 : at;
    later = c > m;
    m = later ? c : m;
    at = later ? 2 : at;
    later = d > m;
    m = later ? d : m;
    at = later ? 3 : at;
    *max = m;
    return at;
}

void rl_pool_forward(const rl_layer *ly, const float *x, float *y, int batch) {
    int s = ly->size, is_max = ly->kind == RL_LAYER_MAXPOOL;
    float inv_area = 1.0f / (float)(s * s);
    for (int i = 0; i < batch; i++)
        for (int c = 0; c < ly->out_c; c++) {
            const float *xc = x + (size_t)i * ly->in + (size_t)c * ly->in_h * ly->in_w;
            float *yc = y + (size_t)i * ly->out + (size_t)c * ly->out_h * ly->out_w;
            if (is_max && s == 2) {
                for (int oy = 0; oy < ly->out_h; oy++) {
                    const float *top = xc + (size_t)2 * oy * ly->in_w, *bottom = top + ly->in_w;
                    for (int ox = 0; ox < ly->out_w; ox++)
                        max2x2_index(top[2 * ox], top[2 * ox + 1], bottom[2 * ox],
                                     bottom[2 * ox + 1], &yc[oy * ly->out_w + ox]);
                }
                continue;
            }
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

/* dx of a 2 x 2 max pooling of one channel, written whole (no zeroing pass): each window's
 * gradient goes to its first maximum as 0 + g (what adding into a zeroed dx gives, −0 included),
 * the window's other pixels get 0; a last row or column that no window covers gets 0. */
static void max2x2_backward(const rl_layer *ly, const float *xc, const float *dyc, float *dxc) {
    int in_w = ly->in_w;
    for (int oy = 0; oy < ly->out_h; oy++) {
        const float *top = xc + (size_t)2 * oy * in_w, *bottom = top + in_w;
        float *dtop = dxc + (size_t)2 * oy * in_w, *dbottom = dtop + in_w;
        for (int ox = 0; ox < ly->out_w; ox++) {
            float m, g = 0.0f + dyc[oy * ly->out_w + ox];
            int at =
                max2x2_index(top[2 * ox], top[2 * ox + 1], bottom[2 * ox], bottom[2 * ox + 1], &m);
            dtop[2 * ox] = at == 0 ? g : 0.0f;
            dtop[2 * ox + 1] = at == 1 ? g : 0.0f;
            dbottom[2 * ox] = at == 2 ? g : 0.0f;
            dbottom[2 * ox + 1] = at == 3 ? g : 0.0f;
        }
        for (int ix = 2 * ly->out_w; ix < in_w; ix++)
            dtop[ix] = dbottom[ix] = 0.0f;
    }
    for (int iy = 2 * ly->out_h; iy < ly->in_h; iy++)
        for (int ix = 0; ix < in_w; ix++)
            dxc[(size_t)iy * in_w + ix] = 0.0f;
}

void rl_pool_backward(const rl_layer *ly, const float *x, const float *dy, float *dx, int batch) {
    int s = ly->size, is_max = ly->kind == RL_LAYER_MAXPOOL;
    float inv_area = 1.0f / (float)(s * s);
    if (is_max && s == 2) {
        for (int i = 0; i < batch; i++)
            for (int c = 0; c < ly->out_c; c++) {
                size_t in_base = (size_t)i * ly->in + (size_t)c * ly->in_h * ly->in_w;
                max2x2_backward(ly, x + in_base,
                                dy + (size_t)i * ly->out + (size_t)c * ly->out_h * ly->out_w,
                                dx + in_base);
            }
        return;
    }
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

/* Group norm works on NORM_LANES groups at a time: the groups of a batch are consecutive blocks
 * of n values (block b = example b / G, group b % G), and each block's sums are separate chains
 * in the order of its values (so the same bits as one group at a time), run side by side. */
enum { NORM_LANES = 8 };

/* Mean and 1/sqrt(variance + eps) of the `lanes` blocks of n values from x. */
static inline __attribute__((always_inline)) void norm_stats(const float *x, size_t n, int lanes,
                                                             double *mean, double *inv_std) {
    double sum[NORM_LANES] = {0}, sq[NORM_LANES] = {0};
    for (size_t j = 0; j < n; j++)
        for (int l = 0; l < lanes; l++)
            sum[l] += x[l * n + j];
    for (int l = 0; l < lanes; l++)
        mean[l] = sum[l] / (double)n;
    for (size_t j = 0; j < n; j++)
        for (int l = 0; l < lanes; l++) {
            double d = x[l * n + j] - mean[l];
            sq[l] += d * d;
        }
    for (int l = 0; l < lanes; l++)
        inv_std[l] = 1.0 / sqrt(sq[l] / (double)n + RL_GROUPNORM_EPS);
}

/* norm_stats of blocks [b0, b0 + lanes) (lanes ≤ NORM_LANES), unrolled for a full set. */
static void norm_stats_blocks(const float *x, size_t n, int b0, int lanes, double *mean,
                              double *inv_std) {
    if (lanes == NORM_LANES)
        norm_stats(x + (size_t)b0 * n, n, NORM_LANES, mean, inv_std);
    else
        norm_stats(x + (size_t)b0 * n, n, lanes, mean, inv_std);
}

void rl_groupnorm_forward(const rl_layer *ly, const float *params, const float *x, float *y,
                          int batch) {
    int per_group = ly->out_c / ly->size, hw = ly->out_h * ly->out_w, blocks = batch * ly->size;
    const float *scale = params + ly->w_off; // (out_c)
    const float *shift = params + ly->b_off; // (out_c)
    size_t n = (size_t)per_group * hw;
    for (int b0 = 0; b0 < blocks; b0 += NORM_LANES) {
        int lanes = blocks - b0 < NORM_LANES ? blocks - b0 : NORM_LANES;
        double mean[NORM_LANES], inv_std[NORM_LANES];
        norm_stats_blocks(x, n, b0, lanes, mean, inv_std);
        for (int l = 0; l < lanes; l++) {
            int g = (b0 + l) % ly->size;
            for (int c = g * per_group; c < (g + 1) * per_group; c++) {
                size_t at = (size_t)(b0 + l) * n + (size_t)(c - g * per_group) * hw;
                for (int p = 0; p < hw; p++) {
                    float x_hat = (float)((x[at + p] - mean[l]) * inv_std[l]);
                    y[at + p] = scale[c] * x_hat + shift[c];
                }
            }
        }
    }
}

/* The sums of group norm's backward over blocks [b0, b0 + lanes), channel by channel: with x̂ the
 * normalized input and g = dy · scale, sum_g += Σ g and sum_g_xhat += Σ g x̂ per block, and the
 * per-channel dscale = Σ dy · x̂ and dshift = Σ dy added into grads (if not NULL). */
static inline __attribute__((always_inline)) void
norm_backward_sums(const rl_layer *ly, const float *scale, float *grads, const float *x,
                   const float *dy, int b0, int lanes, const double *mean, const double *inv_std,
                   double *sum_g, double *sum_g_xhat) {
    int per_group = ly->out_c / ly->size, hw = ly->out_h * ly->out_w;
    size_t n = (size_t)per_group * hw;
    for (int l = 0; l < lanes; l++)
        sum_g[l] = sum_g_xhat[l] = 0.0;
    for (int k = 0; k < per_group; k++) { // the k-th channel of each block's group
        double d_scale[NORM_LANES] = {0}, d_shift[NORM_LANES] = {0}, ch_scale[NORM_LANES];
        for (int l = 0; l < lanes; l++)
            ch_scale[l] = scale[(b0 + l) % ly->size * per_group + k];
        for (int p = 0; p < hw; p++)
            for (int l = 0; l < lanes; l++) {
                size_t at = (size_t)(b0 + l) * n + (size_t)k * hw + p;
                double x_hat = (x[at] - mean[l]) * inv_std[l];
                d_scale[l] += dy[at] * x_hat;
                d_shift[l] += dy[at];
                sum_g[l] += (double)dy[at] * ch_scale[l];
                sum_g_xhat[l] += (double)dy[at] * ch_scale[l] * x_hat;
            }
        if (grads)
            for (int l = 0; l < lanes; l++) { // in block order: examples in order per channel
                int c = (b0 + l) % ly->size * per_group + k;
                grads[ly->w_off + c] += (float)d_scale[l];
                grads[ly->b_off + c] += (float)d_shift[l];
            }
    }
}

/* dx = inv_std · (g − mean(g) − x̂ · mean(g x̂)) over the group; dscale += Σ dy · x̂,
 * dshift += Σ dy per channel. */
void rl_groupnorm_backward(const rl_layer *ly, const float *params, float *grads, const float *x,
                           const float *dy, float *dx, int batch) {
    int per_group = ly->out_c / ly->size, hw = ly->out_h * ly->out_w, blocks = batch * ly->size;
    const float *scale = params + ly->w_off; // (out_c)
    size_t n = (size_t)per_group * hw;
    for (int b0 = 0; b0 < blocks; b0 += NORM_LANES) {
        int lanes = blocks - b0 < NORM_LANES ? blocks - b0 : NORM_LANES;
        double mean[NORM_LANES], inv_std[NORM_LANES], sum_g[NORM_LANES], sum_g_xhat[NORM_LANES];
        norm_stats_blocks(x, n, b0, lanes, mean, inv_std);
        if (lanes == NORM_LANES)
            norm_backward_sums(ly, scale, grads, x, dy, b0, NORM_LANES, mean, inv_std, sum_g,
                               sum_g_xhat);
        else
            norm_backward_sums(ly, scale, grads, x, dy, b0, lanes, mean, inv_std, sum_g,
                               sum_g_xhat);
        if (!dx)
            continue;
        for (int l = 0; l < lanes; l++) {
            int g = (b0 + l) % ly->size;
            double mean_g = sum_g[l] / (double)n, mean_g_xhat = sum_g_xhat[l] / (double)n;
            for (int c = g * per_group; c < (g + 1) * per_group; c++) {
                size_t at = (size_t)(b0 + l) * n + (size_t)(c - g * per_group) * hw;
                for (int p = 0; p < hw; p++) {
                    double x_hat = (x[at + p] - mean[l]) * inv_std[l];
                    dx[at + p] = (float)(inv_std[l] * ((double)dy[at + p] * scale[c] - mean_g -
                                                       x_hat * mean_g_xhat));
                }
            }
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
