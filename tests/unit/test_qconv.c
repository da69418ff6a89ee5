/* Unit tests of the int8 path of convolutional networks (src/nn/qmodel.h): the integer
 * convolution against its definition on random shapes (strides, padding, channels that are not
 * multiples of any vector width) at every ISA level; LoRA adapters on conv layers; layers
 * without an int8 version refused. Quantized CNNs against their dequantized reference:
 * test_zoqo.c. */
#include "kernels/int8.h"
#include "kernels/isa.h"
#include "src/core/error.h"
#include "src/core/rng.h"
#include "src/nn/nn.h"
#include "src/nn/qmodel.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A random int8 code in [-127, 127] from (seed, RL_RNG_SYNTH_DATA), counter (stream, i). */
static int8_t random_code(uint32_t stream, uint32_t i) {
    rl_rng r = rl_rng_make(5, RL_RNG_SYNTH_DATA);
    return (int8_t)((int)rl_rng_below(r, stream, i, 255) - 127);
}

/* acc[(i · out_h + oy) · out_w + ox][o] = Σ_{c, a, b} x[i][c][oy·s + a − p][ox·s + b − p] ·
 * w[o][c][a][b] over the pixels inside the image, in int64. */
static int64_t conv_by_definition(const rl_layer *ly, const int8_t *x, const int8_t *w, int i,
                                  int o, int oy, int ox) {
    int k = ly->size;
    int64_t sum = 0;
    for (int c = 0; c < ly->in_c; c++)
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) {
                int iy = oy * ly->stride + a - ly->pad, ix = ox * ly->stride + b - ly->pad;
                if (iy < 0 || iy >= ly->in_h || ix < 0 || ix >= ly->in_w)
                    continue;
                sum += (int64_t)x[(((size_t)i * ly->in_c + c) * ly->in_h + iy) * ly->in_w + ix] *
                       w[(((size_t)o * ly->in_c + c) * k + a) * k + b];
            }
    return sum;
}

/* Random shapes: channels 1, 2, 3, 5, 17 in and 7, 13, 33, 65 out, kernels 1, 3, 5 (padding 0,
 * 1, 2), strides 1, 2, 3, odd and even image sizes, non-square images. */
static void conv_cases(void) {
    static const char *const specs[] = {
        "cnn:3x9x7-conv13k3s2-fc2", "cnn:5x8x8-conv17k5-fc2",   "cnn:1x11x6-conv7k1s3-fc2",
        "cnn:17x5x5-conv33k3-fc2",  "cnn:2x6x9-conv65k5s2-fc2",
    };
    enum { BATCH = 3 };
    for (size_t c = 0; c < sizeof specs / sizeof specs[0]; c++) {
        rl_model m;
        CU_ASSERT_FATAL(rl_model_init(&m, specs[c]) == 0);
        const rl_layer *ly = &m.layers[0];
        size_t nx = (size_t)BATCH * ly->in, fan_in = (size_t)rl_layer_fan_in(ly);
        size_t nw = (size_t)ly->out_c * fan_in, rows = (size_t)BATCH * ly->out_h * ly->out_w;
        int8_t *x = malloc(nx), *w = malloc(nw), *col = malloc(rows * fan_in);
        int32_t *acc = malloc(sizeof(int32_t) * rows * (size_t)ly->out_c);
        void *scratch = malloc(kern_gemm_s8_scratch_size((int)rows, ly->out_c, (int)fan_in));
        for (size_t i = 0; i < nx; i++)
            x[i] = random_code((uint32_t)c, (uint32_t)i);
        for (size_t i = 0; i < nw; i++)
            w[i] = random_code(100u + (uint32_t)c, (uint32_t)i);
        x[0] = w[0] = -127; /* the extremes */
        x[1] = w[1] = 127;
        rl_qconv_forward(ly, x, BATCH, w, col, acc, scratch);
        int wrong = 0;
        for (int i = 0; i < BATCH; i++)
            for (int oy = 0; oy < ly->out_h; oy++)
                for (int ox = 0; ox < ly->out_w; ox++)
                    for (int o = 0; o < ly->out_c; o++) {
                        size_t row = ((size_t)i * ly->out_h + oy) * ly->out_w + ox;
                        wrong +=
                            acc[row * ly->out_c + o] != conv_by_definition(ly, x, w, i, o, oy, ox);
                    }
        if (wrong)
            printf("\n  %s at ISA %s: %d sums differ from the definition\n", specs[c],
                   kern_isa_name(kern_isa()), wrong);
        CU_ASSERT_EQUAL(wrong, 0);
        free(x);
        free(w);
        free(col);
        free(acc);
        free(scratch);
        rl_model_free(&m);
    }
}

static void test_conv_matches_definition_at_every_isa(void) {
    rl_test_each_isa(conv_cases);
}

/* A random CNN and inputs in [0, 1] (n, in_dim). */
static void small_cnn(rl_model *m, const char *spec, float *x, int n) {
    CU_ASSERT_FATAL(rl_model_init(m, spec) == 0);
    rl_model_init_params(m, 13);
    rl_rng r = rl_rng_make(4, RL_RNG_SYNTH_DATA);
    for (int i = 0; i < n * m->in_dim; i++)
        x[i] = (float)rl_rng_uniform(r, 0, (uint32_t)i);
}

/* LoRA adapters sit on the conv layers too: A (rank, in_c · k · k), B (filters, rank). */
static void test_cnn_lora_layout(void) {
    rl_model m;
    float x[4 * 3 * 13 * 11];
    small_cnn(&m, "cnn:3x13x11-conv7k3-relu-maxpool2-conv9k3s2-relu-avgpool2-fc5", x, 4);
    rl_qmodel q;
    rl_qmodel_options opt = {
        .bits = 8, .target = RL_QTRAIN_LORA, .lora_rank = 2, .lora_range = 0.2f, .seed = 3};
    CU_ASSERT_FATAL(rl_qmodel_quantize(&q, &m, &opt, x, 4) == 0);
    /* conv7k3 on 3 channels, conv9k3 on 7, fc5 on 9 values */
    CU_ASSERT_EQUAL(q.n_trainable, 2u * (27 + 7) + 2u * (63 + 9) + 2u * (9 + 5));
    rl_qmodel_free(&q);
    rl_model_free(&m);
}

/* Group norm, residual blocks and a network that does not end with a dense layer are refused,
 * naming the problem, with a hint. */
static void test_refused_layers(void) {
    struct {
        const char *spec, *says;
    } cases[] = {
        {"cnn:1x8x8-conv4k3-gn2-relu-fc3", "group norm"},
        {"cnn:1x8x8-conv4k3-res4g2-gap-fc3", "has no int8 version"}, /* its gn comes first */
        {"cnn:1x8x8-conv4k3-relu-gap", "last layer is not dense"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rl_model m;
        float x[2 * 64];
        small_cnn(&m, cases[c].spec, x, 2);
        rl_qmodel q;
        rl_qmodel_options opt = {.bits = 8, .target = RL_QTRAIN_LAST, .seed = 1};
        rl_error_clear();
        CU_ASSERT_EQUAL(rl_qmodel_quantize(&q, &m, &opt, x, 2), RL_ERR);
        if (!strstr(rl_error_message(), cases[c].says))
            printf("\n  %s: \"%s\"\n", cases[c].spec, rl_error_message());
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), cases[c].says));
        CU_ASSERT(rl_error_hint()[0] != '\0');
        rl_model_free(&m);
    }
}

static const rl_test tests[] = {
    {"int8 convolution equals its definition at every ISA level",
     test_conv_matches_definition_at_every_isa},
    {"LoRA adapters on conv layers", test_cnn_lora_layout},
    {"layers without an int8 version are refused", test_refused_layers},
    {NULL, NULL},
};
RL_TEST_SUITE("qconv", tests)
