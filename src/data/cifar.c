/* CIFAR-10 / CIFAR-100 binary batches (the datasets' "binary version"): fixed-size records of
 * label bytes and 3072 pixel bytes, checked to be whole records on every rank, read by the
 * node's first rank with the pixels kept as bytes (see data.h). */
#include "src/core/error.h"
#include "src/data/data.h"
#include "src/data/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_CHANNELS 3
#define CIFAR_SIDE 32
#define CIFAR_PIXELS (CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR10_TRAIN_FILES 5
#define CIFAR_READ_RECORDS 256 /* records read at a time */

typedef struct {
    int classes;
    int label_bytes; /* CIFAR-10: the label; CIFAR-100: the coarse, then the fine label */
    int n_files;
    char paths[CIFAR10_TRAIN_FILES][4096];
    int64_t records[CIFAR10_TRAIN_FILES]; /* records to read from each file */
} cifar_files;

static size_t record_bytes(const cifar_files *f) {
    return (size_t)f->label_bytes + CIFAR_PIXELS;
}

static const char *dir_hint(int classes) {
    return classes == 10 ? "set data.dir to the directory of the CIFAR-10 binary version "
                           "(cifar-10-batches-bin: data_batch_1.bin .. data_batch_5.bin, "
                           "test_batch.bin)"
                         : "set data.dir to the directory of the CIFAR-100 binary version "
                           "(cifar-100-binary: train.bin, test.bin)";
}

static const char *damaged_hint(int classes) {
    return classes == 10 ? "the file is truncated or damaged: unpack cifar-10-binary.tar.gz "
                           "again; or it is a CIFAR-100 file (2 label bytes): use "
                           "data.name=cifar100"
                         : "the file is truncated or damaged: unpack cifar-100-binary.tar.gz "
                           "again; or it is a CIFAR-10 file (1 label byte): use "
                           "data.name=cifar10";
}

/* data_source.read: each file's records in turn, pixels as they are, the label checked. */
static int read_records(const data_source *src, void *x, int32_t *labels) {
    const cifar_files *f = src->ctx;
    size_t record = record_bytes(f);
    uint8_t *buf = rl_xmalloc(record * CIFAR_READ_RECORDS), *pixels = x;
    int rc = RL_OK;
    int64_t i = 0; /* examples read so far */
    for (int k = 0; rc == RL_OK && k < f->n_files; k++) {
        FILE *in = fopen(f->paths[k], "rb");
        if (!in) {
            rc = rl_fail("cannot open %s: %s", dir_hint(f->classes), f->paths[k], strerror(errno));
            break;
        }
        for (int64_t r = 0; rc == RL_OK && r < f->records[k];) {
            size_t want = (size_t)(f->records[k] - r < CIFAR_READ_RECORDS ? f->records[k] - r
                                                                          : CIFAR_READ_RECORDS);
            size_t got = fread(buf, record, want, in);
            if (got < want) {
                rc = rl_fail("%s is truncated: it ends within record %lld, but it held %lld "
                             "records when checked",
                             damaged_hint(f->classes), f->paths[k], (long long)(r + (int64_t)got),
                             (long long)f->records[k]);
                break;
            }
            for (size_t j = 0; j < want; j++, r++, i++) {
                const uint8_t *rec = buf + j * record;
                int label = rec[f->label_bytes - 1];
                if (label >= f->classes) {
                    rc = rl_fail("label %d of record %lld in %s is outside 0..%d",
                                 damaged_hint(f->classes), label, (long long)r, f->paths[k],
                                 f->classes - 1);
                    break;
                }
                labels[i] = label;
                memcpy(pixels + (size_t)i * CIFAR_PIXELS, rec + f->label_bytes, CIFAR_PIXELS);
            }
        }
        fclose(in);
    }
    free(buf);
    return rc;
}

/* Every rank: the files exist and hold whole records; how many of each to read. */
static int check_files(const char *dir, int test_split, int64_t limit, cifar_files *f,
                       data_source *src) {
    if (f->classes != 10 && f->classes != 100)
        return rl_fail("CIFAR has 10 or 100 classes, not %d", NULL, f->classes);
    f->n_files = f->classes == 10 && !test_split ? CIFAR10_TRAIN_FILES : 1;
    int64_t total = 0, left = limit > 0 ? limit : INT64_MAX;
    for (int k = 0; k < f->n_files; k++) {
        char name[32];
        if (f->classes == 100)
            snprintf(name, sizeof name, "%s", test_split ? "test.bin" : "train.bin");
        else if (test_split)
            snprintf(name, sizeof name, "test_batch.bin");
        else
            snprintf(name, sizeof name, "data_batch_%d.bin", k + 1);
        if (snprintf(f->paths[k], sizeof f->paths[k], "%s/%s", dir, name) >=
            (int)sizeof f->paths[k])
            return rl_fail("data.dir is too long (%zu characters)", "use a shorter path",
                           strlen(dir));
        struct stat st;
        if (stat(f->paths[k], &st) != 0)
            return rl_fail("cannot open %s: %s", dir_hint(f->classes), f->paths[k],
                           strerror(errno));
        if (!S_ISREG(st.st_mode))
            return rl_fail("%s is not a regular file", dir_hint(f->classes), f->paths[k]);
        if (st.st_size == 0 || (uint64_t)st.st_size % record_bytes(f) != 0)
            return rl_fail("%s holds %lld bytes, not a whole number of %zu-byte records (%d label "
                           "byte%s and %d pixel bytes each)",
                           damaged_hint(f->classes), f->paths[k], (long long)st.st_size,
                           record_bytes(f), f->label_bytes, f->label_bytes > 1 ? "s" : "",
                           CIFAR_PIXELS);
        int64_t records = (int64_t)((uint64_t)st.st_size / record_bytes(f));
        f->records[k] = records < left ? records : left;
        left -= f->records[k];
        total += f->records[k];
    }
    src->n = total;
    snprintf(src->what, sizeof src->what, "%lld CIFAR-%d %s images of 3 x 32 x 32 pixels from %s",
             (long long)total, f->classes, test_split ? "test" : "training", dir);
    return RL_OK;
}

int rl_data_read_cifar(const char *dir, int classes, int test_split, int64_t limit,
                       rl_dataset *out) {
    cifar_files f = {.classes = classes, .label_bytes = classes == 100 ? 2 : 1};
    data_source src = {.dim = CIFAR_PIXELS,
                       .channels = CIFAR_CHANNELS,
                       .height = CIFAR_SIDE,
                       .width = CIFAR_SIDE,
                       .classes = classes,
                       .bytes = 1,
                       .read = read_records,
                       .ctx = &f};
    int rc = data_source_load(check_files(dir, test_split, limit, &f, &src), &src, out);
    if (rc == RL_OK)
        snprintf(out->name, sizeof out->name, "cifar%d", classes);
    return rc;
}
