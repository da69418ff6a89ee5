/* ZOQO: quantized models (MLP, CNN) against their dequantized reference, perturbation kernels
 * against their references, and the zero-order estimators' invariants (grid, ties, bytes
 * exchanged). */
#include "kernels/isa.h"
#include "kernels/perturb.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/rng.h"
#include "src/nn/nn.h"
#include "src/nn/qmodel.h"
#include "src/train/arm.h"
#include "src/train/qat.h"
#include "src/train/zo.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t key[2] = {0x1234u, 0xabcdu};

/* A random model of `spec` (biases non-zero too) and inputs in [0, 1] (n, in_dim). */
static void random_model(rl_model *m, const char *spec, float *x, int n) {
    CU_ASSERT_FATAL(rl_model_init(m, spec) == 0);
    rl_model_init_params(m, 7);
    for (size_t i = 0; i < m->n_params; i++)
        if (i % 7 == 0)
            m->params[i] += 0.05f;
    rl_rng r = rl_rng_make(3, RL_RNG_SYNTH_DATA);
    for (int i = 0; i < n * m->in_dim; i++)
        x[i] = (float)rl_rng_uniform(r, 0, (uint32_t)i);
}

/* A small random MLP and inputs in [0, 1]. */
static void small_model(rl_model *m, float *x, int n) {
    random_model(m, "mlp:20-16-12-5", x, n);
}

/* The integer forward equals the float computation on dequantized values (convolutions by their
 * definition), except where a requantization lands within float rounding of a half code: allow
 * a few codes' worth of error, scaled to the logits' size, and require most logits to agree to
 * float precision. It gives the same bits at every ISA level. */
static void check_against_reference(const char *spec, rl_qtrain_target target, int bits) {
    enum { N = 48, MAX_IN = 512, MAX_OUT = 8 };
    rl_model m;
    float *x = malloc(sizeof(float) * N * MAX_IN);
    random_model(&m, spec, x, N);
    CU_ASSERT_FATAL(m.in_dim <= MAX_IN && m.out_dim <= MAX_OUT);
    rl_qmodel q;
    rl_qmodel_options opt = {
        .bits = bits, .target = target, .lora_rank = 3, .lora_range = 0.2f, .seed = 11};
    CU_ASSERT_FATAL(rl_qmodel_quantize(&q, &m, &opt, x, N) == 0);
    if (target == RL_QTRAIN_LORA) /* give B non-zero codes so the adapter path is exercised */
        for (size_t i = 0; i < q.n_trainable; i++)
            if (q.trainable[i] == 0)
                q.trainable[i] = (int8_t)((int)(i % 3) - 1);
    rl_qworkspace ws;
    CU_ASSERT_FATAL(rl_qworkspace_init(&ws, &q, N) == 0);
    int outs = N * m.out_dim;
    float fast[N * MAX_OUT];
    kern_isa_set(KERN_ISA_GENERIC);
    memcpy(fast, rl_qmodel_forward(&q, &ws, q.trainable, x, N), sizeof(float) * (size_t)outs);
    for (int level = 1; level <= (int)kern_isa_best(); level++) {
        kern_isa_set((kern_isa_level)level);
        const float *again = rl_qmodel_forward(&q, &ws, q.trainable, x, N);
        CU_ASSERT(memcmp(fast, again, sizeof(float) * (size_t)outs) == 0);
    }
    kern_isa_set(kern_isa_best());
    const float *ref = rl_qmodel_forward_reference(&q, &ws, q.trainable, x, N);
    float max_logit = 0.0f, max_err = 0.0f;
    int close = 0;
    for (int i = 0; i < outs; i++) {
        max_logit = fmaxf(max_logit, fabsf(ref[i]));
        max_err = fmaxf(max_err, fabsf(fast[i] - ref[i]));
        close += rl_test_close(fast[i], ref[i], 64);
    }
    /* a code flip in the last hidden layer moves a logit by at most |w|·scale ≈ max_logit/127 */
    CU_ASSERT(max_logit > 0.0f);
    CU_ASSERT(max_err <= 4.0f * max_logit / 127.0f);
    CU_ASSERT(close >= outs * 9 / 10);
    /* and at 8 bits the quantized model computes nearly what the fp32 model does */
    if (bits == 8 && target == RL_QTRAIN_LAST) {
        rl_workspace fws;
        CU_ASSERT_FATAL(rl_workspace_init(&fws, &m, N) == 0);
        const float *exact = rl_model_forward(&m, &fws, x, N);
        float err = 0.0f;
        for (int i = 0; i < outs; i++)
            err = fmaxf(err, fabsf(exact[i] - fast[i]));
        CU_ASSERT(err < 0.05f * fmaxf(max_logit, 1.0f));
        rl_workspace_free(&fws);
    }
    rl_qworkspace_free(&ws);
    rl_qmodel_free(&q);
    rl_model_free(&m);
    free(x);
}

/* Quantized CNNs (int8 convolutions, src/nn/qmodel.h): conv with a fused relu, max pooling, a
 * strided conv, average pooling; a strided 5 x 5 conv without relu, global average pooling, a
 * lone relu and two fc layers. */
static const char *const small_mlp = "mlp:20-16-12-5";
static const char *const small_cnns[] = {
    "cnn:3x13x11-conv7k3-relu-maxpool2-conv9k3s2-relu-avgpool2-fc5",
    "cnn:2x9x9-conv6k5s2-gap-relu-fc7-relu-fc4",
};

static void test_qmodel_last_matches_reference(void) {
    check_against_reference(small_mlp, RL_QTRAIN_LAST, 8);
    check_against_reference(small_mlp, RL_QTRAIN_LAST, 4);
    for (int c = 0; c < 2; c++) {
        check_against_reference(small_cnns[c], RL_QTRAIN_LAST, 8);
        check_against_reference(small_cnns[c], RL_QTRAIN_LAST, 4);
    }
}

static void test_qmodel_lora_matches_reference(void) {
    check_against_reference(small_mlp, RL_QTRAIN_LORA, 8);
    check_against_reference(small_mlp, RL_QTRAIN_LORA, 3);
    for (int c = 0; c < 2; c++)
        check_against_reference(small_cnns[c], RL_QTRAIN_LORA, 8);
}

static void test_qmodel_codes_on_grid(void) {
    enum { N = 16 };
    rl_model m;
    float x[N * 20];
    small_model(&m, x, N);
    for (int bits = 2; bits <= 8; bits++) {
        rl_qmodel q;
        rl_qmodel_options opt = {
            .bits = bits, .target = RL_QTRAIN_LAST, .lora_range = 0.1f, .seed = 1};
        CU_ASSERT_FATAL(rl_qmodel_quantize(&q, &m, &opt, x, N) == 0);
        CU_ASSERT_EQUAL(q.qmax, (1 << (bits - 1)) - 1);
        CU_ASSERT_EQUAL(q.n_trainable, 12u * 5u);
        int lo = 0, hi = 0;
        for (size_t i = 0; i < q.n_trainable; i++) {
            lo = q.trainable[i] < lo ? q.trainable[i] : lo;
            hi = q.trainable[i] > hi ? q.trainable[i] : hi;
        }
        CU_ASSERT(lo >= -q.qmax && hi <= q.qmax);
        CU_ASSERT(hi == q.qmax || lo == -q.qmax); /* the largest weight sets the scale */
        rl_qmodel_free(&q);
    }
    /* a 4-bit last layer on an 8-bit base: each on its own grid */
    rl_qmodel mixed;
    rl_qmodel_options two = {.bits = 4, .target = RL_QTRAIN_LAST, .seed = 1, .base_bits = 8};
    CU_ASSERT_FATAL(rl_qmodel_quantize(&mixed, &m, &two, x, N) == 0);
    int frozen_max = 0, trained_max = 0;
    for (size_t i = 0; i < 20u * 16u + 16u * 12u; i++)
        frozen_max = abs(mixed.frozen[i]) > frozen_max ? abs(mixed.frozen[i]) : frozen_max;
    for (size_t i = 0; i < mixed.n_trainable; i++)
        trained_max = abs(mixed.trainable[i]) > trained_max ? abs(mixed.trainable[i]) : trained_max;
    CU_ASSERT(mixed.qmax == 7 && mixed.base_bits == 8 && trained_max == 7 && frozen_max == 127);
    rl_qmodel_free(&mixed);
    rl_qmodel q;
    rl_qmodel_options bad = {.bits = 9, .target = RL_QTRAIN_LAST, .lora_range = 0.1f, .seed = 1};
    CU_ASSERT_EQUAL(rl_qmodel_quantize(&q, &m, &bad, x, N), -1);
    rl_model_free(&m);
}

/* Mean cross-entropy over n examples of the last layer alone, in double: logits z = bias·col_scale
 * + h·Wᵀ on its dequantized inputs h (n, in) with weight values w (out, in). */
static double last_layer_loss(const rl_qlayer *l, const double *h, const double *w,
                              const int32_t *y, int n) {
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        double z[8], top = -INFINITY, sum = 0.0;
        for (int o = 0; o < l->out; o++) {
            z[o] = (double)l->bias[o] * l->col_scale[o];
            for (int k = 0; k < l->in; k++)
                z[o] += h[(size_t)i * l->in + k] * w[(size_t)o * l->in + k];
            top = fmax(top, z[o]);
        }
        for (int o = 0; o < l->out; o++)
            sum += exp(z[o] - top);
        total += top + log(sum) - z[y[i]];
    }
    return total / n;
}

/* QAT (src/train/qat.h): its forward is the integer forward with the codes of the moment; its
 * backward is the gradient of the loss in the last layer's weight values (central differences
 * in double, h = 1e-4, on the inputs the forward recorded), 0 for a master weight beyond the
 * grid's range; requantizing rounds master weights to the nearest code and clamps. */
static void test_qat_straight_through(void) {
    enum { N = 32, OUT = 5 };
    rl_model m;
    float x[N * 20], d_out[N * OUT];
    int32_t y[N];
    small_model(&m, x, N);
    for (int i = 0; i < N; i++)
        y[i] = (i * 7) % OUT;
    rl_qmodel q;
    rl_qmodel_options opt = {.bits = 4, .target = RL_QTRAIN_LAST, .lora_range = 0.1f, .seed = 1};
    CU_ASSERT_FATAL(rl_qmodel_quantize(&q, &m, &opt, x, N) == 0);
    train_qat t;
    CU_ASSERT_FATAL(train_qat_init(&t, &q, N) == 0);
    train_chunks c;
    memset(&c, 0, sizeof c);
    train_qat_attach(&t, &c);
    rl_qworkspace ws;
    CU_ASSERT_FATAL(rl_qworkspace_init(&ws, &q, N) == 0);
    const float *logits = c.forward(c.hook_ctx, x, N);
    CU_ASSERT(memcmp(logits, rl_qmodel_forward(&q, &ws, q.trainable, x, N), sizeof d_out) == 0);
    rl_loss_softmax_ce(logits, y, NULL, N, OUT, 1.0f / N, d_out, NULL);
    t.master[3] = 2.0f * t.range; /* beyond the grid: no gradient */
    c.backward(c.hook_ctx, d_out, N);

    const rl_qlayer *last = &q.layers[q.n_layers - 1];
    const int8_t *codes_in = rl_qmodel_last_input(&t.ws);
    double h[N * 12], w[OUT * 12];
    for (int i = 0; i < N * last->in; i++)
        h[i] = (double)codes_in[i] * last->in_scale;
    for (size_t k = 0; k < t.n; k++)
        w[k] = (double)q.trainable[k] * last->w_scale;
    double gmax = 0.0;
    int bad = 0;
    for (size_t k = 0; k < t.n; k++) {
        const double w0 = w[k], step = 1e-4;
        w[k] = w0 + step;
        double plus = last_layer_loss(last, h, w, y, N);
        w[k] = w0 - step;
        double minus = last_layer_loss(last, h, w, y, N);
        w[k] = w0;
        double fd = (plus - minus) / (2 * step);
        gmax = fmax(gmax, fabs(fd));
        bad += k == 3 ? t.chunk_grad[k] != 0.0f : fabs(fd - t.chunk_grad[k]) > 1e-4;
    }
    CU_ASSERT(gmax > 1e-2);
    CU_ASSERT_EQUAL(bad, 0);

    const float step = last->w_scale;
    t.master[0] = 2.4f * step;   /* nearest code 2 */
    t.master[1] = -2.6f * step;  /* -3 */
    t.master[2] = 100.0f * step; /* clamped to qmax = 7 */
    train_qat_requantize(&t);
    CU_ASSERT(q.trainable[0] == 2 && q.trainable[1] == -3 && q.trainable[2] == q.qmax);
    train_qat_free(&t);
    rl_qworkspace_free(&ws);
    rl_qmodel_free(&q);
    rl_model_free(&m);
}

/* Arm names: zoqoB, qatB, zoqoBbC, qatBbC, sign, mezo, sgd; anything else refused, and QAT on
 * adapters. */
static void test_arm_names(void) {
    train_arm_spec a;
    CU_ASSERT(train_arm_parse("zoqo4b8", 1, &a) == 0 && a.kind == ARM_ZOQO && a.bits == 4 &&
              a.base_bits == 8);
    CU_ASSERT(train_arm_parse("qat8", 0, &a) == 0 && a.kind == ARM_QAT && a.bits == 8 &&
              a.base_bits == 0);
    CU_ASSERT(train_arm_parse("mezo", 1, &a) == 0 && a.kind == ARM_MEZO);
    const char *const bad[] = {"zoqo9",    "zoqo1", "zoqo4b", "zoqo4b9", "zoqo48",
                               "zoqo4b8x", "qat",   "zoqo",   "sgd2",    ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(train_arm_parse(bad[i], 0, &a), RL_ERR);
    CU_ASSERT_EQUAL(train_arm_parse("qat4", 1, &a), RL_ERR);
}

static void test_perturb_kernels_match_reference(void) {
    enum { N = 1001 };
    int8_t base[N], a[N], b[N];
    for (int i = 0; i < N; i++)
        base[i] = (int8_t)((i * 37) % 15 - 7);
    kern_perturb_kind kinds[3] = {KERN_PERTURB_RADEMACHER, KERN_PERTURB_UNIFORM,
                                  KERN_PERTURB_GAUSSIAN};
    for (int kk = 0; kk < 3; kk++) {
        kern_perturb_kind kind = kinds[kk];
        if (kind != KERN_PERTURB_GAUSSIAN) {
            for (int dir = -1; dir <= 1; dir += 2) {
                kern_perturb_codes(a, base, N, key, 5, 3, kind, 2, dir, 7);
                kern_ref_perturb_codes(b, base, N, key, 5, 3, kind, 2, dir, 7);
                CU_ASSERT(memcmp(a, b, N) == 0);
                int in_range = 1, moved = 0;
                for (int i = 0; i < N; i++) {
                    in_range &= a[i] >= -7 && a[i] <= 7 && abs(a[i] - base[i]) <= 2;
                    moved += a[i] != base[i];
                }
                CU_ASSERT(in_range);
                CU_ASSERT(moved > N / 2);
            }
        }
        int32_t va[N] = {0}, vb[N] = {0};
        kern_perturb_vote(va, N, key, 9, 1, kind, 3, -1);
        kern_ref_perturb_vote(vb, N, key, 9, 1, kind, 3, -1);
        CU_ASSERT(memcmp(va, vb, sizeof va) == 0);
        float fa[N] = {0}, fb[N] = {0};
        kern_perturb_axpy(fa, N, key, 9, 1, kind, 3, 0.5f);
        kern_ref_perturb_axpy(fb, N, key, 9, 1, kind, 3, 0.5f);
        CU_ASSERT(memcmp(fa, fb, sizeof fa) == 0);
        /* the vote is the sign of the same u the axpy adds */
        int agree = 1;
        for (int i = 0; i < N; i++)
            agree &= va[i] == (fa[i] > 0.0f ? -1 : fa[i] < 0.0f ? 1 : 0);
        CU_ASSERT(agree);
    }
}

static void test_perturb_kernels_every_isa(void) {
    rl_test_each_isa(test_perturb_kernels_match_reference);
}

/* Quadratic loss Σ (θ_i − target_i)² over the first 24 codes (the rest do not matter). */
typedef struct {
    const int8_t *target;
    int calls;
    int constant;
} quad_ctx;

static int64_t fixed(double v) {
    return (int64_t)llrint(ldexp(v, RL_FIXED_FRAC_BITS));
}

static int64_t quad_codes(void *ctx_, const void *params) {
    quad_ctx *ctx = ctx_;
    const int8_t *codes = params;
    ctx->calls++;
    if (ctx->constant)
        return fixed(1.0);
    double s = 0.0;
    for (int i = 0; i < 24; i++)
        s += (double)(codes[i] - ctx->target[i]) * (codes[i] - ctx->target[i]);
    return fixed(s);
}

static zo_options zoqo_options(int K, int qmax) {
    zo_options o = {0};
    o.method = ZO_ZOQO;
    o.perturbations = K;
    o.vote = 1;
    o.kind = KERN_PERTURB_RADEMACHER;
    o.m = 1;
    o.c = 1;
    o.qmax = qmax;
    memcpy(o.key, key, sizeof o.key);
    return o;
}

static void test_zoqo_stays_on_grid_and_descends(void) {
    int8_t codes[200], target[200];
    for (int i = 0; i < 200; i++) {
        codes[i] = 0;
        target[i] = (int8_t)((i % 11) - 5);
    }
    quad_ctx ctx = {target, 0, 0};
    zo_state z;
    zo_options o = zoqo_options(16, 7);
    CU_ASSERT_FATAL(zo_init(&z, &o, codes, 200) == 0);
    double start = quad_codes(&ctx, codes);
    int on_grid = 1;
    for (uint32_t t = 0; t < 300; t++) {
        int8_t before[200];
        memcpy(before, codes, sizeof before);
        CU_ASSERT_FATAL(zo_step(&z, t, quad_codes, &ctx) == 0);
        for (int i = 0; i < 200; i++) /* codes move by 0 or ±c and stay within ±qmax */
            on_grid &= codes[i] >= -7 && codes[i] <= 7 && abs(codes[i] - before[i]) <= 1;
    }
    CU_ASSERT(on_grid);
    CU_ASSERT(quad_codes(&ctx, codes) < 0.5 * start);
    CU_ASSERT_EQUAL(z.queries, 300 * 2 * 16);
    zo_free(&z);
}

static void test_zoqo_ties_give_no_step(void) {
    int8_t codes[200], target[200] = {0};
    for (int i = 0; i < 200; i++)
        codes[i] = (int8_t)(i % 5 - 2);
    int8_t before[200];
    memcpy(before, codes, sizeof before);
    quad_ctx ctx = {target, 0, 1}; /* constant loss: every perturbation ties */
    zo_state z;
    zo_options o = zoqo_options(3, 7);
    CU_ASSERT_FATAL(zo_init(&z, &o, codes, 200) == 0);
    for (uint32_t t = 0; t < 10; t++)
        CU_ASSERT_FATAL(zo_step(&z, t, quad_codes, &ctx) == 0);
    CU_ASSERT(memcmp(codes, before, sizeof before) == 0);
    CU_ASSERT_EQUAL(z.ties, 30);
    zo_free(&z);
}

/* Bytes exchanged per step: two fixed-point losses per perturbation, whatever the size. */
static void test_bytes_grow_with_k_not_size(void) {
    size_t sizes[2] = {100, 100000};
    int ks[2] = {4, 8};
    int64_t bytes[2][2];
    int8_t *target = calloc(100000, 1);
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 2; k++) {
            int8_t *codes = calloc(sizes[s], 1);
            quad_ctx ctx = {target, 0, 0};
            zo_state z;
            zo_options o = zoqo_options(ks[k], 127);
            CU_ASSERT_FATAL(zo_init(&z, &o, codes, sizes[s]) == 0);
            CU_ASSERT_FATAL(zo_step(&z, 0, quad_codes, &ctx) == 0);
            bytes[s][k] = z.bytes_exchanged;
            zo_free(&z);
            free(codes);
        }
    free(target);
    CU_ASSERT_EQUAL(bytes[0][0], bytes[1][0]); /* not with the model's size */
    CU_ASSERT_EQUAL(bytes[0][1], bytes[1][1]);
    CU_ASSERT_EQUAL(bytes[0][1], 2 * bytes[0][0]); /* linearly with K */
    CU_ASSERT_EQUAL(bytes[0][0], 4 * 2 * 8);
}

static float quad_target_f[64];
static int64_t quad_floats(void *ctx_, const void *params) {
    (void)ctx_;
    const float *theta = params;
    double s = 0.0;
    for (int i = 0; i < 64; i++)
        s += (double)(theta[i] - quad_target_f[i]) * (theta[i] - quad_target_f[i]);
    return fixed(s);
}

static void test_fp32_sign_and_mezo_descend(void) {
    for (int i = 0; i < 64; i++)
        quad_target_f[i] = (float)(i % 9) * 0.1f - 0.4f;
    zo_method methods[2] = {ZO_SIGN, ZO_MEZO};
    for (int mm = 0; mm < 2; mm++) {
        float theta[64] = {0};
        zo_options o = {0};
        o.method = methods[mm];
        o.perturbations = 4;
        o.vote = 1;
        o.kind = KERN_PERTURB_GAUSSIAN;
        o.mu = 1e-3f;
        o.lr = methods[mm] == ZO_SIGN ? 0.005f : 0.02f;
        memcpy(o.key, key, sizeof o.key);
        zo_state z;
        CU_ASSERT_FATAL(zo_init(&z, &o, theta, 64) == 0);
        double start = quad_floats(NULL, theta);
        for (uint32_t t = 0; t < 400; t++)
            CU_ASSERT_FATAL(zo_step(&z, t, quad_floats, NULL) == 0);
        CU_ASSERT(quad_floats(NULL, theta) < 0.2 * start);
        zo_free(&z);
    }
}

static const rl_test tests[] = {
    {"quantized forward (last layer; MLP, CNN) matches the dequantized reference, same bits at "
     "every ISA level",
     test_qmodel_last_matches_reference},
    {"quantized forward (LoRA; MLP, CNN) matches the dequantized reference, same bits at every "
     "ISA level",
     test_qmodel_lora_matches_reference},
    {"quantization puts codes on the b-bit grid (and a base on its own)",
     test_qmodel_codes_on_grid},
    {"arm names parse or are refused", test_arm_names},
    {"QAT: integer forward, straight-through gradient (finite differences), clipping, rounding",
     test_qat_straight_through},
    {"perturbation kernels match their references at every ISA level",
     test_perturb_kernels_every_isa},
    {"ZOQO keeps codes on the grid and descends", test_zoqo_stays_on_grid_and_descends},
    {"ZOQO ties give no step", test_zoqo_ties_give_no_step},
    {"bytes exchanged grow with K, not with the model's size", test_bytes_grow_with_k_not_size},
    {"fp32 ZO-SignSGD and MeZO descend", test_fp32_sign_and_mezo_descend},
    {NULL, NULL},
};
RL_TEST_SUITE("zoqo", tests)
