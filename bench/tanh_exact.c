/* kern_tanh_f64 against glibc's tanh on every GELU argument the transformer can give it (issue
 * 17): for each of the 2^32 float bit patterns v, u = √(2/π)(v + 0.044715v³) in double as
 * rl_gelu_forward computes it, at every ISA level this CPU supports; counts the values whose bits
 * differ and times both (CPU seconds of this thread).
 *
 *     taskset -c 1 build/bench_tanh_exact [STEP]      # STEP: every STEP-th pattern, default 1
 *
 * Output: "tanh LEVEL VALUES DIFFERING KERNEL_SECONDS GLIBC_SECONDS", one line per level; exits 1
 * if any value differs.
 */
#include "bench/args.h"
#include "bench/timing.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "usage: bench_tanh_exact [STEP]\n"
                            "  STEP  check every STEP-th float bit pattern, 1..65536, default 1 "
                            "(all 2^32)\n";

static const rl_cfg_spec keys[] = {
    {"bench.step", RL_CFG_INT, "1", 1, 65536, NULL, 0, "float bit patterns between two checked"},
};
static const char *const key_names[] = {"bench.step"};

#define BLOCK 65536

int main(int argc, char **argv) {
    rl_config *cfg = rl_cfg_new();
    rl_cfg_declare(cfg, keys, 1);
    int args = bench_args(argc, argv, usage, cfg, key_names, 1);
    uint64_t step = args == 0 ? (uint64_t)rl_cfg_int(cfg, "bench.step") : 1;
    rl_cfg_free(cfg);
    if (args != 0)
        return args > 0 ? 0 : 2;
    double *u = malloc(sizeof(double) * BLOCK), *kernel = malloc(sizeof(double) * BLOCK),
           *glibc = malloc(sizeof(double) * BLOCK);
    int failed = 0;
    for (int level = 0; level < KERN_ISA_LEVELS; level++) {
        if (kern_isa_set((kern_isa_level)level) < 0)
            continue;
        uint64_t values = 0, differ = 0;
        double kernel_s = 0.0, glibc_s = 0.0;
        for (uint64_t b = 0; b <= 0xffffffffu;) {
            int m = 0;
            for (; m < BLOCK && b <= 0xffffffffu; m++, b += step) {
                uint32_t w = (uint32_t)b;
                float f;
                memcpy(&f, &w, sizeof f);
                double v = f;
                u[m] = 0.7978845608028654 * (v + 0.044715 * v * v * v);
            }
            double t0 = rl_cpu_now();
            kern_tanh_f64(u, kernel, (size_t)m);
            double t1 = rl_cpu_now();
            for (int i = 0; i < m; i++)
                glibc[i] = tanh(u[i]);
            glibc_s += rl_cpu_now() - t1;
            kernel_s += t1 - t0;
            for (int i = 0; i < m; i++)
                differ += memcmp(&kernel[i], &glibc[i], sizeof(double)) != 0;
            values += (uint64_t)m;
        }
        printf("tanh %s %llu %llu %.3f %.3f\n", kern_isa_name((kern_isa_level)level),
               (unsigned long long)values, (unsigned long long)differ, kernel_s, glibc_s);
        fflush(stdout);
        failed |= differ != 0;
    }
    free(u);
    free(kernel);
    free(glibc);
    return failed;
}
