/* Label noise: y is recomputed from y_clean, example i corrupted when the uniform draw at
 * (step 0, index i) of (seed, RL_RNG_LABEL_NOISE) is below the rate; the new label comes from the
 * draw at (step 1, index i): symmetric picks one of the other classes, uniform any class (the
 * MW authors' uniform_mix_C: the true one with probability 1/classes), pairflip y + 1. So y
 * depends only on seed, i and y_clean[i], and the same examples are corrupted by every kind. */
#include "src/core/error.h"
#include "src/data/data.h"

int rl_data_add_label_noise(rl_dataset *d, rl_noise_kind kind, double rate, uint64_t seed) {
    if (!d->y || d->classes < 2)
        return rl_fail("label noise needs class labels, but dataset '%s' has none",
                       "set data.noise=none for regression datasets", d->name);
    if (!(rate >= 0.0 && rate < 1.0))
        return rl_fail("label noise rate %g is outside [0, 1)", "set data.noise_rate in [0, 1)",
                       rate);
    if (kind != RL_NOISE_NONE && kind != RL_NOISE_SYMMETRIC && kind != RL_NOISE_UNIFORM &&
        kind != RL_NOISE_PAIRFLIP)
        return rl_fail("unknown label noise kind %d", "use none, symmetric, uniform or pairflip",
                       (int)kind);
    if (d->n > (int64_t)UINT32_MAX)
        return rl_fail("label noise: %lld examples exceed the 32-bit draw index",
                       "use a smaller dataset (data.train_limit)", (long long)d->n);
    rl_rng r = rl_rng_make(seed, RL_RNG_LABEL_NOISE);
    for (int64_t i = 0; i < d->n; i++) {
        uint32_t idx = (uint32_t)i;
        int32_t clean = d->y_clean[i], label = clean;
        if (kind != RL_NOISE_NONE && rl_rng_uniform(r, 0, idx) < rate) {
            if (kind == RL_NOISE_PAIRFLIP) {
                label = (clean + 1) % d->classes;
            } else if (kind == RL_NOISE_UNIFORM) {
                label = (int32_t)rl_rng_below(r, 1, idx, (uint64_t)d->classes);
            } else {
                int32_t other = (int32_t)rl_rng_below(r, 1, idx, (uint64_t)d->classes - 1);
                label = other >= clean ? other + 1 : other;
            }
        }
        d->y[i] = label;
    }
    return RL_OK;
}

int64_t rl_data_count_noisy(const rl_dataset *d) {
    int64_t noisy = 0;
    if (!d->y)
        return 0;
    for (int64_t i = 0; i < d->n; i++)
        noisy += d->y[i] != d->y_clean[i];
    return noisy;
}
