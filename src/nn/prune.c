/* SynFlow scores of a dense/relu model on its linearized |θ| network (see prune.h). */
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
        if (m->layers[l].kind == RL_LAYER_DENSE)
            memset(m->params + m->layers[l].b_off, 0, sizeof(float) * (size_t)m->layers[l].out);
    for (int i = 0; i < width; i++)
        ones[i] = 1.0f;
    const float *out = rl_model_forward(m, ws, ones, 1); // (1, out_dim)
    double r = 0.0;
    for (int j = 0; j < m->out_dim; j++)
        r += out[j];
    rl_model_zero_grads(m);
    rl_model_backward(m, ws, ones, 1);
    for (size_t i = 0; i < n; i++)
        scores[i] = (double)m->grads[i] * (double)m->params[i];
    for (int l = 0; l < m->n_layers; l++)
        if (m->layers[l].kind == RL_LAYER_DENSE)
            memset(scores + m->layers[l].b_off, 0, sizeof(double) * (size_t)m->layers[l].out);
    memcpy(m->params, saved, sizeof(float) * n);
    free(saved);
    free(ones);
    return r;
}
