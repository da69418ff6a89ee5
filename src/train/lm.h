/* Language-model training on token streams: windows of a split's tokens, the exact data-parallel
 * gradient of the next-token cross-entropy over chunks of windows, the evaluation (mean loss per
 * token, perplexity), the unigram baseline and sampled continuations.
 *
 * A split's token sequences (rl_corpus_tokenize: each gloss, then the end-of-entry token) are one
 * stream; window w holds the context tokens stream[w·T .. w·T + T) and predicts
 * stream[w·T + 1 .. w·T + T + 1) (T = the model's context). A set of windows (a batch, the
 * validation split) is cut into chunks of `chunk` windows in its own order; the ranks take the
 * chunks by blocks, and each chunk's gradient and loss are added in fixed point into a
 * comm_exact (as src/train/chunks.h does for examples): the results depend on the chunk size,
 * never on the number of ranks.
 *
 *     lm_windows train;  lm_windows_of(&seqs, model.context, &train);
 *     lm_chunks c;       lm_chunks_init(&c, &model, 8);
 *     comm_exact e;      comm_exact_init(&e, model.n_params + 1);
 *     lm_gradient(&c, &train, batch, B, 1.0f / (B · T), &e);  // then comm_exact_reduce(&e)
 *     double loss;       lm_evaluate(&c, &valid, 0, &loss);    // collective; perplexity e^loss
 */
#ifndef RANKLAB_TRAIN_LM_H
#define RANKLAB_TRAIN_LM_H

#include "src/comm/comm.h"
#include "src/core/rng.h"
#include "src/data/corpus.h"
#include "src/nn/transformer.h"

#include <stdint.h>

typedef struct {
    const int32_t *stream; /* not owned: the split's token ids */
    int64_t n;             /* windows */
    int len;               /* tokens per window */
} lm_windows;

/* The windows of T tokens of a split's sequences; 0 windows (a split shorter than T + 1 tokens)
 * is an error naming `what` with a hint. */
int lm_windows_of(const rl_token_seqs *s, int len, const char *what, lm_windows *out);

typedef struct {
    rl_transformer *model; /* not owned */
    rl_transformer_ws ws;
    int chunk;              /* windows per chunk */
    int32_t *ids, *targets; /* (chunk · T) */
    float *d_logits;        /* (chunk · T, vocab) */
} lm_chunks;

/* Buffers and a workspace for chunks of `chunk` windows; memory checked first. */
int lm_chunks_init(lm_chunks *c, rl_transformer *model, int chunk);
void lm_chunks_free(lm_chunks *c); /* NULL-safe */

/* This rank's share of the gradient of scale · Σ (next-token cross-entropy) over windows
 * idx[0..n) of w: each of its chunks' parameter gradient is added into e[0..n_params)
 * (RL_FIXED_FRAC_BITS) and its loss sum (unscaled, over tokens) into e[n_params]
 * (RL_FIXED_SUM_FRAC_BITS). The caller reduces e. */
void lm_gradient(lm_chunks *c, const lm_windows *w, const int64_t *idx, int64_t n, float scale,
                 comm_exact *e);
/* Collective: the mean next-token cross-entropy per token over the first `limit` windows of w
 * (0: all), in order, in chunks over ranks; NAN when a loss could not be summed. */
int lm_evaluate(lm_chunks *c, const lm_windows *w, int64_t limit, double *mean_loss);

/* The unigram model's mean cross-entropy per token on the targets of the first `limit` windows
 * of `valid` (0: all): token probabilities from the counts of every token of `train` after the
 * first, plus one (Laplace), over a vocabulary of `vocab`. The same on every rank. */
double lm_unigram_loss(const lm_windows *train, const lm_windows *valid, int64_t limit, int vocab);

/* Continue prompt[0..n_prompt) by n_new tokens into out (n_prompt + n_new; the prompt first),
 * stopping after an end-of-entry token `stop` (>= 0): greedy at temperature 0, else sampled from
 * softmax(logits / temperature) with uniforms of (rng, step `sample`, index = position). The
 * window slides when the text outgrows the context. Returns the tokens written. */
int lm_generate(const rl_transformer *m, rl_transformer_ws *ws, const int32_t *prompt, int n_prompt,
                int n_new, int32_t stop, double temperature, rl_rng rng, uint32_t sample,
                int32_t *out);

#endif
