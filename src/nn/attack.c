/* PGD and FGSM on a model's inputs, with counter-RNG random starts (see attack.h). */
#include "src/nn/attack.h"
#include "src/core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rl_attack_scratch_init(rl_attack_scratch *s, int rows, int dim, int outputs) {
    size_t n = (size_t)rows * (size_t)dim;
    s->x0 = rl_xmalloc(sizeof(float) * n);
    s->dx = rl_xmalloc(sizeof(float) * n);
    s->d_out = rl_xmalloc(sizeof(float) * (size_t)rows * (size_t)outputs);
}

void rl_attack_scratch_free(rl_attack_scratch *s) {
    if (!s)
        return;
    free(s->x0);
    free(s->dx);
    free(s->d_out);
    memset(s, 0, sizeof *s);
}

/* x = clip(x0 + U(−ε, ε), 0, 1): pixel p of example idx[i] uses word p % 4 of block p / 4 of
 * (round, idx[i]). */
static void random_start(float eps, float *x, const float *x0, int dim, const int64_t *idx,
                         int n, rl_rng rng, uint32_t round) {
    for (int i = 0; i < n; i++) {
        uint32_t words[4];
        for (int p = 0; p < dim; p++) {
            if (p % 4 == 0)
                rl_rng_block(rng, round, (uint32_t)idx[i], (uint32_t)(p / 4), words);
            float u = (float)(words[p % 4] >> 8) * 0x1p-24f; /* [0, 1) */
            size_t at = (size_t)i * dim + (size_t)p;
            x[at] = fminf(fmaxf(x0[at] + eps * (2.0f * u - 1.0f), 0.0f), 1.0f);
        }
    }
}

void rl_attack_inputs(const rl_attack *a, rl_model *m, rl_workspace *ws, float *x,
                      const int32_t *y, const int64_t *idx, int n, rl_rng rng, uint32_t round,
                      rl_attack_scratch *s) {
    int dim = m->in_dim, classes = m->out_dim;
    size_t len = (size_t)n * (size_t)dim;
    memcpy(s->x0, x, sizeof(float) * len);
    if (a->random_start)
        random_start(a->eps, x, s->x0, dim, idx, n, rng, round);
    for (int k = 0; k < a->steps; k++) {
        const float *out = rl_model_forward(m, ws, x, n);
        rl_loss_softmax_ce(out, y, NULL, n, classes, 1.0f, s->d_out, NULL);
        rl_model_input_grad(m, ws, s->d_out, n, s->dx);
        for (size_t i = 0; i < len; i++) {
            float g = s->dx[i], v = x[i] + (g > 0.0f ? a->alpha : g < 0.0f ? -a->alpha : 0.0f);
            v = fminf(fmaxf(v, s->x0[i] - a->eps), s->x0[i] + a->eps);
            x[i] = fminf(fmaxf(v, 0.0f), 1.0f);
        }
    }
}
