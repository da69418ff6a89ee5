/* Unit tests for src/data/augment: the crop and flip of a hand-made image, draws that depend on
 * (seed, epoch, example id) alone, identity when off, and the refused settings. */
#include "src/core/error.h"
#include "src/data/augment.h"
#include "tests/unit/harness.h"

#include <string.h>

/* A resolved config with the augmentation keys and the given overrides (NULL-terminated). */
static rl_config *augment_config(const char *const *overrides) {
    rl_config *cfg = rl_cfg_new();
    rl_augment_declare_config(cfg);
    for (; overrides && *overrides; overrides++)
        CU_ASSERT_FATAL(rl_cfg_set_override(cfg, *overrides) == RL_OK);
    CU_ASSERT_FATAL(rl_cfg_resolve(cfg) == RL_OK);
    return cfg;
}

/* Images of 2 channels of 3 x 4 pixels (the shape only: no examples are read). */
static rl_dataset image_shape(void) {
    rl_dataset d = {.name = "hand", .n = 1000, .dim = 24, .channels = 2, .height = 3, .width = 4};
    return d;
}

/* pixel (c, y, x) = 100 c + 10 y + x + 1, so that no pixel is 0 */
static void hand_image(float *img) {
    for (int c = 0; c < 2; c++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++)
                img[c * 12 + y * 4 + x] = (float)(100 * c + 10 * y + x + 1);
}

static rl_augment settings(const char *augment, uint64_t seed) {
    char key[64];
    snprintf(key, sizeof key, "data.augment=%s", augment);
    const char *const overrides[] = {key, "data.augment_pad=2", NULL};
    rl_config *cfg = augment_config(overrides);
    rl_dataset d = image_shape();
    rl_augment a;
    CU_ASSERT_FATAL(rl_augment_read(&a, cfg, seed, &d) == RL_OK);
    rl_cfg_free(cfg);
    return a;
}

/* A shift by (dy, dx) = (1, -1): output (y, x) is input (y + 1, x − 1), zeros where that falls
 * outside; a flip reverses each row of the crop; crop and flip together. */
static void test_crop_and_flip_of_a_hand_made_image(void) {
    rl_augment a = settings("crop,flip", 1);
    float img[24], out[24];
    hand_image(img);
    const float shifted[24] = {0, 11,  12,  13,  0, 21,  22,  23,  0, 0, 0, 0,
                               0, 111, 112, 113, 0, 121, 122, 123, 0, 0, 0, 0};
    rl_augment_image(&a, (rl_augment_draw){.dy = 1, .dx = -1, .flip = 0}, img, out);
    CU_ASSERT(memcmp(out, shifted, sizeof out) == 0);
    const float flipped[24] = {4,   3,   2,   1,   14,  13,  12,  11,  24,  23,  22,  21,
                               104, 103, 102, 101, 114, 113, 112, 111, 124, 123, 122, 121};
    rl_augment_image(&a, (rl_augment_draw){.dy = 0, .dx = 0, .flip = 1}, img, out);
    CU_ASSERT(memcmp(out, flipped, sizeof out) == 0);
    const float both[24] = {13,  12,  11,  0, 23,  22,  21,  0, 0, 0, 0, 0,
                            113, 112, 111, 0, 123, 122, 121, 0, 0, 0, 0, 0};
    rl_augment_image(&a, (rl_augment_draw){.dy = 1, .dx = -1, .flip = 1}, img, out);
    CU_ASSERT(memcmp(out, both, sizeof out) == 0);
    /* a shift the other way: output (0, 0) is input (−2, 2), outside; (2, 0) is input (0, 2) */
    rl_augment_image(&a, (rl_augment_draw){.dy = -2, .dx = 2, .flip = 0}, img, out);
    CU_ASSERT_EQUAL(out[0], 0.0f);
    CU_ASSERT_EQUAL(out[2 * 4 + 0], 3.0f);
    CU_ASSERT_EQUAL(out[2 * 4 + 1], 4.0f);
    CU_ASSERT_EQUAL(out[2 * 4 + 2], 0.0f);
    CU_ASSERT_EQUAL(out[12 + 2 * 4 + 0], 103.0f);
}

/* The draw of an example is a function of (seed, epoch, id): the same whichever rows it is
 * augmented with and in which order; other epochs and seeds draw otherwise; shifts cover
 * [-pad, pad] and about half the examples are flipped. */
static void test_draw_depends_on_seed_epoch_and_id_only(void) {
    rl_augment a = settings("crop,flip", 7), other_seed = settings("crop,flip", 8);
    enum { N = 400 };
    int seen[5][5] = {{0}}, flips = 0, epoch_differs = 0, seed_differs = 0;
    for (int64_t id = 0; id < N; id++) {
        rl_augment_draw r = rl_augment_draw_for(&a, 3, id), again = rl_augment_draw_for(&a, 3, id);
        CU_ASSERT(memcmp(&r, &again, sizeof r) == 0);
        CU_ASSERT_FATAL(r.dy >= -2 && r.dy <= 2 && r.dx >= -2 && r.dx <= 2);
        seen[r.dy + 2][r.dx + 2]++;
        flips += r.flip;
        rl_augment_draw e = rl_augment_draw_for(&a, 4, id),
                        s = rl_augment_draw_for(&other_seed, 3, id);
        epoch_differs += memcmp(&r, &e, sizeof r) != 0;
        seed_differs += memcmp(&r, &s, sizeof r) != 0;
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            CU_ASSERT(seen[i][j] > 0);
    CU_ASSERT(flips > N / 2 - 60 && flips < N / 2 + 60);
    CU_ASSERT(epoch_differs > N / 2);
    CU_ASSERT(seed_differs > N / 2);

    /* Views: view 0 is the plain draw; view 1 is another draw of the same (epoch, id). */
    int view_differs = 0;
    for (int64_t id = 0; id < N; id++) {
        rl_augment_draw r = rl_augment_draw_for(&a, 3, id), v0 = rl_augment_draw_view(&a, 3, id, 0),
                        v1 = rl_augment_draw_view(&a, 3, id, 1);
        CU_ASSERT(memcmp(&r, &v0, sizeof r) == 0);
        view_differs += memcmp(&r, &v1, sizeof r) != 0;
    }
    CU_ASSERT(view_differs > N / 2);

    /* Rows of examples 5, 9, 2 in one call == each alone (any chunking, any rank). */
    const int64_t ids[3] = {5, 9, 2};
    float rows[3][24], alone[24], scratch[24];
    for (int i = 0; i < 3; i++)
        hand_image(rows[i]);
    rl_augment_rows(&a, 11, ids, 3, rows[0], scratch);
    for (int i = 2; i >= 0; i--) {
        hand_image(alone);
        rl_augment_rows(&a, 11, &ids[i], 1, alone, scratch);
        CU_ASSERT(memcmp(alone, rows[i], sizeof alone) == 0);
        float expected[24], img[24];
        hand_image(img);
        rl_augment_image(&a, rl_augment_draw_for(&a, 11, ids[i]), img, expected);
        CU_ASSERT(memcmp(expected, rows[i], sizeof expected) == 0);
    }
}

/* data.augment=none (the default) changes nothing; crop alone never flips, flip alone never
 * shifts. */
static void test_identity_when_off(void) {
    rl_config *cfg = augment_config(NULL);
    CU_ASSERT_STRING_EQUAL(rl_cfg_str(cfg, "data.augment"), "none");
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "data.augment_pad"), 4);
    rl_dataset d = image_shape();
    rl_augment a;
    CU_ASSERT_FATAL(rl_augment_read(&a, cfg, 1, &d) == RL_OK);
    CU_ASSERT(!rl_augment_on(&a));
    rl_cfg_free(cfg);
    float rows[2][24], img[24], scratch[24];
    const int64_t ids[2] = {0, 1};
    hand_image(rows[0]);
    hand_image(rows[1]);
    hand_image(img);
    rl_augment_rows(&a, 0, ids, 2, rows[0], scratch);
    CU_ASSERT(memcmp(rows[0], img, sizeof img) == 0 && memcmp(rows[1], img, sizeof img) == 0);

    rl_augment crop = settings("crop", 1), flip = settings("flip", 1);
    int shifted = 0, flipped = 0;
    for (int64_t id = 0; id < 100; id++) {
        rl_augment_draw c = rl_augment_draw_for(&crop, 0, id),
                        f = rl_augment_draw_for(&flip, 0, id);
        CU_ASSERT(!c.flip && f.dy == 0 && f.dx == 0);
        shifted += c.dy != 0 || c.dx != 0;
        flipped += f.flip;
    }
    CU_ASSERT(shifted > 50 && flipped > 20);
}

/* Not images, unknown names, none with others, a pad as large as the image: refused, with a
 * hint, before anything is augmented. */
static void test_refused_settings(void) {
    rl_dataset flat = {.name = "blobs", .n = 10, .dim = 20}, img = image_shape();
    struct {
        const char *augment, *pad;
        const rl_dataset *d;
        const char *says;
    } cases[] = {
        {"data.augment=crop,flip", "data.augment_pad=2", &flat, "are not images"},
        {"data.augment=flip", "data.augment_pad=2", &flat, "are not images"},
        {"data.augment=rotate", "data.augment_pad=2", &img, "unknown augmentation \"rotate\""},
        {"data.augment=none,flip", "data.augment_pad=2", &img, "unknown augmentation \"none\""},
        {"data.augment=crop", "data.augment_pad=3", &img, "entirely out of view"},
        {"data.augment=flip,flip", "data.augment_pad=2", &img, "flip"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const overrides[] = {cases[i].augment, cases[i].pad, NULL};
        rl_config *cfg = augment_config(overrides);
        rl_augment a;
        rl_error_clear();
        CU_ASSERT(rl_augment_read(&a, cfg, 1, cases[i].d) == RL_ERR);
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), cases[i].says));
        CU_ASSERT(rl_error_hint()[0] != '\0');
        rl_cfg_free(cfg);
    }
    /* a pad below the image's size is fine, and flip alone ignores the pad */
    const char *const fine[] = {"data.augment=flip", "data.augment_pad=100", NULL};
    rl_config *cfg = augment_config(fine);
    rl_augment a;
    CU_ASSERT(rl_augment_read(&a, cfg, 1, &img) == RL_OK && a.pad == 0);
    rl_cfg_free(cfg);
}

static const rl_test tests[] = {
    {"crop and flip of a hand-made image", test_crop_and_flip_of_a_hand_made_image},
    {"draw depends on (seed, epoch, id) only", test_draw_depends_on_seed_epoch_and_id_only},
    {"identity when off", test_identity_when_off},
    {"refused settings", test_refused_settings},
    {NULL, NULL},
};
RL_TEST_SUITE("augment", tests)
