/* Datasets from config: the data.* keys, loading both splits (limits, label noise on train),
 * freeing, epoch orders and reading examples as floats (gathering a batch, rows). */
#include "src/comm/comm.h"
#include "src/core/digest.h"
#include "src/core/error.h"
#include "src/data/data.h"
#include "src/data/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rl_cfg_spec data_keys[] = {
    {"data.transform", RL_CFG_CHOICE, "none", 0, 0, "none|mirror", 0,
     "applied to both splits after loading: mirror: images mirrored left-right (a shifted task, "
     "e.g. for adapting a model pretrained on the originals)"},
    {"data.name", RL_CFG_CHOICE, "fashion-mnist", 0, 0,
     "fashion-mnist|cifar10|cifar100|h5|blobs|linreg|wordnet", 0,
     "dataset: Fashion-MNIST IDX files, CIFAR-10 or CIFAR-100 binary batches (in data.dir), an "
     "HDF5 file of your own (data.path), Gaussian blobs, linear regression, or the WordNet "
     "glosses (text, data.text_* keys)"},
    {"data.dir", RL_CFG_STRING, "/usr/share/datasets/fashion-mnist", 0, 0, NULL, RL_CFG_RUNTIME,
     "directory holding the Fashion-MNIST *-idx?-ubyte.gz files, or the CIFAR binary batches "
     "(cifar10: data_batch_1.bin .. data_batch_5.bin, test_batch.bin; cifar100: train.bin, "
     "test.bin)"},
    {"data.path", RL_CFG_STRING, "", 0, 0, NULL, RL_CFG_RUNTIME,
     "data.name=h5: the HDF5 file, with datasets train/x, test/x ((N, C, H, W) or (N, D), uint8 "
     "pixels read as value / 255, or float32) and train/y, test/y ((N) integer labels); classes: "
     "its root attribute 'classes', or 1 + the largest training label"},
    {"data.train_limit", RL_CFG_INT, "0", 0, 2147483647, NULL, 0,
     "use only the first N training examples (0: all; of the kept classes with "
     "data.classes_keep)"},
    {"data.test_limit", RL_CFG_INT, "0", 0, 2147483647, NULL, 0,
     "use only the first N test examples (0: all; of the kept classes with data.classes_keep)"},
    {"data.classes_keep", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "keep only the examples of these classes, in both splits, relabelled 0, 1, ... in the "
     "order given, e.g. 0,1,2,3,4 (a model then has 5 outputs) or 5,6,7,8,9 for the other half "
     "of Fashion-MNIST; empty: every class"},
    {"data.noise", RL_CFG_CHOICE, "none", 0, 0, "none|symmetric|uniform|pairflip", 0,
     "training label noise: none; symmetric: another class at random; uniform (the MW authors'): "
     "any class at random, the true one included (a corrupted label stays right with "
     "probability 1/classes); pairflip: class y -> y+1"},
    {"data.noise_rate", RL_CFG_FLOAT, "0", 0, 1, NULL, 0,
     "probability in [0, 1) that a training label is corrupted"},
    {"data.dim", RL_CFG_INT, "20", 1, 1048576, NULL, 0, "features per synthetic example"},
    {"data.classes", RL_CFG_INT, "4", 2, 1000, NULL, 0, "number of blobs (classes)"},
    {"data.train_size", RL_CFG_INT, "2000", 1, 100000000, NULL, 0,
     "synthetic training examples (before data.train_limit)"},
    {"data.test_size", RL_CFG_INT, "1000", 1, 100000000, NULL, 0,
     "synthetic test examples (before data.test_limit)"},
    {"data.spread", RL_CFG_FLOAT, "1.0", 0, 1000, NULL, 0,
     "standard deviation of blob examples around their centre"},
    {"data.target_noise", RL_CFG_FLOAT, "0.1", 0, 1000, NULL, 0,
     "standard deviation of the noise added to linreg targets"},
};

void rl_data_declare_config(rl_config *cfg) {
    rl_cfg_declare(cfg, data_keys, sizeof data_keys / sizeof data_keys[0]);
}

/* Both Fashion-MNIST splits from data.dir; the splits must agree on the image size. */
static int load_fashion(const char *dir, int64_t train_limit, int64_t test_limit, rl_dataset *train,
                        rl_dataset *test) {
    static const char *const files[2][2] = {
        {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"},
        {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"},
    };
    rl_dataset *splits[2] = {train, test};
    int64_t limits[2] = {train_limit, test_limit};
    char images[4096], labels[4096];
    for (int s = 0; s < 2; s++) {
        int ni = snprintf(images, sizeof images, "%s/%s", dir, files[s][0]);
        int nl = snprintf(labels, sizeof labels, "%s/%s", dir, files[s][1]);
        if (ni >= (int)sizeof images || nl >= (int)sizeof labels)
            return rl_fail("data.dir is too long (%zu characters)", "use a shorter path",
                           strlen(dir));
        if (rl_data_read_idx(images, labels, limits[s], splits[s]) < 0)
            return RL_ERR;
        snprintf(splits[s]->name, sizeof splits[s]->name, "fashion-mnist");
    }
    if (train->height != test->height || train->width != test->width)
        return rl_fail("the training images in %s are %dx%d pixels but the test images are %dx%d",
                       "point data.dir at one consistent copy of the dataset", dir, train->height,
                       train->width, test->height, test->width);
    return RL_OK;
}

static int64_t limited(int64_t size, int64_t limit) {
    return limit > 0 && limit < size ? limit : size;
}

/* The examples a class filter keeps, for data_source_load: rows `rows` of `from`, each label
 * relabelled by `label` (old label -> new, -1: dropped). */
typedef struct {
    const rl_dataset *from;
    const int64_t *rows;
    const int32_t *label;
} kept_rows;

static int read_kept(const data_source *src, void *x, int32_t *labels) {
    const kept_rows *k = src->ctx;
    size_t row_bytes = (size_t)src->dim * (size_t)src->bytes;
    const uint8_t *from = k->from->x_u8 ? k->from->x_u8 : (const uint8_t *)k->from->x_f32;
    for (int64_t i = 0; i < src->n; i++) {
        memcpy((uint8_t *)x + (size_t)i * row_bytes, from + (size_t)k->rows[i] * row_bytes,
               row_bytes);
        labels[i] = k->label[k->from->y[k->rows[i]]];
    }
    return RL_OK;
}

/* Collective: d replaced by its first `limit` (0: all) examples whose class is in keep[0..n)
 * (in the node's shared memory again), relabelled by their position in keep. */
static int keep_classes(rl_dataset *d, const int64_t *keep, int n, int64_t limit,
                        const char *split) {
    int32_t *label = rl_xmalloc(sizeof(int32_t) * (size_t)d->classes);
    for (int c = 0; c < d->classes; c++)
        label[c] = -1;
    int rc = RL_OK;
    for (int i = 0; i < n && rc == RL_OK; i++)
        if (keep[i] >= d->classes)
            rc = rl_fail("data.classes_keep names class %lld; %s has classes 0..%d",
                         "list classes of the data set only", (long long)keep[i], d->name,
                         d->classes - 1);
        else
            label[keep[i]] = (int32_t)i;
    int64_t *rows = rl_xmalloc(sizeof(int64_t) * (size_t)(d->n ? d->n : 1)), count = 0;
    for (int64_t i = 0; rc == RL_OK && i < d->n && (limit == 0 || count < limit); i++)
        if (label[d->y[i]] >= 0)
            rows[count++] = i;
    if (rc == RL_OK && count == 0)
        rc = rl_fail("data.classes_keep leaves no %s examples of %s", "list classes the data has",
                     split, d->name);
    kept_rows ctx = {d, rows, label};
    data_source src = {.n = count,
                       .dim = d->dim,
                       .channels = d->channels,
                       .height = d->height,
                       .width = d->width,
                       .classes = n,
                       .bytes = d->x_u8 ? 1 : 4,
                       .read = read_kept,
                       .ctx = &ctx};
    snprintf(src.what, sizeof src.what, "%lld %s examples of %d classes of %s", (long long)count,
             split, n, d->name);
    rl_dataset kept;
    rc = data_source_load(rc, &src, &kept);
    free(rows);
    free(label);
    if (rc < 0)
        return RL_ERR;
    memcpy(kept.name, d->name, sizeof kept.name);
    kept.mirrored = d->mirrored;
    rl_data_free(d);
    *d = kept;
    return RL_OK;
}

int rl_data_load(const rl_config *cfg, uint64_t seed, rl_dataset *train, rl_dataset *test) {
    const char *name = rl_cfg_str(cfg, "data.name");
    const char *noise = rl_cfg_str(cfg, "data.noise");
    double rate = rl_cfg_float(cfg, "data.noise_rate");
    int64_t train_limit = rl_cfg_int(cfg, "data.train_limit");
    int64_t test_limit = rl_cfg_int(cfg, "data.test_limit");
    const char *keep_text = rl_cfg_str(cfg, "data.classes_keep");
    int64_t keep[RL_DATA_MAX_KEEP];
    int n_keep = 0;
    if (keep_text[strspn(keep_text, " \t")]) {
        if (rl_cfg_int_list(cfg, "data.classes_keep", 0, RL_DATA_MAX_KEEP - 1, RL_DATA_MAX_KEEP,
                            keep, &n_keep) < 0)
            return RL_ERR;
        if (n_keep < 2)
            return rl_fail("data.classes_keep=%s keeps one class; a classifier needs two",
                           "list at least two classes, e.g. data.classes_keep=0,1,2,3,4",
                           keep_text);
    }
    int64_t keep_limits[2] = {train_limit, test_limit};
    if (n_keep) /* the limits count the kept examples: read everything first */
        train_limit = test_limit = 0;
    int64_t train_n = limited(rl_cfg_int(cfg, "data.train_size"), train_limit);
    int64_t test_n = limited(rl_cfg_int(cfg, "data.test_size"), test_limit);
    int dim = (int)rl_cfg_int(cfg, "data.dim");
    rl_noise_kind kind = strcmp(noise, "symmetric") == 0  ? RL_NOISE_SYMMETRIC
                         : strcmp(noise, "uniform") == 0  ? RL_NOISE_UNIFORM
                         : strcmp(noise, "pairflip") == 0 ? RL_NOISE_PAIRFLIP
                                                          : RL_NOISE_NONE;
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);

    if (kind == RL_NOISE_NONE && rate > 0)
        return rl_fail("data.noise_rate=%g has no effect with data.noise=none",
                       "set data.noise=symmetric, uniform or pairflip, or data.noise_rate=0", rate);
    if (kind != RL_NOISE_NONE && strcmp(name, "linreg") == 0)
        return rl_fail("data.noise=%s needs class labels, but data.name=linreg is a regression "
                       "dataset",
                       "set data.noise=none (and data.noise_rate=0) for linreg", noise);

    if (strcmp(name, "wordnet") == 0)
        return rl_fail("data.name=wordnet is text, not examples of features",
                       "this experiment takes images or features (fashion-mnist, cifar10, "
                       "cifar100, h5, blobs, linreg); the WordNet text is for language models");
    int rc;
    if (strcmp(name, "fashion-mnist") == 0) {
        rc = load_fashion(rl_cfg_str(cfg, "data.dir"), train_limit, test_limit, train, test);
    } else if (strncmp(name, "cifar", 5) == 0) {
        int classes = strcmp(name, "cifar10") == 0 ? 10 : 100;
        const char *dir = rl_cfg_str(cfg, "data.dir");
        rc = rl_data_read_cifar(dir, classes, 0, train_limit, train);
        if (rc == RL_OK)
            rc = rl_data_read_cifar(dir, classes, 1, test_limit, test);
    } else if (strcmp(name, "h5") == 0) {
        const char *path = rl_cfg_str(cfg, "data.path");
        rc = path[0] ? rl_data_read_h5(path, train_limit, test_limit, train, test)
                     : rl_fail("data.name=h5 reads the file data.path, which is not set",
                               "set data.path=FILE.h5 (README: \"Your own data\")");
    } else if (strcmp(name, "blobs") == 0) {
        int classes = (int)rl_cfg_int(cfg, "data.classes");
        float spread = (float)rl_cfg_float(cfg, "data.spread");
        rc = rl_data_make_blobs(train_n, dim, classes, spread, seed, 0, train);
        if (rc == RL_OK)
            rc = rl_data_make_blobs(test_n, dim, classes, spread, seed, 1, test);
    } else {
        float target_noise = (float)rl_cfg_float(cfg, "data.target_noise");
        rc = rl_data_make_linreg(train_n, dim, target_noise, seed, 0, train);
        if (rc == RL_OK)
            rc = rl_data_make_linreg(test_n, dim, target_noise, seed, 1, test);
    }
    if (rc == RL_OK && n_keep && train->classes < 2)
        rc = rl_fail("data.classes_keep selects classes; data.name=%s has none",
                     "leave data.classes_keep empty for regression data", name);
    if (rc == RL_OK && n_keep)
        rc = keep_classes(train, keep, n_keep, keep_limits[0], "training");
    if (rc == RL_OK && n_keep)
        rc = keep_classes(test, keep, n_keep, keep_limits[1], "test");
    if (rc == RL_OK && !strcmp(rl_cfg_str(cfg, "data.transform"), "mirror") &&
        (rl_data_mirror(train) < 0 || rl_data_mirror(test) < 0))
        rc = RL_ERR;
    if (rc == RL_OK && kind != RL_NOISE_NONE)
        rc = rl_data_add_label_noise(train, kind, rate, seed);
    if (rc < 0) {
        rl_data_free(train);
        rl_data_free(test);
    }
    return rc;
}

/* Row i of d as floats into out (dim): a byte k becomes the pixel value k / 255.0f; mirrored if
 * d->mirrored. */
static void read_row(const rl_dataset *d, int64_t i, float *out) {
    size_t dim = (size_t)d->dim;
    if (d->x_u8) {
        const uint8_t *bytes = d->x_u8 + (size_t)i * dim;
        for (size_t k = 0; k < dim; k++)
            out[k] = (float)bytes[k] / 255.0f;
    } else {
        memcpy(out, d->x_f32 + (size_t)i * dim, dim * sizeof *out);
    }
    for (int row = 0; d->mirrored && row < d->dim; row += d->width)
        for (int a = row, b = row + d->width - 1; a < b; a++, b--) {
            float t = out[a];
            out[a] = out[b];
            out[b] = t;
        }
}

void rl_data_rows(const rl_dataset *d, int64_t first, int64_t count, float *x_out) {
    for (int64_t i = 0; i < count; i++)
        read_row(d, first + i, x_out + (size_t)i * (size_t)d->dim);
}

#define DESCRIBE_ROWS 256 /* rows converted at a time for the digest */

/* "train 60000x1x28x28 crc32 1a2b3c4d": the split's size and a digest of its examples as read
 * (floats) and clean labels (or targets). */
static int describe_split(const rl_dataset *d, const char *split, char *out, size_t n) {
    float *rows = rl_xmalloc(sizeof(float) * DESCRIBE_ROWS * (size_t)d->dim);
    uint32_t crc = 0;
    for (int64_t lo = 0; lo < d->n; lo += DESCRIBE_ROWS) {
        int64_t count = d->n - lo < DESCRIBE_ROWS ? d->n - lo : DESCRIBE_ROWS;
        rl_data_rows(d, lo, count, rows);
        crc = rl_crc32(crc, rows, sizeof(float) * (size_t)count * (size_t)d->dim);
    }
    free(rows);
    if (d->y_clean)
        crc = rl_crc32(crc, d->y_clean, sizeof(int32_t) * (size_t)d->n);
    if (d->t)
        crc = rl_crc32(crc, d->t, sizeof(float) * (size_t)d->n * (size_t)d->targets);
    if (d->channels)
        return snprintf(out, n, "%s %lldx%dx%dx%d crc32 %08x", split, (long long)d->n,
                        d->channels, d->height, d->width, crc);
    return snprintf(out, n, "%s %lldx%d crc32 %08x", split, (long long)d->n, d->dim, crc);
}

void rl_data_describe(const rl_dataset *train, const rl_dataset *test, char *out, size_t n) {
    int len = snprintf(out, n, "%s: ", train->name);
    len += describe_split(train, "train", out + len, n > (size_t)len ? n - (size_t)len : 0);
    if ((size_t)len + 2 < n)
        len += snprintf(out + len, n - (size_t)len, ", ");
    if ((size_t)len < n)
        describe_split(test, "test", out + len, n - (size_t)len);
}

void rl_data_free(rl_dataset *d) {
    if (!d)
        return;
    if (d->shared) {
        comm_node_shared_free(d->shared);
    } else {
        free(d->x_f32);
        free(d->x_u8);
    }
    free(d->y);
    free(d->y_clean);
    free(d->t);
    memset(d, 0, sizeof *d);
}

void rl_data_epoch_order(int64_t n, rl_rng shuffle, uint32_t epoch, int64_t *perm) {
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)rl_rng_below(shuffle, epoch, (uint32_t)i, (uint64_t)i + 1);
        int64_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}

void rl_data_gather(const rl_dataset *d, const int64_t *idx, int count, float *x_out,
                    int32_t *y_out, float *t_out) {
    size_t dim = (size_t)d->dim, targets = (size_t)d->targets;
    for (int b = 0; b < count; b++) {
        size_t i = (size_t)idx[b];
        if (x_out)
            read_row(d, idx[b], x_out + (size_t)b * dim);
        if (y_out && d->y)
            y_out[b] = d->y[i];
        if (t_out && d->t)
            memcpy(t_out + (size_t)b * targets, d->t + i * targets, targets * sizeof *t_out);
    }
}

int rl_data_mirror(rl_dataset *d) {
    if (d->width < 1)
        return rl_fail("cannot mirror %s: its %d features are not images",
                       "data.transform=mirror is for image data (data.name=fashion-mnist, "
                       "cifar10, cifar100, or h5 with x of shape (N, C, H, W))",
                       d->name, d->dim);
    d->mirrored = !d->mirrored;
    return RL_OK;
}
