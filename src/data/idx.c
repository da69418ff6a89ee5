/* IDX reader: an image file (magic 0x00000803) and a label file (magic 0x00000801), gzip or
 * plain (zlib reads both), validated against each other and against their headers. */
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/data/data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_IMAGES_HEADER 16u /* magic, count, rows, cols */
#define IDX_LABELS_HEADER 8u  /* magic, count */
#define IDX_CLASSES 10
#define IDX_MAX_PIXELS (1u << 24) /* rows · cols per image */
#define IDX_READ_CHUNK (1u << 16)

static const char *const reinstall_hint =
    "the file is damaged or not an IDX file: reinstall it (apt-get install --reinstall "
    "dataset-fashion-mnist) or point data.dir at a good copy";

/* Read exactly n bytes at file position `at`; `needed` (the file size the caller relies on)
 * only makes the truncation message precise. */
static int read_exact(gzFile f, const char *path, void *buf, size_t n, size_t at, size_t needed) {
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < INT_MAX ? n - done : INT_MAX; /* gzread returns an int */
        int got = gzread(f, (char *)buf + done, (unsigned)want);
        if (got < 0) {
            int errnum;
            return rl_fail("cannot read %s: %s", reinstall_hint, path, gzerror(f, &errnum));
        }
        if (got == 0)
            return rl_fail("%s is truncated: it ends after %zu bytes but the IDX header and the "
                           "examples read need %zu",
                           reinstall_hint, path, at + done, needed);
        done += (size_t)got;
    }
    return RL_OK;
}

static uint32_t big_endian(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Open an IDX file, check its magic, then read its `ndims` big-endian dimensions. */
static int idx_open(const char *path, uint32_t magic, int ndims, gzFile *out, uint32_t *dims) {
    uint8_t header[16];
    size_t header_bytes = 4 + 4 * (size_t)ndims;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return rl_fail("cannot open %s: %s",
                       "apt-get install dataset-fashion-mnist, or set "
                       "data.dir to the directory holding the IDX files",
                       path, errno ? strerror(errno) : "out of memory");
    if (read_exact(f, path, header, 4, 0, header_bytes) < 0)
        goto fail;
    if (big_endian(header) != magic) {
        rl_fail("wrong magic in %s: expected 0x%08x (%s), found 0x%08x",
                "check that the image and label files are IDX files and not swapped", path, magic,
                magic == IDX_IMAGES_MAGIC ? "unsigned-byte images" : "unsigned-byte labels",
                big_endian(header));
        goto fail;
    }
    if (read_exact(f, path, header + 4, header_bytes - 4, 4, header_bytes) < 0)
        goto fail;
    for (int k = 0; k < ndims; k++)
        dims[k] = big_endian(header + 4 + 4 * k);
    *out = f;
    return RL_OK;
fail:
    gzclose(f);
    return RL_ERR;
}

/* A plain (not gzip) IDX file must hold the `claimed` bytes its header announces; a gzip file's
 * size is known only after reading it (read_exact reports a short one). */
static int check_plain_size(gzFile f, const char *path, uint64_t claimed, const char *what) {
    struct stat st;
    if (!gzdirect(f) || stat(path, &st) != 0 || (uint64_t)st.st_size >= claimed)
        return RL_OK;
    return rl_fail("%s holds %lld bytes but its header claims %s: %llu bytes", reinstall_hint,
                   path, (long long)st.st_size, what, (unsigned long long)claimed);
}

/* Read n pixel bytes (after the IDX_IMAGES_HEADER bytes) as floats x/255 via a small buffer. */
static int read_pixels(gzFile f, const char *path, float *x, size_t n) {
    uint8_t buf[IDX_READ_CHUNK];
    for (size_t done = 0; done < n;) {
        size_t want = n - done < sizeof buf ? n - done : sizeof buf;
        if (read_exact(f, path, buf, want, IDX_IMAGES_HEADER + done, IDX_IMAGES_HEADER + n) < 0)
            return RL_ERR;
        for (size_t k = 0; k < want; k++)
            x[done + k] = (float)buf[k] / 255.0f;
        done += want;
    }
    return RL_OK;
}

int rl_data_read_idx(const char *images_path, const char *labels_path, int64_t limit,
                     rl_dataset *out) {
    gzFile images = NULL, labels = NULL;
    uint32_t image_dims[3] = {0}, label_count = 0;
    uint8_t *raw_labels = NULL;
    rl_dataset d = {0};
    int rc = RL_ERR;
    memset(out, 0, sizeof *out);

    if (idx_open(images_path, IDX_IMAGES_MAGIC, 3, &images, image_dims) < 0 ||
        idx_open(labels_path, IDX_LABELS_MAGIC, 1, &labels, &label_count) < 0)
        goto cleanup;
    uint32_t rows = image_dims[1], cols = image_dims[2];
    if (rows == 0 || cols == 0 || (uint64_t)rows * cols > IDX_MAX_PIXELS) {
        rl_fail("bad image dimensions in %s: %u x %u (expected 1..%u pixels per image)",
                reinstall_hint, images_path, rows, cols, IDX_MAX_PIXELS);
        goto cleanup;
    }
    if (image_dims[0] != label_count) {
        rl_fail("%s holds %u images but %s holds %u labels",
                "use the image and label files of the same split (train or t10k)", images_path,
                image_dims[0], labels_path, label_count);
        goto cleanup;
    }
    if (label_count == 0) {
        rl_fail("%s holds no examples", reinstall_hint, images_path);
        goto cleanup;
    }
    char claim[96];
    uint64_t pixels_claimed = rl_size_mul((uint64_t)label_count, (uint64_t)rows * cols);
    snprintf(claim, sizeof claim, "%u images of %u x %u pixels", label_count, rows, cols);
    if (check_plain_size(images, images_path, IDX_IMAGES_HEADER + pixels_claimed, claim) < 0)
        goto cleanup;
    snprintf(claim, sizeof claim, "%u labels", label_count);
    if (check_plain_size(labels, labels_path, IDX_LABELS_HEADER + (uint64_t)label_count, claim) <
        0)
        goto cleanup;

    d.n = limit > 0 && limit < (int64_t)label_count ? limit : (int64_t)label_count;
    d.dim = (int)(rows * cols);
    d.channels = 1;
    d.height = (int)rows;
    d.width = (int)cols;
    d.classes = IDX_CLASSES;
    snprintf(d.name, sizeof d.name, "idx");
    /* x (n, dim) floats, the raw labels (n) bytes, y and y_clean (n) int32 */
    if (rl_mem_check(rl_size_mul((uint64_t)d.n, (uint64_t)d.dim * sizeof(float) + 1 +
                                                    2 * sizeof(int32_t)),
                     "%lld images of %u x %u pixels from %s", (long long)d.n, rows, cols,
                     images_path) < 0) {
        rl_fail_hint("read fewer examples (data.train_limit, data.test_limit), or check %s: a "
                     "damaged header claims too many or too large images",
                     images_path);
        goto cleanup;
    }
    size_t n = (size_t)d.n, pixels = n * (size_t)d.dim;
    d.x = rl_xmalloc(pixels * sizeof *d.x);
    if (read_pixels(images, images_path, d.x, pixels) < 0)
        goto cleanup;
    raw_labels = rl_xmalloc(n);
    if (read_exact(labels, labels_path, raw_labels, n, IDX_LABELS_HEADER, IDX_LABELS_HEADER + n) <
        0)
        goto cleanup;
    d.y = rl_xmalloc(n * sizeof *d.y);
    d.y_clean = rl_xmalloc(n * sizeof *d.y_clean);
    for (size_t i = 0; i < n; i++) {
        if (raw_labels[i] >= IDX_CLASSES) {
            rl_fail("label %u of example %zu in %s is outside 0..%d", reinstall_hint, raw_labels[i],
                    i, labels_path, IDX_CLASSES - 1);
            goto cleanup;
        }
        d.y[i] = d.y_clean[i] = raw_labels[i];
    }
    *out = d;
    memset(&d, 0, sizeof d);
    rc = RL_OK;
cleanup:
    if (images)
        gzclose(images);
    if (labels)
        gzclose(labels);
    free(raw_labels);
    rl_data_free(&d);
    return rc;
}
