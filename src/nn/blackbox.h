/* Black-box ℓ∞ attacks on a classifier reached only through its logits (METHODS.md §1),
 * untargeted, on images whose pixels lie on the 8-bit grid of [0, 1].
 *
 * Every forward pass is a query, the clean one included (the caller makes it, so an image's
 * count starts at 1); an attack stops at the first query whose prediction (first maximum of
 * the logits) differs from the label — a success — or when max_queries are spent. The loss
 * ascended is the margin max_{j≠y} z_j − z_y of the logits z, or the cross-entropy of y.
 *   ZOQO        δ on the 8-bit pixel grid: integer codes in [−E, E], E = ⌊ε·255⌋, the image
 *               clamp(x_code + δ, 0, 255) / 255. A step draws u (±m codes, Rademacher, or
 *               uniform in {−m..m}), queries clamp(δ ± u) in one forward pass of two images,
 *               and moves δ by c codes along sign(ℓ⁺ − ℓ⁻)·sign(u), clamped to the ball and
 *               the pixel range; a tie ℓ⁺ = ℓ⁻ gives no step.
 *   SIGN        fp32 ZO-SignSGD: the same with δ continuous in [−ε, ε], u ~ N(0, 1) (or ±1)
 *               scaled by μ, and a step of lr·sign(ℓ⁺ − ℓ⁻)·sign(u).
 *   SIGNHUNTER  Al-Dujaili & O'Reilly (2020): δ = ε·s, s = all +1 first; flip the signs of
 *               chunk i of 2^h equal chunks (h = 0, 1, ..., ⌈log2 n⌉, then again from 0),
 *               keeping a flip when the loss does not decrease. One query per flip.
 * The perturbation of step t of image `image` is regenerated from `key` with counter
 * (t, image) (kernels/perturb.h), so an image's attack depends on nothing else.
 *
 *     rl_blackbox b;
 *     rl_blackbox_init(&b, &options);
 *     int64_t q = rl_blackbox_attack(&b, RL_BLACKBOX_ZOQO, x, label, image, eps, adv);
 *     rl_blackbox_free(&b);
 */
#ifndef RANKLAB_NN_BLACKBOX_H
#define RANKLAB_NN_BLACKBOX_H

#include "kernels/perturb.h"

#include <stdint.h>

typedef enum { RL_BLACKBOX_ZOQO, RL_BLACKBOX_SIGN, RL_BLACKBOX_SIGNHUNTER } rl_blackbox_method;
#define RL_BLACKBOX_METHODS 3
extern const char *const rl_blackbox_method_names[RL_BLACKBOX_METHODS]; /* zoqo sign signhunter */

/* Logits (rows, classes) of images x (rows, dim), rows = 1 or 2. */
typedef const float *(*rl_blackbox_logits_fn)(void *ctx, const float *x, int rows);

typedef struct {
    rl_blackbox_logits_fn logits;
    void *ctx;
    int dim, classes;
    int margin;          /* 1: the margin loss; 0: the cross-entropy */
    int64_t max_queries; /* per image, the clean query included */
    int zoqo_m, zoqo_c;  /* ZOQO perturbation magnitude and step, in pixel codes */
    kern_perturb_kind zoqo_kind, sign_kind;
    float sign_mu, sign_lr; /* ZO-SignSGD smoothing radius and step, in [0, 1] units */
    uint32_t key[2];        /* the perturbations' stream */
} rl_blackbox_options;

typedef struct {
    rl_blackbox_options o;
    float *x_adv;                      /* (2, dim) the queried images */
    float *fdelta, *fwork, *flo, *fhi; /* (dim) */
    int8_t *delta, *dwork;             /* (dim), (2, dim) */
    int16_t *xcode, *clo, *chi;        /* (dim) */
    int8_t *signs;                     /* (dim) SignHunter's s */
    int32_t *votes;                    /* (dim) */
} rl_blackbox;

void rl_blackbox_init(rl_blackbox *b, const rl_blackbox_options *o);
void rl_blackbox_free(rl_blackbox *b);

/* Attack image x (dim) of class `label`, whose clean query the caller made, with radius eps.
 * Returns the queries spent at the success, or -1 for a failure. For ZOQO, adv (dim, or NULL)
 * receives δ in pixel codes as it acts on the image (pixel range applied): of the image that
 * succeeded, else of the last iterate. */
int64_t rl_blackbox_attack(rl_blackbox *b, rl_blackbox_method method, const float *x, int label,
                           uint32_t image, double eps, int8_t *adv);

#endif
