/* Plain-C reference of the int8 kernels (kernels/int8.h): the obvious loops, which the SIMD
 * variants must match bit for bit. Integer sums wrap modulo 2³² (unsigned arithmetic) exactly
 * as the SIMD instructions do; the float kernels do the same IEEE operations in the same order. */
#include "kernels/int8.h"

#include <math.h>

static size_t ref_scratch_size(int m, int n, int k) {
    (void)m, (void)n, (void)k;
    return 0;
}

void kern_ref_gemm_s8(int m, int n, int k, const int8_t *a, const int8_t *w, int32_t *c,
                      void *scratch) {
    (void)scratch;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            const int8_t *ai = a + (size_t)i * k, *wj = w + (size_t)j * k;
            uint32_t acc = 0;
            for (int p = 0; p < k; p++)
                acc += (uint32_t)((int32_t)ai[p] * wj[p]);
            c[(size_t)i * n + j] = (int32_t)acc;
        }
}

/* clamp(round_half_even(t), lo, 127); NaN gives lo (as max_ps(t, lo) does). */
static int8_t ref_round_clamp(float t, float lo) {
    t = t >= lo ? t : lo;
    t = t <= 127.0f ? t : 127.0f;
    return (int8_t)nearbyintf(t);
}

void kern_ref_requantize(const int32_t *acc, int m, int n, const int32_t *bias, const float *scale,
                         float out_scale, int relu, int8_t *out) {
    const float lo = relu ? 0.0f : -127.0f;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            size_t at = (size_t)i * n + j;
            int32_t v = (int32_t)((uint32_t)acc[at] + (uint32_t)(bias ? bias[j] : 0));
            float t = (float)v * scale[j];
            out[at] = ref_round_clamp(t / out_scale, lo);
        }
}

void kern_ref_dequantize_s32(const int32_t *acc, int m, int n, const int32_t *bias,
                             const float *scale, float *out) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            size_t at = (size_t)i * n + j;
            int32_t v = (int32_t)((uint32_t)acc[at] + (uint32_t)(bias ? bias[j] : 0));
            out[at] = (float)v * scale[j];
        }
}

void kern_ref_quantize_s8(const float *x, size_t n, float scale, int8_t *q) {
    for (size_t i = 0; i < n; i++)
        q[i] = ref_round_clamp(x[i] / scale, -127.0f);
}

const kern_int8_ops kern_int8_ref_ops = {"ref",
                                         ref_scratch_size,
                                         kern_ref_gemm_s8,
                                         kern_ref_requantize,
                                         kern_ref_dequantize_s32,
                                         kern_ref_quantize_s8};
