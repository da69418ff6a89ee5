/* Unit tests for src/data: the real Fashion-MNIST files, IDX and CIFAR validation on small files
 * written to a temporary directory, 8-bit examples read as floats, synthetic sets, label noise,
 * epoch orders and gathering. */
#include "src/core/error.h"
#include "src/data/data.h"
#include "tests/unit/harness.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* ---- helpers ---- */

/* A resolved config with the data keys and the given `key=value` overrides (NULL-terminated). */
static rl_config *data_config(const char *const *overrides) {
    rl_config *cfg = rl_cfg_new();
    rl_data_declare_config(cfg);
    for (; overrides && *overrides; overrides++)
        CU_ASSERT_FATAL(rl_cfg_set_override(cfg, *overrides) == RL_OK);
    CU_ASSERT_FATAL(rl_cfg_resolve(cfg) == RL_OK);
    return cfg;
}

static int is_zeroed(const rl_dataset *d) {
    static const rl_dataset zero;
    return memcmp(d, &zero, sizeof zero) == 0;
}

typedef struct {
    char dir[64];
    char path[64][320];
    int n;
} tmp_dir;

static void tmp_open(tmp_dir *t) {
    snprintf(t->dir, sizeof t->dir, "/tmp/rl_data_test_XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(t->dir) != NULL);
    t->n = 0;
}

static void tmp_close(tmp_dir *t) {
    for (int i = 0; i < t->n; i++)
        unlink(t->path[i]);
    CU_ASSERT(rmdir(t->dir) == 0);
}

/* Write bytes to t->dir/name, gzip-compressed or plain; returns the path. */
static const char *tmp_write(tmp_dir *t, const char *name, const void *bytes, size_t n, int gzip) {
    char *path = t->path[t->n++], joined[sizeof t->path[0]];
    snprintf(joined, sizeof joined, "%s/%s", t->dir, name);
    memcpy(path, joined, sizeof joined);
    if (gzip) {
        gzFile f = gzopen(path, "wb");
        CU_ASSERT_FATAL(f != NULL);
        CU_ASSERT_FATAL(gzwrite(f, bytes, (unsigned)n) == (int)n);
        CU_ASSERT_FATAL(gzclose(f) == Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        CU_ASSERT_FATAL(f != NULL);
        CU_ASSERT_FATAL(fwrite(bytes, 1, n, f) == n);
        CU_ASSERT_FATAL(fclose(f) == 0);
    }
    return path;
}

/* An IDX file image: big-endian magic and dims, then `data_n` bytes of data. Returns its size. */
static size_t idx_bytes(uint8_t *buf, uint32_t magic, const uint32_t *dims, int ndims,
                        const uint8_t *data, size_t data_n) {
    size_t at = 0;
    uint32_t words[4] = {magic};
    for (int k = 0; k < ndims; k++)
        words[1 + k] = dims[k];
    for (int w = 0; w <= ndims; w++)
        for (int b = 3; b >= 0; b--)
            buf[at++] = (uint8_t)(words[w] >> (8 * b));
    memcpy(buf + at, data, data_n);
    return at + data_n;
}

/* 5 images of 2 x 3 pixels (pixel values include 0 and 255) and their labels 3, 9, 0, 4, 7. */
enum { SMALL_N = 5, SMALL_ROWS = 2, SMALL_COLS = 3, SMALL_DIM = SMALL_ROWS * SMALL_COLS };
static const uint8_t small_labels[SMALL_N] = {3, 9, 0, 4, 7};

static uint8_t small_pixel(int i, int k) {
    return (uint8_t)(i == 0 ? 255 * (k & 1) : (i * 53 + k * 17) % 256);
}

static const char *write_small_images(tmp_dir *t, const char *name, uint32_t magic, uint32_t count,
                                      size_t data_n, int gzip) {
    uint8_t pixels[SMALL_N * SMALL_DIM], buf[16 + sizeof pixels];
    for (int i = 0; i < SMALL_N; i++)
        for (int k = 0; k < SMALL_DIM; k++)
            pixels[i * SMALL_DIM + k] = small_pixel(i, k);
    uint32_t dims[3] = {count, SMALL_ROWS, SMALL_COLS};
    return tmp_write(t, name, buf, idx_bytes(buf, magic, dims, 3, pixels, data_n), gzip);
}

static const char *write_small_labels(tmp_dir *t, const char *name, const uint8_t *labels,
                                      uint32_t count, size_t data_n, int gzip) {
    uint8_t buf[8 + SMALL_N];
    return tmp_write(t, name, buf, idx_bytes(buf, 0x801, &count, 1, labels, data_n), gzip);
}

/* Reading must fail with a message naming `path` and containing `word`. */
static void expect_idx_error(const char *images, const char *labels, const char *path,
                             const char *word) {
    rl_dataset d;
    rl_error_clear();
    CU_ASSERT(rl_data_read_idx(images, labels, 0, &d) == RL_ERR);
    CU_ASSERT(is_zeroed(&d));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), path));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), word));
    CU_ASSERT(rl_error_hint()[0] != '\0');
}

/* ---- IDX ---- */

static void test_fashion_real(void) {
    const char *const overrides[] = {"data.train_limit=1000", "data.test_limit=500", NULL};
    rl_config *cfg = data_config(overrides);
    rl_dataset train, test;
    int rc = rl_data_load(cfg, 1, &train, &test);
    if (rc < 0)
        rl_error_print();
    CU_ASSERT_FATAL(rc == RL_OK);
    CU_ASSERT_STRING_EQUAL(train.name, "fashion-mnist");
    CU_ASSERT_EQUAL(train.n, 1000);
    CU_ASSERT_EQUAL(test.n, 500);
    CU_ASSERT(train.dim == 784 && test.dim == 784);
    CU_ASSERT(train.classes == 10 && test.classes == 10);
    CU_ASSERT(train.targets == 0 && train.t == NULL);
    /* First labels of both files are 9 (ankle boot); the first training image's pixels sum
     * to 76247 / 255 (checked with zcat | od). */
    CU_ASSERT_EQUAL(train.y[0], 9);
    CU_ASSERT_EQUAL(test.y[0], 9);
    /* Kept as bytes in the node's shared memory, read as floats. */
    CU_ASSERT(train.x_u8 != NULL && train.x_f32 == NULL && train.shared != NULL);
    float *x = malloc(sizeof(float) * 1000 * 784);
    rl_data_rows(&train, 0, 1000, x);
    double sum = 0;
    for (int k = 0; k < 784; k++)
        sum += x[k];
    CU_ASSERT(fabs(sum - 76247.0 / 255.0) < 1e-3);
    float lo = 1, hi = 0;
    for (int64_t j = 0; j < train.n * train.dim; j++) {
        lo = fminf(lo, x[j]);
        hi = fmaxf(hi, x[j]);
    }
    CU_ASSERT(lo == 0.0f && hi == 1.0f);
    free(x);
    int counts[10] = {0};
    for (int64_t i = 0; i < train.n; i++) {
        CU_ASSERT_FATAL(train.y[i] >= 0 && train.y[i] < 10);
        CU_ASSERT(train.y[i] == train.y_clean[i]);
        counts[train.y[i]]++;
    }
    for (int c = 0; c < 10; c++)
        CU_ASSERT(counts[c] >= 60 && counts[c] <= 140); /* balanced: 86..115 per class */
    CU_ASSERT_EQUAL(rl_data_count_noisy(&train), 0);
    /* The first 500 test images differ from the first 500 training images. */
    CU_ASSERT(memcmp(train.x_u8, test.x_u8, 500 * 784) != 0);
    rl_data_free(&train);
    rl_data_free(&test);
    rl_cfg_free(cfg);
}

static void test_idx_plain_and_gzip(void) {
    tmp_dir t;
    tmp_open(&t);
    for (int gzip = 0; gzip <= 1; gzip++) {
        const char *images = write_small_images(&t, gzip ? "img.gz" : "img", 0x803, SMALL_N,
                                                SMALL_N * SMALL_DIM, gzip);
        const char *labels =
            write_small_labels(&t, gzip ? "lab.gz" : "lab", small_labels, SMALL_N, SMALL_N, gzip);
        int64_t limits[3] = {0, 3, 100}, expect_n[3] = {SMALL_N, 3, SMALL_N};
        for (int l = 0; l < 3; l++) {
            rl_dataset d;
            CU_ASSERT_FATAL(rl_data_read_idx(images, labels, limits[l], &d) == RL_OK);
            CU_ASSERT_EQUAL(d.n, expect_n[l]);
            CU_ASSERT_EQUAL(d.dim, SMALL_DIM);
            CU_ASSERT_EQUAL(d.classes, 10);
            for (int64_t i = 0; i < d.n; i++) {
                CU_ASSERT(d.y[i] == small_labels[i] && d.y_clean[i] == small_labels[i]);
                for (int k = 0; k < SMALL_DIM; k++)
                    CU_ASSERT(d.x_u8[i * SMALL_DIM + k] == small_pixel((int)i, k));
            }
            rl_data_free(&d);
        }
    }
    tmp_close(&t);
}

static void test_idx_wrong_magic(void) {
    tmp_dir t;
    tmp_open(&t);
    /* A label file given as the image file. */
    const char *labels = write_small_labels(&t, "lab.gz", small_labels, SMALL_N, SMALL_N, 1);
    expect_idx_error(labels, labels, labels, "expected 0x00000803");
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "found 0x00000801"));
    const char *images = write_small_images(&t, "img.gz", 0x803, SMALL_N, SMALL_N * SMALL_DIM, 1);
    expect_idx_error(images, images, images, "expected 0x00000801");
    tmp_close(&t);
}

static void test_idx_truncated(void) {
    tmp_dir t;
    tmp_open(&t);
    const char *images = write_small_images(&t, "img", 0x803, SMALL_N, SMALL_N * SMALL_DIM, 0);
    const char *labels = write_small_labels(&t, "lab", small_labels, SMALL_N, SMALL_N, 0);
    const char *short_images =
        write_small_images(&t, "short_img.gz", 0x803, SMALL_N, 4 * SMALL_DIM + 2, 1);
    const char *short_labels =
        write_small_labels(&t, "short_lab.gz", small_labels, SMALL_N, SMALL_N - 2, 1);
    uint8_t header_only[6] = {0, 0, 8, 3, 0, 0};
    const char *stub = tmp_write(&t, "stub", header_only, sizeof header_only, 0);
    expect_idx_error(short_images, labels, short_images, "truncated");
    expect_idx_error(images, short_labels, short_labels, "truncated");
    expect_idx_error(stub, labels, stub, "truncated");
    /* A gzip stream cut in the middle, with a label file that agrees with its header. */
    enum { BIG_N = 1000, BIG_DIM = 4 };
    static uint8_t pixels[BIG_N * BIG_DIM], big[16 + sizeof pixels], many[BIG_N],
        many_file[8 + BIG_N], gz[2 * sizeof big];
    for (size_t k = 0; k < sizeof pixels; k++)
        pixels[k] = (uint8_t)(k * 7919 % 251);
    for (int i = 0; i < BIG_N; i++)
        many[i] = (uint8_t)(i % 10);
    uint32_t dims[3] = {BIG_N, 2, 2}, count = BIG_N;
    const char *whole =
        tmp_write(&t, "big.gz", big, idx_bytes(big, 0x803, dims, 3, pixels, sizeof pixels), 1);
    const char *many_labels =
        tmp_write(&t, "many", many_file, idx_bytes(many_file, 0x801, &count, 1, many, BIG_N), 0);
    rl_dataset d;
    CU_ASSERT_FATAL(rl_data_read_idx(whole, many_labels, 0, &d) == RL_OK);
    CU_ASSERT(d.n == BIG_N && d.x_u8[BIG_N * BIG_DIM - 1] == pixels[BIG_N * BIG_DIM - 1]);
    rl_data_free(&d);
    FILE *f = fopen(whole, "rb");
    CU_ASSERT_FATAL(f != NULL);
    size_t gz_n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    CU_ASSERT_FATAL(gz_n > 100 && gz_n < sizeof gz);
    const char *cut = tmp_write(&t, "cut", gz, gz_n / 2, 0);
    expect_idx_error(cut, many_labels, cut, "truncated");
    tmp_close(&t);
}

static void test_idx_inconsistent(void) {
    tmp_dir t;
    tmp_open(&t);
    const char *images = write_small_images(&t, "img", 0x803, SMALL_N, SMALL_N * SMALL_DIM, 0);
    const char *four = write_small_labels(&t, "four", small_labels, 4, 4, 0);
    expect_idx_error(images, four, images, "5 images");
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), four));
    uint8_t bad[SMALL_N] = {3, 9, 10, 4, 7};
    const char *ten = write_small_labels(&t, "ten.gz", bad, SMALL_N, SMALL_N, 1);
    expect_idx_error(images, ten, ten, "label 10 of example 2");
    tmp_close(&t);
}

static void test_idx_missing(void) {
    tmp_dir t;
    tmp_open(&t);
    const char *labels = write_small_labels(&t, "lab", small_labels, SMALL_N, SMALL_N, 0);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/no-such-images.gz", t.dir);
    expect_idx_error(missing, labels, missing, "No such file");
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), "dataset-fashion-mnist"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), "data.dir"));
    tmp_close(&t);

    const char *const overrides[] = {"data.dir=/nonexistent/fmnist", NULL};
    rl_config *cfg = data_config(overrides);
    rl_dataset train, test;
    CU_ASSERT(rl_data_load(cfg, 1, &train, &test) == RL_ERR);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(rl_error_message(), "/nonexistent/fmnist/train-images-idx3-ubyte.gz"));
    CU_ASSERT(is_zeroed(&train) && is_zeroed(&test));
    rl_cfg_free(cfg);
}

/* Every byte value reads back as k / 255.0f, the float the IDX reader used to store, through
 * rl_data_rows and rl_data_gather, mirrored or not; the bytes themselves stay as read. */
static void test_bytes_read_as_floats(void) {
    tmp_dir t;
    tmp_open(&t);
    enum { SIDE = 16, N = 2 };
    uint8_t pixels[N * SIDE * SIDE], buf[16 + sizeof pixels];
    for (int k = 0; k < N * SIDE * SIDE; k++)
        pixels[k] = (uint8_t)(k < SIDE * SIDE ? k : 255 - k % 256);
    uint32_t dims[3] = {N, SIDE, SIDE}, count = N;
    const char *images =
        tmp_write(&t, "img", buf, idx_bytes(buf, 0x803, dims, 3, pixels, sizeof pixels), 0);
    const char *labels = write_small_labels(&t, "lab", small_labels, count, N, 0);
    rl_dataset d;
    CU_ASSERT_FATAL(rl_data_read_idx(images, labels, 0, &d) == RL_OK);
    static float rows[N * SIDE * SIDE], gathered[N * SIDE * SIDE];
    rl_data_rows(&d, 0, N, rows);
    const int64_t order[N] = {1, 0};
    rl_data_gather(&d, order, N, gathered, NULL, NULL);
    int wrong = 0;
    for (int k = 0; k < N * SIDE * SIDE; k++) {
        wrong += rows[k] != (float)pixels[k] / 255.0f;
        wrong += gathered[(k + SIDE * SIDE) % (N * SIDE * SIDE)] != (float)pixels[k] / 255.0f;
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_FATAL(rl_data_mirror(&d) == RL_OK);
    rl_data_rows(&d, 1, 1, rows);
    for (int r = 0; r < SIDE; r++)
        for (int c = 0; c < SIDE; c++)
            wrong +=
                rows[r * SIDE + c] != (float)pixels[SIDE * SIDE + r * SIDE + SIDE - 1 - c] / 255.0f;
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT(memcmp(d.x_u8, pixels, sizeof pixels) == 0);
    rl_data_free(&d);
    tmp_close(&t);
}

/* ---- CIFAR ---- */

enum { CIFAR_PIXELS = 3072 };

/* Pixel k of CIFAR example i of a test file, and its label. */
static uint8_t cifar_pixel(int i, int k) {
    return (uint8_t)((i * 131 + k * 7) % 256);
}

/* `records` CIFAR records of examples first, first + 1, ...: label_bytes label bytes (the last
 * one the label (first + i) % classes), then the pixels; plus `extra` bytes; as t->dir/name. */
static void write_cifar(tmp_dir *t, const char *name, int label_bytes, int first, int records,
                        int classes, size_t extra) {
    size_t record = (size_t)label_bytes + CIFAR_PIXELS, n = record * (size_t)records + extra;
    uint8_t *bytes = calloc(n + 1, 1);
    for (int i = 0; i < records; i++) {
        uint8_t *r = bytes + (size_t)i * record;
        r[0] = (uint8_t)(label_bytes == 2 ? 99 - (first + i) % classes : (first + i) % classes);
        r[label_bytes - 1] = (uint8_t)((first + i) % classes);
        for (int k = 0; k < CIFAR_PIXELS; k++)
            r[label_bytes + k] = cifar_pixel(first + i, k);
    }
    tmp_write(t, name, bytes, n, 0);
    free(bytes);
}

/* Reading t->dir must fail with a message holding `word`, and a hint holding `hint_word`. */
static void expect_cifar_error(const tmp_dir *t, int classes, int test_split, const char *word,
                               const char *hint_word) {
    rl_dataset d;
    rl_error_clear();
    CU_ASSERT(rl_data_read_cifar(t->dir, classes, test_split, 0, &d) == RL_ERR);
    CU_ASSERT(is_zeroed(&d));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), word));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), hint_word));
}

static void test_cifar10(void) {
    tmp_dir t;
    tmp_open(&t);
    const int per_file[5] = {3, 2, 3, 1, 3};
    char name[32];
    for (int f = 0, first = 0; f < 5; first += per_file[f++]) {
        snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
        write_cifar(&t, name, 1, first, per_file[f], 10, 0);
    }
    write_cifar(&t, "test_batch.bin", 1, 100, 4, 10, 0);
    rl_dataset train, test, part;
    CU_ASSERT_FATAL(rl_data_read_cifar(t.dir, 10, 0, 0, &train) == RL_OK);
    CU_ASSERT_FATAL(rl_data_read_cifar(t.dir, 10, 1, 0, &test) == RL_OK);
    CU_ASSERT_FATAL(rl_data_read_cifar(t.dir, 10, 0, 4, &part) == RL_OK);
    CU_ASSERT_STRING_EQUAL(train.name, "cifar10");
    CU_ASSERT(train.n == 12 && test.n == 4 && part.n == 4);
    CU_ASSERT(train.channels == 3 && train.height == 32 && train.width == 32);
    CU_ASSERT(train.dim == CIFAR_PIXELS && train.classes == 10);
    int wrong = 0;
    for (int i = 0; i < 12; i++) {
        wrong += train.y[i] != i % 10 || train.y_clean[i] != i % 10;
        for (int k = 0; k < CIFAR_PIXELS; k++)
            wrong += train.x_u8[(size_t)i * CIFAR_PIXELS + k] != cifar_pixel(i, k);
    }
    for (int i = 0; i < 4; i++)
        wrong += test.y[i] != (100 + i) % 10 ||
                 test.x_u8[(size_t)i * CIFAR_PIXELS] != cifar_pixel(100 + i, 0);
    CU_ASSERT_EQUAL(wrong, 0);
    /* the limit takes the first examples across the files */
    CU_ASSERT(memcmp(part.x_u8, train.x_u8, 4 * CIFAR_PIXELS) == 0 && part.y[3] == 3);
    rl_data_free(&train);
    rl_data_free(&test);
    rl_data_free(&part);

    /* a file cut inside a record; a label out of range; a missing file (files rewritten in
     * place keep their one entry in t.path) */
    write_cifar(&t, "data_batch_3.bin", 1, 5, 2, 10, 100);
    t.n--;
    expect_cifar_error(&t, 10, 0,
                       "data_batch_3.bin holds 6246 bytes, not a whole number of 3073-byte records",
                       "truncated");
    write_cifar(&t, "data_batch_3.bin", 1, 5, 3, 10, 0);
    t.n--;
    FILE *f = fopen(t.path[2], "r+b");
    CU_ASSERT_FATAL(f != NULL && fseek(f, 3073, SEEK_SET) == 0 && fputc(10, f) == 10);
    fclose(f);
    expect_cifar_error(&t, 10, 0, "label 10 of record 1 in", "data.name=cifar100");
    unlink(t.path[3]);
    expect_cifar_error(&t, 10, 0, "data_batch_4.bin: No such file", "data.dir");
    tmp_close(&t);
}

static void test_cifar100(void) {
    tmp_dir t;
    tmp_open(&t);
    write_cifar(&t, "train.bin", 2, 0, 5, 100, 0);
    write_cifar(&t, "test.bin", 2, 40, 2, 100, 0);
    rl_dataset train, test;
    CU_ASSERT_FATAL(rl_data_read_cifar(t.dir, 100, 0, 0, &train) == RL_OK);
    CU_ASSERT_FATAL(rl_data_read_cifar(t.dir, 100, 1, 0, &test) == RL_OK);
    CU_ASSERT_STRING_EQUAL(train.name, "cifar100");
    CU_ASSERT(train.n == 5 && test.n == 2 && train.classes == 100);
    /* the fine label (the second byte), not the coarse one */
    CU_ASSERT(train.y[4] == 4 && test.y[1] == 41);
    CU_ASSERT(train.x_u8[4 * CIFAR_PIXELS + 9] == cifar_pixel(4, 9));
    rl_data_free(&train);
    rl_data_free(&test);
    /* CIFAR-100 records read as CIFAR-10: the wrong size */
    write_cifar(&t, "test_batch.bin", 2, 0, 5, 100, 0);
    expect_cifar_error(&t, 10, 1, "not a whole number of 3073-byte records (1 label byte",
                       "data.name=cifar100");
    tmp_close(&t);
}

/* ---- config and load ---- */

static void test_config_defaults_and_ranges(void) {
    rl_config *cfg = data_config(NULL);
    CU_ASSERT_STRING_EQUAL(rl_cfg_str(cfg, "data.name"), "fashion-mnist");
    CU_ASSERT_STRING_EQUAL(rl_cfg_str(cfg, "data.dir"), FASHION_DIR);
    CU_ASSERT_STRING_EQUAL(rl_cfg_str(cfg, "data.noise"), "none");
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "data.dim"), 20);
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "data.classes"), 4);
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "data.train_size"), 2000);
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "data.test_size"), 1000);
    CU_ASSERT_EQUAL(rl_cfg_float(cfg, "data.spread"), 1.0);
    CU_ASSERT_EQUAL(rl_cfg_float(cfg, "data.target_noise"), 0.1);
    rl_cfg_free(cfg);
    const char *const bad[] = {"data.classes=1", "data.noise_rate=-0.1", "data.noise=flip",
                               "data.train_limit=-5"};
    for (int b = 0; b < 4; b++) {
        cfg = rl_cfg_new();
        rl_data_declare_config(cfg);
        CU_ASSERT(rl_cfg_set_override(cfg, bad[b]) == RL_OK);
        CU_ASSERT(rl_cfg_resolve(cfg) == RL_ERR);
        rl_cfg_free(cfg);
    }
}

static void test_load_synthetic(void) {
    const char *const blobs[] = {"data.name=blobs",      "data.train_size=500",
                                 "data.train_limit=300", "data.noise=symmetric",
                                 "data.noise_rate=0.2",  NULL};
    rl_config *cfg = data_config(blobs);
    rl_dataset train, test;
    CU_ASSERT_FATAL(rl_data_load(cfg, 7, &train, &test) == RL_OK);
    CU_ASSERT_STRING_EQUAL(train.name, "blobs");
    CU_ASSERT(train.n == 300 && test.n == 1000);
    CU_ASSERT(train.dim == 20 && train.classes == 4);
    int64_t noisy = rl_data_count_noisy(&train);
    CU_ASSERT(noisy > 30 && noisy < 90); /* about 60 */
    CU_ASSERT_EQUAL(rl_data_count_noisy(&test), 0);
    rl_data_free(&train);
    rl_data_free(&test);
    rl_cfg_free(cfg);

    const char *const linreg[] = {"data.name=linreg", "data.dim=3", "data.test_limit=10", NULL};
    cfg = data_config(linreg);
    CU_ASSERT_FATAL(rl_data_load(cfg, 7, &train, &test) == RL_OK);
    CU_ASSERT(train.n == 2000 && test.n == 10 && test.dim == 3);
    CU_ASSERT(test.targets == 1 && test.classes == 0 && test.y == NULL && test.t != NULL);
    rl_data_free(&train);
    rl_data_free(&test);
    rl_cfg_free(cfg);
}

static void test_load_noise_errors(void) {
    const char *const cases[2][3] = {
        {"data.name=blobs", "data.noise_rate=0.1", NULL},
        {"data.name=linreg", "data.noise=pairflip", NULL},
    };
    const char *const words[2] = {"data.noise=none", "linreg"};
    for (int c = 0; c < 2; c++) {
        rl_config *cfg = data_config(cases[c]);
        rl_dataset train, test;
        CU_ASSERT(rl_data_load(cfg, 1, &train, &test) == RL_ERR);
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), words[c]));
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), "data.noise"));
        CU_ASSERT(is_zeroed(&train) && is_zeroed(&test));
        rl_cfg_free(cfg);
    }
}

/* data.classes_keep=7,2 keeps the examples of classes 7 and 2, in file order, as classes 0 and 1;
 * the limits count kept examples; bad lists are refused with hints. */
static void test_classes_keep(void) {
    const char *const plain[] = {"data.train_limit=400", "data.test_limit=10", NULL};
    const char *const kept[] = {"data.train_limit=30", "data.test_limit=12",
                                "data.classes_keep=7,2", NULL};
    rl_config *cfg_plain = data_config(plain), *cfg_kept = data_config(kept);
    rl_dataset train, test, ktrain, ktest;
    CU_ASSERT_FATAL(rl_data_load(cfg_plain, 1, &train, &test) == RL_OK);
    CU_ASSERT_FATAL(rl_data_load(cfg_kept, 1, &ktrain, &ktest) == RL_OK);
    CU_ASSERT(ktrain.n == 30 && ktest.n == 12 && ktrain.classes == 2 && ktest.classes == 2);
    CU_ASSERT(ktrain.width == 28 && ktrain.channels == 1);
    static float x[400 * 784], kx[30 * 784];
    rl_data_rows(&train, 0, 400, x);
    rl_data_rows(&ktrain, 0, 30, kx);
    int64_t k = 0;
    int same = 0, sevens = 0;
    for (int64_t i = 0; i < train.n && k < ktrain.n; i++) {
        if (train.y[i] != 7 && train.y[i] != 2)
            continue;
        same += ktrain.y[k] == (train.y[i] == 7 ? 0 : 1) &&
                memcmp(kx + k * 784, x + i * 784, sizeof(float) * 784) == 0;
        sevens += train.y[i] == 7;
        k++;
    }
    CU_ASSERT(k == 30 && same == 30 && sevens > 0 && sevens < 30);
    rl_data_free(&train);
    rl_data_free(&test);
    rl_data_free(&ktrain);
    rl_data_free(&ktest);
    rl_cfg_free(cfg_plain);
    rl_cfg_free(cfg_kept);
    const char *const cases[4][3] = {
        {"data.classes_keep=3", NULL, NULL},
        {"data.classes_keep=0,10", NULL, NULL},
        {"data.classes_keep=1,1", NULL, NULL},
        {"data.name=linreg", "data.classes_keep=0,1", NULL},
    };
    const char *const words[4] = {"keeps one class", "names class 10", "twice", "has none"};
    for (int c = 0; c < 4; c++) {
        rl_config *cfg = data_config(cases[c]);
        CU_ASSERT(rl_data_load(cfg, 1, &train, &test) == RL_ERR);
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), words[c]));
        CU_ASSERT_PTR_NOT_NULL(rl_error_hint());
        CU_ASSERT(is_zeroed(&train) && is_zeroed(&test));
        rl_cfg_free(cfg);
    }
}

/* data.transform=mirror reverses every pixel row of both splits, and only of image data. */
static void test_transform_mirror(void) {
    const char *const plain[] = {"data.train_limit=20", "data.test_limit=10", NULL};
    const char *const mirrored[] = {"data.train_limit=20", "data.test_limit=10",
                                    "data.transform=mirror", NULL};
    rl_config *cfg_plain = data_config(plain), *cfg_mirror = data_config(mirrored);
    rl_dataset train, test, mtrain, mtest;
    CU_ASSERT_FATAL(rl_data_load(cfg_plain, 1, &train, &test) == RL_OK);
    CU_ASSERT_FATAL(rl_data_load(cfg_mirror, 1, &mtrain, &mtest) == RL_OK);
    CU_ASSERT_FATAL(train.width == 28 && train.height == 28);
    static float x[20 * 784], mx[20 * 784];
    rl_data_rows(&train, 0, 20, x);
    rl_data_rows(&mtrain, 0, 20, mx);
    int mismatches = 0, moved = 0;
    for (int64_t i = 0; i < train.n; i++)
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++) {
                float a = x[i * 784 + r * 28 + c], b = mx[i * 784 + r * 28 + 27 - c];
                mismatches += a != b;
                moved += a != mx[i * 784 + r * 28 + c];
            }
    CU_ASSERT_EQUAL(mismatches, 0);
    CU_ASSERT(moved > 1000); /* garments are not symmetric */
    /* The stored bytes are the same: mirroring happens as rows are read. */
    CU_ASSERT(memcmp(train.x_u8, mtrain.x_u8, 20 * 784) == 0);
    rl_data_rows(&test, 0, 1, x);
    rl_data_rows(&mtest, 0, 1, mx);
    CU_ASSERT(x[5] == mx[22] && memcmp(train.y, mtrain.y, 20 * sizeof *train.y) == 0);
    rl_data_free(&train);
    rl_data_free(&test);
    rl_data_free(&mtrain);
    rl_data_free(&mtest);
    rl_cfg_free(cfg_plain);
    rl_cfg_free(cfg_mirror);

    const char *const blobs[] = {"data.name=blobs", "data.transform=mirror", NULL};
    rl_config *cfg = data_config(blobs);
    CU_ASSERT(rl_data_load(cfg, 1, &train, &test) == RL_ERR);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "not images"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), "data.transform=mirror"));
    CU_ASSERT(is_zeroed(&train) && is_zeroed(&test));
    rl_cfg_free(cfg);
}

/* ---- synthetic ---- */

static void test_blobs(void) {
    rl_dataset a, b, test;
    CU_ASSERT_FATAL(rl_data_make_blobs(4000, 5, 6, 1.0f, 3, 0, &a) == RL_OK);
    CU_ASSERT_FATAL(rl_data_make_blobs(4000, 5, 6, 1.0f, 3, 0, &b) == RL_OK);
    CU_ASSERT_FATAL(rl_data_make_blobs(4000, 5, 6, 1.0f, 3, 1, &test) == RL_OK);
    CU_ASSERT(a.classes == 6 && a.dim == 5 && a.targets == 0 && a.t == NULL);
    CU_ASSERT(memcmp(a.x_f32, b.x_f32, 4000 * 5 * sizeof(float)) == 0);
    CU_ASSERT(memcmp(a.y, b.y, 4000 * sizeof(int32_t)) == 0);
    CU_ASSERT(memcmp(a.x_f32, test.x_f32, 4000 * 5 * sizeof(float)) != 0);
    CU_ASSERT(memcmp(a.y, test.y, 4000 * sizeof(int32_t)) != 0);
    /* Every class is used, and examples scatter around their class mean with variance 1. */
    double mean[6][5] = {{0}}, var = 0;
    int count[6] = {0};
    for (int i = 0; i < 4000; i++) {
        CU_ASSERT_FATAL(a.y[i] >= 0 && a.y[i] < 6 && a.y[i] == a.y_clean[i]);
        count[a.y[i]]++;
        for (int k = 0; k < 5; k++)
            mean[a.y[i]][k] += a.x_f32[i * 5 + k];
    }
    for (int c = 0; c < 6; c++) {
        CU_ASSERT(count[c] > 500 && count[c] < 830); /* about 667 */
        for (int k = 0; k < 5; k++)
            mean[c][k] /= count[c];
    }
    for (int i = 0; i < 4000; i++)
        for (int k = 0; k < 5; k++)
            var += pow(a.x_f32[i * 5 + k] - mean[a.y[i]][k], 2);
    var /= 4000 * 5;
    CU_ASSERT(var > 0.93 && var < 1.07);
    rl_data_free(&a);
    rl_data_free(&b);
    rl_data_free(&test);

    /* Spread 0: each example is its centre, and both splits share the centres. */
    CU_ASSERT_FATAL(rl_data_make_blobs(200, 4, 3, 0.0f, 9, 0, &a) == RL_OK);
    CU_ASSERT_FATAL(rl_data_make_blobs(200, 4, 3, 0.0f, 9, 1, &test) == RL_OK);
    for (int i = 0; i < 200; i++)
        for (int j = 0; j < 200; j++) {
            int same_x = memcmp(a.x_f32 + i * 4, test.x_f32 + j * 4, 4 * sizeof(float)) == 0;
            CU_ASSERT(same_x == (a.y[i] == test.y[j]));
        }
    rl_data_free(&a);
    rl_data_free(&test);

    rl_error_clear();
    CU_ASSERT(rl_data_make_blobs(10, 4, 1, 1.0f, 9, 0, &a) == RL_ERR && is_zeroed(&a));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), "data.classes"));
    CU_ASSERT(rl_data_make_blobs(10, 0, 3, 1.0f, 9, 0, &a) == RL_ERR && is_zeroed(&a));
    CU_ASSERT(rl_data_make_blobs(0, 4, 3, 1.0f, 9, 0, &a) == RL_ERR && is_zeroed(&a));
    CU_ASSERT(rl_data_make_blobs(10, 4, 3, 1.0f, 9, 2, &a) == RL_ERR && is_zeroed(&a));
}

/* Least squares w for t ≈ x·w (dim <= 8) by the normal equations and Gaussian elimination. */
static void fit_linear(const rl_dataset *d, double *w) {
    int m = d->dim;
    double a[8][9] = {{0}};
    for (int64_t i = 0; i < d->n; i++) {
        const float *x = d->x_f32 + i * m;
        for (int r = 0; r < m; r++) {
            for (int c = 0; c < m; c++)
                a[r][c] += (double)x[r] * x[c];
            a[r][m] += (double)x[r] * d->t[i];
        }
    }
    for (int p = 0; p < m; p++)
        for (int r = p + 1; r < m; r++) {
            double f = a[r][p] / a[p][p];
            for (int c = p; c <= m; c++)
                a[r][c] -= f * a[p][c];
        }
    for (int r = m - 1; r >= 0; r--) {
        double s = a[r][m];
        for (int c = r + 1; c < m; c++)
            s -= a[r][c] * w[c];
        w[r] = s / a[r][r];
    }
}

static double max_residual(const rl_dataset *d, const double *w) {
    double worst = 0;
    for (int64_t i = 0; i < d->n; i++) {
        double dot = 0;
        for (int k = 0; k < d->dim; k++)
            dot += d->x_f32[i * d->dim + k] * w[k];
        worst = fmax(worst, fabs(d->t[i] - dot));
    }
    return worst;
}

static void test_linreg(void) {
    rl_dataset train, test, noisy;
    CU_ASSERT_FATAL(rl_data_make_linreg(300, 5, 0.0f, 11, 0, &train) == RL_OK);
    CU_ASSERT_FATAL(rl_data_make_linreg(300, 5, 0.0f, 11, 1, &test) == RL_OK);
    CU_ASSERT(train.classes == 0 && train.targets == 1 && train.y == NULL && train.y_clean == NULL);
    CU_ASSERT(memcmp(train.x_f32, test.x_f32, 300 * 5 * sizeof(float)) != 0);
    /* Without noise the targets are exactly linear, with one w* shared by both splits. */
    double w[5];
    fit_linear(&train, w);
    double norm = 0;
    for (int k = 0; k < 5; k++)
        norm += w[k] * w[k];
    CU_ASSERT(norm > 0.1);
    CU_ASSERT(max_residual(&train, w) < 1e-4);
    CU_ASSERT(max_residual(&test, w) < 1e-4);
    /* With target noise 0.5 the same x get targets off by N(0, 0.25). */
    CU_ASSERT_FATAL(rl_data_make_linreg(300, 5, 0.5f, 11, 0, &noisy) == RL_OK);
    CU_ASSERT(memcmp(train.x_f32, noisy.x_f32, 300 * 5 * sizeof(float)) == 0);
    double var = 0;
    for (int i = 0; i < 300; i++)
        var += pow(noisy.t[i] - train.t[i], 2);
    var /= 300;
    CU_ASSERT(var > 0.18 && var < 0.32);
    rl_data_free(&train);
    rl_data_free(&test);
    rl_data_free(&noisy);
    CU_ASSERT(rl_data_make_linreg(10, 5, -1.0f, 11, 0, &train) == RL_ERR && is_zeroed(&train));
}

/* ---- label noise ---- */

static void test_noise_symmetric(void) {
    enum { N = 10000, C = 10 };
    rl_dataset d;
    CU_ASSERT_FATAL(rl_data_make_blobs(N, 2, C, 1.0f, 5, 0, &d) == RL_OK);
    int32_t *clean = malloc(N * sizeof *clean);
    memcpy(clean, d.y, N * sizeof *clean);
    CU_ASSERT_FATAL(rl_data_add_label_noise(&d, RL_NOISE_SYMMETRIC, 0.4, 42) == RL_OK);
    CU_ASSERT(memcmp(d.y_clean, clean, N * sizeof *clean) == 0);
    int64_t noisy = rl_data_count_noisy(&d);
    CU_ASSERT(noisy >= 3700 && noisy <= 4300);
    /* Each example flips exactly when its own draw says so (never to the same class), and
     * the new class is spread over the other nine. */
    rl_rng r = rl_rng_make(42, RL_RNG_LABEL_NOISE);
    int next_class = 0;
    for (int i = 0; i < N; i++) {
        CU_ASSERT_FATAL(d.y[i] >= 0 && d.y[i] < C);
        CU_ASSERT((rl_rng_uniform(r, 0, (uint32_t)i) < 0.4) == (d.y[i] != clean[i]));
        next_class += d.y[i] == (clean[i] + 1) % C;
    }
    CU_ASSERT(next_class > noisy / 9 - 150 && next_class < noisy / 9 + 150);
    /* Applying noise again restarts from the clean labels instead of compounding. */
    int32_t *first = malloc(N * sizeof *first);
    memcpy(first, d.y, N * sizeof *first);
    CU_ASSERT_FATAL(rl_data_add_label_noise(&d, RL_NOISE_SYMMETRIC, 0.4, 42) == RL_OK);
    CU_ASSERT(memcmp(d.y, first, N * sizeof *first) == 0);
    CU_ASSERT_FATAL(rl_data_add_label_noise(&d, RL_NOISE_NONE, 0.0, 42) == RL_OK);
    CU_ASSERT_EQUAL(rl_data_count_noisy(&d), 0);
    free(first);
    free(clean);
    rl_data_free(&d);
}

static void test_noise_pairflip(void) {
    enum { N = 10000, C = 7 };
    rl_dataset d;
    CU_ASSERT_FATAL(rl_data_make_blobs(N, 2, C, 1.0f, 5, 0, &d) == RL_OK);
    CU_ASSERT_FATAL(rl_data_add_label_noise(&d, RL_NOISE_PAIRFLIP, 0.4, 42) == RL_OK);
    int64_t noisy = rl_data_count_noisy(&d);
    CU_ASSERT(noisy >= 3700 && noisy <= 4300);
    for (int i = 0; i < N; i++)
        CU_ASSERT(d.y[i] == d.y_clean[i] || d.y[i] == (d.y_clean[i] + 1) % C);
    rl_data_free(&d);
}

/* Uniform noise (the MW authors'): the examples symmetric noise corrupts (the same draws), each
 * relabelled with any of the C classes, the true one included: among the ~12,000 corrupted
 * (60 %), 1/C keep their label (1,200 ± 150: 4.5 binomial standard deviations), and each other
 * class gets its 1/C share too; the rest keep theirs. */
static void test_noise_uniform(void) {
    enum { N = 20000, C = 10 };
    rl_dataset uni, sym;
    CU_ASSERT_FATAL(rl_data_make_blobs(N, 2, C, 1.0f, 5, 0, &uni) == RL_OK);
    CU_ASSERT_FATAL(rl_data_make_blobs(N, 2, C, 1.0f, 5, 0, &sym) == RL_OK);
    CU_ASSERT_FATAL(rl_data_add_label_noise(&uni, RL_NOISE_UNIFORM, 0.6, 42) == RL_OK);
    CU_ASSERT_FATAL(rl_data_add_label_noise(&sym, RL_NOISE_SYMMETRIC, 0.6, 42) == RL_OK);
    int64_t corrupted = 0, kept = 0, next_class = 0, untouched_changed = 0;
    for (int i = 0; i < N; i++) {
        CU_ASSERT_FATAL(uni.y[i] >= 0 && uni.y[i] < C);
        if (sym.y[i] != sym.y_clean[i]) {
            corrupted++;
            kept += uni.y[i] == uni.y_clean[i];
            next_class += uni.y[i] == (uni.y_clean[i] + 1) % C;
        } else {
            untouched_changed += uni.y[i] != uni.y_clean[i];
        }
    }
    CU_ASSERT(corrupted > 11600 && corrupted < 12400);
    CU_ASSERT(kept > corrupted / C - 150 && kept < corrupted / C + 150);
    CU_ASSERT(next_class > corrupted / C - 150 && next_class < corrupted / C + 150);
    CU_ASSERT_EQUAL(untouched_changed, 0);
    CU_ASSERT_EQUAL(rl_data_count_noisy(&uni), corrupted - kept);
    rl_data_free(&uni);
    rl_data_free(&sym);
}

static void test_noise_deterministic(void) {
    rl_dataset big, small, other;
    CU_ASSERT_FATAL(rl_data_make_blobs(5000, 2, 10, 1.0f, 5, 0, &big) == RL_OK);
    CU_ASSERT_FATAL(rl_data_make_blobs(100, 2, 10, 1.0f, 5, 0, &small) == RL_OK);
    CU_ASSERT_FATAL(rl_data_make_blobs(5000, 2, 10, 1.0f, 5, 0, &other) == RL_OK);
    CU_ASSERT_FATAL(rl_data_add_label_noise(&big, RL_NOISE_SYMMETRIC, 0.3, 8) == RL_OK);
    CU_ASSERT_FATAL(rl_data_add_label_noise(&small, RL_NOISE_SYMMETRIC, 0.3, 8) == RL_OK);
    CU_ASSERT_FATAL(rl_data_add_label_noise(&other, RL_NOISE_SYMMETRIC, 0.3, 9) == RL_OK);
    /* Example i depends on (seed, i) only: a prefix gets the same labels. */
    CU_ASSERT(memcmp(big.y, small.y, 100 * sizeof(int32_t)) == 0);
    CU_ASSERT(rl_data_count_noisy(&small) > 0);
    CU_ASSERT(memcmp(big.y, other.y, 5000 * sizeof(int32_t)) != 0);
    rl_data_free(&big);
    rl_data_free(&small);
    rl_data_free(&other);

    CU_ASSERT_FATAL(rl_data_make_blobs(100, 2, 10, 1.0f, 5, 0, &small) == RL_OK);
    CU_ASSERT(rl_data_add_label_noise(&small, RL_NOISE_SYMMETRIC, 1.0, 8) == RL_ERR);
    CU_ASSERT(rl_data_add_label_noise(&small, RL_NOISE_SYMMETRIC, -0.1, 8) == RL_ERR);
    CU_ASSERT_EQUAL(rl_data_count_noisy(&small), 0);
    rl_data_free(&small);
    CU_ASSERT_FATAL(rl_data_make_linreg(100, 2, 0.1f, 5, 0, &other) == RL_OK);
    CU_ASSERT(rl_data_add_label_noise(&other, RL_NOISE_PAIRFLIP, 0.1, 8) == RL_ERR);
    CU_ASSERT_EQUAL(rl_data_count_noisy(&other), 0);
    rl_data_free(&other);
}

/* ---- epoch order, gather, free ---- */

static void test_epoch_order(void) {
    enum { N = 1000 };
    static int64_t p0[N], p0_again[N], p1[N], q0[N];
    rl_rng shuffle = rl_rng_make(3, RL_RNG_SHUFFLE);
    rl_data_epoch_order(N, shuffle, 0, p0);
    rl_data_epoch_order(N, shuffle, 0, p0_again);
    rl_data_epoch_order(N, shuffle, 1, p1);
    rl_data_epoch_order(N, rl_rng_make(4, RL_RNG_SHUFFLE), 0, q0);
    char seen[N] = {0};
    int fixed = 0;
    for (int i = 0; i < N; i++) {
        CU_ASSERT_FATAL(p0[i] >= 0 && p0[i] < N && !seen[p0[i]]);
        seen[p0[i]] = 1;
        fixed += p0[i] == i;
    }
    CU_ASSERT(fixed < 10); /* a random permutation has about one fixed point */
    CU_ASSERT(memcmp(p0, p0_again, sizeof p0) == 0);
    CU_ASSERT(memcmp(p0, p1, sizeof p0) != 0);
    CU_ASSERT(memcmp(p0, q0, sizeof p0) != 0);
    /* Every element can stay in place (Fisher–Yates, not a cyclic shuffle): over 400 epochs of
     * 10 elements, about 400 fixed points. */
    int stays = 0;
    for (uint32_t epoch = 0; epoch < 400; epoch++) {
        int64_t p[10];
        rl_data_epoch_order(10, shuffle, epoch, p);
        for (int i = 0; i < 10; i++)
            stays += p[i] == i;
    }
    CU_ASSERT(stays > 300 && stays < 500);
    int64_t one = -1;
    rl_data_epoch_order(1, shuffle, 0, &one);
    CU_ASSERT_EQUAL(one, 0);
    rl_data_epoch_order(0, shuffle, 0, NULL);
}

static void test_gather_and_free(void) {
    rl_dataset d, r;
    CU_ASSERT_FATAL(rl_data_make_blobs(50, 3, 4, 1.0f, 2, 0, &d) == RL_OK);
    CU_ASSERT_FATAL(rl_data_add_label_noise(&d, RL_NOISE_PAIRFLIP, 0.5, 2) == RL_OK);
    const int64_t idx[4] = {7, 0, 49, 7};
    float x[4 * 3];
    int32_t y[4];
    float t[4] = {-1, -1, -1, -1};
    rl_data_gather(&d, idx, 4, x, y, t);
    for (int b = 0; b < 4; b++) {
        CU_ASSERT(memcmp(x + b * 3, d.x_f32 + idx[b] * 3, 3 * sizeof(float)) == 0);
        CU_ASSERT_EQUAL(y[b], d.y[idx[b]]);
        CU_ASSERT_EQUAL(t[b], -1.0f); /* classification: no targets written */
    }
    int32_t y_only[4];
    rl_data_gather(&d, idx, 4, NULL, y_only, NULL);
    CU_ASSERT(memcmp(y, y_only, sizeof y) == 0);

    CU_ASSERT_FATAL(rl_data_make_linreg(20, 2, 0.1f, 2, 0, &r) == RL_OK);
    const int64_t ridx[2] = {19, 3};
    float rx[2 * 2], rt[2];
    rl_data_gather(&r, ridx, 2, rx, NULL, rt);
    CU_ASSERT(rt[0] == r.t[19] && rt[1] == r.t[3]);
    CU_ASSERT(rx[0] == r.x_f32[38] && rx[3] == r.x_f32[7]);

    rl_data_free(&d);
    rl_data_free(&r);
    CU_ASSERT(is_zeroed(&d) && is_zeroed(&r));
    rl_data_free(&d); /* freeing twice is harmless */
    rl_data_free(NULL);
}

static const rl_test tests[] = {
    {"fashion-mnist real files", test_fashion_real},
    {"idx plain and gzip", test_idx_plain_and_gzip},
    {"idx wrong magic", test_idx_wrong_magic},
    {"idx truncated", test_idx_truncated},
    {"idx count mismatch and label range", test_idx_inconsistent},
    {"idx missing file", test_idx_missing},
    {"8-bit examples read as k / 255", test_bytes_read_as_floats},
    {"cifar10 binary batches", test_cifar10},
    {"cifar100 binary and fine labels", test_cifar100},
    {"config defaults and ranges", test_config_defaults_and_ranges},
    {"load synthetic with limits and noise", test_load_synthetic},
    {"load rejects meaningless noise", test_load_noise_errors},
    {"data.transform=mirror", test_transform_mirror},
    {"data.classes_keep: kept classes relabelled, limits among them, bad lists", test_classes_keep},
    {"blobs", test_blobs},
    {"linreg", test_linreg},
    {"noise symmetric", test_noise_symmetric},
    {"noise pairflip", test_noise_pairflip},
    {"noise uniform: the true class kept with probability 1/C", test_noise_uniform},
    {"noise deterministic", test_noise_deterministic},
    {"epoch order", test_epoch_order},
    {"gather and free", test_gather_and_free},
    {NULL, NULL},
};

RL_TEST_SUITE("data", tests)
