/* Datasets: Fashion-MNIST from IDX files (gzip), CIFAR-10 / CIFAR-100 binary batches and users'
 * HDF5 files (data.name=h5), each validated; synthetic datasets; label noise that keeps the
 * clean labels; the mirror transform (data.transform); deterministic epoch orders.
 *
 * Examples read from files are held once per node, not once per rank: the node's first rank
 * reads them into memory the node's ranks share (comm_node_shared_alloc) while the others wait,
 * then every rank reads that one copy. 8-bit sources (IDX, CIFAR, uint8 h5) stay bytes there
 * (x_u8), float32 h5 files floats (x_f32); synthetic examples are floats of each rank's own.
 * Code reads examples as floats through rl_data_gather and rl_data_rows, which convert a byte k
 * to the pixel value k / 255.0f and apply the mirror transform, row by row. Labels and targets are
 * each rank's own. Shards are views chosen by src/comm ownership.
 *
 *     rl_dataset train, test;
 *     if (rl_data_load(cfg, seed, &train, &test) < 0) { rl_error_print(); ... }   // collective
 *     rl_data_epoch_order(train.n, rl_rng_make(seed, RL_RNG_SHUFFLE), epoch, perm);
 *     rl_data_gather(&train, perm + b * B, B, xb, yb);
 *     rl_data_free(&train);                                 // collective over the node's ranks
 *
 * Config keys (declared by rl_data_declare_config): data.name, data.dir, data.path,
 * data.train_limit, data.test_limit, data.transform, data.noise, data.noise_rate, data.dim,
 * data.classes, data.train_size, data.test_size, data.spread, data.target_noise.
 */
#ifndef RANKLAB_DATA_H
#define RANKLAB_DATA_H

#include "src/core/config.h"
#include "src/core/rng.h"

#include <stddef.h>
#include <stdint.h>

struct comm_node_shared;

/* A split. Its examples are read as floats through rl_data_rows or rl_data_gather; they are in
 * the node's shared memory (read-only) when `shared` is set, else this rank's own. */
typedef struct {
    char name[32];
    int64_t n;
    int dim;          /* features per example (784 for Fashion-MNIST, pixels scaled to [0, 1]) */
    int channels, height, width; /* image shape, channels · height · width = dim (Fashion-MNIST:
                                    1 x 28 x 28); all 0 for flat features (synthetic data) */
    int classes;      /* 0 for regression */
    int targets;      /* regression outputs per example (linreg: 1); 0 for classification */
    float *x_f32;     /* (n, dim) floats (synthetic data, float32 h5 files), or NULL */
    uint8_t *x_u8;    /* (n, dim) bytes of 8-bit files, k standing for k / 255.0f, or NULL */
    int mirrored;     /* rows are read mirrored left-right (rl_data_mirror) */
    int32_t *y;       /* (n) labels used for training (noisy after label noise); NULL if regression */
    int32_t *y_clean; /* (n) the clean labels; equal to y without noise */
    float *t;         /* (n, targets) regression targets; NULL if classification */
    struct comm_node_shared *shared;
} rl_dataset;

typedef enum {
    RL_NOISE_NONE,
    RL_NOISE_SYMMETRIC,
    RL_NOISE_UNIFORM,
    RL_NOISE_PAIRFLIP
} rl_noise_kind;

#define RL_DATA_MAX_KEEP 1000 /* classes data.classes_keep may list */

void rl_data_declare_config(rl_config *cfg);
/* Collective (every rank): load train and test splits named by data.name, keep the classes of
 * data.classes_keep (relabelled 0, 1, ... in its order; into the node's shared memory again),
 * apply the limits (first N examples, counted among the kept), the transform, and label noise to
 * the training split only. Errors name the file and what is wrong, the same on every rank. */
int rl_data_load(const rl_config *cfg, uint64_t seed, rl_dataset *train, rl_dataset *test);

/* The file readers are collective (every rank): every rank checks the headers (sizes, shapes,
 * types), the memory the node's copy needs (rl_mem_check_node) and each rank's labels need, the
 * node's first rank reads the examples and labels into the node's shared memory, and a failure
 * anywhere fails every rank with the same message. limit <= 0: all examples. */

/* IDX pair (gzip or plain): checks magic (0x00000803 images, 0x00000801 labels), dimensions,
 * counts agreeing, file sizes (a plain file must hold what its header claims), label range
 * 0..9. */
int rl_data_read_idx(const char *images_path, const char *labels_path, int64_t limit,
                     rl_dataset *out);
/* CIFAR binary batches in dir: classes 10 (data_batch_1.bin .. data_batch_5.bin, or
 * test_batch.bin for the test split; records of 1 label byte and 3072 pixel bytes) or 100
 * (train.bin, test.bin; records of a coarse and a fine label byte, the fine one used, and 3072
 * pixel bytes). Pixels are stored channel by channel (red, green, blue planes of 32 x 32), the
 * 3 x 32 x 32 shape as is. Checks that each file is a whole number of records and labels are in
 * 0..classes-1. */
int rl_data_read_cifar(const char *dir, int classes, int test_split, int64_t limit,
                       rl_dataset *out);
/* A user's HDF5 file (data.name=h5) with datasets train/x, train/y, test/x, test/y: x uint8
 * (read as value / 255) or float32 (as is), shape (N, C, H, W) or (N, D), the same per-example
 * shape and type in both splits; y (N) integer labels, as many as examples. Classes: the root
 * attribute "classes" if the file has one (labels must be in 0..classes-1), else 1 + the
 * largest training label (test labels must be in that range); at least 2. */
int rl_data_read_h5(const char *path, int64_t train_limit, int64_t test_limit, rl_dataset *train,
                    rl_dataset *test);
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

/* Mirror every image left-right (each row of d->width pixels, in every channel) as it is read:
 * rl_data_gather and rl_data_rows give the mirrored rows (a second call undoes it); an error
 * for data that is not images. data.transform=mirror does it to both splits. */
int rl_data_mirror(rl_dataset *d);

/* NULL-safe, leaves d zeroed. Collective over the node's ranks when d->shared is set (every
 * rank frees its datasets in the same order, as it loaded them). */
void rl_data_free(rl_dataset *d);

/* What a pair of splits is, for a run's record of its inputs (rl_run_add_input), e.g.
 * "fashion-mnist: train 60000x1x28x28 crc32 1a2b3c4d, test 10000x1x28x28 crc32 5e6f7a8b": sizes
 * and a CRC-32 of the examples as read (the floats rl_data_rows gives) and clean labels (or
 * targets). */
void rl_data_describe(const rl_dataset *train, const rl_dataset *test, char *out, size_t n);

/* Permutation of [0, n) for an epoch: Fisher–Yates driven by (shuffle stream, step = epoch,
 * index = position). The same on every rank. */
void rl_data_epoch_order(int64_t n, rl_rng shuffle, uint32_t epoch, int64_t *perm);
/* Copy the examples idx[0..count) as floats into x_out (count, dim) and labels into y_out
 * (count) (or targets into t_out (count, targets) for regression); NULL outputs are skipped. */
void rl_data_gather(const rl_dataset *d, const int64_t *idx, int count, float *x_out,
                    int32_t *y_out, float *t_out);
/* The examples [first, first + count) as floats into x_out (count, dim). */
void rl_data_rows(const rl_dataset *d, int64_t first, int64_t count, float *x_out);

#endif
