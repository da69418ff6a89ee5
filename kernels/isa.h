/* Instruction-set variants of the project's kernels: generic (baseline x86-64), AVX2 (x86-64-v3:
 * AVX2 + FMA) and AVX-512 (x86-64-v4). Every variant of every kernel gives the same bits, so the
 * variant is a matter of speed only; by default each kernel uses the best the CPU supports, and
 * kern_isa_set forces one (tests run every variant on one machine; RANKLAB_ISA, read by
 * src/core/compute.c, forces one for a run).
 *
 *     if (kern_isa_set(KERN_ISA_AVX2) < 0) ... // this CPU lacks AVX2 + FMA
 *     kern_sgemm(...);                        // now the AVX2 micro-kernel
 *
 * KERN_ISA_CLONES compiles one always-inline body for the three levels and defines the function
 * that calls the level in use (for loops written for the vectorizer: element-wise integer and
 * float operations without FMA, so every level gives the same bits).
 */
#ifndef RANKLAB_KERNELS_ISA_H
#define RANKLAB_KERNELS_ISA_H

typedef enum { KERN_ISA_GENERIC = 0, KERN_ISA_AVX2 = 1, KERN_ISA_AVX512 = 2 } kern_isa_level;
#define KERN_ISA_LEVELS 3

/* The level the kernels use: the one forced, else the best this CPU supports. */
kern_isa_level kern_isa(void);
/* The best level this CPU supports. */
kern_isa_level kern_isa_best(void);
/* Force a level: 0, or -1 (nothing changed) if the CPU does not support it. */
int kern_isa_set(kern_isa_level level);
/* "generic", "avx2", "avx512"; kern_isa_parse gives the level of a name, -1 if none. */
const char *kern_isa_name(kern_isa_level level);
int kern_isa_parse(const char *name);

/* The body of a function made by KERN_ISA_CLONES. */
#define KERN_ISA_BODY static inline __attribute__((always_inline)) void

/* LINKAGE void NAME PARAMS (LINKAGE: static or empty), calling NAME##_body ARGS (static inline,
 * always_inline) compiled for the level in use. */
#define KERN_ISA_CLONES(linkage, name, params, args)                                               \
    __attribute__((target("arch=x86-64-v4"))) static void name##_v4 params {                       \
        name##_body args;                                                                          \
    }                                                                                              \
    __attribute__((target("arch=x86-64-v3"))) static void name##_v3 params {                       \
        name##_body args;                                                                          \
    }                                                                                              \
    static void name##_v1 params {                                                                 \
        name##_body args;                                                                          \
    }                                                                                              \
    linkage void name params {                                                                     \
        switch (kern_isa()) {                                                                      \
        case KERN_ISA_AVX512:                                                                      \
            name##_v4 args;                                                                        \
            break;                                                                                 \
        case KERN_ISA_AVX2:                                                                        \
            name##_v3 args;                                                                        \
            break;                                                                                 \
        default:                                                                                   \
            name##_v1 args;                                                                        \
            break;                                                                                 \
        }                                                                                          \
    }

#endif
