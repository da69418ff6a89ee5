/* Mixup's draws per batch from the counter RNG: λ ~ Beta(α, α) and the partners (see mixup.h). */
#include "src/train/mixup.h"
#include "src/core/error.h"
#include "src/data/data.h"

#include <stdlib.h>
#include <string.h>

void train_mixup_init(train_mixup *m, double alpha, int batch, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->alpha = alpha;
    m->lambda = 1.0f;
    if (alpha <= 0.0)
        return;
    m->lambda_rng = rl_rng_make(seed, RL_RNG_MIXUP_LAMBDA);
    m->pairs_rng = rl_rng_make(seed, RL_RNG_MIXUP_PAIRS);
    m->order = rl_xmalloc(sizeof(int64_t) * (size_t)batch);
    m->partner = rl_xmalloc(sizeof(int64_t) * (size_t)batch);
}

void train_mixup_free(train_mixup *m) {
    if (!m)
        return;
    free(m->order);
    free(m->partner);
    memset(m, 0, sizeof *m);
}

void train_mixup_draw(train_mixup *m, const int64_t *idx, int n, int64_t step) {
    m->lambda = (float)rl_rng_beta(m->lambda_rng, (uint32_t)step, m->alpha, m->alpha);
    rl_data_epoch_order(n, m->pairs_rng, (uint32_t)step, m->order);
    for (int b = 0; b < n; b++)
        m->partner[b] = idx[m->order[b]];
}
