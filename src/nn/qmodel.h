/* Quantized MLPs and CNNs for zero-order quantized training (ZOQO, METHODS.md §1).
 *
 * Weights are b-bit symmetric integer codes (2 <= b <= 8, stored as int8 in [-qmax, qmax],
 * qmax = 2^(b-1) - 1) with one scale per tensor: value = code · scale. The frozen weights may
 * have another width than the trainable ones (base_bits: e.g. an 8-bit base with 4-bit
 * adapters), to tell the damage of quantizing the base from the optimizer's. Activations are int8
 * with static per-layer scales calibrated on data; products accumulate in int32 and are
 * requantized between layers; the last layer's outputs are dequantized to float logits.
 *
 * Layers: dense and conv layers are weight matrices (out, in) = (outputs or filters, fan-in). A
 * convolution runs as int8 im2col (rows of patches, zero padding = code 0) and the int8 GEMM
 * (kernels/int8.h) over the whole batch's positions: exact integer sums, so the same bits on
 * every ISA. A relu right after a matrix layer is fused into its requantization; max and
 * average pooling, global average pooling and a lone relu work on the int8 codes (averages
 * rounded half to even, at the input's scale). The last layer must be dense; group norm and
 * residual blocks have no int8 version (rl_qmodel_quantize refuses them).
 *
 * What training may change lives in one int8 arena, `trainable` (n_trainable codes):
 *   RL_QTRAIN_LAST: the last layer's weight codes;
 *   RL_QTRAIN_LORA: LoRA adapters on every dense and conv layer, A (rank, in) and B (out, rank)
 *                   on its weight matrix, as b-bit codes; B starts at 0 so the adapted model
 *                   starts as the base model.
 * The forward takes the trainable codes as an argument, so a perturbed copy can be evaluated
 * without touching the model.
 *
 *     rl_qmodel q;
 *     rl_qmodel_quantize(&q, &fp32_model, &opts, calib_x, 512);
 *     rl_qworkspace ws;
 *     rl_qworkspace_init(&ws, &q, 256);
 *     const float *logits = rl_qmodel_forward(&q, &ws, q.trainable, x, 256);   // (256, out)
 */
#ifndef RANKLAB_NN_QMODEL_H
#define RANKLAB_NN_QMODEL_H

#include "src/nn/nn.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { RL_QTRAIN_LAST, RL_QTRAIN_LORA } rl_qtrain_target;

typedef struct {
    rl_layer_kind kind;   /* DENSE, CONV (weight matrices), MAXPOOL, AVGPOOL, GLOBALPOOL, RELU */
    rl_layer shape;       /* the fp32 layer: activation shapes, conv kernel, stride and padding,
                           * pool windows */
    int in, out, relu;    /* matrix layers: weight (out, in); relu fused (0 for the others) */
    float w_scale;        /* weight value = code · w_scale */
    float in_scale;       /* input activation value = code · in_scale */
    float out_scale;      /* output activation scale (hidden layers; pools and relu: in_scale) */
    int8_t *w;            /* (out, in) frozen codes, or NULL when trainable (see w_off) */
    size_t w_off;         /* offset of the codes in `trainable` when the weight is trained */
    int32_t *bias;        /* (out) at scale in_scale · w_scale */
    float *col_scale;     /* (out) in_scale · w_scale, for the requantize kernels */
    /* LoRA adapter (rank > 0): codes at a_off (rank, in) and b_off (out, rank) of `trainable` */
    int rank;
    size_t a_off, b_off;
    float a_scale, b_scale, h_scale; /* h = int8 of x·Aᵀ, value = code · h_scale */
    float *h_col_scale;              /* (rank) in_scale · a_scale, for the requantize kernel */
} rl_qlayer;

typedef struct {
    int bits, qmax; /* the trainable codes' grid */
    int base_bits;  /* the frozen weights' */
    rl_qtrain_target target;
    int n_layers;
    rl_qlayer layers[RL_MAX_LAYERS];
    int in_dim, out_dim;
    int8_t *frozen;    /* arena of frozen weight codes */
    int32_t *ints;     /* arena of biases */
    float *floats;     /* arena of per-column scales */
    size_t n_trainable;
    int8_t *trainable; /* (n_trainable) */
} rl_qmodel;

typedef struct {
    int bits;                /* 2..8 */
    rl_qtrain_target target;
    int lora_rank;           /* RL_QTRAIN_LORA */
    float lora_range;        /* B codes cover [-lora_range, lora_range] */
    uint64_t seed;           /* A's initial codes: (seed, RL_RNG_INIT), stream 1000 + layer */
    int base_bits;           /* the frozen weights' bits, 2..8 (0: bits) */
} rl_qmodel_options;

/* The symmetric scale of a tensor x (n) on codes [-qmax, qmax]: max |x| / qmax (1 for a zero
 * tensor); and its codes round(x / scale) (half to even), clamped to [-qmax, qmax]. */
float rl_quant_scale(const float *x, size_t n, int qmax);
void rl_quant_codes(const float *x, size_t n, float scale, int qmax, int8_t *codes);

/* Whether m has an int8 version (every layer dense, conv, relu or a pool, the last dense): 0, or
 * RL_ERR with a message naming the first layer that has none and a hint. */
int rl_qmodel_check(const rl_model *m);
/* Quantize an fp32 MLP or CNN (see above for the layers); activation scales from the
 * max |activation| of calib_x (calib_n, in). */
int rl_qmodel_quantize(rl_qmodel *q, const rl_model *m, const rl_qmodel_options *opt,
                       const float *calib_x, int calib_n);
void rl_qmodel_free(rl_qmodel *q);
/* The value of one code step of each trainable code (n_trainable): its tensor's scale. */
void rl_qmodel_code_steps(const rl_qmodel *q, float *steps);

typedef struct {
    int max_batch;
    int8_t *act_a, *act_b;  /* (max_batch, widest) int8 activations, ping-pong */
    int8_t *col;            /* (max_batch · positions, fan-in) int8 im2col of the largest conv */
    int8_t *rows;           /* (max_batch · positions, filters) a conv's output before it is
                             * laid out as (batch, C, H, W) */
    const int8_t *last_in;  /* the last layer's input in the latest forward */
    float *ref_patch;       /* (widest fan-in) the reference's patch */
    int8_t *h;              /* (max_batch, max rank) adapter activations */
    int32_t *acc, *acc_h, *acc_d; /* int32 accumulators */
    void *scratch;          /* for kern_gemm_s8 */
    float *logits;          /* (max_batch, out_dim) */
    float *ref_a, *ref_b;   /* (max_batch, widest) float buffers of the reference forward */
} rl_qworkspace;

int rl_qworkspace_init(rl_qworkspace *ws, const rl_qmodel *q, int max_batch);
void rl_qworkspace_free(rl_qworkspace *ws);

/* Integer forward with the given trainable codes; returns float logits (batch, out_dim). */
const float *rl_qmodel_forward(const rl_qmodel *q, rl_qworkspace *ws, const int8_t *codes,
                               const float *x, int batch);
/* The last layer's int8 input (batch, in) of the latest rl_qmodel_forward with ws; its value is
 * code · layers[n_layers − 1].in_scale. */
const int8_t *rl_qmodel_last_input(const rl_qworkspace *ws);

/* Integer convolution of conv layer ly on int8 activations x (batch, in_c, in_h, in_w): acc
 * (batch · out_h · out_w, out_c) = the patches (im2col into col, (batch · out_h · out_w,
 * in_c · k · k)) times w (out_c, in_c · k · k)ᵀ, exact in int32; scratch for kern_gemm_s8. */
void rl_qconv_forward(const rl_layer *ly, const int8_t *x, int batch, const int8_t *w, int8_t *col,
                      int32_t *acc, void *scratch);
/* The same computation in float on dequantized values, convolutions by their definition (the
 * tests' reference). */
const float *rl_qmodel_forward_reference(const rl_qmodel *q, rl_qworkspace *ws,
                                         const int8_t *codes, const float *x, int batch);

#endif
