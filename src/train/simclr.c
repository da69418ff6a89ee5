/* A SimCLR-style contrastive encoder trained data-parallel with exact chunk-gradient sums, and
 * its uncentered backbone features of a pool and a test set (simclr.h). */
#include "src/train/simclr.h"

#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
#include "src/data/augment.h"
#include "src/train/base_model.h"
#include "src/train/features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An error naming the backbone spec and what is wrong with it, with a working example. */
static int simclr_refuse(const char *what, const char *backbone, const char *problem) {
    rl_fail("%s = \"%s\" %s", NULL, what, backbone, problem);
    return rl_fail_hint("write a cnn: spec ending in relu without bn or drop, e.g. %s=cnn:1x28x28-"
                        "conv16k3-relu-maxpool2-conv32k3-relu-maxpool2-fc128-relu",
                        what);
}

int simclr_init(simclr *s, const char *backbone, int proj_dim, const char *what,
                const rl_dataset *pool, int chunk) {
    char spec[sizeof s->model.spec];
    if (strncmp(backbone, "cnn:", 4) != 0)
        return simclr_refuse(what, backbone,
                             "is not a \"cnn:\" spec (the projection head is "
                             "appended to it as -fcP)");
    if ((size_t)snprintf(spec, sizeof spec, "%s-fc%d", backbone, proj_dim) >= sizeof spec)
        return rl_fail("%s = \"%s\" is too long", "write a shorter spec", what, backbone);
    if (rl_model_init(&s->model, spec) < 0)
        return RL_ERR;
    rl_model *m = &s->model;
    s->chunk = chunk;
    s->proj_dim = proj_dim;
    s->feature_layer = m->n_layers - 2;
    for (int l = 0; l < m->n_layers; l++)
        if (m->layers[l].kind == RL_LAYER_BATCHNORM || m->layers[l].kind == RL_LAYER_DROPOUT)
            return simclr_refuse(what, backbone,
                                 "has batch norm or dropout, which the "
                                 "contrastive encoder does not train (use gnG)");
    if (s->feature_layer < 0 || m->layers[s->feature_layer].kind != RL_LAYER_RELU)
        return simclr_refuse(what, backbone,
                             "does not end in relu: its features would not be "
                             "post-ReLU activations");
    if (base_model_check_fit(m, what, pool, proj_dim) < 0)
        return RL_ERR;
    s->k = m->layers[s->feature_layer].out;
    if (features_check_training(m, pool->n, "contrastive encoder", what) < 0)
        return RL_ERR;
    return train_chunks_init(&s->chunks, m, pool, 2 * chunk);
}

void simclr_free(simclr *s) {
    if (!s)
        return;
    train_chunks_free(&s->chunks);
    rl_model_free(&s->model);
}

void simclr_views(const simclr_training *t, const rl_dataset *d, uint32_t epoch, const int64_t *ids,
                  int m, float *x, float *scratch) {
    size_t dim = (size_t)d->dim;
    rl_augment a = {.crop = t->pad > 0,
                    .flip = 1,
                    .pad = t->pad,
                    .channels = d->channels,
                    .height = d->height,
                    .width = d->width,
                    .rng = rl_rng_make(t->seed, RL_RNG_AUGMENT)};
    rl_rng noise = rl_rng_make(t->seed, RL_RNG_VIEW_NOISE);
    rl_data_gather(d, ids, m, x, NULL, NULL);
    memcpy(x + (size_t)m * dim, x, sizeof(float) * (size_t)m * dim);
    for (uint32_t v = 0; v < 2; v++) {
        float *xv = x + (size_t)v * (size_t)m * dim;
        rl_augment_rows_view(&a, epoch, v, ids, m, xv, scratch);
        for (int i = 0; t->noise > 0.0 && i < m; i++)
            for (size_t j = 0; j < dim; j++)
                xv[(size_t)i * dim + j] +=
                    (float)(t->noise * rl_rng_normal_block(noise, epoch, (uint32_t)ids[i],
                                                           v * (uint32_t)dim + (uint32_t)j));
    }
}

/* Forward both views of chunk ids[0..m): the embeddings (2m, proj_dim), view v of image i in
 * row v·m + i, owned by the workspace. */
static const float *forward_views(simclr *s, const rl_dataset *pool, const simclr_training *t,
                                  uint32_t epoch, const int64_t *ids, int m) {
    simclr_views(t, pool, epoch, ids, m, s->chunks.xb, s->chunks.augment_row);
    return rl_model_forward(&s->model, &s->chunks.ws, s->chunks.xb, 2 * m);
}

/* Collective: one step on the batch ids[0..bn): the gradient of the mean NT-Xent over its 2·bn
 * views summed exactly into e (as e's first n_params values); returns the loss (the same on
 * every rank). z, dz: (2·batch, proj_dim) scratch. */
static int contrastive_step(simclr *s, const rl_dataset *pool, const simclr_training *t,
                            uint32_t epoch, const int64_t *ids, int64_t bn, float *z, float *dz,
                            comm_exact *e, double *loss) {
    rl_model *m = &s->model;
    int p = s->proj_dim;
    int64_t lo, hi, chunks = (bn + s->chunk - 1) / s->chunk;
    comm_block_range(chunks, comm_size(), comm_rank(), &lo, &hi);
    /* embeddings of my chunks, image i's views in rows 2i and 2i + 1 (rl_loss_nt_xent's pairs) */
    for (int64_t c = lo; c < hi; c++) {
        int64_t first = c * s->chunk;
        int mc = (int)(bn - first < s->chunk ? bn - first : s->chunk);
        const float *out = forward_views(s, pool, t, epoch, ids + first, mc);
        for (int i = 0; i < mc; i++)
            for (int v = 0; v < 2; v++)
                memcpy(z + (size_t)(2 * (first + i) + v) * (size_t)p,
                       out + (size_t)(v * mc + i) * (size_t)p, sizeof(float) * (size_t)p);
    }
    int64_t img_lo = lo * s->chunk, img_hi = hi * s->chunk < bn ? hi * s->chunk : bn;
    int rc = comm_allgather_blocks(z, sizeof(float) * 2 * (size_t)p, img_lo, img_hi);
    if (rc < 0)
        return rc;
    *loss = rl_loss_nt_xent(z, (int)bn, p, t->temperature, 1.0f / (float)(2 * bn), dz) /
            (double)(2 * bn);
    /* backpropagate my chunks, the last forwarded first (its activations are still there) */
    for (int64_t c = hi - 1; c >= lo; c--) {
        int64_t first = c * s->chunk;
        int mc = (int)(bn - first < s->chunk ? bn - first : s->chunk);
        if (c != hi - 1)
            forward_views(s, pool, t, epoch, ids + first, mc);
        for (int i = 0; i < mc; i++)
            for (int v = 0; v < 2; v++)
                memcpy(s->chunks.d_out + (size_t)(v * mc + i) * (size_t)p,
                       dz + (size_t)(2 * (first + i) + v) * (size_t)p, sizeof(float) * (size_t)p);
        rl_model_zero_grads(m);
        rl_model_backward(m, &s->chunks.ws, s->chunks.d_out, 2 * mc);
        comm_exact_add(e, 0, m->grads, m->n_params, RL_FIXED_FRAC_BITS);
    }
    return 0;
}

int simclr_train(simclr *s, const rl_dataset *pool, const simclr_training *t) {
    rl_model *m = &s->model;
    int64_t n = t->images < pool->n ? t->images : pool->n;
    int64_t *perm = rl_xmalloc(sizeof(int64_t) * (size_t)n);
    size_t rows = 2 * (size_t)t->batch * (size_t)s->proj_dim;
    float *z = rl_xmalloc(sizeof(float) * rows), *dz = rl_xmalloc(sizeof(float) * rows);
    comm_exact e;
    comm_exact_init(&e, m->n_params);
    rl_optimizer opt = {0};
    rl_model_init_params(m, t->seed);
    int rc = rl_opt_init(&opt, RL_OPT_ADAM, m->n_params, (float)t->lr, 0.0f, 0.0f);
    int64_t per_epoch = (n + t->batch - 1) / t->batch;
    double t0 = rl_now();
    for (int ep = 0; rc == 0 && ep < t->epochs; ep++) {
        rl_data_epoch_order(n, rl_rng_make(t->seed, RL_RNG_SHUFFLE), (uint32_t)ep, perm);
        double loss_sum = 0.0;
        for (int64_t start = 0; rc == 0 && start < n; start += t->batch) {
            int64_t bn = n - start < t->batch ? n - start : t->batch;
            double loss = 0.0;
            comm_exact_zero(&e);
            rc = contrastive_step(s, pool, t, (uint32_t)ep, perm + start, bn, z, dz, &e, &loss);
            rc = rc ? rc : comm_exact_reduce(&e);
            rc = rc ? rc : train_check_summed(&e, ep * per_epoch + start / t->batch);
            comm_exact_read(&e, 0, m->grads, m->n_params, RL_FIXED_FRAC_BITS);
            rl_opt_step(&opt, m->params, m->grads);
            loss_sum += loss * (double)bn;
        }
        if (rc == 0)
            rl_log_info("simclr epoch %d: mean NT-Xent %.4f on %lld images (%.1f s)", ep + 1,
                        loss_sum / (double)n, (long long)n, rl_now() - t0);
    }
    rl_opt_free(&opt);
    free(perm);
    free(z);
    free(dz);
    comm_exact_free(&e);
    return rc;
}

void simclr_encode(simclr *s, const float *x, int64_t n, float *f) {
    int k = s->k, dim = s->chunks.dim, rows_max = s->chunks.rows;
    for (int64_t lo = 0; lo < n; lo += rows_max) {
        int rows = (int)(n - lo < rows_max ? n - lo : rows_max);
        rl_model_forward(&s->model, &s->chunks.ws, x + (size_t)lo * (size_t)dim, rows);
        memcpy(f + (size_t)lo * (size_t)k, s->chunks.ws.act[s->feature_layer + 1],
               sizeof(float) * (size_t)rows * (size_t)k);
    }
}

/* The features of rows [lo, hi) of d into f, in chunks of RL_ROW_CHUNK rows from lo. */
static void encode_rows(simclr *s, const rl_dataset *d, int64_t lo, int64_t hi, float *f) {
    for (int64_t first = lo; first < hi; first += RL_ROW_CHUNK) {
        int64_t rows = hi - first < RL_ROW_CHUNK ? hi - first : RL_ROW_CHUNK;
        rl_data_rows(d, first, rows, s->chunks.xb);
        simclr_encode(s, s->chunks.xb, rows, f + (size_t)(first - lo) * (size_t)s->k);
    }
}

int simclr_features(simclr *s, const rl_dataset *pool, const rl_dataset *test,
                    const simclr_training *t, const char *cache, int64_t lo, int64_t hi, float *f,
                    int64_t test_lo, int64_t test_hi, float *f_test) {
    int cached = cache && cache[0], k = s->k;
    int64_t n = pool->n + test->n; /* cached rows: the pool's, then the test set's */
    char key[640];
    snprintf(key, sizeof key,
             "simclr %s epochs=%d batch=%d chunk=%d images=%lld lr=%.9g temperature=%.9g "
             "noise=%.9g pad=%d seed=%llu data=%s n=%lld dim=%d test=%lld",
             s->model.spec, t->epochs, t->batch, s->chunk,
             (long long)(t->images < pool->n ? t->images : pool->n), t->lr, t->temperature,
             t->noise, t->pad, (unsigned long long)t->seed, pool->name, (long long)pool->n,
             pool->dim, (long long)test->n);
    if (cached) {
        int found = features_cache_read(cache, key, n, k, lo, hi, f, &s->model, "simclr");
        if (found > 0)
            found = features_cache_read(cache, key, n, k, pool->n + test_lo, pool->n + test_hi,
                                        f_test, &s->model, "simclr");
        if (found != 0)
            return found < 0 ? RL_ERR : 0;
    }
    if (simclr_train(s, pool, t) < 0)
        return RL_ERR;
    encode_rows(s, pool, lo, hi, f);
    encode_rows(s, test, test_lo, test_hi, f_test);
    if (!cached)
        return 0;
    float *all = rl_xmalloc(sizeof(float) * (size_t)n * (size_t)k);
    float *all_test = all + (size_t)pool->n * (size_t)k;
    memcpy(all + (size_t)lo * (size_t)k, f, sizeof(float) * (size_t)(hi - lo) * (size_t)k);
    memcpy(all_test + (size_t)test_lo * (size_t)k, f_test,
           sizeof(float) * (size_t)(test_hi - test_lo) * (size_t)k);
    int rc = comm_allgather_blocks(all, sizeof(float) * (size_t)k, lo, hi);
    rc = rc ? rc : comm_allgather_blocks(all_test, sizeof(float) * (size_t)k, test_lo, test_hi);
    rc = rc ? rc : features_cache_write(cache, key, all, n, k, &s->model, "simclr");
    free(all);
    return rc;
}
