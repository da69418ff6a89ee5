/* LoRA-style adapters on the dense and conv layers of an fp32 model: W_eff = W0 + B·A on the
 * layer's weight matrix (rows, cols) = (outputs or filters, fan-in), A (rank, cols) and B
 * (rows, rank); B starts at 0. The adapted model is evaluated by writing W_eff into a
 * model's arena (rl_lora_apply); gradients of A and B follow from the model's dW
 * (rl_lora_backward: dB = dW·Aᵀ, dA = Bᵀ·dW, exact since W_eff is linear in each).
 *
 *     rl_lora lora;
 *     rl_lora_init(&lora, &model, 4, seed);   // keeps a copy of the base weights
 *     rl_lora_apply(&lora, &model);           // model now computes with W0 + BA
 *     ... forward, loss, rl_model_backward ...
 *     rl_lora_backward(&lora, &model);        // lora.grads from model.grads
 *
 * Any model whose weight matrices live in one arena can be adapted the same way, by listing the
 * matrices (rl_lora_target: offset and shape) — e.g. a transformer's q and v of every block,
 * rl_lora_transformer_targets(&m, "q,v", ...) — and working on its params and grads arrays:
 *
 *     rl_lora_init_targets(&lora, m.params, m.n_params, targets, n, 8, seed, m.spec);
 *     rl_lora_apply_params(&lora, m.params);
 *     rl_lora_backward_grads(&lora, m.grads);
 */
#ifndef RANKLAB_NN_LORA_H
#define RANKLAB_NN_LORA_H

#include "src/nn/nn.h"

#include <math.h>

/* A weight matrix (rows, cols) at w_off in a model's arena. */
typedef struct {
    size_t w_off;
    int rows, cols;
} rl_lora_target;

#define RL_LORA_MAX_ADAPTERS 256

typedef struct {
    int rank;
    int n_adapted;
    struct {
        int layer;             /* index in model.layers (rl_lora_init of an mlp or cnn), else -1 */
        rl_lora_target target; /* the adapted matrix */
        size_t a_off, b_off;   /* into params / grads */
    } adapters[RL_LORA_MAX_ADAPTERS];
    size_t n_params;
    float *params; /* (n_params) A then B of each adapted layer */
    float *grads;  /* (n_params) */
    float *base;   /* copy of the model's arena before adaptation */
} rl_lora;

/* The range [-bound, bound] of A's initial entries (fp32 and quantized adapters alike). */
static inline float rl_lora_a_bound(int in) {
    return 1.0f / sqrtf((float)in);
}

/* Adapters on every dense and conv layer's matrix; of a ViT (vit: spec), on each block's
 * attention projections q and v and MLP matrices fc1 and fc2, then the class head (layer -1).
 * A's entries uniform in [-1/sqrt(in), 1/sqrt(in)] from (seed, RL_RNG_INIT), stream 1000 + the
 * adapted layer's position (the stream the quantized adapters' codes are drawn from). */
int rl_lora_init(rl_lora *lora, const rl_model *m, int rank, uint64_t seed);
/* The same for the n matrices `targets` of an arena params (n_params floats, copied as the base;
 * `what` names the model in messages). */
int rl_lora_init_targets(rl_lora *lora, const float *params, size_t n_params,
                         const rl_lora_target *targets, int n, int rank, uint64_t seed,
                         const char *what);
/* The matrices of every block of m whose kind (q, k, v, o, fc1, fc2: the names after "blockN." in
 * rl_transformer_matrices) is in the comma list `kinds` (e.g. "q,v,fc1,fc2"), into targets
 * (room for RL_TF_MATRICES_PER_BLOCK · m->layers) in the model's order; returns how many. An
 * unknown or repeated kind, or an empty list: RL_ERR with a hint, `what` (e.g. the config key)
 * naming the list. */
int rl_lora_transformer_targets(const rl_transformer *m, const char *kinds, const char *what,
                                rl_lora_target *targets);
void rl_lora_free(rl_lora *lora);
void rl_lora_apply(const rl_lora *lora, rl_model *m);
void rl_lora_backward(rl_lora *lora, const rl_model *m);
/* W_eff = W0 + B·A into each adapted matrix of params; dB, dA into lora->grads from the arena's
 * gradients `grads` (same layout as params). */
void rl_lora_apply_params(const rl_lora *lora, float *params);
void rl_lora_backward_grads(rl_lora *lora, const float *grads);

#endif
