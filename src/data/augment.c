/* Data augmentation of training images: random crop with zero padding and horizontal flip, drawn
 * per (epoch, example id) from the counter RNG (see augment.h). */
#include "src/data/augment.h"
#include "src/core/error.h"

#include <string.h>

static const rl_cfg_spec augment_keys[] = {
    {"data.augment", RL_CFG_STRING, "none", 0, -1, NULL, 0,
     "augmentation of training images, a comma list of crop (pad by data.augment_pad zeros, "
     "then a random window of the image size) and flip (left-right with probability 1/2), e.g. "
     "crop,flip; drawn per epoch and example id, so the same on any rank count; evaluation "
     "never augments; none: off. Images only (fashion-mnist, cifar*, h5 with (N, C, H, W) x; "
     "an mlp: model gets them flattened)"},
    {"data.augment_pad", RL_CFG_INT, "4", 1, 1024, NULL, 0,
     "data.augment=crop: zero pixels added on each side before the random crop (the shift is "
     "at most this many pixels; below the image's height and width)"},
};

void rl_augment_declare_config(rl_config *cfg) {
    rl_cfg_declare(cfg, augment_keys, sizeof augment_keys / sizeof augment_keys[0]);
}

int rl_augment_read(rl_augment *a, const rl_config *cfg, uint64_t seed, const rl_dataset *d) {
    memset(a, 0, sizeof *a);
    char **items;
    int n;
    if (rl_cfg_list(cfg, "data.augment", 2, &items, &n) < 0)
        return RL_ERR;
    int rc = RL_OK;
    for (int i = 0; i < n && rc == RL_OK; i++) {
        if (strcmp(items[i], "crop") == 0)
            a->crop = 1;
        else if (strcmp(items[i], "flip") == 0)
            a->flip = 1;
        else if (strcmp(items[i], "none") != 0 || n > 1)
            rc = rl_fail("data.augment=%s: unknown augmentation \"%s\"",
                         "give crop, flip or both (data.augment=crop,flip), or none",
                         rl_cfg_str(cfg, "data.augment"), items[i]);
    }
    rl_cfg_list_free(items, n);
    if (rc < 0 || !rl_augment_on(a))
        return rc;
    if (d->width < 1)
        return rl_fail("data.augment=%s crops and flips images, but the %d features of "
                       "data.name=%s are not images",
                       "use image data (data.name=fashion-mnist, cifar10, cifar100, or h5 with x "
                       "of shape (N, C, H, W)), or set data.augment=none",
                       rl_cfg_str(cfg, "data.augment"), d->dim, d->name);
    a->pad = a->crop ? (int)rl_cfg_int(cfg, "data.augment_pad") : 0;
    if (a->pad >= d->height || a->pad >= d->width)
        return rl_fail("data.augment_pad=%d: a crop could shift the %dx%d images of %s entirely "
                       "out of view",
                       "use a pad below the image's height and width (4 is usual for 28x28 or "
                       "32x32 images)",
                       a->pad, d->height, d->width, d->name);
    a->channels = d->channels;
    a->height = d->height;
    a->width = d->width;
    a->rng = rl_rng_make(seed, RL_RNG_AUGMENT);
    return RL_OK;
}

int rl_augment_on(const rl_augment *a) {
    return a->crop || a->flip;
}

/* A uniform integer in [0, n) from one 32-bit word (multiply-high: bias at most n / 2^32). */
static int word_below(uint32_t word, int n) {
    return (int)(((uint64_t)word * (uint64_t)n) >> 32);
}

rl_augment_draw rl_augment_draw_for(const rl_augment *a, uint32_t epoch, int64_t id) {
    return rl_augment_draw_view(a, epoch, id, 0);
}

rl_augment_draw rl_augment_draw_view(const rl_augment *a, uint32_t epoch, int64_t id,
                                     uint32_t view) {
    uint32_t w[4];
    rl_rng_block(a->rng, epoch, (uint32_t)id, view, w);
    rl_augment_draw r = {0, 0, 0};
    if (a->crop) {
        r.dy = word_below(w[0], 2 * a->pad + 1) - a->pad;
        r.dx = word_below(w[1], 2 * a->pad + 1) - a->pad;
    }
    r.flip = a->flip && (w[2] >> 31);
    return r;
}

void rl_augment_image(const rl_augment *a, rl_augment_draw r, const float *in, float *out) {
    const int h = a->height, w = a->width;
    for (int c = 0; c < a->channels; c++) {
        const float *src = in + (size_t)c * (size_t)h * (size_t)w;
        float *dst = out + (size_t)c * (size_t)h * (size_t)w;
        for (int y = 0; y < h; y++) {
            int sy = y + r.dy;
            for (int x = 0; x < w; x++) {
                /* crop, then flip: output x shows the crop's column w − 1 − x */
                int sx = (r.flip ? w - 1 - x : x) + r.dx;
                dst[y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[sy * w + sx] : 0.0f;
            }
        }
    }
}

void rl_augment_rows(const rl_augment *a, uint32_t epoch, const int64_t *ids, int n, float *x,
                     float *scratch) {
    rl_augment_rows_view(a, epoch, 0, ids, n, x, scratch);
}

void rl_augment_rows_view(const rl_augment *a, uint32_t epoch, uint32_t view, const int64_t *ids,
                          int n, float *x, float *scratch) {
    if (!rl_augment_on(a))
        return;
    size_t dim = (size_t)a->channels * (size_t)a->height * (size_t)a->width;
    for (int i = 0; i < n; i++) {
        float *row = x + (size_t)i * dim;
        rl_augment_image(a, rl_augment_draw_view(a, epoch, ids[i], view), row, scratch);
        memcpy(row, scratch, sizeof(float) * dim);
    }
}
