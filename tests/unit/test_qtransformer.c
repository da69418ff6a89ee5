/* Unit tests of src/nn/qtransformer: every integer product (base and adapter, on attention and
 * MLP matrices) against its
 * definition computed in double from the codes and scales, the base's grid values written back,
 * the whole integer forward close to the float forward of the same grid values, the same
 * bits at every ISA level, and the calibration's scales those of the float forward's inputs. */
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/nn/lora.h"
#include "src/nn/qmodel.h"
#include "src/nn/qtransformer.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB 23
#define SEQS 3
#define LEN 8

typedef struct {
    rl_transformer m;
    rl_transformer_ws ws;
    rl_lora lora;
    rl_qtransformer q;
    int8_t *codes; /* the adapters' */
    int32_t ids[SEQS * LEN];
} fixture;

/* gpt:L2-D16-H2-T8 at 4 bits, adapters of rank 2 on q, v and the MLP's fc1 (D -> 4D) and fc2
 * (4D -> D) at 8 bits with non-zero codes. */
static void setup(fixture *f) {
    memset(f, 0, sizeof *f);
    CU_ASSERT_FATAL(rl_transformer_init(&f->m, "gpt:L2-D16-H2-T8", VOCAB) == RL_OK);
    rl_transformer_init_params(&f->m, 11);
    CU_ASSERT_FATAL(rl_transformer_ws_init(&f->ws, &f->m, SEQS, RL_TF_FORWARD_ONLY) == RL_OK);
    CU_ASSERT_FATAL(rl_qtransformer_init(&f->q, &f->m, 4, SEQS * LEN) == RL_OK);
    rl_lora_target targets[RL_QTF_MATRICES];
    int t = rl_lora_transformer_targets(&f->m, "q,v,fc1,fc2", "test", targets);
    CU_ASSERT_FATAL(t == 8);
    CU_ASSERT_FATAL(rl_lora_init_targets(&f->lora, f->m.params, f->m.n_params, targets, t, 2, 3,
                                         "test") == RL_OK);
    CU_ASSERT_FATAL(rl_qtransformer_adapters(&f->q, &f->lora, 127, 0.5f) == RL_OK);
    f->codes = malloc(f->lora.n_params);
    for (size_t i = 0; i < f->lora.n_params; i++)
        f->codes[i] = (int8_t)((int)((i * 37 + 11) % 255) - 127);
    for (int k = 0; k < f->lora.n_adapted; k++) { /* the values the codes stand for */
        int i = 0;
        while (f->q.adapter_of[i] != k)
            i++;
        size_t na = (size_t)2 * f->q.mats[i].cols, nb = (size_t)f->q.mats[i].rows * 2;
        for (size_t e = 0; e < na; e++)
            f->lora.params[f->lora.adapters[k].a_off + e] =
                f->codes[f->lora.adapters[k].a_off + e] * f->q.a_scale[k];
        for (size_t e = 0; e < nb; e++)
            f->lora.params[f->lora.adapters[k].b_off + e] =
                f->codes[f->lora.adapters[k].b_off + e] * f->q.b_scale[k];
    }
    rl_lora_apply_params(&f->lora, f->m.params);
    f->q.adapter_codes = f->codes;
    for (int i = 0; i < SEQS * LEN; i++)
        f->ids[i] = (i * 7 + 3) % VOCAB;
    rl_qtransformer_calibrate(&f->q, &f->m, &f->ws, f->ids, SEQS, LEN);
}

static void teardown(fixture *f) {
    rl_qtransformer_free(&f->q);
    rl_lora_free(&f->lora);
    rl_transformer_ws_free(&f->ws);
    rl_transformer_free(&f->m);
    free(f->codes);
}

/* round half to even of v clamped to ±127, as the int8 kernels quantize */
static double code_of(double v) {
    double r = nearbyint(v);
    return r > 127 ? 127 : r < -127 ? -127 : r;
}

static void test_products_by_definition(void) {
    fixture f;
    setup(&f);
    // the base's values are on the grid: each row a multiple of its scale
    const rl_tf_matrix *w1 = &f.q.mats[4];
    for (int j = 0; j < w1->cols; j++) {
        float v = f.lora.base[w1->w_off + j], s = f.q.row_scale[f.q.row_off[4]];
        CU_ASSERT(fabsf(v / s - nearbyintf(v / s)) < 1e-4f && fabsf(v / s) <= 7.0f + 1e-4f);
    }
    for (int l = 0; l < 2; l++) /* q, v, fc1, fc2 of each block carry adapters, k and o none */
        CU_ASSERT(f.q.adapter_of[6 * l] >= 0 && f.q.adapter_of[6 * l + 1] < 0 &&
                  f.q.adapter_of[6 * l + 2] >= 0 && f.q.adapter_of[6 * l + 3] < 0 &&
                  f.q.adapter_of[6 * l + 4] >= 0 && f.q.adapter_of[6 * l + 5] >= 0);
    rl_qtransformer_attach(&f.q, &f.m);
    int rows = SEQS * LEN;
    float *x = malloc(sizeof(float) * rows * 64), *y = malloc(sizeof(float) * rows * 64);
    for (int e = 0; e < rows * 64; e++)
        x[e] = (float)sin(0.3 * e) * 1.5f;
    double worst = 0.0;
    for (int i = 0; i < f.q.n_mats; i++) {
        int in = f.q.mats[i].cols, out = f.q.mats[i].rows, k = f.q.adapter_of[i];
        f.m.matmul(f.m.matmul_ctx, i, x, rows, y);
        for (int r = 0; r < rows; r++) {
            double xq[64], h[2] = {0, 0};
            for (int c = 0; c < in; c++)
                xq[c] = code_of((double)(x[r * in + c] / f.q.in_scale[i]));
            if (k >= 0) {
                const int8_t *a = f.codes + f.lora.adapters[k].a_off;
                for (int t = 0; t < 2; t++) {
                    double acc = 0.0;
                    for (int c = 0; c < in; c++)
                        acc += xq[c] * a[t * in + c];
                    h[t] = code_of(
                        (double)((float)acc * (f.q.in_scale[i] * f.q.a_scale[k]) / f.q.h_scale[k]));
                }
            }
            for (int j = 0; j < out; j++) {
                const int8_t *w = f.q.codes + f.q.code_off[i] + (size_t)j * in;
                double acc = 0.0;
                for (int c = 0; c < in; c++)
                    acc += xq[c] * w[c];
                double want = acc * f.q.in_scale[i] * f.q.row_scale[f.q.row_off[i] + j];
                if (k >= 0) {
                    const int8_t *b = f.codes + f.lora.adapters[k].b_off;
                    want +=
                        (h[0] * b[j * 2] + h[1] * b[j * 2 + 1]) * f.q.h_scale[k] * f.q.b_scale[k];
                }
                double err = fabs(y[r * out + j] - want) / (1.0 + fabs(want));
                worst = err > worst ? err : worst;
            }
        }
    }
    CU_ASSERT(worst < 1e-5);
    free(x);
    free(y);
    teardown(&f);
}

/* The integer forward against the float forward of the same grid values (adapters applied):
 * close (int8 activations), not equal. */
static void test_forward_close_to_float(void) {
    fixture f;
    setup(&f);
    size_t n = (size_t)SEQS * LEN * VOCAB;
    float *ref = malloc(sizeof(float) * n);
    memcpy(ref, rl_transformer_forward(&f.m, &f.ws, f.ids, SEQS, LEN), sizeof(float) * n);
    rl_qtransformer_attach(&f.q, &f.m);
    const float *got = rl_transformer_forward(&f.m, &f.ws, f.ids, SEQS, LEN);
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(got[i] - ref[i]));
        scale = fmax(scale, fabs(ref[i]));
    }
    CU_ASSERT(diff > 0.0);
    CU_ASSERT(diff < 0.05 * scale);
    free(ref);
    teardown(&f);
}

/* The integer forward of selected rows (rl_transformer_forward_rows) has the integer forward's
 * logits there, bit for bit: the int8 products of a row do not depend on the other rows. */
static void test_forward_rows_integer(void) {
    fixture f;
    setup(&f);
    rl_qtransformer_attach(&f.q, &f.m);
    memcpy(f.ids + LEN, f.ids, sizeof(int32_t) * 5); // sequence 1 shares 5 tokens with sequence 0
    const int first[SEQS] = {2, 4, 7}, last[SEQS] = {6, 4, 7};
    CU_ASSERT_EQUAL(rl_test_rows_differ(&f.m, &f.ws, f.ids, SEQS, LEN, first, last), 0);
    teardown(&f);
}

static float first_logits[SEQS * LEN * VOCAB];
static int have_first;

static void forward_at_this_isa(void) {
    fixture f;
    setup(&f);
    rl_qtransformer_attach(&f.q, &f.m);
    const float *got = rl_transformer_forward(&f.m, &f.ws, f.ids, SEQS, LEN);
    if (!have_first) {
        memcpy(first_logits, got, sizeof first_logits);
        have_first = 1;
    } else
        CU_ASSERT(memcmp(first_logits, got, sizeof first_logits) == 0);
    teardown(&f);
}

static void test_same_bits_every_isa(void) {
    have_first = 0;
    rl_test_each_isa(forward_at_this_isa);
    CU_ASSERT(have_first);
}

/* The calibration (a forward on the fixture's forward-only workspace) has each matrix's input
 * scale, and each adapter's x · Aᵀ scale, of the float forward's kept activations, bit for bit:
 * max |input| / 127 of the inputs a training forward keeps. */
static void test_calibration_of_kept_inputs(void) {
    fixture f;
    setup(&f);
    rl_transformer_ws train;
    CU_ASSERT_FATAL(rl_transformer_ws_init(&train, &f.m, SEQS, RL_TF_TRAINING) == RL_OK);
    rl_transformer_forward_train(&f.m, &train, f.ids, SEQS, LEN);
    size_t rows = SEQS * LEN;
    float *h = malloc(sizeof(float) * rows * 2);
    for (int i = 0; i < f.q.n_mats; i++) {
        const rl_tf_block_acts *a = &train.block[i / RL_TF_MATRICES_PER_BLOCK];
        int kind = i % RL_TF_MATRICES_PER_BLOCK, in = f.q.mats[i].cols, k = f.q.adapter_of[i];
        const float *x = kind < 3 ? a->ln1 : kind == 3 ? a->att : kind == 4 ? a->ln2 : a->gelu;
        float want = rl_quant_scale(x, rows * (size_t)in, 127);
        CU_ASSERT(memcmp(&want, &f.q.in_scale[i], sizeof want) == 0);
        if (k < 0)
            continue;
        kern_sgemm(0, 1, (int)rows, 2, in, 1.0f, x, in, f.lora.params + f.lora.adapters[k].a_off,
                   in, 0.0f, h, 2);
        want = rl_quant_scale(h, rows * 2, 127);
        CU_ASSERT(memcmp(&want, &f.q.h_scale[k], sizeof want) == 0);
    }
    free(h);
    rl_transformer_ws_free(&train);
    teardown(&f);
}

static const rl_test tests[] = {
    {"integer products (base and adapters) by their definition", test_products_by_definition},
    {"integer forward close to the float forward of the grid values", test_forward_close_to_float},
    {"integer forward of selected rows: the full integer forward's bits there",
     test_forward_rows_integer},
    {"integer forward: the same bits at every ISA level", test_same_bits_every_isa},
    {"calibration: the scales of the float forward's inputs, bit for bit",
     test_calibration_of_kept_inputs},
    {NULL, NULL},
};
RL_TEST_SUITE("qtransformer", tests)
