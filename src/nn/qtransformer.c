/* The integer forward of a transformer's linear layers and LoRA adapters (see qtransformer.h). */
#include "src/nn/qtransformer.h"
#include "kernels/int8.h"
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/nn/qmodel.h"

#include <stdlib.h>
#include <string.h>

/* Scratch for every product of the forward: (rows, wide) · (wide, wide)ᵀ and the adapters'
 * (rows, rank) and (rows, wide) by rank. */
static size_t scratch_bytes(int rows, int wide, int rank) {
    size_t most = kern_gemm_s8_scratch_size(rows, wide, wide), n;
    if ((n = kern_gemm_s8_scratch_size(rows, rank, wide)) > most)
        most = n;
    if ((n = kern_gemm_s8_scratch_size(rows, wide, rank)) > most)
        most = n;
    return most;
}

int rl_qtransformer_init(rl_qtransformer *q, rl_transformer *m, int bits, int max_rows) {
    memset(q, 0, sizeof *q);
    q->qmax = (1 << (bits - 1)) - 1;
    q->n_mats = rl_transformer_matrices(m, q->mats);
    q->max_rows = max_rows;
    size_t n_codes = 0, n_rows = 0;
    for (int i = 0; i < q->n_mats; i++) {
        q->code_off[i] = n_codes;
        q->row_off[i] = n_rows;
        n_codes += (size_t)q->mats[i].rows * q->mats[i].cols;
        n_rows += (size_t)q->mats[i].rows;
        q->in_scale[i] = 1.0f;
        q->adapter_of[i] = -1;
    }
    int wide = m->hidden;
    size_t scratch = scratch_bytes(max_rows, wide, wide);
    uint64_t cells = (uint64_t)max_rows * (uint64_t)wide;
    uint64_t bytes = rl_size_add(
        rl_size_add(n_codes, sizeof(float) * n_rows),
        rl_size_add(rl_size_mul(cells, 2 + 2 * sizeof(int32_t) + sizeof(float)), scratch));
    if (rl_mem_check(bytes, "the integer forward of %s on %d rows", m->spec, max_rows) < 0)
        return rl_fail_hint("use smaller chunks (train.chunk)");
    q->codes = rl_xmalloc(n_codes);
    q->row_scale = rl_xmalloc(sizeof(float) * n_rows);
    for (int i = 0; i < q->n_mats; i++) /* each row on its grid; its values written back */
        for (int r = 0; r < q->mats[i].rows; r++) {
            int cols = q->mats[i].cols;
            float *row = m->params + q->mats[i].w_off + (size_t)r * cols;
            int8_t *codes = q->codes + q->code_off[i] + (size_t)r * cols;
            float scale = q->row_scale[q->row_off[i] + r] = rl_quant_scale(row, cols, q->qmax);
            rl_quant_codes(row, (size_t)cols, scale, q->qmax, codes);
            for (int j = 0; j < cols; j++)
                row[j] = (float)codes[j] * scale;
        }
    if (max_rows == 0)
        return 0; /* the base's grid values only */
    q->xq = rl_xmalloc(cells);
    q->hq = rl_xmalloc(cells);
    q->acc = rl_xmalloc(sizeof(int32_t) * cells);
    q->acc_h = rl_xmalloc(sizeof(int32_t) * cells);
    q->delta = rl_xmalloc(sizeof(float) * cells);
    q->col_scale = rl_xmalloc(sizeof(float) * (size_t)wide);
    q->scratch = rl_xmalloc(scratch);
    q->scratch_size = scratch;
    return 0;
}

int rl_qtransformer_adapters(rl_qtransformer *q, const rl_lora *lora, int qmax_a,
                             float lora_range) {
    q->lora = lora;
    for (int k = 0; k < lora->n_adapted; k++) {
        int i = 0;
        while (i < q->n_mats && q->mats[i].w_off != lora->adapters[k].target.w_off)
            i++;
        if (i == q->n_mats)
            return rl_fail("adapter %d is on no weight matrix of the model",
                           "adapt the matrices rl_transformer_matrices lists", k);
        q->adapter_of[i] = k;
        q->a_scale[k] = rl_lora_a_bound(q->mats[i].cols) / (float)qmax_a;
        q->b_scale[k] = lora_range / (float)qmax_a;
        q->h_scale[k] = 1.0f;
    }
    size_t need = scratch_bytes(q->max_rows, q->mats[4].rows, lora->rank);
    if (need > q->scratch_size) {
        free(q->scratch);
        q->scratch = rl_xmalloc(need);
        q->scratch_size = need;
    }
    return 0;
}

void rl_qtransformer_free(rl_qtransformer *q) {
    if (!q)
        return;
    free(q->codes);
    free(q->row_scale);
    free(q->xq);
    free(q->hq);
    free(q->acc);
    free(q->acc_h);
    free(q->delta);
    free(q->col_scale);
    free(q->scratch);
    memset(q, 0, sizeof *q);
}

/* The calibration's matmul hook: each product's input scale (and its adapter's x · Aᵀ's), then
 * the float product x · Wᵀ, which the forward's bias then rounds as the float forward's GEMM onto
 * the bias does (fma(1, s, b) = s + b, kernels.h): the float forward's activations, bit for bit,
 * in any workspace. */
typedef struct {
    rl_qtransformer *q;
    const float *params; /* the float model's */
} calibration;

static void calibrating_matmul(void *ctx, int i, const float *x, int rows, float *y) {
    const calibration *c = ctx;
    rl_qtransformer *q = c->q;
    int in = q->mats[i].cols, out = q->mats[i].rows;
    q->in_scale[i] = rl_quant_scale(x, (size_t)rows * in, 127);
    int k = q->adapter_of[i];
    if (k >= 0) { /* h = x · Aᵀ (rows, rank) with A's values of the moment, into delta */
        const rl_lora *lora = q->lora;
        kern_sgemm(0, 1, rows, lora->rank, in, 1.0f, x, in, lora->params + lora->adapters[k].a_off,
                   in, 0.0f, q->delta, lora->rank);
        q->h_scale[k] = rl_quant_scale(q->delta, (size_t)rows * lora->rank, 127);
    }
    kern_sgemm(0, 1, rows, out, in, 1.0f, x, in, c->params + q->mats[i].w_off, in, 0.0f, y, out);
}

void rl_qtransformer_calibrate(rl_qtransformer *q, const rl_transformer *m, rl_transformer_ws *ws,
                               const int32_t *seqs, int n_seq, int len) {
    calibration c = {q, m->params};
    rl_transformer observed = *m;
    observed.matmul = calibrating_matmul;
    observed.matmul_ctx = &c;
    rl_transformer_forward(&observed, ws, seqs, n_seq, len);
}

/* rl_transformer.matmul: y = x · Wᵀ of matrix i on the grid, plus its adapter's (h · Bᵀ). */
static void integer_matmul(void *ctx, int i, const float *x, int rows, float *y) {
    rl_qtransformer *q = ctx;
    int in = q->mats[i].cols, out = q->mats[i].rows;
    kern_quantize_s8(x, (size_t)rows * in, q->in_scale[i], q->xq);
    kern_gemm_s8(rows, out, in, q->xq, q->codes + q->code_off[i], q->acc, q->scratch);
    for (int j = 0; j < out; j++)
        q->col_scale[j] = q->in_scale[i] * q->row_scale[q->row_off[i] + j];
    kern_dequantize_s32(q->acc, rows, out, NULL, q->col_scale, y);
    int k = q->adapter_of[i];
    if (k < 0)
        return;
    const rl_lora *lora = q->lora;
    int rank = lora->rank;
    const int8_t *a = q->adapter_codes + lora->adapters[k].a_off; /* (rank, in) */
    const int8_t *b = q->adapter_codes + lora->adapters[k].b_off; /* (out, rank) */
    kern_gemm_s8(rows, rank, in, q->xq, a, q->acc_h, q->scratch);
    for (int r = 0; r < rank; r++)
        q->col_scale[r] = q->in_scale[i] * q->a_scale[k];
    kern_requantize(q->acc_h, rows, rank, NULL, q->col_scale, q->h_scale[k], 0, q->hq);
    kern_gemm_s8(rows, out, rank, q->hq, b, q->acc_h, q->scratch);
    for (int j = 0; j < out; j++)
        q->col_scale[j] = q->h_scale[k] * q->b_scale[k];
    kern_dequantize_s32(q->acc_h, rows, out, NULL, q->col_scale, q->delta);
    for (size_t e = 0; e < (size_t)rows * out; e++)
        y[e] += q->delta[e];
}

void rl_qtransformer_attach(rl_qtransformer *q, rl_transformer *m) {
    m->matmul = integer_matmul;
    m->matmul_ctx = q;
}
