/* SynFlow scores of a model on its linearized |θ| network, and the squared norms of the input
 * columns each weight multiplies (see prune.h). */
#include "src/nn/prune.h"
#include "src/core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double rl_prune_synflow(rl_model *m, rl_workspace *ws, const float *keep, double *scores) {
    size_t n = m->n_params;
    float *saved = rl_xmalloc(sizeof(float) * n);
    int width = m->in_dim > m->out_dim ? m->in_dim : m->out_dim;
    float *ones = rl_xmalloc(sizeof(float) * (size_t)width); // (in_dim) input, (out_dim) dR/dout
    memcpy(saved, m->params, sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        m->params[i] = fabsf(m->params[i]) * (keep ? keep[i] : 1.0f);
    for (int l = 0; l < m->n_layers; l++)
        if (rl_layer_has_matrix(&m->layers[l]))
            memset(m->params + m->layers[l].b_off, 0,
                   sizeof(float) * (size_t)rl_layer_rows(&m->layers[l]));
    for (int i = 0; i < width; i++)
        ones[i] = 1.0f;
    const float *out = rl_model_forward(m, ws, ones, 1); // (1, out_dim)
    double r = 0.0;
    for (int j = 0; j < m->out_dim; j++)
        r += out[j];
    rl_model_zero_grads(m);
    rl_model_backward(m, ws, ones, 1);
    memset(scores, 0, sizeof(double) * n);
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *ly = &m->layers[l];
        for (size_t i = ly->w_off; i < ly->w_off + rl_layer_weight_count(ly); i++)
            scores[i] = (double)m->grads[i] * (double)m->params[i];
    }
    memcpy(m->params, saved, sizeof(float) * n);
    free(saved);
    free(ones);
    return r;
}

/* The input a layer's weight matrix multiplies: the layer's own input, or for a residual
 * projection the shortcut's (the input of layer skip_from), as an image in_c x in_h x in_w. */
static const float *matrix_input(const rl_model *m, const rl_workspace *ws, int l, int *in_c,
                                 int *in_h, int *in_w) {
    const rl_layer *ly = &m->layers[l];
    const rl_layer *src = ly->kind == RL_LAYER_ADD ? &m->layers[ly->skip_from] : ly;
    int flat = ly->kind == RL_LAYER_DENSE; /* a dense layer sees its input as in x 1 x 1 */
    *in_c = flat ? ly->in : src->in_c;
    *in_h = flat ? 1 : src->in_h;
    *in_w = flat ? 1 : src->in_w;
    return ws->act[ly->kind == RL_LAYER_ADD ? ly->skip_from : l];
}

void rl_prune_column_squares(const rl_model *m, const rl_workspace *ws, int l, int c,
                             float *col_sq) {
    const rl_layer *ly = &m->layers[l];
    int in_c, in_h, in_w;
    const float *x = matrix_input(m, ws, l, &in_c, &in_h, &in_w);
    int k = ly->kind == RL_LAYER_CONV ? ly->size : 1;
    int pad = ly->kind == RL_LAYER_CONV ? ly->pad : 0;
    int stride = ly->kind == RL_LAYER_DENSE ? 1 : ly->stride;
    int out_h = ly->kind == RL_LAYER_DENSE ? 1 : ly->out_h;
    int out_w = ly->kind == RL_LAYER_DENSE ? 1 : ly->out_w;
    size_t per_example = (size_t)in_c * (size_t)in_h * (size_t)in_w;
    for (int ci = 0; ci < in_c; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float sq = 0.0f;
                for (int i = 0; i < c; i++) {
                    const float *plane = x + (size_t)i * per_example + (size_t)ci * in_h * in_w;
                    for (int oy = 0; oy < out_h; oy++) {
                        int y = oy * stride + ky - pad;
                        if (y < 0 || y >= in_h)
                            continue;
                        for (int ox = 0; ox < out_w; ox++) {
                            int xx = ox * stride + kx - pad;
                            if (xx >= 0 && xx < in_w)
                                sq += plane[y * in_w + xx] * plane[y * in_w + xx];
                        }
                    }
                }
                col_sq[((size_t)ci * k + ky) * k + kx] = sq;
            }
}
