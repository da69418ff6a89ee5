/* The integer forward of a transformer's linear layers, for ZOQO (METHODS.md §1): the weight
 * matrices q, k, v, o, fc1 and fc2 of every block as B-bit codes (one scale per output row),
 * their inputs quantized to int8 (one static scale per matrix, calibrated on data), the products
 * as exact int8 GEMMs with int32 sums (kernels/int8.h), dequantized to float per output column.
 * LoRA adapters on some of the matrices (codes A (rank, in) and B (out, rank), one scale each)
 * run as int8 too: h = requantize(x_q · A_qᵀ) (int8, a calibrated scale), then h · B_qᵀ in
 * int32, dequantized and added. What stays float: the token and position embeddings, layer norm,
 * the attention's scores, softmax and weighted sum, GELU, biases, the residual stream and the
 * tied LM head. Installed as the transformer's matmul hook (rl_transformer.matmul).
 *
 *     rl_qtransformer q;
 *     rl_qtransformer_init(&q, &model, 4, rows);      // quantizes the base (in model.params too)
 *     rl_lora_init_targets(&lora, model.params, ...);  // adapters over the quantized base
 *     rl_qtransformer_adapters(&q, &lora, lora_qmax, lora_range);
 *     rl_qtransformer_calibrate(&q, &model, &ws, seqs, n_seq, len);  // float forward, scales
 *     rl_qtransformer_attach(&q, &model);           // model's forward is now integer
 *     q.adapter_codes = codes;                      // the adapters' codes of the moment
 *     rl_transformer_forward(&model, &ws, ids, n_seq, len);
 */
#ifndef RANKLAB_NN_QTRANSFORMER_H
#define RANKLAB_NN_QTRANSFORMER_H

#include "src/nn/lora.h"
#include "src/nn/transformer.h"

#include <stddef.h>
#include <stdint.h>

#define RL_QTF_MATRICES (RL_TF_MATRICES_PER_BLOCK * RL_TF_MAX_LAYERS)

typedef struct {
    int qmax; /* the base's grid: 2^(bits-1) - 1 */
    int n_mats;
    rl_tf_matrix mats[RL_QTF_MATRICES];
    int8_t *codes;                    /* every matrix's weight codes, one after the other */
    size_t code_off[RL_QTF_MATRICES]; /* into codes */
    float *row_scale;                 /* every matrix's row scales, one after the other */
    size_t row_off[RL_QTF_MATRICES];  /* into row_scale */
    float in_scale[RL_QTF_MATRICES];  /* int8 scale of each matrix's input */
    /* adapters: matrix i carries adapter adapter_of[i] of `lora` (-1: none) */
    const rl_lora *lora; /* their layout (a_off, b_off, rank); not owned */
    int adapter_of[RL_QTF_MATRICES];
    float a_scale[RL_LORA_MAX_ADAPTERS], b_scale[RL_LORA_MAX_ADAPTERS];
    float h_scale[RL_LORA_MAX_ADAPTERS]; /* int8 scale of x · Aᵀ */
    const int8_t *adapter_codes;         /* (lora->n_params) the codes the forward uses */
    /* scratch for up to max_rows rows */
    int max_rows;
    int8_t *xq, *hq;
    int32_t *acc, *acc_h;
    float *col_scale, *delta;
    void *scratch;
    size_t scratch_size;
} rl_qtransformer;

/* Quantize m's linear layers at `bits` (2..8) per output row and write their grid values back
 * into m->params (so a float forward and the backward see the quantized base); scratch for
 * max_rows rows (sequences · tokens; 0: none, only the grid values are wanted). */
int rl_qtransformer_init(rl_qtransformer *q, rl_transformer *m, int bits, int max_rows);
/* The adapters of `lora` (targets among m's matrices) as codes on ±qmax_a: A's scale
 * rl_lora_a_bound(in) / qmax_a, B's lora_range / qmax_a. */
int rl_qtransformer_adapters(rl_qtransformer *q, const rl_lora *lora, int qmax_a, float lora_range);
/* The input scales from a float forward of seqs (n_seq, len) with ws (any kind; n_seq · len at
 * most max_rows): max |input| / 127 of each matrix, and of x · Aᵀ for each adapter (A as
 * lora->params holds it). */
void rl_qtransformer_calibrate(rl_qtransformer *q, const rl_transformer *m, rl_transformer_ws *ws,
                               const int32_t *seqs, int n_seq, int len);
/* Make m's forward use the integer products (m->matmul); detach with m->matmul = NULL. */
void rl_qtransformer_attach(rl_qtransformer *q, rl_transformer *m);
void rl_qtransformer_free(rl_qtransformer *q); /* NULL-safe, leaves q zeroed */

#endif
