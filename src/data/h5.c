/* Users' HDF5 files (data.name=h5): the datasets train/x, train/y, test/x, test/y checked on
 * every rank (shapes, element types, counts, classes) before the node's first rank reads them
 * through src/io (see data.h for what a file must hold). */
#include "src/core/error.h"
#include "src/data/data.h"
#include "src/data/source.h"
#include "src/io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H5_MAX_FEATURES (1 << 24) /* per example */
#define H5_MAX_CLASSES (1 << 20)

static const char *const layout_hint =
    "a data.name=h5 file holds train/x and test/x, shape (N, C, H, W) or (N, D), uint8 or "
    "float32, and train/y and test/y, (N) integer labels (README: \"Your own data\")";

typedef struct {
    io_data_file *file;
    const char *path;
    const char *split; /* "train" or "test", for messages */
    char x_name[16], y_name[16];
    io_data_array x, y;
    int64_t declared_classes; /* the root attribute "classes", or 0 */
} h5_split;

/* "(60000, 1, 28, 28)" */
static const char *shape_text(const io_data_array *a, char *out, size_t size) {
    int len = snprintf(out, size, "(");
    for (int k = 0; k < a->ndims && k < IO_DATA_MAX_DIMS && (size_t)len < size; k++)
        len +=
            snprintf(out + len, size - (size_t)len, "%s%lld", k ? ", " : "", (long long)a->dims[k]);
    if ((size_t)len < size)
        snprintf(out + len, size - (size_t)len, "%s)", a->ndims == 1 ? "," : "");
    return out;
}

/* Every rank: one split's x and y as a data.name=h5 file needs them; src gets its shape. */
static int check_split(h5_split *s, int64_t limit, data_source *src) {
    char shape[160];
    snprintf(s->x_name, sizeof s->x_name, "%s/x", s->split);
    snprintf(s->y_name, sizeof s->y_name, "%s/y", s->split);
    if (io_data_array_info(s->file, s->x_name, &s->x) < 0 ||
        io_data_array_info(s->file, s->y_name, &s->y) < 0)
        return rl_fail_hint("%s", layout_hint);
    const io_data_array *x = &s->x, *y = &s->y;
    int u8 = !strcmp(x->type, "uint8");
    if (!u8 && strcmp(x->type, "float32") != 0)
        return rl_fail("%s: %s holds %s values, but ranklab reads uint8 (pixels 0..255, read as "
                       "value / 255) or float32",
                       "convert it, e.g. f['x'] = x.astype('float32') in h5py", s->path, s->x_name,
                       x->type);
    if (x->ndims != 2 && x->ndims != 4)
        return rl_fail("%s: %s has shape %s; expected (N, C, H, W) for images or (N, D) for flat "
                       "features",
                       "reshape it, e.g. x.reshape(len(x), -1) for flat features or "
                       "x.reshape(len(x), 1, 28, 28) for 28x28 gray images",
                       s->path, s->x_name, shape_text(x, shape, sizeof shape));
    int64_t features = 1; /* stops growing past H5_MAX_FEATURES, so it cannot overflow */
    for (int k = 1; k < x->ndims && features >= 1 && features <= H5_MAX_FEATURES; k++)
        features = x->dims[k] >= 1 && x->dims[k] <= H5_MAX_FEATURES ? features * x->dims[k] : 0;
    if (x->dims[0] < 1 || features < 1 || features > H5_MAX_FEATURES)
        return rl_fail("%s: %s has shape %s; expected at least one example of 1..%d features",
                       layout_hint, s->path, s->x_name, shape_text(x, shape, sizeof shape),
                       H5_MAX_FEATURES);
    if (y->ndims != 1)
        return rl_fail("%s: %s has shape %s; expected (N,): one label per example",
                       "flatten it, e.g. y.reshape(-1)", s->path, s->y_name,
                       shape_text(y, shape, sizeof shape));
    if (!y->integer)
        return rl_fail("%s: %s holds %s values, not integer labels",
                       "store class indices 0, 1, ..., e.g. y.astype('int64')", s->path, s->y_name,
                       y->type);
    if (x->dims[0] != y->dims[0])
        return rl_fail("%s: %s holds %lld examples but %s holds %lld labels",
                       "write one label per example, in the same order", s->path, s->x_name,
                       (long long)x->dims[0], s->y_name, (long long)y->dims[0]);
    src->n = limit > 0 && limit < x->dims[0] ? limit : x->dims[0];
    src->dim = (int)features;
    if (x->ndims == 4) {
        src->channels = (int)x->dims[1];
        src->height = (int)x->dims[2];
        src->width = (int)x->dims[3];
    }
    src->bytes = u8 ? 1 : 4;
    snprintf(src->what, sizeof src->what, "%lld %s examples of %lld %s features from %s",
             (long long)src->n, s->split, (long long)features, x->type, s->path);
    return RL_OK;
}

/* data_source.read: x as stored (float features checked to be finite), the labels checked against
 * the declared classes (or, when the training labels decide the classes, for being in
 * 0..H5_MAX_CLASSES-1). */
static int read_split(const data_source *src, void *x, int32_t *labels) {
    const h5_split *s = src->ctx;
    int64_t n = src->n, *raw = rl_xmalloc(sizeof(int64_t) * (size_t)n);
    int rc =
        io_data_read_rows(s->file, s->x_name, src->bytes == 1 ? IO_DATA_U8 : IO_DATA_F32, n, x);
    if (rc == RL_OK && src->bytes != 1) {
        const float *v = x;
        for (int64_t i = 0, values = n * src->dim; rc == RL_OK && i < values; i++)
            if (!isfinite(v[i]))
                rc = rl_fail("%s: %s holds %g at feature %lld of example %lld",
                             "features must be finite numbers: replace or drop that example "
                             "(e.g. numpy.nan_to_num)",
                             s->path, s->x_name, (double)v[i], (long long)(i % src->dim),
                             (long long)(i / src->dim));
    }
    rc = rc ? rc : io_data_read_rows(s->file, s->y_name, IO_DATA_I64, n, raw);
    int64_t top = s->declared_classes ? s->declared_classes - 1 : H5_MAX_CLASSES - 1;
    for (int64_t i = 0; rc == RL_OK && i < n; i++) {
        if (s->declared_classes && (raw[i] < 0 || raw[i] > top))
            rc = rl_fail("%s: label %lld of %s example %lld is outside 0..%lld (the root "
                         "attribute 'classes' is %lld)",
                         "fix the labels, or set the root attribute 'classes' to their number",
                         s->path, (long long)raw[i], s->split, (long long)i, (long long)top,
                         (long long)s->declared_classes);
        else if (raw[i] < 0 || raw[i] > top)
            rc = rl_fail("%s: label %lld of %s example %lld is %s",
                         "labels are class indices 0, "
                         "1, ..., C - 1",
                         s->path, (long long)raw[i], s->split, (long long)i,
                         raw[i] < 0 ? "negative" : "beyond the largest number of classes");
        labels[i] = (int32_t)raw[i];
    }
    free(raw);
    return rc;
}

/* Every rank: the two splits agree with each other; the classes if the file declares them. */
static int check_file(h5_split *splits, data_source *srcs, int64_t *classes) {
    char a[160], b[160];
    io_data_array train_x = splits[0].x, test_x = splits[1].x;
    train_x.dims[0] = test_x.dims[0] = 1; /* compare one example's shape */
    if (train_x.ndims != test_x.ndims ||
        memcmp(train_x.dims, test_x.dims, sizeof(int64_t) * (size_t)train_x.ndims) != 0)
        return rl_fail("%s: train/x holds examples of shape %s but test/x of %s (first "
                       "dimension: 1 example)",
                       "write both splits with the same example shape", splits[0].path,
                       shape_text(&train_x, a, sizeof a), shape_text(&test_x, b, sizeof b));
    if (srcs[0].bytes != srcs[1].bytes)
        return rl_fail("%s: train/x is %s but test/x is %s",
                       "store both splits as uint8 or both as float32", splits[0].path,
                       train_x.type, test_x.type);
    int found = io_data_root_int(splits[0].file, "classes", classes);
    if (found < 0)
        return rl_fail_hint("set it to the number of classes, e.g. f.attrs['classes'] = 10, or "
                            "delete it (then 1 + the largest training label)");
    if (found && (*classes < 2 || *classes > H5_MAX_CLASSES))
        return rl_fail("%s: the root attribute 'classes' = %lld is outside 2..%d",
                       "set it to the number of classes, or delete it (then 1 + the largest "
                       "training label)",
                       splits[0].path, (long long)*classes, H5_MAX_CLASSES);
    if (!found)
        *classes = 0;
    return RL_OK;
}

/* Every rank, when the training labels decide the classes: 1 + the largest, at least 2, and
 * the test labels within them. */
static int classes_from_labels(const char *path, rl_dataset *train, rl_dataset *test) {
    int32_t top = 0;
    for (int64_t i = 0; i < train->n; i++)
        top = train->y_clean[i] > top ? train->y_clean[i] : top;
    if (top < 1)
        return rl_fail("%s: every training label is 0, but a classifier needs 2 classes or more",
                       "check train/y", path);
    for (int64_t i = 0; i < test->n; i++)
        if (test->y_clean[i] > top)
            return rl_fail("%s: label %d of test example %lld is outside the training labels "
                           "0..%d",
                           "declare the number of classes as the root attribute, e.g. "
                           "f.attrs['classes'] = 10, or fix the labels",
                           path, test->y_clean[i], (long long)i, top);
    train->classes = test->classes = top + 1;
    return RL_OK;
}

int rl_data_read_h5(const char *path, int64_t train_limit, int64_t test_limit, rl_dataset *train,
                    rl_dataset *test) {
    io_data_file *file = NULL;
    h5_split splits[2] = {{.path = path, .split = "train"}, {.path = path, .split = "test"}};
    data_source srcs[2] = {{.read = read_split, .ctx = &splits[0]},
                           {.read = read_split, .ctx = &splits[1]}};
    int64_t classes = 0;
    memset(test, 0, sizeof *test);
    int rc = io_data_open(path, &file);
    splits[0].file = splits[1].file = file;
    rc = rc ? rc : check_split(&splits[0], train_limit, &srcs[0]);
    rc = rc ? rc : check_split(&splits[1], test_limit, &srcs[1]);
    rc = rc ? rc : check_file(splits, srcs, &classes);
    splits[0].declared_classes = splits[1].declared_classes = classes;
    srcs[0].classes = srcs[1].classes = (int)classes;
    rc = data_source_load(rc, &srcs[0], train);
    if (rc == RL_OK && data_source_load(RL_OK, &srcs[1], test) < 0)
        rc = RL_ERR;
    if (rc == RL_OK && classes == 0)
        rc = classes_from_labels(path, train, test);
    io_data_close(file);
    if (rc < 0) {
        rl_data_free(train);
        rl_data_free(test);
        return RL_ERR;
    }
    snprintf(train->name, sizeof train->name, "h5");
    snprintf(test->name, sizeof test->name, "h5");
    return RL_OK;
}
