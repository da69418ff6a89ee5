/* Synthetic datasets: Gaussian blobs (classification) and linear regression, every number drawn
 * from (seed, RL_RNG_SYNTH_DATA) at its own counter so any example can be regenerated anywhere.
 *
 * Counters: draws shared by both splits (blob centres, w*) use step SHARED_STEP with index =
 * position in the shared array; example i of split s uses index i and step (s << 31) | slot,
 * where slot 0 is the label (blobs) or the target noise (linreg) and slot 1 + k is feature k.
 * SYNTH_MAX_DIM keeps the slots below 2^31 - 1, so no example counter reaches SHARED_STEP. */
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARED_STEP UINT32_MAX
#define SYNTH_MAX_DIM (1 << 20)
#define SYNTH_MAX_CLASSES 4095 /* classes · SYNTH_MAX_DIM centre coordinates fit a 32-bit index */

static uint32_t example_step(uint32_t split, int slot) {
    return split << 31 | (uint32_t)slot;
}

/* Check the arguments common to both generators and the memory they need: x (n, dim), then
 * per_example more bytes per example (labels or targets) and `shared` bytes (centres, w*).
 * Allocate x in the zeroed *out. */
static int synth_alloc(const char *name, int64_t n, int dim, uint32_t split, size_t per_example,
                       uint64_t shared, rl_dataset *out) {
    if (n < 1 || n > (int64_t)UINT32_MAX)
        return rl_fail("%s: example count %lld is outside 1..%u",
                       "set data.train_size, data.test_size (and the limits) to positive values",
                       name, (long long)n, UINT32_MAX);
    if (dim < 1 || dim > SYNTH_MAX_DIM)
        return rl_fail("%s: dimension %d is outside 1..%d", "set data.dim within the range", name,
                       dim, SYNTH_MAX_DIM);
    if (split > 1)
        return rl_fail("%s: split %u is neither 0 (train) nor 1 (test)", NULL, name, split);
    uint64_t bytes = rl_size_mul((uint64_t)n, (uint64_t)dim * sizeof(float) + per_example);
    if (rl_mem_check(rl_size_add(bytes, shared), "%s: %lld %s examples of %d features", name,
                     (long long)n, split ? "test" : "training", dim) < 0)
        return rl_fail_hint("lower data.train_size, data.test_size (or the limits) or data.dim");
    snprintf(out->name, sizeof out->name, "%s", name);
    out->n = n;
    out->dim = dim;
    out->x_f32 = rl_xmalloc((size_t)n * (size_t)dim * sizeof *out->x_f32);
    return RL_OK;
}

int rl_data_make_blobs(int64_t n, int dim, int classes, float spread, uint64_t seed, uint32_t split,
                       rl_dataset *out) {
    memset(out, 0, sizeof *out);
    if (classes < 2 || classes > SYNTH_MAX_CLASSES)
        return rl_fail("blobs: %d classes is outside 2..%d", "set data.classes within the range",
                       classes, SYNTH_MAX_CLASSES);
    if (!(spread >= 0.0f))
        return rl_fail("blobs: spread %g is negative", "set data.spread >= 0", (double)spread);
    size_t n_centre = (size_t)classes * (size_t)dim;
    if (synth_alloc("blobs", n, dim, split, 2 * sizeof(int32_t), n_centre * sizeof(float), out) <
        0)
        return RL_ERR;
    rl_rng r = rl_rng_make(seed, RL_RNG_SYNTH_DATA);
    float *centres = rl_xmalloc(n_centre * sizeof *centres);
    for (size_t j = 0; j < n_centre; j++)
        centres[j] = (float)rl_rng_normal(r, SHARED_STEP, (uint32_t)j);

    out->classes = classes;
    out->y = rl_xmalloc((size_t)n * sizeof *out->y);
    out->y_clean = rl_xmalloc((size_t)n * sizeof *out->y_clean);
    for (int64_t i = 0; i < n; i++) {
        uint32_t idx = (uint32_t)i;
        int32_t c = (int32_t)rl_rng_below(r, example_step(split, 0), idx, (uint64_t)classes);
        const float *centre = centres + (size_t)c * (size_t)dim;
        float *x = out->x_f32 + (size_t)i * (size_t)dim;
        for (int k = 0; k < dim; k++)
            x[k] = centre[k] + spread * (float)rl_rng_normal(r, example_step(split, 1 + k), idx);
        out->y[i] = out->y_clean[i] = c;
    }
    free(centres);
    return RL_OK;
}

int rl_data_make_linreg(int64_t n, int dim, float target_noise, uint64_t seed, uint32_t split,
                        rl_dataset *out) {
    memset(out, 0, sizeof *out);
    if (!(target_noise >= 0.0f))
        return rl_fail("linreg: target noise %g is negative", "set data.target_noise >= 0",
                       (double)target_noise);
    if (synth_alloc("linreg", n, dim, split, sizeof(float), (uint64_t)dim * sizeof(double),
                    out) < 0)
        return RL_ERR;
    rl_rng r = rl_rng_make(seed, RL_RNG_SYNTH_DATA);
    double *w = rl_xmalloc((size_t)dim * sizeof *w);
    for (int k = 0; k < dim; k++)
        w[k] = rl_rng_normal(r, SHARED_STEP, (uint32_t)k);

    out->targets = 1;
    out->t = rl_xmalloc((size_t)n * sizeof *out->t);
    for (int64_t i = 0; i < n; i++) {
        uint32_t idx = (uint32_t)i;
        float *x = out->x_f32 + (size_t)i * (size_t)dim;
        double dot = 0.0;
        for (int k = 0; k < dim; k++) {
            x[k] = (float)rl_rng_normal(r, example_step(split, 1 + k), idx);
            dot += (double)x[k] * w[k];
        }
        out->t[i] = (float)(dot + target_noise * rl_rng_normal(r, example_step(split, 0), idx));
    }
    free(w);
    return RL_OK;
}
