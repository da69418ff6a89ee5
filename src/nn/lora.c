/* fp32 LoRA adapters over a frozen model (see lora.h). */
#include "src/nn/lora.h"
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/mem.h"
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
        const rl_layer *layer = &m->layers[l];
        if (!rl_layer_has_matrix(layer))
            continue;
        int i = lora->n_adapted++;
        lora->adapters[i].layer = l;
        lora->adapters[i].a_off = at;
        lora->adapters[i].b_off = at + (size_t)rank * (size_t)rl_layer_fan_in(layer);
        at = lora->adapters[i].b_off + (size_t)rl_layer_rows(layer) * (size_t)rank;
    }
    uint64_t floats = rl_size_add(rl_size_mul(at, 2), m->n_params); // params, grads, base
    if (rl_mem_check(rl_size_mul(floats, sizeof(float)),
                     "rank-%d LoRA adapters of model %s (%zu parameters, their gradients and a "
                     "copy of the model)",
                     rank, m->spec, at) < 0)
        return rl_fail_hint("use a lower LoRA rank or a smaller model");
    lora->n_params = at;
    lora->params = rl_xcalloc(at, sizeof(float));
    lora->grads = rl_xcalloc(at, sizeof(float));
    lora->base = rl_xmalloc(sizeof(float) * m->n_params);
    memcpy(lora->base, m->params, sizeof(float) * m->n_params);
    rl_rng init = rl_rng_make(seed, RL_RNG_INIT);
    for (int i = 0; i < lora->n_adapted; i++) {
        const rl_layer *layer = &m->layers[lora->adapters[i].layer];
        float bound = rl_lora_a_bound(rl_layer_fan_in(layer));
        size_t na = (size_t)rank * (size_t)rl_layer_fan_in(layer);
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
        int rows = rl_layer_rows(layer), cols = rl_layer_fan_in(layer);
        float *w = m->params + layer->w_off; // (rows, cols)
        memcpy(w, lora->base + layer->w_off, sizeof(float) * (size_t)rows * cols);
        // W += B (rows, rank) · A (rank, cols)
        kern_sgemm(0, 0, rows, cols, lora->rank, 1.0f, lora->params + lora->adapters[i].b_off,
                   lora->rank, lora->params + lora->adapters[i].a_off, cols, 1.0f, w, cols);
    }
}

void rl_lora_backward(rl_lora *lora, const rl_model *m) {
    for (int i = 0; i < lora->n_adapted; i++) {
        const rl_layer *layer = &m->layers[lora->adapters[i].layer];
        int rows = rl_layer_rows(layer), cols = rl_layer_fan_in(layer);
        const float *dw = m->grads + layer->w_off; // (rows, cols)
        const float *a = lora->params + lora->adapters[i].a_off; // (rank, cols)
        const float *b = lora->params + lora->adapters[i].b_off; // (rows, rank)
        // dB (rows, rank) = dW · Aᵀ; dA (rank, cols) = Bᵀ · dW
        kern_sgemm(0, 1, rows, lora->rank, cols, 1.0f, dw, cols, a, cols, 0.0f,
                   lora->grads + lora->adapters[i].b_off, lora->rank);
        kern_sgemm(1, 0, lora->rank, cols, rows, 1.0f, b, lora->rank, dw, cols, 0.0f,
                   lora->grads + lora->adapters[i].a_off, cols);
    }
}
