/* Chunks of examples split over ranks: the exact data gradient and the evaluation every
 * experiment shares (see chunks.h). */
#include "src/train/chunks.h"
#include "src/core/error.h"
#include "src/core/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const rl_cfg_spec chunk_keys[] = {
    {"train.chunk", RL_CFG_INT, "32", 1, 1000000, NULL, 0,
     "examples per chunk of a gradient or loss, the unit of work split over ranks (results "
     "depend on it, not on the rank count)"},
};

void train_chunks_declare_config(rl_config *cfg) {
    rl_cfg_declare(cfg, chunk_keys, sizeof chunk_keys / sizeof chunk_keys[0]);
}

void train_batches_init(train_batches *b, int64_t n, int batch, uint64_t seed) {
    b->n = n;
    b->batch = batch;
    b->per_epoch = (n + batch - 1) / batch;
    b->seed = seed;
    b->order = rl_xmalloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    b->epoch = -1;
}

void train_batches_free(train_batches *b) {
    if (!b)
        return;
    free(b->order);
    b->order = NULL;
}

int train_batches_at(train_batches *b, int64_t step, const int64_t **idx) {
    int64_t epoch = step / b->per_epoch, first = (step % b->per_epoch) * b->batch;
    if (epoch != b->epoch) {
        rl_data_epoch_order(b->n, rl_rng_make(b->seed, RL_RNG_SHUFFLE), (uint32_t)epoch, b->order);
        b->epoch = epoch;
    }
    *idx = b->order + first;
    return (int)(first + b->batch <= b->n ? b->batch : b->n - first);
}

static int rows_of(int chunk) {
    return chunk > RL_ROW_CHUNK ? chunk : RL_ROW_CHUNK;
}

int train_chunks_check(const rl_model *model, const rl_dataset *d, int chunk) {
    int rows = rows_of(chunk);
    /* per row: xb, x_mix and the attack's x0, dx (dim); targets_b, d_out, d_mix and the
     * attack's output gradient (outputs); tb (targets + 1); wb, yb, w_mix, y_mix (1); and the
     * workspace and one augmented row */
    uint64_t per_row =
        4 * (uint64_t)d->dim + 4 * (uint64_t)model->out_dim + (uint64_t)d->targets + 5;
    uint64_t bytes =
        rl_size_add(rl_size_mul(per_row, (uint64_t)rows * sizeof(float)),
                    rl_size_add(rl_workspace_bytes(model, rows), sizeof(float) * (uint64_t)d->dim));
    if (rl_mem_check(bytes, "model %s on chunks of %d examples", model->spec, rows) < 0)
        return rl_fail_hint("use smaller chunks (e.g. train.chunk), or a smaller model");
    return 0;
}

int train_chunks_init(train_chunks *c, rl_model *model, const rl_dataset *d, int chunk) {
    memset(c, 0, sizeof *c);
    c->model = model;
    c->chunk = chunk;
    c->rows = rows_of(chunk);
    c->dim = d->dim;
    c->outputs = model->out_dim;
    c->targets = d->targets;
    if (train_chunks_check(model, d, chunk) < 0 || rl_workspace_init(&c->ws, model, c->rows) < 0)
        return RL_ERR;
    size_t rows = (size_t)c->rows;
    c->xb = rl_xmalloc(sizeof(float) * rows * (size_t)c->dim);
    c->tb = rl_xmalloc(sizeof(float) * rows * (size_t)(c->targets + 1));
    c->wb = rl_xmalloc(sizeof(float) * rows);
    c->targets_b = rl_xmalloc(sizeof(float) * rows * (size_t)c->outputs);
    c->d_out = rl_xmalloc(sizeof(float) * rows * (size_t)c->outputs);
    c->yb = rl_xmalloc(sizeof(int32_t) * rows);
    c->x_mix = rl_xmalloc(sizeof(float) * rows * (size_t)c->dim);
    c->w_mix = rl_xmalloc(sizeof(float) * rows);
    c->d_mix = rl_xmalloc(sizeof(float) * rows * (size_t)c->outputs);
    c->y_mix = rl_xmalloc(sizeof(int32_t) * rows);
    c->augment_row = rl_xmalloc(sizeof(float) * (size_t)c->dim);
    c->stats_b = rl_xcalloc(model->n_stats, sizeof(float));
    rl_attack_scratch_init(&c->attack, c->rows, c->dim, c->outputs);
    return 0;
}

void train_chunks_free(train_chunks *c) {
    if (!c)
        return;
    rl_workspace_free(&c->ws);
    free(c->xb);
    free(c->tb);
    free(c->wb);
    free(c->targets_b);
    free(c->d_out);
    free(c->yb);
    free(c->x_mix);
    free(c->w_mix);
    free(c->d_mix);
    free(c->y_mix);
    free(c->augment_row);
    free(c->stats_b);
    rl_attack_scratch_free(&c->attack);
    memset(c, 0, sizeof *c);
}

static const float *forward_inputs(train_chunks *c, const float *x, int n) {
    return c->forward ? c->forward(c->hook_ctx, x, n) : rl_model_forward(c->model, &c->ws, x, n);
}

const float *train_chunks_forward(train_chunks *c, const rl_dataset *d, const int64_t *idx,
                                  int n) {
    rl_data_gather(d, idx, n, c->xb, c->yb, c->tb);
    return forward_inputs(c, c->xb, n);
}

/* Gather training examples idx[0..n) into x, their labels and targets into the buffers,
 * augmented as in `epoch` (augment NULL: none). */
static void gather_training(train_chunks *c, const rl_dataset *d, const int64_t *idx, int n,
                            float *x, int32_t *y, float *t, const rl_augment *augment,
                            uint32_t epoch) {
    rl_data_gather(d, idx, n, x, y, t);
    if (augment)
        rl_augment_rows(augment, epoch, idx, n, x, c->augment_row);
}

train_loss train_loss_for(const rl_dataset *d) {
    return (train_loss){.kind = d->classes > 0 ? TRAIN_LOSS_CE : TRAIN_LOSS_MSE};
}

double train_chunks_loss(train_chunks *c, const train_loss *l, const float *out,
                         const int64_t *idx, int n, const float *w, float scale, float *d_out,
                         float *per_example) {
    int k = c->outputs;
    if (l->kind == TRAIN_LOSS_MSE)
        return rl_loss_mse(out, c->tb, w, n, c->targets, scale, d_out, per_example);
    if (l->kind == TRAIN_LOSS_RECONSTRUCT)
        return rl_loss_mse(out, c->xb, w, n, c->dim, scale, d_out, per_example);
    /* Classification, with logits divided by the temperature (the gradient by it too). */
    float inv = l->temperature > 0.0f ? 1.0f / l->temperature : 1.0f;
    const float *logits = out;
    if (inv != 1.0f) {
        for (size_t i = 0; i < (size_t)n * (size_t)k; i++)
            c->targets_b[i] = out[i] * inv;
        logits = c->targets_b;
    }
    double sum;
    switch (l->kind) {
    case TRAIN_LOSS_GCE:
        sum = rl_loss_gce(logits, c->yb, w, n, k, l->gce_q, scale, d_out, per_example);
        break;
    case TRAIN_LOSS_ELR:
        for (int i = 0; i < n; i++)
            memcpy(c->targets_b + (size_t)i * k, l->elr_targets + (size_t)idx[i] * k,
                   sizeof(float) * (size_t)k);
        sum = rl_loss_elr(out, c->yb, c->targets_b, w, n, k, l->elr_lambda, scale, d_out,
                          per_example);
        break;
    default:
        sum = l->label_smoothing > 0.0f
                  ? rl_loss_smoothed_ce(logits, c->yb, w, n, k, l->label_smoothing, scale, d_out,
                                        per_example)
                  : rl_loss_softmax_ce(logits, c->yb, w, n, k, scale, d_out, per_example);
    }
    for (size_t i = 0; d_out && inv != 1.0f && i < (size_t)n * (size_t)k; i++)
        d_out[i] *= inv;
    return sum;
}

/* Mixup of the chunk ids[0..m) with its partners: the forward on λ·x_i + (1 − λ)·x_p, the
 * objective λ·Σ w_i ℓ(y_i) + (1 − λ)·Σ w_p ℓ(y_p) (returned) and its gradient times o->scale in
 * c->d_out; c->yb is left holding the partners' labels. */
static double mixed_chunk_loss(train_chunks *c, const rl_dataset *d, const train_objective *o,
                               const int64_t *ids, const int64_t *partners, int m) {
    const float lambda = o->mix_lambda, rest = 1.0f - lambda;
    gather_training(c, d, ids, m, c->xb, c->yb, c->tb, o->augment, o->epoch);
    gather_training(c, d, partners, m, c->x_mix, c->y_mix, NULL, o->augment, o->epoch);
    for (size_t j = 0; j < (size_t)m * (size_t)c->dim; j++)
        c->xb[j] = lambda * c->xb[j] + rest * c->x_mix[j];
    const float *out = forward_inputs(c, c->xb, m);
    for (int i = 0; o->weights && i < m; i++)
        c->w_mix[i] = (float)(o->weights[partners[i]] * o->weight_scale);
    double own = train_chunks_loss(c, o->loss, out, ids, m, o->weights ? c->wb : NULL,
                                   o->scale * lambda, c->d_out, NULL);
    memcpy(c->yb, c->y_mix, sizeof(int32_t) * (size_t)m);
    double mixed = train_chunks_loss(c, o->loss, out, partners, m, o->weights ? c->w_mix : NULL,
                                     o->scale * rest, c->d_mix, NULL);
    for (size_t j = 0; j < (size_t)m * (size_t)c->outputs; j++)
        c->d_out[j] += c->d_mix[j];
    return lambda * own + rest * mixed;
}

/* This rank's chunks [*lo, *hi) of a set of n examples. */
static void my_chunks(const train_chunks *c, int64_t n, int64_t *lo, int64_t *hi) {
    comm_block_range((n + c->chunk - 1) / c->chunk, comm_size(), comm_rank(), lo, hi);
}

/* The examples of chunk k of a set of n. */
static int chunk_size(const train_chunks *c, int64_t n, int64_t k) {
    int64_t start = k * c->chunk;
    return (int)(start + c->chunk <= n ? c->chunk : n - start);
}

int64_t train_chunks_losses(train_chunks *c, const rl_dataset *d, const int64_t *idx, int64_t n,
                            const train_loss *loss, const rl_augment *augment, uint32_t epoch,
                            float *losses, int64_t *first) {
    int64_t lo, hi;
    my_chunks(c, n, &lo, &hi);
    *first = lo * c->chunk;
    int64_t end = *first;
    for (int64_t k = lo; k < hi; k++) {
        int m = chunk_size(c, n, k);
        gather_training(c, d, idx + end, m, c->xb, c->yb, c->tb, augment, epoch);
        const float *out = forward_inputs(c, c->xb, m);
        train_chunks_loss(c, loss, out, idx + end, m, NULL, 0.0f, NULL, losses + end - *first);
        end += m;
    }
    return end - *first;
}

int train_chunks_gradient(train_chunks *c, const rl_dataset *d, const int64_t *idx, int64_t n,
                          const train_objective *o, const float *grads, size_t n_grads,
                          comm_exact *e) {
    int64_t lo, hi;
    my_chunks(c, n, &lo, &hi);
    c->ws.train = 1;
    c->ws.round = o->round;
    for (int64_t k = lo; k < hi; k++) {
        int64_t start = k * c->chunk;
        int m = chunk_size(c, n, k);
        const int64_t *ids = idx + start;
        c->ws.ids = ids;
        for (int i = 0; o->weights && i < m; i++)
            c->wb[i] = (float)(o->weights[ids[i]] * o->weight_scale);
        float loss;
        if (o->mix_partner) {
            loss = (float)mixed_chunk_loss(c, d, o, ids, o->mix_partner + start, m);
        } else {
            gather_training(c, d, ids, m, c->xb, c->yb, c->tb, o->augment, o->epoch);
            const float *out = forward_inputs(c, c->xb, m);
            if (o->adv) {
                rl_attack_inputs(o->adv, c->model, &c->ws, c->xb, c->yb, ids, m, c->attack_rng,
                                 o->round, &c->attack);
                out = forward_inputs(c, c->xb, m);
            }
            loss = (float)train_chunks_loss(c, o->loss, out, ids, m, o->weights ? c->wb : NULL,
                                            o->scale, c->d_out, NULL);
        }
        rl_model_zero_grads(c->model);
        if (c->backward)
            c->backward(c->hook_ctx, c->d_out, m);
        else
            rl_model_backward(c->model, &c->ws, c->d_out, m);
        if (c->lora && !c->backward)
            rl_lora_backward(c->lora, c->model);
        comm_exact_add(e, 0, grads, n_grads, RL_FIXED_FRAC_BITS);
        comm_exact_add(e, n_grads, &loss, 1, RL_FIXED_SUM_FRAC_BITS);
        if (o->sum_stats) {
            memset(c->stats_b, 0, sizeof(float) * c->model->n_stats);
            rl_model_add_batch_stats(c->model, &c->ws, m, (float)m / (float)n, c->stats_b);
            comm_exact_add(e, n_grads + 1, c->stats_b, c->model->n_stats, RL_FIXED_FRAC_BITS);
        }
    }
    c->ws.train = 0;
    c->ws.ids = NULL;
    return 0;
}

int train_check_summed(const comm_exact *e, int64_t step) {
    if (!comm_exact_saturated(e))
        return 0;
    return rl_fail("training diverged at step %lld: %lld loss or gradient values are not finite "
                   "or too large to sum",
                   "lower the learning rate (or check the data and the model's initialization); "
                   "the checkpoints written before are kept",
                   (long long)step, (long long)comm_exact_saturated(e));
}

int train_evaluate(train_chunks *c, const rl_dataset *d, int64_t limit, double *loss,
                   double *acc) {
    int64_t total = limit > 0 && limit < d->n ? limit : d->n, lo, hi, idx[RL_ROW_CHUNK];
    comm_chunk_range(total, RL_ROW_CHUNK, &lo, &hi);
    comm_exact e; /* the loss sum, the number correct */
    comm_exact_init(&e, 2);
    for (int64_t start = lo; start < hi; start += RL_ROW_CHUNK) {
        int n = (int)(start + RL_ROW_CHUNK <= hi ? RL_ROW_CHUNK : hi - start);
        for (int i = 0; i < n; i++)
            idx[i] = start + i;
        const float *out = train_chunks_forward(c, d, idx, n);
        float l;
        if (d->classes > 0) {
            comm_exact_count(&e, 1, rl_count_correct(out, c->yb, n, d->classes));
            l = (float)rl_loss_softmax_ce(out, c->yb, NULL, n, d->classes, 0.0f, NULL, NULL);
        } else {
            l = (float)rl_loss_mse(out, c->tb, NULL, n, d->targets, 0.0f, NULL, NULL);
        }
        comm_exact_add(&e, 0, &l, 1, RL_FIXED_SUM_FRAC_BITS);
    }
    int rc = comm_exact_reduce(&e);
    float sum;
    comm_exact_read(&e, 0, &sum, 1, RL_FIXED_SUM_FRAC_BITS);
    *loss = comm_exact_saturated(&e) ? NAN : (double)sum / (double)total; /* no number */
    *acc = d->classes > 0 ? (double)comm_exact_raw(&e, 1) / (double)total : NAN;
    comm_exact_free(&e);
    return rc;
}

int train_robust_accuracy(train_chunks *c, const rl_dataset *d, const rl_attack *a,
                          int64_t limit, uint32_t round, double *clean_acc, double *robust_acc) {
    int64_t total = limit > 0 && limit < d->n ? limit : d->n, lo, hi, idx[RL_ROW_CHUNK];
    int classes = c->outputs;
    comm_chunk_range(total, RL_ROW_CHUNK, &lo, &hi);
    comm_exact e; /* correct: clean, attacked */
    comm_exact_init(&e, 2);
    for (int64_t start = lo; start < hi; start += RL_ROW_CHUNK) {
        int n = (int)(start + RL_ROW_CHUNK <= hi ? RL_ROW_CHUNK : hi - start);
        for (int i = 0; i < n; i++)
            idx[i] = start + i;
        comm_exact_count(&e, 0, rl_count_correct(train_chunks_forward(c, d, idx, n), c->yb, n,
                                                  classes));
        rl_attack_inputs(a, c->model, &c->ws, c->xb, c->yb, idx, n, c->attack_rng, round,
                         &c->attack);
        comm_exact_count(&e, 1, rl_count_correct(forward_inputs(c, c->xb, n), c->yb, n, classes));
    }
    int rc = comm_exact_reduce(&e);
    *clean_acc = (double)comm_exact_raw(&e, 0) / (double)total;
    *robust_acc = (double)comm_exact_raw(&e, 1) / (double)total;
    comm_exact_free(&e);
    return rc;
}
