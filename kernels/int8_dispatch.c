/* Runtime choice of the int8 kernel variant (kernels/int8.h): the fastest allowed at the ISA level
 * in use (kernels/isa.h: avx512vnni at the AVX-512 level on a CPU with VNNI, avx2 from the AVX2
 * level, else ref), or the one named by RANKLAB_KERNEL=ref|avx2|avx512vnni when that level allows
 * it. Chosen on first use at each level; kern_int8_isa() names it. */
#include "kernels/int8.h"
#include "kernels/isa.h"

#include <stdlib.h>
#include <string.h>

static const kern_int8_ops *const int8_best_first[] = {&kern_int8_avx512vnni_ops,
                                                       &kern_int8_avx2_ops, &kern_int8_ref_ops};
#define INT8_N_VARIANTS (sizeof int8_best_first / sizeof int8_best_first[0])

static const kern_int8_ops *int8_chosen[KERN_ISA_LEVELS];

static int int8_allowed(const kern_int8_ops *ops) {
    __builtin_cpu_init();
    if (ops == &kern_int8_avx512vnni_ops)
        return kern_isa() >= KERN_ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
    if (ops == &kern_int8_avx2_ops)
        return kern_isa() >= KERN_ISA_AVX2;
    return 1;
}

const kern_int8_ops *kern_int8_variant(const char *name) {
    for (size_t i = 0; name && i < INT8_N_VARIANTS; i++)
        if (strcmp(name, int8_best_first[i]->name) == 0)
            return int8_allowed(int8_best_first[i]) ? int8_best_first[i] : NULL;
    return NULL;
}

static const kern_int8_ops *int8_ops(void) {
    const kern_int8_ops **slot = &int8_chosen[kern_isa()];
    const kern_int8_ops *ops = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (ops)
        return ops;
    ops = kern_int8_variant(getenv("RANKLAB_KERNEL"));
    for (size_t i = 0; !ops && i < INT8_N_VARIANTS; i++)
        ops = int8_allowed(int8_best_first[i]) ? int8_best_first[i] : NULL;
    __atomic_store_n(slot, ops, __ATOMIC_RELEASE); // every thread picks the same
    return ops;
}

const char *kern_int8_isa(void) {
    return int8_ops()->name;
}

size_t kern_gemm_s8_scratch_size(int m, int n, int k) {
    size_t most = 0;
    for (size_t i = 0; i < INT8_N_VARIANTS; i++) {
        size_t need = int8_best_first[i]->gemm_scratch_size(m, n, k);
        most = need > most ? need : most;
    }
    return most;
}

void kern_gemm_s8(int m, int n, int k, const int8_t *a, const int8_t *w, int32_t *c,
                  void *scratch) {
    int8_ops()->gemm_s8(m, n, k, a, w, c, scratch);
}

void kern_requantize(const int32_t *acc, int m, int n, const int32_t *bias, const float *scale,
                     float out_scale, int relu, int8_t *out) {
    int8_ops()->requantize(acc, m, n, bias, scale, out_scale, relu, out);
}

void kern_dequantize_s32(const int32_t *acc, int m, int n, const int32_t *bias, const float *scale,
                         float *out) {
    int8_ops()->dequantize_s32(acc, m, n, bias, scale, out);
}

void kern_quantize_s8(const float *x, size_t n, float scale, int8_t *q) {
    int8_ops()->quantize_s8(x, n, scale, q);
}
