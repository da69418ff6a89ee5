/* Unit tests of src/nn: spec parsing, init, forward on a hand example, gradients against
 * central finite differences, losses, optimizers against hand-computed steps, and training. */
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/rng.h"
#include "src/nn/layers.h"
#include "src/nn/nn.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FD_STEP 1e-3f
#define SPEC_HINT_EXAMPLE "mlp:784-256-256-10"

/* Uniform test data in [lo, hi), reproducible from `stream`. */
static void fill(float *x, size_t n, uint32_t stream, float lo, float hi) {
    rl_rng r = rl_rng_make(12345, RL_RNG_SYNTH_DATA);
    kern_fill_uniform(x, n, r.key, stream, lo, hi);
}

typedef rl_test_loss_fn loss_fn;
#define check_grads(x, analytic, n, f, ctx) rl_test_check_grads(x, analytic, n, f, ctx, FD_STEP)

/* A model with inputs, labels and softmax-CE loss: the function whose gradients are checked. */
typedef struct {
    rl_model m;
    rl_workspace ws;
    int batch;
    float *x;        // (batch, in_dim)
    int32_t *labels; // (batch)
    float *dlogits;  // (batch, out_dim)
    int64_t *ids;    // (batch)
} problem;

/* Random weights from `seed`, random biases, group- and batch-norm scales and shifts, running
 * averages (means in [-0.5, 0.5), variances in [0.5, 1.5)) and inputs; labels i % classes; the
 * examples' ids 100 + i (dropout). */
static void problem_init(problem *p, const char *spec, int batch, uint64_t seed) {
    CU_ASSERT_FATAL(rl_model_init(&p->m, spec) == 0);
    rl_model_init_params(&p->m, seed);
    for (int l = 0; l < p->m.n_layers; l++) {
        const rl_layer *ly = &p->m.layers[l];
        if (rl_layer_has_matrix(ly))
            fill(p->m.params + ly->b_off, (size_t)rl_layer_rows(ly), 100 + l, -0.5f, 0.5f);
        if (ly->kind == RL_LAYER_GROUPNORM || ly->kind == RL_LAYER_BATCHNORM) {
            fill(p->m.params + ly->w_off, (size_t)ly->out_c, 100 + l, 0.5f, 1.5f);
            fill(p->m.params + ly->b_off, (size_t)ly->out_c, 200 + l, -0.5f, 0.5f);
        }
        if (ly->kind == RL_LAYER_BATCHNORM) {
            fill(p->m.stats + ly->s_off, (size_t)ly->out_c, 300 + l, -0.5f, 0.5f);
            fill(p->m.stats + ly->s_off + ly->out_c, (size_t)ly->out_c, 400 + l, 0.5f, 1.5f);
        }
    }
    CU_ASSERT_FATAL(rl_workspace_init(&p->ws, &p->m, batch) == 0);
    p->ids = calloc((size_t)batch, sizeof(int64_t));
    for (int i = 0; i < batch; i++)
        p->ids[i] = 100 + i;
    p->ws.ids = p->ids;
    p->ws.round = 7;
    p->ws.dropout_rng = rl_rng_make(99, RL_RNG_DROPOUT);
    p->batch = batch;
    p->x = calloc((size_t)batch * p->m.in_dim, sizeof(float));
    p->labels = calloc((size_t)batch, sizeof(int32_t));
    p->dlogits = calloc((size_t)batch * p->m.out_dim, sizeof(float));
    fill(p->x, (size_t)batch * p->m.in_dim, 1, -1.0f, 1.0f);
    for (int i = 0; i < batch; i++)
        p->labels[i] = i % p->m.out_dim;
}

static void problem_free(problem *p) {
    rl_model_free(&p->m);
    rl_workspace_free(&p->ws);
    free(p->x);
    free(p->labels);
    free(p->dlogits);
    free(p->ids);
}

static double problem_loss(void *ctx) {
    problem *p = ctx;
    const float *out = rl_model_forward(&p->m, &p->ws, p->x, p->batch);
    return rl_loss_softmax_ce(out, p->labels, NULL, p->batch, p->m.out_dim, 1.0f, NULL, NULL);
}

/* Forward, loss with dlogits (scale) and backward, adding into m.grads. Returns the loss. */
static double problem_backward(problem *p, float scale) {
    const float *out = rl_model_forward(&p->m, &p->ws, p->x, p->batch);
    double loss =
        rl_loss_softmax_ce(out, p->labels, NULL, p->batch, p->m.out_dim, scale, p->dlogits, NULL);
    rl_model_backward(&p->m, &p->ws, p->dlogits, p->batch);
    return loss;
}

static void test_spec_accepts(void) {
    static const struct {
        const char *spec;
        size_t n_params;
        int n_layers, in_dim, out_dim;
    } cases[] = {
        {"mlp:784-256-10", 784 * 256 + 256 + 256 * 10 + 10, 3, 784, 10},
        {"mlp:784-256-256-10", 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10, 5, 784, 10},
        {"mlp:2-3", 2 * 3 + 3, 1, 2, 3},
        {"mlp:1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-"
         "1-1-1-1-1-1-1",
         48 * 2, 95, 1, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rl_model m;
        CU_ASSERT_FATAL(rl_model_init(&m, cases[c].spec) == 0);
        CU_ASSERT_STRING_EQUAL(m.spec, cases[c].spec);
        CU_ASSERT_EQUAL(m.n_params, cases[c].n_params);
        CU_ASSERT_EQUAL(m.n_layers, cases[c].n_layers);
        CU_ASSERT_EQUAL(m.in_dim, cases[c].in_dim);
        CU_ASSERT_EQUAL(m.out_dim, cases[c].out_dim);
        /* Dense and relu alternate, ending in dense; dense tensors tile the arena in order. */
        size_t end = 0;
        for (int l = 0; l < m.n_layers; l++) {
            const rl_layer *ly = &m.layers[l];
            CU_ASSERT_EQUAL(ly->kind, l % 2 == 0 ? RL_LAYER_DENSE : RL_LAYER_RELU);
            CU_ASSERT_EQUAL(ly->in, l == 0 ? m.in_dim : m.layers[l - 1].out);
            if (ly->kind == RL_LAYER_RELU) {
                CU_ASSERT_EQUAL(ly->in, ly->out);
                continue;
            }
            CU_ASSERT_EQUAL(ly->w_off, end);
            CU_ASSERT_EQUAL(ly->b_off, end + (size_t)ly->out * ly->in);
            end = ly->b_off + ly->out;
        }
        CU_ASSERT_EQUAL(m.layers[m.n_layers - 1].kind, RL_LAYER_DENSE);
        CU_ASSERT_EQUAL(m.layers[m.n_layers - 1].out, m.out_dim);
        CU_ASSERT_EQUAL(end, m.n_params);
        int zeroed = 1;
        for (size_t i = 0; i < m.n_params; i++)
            zeroed &= m.params[i] == 0.0f && m.grads[i] == 0.0f;
        CU_ASSERT(zeroed);
        rl_model_free(&m);
    }
}

static void test_spec_rejects(void) {
    char too_long[300] = "mlp:784"; /* longer than the spec field */
    while (strlen(too_long) < sizeof too_long - 4)
        strcat(too_long, "-10");
    const char *bad[] = {
        "mlp:784",
        "mlp:784-0-10",
        "cnn:3-16-10",
        "garbage",
        "",
        "mlp:",
        "mlp:784-",
        "mlp:-784-10",
        "mlp:784--10",
        "mlp:78a-10",
        "mlp:784-10 ",
        "mlp: 784-10",
        "mlp:+784-10",
        "MLP:784-10",
        "mlp:99999999999999999999-10",
        "cnn:1x4x4-res2g1x58-fc2", /* 58 · 7 + 1 = 407 layers */
        too_long,
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        rl_model m;
        memset(&m, 0xff, sizeof m);
        rl_error_clear();
        CU_ASSERT_EQUAL(rl_model_init(&m, bad[c]), RL_ERR);
        CU_ASSERT_PTR_NULL(m.params);
        CU_ASSERT_EQUAL(m.n_layers, 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), bad[c]));
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), SPEC_HINT_EXAMPLE));
        rl_model_free(&m);
    }
    rl_model m;
    CU_ASSERT_EQUAL(rl_model_init(&m, NULL), RL_ERR);
    /* A zero size is pointed at, not the field after it. */
    CU_ASSERT_EQUAL(rl_model_init(&m, "mlp:784-0-10"), RL_ERR);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(rl_error_message(), "expected a layer size (1..16777216) at \"0-10\""));
    CU_ASSERT_EQUAL(rl_model_init(&m, "cnn:1x28x28-conv8k28-fc10"), RL_ERR);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), "(K odd, 1..15)"));
}

static void test_free_null_and_zeroed(void) {
    rl_model_free(NULL);
    rl_workspace_free(NULL);
    rl_opt_free(NULL);

    rl_model m, zero_m;
    rl_workspace ws, zero_ws;
    rl_optimizer o, zero_o;
    memset(&zero_m, 0, sizeof zero_m);
    memset(&zero_ws, 0, sizeof zero_ws);
    memset(&zero_o, 0, sizeof zero_o);
    CU_ASSERT_FATAL(rl_model_init(&m, "mlp:3-4-2") == 0);
    CU_ASSERT_FATAL(rl_workspace_init(&ws, &m, 5) == 0);
    CU_ASSERT_FATAL(rl_opt_init(&o, RL_OPT_ADAM, m.n_params, 0.1f, 0.0f, 0.0f) == 0);
    rl_model_free(&m);
    rl_workspace_free(&ws);
    rl_opt_free(&o);
    CU_ASSERT(memcmp(&m, &zero_m, sizeof m) == 0);
    CU_ASSERT(memcmp(&ws, &zero_ws, sizeof ws) == 0);
    CU_ASSERT(memcmp(&o, &zero_o, sizeof o) == 0);
    /* Freeing again is harmless. */
    rl_model_free(&m);
    rl_workspace_free(&ws);
    rl_opt_free(&o);
}

static void test_workspace_rejects_bad_batch(void) {
    rl_model m;
    rl_workspace ws;
    CU_ASSERT_FATAL(rl_model_init(&m, "mlp:3-4-2") == 0);
    CU_ASSERT_EQUAL(rl_workspace_init(&ws, &m, 0), RL_ERR);
    CU_ASSERT_PTR_NULL(ws.grad_a);
    CU_ASSERT_EQUAL(rl_workspace_init(&ws, &m, -3), RL_ERR);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "-3"));
    rl_model_free(&m);
}

static void test_init_deterministic_and_bounded(void) {
    rl_model a, b, c, other_head;
    CU_ASSERT_FATAL(rl_model_init(&a, "mlp:20-30-10") == 0);
    CU_ASSERT_FATAL(rl_model_init(&b, "mlp:20-30-10") == 0);
    CU_ASSERT_FATAL(rl_model_init(&c, "mlp:20-30-10") == 0);
    CU_ASSERT_FATAL(rl_model_init(&other_head, "mlp:20-30-5") == 0);
    for (size_t i = 0; i < a.n_params; i++)
        a.params[i] = 1.0f; /* init must overwrite everything, biases included */
    rl_model_init_params(&a, 7);
    rl_model_init_params(&b, 7);
    rl_model_init_params(&c, 8);
    rl_model_init_params(&other_head, 7);
    CU_ASSERT(memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0);
    /* Layer 0 depends only on the seed, not on the layers after it. */
    CU_ASSERT(memcmp(a.params, other_head.params, 20 * 30 * sizeof(float)) == 0);
    /* Layer l is stream l of (seed, RL_RNG_INIT), so layers 0 and 2 draw different numbers. */
    float expect[10 * 30]; // (10, 30)
    float bound2 = sqrtf(6.0f / 30.0f);
    kern_fill_uniform(expect, 10 * 30, rl_rng_make(7, RL_RNG_INIT).key, 2, -bound2, bound2);
    CU_ASSERT(memcmp(a.params + a.layers[2].w_off, expect, sizeof expect) == 0);

    size_t n_weights = 0, n_same = 0;
    for (int l = 0; l < a.n_layers; l++) {
        const rl_layer *ly = &a.layers[l];
        if (ly->kind != RL_LAYER_DENSE)
            continue;
        double bound = sqrt(6.0 / ly->in);
        float lo = 0.0f, hi = 0.0f;
        for (size_t i = 0; i < (size_t)ly->out * ly->in; i++) {
            float w = a.params[ly->w_off + i];
            CU_ASSERT(fabs(w) <= bound);
            lo = fminf(lo, w);
            hi = fmaxf(hi, w);
            n_same += w == c.params[ly->w_off + i];
            n_weights++;
        }
        /* The weights spread over the whole interval. */
        CU_ASSERT(lo < -0.8 * bound && hi > 0.8 * bound);
        for (int j = 0; j < ly->out; j++)
            CU_ASSERT_EQUAL(a.params[ly->b_off + j], 0.0f);
    }
    CU_ASSERT_EQUAL(n_weights, (size_t)(20 * 30 + 30 * 10));
    CU_ASSERT(n_same < n_weights / 100);
    rl_model_free(&a);
    rl_model_free(&b);
    rl_model_free(&c);
    rl_model_free(&other_head);
}

/* rl_model_scale_weights multiplies the dense and conv matrices only: biases and group norm's
 * scale and shift keep their values. */
static void test_scale_weights(void) {
    rl_model m, ref;
    const char *spec = "cnn:1x8x8-conv4k3-gn2-relu-maxpool2-fc3";
    CU_ASSERT_FATAL(rl_model_init(&m, spec) == 0 && rl_model_init(&ref, spec) == 0);
    rl_model_init_params(&m, 5);
    rl_model_init_params(&ref, 5);
    for (size_t i = 0; i < m.n_params; i++) /* non-zero biases and shifts, to see them kept */
        m.params[i] = ref.params[i] += 0.25f;
    rl_model_scale_weights(&m, 4.0f);
    size_t scaled = 0, kept = 0;
    for (int l = 0; l < m.n_layers; l++) {
        const rl_layer *ly = &m.layers[l];
        if (!rl_layer_has_matrix(ly))
            continue;
        for (size_t i = 0; i < (size_t)rl_layer_rows(ly) * rl_layer_fan_in(ly); i++)
            scaled += m.params[ly->w_off + i] == 4.0f * ref.params[ly->w_off + i];
        for (int j = 0; j < rl_layer_rows(ly); j++)
            kept += m.params[ly->b_off + j] == ref.params[ly->b_off + j];
    }
    CU_ASSERT_EQUAL(scaled, (size_t)(4 * 9 + 3 * 4 * 4 * 4));
    CU_ASSERT_EQUAL(kept, (size_t)(4 + 3));
    const rl_layer *gn = &m.layers[1];
    CU_ASSERT_EQUAL(gn->kind, RL_LAYER_GROUPNORM);
    CU_ASSERT(memcmp(m.params + gn->w_off, ref.params + gn->w_off, 4 * sizeof(float)) == 0);
    rl_model_free(&m);
    rl_model_free(&ref);
}

/* mlp:2-2-1 with hand-set parameters; every value below is exact in float. */
static void test_forward_hand_example(void) {
    rl_model m;
    rl_workspace ws;
    CU_ASSERT_FATAL(rl_model_init(&m, "mlp:2-2-1") == 0);
    CU_ASSERT_FATAL(rl_workspace_init(&ws, &m, 2) == 0);
    const float w0[] = {1.0f, -1.0f, 2.0f, 0.5f}, b0[] = {0.5f, -3.0f};
    const float w1[] = {1.0f, -2.0f}, b1[] = {0.25f};
    memcpy(m.params + m.layers[0].w_off, w0, sizeof w0);
    memcpy(m.params + m.layers[0].b_off, b0, sizeof b0);
    memcpy(m.params + m.layers[2].w_off, w1, sizeof w1);
    memcpy(m.params + m.layers[2].b_off, b1, sizeof b1);
    const float x[] = {3.0f, 1.0f, 0.0f, 1.0f}; // (2, 2)
    const float *out = rl_model_forward(&m, &ws, x, 2);
    /* Row 0: hidden (3 - 1 + 0.5, 6 + 0.5 - 3) = (2.5, 3.5); out 2.5 - 7 + 0.25.
     * Row 1: hidden relu(-0.5, -2.5) = (0, 0); out 0.25. */
    CU_ASSERT_EQUAL(out[0], -4.25f);
    CU_ASSERT_EQUAL(out[1], 0.25f);
    CU_ASSERT_EQUAL(ws.act[1][2], -0.5f); /* pre-activations are kept */
    CU_ASSERT_EQUAL(ws.act[2][2], 0.0f);
    CU_ASSERT_EQUAL(ws.act[2][1], 3.5f);
    rl_model_free(&m);
    rl_workspace_free(&ws);
}

static void test_grad_dense(void) {
    problem p = {0};
    problem_init(&p, "mlp:3-4", 5, 1);
    problem_backward(&p, 1.0f);
    double largest = check_grads(p.m.params, p.m.grads, p.m.n_params, problem_loss, &p);
    CU_ASSERT(largest > 0.05);
    /* The bias gradient is the column sum of dlogits. */
    for (int j = 0; j < 4; j++) {
        double sum = 0.0;
        for (int i = 0; i < 5; i++)
            sum += p.dlogits[i * 4 + j];
        CU_ASSERT(rl_test_close(p.m.grads[p.m.layers[0].b_off + j], sum, 8));
    }
    problem_free(&p);
}

/* Hidden units 0 and 2 are active and 1 and 3 inactive for every input (|W0·x| < 0.9 < |b0|):
 * the gradient must flow through the first and be exactly zero for the others. */
static void test_grad_relu(void) {
    problem p = {0};
    problem_init(&p, "mlp:3-4-2", 6, 2);
    const rl_layer *l0 = &p.m.layers[0];
    fill(p.m.params + l0->w_off, 4 * 3, 200, -0.3f, 0.3f);
    const float b0[] = {1.0f, -1.0f, 1.0f, -1.0f};
    memcpy(p.m.params + l0->b_off, b0, sizeof b0);
    problem_backward(&p, 1.0f);
    for (int i = 0; i < p.batch; i++)
        for (int j = 0; j < 4; j++) {
            float pre = p.ws.act[1][i * 4 + j], post = p.ws.act[2][i * 4 + j];
            CU_ASSERT_EQUAL(post, j % 2 == 0 ? pre : 0.0f);
        }
    for (int j = 0; j < 4; j++) {
        const float *g_row = p.m.grads + l0->w_off + j * 3;
        float g_bias = p.m.grads[l0->b_off + j];
        if (j % 2 == 0) {
            CU_ASSERT(fabsf(g_row[0]) + fabsf(g_row[1]) + fabsf(g_row[2]) > 0.0f);
            CU_ASSERT(g_bias != 0.0f);
        } else {
            CU_ASSERT(g_row[0] == 0.0f && g_row[1] == 0.0f && g_row[2] == 0.0f);
            CU_ASSERT(g_bias == 0.0f);
        }
    }
    double largest = check_grads(p.m.params, p.m.grads, p.m.n_params, problem_loss, &p);
    CU_ASSERT(largest > 0.05);
    problem_free(&p);
}

static void test_grad_mlp_all_params(void) {
    problem p = {0};
    problem_init(&p, "mlp:5-4-3", 4, 3);
    CU_ASSERT_EQUAL(p.m.n_params, (size_t)(5 * 4 + 4 + 4 * 3 + 3));
    problem_backward(&p, 1.0f);
    /* Check each dense layer separately so a dead first layer cannot hide behind the last one;
     * layer 0 occupies the arena up to layer 2's weights. */
    size_t n0 = p.m.layers[2].w_off;
    CU_ASSERT(check_grads(p.m.params, p.m.grads, n0, problem_loss, &p) > 0.02);
    CU_ASSERT(check_grads(p.m.params + n0, p.m.grads + n0, p.m.n_params - n0, problem_loss, &p) >
              0.05);
    problem_free(&p);
}

/* The input gradient matches finite differences in x (through two relus, all inputs of all
 * examples), and leaves the parameter gradients. */
static void test_grad_input(void) {
    problem p = {0};
    problem_init(&p, "mlp:5-6-4-3", 4, 5);
    size_t n_x = (size_t)p.batch * (size_t)p.m.in_dim;
    float *d_x = calloc(n_x, sizeof(float));
    const float *out = rl_model_forward(&p.m, &p.ws, p.x, p.batch);
    rl_loss_softmax_ce(out, p.labels, NULL, p.batch, p.m.out_dim, 1.0f, p.dlogits, NULL);
    rl_model_input_grad(&p.m, &p.ws, p.dlogits, p.batch, d_x);
    for (size_t i = 0; i < p.m.n_params; i++)
        CU_ASSERT_EQUAL(p.m.grads[i], 0.0f);
    CU_ASSERT(check_grads(p.x, d_x, n_x, problem_loss, &p) > 0.02);
    problem_free(&p);
    free(d_x);
}

/* Backward adds into the gradients; zero_grads clears them; scale multiplies them. */
static void test_backward_accumulates(void) {
    problem p = {0};
    problem_init(&p, "mlp:5-4-3", 4, 4);
    size_t n = p.m.n_params;
    float *once = malloc(n * sizeof(float));
    problem_backward(&p, 1.0f);
    memcpy(once, p.m.grads, n * sizeof(float));
    problem_backward(&p, 1.0f);
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= rl_test_close(p.m.grads[i], 2.0 * once[i], 8);
    CU_ASSERT(ok);
    rl_model_zero_grads(&p.m);
    problem_backward(&p, 0.25f);
    ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= rl_test_close(p.m.grads[i], 0.25 * once[i], 8);
    CU_ASSERT(ok);
    rl_model_zero_grads(&p.m);
    ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= p.m.grads[i] == 0.0f;
    CU_ASSERT(ok);
    free(once);
    problem_free(&p);
}

/* Loss functions as functions of their first argument, for check_grads. */
typedef struct {
    float *out; // (batch, dim)
    const int32_t *labels;
    const float *targets, *weights;
    int batch, dim;
} loss_problem;

static double ce_loss(void *ctx) {
    loss_problem *q = ctx;
    return rl_loss_softmax_ce(q->out, q->labels, q->weights, q->batch, q->dim, 1.0f, NULL, NULL);
}

static double mse_loss(void *ctx) {
    loss_problem *q = ctx;
    return rl_loss_mse(q->out, q->targets, q->weights, q->batch, q->dim, 1.0f, NULL, NULL);
}

static void test_softmax_ce_values_and_stability(void) {
    const float logits[] = {1.0f, 2.0f, 3.0f, 1000.0f, 0.0f, -1000.0f}; // (2, 3)
    const int32_t labels[] = {2, 1};
    const float weights[] = {0.5f, 2.0f};
    float per[2], d[6];
    double loss = rl_loss_softmax_ce(logits, labels, weights, 2, 3, 1.0f, d, per);
    double l0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3.0;
    CU_ASSERT(rl_test_close(per[0], l0, 2));
    CU_ASSERT(rl_test_close(per[1], 1000.0, 2));
    CU_ASSERT(rl_test_close(loss, 0.5 * l0 + 2.0 * 1000.0, 2));
    /* Row 1 is softmax (1, 0, 0) minus onehot(1), times weight 2. */
    CU_ASSERT(d[3] == 2.0f && d[4] == -2.0f && d[5] == 0.0f);
    for (int i = 0; i < 2; i++)
        CU_ASSERT(fabs(d[3 * i] + d[3 * i + 1] + d[3 * i + 2]) < 1e-6);
}

static void test_grad_softmax_ce(void) {
    enum { B = 3, C = 4 };
    float logits[B * C], d[B * C], d_quarter[B * C], per[B], per_w[B];
    const int32_t labels[B] = {0, 3, 1};
    const float weights[B] = {0.5f, 2.0f, 0.0f};
    fill(logits, B * C, 300, -2.0f, 2.0f);
    loss_problem q = {logits, labels, NULL, NULL, B, C};

    rl_loss_softmax_ce(logits, labels, NULL, B, C, 1.0f, d, per);
    CU_ASSERT(check_grads(logits, d, B * C, ce_loss, &q) > 0.1);

    q.weights = weights;
    double loss = rl_loss_softmax_ce(logits, labels, weights, B, C, 1.0f, d, per_w);
    CU_ASSERT(check_grads(logits, d, B * C, ce_loss, &q) > 0.1);
    /* per_example is unweighted; the total is weighted; a zero weight zeroes the row. */
    CU_ASSERT(memcmp(per, per_w, sizeof per) == 0);
    CU_ASSERT(rl_test_close(loss, 0.5 * per[0] + 2.0 * per[1], 8));
    for (int j = 0; j < C; j++)
        CU_ASSERT(d[2 * C + j] == 0.0f);
    /* scale multiplies the gradient (exactly, for a power of two) and not the loss. */
    double loss_q = rl_loss_softmax_ce(logits, labels, weights, B, C, 0.25f, d_quarter, NULL);
    CU_ASSERT_EQUAL(loss_q, loss);
    for (int i = 0; i < B * C; i++)
        CU_ASSERT_EQUAL(d_quarter[i], 0.25f * d[i]);
}

static void test_mse(void) {
    const float out[] = {1.0f, 2.0f, 0.5f, 0.5f}, targets[] = {0.0f, 4.0f, 0.5f, 1.5f};
    const float weights[] = {2.0f, 3.0f};
    float per[2], d[4];
    /* ½((1 - 0)² + (2 - 4)²) = 2.5 and ½(0 + 1) = 0.5; weighted 2·2.5 + 3·0.5. */
    double loss = rl_loss_mse(out, targets, weights, 2, 2, 0.5f, d, per);
    CU_ASSERT_EQUAL(loss, 6.5);
    CU_ASSERT(per[0] == 2.5f && per[1] == 0.5f);
    /* scale · w · (out − target) */
    CU_ASSERT(d[0] == 1.0f && d[1] == -2.0f && d[2] == 0.0f && d[3] == -1.5f);

    enum { B = 3, D = 4 };
    float o[B * D], t[B * D], g[B * D];
    const float w[B] = {1.0f, 0.25f, 3.0f};
    fill(o, B * D, 400, -1.0f, 1.0f);
    fill(t, B * D, 401, -1.0f, 1.0f);
    loss_problem q = {o, NULL, t, w, B, D};
    rl_loss_mse(o, t, w, B, D, 1.0f, g, NULL);
    CU_ASSERT(check_grads(o, g, B * D, mse_loss, &q) > 0.1);
}

static void test_count_correct_ties(void) {
    const float logits[] = {
        1.0f,  3.0f,  3.0f,  /* tie between 1 and 2: 1 wins */
        1.0f,  3.0f,  3.0f,  /* label 2 loses the tie */
        5.0f,  5.0f,  5.0f,  /* all tied: 0 wins */
        0.0f,  -1.0f, 2.0f,  /* clear argmax 2 */
        0.0f,  -1.0f, 2.0f,  /* wrong label */
        -1.0f, -1.0f, -2.0f, /* tie between 0 and 1: label 1 loses */
    };
    const int32_t labels[] = {1, 2, 0, 2, 0, 1};
    const int expected[] = {1, 0, 1, 1, 0, 0};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(rl_count_correct(logits + 3 * i, labels + i, 1, 3), expected[i]);
    CU_ASSERT_EQUAL(rl_count_correct(logits, labels, 6, 3), 3);
    CU_ASSERT_EQUAL(rl_count_correct(logits, labels, 0, 3), 0);
}

static void test_sgd_two_steps(void) {
    rl_optimizer o;
    CU_ASSERT_FATAL(rl_opt_init(&o, RL_OPT_SGD, 2, 0.1f, 0.9f, 0.01f) == 0);
    CU_ASSERT_PTR_NULL(o.v);
    float theta[2] = {1.0f, -2.0f};
    const float g1[2] = {0.5f, 0.25f}, g2[2] = {-0.3f, 0.25f};
    /* Step 1: g + wd·θ = (0.51, 0.23) = v; θ = (1 − 0.051, −2 − 0.023). */
    rl_opt_step(&o, theta, g1);
    CU_ASSERT(rl_test_close(o.m[0], 0.51, 4) && rl_test_close(o.m[1], 0.23, 4));
    CU_ASSERT(rl_test_close(theta[0], 0.949, 4) && rl_test_close(theta[1], -2.023, 4));
    /* Step 2: g + wd·θ = (−0.29051, 0.22977); v = 0.9·(0.51, 0.23) + that = (0.16849, 0.43677);
     * θ = (0.949 − 0.016849, −2.023 − 0.043677). */
    rl_opt_step(&o, theta, g2);
    CU_ASSERT(rl_test_close(o.m[0], 0.16849, 8) && rl_test_close(o.m[1], 0.43677, 8));
    CU_ASSERT(rl_test_close(theta[0], 0.932151, 8) && rl_test_close(theta[1], -2.066677, 8));
    CU_ASSERT_EQUAL(o.t, 2);
    rl_opt_free(&o);
}

static void test_adam_two_steps(void) {
    rl_optimizer o;
    CU_ASSERT_FATAL(rl_opt_init(&o, RL_OPT_ADAM, 2, 0.1f, 0.0f, 0.01f) == 0);
    CU_ASSERT(o.beta1 == 0.9f && o.beta2 == 0.999f && o.eps == 1e-8f);
    float theta[2] = {1.0f, -2.0f};
    const float g1[2] = {0.5f, 0.25f}, g2[2] = {-0.3f, 0.25f};
    /* Step 1: g = (0.51, 0.23); m = 0.1·g, v = 0.001·g²; bias-corrected m̂/√v̂ = sign(g), so
     * θ moves by lr: (0.9, −2.1) (up to eps). */
    rl_opt_step(&o, theta, g1);
    CU_ASSERT(rl_test_close(o.m[0], 0.051, 4) && rl_test_close(o.v[1], 5.29e-5, 4));
    CU_ASSERT(rl_test_close(theta[0], 0.9, 8) && rl_test_close(theta[1], -2.1, 8));
    /* Step 2: g = (−0.3 + 0.009, 0.25 − 0.021) = (−0.291, 0.229);
     * m = 0.9·(0.051, 0.023) + 0.1·g = (0.0168, 0.0436);
     * v = 0.999·(2.601e-4, 5.29e-5) + 0.001·g² = (3.445209e-4, 1.052881e-4);
     * θ −= 0.1 / (1 − 0.9²) · m / (√v / √(1 − 0.999²) + 1e-8)
     *   = (0.9 − 0.0212988, −2.1 − 0.0999884). */
    rl_opt_step(&o, theta, g2);
    CU_ASSERT(rl_test_close(o.m[0], 0.0168, 8) && rl_test_close(o.m[1], 0.0436, 8));
    CU_ASSERT(rl_test_close(o.v[0], 3.445209e-4, 8) && rl_test_close(o.v[1], 1.052881e-4, 8));
    CU_ASSERT(rl_test_close(theta[0], 0.8787012438702138, 16));
    CU_ASSERT(rl_test_close(theta[1], -2.1999883963972606, 16));
    rl_opt_free(&o);
}

static void test_opt_rejects_bad_settings(void) {
    rl_optimizer o;
    CU_ASSERT_EQUAL(rl_opt_init(&o, RL_OPT_SGD, 4, -0.1f, 0.9f, 0.0f), RL_ERR);
    CU_ASSERT_PTR_NULL(o.m);
    CU_ASSERT_EQUAL(rl_opt_init(&o, RL_OPT_SGD, 4, NAN, 0.9f, 0.0f), RL_ERR);
    CU_ASSERT_EQUAL(rl_opt_init(&o, RL_OPT_SGD, 4, 0.1f, 1.0f, 0.0f), RL_ERR);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "momentum"));
    CU_ASSERT_EQUAL(rl_opt_init(&o, RL_OPT_ADAM, 4, 0.1f, 0.0f, -1.0f), RL_ERR);
    CU_ASSERT_EQUAL(rl_opt_init(&o, (rl_opt_kind)7, 4, 0.1f, 0.0f, 0.0f), RL_ERR);
    CU_ASSERT(rl_error_hint()[0] != '\0');
}

/* Full-batch training of mlp:4-8-3 on 12 random points with labels i % 3. Returns the final
 * loss; *first_loss gets the loss before the first step; params (n_params) the final weights. */
static double train_tiny(rl_opt_kind kind, float lr, float momentum, int steps, double *first_loss,
                         float *params) {
    problem p = {0};
    problem_init(&p, "mlp:4-8-3", 12, 5);
    rl_optimizer o;
    CU_ASSERT_FATAL(rl_opt_init(&o, kind, p.m.n_params, lr, momentum, 1e-4f) == 0);
    for (int s = 0; s < steps; s++) {
        rl_model_zero_grads(&p.m);
        double loss = problem_backward(&p, 1.0f / p.batch);
        if (s == 0)
            *first_loss = loss;
        rl_opt_step(&o, p.m.params, p.m.grads);
    }
    double loss = problem_loss(&p);
    memcpy(params, p.m.params, p.m.n_params * sizeof(float));
    rl_opt_free(&o);
    problem_free(&p);
    return loss;
}

static void test_optimizers_reduce_loss_deterministically(void) {
    enum { N = 4 * 8 + 8 + 8 * 3 + 3 };
    float a[N], b[N];
    double first, last;
    last = train_tiny(RL_OPT_SGD, 0.1f, 0.9f, 150, &first, a);
    CU_ASSERT(last < 0.5 * first);
    last = train_tiny(RL_OPT_ADAM, 0.01f, 0.0f, 150, &first, a);
    CU_ASSERT(last < 0.5 * first);
    double again = train_tiny(RL_OPT_ADAM, 0.01f, 0.0f, 150, &first, b);
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    CU_ASSERT_EQUAL(again, last);
}

/* ---- convolutional layers ---- */

static void test_cnn_spec_layout(void) {
    rl_model m;
    CU_ASSERT_FATAL(rl_model_init(&m, "cnn:2x9x7-conv4k3-gn2-relu-maxpool2-conv6k1-avgpool3-fc5") ==
                    0);
    static const struct {
        rl_layer_kind kind;
        int out_c, out_h, out_w;
        size_t n_params;
    } want[] = {
        {RL_LAYER_CONV, 4, 9, 7, 4 * 2 * 9 + 4},
        {RL_LAYER_GROUPNORM, 4, 9, 7, 4 + 4},
        {RL_LAYER_RELU, 4, 9, 7, 0},
        {RL_LAYER_MAXPOOL, 4, 4, 3, 0},
        {RL_LAYER_CONV, 6, 4, 3, 6 * 4 + 6},
        {RL_LAYER_AVGPOOL, 6, 1, 1, 0},
        {RL_LAYER_DENSE, 5, 1, 1, 6 * 5 + 5},
    };
    CU_ASSERT_EQUAL_FATAL(m.n_layers, 7);
    CU_ASSERT_EQUAL(m.in_dim, 2 * 9 * 7);
    CU_ASSERT_EQUAL(m.out_dim, 5);
    size_t end = 0;
    for (int l = 0; l < m.n_layers; l++) {
        const rl_layer *ly = &m.layers[l];
        CU_ASSERT_EQUAL(ly->kind, want[l].kind);
        CU_ASSERT_EQUAL(ly->out_c, want[l].out_c);
        CU_ASSERT_EQUAL(ly->out_h, want[l].out_h);
        CU_ASSERT_EQUAL(ly->out_w, want[l].out_w);
        CU_ASSERT_EQUAL(ly->in, l == 0 ? m.in_dim : m.layers[l - 1].out);
        if (want[l].n_params) {
            CU_ASSERT_EQUAL(ly->w_off, end);
            end += want[l].n_params;
        }
    }
    CU_ASSERT_EQUAL(m.n_params, end);
    CU_ASSERT_EQUAL(rl_layer_fan_in(&m.layers[0]), 2 * 3 * 3);
    rl_model_free(&m);

    const char *bad[] = {
        "cnn:1x8x8-conv4k4-fc2",
        "cnn:1x8x8-conv4k3-gn3-fc2",
        "cnn:1x8x8-maxpool9-fc2",
        "cnn:1x8x8-pool2-fc2",
        "cnn:1x8-fc2",
        "cnn:1x8x8",
        "cnn:1x8x8-",
        "cnn:1x8x8-conv4-fc2",
        "cnn:0x8x8-fc2",
        "cnn:1x8x8-fc2-",
        "cnn:1x8x8-relu-fc",
        "cnn:1x8x8-conv4k3fc2",
        "cnn:1x8x8-conv4k3s0-fc2",
        "cnn:1x8x8-conv4k3s-fc2",
        "cnn:1x8x8-res4-fc2",
        "cnn:1x8x8-res6g4-fc2",
        "cnn:1x8x8-res4s2-fc2",
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        rl_error_clear();
        CU_ASSERT_EQUAL(rl_model_init(&m, bad[c]), RL_ERR);
        CU_ASSERT_PTR_NULL(m.params);
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), bad[c]));
        CU_ASSERT(strlen(rl_error_hint()) > 0);
    }
}

/* A residual block expands to conv, norm, relu, conv, norm, add (with a projection when the
 * channels or the size change), relu; ResNet-20 as documented in nn.h. */
static void test_resnet_spec_layout(void) {
    rl_model m;
    CU_ASSERT_FATAL(rl_model_init(&m, "cnn:3x9x9-conv4k3-res4g2-res6s2g3-gap-fc2") == 0);
    CU_ASSERT_EQUAL_FATAL(m.n_layers, 1 + 7 + 7 + 2);
    const rl_layer *identity = &m.layers[6], *projection = &m.layers[13];
    CU_ASSERT_EQUAL(identity->kind, RL_LAYER_ADD);
    CU_ASSERT_EQUAL(identity->size, 0);
    CU_ASSERT_EQUAL(identity->skip_from, 1);
    CU_ASSERT(!rl_layer_has_matrix(identity));
    CU_ASSERT_EQUAL(projection->kind, RL_LAYER_ADD);
    CU_ASSERT_EQUAL(projection->size, 1);
    CU_ASSERT_EQUAL(projection->skip_from, 8);
    CU_ASSERT_EQUAL(projection->out_c, 6);
    CU_ASSERT_EQUAL(projection->out_h, 5);
    CU_ASSERT_EQUAL(rl_layer_fan_in(projection), 4);
    CU_ASSERT_EQUAL(m.layers[8].stride, 2);
    CU_ASSERT_EQUAL(m.layers[15].kind, RL_LAYER_GLOBALPOOL);
    CU_ASSERT_EQUAL(m.layers[15].out, 6);
    size_t want = (4 * 27 + 4) + 2 * (4 * 36 + 4 + 8) + (6 * 36 + 6 + 12 + 6 * 54 + 6 + 12) +
                  (6 * 4 + 6) + (2 * 6 + 2);
    CU_ASSERT_EQUAL(m.n_params, want);
    rl_model_free(&m);
    CU_ASSERT_FATAL(rl_model_init(&m, "cnn:3x32x32-conv16k3-gn4-relu-res16g4-res16g4-res16g4-"
                                      "res32s2g4-res32g4-res32g4-res64s2g4-res64g4-res64g4-gap-"
                                      "fc10") == 0);
    int convs = 0;
    for (int l = 0; l < m.n_layers; l++)
        convs += m.layers[l].kind == RL_LAYER_CONV;
    CU_ASSERT_EQUAL(convs, 19);
    CU_ASSERT_EQUAL(m.out_dim, 10);
    rl_model_free(&m);
}

/* Global average pooling on a hand example. */
static void test_globalpool_values(void) {
    const float x[] = {1, 2, 3, 6, -1, -2, -3, -6};
    rl_model m;
    rl_workspace ws;
    CU_ASSERT_FATAL(rl_model_init(&m, "cnn:2x2x2-gap") == 0);
    CU_ASSERT_FATAL(rl_workspace_init(&ws, &m, 1) == 0);
    const float *y = rl_model_forward(&m, &ws, x, 1);
    CU_ASSERT_EQUAL(y[0], 3.0f);
    CU_ASSERT_EQUAL(y[1], -3.0f);
    rl_workspace_free(&ws);
    rl_model_free(&m);
}

/* The convolution straight from its definition, in double: output (co, oy, ox) of example x
 * (cin, h, wd) with k x k filters w, stride `stride`, zero padding k/2. */
static double conv_direct(const float *x, const float *w, float bias, int cin, int h, int wd, int k,
                          int stride, int co, int oy, int ox) {
    double sum = bias;
    for (int ci = 0; ci < cin; ci++)
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) {
                int iy = oy * stride + a - k / 2, ix = ox * stride + b - k / 2;
                if (iy >= 0 && iy < h && ix >= 0 && ix < wd)
                    sum +=
                        (double)w[((co * cin + ci) * k + a) * k + b] * x[(ci * h + iy) * wd + ix];
            }
    return sum;
}

/* Random shapes, kernel sizes, strides and channel counts (not multiples of a vector width). */
static void test_conv_matches_definition(void) {
    rl_rng r = rl_rng_make(77, RL_RNG_SYNTH_DATA);
    for (uint32_t trial = 0; trial < 12; trial++) {
        uint32_t u[4];
        kern_philox(r.key, (uint32_t[4]){trial, 0, 0, 0}, u);
        int cin = 1 + (int)(u[0] % 5), h = 3 + (int)(u[1] % 9), wd = 3 + (int)(u[2] % 9);
        int k = 1 + 2 * (int)(u[3] % 3), stride = 1 + (int)((u[0] >> 8) % 3);
        int cout = 1 + (int)((u[1] >> 8) % 19), batch = 1 + (int)((u[2] >> 8) % 4);
        char spec[64];
        snprintf(spec, sizeof spec, "cnn:%dx%dx%d-conv%dk%ds%d", cin, h, wd, cout, k, stride);
        problem p = {0};
        problem_init(&p, spec, batch, 21 + trial);
        const rl_layer *ly = &p.m.layers[0];
        CU_ASSERT_EQUAL(ly->out_h, (h - 1) / stride + 1);
        CU_ASSERT_EQUAL(ly->out_w, (wd - 1) / stride + 1);
        const float *y = rl_model_forward(&p.m, &p.ws, p.x, p.batch);
        int ok = 1;
        for (int i = 0; i < p.batch; i++)
            for (int co = 0; co < cout; co++)
                for (int oy = 0; oy < ly->out_h; oy++)
                    for (int ox = 0; ox < ly->out_w; ox++) {
                        double want = conv_direct(p.x + i * ly->in, p.m.params + ly->w_off,
                                                  p.m.params[ly->b_off + co], cin, h, wd, k, stride,
                                                  co, oy, ox);
                        float got = y[i * ly->out + (co * ly->out_h + oy) * ly->out_w + ox];
                        ok &= fabs(got - want) <= 1e-5 * (1.0 + fabs(want));
                    }
        CU_ASSERT(ok);
        if (!ok)
            fprintf(stderr, "\n  %s differs from its definition\n", spec);
        problem_free(&p);
    }
}

/* Convolution over a chunk gives the bits of one example at a time: outputs, input gradients
 * and the parameter gradients (added example by example), also when a layer is too large for
 * one im2col group (the last specs: groups of 6 examples, and of 1). */
static void test_conv_batched_same_bits_as_per_example(void) {
    const char *specs[] = {"cnn:3x7x5-conv5k3s2-relu-conv6k1", "cnn:5x9x9-conv7k5-conv3k3s3",
                           "cnn:8x24x24-conv8k3", "cnn:16x64x64-conv16k3"};
    for (int s = 0; s < 4; s++) {
        problem p = {0};
        problem_init(&p, specs[s], 9, 60 + s);
        if (s >= 2) /* the groups the comment above says */
            CU_ASSERT_EQUAL(rl_conv_group(&p.m.layers[0], p.batch), s == 2 ? 6 : 1);
        size_t out_n = (size_t)p.batch * p.m.out_dim, in_n = (size_t)p.batch * p.m.in_dim;
        float *d_out = malloc(out_n * sizeof(float)), *y = malloc(out_n * sizeof(float));
        float *d_x = malloc(in_n * sizeof(float)), *d_x1 = malloc(in_n * sizeof(float));
        float *grads = malloc(p.m.n_params * sizeof(float));
        fill(d_out, out_n, 7, -1.0f, 1.0f);
        memcpy(y, rl_model_forward(&p.m, &p.ws, p.x, p.batch), out_n * sizeof(float));
        rl_model_zero_grads(&p.m);
        rl_model_backward(&p.m, &p.ws, d_out, p.batch);
        memcpy(grads, p.m.grads, p.m.n_params * sizeof(float));
        rl_model_input_grad(&p.m, &p.ws, d_out, p.batch, d_x);
        rl_model_zero_grads(&p.m);
        int same_y = 1;
        for (int i = 0; i < p.batch; i++) {
            const float *xi = p.x + (size_t)i * p.m.in_dim;
            const float *yi = rl_model_forward(&p.m, &p.ws, xi, 1);
            same_y &= memcmp(yi, y + (size_t)i * p.m.out_dim, p.m.out_dim * sizeof(float)) == 0;
            rl_model_backward(&p.m, &p.ws, d_out + (size_t)i * p.m.out_dim, 1);
            rl_model_input_grad(&p.m, &p.ws, d_out + (size_t)i * p.m.out_dim, 1,
                                d_x1 + (size_t)i * p.m.in_dim);
        }
        CU_ASSERT(same_y);
        CU_ASSERT(memcmp(d_x, d_x1, in_n * sizeof(float)) == 0);
        CU_ASSERT(memcmp(grads, p.m.grads, p.m.n_params * sizeof(float)) == 0);
        free(d_out);
        free(y);
        free(d_x);
        free(d_x1);
        free(grads);
        problem_free(&p);
    }
}

/* Pools on a hand example (the partial last window dropped); group norm gives each group mean
 * shift and standard deviation scale. */
static void test_pool_and_groupnorm_values(void) {
    const float x[] = {1, 5, 2, 0, 9, 3, 4, 1, 7, -1, 6, 2, 8, 0, 4, 3, 5, 9, 2, 2, 1};
    const float want_max[] = {7, 6, 9}, want_avg[] = {3.5f, 1.75f, 5.5f};
    const char *specs[] = {"cnn:1x3x7-maxpool2", "cnn:1x3x7-avgpool2"};
    for (int s = 0; s < 2; s++) {
        rl_model m;
        rl_workspace ws;
        CU_ASSERT_FATAL(rl_model_init(&m, specs[s]) == 0);
        CU_ASSERT_EQUAL_FATAL(m.out_dim, 3); // 1 x 1 x 3: the third row and seventh column dropped
        CU_ASSERT_FATAL(rl_workspace_init(&ws, &m, 1) == 0);
        const float *y = rl_model_forward(&m, &ws, x, 1);
        for (int j = 0; j < 3; j++)
            CU_ASSERT_EQUAL(y[j], s == 0 ? want_max[j] : want_avg[j]);
        rl_workspace_free(&ws);
        rl_model_free(&m);
    }
    problem p = {0};
    problem_init(&p, "cnn:4x3x2-gn2", 2, 5);
    const rl_layer *gn = &p.m.layers[0];
    const float *y = rl_model_forward(&p.m, &p.ws, p.x, p.batch);
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 4; c++) {
            /* Within a group, (y − shift_c) / scale_c are the normalized values: mean 0, var 1. */
            int g0 = (c / 2) * 2;
            double sum = 0.0, sq = 0.0;
            for (int cc = g0; cc < g0 + 2; cc++)
                for (int q = 0; q < 6; q++) {
                    double v = (y[i * 24 + cc * 6 + q] - p.m.params[gn->b_off + cc]) /
                               p.m.params[gn->w_off + cc];
                    sum += v;
                    sq += v * v;
                }
            CU_ASSERT(fabs(sum / 12) < 1e-5);
            CU_ASSERT(fabs(sq / 12 - 1.0) < 1e-3); // eps 1e-5 against a variance of about 1/3
        }
    problem_free(&p);
}

/* Every parameter gradient (layer by layer) and the input gradient of p against finite
 * differences, in p's mode (p->ws.train). */
static void check_all_grads(problem *p) {
    rl_model_zero_grads(&p->m);
    problem_backward(p, 1.0f);
    for (int l = 0; l < p->m.n_layers; l++) {
        const rl_layer *ly = &p->m.layers[l];
        size_t n = rl_layer_has_matrix(ly) ? (size_t)rl_layer_rows(ly) * (rl_layer_fan_in(ly) + 1)
                   : ly->kind == RL_LAYER_GROUPNORM || ly->kind == RL_LAYER_BATCHNORM
                       ? 2 * (size_t)ly->out_c
                       : 0;
        if (n)
            CU_ASSERT(check_grads(p->m.params + ly->w_off, p->m.grads + ly->w_off, n, problem_loss,
                                  p) > 0.01);
    }
    size_t n_x = (size_t)p->batch * (size_t)p->m.in_dim;
    float *d_x = calloc(n_x, sizeof(float));
    const float *out = rl_model_forward(&p->m, &p->ws, p->x, p->batch);
    rl_loss_softmax_ce(out, p->labels, NULL, p->batch, p->m.out_dim, 1.0f, p->dlogits, NULL);
    rl_model_input_grad(&p->m, &p->ws, p->dlogits, p->batch, d_x);
    CU_ASSERT(check_grads(p->x, d_x, n_x, problem_loss, p) > 0.01);
    free(d_x);
}

/* Every parameter and input gradient of small CNNs against finite differences, layer by layer.
 * Relu and max pooling have kinks: the seeds are ones where no kink lies within the step. */
static void test_grad_cnn(void) {
    const char *specs[] = {
        "cnn:2x5x5-conv3k3-fc4",
        "cnn:1x6x6-conv4k3-gn2-relu-maxpool2-conv2k3-avgpool3-fc3",
        "cnn:3x4x4-gn3-conv2k1-relu-fc2",
        "cnn:2x7x6-conv3k3s2-relu-conv2k1s2-fc2",
        "cnn:2x6x5-conv4k3-res4g2-res6s2g3-gap-fc3", /* identity and projection shortcuts */
    };
    static const uint64_t seeds[] = {41, 42, 43, 44, 53};
    for (int s = 0; s < 5; s++) {
        problem p = {0};
        problem_init(&p, specs[s], 3, seeds[s]);
        check_all_grads(&p);
        problem_free(&p);
    }
}

/* An example's outputs do not depend on the other examples of its chunk (so a chunk gives the
 * same bits on any rank count: chunk boundaries do not depend on it). Not asserted: the same
 * bits for another chunk size, which OpenBLAS's small-matrix kernels on AVX-512 CPUs do not
 * give (issue 14, the same bits on every CPU, is about that). */
static void test_cnn_example_independent_of_batch(void) {
    problem p = {0};
    problem_init(&p, "cnn:1x6x6-conv4k3-gn2-relu-maxpool2-fc3", 5, 40);
    float all[5 * 3];
    memcpy(all, rl_model_forward(&p.m, &p.ws, p.x, 5), sizeof all);
    for (int i = 0; i < 5 * 36; i++)
        if (i / 36 != 3)
            p.x[i] = 1.0f - p.x[i];
    const float *others_changed = rl_model_forward(&p.m, &p.ws, p.x, 5);
    CU_ASSERT(memcmp(others_changed + 3 * 3, all + 3 * 3, 3 * sizeof(float)) == 0);
    CU_ASSERT(memcmp(others_changed, all, 3 * sizeof(float)) != 0); /* the others did change */
    problem_free(&p);
}

/* Batch norm, dropout and the xN repetition of residual blocks: layout, running averages'
 * place, the documented ResNet and VGG specs; bad tokens refused with a hint. */
static void test_batchnorm_dropout_spec_layout(void) {
    rl_model m;
    CU_ASSERT_FATAL(rl_model_init(&m, "cnn:2x6x6-conv4k3-bn-relu-res4bn-res6s2bnx2-gap-fc8-bn-"
                                      "drop0.25-fc3") == 0);
    CU_ASSERT_EQUAL_FATAL(m.n_layers, 3 + 3 * 7 + 1 + 3 + 1);
    const rl_layer *bn = &m.layers[1], *dense_bn = &m.layers[26], *drop = &m.layers[27];
    CU_ASSERT_EQUAL(bn->kind, RL_LAYER_BATCHNORM);
    CU_ASSERT_EQUAL(bn->s_off, 0);
    CU_ASSERT_EQUAL(bn->b_off, bn->w_off + 4);
    CU_ASSERT_EQUAL(m.layers[3].kind, RL_LAYER_CONV);
    CU_ASSERT_EQUAL(m.layers[4].kind, RL_LAYER_BATCHNORM);
    CU_ASSERT_EQUAL(m.layers[4].s_off, 8);
    /* res6s2bnx2: the first block strided with a projection, the second one identity */
    CU_ASSERT_EQUAL(m.layers[10].stride, 2);
    CU_ASSERT_EQUAL(m.layers[15].kind, RL_LAYER_ADD);
    CU_ASSERT_EQUAL(m.layers[15].size, 1);
    CU_ASSERT_EQUAL(m.layers[17].stride, 1);
    CU_ASSERT_EQUAL(m.layers[22].kind, RL_LAYER_ADD);
    CU_ASSERT_EQUAL(m.layers[22].size, 0);
    CU_ASSERT_EQUAL(m.layers[22].out_h, 3);
    CU_ASSERT_EQUAL(dense_bn->kind, RL_LAYER_BATCHNORM);
    CU_ASSERT_EQUAL(dense_bn->out_c, 8);
    CU_ASSERT_EQUAL(drop->kind, RL_LAYER_DROPOUT);
    CU_ASSERT_EQUAL(drop->rate, 0.25f);
    CU_ASSERT_EQUAL(drop->out, 8);
    CU_ASSERT_EQUAL(m.n_stats, 2 * (4 + 2 * 4 + 4 * 6 + 8));
    CU_ASSERT_EQUAL(dense_bn->s_off + 2 * 8, m.n_stats);
    rl_model_init_params(&m, 3);
    CU_ASSERT_EQUAL(m.params[bn->w_off + 3], 1.0f);
    CU_ASSERT_EQUAL(m.params[bn->b_off + 3], 0.0f);
    CU_ASSERT_EQUAL(m.stats[dense_bn->s_off + 7], 0.0f);
    CU_ASSERT_EQUAL(m.stats[dense_bn->s_off + 8 + 7], 1.0f);
    rl_model_free(&m);

    /* xN is N blocks written out; the ResNets and the VGG-style net of nn.h and --help */
    rl_model a, b;
    CU_ASSERT_FATAL(rl_model_init(&a, "cnn:3x32x32-conv16k3-gn4-relu-res16g4x3-res32s2g4x3-"
                                      "res64s2g4x3-gap-fc10") == 0);
    CU_ASSERT_FATAL(rl_model_init(&b, "cnn:3x32x32-conv16k3-gn4-relu-res16g4-res16g4-res16g4-"
                                      "res32s2g4-res32g4-res32g4-res64s2g4-res64g4-res64g4-gap-"
                                      "fc10") == 0);
    CU_ASSERT_EQUAL(a.n_layers, b.n_layers);
    CU_ASSERT_EQUAL(a.n_params, b.n_params);
    CU_ASSERT(memcmp(a.layers, b.layers, sizeof(rl_layer) * (size_t)a.n_layers) == 0);
    rl_model_free(&a);
    rl_model_free(&b);
    static const struct {
        const char *spec;
        int convs, norms;
    } nets[] = {
        {"cnn:3x32x32-conv16k3-bn-relu-res16bnx3-res32s2bnx3-res64s2bnx3-gap-fc10", 19, 19},
        {"cnn:1x28x28-conv16k3-gn4-relu-res16g4x5-res32s2g4x5-res64s2g4x5-gap-fc10", 31, 0},
        {"cnn:3x32x32-conv16k3-bn-relu-res16bnx5-res32s2bnx5-res64s2bnx5-gap-fc10", 31, 31},
        {"cnn:3x32x32-conv16k3-bn-relu-res16bnx18-res32s2bnx18-res64s2bnx18-gap-fc10", 109, 109},
        {"cnn:1x28x28-conv16k3-bn-relu-maxpool2-conv32k3-bn-relu-maxpool2-conv64k3-bn-relu-"
         "conv64k3-bn-relu-maxpool2-conv128k3-bn-relu-conv128k3-bn-relu-maxpool2-conv128k3-bn-"
         "relu-conv128k3-bn-relu-gap-fc128-relu-drop0.5-fc10",
         8, 8},
        {"cnn:3x32x32-conv16k3-bn-relu-maxpool2-conv32k3-bn-relu-maxpool2-conv64k3-bn-relu-"
         "conv64k3-bn-relu-maxpool2-conv128k3-bn-relu-conv128k3-bn-relu-maxpool2-conv128k3-bn-"
         "relu-conv128k3-bn-relu-gap-fc128-relu-drop0.5-fc10",
         8, 8},
    };
    for (size_t n = 0; n < sizeof nets / sizeof nets[0]; n++) {
        CU_ASSERT_FATAL(rl_model_init(&m, nets[n].spec) == 0);
        int convs = 0, norms = 0;
        for (int l = 0; l < m.n_layers; l++) {
            convs += m.layers[l].kind == RL_LAYER_CONV;
            norms += m.layers[l].kind == RL_LAYER_BATCHNORM;
        }
        CU_ASSERT_EQUAL(convs, nets[n].convs);
        CU_ASSERT_EQUAL(norms, nets[n].norms);
        CU_ASSERT_EQUAL(m.out_dim, 10);
        rl_model_free(&m);
    }

    const char *bad[] = {
        "cnn:1x8x8-bn2-fc2",      "cnn:1x8x8-drop1-fc2",    "cnn:1x8x8-drop-fc2",
        "cnn:1x8x8-drop-0.1-fc2", "cnn:1x8x8-res4bnx0-fc2", "cnn:1x8x8-res4bnx-fc2",
        "cnn:1x8x8-res4b-fc2",    "cnn:1x8x8-res4g2x-fc2",  "cnn:1x8x8-res4bnx60-fc2",
        "cnn:1x8x8-drop 0.5-fc2", "cnn:1x8x8-dropnan-fc2",  "cnn:1x8x8-drop.5-fc2",
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        rl_error_clear();
        CU_ASSERT_EQUAL(rl_model_init(&m, bad[c]), RL_ERR);
        CU_ASSERT_PTR_NULL(m.stats);
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), bad[c]));
        CU_ASSERT(strlen(rl_error_hint()) > 0);
    }
}

/* Batch norm on a hand-worked case: a chunk of two 1 x 1 x 2 examples {1, 3} and {5, 7} is
 * normalized with mean 4 and biased variance 5; with a second chunk of one example {2, 2}
 * (mean 2, variance 0) the step's statistics weigh the chunks by examples (2/3, 1/3): mean
 * 2/3 · 4 + 1/3 · 2 = 10/3, unbiased variance 2/3 · 20/3 + 1/3 · 0 = 40/9, and momentum 0.1
 * from (0, 1) gives running mean 1/3 and variance 0.9 + 0.1 · 40/9; evaluation then normalizes
 * with those. */
static void test_batchnorm_running_averages_hand_case(void) {
    rl_model m;
    rl_workspace ws;
    CU_ASSERT_FATAL(rl_model_init(&m, "cnn:1x1x2-bn") == 0);
    rl_model_init_params(&m, 1);
    m.params[0] = 2.0f; /* scale */
    m.params[1] = 0.5f; /* shift */
    CU_ASSERT_FATAL(rl_workspace_init(&ws, &m, 2) == 0);
    const float chunk_a[] = {1, 3, 5, 7}, chunk_b[] = {2, 2};
    float sums[2] = {0, 0};
    ws.train = 1;
    const float *y = rl_model_forward(&m, &ws, chunk_a, 2);
    for (int j = 0; j < 4; j++)
        CU_ASSERT(fabs(y[j] - (2.0 * (chunk_a[j] - 4.0) / sqrt(5.0 + 1e-5) + 0.5)) < 1e-6);
    rl_model_add_batch_stats(&m, &ws, 2, 2.0f / 3.0f, sums);
    rl_model_forward(&m, &ws, chunk_b, 1);
    rl_model_add_batch_stats(&m, &ws, 1, 1.0f / 3.0f, sums);
    CU_ASSERT(fabs(sums[0] - 10.0 / 3.0) < 1e-6);
    CU_ASSERT(fabs(sums[1] - 40.0 / 9.0) < 1e-6);
    rl_model_update_stats(&m, sums, 0.1f);
    CU_ASSERT(fabs(m.stats[0] - 1.0 / 3.0) < 1e-6);
    CU_ASSERT(fabs(m.stats[1] - (0.9 + 4.0 / 9.0)) < 1e-6);
    ws.train = 0;
    const float x[] = {1, 4};
    y = rl_model_forward(&m, &ws, x, 1);
    for (int j = 0; j < 2; j++)
        CU_ASSERT(fabs(y[j] - (2.0 * (x[j] - 1.0 / 3.0) / sqrt(0.9 + 4.0 / 9.0 + 1e-5) + 0.5)) <
                  1e-5);
    rl_workspace_free(&ws);
    rl_model_free(&m);
}

/* Batch norm's gradients (scale, shift, every other parameter and the input) against finite
 * differences in training mode, through the statistics of the batch (conv and dense batch
 * norm, residual blocks), and in evaluation, through fixed running averages. */
static void test_grad_batchnorm(void) {
    const char *specs[] = {
        "cnn:2x4x4-conv3k3-bn-relu-fc3",
        "cnn:3x3x3-bn-conv2k1-relu-fc2",
        "cnn:5x1x1-fc6-bn-relu-fc3",
        "cnn:2x6x5-conv4k3-res4bn-res6s2bn-gap-fc3",
    };
    static const uint64_t seeds[] = {63, 62, 61, 63}; /* no relu kink within the step */
    for (int train = 0; train <= 1; train++)
        for (int s = 0; s < 4; s++) {
            problem p = {0};
            problem_init(&p, specs[s], 4, seeds[s]);
            p.ws.train = train;
            check_all_grads(&p);
            problem_free(&p);
        }
}

/* Dropout's mask is keyed by (round, example id, layer, unit): the gradients with the mask
 * fixed match finite differences; about the share asked is dropped and the rest scaled by
 * 1 / (1 − P); an example gets the same mask alone or among others, another one in another
 * round; evaluation is the identity. */
static void test_dropout(void) {
    problem p = {0};
    problem_init(&p, "cnn:3x2x2-conv4k1-drop0.5-relu-fc3", 3, 71);
    p.ws.train = 1;
    check_all_grads(&p);
    problem_free(&p);

    rl_model m;
    CU_ASSERT_FATAL(rl_model_init(&m, "cnn:4x16x16-drop0.25") == 0);
    enum { UNITS = 4 * 16 * 16 };
    rl_workspace ws;
    CU_ASSERT_FATAL(rl_workspace_init(&ws, &m, 2) == 0);
    float *x = malloc(sizeof(float) * 2 * UNITS), *pair = malloc(sizeof(float) * 2 * UNITS);
    for (int j = 0; j < 2 * UNITS; j++)
        x[j] = 1.0f + (float)(j % 7);
    int64_t ids[2] = {12, 40};
    ws.train = 1;
    ws.ids = ids;
    ws.round = 3;
    ws.dropout_rng = rl_rng_make(5, RL_RNG_DROPOUT);
    memcpy(pair, rl_model_forward(&m, &ws, x, 2), sizeof(float) * 2 * UNITS);
    int dropped = 0, wrong = 0;
    for (int j = 0; j < 2 * UNITS; j++) {
        dropped += pair[j] == 0.0f;
        wrong += pair[j] != 0.0f && pair[j] != x[j] * (1.0f / 0.75f);
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT(dropped > 0.2 * 2 * UNITS && dropped < 0.3 * 2 * UNITS);
    ws.ids = ids + 1; /* example 40 alone */
    const float *alone = rl_model_forward(&m, &ws, x + UNITS, 1);
    CU_ASSERT(memcmp(alone, pair + UNITS, sizeof(float) * UNITS) == 0);
    CU_ASSERT(memcmp(pair, pair + UNITS, sizeof(float) * UNITS) != 0); /* 12's mask differs */
    ws.round = 4;
    alone = rl_model_forward(&m, &ws, x + UNITS, 1);
    CU_ASSERT(memcmp(alone, pair + UNITS, sizeof(float) * UNITS) != 0);
    ws.train = 0;
    ws.ids = NULL;
    CU_ASSERT(memcmp(rl_model_forward(&m, &ws, x, 2), x, sizeof(float) * 2 * UNITS) == 0);
    free(x);
    free(pair);
    rl_workspace_free(&ws);
    rl_model_free(&m);
}

static const rl_test tests[] = {
    {"spec parsing accepts good specs with the right layout", test_spec_accepts},
    {"spec parsing rejects bad specs with a hint", test_spec_rejects},
    {"free(NULL) is a no-op and free leaves zeroed structs", test_free_null_and_zeroed},
    {"workspace rejects a non-positive batch", test_workspace_rejects_bad_batch},
    {"init is deterministic, seed-dependent and Kaiming-bounded",
     test_init_deterministic_and_bounded},
    {"scaling the weights leaves biases and norms", test_scale_weights},
    {"forward matches a hand-computed mlp", test_forward_hand_example},
    {"dense gradients match finite differences", test_grad_dense},
    {"relu gradients match finite differences", test_grad_relu},
    {"all mlp:5-4-3 gradients match finite differences", test_grad_mlp_all_params},
    {"input gradients match finite differences", test_grad_input},
    {"backward accumulates and scales gradients", test_backward_accumulates},
    {"softmax CE values are right and stable", test_softmax_ce_values_and_stability},
    {"softmax CE gradients match finite differences", test_grad_softmax_ce},
    {"MSE values and gradients", test_mse},
    {"count_correct breaks ties by first maximum", test_count_correct_ties},
    {"SGD matches two hand-computed steps", test_sgd_two_steps},
    {"Adam matches two hand-computed steps", test_adam_two_steps},
    {"optimizer init rejects bad settings", test_opt_rejects_bad_settings},
    {"SGD and Adam reduce a tiny loss, deterministically",
     test_optimizers_reduce_loss_deterministically},
    {"cnn specs give the right shapes and layout; bad ones are rejected with a hint",
     test_cnn_spec_layout},
    {"convolution (im2col + GEMM) matches its definition (strides, odd channels)",
     test_conv_matches_definition},
    {"convolution over a chunk gives the bits of one example at a time",
     test_conv_batched_same_bits_as_per_example},
    {"pooling and group norm values", test_pool_and_groupnorm_values},
    {"residual blocks and ResNet-20 specs give the right layout", test_resnet_spec_layout},
    {"global average pooling values", test_globalpool_values},
    {"CNN parameter and input gradients match finite differences", test_grad_cnn},
    {"a CNN's output for an example does not depend on the batch",
     test_cnn_example_independent_of_batch},
    {"batch norm, dropout and repeated residual blocks: layout, ResNet and VGG specs; bad ones "
     "refused",
     test_batchnorm_dropout_spec_layout},
    {"batch norm statistics and running averages on a hand-worked case",
     test_batchnorm_running_averages_hand_case},
    {"batch norm gradients match finite differences (training and evaluation)",
     test_grad_batchnorm},
    {"dropout: masks keyed by example and round, gradients match finite differences", test_dropout},
    {NULL, NULL},
};

RL_TEST_SUITE("nn", tests)
