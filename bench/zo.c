/* ZOQO benchmarks on one core: a MeZO step on an MLP (compare with bench/peers/mezo_torch.py),
 * perturbation regeneration rate, int8 vs fp32 forward of the same MLP (or CNN), peak memory of a
 * zero-order step vs a forward pass, bytes exchanged per step vs parameter count.
 * Usage: bench_zo [SPEC] [BATCH] [STEPS] [COMPUTE]   (defaults mlp:784-256-256-10 64 200 exact) */
#include "bench/args.h"
#include "src/train/zo.h"
#include "kernels/int8.h"
#include "kernels/perturb.h"
#include "src/comm/comm.h"
#include "src/core/compute.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
#include "src/nn/nn.h"
#include "src/nn/qmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RL_FIXED_ONE(v) ((int64_t)llrint(ldexp((v), RL_FIXED_FRAC_BITS)))
#define INT8_MAX_BATCH 256 /* the int8 vs fp32 comparison runs batches of 16 .. 256 */

static const char usage[] =
    "usage: bench_zo [SPEC] [BATCH] [STEPS] [COMPUTE]\n"
    "  SPEC   an mlp: spec, or a cnn: spec of conv, relu, pool and fc layers (it is quantized\n"
    "         too), default mlp:784-256-256-10\n"
    "  BATCH  examples per forward pass of the MeZO step, 1..65536, default 64\n"
    "  STEPS  timed forward passes and MeZO steps, 1..1000000, default 200\n"
    "  COMPUTE  the fp32 GEMM path, exact (default) or blas (run.compute)\n";

static const rl_cfg_spec keys[] = {
    {"bench.spec", RL_CFG_STRING, "mlp:784-256-256-10", 0, -1, NULL, 0, "model spec (mlp:)"},
    {"bench.batch", RL_CFG_INT, "64", 1, 65536, NULL, 0, "examples per forward pass"},
    {"bench.steps", RL_CFG_INT, "200", 1, 1e6, NULL, 0, "timed repetitions"},
    {"bench.compute", RL_CFG_CHOICE, "exact", 0, -1, "exact|blas", 0, "fp32 GEMM path"},
};
static const char *const key_names[] = {"bench.spec", "bench.batch", "bench.steps",
                                        "bench.compute"};

typedef struct {
    rl_model *m;
    rl_workspace *ws;
    const float *x;
    const int32_t *y;
    int batch;
} mlp_batch;

static int64_t mlp_loss(void *ctx_, const void *params) {
    mlp_batch *ctx = ctx_;
    (void)params; /* perturbed in place in the model's arena */
    const float *logits = rl_model_forward(ctx->m, ctx->ws, ctx->x, ctx->batch);
    double l = rl_loss_softmax_ce(logits, ctx->y, NULL, ctx->batch, ctx->m->out_dim, 0.0f, NULL,
                                  NULL);
    return RL_FIXED_ONE(l / ctx->batch);
}

static void fill_batch(float *x, int32_t *y, int batch, int dim, int classes) {
    rl_rng r = rl_rng_make(5, RL_RNG_SYNTH_DATA);
    for (size_t i = 0; i < (size_t)batch * (size_t)dim; i++)
        x[i] = (float)rl_rng_uniform(r, 1, (uint32_t)i);
    for (int i = 0; i < batch; i++)
        y[i] = (int32_t)(i % classes);
}

int main(int argc, char **argv) {
    if (comm_init(&argc, &argv) < 0) {
        rl_error_print();
        return 1;
    }
    rl_config *cfg = rl_cfg_new();
    rl_cfg_declare(cfg, keys, sizeof keys / sizeof keys[0]);
    int args = bench_args(argc, argv, usage, cfg, key_names, 4);
    if (args == 0 && rl_compute_init(rl_cfg_str(cfg, "bench.compute")) < 0) {
        rl_error_print();
        args = RL_ERR;
    }
    if (args != 0) {
        rl_cfg_free(cfg);
        comm_finalize();
        return args > 0 ? 0 : 2;
    }
    const char *spec = rl_cfg_str(cfg, "bench.spec");
    int batch = (int)rl_cfg_int(cfg, "bench.batch");
    int steps = (int)rl_cfg_int(cfg, "bench.steps");
    /* the buffers hold the larger of the MeZO batch and the int8 comparison's batches */
    int rows = batch > INT8_MAX_BATCH ? batch : INT8_MAX_BATCH;
    rl_model m = {0};
    rl_workspace ws = {0};
    int rc = rl_model_init(&m, spec);
    if (rc == 0 && rl_qmodel_check(&m) < 0)
        rc = rl_fail_hint("bench_zo quantizes the model: give an mlp: spec or a cnn: spec of conv, "
                          "relu, pool and fc layers");
    rc = rc ? rc : rl_workspace_init(&ws, &m, rows);
    if (rc < 0) {
        rl_error_print();
        fputs(usage, stderr);
        rl_model_free(&m);
        rl_cfg_free(cfg);
        comm_finalize();
        return 2;
    }
    rl_model_init_params(&m, 1);
    float *x = rl_xmalloc(sizeof(float) * (size_t)rows * (size_t)m.in_dim); // (rows, in_dim)
    int32_t *y = rl_xmalloc(sizeof(int32_t) * (size_t)rows);                // (rows)
    fill_batch(x, y, rows, m.in_dim, m.out_dim);
    mlp_batch ctx = {&m, &ws, x, y, batch};
    printf("bench_zo: %s (%zu parameters), batch %d, int8 kernels: %s\n", spec, m.n_params,
           batch, kern_int8_isa());

    /* 1. forward alone, then a MeZO step (2 forwards + 4 regenerations), peak memory of each */
    mlp_loss(&ctx, NULL);
    rl_mem_peak_reset();
    double t0 = rl_now();
    for (int i = 0; i < steps; i++)
        mlp_loss(&ctx, NULL);
    double forward_s = (rl_now() - t0) / steps;
    int64_t forward_peak = rl_mem_peak_kb();
    zo_options opt = {0};
    opt.method = ZO_MEZO;
    opt.perturbations = 1;
    opt.kind = KERN_PERTURB_GAUSSIAN;
    opt.mu = 1e-3f;
    opt.lr = 1e-4f;
    rl_rng pr = rl_rng_make(1, RL_RNG_PERTURB);
    memcpy(opt.key, pr.key, sizeof opt.key);
    zo_state z;
    zo_init(&z, &opt, m.params, m.n_params);
    zo_step(&z, 0, mlp_loss, &ctx);
    rl_mem_peak_reset();
    t0 = rl_now();
    double cpu0 = rl_cpu_now();
    for (int i = 0; i < steps; i++)
        zo_step(&z, (uint32_t)i + 1, mlp_loss, &ctx);
    double mezo_s = (rl_now() - t0) / steps, mezo_cpu_s = (rl_cpu_now() - cpu0) / steps;
    int64_t step_peak = rl_mem_peak_kb();
    printf("fp32 forward            %10.3f ms\n", 1e3 * forward_s);
    printf("MeZO step (K=1)         %10.3f ms\n", 1e3 * mezo_s);
    printf("MeZO step CPU time      %10.3f ms\n", 1e3 * mezo_cpu_s);
    printf("peak RSS forward        %10lld KiB\n", (long long)forward_peak);
    printf("peak RSS MeZO step      %10lld KiB  (ratio %.3f)\n", (long long)step_peak,
           (double)step_peak / (double)forward_peak);
    zo_free(&z);

    /* 2. regeneration rate per core */
    size_t n = 1 << 24;
    int8_t *codes = rl_xcalloc(n, 1), *out = rl_xmalloc(n);
    float *v = rl_xcalloc(n, sizeof(float));
    int32_t *votes = rl_xcalloc(n, sizeof(int32_t));
    struct {
        const char *name;
        int which;
    } gens[] = {{"codes ±m (rademacher)", 0}, {"codes {-m..m} (uniform)", 1},
                {"vote sign(u) (rademacher)", 2}, {"axpy N(0,1) (gaussian)", 3}};
    for (int g = 0; g < 4; g++) { /* best of 7 passes over 16M elements: the core's own rate */
        double best = 1e30;
        for (int r = 0; r < 7; r++) {
            t0 = rl_now();
            if (gens[g].which == 0)
                kern_perturb_codes(out, codes, n, opt.key, r, 0, KERN_PERTURB_RADEMACHER, 1, 1, 127);
            else if (gens[g].which == 1)
                kern_perturb_codes(out, codes, n, opt.key, r, 0, KERN_PERTURB_UNIFORM, 2, 1, 127);
            else if (gens[g].which == 2)
                kern_perturb_vote(votes, n, opt.key, r, 0, KERN_PERTURB_RADEMACHER, 1, 1);
            else
                kern_perturb_axpy(v, n, opt.key, r, 0, KERN_PERTURB_GAUSSIAN, 1, 1e-3f);
            double dt = rl_now() - t0;
            best = dt < best ? dt : best;
        }
        printf("regenerate %-26s %8.2f Gelem/s\n", gens[g].name, (double)n / best / 1e9);
    }
    free(codes);
    free(out);
    free(v);
    free(votes);

    /* 3. int8 vs fp32 forward of the same MLP */
    rl_qmodel q;
    rl_qmodel_options qo = {.bits = 8, .target = RL_QTRAIN_LAST, .lora_range = 0.1f, .seed = 1};
    rl_qworkspace qws;
    if (rl_qmodel_quantize(&q, &m, &qo, x, INT8_MAX_BATCH) < 0 ||
        rl_qworkspace_init(&qws, &q, INT8_MAX_BATCH) < 0)
        comm_fatal_stored_error();
    printf("batch   fp32 ms   int8 ms   int8 speed-up\n");
    int batches[4] = {16, 64, 128, INT8_MAX_BATCH};
    for (int b = 0; b < 4; b++) {
        int reps = 4000 / batches[b] + 20;
        t0 = rl_now();
        for (int r = 0; r < reps; r++)
            rl_model_forward(&m, &ws, x, batches[b]);
        double tf = (rl_now() - t0) / reps;
        t0 = rl_now();
        for (int r = 0; r < reps; r++)
            rl_qmodel_forward(&q, &qws, q.trainable, x, batches[b]);
        double tq = (rl_now() - t0) / reps;
        printf("%5d %9.3f %9.3f %10.2fx\n", batches[b], 1e3 * tf, 1e3 * tq, tf / tq);
    }

    /* 4. bytes exchanged per step vs parameter count (K = 8) */
    printf("parameters   K   bytes exchanged per step\n");
    size_t sizes[3] = {2570, 269322, 10000000};
    for (int s = 0; s < 3; s++) {
        int8_t *c = rl_xcalloc(sizes[s], 1);
        zo_options o = {0};
        o.method = ZO_ZOQO;
        o.perturbations = 8;
        o.vote = 1;
        o.kind = KERN_PERTURB_RADEMACHER;
        o.m = o.c = 1;
        o.qmax = 127;
        memcpy(o.key, opt.key, sizeof o.key);
        zo_state zz;
        zo_init(&zz, &o, c, sizes[s]);
        mlp_batch none = {&m, &ws, x, y, 1};
        zo_step(&zz, 0, mlp_loss, &none);
        printf("%10zu %3d %10lld\n", sizes[s], 8, (long long)zz.bytes_exchanged);
        zo_free(&zz);
        free(c);
    }
    rl_qworkspace_free(&qws);
    rl_qmodel_free(&q);
    rl_workspace_free(&ws);
    rl_model_free(&m);
    free(x);
    free(y);
    rl_cfg_free(cfg);
    comm_finalize();
    return 0;
}
