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

double rl_rng_normal(rl_rng r, uint32_t step, uint32_t index) {
    uint32_t w[4];
    rl_rng_block(r, step, index, 0, w);
    double u1 = 1.0 - unit53(w[0], w[1]); /* (0, 1] */
    double u2 = unit53(w[2], w[3]);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
