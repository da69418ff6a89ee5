/* Checkpoints: parallel HDF5 files written collectively, checksummed per dataset, made durable
 * with temp + fsync + rename + fsync of the directory, verified before use (see io.h). */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/io/io.h"
#include "src/io/parallel.h"

#include <dirent.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define CKPT_FORMAT "ranklab-checkpoint"
#define CKPT_VERSION 1

struct io_ckpt {
    hid_t file;
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

static int write_attr(hid_t obj, const char *name, hid_t type, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, type, value);
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    return rc < 0 ? rl_fail("cannot write checkpoint attribute %s", "check disk space", name) : 0;
}

static int write_text_attr(hid_t obj, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value) + 1);
    int rc = write_attr(obj, name, type, value);
    H5Tclose(type);
    return rc;
}

static int read_text_attr(hid_t obj, const char *name, char *value, size_t size) {
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return -1;
    hid_t type = H5Aget_type(attr);
    size_t len = H5Tget_size(type);
    int rc = -1;
    if (H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) <= 0 && len <= size &&
        H5Aread(attr, type, value) >= 0) {
        value[len ? len - 1 : 0] = '\0';
        rc = 0;
    }
    H5Tclose(type);
    H5Aclose(attr);
    return rc;
}

static int read_i64_attr(hid_t obj, const char *name, int64_t *value) {
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return -1;
    long long v = 0;
    herr_t rc = H5Aread(attr, H5T_NATIVE_LLONG, &v);
    H5Aclose(attr);
    *value = v;
    return rc < 0 ? -1 : 0;
}

int io_ckpt_begin(io_ckpt **out, const char *ckpt_dir, int64_t step, const char *run_id,
                  const char *config_text) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (comm_any_failed(comm_rank() == 0 && io_make_dir(ckpt_dir) < 0))
        return comm_rank() == 0 ? RL_ERR
                                : rl_fail("rank 0 cannot create %s", "see rank 0's error", ckpt_dir);
    io_ckpt *c = rl_xcalloc(1, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s", ckpt_dir);
    snprintf(c->final_path, sizeof c->final_path, "%s/step-%010lld.h5", ckpt_dir, (long long)step);
    snprintf(c->tmp_path, sizeof c->tmp_path, "%s.tmp", c->final_path);
    hid_t fapl = io_parallel_access();
    c->file = H5Fcreate(c->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (c->file < 0) {
        rl_fail("cannot create checkpoint %s", "check that the run directory is writable",
                c->tmp_path);
        free(c);
        return RL_ERR;
    }
    long long s = step, version = CKPT_VERSION;
    int rc = write_text_attr(c->file, "format", CKPT_FORMAT);
    rc = rc ? rc : write_attr(c->file, "version", H5T_NATIVE_LLONG, &version);
    rc = rc ? rc : write_attr(c->file, "step", H5T_NATIVE_LLONG, &s);
    rc = rc ? rc : write_text_attr(c->file, "run_id", run_id);
    rc = rc ? rc : write_text_attr(c->file, "config_text", config_text);
    if (rc) {
        H5Fclose(c->file);
        free(c);
        return RL_ERR;
    }
    *out = c;
    return 0;
}

int io_ckpt_write(io_ckpt *c, const char *name, io_type type, int64_t global_count,
                  int64_t offset, int64_t count, const void *data) {
    int p = comm_size();
    int64_t mine[2] = {(int64_t)crc32(0L, data, (uInt)(count * (int64_t)type_size(type))),
                       count * (int64_t)type_size(type)};
    int64_t *all = rl_xmalloc(sizeof(int64_t) * 2 * (size_t)p);
    if (comm_allgather_i64(mine, 2, all) < 0) {
        free(all);
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
    if (covered != global_count * (int64_t)type_size(type))
        return rl_fail("checkpoint dataset %s: ranks wrote %lld of %lld bytes",
                       "a bug: slices must tile the dataset", name, (long long)covered,
                       (long long)(global_count * (int64_t)type_size(type)));

    hid_t set = io_parallel_write_slice(c->file, name, mem_type(type), global_count, offset,
                                        count, data);
    long long crc_value = (long long)crc;
    int rc = set < 0 ? -1 : write_attr(set, "crc32", H5T_NATIVE_LLONG, &crc_value);
    if (set >= 0)
        H5Dclose(set);
    return rc < 0 ? rl_fail("cannot write checkpoint dataset %s", "check disk space", name) : 0;
}

static int compare_desc(const void *a, const void *b) {
    return strcmp(*(char *const *)b, *(char *const *)a);
}

int io_ckpt_list(const char *ckpt_dir, char ***paths, int *n) {
    *paths = NULL;
    *n = 0;
    DIR *d = opendir(ckpt_dir);
    if (!d)
        return 0;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "step-", 5) != 0 || len < 8 || strcmp(e->d_name + len - 3, ".h5"))
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
        (*paths)[(*n)++] = rl_xstrdup(path);
    }
    closedir(d);
    qsort(*paths, (size_t)*n, sizeof(char *), compare_desc);
    return 0;
}

static void free_list(char **paths, int n) {
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

int io_ckpt_commit(io_ckpt *c, int keep) {
    long long complete = 1;
    int rc = write_attr(c->file, "complete", H5T_NATIVE_LLONG, &complete);
    if (H5Fclose(c->file) < 0 && rc == 0)
        rc = rl_fail("cannot close checkpoint %s", "check disk space", c->tmp_path);
    if (comm_rank() == 0 && rc == 0) {
        rc = io_fsync_file(c->tmp_path);
        if (rc == 0 && rename(c->tmp_path, c->final_path) != 0)
            rc = rl_fail("cannot rename %s", "check the run directory", c->tmp_path);
        rc = rc ? rc : io_fsync_dir(c->dir);
        char **paths;
        int n;
        io_ckpt_list(c->dir, &paths, &n);
        for (int i = keep; rc == 0 && i < n; i++)
            unlink(paths[i]);
        free_list(paths, n);
    }
    int failed = comm_any_failed(rc != 0);
    free(c);
    if (failed && rc == 0)
        return rl_fail("another rank failed to write the checkpoint", "see rank 0's error");
    return failed ? RL_ERR : 0;
}

typedef struct {
    int bad;
    char reason[512];
} verify_state;

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
    size_t bytes = (size_t)H5Sget_simple_extent_npoints(space) * H5Tget_size(type);
    void *buf = rl_xmalloc(bytes);
    if (bytes > 0 && H5Dread(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        st->bad = 1;
        snprintf(st->reason, sizeof st->reason, "dataset %s cannot be read", name);
    } else {
        uLong crc = crc32(crc32(0L, Z_NULL, 0), buf, (uInt)bytes);
        if ((int64_t)crc != expected) {
            st->bad = 1;
            snprintf(st->reason, sizeof st->reason,
                     "dataset %s fails its checksum (crc32 %08lx, expected %08llx)", name, crc,
                     (unsigned long long)expected);
        }
    }
    free(buf);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(set);
    return 0;
}

int io_ckpt_verify(const char *path, int64_t *step, char *run_id, size_t run_id_size) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return rl_fail("%s: not a readable HDF5 file (truncated or damaged)",
                       "delete it; the run resumes from the previous checkpoint", path);
    char format[64] = "";
    int64_t complete = 0;
    verify_state st = {0, ""};
    if (read_text_attr(file, "format", format, sizeof format) < 0 || strcmp(format, CKPT_FORMAT))
        snprintf(st.reason, sizeof st.reason, "not a ranklab checkpoint"), st.bad = 1;
    else if (read_i64_attr(file, "complete", &complete) < 0 || complete != 1)
        snprintf(st.reason, sizeof st.reason, "incomplete (never committed)"), st.bad = 1;
    else if (read_i64_attr(file, "step", step) < 0 ||
             read_text_attr(file, "run_id", run_id, run_id_size) < 0)
        snprintf(st.reason, sizeof st.reason, "missing step or run_id"), st.bad = 1;
    else
        H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, verify_object, &st, H5O_INFO_BASIC);
    H5Fclose(file);
    if (st.bad)
        return rl_fail("%s: %s", "delete it; the run resumes from the previous checkpoint", path,
                       st.reason);
    return 0;
}

int io_ckpt_find_latest(const char *ckpt_dir, char *path, size_t path_size, int64_t *step,
                        char *run_id) {
    struct {
        int64_t found, step;
        char run_id[64];
        char path[PATH_MAX];
    } result = {0, 0, "", ""};
    if (comm_rank() == 0) {
        char **paths;
        int n;
        io_ckpt_list(ckpt_dir, &paths, &n);
        for (int i = 0; i < n && !result.found; i++) {
            if (io_ckpt_verify(paths[i], &result.step, result.run_id, sizeof result.run_id) == 0) {
                result.found = 1;
                snprintf(result.path, sizeof result.path, "%s", paths[i]);
            } else {
                rl_log_warn("skipping damaged checkpoint: %s", rl_error_message());
            }
        }
        free_list(paths, n);
    }
    if (comm_bcast(&result, sizeof result, 0) < 0)
        return RL_ERR;
    if (result.found) {
        snprintf(path, path_size, "%s", result.path);
        *step = result.step;
        memcpy(run_id, result.run_id, sizeof result.run_id);
    }
    return (int)result.found;
}

int io_ckpt_open(io_ckpt **out, const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = io_parallel_access();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (file < 0)
        return rl_fail("cannot open checkpoint %s", "run `ranklab verify RUN_DIR`", path);
    io_ckpt *c = rl_xcalloc(1, sizeof *c);
    c->file = file;
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
    hid_t space = H5Dget_space(set);
    int64_t n = (int64_t)H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    H5Dclose(set);
    return n;
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
    } else if (offset + count <= (int64_t)H5Sget_simple_extent_npoints(space)) {
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, n, NULL);
        rc = H5Dread(set, mem_type(type), mem, space, H5P_DEFAULT, data);
    }
    H5Sclose(mem);
    H5Sclose(space);
    H5Dclose(set);
    return rc < 0 ? rl_fail("cannot read %s from checkpoint %s", "run `ranklab verify RUN_DIR`",
                            name, c->final_path)
                  : 0;
}

void io_ckpt_close(io_ckpt *c) {
    if (!c)
        return;
    H5Fclose(c->file);
    free(c);
}
