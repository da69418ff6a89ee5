/* Random streams keyed by (seed, purpose) over Philox counters (see rng.h). */
#include "src/core/rng.h"
#include "kernels/kernels.h"

#include <math.h>

rl_rng rl_rng_make(uint64_t seed, rl_rng_purpose purpose) {
    rl_rng r;
    r.key[0] = (uint32_t)seed;
    r.key[1] = (uint32_t)(seed >> 32) ^ ((uint32_t)purpose * 0x9E3779B9u);
    return r;
}

void rl_rng_block(rl_rng r, uint32_t step, uint32_t index, uint32_t block, uint32_t out[4]) {
    /* Word 0 of the counter is the fill stream of kern_fill_uniform; bit 31 keeps the two apart. */
    uint32_t ctr[4] = {0x80000000u | block, index, step, 0};
    kern_philox(r.key, ctr, out);
}

static double unit53(uint32_t hi, uint32_t lo) {
    uint64_t bits = ((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11);
    return (double)(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

double rl_rng_uniform(rl_rng r, uint32_t step, uint32_t index) {
    uint32_t w[4];
    rl_rng_block(r, step, index, 0, w);
    return unit53(w[0], w[1]);
}

uint64_t rl_rng_below(rl_rng r, uint32_t step, uint32_t index, uint64_t n) {
    uint32_t w[4];
    rl_rng_block(r, step, index, 0, w);
    uint64_t x = ((uint64_t)w[0] << 32) | w[1];
    /* 128-bit multiply-high: bias at most n / 2^64. */
    return (uint64_t)(((unsigned __int128)x * n) >> 64);
}

/* Box-Muller on the four words of a block. */
static double normal_of_block(const uint32_t w[4]) {
    double u1 = 1.0 - unit53(w[0], w[1]); /* (0, 1] */
    double u2 = unit53(w[2], w[3]);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double rl_rng_normal(rl_rng r, uint32_t step, uint32_t index) {
    return rl_rng_normal_block(r, step, index, 0);
}

double rl_rng_normal_block(rl_rng r, uint32_t step, uint32_t index, uint32_t block) {
    uint32_t w[4];
    rl_rng_block(r, step, index, block, w);
    return normal_of_block(w);
}

/* log G, G ~ Gamma(shape, 1), from the blocks of (step, index) (see rl_rng_beta). Marsaglia &
 * Tsang (2000): d = shape − 1/3, c = 1/√(9d); x normal, v = (1 + c·x)³, accept d·v when v > 0
 * and u < 1 − 0.0331·x⁴ (the squeeze) or log u < x²/2 + d·(1 − v + log v). */
static double log_gamma_variate(rl_rng r, uint32_t step, uint32_t index, double shape) {
    double boost = 0.0; /* Gamma(s) = Gamma(s + 1) · U^(1/s) for s < 1 */
    if (shape < 1.0) {
        uint32_t w[4];
        rl_rng_block(r, step, index, 0, w);
        boost = log(1.0 - unit53(w[0], w[1])) / shape;
        shape += 1.0;
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (uint32_t block = 1;; block += 2) {
        uint32_t g[4], w[4];
        rl_rng_block(r, step, index, block, g);
        rl_rng_block(r, step, index, block + 1, w);
        double x = normal_of_block(g), v = 1.0 + c * x;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        double u = unit53(w[0], w[1]), x2 = x * x;
        if (u < 1.0 - 0.0331 * x2 * x2 || log(u) < 0.5 * x2 + d * (1.0 - v + log(v)))
            return log(d) + log(v) + boost;
    }
}

double rl_rng_beta(rl_rng r, uint32_t step, double a, double b) {
    double log_x = log_gamma_variate(r, step, 0, a), log_y = log_gamma_variate(r, step, 1, b);
    return 1.0 / (1.0 + exp(log_y - log_x)); /* X / (X + Y) */
}
