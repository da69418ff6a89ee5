/* fp32 LoRA adapters over a frozen model (see lora.h). */
#include "src/nn/lora.h"
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rl_lora_init(rl_lora *lora, const rl_model *m, int rank, uint64_t seed) {
    memset(lora, 0, sizeof *lora);
    if (rank < 1)
        return rl_fail("LoRA rank %d", "use a rank of at least 1", rank);
    lora->rank = rank;
    size_t at = 0;
    for (int l = 0; l < m->n_layers; l++) {
        if (m->layers[l].kind != RL_LAYER_DENSE)
            continue;
        int i = lora->n_adapted++;
        lora->adapters[i].layer = l;
        lora->adapters[i].a_off = at;
        lora->adapters[i].b_off = at + (size_t)rank * (size_t)m->layers[l].in;
        at = lora->adapters[i].b_off + (size_t)m->layers[l].out * (size_t)rank;
    }
    lora->n_params = at;
    lora->params = rl_xcalloc(at, sizeof(float));
    lora->grads = rl_xcalloc(at, sizeof(float));
    lora->base = rl_xmalloc(sizeof(float) * m->n_params);
    memcpy(lora->base, m->params, sizeof(float) * m->n_params);
    rl_rng init = rl_rng_make(seed, RL_RNG_INIT);
    for (int i = 0; i < lora->n_adapted; i++) {
        const rl_layer *layer = &m->layers[lora->adapters[i].layer];
        float bound = rl_lora_a_bound(layer->in);
        size_t na = (size_t)rank * (size_t)layer->in;
        for (size_t j = 0; j < na; j++)
            lora->params[lora->adapters[i].a_off + j] =
                (float)(2.0 * rl_rng_uniform(init, 1000u + (uint32_t)i, (uint32_t)j) - 1.0) *
                bound;
    }
    return 0;
}

void rl_lora_free(rl_lora *lora) {
    if (!lora)
        return;
    free(lora->params);
    free(lora->grads);
    free(lora->base);
    memset(lora, 0, sizeof *lora);
}

void rl_lora_apply(const rl_lora *lora, rl_model *m) {
    for (int i = 0; i < lora->n_adapted; i++) {
        const rl_layer *layer = &m->layers[lora->adapters[i].layer];
        float *w = m->params + layer->w_off; // (out, in)
        memcpy(w, lora->base + layer->w_off, sizeof(float) * (size_t)layer->out * layer->in);
        // W += B (out, rank) · A (rank, in)
        kern_sgemm(0, 0, layer->out, layer->in, lora->rank, 1.0f,
                   lora->params + lora->adapters[i].b_off, lora->rank,
                   lora->params + lora->adapters[i].a_off, layer->in, 1.0f, w, layer->in);
    }
}

void rl_lora_backward(rl_lora *lora, const rl_model *m) {
    for (int i = 0; i < lora->n_adapted; i++) {
        const rl_layer *layer = &m->layers[lora->adapters[i].layer];
        const float *dw = m->grads + layer->w_off; // (out, in)
        const float *a = lora->params + lora->adapters[i].a_off, *b = lora->params + lora->adapters[i].b_off;
        // dB (out, rank) = dW · Aᵀ; dA (rank, in) = Bᵀ · dW
        kern_sgemm(0, 1, layer->out, lora->rank, layer->in, 1.0f, dw, layer->in, a, layer->in,
                   0.0f, lora->grads + lora->adapters[i].b_off, lora->rank);
        kern_sgemm(1, 0, lora->rank, layer->in, layer->out, 1.0f, b, lora->rank, dw, layer->in,
                   0.0f, lora->grads + lora->adapters[i].a_off, layer->in);
    }
}
