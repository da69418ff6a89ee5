/* The features of a pool computed by a trained encoder (subset-select's autoencoder and SimCLR
 * encoders): their HDF5 cache, read and written collectively, and their exact moments.
 *
 *     int found = features_cache_read(cache, key, n, k, lo, hi, f, &model, "autoencoder");
 *     ...  // not found (0): train, compute f, gather every row into all (n, k)
 *     features_cache_write(cache, key, all, n, k, &model, "autoencoder");
 *     features_moments(f, hi - lo, k, n, mean, var);  // over the pool, rank-independent
 */
#ifndef RANKLAB_TRAIN_FEATURES_H
#define RANKLAB_TRAIN_FEATURES_H

#include "src/nn/nn.h"

#include <stdint.h>

/* Collective: rows [lo, hi) of the cache's n rows of k features into f (hi - lo, k) and the
 * weights into m->params: 1 if read, 0 if the file does not exist (the same answer on every
 * rank), RL_ERR (naming both keys when the file was made by something else). `who` names the
 * encoder in the log. */
int features_cache_read(const char *cache, const char *key, int64_t n, int k, int64_t lo,
                        int64_t hi, float *f, rl_model *m, const char *who);
/* Collective: rank 0 writes every row all (n, k) and m's weights to the cache under key. */
int features_cache_write(const char *cache, const char *key, const float *all, int64_t n, int k,
                         const rl_model *m, const char *who);

/* Whether training encoder m (`who`, e.g. "autoencoder") on n examples fits in memory beyond its
 * chunks: Adam's state, the gradient and its exact sum per parameter, an epoch's order; else
 * RL_ERR with the hint to use a smaller `what` (the spec's config key). */
int features_check_training(const rl_model *m, int64_t n, const char *who, const char *what);

/* Collective: the mean (k) of the features f (n_mine, k) of my rows over the n_total rows of
 * every rank, and the variances var (k) of f − mean, both summed in fixed point
 * (rank-independent). */
int features_moments(const float *f, int64_t n_mine, int k, int64_t n_total, float *mean,
                     double *var);

#endif
