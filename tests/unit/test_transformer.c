/* Unit tests of src/nn/transformer: the gpt: spec grammar, layer norm, GELU and attention
 * (causal and bidirectional) against central finite differences, attention against its
 * definition softmax(QKᵀ/sqrt(d) + mask)·V computed plainly in double, the whole forward against a
 * plain double-precision pre-norm decoder, every parameter of a small
 * model (embeddings, blocks, the tied LM head) against finite differences, LoRA adapters on
 * the attention projections and the MLP (and the lists that choose them), and a sequence's
 * logits independent of the other sequences of its chunk; the vit: encoder's spec grammar, its
 * patch embedding, mean pooling and head against their definitions and finite differences (the
 * input image's gradient too), every parameter of a small ViT, an image's logits independent of
 * its chunk, and the ViT behind rl_model. */
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/rng.h"
#include "src/nn/lora.h"
#include "src/nn/nn.h"
#include "src/nn/transformer.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FD_STEP 1e-3f

static void fill(float *x, size_t n, uint32_t stream, float lo, float hi) {
    rl_rng r = rl_rng_make(777, RL_RNG_SYNTH_DATA);
    kern_fill_uniform(x, n, r.key, stream, lo, hi);
}

static double weighted_sum(const float *y, const float *r, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * r[i];
    return s;
}

static void test_spec_grammar(void) {
    rl_transformer m;
    CU_ASSERT_FATAL(rl_transformer_init(&m, "gpt:L2-D16-H4-T8", 50) == RL_OK);
    CU_ASSERT_EQUAL(m.layers, 2);
    CU_ASSERT_EQUAL(m.width, 16);
    CU_ASSERT_EQUAL(m.heads, 4);
    CU_ASSERT_EQUAL(m.context, 8);
    CU_ASSERT_EQUAL(m.hidden, 64);
    size_t d = 16, f = 64;
    size_t block = 4 * d + 4 * (d * d + d) + (f * d + f) + (d * f + d);
    CU_ASSERT_EQUAL(m.n_params, 50 * d + 8 * d + 2 * block + 2 * d);
    rl_tf_matrix mats[RL_TF_MAX_LAYERS * RL_TF_MATRICES_PER_BLOCK];
    CU_ASSERT_EQUAL(rl_transformer_matrices(&m, mats), 12);
    CU_ASSERT_STRING_EQUAL(mats[2].name, "block0.v");
    CU_ASSERT_EQUAL(mats[2].w_off, m.blocks[0].wv);
    CU_ASSERT_EQUAL(mats[10].rows, 64);
    CU_ASSERT_STRING_EQUAL(mats[11].name, "block1.fc2");
    CU_ASSERT_EQUAL(mats[11].cols, 64);
    rl_transformer_free(&m);
    CU_ASSERT_FATAL(rl_transformer_init(&m, "gpt:V50-L1-D8-H2-T4", 50) == RL_OK);
    rl_transformer_free(&m);

    struct {
        const char *spec, *says;
    } bad[] = {
        {"gpt:V60-L1-D8-H2-T4", "pins a vocabulary of 60"},
        {"gpt:L1-D10-H4-T4", "not divisible by 4 heads"},
        {"gpt:L1-D8-H2", "expected the context as T<1..4096> but the spec ends"},
        {"gpt:L1-D8-H2-T4-X", "expected the context as T<1..4096> at \"T4-X\""},
        {"gpt:L1-D8-H2-T4-", "expected the context as T<1..4096> at \"T4-\""},
        {"gpt:L0-D8-H2-T4", "expected the layers as L<1..32> at \"L0-D8-H2-T4\""},
        {"gpt:L99-D8-H2-T4", "expected the layers as L<1..32> at \"L99-D8-H2-T4\""},
        {"gpt:L1-D8-H0-T4", "expected the heads (at most the width) as H<1..8> at \"H0-T4\""},
        {"gpt:L1-D8-H16-T4", "expected the heads (at most the width) as H<1..8> at \"H16-T4\""},
        {"gpt:V0-L1-D8-H2-T4", "expected the vocabulary as V<1..16777216> at \"V0-L1"},
        {"mlp:4-2", "not a transformer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT(rl_transformer_init(&m, bad[i].spec, 50) == RL_ERR);
        CU_ASSERT(strstr(rl_error_message(), bad[i].says) != NULL);
        CU_ASSERT(rl_error_hint() != NULL);
        CU_ASSERT(m.params == NULL);
    }
}

/* ---- layer norm ---- */

typedef struct {
    int rows, d;
    float *x, *g, *b, *r, *y, *mean, *rstd;
} ln_problem;

static double ln_loss(void *ctx) {
    ln_problem *p = ctx;
    rl_layernorm_forward(p->x, p->g, p->b, p->rows, p->d, p->y, p->mean, p->rstd);
    return weighted_sum(p->y, p->r, (size_t)p->rows * p->d);
}

static void test_layernorm_gradients(void) {
    enum { ROWS = 3, D = 7 };
    float x[ROWS * D], g[D], b[D], r[ROWS * D], y[ROWS * D], mean[ROWS], rstd[ROWS];
    float dx[ROWS * D], dg[D] = {0}, db[D] = {0};
    fill(x, ROWS * D, 1, -2.0f, 2.0f);
    fill(g, D, 2, 0.5f, 1.5f);
    fill(b, D, 3, -0.5f, 0.5f);
    fill(r, ROWS * D, 4, -1.0f, 1.0f);
    ln_problem p = {ROWS, D, x, g, b, r, y, mean, rstd};
    ln_loss(&p);
    for (int i = 0; i < ROWS; i++) { // normalized rows have mean 0 and variance 1 (g = 1, b = 0)
        double s = 0.0, sq = 0.0;
        for (int j = 0; j < D; j++) {
            double x_hat = (x[i * D + j] - mean[i]) * rstd[i];
            s += x_hat;
            sq += x_hat * x_hat;
        }
        CU_ASSERT(fabs(s) < 1e-5 && fabs(sq / D - 1.0) < 1e-4);
    }
    rl_layernorm_backward(x, g, mean, rstd, r, ROWS, D, dx, dg, db);
    CU_ASSERT(rl_test_check_grads(x, dx, ROWS * D, ln_loss, &p, FD_STEP) > 1e-2);
    CU_ASSERT(rl_test_check_grads(g, dg, D, ln_loss, &p, FD_STEP) > 1e-2);
    CU_ASSERT(rl_test_check_grads(b, db, D, ln_loss, &p, FD_STEP) > 1e-2);
}

/* ---- GELU ---- */

typedef struct {
    float *x, *r, *y;
    size_t n;
} gelu_problem;

static double gelu_loss(void *ctx) {
    gelu_problem *p = ctx;
    rl_gelu_forward(p->x, p->y, NULL, p->n);
    return weighted_sum(p->y, p->r, p->n);
}

static void test_gelu(void) {
    enum { N = 41 };
    float x[N], r[N], y[N], dx[N], y_kept[N];
    double slope[N];
    for (int i = 0; i < N; i++)
        x[i] = -5.0f + 0.25f * (float)i;
    fill(r, N, 5, -1.0f, 1.0f);
    rl_gelu_forward(x, y, NULL, N);
    CU_ASSERT(y[20] == 0.0f);                  // gelu(0) = 0
    CU_ASSERT(fabs(y[N - 1] - 5.0) < 1e-5);    // gelu(5) ≈ 5
    CU_ASSERT(fabs(y[0]) < 1e-5);              // gelu(−5) ≈ 0
    CU_ASSERT(fabs(y[24] - 0.8411920) < 1e-5); // gelu(1), tanh form
    rl_gelu_forward(x, y_kept, slope, N);      // keeping the slopes changes no output bit
    CU_ASSERT(memcmp(y, y_kept, sizeof y) == 0);
    gelu_problem p = {x, r, y, N};
    rl_gelu_backward(slope, r, dx, N);
    CU_ASSERT(rl_test_check_grads(x, dx, N, gelu_loss, &p, FD_STEP) > 0.5);
}

/* The backward from the forward's slopes has the bits of gelu'(x) computed from tanh again (as
 * before the slopes were kept), over a wide spread of inputs; in place too. */
static void test_gelu_kept_slope_bits(void) {
    enum { N = 4096 };
    static float x[N], y[N], dy[N], dx[N];
    static double slope[N];
    fill(x, N, 7, -9.0f, 9.0f);
    fill(dy, N, 8, -2.0f, 2.0f);
    rl_gelu_forward(x, y, slope, N);
    rl_gelu_backward(slope, dy, dx, N);
    size_t differ = 0;
    for (int i = 0; i < N; i++) {
        double v = x[i], t = tanh(0.7978845608028654 * (v + 0.044715 * v * v * v));
        double s = 0.5 * (1.0 + t) +
                   0.5 * v * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * v * v);
        float want = (float)(dy[i] * s);
        differ += memcmp(&want, &dx[i], sizeof want) != 0;
    }
    CU_ASSERT_EQUAL(differ, 0);
    rl_gelu_backward(slope, dy, dy, N); // dx may be dy
    CU_ASSERT(memcmp(dx, dy, sizeof dx) == 0);
    rl_gelu_forward(x, x, NULL, N); // y may be x
    CU_ASSERT(memcmp(x, y, sizeof x) == 0);
}

/* ---- attention ---- */

enum { SEQS = 2, LEN = 5, DIM = 6, HEADS = 2 };

typedef struct {
    int causal;
    float q[SEQS * LEN * DIM], k[SEQS * LEN * DIM], v[SEQS * LEN * DIM];
    float r[SEQS * LEN * DIM], out[SEQS * LEN * DIM], probs[SEQS * HEADS * LEN * LEN];
} att_problem;

static double att_loss(void *ctx) {
    att_problem *p = ctx;
    rl_attention_forward(p->q, p->k, p->v, SEQS, LEN, DIM, HEADS, p->causal, p->probs, p->out);
    return weighted_sum(p->out, p->r, SEQS * LEN * DIM);
}

static void att_setup(att_problem *p, int causal) {
    p->causal = causal;
    fill(p->q, SEQS * LEN * DIM, 10, -1.5f, 1.5f);
    fill(p->k, SEQS * LEN * DIM, 11, -1.5f, 1.5f);
    fill(p->v, SEQS * LEN * DIM, 12, -1.0f, 1.0f);
    fill(p->r, SEQS * LEN * DIM, 13, -1.0f, 1.0f);
}

/* The definition, plainly in double: out_i = Σ_j softmax_j(q_i·k_j / sqrt(dh) + mask_ij) v_j. */
static void test_attention_definition(void) {
    const int dh = DIM / HEADS;
    for (int causal = 0; causal <= 1; causal++) {
        static att_problem p;
        att_setup(&p, causal);
        att_loss(&p);
        double worst = 0.0;
        for (int s = 0; s < SEQS; s++)
            for (int h = 0; h < HEADS; h++)
                for (int i = 0; i < LEN; i++) {
                    double score[LEN], top = -INFINITY, sum = 0.0;
                    for (int j = 0; j < LEN; j++) {
                        double dot = 0.0;
                        for (int c = 0; c < dh; c++)
                            dot += (double)p.q[(s * LEN + i) * DIM + h * dh + c] *
                                   p.k[(s * LEN + j) * DIM + h * dh + c];
                        score[j] = dot / sqrt((double)dh) + (causal && j > i ? -INFINITY : 0.0);
                        top = fmax(top, score[j]);
                    }
                    for (int j = 0; j < LEN; j++)
                        sum += exp(score[j] - top);
                    for (int c = 0; c < dh; c++) {
                        double want = 0.0;
                        for (int j = 0; j < LEN; j++)
                            want +=
                                exp(score[j] - top) / sum * p.v[(s * LEN + j) * DIM + h * dh + c];
                        double got = p.out[(s * LEN + i) * DIM + h * dh + c];
                        worst = fmax(worst, fabs(got - want));
                    }
                    for (int j = 0; j < LEN; j++) // the mask: no weight on later positions
                        if (causal && j > i)
                            CU_ASSERT(p.probs[((s * HEADS + h) * LEN + i) * LEN + j] == 0.0f);
                }
        CU_ASSERT(worst < 1e-5);
        if (worst >= 1e-5)
            fprintf(stderr, "\n  causal %d: attention differs from its definition by %g\n", causal,
                    worst);
    }
}

/* Causal: changing a later key or value leaves earlier outputs unchanged, bit for bit;
 * bidirectional: it changes them. */
static void test_attention_mask(void) {
    for (int causal = 0; causal <= 1; causal++) {
        static att_problem p;
        static float before[SEQS * LEN * DIM];
        att_setup(&p, causal);
        att_loss(&p);
        memcpy(before, p.out, sizeof before);
        int last = LEN - 1; // position 4 of sequence 0
        for (int c = 0; c < DIM; c++) {
            p.k[last * DIM + c] += 0.5f;
            p.v[last * DIM + c] -= 0.5f;
        }
        att_loss(&p);
        int earlier_same = memcmp(before, p.out, sizeof(float) * last * DIM) == 0;
        CU_ASSERT(earlier_same == causal);
        CU_ASSERT(memcmp(before + LEN * DIM, p.out + LEN * DIM,
                         sizeof(float) * LEN * DIM) == 0); // the other sequence
    }
}

static void test_attention_gradients(void) {
    for (int causal = 0; causal <= 1; causal++) {
        static att_problem p;
        static float dq[SEQS * LEN * DIM], dk[SEQS * LEN * DIM], dv[SEQS * LEN * DIM];
        float scratch[LEN * LEN];
        att_setup(&p, causal);
        att_loss(&p);
        rl_attention_backward(p.q, p.k, p.v, p.probs, p.r, SEQS, LEN, DIM, HEADS, dq, dk, dv,
                              scratch);
        CU_ASSERT(rl_test_check_grads(p.q, dq, SEQS * LEN * DIM, att_loss, &p, FD_STEP) > 1e-2);
        CU_ASSERT(rl_test_check_grads(p.k, dk, SEQS * LEN * DIM, att_loss, &p, FD_STEP) > 1e-2);
        CU_ASSERT(rl_test_check_grads(p.v, dv, SEQS * LEN * DIM, att_loss, &p, FD_STEP) > 1e-2);
        if (causal) { // the last query of a sequence sees everything, the first only itself
            for (int c = 0; c < DIM; c++)
                CU_ASSERT(dq[c] == 0.0f); // a softmax over one position does not depend on q
        }
    }
}

/* ---- the whole model ---- */

#define VOCAB 13

typedef struct {
    rl_transformer m;
    rl_transformer_ws ws;
    int n_seq, len;
    int32_t ids[3 * 6], next[3 * 6];
    float *d_logits;
} lm_problem;

static double lm_loss(void *ctx) {
    lm_problem *p = ctx;
    const float *logits = rl_transformer_forward(&p->m, &p->ws, p->ids, p->n_seq, p->len);
    return rl_loss_softmax_ce(logits, p->next, NULL, p->n_seq * p->len, VOCAB, 0.0f, NULL, NULL);
}

/* gpt:L2-D8-H2-T6 with random parameters (larger than the initialization's, so every path
 * matters) on sequences of len tokens (len < context too). */
static void lm_setup(lm_problem *p, int n_seq, int len) {
    CU_ASSERT_FATAL(rl_transformer_init(&p->m, "gpt:L2-D8-H2-T6", VOCAB) == RL_OK);
    CU_ASSERT_FATAL(rl_transformer_ws_init(&p->ws, &p->m, 3, RL_TF_TRAINING) == RL_OK);
    rl_transformer_init_params(&p->m, 5);
    fill(p->m.params, p->m.n_params, 20, -0.4f, 0.4f);
    for (int l = 0; l < p->m.layers; l++) {
        fill(p->m.params + p->m.blocks[l].ln1_g, 8, 21 + l, 0.7f, 1.3f);
        fill(p->m.params + p->m.blocks[l].ln2_g, 8, 23 + l, 0.7f, 1.3f);
    }
    p->n_seq = n_seq;
    p->len = len;
    for (int i = 0; i < n_seq * len; i++) {
        p->ids[i] = (int32_t)((i * 7 + 3) % (VOCAB - 2)); // tokens 11 and 12 only as targets
        p->next[i] = (int32_t)((i * 5 + 1) % VOCAB);
    }
    p->d_logits = malloc(sizeof(float) * (size_t)n_seq * len * VOCAB);
}

static void lm_free(lm_problem *p) {
    rl_transformer_ws_free(&p->ws);
    rl_transformer_free(&p->m);
    free(p->d_logits);
}

/* Every parameter's gradient, including the token embedding's two uses (input and tied head),
 * against finite differences of the mean next-token cross-entropy. */
static void test_model_gradients(void) {
    const int lens[2] = {6, 4};
    for (int t = 0; t < 2; t++) {
        static lm_problem p;
        lm_setup(&p, 2, lens[t]);
        const float *logits = rl_transformer_forward_train(&p.m, &p.ws, p.ids, p.n_seq, p.len);
        rl_loss_softmax_ce(logits, p.next, NULL, p.n_seq * p.len, VOCAB, 1.0f, p.d_logits, NULL);
        rl_transformer_zero_grads(&p.m);
        rl_transformer_backward(&p.m, &p.ws, p.d_logits, p.n_seq, p.len);
        float *grads = malloc(sizeof(float) * p.m.n_params);
        memcpy(grads, p.m.grads, sizeof(float) * p.m.n_params);
        CU_ASSERT(rl_test_check_grads(p.m.params, grads, p.m.n_params, lm_loss, &p, FD_STEP) >
                  1e-2);
        // a target-only token's embedding row gets the head's gradient alone
        size_t row12 = p.m.tok_emb + 12 * 8;
        double norm = 0.0;
        for (int j = 0; j < 8; j++)
            norm += fabs(grads[row12 + j]);
        CU_ASSERT(norm > 0.0);
        // positions past len get no gradient
        for (size_t j = (size_t)p.len * 8; j < 6 * 8; j++)
            CU_ASSERT(grads[p.m.pos_emb + j] == 0.0f);
        free(grads);
        lm_free(&p);
    }
}

/* ---- the whole forward against a plain double-precision reference ---- */

/* y (d) = LN(x (d)) with gain g and shift b. */
static void ref_layernorm(const double *x, const float *g, const float *b, int d, double *y) {
    double mean = 0.0, var = 0.0;
    for (int j = 0; j < d; j++)
        mean += x[j] / d;
    for (int j = 0; j < d; j++)
        var += (x[j] - mean) * (x[j] - mean) / d;
    for (int j = 0; j < d; j++)
        y[j] = g[j] * (x[j] - mean) / sqrt(var + RL_LAYERNORM_EPS) + b[j];
}

/* y (out) = W (out, in) · x + b. */
static void ref_linear(const float *w, const float *b, const double *x, int in, int out,
                       double *y) {
    for (int i = 0; i < out; i++) {
        y[i] = b[i];
        for (int j = 0; j < in; j++)
            y[i] += (double)w[i * in + j] * x[j];
    }
}

/* The pre-norm decoder written out position by position for one sequence of len tokens. */
static void ref_forward(const rl_transformer *m, const int32_t *ids, int len, double *logits) {
    enum { MAX_T = 6, MAX_D = 8 };
    const int d = m->width, f = m->hidden, dh = d / m->heads;
    const float *w = m->params;
    double x[MAX_T][MAX_D], ln[MAX_T][MAX_D], q[MAX_T][MAX_D], k[MAX_T][MAX_D], v[MAX_T][MAX_D];
    double att[MAX_D], proj[MAX_D], hidden[4 * MAX_D];
    for (int t = 0; t < len; t++)
        for (int j = 0; j < d; j++)
            x[t][j] = (double)w[m->tok_emb + (size_t)ids[t] * d + j] + w[m->pos_emb + t * d + j];
    for (int l = 0; l < m->layers; l++) {
        const rl_tf_block *b = &m->blocks[l];
        for (int t = 0; t < len; t++) {
            ref_layernorm(x[t], w + b->ln1_g, w + b->ln1_b, d, ln[t]);
            ref_linear(w + b->wq, w + b->bq, ln[t], d, d, q[t]);
            ref_linear(w + b->wk, w + b->bk, ln[t], d, d, k[t]);
            ref_linear(w + b->wv, w + b->bv, ln[t], d, d, v[t]);
        }
        double mid[MAX_T][MAX_D];
        for (int t = 0; t < len; t++) {
            for (int h = 0; h < m->heads; h++) {
                double score[MAX_T], sum = 0.0;
                for (int s = 0; s <= t; s++) { // causal: positions 0..t
                    score[s] = 0.0;
                    for (int c = h * dh; c < (h + 1) * dh; c++)
                        score[s] += q[t][c] * k[s][c] / sqrt((double)dh);
                    sum += exp(score[s]);
                }
                for (int c = h * dh; c < (h + 1) * dh; c++) {
                    att[c] = 0.0;
                    for (int s = 0; s <= t; s++)
                        att[c] += exp(score[s]) / sum * v[s][c];
                }
            }
            ref_linear(w + b->wo, w + b->bo, att, d, d, proj);
            for (int j = 0; j < d; j++)
                mid[t][j] = x[t][j] + proj[j];
        }
        for (int t = 0; t < len; t++) {
            ref_layernorm(mid[t], w + b->ln2_g, w + b->ln2_b, d, ln[t]);
            ref_linear(w + b->w1, w + b->b1, ln[t], d, f, hidden);
            for (int j = 0; j < f; j++)
                hidden[j] =
                    0.5 * hidden[j] *
                    (1.0 + tanh(sqrt(2.0 / M_PI) * (hidden[j] + 0.044715 * pow(hidden[j], 3.0))));
            ref_linear(w + b->w2, w + b->b2, hidden, f, d, proj);
            for (int j = 0; j < d; j++)
                x[t][j] = mid[t][j] + proj[j];
        }
    }
    for (int t = 0; t < len; t++) {
        ref_layernorm(x[t], w + m->lnf_g, w + m->lnf_b, d, ln[t]);
        for (int token = 0; token < m->vocab; token++) { // the tied head: E · LN_f(x)
            logits[t * m->vocab + token] = 0.0;
            for (int j = 0; j < d; j++)
                logits[t * m->vocab + token] +=
                    (double)w[m->tok_emb + (size_t)token * d + j] * ln[t][j];
        }
    }
}

static void test_forward_reference(void) {
    static lm_problem p;
    lm_setup(&p, 2, 6);
    const float *logits = rl_transformer_forward(&p.m, &p.ws, p.ids, 2, 6);
    double want[6 * VOCAB], worst = 0.0, largest = 0.0;
    for (int s = 0; s < 2; s++) {
        ref_forward(&p.m, p.ids + 6 * s, 6, want);
        for (int i = 0; i < 6 * VOCAB; i++) {
            worst = fmax(worst, fabs(logits[s * 6 * VOCAB + i] - want[i]));
            largest = fmax(largest, fabs(want[i]));
        }
    }
    CU_ASSERT(largest > 0.1);
    CU_ASSERT(worst < 1e-5 * largest);
    if (worst >= 1e-5 * largest)
        fprintf(stderr, "\n  forward differs from the reference by %g (largest %g)\n", worst,
                largest);
    lm_free(&p);
}

/* A sequence's logits have the same bits alone as in a chunk of three. */
static void test_chunk_independence(void) {
    static lm_problem p;
    lm_setup(&p, 3, 6);
    const float *all = rl_transformer_forward(&p.m, &p.ws, p.ids, 3, 6);
    float *middle = malloc(sizeof(float) * 6 * VOCAB);
    memcpy(middle, all + 6 * VOCAB, sizeof(float) * 6 * VOCAB);
    const float *alone = rl_transformer_forward(&p.m, &p.ws, p.ids + 6, 1, 6);
    CU_ASSERT(memcmp(middle, alone, sizeof(float) * 6 * VOCAB) == 0);
    free(middle);
    lm_free(&p);
}

/* A forward that keeps nothing has the training forward's logits, bit for bit, on a training
 * workspace and on a forward-only one (one block's buffers for both blocks; fewer bytes), at the
 * full context and shorter; only a training forward marks its rows as kept for a backward. */
static void test_forward_only_workspace(void) {
    static lm_problem p;
    lm_setup(&p, 3, 6);
    rl_transformer_ws fwd;
    CU_ASSERT_FATAL(rl_transformer_ws_init(&fwd, &p.m, 3, RL_TF_FORWARD_ONLY) == RL_OK);
    CU_ASSERT(fwd.block[0].gelu && !fwd.block[0].gelu_slope && !fwd.block[1].x && !fwd.x_final &&
              !fwd.d_res && !fwd.d_hidden);
    CU_ASSERT(rl_transformer_ws_bytes(&p.m, 3, RL_TF_FORWARD_ONLY) <
              rl_transformer_ws_bytes(&p.m, 3, RL_TF_TRAINING));
    float *kept = malloc(sizeof(float) * 3 * 6 * VOCAB);
    for (int len = 6; len >= 3; len -= 3) {
        size_t bytes = sizeof(float) * (size_t)3 * len * VOCAB;
        memcpy(kept, rl_transformer_forward_train(&p.m, &p.ws, p.ids, 3, len), bytes);
        CU_ASSERT_EQUAL(p.ws.kept_rows, 3 * len);
        CU_ASSERT(memcmp(kept, rl_transformer_forward(&p.m, &fwd, p.ids, 3, len), bytes) == 0);
        CU_ASSERT(memcmp(kept, rl_transformer_forward(&p.m, &p.ws, p.ids, 3, len), bytes) == 0);
        CU_ASSERT_EQUAL(p.ws.kept_rows, 0);
        CU_ASSERT_EQUAL(fwd.kept_rows, 0);
    }
    free(kept);
    rl_transformer_ws_free(&fwd);
    lm_free(&p);
}

/* rl_transformer_forward_rows has the full forward's logits at the wanted positions, bit for bit,
 * and leaves the others: 1, 2 and 3 blocks, on both kinds of workspace, with sequences sharing
 * prefixes (sequence 1 shares 4 tokens with sequence 0, sequence 2 is sequence 1), wanted rows
 * in the shared part only, in one sequence only, everywhere, and a shorter length. */
static void test_forward_rows(void) {
    const char *specs[] = {"gpt:L1-D8-H2-T6", "gpt:L2-D8-H2-T6", "gpt:L3-D8-H2-T6"};
    const int cases[][7] = {/* len, first[3], last[3] */
                            {6, 1, 5, 0, 3, 5, 0},
                            {6, 4, 1, 5, 4, 2, 5},
                            {6, 0, 0, 0, 5, 5, 5},
                            {6, 0, 2, 0, -1, 3, -1},
                            {4, 3, 3, 3, 3, 3, 3}};
    int32_t ids[3 * 6];
    for (int t = 0; t < 6; t++) {
        ids[t] = (int32_t)((t * 7 + 3) % VOCAB);
        ids[6 + t] = t < 4 ? ids[t] : (int32_t)((t * 5 + 2) % VOCAB);
        ids[12 + t] = ids[6 + t];
    }
    for (int k = 0; k < 3; k++) {
        rl_transformer m;
        CU_ASSERT_FATAL(rl_transformer_init(&m, specs[k], VOCAB) == RL_OK);
        fill(m.params, m.n_params, 30 + k, -0.4f, 0.4f);
        for (int kind = 0; kind < 2; kind++) {
            rl_transformer_ws ws;
            CU_ASSERT_FATAL(rl_transformer_ws_init(
                                &ws, &m, 3, kind ? RL_TF_TRAINING : RL_TF_FORWARD_ONLY) == RL_OK);
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
                const int *q = cases[c];
                int32_t seqs[3 * 6];
                for (int r = 0; r < 3; r++)
                    memcpy(seqs + r * q[0], ids + r * 6, sizeof(int32_t) * (size_t)q[0]);
                int differ = rl_test_rows_differ(&m, &ws, seqs, 3, q[0], q + 1, q + 4);
                CU_ASSERT_EQUAL(differ, 0);
                if (differ)
                    fprintf(stderr, "\n  %s, case %zu: %d rows differ\n", specs[k], c, differ);
                CU_ASSERT_EQUAL(ws.kept_rows, 0);
            }
            rl_transformer_ws_free(&ws);
        }
        rl_transformer_free(&m);
    }
}

/* ---- LoRA adapters on the attention projections and the MLP ---- */

typedef struct {
    lm_problem p;
    rl_lora lora;
} lora_problem;

static double lora_loss(void *ctx) {
    lora_problem *lp = ctx;
    rl_lora_apply_params(&lp->lora, lp->p.m.params);
    return lm_loss(&lp->p);
}

/* Adapters on the matrices `kinds` of every block (rl_lora_transformer_targets; n of them): the
 * adapted model computes with W0 + B·A there and nowhere else, and the gradients of A and B match
 * finite differences of the model's loss. */
static void check_lora_on(const char *kinds, int n_expected) {
    static lora_problem lp;
    lm_setup(&lp.p, 2, 6);
    rl_lora_target targets[RL_TF_MAX_LAYERS * RL_TF_MATRICES_PER_BLOCK];
    int n = rl_lora_transformer_targets(&lp.p.m, kinds, "test", targets);
    CU_ASSERT_FATAL(n == n_expected);
    CU_ASSERT_FATAL(rl_lora_init_targets(&lp.lora, lp.p.m.params, lp.p.m.n_params, targets, n, 2, 7,
                                         lp.p.m.spec) == RL_OK);
    fill(lp.lora.params, lp.lora.n_params, 30, -0.3f, 0.3f); // B not 0, so A's gradient is not
    rl_lora_apply_params(&lp.lora, lp.p.m.params);
    size_t changed = 0, outside = 0;
    for (size_t i = 0; i < lp.p.m.n_params; i++) {
        int adapted = 0;
        for (int t = 0; t < n; t++)
            adapted |= i >= targets[t].w_off &&
                       i < targets[t].w_off + (size_t)targets[t].rows * targets[t].cols;
        int differs = lp.p.m.params[i] != lp.lora.base[i];
        changed += adapted && differs;
        outside += !adapted && differs;
    }
    CU_ASSERT(changed > 200 && outside == 0);
    const float *logits = rl_transformer_forward_train(&lp.p.m, &lp.p.ws, lp.p.ids, 2, 6);
    rl_loss_softmax_ce(logits, lp.p.next, NULL, 12, VOCAB, 1.0f, lp.p.d_logits, NULL);
    rl_transformer_zero_grads(&lp.p.m);
    rl_transformer_backward(&lp.p.m, &lp.p.ws, lp.p.d_logits, 2, 6);
    rl_lora_backward_grads(&lp.lora, lp.p.m.grads);
    float *grads = malloc(sizeof(float) * lp.lora.n_params);
    memcpy(grads, lp.lora.grads, sizeof(float) * lp.lora.n_params);
    CU_ASSERT(rl_test_check_grads(lp.lora.params, grads, lp.lora.n_params, lora_loss, &lp,
                                  FD_STEP) > 1e-2);
    free(grads);
    rl_lora_free(&lp.lora);
    lm_free(&lp.p);
}

static void test_lora_on_attention(void) {
    check_lora_on("q,v", 4);
}

/* The MLP's fc1 (D -> 4D) and fc2 (4D -> D) of every block. */
static void test_lora_on_mlp(void) {
    check_lora_on("fc1, fc2", 4);
}

/* The list picks matrices by kind in the model's order; unknown, repeated or no kinds: refused. */
static void test_lora_target_lists(void) {
    rl_transformer m;
    CU_ASSERT_FATAL(rl_transformer_init(&m, "gpt:L2-D8-H2-T4", VOCAB) == RL_OK);
    rl_lora_target targets[RL_TF_MAX_LAYERS * RL_TF_MATRICES_PER_BLOCK];
    CU_ASSERT_EQUAL(rl_lora_transformer_targets(&m, "fc2,q", "k", targets), 4);
    CU_ASSERT(targets[0].w_off == m.blocks[0].wq && targets[1].w_off == m.blocks[0].w2 &&
              targets[1].rows == 8 && targets[1].cols == 32 && targets[3].w_off == m.blocks[1].w2);
    CU_ASSERT_EQUAL(rl_lora_transformer_targets(&m, "q,k,v,o,fc1,fc2", "k", targets), 12);
    CU_ASSERT(targets[4].w_off == m.blocks[0].w1 && targets[4].rows == 32 && targets[4].cols == 8);
    static const char *const bad[] = {"q,x", "q,v,q", "", "q,,v", "block0.q"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rl_error_clear();
        CU_ASSERT_EQUAL(rl_lora_transformer_targets(&m, bad[i], "ft.lora_targets", targets),
                        RL_ERR);
        CU_ASSERT(strstr(rl_error_message(), "ft.lora_targets") != NULL);
        CU_ASSERT(rl_error_hint()[0] != '\0');
    }
    rl_transformer_free(&m);
}

/* ---- the vision transformer ---- */

static void test_vit_spec(void) {
    rl_transformer m;
    CU_ASSERT_FATAL(rl_vit_init(&m, "vit:2x6x4-P2-L2-D8-H2-C3") == RL_OK);
    CU_ASSERT_EQUAL(m.context, 6); // (6 / 2) · (4 / 2) patches
    CU_ASSERT_EQUAL(m.patch_dim, 8);
    CU_ASSERT_EQUAL(m.classes, 3);
    CU_ASSERT_EQUAL(m.causal, 0);
    size_t d = 8, f = 32;
    size_t block = 4 * d + 4 * (d * d + d) + (f * d + f) + (d * f + d);
    CU_ASSERT_EQUAL(m.n_params, (8 * d + d) + 6 * d + 2 * block + 2 * d + (3 * d + 3));
    CU_ASSERT_EQUAL(m.head_b + 3, m.n_params);
    rl_transformer_free(&m);
    struct {
        const char *spec, *says;
    } bad[] = {
        {"vit:1x28x28-P5-L1-D8-H2-C10", "do not tile"},
        {"vit:1x28x28-P7-L1-D10-H4-C10", "not divisible by 4 heads"},
        {"vit:1x28x28-P7-L1-D8-H2-C1", "at least 2 classes"},
        {"vit:1x28x28-P7-L1-D8-H2", "expected the classes as C<1..65536> but the spec ends"},
        {"vit:1x28-P7-L1-D8-H2-C10", "image shape"},
        {"vit:1x28x28-P7-L1-D8-H2-C10-X", "expected the classes as C<1..65536> at \"C10-X\""},
        {"vit:1x28x28-P7-L1-D16-H2-C10-", "expected the classes as C<1..65536> at \"C10-\""},
        {"vit:1x28x28-P0-L1-D8-H2-C10", "expected the patch size as P<1..4096> at \"P0-L1"},
        {"vit:1x128x128-P1-L1-D8-H2-C10", "at most 4096 patches"},
        {"gpt:L1-D8-H2-T4", "not a vision transformer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT(rl_vit_init(&m, bad[i].spec) == RL_ERR);
        CU_ASSERT(strstr(rl_error_message(), bad[i].says) != NULL);
        CU_ASSERT(rl_error_hint() != NULL);
        CU_ASSERT(m.params == NULL);
    }
}

#define VIT_SPEC "vit:2x6x4-P2-L2-D8-H2-C3"
#define VIT_IMAGE 48 /* 2 x 6 x 4 */
#define VIT_CLASSES 3

typedef struct {
    rl_transformer m;
    rl_transformer_ws ws;
    int n;
    float x[3 * VIT_IMAGE], d_logits[3 * VIT_CLASSES];
    int32_t y[3];
} vit_problem;

static double vit_loss(void *ctx) {
    vit_problem *p = ctx;
    const float *logits = rl_vit_forward(&p->m, &p->ws, p->x, p->n);
    return rl_loss_softmax_ce(logits, p->y, NULL, p->n, VIT_CLASSES, 0.0f, NULL, NULL);
}

/* VIT_SPEC with random parameters (larger than the initialization's) on n random images. */
static void vit_setup(vit_problem *p, int n) {
    CU_ASSERT_FATAL(rl_vit_init(&p->m, VIT_SPEC) == RL_OK);
    CU_ASSERT_FATAL(rl_transformer_ws_init(&p->ws, &p->m, 3, RL_TF_TRAINING) == RL_OK);
    rl_transformer_init_params(&p->m, 5);
    fill(p->m.params, p->m.n_params, 40, -0.4f, 0.4f);
    for (int l = 0; l < p->m.layers; l++) {
        fill(p->m.params + p->m.blocks[l].ln1_g, 8, 41 + l, 0.7f, 1.3f);
        fill(p->m.params + p->m.blocks[l].ln2_g, 8, 43 + l, 0.7f, 1.3f);
    }
    fill(p->m.params + p->m.lnf_g, 8, 45, 0.7f, 1.3f);
    p->n = n;
    fill(p->x, (size_t)n * VIT_IMAGE, 46, 0.0f, 1.0f);
    for (int i = 0; i < n; i++)
        p->y[i] = (int32_t)((i * 2 + 1) % VIT_CLASSES);
}

static void vit_free(vit_problem *p) {
    rl_transformer_ws_free(&p->ws);
    rl_transformer_free(&p->m);
}

/* The gradients of the last forward's mean loss: the parameters' into a copy (returned), the
 * image's into d_x when not NULL. */
static float *vit_gradients(vit_problem *p, float *d_x) {
    const float *logits = rl_vit_forward_train(&p->m, &p->ws, p->x, p->n);
    rl_loss_softmax_ce(logits, p->y, NULL, p->n, VIT_CLASSES, 1.0f, p->d_logits, NULL);
    rl_transformer_zero_grads(&p->m);
    rl_vit_backward(&p->m, &p->ws, p->d_logits, p->n, p->m.grads, d_x);
    float *grads = malloc(sizeof(float) * p->m.n_params);
    memcpy(grads, p->m.grads, sizeof(float) * p->m.n_params);
    return grads;
}

/* Tokens are W_p · patch + b_p + pos with the patch read plainly from the image (channel, row,
 * column), the logits are W_h · mean_t LN_f(x_t) + b_h over the final layer norm's outputs, and
 * attention is bidirectional. */
static void test_vit_definition(void) {
    static vit_problem p;
    vit_setup(&p, 2);
    const float *logits = rl_vit_forward_train(&p.m, &p.ws, p.x, 2); // keeps block[0].x, the tokens
    const float *w = p.m.params;
    double worst_token = 0.0, worst_logit = 0.0;
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < 6; t++) { // patch t at rows 2·(t / 2), columns 2·(t % 2)
            for (int j = 0; j < 8; j++) {
                double v = (double)w[p.m.patch_b + j] + w[p.m.pos_emb + (size_t)t * 8 + j];
                for (int c = 0; c < 2; c++)
                    for (int a = 0; a < 2; a++)
                        for (int b = 0; b < 2; b++)
                            v += (double)w[p.m.patch_w + (size_t)j * 8 + c * 4 + a * 2 + b] *
                                 p.x[s * VIT_IMAGE + c * 24 + (2 * (t / 2) + a) * 4 + 2 * (t % 2) +
                                     b];
                double got = p.ws.block[0].x[((size_t)s * 6 + t) * 8 + j];
                worst_token = fmax(worst_token, fabs(got - v));
            }
        }
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < VIT_CLASSES; k++) {
            double v = w[p.m.head_b + k];
            for (int j = 0; j < 8; j++) {
                double mean = 0.0;
                for (int t = 0; t < 6; t++)
                    mean += p.ws.lnf[((size_t)s * 6 + t) * 8 + j] / 6.0;
                v += (double)w[p.m.head_w + (size_t)k * 8 + j] * mean;
            }
            worst_logit = fmax(worst_logit, fabs(logits[s * VIT_CLASSES + k] - v));
        }
    CU_ASSERT(worst_token < 1e-5);
    CU_ASSERT(worst_logit < 1e-5);
    // bidirectional: the first token's output sees the last patch (pixel (5, 3) of channel 1)
    float first[8];
    memcpy(first, p.ws.lnf, sizeof first);
    p.x[24 + 5 * 4 + 3] += 0.5f;
    rl_vit_forward(&p.m, &p.ws, p.x, 2);
    CU_ASSERT(memcmp(first, p.ws.lnf, sizeof first) != 0);
    vit_free(&p);
}

/* The patch embedding's W_p and b_p and the image itself against finite differences. */
static void test_vit_patch_gradients(void) {
    static vit_problem p;
    vit_setup(&p, 2);
    float d_x[2 * VIT_IMAGE];
    float *grads = vit_gradients(&p, d_x);
    size_t patch = p.m.pos_emb - p.m.patch_w; // W_p then b_p
    CU_ASSERT(rl_test_check_grads(p.m.params + p.m.patch_w, grads + p.m.patch_w, patch, vit_loss,
                                  &p, FD_STEP) > 1e-2);
    CU_ASSERT(rl_test_check_grads(p.x, d_x, 2 * VIT_IMAGE, vit_loss, &p, FD_STEP) > 1e-2);
    free(grads);
    vit_free(&p);
}

/* The final layer norm (whose outputs are pooled) and the head against finite differences. */
static void test_vit_pool_head_gradients(void) {
    static vit_problem p;
    vit_setup(&p, 3);
    float *grads = vit_gradients(&p, NULL);
    CU_ASSERT(rl_test_check_grads(p.m.params + p.m.lnf_g, grads + p.m.lnf_g,
                                  p.m.n_params - p.m.lnf_g, vit_loss, &p, FD_STEP) > 1e-2);
    free(grads);
    vit_free(&p);
}

/* Every parameter of the ViT against finite differences. */
static void test_vit_model_gradients(void) {
    static vit_problem p;
    vit_setup(&p, 2);
    float *grads = vit_gradients(&p, NULL);
    CU_ASSERT(rl_test_check_grads(p.m.params, grads, p.m.n_params, vit_loss, &p, FD_STEP) > 1e-2);
    free(grads);
    vit_free(&p);
}

/* An image's logits, and its share of the parameters' gradient, have the same bits alone as in a
 * chunk of three. */
static void test_vit_chunk_independence(void) {
    static vit_problem p;
    vit_setup(&p, 3);
    const float *all = rl_vit_forward(&p.m, &p.ws, p.x, 3);
    float middle[VIT_CLASSES];
    memcpy(middle, all + VIT_CLASSES, sizeof middle);
    const float *alone = rl_vit_forward(&p.m, &p.ws, p.x + VIT_IMAGE, 1);
    CU_ASSERT(memcmp(middle, alone, sizeof middle) == 0);
    vit_free(&p);
}

/* The ViT's forward that keeps nothing, on a forward-only workspace, has the training forward's
 * logits bit for bit. */
static void test_vit_forward_only(void) {
    static vit_problem p;
    vit_setup(&p, 3);
    rl_transformer_ws fwd;
    CU_ASSERT_FATAL(rl_transformer_ws_init(&fwd, &p.m, 3, RL_TF_FORWARD_ONLY) == RL_OK);
    float kept[3 * VIT_CLASSES];
    memcpy(kept, rl_vit_forward_train(&p.m, &p.ws, p.x, 3), sizeof kept);
    CU_ASSERT(memcmp(kept, rl_vit_forward(&p.m, &fwd, p.x, 3), sizeof kept) == 0);
    rl_transformer_ws_free(&fwd);
    vit_free(&p);
}

/* A vit: spec behind rl_model: the same logits and input gradient as the encoder's own, an image
 * input shape for the data checks, parameters in the model's one arena, and LoRA's targets. */
static void test_vit_in_model(void) {
    static vit_problem p;
    vit_setup(&p, 2);
    rl_model model;
    rl_workspace ws;
    CU_ASSERT_FATAL(rl_model_init(&model, VIT_SPEC) == RL_OK);
    CU_ASSERT_FATAL(rl_workspace_init(&ws, &model, 2) == RL_OK);
    CU_ASSERT(rl_model_is_vit(&model));
    CU_ASSERT_EQUAL(model.n_params, p.m.n_params);
    CU_ASSERT_EQUAL(model.in_dim, VIT_IMAGE);
    CU_ASSERT_EQUAL(model.out_dim, VIT_CLASSES);
    int c, h, w;
    CU_ASSERT(rl_model_input_image(&model, &c, &h, &w) == 1 && c == 2 && h == 6 && w == 4);
    memcpy(model.params, p.m.params, sizeof(float) * p.m.n_params);
    const float *logits = rl_model_forward(&model, &ws, p.x, 2);
    const float *own = rl_vit_forward(&p.m, &p.ws, p.x, 2);
    CU_ASSERT(memcmp(logits, own, sizeof(float) * 2 * VIT_CLASSES) == 0);
    float d_x[2 * VIT_IMAGE], d_own[2 * VIT_IMAGE];
    float *grads = vit_gradients(&p, d_own);
    rl_model_forward(&model, &ws, p.x, 2);
    rl_model_zero_grads(&model);
    rl_model_input_grad(&model, &ws, p.d_logits, 2, d_x);
    CU_ASSERT(memcmp(d_x, d_own, sizeof d_x) == 0);
    size_t nonzero = 0;
    for (size_t i = 0; i < model.n_params; i++)
        nonzero += model.grads[i] != 0.0f;
    CU_ASSERT(nonzero == 0); // the input gradient leaves the parameters' alone
    rl_model_backward(&model, &ws, p.d_logits, 2);
    CU_ASSERT(memcmp(model.grads, grads, sizeof(float) * model.n_params) == 0);
    // LoRA on a ViT: each block's q, v, fc1, fc2, then the head
    rl_lora lora;
    CU_ASSERT_FATAL(rl_lora_init(&lora, &model, 2, 3) == RL_OK);
    CU_ASSERT_EQUAL(lora.n_adapted, 4 * 2 + 1);
    CU_ASSERT(lora.adapters[1].target.w_off == model.vit.blocks[0].wv);
    CU_ASSERT(lora.adapters[6].target.w_off == model.vit.blocks[1].w1 &&
              lora.adapters[6].target.rows == 32 && lora.adapters[6].target.cols == 8);
    CU_ASSERT(lora.adapters[8].target.w_off == model.vit.head_w &&
              lora.adapters[8].target.rows == VIT_CLASSES && lora.adapters[8].layer == -1);
    rl_lora_free(&lora);
    free(grads);
    rl_workspace_free(&ws);
    rl_model_free(&model);
    vit_free(&p);
}

static const rl_test tests[] = {
    {"gpt: spec grammar, sizes, matrices, refused specs", test_spec_grammar},
    {"layer norm gradients match finite differences", test_layernorm_gradients},
    {"GELU values and gradient", test_gelu},
    {"GELU backward from the kept slopes has the bits of tanh recomputed",
     test_gelu_kept_slope_bits},
    {"attention equals softmax(QK^T/sqrt(d) + mask) V", test_attention_definition},
    {"causal mask hides later positions", test_attention_mask},
    {"attention gradients match finite differences", test_attention_gradients},
    {"every transformer parameter gradient matches finite differences", test_model_gradients},
    {"the forward equals a plain pre-norm decoder in double", test_forward_reference},
    {"LoRA on q and v: only those change, A and B gradients match finite differences",
     test_lora_on_attention},
    {"LoRA on fc1 and fc2: only those change, A and B gradients match finite differences",
     test_lora_on_mlp},
    {"LoRA target lists: kinds in the model's order; unknown, repeated, empty refused",
     test_lora_target_lists},
    {"a sequence's logits do not depend on its chunk", test_chunk_independence},
    {"a forward keeping nothing (forward-only workspace) has the training forward's bits",
     test_forward_only_workspace},
    {"the logits of selected rows (shared prefixes, last block at those rows) have the full "
     "forward's bits",
     test_forward_rows},
    {"vit: spec grammar, sizes, refused specs", test_vit_spec},
    {"ViT tokens are W_p patch + b_p + pos, logits W_h mean(LN_f) + b_h", test_vit_definition},
    {"ViT patch embedding and input gradients match finite differences", test_vit_patch_gradients},
    {"ViT final norm, mean pooling and head gradients match finite differences",
     test_vit_pool_head_gradients},
    {"every ViT parameter gradient matches finite differences", test_vit_model_gradients},
    {"an image's ViT logits do not depend on its chunk", test_vit_chunk_independence},
    {"a ViT forward keeping nothing has the training forward's bits", test_vit_forward_only},
    {"a vit: spec behind rl_model: same logits, gradients, input gradient, LoRA targets",
     test_vit_in_model},
    {NULL, NULL},
};
RL_TEST_SUITE("transformer", tests)
