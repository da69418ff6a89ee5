/* Quantization-aware training (QAT) of a quantized model's last layer, the first-order baseline
 * of ZOQO (METHODS.md §1): the forward is the model's integer forward (src/nn/qmodel.h) with the
 * codes of the moment; the backward is the straight-through estimator of the last layer's
 * weight values, ∂L/∂W = d_outᵀ·X on its dequantized int8 inputs, set to 0 where the float master
 * weight lies beyond the grid's range (clipped STE); an optimizer steps the float master weights,
 * and the codes are the master weights rounded to the nearest grid point and clamped.
 *
 *     train_qat t;
 *     train_qat_init(&t, &q, chunks.rows);     // q: rl_qmodel with target RL_QTRAIN_LAST
 *     train_qat_attach(&t, &chunks);           // chunks' forward and backward become QAT's
 *     train_chunks_gradient(&chunks, d, idx, n, &o, t.chunk_grad, t.n, &sum);  // + reduce, read
 *     rl_opt_step(&opt, t.master, grad);
 *     train_qat_requantize(&t);                // q.trainable follows t.master
 */
#ifndef RANKLAB_TRAIN_QAT_H
#define RANKLAB_TRAIN_QAT_H

#include "src/nn/qmodel.h"
#include "src/train/chunks.h"

#include <stddef.h>

typedef struct {
    rl_qmodel *q; /* not owned; its trainable codes follow master */
    rl_qworkspace ws;
    size_t n;          /* trainable weights: the last layer's (out, in) */
    float *master;     /* (n) float master weights, starting at the codes' values */
    float *chunk_grad; /* (n) the straight-through gradient of the latest chunk */
    float *x;          /* (rows, in) that chunk's dequantized last-layer inputs */
    float range;       /* qmax · the last layer's code step */
} train_qat;

/* q must train its last layer (RL_QTRAIN_LAST); rows: the most examples of one forward. */
int train_qat_init(train_qat *t, rl_qmodel *q, int rows);
/* Make chunks compute with QAT's forward and backward. */
void train_qat_attach(train_qat *t, train_chunks *chunks);
/* The codes of the master weights: rounded to the nearest, clamped to [−qmax, qmax]. */
void train_qat_requantize(train_qat *t);
void train_qat_free(train_qat *t);

#endif
