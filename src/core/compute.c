/* The compute path of a run and this process's fingerprint (compute.h). */
#include "src/core/compute.h"

#include "kernels/int8.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "src/core/error.h"

#include <cpuid.h>
#include <gnu/libc-version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "AMD EPYC (family 25, model 17)": the CPU's brand string and its family and model. */
static void cpu_model(char *out, size_t n) {
    unsigned int regs[12] = {0}, eax, ebx, ecx, edx;
    char brand[49] = "";
    if (__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) && eax >= 0x80000004u) {
        for (unsigned int leaf = 0; leaf < 3; leaf++)
            __get_cpuid(0x80000002u + leaf, &regs[4 * leaf], &regs[4 * leaf + 1],
                        &regs[4 * leaf + 2], &regs[4 * leaf + 3]);
        memcpy(brand, regs, 48);
    }
    char *start = brand;
    while (*start == ' ')
        start++;
    for (size_t len = strlen(start); len > 0 && start[len - 1] == ' '; len--)
        start[len - 1] = '\0';
    unsigned int family = 0, model = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
        family = (eax >> 8) & 0xf;
        model = (eax >> 4) & 0xf;
        if (family == 0xf)
            family += (eax >> 20) & 0xff;
        if (family == 0x6 || family >= 0xf)
            model += ((eax >> 16) & 0xf) << 4;
    }
    snprintf(out, n, "%s (family %u, model %u)", start[0] ? start : "unknown", family, model);
}

/* The ISA extensions that decide which code libraries and kernels run. */
static void cpu_flags(char *out, size_t n) {
    static const char *const names[] = {"sse4.2",   "avx",      "avx2",     "fma",       "avx512f",
                                        "avx512bw", "avx512dq", "avx512vl", "avx512vnni"};
    __builtin_cpu_init();
    int has[sizeof names / sizeof names[0]] = {
        __builtin_cpu_supports("sse4.2"),    __builtin_cpu_supports("avx"),
        __builtin_cpu_supports("avx2"),      __builtin_cpu_supports("fma"),
        __builtin_cpu_supports("avx512f"),   __builtin_cpu_supports("avx512bw"),
        __builtin_cpu_supports("avx512dq"),  __builtin_cpu_supports("avx512vl"),
        __builtin_cpu_supports("avx512vnni")};
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0] && len < n; i++)
        if (has[i])
            len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " " : "", names[i]);
}

int rl_compute_init(const char *path) {
    char model[128];
    if (kern_isa_best() < KERN_ISA_AVX2) {
        cpu_model(model, sizeof model);
        return rl_fail("this CPU (%s) lacks AVX2 and FMA, the floor below which ranklab cannot "
                       "promise the same bits as other machines (its math library computes exp "
                       "and log with other code there)",
                       "run on an x86-64 CPU with AVX2 and FMA: Intel Haswell or later, any AMD "
                       "Zen",
                       model);
    }
    const char *forced = getenv("RANKLAB_ISA");
    if (forced && forced[0]) {
        int level = kern_isa_parse(forced);
        if (level < 0)
            return rl_fail("RANKLAB_ISA=%s is not an ISA level",
                           "set RANKLAB_ISA to generic, avx2 or avx512, or unset it (the best "
                           "level this CPU supports)",
                           forced);
        if (kern_isa_set((kern_isa_level)level) < 0) {
            cpu_model(model, sizeof model);
            return rl_fail("RANKLAB_ISA=%s, but this CPU (%s) supports only up to %s",
                           "choose a level this CPU supports, or unset RANKLAB_ISA", forced, model,
                           kern_isa_name(kern_isa_best()));
        }
    }
    if (strcmp(path, "exact") == 0)
        kern_compute_set(KERN_COMPUTE_EXACT);
    else if (strcmp(path, "blas") == 0)
        kern_compute_set(KERN_COMPUTE_BLAS);
    else
        return rl_fail("run.compute = %s is not a compute path",
                       "use exact (the same bits on every CPU) or blas (OpenBLAS)", path);
    return 0;
}

void rl_compute_fingerprint(char *out, size_t n) {
    char model[128], flags[256];
    cpu_model(model, sizeof model);
    cpu_flags(flags, sizeof flags);
    const char *forced = getenv("RANKLAB_ISA");
    snprintf(out, n,
             "compute=%s\n"
             "isa=%s (%s)\n"
             "int8=%s\n"
             "blas=%s\n"
             "blas_core=%s\n"
             "compiler=%s %s\n"
             "libc=glibc %s\n"
             "cpu=%s\n"
             "cpu_flags=%s\n",
             kern_compute() == KERN_COMPUTE_EXACT ? "exact" : "blas", kern_isa_name(kern_isa()),
             forced && forced[0] ? "forced by RANKLAB_ISA" : "the best of this CPU",
             kern_int8_isa(), kern_blas_config(), kern_blas_core(),
#if defined(__clang__)
             "clang",
#else
             "gcc",
#endif
             __VERSION__, gnu_get_libc_version(), model, flags);
}
