/* An MLP autoencoder as a label-free encoder of a pool of examples (subset-select's features).
 *
 * Trained on the pool without labels, data-parallel and exact: each batch of an epoch's order is
 * cut into chunks of `chunk` examples that the ranks split, the chunks' reconstruction-loss
 * gradients are summed in fixed point (train_chunks_gradient) and Adam is replicated on every
 * rank, so the weights are the same bits on any rank count. A row's features are the output of
 * the narrowest dense layer (the bottleneck). The pool's features and the weights can be kept in
 * an HDF5 feature cache (io_features_read / io_features_write) under a key naming the encoder's
 * config and data: a later run with the same key reads them instead of training.
 *
 *     autoencoder ae = {0};                                    // not moved once initialized
 *     autoencoder_init(&ae, "mlp:784-256-32-256-784", "subset.ae_spec", &pool, 32);
 *     autoencoder_training t = {.epochs = 10, .batch = 256, .lr = 1e-3, .seed = 1};
 *     comm_chunk_range(pool.n, RL_ROW_CHUNK, &lo, &hi);        // my pool rows, whole chunks
 *     autoencoder_pool_features(&ae, &pool, &t, "ae.h5", lo, hi, f);  // (hi - lo, ae.k), raw
 *     autoencoder_center(&ae, f, hi - lo, pool.n, var);        // f and later encodes centred
 *     autoencoder_encode(&ae, x, n, out);                      // (n, ae.k) of any rows x
 *     autoencoder_free(&ae);
 *
 * autoencoder_train trains alone (no cache, no features).
 */
#ifndef RANKLAB_TRAIN_AUTOENCODER_H
#define RANKLAB_TRAIN_AUTOENCODER_H

#include "src/data/data.h"
#include "src/nn/nn.h"
#include "src/train/chunks.h"

#include <stdint.h>

typedef struct {
    rl_model model;
    train_chunks chunks; /* the gradient's chunks and the encoder's forward batches */
    int bottleneck;      /* features: the output of dense layer `bottleneck` */
    int k;               /* features per row: that layer's width */
    float *center;       /* (k) subtracted by autoencoder_encode once set (autoencoder_center) */
} autoencoder;

/* How the autoencoder is trained: Adam with learning rate lr, `epochs` epochs of batches of
 * `batch` examples; seed: the initialization and the epochs' order. */
typedef struct {
    int epochs, batch;
    double lr;
    uint64_t seed;
} autoencoder_training;

/* The autoencoder of spec (a model taking the pool's dim features and giving them back; its
 * bottleneck: the narrowest dense layer, the first of equals) with gradients by chunks of `chunk`
 * examples; RL_ERR if spec does not fit the pool, its bottleneck is its last layer, or training
 * it would not fit in memory. `what` names spec in messages (its config key). Free with
 * autoencoder_free, also after a failure. */
int autoencoder_init(autoencoder *ae, const char *spec, const char *what, const rl_dataset *pool,
                     int chunk);
void autoencoder_free(autoencoder *ae); /* NULL-safe */

/* Collective: initialize the weights from t->seed and train them on the pool (its labels
 * unused); logs each epoch's mean loss. */
int autoencoder_train(autoencoder *ae, const rl_dataset *pool, const autoencoder_training *t);

/* Collective: the raw features f (hi - lo, ae->k) of my pool rows [lo, hi), whole chunks of
 * RL_ROW_CHUNK rows (comm_chunk_range), so that a row's bits do not depend on the rank count.
 * With a cache file (NULL or "": none) holding this encoder's key, the features and weights come
 * from it; else the autoencoder is trained (autoencoder_train), encodes the rows and, with a
 * cache file, rank 0 writes every row's features and the weights to it. RL_ERR if the cache
 * was made by another encoder config or data (naming both keys). */
int autoencoder_pool_features(autoencoder *ae, const rl_dataset *pool,
                              const autoencoder_training *t, const char *cache, int64_t lo,
                              int64_t hi, float *f);

/* Collective: centre the raw features f (n_mine, k) of my pool rows on the pool mean (n_total
 * rows), which autoencoder_encode subtracts from then on, and set var (k) to the centred
 * features' variances over the pool; both summed in fixed point (rank-independent). */
int autoencoder_center(autoencoder *ae, float *f, int64_t n_mine, int64_t n_total, double *var);

/* The features f (n, k) of rows x (n, dim), forwarded in batches of RL_ROW_CHUNK rows from x:
 * the bottleneck's output, minus the centre once autoencoder_center set it. */
void autoencoder_encode(autoencoder *ae, const float *x, int64_t n, float *f);

#endif
