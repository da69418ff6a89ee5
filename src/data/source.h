/* Internal to src/data: one split read from files into the memory the node's ranks share (see
 * data.h). A reader describes the split from the file headers on every rank, then
 * data_source_load checks memory, has the node's first rank read the examples and labels
 * through the reader's callback, and gives every rank the dataset.
 *
 *     data_source src = {.n = n, .dim = dim, .bytes = 1, .classes = 10, .read = read_mine};
 *     int rc = check_headers(...);            // every rank
 *     rc = data_source_load(rc, &src, out);  // collective; RL_ERR on every rank if any failed
 */
#ifndef RANKLAB_DATA_SOURCE_H
#define RANKLAB_DATA_SOURCE_H

#include "src/data/data.h"

typedef struct data_source data_source;
struct data_source {
    char what[320]; /* the examples in words, for messages ("60000 images of 28 x 28 pixels from
                       FILE") */
    int64_t n;
    int dim, channels, height, width; /* image shape, or channels 0 for flat features */
    int classes;                      /* 0 when the labels decide it (set it after loading) */
    int bytes;                        /* 1: 8-bit examples (x_u8), 4: float32 (x_f32) */
    /* The node's first rank: read the n examples into x (n, dim, `bytes` each) and their labels
     * into labels (n), checking the labels; RL_ERR with the message. */
    int (*read)(const data_source *src, void *x, int32_t *labels);
    void *ctx; /* the reader's */
};

/* Collective (every rank): rc is this rank's verdict on the headers. If every rank's is RL_OK
 * and the memory fits, out gets the split (examples in the node's shared memory, labels y and
 * y_clean of its own); otherwise RL_ERR on every rank with the first failing rank's message and
 * out zeroed. */
int data_source_load(int rc, const data_source *src, rl_dataset *out);

#endif
