/* Quantized MLPs and CNNs: quantization of an fp32 model, the integer forward (int8 im2col and
 * GEMM for convolutions, pools on codes) and its float reference (see qmodel.h). */
#include "src/nn/qmodel.h"
#include "kernels/int8.h"
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
#include "src/nn/layers.h"
#include "src/nn/lora.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rl_qmodel_free(rl_qmodel *q) {
    if (!q)
        return;
    free(q->frozen);
    free(q->ints);
    free(q->floats);
    free(q->trainable);
    memset(q, 0, sizeof *q);
}

static float max_abs(const float *x, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++)
        m = fmaxf(m, fabsf(x[i]));
    return m;
}

/* Scale mapping [-max, max] onto [-levels, levels]; a zero tensor gets scale 1. */
static float scale_for(float max, int levels) {
    return max > 0.0f ? max / (float)levels : 1.0f;
}

float rl_quant_scale(const float *x, size_t n, int qmax) {
    return scale_for(max_abs(x, n), qmax);
}

void rl_quant_codes(const float *x, size_t n, float scale, int qmax, int8_t *codes) {
    for (size_t i = 0; i < n; i++) {
        float v = nearbyintf(x[i] / scale);
        codes[i] = (int8_t)(v > (float)qmax ? qmax : v < (float)-qmax ? -qmax : v);
    }
}

/* Positions of a matrix layer's output per example: a conv's out_h · out_w, a dense layer's 1. */
static int positions(const rl_layer *ly) {
    return ly->kind == RL_LAYER_CONV ? ly->out_h * ly->out_w : 1;
}

/* The fan-in values (in) that output position pos of matrix layer ly reads from one example's
 * input x: a conv's patch x[ci][oy · stride + ki − pad][ox · stride + kj − pad] at
 * (ci · k + ki) · k + kj, zero outside the image; a dense layer's whole input. */
static void float_patch(const rl_layer *ly, const float *x, int pos, float *patch) {
    if (ly->kind != RL_LAYER_CONV) {
        memcpy(patch, x, sizeof(float) * (size_t)ly->in);
        return;
    }
    int k = ly->size, oy = pos / ly->out_w, ox = pos % ly->out_w;
    for (int ci = 0; ci < ly->in_c; ci++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                int iy = oy * ly->stride + ki - ly->pad, ix = ox * ly->stride + kj - ly->pad;
                int inside = iy >= 0 && iy < ly->in_h && ix >= 0 && ix < ly->in_w;
                patch[(ci * k + ki) * k + kj] =
                    inside ? x[((size_t)ci * ly->in_h + iy) * ly->in_w + ix] : 0.0f;
            }
}

/* A LoRA adapter of matrix layer ql (fp32 layer src): A's codes drawn from stream
 * 1000 + `adapted` (the adapted layer's position), the scales, and h = x·Aᵀ on the calibration
 * inputs x (calib_n, src->in) (for a conv, on every patch) to set the adapter's activation
 * scale. */
static void quantize_adapter(const rl_qmodel *q, rl_qlayer *ql, const rl_layer *src, const float *x,
                             int calib_n, rl_rng init, int adapted, float lora_range) {
    ql->a_scale = rl_lora_a_bound(ql->in) / (float)q->qmax;
    ql->b_scale = lora_range / (float)q->qmax;
    int8_t *a = q->trainable + ql->a_off;
    size_t na = (size_t)ql->rank * (size_t)ql->in;
    for (size_t i = 0; i < na; i++)
        a[i] = (int8_t)((int64_t)rl_rng_below(init, 1000u + (uint32_t)adapted, (uint32_t)i,
                                              (uint64_t)(2 * q->qmax + 1)) -
                        q->qmax);
    float *a_real = rl_xmalloc(sizeof(float) * na);
    for (size_t i = 0; i < na; i++)
        a_real[i] = (float)a[i] * ql->a_scale;
    float h_max = 0.0f;
    if (src->kind == RL_LAYER_CONV) { /* example by example: its patches (positions, in) */
        int p = positions(src);
        float *patches = rl_xmalloc(sizeof(float) * (size_t)p * (size_t)ql->in);
        float *h = rl_xmalloc(sizeof(float) * (size_t)p * (size_t)ql->rank);
        for (int i = 0; i < calib_n; i++) {
            for (int pos = 0; pos < p; pos++)
                float_patch(src, x + (size_t)i * src->in, pos, patches + (size_t)pos * ql->in);
            kern_sgemm(0, 1, p, ql->rank, ql->in, 1.0f, patches, ql->in, a_real, ql->in, 0.0f, h,
                       ql->rank);
            h_max = fmaxf(h_max, max_abs(h, (size_t)p * (size_t)ql->rank));
        }
        free(patches);
        free(h);
    } else {
        float *h = rl_xmalloc(sizeof(float) * (size_t)calib_n * (size_t)ql->rank);
        kern_sgemm(0, 1, calib_n, ql->rank, ql->in, 1.0f, x, ql->in, a_real, ql->in, 0.0f, h,
                   ql->rank);
        h_max = max_abs(h, (size_t)calib_n * (size_t)ql->rank);
        free(h);
    }
    ql->h_scale = scale_for(h_max, 127);
    for (int r = 0; r < ql->rank; r++)
        ql->h_col_scale[r] = ql->in_scale * ql->a_scale;
    free(a_real);
}

/* What an fp32 layer becomes: 1 a weight matrix, 0 an operation on codes, RL_ERR (message
 * stored) when it has no int8 version. */
static int quantizable(const rl_model *m, int l) {
    const rl_layer *ly = &m->layers[l];
    switch (ly->kind) {
    case RL_LAYER_DENSE:
    case RL_LAYER_CONV:
        return 1;
    case RL_LAYER_RELU:
    case RL_LAYER_MAXPOOL:
    case RL_LAYER_AVGPOOL:
    case RL_LAYER_GLOBALPOOL:
        return 0;
    default:
        return rl_fail("cannot quantize model \"%s\": its layer %d (%s) has no int8 version",
                       "quantize an mlp: model, or a cnn: model of conv, relu, maxpool, avgpool, "
                       "gap and fc layers (no gn, bn, drop or res blocks)",
                       m->spec, l + 1,
                       ly->kind == RL_LAYER_GROUPNORM   ? "group norm"
                       : ly->kind == RL_LAYER_BATCHNORM ? "batch norm"
                       : ly->kind == RL_LAYER_DROPOUT   ? "dropout"
                       : ly->kind == RL_LAYER_ADD       ? "a residual block"
                                                        : "not conv, pool or fc");
    }
}

int rl_qmodel_check(const rl_model *m) {
    if (rl_model_is_vit(m))
        return rl_fail("cannot quantize model \"%s\": the int8 forward covers mlp: and cnn: "
                       "models, not vision transformers",
                       "use an mlp: or cnn: model", m->spec);
    for (int l = 0; l < m->n_layers; l++)
        if (quantizable(m, l) < 0)
            return RL_ERR;
    if (m->layers[m->n_layers - 1].kind != RL_LAYER_DENSE)
        return rl_fail("cannot quantize model \"%s\": its last layer is not dense",
                       "end the model spec with an fc layer (e.g. ...-gap-fc10)", m->spec);
    return RL_OK;
}

int rl_qmodel_quantize(rl_qmodel *q, const rl_model *m, const rl_qmodel_options *opt,
                       const float *calib_x, int calib_n) {
    memset(q, 0, sizeof *q);
    int base_bits = opt->base_bits ? opt->base_bits : opt->bits;
    if (opt->bits < 2 || opt->bits > 8 || base_bits < 2 || base_bits > 8)
        return rl_fail("cannot quantize to %d bits (base %d)", "choose between 2 and 8 bits",
                       opt->bits, base_bits);
    if (opt->target == RL_QTRAIN_LORA && opt->lora_rank < 1)
        return rl_fail("LoRA rank %d", "use a rank of at least 1", opt->lora_rank);
    if (rl_qmodel_check(m) < 0)
        return RL_ERR;
    q->bits = opt->bits;
    q->qmax = (1 << (opt->bits - 1)) - 1;
    q->base_bits = base_bits;
    const int base_qmax = (1 << (base_bits - 1)) - 1;
    q->target = opt->target;
    q->in_dim = m->in_dim;
    q->out_dim = m->out_dim;

    /* Layout: one qlayer per layer, a relu after a matrix layer fused into it; count arenas. */
    size_t n_frozen = 0, n_out = 0, n_trainable = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *src = &m->layers[l];
        rl_qlayer *ql = &q->layers[q->n_layers++];
        ql->kind = src->kind;
        ql->shape = *src;
        if (!quantizable(m, l))
            continue;
        int last = l == m->n_layers - 1;
        ql->in = rl_layer_fan_in(src);
        ql->out = rl_layer_rows(src);
        ql->relu = !last && m->layers[l + 1].kind == RL_LAYER_RELU;
        size_t weights = (size_t)ql->out * (size_t)ql->in;
        if (opt->target == RL_QTRAIN_LAST && last) {
            ql->w_off = n_trainable;
            n_trainable += weights;
        } else {
            n_frozen += weights;
        }
        if (opt->target == RL_QTRAIN_LORA) {
            ql->rank = opt->lora_rank;
            ql->a_off = n_trainable;
            ql->b_off = ql->a_off + (size_t)ql->rank * (size_t)ql->in;
            n_trainable = ql->b_off + (size_t)ql->out * (size_t)ql->rank;
        }
        n_out += (size_t)ql->out + (size_t)ql->rank;
        l += ql->relu;
    }
    q->frozen = rl_xcalloc(n_frozen, 1);
    q->ints = rl_xcalloc(n_out, sizeof(int32_t)); /* biases */
    q->floats = rl_xcalloc(n_out, sizeof(float)); /* col_scale, then h_col_scale */
    q->trainable = rl_xcalloc(n_trainable, 1);
    q->n_trainable = n_trainable;

    /* Calibrate activation scales with the fp32 model. */
    rl_workspace ws;
    if (rl_workspace_init(&ws, m, calib_n) < 0) {
        rl_qmodel_free(q);
        return RL_ERR;
    }
    rl_model_forward(m, &ws, calib_x, calib_n);
    float in_scale = scale_for(max_abs(calib_x, (size_t)calib_n * (size_t)m->in_dim), 127);
    size_t frozen_at = 0, out_at = 0;
    rl_rng init = rl_rng_make(opt->seed, RL_RNG_INIT);
    for (int l = 0, d = 0, adapted = 0; l < m->n_layers; l++, d++) {
        const rl_layer *src = &m->layers[l];
        rl_qlayer *ql = &q->layers[d];
        ql->in_scale = in_scale;
        ql->out_scale = in_scale; /* pools and relu keep the scale */
        if (!quantizable(m, l))
            continue;
        size_t nw = (size_t)ql->out * (size_t)ql->in;
        const float *w = m->params + src->w_off;
        int trained_w = opt->target == RL_QTRAIN_LAST && l == m->n_layers - 1;
        const int w_qmax = trained_w ? q->qmax : base_qmax;
        ql->w_scale = rl_quant_scale(w, nw, w_qmax);
        if (!trained_w) {
            ql->w = q->frozen + frozen_at;
            frozen_at += nw;
        }
        rl_quant_codes(w, nw, ql->w_scale, w_qmax, trained_w ? q->trainable + ql->w_off : ql->w);
        ql->bias = q->ints + out_at;
        ql->col_scale = q->floats + out_at;
        ql->h_col_scale = ql->col_scale + ql->out;
        out_at += (size_t)ql->out + (size_t)ql->rank;
        float bias_scale = ql->in_scale * ql->w_scale;
        for (int j = 0; j < ql->out; j++) {
            ql->bias[j] = (int32_t)lrintf(m->params[src->b_off + (size_t)j] / bias_scale);
            ql->col_scale[j] = bias_scale;
        }
        /* Output activations (after a fused relu) of this layer: ws.act[l + 1 + relu]. */
        const float *act = ws.act[l + 1 + ql->relu];
        ql->out_scale = scale_for(max_abs(act, (size_t)calib_n * (size_t)src->out), 127);
        if (ql->rank > 0)
            quantize_adapter(q, ql, src, ws.act[l], calib_n, init, adapted++, opt->lora_range);
        in_scale = ql->out_scale;
        l += ql->relu;
    }
    rl_workspace_free(&ws);
    return 0;
}

void rl_qmodel_code_steps(const rl_qmodel *q, float *steps) {
    for (int l = 0; l < q->n_layers; l++) {
        const rl_qlayer *ql = &q->layers[l];
        size_t weights = (size_t)ql->out * (size_t)ql->in, a = (size_t)ql->rank * (size_t)ql->in;
        for (size_t i = 0; !ql->w && i < weights; i++)
            steps[ql->w_off + i] = ql->w_scale;
        for (size_t i = 0; i < a; i++)
            steps[ql->a_off + i] = ql->a_scale;
        for (size_t i = 0; i < (size_t)ql->out * (size_t)ql->rank; i++)
            steps[ql->b_off + i] = ql->b_scale;
    }
}

void rl_qworkspace_free(rl_qworkspace *ws) {
    if (!ws)
        return;
    free(ws->act_a);
    free(ws->act_b);
    free(ws->col);
    free(ws->rows);
    free(ws->h);
    free(ws->acc);
    free(ws->acc_h);
    free(ws->acc_d);
    free(ws->scratch);
    free(ws->logits);
    free(ws->ref_a);
    free(ws->ref_b);
    free(ws->ref_patch);
    memset(ws, 0, sizeof *ws);
}

static size_t max_size(size_t a, size_t b) {
    return a > b ? a : b;
}

int rl_qworkspace_init(rl_qworkspace *ws, const rl_qmodel *q, int max_batch) {
    memset(ws, 0, sizeof *ws);
    if (max_batch < 1)
        return rl_fail("workspace for %d examples", "use a batch of at least 1", max_batch);
    /* per example: the widest activation, a conv's patches, its (positions, filters) output and
     * its adapter's (positions, rank); the widest fan-in */
    size_t widest = (size_t)q->in_dim, patches = 0, rank = 1, fan_in = 1, scratch = 0;
    for (int l = 0; l < q->n_layers; l++) {
        const rl_qlayer *ql = &q->layers[l];
        widest = max_size(widest, max_size((size_t)ql->shape.in, (size_t)ql->shape.out));
        if (ql->in == 0)
            continue;
        size_t p = (size_t)positions(&ql->shape);
        if (ql->kind == RL_LAYER_CONV)
            patches = max_size(patches, p * (size_t)ql->in);
        rank = max_size(rank, p * (size_t)ql->rank);
        fan_in = max_size(fan_in, (size_t)ql->in);
        int m = (int)((size_t)max_batch * p);
        size_t shapes[3] = {kern_gemm_s8_scratch_size(m, ql->out, ql->in),
                            kern_gemm_s8_scratch_size(m, ql->rank, ql->in),
                            kern_gemm_s8_scratch_size(m, ql->out, ql->rank)};
        for (int i = 0; i < 3; i++)
            scratch = max_size(scratch, shapes[i]);
    }
    size_t b = (size_t)max_batch;
    /* act_a, act_b, rows (int8); acc, acc_d (int32); ref_a, ref_b (float); col (int8);
     * h (int8), acc_h (int32); logits */
    uint64_t per_example = rl_size_add(
        rl_size_add(rl_size_mul(widest, 3 + 2 * sizeof(int32_t) + 2 * sizeof(float)), patches),
        rl_size_add(rl_size_mul(rank, 1 + sizeof(int32_t)), sizeof(float) * (size_t)q->out_dim));
    if (rl_mem_check(rl_size_add(rl_size_mul(per_example, b), scratch),
                     "the int8 activations of a %d-layer quantized model for %d examples at a "
                     "time",
                     q->n_layers, max_batch) < 0)
        return rl_fail_hint("lower the examples per chunk or batch, or use a smaller model");
    ws->max_batch = max_batch;
    ws->act_a = rl_xmalloc(b * widest);
    ws->act_b = rl_xmalloc(b * widest);
    ws->col = rl_xmalloc(b * patches + 1);
    ws->rows = rl_xmalloc(b * widest);
    ws->h = rl_xmalloc(b * rank);
    ws->acc = rl_xmalloc(sizeof(int32_t) * b * widest);
    ws->acc_h = rl_xmalloc(sizeof(int32_t) * b * rank);
    ws->acc_d = rl_xmalloc(sizeof(int32_t) * b * widest);
    ws->scratch = rl_xmalloc(scratch);
    ws->logits = rl_xmalloc(sizeof(float) * b * (size_t)q->out_dim);
    ws->ref_a = rl_xmalloc(sizeof(float) * b * widest);
    ws->ref_b = rl_xmalloc(sizeof(float) * b * widest);
    ws->ref_patch = rl_xmalloc(sizeof(float) * fan_in);
    return 0;
}

static const int8_t *layer_weights(const rl_qlayer *ql, const int8_t *codes) {
    return ql->w ? ql->w : codes + ql->w_off;
}

/* int8 im2col of examples x (n, c, h, w) into col (n · out_h · out_w, c · k · k): row
 * (i · out_h + oy) · out_w + ox holds the patch of float_patch, code 0 outside the image. */
static void im2col_s8(const rl_layer *ly, const int8_t *x, int n, int8_t *col) {
    int k = ly->size, fan_in = rl_layer_fan_in(ly);
    for (int i = 0; i < n; i++)
        for (int oy = 0; oy < ly->out_h; oy++)
            for (int ox = 0; ox < ly->out_w; ox++) {
                int8_t *row = col + (((size_t)i * ly->out_h + oy) * ly->out_w + ox) * fan_in;
                /* the kernel columns [lo, hi) that fall inside the image */
                int x0 = ox * ly->stride - ly->pad, lo = x0 < 0 ? -x0 : 0;
                int hi = x0 + k > ly->in_w ? ly->in_w - x0 : k;
                for (int ci = 0; ci < ly->in_c; ci++) {
                    const int8_t *plane = x + (size_t)i * ly->in + (size_t)ci * ly->in_h * ly->in_w;
                    for (int ki = 0; ki < k; ki++) {
                        int iy = oy * ly->stride + ki - ly->pad;
                        int8_t *out = row + (ci * k + ki) * k;
                        if (iy < 0 || iy >= ly->in_h || lo >= hi) {
                            memset(out, 0, (size_t)k);
                            continue;
                        }
                        const int8_t *in = plane + (size_t)iy * ly->in_w + x0;
                        for (int kj = 0; kj < lo; kj++)
                            out[kj] = 0;
                        for (int kj = lo; kj < hi; kj++)
                            out[kj] = in[kj];
                        for (int kj = hi; kj < k; kj++)
                            out[kj] = 0;
                    }
                }
            }
}

void rl_qconv_forward(const rl_layer *ly, const int8_t *x, int batch, const int8_t *w, int8_t *col,
                      int32_t *acc, void *scratch) {
    im2col_s8(ly, x, batch, col);
    kern_gemm_s8(batch * positions(ly), ly->out_c, rl_layer_fan_in(ly), col, w, acc, scratch);
}

/* Adapter output and the layer's output from two accumulators: real value of each element
 * = (acc + bias) · col_scale + d · h_scale · b_scale; hidden layers requantize (after a fused
 * relu). */
static void combine_adapter(const rl_qlayer *ql, int rows, const int32_t *acc, const int32_t *d,
                            int8_t *out, float *logits) {
    const float d_scale = ql->h_scale * ql->b_scale;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < ql->out; j++) {
            size_t at = (size_t)i * (size_t)ql->out + (size_t)j;
            float v = (float)(acc[at] + ql->bias[j]) * ql->col_scale[j] + (float)d[at] * d_scale;
            if (logits) {
                logits[at] = v;
                continue;
            }
            float r = nearbyintf((ql->relu ? fmaxf(v, 0.0f) : v) / ql->out_scale);
            out[at] = (int8_t)(r > 127.0f ? 127 : r < -127.0f ? -127 : r);
        }
}

/* A dense or conv layer on int8 codes in (batch, in values): codes out (batch, out values) or,
 * for the last layer, ws->logits. */
static void matrix_forward(const rl_qlayer *ql, rl_qworkspace *ws, const int8_t *codes,
                           const int8_t *in, int8_t *out, int batch, int last) {
    int conv = ql->kind == RL_LAYER_CONV, p = positions(&ql->shape), rows = batch * p;
    const int8_t *a = conv ? ws->col : in; /* (rows, ql->in) */
    if (conv)
        rl_qconv_forward(&ql->shape, in, batch, layer_weights(ql, codes), ws->col, ws->acc,
                         ws->scratch);
    else
        kern_gemm_s8(rows, ql->out, ql->in, a, layer_weights(ql, codes), ws->acc, ws->scratch);
    int8_t *y = conv ? ws->rows : out; /* (rows, ql->out) */
    float *logits = last ? ws->logits : NULL;
    if (ql->rank > 0) {
        kern_gemm_s8(rows, ql->rank, ql->in, a, codes + ql->a_off, ws->acc_h, ws->scratch);
        kern_requantize(ws->acc_h, rows, ql->rank, NULL, ql->h_col_scale, ql->h_scale, 0, ws->h);
        kern_gemm_s8(rows, ql->out, ql->rank, ws->h, codes + ql->b_off, ws->acc_d, ws->scratch);
        combine_adapter(ql, rows, ws->acc, ws->acc_d, y, logits);
    } else if (logits) {
        kern_dequantize_s32(ws->acc, rows, ql->out, ql->bias, ql->col_scale, logits);
    } else {
        kern_requantize(ws->acc, rows, ql->out, ql->bias, ql->col_scale, ql->out_scale, ql->relu,
                        y);
    }
    if (!conv)
        return;
    for (int i = 0; i < batch; i++) /* (positions, filters) -> (filters, positions) */
        for (int c = 0; c < ql->out; c++) {
            const int8_t *from = y + (size_t)i * p * ql->out + c;
            int8_t *to = out + ((size_t)i * ql->out + c) * p;
            for (int pos = 0; pos < p; pos++)
                to[pos] = from[(size_t)pos * ql->out];
        }
}

/* Max or average pooling (window and stride S, or the whole image for gap) on int8 codes; an
 * average is rounded half to even, at the input's scale. */
static void pool_s8(const rl_layer *ly, const int8_t *x, int8_t *y, int batch) {
    int global = ly->kind == RL_LAYER_GLOBALPOOL, is_max = ly->kind == RL_LAYER_MAXPOOL;
    int s = global ? 0 : ly->size, wh = global ? ly->in_h : s, ww = global ? ly->in_w : s;
    for (int i = 0; i < batch; i++)
        for (int c = 0; c < ly->out_c; c++) {
            const int8_t *xc = x + (size_t)i * ly->in + (size_t)c * ly->in_h * ly->in_w;
            int8_t *yc = y + (size_t)i * ly->out + (size_t)c * ly->out_h * ly->out_w;
            for (int oy = 0; oy < ly->out_h; oy++)
                for (int ox = 0; ox < ly->out_w; ox++) {
                    const int8_t *win = xc + (size_t)oy * s * ly->in_w + (size_t)ox * s;
                    int acc = is_max ? win[0] : 0;
                    for (int a = 0; a < wh; a++)
                        for (int b = 0; b < ww; b++) {
                            int v = win[(size_t)a * ly->in_w + b];
                            acc = is_max ? (v > acc ? v : acc) : acc + v;
                        }
                    yc[oy * ly->out_w + ox] =
                        (int8_t)(is_max ? acc : nearbyintf((float)acc / (float)(wh * ww)));
                }
        }
}

const float *rl_qmodel_forward(const rl_qmodel *q, rl_qworkspace *ws, const int8_t *codes,
                               const float *x, int batch) {
    int8_t *in = ws->act_a, *out = ws->act_b;
    kern_quantize_s8(x, (size_t)batch * (size_t)q->in_dim, q->layers[0].in_scale, in);
    for (int l = 0; l < q->n_layers; l++) {
        const rl_qlayer *ql = &q->layers[l];
        if (ql->kind == RL_LAYER_DENSE || ql->kind == RL_LAYER_CONV) {
            ws->last_in = in;
            matrix_forward(ql, ws, codes, in, out, batch, l == q->n_layers - 1);
        } else if (ql->kind == RL_LAYER_RELU) {
            for (size_t i = 0; i < (size_t)batch * (size_t)ql->shape.out; i++)
                out[i] = in[i] > 0 ? in[i] : 0;
        } else {
            pool_s8(&ql->shape, in, out, batch);
        }
        int8_t *t = in;
        in = out;
        out = t;
    }
    return ws->logits;
}

const int8_t *rl_qmodel_last_input(const rl_qworkspace *ws) {
    return ws->last_in;
}

/* Float round-trip through an int8 activation code (the reference's fake quantization). */
static float fake_quant(float v, float scale, int relu) {
    if (relu)
        v = fmaxf(v, 0.0f);
    float r = nearbyintf(v / scale);
    r = r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r;
    return r * scale;
}

/* The reference of a dense or conv layer: each output by its definition in double, on the
 * dequantized inputs in (batch, in values), weights and adapter; out (batch, out values), or
 * ws->logits for the last layer. */
static void matrix_reference(const rl_qlayer *ql, rl_qworkspace *ws, const int8_t *codes,
                             const float *in, float *out, int batch, int last) {
    const int8_t *w = layer_weights(ql, codes);
    int p = positions(&ql->shape);
    float *patch = ws->ref_patch;
    for (int i = 0; i < batch; i++)
        for (int pos = 0; pos < p; pos++) {
            float_patch(&ql->shape, in + (size_t)i * ql->shape.in, pos, patch);
            float h[RL_MAX_LAYERS * 8 + 256];
            for (int r = 0; r < ql->rank; r++) {
                double s = 0.0;
                for (int k = 0; k < ql->in; k++)
                    s += (double)patch[k] *
                         (codes[ql->a_off + (size_t)r * ql->in + k] * ql->a_scale);
                h[r] = fake_quant((float)s, ql->h_scale, 0);
            }
            for (int j = 0; j < ql->out; j++) {
                double s = (double)ql->bias[j] * ql->col_scale[j];
                for (int k = 0; k < ql->in; k++)
                    s += (double)patch[k] * (w[(size_t)j * ql->in + k] * ql->w_scale);
                for (int r = 0; r < ql->rank; r++)
                    s += (double)h[r] * (codes[ql->b_off + (size_t)j * ql->rank + r] * ql->b_scale);
                float v = (float)s;
                size_t at = (size_t)i * ql->shape.out + (size_t)j * p + pos;
                if (last)
                    ws->logits[at] = v;
                else
                    out[at] = fake_quant(v, ql->out_scale, ql->relu);
            }
        }
}

const float *rl_qmodel_forward_reference(const rl_qmodel *q, rl_qworkspace *ws, const int8_t *codes,
                                         const float *x, int batch) {
    float *in = ws->ref_a, *out = ws->ref_b;
    for (size_t i = 0; i < (size_t)batch * (size_t)q->in_dim; i++)
        in[i] = fake_quant(x[i], q->layers[0].in_scale, 0);
    for (int l = 0; l < q->n_layers; l++) {
        const rl_qlayer *ql = &q->layers[l];
        const rl_layer *ly = &ql->shape;
        if (ql->kind == RL_LAYER_DENSE || ql->kind == RL_LAYER_CONV) {
            matrix_reference(ql, ws, codes, in, out, batch, l == q->n_layers - 1);
        } else if (ql->kind == RL_LAYER_RELU) {
            for (size_t i = 0; i < (size_t)batch * (size_t)ly->out; i++)
                out[i] = fmaxf(in[i], 0.0f);
        } else if (ql->kind == RL_LAYER_MAXPOOL) {
            rl_pool_forward(ly, in, out, batch);
        } else { /* the mean of the window's codes (exact in float), rounded half to even */
            float scale = ql->in_scale;
            for (size_t i = 0; i < (size_t)batch * (size_t)ly->in; i++)
                in[i] = nearbyintf(in[i] / scale); /* the codes, exactly */
            if (ql->kind == RL_LAYER_AVGPOOL)
                rl_pool_forward(ly, in, out, batch);
            else
                rl_globalpool_forward(ly, in, out, batch);
            for (size_t i = 0; i < (size_t)batch * (size_t)ly->out; i++)
                out[i] = nearbyintf(out[i]) * scale;
        }
        float *t = in;
        in = out;
        out = t;
    }
    return ws->logits;
}
