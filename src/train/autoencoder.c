/* An MLP autoencoder trained data-parallel with exact chunk-gradient sums, its bottleneck
 * features of a pool (with an optional HDF5 feature cache) and of any rows (autoencoder.h). */
#include "src/train/autoencoder.h"

#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
#include "src/train/base_model.h"
#include "src/train/features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int autoencoder_init(autoencoder *ae, const char *spec, const char *what, const rl_dataset *pool,
                     int chunk) {
    if (rl_model_init(&ae->model, spec) < 0)
        return RL_ERR;
    rl_model *m = &ae->model;
    ae->bottleneck = -1;
    for (int l = 0; l < m->n_layers; l++)
        if (m->layers[l].kind == RL_LAYER_DENSE &&
            (ae->bottleneck < 0 || m->layers[l].out < m->layers[ae->bottleneck].out))
            ae->bottleneck = l;
    if (base_model_check_fit(m, what, pool, pool->dim) < 0)
        return RL_ERR;
    if (ae->bottleneck < 0 || ae->bottleneck == m->n_layers - 1) {
        rl_fail("%s = \"%s\" is not an autoencoder of %d inputs with a narrower inner layer", NULL,
                what, spec, pool->dim);
        return rl_fail_hint("write e.g. %s=mlp:784-256-32-256-784", what);
    }
    ae->k = m->layers[ae->bottleneck].out;
    if (features_check_training(m, pool->n, "autoencoder", what) < 0)
        return RL_ERR;
    return train_chunks_init(&ae->chunks, m, pool, chunk);
}

void autoencoder_free(autoencoder *ae) {
    if (!ae)
        return;
    train_chunks_free(&ae->chunks);
    rl_model_free(&ae->model);
    free(ae->center);
    ae->center = NULL;
}

int autoencoder_train(autoencoder *ae, const rl_dataset *pool, const autoencoder_training *t) {
    rl_model *m = &ae->model;
    int64_t n = pool->n, *perm = rl_xmalloc(sizeof(int64_t) * (size_t)n);
    comm_exact e; /* the gradient, then the loss */
    comm_exact_init(&e, m->n_params + 1);
    train_loss reconstruct = {.kind = TRAIN_LOSS_RECONSTRUCT};
    rl_optimizer opt = {0};
    rl_model_init_params(m, t->seed);
    int rc = rl_opt_init(&opt, RL_OPT_ADAM, m->n_params, (float)t->lr, 0.0f, 0.0f);
    double t0 = rl_now();
    for (int ep = 0; rc == 0 && ep < t->epochs; ep++) {
        rl_data_epoch_order(n, rl_rng_make(t->seed, RL_RNG_SHUFFLE), (uint32_t)ep, perm);
        double loss = 0.0;
        for (int64_t start = 0; rc == 0 && start < n; start += t->batch) {
            int64_t bn = n - start < t->batch ? n - start : t->batch;
            train_objective o = {.loss = &reconstruct, .scale = 1.0f / (float)bn};
            comm_exact_zero(&e);
            train_chunks_gradient(&ae->chunks, pool, perm + start, bn, &o, m->grads, m->n_params,
                                  &e);
            rc = comm_exact_reduce(&e);
            rc = rc ? rc
                    : train_check_summed(&e,
                                         ep * ((n + t->batch - 1) / t->batch) + start / t->batch);
            comm_exact_read(&e, 0, m->grads, m->n_params, RL_FIXED_FRAC_BITS);
            rl_opt_step(&opt, m->params, m->grads);
            loss += comm_exact_value(&e, m->n_params, RL_FIXED_SUM_FRAC_BITS);
        }
        if (rc == 0)
            rl_log_info("autoencoder epoch %d: mean loss %.4f (%.1f s)", ep + 1, loss / (double)n,
                        rl_now() - t0);
    }
    rl_opt_free(&opt);
    free(perm);
    comm_exact_free(&e);
    return rc;
}

int autoencoder_pool_features(autoencoder *ae, const rl_dataset *pool,
                              const autoencoder_training *t, const char *cache, int64_t lo,
                              int64_t hi, float *f) {
    int cached = cache && cache[0];
    char key[512]; /* what made the features: the encoder's config and the pool */
    snprintf(key, sizeof key,
             "autoencoder %s epochs=%lld batch=%lld chunk=%d lr=%.9g seed=%lld data=%s n=%lld "
             "dim=%d",
             ae->model.spec, (long long)t->epochs, (long long)t->batch, ae->chunks.chunk, t->lr,
             (long long)t->seed, pool->name, (long long)pool->n, pool->dim);
    int found = cached ? features_cache_read(cache, key, pool->n, ae->k, lo, hi, f, &ae->model,
                                             "autoencoder")
                       : 0;
    if (found != 0)
        return found < 0 ? RL_ERR : 0;
    if (autoencoder_train(ae, pool, t) < 0)
        return RL_ERR;
    /* whole chunks of RL_ROW_CHUNK rows from lo, as autoencoder_encode batches them, each read
     * as floats into the chunks' input buffer (rows >= RL_ROW_CHUNK) */
    for (int64_t first = lo; first < hi; first += RL_ROW_CHUNK) {
        int64_t rows = hi - first < RL_ROW_CHUNK ? hi - first : RL_ROW_CHUNK;
        rl_data_rows(pool, first, rows, ae->chunks.xb);
        autoencoder_encode(ae, ae->chunks.xb, rows, f + (size_t)(first - lo) * (size_t)ae->k);
    }
    if (!cached)
        return 0;
    float *all = rl_xmalloc(sizeof(float) * (size_t)pool->n * (size_t)ae->k);
    memcpy(all + (size_t)lo * (size_t)ae->k, f, sizeof(float) * (size_t)(hi - lo) * (size_t)ae->k);
    int rc = comm_allgather_blocks(all, sizeof(float) * (size_t)ae->k, lo, hi);
    rc = rc ? rc : features_cache_write(cache, key, all, pool->n, ae->k, &ae->model, "autoencoder");
    free(all);
    return rc;
}

int autoencoder_center(autoencoder *ae, float *f, int64_t n_mine, int64_t n_total, double *var) {
    int k = ae->k;
    free(ae->center);
    ae->center = rl_xmalloc(sizeof(float) * (size_t)k);
    int rc = features_moments(f, n_mine, k, n_total, ae->center, var);
    for (int64_t i = 0; i < n_mine; i++)
        for (int j = 0; j < k; j++)
            f[(size_t)i * (size_t)k + (size_t)j] -= ae->center[j];
    return rc;
}

void autoencoder_encode(autoencoder *ae, const float *x, int64_t n, float *f) {
    int k = ae->k, dim = ae->chunks.dim;
    for (int64_t lo = 0; lo < n; lo += RL_ROW_CHUNK) {
        int rows = (int)(n - lo < RL_ROW_CHUNK ? n - lo : RL_ROW_CHUNK);
        rl_model_forward(&ae->model, &ae->chunks.ws, x + (size_t)lo * (size_t)dim, rows);
        const float *h = ae->chunks.ws.act[ae->bottleneck + 1]; // (rows, k)
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < k; j++)
                f[(size_t)(lo + i) * (size_t)k + (size_t)j] =
                    h[(size_t)i * (size_t)k + (size_t)j] - (ae->center ? ae->center[j] : 0.0f);
    }
}
