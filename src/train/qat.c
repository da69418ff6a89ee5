/* Quantization-aware training of a quantized model's last layer (see qat.h). */
#include "src/train/qat.h"
#include "kernels/kernels.h"
#include "src/core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const rl_qlayer *last_layer(const train_qat *t) {
    return &t->q->layers[t->q->n_layers - 1];
}

int train_qat_init(train_qat *t, rl_qmodel *q, int rows) {
    memset(t, 0, sizeof *t);
    if (q->target != RL_QTRAIN_LAST)
        return rl_fail("QAT trains the last layer of a quantized model, and this one trains "
                       "LoRA adapters",
                       "quantize the model with the last layer as its target");
    t->q = q;
    if (rl_qworkspace_init(&t->ws, q, rows) < 0)
        return RL_ERR;
    const rl_qlayer *last = last_layer(t);
    t->n = q->n_trainable;
    t->master = rl_xmalloc(sizeof(float) * t->n);
    for (size_t k = 0; k < t->n; k++)
        t->master[k] = (float)q->trainable[k] * last->w_scale;
    t->chunk_grad = rl_xmalloc(sizeof(float) * t->n);
    t->x = rl_xmalloc(sizeof(float) * (size_t)rows * (size_t)last->in);
    t->range = (float)q->qmax * last->w_scale;
    return 0;
}

static const float *qat_forward(void *ctx, const float *x, int n) {
    train_qat *t = ctx;
    return rl_qmodel_forward(t->q, &t->ws, t->q->trainable, x, n);
}

static void qat_backward(void *ctx, const float *d_out, int n) {
    train_qat *t = ctx;
    const rl_qlayer *last = last_layer(t);
    const int8_t *x = rl_qmodel_last_input(&t->ws);
    for (size_t i = 0; i < (size_t)n * (size_t)last->in; i++)
        t->x[i] = (float)x[i] * last->in_scale;
    kern_sgemm(1, 0, last->out, last->in, n, 1.0f, d_out, last->out, t->x, last->in, 0.0f,
               t->chunk_grad, last->in);
    for (size_t k = 0; k < t->n; k++)
        if (fabsf(t->master[k]) > t->range)
            t->chunk_grad[k] = 0.0f;
}

void train_qat_attach(train_qat *t, train_chunks *chunks) {
    chunks->forward = qat_forward;
    chunks->backward = qat_backward;
    chunks->hook_ctx = t;
}

void train_qat_requantize(train_qat *t) {
    const float step = last_layer(t)->w_scale, qmax = (float)t->q->qmax;
    for (size_t k = 0; k < t->n; k++)
        t->q->trainable[k] = (int8_t)fminf(fmaxf(nearbyintf(t->master[k] / step), -qmax), qmax);
}

void train_qat_free(train_qat *t) {
    rl_qworkspace_free(&t->ws);
    free(t->master);
    free(t->chunk_grad);
    free(t->x);
    memset(t, 0, sizeof *t);
}
