/* Adversarial examples: an ℓ∞ attack on inputs in [0, 1] (pixels), `steps` steps of projected
 * gradient ascent on the cross-entropy of the true label,
 *     x ← clip(Π_ε(x + α·sign(∇_x ℓ)), 0, 1),
 * from the clean x, or with random_start from clip(x + U(−ε, ε)^d, 0, 1) (Madry et al.), the
 * noise drawn from the counter RNG keyed by (rng, round, example id), so the same on any rank.
 * FGSM is steps = 1, α = ε, no random start; eps = 0 is no attack.
 *
 *     rl_attack pgd = {.eps = 0.1f, .alpha = 0.025f, .steps = 10};
 *     rl_attack_inputs(&pgd, &model, &ws, x, y, ids, n, rng, round, &scratch);
 */
#ifndef RANKLAB_NN_ATTACK_H
#define RANKLAB_NN_ATTACK_H

#include "src/core/rng.h"
#include "src/nn/nn.h"

#include <stdint.h>

typedef struct {
    float eps, alpha;
    int steps, random_start;
} rl_attack;

/* Buffers of an attack on up to `rows` examples: the clean inputs and the input gradient
 * (rows, dim), the output gradient (rows, outputs). */
typedef struct {
    float *x0, *dx, *d_out;
} rl_attack_scratch;

void rl_attack_scratch_init(rl_attack_scratch *s, int rows, int dim, int outputs);
void rl_attack_scratch_free(rl_attack_scratch *s); /* NULL-safe */

/* Replace x (n, model input) — examples with labels y and ids idx — by adversarial examples of
 * model m (its parameters and gradients untouched; the workspace is used). */
void rl_attack_inputs(const rl_attack *a, rl_model *m, rl_workspace *ws, float *x,
                      const int32_t *y, const int64_t *idx, int n, rl_rng rng, uint32_t round,
                      rl_attack_scratch *s);

#endif
