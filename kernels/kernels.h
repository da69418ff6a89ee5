/* Kernels: pure compute on raw arrays. No allocation, no logging, no config.
 *
 * Each kernel here has a plain-C reference with the same signature in kernels/ref/ (prefix
 * kern_ref_); tests/unit/test_kernels.c runs every kernel against its reference with a
 * tolerance scaled to machine epsilon. Arrays are row-major; shapes are in comments.
 *
 *     // C (m, n) = A (m, k) · Bᵀ where B is (n, k)
 *     kern_sgemm(0, 1, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
 */
#ifndef RANKLAB_KERNELS_H
#define RANKLAB_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* C = alpha · op(A) · op(B) + beta · C, row-major; op(X) = Xᵀ when trans_x is non-zero.
 * op(A) is (m, k), op(B) is (k, n), C is (m, n). Single-threaded.
 *
 * The exact path (the default) computes every C[i][j] as one fixed chain in float,
 *     s = 0;  s = fma(op(A)[i][p], op(B)[p][j], s)  for p = 0, 1, ..., k − 1;
 *     C[i][j] = alpha · s  if beta == 0 (C is not read),  else fma(alpha, s, beta · C[i][j]),
 * so the bits do not depend on the CPU or on the ISA level (kernels/isa.h) that computes it;
 * kern_ref_sgemm is this definition, written plainly. The BLAS path (OpenBLAS's cblas_sgemm) sums
 * in the order of the kernel OpenBLAS picked for the CPU: other CPUs, other bits. */
typedef enum { KERN_COMPUTE_EXACT = 0, KERN_COMPUTE_BLAS = 1 } kern_compute_path;
void kern_compute_set(kern_compute_path path);
kern_compute_path kern_compute(void);
/* OpenBLAS's build configuration, and the kernel family it picked for this CPU at load time
 * (OPENBLAS_CORETYPE overrides the pick): what the BLAS path depends on. */
const char *kern_blas_config(void);
const char *kern_blas_core(void);
void kern_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc);
void kern_ref_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* A double's bits and back (no conversion: memcpy, which compiles to a move). */
static inline uint64_t kern_bits_f64(double x) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}
static inline double kern_f64_of_bits(uint64_t b) {
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* exp of n doubles with the bits of glibc's exp (its algorithm and table, vectorized:
 * kernels/exp.c); in and out do not overlap. */
void kern_exp_f64(const double *in, double *out, size_t n);
/* tanh of n doubles with the bits of glibc's scalar tanh (fdlibm's algorithm, branch-free and
 * vectorized: kernels/tanh.c), in may be out. */
void kern_tanh_f64(const double *in, double *out, size_t n);

/* Eigenvalues and eigenvectors of the symmetric (n, n) matrix `a` (row-major, both triangles
 * filled), in double: eigenvalues into w (n) in ascending order, eigenvector j (unit length)
 * into row j of `a`; scratch holds n doubles. Householder tridiagonalization and implicit QL in a
 * fixed order (the same bits on every CPU). 0, or -1 if `a` is not finite or the iteration does
 * not converge. */
int kern_sym_eigen(double *a, int n, double *w, double *scratch);

/* Fixed point with `frac_bits` fractional bits: q = round(x · 2^frac_bits), saturated to
 * ±(2^62). Sums of fixed-point values are exact and associative, so a reduction over ranks
 * gives the same bits for any rank count. Returns the number of saturated elements. */
size_t kern_to_fixed(const float *x, int64_t *q, size_t n, int frac_bits);
size_t kern_ref_to_fixed(const float *x, int64_t *q, size_t n, int frac_bits);
/* acc += fixed(x), element-wise (same rounding and saturation as kern_to_fixed); a sum that
 * would leave the int64 range is clamped to ±2^62 and counted as saturated too. */
size_t kern_add_fixed(const float *x, int64_t *acc, size_t n, int frac_bits);
size_t kern_ref_add_fixed(const float *x, int64_t *acc, size_t n, int frac_bits);
void kern_from_fixed(const int64_t *q, float *x, size_t n, int frac_bits);
void kern_ref_from_fixed(const int64_t *q, float *x, size_t n, int frac_bits);

/* Philox4x32-10 (Random123): one block of four 32-bit words for (key, counter). */
void kern_philox(const uint32_t key[2], const uint32_t counter[4], uint32_t out[4]);

/* Uniform floats in [lo, hi): element i uses counter (stream, i / 4, 0, 0), word i % 4.
 * So element i is the same whichever rank or chunk asks for it. */
void kern_fill_uniform(float *x, size_t n, const uint32_t key[2], uint32_t stream, float lo,
                       float hi);
void kern_ref_fill_uniform(float *x, size_t n, const uint32_t key[2], uint32_t stream, float lo,
                           float hi);

/* A 32-bit word to a float in [0, 1) with 24 bits of randomness. */
static inline float kern_u32_to_unit(uint32_t w) {
    return (float)(w >> 8) * (1.0f / 16777216.0f);
}

/* lo + width · u, kept below hi (float rounding can otherwise land exactly on hi). */
static inline float kern_unit_to_range(float u, float lo, float width, float hi) {
    float v = lo + width * u;
    return v < hi ? v : __builtin_nextafterf(hi, lo);
}

#endif
