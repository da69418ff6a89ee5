/* fp32 LoRA adapters over a frozen model (see lora.h). */
#include "src/nn/lora.h"
#include "kernels/kernels.h"
#include "src/core/config.h"
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rl_lora_init_targets(rl_lora *lora, const float *params, size_t n_params,
                         const rl_lora_target *targets, int n, int rank, uint64_t seed,
                         const char *what) {
    memset(lora, 0, sizeof *lora);
    if (rank < 1)
        return rl_fail("LoRA rank %d", "use a rank of at least 1", rank);
    if (n > RL_LORA_MAX_ADAPTERS)
        return rl_fail("%d matrices of model %s to adapt, more than %d",
                       "adapt fewer matrices, or use a model with fewer layers", n, what,
                       RL_LORA_MAX_ADAPTERS);
    lora->rank = rank;
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        lora->adapters[i].layer = -1;
        lora->adapters[i].target = targets[i];
        lora->adapters[i].a_off = at;
        lora->adapters[i].b_off = at + (size_t)rank * (size_t)targets[i].cols;
        at = lora->adapters[i].b_off + (size_t)targets[i].rows * (size_t)rank;
    }
    lora->n_adapted = n;
    uint64_t floats = rl_size_add(rl_size_mul(at, 2), n_params); // params, grads, base
    if (rl_mem_check(rl_size_mul(floats, sizeof(float)),
                     "rank-%d LoRA adapters of model %s (%zu parameters, their gradients and a "
                     "copy of the model)",
                     rank, what, at) < 0)
        return rl_fail_hint("use a lower LoRA rank or a smaller model");
    lora->n_params = at;
    lora->params = rl_xcalloc(at, sizeof(float));
    lora->grads = rl_xcalloc(at, sizeof(float));
    lora->base = rl_xmalloc(sizeof(float) * n_params);
    memcpy(lora->base, params, sizeof(float) * n_params);
    rl_rng init = rl_rng_make(seed, RL_RNG_INIT);
    for (int i = 0; i < n; i++) {
        float bound = rl_lora_a_bound(targets[i].cols);
        size_t na = (size_t)rank * (size_t)targets[i].cols;
        for (size_t j = 0; j < na; j++)
            lora->params[lora->adapters[i].a_off + j] =
                (float)(2.0 * rl_rng_uniform(init, 1000u + (uint32_t)i, (uint32_t)j) - 1.0) * bound;
    }
    return 0;
}

int rl_lora_transformer_targets(const rl_transformer *m, const char *kinds, const char *what,
                                rl_lora_target *targets) {
    rl_tf_matrix mats[RL_TF_MAX_LAYERS * RL_TF_MATRICES_PER_BLOCK];
    int n_mats = rl_transformer_matrices(m, mats), n_items = 0, n = 0;
    char **items = NULL;
    if (rl_cfg_split_list(kinds, what, &items, &n_items) < 0)
        return rl_fail_hint("list matrices of each block, e.g. %s=q,v", what);
    int chosen[RL_TF_MATRICES_PER_BLOCK] = {0}, rc = 0;
    for (int i = 0; i < n_items && rc == 0; i++) {
        int j = 0; /* the kind's place in a block: block0's matrices name them in order */
        while (j < RL_TF_MATRICES_PER_BLOCK && strcmp(strchr(mats[j].name, '.') + 1, items[i]))
            j++;
        if (j == RL_TF_MATRICES_PER_BLOCK)
            rc = rl_fail("%s: no matrix '%s' in a block of %s",
                         "choose among q, k, v, o (attention), fc1, fc2 (MLP)", what, items[i],
                         m->spec);
        else if (chosen[j]++)
            rc = rl_fail("%s: '%s' is listed twice", "list each matrix once", what, items[i]);
    }
    rl_cfg_list_free(items, n_items);
    if (rc < 0)
        return RL_ERR;
    for (int i = 0; i < n_mats; i++)
        if (chosen[i % RL_TF_MATRICES_PER_BLOCK])
            targets[n++] = (rl_lora_target){mats[i].w_off, mats[i].rows, mats[i].cols};
    return n;
}

int rl_lora_init(rl_lora *lora, const rl_model *m, int rank, uint64_t seed) {
    rl_lora_target targets[RL_MAX_LAYERS] = {{0}};
    int layers[RL_MAX_LAYERS], n = 0;
    if (rl_model_is_vit(m)) { /* each block's q, v, fc1 and fc2, then the class head */
        n = rl_lora_transformer_targets(&m->vit, "q,v,fc1,fc2", "ViT adapters", targets);
        targets[n++] = (rl_lora_target){m->vit.head_w, m->vit.classes, m->vit.width};
        return rl_lora_init_targets(lora, m->params, m->n_params, targets, n, rank, seed, m->spec);
    }
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *layer = &m->layers[l];
        if (!rl_layer_has_matrix(layer))
            continue;
        targets[n] = (rl_lora_target){layer->w_off, rl_layer_rows(layer), rl_layer_fan_in(layer)};
        layers[n++] = l;
    }
    if (rl_lora_init_targets(lora, m->params, m->n_params, targets, n, rank, seed, m->spec) < 0)
        return RL_ERR;
    for (int i = 0; i < n; i++)
        lora->adapters[i].layer = layers[i];
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

void rl_lora_apply_params(const rl_lora *lora, float *params) {
    for (int i = 0; i < lora->n_adapted; i++) {
        const rl_lora_target *t = &lora->adapters[i].target;
        int rows = t->rows, cols = t->cols;
        float *w = params + t->w_off; // (rows, cols)
        memcpy(w, lora->base + t->w_off, sizeof(float) * (size_t)rows * cols);
        // W += B (rows, rank) · A (rank, cols)
        kern_sgemm(0, 0, rows, cols, lora->rank, 1.0f, lora->params + lora->adapters[i].b_off,
                   lora->rank, lora->params + lora->adapters[i].a_off, cols, 1.0f, w, cols);
    }
}

void rl_lora_backward_grads(rl_lora *lora, const float *grads) {
    for (int i = 0; i < lora->n_adapted; i++) {
        const rl_lora_target *t = &lora->adapters[i].target;
        int rows = t->rows, cols = t->cols;
        const float *dw = grads + t->w_off;                      // (rows, cols)
        const float *a = lora->params + lora->adapters[i].a_off; // (rank, cols)
        const float *b = lora->params + lora->adapters[i].b_off; // (rows, rank)
        // dB (rows, rank) = dW · Aᵀ; dA (rank, cols) = Bᵀ · dW
        kern_sgemm(0, 1, rows, lora->rank, cols, 1.0f, dw, cols, a, cols, 0.0f,
                   lora->grads + lora->adapters[i].b_off, lora->rank);
        kern_sgemm(1, 0, lora->rank, cols, rows, 1.0f, b, lora->rank, dw, cols, 0.0f,
                   lora->grads + lora->adapters[i].a_off, cols);
    }
}

void rl_lora_apply(const rl_lora *lora, rl_model *m) {
    rl_lora_apply_params(lora, m->params);
}

void rl_lora_backward(rl_lora *lora, const rl_model *m) {
    rl_lora_backward_grads(lora, m->grads);
}
