/* The instruction-set level of the kernels (isa.h): the best the CPU supports unless forced. */
#include "kernels/isa.h"

#include <string.h>

static const char *const isa_names[KERN_ISA_LEVELS] = {"generic", "avx2", "avx512"};

static int isa_forced = -1, isa_detected = -1;

kern_isa_level kern_isa_best(void) {
    int best = __atomic_load_n(&isa_detected, __ATOMIC_ACQUIRE);
    if (best < 0) {
        __builtin_cpu_init();
        best = __builtin_cpu_supports("x86-64-v4")   ? KERN_ISA_AVX512
               : __builtin_cpu_supports("x86-64-v3") ? KERN_ISA_AVX2
                                                     : KERN_ISA_GENERIC;
        __atomic_store_n(&isa_detected, best, __ATOMIC_RELEASE);
    }
    return (kern_isa_level)best;
}

kern_isa_level kern_isa(void) {
    int forced = __atomic_load_n(&isa_forced, __ATOMIC_ACQUIRE);
    return forced >= 0 ? (kern_isa_level)forced : kern_isa_best();
}

int kern_isa_set(kern_isa_level level) {
    if ((int)level < 0 || level > kern_isa_best())
        return -1;
    __atomic_store_n(&isa_forced, (int)level, __ATOMIC_RELEASE);
    return 0;
}

const char *kern_isa_name(kern_isa_level level) {
    return (int)level >= 0 && level < KERN_ISA_LEVELS ? isa_names[level] : "unknown";
}

int kern_isa_parse(const char *name) {
    for (int i = 0; name && i < KERN_ISA_LEVELS; i++)
        if (strcmp(name, isa_names[i]) == 0)
            return i;
    return -1;
}
