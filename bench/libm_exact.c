/* The vectorized libm kernels against glibc (issue 17), at every ISA level this CPU supports,
 * counting the values whose bits differ and timing both (CPU seconds of this thread):
 *   tanh  kern_tanh_f64 on every GELU argument the transformer can give it: for each of the 2^32
 *         float bit patterns v (or every STEP-th), u = √(2/π)(v + 0.044715v³) in double as
 *         rl_gelu_forward computes it;
 *   exp   kern_exp_f64 on EXP_VALUES arguments from the counter RNG, a quarter each uniform on
 *         (−745, 0] and on (−40, 0], the difference of two floats in (−30, 0] (as the softmaxes
 *         form them), and any 64-bit pattern.
 *
 *     taskset -c 1 build/bench_libm_exact [STEP] [EXP_VALUES]
 *
 * Output: "tanh|exp LEVEL VALUES DIFFERING KERNEL_SECONDS GLIBC_SECONDS", one line per function
 * and level; exits 1 if any value differs.
 */
#include "bench/args.h"
#include "bench/timing.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "src/core/rng.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: bench_libm_exact [STEP] [EXP_VALUES]\n"
    "  STEP        tanh: check every STEP-th float bit pattern, 1..65536, default 1 (all 2^32)\n"
    "  EXP_VALUES  exp: arguments checked, 0..2^40, default 2^30\n";

static const rl_cfg_spec keys[] = {
    {"bench.step", RL_CFG_INT, "1", 1, 65536, NULL, 0, "float bit patterns between two checked"},
    {"bench.exp_values", RL_CFG_INT, "1073741824", 0, 1099511627776.0, NULL, 0,
     "exp arguments checked"},
};
static const char *const key_names[] = {"bench.step", "bench.exp_values"};

#define BLOCK 65536

typedef struct {
    uint64_t values, differ;
    double kernel_s, glibc_s;
    double *kernel, *glibc; /* (BLOCK) */
} tally;

/* Runs the kernel and libm's function on u[0..m), timing both and counting differing bits. */
static void compare(tally *t, void (*kernel)(const double *, double *, size_t),
                    double (*libm)(double), const double *u, int m) {
    double t0 = rl_cpu_now();
    kernel(u, t->kernel, (size_t)m);
    double t1 = rl_cpu_now();
    for (int i = 0; i < m; i++)
        t->glibc[i] = libm(u[i]);
    t->glibc_s += rl_cpu_now() - t1;
    t->kernel_s += t1 - t0;
    for (int i = 0; i < m; i++)
        t->differ += memcmp(&t->kernel[i], &t->glibc[i], sizeof(double)) != 0;
    t->values += (uint64_t)m;
}

/* u: the GELU arguments of float bit patterns b, b + step, ... (at most BLOCK); returns how many.
 */
static int gelu_arguments(uint64_t *b, uint64_t step, double *u) {
    int m = 0;
    for (; m < BLOCK && *b <= 0xffffffffu; m++, *b += step) {
        uint32_t w = (uint32_t)*b;
        float f;
        memcpy(&f, &w, sizeof f);
        double v = f;
        u[m] = 0.7978845608028654 * (v + 0.044715 * v * v * v);
    }
    return m;
}

/* u: exp arguments from index `at` (the mix of the header), m of them. */
static void exp_arguments(uint64_t at, int m, double *u) {
    rl_rng r = rl_rng_make(5, RL_RNG_SYNTH_DATA);
    for (int i = 0; i < m; i++) {
        uint64_t j = at + (uint64_t)i;
        uint32_t hi = (uint32_t)(j >> 32), lo = (uint32_t)j;
        double a = rl_rng_uniform(r, 2 * hi, lo), c = rl_rng_uniform(r, 2 * hi + 1, lo);
        uint64_t bits = (uint64_t)(a * 0x1p32) << 32 | (uint64_t)(c * 0x1p32);
        switch (j % 4) {
        case 0:
            u[i] = -745.0 * a;
            break;
        case 1:
            u[i] = -40.0 * a;
            break;
        case 2:
            u[i] = (double)(float)(-30.0 * a) - (float)(-30.0 * c);
            break;
        default:
            memcpy(&u[i], &bits, sizeof bits);
        }
    }
}

static void report(const char *name, const tally *t, int *failed) {
    printf("%s %s %llu %llu %.3f %.3f\n", name, kern_isa_name(kern_isa()),
           (unsigned long long)t->values, (unsigned long long)t->differ, t->kernel_s, t->glibc_s);
    fflush(stdout);
    *failed |= t->differ != 0;
}

int main(int argc, char **argv) {
    rl_config *cfg = rl_cfg_new();
    rl_cfg_declare(cfg, keys, 2);
    int args = bench_args(argc, argv, usage, cfg, key_names, 2);
    uint64_t step = args == 0 ? (uint64_t)rl_cfg_int(cfg, "bench.step") : 1;
    uint64_t exp_values = args == 0 ? (uint64_t)rl_cfg_int(cfg, "bench.exp_values") : 0;
    rl_cfg_free(cfg);
    if (args != 0)
        return args > 0 ? 0 : 2;
    double *u = malloc(sizeof(double) * BLOCK);
    tally t = {.kernel = malloc(sizeof(double) * BLOCK), .glibc = malloc(sizeof(double) * BLOCK)};
    int failed = 0;
    for (int level = 0; level < KERN_ISA_LEVELS; level++) {
        if (kern_isa_set((kern_isa_level)level) < 0)
            continue;
        tally tanh_t = t, exp_t = t;
        for (uint64_t b = 0; b <= 0xffffffffu;)
            compare(&tanh_t, kern_tanh_f64, tanh, u, gelu_arguments(&b, step, u));
        report("tanh", &tanh_t, &failed);
        for (uint64_t at = 0; at < exp_values; at += BLOCK) {
            int m = exp_values - at < BLOCK ? (int)(exp_values - at) : BLOCK;
            exp_arguments(at, m, u);
            compare(&exp_t, kern_exp_f64, exp, u, m);
        }
        report("exp", &exp_t, &failed);
    }
    free(u);
    free(t.kernel);
    free(t.glibc);
    return failed;
}
