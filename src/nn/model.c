/* Models: spec parsing, the parameter arena, Kaiming init, and fp32 forward/backward of dense and
 * relu layers through kern_sgemm (see nn.h). */
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/rng.h"
#include "src/nn/nn.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_HINT "use a spec such as \"mlp:784-256-256-10\""
#define MLP_PREFIX "mlp:"
/* n sizes give n - 1 dense layers and n - 2 relus: 2n - 3 <= RL_MAX_LAYERS. */
#define MAX_SIZES ((RL_MAX_LAYERS + 3) / 2)
/* Widest layer accepted: keeps every size, offset and batch · width product far from overflow. */
#define MAX_WIDTH (1 << 24)

/* "mlp:784-256-10" -> sizes {784, 256, 10}. Each size is plain decimal digits, 1..MAX_WIDTH. */
static int parse_mlp_sizes(const char *spec, int sizes[MAX_SIZES], int *n_sizes) {
    size_t prefix_len = strlen(MLP_PREFIX);
    if (strncmp(spec, MLP_PREFIX, prefix_len) != 0)
        return rl_fail("unknown model spec \"%s\" (only \"mlp:\" models exist)", SPEC_HINT, spec);
    const char *p = spec + prefix_len;
    int n = 0;
    for (;;) {
        if (*p < '0' || *p > '9')
            return rl_fail("model spec \"%s\": expected a layer size at \"%s\"", SPEC_HINT, spec,
                           p);
        long size = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            size = size * 10 + (*p - '0');
            if (size > MAX_WIDTH)
                return rl_fail("model spec \"%s\": a layer size exceeds %d", SPEC_HINT, spec,
                               MAX_WIDTH);
        }
        if (size == 0)
            return rl_fail("model spec \"%s\": layer sizes must be positive", SPEC_HINT, spec);
        if (n == MAX_SIZES)
            return rl_fail(
                "model spec \"%s\" has more than %d layer sizes (%d dense and relu layers at most)",
                SPEC_HINT, spec, MAX_SIZES, RL_MAX_LAYERS);
        sizes[n++] = (int)size;
        if (*p == '\0')
            break;
        if (*p != '-')
            return rl_fail("model spec \"%s\": unexpected \"%s\" after a layer size", SPEC_HINT,
                           spec, p);
        p++;
    }
    if (n < 2)
        return rl_fail("model spec \"%s\" needs at least an input and an output size", SPEC_HINT,
                       spec);
    *n_sizes = n;
    return 0;
}

int rl_model_init(rl_model *m, const char *spec) {
    memset(m, 0, sizeof *m);
    if (!spec)
        return rl_fail("no model spec given", SPEC_HINT);
    if (strlen(spec) >= sizeof m->spec)
        return rl_fail("model spec \"%s\" is longer than %zu characters", SPEC_HINT, spec,
                       sizeof m->spec - 1);
    int sizes[MAX_SIZES], n_sizes = 0;
    if (parse_mlp_sizes(spec, sizes, &n_sizes) < 0)
        return RL_ERR;

    memcpy(m->spec, spec, strlen(spec) + 1);
    size_t off = 0;
    for (int i = 0; i + 1 < n_sizes; i++) {
        rl_layer *dense = &m->layers[m->n_layers++];
        dense->kind = RL_LAYER_DENSE;
        dense->in = sizes[i];
        dense->out = sizes[i + 1];
        dense->w_off = off;
        off += (size_t)dense->out * (size_t)dense->in; // weight (out, in)
        dense->b_off = off;
        off += (size_t)dense->out; // bias (out)
        if (i + 2 < n_sizes) {
            rl_layer *relu = &m->layers[m->n_layers++];
            relu->kind = RL_LAYER_RELU;
            relu->in = relu->out = sizes[i + 1];
        }
    }
    m->in_dim = sizes[0];
    m->out_dim = sizes[n_sizes - 1];
    m->n_params = off;
    m->params = rl_xcalloc(off, sizeof(float)); // (n_params)
    m->grads = rl_xcalloc(off, sizeof(float));  // (n_params)
    return 0;
}

void rl_model_free(rl_model *m) {
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    memset(m, 0, sizeof *m);
}

void rl_model_init_params(rl_model *m, uint64_t seed) {
    rl_rng r = rl_rng_make(seed, RL_RNG_INIT);
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *ly = &m->layers[l];
        if (ly->kind != RL_LAYER_DENSE)
            continue;
        float bound = sqrtf(6.0f / (float)ly->in);
        kern_fill_uniform(m->params + ly->w_off, (size_t)ly->out * (size_t)ly->in, r.key,
                          (uint32_t)l, -bound, bound);                     // (out, in)
        memset(m->params + ly->b_off, 0, (size_t)ly->out * sizeof(float)); // (out)
    }
}

void rl_model_zero_grads(rl_model *m) {
    memset(m->grads, 0, m->n_params * sizeof(float));
}

int rl_workspace_init(rl_workspace *ws, const rl_model *m, int max_batch) {
    memset(ws, 0, sizeof *ws);
    if (max_batch <= 0)
        return rl_fail("workspace batch size must be positive (got %d)",
                       "set the batch size to at least 1", max_batch);
    int widest = m->in_dim;
    ws->max_batch = max_batch;
    ws->act[0] = rl_xcalloc((size_t)max_batch * (size_t)m->in_dim, sizeof(float)); // (B, in_dim)
    for (int l = 0; l < m->n_layers; l++) {
        int out = m->layers[l].out;
        ws->act[l + 1] = rl_xcalloc((size_t)max_batch * (size_t)out, sizeof(float)); // (B, out)
        if (out > widest)
            widest = out;
    }
    ws->grad_a = rl_xcalloc((size_t)max_batch * (size_t)widest, sizeof(float)); // (B, widest)
    ws->grad_b = rl_xcalloc((size_t)max_batch * (size_t)widest, sizeof(float)); // (B, widest)
    return 0;
}

void rl_workspace_free(rl_workspace *ws) {
    if (!ws)
        return;
    for (int i = 0; i <= RL_MAX_LAYERS; i++)
        free(ws->act[i]);
    free(ws->grad_a);
    free(ws->grad_b);
    memset(ws, 0, sizeof *ws);
}

/* y = x · Wᵀ + b. */
static void dense_forward(const rl_layer *ly, const float *params, const float *x, float *y,
                          int batch) {
    const float *w = params + ly->w_off; // (out, in)
    const float *b = params + ly->b_off; // (out)
    for (int i = 0; i < batch; i++)
        memcpy(y + (size_t)i * ly->out, b, (size_t)ly->out * sizeof(float)); // (B, out) = b
    kern_sgemm(0, 1, batch, ly->out, ly->in, 1.0f, x, ly->in, w, ly->in, 1.0f, y, ly->out);
}

/* NaN passes through (it is not < 0), so a diverging run shows up in the loss. */
static void relu_forward(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

const float *rl_model_forward(const rl_model *m, rl_workspace *ws, const float *x, int batch) {
    assert(batch >= 0 && batch <= ws->max_batch);
    memcpy(ws->act[0], x, (size_t)batch * (size_t)m->in_dim * sizeof(float)); // (B, in_dim)
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *ly = &m->layers[l];
        const float *in = ws->act[l]; // (B, in)
        float *out = ws->act[l + 1];  // (B, out)
        if (ly->kind == RL_LAYER_DENSE)
            dense_forward(ly, m->params, in, out, batch);
        else
            relu_forward(in, out, (size_t)batch * (size_t)ly->out);
    }
    return ws->act[m->n_layers]; // (B, out_dim)
}

/* dW += dyᵀ · x and db += column sums of dy, summed row by row. */
static void dense_backward_params(const rl_layer *ly, float *grads, const float *x, const float *dy,
                                  int batch) {
    float *dw = grads + ly->w_off; // (out, in)
    float *db = grads + ly->b_off; // (out)
    kern_sgemm(1, 0, ly->out, ly->in, batch, 1.0f, dy, ly->out, x, ly->in, 1.0f, dw, ly->in);
    for (int i = 0; i < batch; i++) {
        const float *row = dy + (size_t)i * ly->out; // (out)
        for (int j = 0; j < ly->out; j++)
            db[j] += row[j];
    }
}

/* dx = dy where the forward output y was positive, else 0. */
static void relu_backward(const float *y, const float *dy, float *dx, size_t n) {
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* Backward from d_out: adds parameter gradients into grads if not NULL, writes dLoss/dInput
 * (batch, in_dim) into d_x if not NULL. */
static void model_backward(const rl_model *m, rl_workspace *ws, const float *d_out, int batch,
                           float *grads, float *d_x) {
    assert(batch >= 0 && batch <= ws->max_batch);
    const float *dy = d_out; // (B, out) of layer l
    for (int l = m->n_layers - 1; l >= 0; l--) {
        const rl_layer *ly = &m->layers[l];
        if (grads && ly->kind == RL_LAYER_DENSE)
            dense_backward_params(ly, grads, ws->act[l], dy, batch);
        if (l == 0 && !d_x)
            break; // the gradient w.r.t. the model input is not needed
        float *dx = l == 0 ? d_x : dy == ws->grad_a ? ws->grad_b : ws->grad_a; // (B, in)
        if (ly->kind == RL_LAYER_DENSE)
            kern_sgemm(0, 0, batch, ly->in, ly->out, 1.0f, dy, ly->out, m->params + ly->w_off,
                       ly->in, 0.0f, dx, ly->in);
        else
            relu_backward(ws->act[l + 1], dy, dx, (size_t)batch * (size_t)ly->out);
        dy = dx;
    }
}

void rl_model_backward(rl_model *m, rl_workspace *ws, const float *d_out, int batch) {
    model_backward(m, ws, d_out, batch, m->grads, NULL);
}

void rl_model_input_grad(const rl_model *m, rl_workspace *ws, const float *d_out, int batch,
                         float *d_x) {
    model_backward(m, ws, d_out, batch, NULL, d_x);
}
