/* Data augmentation of training images: random crop with zero padding and horizontal flip, each
 * example's draw from the counter RNG keyed by (run seed, RL_RNG_AUGMENT, epoch, example id), so
 * an example looks the same in an epoch whatever rank converts it, and after a resume.
 *
 * Augmentation applies to float rows as they were read (rl_data_gather: pixels k / 255, mirrored
 * if data.transform=mirror), one image (channels, height, width) per row: the crop pads the image
 * with `pad` zeros on every side and takes the height x width window at a random offset (a shift
 * by dy, dx in [-pad, pad], uncovered pixels 0), then the flip mirrors it left-right with
 * probability 1/2 (torchvision's RandomCrop(size, padding) then RandomHorizontalFlip).
 *
 *     rl_augment a;
 *     if (rl_augment_read(&a, cfg, seed, &train) < 0) ...   // data.augment, data.augment_pad
 *     rl_augment_rows(&a, epoch, ids, n, x, scratch);       // x (n, dim) in place
 */
#ifndef RANKLAB_DATA_AUGMENT_H
#define RANKLAB_DATA_AUGMENT_H

#include "src/core/config.h"
#include "src/core/rng.h"
#include "src/data/data.h"

#include <stdint.h>

typedef struct {
    int crop, flip;              /* which augmentations (both 0: off) */
    int pad;                     /* crop: zeros added on each side */
    int channels, height, width; /* the images' shape */
    rl_rng rng;                  /* (seed, RL_RNG_AUGMENT): step = epoch, index = example id */
} rl_augment;

/* One example's draw: the crop's shift (dy, dx in [-pad, pad], 0 without crop) and the flip. */
typedef struct {
    int dy, dx, flip;
} rl_augment_draw;

/* data.augment, data.augment_pad: for experiments that train on augmented examples. */
void rl_augment_declare_config(rl_config *cfg);
/* The settings of cfg for the images of d (a zeroed a when data.augment=none); an error with a
 * hint for data that are not images, or a pad as large as the image. */
int rl_augment_read(rl_augment *a, const rl_config *cfg, uint64_t seed, const rl_dataset *d);
/* Whether a changes anything. */
int rl_augment_on(const rl_augment *a);
/* The draw of example `id` in epoch `epoch`: a function of (seed, epoch, id) alone. */
rl_augment_draw rl_augment_draw_for(const rl_augment *a, uint32_t epoch, int64_t id);
/* The draw of view `view` of example `id` in epoch `epoch` (several independent views of one
 * example, e.g. contrastive learning's); view 0 is rl_augment_draw_for's. */
rl_augment_draw rl_augment_draw_view(const rl_augment *a, uint32_t epoch, int64_t id,
                                     uint32_t view);
/* One image in (dim) transformed by draw r into out (dim); in and out do not overlap. */
void rl_augment_image(const rl_augment *a, rl_augment_draw r, const float *in, float *out);
/* The rows x (n, dim) of examples ids[0..n) augmented in place as in epoch `epoch` (nothing when
 * a is off); scratch holds one row (dim). */
void rl_augment_rows(const rl_augment *a, uint32_t epoch, const int64_t *ids, int n, float *x,
                     float *scratch);
/* The same with the draws of view `view` (rl_augment_draw_view; view 0: rl_augment_rows). */
void rl_augment_rows_view(const rl_augment *a, uint32_t epoch, uint32_t view, const int64_t *ids,
                          int n, float *x, float *scratch);

#endif
