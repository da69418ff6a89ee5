/* int8 kernels for the quantized (ZOQO) forward pass: exact int8 GEMM with int32 accumulation,
 * requantization to the int8 grid, dequantization of logits, quantization of float inputs.
 *
 * Quantization is symmetric: real = code · scale, codes in [-127, 127] (kern_quantize_s8 and
 * kern_requantize never produce -128). One dense layer y = relu(x · Wᵀ + b) on the grid:
 *
 *     // xq (B, K) activations with scale sx; wq (N, K) weights, row j with scale sw[j];
 *     // bq (N) bias codes with scale sx · sw[j]; col_scale[j] = sx · sw[j]
 *     void *scratch = malloc(kern_gemm_s8_scratch_size(B, N, K)); // caller owns, reusable
 *     kern_gemm_s8(B, N, K, xq, wq, acc, scratch);                // acc (B, N) int32, exact
 *     kern_requantize(acc, B, N, bq, col_scale, s_out, 1, yq);    // yq (B, N) codes of scale s_out
 *     // last layer: kern_dequantize_s32(acc, B, N, bq, col_scale, logits) // (B, N) float
 *
 * Every variant (ref, avx2, avx512vnni) gives the same bits: the GEMM is integer arithmetic
 * and the float kernels do the same IEEE operations in the same order (no FMA). So results do
 * not depend on the machine. kern_* calls go to the fastest variant the ISA level in use allows
 * (kernels/isa.h: generic → ref, avx2 → avx2, avx512 → avx512vnni when the CPU has VNNI);
 * RANKLAB_KERNEL=ref|avx2|avx512vnni in the environment picks one below that (for tests and
 * benchmarks; an unknown or disallowed name falls back to the automatic choice, see
 * kern_int8_isa()).
 * Kernels are pure: no allocation, no logging; the GEMM packs into the caller's scratch.
 */
#ifndef RANKLAB_KERNELS_INT8_H
#define RANKLAB_KERNELS_INT8_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of scratch kern_gemm_s8 needs for these sizes, enough for every variant. The buffer
 * need not be aligned (the kernels align inside it) and holds nothing between calls. */
size_t kern_gemm_s8_scratch_size(int m, int n, int k);

/* C (m, n) = A (m, k) · Wᵀ, W (n, k) row-major (out × in), all contiguous. Exact in int32
 * whenever the true sums fit, which holds for |a|, |w| <= 127 and k <= 133144 (127² · 133144
 * < 2³¹); any int8 codes are accepted, and beyond that range every variant wraps modulo 2³²
 * alike. m, n, k >= 0 with no alignment or multiple-of requirement. */
void kern_gemm_s8(int m, int n, int k, const int8_t *a, const int8_t *w, int32_t *c, void *scratch);
void kern_ref_gemm_s8(int m, int n, int k, const int8_t *a, const int8_t *w, int32_t *c,
                      void *scratch);

/* out (m, n) = clamp(round_half_even(t), lo, 127) with t = ((float)(acc + bias[j]) · scale[j])
 * / out_scale evaluated in float in that order; lo = 0 when relu, else -127. bias (n) may be
 * NULL; acc + bias wraps modulo 2³² (keep it in range). A NaN t gives lo. */
void kern_requantize(const int32_t *acc, int m, int n, const int32_t *bias, const float *scale,
                     float out_scale, int relu, int8_t *out);
void kern_ref_requantize(const int32_t *acc, int m, int n, const int32_t *bias, const float *scale,
                         float out_scale, int relu, int8_t *out);

/* out (m, n) = (float)(acc + bias[j]) · scale[j]; bias (n) may be NULL. For the logits. */
void kern_dequantize_s32(const int32_t *acc, int m, int n, const int32_t *bias, const float *scale,
                         float *out);
void kern_ref_dequantize_s32(const int32_t *acc, int m, int n, const int32_t *bias,
                             const float *scale, float *out);

/* q (n) = clamp(round_half_even(x / scale), -127, 127), the division in float; NaN gives -127. */
void kern_quantize_s8(const float *x, size_t n, float scale, int8_t *q);
void kern_ref_quantize_s8(const float *x, size_t n, float scale, int8_t *q);

/* One variant's kernels, same contracts as above. */
typedef struct {
    const char *name; /* "ref", "avx2", "avx512vnni" */
    size_t (*gemm_scratch_size)(int m, int n, int k);
    void (*gemm_s8)(int m, int n, int k, const int8_t *a, const int8_t *w, int32_t *c,
                    void *scratch);
    void (*requantize)(const int32_t *acc, int m, int n, const int32_t *bias, const float *scale,
                       float out_scale, int relu, int8_t *out);
    void (*dequantize_s32)(const int32_t *acc, int m, int n, const int32_t *bias,
                           const float *scale, float *out);
    void (*quantize_s8)(const float *x, size_t n, float scale, int8_t *q);
} kern_int8_ops;

/* The variant called `name`, or NULL when the name is unknown or the ISA level in use (which
 * the CPU supports) does not allow it. */
const kern_int8_ops *kern_int8_variant(const char *name);
/* Name of the variant the kern_* calls above use. */
const char *kern_int8_isa(void);

/* Per-variant tables (kernels/ref/int8_ref.c, kernels/int8_avx2.c, kernels/int8_avx512vnni.c);
 * use kern_int8_variant(), which checks the CPU first. */
extern const kern_int8_ops kern_int8_ref_ops;
extern const kern_int8_ops kern_int8_avx2_ops;
extern const kern_int8_ops kern_int8_avx512vnni_ops;

#endif
