/* Random streams: every draw is addressable by (seed, purpose) and a counter
 * (step, index, block), so any rank can regenerate any draw (DESIGN.md invariant 1).
 *
 *     rl_rng r = rl_rng_make(seed, RL_RNG_SHUFFLE);
 *     double u = rl_rng_uniform(r, epoch, i);   // the same on every rank
 */
#ifndef RANKLAB_CORE_RNG_H
#define RANKLAB_CORE_RNG_H

#include <stdint.h>

/* What a stream is for. Append new purposes at the end: values are part of the results. */
typedef enum {
    RL_RNG_INIT = 1,     /* parameter initialization; step = tensor index */
    RL_RNG_SHUFFLE,      /* epoch order; step = epoch */
    RL_RNG_LABEL_NOISE,  /* which labels are corrupted and to what */
    RL_RNG_SYNTH_DATA,   /* synthetic datasets */
    RL_RNG_PERTURB,      /* zero-order perturbations; step = optimizer step, index = perturbation */
    RL_RNG_SAMPLE,       /* weighted sampling keys */
    RL_RNG_ATTACK,       /* random starts of attacks; step = round, index = example id */
    RL_RNG_MIXUP_LAMBDA, /* mixup's λ ~ Beta(α, α); step = optimizer step (epoch, batch) */
    RL_RNG_MIXUP_PAIRS,  /* mixup's permutation of a batch; step = optimizer step */
    RL_RNG_PEER_INIT,    /* the parameter seed of a second network (co-teaching's) */
    RL_RNG_SWEEP_SAMPLE, /* sampled sweep keys; step = sample, index = CRC-32 of the key */
    RL_RNG_AUGMENT,      /* data augmentation (crop, flip); step = epoch, index = example id */
    RL_RNG_DROPOUT,      /* dropout masks; step = optimizer step, index = example id, block =
                            layer and unit (src/nn/layers.h) */
    RL_RNG_TEXT_SAMPLE,  /* sampled text continuations; step = sample, index = position */
    RL_RNG_FEW_SHOT,     /* a few-shot training set's draws; step = class, index = draw */
    RL_RNG_VIEW_NOISE,   /* pixel noise of contrastive views; step = epoch, index = example id,
                            block = view · dim + pixel (src/train/simclr.h) */
} rl_rng_purpose;

typedef struct {
    uint32_t key[2];
} rl_rng;

rl_rng rl_rng_make(uint64_t seed, rl_rng_purpose purpose);
void rl_rng_block(rl_rng r, uint32_t step, uint32_t index, uint32_t block, uint32_t out[4]);
/* Uniform double in [0, 1) with 53 random bits, from block 0 of (step, index). */
double rl_rng_uniform(rl_rng r, uint32_t step, uint32_t index);
/* Uniform integer in [0, n), n > 0, without modulo bias worth mentioning (64-bit draw). */
uint64_t rl_rng_below(rl_rng r, uint32_t step, uint32_t index, uint64_t n);
/* Standard normal (Box-Muller on block 0 of (step, index)). */
double rl_rng_normal(rl_rng r, uint32_t step, uint32_t index);
/* Standard normal from block `block` of (step, index) (block 0: rl_rng_normal). */
double rl_rng_normal_block(rl_rng r, uint32_t step, uint32_t index, uint32_t block);
/* Beta(a, b), a, b > 0, as X / (X + Y) with X ~ Gamma(a) from index 0 and Y ~ Gamma(b) from
 * index 1 of `step`. Each gamma variate is exact (Marsaglia–Tsang's rejection: attempt k takes
 * blocks 2k + 1 and 2k + 2 of its counter; below shape 1 boosted by U^(1/shape), U from block 0)
 * and kept as a logarithm, so tiny shapes do not underflow. */
double rl_rng_beta(rl_rng r, uint32_t step, double a, double b);

#endif
