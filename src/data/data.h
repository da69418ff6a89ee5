/* Datasets: Fashion-MNIST from IDX files (gzip) with validation, synthetic datasets, label noise
 * that keeps the clean labels, the mirror transform (data.transform) and deterministic epoch
 * orders.
 *
 * Every rank loads the whole (small) dataset; shards are views chosen by src/comm ownership.
 *
 *     rl_dataset train, test;
 *     if (rl_data_load(cfg, seed, &train, &test) < 0) { rl_error_print(); ... }
 *     rl_data_epoch_order(train.n, rl_rng_make(seed, RL_RNG_SHUFFLE), epoch, perm);
 *     rl_data_gather(&train, perm + b * B, B, xb, yb);
 *
 * Config keys (declared by rl_data_declare_config): data.name, data.dir, data.train_limit,
 * data.test_limit, data.transform, data.noise, data.noise_rate, data.dim, data.classes,
 * data.train_size, data.test_size, data.spread, data.target_noise.
 */
#ifndef RANKLAB_DATA_H
#define RANKLAB_DATA_H

#include "src/core/config.h"
#include "src/core/rng.h"

#include <stdint.h>

typedef struct {
    char name[32];
    int64_t n;
    int dim;          /* features per example (784 for Fashion-MNIST, pixels scaled to [0, 1]) */
    int channels, height, width; /* image shape, channels · height · width = dim (Fashion-MNIST:
                                    1 x 28 x 28); all 0 for flat features (synthetic data) */
    int classes;      /* 0 for regression */
    int targets;      /* regression outputs per example (linreg: 1); 0 for classification */
    float *x;         /* (n, dim) */
    int32_t *y;       /* (n) labels used for training (noisy after label noise); NULL if regression */
    int32_t *y_clean; /* (n) the clean labels; equal to y without noise */
    float *t;         /* (n, targets) regression targets; NULL if classification */
} rl_dataset;

typedef enum {
    RL_NOISE_NONE,
    RL_NOISE_SYMMETRIC,
    RL_NOISE_UNIFORM,
    RL_NOISE_PAIRFLIP
} rl_noise_kind;

void rl_data_declare_config(rl_config *cfg);
/* Load train and test splits named by data.name, apply the limits (first N examples), and
 * label noise to the training split only. Errors name the file and what is wrong. */
int rl_data_load(const rl_config *cfg, uint64_t seed, rl_dataset *train, rl_dataset *test);

/* IDX pair (gzip or plain): checks magic (0x00000803 images, 0x00000801 labels), dimensions,
 * counts agreeing, file sizes (a plain file must hold what its header claims), the memory the
 * examples need (rl_mem_check, before allocating), label range 0..9. limit <= 0: all. */
int rl_data_read_idx(const char *images_path, const char *labels_path, int64_t limit,
                     rl_dataset *out);
/* Both generators check the memory the examples need (rl_mem_check) before allocating.
 * Gaussian blobs: `classes` centres drawn N(0, 1) per coordinate, examples = centre + spread·N(0,1).
 * `split` (0 train, 1 test) selects disjoint counters so train and test are different draws. */
int rl_data_make_blobs(int64_t n, int dim, int classes, float spread, uint64_t seed,
                       uint32_t split, rl_dataset *out);
/* Linear regression: x ~ N(0, 1), w* ~ N(0, 1) (same for both splits), t = x·w* + noise·N(0, 1). */
int rl_data_make_linreg(int64_t n, int dim, float target_noise, uint64_t seed, uint32_t split,
                        rl_dataset *out);

/* Corrupt labels: symmetric (a uniformly chosen *other* class) or pair-flip (y -> (y+1) mod C),
 * each example independently with probability `rate`, draws from (seed, RL_RNG_LABEL_NOISE)
 * keyed by example index. y_clean keeps the originals. */
int rl_data_add_label_noise(rl_dataset *d, rl_noise_kind kind, double rate, uint64_t seed);
int64_t rl_data_count_noisy(const rl_dataset *d);

/* Mirror every image left-right (each row of d->width pixels, in every channel); an error for
 * data that is not images. data.transform=mirror does it to both splits. */
int rl_data_mirror(rl_dataset *d);

void rl_data_free(rl_dataset *d); /* NULL-safe, leaves d zeroed */

/* What a pair of splits is, for a run's record of its inputs (rl_run_add_input), e.g.
 * "fashion-mnist: train 60000x1x28x28 crc32 1a2b3c4d, test 10000x1x28x28 crc32 5e6f7a8b": sizes
 * and a CRC-32 of the examples and clean labels (or targets) as loaded. */
void rl_data_describe(const rl_dataset *train, const rl_dataset *test, char *out, size_t n);

/* Permutation of [0, n) for an epoch: Fisher–Yates driven by (shuffle stream, step = epoch,
 * index = position). The same on every rank. */
void rl_data_epoch_order(int64_t n, rl_rng shuffle, uint32_t epoch, int64_t *perm);
/* Copy the examples idx[0..count) into x_out (count, dim) and labels into y_out (count) (or
 * targets into t_out (count, targets) for regression); NULL outputs are skipped. */
void rl_data_gather(const rl_dataset *d, const int64_t *idx, int count, float *x_out,
                    int32_t *y_out, float *t_out);

#endif
