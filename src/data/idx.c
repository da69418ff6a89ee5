/* IDX reader: an image file (magic 0x00000803) and a label file (magic 0x00000801), gzip or
 * plain (zlib reads both), validated against each other and against their headers on every
 * rank; the node's first rank reads the pixels (kept as bytes) and labels, and a gzip file to its
 * end (its CRC). */
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/data/data.h"
#include "src/data/source.h"

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

/* A gzip file read on to its end, which makes zlib check its CRC and length (the examples past
 * a limit are read and dropped): damage anywhere is refused, not trained on. A plain file has no
 * checksum to check. */
static int check_gzip_stream(gzFile f, const char *path) {
    if (gzdirect(f))
        return RL_OK;
    char rest[1 << 16];
    int got;
    while ((got = gzread(f, rest, sizeof rest)) > 0)
        ;
    int errnum;
    return got < 0 ? rl_fail("%s is damaged (its gzip check failed: %s)", reinstall_hint, path,
                             gzerror(f, &errnum))
                   : RL_OK;
}

/* The open pair, positioned after their headers. */
typedef struct {
    gzFile images, labels;
    const char *images_path, *labels_path;
} idx_files;

/* data_source.read: the pixel bytes as they are, the labels checked against 0..9. */
static int read_examples(const data_source *src, void *x, int32_t *labels) {
    const idx_files *f = src->ctx;
    size_t n = (size_t)src->n, pixels = n * (size_t)src->dim;
    if (read_exact(f->images, f->images_path, x, pixels, IDX_IMAGES_HEADER,
                   IDX_IMAGES_HEADER + pixels) < 0)
        return RL_ERR;
    uint8_t *raw = rl_xmalloc(n);
    int rc =
        read_exact(f->labels, f->labels_path, raw, n, IDX_LABELS_HEADER, IDX_LABELS_HEADER + n);
    for (size_t i = 0; rc == RL_OK && i < n; i++) {
        if (raw[i] >= IDX_CLASSES)
            rc = rl_fail("label %u of example %zu in %s is outside 0..%d", reinstall_hint, raw[i],
                         i, f->labels_path, IDX_CLASSES - 1);
        labels[i] = raw[i];
    }
    free(raw);
    if (rc == RL_OK && (check_gzip_stream(f->images, f->images_path) < 0 ||
                        check_gzip_stream(f->labels, f->labels_path) < 0))
        rc = RL_ERR;
    return rc;
}

/* Every rank: the headers of both files, checked against each other and the file sizes. */
static int check_headers(idx_files *f, int64_t limit, data_source *src) {
    uint32_t image_dims[3] = {0}, label_count = 0;
    if (idx_open(f->images_path, IDX_IMAGES_MAGIC, 3, &f->images, image_dims) < 0 ||
        idx_open(f->labels_path, IDX_LABELS_MAGIC, 1, &f->labels, &label_count) < 0)
        return RL_ERR;
    uint32_t rows = image_dims[1], cols = image_dims[2];
    if (rows == 0 || cols == 0 || (uint64_t)rows * cols > IDX_MAX_PIXELS)
        return rl_fail("bad image dimensions in %s: %u x %u (expected 1..%u pixels per image)",
                       reinstall_hint, f->images_path, rows, cols, IDX_MAX_PIXELS);
    if (image_dims[0] != label_count)
        return rl_fail("%s holds %u images but %s holds %u labels",
                       "use the image and label files of the same split (train or t10k)",
                       f->images_path, image_dims[0], f->labels_path, label_count);
    if (label_count == 0)
        return rl_fail("%s holds no examples", reinstall_hint, f->images_path);
    char claim[96];
    uint64_t pixels_claimed = rl_size_mul((uint64_t)label_count, (uint64_t)rows * cols);
    snprintf(claim, sizeof claim, "%u images of %u x %u pixels", label_count, rows, cols);
    if (check_plain_size(f->images, f->images_path, IDX_IMAGES_HEADER + pixels_claimed, claim) < 0)
        return RL_ERR;
    snprintf(claim, sizeof claim, "%u labels", label_count);
    if (check_plain_size(f->labels, f->labels_path, IDX_LABELS_HEADER + (uint64_t)label_count,
                         claim) < 0)
        return RL_ERR;
    src->n = limit > 0 && limit < (int64_t)label_count ? limit : (int64_t)label_count;
    src->dim = (int)(rows * cols);
    src->channels = 1;
    src->height = (int)rows;
    src->width = (int)cols;
    snprintf(src->what, sizeof src->what, "%lld images of %u x %u pixels from %s",
             (long long)src->n, rows, cols, f->images_path);
    return RL_OK;
}

int rl_data_read_idx(const char *images_path, const char *labels_path, int64_t limit,
                     rl_dataset *out) {
    idx_files f = {NULL, NULL, images_path, labels_path};
    data_source src = {.classes = IDX_CLASSES, .bytes = 1, .read = read_examples, .ctx = &f};
    int rc = data_source_load(check_headers(&f, limit, &src), &src, out);
    if (f.images)
        gzclose(f.images);
    if (f.labels)
        gzclose(f.labels);
    if (rc == RL_OK)
        snprintf(out->name, sizeof out->name, "idx");
    return rc;
}
