/* Engine benchmarks (issue 15) on one core: each layer kind at the shapes of ResNet-20 on
 * Fashion-MNIST and of the small CNN (forward, and backward = weight + input gradient), the
 * forward of mlp:784-512-512-10 against its GEMM floor, and the OpenBLAS sgemm rate of this core
 * measured in the same run. bench/peers/engine_torch.py times the same cases in torch and
 * bench/run_engine.py runs both and prints the ratios.
 *
 *     OPENBLAS_NUM_THREADS=1 taskset -c 1 build/bench_engine [BATCH]      (default 128)
 *
 * Output lines (whitespace separated, times in CPU seconds of this thread, best of BENCH_SAMPLES
 * runs: bench/timing.h):
 *   sgemm RATE_GFLOPS                 OpenBLAS, 512 x 512 x 512
 *   layer NAME FWD_S BWD_S FWD_FLOP BWD_FLOP SPEC   (FLOP 0 for layers without multiplies; SPEC
 *                                                  the one-layer model, for the peer)
 *   mlp_forward BATCH FORWARD_S FLOOR_BLAS_S FLOOR_EXACT_S
 */
#include "bench/args.h"
#include "bench/timing.h"
#include "kernels/kernels.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/nn/layers.h"
#include "src/nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One layer (the only layer of a one-layer model) with its input, output and gradients. */
typedef struct {
    rl_model m;
    rl_workspace ws;
    const rl_layer *ly;
    int batch;
    float *x, *y, *dy, *dx; /* (batch, in), (batch, out), (batch, out), (batch, in) */
    float *batch_stats;     /* batch norm: the batch's mean and variance (2 · out_c) */
} layer_case;

static void layer_forward(void *ctx) {
    layer_case *lc = ctx;
    const rl_layer *ly = lc->ly;
    switch (ly->kind) {
    case RL_LAYER_CONV:
        rl_conv_forward(ly, lc->m.params, lc->x, lc->y, lc->batch,
                        &(rl_conv_scratch){lc->ws.col, lc->ws.conv_out});
        break;
    case RL_LAYER_GROUPNORM:
        rl_groupnorm_forward(ly, lc->m.params, lc->x, lc->y, lc->batch);
        break;
    case RL_LAYER_BATCHNORM: /* training mode: the batch's statistics */
        rl_batchnorm_forward(ly, lc->m.params, lc->m.stats + ly->s_off, lc->batch_stats, lc->x,
                             lc->y, lc->batch);
        break;
    case RL_LAYER_MAXPOOL:
    case RL_LAYER_AVGPOOL:
        rl_pool_forward(ly, lc->x, lc->y, lc->batch);
        break;
    default: /* dense: through the model (its forward is the model's) */
        rl_model_forward(&lc->m, &lc->ws, lc->x, lc->batch);
        break;
    }
}

static void layer_backward(void *ctx) {
    layer_case *lc = ctx;
    const rl_layer *ly = lc->ly;
    switch (ly->kind) {
    case RL_LAYER_CONV:
        rl_conv_backward(ly, lc->m.params, lc->m.grads, lc->x, lc->dy, lc->dx, lc->batch,
                         &(rl_conv_scratch){lc->ws.col, lc->ws.conv_out});
        break;
    case RL_LAYER_GROUPNORM:
        rl_groupnorm_backward(ly, lc->m.params, lc->m.grads, lc->x, lc->dy, lc->dx, lc->batch);
        break;
    case RL_LAYER_BATCHNORM:
        rl_batchnorm_backward(ly, lc->m.params, lc->m.stats + ly->s_off, 1, lc->m.grads, lc->x,
                              lc->dy, lc->dx, lc->batch);
        break;
    case RL_LAYER_MAXPOOL:
    case RL_LAYER_AVGPOOL:
        rl_pool_backward(ly, lc->x, lc->dy, lc->dx, lc->batch);
        break;
    default: /* dense: weight gradient, then input gradient */
        rl_model_backward(&lc->m, &lc->ws, lc->dy, lc->batch);
        rl_model_input_grad(&lc->m, &lc->ws, lc->dy, lc->batch, lc->dx);
        break;
    }
}

/* Times the layer of `spec` (a one-layer model) at `batch`; prints a "layer" line. */
static int bench_layer(const char *name, const char *spec, int batch) {
    layer_case lc = {.batch = batch};
    if (rl_model_init(&lc.m, spec) < 0 || rl_workspace_init(&lc.ws, &lc.m, batch) < 0)
        return RL_ERR;
    rl_model_init_params(&lc.m, 1);
    lc.ly = &lc.m.layers[0];
    size_t in = (size_t)batch * lc.ly->in, out = (size_t)batch * lc.ly->out;
    lc.x = rl_xmalloc(in * sizeof(float));
    lc.dx = rl_xmalloc(in * sizeof(float));
    lc.y = rl_xmalloc(out * sizeof(float));
    lc.dy = rl_xmalloc(out * sizeof(float));
    lc.batch_stats = rl_xmalloc(2 * (size_t)lc.ly->out_c * sizeof(float));
    const uint32_t key[2] = {15, 7};
    kern_fill_uniform(lc.x, in, key, 1, -1.0f, 1.0f);
    kern_fill_uniform(lc.dy, out, key, 2, -1.0f, 1.0f);
    layer_forward(&lc); /* the model's activations for the dense backward */
    double multiplies = 0.0;
    if (lc.ly->kind == RL_LAYER_CONV)
        multiplies = (double)lc.ly->out * rl_layer_fan_in(lc.ly);
    else if (lc.ly->kind == RL_LAYER_DENSE)
        multiplies = (double)lc.ly->out * lc.ly->in;
    double flop = 2.0 * multiplies * batch; /* backward: twice (weight and input gradient) */
    double fwd = bench_best_time(layer_forward, &lc), bwd = bench_best_time(layer_backward, &lc);
    printf("layer %s %.6e %.6e %.6e %.6e %s\n", name, fwd, bwd, flop, 2.0 * flop, spec);
    fflush(stdout);
    free(lc.x);
    free(lc.dx);
    free(lc.y);
    free(lc.dy);
    free(lc.batch_stats);
    rl_workspace_free(&lc.ws);
    rl_model_free(&lc.m);
    return 0;
}

typedef struct {
    int m, n, k;
    const float *a, *b;
    float *c;
} gemm_case;

static void gemm_call(void *ctx) {
    gemm_case *g = ctx; /* C (m, n) = A (m, k) · B (n, k)ᵀ, as a dense layer's forward */
    kern_sgemm(0, 1, g->m, g->n, g->k, 1.0f, g->a, g->k, g->b, g->k, 0.0f, g->c, g->n);
}

/* Seconds of the GEMMs of mlp `m`'s forward at `batch` on the current kern_sgemm path. */
static double mlp_gemm_floor(const rl_model *m, const float *x, float *scratch, int batch) {
    double total = 0.0;
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *ly = &m->layers[l];
        if (ly->kind != RL_LAYER_DENSE)
            continue;
        gemm_case g = {batch, ly->out, ly->in, x, m->params + ly->w_off, scratch};
        total += bench_best_time(gemm_call, &g);
    }
    return total;
}

typedef struct {
    rl_model *m;
    rl_workspace *ws;
    const float *x;
    int batch;
} forward_case;

static void forward_call(void *ctx) {
    forward_case *f = ctx;
    rl_model_forward(f->m, f->ws, f->x, f->batch);
}

/* The forward of mlp:784-512-512-10 against the time of its three GEMMs alone. */
static int bench_mlp_forward(int batch) {
    rl_model m;
    rl_workspace ws;
    if (rl_model_init(&m, "mlp:784-512-512-10") < 0 || rl_workspace_init(&ws, &m, batch) < 0)
        return RL_ERR;
    rl_model_init_params(&m, 1);
    size_t values = (size_t)batch * 784;
    float *x = rl_xmalloc(values * sizeof(float));   // (batch, 784): every GEMM's A fits
    float *out = rl_xmalloc(values * sizeof(float)); // (batch, ≤ 784)
    const uint32_t key[2] = {15, 8};
    kern_fill_uniform(x, values, key, 1, 0.0f, 1.0f);
    forward_case f = {&m, &ws, x, batch};
    double forward = bench_best_time(forward_call, &f);
    double floor_exact = mlp_gemm_floor(&m, x, out, batch);
    kern_compute_set(KERN_COMPUTE_BLAS);
    double floor_blas = mlp_gemm_floor(&m, x, out, batch);
    kern_compute_set(KERN_COMPUTE_EXACT);
    printf("mlp_forward %d %.6e %.6e %.6e\n", batch, forward, floor_blas, floor_exact);
    free(x);
    free(out);
    rl_workspace_free(&ws);
    rl_model_free(&m);
    return 0;
}

/* OpenBLAS sgemm GFLOP/s on a 512 x 512 x 512 product. */
static double sgemm_rate(void) {
    enum { N = 512 };
    float *a = rl_xmalloc(sizeof(float) * 3 * N * N);
    const uint32_t key[2] = {15, 9};
    kern_fill_uniform(a, 3 * N * N, key, 1, -1.0f, 1.0f);
    gemm_case g = {N, N, N, a, a + N * N, a + 2 * N * N};
    kern_compute_set(KERN_COMPUTE_BLAS);
    double t = bench_best_time(gemm_call, &g);
    kern_compute_set(KERN_COMPUTE_EXACT);
    free(a);
    return 2.0 * N * N * N / t / 1e9;
}

static const char usage[] =
    "usage: bench_engine [BATCH] [ONLY]\n"
    "  BATCH  examples per layer call, 1..4096, default 128 (the MLP forward runs at 64 and 256)\n"
    "  ONLY   time only the layer of this name (for a profile: perf record bench_engine 128 "
    "NAME)\n";

static const rl_cfg_spec keys[] = {
    {"bench.batch", RL_CFG_INT, "128", 1, 4096, NULL, 0, "examples per layer call"},
    {"bench.only", RL_CFG_STRING, "", 0, -1, NULL, 0, "the one layer to time (empty: all)"},
};
static const char *const key_names[] = {"bench.batch", "bench.only"};

/* Layers of ResNet-20 on 1x28x28 (16/32/64 channels at 28², 14², 7²) and of the small CNN. */
static const struct {
    const char *name, *spec;
} layers[] = {
    {"conv1to16_28", "cnn:1x28x28-conv16k3"},
    {"conv16_28", "cnn:16x28x28-conv16k3"},
    {"conv16to32s2_28", "cnn:16x28x28-conv32k3s2"},
    {"conv32_14", "cnn:32x14x14-conv32k3"},
    {"conv32to64s2_14", "cnn:32x14x14-conv64k3s2"},
    {"conv64_7", "cnn:64x7x7-conv64k3"},
    {"cnn_conv8k5_28", "cnn:1x28x28-conv8k5"},
    {"cnn_conv16k5_14", "cnn:8x14x14-conv16k5"},
    {"gn4_16x28", "cnn:16x28x28-gn4"},
    {"gn4_64x7", "cnn:64x7x7-gn4"},
    {"bn_16x28", "cnn:16x28x28-bn"},
    {"bn_64x7", "cnn:64x7x7-bn"},
    {"maxpool2_8x28", "cnn:8x28x28-maxpool2"},
    {"dense_784to512", "mlp:784-512"},
    {"dense_512to512", "mlp:512-512"},
};

int main(int argc, char **argv) {
    rl_config *cfg = rl_cfg_new();
    rl_cfg_declare(cfg, keys, 2);
    int args = bench_args(argc, argv, usage, cfg, key_names, 2);
    if (args != 0) {
        rl_cfg_free(cfg);
        return args > 0 ? 0 : 2;
    }
    int batch = (int)rl_cfg_int(cfg, "bench.batch");
    char only[64];
    snprintf(only, sizeof only, "%s", rl_cfg_str(cfg, "bench.only"));
    rl_cfg_free(cfg);
    if (!only[0])
        printf("sgemm %.3f\n", sgemm_rate());
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof layers / sizeof layers[0]; i++)
        if (!only[0] || !strcmp(only, layers[i].name))
            rc = bench_layer(layers[i].name, layers[i].spec, batch);
    if (!only[0]) {
        rc = rc ? rc : bench_mlp_forward(64);
        rc = rc ? rc : bench_mlp_forward(256);
    }
    if (rc < 0) {
        rl_error_print();
        return 1;
    }
    return 0;
}
