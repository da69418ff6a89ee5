/* A SimCLR-style contrastive encoder (Chen et al. 2020) as a label-free encoder of a pool of
 * images (subset-select's features).
 *
 * The model is a backbone (a "cnn:" spec ending in relu) followed by a dense projection
 * head of proj_dim outputs. Each training image gives two views: a random crop with zero padding
 * and a horizontal flip (src/data/augment.h, drawn for view 0 and view 1 of the example in the
 * epoch) plus Gaussian pixel noise (the counter RNG RL_RNG_VIEW_NOISE keyed by epoch, example id,
 * view and pixel). The loss is NT-Xent (rl_loss_nt_xent) over the 2·B views of a batch of B.
 *
 * Data-parallel and exact: a batch is cut into chunks of `chunk` images that the ranks split; each
 * rank forwards both views of its chunks, the batch's embeddings are gathered on every rank
 * (comm_allgather_blocks), every rank computes the same loss and its gradient with respect to the
 * embeddings, then backpropagates its own chunks; the chunks' parameter gradients are summed in
 * fixed point and Adam is replicated, so the weights are the same bits on any rank count. A row's
 * features are the backbone's output: uncentered and post-ReLU (not the projection).
 *
 *     simclr s = {0};
 *     simclr_init(&s, "cnn:1x28x28-conv16k3-relu-maxpool2-fc128-relu", 64, "subset.simclr_spec",
 *                 &pool, 32);
 *     simclr_training t = {.epochs = 2, .batch = 256, .images = 20000, .lr = 1e-3,
 *                          .temperature = 0.5, .noise = 0.1, .pad = 4, .seed = 1};
 *     simclr_train(&s, &pool, &t);
 *     simclr_encode(&s, x, n, f);      // (n, s.k) of any rows x
 *     simclr_free(&s);
 */
#ifndef RANKLAB_TRAIN_SIMCLR_H
#define RANKLAB_TRAIN_SIMCLR_H

#include "src/data/data.h"
#include "src/nn/nn.h"
#include "src/train/chunks.h"

#include <stdint.h>

typedef struct {
    rl_model model;      /* backbone, then the projection head */
    train_chunks chunks; /* buffers of 2·chunk rows: both views of a chunk's images */
    int chunk;           /* images per chunk of a gradient */
    int feature_layer;   /* features: the output of layer feature_layer (the backbone's last) */
    int k;               /* features per row */
    int proj_dim;        /* embedding width (the head's outputs) */
} simclr;

/* How the encoder is trained: Adam with learning rate lr, `epochs` epochs over the first
 * `images` pool rows (all if larger) in batches of `batch`; NT-Xent at `temperature`; views
 * cropped after padding by `pad` zeros (0: no crop), flipped, plus noise of standard deviation
 * `noise` (0: none); seed: the initialization, the epochs' order and the views. */
typedef struct {
    int epochs, batch, pad;
    int64_t images;
    double lr, temperature, noise;
    uint64_t seed;
} simclr_training;

/* The encoder of backbone spec + "-fcP" (P = proj_dim) for the images of pool, gradients by
 * chunks of `chunk` images; RL_ERR with a hint if the backbone is not a "cnn:" spec, does not fit
 * the pool, does not end in relu, has batch norm or dropout, or would not fit in memory. `what`
 * names the spec's key. Free with simclr_free, also after a failure. */
int simclr_init(simclr *s, const char *backbone, int proj_dim, const char *what,
                const rl_dataset *pool, int chunk);
void simclr_free(simclr *s); /* NULL-safe */

/* The two views of images ids[0..m) of d in epoch `epoch`, as simclr_train forwards them: x
 * (2m, dim), rows [0, m) view 0 and [m, 2m) view 1; scratch holds one row. */
void simclr_views(const simclr_training *t, const rl_dataset *d, uint32_t epoch, const int64_t *ids,
                  int m, float *x, float *scratch);

/* Collective: initialize the weights from t->seed and train them on the pool (labels unused);
 * logs each epoch's mean loss. */
int simclr_train(simclr *s, const rl_dataset *pool, const simclr_training *t);

/* The features f (n, k) of rows x (n, dim), forwarded in batches of at most the chunks' rows. */
void simclr_encode(simclr *s, const float *x, int64_t n, float *f);

/* Collective: the features f (hi - lo, k) of my pool rows [lo, hi) and f_test (test_hi -
 * test_lo, k) of my test rows, each range whole chunks of RL_ROW_CHUNK rows (comm_chunk_range),
 * so that a row's bits do not depend on the rank count. With a cache file (NULL or "": none)
 * holding this encoder's key (its config and both data sets), they and the weights come from it
 * (pool rows, then test rows); else the encoder is trained (simclr_train), encodes the rows and,
 * with a cache file, rank 0 writes every row's features and the weights to it. RL_ERR if the
 * cache was made by another encoder config or data (naming both keys). */
int simclr_features(simclr *s, const rl_dataset *pool, const rl_dataset *test,
                    const simclr_training *t, const char *cache, int64_t lo, int64_t hi, float *f,
                    int64_t test_lo, int64_t test_hi, float *f_test);

#endif
