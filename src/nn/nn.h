/* Models in one contiguous parameter arena, fp32 forward/backward, losses, optimizers.
 *
 * A model is built from a spec string:
 *   "mlp:784-256-256-10"  dense layers with relu between them, none after the last;
 *   "cnn:1x28x28-conv16k5-gn4-relu-maxpool2-conv32k5-relu-avgpool2-fc64-relu-fc10"
 *                         input channels x height x width, then layers in order: convCkK or
 *                         convCkKsS (C filters K x K, K odd, stride S (default 1), zero padding
 *                         K/2: stride 1 keeps the image size, stride S gives ⌈H/S⌉ x ⌈W/S⌉),
 *                         gnG (group norm, G groups of channels, per-channel scale and shift),
 *                         relu, maxpoolS / avgpoolS (S x S windows, stride S, a partial last
 *                         window dropped), gap (global average pooling to C x 1 x 1), resCgG or
 *                         resCsSgG (a residual basic block: convCk3sS-gnG-relu-convCk3-gnG, plus
 *                         the block's input, through a 1 x 1 stride-S projection conv when the
 *                         channels or the size change, then relu), resCbn or resCsSbn (the
 *                         same block with batch norm in place of group norm), any of them
 *                         followed by xN for N blocks, the first of stride S (a ResNet stage,
 *                         e.g. res32s2bnx3), bn (batch norm per channel, after conv or fc, see
 *                         below), dropP (dropout of a share P in [0, 1) of the values, e.g.
 *                         drop0.5), fcN (dense, N outputs; flattens C x H x W).
 *   ResNet-20 (CIFAR-style, 16/32/64 channels, group norm; He et al.'s 6n + 2 layers, n = 3):
 *     "cnn:3x32x32-conv16k3-gn4-relu-res16g4x3-res32s2g4x3-res64s2g4x3-gap-fc10"
 *   the same with batch norm: "cnn:3x32x32-conv16k3-bn-relu-res16bnx3-res32s2bnx3-res64s2bnx3-
 *     gap-fc10"; ResNet-32: x5 in place of x3 (ResNet-56: x9, ResNet-110: x18).
 *   "vit:1x28x28-P7-L2-D64-H4-C10"
 *                         a vision transformer (src/nn/transformer.h): C x H x W images cut into
 *                         P x P patches, L pre-norm blocks of width D with H heads and
 *                         bidirectional attention, mean pooling over the patches, a linear head
 *                         to C classes; its weights live in the same one arena.
 *   VGG-style (VGG-11's 8 conv layers, a quarter of its widths, batch norm, for 28 x 28 or
 *   32 x 32 inputs): "cnn:3x32x32-conv16k3-bn-relu-maxpool2-conv32k3-bn-relu-maxpool2-conv64k3-
 *     bn-relu-conv64k3-bn-relu-maxpool2-conv128k3-bn-relu-conv128k3-bn-relu-maxpool2-conv128k3-
 *     bn-relu-conv128k3-bn-relu-gap-fc128-relu-drop0.5-fc10" (each written without the breaks)
 * Batch norm normalizes each channel over the examples of the forward pass and their H x W
 * positions, the "ghost batch norm" of a chunk: training forwards one chunk (train.chunk
 * examples) at a time, so its statistics are the chunk's, never the global batch's, and do not
 * depend on the rank count. With ws->train = 0 (evaluation) batch norm uses the running
 * averages in m->stats and dropout is the identity; with ws->train = 1 dropout zeroes a value
 * (and scales the others by 1 / (1 − P)) by a draw of the counter RNG ws->dropout_rng at
 * (ws->round, the example's id ws->ids[i], the layer and the unit): the same mask whatever the
 * rank count or the chunk holding the example.
 * Activations are (batch, C, H, W) row-major (dense layers: H = W = 1). All parameters live in
 * one arena `params` (and their gradients in `grads`, same layout), so checkpoints, reductions
 * and optimizers see one array; batch norms' running averages, which are not trained, live
 * beside it in `stats`. Convolutions run as im2col + GEMM over the chunk (layers.h).
 *
 *     rl_model m;
 *     if (rl_model_init(&m, "mlp:784-256-10") < 0) { rl_error_print(); ... }
 *     rl_model_init_params(&m, seed);
 *     rl_workspace ws;
 *     rl_workspace_init(&ws, &m, 32);
 *     const float *logits = rl_model_forward(&m, &ws, x, 32);           // (32, 10)
 *     double loss = rl_loss_softmax_ce(logits, y, NULL, 32, 10, 1.0f / 128, dlogits, NULL);
 *     rl_model_zero_grads(&m);
 *     rl_model_backward(&m, &ws, dlogits, 32);                           // grads += ...
 *     rl_model_free(&m); rl_workspace_free(&ws);
 */
#ifndef RANKLAB_NN_H
#define RANKLAB_NN_H

#include "src/core/rng.h"
#include "src/nn/transformer.h"

#include <stddef.h>
#include <stdint.h>

#define RL_MAX_LAYERS 400 /* ResNet-110 (CIFAR-style) has 383 */

typedef enum {
    RL_LAYER_DENSE,
    RL_LAYER_RELU,
    RL_LAYER_CONV,
    RL_LAYER_MAXPOOL,
    RL_LAYER_AVGPOOL,
    RL_LAYER_GROUPNORM,
    RL_LAYER_GLOBALPOOL,
    RL_LAYER_ADD,
    RL_LAYER_BATCHNORM,
    RL_LAYER_DROPOUT
} rl_layer_kind;

#define RL_GROUPNORM_EPS 1e-5f
#define RL_BATCHNORM_EPS 1e-5f

typedef struct {
    rl_layer_kind kind;
    int in, out;             /* values per example in and out (C · H · W) */
    int in_c, in_h, in_w;    /* input shape (dense and relu after dense: in x 1 x 1) */
    int out_c, out_h, out_w; /* output shape */
    int size;                /* CONV: kernel size; pools: window and stride; GROUPNORM: groups */
    int stride, pad;         /* CONV: stride, and zero padding on each side (size / 2); ADD:
                                the projection's stride */
    int skip_from, skip_c;   /* ADD: the shortcut is the input of layer skip_from (skip_c
                                channels); size 1: through a 1 x 1 projection conv (weight
                                (out_c, skip_c), bias (out_c)), size 0: identity */
    size_t w_off, b_off;     /* DENSE: weight (out, in), bias (out); CONV: weight
                                (out_c, in_c, size, size), bias (out_c); GROUPNORM: scale (out_c),
                                shift (out_c); BATCHNORM: scale (out_c), shift (out_c).
                                Offsets into the arena */
    size_t s_off;            /* BATCHNORM: running mean (out_c), then running variance (out_c),
                                at this offset of m->stats */
    float rate;              /* DROPOUT: the share of values dropped, in [0, 1) */
} rl_layer;

/* Layers with a weight matrix (rows = outputs or filters, cols = fan-in): dense, conv and a
 * residual projection. A conv weight (out_c, in_c, k, k) is the matrix (out_c, in_c · k · k). */
static inline int rl_layer_has_matrix(const rl_layer *ly) {
    return ly->kind == RL_LAYER_DENSE || ly->kind == RL_LAYER_CONV ||
           (ly->kind == RL_LAYER_ADD && ly->size == 1);
}
static inline int rl_layer_fan_in(const rl_layer *ly) {
    return ly->kind == RL_LAYER_CONV  ? ly->in_c * ly->size * ly->size
           : ly->kind == RL_LAYER_ADD ? ly->skip_c
                                      : ly->in;
}
static inline int rl_layer_rows(const rl_layer *ly) {
    return ly->kind == RL_LAYER_CONV || ly->kind == RL_LAYER_ADD ? ly->out_c : ly->out;
}
/* Entries of the layer's weight matrix (0 for layers without one), at ly->w_off; the bias of a
 * layer with a matrix is its rl_layer_rows entries at ly->b_off. */
static inline size_t rl_layer_weight_count(const rl_layer *ly) {
    return rl_layer_has_matrix(ly) ? (size_t)rl_layer_rows(ly) * (size_t)rl_layer_fan_in(ly) : 0;
}

typedef struct {
    char spec[256];
    int n_layers;
    rl_layer layers[RL_MAX_LAYERS];
    int in_dim, out_dim;
    size_t n_params;
    float *params; /* (n_params) the arena */
    float *grads;  /* (n_params) same layout */
    size_t n_stats;
    float *stats; /* (n_stats) batch norms' running averages (not trained: no gradient) */
    rl_transformer vit; /* a "vit:" spec's encoder (vit.classes > 0; no layers), whose arena is
                           params and grads */
} rl_model;

static inline int rl_model_is_vit(const rl_model *m) {
    return m->vit.classes > 0;
}

/* Parse the spec and allocate the arena (zeroed). Bad spec, or an arena larger than this
 * process can get (rl_mem_check): RL_ERR with a hint, nothing allocated. */
int rl_model_init(rl_model *m, const char *spec);
/* The input shape (channels, height, width) of the spec; returns 1 for a "cnn:" spec, whose
 * input is an image, and 0 for an "mlp:" spec, whose input is flat (in_dim x 1 x 1). */
int rl_model_input_image(const rl_model *m, int *c, int *h, int *w);
void rl_model_free(rl_model *m); /* NULL-safe, leaves m zeroed */
/* Kaiming-uniform weights (bound sqrt(6 / fan_in)) and zero biases, group- and batch-norm
 * scales 1 and shifts 0, running means 0 and variances 1, from the counter RNG (seed, RL_RNG_INIT)
 * with the layer index as stream: independent of anything but the seed. */
void rl_model_init_params(rl_model *m, uint64_t seed);
/* Multiply every dense and conv weight matrix by s (a ViT's: the blocks' matrices, the patch
 * embedding and the head; biases, norms' parameters and position embeddings untouched). */
void rl_model_scale_weights(rl_model *m, float s);
void rl_model_zero_grads(rl_model *m);

/* Activations kept for the backward pass, for batches of up to max_batch examples. */
typedef struct {
    int max_batch;
    float *act[RL_MAX_LAYERS + 1];  /* act[0] = input copy, act[l+1] = output of layer l */
    float *grad_a, *grad_b;          /* (max_batch, widest) scratch for backward */
    float *skip_grad;                /* (max_batch, widest) gradient of a residual shortcut */
    float *col, *conv_out; /* convolution scratch (rl_conv_scratch), sized for the largest */
    /* Training mode (0 by default: evaluation). With train = 1, batch norm uses the statistics
     * of the examples forwarded and dropout draws its mask; ids (batch) are the examples' ids
     * and round the draw's step (the optimizer step), set by the caller before each forward. */
    int train;
    const int64_t *ids;
    uint32_t round;
    rl_rng dropout_rng;
    float *batch_stats; /* (n_stats) the mean and biased variance of each batch-norm channel
                           in the last training-mode forward */
    rl_transformer_ws vit; /* a ViT's activations (rl_model_is_vit) */
} rl_workspace;

/* Bytes rl_workspace_init allocates (saturating, see mem.h); it refuses, with a hint, what
 * rl_mem_check refuses. */
uint64_t rl_workspace_bytes(const rl_model *m, int max_batch);
int rl_workspace_init(rl_workspace *ws, const rl_model *m, int max_batch);
void rl_workspace_free(rl_workspace *ws);

/* Forward x (batch, in_dim); returns the output (batch, out_dim), owned by ws. */
const float *rl_model_forward(const rl_model *m, rl_workspace *ws, const float *x, int batch);
/* Backward from d_out (batch, out_dim) = dLoss/dOutput; ADDS parameter gradients into m->grads.
 * Needs the activations of the last forward on ws. */
void rl_model_backward(rl_model *m, rl_workspace *ws, const float *d_out, int batch);
/* Backward from d_out (batch, out_dim) to the input: writes d_x (batch, in_dim) = dLoss/dInput
 * (for adversarial examples); leaves m->grads alone. Needs the last forward on ws. */
void rl_model_input_grad(const rl_model *m, rl_workspace *ws, const float *d_out, int batch,
                         float *d_x);
/* Batch norm's running averages. After a training-mode forward of n examples: out (n_stats) +=
 * weight · (the batch's mean, and its unbiased variance (n' / (n' − 1) times the biased one, n'
 * = n · H · W values per channel; 0 when n' = 1)), per channel. A step sums weight = n / B over
 * its chunks (B examples in all), exactly over ranks, and then updates the running averages:
 * stats = (1 − momentum) · stats + momentum · sums (momentum as torch's BatchNorm). */
void rl_model_add_batch_stats(const rl_model *m, const rl_workspace *ws, int n, float weight,
                              float *out);
void rl_model_update_stats(rl_model *m, const float *sums, float momentum);

/* Softmax cross-entropy. logits (batch, classes), labels (batch). Optional weights (batch)
 * multiply each example's loss (NULL: all 1). Returns Σ_i w_i·ℓ_i (double). If d_logits is not
 * NULL it receives scale · ∂(Σ_i w_i·ℓ_i)/∂logits. If per_example is not NULL it receives ℓ_i
 * (unweighted). Computed stably (max subtracted). */
double rl_loss_softmax_ce(const float *logits, const int32_t *labels, const float *weights,
                          int batch, int classes, float scale, float *d_logits,
                          float *per_example);
/* Cross-entropy against smoothed labels (label smoothing, in the convention of the MW authors'
 * LabelSmoothingLoss): ℓ = −Σ_j q_j log p_j with q_y = 1 − smoothing on the label and
 * smoothing / (classes − 1) on each other class, p = softmax(logits); ∂ℓ/∂z = p − q.
 * smoothing in [0, 1]; 0 is rl_loss_softmax_ce, bit for bit. Same conventions as
 * rl_loss_softmax_ce. */
double rl_loss_smoothed_ce(const float *logits, const int32_t *labels, const float *weights,
                           int batch, int classes, float smoothing, float scale, float *d_logits,
                           float *per_example);
/* Generalized cross-entropy (Zhang & Sabuncu 2018), robust to label noise: ℓ = (1 − p_y^q) / q
 * with p = softmax(logits), q in (0, 1] (q → 0 gives cross-entropy, q = 1 mean absolute error
 * up to a factor). Same conventions as rl_loss_softmax_ce. */
double rl_loss_gce(const float *logits, const int32_t *labels, const float *weights, int batch,
                   int classes, float q, float scale, float *d_logits, float *per_example);
/* Cross-entropy plus the early-learning regularizer of ELR (Liu et al. 2020):
 * ℓ = CE + λ·log(1 − ⟨clamp(p, c, 1 − c), t⟩), c = RL_ELR_CLAMP, p = softmax(logits), with
 * per-example targets t (batch, classes) held constant (no gradient flows into them; the caller
 * keeps them as a running average of past predictions). Same conventions otherwise;
 * per_example receives the whole ℓ. */
#define RL_ELR_CLAMP 1e-4
double rl_loss_elr(const float *logits, const int32_t *labels, const float *targets,
                   const float *weights, int batch, int classes, float lambda, float scale,
                   float *d_logits, float *per_example);
/* Mean squared error ½‖out − target‖² per example, same conventions. */
double rl_loss_mse(const float *out, const float *targets, const float *weights, int batch,
                   int dim, float scale, float *d_out, float *per_example);
/* NT-Xent, the contrastive loss of SimCLR (Chen et al. 2020): embeddings z (2·pairs, dim) with
 * rows 2i and 2i + 1 the two views of example i; u_k = z_k / ‖z_k‖, s_kl = u_k·u_l / temperature,
 * and view k's loss ℓ_k = −s_k,p(k) + log Σ_{l≠k} exp(s_kl), p(k) its partner. Returns Σ_k ℓ_k
 * over the 2·pairs views; if d_z is not NULL it receives scale · ∂(Σ_k ℓ_k)/∂z. Computed in
 * double in a fixed order (the same bits wherever it runs). */
double rl_loss_nt_xent(const float *z, int pairs, int dim, double temperature, float scale,
                       float *d_z);
/* Row-wise softmax: probs (batch, classes) from logits (batch, classes), computed stably. */
void rl_softmax(const float *logits, int batch, int classes, float *probs);
/* Number of rows whose argmax equals the label (first maximum wins ties). */
int rl_count_correct(const float *logits, const int32_t *labels, int batch, int classes);
/* Area under the ROC curve of `score` for telling positives (positive[i] != 0) from the others:
 * the probability that a random positive scores above a random negative, ties counting ½ (exact
 * Mann–Whitney rank sums with average ranks for ties; the same bits for any input order of tied
 * items). NAN when either class is empty. Allocates O(n) scratch. */
double rl_auc(const double *score, const uint8_t *positive, int64_t n);

typedef enum { RL_OPT_SGD, RL_OPT_ADAM } rl_opt_kind;

typedef struct {
    rl_opt_kind kind;
    float lr, momentum, weight_decay; /* SGD: v = μv + (g + wd·θ); θ -= lr·v */
    float beta1, beta2, eps;          /* Adam (weight_decay added to g, as in torch.optim.Adam) */
    int64_t t;                        /* steps taken */
    size_t n;
    float *m, *v;                     /* state (n); SGD uses m as velocity, v is NULL */
} rl_optimizer;

int rl_opt_init(rl_optimizer *o, rl_opt_kind kind, size_t n, float lr, float momentum,
                float weight_decay);
void rl_opt_free(rl_optimizer *o);
void rl_opt_step(rl_optimizer *o, float *params, const float *grads);

#endif
