/* Transformers: token (or a ViT's image patch) and position embeddings, pre-norm blocks of
 * multi-head self-attention (causal, or bidirectional for encoders) and a GELU MLP on a residual
 * stream, a final layer norm and an LM head tied to the token embedding (or a ViT's mean pooling
 * and class head). Forward and backward run on the exact GEMM (kern_sgemm), with layer-norm
 * statistics and softmax sums in double in a fixed order, so a sequence's outputs and its
 * gradient contributions have the same bits whatever else is in the chunk, on any CPU.
 *
 * Spec grammar (rl_transformer_init):
 *   "gpt:L2-D128-H4-T64"        a decoder: L blocks, width D, H heads (D divisible by H), context
 *                               T tokens; the vocabulary is the tokenizer's;
 *   "gpt:V1024-L2-D128-H4-T64"  the same with the vocabulary pinned (must equal the tokenizer's);
 * and (rl_vit_init) a vision transformer, an encoder of image patches:
 *   "vit:1x28x28-P7-L2-D64-H4-C10"  images of C x H x W (here 1 x 28 x 28) cut into P x P patches
 *                               (P dividing H and W: T = (H/P)·(W/P) tokens, row by row), L blocks,
 *                               width D, H heads, C classes.
 * Each block: x += Wo·attn(LN1(x)) ; x += W2·gelu(W1·LN2(x)) with W1 (4D, D), W2 (D, 4D); a
 * decoder's logits of position t are LN_f(x_t)·Eᵀ with E the token embedding (V, D).
 * A ViT embeds each patch, flattened as (channel, row, column) like a conv filter, linearly
 * (x_t = W_p·patch_t + b_p + pos_t, W_p (D, C·P·P)), runs the blocks with bidirectional attention,
 * and classifies the mean of the final layer norm's outputs over the tokens (mean pooling, no
 * class token): logits = W_h·mean_t LN_f(x_t) + b_h, W_h (classes, D).
 *
 * Every weight matrix is (outputs, fan-in) in the one arena `params` (gradients in `grads`, same
 * layout), as rl_model's dense layers, and y = x·Wᵀ + b. The attention projections q, k, v, o and
 * the MLP's are separate matrices that rl_transformer_matrices lists by name ("block0.q", ...),
 * so adapters (W_eff = W0 + B·A, src/nn/lora.h) can be written into them and their gradients
 * read from `grads` at the listed offsets.
 *
 *     rl_transformer m;
 *     rl_transformer_init(&m, "gpt:L2-D128-H4-T64", tok.vocab_size);
 *     rl_transformer_init_params(&m, seed);
 *     rl_transformer_ws ws;
 *     rl_transformer_ws_init(&ws, &m, 8, RL_TF_TRAINING);            // up to 8 sequences
 *     const float *logits = rl_transformer_forward_train(&m, &ws, ids, 8, 64); // (8 · 64, V)
 *     ... d_logits from rl_loss_softmax_ce on the next tokens ...
 *     rl_transformer_backward(&m, &ws, d_logits, 8, 64);                 // grads += ...
 * (rl_transformer_forward alone, e.g. for evaluation or a zero-order step, keeps nothing for a
 * backward; a workspace of kind RL_TF_FORWARD_ONLY holds one block's activations, which every
 * block reuses.)
 */
#ifndef RANKLAB_NN_TRANSFORMER_H
#define RANKLAB_NN_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

#define RL_TF_MAX_LAYERS 32
#define RL_LAYERNORM_EPS 1e-5f

/* Offsets into the arena of one block's parameters. */
typedef struct {
    size_t ln1_g, ln1_b;           /* (D) each */
    size_t wq, bq, wk, bk, wv, bv; /* (D, D) and (D) each */
    size_t wo, bo;                 /* (D, D), (D) */
    size_t ln2_g, ln2_b;           /* (D) each */
    size_t w1, b1;                 /* (4D, D), (4D) */
    size_t w2, b2;                 /* (D, 4D), (D) */
} rl_tf_block;

typedef struct {
    char spec[128];
    int vocab, layers, width, heads, context, hidden; /* hidden = 4 · width; a ViT: vocab 0, */
    int causal;              /* 1: position t attends to 0..t only          context = its patches */
    size_t tok_emb, pos_emb; /* (vocab, D), (context, D) */
    rl_tf_block blocks[RL_TF_MAX_LAYERS];
    size_t lnf_g, lnf_b; /* (D) each */
    /* a ViT's (classes > 0; 0 for a decoder) */
    int classes, image_c, image_h, image_w, patch, patch_dim; /* patch_dim = C · P · P */
    size_t patch_w, patch_b, head_w, head_b; /* (D, patch_dim), (D), (classes, D), (classes) */
    size_t n_params;
    float *params, *grads; /* (n_params) */
    /* When set, the forward's weight products go here instead of the float GEMM (an integer
     * forward, src/nn/qtransformer.h): y (rows, out) = x (rows, in) · Wᵀ of matrix `matrix`
     * (block · 6 + q, k, v, o, fc1, fc2: rl_transformer_matrices' order); biases and residuals
     * are added in float after it. The backward always uses the float weights. */
    void (*matmul)(void *ctx, int matrix, const float *x, int rows, float *y);
    void *matmul_ctx;
} rl_transformer;

/* Parse the spec (grammar above) for a tokenizer of `vocab` tokens and allocate the zeroed arena.
 * Bad spec, a pinned vocabulary other than `vocab`, or an arena larger than this process can get:
 * RL_ERR with a hint, nothing allocated. */
int rl_transformer_init(rl_transformer *m, const char *spec, int vocab);
/* The same for a "vit:" spec (grammar above). */
int rl_vit_init(rl_transformer *m, const char *spec);
void rl_transformer_free(rl_transformer *m); /* NULL-safe, leaves m zeroed */
/* Weights uniform with standard deviation 0.02 (GPT-2's; a ViT's patch embedding and head too),
 * the residual projections Wo and W2 scaled by 1/sqrt(2L), biases 0, layer-norm gains 1, from
 * (seed, RL_RNG_INIT) with the matrix's position in the arena as stream. */
void rl_transformer_init_params(rl_transformer *m, uint64_t seed);
void rl_transformer_zero_grads(rl_transformer *m);

/* A weight matrix of the model, for adapters: name ("block0.q", "block1.fc2"), offset of W in
 * params / grads, and its shape (rows = outputs, cols = fan-in). */
typedef struct {
    char name[24];
    size_t w_off;
    int rows, cols;
} rl_tf_matrix;
#define RL_TF_MATRICES_PER_BLOCK 6 /* q, k, v, o, fc1, fc2 */
/* Fills out[0 .. 6 · layers) block by block in the order q, k, v, o, fc1, fc2; returns the count.
 */
int rl_transformer_matrices(const rl_transformer *m, rl_tf_matrix *out);

/* One block's activations of the last forward (R = sequences · tokens rows). */
typedef struct {
    float *x;                             /* (R, D) the block's input (the residual stream) */
    float *ln1, *ln2;                     /* (R, D) normalized inputs of attention and MLP */
    float *mean1, *rstd1, *mean2, *rstd2; /* (R) their statistics */
    float *q, *k, *v;                     /* (R, D) */
    float *probs;                         /* (seqs, H, T, T) attention weights */
    float *att;                           /* (R, D) heads' outputs, concatenated */
    float *mid;                           /* (R, D) x + attention */
    float *gelu; /* (R, 4D) the MLP's hidden layer, after GELU (before it until the GELU runs) */
    double *gelu_slope; /* (R, 4D) GELU's derivative there (a training workspace's, else NULL) */
} rl_tf_block_acts;

/* What a workspace is for. */
typedef enum {
    RL_TF_FORWARD_ONLY, /* forwards only (evaluation, zero-order steps): one block's activations,
                         * which every block reuses, and no backward scratch */
    RL_TF_TRAINING,     /* also backwards: every block's activations, GELU slopes and scratch */
} rl_tf_ws_kind;

/* Activations of the last forward (a training forward's kept for the backward), for up to
 * max_seqs sequences. */
typedef struct {
    int max_seqs;
    rl_tf_ws_kind kind;
    int kept_rows; /* rows (sequences · tokens) of the last forward if it was a training forward,
                    * else 0: what rl_transformer_backward and rl_vit_backward check */
    rl_tf_block_acts block[RL_TF_MAX_LAYERS]; /* a forward-only workspace's: block[0] only */
    float *x_final, *lnf, *mean_f, *rstd_f;   /* (R, D) (training only), (R, D), (R), (R) */
    float *logits;                          /* (R, V); a ViT's (max_seqs, classes) */
    int32_t *ids;                           /* (R) tokens of the last forward */
    /* backward scratch (training only) */
    float *d_res, *d_a, *d_b, *d_hidden; /* (R, D) x 3, (R, 4D) */
    float *d_q, *d_k, *d_v, *d_probs;    /* (R, D) x 3, (T, T) */
    float *patches, *pooled; /* a ViT's: (R, patch_dim) the last forward's patches, (max_seqs, D)
                              * the mean of each image's final layer-norm outputs */
    float *d_patches;        /* a ViT's input gradient: (R, patch_dim) (training only) */
} rl_transformer_ws;

/* Bytes rl_transformer_ws_init allocates (saturating); it refuses, with a hint, what rl_mem_check
 * refuses. */
uint64_t rl_transformer_ws_bytes(const rl_transformer *m, int max_seqs, rl_tf_ws_kind kind);
int rl_transformer_ws_init(rl_transformer_ws *ws, const rl_transformer *m, int max_seqs,
                           rl_tf_ws_kind kind);
void rl_transformer_ws_free(rl_transformer_ws *ws);

/* Forward of n_seq sequences of len tokens each (ids (n_seq, len), 1 <= len <= context, every id
 * below vocab): the logits (n_seq · len, vocab), owned by ws. Keeps nothing for a backward. */
const float *rl_transformer_forward(const rl_transformer *m, rl_transformer_ws *ws,
                                    const int32_t *ids, int n_seq, int len);
/* The same forward (the same logits, bit for bit) on a training workspace, keeping every block's
 * activations and GELU slopes for rl_transformer_backward. */
const float *rl_transformer_forward_train(const rl_transformer *m, rl_transformer_ws *ws,
                                          const int32_t *ids, int n_seq, int len);
/* The logits of rl_transformer_forward (the same bits on the exact GEMM or the integer forward)
 * at positions first[s]..last[s] of each sequence s only (none when last[s] < 0; at least one
 * position in all), at rows s · len + t of ws->logits, which it returns; its other rows are left
 * as they were. It computes only what those logits read: no position past last[s]; positions
 * 0..t that a sequence shares with the previous one (the same tokens, causal attention) once; and
 * the last block's outputs, the final layer norm and the head only at the wanted positions. For
 * prompt scoring (src/train/prompt.h), generation and zero-order steps on a decoder; keeps
 * nothing for a backward. */
const float *rl_transformer_forward_rows(const rl_transformer *m, rl_transformer_ws *ws,
                                         const int32_t *ids, int n_seq, int len, const int *first,
                                         const int *last);
/* Backward from d_logits (n_seq · len, vocab) of the last forward, which must have been a
 * training forward of the same n_seq and len (otherwise: a bug, reported, abort): ADDS every
 * parameter's gradient into m->grads (the tied embedding gets both its uses). */
void rl_transformer_backward(rl_transformer *m, rl_transformer_ws *ws, const float *d_logits,
                             int n_seq, int len);

/* A ViT's forward of n images x (n, C·H·W): the logits (n, classes), owned by ws (its logits);
 * keeps nothing for a backward. rl_vit_forward_train: the same, kept for rl_vit_backward (a
 * training workspace). */
const float *rl_vit_forward(const rl_transformer *m, rl_transformer_ws *ws, const float *x, int n);
const float *rl_vit_forward_train(const rl_transformer *m, rl_transformer_ws *ws, const float *x,
                                  int n);
/* Backward from d_logits (n, classes) of the last forward (a training forward of n images, as
 * rl_transformer_backward): ADDS every parameter's gradient into grads (NULL: none) and writes
 * dLoss/dx (n, C·H·W) into d_x (NULL: none). */
void rl_vit_backward(const rl_transformer *m, rl_transformer_ws *ws, const float *d_logits, int n,
                     float *grads, float *d_x);

/* ---- the layers, for tests and other models (rows of width d, row-major) ---- */

/* y = g ⊙ (x − mean) / sqrt(var + eps) + b per row; mean and rstd (rows) kept for backward. */
void rl_layernorm_forward(const float *x, const float *g, const float *b, int rows, int d, float *y,
                          float *mean, float *rstd);
/* dx = (dy ⊙ g − mean(dy ⊙ g) − x̂ · mean(dy ⊙ g ⊙ x̂)) · rstd (written); dg += Σ dy ⊙ x̂,
 * db += Σ dy over rows (either may be NULL). */
void rl_layernorm_backward(const float *x, const float *g, const float *mean, const float *rstd,
                           const float *dy, int rows, int d, float *dx, float *dg, float *db);
/* GELU, tanh form: y = ½x(1 + tanh(√(2/π)(x + 0.044715x³))), computed in double (tanh:
 * kern_tanh_f64, glibc's bits); n values (y may be x). When slope is not NULL it also receives
 * gelu'(x) (n doubles, from the same tanh) for the backward. */
void rl_gelu_forward(const float *x, float *y, double *slope, size_t n);
/* dx = dy · gelu'(x), from the forward's slope (dx may be dy). */
void rl_gelu_backward(const double *slope, const float *dy, float *dx, size_t n);
/* Multi-head attention of n_seq sequences of len positions: q, k, v, out (n_seq · len, d) with
 * head h in columns [h·d/heads, (h+1)·d/heads); out = softmax(q_h k_hᵀ / sqrt(d/heads) + mask) v_h
 * per head, the mask −∞ above the diagonal when causal. probs (n_seq, heads, len, len) keeps the
 * softmax for backward. */
void rl_attention_forward(const float *q, const float *k, const float *v, int n_seq, int len, int d,
                          int heads, int causal, float *probs, float *out);
/* From d_out (n_seq · len, d): writes d_q, d_k, d_v (n_seq · len, d); scratch (len, len). */
void rl_attention_backward(const float *q, const float *k, const float *v, const float *probs,
                           const float *d_out, int n_seq, int len, int d, int heads, float *d_q,
                           float *d_k, float *d_v, float *scratch);

#endif
