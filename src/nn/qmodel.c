/* Quantized MLP: quantization of an fp32 model, the integer forward and its float reference
 * (see qmodel.h). */
#include "src/nn/qmodel.h"
#include "kernels/int8.h"
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
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

static void quantize_codes(const float *x, size_t n, float scale, int qmax, int8_t *codes) {
    for (size_t i = 0; i < n; i++) {
        float v = nearbyintf(x[i] / scale);
        codes[i] = (int8_t)(v > (float)qmax ? qmax : v < (float)-qmax ? -qmax : v);
    }
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
    if (!rl_model_is_mlp(m))
        return rl_fail("cannot quantize model \"%s\": only dense and relu layers are quantized",
                       "quantize an \"mlp:\" model", m->spec);
    q->bits = opt->bits;
    q->qmax = (1 << (opt->bits - 1)) - 1;
    q->base_bits = base_bits;
    const int base_qmax = (1 << (base_bits - 1)) - 1;
    q->target = opt->target;
    q->in_dim = m->in_dim;
    q->out_dim = m->out_dim;

    /* Layout: one qlayer per dense layer; count arenas. */
    size_t n_frozen = 0, n_out = 0, n_trainable = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *src = &m->layers[l];
        if (src->kind != RL_LAYER_DENSE)
            continue;
        rl_qlayer *ql = &q->layers[q->n_layers];
        int last = l == m->n_layers - 1;
        ql->in = src->in;
        ql->out = src->out;
        ql->relu = !last;
        if (opt->target == RL_QTRAIN_LAST && last) {
            ql->w_off = n_trainable;
            n_trainable += (size_t)src->out * (size_t)src->in;
        } else {
            n_frozen += (size_t)src->out * (size_t)src->in;
        }
        if (opt->target == RL_QTRAIN_LORA) {
            ql->rank = opt->lora_rank;
            ql->a_off = n_trainable;
            ql->b_off = ql->a_off + (size_t)ql->rank * (size_t)src->in;
            n_trainable = ql->b_off + (size_t)src->out * (size_t)ql->rank;
        }
        n_out += (size_t)src->out + (size_t)ql->rank;
        q->n_layers++;
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
    for (int l = 0, d = 0; l < m->n_layers; l++) {
        const rl_layer *src = &m->layers[l];
        if (src->kind != RL_LAYER_DENSE)
            continue;
        rl_qlayer *ql = &q->layers[d];
        size_t nw = (size_t)ql->out * (size_t)ql->in;
        const float *w = m->params + src->w_off;
        ql->in_scale = in_scale;
        int trained_w = opt->target == RL_QTRAIN_LAST && !ql->relu;
        const int w_qmax = trained_w ? q->qmax : base_qmax;
        ql->w_scale = scale_for(max_abs(w, nw), w_qmax);
        if (!trained_w) {
            ql->w = q->frozen + frozen_at;
            frozen_at += nw;
        }
        quantize_codes(w, nw, ql->w_scale, w_qmax, trained_w ? q->trainable + ql->w_off : ql->w);
        ql->bias = q->ints + out_at;
        ql->col_scale = q->floats + out_at;
        ql->h_col_scale = ql->col_scale + ql->out;
        out_at += (size_t)ql->out + (size_t)ql->rank;
        float bias_scale = ql->in_scale * ql->w_scale;
        for (int j = 0; j < ql->out; j++) {
            ql->bias[j] = (int32_t)lrintf(m->params[src->b_off + (size_t)j] / bias_scale);
            ql->col_scale[j] = bias_scale;
        }
        /* Output activations (after relu for hidden layers) of this layer: ws.act[l + 1 + relu]. */
        const float *act = ws.act[l + 1 + ql->relu];
        ql->out_scale = scale_for(max_abs(act, (size_t)calib_n * (size_t)ql->out), 127);
        if (ql->rank > 0) {
            ql->a_scale = rl_lora_a_bound(ql->in) / (float)q->qmax;
            ql->b_scale = opt->lora_range / (float)q->qmax;
            int8_t *a = q->trainable + ql->a_off;
            size_t na = (size_t)ql->rank * (size_t)ql->in;
            for (size_t i = 0; i < na; i++)
                a[i] = (int8_t)((int64_t)rl_rng_below(init, 1000u + (uint32_t)d, (uint32_t)i,
                                                      (uint64_t)(2 * q->qmax + 1)) -
                                q->qmax);
            /* h = x·Aᵀ on the calibration data sets the adapter's activation scale. */
            float *h = rl_xmalloc(sizeof(float) * (size_t)calib_n * (size_t)ql->rank);
            float *a_real = rl_xmalloc(sizeof(float) * na);
            for (size_t i = 0; i < na; i++)
                a_real[i] = (float)a[i] * ql->a_scale;
            kern_sgemm(0, 1, calib_n, ql->rank, ql->in, 1.0f, ws.act[l], ql->in, a_real, ql->in,
                       0.0f, h, ql->rank);
            ql->h_scale = scale_for(max_abs(h, (size_t)calib_n * (size_t)ql->rank), 127);
            for (int r = 0; r < ql->rank; r++)
                ql->h_col_scale[r] = ql->in_scale * ql->a_scale;
            free(h);
            free(a_real);
        }
        in_scale = ql->out_scale;
        d++;
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
    free(ws->h);
    free(ws->acc);
    free(ws->acc_h);
    free(ws->acc_d);
    free(ws->scratch);
    free(ws->logits);
    free(ws->ref_a);
    free(ws->ref_b);
    memset(ws, 0, sizeof *ws);
}

int rl_qworkspace_init(rl_qworkspace *ws, const rl_qmodel *q, int max_batch) {
    memset(ws, 0, sizeof *ws);
    if (max_batch < 1)
        return rl_fail("workspace for %d examples", "use a batch of at least 1", max_batch);
    size_t widest = (size_t)q->in_dim, rank = 1, scratch = 0;
    for (int l = 0; l < q->n_layers; l++) {
        const rl_qlayer *ql = &q->layers[l];
        widest = (size_t)ql->out > widest ? (size_t)ql->out : widest;
        rank = (size_t)ql->rank > rank ? (size_t)ql->rank : rank;
        size_t shapes[3] = {kern_gemm_s8_scratch_size(max_batch, ql->out, ql->in),
                            kern_gemm_s8_scratch_size(max_batch, ql->rank, ql->in),
                            kern_gemm_s8_scratch_size(max_batch, ql->out, ql->rank)};
        for (int i = 0; i < 3; i++)
            scratch = shapes[i] > scratch ? shapes[i] : scratch;
    }
    size_t b = (size_t)max_batch;
    /* act_a, act_b (int8); acc, acc_d (int32); ref_a, ref_b (float); h (int8), acc_h (int32) */
    uint64_t per_example = rl_size_add(
        rl_size_mul(widest, 2 + 2 * sizeof(int32_t) + 2 * sizeof(float)),
        rl_size_add(rl_size_mul(rank, 1 + sizeof(int32_t)), sizeof(float) * (size_t)q->out_dim));
    if (rl_mem_check(rl_size_add(rl_size_mul(per_example, b), scratch),
                     "the int8 activations of a %d-layer quantized model for %d examples at a "
                     "time",
                     q->n_layers, max_batch) < 0)
        return rl_fail_hint("lower the examples per chunk or batch, or use a smaller model");
    ws->max_batch = max_batch;
    ws->act_a = rl_xmalloc(b * widest);
    ws->act_b = rl_xmalloc(b * widest);
    ws->h = rl_xmalloc(b * rank);
    ws->acc = rl_xmalloc(sizeof(int32_t) * b * widest);
    ws->acc_h = rl_xmalloc(sizeof(int32_t) * b * rank);
    ws->acc_d = rl_xmalloc(sizeof(int32_t) * b * widest);
    ws->scratch = rl_xmalloc(scratch);
    ws->logits = rl_xmalloc(sizeof(float) * b * (size_t)q->out_dim);
    ws->ref_a = rl_xmalloc(sizeof(float) * b * widest);
    ws->ref_b = rl_xmalloc(sizeof(float) * b * widest);
    return 0;
}

static const int8_t *layer_weights(const rl_qlayer *ql, const int8_t *codes) {
    return ql->w ? ql->w : codes + ql->w_off;
}

/* Adapter output and the layer's output from two accumulators: real value of each element
 * = (acc + bias) · col_scale + d · h_scale · b_scale; hidden layers requantize after relu. */
static void combine_adapter(const rl_qlayer *ql, int batch, const int32_t *acc, const int32_t *d,
                            int8_t *out, float *logits) {
    const float d_scale = ql->h_scale * ql->b_scale;
    for (int i = 0; i < batch; i++)
        for (int j = 0; j < ql->out; j++) {
            size_t at = (size_t)i * (size_t)ql->out + (size_t)j;
            float v = (float)(acc[at] + ql->bias[j]) * ql->col_scale[j] + (float)d[at] * d_scale;
            if (logits) {
                logits[at] = v;
                continue;
            }
            float r = nearbyintf(fmaxf(v, 0.0f) / ql->out_scale);
            out[at] = (int8_t)(r > 127.0f ? 127 : r);
        }
}

const float *rl_qmodel_forward(const rl_qmodel *q, rl_qworkspace *ws, const int8_t *codes,
                               const float *x, int batch) {
    int8_t *in = ws->act_a, *out = ws->act_b;
    kern_quantize_s8(x, (size_t)batch * (size_t)q->in_dim, q->layers[0].in_scale, in);
    for (int l = 0; l < q->n_layers; l++) {
        const rl_qlayer *ql = &q->layers[l];
        kern_gemm_s8(batch, ql->out, ql->in, in, layer_weights(ql, codes), ws->acc, ws->scratch);
        float *logits = ql->relu ? NULL : ws->logits;
        if (ql->rank > 0) {
            kern_gemm_s8(batch, ql->rank, ql->in, in, codes + ql->a_off, ws->acc_h, ws->scratch);
            kern_requantize(ws->acc_h, batch, ql->rank, NULL, ql->h_col_scale, ql->h_scale, 0,
                            ws->h);
            kern_gemm_s8(batch, ql->out, ql->rank, ws->h, codes + ql->b_off, ws->acc_d,
                         ws->scratch);
            combine_adapter(ql, batch, ws->acc, ws->acc_d, out, logits);
        } else if (logits) {
            kern_dequantize_s32(ws->acc, batch, ql->out, ql->bias, ql->col_scale, logits);
        } else {
            kern_requantize(ws->acc, batch, ql->out, ql->bias, ql->col_scale, ql->out_scale, 1,
                            out);
        }
        int8_t *t = in;
        in = out;
        out = t;
    }
    return ws->logits;
}

const int8_t *rl_qmodel_last_input(const rl_qmodel *q, const rl_qworkspace *ws) {
    return (q->n_layers - 1) % 2 == 0 ? ws->act_a : ws->act_b; /* the forward's ping-pong */
}

/* Float round-trip through an int8 activation code (the reference's fake quantization). */
static float fake_quant(float v, float scale, int relu) {
    if (relu)
        v = fmaxf(v, 0.0f);
    float r = nearbyintf(v / scale);
    r = r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r;
    return r * scale;
}

const float *rl_qmodel_forward_reference(const rl_qmodel *q, rl_qworkspace *ws, const int8_t *codes,
                                         const float *x, int batch) {
    float *in = ws->ref_a, *out = ws->ref_b;
    for (size_t i = 0; i < (size_t)batch * (size_t)q->in_dim; i++)
        in[i] = fake_quant(x[i], q->layers[0].in_scale, 0);
    for (int l = 0; l < q->n_layers; l++) {
        const rl_qlayer *ql = &q->layers[l];
        const int8_t *w = layer_weights(ql, codes);
        for (int i = 0; i < batch; i++) {
            const float *xi = in + (size_t)i * (size_t)ql->in;
            float h[RL_MAX_LAYERS * 8 + 256];
            for (int r = 0; r < ql->rank; r++) {
                double s = 0.0;
                for (int k = 0; k < ql->in; k++)
                    s += (double)xi[k] * (codes[ql->a_off + (size_t)r * ql->in + k] * ql->a_scale);
                h[r] = fake_quant((float)s, ql->h_scale, 0);
            }
            for (int j = 0; j < ql->out; j++) {
                double s = (double)ql->bias[j] * ql->col_scale[j];
                for (int k = 0; k < ql->in; k++)
                    s += (double)xi[k] * (w[(size_t)j * ql->in + k] * ql->w_scale);
                for (int r = 0; r < ql->rank; r++)
                    s += (double)h[r] * (codes[ql->b_off + (size_t)j * ql->rank + r] * ql->b_scale);
                float v = (float)s;
                size_t at = (size_t)i * (size_t)ql->out + (size_t)j;
                if (ql->relu)
                    out[at] = fake_quant(v, ql->out_scale, 1);
                else
                    ws->logits[at] = v;
            }
        }
        float *t = in;
        in = out;
        out = t;
    }
    return ws->logits;
}
