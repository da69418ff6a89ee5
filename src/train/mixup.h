/* Mixup (Zhang et al. 2018) with example weights, as the MW authors train it (train.mixup = α):
 * each batch draws λ ~ Beta(α, α) and a permutation π of its positions; position b trains on
 * the input λ·x_b + (1 − λ)·x_π(b) with the loss λ·w_b·ℓ(y_b) + (1 − λ)·w_π(b)·ℓ(y_π(b)), and the
 * batch is normalized by Σ_B w_b as without mixup (src/train/dp.c).
 *
 * λ and π come from the counter RNG keyed by the optimizer step, that is by (epoch, batch)
 * (RL_RNG_MIXUP_LAMBDA, RL_RNG_MIXUP_PAIRS): every rank draws the same ones. A pair may join
 * examples of different chunks and ranks: the chunk that trains position b gathers its partner
 * by id (every rank holds the data set; train_chunks_gradient), so results do not depend on the
 * number of ranks.
 *
 *     train_mixup m;
 *     train_mixup_init(&m, alpha, batch, seed);
 *     train_mixup_draw(&m, idx, n, step);     // m.lambda and m.partner (n) of this batch
 *     train_objective o = {..., .mix_lambda = m.lambda, .mix_partner = m.partner};
 *     train_mixup_free(&m);
 */
#ifndef RANKLAB_TRAIN_MIXUP_H
#define RANKLAB_TRAIN_MIXUP_H

#include "src/core/rng.h"

#include <stdint.h>

typedef struct {
    double alpha; /* 0: off (nothing allocated) */
    rl_rng lambda_rng, pairs_rng;
    float lambda;     /* of the last draw */
    int64_t *order;   /* (batch) π of the last draw */
    int64_t *partner; /* (batch) the example id of each position's partner, idx[π(b)] */
} train_mixup;

/* For batches of at most `batch` examples, draws keyed by seed. */
void train_mixup_init(train_mixup *m, double alpha, int batch, uint64_t seed);
void train_mixup_free(train_mixup *m); /* NULL-safe */
/* λ and the partners of the batch idx (n examples) of optimizer step `step`. */
void train_mixup_draw(train_mixup *m, const int64_t *idx, int n, int64_t step);

#endif
