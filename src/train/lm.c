/* Language-model windows, the exact chunked next-token gradient and evaluation, the unigram
 * baseline and continuations (see lm.h). */
#include "src/train/lm.h"

#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int lm_windows_of(const rl_token_seqs *s, int len, const char *what, lm_windows *out) {
    int64_t tokens = s->n > 0 ? s->start[s->n] : 0;
    out->stream = s->ids;
    out->len = len;
    out->n = tokens > 0 ? (tokens - 1) / len : 0;
    if (out->n == 0)
        return rl_fail("the %s split has %lld tokens, fewer than one window of %d + 1",
                       "use more text (data.text_parts, data.categories, the split fractions) or "
                       "a shorter context (T in model.spec)",
                       what, (long long)tokens, len);
    return 0;
}

int lm_chunks_init(lm_chunks *c, rl_transformer *model, int chunk) {
    memset(c, 0, sizeof *c);
    uint64_t rows = (uint64_t)chunk * (uint64_t)model->context;
    uint64_t bytes = rl_size_add(
        rl_transformer_ws_bytes(model, chunk, RL_TF_TRAINING),
        rl_size_mul(rows, 2 * sizeof(int32_t) + sizeof(float) * (uint64_t)model->vocab));
    if (rl_mem_check(bytes, "model %s on chunks of %d windows", model->spec, chunk) < 0)
        return rl_fail_hint("use smaller chunks (train.chunk), or a smaller model or context");
    c->model = model;
    c->chunk = chunk;
    if (rl_transformer_ws_init(&c->ws, model, chunk, RL_TF_TRAINING) < 0)
        return RL_ERR;
    c->ids = rl_xmalloc(sizeof(int32_t) * rows);
    c->targets = rl_xmalloc(sizeof(int32_t) * rows);
    c->d_logits = rl_xmalloc(sizeof(float) * rows * (size_t)model->vocab);
    return 0;
}

void lm_chunks_free(lm_chunks *c) {
    if (!c)
        return;
    rl_transformer_ws_free(&c->ws);
    free(c->ids);
    free(c->targets);
    free(c->d_logits);
    memset(c, 0, sizeof *c);
}

/* Gathers windows idx[0..m) into the chunk's inputs and targets. */
static void gather(lm_chunks *c, const lm_windows *w, const int64_t *idx, int m) {
    size_t len = (size_t)w->len;
    for (int i = 0; i < m; i++) {
        const int32_t *from = w->stream + (size_t)idx[i] * len;
        memcpy(c->ids + i * len, from, sizeof(int32_t) * len);
        memcpy(c->targets + i * len, from + 1, sizeof(int32_t) * len);
    }
}

/* The forward and the loss sum of windows idx[0..m); the gradient of scale · loss into
 * c->d_logits, and the activations for a backward, when d_logits is not NULL. */
static double chunk_loss(lm_chunks *c, const lm_windows *w, const int64_t *idx, int m, float scale,
                         float *d_logits) {
    gather(c, w, idx, m);
    const float *logits = d_logits
                              ? rl_transformer_forward_train(c->model, &c->ws, c->ids, m, w->len)
                              : rl_transformer_forward(c->model, &c->ws, c->ids, m, w->len);
    return rl_loss_softmax_ce(logits, c->targets, NULL, m * w->len, c->model->vocab, scale,
                              d_logits, NULL);
}

void lm_gradient(lm_chunks *c, const lm_windows *w, const int64_t *idx, int64_t n, float scale,
                 comm_exact *e) {
    int64_t lo, hi;
    comm_block_range((n + c->chunk - 1) / c->chunk, comm_size(), comm_rank(), &lo, &hi);
    rl_transformer *m = c->model;
    for (int64_t k = lo; k < hi; k++) {
        int64_t start = k * c->chunk;
        int size = (int)(start + c->chunk <= n ? c->chunk : n - start);
        float loss = (float)chunk_loss(c, w, idx + start, size, scale, c->d_logits);
        rl_transformer_zero_grads(m);
        rl_transformer_backward(m, &c->ws, c->d_logits, size, w->len);
        comm_exact_add(e, 0, m->grads, m->n_params, RL_FIXED_FRAC_BITS);
        comm_exact_add(e, m->n_params, &loss, 1, RL_FIXED_SUM_FRAC_BITS);
    }
}

int lm_evaluate(lm_chunks *c, const lm_windows *w, int64_t limit, double *mean_loss) {
    int64_t total = limit > 0 && limit < w->n ? limit : w->n, lo, hi;
    int64_t *idx = rl_xmalloc(sizeof(int64_t) * (size_t)c->chunk);
    comm_chunk_range(total, c->chunk, &lo, &hi);
    comm_exact e;
    comm_exact_init(&e, 1);
    for (int64_t start = lo; start < hi; start += c->chunk) {
        int m = (int)(start + c->chunk <= hi ? c->chunk : hi - start);
        for (int i = 0; i < m; i++)
            idx[i] = start + i;
        float loss = (float)chunk_loss(c, w, idx, m, 0.0f, NULL);
        comm_exact_add(&e, 0, &loss, 1, RL_FIXED_SUM_FRAC_BITS);
    }
    int rc = comm_exact_reduce(&e);
    *mean_loss = comm_exact_saturated(&e)
                     ? NAN
                     : comm_exact_value(&e, 0, RL_FIXED_SUM_FRAC_BITS) / ((double)total * w->len);
    comm_exact_free(&e);
    free(idx);
    return rc;
}

double lm_unigram_loss(const lm_windows *train, const lm_windows *valid, int64_t limit, int vocab) {
    int64_t *counts = rl_xcalloc((size_t)vocab, sizeof(int64_t));
    int64_t tokens = train->n * train->len; // the targets of every training window
    for (int64_t i = 1; i <= tokens; i++)
        counts[train->stream[i]]++;
    int64_t windows = limit > 0 && limit < valid->n ? limit : valid->n;
    double sum = 0.0, denominator = (double)tokens + vocab;
    for (int64_t i = 1; i <= windows * valid->len; i++)
        sum -= log(((double)counts[valid->stream[i]] + 1.0) / denominator);
    free(counts);
    return sum / ((double)windows * valid->len);
}

int lm_generate(const rl_transformer *m, rl_transformer_ws *ws, const int32_t *prompt, int n_prompt,
                int n_new, int32_t stop, double temperature, rl_rng rng, uint32_t sample,
                int32_t *out) {
    memcpy(out, prompt, sizeof(int32_t) * (size_t)n_prompt);
    int n = n_prompt;
    double *p = rl_xmalloc(sizeof(double) * (size_t)m->vocab);
    while (n < n_prompt + n_new && (n == n_prompt || out[n - 1] != stop)) {
        int len = n < m->context ? n : m->context, wanted = len - 1;
        const float *logits =
            rl_transformer_forward_rows(m, ws, out + n - len, 1, len, &wanted, &wanted);
        const float *last = logits + (size_t)(len - 1) * m->vocab; // (vocab)
        int32_t best = 0;
        for (int32_t t = 1; t < m->vocab; t++)
            best = last[t] > last[best] ? t : best;
        if (temperature > 0.0) {
            double sum = 0.0;
            for (int32_t t = 0; t < m->vocab; t++)
                sum += p[t] = exp(((double)last[t] - last[best]) / temperature);
            double u = rl_rng_uniform(rng, sample, (uint32_t)n) * sum;
            for (best = 0; best + 1 < m->vocab && u >= p[best]; best++)
                u -= p[best];
        }
        out[n++] = best;
    }
    free(p);
    return n;
}
