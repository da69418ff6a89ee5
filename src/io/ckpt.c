/* Checkpoints: parallel HDF5 files written collectively, checksummed per dataset and sealed as a
 * whole, made durable with temp + fsync + rename + fsync of the directory, verified before they
 * replace older ones and before use (see io.h). */
#include "src/comm/comm.h"
#include "src/core/digest.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/io/fault.h"
#include "src/io/io.h"
#include "src/io/parallel.h"

#include <dirent.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CKPT_FORMAT "ranklab-checkpoint"
#define CKPT_VERSION 2
#define CKPT_VERIFY_BLOCK (1 << 22) /* bytes read at a time when checking a dataset's CRC */
/* Bytes of HDF5 structure in a checkpoint besides its data: the file, and each dataset. */
#define CKPT_OVERHEAD_BYTES (64u << 10)
#define CKPT_SET_OVERHEAD_BYTES (4u << 10)

/* A dataset recorded by io_ckpt_write, written at commit. */
typedef struct {
    char *name;
    io_type type;
    int64_t global_count, offset, count;
    const void *data;
    void *copy;   /* small data, copied (data points here); NULL: the caller's */
    uint32_t crc; /* of the whole dataset, combined over ranks */
} pending_set;

struct io_ckpt {
    hid_t file;
    int failed;          /* writing: a write failed on some rank (agreed); commit discards */
    uint64_t data_bytes; /* reading: bytes of HDF5 data in the file, bounding what sets claim */
    io_ckpt_info info;   /* writing: stamped on the file at commit */
    char *config_text;
    pending_set *sets;
    int n_sets;
    char dir[PATH_MAX];
    char tmp_path[PATH_MAX + 80];
    char final_path[PATH_MAX + 64];
};

static hid_t mem_type(io_type t) {
    switch (t) {
    case IO_F32: return H5T_NATIVE_FLOAT;
    case IO_F64: return H5T_NATIVE_DOUBLE;
    case IO_I64: return H5T_NATIVE_LLONG;
    case IO_I8: return H5T_NATIVE_SCHAR;
    }
    return H5T_NATIVE_LLONG;
}

static size_t type_size(io_type t) {
    return t == IO_I8 ? 1 : t == IO_F32 ? 4 : 8;
}

static int write_text_attr(hid_t obj, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value) + 1);
    int rc = io_h5_write_scalar_attr(obj, name, type, value);
    H5Tclose(type);
    return rc;
}

static int write_i64_attr(hid_t obj, const char *name, int64_t value) {
    long long v = value;
    return io_h5_write_scalar_attr(obj, name, H5T_NATIVE_LLONG, &v);
}

/* A scalar fixed-length string attribute that fits `size` bytes. */
static int read_text_attr(hid_t obj, const char *name, char *value, size_t size) {
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return -1;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    size_t len = H5Tget_size(type);
    int rc = -1;
    if (H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) == 0 && len > 0 &&
        len <= size && H5Sget_simple_extent_type(space) == H5S_SCALAR &&
        io_h5_aread(attr, type, value) >= 0) {
        value[len - 1] = '\0';
        rc = 0;
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(attr);
    return rc;
}

static int read_i64_attr(hid_t obj, const char *name, int64_t *value) {
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return -1;
    hid_t space = H5Aget_space(attr);
    long long v = 0;
    herr_t rc = H5Sget_simple_extent_type(space) == H5S_SCALAR
                    ? io_h5_aread(attr, H5T_NATIVE_LLONG, &v)
                    : -1;
    H5Sclose(space);
    H5Aclose(attr);
    if (rc < 0)
        return -1;
    *value = v;
    return 0;
}

/* After a failed HDF5 call on `path`: a full disk gets its own error class (io_fail_write). */
static int fail_hdf5_write(const char *path, const char *what) {
    return io_fail_write(path, 0, what);
}

int io_ckpt_begin(io_ckpt **out, const char *ckpt_dir, const io_ckpt_info *info,
                  const char *config_text) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = comm_rank() == 0 ? io_make_dir(ckpt_dir) : 0;
    if (comm_agree_error(rc) < 0)
        return RL_ERR;
    io_ckpt *c = rl_xcalloc(1, sizeof *c);
    c->file = -1;
    c->info = *info;
    c->config_text = rl_xstrdup(config_text);
    snprintf(c->dir, sizeof c->dir, "%s", ckpt_dir);
    if (info->final)
        snprintf(c->final_path, sizeof c->final_path, "%s/" IO_CKPT_FINAL_NAME, ckpt_dir);
    else
        snprintf(c->final_path, sizeof c->final_path, "%s/step-%010lld.h5", ckpt_dir,
                 (long long)info->step);
    snprintf(c->tmp_path, sizeof c->tmp_path, "%s.tmp", c->final_path);
    *out = c;
    return 0;
}

int io_ckpt_write(io_ckpt *c, const char *name, io_type type, int64_t global_count,
                  int64_t offset, int64_t count, const void *data) {
    if (c->failed)
        return RL_ERR;
    int p = comm_size();
    int64_t mine[2] = {(int64_t)rl_crc32(0, data, (size_t)count * type_size(type)),
                       count * (int64_t)type_size(type)};
    int64_t *all = rl_xmalloc(sizeof(int64_t) * 2 * (size_t)p);
    if (comm_allgather_i64(mine, 2, all) < 0) {
        free(all);
        c->failed = 1;
        return RL_ERR;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    int64_t covered = 0;
    for (int r = 0; r < p; r++) {
        if (all[2 * r + 1] > 0)
            crc = crc32_combine(crc, (uLong)all[2 * r], (z_off_t)all[2 * r + 1]);
        covered += all[2 * r + 1];
    }
    free(all);
    if (covered != global_count * (int64_t)type_size(type)) {
        c->failed = 1;
        return rl_fail("checkpoint dataset %s: ranks wrote %lld of %lld bytes",
                       "a bug: slices must tile the dataset", name, (long long)covered,
                       (long long)(global_count * (int64_t)type_size(type)));
    }
    pending_set *grown = realloc(c->sets, sizeof *c->sets * (size_t)(c->n_sets + 1));
    if (!grown) {
        c->failed = 1;
        return rl_fail("out of memory recording checkpoint dataset %s", NULL, name);
    }
    c->sets = grown;
    size_t bytes = (size_t)count * type_size(type);
    void *copy = bytes <= IO_CKPT_COPY_BYTES ? rl_xmalloc(bytes ? bytes : 1) : NULL;
    if (copy && bytes)
        memcpy(copy, data, bytes);
    c->sets[c->n_sets++] = (pending_set){rl_xstrdup(name), type, global_count, offset, count,
                                         copy ? copy : data, copy, (uint32_t)crc};
    return 0;
}

static int compare_desc(const void *a, const void *b) {
    return strcmp(*(char *const *)b, *(char *const *)a);
}

static int is_checkpoint_name(const char *name) {
    size_t len = strlen(name);
    return !strcmp(name, IO_CKPT_FINAL_NAME) ||
           (strncmp(name, "step-", 5) == 0 && len > 8 && !strcmp(name + len - 3, ".h5"));
}

int io_ckpt_list(const char *ckpt_dir, char ***paths, int *n) {
    *paths = NULL;
    *n = 0;
    DIR *d = opendir(ckpt_dir);
    if (!d)
        return 0;
    int cap = 0, final_at = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_checkpoint_name(e->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            char **grown = realloc(*paths, sizeof(char *) * (size_t)cap);
            if (!grown)
                abort();
            *paths = grown;
        }
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", ckpt_dir, e->d_name);
        if (!strcmp(e->d_name, IO_CKPT_FINAL_NAME))
            final_at = *n;
        (*paths)[(*n)++] = rl_xstrdup(path);
    }
    closedir(d);
    if (final_at > 0) { /* the final checkpoint is the newest */
        char *final = (*paths)[final_at];
        (*paths)[final_at] = (*paths)[0];
        (*paths)[0] = final;
    }
    int first = final_at >= 0;
    if (*n > first)
        qsort(*paths + first, (size_t)(*n - first), sizeof(char *), compare_desc);
    return 0;
}

void io_ckpt_list_free(char **paths, int n) {
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

void io_ckpt_remove_temporaries(const char *ckpt_dir) {
    DIR *d = opendir(ckpt_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 7 && !strcmp(e->d_name + len - 7, ".h5.tmp")) {
            char path[PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s", ckpt_dir, e->d_name);
            rl_log_warn("removing %s, left by a run that stopped while writing it", path);
            unlink(path);
        }
    }
    closedir(d);
}

/* Rank 0, after the collective close: seal the temporary, check it as a reader will, then
 * rename it into place; only then drop the older ones beyond `keep`. */
static int publish(io_ckpt *c, int keep) {
    io_ckpt_info info;
    int rc = io_seal_file(c->tmp_path);
    if (rc == 0 && io_ckpt_verify(c->tmp_path, &info) < 0)
        rc = rl_fail_context("the checkpoint just written does not read back");
    rc = rc ? rc : io_commit_file(c->tmp_path, c->final_path);
    if (rc < 0) {
        unlink(c->tmp_path);
        return rc;
    }
    char **paths;
    int n;
    io_ckpt_list(c->dir, &paths, &n);
    for (int i = 0; i < n; i++)
        if (i >= keep && strcmp(paths[i], c->final_path) != 0)
            unlink(paths[i]);
    io_ckpt_list_free(paths, n);
    return 0;
}

static void ckpt_free(io_ckpt *c) {
    for (int i = 0; i < c->n_sets; i++) {
        free(c->sets[i].name);
        free(c->sets[i].copy);
    }
    free(c->sets);
    free(c->config_text);
    free(c);
}

/* Collective: create the temporary and write the attributes and every recorded dataset. */
static int write_file(io_ckpt *c) {
    hid_t fapl = io_parallel_access();
    c->file = H5Fcreate(c->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (comm_agree_error(c->file < 0 ? fail_hdf5_write(c->tmp_path, "cannot create the checkpoint")
                                     : 0) < 0)
        return RL_ERR;
    /* Attributes are metadata: every rank writes the same values (parallel HDF5 rule). */
    const io_ckpt_info *info = &c->info;
    int bad = write_text_attr(c->file, "format", CKPT_FORMAT) < 0;
    bad |= write_i64_attr(c->file, "version", CKPT_VERSION) < 0;
    bad |= write_i64_attr(c->file, "step", info->step) < 0;
    bad |= write_i64_attr(c->file, "final", info->final) < 0;
    bad |= write_text_attr(c->file, "run_id", info->run_id) < 0;
    bad |= write_text_attr(c->file, "inputs", info->inputs) < 0;
    bad |= write_text_attr(c->file, "code_version", info->code_version) < 0;
    bad |= write_text_attr(c->file, "config_text", c->config_text) < 0;
    int rc = comm_agree_error(bad ? fail_hdf5_write(c->tmp_path, "cannot write its attributes")
                                  : 0);
    for (int i = 0; rc == 0 && i < c->n_sets; i++) {
        const pending_set *d = &c->sets[i];
        hid_t set = io_parallel_write_slice(c->file, d->name, mem_type(d->type), d->global_count,
                                            d->offset, d->count, d->data);
        int failed = set < 0 || write_i64_attr(set, "crc32", d->crc) < 0;
        if (set >= 0)
            H5Dclose(set);
        if (failed) {
            fail_hdf5_write(c->tmp_path, "cannot write a checkpoint dataset");
            rl_fail_context("dataset %s", d->name);
        }
        rc = comm_agree_error(failed ? RL_ERR : 0);
    }
    if (rc == 0 && write_i64_attr(c->file, "complete", 1) < 0)
        rc = fail_hdf5_write(c->tmp_path, "cannot mark the checkpoint complete");
    return comm_agree_error(rc);
}

int io_ckpt_commit(io_ckpt *c, int keep) {
    comm_watch_region_begin("the checkpoint write (parallel HDF5)");
    int rc = c->failed ? RL_ERR : 0;
    if (rc == 0) {
        /* The file's size is known now: make sure the disk holds it before HDF5 starts, since
         * HDF5 cannot always unwind a collective write that fails half-way. */
        uint64_t bytes = CKPT_OVERHEAD_BYTES + strlen(c->config_text);
        for (int i = 0; i < c->n_sets; i++)
            bytes += (uint64_t)c->sets[i].global_count * type_size(c->sets[i].type) +
                     CKPT_SET_OVERHEAD_BYTES;
        rc = comm_agree_error(comm_rank() == 0 ? io_reserve_space(c->dir, bytes) : 0);
    }
    if (rc == 0)
        rc = write_file(c);
    if (c->file >= 0 && H5Fclose(c->file) < 0 && rc == 0)
        rc = fail_hdf5_write(c->tmp_path, "cannot close the checkpoint");
    rc = c->failed ? RL_ERR : comm_agree_error(rc);
    if (comm_rank() == 0) {
        if (rc == 0)
            rc = publish(c, keep);
        else
            unlink(c->tmp_path);
    }
    ckpt_free(c);
    rc = comm_agree_error(rc);
    comm_watch_region_end();
    return rc;
}

void io_ckpt_discard(io_ckpt *c) {
    if (!c)
        return;
    ckpt_free(c);
}

typedef struct {
    int bad;
    uint64_t data_bytes;
    char reason[512];
} verify_state;

/* The CRC-32 of a 1-D dataset, read in blocks. */
static int dataset_crc(hid_t set, hid_t space, hid_t type, uint64_t points, uLong *crc) {
    size_t elem = H5Tget_size(type);
    hsize_t block = CKPT_VERIFY_BLOCK / elem;
    void *buf = rl_xmalloc((size_t)block * elem);
    *crc = crc32(0L, Z_NULL, 0);
    int rc = 0;
    for (hsize_t at = 0; rc == 0 && at < points; at += block) {
        hsize_t n[1] = {points - at < block ? points - at : block}, start[1] = {at};
        hid_t mem = H5Screate_simple(1, n, NULL);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, n, NULL);
        if (io_h5_dread(set, type, mem, space, H5P_DEFAULT, buf) < 0)
            rc = -1;
        else
            *crc = crc32(*crc, buf, (uInt)(n[0] * elem));
        H5Sclose(mem);
    }
    free(buf);
    return rc;
}

static herr_t verify_object(hid_t file, const char *name, const H5O_info_t *info, void *data) {
    verify_state *st = data;
    if (info->type != H5O_TYPE_DATASET || st->bad)
        return 0;
    hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
    int64_t expected;
    if (set < 0 || read_i64_attr(set, "crc32", &expected) < 0) {
        st->bad = 1;
        snprintf(st->reason, sizeof st->reason, "dataset %s unreadable or has no checksum", name);
        if (set >= 0)
            H5Dclose(set);
        return 0;
    }
    hid_t type = H5Dget_type(set), space = H5Dget_space(set);
    hssize_t points = H5Sget_simple_extent_npoints(space);
    size_t elem = type < 0 ? 0 : H5Tget_size(type);
    uLong crc = 0;
    if (type < 0 || space < 0 || H5Sget_simple_extent_ndims(space) != 1 || points < 0 ||
        elem == 0 || elem > 8) {
        st->bad = 1;
        snprintf(st->reason, sizeof st->reason, "dataset %s is not a 1-D array of numbers", name);
    } else if ((uint64_t)points > st->data_bytes / elem) {
        st->bad = 1;
        snprintf(st->reason, sizeof st->reason,
                 "dataset %s claims %lld elements, more than the file's %llu bytes hold", name,
                 (long long)points, (unsigned long long)st->data_bytes);
    } else if (dataset_crc(set, space, type, (uint64_t)points, &crc) < 0) {
        st->bad = 1;
        snprintf(st->reason, sizeof st->reason, "dataset %s cannot be read", name);
    } else if ((int64_t)crc != expected) {
        st->bad = 1;
        snprintf(st->reason, sizeof st->reason,
                 "dataset %s fails its checksum (crc32 %08lx, expected %08llx)", name, crc,
                 (unsigned long long)expected);
    }
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    H5Dclose(set);
    return 0;
}

int io_ckpt_verify(const char *path, io_ckpt_info *info) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    memset(info, 0, sizeof *info);
    verify_state st = {0, 0, ""};
    /* The seal first: HDF5 never parses a file whose bytes changed after it was written. */
    if (io_check_seal(path, &st.data_bytes) < 0)
        return rl_fail_hint("delete it; the run resumes from the previous checkpoint");
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return rl_fail("%s: not a readable HDF5 file",
                       "delete it; the run resumes from the previous checkpoint", path);
    char format[64] = "";
    int64_t complete = 0, version = 0;
    if (read_text_attr(file, "format", format, sizeof format) < 0 || strcmp(format, CKPT_FORMAT))
        snprintf(st.reason, sizeof st.reason, "not a ranklab checkpoint"), st.bad = 1;
    else if (read_i64_attr(file, "version", &version) < 0 || version != CKPT_VERSION)
        snprintf(st.reason, sizeof st.reason,
                 "checkpoint format version %lld, this program reads version %d",
                 (long long)version, CKPT_VERSION),
            st.bad = 1;
    else if (read_i64_attr(file, "complete", &complete) < 0 || complete != 1)
        snprintf(st.reason, sizeof st.reason, "incomplete (never committed)"), st.bad = 1;
    else if (read_i64_attr(file, "step", &info->step) < 0 || info->step < 0 ||
             read_i64_attr(file, "final", &info->final) < 0 ||
             read_text_attr(file, "run_id", info->run_id, sizeof info->run_id) < 0 ||
             read_text_attr(file, "inputs", info->inputs, sizeof info->inputs) < 0 ||
             read_text_attr(file, "code_version", info->code_version,
                            sizeof info->code_version) < 0)
        snprintf(st.reason, sizeof st.reason, "missing or malformed step, run id or inputs"),
            st.bad = 1;
    else
        H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, verify_object, &st, H5O_INFO_BASIC);
    H5Fclose(file);
    if (st.bad)
        return rl_fail("%s: %s", "delete it; the run resumes from the previous checkpoint", path,
                       st.reason);
    return 0;
}

int io_ckpt_find_latest(const char *ckpt_dir, char *path, size_t path_size, io_ckpt_info *info) {
    struct {
        int64_t found;
        io_ckpt_info info;
        char path[PATH_MAX];
    } *result = rl_xcalloc(1, sizeof *result);
    if (comm_rank() == 0) {
        char **paths;
        int n;
        io_ckpt_list(ckpt_dir, &paths, &n);
        for (int i = 0; i < n && !result->found; i++) {
            if (io_ckpt_verify(paths[i], &result->info) == 0) {
                result->found = 1;
                snprintf(result->path, sizeof result->path, "%s", paths[i]);
            } else {
                rl_log_warn("skipping damaged checkpoint: %s", rl_error_message());
            }
        }
        io_ckpt_list_free(paths, n);
    }
    int rc = comm_bcast(result, sizeof *result, 0);
    if (rc == 0 && result->found) {
        snprintf(path, path_size, "%s", result->path);
        *info = result->info;
    }
    int found = (int)result->found;
    free(result);
    return rc < 0 ? RL_ERR : found;
}

int io_ckpt_open(io_ckpt **out, const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct stat st;
    if (stat(path, &st) != 0)
        return rl_fail("cannot open checkpoint %s", "run `ranklab verify RUN_DIR`", path);
    hid_t fapl = io_parallel_access();
    comm_watch_region_begin("opening a checkpoint (parallel HDF5)");
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    comm_watch_region_end();
    H5Pclose(fapl);
    if (file < 0)
        return rl_fail("cannot open checkpoint %s", "run `ranklab verify RUN_DIR`", path);
    io_ckpt *c = rl_xcalloc(1, sizeof *c);
    c->file = file;
    c->data_bytes = (uint64_t)st.st_size;
    snprintf(c->final_path, sizeof c->final_path, "%s", path);
    *out = c;
    return 0;
}

int64_t io_ckpt_size(io_ckpt *c, const char *name) {
    if (H5Lexists(c->file, name, H5P_DEFAULT) <= 0)
        return -1;
    hid_t set = H5Dopen2(c->file, name, H5P_DEFAULT);
    if (set < 0)
        return -1;
    hid_t space = H5Dget_space(set), type = H5Dget_type(set);
    int64_t n = (int64_t)H5Sget_simple_extent_npoints(space);
    size_t elem = H5Tget_size(type);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(set);
    /* A size the file cannot hold is a damaged file, never an allocation to attempt. */
    return n < 0 || elem == 0 || (uint64_t)n > c->data_bytes / elem ? -1 : n;
}

int io_ckpt_read(io_ckpt *c, const char *name, io_type type, int64_t offset, int64_t count,
                 void *data) {
    hid_t set = H5Dopen2(c->file, name, H5P_DEFAULT);
    if (set < 0)
        return rl_fail("checkpoint %s has no dataset %s",
                       "it was written by another experiment or version", c->final_path, name);
    hid_t space = H5Dget_space(set);
    hsize_t start[1] = {(hsize_t)offset}, n[1] = {(hsize_t)count};
    hid_t mem = H5Screate_simple(1, n, NULL);
    herr_t rc = -1;
    if (count == 0) {
        rc = 0;
    } else if (offset >= 0 && count > 0 &&
               offset + count <= (int64_t)H5Sget_simple_extent_npoints(space)) {
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, n, NULL);
        rc = io_h5_dread(set, mem_type(type), mem, space, H5P_DEFAULT, data);
    }
    H5Sclose(mem);
    H5Sclose(space);
    H5Dclose(set);
    return rc < 0 ? rl_fail("cannot read %s from checkpoint %s", "run `ranklab verify RUN_DIR`",
                            name, c->final_path)
                  : 0;
}

typedef struct {
    char **names;
    int n, cap;
} name_list;

static herr_t add_name(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)group;
    (void)info;
    name_list *l = data;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        char **grown = realloc(l->names, sizeof(char *) * (size_t)l->cap);
        if (!grown)
            return -1;
        l->names = grown;
    }
    l->names[l->n++] = rl_xstrdup(name);
    return 0;
}

int io_ckpt_list_group(io_ckpt *c, const char *group, char ***names, int *n) {
    name_list l = {NULL, 0, 0};
    int rc = 0;
    if (H5Lexists(c->file, group, H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(c->file, group, H5P_DEFAULT);
        if (g < 0 || H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, add_name, &l) < 0)
            rc = rl_fail("cannot list %s in checkpoint %s", "run `ranklab verify RUN_DIR`", group,
                         c->final_path);
        if (g >= 0)
            H5Gclose(g);
    }
    *names = l.names;
    *n = l.n;
    return rc;
}

void io_ckpt_close(io_ckpt *c) {
    if (!c)
        return;
    comm_watch_region_begin("closing a checkpoint (parallel HDF5)");
    H5Fclose(c->file);
    comm_watch_region_end();
    free(c);
}
