/* Transformer models ("gpt:" and "vit:" specs): spec parsing, the arena layout, initialization,
 * forward and backward of embeddings (tokens, or a ViT's image patches), layer norm, multi-head
 * attention, the GELU MLP, the tied LM head and a ViT's mean pooling and class head
 * (see transformer.h). Every product is the exact GEMM; per-row sums (layer-norm statistics,
 * softmax) are in double in a fixed order. */
#include "src/nn/transformer.h"

#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/core/rng.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPT_PREFIX "gpt:"
#define SPEC_HINT                                                                                  \
    "write gpt:L<layers>-D<width>-H<heads>-T<context>, e.g. gpt:L2-D128-H4-T64 (optionally "       \
    "V<vocab>- first, e.g. gpt:V1024-L2-D128-H4-T64, to pin the tokenizer's vocabulary)"
#define VIT_PREFIX "vit:"
#define VIT_HINT                                                                                   \
    "write vit:<C>x<H>x<W>-P<patch>-L<layers>-D<width>-H<heads>-C<classes>, e.g. "                 \
    "vit:1x28x28-P7-L2-D64-H4-C10 for Fashion-MNIST"
#define MAX_WIDTH 8192
#define MAX_CONTEXT 4096
#define INIT_STD 0.02f

/* Reads "<letter><value>" at *p, value in 1..max, then the '-' before the next field or the
 * spec's end (only the end after the last field); otherwise fails naming the field, its range
 * and where. */
static int spec_field(const char *spec, const char **p, char letter, const char *name, long max,
                      int last, long *value, const char *hint) {
    const char *q = *p;
    long v = 0;
    int ok = *q == letter && q[1] >= '0' && q[1] <= '9';
    for (q++; ok && *q >= '0' && *q <= '9'; q++)
        ok = (v = v * 10 + (*q - '0')) <= max;
    ok = ok && v >= 1 && (*q == '\0' || (*q == '-' && !last));
    if (!ok)
        return rl_fail("model spec \"%s\": expected the %s as %c<1..%ld> %s%s%s", hint, spec, name,
                       letter, max, **p ? "at \"" : "but the spec ends", *p, **p ? "\"" : "");
    *p = *q == '-' ? q + 1 : q; /* at the end, the next field says the spec ends */
    *value = v;
    return 0;
}

static int allocate(rl_transformer *m);

/* Lays out the arena for the parsed sizes. */
static void layout(rl_transformer *m) {
    size_t d = (size_t)m->width, f = (size_t)m->hidden, at = 0;
    m->tok_emb = at;
    at += (size_t)m->vocab * d;
    m->patch_w = at; /* a ViT's patch embedding (a decoder's vocab · d above) */
    m->patch_b = at + d * (size_t)m->patch_dim;
    at += m->classes ? d * (size_t)m->patch_dim + d : 0;
    m->pos_emb = at;
    at += (size_t)m->context * d;
    for (int l = 0; l < m->layers; l++) {
        rl_tf_block *b = &m->blocks[l];
        size_t *dd_offsets[] = {&b->wq, &b->wk, &b->wv, &b->wo};
        size_t *bias_offsets[] = {&b->bq, &b->bk, &b->bv, &b->bo};
        b->ln1_g = at;
        b->ln1_b = at + d;
        at += 2 * d;
        for (int j = 0; j < 4; j++) {
            *dd_offsets[j] = at;
            *bias_offsets[j] = at + d * d;
            at += d * d + d;
        }
        b->ln2_g = at;
        b->ln2_b = at + d;
        at += 2 * d;
        b->w1 = at;
        b->b1 = at + f * d;
        at += f * d + f;
        b->w2 = at;
        b->b2 = at + d * f;
        at += d * f + d;
    }
    m->lnf_g = at;
    m->lnf_b = at + d;
    at += 2 * d;
    m->head_w = at; /* a ViT's class head */
    m->head_b = at + (size_t)m->classes * d;
    m->n_params = at + (size_t)m->classes * (d + 1);
}

int rl_transformer_init(rl_transformer *m, const char *spec, int vocab) {
    memset(m, 0, sizeof *m);
    if (!spec || strncmp(spec, GPT_PREFIX, strlen(GPT_PREFIX)) != 0)
        return rl_fail("model spec \"%s\" is not a transformer", SPEC_HINT, spec ? spec : "");
    if (strlen(spec) >= sizeof m->spec)
        return rl_fail("model spec \"%s\" is longer than %zu characters", SPEC_HINT, spec,
                       sizeof m->spec - 1);
    const char *p = spec + strlen(GPT_PREFIX);
    long v = vocab, layers, width, heads, context;
    if ((*p == 'V' && spec_field(spec, &p, 'V', "vocabulary", 1 << 24, 0, &v, SPEC_HINT) < 0) ||
        spec_field(spec, &p, 'L', "layers", RL_TF_MAX_LAYERS, 0, &layers, SPEC_HINT) < 0 ||
        spec_field(spec, &p, 'D', "width", MAX_WIDTH, 0, &width, SPEC_HINT) < 0 ||
        spec_field(spec, &p, 'H', "heads (at most the width)", width, 0, &heads, SPEC_HINT) < 0 ||
        spec_field(spec, &p, 'T', "context", MAX_CONTEXT, 1, &context, SPEC_HINT) < 0)
        return RL_ERR;
    if (width % heads != 0)
        return rl_fail("model spec \"%s\": width %ld is not divisible by %ld heads",
                       "choose H dividing D, e.g. D128-H4", spec, width, heads);
    if (v != vocab)
        return rl_fail("model spec \"%s\" pins a vocabulary of %ld tokens; the tokenizer has %d",
                       "drop V<vocab> from the spec (the tokenizer's is used), or set "
                       "text.vocab_size to match",
                       spec, v, vocab);
    if (vocab < 2)
        return rl_fail("a transformer needs a vocabulary of at least 2 tokens (got %d)",
                       "learn a tokenizer first", vocab);
    memcpy(m->spec, spec, strlen(spec) + 1);
    m->vocab = vocab;
    m->layers = (int)layers;
    m->width = (int)width;
    m->heads = (int)heads;
    m->context = (int)context;
    m->causal = 1;
    return allocate(m);
}

int rl_vit_init(rl_transformer *m, const char *spec) {
    memset(m, 0, sizeof *m);
    if (!spec || strncmp(spec, VIT_PREFIX, strlen(VIT_PREFIX)) != 0)
        return rl_fail("model spec \"%s\" is not a vision transformer", VIT_HINT, spec ? spec : "");
    if (strlen(spec) >= sizeof m->spec)
        return rl_fail("model spec \"%s\" is longer than %zu characters", VIT_HINT, spec,
                       sizeof m->spec - 1);
    const char *p = spec + strlen(VIT_PREFIX);
    long dims[3], patch, layers, width, heads, classes;
    for (int i = 0; i < 3; i++) {
        long v = 0;
        const char *start = p;
        for (; *p >= '0' && *p <= '9' && v <= MAX_CONTEXT; p++)
            v = v * 10 + (*p - '0');
        if (p == start || v < 1 || v > MAX_CONTEXT || *p != (i < 2 ? 'x' : '-'))
            return rl_fail("model spec \"%s\": expected the image shape CxHxW (each 1..%d) at "
                           "\"%s\"",
                           VIT_HINT, spec, MAX_CONTEXT, start);
        dims[i] = v;
        p++;
    }
    if (spec_field(spec, &p, 'P', "patch size", MAX_CONTEXT, 0, &patch, VIT_HINT) < 0 ||
        spec_field(spec, &p, 'L', "layers", RL_TF_MAX_LAYERS, 0, &layers, VIT_HINT) < 0 ||
        spec_field(spec, &p, 'D', "width", MAX_WIDTH, 0, &width, VIT_HINT) < 0 ||
        spec_field(spec, &p, 'H', "heads (at most the width)", width, 0, &heads, VIT_HINT) < 0 ||
        spec_field(spec, &p, 'C', "classes", 1 << 16, 1, &classes, VIT_HINT) < 0)
        return RL_ERR;
    if (dims[1] % patch != 0 || dims[2] % patch != 0)
        return rl_fail("model spec \"%s\": patches of %ld x %ld do not tile images of %ld x %ld",
                       "choose P dividing the image's height and width, e.g. P7 or P4 for "
                       "28 x 28",
                       spec, patch, patch, dims[1], dims[2]);
    if (width % heads != 0)
        return rl_fail("model spec \"%s\": width %ld is not divisible by %ld heads",
                       "choose H dividing D, e.g. D64-H4", spec, width, heads);
    if (classes < 2)
        return rl_fail("model spec \"%s\": a classifier needs at least 2 classes (C%ld)",
                       "set C to the data's classes, e.g. C10", spec, classes);
    long tokens = (dims[1] / patch) * (dims[2] / patch);
    if (tokens > MAX_CONTEXT || dims[0] * patch * patch > MAX_WIDTH)
        return rl_fail("model spec \"%s\": %ld patches of %ld values; at most %d patches of %d",
                       "use larger patches or smaller images", spec, tokens,
                       dims[0] * patch * patch, MAX_CONTEXT, MAX_WIDTH);
    memcpy(m->spec, spec, strlen(spec) + 1);
    m->layers = (int)layers;
    m->width = (int)width;
    m->heads = (int)heads;
    m->context = (int)tokens;
    m->classes = (int)classes;
    m->image_c = (int)dims[0];
    m->image_h = (int)dims[1];
    m->image_w = (int)dims[2];
    m->patch = (int)patch;
    m->patch_dim = (int)(dims[0] * patch * patch);
    m->causal = 0;
    return allocate(m);
}

/* The arena of a parsed model (sizes set): its layout, the memory check, the zeroed arrays. */
static int allocate(rl_transformer *m) {
    m->hidden = 4 * m->width;
    const char *spec = m->spec;
    layout(m);
    if (rl_mem_check(rl_size_mul(m->n_params, 2 * sizeof(float)),
                     "model %s (%zu parameters and their gradients)", spec, m->n_params) < 0) {
        memset(m, 0, sizeof *m);
        return rl_fail_hint("use a smaller model (fewer layers, a narrower width, a smaller "
                            "vocabulary)");
    }
    m->params = rl_xcalloc(m->n_params, sizeof(float)); // (n_params)
    m->grads = rl_xcalloc(m->n_params, sizeof(float));  // (n_params)
    return 0;
}

void rl_transformer_free(rl_transformer *m) {
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    memset(m, 0, sizeof *m);
}

int rl_transformer_matrices(const rl_transformer *m, rl_tf_matrix *out) {
    static const char *const names[RL_TF_MATRICES_PER_BLOCK] = {"q", "k", "v", "o", "fc1", "fc2"};
    int d = m->width, f = m->hidden, n = 0;
    for (int l = 0; l < m->layers; l++) {
        const rl_tf_block *b = &m->blocks[l];
        size_t offsets[RL_TF_MATRICES_PER_BLOCK] = {b->wq, b->wk, b->wv, b->wo, b->w1, b->w2};
        int rows[RL_TF_MATRICES_PER_BLOCK] = {d, d, d, d, f, d};
        int cols[RL_TF_MATRICES_PER_BLOCK] = {d, d, d, d, d, f};
        for (int j = 0; j < RL_TF_MATRICES_PER_BLOCK; j++, n++) {
            snprintf(out[n].name, sizeof out[n].name, "block%d.%s", l, names[j]);
            out[n].w_off = offsets[j];
            out[n].rows = rows[j];
            out[n].cols = cols[j];
        }
    }
    return n;
}

void rl_transformer_init_params(rl_transformer *m, uint64_t seed) {
    rl_rng r = rl_rng_make(seed, RL_RNG_INIT);
    float bound = INIT_STD * sqrtf(3.0f), residual = bound / sqrtf(2.0f * (float)m->layers);
    size_t d = (size_t)m->width;
    memset(m->params, 0, m->n_params * sizeof(float));
    kern_fill_uniform(m->params + m->tok_emb, (size_t)m->vocab * d, r.key, 0, -bound, bound);
    if (m->classes) { /* a ViT's patch embedding and head: streams past the blocks' matrices */
        uint32_t past = 2 + RL_TF_MAX_LAYERS * RL_TF_MATRICES_PER_BLOCK;
        kern_fill_uniform(m->params + m->patch_w, d * (size_t)m->patch_dim, r.key, past, -bound,
                          bound);
        kern_fill_uniform(m->params + m->head_w, (size_t)m->classes * d, r.key, past + 1, -bound,
                          bound);
    }
    kern_fill_uniform(m->params + m->pos_emb, (size_t)m->context * d, r.key, 1, -bound, bound);
    rl_tf_matrix mats[RL_TF_MAX_LAYERS * RL_TF_MATRICES_PER_BLOCK];
    int n = rl_transformer_matrices(m, mats);
    for (int i = 0; i < n; i++) {
        int is_residual = i % RL_TF_MATRICES_PER_BLOCK == 3 || i % RL_TF_MATRICES_PER_BLOCK == 5;
        float b = is_residual ? residual : bound;
        kern_fill_uniform(m->params + mats[i].w_off, (size_t)mats[i].rows * mats[i].cols, r.key,
                          2 + (uint32_t)i, -b, b);
    }
    for (int l = 0; l < m->layers; l++)
        for (size_t j = 0; j < d; j++)
            m->params[m->blocks[l].ln1_g + j] = m->params[m->blocks[l].ln2_g + j] = 1.0f;
    for (size_t j = 0; j < d; j++)
        m->params[m->lnf_g + j] = 1.0f;
}

void rl_transformer_zero_grads(rl_transformer *m) {
    memset(m->grads, 0, m->n_params * sizeof(float));
}

/* ---- workspace ---- */

/* Floats of what a workspace of `kind` holds per sequence, and of its fixed scratch. */
static void ws_sizes(const rl_transformer *m, rl_tf_ws_kind kind, uint64_t *per_seq,
                     uint64_t *fixed) {
    uint64_t t = (uint64_t)m->context, d = (uint64_t)m->width, f = (uint64_t)m->hidden;
    uint64_t pd = (uint64_t)m->patch_dim;
    int training = kind == RL_TF_TRAINING;
    /* x, ln1, ln2, q, k, v, att, mid, 4 statistics, the GELU output (and its slopes, doubles),
     * the attention weights */
    uint64_t block = t * (8 * d + 4 + f + (training ? 2 * f : 0)) + (uint64_t)m->heads * t * t;
    *per_seq = (training ? (uint64_t)m->layers : 1) * block +
               t * (d + 2 + (uint64_t)m->vocab) /* lnf, its statistics, logits */ + t /* ids */ +
               t * pd + (uint64_t)m->classes + (m->classes ? d : 0) /* patches, pooled */;
    if (training) /* x_final, d_res, d_a, d_b, d_q, d_k, d_v, d_hidden, d_patches */
        *per_seq += t * (7 * d + f + pd);
    *fixed = training ? t * t : 0; /* d_probs */
}

uint64_t rl_transformer_ws_bytes(const rl_transformer *m, int max_seqs, rl_tf_ws_kind kind) {
    uint64_t per_seq, fixed;
    ws_sizes(m, kind, &per_seq, &fixed);
    return rl_size_mul(
        rl_size_add(rl_size_mul(per_seq, (uint64_t)(max_seqs > 0 ? max_seqs : 0)), fixed),
        sizeof(float));
}

static float *floats(size_t n) {
    return rl_xcalloc(n ? n : 1, sizeof(float));
}

int rl_transformer_ws_init(rl_transformer_ws *ws, const rl_transformer *m, int max_seqs,
                           rl_tf_ws_kind kind) {
    memset(ws, 0, sizeof *ws);
    if (max_seqs <= 0)
        return rl_fail("a transformer workspace needs at least 1 sequence (got %d)",
                       "set the sequences per chunk to at least 1", max_seqs);
    if (rl_mem_check(rl_transformer_ws_bytes(m, max_seqs, kind),
                     "the activations of model %s for %d sequences at a time", m->spec,
                     max_seqs) < 0)
        return rl_fail_hint("lower the sequences per chunk (train.chunk), or use a smaller "
                            "model or context");
    size_t t = (size_t)m->context, rows = (size_t)max_seqs * t, d = (size_t)m->width,
           f = (size_t)m->hidden, pd = (size_t)m->patch_dim;
    int training = kind == RL_TF_TRAINING;
    ws->max_seqs = max_seqs;
    ws->kind = kind;
    for (int l = 0; l < (training ? m->layers : 1); l++) {
        rl_tf_block_acts *a = &ws->block[l];
        a->x = floats(rows * d);
        a->ln1 = floats(rows * d);
        a->ln2 = floats(rows * d);
        a->mean1 = floats(rows);
        a->rstd1 = floats(rows);
        a->mean2 = floats(rows);
        a->rstd2 = floats(rows);
        a->q = floats(rows * d);
        a->k = floats(rows * d);
        a->v = floats(rows * d);
        a->probs = floats((size_t)max_seqs * m->heads * t * t);
        a->att = floats(rows * d);
        a->mid = floats(rows * d);
        a->gelu = floats(rows * f);
        a->gelu_slope = training ? rl_xcalloc(rows * f, sizeof(double)) : NULL;
    }
    ws->lnf = floats(rows * d);
    ws->mean_f = floats(rows);
    ws->rstd_f = floats(rows);
    ws->logits = floats(rows * (size_t)m->vocab + (size_t)max_seqs * m->classes);
    ws->ids = rl_xcalloc(rows, sizeof(int32_t));
    ws->patches = floats(rows * pd);
    ws->pooled = floats(m->classes ? (size_t)max_seqs * d : 0);
    if (!training)
        return 0;
    ws->x_final = floats(rows * d);
    ws->d_res = floats(rows * d);
    ws->d_a = floats(rows * d);
    ws->d_b = floats(rows * d);
    ws->d_hidden = floats(rows * f);
    ws->d_q = floats(rows * d);
    ws->d_k = floats(rows * d);
    ws->d_v = floats(rows * d);
    ws->d_probs = floats(t * t);
    ws->d_patches = floats(rows * pd);
    return 0;
}

void rl_transformer_ws_free(rl_transformer_ws *ws) {
    if (!ws)
        return;
    for (int l = 0; l < RL_TF_MAX_LAYERS; l++) {
        rl_tf_block_acts *a = &ws->block[l];
        float *arrays[] = {a->x, a->ln1, a->ln2, a->mean1, a->rstd1, a->mean2, a->rstd2,
                           a->q, a->k,   a->v,   a->probs, a->att,   a->mid,   a->gelu};
        for (size_t j = 0; j < sizeof arrays / sizeof arrays[0]; j++)
            free(arrays[j]);
        free(a->gelu_slope);
    }
    float *arrays[] = {ws->x_final, ws->lnf,     ws->mean_f,    ws->rstd_f, ws->logits, ws->d_res,
                       ws->d_a,     ws->d_b,     ws->d_hidden,  ws->d_q,    ws->d_k,    ws->d_v,
                       ws->d_probs, ws->patches, ws->d_patches, ws->pooled};
    for (size_t j = 0; j < sizeof arrays / sizeof arrays[0]; j++)
        free(arrays[j]);
    free(ws->ids);
    memset(ws, 0, sizeof *ws);
}

/* ---- layers ---- */

/* Layer norm runs LN_GROUP rows at a time: each row's sums stay one chain in column order (the
 * bits of the row alone) and the group's chains are independent, so the CPU overlaps them. A last,
 * partial group repeats its last row in the places left, computes their sums and stores nothing
 * of them. */
#define LN_GROUP 4

/* The rows of the group from r0 of a (rows, d) array, the last repeated past its end. */
static void ln_group(const float *a, int rows, int d, int r0, const float *row[LN_GROUP]) {
    for (int k = 0; k < LN_GROUP; k++)
        row[k] = a + (size_t)(r0 + k < rows ? r0 + k : rows - 1) * d;
}

void rl_layernorm_forward(const float *x, const float *g, const float *b, int rows, int d, float *y,
                          float *mean, float *rstd) {
    for (int r0 = 0; r0 < rows; r0 += LN_GROUP) {
        const float *xr[LN_GROUP];
        ln_group(x, rows, d, r0, xr);
        double sum[LN_GROUP] = {0.0}, sq[LN_GROUP] = {0.0}, mu[LN_GROUP];
        for (int j = 0; j < d; j++)
            for (int k = 0; k < LN_GROUP; k++)
                sum[k] += xr[k][j];
        for (int k = 0; k < LN_GROUP; k++)
            mu[k] = sum[k] / d;
        for (int j = 0; j < d; j++)
            for (int k = 0; k < LN_GROUP; k++)
                sq[k] += (xr[k][j] - mu[k]) * (xr[k][j] - mu[k]);
        for (int k = 0; k < LN_GROUP && r0 + k < rows; k++) {
            int r = r0 + k;
            float mean_r = mean[r] = (float)mu[k];
            float rstd_r = rstd[r] = (float)(1.0 / sqrt(sq[k] / d + RL_LAYERNORM_EPS));
            float *yr = y + (size_t)r * d;
            for (int j = 0; j < d; j++)
                yr[j] = g[j] * (float)(((double)xr[k][j] - mean_r) * (double)rstd_r) + b[j];
        }
    }
}

void rl_layernorm_backward(const float *x, const float *g, const float *mean, const float *rstd,
                           const float *dy, int rows, int d, float *dx, float *dg, float *db) {
    for (int r0 = 0; r0 < rows; r0 += LN_GROUP) {
        const float *xr[LN_GROUP], *dyr[LN_GROUP];
        ln_group(x, rows, d, r0, xr);
        ln_group(dy, rows, d, r0, dyr);
        double mean_r[LN_GROUP], rstd_r[LN_GROUP], sum_g[LN_GROUP] = {0.0},
                                                   sum_gx[LN_GROUP] = {0.0};
        for (int k = 0; k < LN_GROUP; k++) {
            int r = r0 + k < rows ? r0 + k : rows - 1;
            mean_r[k] = mean[r];
            rstd_r[k] = rstd[r];
        }
        for (int j = 0; j < d; j++)
            for (int k = 0; k < LN_GROUP; k++) {
                double x_hat = ((double)xr[k][j] - mean_r[k]) * rstd_r[k];
                double gj = (double)dyr[k][j] * g[j];
                sum_g[k] += gj;
                sum_gx[k] += gj * x_hat;
            }
        for (int k = 0; k < LN_GROUP && r0 + k < rows; k++) { /* row by row, as a row alone */
            double mean_g = sum_g[k] / d, mean_gx = sum_gx[k] / d;
            float *dxr = dx + (size_t)(r0 + k) * d;
            for (int j = 0; j < d; j++) {
                double x_hat = ((double)xr[k][j] - mean_r[k]) * rstd_r[k];
                if (dg)
                    dg[j] += (float)(dyr[k][j] * x_hat);
                if (db)
                    db[j] += dyr[k][j];
            }
            for (int j = 0; j < d; j++) {
                double x_hat = ((double)xr[k][j] - mean_r[k]) * rstd_r[k];
                dxr[j] = (float)(rstd_r[k] * ((double)dyr[k][j] * g[j] - mean_g - x_hat * mean_gx));
            }
        }
    }
}

#define GELU_C 0.7978845608028654 /* sqrt(2 / π) */
#define GELU_A 0.044715

/* Values per pass of rl_gelu_forward: the tanh first (kern_tanh_f64), then the arithmetic on
 * local buffers, which vectorizes (they alias nothing; y may be x). */
#define GELU_BLOCK 256

void rl_gelu_forward(const float *x, float *y, double *slope, size_t n) {
    double t[GELU_BLOCK];
    float out[GELU_BLOCK];
    for (size_t at = 0; at < n; at += GELU_BLOCK) {
        const float *xb = x + at;
        size_t m = n - at < GELU_BLOCK ? n - at : GELU_BLOCK;
        for (size_t i = 0; i < m; i++) {
            double v = xb[i];
            t[i] = GELU_C * (v + GELU_A * v * v * v);
        }
        kern_tanh_f64(t, t, m); // glibc's tanh, bit for bit, vectorized
        for (size_t i = 0; slope && i < m; i++) {
            double v = xb[i];
            slope[at + i] = 0.5 * (1.0 + t[i]) +
                            0.5 * v * (1.0 - t[i] * t[i]) * GELU_C * (1.0 + 3.0 * GELU_A * v * v);
        }
        for (size_t i = 0; i < m; i++) {
            double v = xb[i];
            out[i] = (float)(0.5 * v * (1.0 + t[i]));
        }
        memcpy(y + at, out, sizeof(float) * m);
    }
}

void rl_gelu_backward(const double *slope, const float *dy, float *dx, size_t n) {
    for (size_t i = 0; i < n; i++)
        dx[i] = (float)(dy[i] * slope[i]);
}

/* A row of n attention scores into softmax weights over its first `visible` (the rest masked:
 * weight 0). The sum is one chain in double in column order, so a row's weights do not depend on
 * how many masked columns follow. */
static void softmax_row(float *row, int visible, int n) {
    double args[MAX_CONTEXT], exps[MAX_CONTEXT]; // exp(s − max), once for the sum and the weights
    assert(n <= MAX_CONTEXT);
    float top = row[0];
    for (int j = 1; j < visible; j++)
        top = row[j] > top ? row[j] : top;
    args[0] = (double)row[0] - top; // every row sees at least its first position
    for (int j = 1; j < visible; j++)
        args[j] = (double)row[j] - top;
    kern_exp_f64(args, exps, (size_t)visible); // glibc's bits, vectorized
    double sum = 0.0;
    for (int j = 0; j < visible; j++)
        sum += exps[j];
    for (int j = 0; j < visible; j++)
        row[j] = (float)(exps[j] / sum);
    for (int j = visible; j < n; j++)
        row[j] = 0.0f; // masked: softmax weight of −∞
}

void rl_attention_forward(const float *q, const float *k, const float *v, int n_seq, int len, int d,
                          int heads, int causal, float *probs, float *out) {
    int dh = d / heads;
    float scale = 1.0f / sqrtf((float)dh);
    for (int s = 0; s < n_seq; s++)
        for (int h = 0; h < heads; h++) {
            size_t at = (size_t)s * len * d + (size_t)h * dh;       // head h of sequence s
            float *p = probs + ((size_t)s * heads + h) * len * len; // (len, len)
            kern_sgemm(0, 1, len, len, dh, scale, q + at, d, k + at, d, 0.0f, p, len);
            for (int i = 0; i < len; i++)
                softmax_row(p + (size_t)i * len, causal ? i + 1 : len, len);
            kern_sgemm(0, 0, len, dh, len, 1.0f, p, len, v + at, d, 0.0f, out + at, d);
        }
}

void rl_attention_backward(const float *q, const float *k, const float *v, const float *probs,
                           const float *d_out, int n_seq, int len, int d, int heads, float *d_q,
                           float *d_k, float *d_v, float *scratch) {
    int dh = d / heads;
    float scale = 1.0f / sqrtf((float)dh);
    for (int s = 0; s < n_seq; s++)
        for (int h = 0; h < heads; h++) {
            size_t at = (size_t)s * len * d + (size_t)h * dh;
            const float *p = probs + ((size_t)s * heads + h) * len * len; // (len, len)
            // dP = dO · Vᵀ, dV = Pᵀ · dO
            kern_sgemm(0, 1, len, len, dh, 1.0f, d_out + at, d, v + at, d, 0.0f, scratch, len);
            kern_sgemm(1, 0, len, dh, len, 1.0f, p, len, d_out + at, d, 0.0f, d_v + at, d);
            // dS = P ⊙ (dP − Σ_j P dP) per row (masked entries have P = 0, so dS = 0 there)
            for (int i = 0; i < len; i++) {
                const float *pr = p + (size_t)i * len;
                float *dr = scratch + (size_t)i * len;
                double dot = 0.0;
                for (int j = 0; j < len; j++)
                    dot += (double)pr[j] * dr[j];
                for (int j = 0; j < len; j++)
                    dr[j] = (float)(pr[j] * ((double)dr[j] - dot));
            }
            // S = scale · Q Kᵀ: dQ = scale · dS · K, dK = scale · dSᵀ · Q
            kern_sgemm(0, 0, len, dh, len, scale, scratch, len, k + at, d, 0.0f, d_q + at, d);
            kern_sgemm(1, 0, len, dh, len, scale, scratch, len, q + at, d, 0.0f, d_k + at, d);
        }
}

/* y (rows, out) = x (rows, in) · Wᵀ + b, plus `residual` (rows, out) when not NULL; W is
 * block matrix `matrix` of m (m->matmul computes x · Wᵀ when set), or, for -1, a matrix outside
 * the blocks (a ViT's patch embedding and head), always on the exact GEMM. */
static void linear(const rl_transformer *m, int matrix, size_t w_off, size_t b_off, const float *x,
                   int rows, int in, int out, const float *residual, float *y) {
    const float *params = m->params;
    if (m->matmul && matrix >= 0) {
        m->matmul(m->matmul_ctx, matrix, x, rows, y);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < out; j++)
                y[(size_t)r * out + j] += params[b_off + j];
    } else {
        for (int r = 0; r < rows; r++)
            memcpy(y + (size_t)r * out, params + b_off, (size_t)out * sizeof(float));
        kern_sgemm(0, 1, rows, out, in, 1.0f, x, in, params + w_off, in, 1.0f, y, out);
    }
    for (size_t i = 0; residual && i < (size_t)rows * out; i++)
        y[i] += residual[i];
}

/* dW += dyᵀ · x, db += the column sums of dy (row by row); nothing when grads is NULL. */
static void linear_backward_params(float *grads, size_t w_off, size_t b_off, const float *x,
                                   const float *dy, int rows, int in, int out) {
    if (!grads)
        return;
    kern_sgemm(1, 0, out, in, rows, 1.0f, dy, out, x, in, 1.0f, grads + w_off, in);
    float *db = grads + b_off;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < out; j++)
            db[j] += dy[(size_t)r * out + j];
}

/* The blocks and the final layer norm, from the embeddings in ws->block[0].x to ws->lnf; a
 * training forward (train) keeps each block's activations and GELU slopes, any other runs every
 * block in block[0]'s buffers, its output over its input. */
static void blocks_forward(const rl_transformer *m, rl_transformer_ws *ws, int n_seq, int len,
                           int train) {
    int rows = n_seq * len, d = m->width, f = m->hidden;
    const float *w = m->params;
    if (train && ws->kind != RL_TF_TRAINING) {
        fprintf(stderr, "bug: a training forward of %s on a forward-only workspace\n", m->spec);
        abort();
    }
    ws->kept_rows = train ? rows : 0;
    for (int l = 0; l < m->layers; l++) {
        const rl_tf_block *b = &m->blocks[l];
        rl_tf_block_acts *a = &ws->block[train ? l : 0];
        float *next = !train ? a->x : l + 1 < m->layers ? ws->block[l + 1].x : ws->x_final;
        rl_layernorm_forward(a->x, w + b->ln1_g, w + b->ln1_b, rows, d, a->ln1, a->mean1, a->rstd1);
        const int mat = l * RL_TF_MATRICES_PER_BLOCK;
        linear(m, mat, b->wq, b->bq, a->ln1, rows, d, d, NULL, a->q);
        linear(m, mat + 1, b->wk, b->bk, a->ln1, rows, d, d, NULL, a->k);
        linear(m, mat + 2, b->wv, b->bv, a->ln1, rows, d, d, NULL, a->v);
        rl_attention_forward(a->q, a->k, a->v, n_seq, len, d, m->heads, m->causal, a->probs,
                             a->att);
        linear(m, mat + 3, b->wo, b->bo, a->att, rows, d, d, a->x, a->mid);
        rl_layernorm_forward(a->mid, w + b->ln2_g, w + b->ln2_b, rows, d, a->ln2, a->mean2,
                             a->rstd2);
        linear(m, mat + 4, b->w1, b->b1, a->ln2, rows, d, f, NULL, a->gelu);
        rl_gelu_forward(a->gelu, a->gelu, train ? a->gelu_slope : NULL, (size_t)rows * f);
        linear(m, mat + 5, b->w2, b->b2, a->gelu, rows, f, d, a->mid, next);
    }
    rl_layernorm_forward(train ? ws->x_final : ws->block[0].x, w + m->lnf_g, w + m->lnf_b, rows, d,
                         ws->lnf, ws->mean_f, ws->rstd_f);
}

/* The backward's check that the last forward kept what it needs (rows of a training forward). */
static void check_kept(const rl_transformer *m, const rl_transformer_ws *ws, int rows) {
    if (ws->kept_rows != rows) {
        fprintf(stderr,
                "bug: a backward of %s on %d rows after a forward that kept %d (a training "
                "forward, rl_transformer_forward_train or rl_vit_forward_train, must precede it)\n",
                m->spec, rows, ws->kept_rows);
        abort();
    }
}

/* From ws->d_a = dLoss/d(ws->lnf) of the last forward to ws->d_res = dLoss/d(ws->block[0].x),
 * ADDING the gradients of the blocks and the final layer norm into grads (NULL: none). */
static void blocks_backward(const rl_transformer *m, rl_transformer_ws *ws, int n_seq, int len,
                            float *grads) {
    int rows = n_seq * len, d = m->width, f = m->hidden;
    const float *w = m->params;
    float *g = grads;
    size_t n = (size_t)rows * d;
    rl_layernorm_backward(ws->x_final, w + m->lnf_g, ws->mean_f, ws->rstd_f, ws->d_a, rows, d,
                          ws->d_res, g ? g + m->lnf_g : NULL, g ? g + m->lnf_b : NULL);
    for (int l = m->layers - 1; l >= 0; l--) {
        const rl_tf_block *b = &m->blocks[l];
        rl_tf_block_acts *a = &ws->block[l];
        // the MLP, from d_res = dLoss/d(block output)
        linear_backward_params(g, b->w2, b->b2, a->gelu, ws->d_res, rows, f, d);
        kern_sgemm(0, 0, rows, f, d, 1.0f, ws->d_res, d, w + b->w2, f, 0.0f, ws->d_hidden, f);
        rl_gelu_backward(a->gelu_slope, ws->d_hidden, ws->d_hidden, (size_t)rows * f);
        linear_backward_params(g, b->w1, b->b1, a->ln2, ws->d_hidden, rows, d, f);
        kern_sgemm(0, 0, rows, d, f, 1.0f, ws->d_hidden, f, w + b->w1, d, 0.0f, ws->d_a, d);
        rl_layernorm_backward(a->mid, w + b->ln2_g, a->mean2, a->rstd2, ws->d_a, rows, d, ws->d_b,
                              g ? g + b->ln2_g : NULL, g ? g + b->ln2_b : NULL);
        for (size_t i = 0; i < n; i++)
            ws->d_res[i] += ws->d_b[i]; // now dLoss/d(mid)
        // attention
        linear_backward_params(g, b->wo, b->bo, a->att, ws->d_res, rows, d, d);
        kern_sgemm(0, 0, rows, d, d, 1.0f, ws->d_res, d, w + b->wo, d, 0.0f, ws->d_a, d);
        rl_attention_backward(a->q, a->k, a->v, a->probs, ws->d_a, n_seq, len, d, m->heads, ws->d_q,
                              ws->d_k, ws->d_v, ws->d_probs);
        linear_backward_params(g, b->wq, b->bq, a->ln1, ws->d_q, rows, d, d);
        linear_backward_params(g, b->wk, b->bk, a->ln1, ws->d_k, rows, d, d);
        linear_backward_params(g, b->wv, b->bv, a->ln1, ws->d_v, rows, d, d);
        kern_sgemm(0, 0, rows, d, d, 1.0f, ws->d_q, d, w + b->wq, d, 0.0f, ws->d_b, d);
        kern_sgemm(0, 0, rows, d, d, 1.0f, ws->d_k, d, w + b->wk, d, 1.0f, ws->d_b, d);
        kern_sgemm(0, 0, rows, d, d, 1.0f, ws->d_v, d, w + b->wv, d, 1.0f, ws->d_b, d);
        rl_layernorm_backward(a->x, w + b->ln1_g, a->mean1, a->rstd1, ws->d_b, rows, d, ws->d_a,
                              g ? g + b->ln1_g : NULL, g ? g + b->ln1_b : NULL);
        for (size_t i = 0; i < n; i++)
            ws->d_res[i] += ws->d_a[i]; // now dLoss/d(block input)
    }
}

/* The decoder's forward (rl_transformer_forward, train = 0, or _train). */
static const float *decoder_forward(const rl_transformer *m, rl_transformer_ws *ws,
                                    const int32_t *ids, int n_seq, int len, int train) {
    assert(n_seq >= 1 && n_seq <= ws->max_seqs && len >= 1 && len <= m->context && !m->classes);
    int rows = n_seq * len, d = m->width;
    const float *w = m->params;
    memcpy(ws->ids, ids, sizeof(int32_t) * (size_t)rows);
    float *x = ws->block[0].x; // (rows, d)
    for (int r = 0; r < rows; r++) {
        assert(ids[r] >= 0 && ids[r] < m->vocab);
        const float *tok = w + m->tok_emb + (size_t)ids[r] * d;
        const float *pos = w + m->pos_emb + (size_t)(r % len) * d;
        for (int j = 0; j < d; j++)
            x[(size_t)r * d + j] = tok[j] + pos[j];
    }
    blocks_forward(m, ws, n_seq, len, train);
    // tied head: logits = LN_f(x) · Eᵀ
    kern_sgemm(0, 1, rows, m->vocab, d, 1.0f, ws->lnf, d, w + m->tok_emb, d, 0.0f, ws->logits,
               m->vocab);
    return ws->logits;
}

const float *rl_transformer_forward(const rl_transformer *m, rl_transformer_ws *ws,
                                    const int32_t *ids, int n_seq, int len) {
    return decoder_forward(m, ws, ids, n_seq, len, 0);
}

const float *rl_transformer_forward_train(const rl_transformer *m, rl_transformer_ws *ws,
                                          const int32_t *ids, int n_seq, int len) {
    return decoder_forward(m, ws, ids, n_seq, len, 1);
}

/* ---- the forward of selected logits (rl_transformer_forward_rows) ---- */

/* Which rows a selective forward computes. Sequence s needs its positions 0..last[s]; position t
 * of s is the same row as position t of s − 1 when both sequences agree on tokens 0..t (causal
 * attention: the row's activations are then identical) and s − 1 computes that far, so each
 * sequence computes only its positions from the first it does not share on. Compact row r is
 * (seq[r], pos[r]), every sequence's rows contiguous and in order; at[s · len + t] is the compact
 * row of position t of s. The wanted rows (first[s]..last[s] of each s) are the compact rows
 * picked[0..n_picked), ascending; slot[r] is r's index among them. */
typedef struct {
    int rows, n_picked;
    int *seq, *pos, *at, *picked, *slot;
} row_plan;

static void plan_rows(row_plan *p, const int32_t *ids, int n_seq, int len, const int *first,
                      const int *last) {
    int total = n_seq * len;
    int *mem = rl_xmalloc(sizeof(int) * (size_t)total * 5);
    *p = (row_plan){0, 0, mem, mem + total, mem + 2 * total, mem + 3 * total, mem + 4 * total};
    for (int s = 0; s < n_seq; s++) {
        const int32_t *row = ids + (size_t)s * len;
        int own = 0;
        if (s > 0) // tokens in common with the previous sequence, among the rows it computes
            while (own <= last[s - 1] && own <= last[s] && row[own] == row[own - len])
                own++;
        for (int t = 0; t <= last[s]; t++) {
            if (t < own) {
                p->at[s * len + t] = p->at[(s - 1) * len + t];
                continue;
            }
            p->seq[p->rows] = s;
            p->pos[p->rows] = t;
            p->at[s * len + t] = p->rows++;
        }
    }
    enum { NOT_WANTED = -2, WANTED = -1 };
    for (int r = 0; r < p->rows; r++)
        p->slot[r] = NOT_WANTED;
    for (int s = 0; s < n_seq; s++)
        for (int t = first[s]; t <= last[s]; t++)
            p->slot[p->at[s * len + t]] = WANTED;
    for (int r = 0; r < p->rows; r++)
        if (p->slot[r] == WANTED) {
            p->slot[r] = p->n_picked;
            p->picked[p->n_picked++] = r;
        }
}

/* Causal attention of query rows q (n, d), row i being compact row rows[i] of the plan (rows
 * ascending), over the keys and values of the plan's compact rows k, v (plan->rows, d), for
 * sequences of len tokens: each query sees positions 0..its own of its sequence, with the bits of
 * rl_attention_forward (the same dot products and softmax chains; the masked weights are zeros
 * at the end of each chain). scratch holds len · (2 · d + len) floats. */
static void attend_rows(const row_plan *p, const int *rows, int n, const float *q, const float *k,
                        const float *v, int d, int heads, int len, float *scratch, float *out) {
    int dh = d / heads;
    float scale = 1.0f / sqrtf((float)dh);
    float *keys = scratch, *values = keys + (size_t)len * d, *probs = values + (size_t)len * d;
    for (int i0 = 0, i1; i0 < n; i0 = i1) { // queries of one sequence: i0..i1
        int s = p->seq[rows[i0]];
        for (i1 = i0 + 1; i1 < n && p->seq[rows[i1]] == s;)
            i1++;
        int cols = p->pos[rows[i1 - 1]] + 1, nq = i1 - i0;
        for (int t = 0; t < cols; t++) {
            size_t r = (size_t)p->at[s * len + t];
            memcpy(keys + (size_t)t * d, k + r * d, sizeof(float) * (size_t)d);
            memcpy(values + (size_t)t * d, v + r * d, sizeof(float) * (size_t)d);
        }
        for (int h = 0; h < heads; h++) {
            size_t at = (size_t)i0 * d + (size_t)h * dh;
            kern_sgemm(0, 1, nq, cols, dh, scale, q + at, d, keys + h * dh, d, 0.0f, probs, cols);
            for (int i = 0; i < nq; i++)
                softmax_row(probs + (size_t)i * cols, p->pos[rows[i0 + i]] + 1, cols);
            kern_sgemm(0, 0, nq, dh, cols, 1.0f, probs, cols, values + h * dh, d, 0.0f, out + at,
                       d);
        }
    }
}

/* Moves rows picked[0..n) (ascending) of a (rows, d) array to its first n rows. */
static void compact(float *a, const int *picked, int n, int d) {
    for (int i = 0; i < n; i++)
        if (picked[i] != i)
            memcpy(a + (size_t)i * d, a + (size_t)picked[i] * d, sizeof(float) * (size_t)d);
}

const float *rl_transformer_forward_rows(const rl_transformer *m, rl_transformer_ws *ws,
                                         const int32_t *ids, int n_seq, int len, const int *first,
                                         const int *last) {
    assert(n_seq >= 1 && n_seq <= ws->max_seqs && len >= 1 && len <= m->context && !m->classes &&
           m->causal);
    int d = m->width, f = m->hidden, v = m->vocab;
    for (int s = 0; s < n_seq; s++)
        assert(last[s] < len && (last[s] < 0 || (first[s] >= 0 && first[s] <= last[s])));
    const float *w = m->params;
    ws->kept_rows = 0;
    row_plan p;
    plan_rows(&p, ids, n_seq, len, first, last);
    int n = p.n_picked;
    assert(n >= 1);
    size_t attention_scratch = (size_t)len * (size_t)(2 * d + len);
    float *scratch = rl_xmalloc(sizeof(float) * (attention_scratch + (size_t)n * v)),
          *logits = scratch + attention_scratch;
    int *every = rl_xmalloc(sizeof(int) * (size_t)(p.rows > 0 ? p.rows : 1));
    for (int r = 0; r < p.rows; r++)
        every[r] = r;
    rl_tf_block_acts *a = &ws->block[0]; // every block in block 0's buffers, as a forward-only run
    for (int r = 0; r < p.rows; r++) {
        int32_t id = ids[p.seq[r] * len + p.pos[r]];
        assert(id >= 0 && id < v);
        const float *tok = w + m->tok_emb + (size_t)id * d,
                    *pos = w + m->pos_emb + (size_t)p.pos[r] * d;
        for (int j = 0; j < d; j++)
            a->x[(size_t)r * d + j] = tok[j] + pos[j];
    }
    for (int l = 0; l < m->layers; l++) {
        const rl_tf_block *b = &m->blocks[l];
        const int mat = l * RL_TF_MATRICES_PER_BLOCK, final = l + 1 == m->layers;
        rl_layernorm_forward(a->x, w + b->ln1_g, w + b->ln1_b, p.rows, d, a->ln1, a->mean1,
                             a->rstd1);
        linear(m, mat + 1, b->wk, b->bk, a->ln1, p.rows, d, d, NULL, a->k);
        linear(m, mat + 2, b->wv, b->bv, a->ln1, p.rows, d, d, NULL, a->v);
        // every row feeds the next block's keys and values; the last block's outputs are wanted
        // only at the picked rows
        const int *rows = final ? p.picked : every;
        int n_rows = final ? n : p.rows;
        if (final) {
            compact(a->ln1, p.picked, n, d);
            compact(a->x, p.picked, n, d);
        }
        linear(m, mat, b->wq, b->bq, a->ln1, n_rows, d, d, NULL, a->q);
        attend_rows(&p, rows, n_rows, a->q, a->k, a->v, d, m->heads, len, scratch, a->att);
        linear(m, mat + 3, b->wo, b->bo, a->att, n_rows, d, d, a->x, a->mid);
        rl_layernorm_forward(a->mid, w + b->ln2_g, w + b->ln2_b, n_rows, d, a->ln2, a->mean2,
                             a->rstd2);
        linear(m, mat + 4, b->w1, b->b1, a->ln2, n_rows, d, f, NULL, a->gelu);
        rl_gelu_forward(a->gelu, a->gelu, NULL, (size_t)n_rows * f);
        linear(m, mat + 5, b->w2, b->b2, a->gelu, n_rows, f, d, a->mid, a->x);
    }
    rl_layernorm_forward(a->x, w + m->lnf_g, w + m->lnf_b, n, d, ws->lnf, ws->mean_f, ws->rstd_f);
    kern_sgemm(0, 1, n, v, d, 1.0f, ws->lnf, d, w + m->tok_emb, d, 0.0f, logits, v);
    for (int s = 0; s < n_seq; s++)
        for (int t = first[s]; t <= last[s]; t++)
            memcpy(ws->logits + ((size_t)s * len + t) * v,
                   logits + (size_t)p.slot[p.at[s * len + t]] * v, sizeof(float) * (size_t)v);
    free(every);
    free(scratch);
    free(p.seq);
    return ws->logits;
}

void rl_transformer_backward(rl_transformer *m, rl_transformer_ws *ws, const float *d_logits,
                             int n_seq, int len) {
    assert(n_seq >= 1 && n_seq <= ws->max_seqs && len >= 1 && len <= m->context && !m->classes);
    int rows = n_seq * len, d = m->width, v = m->vocab;
    const float *w = m->params;
    float *g = m->grads;
    check_kept(m, ws, rows);
    // the head: dE += dlogitsᵀ · LN_f(x), dLN_f = dlogits · E
    kern_sgemm(1, 0, v, d, rows, 1.0f, d_logits, v, ws->lnf, d, 1.0f, g + m->tok_emb, d);
    kern_sgemm(0, 0, rows, d, v, 1.0f, d_logits, v, w + m->tok_emb, d, 0.0f, ws->d_a, d);
    blocks_backward(m, ws, n_seq, len, g);
    // the embeddings, row by row
    for (int r = 0; r < rows; r++) {
        float *tok = g + m->tok_emb + (size_t)ws->ids[r] * d;
        float *pos = g + m->pos_emb + (size_t)(r % len) * d;
        for (int j = 0; j < d; j++) {
            tok[j] += ws->d_res[(size_t)r * d + j];
            pos[j] += ws->d_res[(size_t)r * d + j];
        }
    }
}

/* ---- the vision transformer ---- */

/* The offset in an image (C, H, W) of row i of channel c of patch t (patches row by row). */
static size_t patch_row(const rl_transformer *m, int t, int c, int i) {
    int per_row = m->image_w / m->patch;
    size_t top = (size_t)(t / per_row) * m->patch, left = (size_t)(t % per_row) * m->patch;
    return ((size_t)c * m->image_h + top + (size_t)i) * m->image_w + left;
}

/* The ViT's forward (rl_vit_forward, train = 0, or _train). */
static const float *vit_forward(const rl_transformer *m, rl_transformer_ws *ws, const float *x,
                                int n, int train) {
    assert(n >= 1 && n <= ws->max_seqs && m->classes);
    int len = m->context, rows = n * len, d = m->width, pd = m->patch_dim;
    size_t image = (size_t)m->image_c * m->image_h * m->image_w;
    const float *w = m->params;
    int ps = m->patch;
    for (int r = 0; r < rows; r++) // patch (r % len) of image r / len, as (channel, row, column)
        for (int c = 0; c < m->image_c; c++)
            for (int i = 0; i < ps; i++)
                memcpy(ws->patches + (size_t)r * pd + ((size_t)c * ps + i) * ps,
                       x + (size_t)(r / len) * image + patch_row(m, r % len, c, i),
                       sizeof(float) * (size_t)ps);
    float *tokens = ws->block[0].x; // (rows, d) = patches · W_pᵀ + b_p + pos
    linear(m, -1, m->patch_w, m->patch_b, ws->patches, rows, pd, d, NULL, tokens);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < d; j++)
            tokens[(size_t)r * d + j] += w[m->pos_emb + (size_t)(r % len) * d + j];
    blocks_forward(m, ws, n, len, train);
    for (int s = 0; s < n; s++) // the mean of each image's tokens, summed in token order
        for (int j = 0; j < d; j++) {
            double sum = 0.0;
            for (int t = 0; t < len; t++)
                sum += ws->lnf[((size_t)s * len + t) * d + j];
            ws->pooled[(size_t)s * d + j] = (float)(sum / len);
        }
    linear(m, -1, m->head_w, m->head_b, ws->pooled, n, d, m->classes, NULL, ws->logits);
    return ws->logits;
}

const float *rl_vit_forward(const rl_transformer *m, rl_transformer_ws *ws, const float *x, int n) {
    return vit_forward(m, ws, x, n, 0);
}

const float *rl_vit_forward_train(const rl_transformer *m, rl_transformer_ws *ws, const float *x,
                                  int n) {
    return vit_forward(m, ws, x, n, 1);
}

void rl_vit_backward(const rl_transformer *m, rl_transformer_ws *ws, const float *d_logits, int n,
                     float *grads, float *d_x) {
    assert(n >= 1 && n <= ws->max_seqs && m->classes);
    int len = m->context, rows = n * len, d = m->width, pd = m->patch_dim, k = m->classes;
    size_t image = (size_t)m->image_c * m->image_h * m->image_w;
    const float *w = m->params;
    check_kept(m, ws, rows);
    float *d_pooled = ws->d_q; // (n, d), scratch until the blocks' backward
    linear_backward_params(grads, m->head_w, m->head_b, ws->pooled, d_logits, n, d, k);
    kern_sgemm(0, 0, n, d, k, 1.0f, d_logits, k, w + m->head_w, d, 0.0f, d_pooled, d);
    for (int r = 0; r < rows; r++) // mean pooling: each token gets 1/len of its image's gradient
        for (int j = 0; j < d; j++)
            ws->d_a[(size_t)r * d + j] = d_pooled[(size_t)(r / len) * d + j] / (float)len;
    blocks_backward(m, ws, n, len, grads);
    linear_backward_params(grads, m->patch_w, m->patch_b, ws->patches, ws->d_res, rows, pd, d);
    if (grads)
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d; j++)
                grads[m->pos_emb + (size_t)(r % len) * d + j] += ws->d_res[(size_t)r * d + j];
    if (d_x) {
        float *d_patches = ws->d_patches; // (rows, pd)
        kern_sgemm(0, 0, rows, pd, d, 1.0f, ws->d_res, d, w + m->patch_w, pd, 0.0f, d_patches, pd);
        memset(d_x, 0, sizeof(float) * image * (size_t)n);
        int ps = m->patch;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < m->image_c; c++)
                for (int i = 0; i < ps; i++) {
                    float *pixel = d_x + (size_t)(r / len) * image + patch_row(m, r % len, c, i);
                    const float *value = d_patches + (size_t)r * pd + ((size_t)c * ps + i) * ps;
                    for (int j = 0; j < ps; j++)
                        pixel[j] += value[j];
                }
    }
}
