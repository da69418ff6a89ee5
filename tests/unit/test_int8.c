/* Unit tests of the int8 kernels (kernels/int8.h): every variant the CPU supports equals the
 * plain-C reference bit for bit (GEMM on many shapes with tails, extremes, the full int8 range;
 * requantize, dequantize, quantize incl. ties, saturation, NaN, inf); the reference equals an
 * exact int64 / double-precision formula; the GEMM writes nothing beyond C and its scratch;
 * and an end-to-end quantized product stays within the bound the quantization steps allow. */
#include "kernels/int8.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 64         /* bytes checked past the end of C and of the scratch */
#define GUARD_BYTE 0xa5u /* their fill */

static const uint32_t test_key[2] = {0x1b873593u, 0xcc9e2d51u};
static const char *const variant_names[] = {"ref", "avx2", "avx512vnni"};
#define N_VARIANTS (int)(sizeof variant_names / sizeof variant_names[0])

/* The variant named, or NULL after a printed note when this CPU lacks it. */
static const kern_int8_ops *variant_or_note(const char *name) {
    const kern_int8_ops *ops = kern_int8_variant(name);
    if (!ops)
        printf("\n  note: this CPU lacks %s; its checks are skipped\n", name);
    return ops;
}

/* n Philox words from `stream`, word i = element i. */
static void fill_words(uint32_t *x, size_t n, uint32_t stream) {
    for (size_t i = 0; i < n; i += 4) {
        uint32_t ctr[4] = {stream, (uint32_t)(i / 4), 0, 0}, block[4];
        kern_philox(test_key, ctr, block);
        for (size_t t = 0; t < 4 && i + t < n; t++)
            x[i + t] = block[t];
    }
}

/* int8 codes uniform in [lo, hi], reproducible from `stream`. */
static void fill_s8(int8_t *x, size_t n, uint32_t stream, int lo, int hi) {
    uint32_t *w = malloc(n * sizeof *w + 4);
    fill_words(w, n, stream);
    for (size_t i = 0; i < n; i++)
        x[i] = (int8_t)(lo + (int)(w[i] % (uint32_t)(hi - lo + 1)));
    free(w);
}

static int guard_intact(const void *p) {
    const unsigned char *b = p;
    for (int i = 0; i < GUARD; i++)
        if (b[i] != GUARD_BYTE)
            return 0;
    return 1;
}

/* ---- GEMM ---- */

/* C = A · Wᵀ by every variant vs kern_ref_gemm_s8 (and the reference vs int64 sums when `exact`);
 * C starts as garbage, and the bytes past C and past the (unaligned) scratch must stay untouched.
 * Returns the number of mismatching elements. */
static int check_gemm(int m, int n, int k, const int8_t *a, const int8_t *w, int exact) {
    size_t nc = (size_t)m * n, scratch_bytes = kern_gemm_s8_scratch_size(m, n, k);
    int32_t *ref = malloc(nc * sizeof(int32_t) + 4);
    unsigned char *c = malloc(nc * sizeof(int32_t) + GUARD);
    unsigned char *buffer = malloc(scratch_bytes + GUARD + 64);
    unsigned char *scratch = buffer + (m + n + k) % 64; /* any alignment will do */
    int bad = 0;
    kern_ref_gemm_s8(m, n, k, a, w, ref, NULL);
    if (exact)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                int64_t s = 0;
                for (int p = 0; p < k; p++)
                    s += (int64_t)a[(size_t)i * k + p] * w[(size_t)j * k + p];
                bad += s != ref[(size_t)i * n + j];
            }
    for (int v = 0; v < N_VARIANTS; v++) {
        const kern_int8_ops *ops = kern_int8_variant(variant_names[v]);
        if (!ops)
            continue;
        CU_ASSERT(ops->gemm_scratch_size(m, n, k) <= scratch_bytes);
        memset(c, 0x5b, nc * sizeof(int32_t));
        memset(c + nc * sizeof(int32_t), GUARD_BYTE, GUARD);
        memset(scratch, 0x3c, scratch_bytes);
        memset(scratch + scratch_bytes, GUARD_BYTE, GUARD);
        ops->gemm_s8(m, n, k, a, w, (int32_t *)c, scratch);
        int bad_here = memcmp(c, ref, nc * sizeof(int32_t)) != 0;
        bad_here +=
            !guard_intact(c + nc * sizeof(int32_t)) + !guard_intact(scratch + scratch_bytes);
        if (bad_here)
            fprintf(stderr, "\n  gemm %s %dx%dx%d differs from the reference\n", ops->name, m, n,
                    k);
        bad += bad_here;
    }
    free(ref);
    free(c);
    free(buffer);
    return bad;
}

static void test_variants_available(void) {
    CU_ASSERT_PTR_NOT_NULL(kern_int8_variant("ref"));
    CU_ASSERT_PTR_NULL(kern_int8_variant("sse9"));
    CU_ASSERT_PTR_NULL(kern_int8_variant(NULL));
    for (int v = 0; v < N_VARIANTS; v++) {
        const kern_int8_ops *ops = variant_or_note(variant_names[v]);
        if (ops)
            CU_ASSERT_STRING_EQUAL(ops->name, variant_names[v]);
    }
    /* The dispatched variant is the requested one when RANKLAB_KERNEL names a supported one,
     * else the fastest supported. */
    const char *want = getenv("RANKLAB_KERNEL");
    const kern_int8_ops *forced = kern_int8_variant(want);
    const char *best = kern_int8_variant("avx512vnni") ? "avx512vnni"
                       : kern_int8_variant("avx2")     ? "avx2"
                                                       : "ref";
    CU_ASSERT_STRING_EQUAL(kern_int8_isa(), forced ? forced->name : best);
}

/* A forced ISA level (kernels/isa.h) caps the dispatched variant: generic → ref, avx2 → avx2. */
static void test_dispatch_follows_isa_level(void) {
    if (getenv("RANKLAB_KERNEL"))
        return; /* that picks below the level: the check above covers it */
    kern_isa_set(KERN_ISA_GENERIC);
    CU_ASSERT_STRING_EQUAL(kern_int8_isa(), "ref");
    CU_ASSERT_PTR_NULL(kern_int8_variant("avx2"));
    if (kern_isa_set(KERN_ISA_AVX2) == 0)
        CU_ASSERT_STRING_EQUAL(kern_int8_isa(), "avx2");
    kern_isa_set(kern_isa_best());
}

static void test_gemm_shapes_match_ref(void) {
    static const int sizes[] = {1, 3, 7, 16, 17, 31, 64, 65, 100, 257, 784};
    const int ns = (int)(sizeof sizes / sizeof sizes[0]);
    const size_t max = 784 * 784;
    int8_t *a = malloc(max), *w = malloc(max);
    int bad = 0, shapes = 0;
    uint32_t stream = 100;
    for (int im = 0; im < ns; im++)
        for (int in = 0; in < ns; in++)
            for (int ik = 0; ik < ns; ik++) {
                int m = sizes[im], n = sizes[in], k = sizes[ik];
                if ((double)m * n * k > 3e6) /* keeps the reference loops quick */
                    continue;
                fill_s8(a, (size_t)m * k, stream++, -127, 127);
                fill_s8(w, (size_t)n * k, stream++, -127, 127);
                bad += check_gemm(m, n, k, a, w, m * n * k < 20000);
                shapes++;
            }
    /* The MLP forward shapes: batch × 256 outputs × 784 or 256 inputs. */
    static const int mlp[][3] = {{64, 256, 784}, {100, 256, 256}, {257, 31, 784}, {3, 257, 784}};
    for (size_t s = 0; s < sizeof mlp / sizeof mlp[0]; s++) {
        int m = mlp[s][0], n = mlp[s][1], k = mlp[s][2];
        fill_s8(a, (size_t)m * k, stream++, -127, 127);
        fill_s8(w, (size_t)n * k, stream++, -127, 127);
        bad += check_gemm(m, n, k, a, w, 0);
        shapes++;
    }
    CU_ASSERT(shapes > 1000);
    CU_ASSERT_EQUAL(bad, 0);
    free(a);
    free(w);
}

static void test_gemm_extremes(void) {
    /* k = 65536 with all codes ±127: |C| = 127² · 65536 = 1057030144, exact in int32. */
    const int m = 3, n = 17, k = 65536;
    int8_t *a = malloc((size_t)m * k), *w = malloc((size_t)n * k);
    int32_t c[3 * 17];
    int bad = 0;
    for (int sa = -1; sa <= 1; sa += 2)
        for (int sw = -1; sw <= 1; sw += 2) {
            memset(a, sa * 127, (size_t)m * k);
            memset(w, sw * 127, (size_t)n * k);
            w[5 * (size_t)k + 9] = 0; /* one column one product short */
            kern_ref_gemm_s8(m, n, k, a, w, c, NULL);
            for (int i = 0; i < m * n; i++) {
                int64_t want = (int64_t)sa * sw * 127 * 127 * (k - (i % n == 5));
                bad += c[i] != want;
            }
            bad += check_gemm(m, n, k, a, w, 0);
        }
    /* Alternating signs, and the full int8 range including -128 (accepted, still exact). */
    for (int i = 0; i < m * k; i++)
        a[i] = (int8_t)(i % 2 ? -127 : 127);
    for (int i = 0; i < n * k; i++)
        w[i] = (int8_t)(i % 3 ? 127 : -127);
    bad += check_gemm(m, n, k, a, w, 1);
    fill_s8(a, (size_t)m * 1000, 7, -128, 127);
    fill_s8(w, (size_t)n * 1000, 8, -128, 127);
    bad += check_gemm(m, n, 1000, a, w, 1);
    memset(a, -128, (size_t)m * 1000);
    memset(w, -128, (size_t)n * 1000);
    bad += check_gemm(m, n, 1000, a, w, 1);
    /* Empty shapes: k = 0 gives zeros; m or n = 0 writes nothing. */
    bad += check_gemm(5, 9, 0, a, w, 1);
    bad += check_gemm(0, 9, 5, a, w, 1);
    bad += check_gemm(5, 0, 5, a, w, 1);
    CU_ASSERT_EQUAL(bad, 0);
    free(a);
    free(w);
}

static void test_gemm_dispatched(void) {
    const int m = 65, n = 100, k = 257;
    int8_t *a = malloc((size_t)m * k), *w = malloc((size_t)n * k);
    int32_t *c = malloc((size_t)m * n * 4), *ref = malloc((size_t)m * n * 4);
    void *scratch = malloc(kern_gemm_s8_scratch_size(m, n, k));
    fill_s8(a, (size_t)m * k, 11, -127, 127);
    fill_s8(w, (size_t)n * k, 12, -127, 127);
    kern_gemm_s8(m, n, k, a, w, c, scratch);
    kern_ref_gemm_s8(m, n, k, a, w, ref, NULL);
    CU_ASSERT_EQUAL(memcmp(c, ref, (size_t)m * n * 4), 0);
    free(a);
    free(w);
    free(c);
    free(ref);
    free(scratch);
}

/* ---- requantize, dequantize, quantize ---- */

/* Whether an int8 result r agrees with round_half_even(clamp(exact)) for the exact real value:
 * equal, or off by one when exact lies within `rel` (relative) of a rounding tie, where the few
 * float roundings before the final one may tip it. */
static int agrees_with_exact(int r, double exact, double lo, double rel) {
    double c = exact < lo ? lo : exact > 127.0 ? 127.0 : exact;
    double want = nearbyint(c);
    if (r == want)
        return 1;
    double frac = fabs(c - floor(c) - 0.5);
    return fabs(r - want) == 1.0 && frac <= rel * fmax(1.0, fabs(exact));
}

/* Random accumulators: mostly in the range that lands on the grid, some far out (saturate). */
static void fill_acc(int32_t *x, size_t n, uint32_t stream) {
    uint32_t *u = malloc(n * sizeof *u + 4);
    fill_words(u, n, stream);
    for (size_t i = 0; i < n; i++)
        x[i] = i % 7 == 0 ? (int32_t)u[i] : (int32_t)(u[i] % 400001u) - 200000;
    free(u);
}

static void test_requantize_matches_ref(void) {
    const int m = 13, n = 37;
    const size_t nn = (size_t)m * n;
    int32_t *acc = malloc(nn * 4), bias[37];
    float scale[37];
    int8_t *ref = malloc(nn), *out = malloc(nn);
    uint32_t u[37];
    fill_acc(acc, nn, 21);
    fill_acc(bias, n, 22);
    fill_words(u, n, 23);
    for (int j = 0; j < n; j++)
        scale[j] = (float)ldexp(1.0 + (u[j] >> 8) / 16777216.0, -12 - (int)(u[j] % 5));
    scale[3] = 0.5f;     /* with out_scale 1 below: odd acc + bias gives exact ties */
    scale[4] = INFINITY; /* ±inf saturates, 0 · inf = NaN gives the lower bound */
    acc[4] = 0, bias[4] = 0;
    int bad_ref = 0, bad_var = 0, near_ties = 0;
    for (int relu = 0; relu <= 1; relu++)
        for (int with_bias = 0; with_bias <= 1; with_bias++)
            for (int s = 0; s < 2; s++) {
                const float out_scale = s ? 1.0f : 0.0123f;
                const int32_t *b = with_bias ? bias : NULL;
                kern_ref_requantize(acc, m, n, b, scale, out_scale, relu, ref);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        size_t at = (size_t)i * n + j;
                        double x = (double)(int32_t)((uint32_t)acc[at] + (uint32_t)(b ? b[j] : 0));
                        double exact = x * scale[j] / out_scale;
                        if (isnan(exact))
                            exact = -INFINITY; /* NaN gives the lower bound */
                        /* float error: int→float, ·, / : 3 roundings of 2⁻²⁴ each */
                        int ok = agrees_with_exact(ref[at], exact, relu ? 0.0 : -127.0, 4e-7);
                        near_ties +=
                            ok && ref[at] != nearbyint(fmin(127, fmax(relu ? 0 : -127, exact)));
                        bad_ref += !ok;
                    }
                for (int v = 0; v < N_VARIANTS; v++) {
                    const kern_int8_ops *ops = kern_int8_variant(variant_names[v]);
                    if (!ops)
                        continue;
                    memset(out, 0x55, nn);
                    ops->requantize(acc, m, n, b, scale, out_scale, relu, out);
                    bad_var += memcmp(out, ref, nn) != 0;
                }
            }
    CU_ASSERT_EQUAL(bad_ref, 0);
    CU_ASSERT_EQUAL(bad_var, 0);
    CU_ASSERT(near_ties <= 2);
    free(acc);
    free(ref);
    free(out);
}

static void test_requantize_rounding(void) {
    /* acc · 0.5 / 1: ties go to even, clamps at ±127, relu floors at 0. */
    const int32_t acc[8] = {5, 7, -5, -7, 1, 400, -400, -3};
    const float scale[8] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    const int8_t want[8] = {2, 4, -2, -4, 0, 127, -127, -2};
    const int8_t want_relu[8] = {2, 4, 0, 0, 0, 127, 0, 0};
    for (int v = 0; v < N_VARIANTS; v++) {
        const kern_int8_ops *ops = kern_int8_variant(variant_names[v]);
        if (!ops)
            continue;
        int8_t out[8];
        ops->requantize(acc, 1, 8, NULL, scale, 1.0f, 0, out);
        CU_ASSERT_EQUAL(memcmp(out, want, 8), 0);
        ops->requantize(acc, 1, 8, NULL, scale, 1.0f, 1, out);
        CU_ASSERT_EQUAL(memcmp(out, want_relu, 8), 0);
    }
}

/* Values within a few ulps of rounding ties, all over the grid: a variant that reorders or
 * replaces a float operation (x · (1/s) for x / s, say) rounds some of them the other way. */
static void test_float_ops_bit_identical_near_ties(void) {
    const int m = 64, n = 1024;
    const size_t nn = (size_t)m * n;
    int32_t *acc = malloc(nn * 4), bias[1024] = {0};
    float scale[1024], *x = malloc(nn * 4);
    int8_t *ref = malloc(nn), *out = malloc(nn);
    uint32_t u[1024];
    const float out_scale = 2.6f, qscale = 0.37f;
    fill_words(u, n, 61);
    for (int j = 0; j < n; j++)
        scale[j] = 2.6e-5f * (1.0f + (float)(u[j] >> 8) / 16777216.0f);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            size_t at = (size_t)i * n + j;
            double q = (i * 7 + j) % 261 - 130 + 0.5;                 /* a tie on the grid */
            int d = i % 5 - 2;                                        /* a few steps off it */
            acc[at] = (int32_t)llround(q * out_scale / scale[j]) + d; /* |acc| < 2^24 */
            x[at] = (float)(q * qscale);
            for (int t = 0; t < abs(d); t++)
                x[at] = nextafterf(x[at], d > 0 ? INFINITY : -INFINITY);
        }
    int bad = 0, ran = 0;
    for (int v = 0; v < N_VARIANTS; v++) {
        const kern_int8_ops *ops = kern_int8_variant(variant_names[v]);
        if (!ops)
            continue;
        for (int relu = 0; relu <= 1; relu++) {
            kern_ref_requantize(acc, m, n, bias, scale, out_scale, relu, ref);
            ops->requantize(acc, m, n, bias, scale, out_scale, relu, out);
            bad += memcmp(out, ref, nn) != 0;
        }
        kern_ref_quantize_s8(x, nn, qscale, ref);
        ops->quantize_s8(x, nn, qscale, out);
        bad += memcmp(out, ref, nn) != 0;
        ran++;
    }
    CU_ASSERT(ran >= 1);
    CU_ASSERT_EQUAL(bad, 0);
    free(acc);
    free(x);
    free(ref);
    free(out);
}

static void test_dequantize_matches_ref(void) {
    const int m = 9, n = 45;
    const size_t nn = (size_t)m * n;
    int32_t *acc = malloc(nn * 4), bias[45];
    float scale[45], *ref = malloc(nn * 4), *out = malloc(nn * 4);
    uint32_t u[45];
    fill_acc(acc, nn, 31);
    fill_acc(bias, n, 32);
    fill_words(u, n, 33);
    for (int j = 0; j < n; j++)
        scale[j] = (float)ldexp(1.0 + (u[j] >> 8) / 16777216.0, -20 + (int)(u[j] % 9));
    int bad_ref = 0, bad_var = 0;
    for (int with_bias = 0; with_bias <= 1; with_bias++) {
        const int32_t *b = with_bias ? bias : NULL;
        kern_ref_dequantize_s32(acc, m, n, b, scale, ref);
        for (size_t at = 0; at < nn; at++) {
            int j = (int)(at % n);
            int32_t x = (int32_t)((uint32_t)acc[at] + (uint32_t)(b ? b[j] : 0));
            /* |x| <= 2²⁴ converts exactly, and one float product is the double one rounded */
            if (x >= -(1 << 24) && x <= (1 << 24))
                bad_ref += ref[at] != (float)((double)x * scale[j]);
            else
                bad_ref += !rl_test_close(ref[at], (double)x * scale[j], 2.0);
        }
        for (int v = 0; v < N_VARIANTS; v++) {
            const kern_int8_ops *ops = kern_int8_variant(variant_names[v]);
            if (!ops)
                continue;
            memset(out, 0x55, nn * 4);
            ops->dequantize_s32(acc, m, n, b, scale, out);
            bad_var += memcmp(out, ref, nn * 4) != 0;
        }
    }
    CU_ASSERT_EQUAL(bad_ref, 0);
    CU_ASSERT_EQUAL(bad_var, 0);
    free(acc);
    free(ref);
    free(out);
}

static void test_quantize_matches_ref(void) {
    const size_t n = 1003;
    float *x = malloc(n * 4);
    int8_t *ref = malloc(n), *out = malloc(n);
    kern_ref_fill_uniform(x, n, test_key, 41, -3.0f, 3.0f);
    /* Ties at scale 1/64 (exact): 2.5 and -3.5 codes; out of range; NaN; ±inf; -0. */
    const float special[] = {2.5f / 64, -3.5f / 64, 0.5f / 64, 127.5f / 64, -200.0f,    1e30f,
                             NAN,       INFINITY,   -INFINITY, -0.0f,       126.5f / 64};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        x[i * 17] = special[i];
    int bad_ref = 0, bad_var = 0, near_ties = 0;
    static const float scales[] = {1.0f / 64, 3.0f / 127, 0.7f};
    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        kern_ref_quantize_s8(x, n, scales[s], ref);
        for (size_t i = 0; i < n; i++) {
            double exact = isnan(x[i]) ? -INFINITY : (double)x[i] / scales[s];
            int ok = agrees_with_exact(ref[i], exact, -127.0, 2e-7); /* one rounding */
            near_ties += ok && ref[i] != nearbyint(fmin(127, fmax(-127, exact)));
            bad_ref += !ok;
        }
        for (int v = 0; v < N_VARIANTS; v++) {
            const kern_int8_ops *ops = kern_int8_variant(variant_names[v]);
            if (!ops)
                continue;
            for (size_t len = n - 12; len <= n; len++) { /* every tail length */
                memset(out, 0x55, n);
                ops->quantize_s8(x, len, scales[s], out);
                bad_var += memcmp(out, ref, len) != 0 || (len < n && out[len] != 0x55);
            }
        }
    }
    kern_ref_quantize_s8(x, n, 1.0f / 64, ref);
    CU_ASSERT_EQUAL(ref[0], 2);    /* 2.5 → 2 */
    CU_ASSERT_EQUAL(ref[17], -4);  /* -3.5 → -4 */
    CU_ASSERT_EQUAL(ref[34], 0);   /* 0.5 → 0 */
    CU_ASSERT_EQUAL(ref[51], 127); /* 127.5 clamps */
    CU_ASSERT_EQUAL(ref[68], -127);
    CU_ASSERT_EQUAL(ref[102], -127); /* NaN */
    CU_ASSERT_EQUAL(ref[170], 126);  /* 126.5 → 126 */
    CU_ASSERT_EQUAL(bad_ref, 0);
    CU_ASSERT_EQUAL(bad_var, 0);
    CU_ASSERT(near_ties <= 2);
    free(x);
    free(ref);
    free(out);
}

/* ---- end to end ---- */

/* Y (m, n) = X (m, k) · Wᵀ + b in fp32 data, computed on the int8 grid: X with one scale sx,
 * row j of W with sw[j], b with sx · sw[j]; gemm + dequantize. With the codes' rounding errors
 * |dx| <= sx/2, |dw_j| <= sw_j/2, |db| <= sx·sw_j/2, each element obeys the bound
 *   |Y - Yq| <= Σ_p (|x_p| sw_j/2 + |w_jp| sx/2 + sx sw_j/4) + sx sw_j/2
 * (widened by 1e-4 relative + 4 eps |Y| for the float roundings of the scales and the output),
 * and, the rounding errors being near independent and uniform, the RMS error is within 3× its
 * expectation sqrt(mean over elements of Σ_p (x_p² sw_j² + w_jp² sx²) / 12). */
static void test_end_to_end_forward(void) {
    const int m = 64, n = 48, k = 784;
    float *x = malloc((size_t)m * k * 4), *w = malloc((size_t)n * k * 4), b[48], sw[48], cs[48];
    int8_t *xq = malloc((size_t)m * k), *wq = malloc((size_t)n * k);
    int32_t *acc = malloc((size_t)m * n * 4), bq[48];
    float *y = malloc((size_t)m * n * 4);
    void *scratch = malloc(kern_gemm_s8_scratch_size(m, n, k));
    kern_ref_fill_uniform(x, (size_t)m * k, test_key, 51, -1.0f, 1.0f);
    kern_ref_fill_uniform(w, (size_t)n * k, test_key, 52, -0.1f, 0.1f);
    kern_ref_fill_uniform(b, n, test_key, 53, -0.5f, 0.5f);
    float xmax = 0.0f;
    for (size_t i = 0; i < (size_t)m * k; i++)
        xmax = fmaxf(xmax, fabsf(x[i]));
    const float sx = xmax / 127.0f;
    kern_quantize_s8(x, (size_t)m * k, sx, xq);
    for (int j = 0; j < n; j++) {
        float wmax = 0.0f;
        for (int p = 0; p < k; p++)
            wmax = fmaxf(wmax, fabsf(w[(size_t)j * k + p]));
        sw[j] = wmax / 127.0f;
        cs[j] = sx * sw[j];
        kern_quantize_s8(w + (size_t)j * k, (size_t)k, sw[j], wq + (size_t)j * k);
        bq[j] = (int32_t)nearbyint((double)b[j] / cs[j]);
    }
    kern_gemm_s8(m, n, k, xq, wq, acc, scratch);
    kern_dequantize_s32(acc, m, n, bq, cs, y);
    int bad = 0;
    double err2 = 0.0, expect2 = 0.0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double exact = b[j], bound = (double)cs[j] / 2, var = 0.0;
            for (int p = 0; p < k; p++) {
                double xv = x[(size_t)i * k + p], wv = w[(size_t)j * k + p];
                exact += xv * wv;
                bound += fabs(xv) * sw[j] / 2 + fabs(wv) * sx / 2 + (double)sx * sw[j] / 4;
                var += (xv * xv * sw[j] * sw[j] + wv * wv * sx * sx) / 12.0;
            }
            double got = y[(size_t)i * n + j], err = fabs(got - exact);
            bound = bound * (1 + 1e-4) + 4 * 1.2e-7 * fabs(exact); /* float roundings */
            bad += !(err <= bound);
            err2 += err * err;
            expect2 += var;
        }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(sqrt(err2 / (m * n)) <= 3.0 * sqrt(expect2 / (m * n)));
    free(x);
    free(w);
    free(xq);
    free(wq);
    free(acc);
    free(y);
    free(scratch);
}

static const rl_test tests[] = {
    {"variants and dispatch", test_variants_available},
    {"dispatch follows the forced ISA level", test_dispatch_follows_isa_level},
    {"gemm: every variant = ref on many shapes", test_gemm_shapes_match_ref},
    {"gemm: extremes, full range, empty shapes", test_gemm_extremes},
    {"gemm: dispatched call = ref", test_gemm_dispatched},
    {"requantize: variants = ref = double formula", test_requantize_matches_ref},
    {"requantize: ties to even, clamp, relu", test_requantize_rounding},
    {"requantize, quantize: bit-identical near ties", test_float_ops_bit_identical_near_ties},
    {"dequantize: variants = ref = double formula", test_dequantize_matches_ref},
    {"quantize: variants = ref = double formula", test_quantize_matches_ref},
    {"end to end: quantized product within its bound", test_end_to_end_forward},
    {NULL, NULL}};
RL_TEST_SUITE("int8", tests)
