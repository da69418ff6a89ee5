/* The results file (DESIGN.md "Results file"), written by rank 0 with the serial driver; arrays
 * owned in slices by all ranks are written collectively with the MPI-IO driver. */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/io/fault.h"
#include "src/io/io.h"
#include "src/io/parallel.h"
#include "src/io/results_read.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RESULTS_SCHEMA_VERSION 1
#define METRICS_CHUNK 256

struct io_results {
    hid_t file;
    char run_dir[PATH_MAX];
    int n_metrics;
    char **metric_names; /* (n_metrics) copies, to reopen the datasets */
    hid_t *metric_sets;  /* (n_metrics + 1): step first */
    int64_t rows;
};

static hid_t string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* A failed write into the file holding obj: io_fail_write names the file and tells a full disk
 * from other failures. */
static int fail_write(hid_t obj, const char *what, const char *name) {
    char path[PATH_MAX] = "results file", message[320];
    H5Fget_name(obj, path, sizeof path);
    snprintf(message, sizeof message, "%s %s", what, name);
    return io_fail_write(path, 0, message);
}

static int write_scalar_attr(hid_t obj, const char *name, hid_t type, const void *value) {
    return io_h5_write_scalar_attr(obj, name, type, value) < 0
               ? fail_write(obj, "cannot write attribute", name)
               : 0;
}

static int write_string_attr(hid_t obj, const char *name, const char *value) {
    hid_t type = string_type();
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    int rc = write_scalar_attr(obj, name, type, &value);
    H5Tclose(type);
    return rc;
}

static hid_t open_readonly(const char *path);
static int read_string_attr(hid_t obj, const char *name, char *value, size_t size);

/* The fingerprint's "key=value" lines as root attributes "fingerprint.key". */
static int write_fingerprint(hid_t file, const char *lines) {
    int rc = 0;
    for (const char *line = lines; rc == 0 && line && *line;) {
        size_t len = strcspn(line, "\n");
        const char *eq = memchr(line, '=', len);
        if (eq) {
            char name[96], *value = rl_xstrdup(eq + 1);
            snprintf(name, sizeof name, "fingerprint.%.*s", (int)(eq - line), line);
            value[len - (size_t)(eq + 1 - line)] = '\0';
            rc = write_string_attr(file, name, value);
            free(value);
        }
        line += len + (line[len] == '\n');
    }
    return rc;
}

hid_t io_results_open_read(const char *path) {
    return open_readonly(path);
}

int io_results_string_attr(hid_t obj, const char *name, char *value, size_t size) {
    return read_string_attr(obj, name, value, size);
}

void io_hdf5_version(char *out, size_t n) {
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
    snprintf(out, n, "%u.%u.%u", major, minor, release);
}

static int write_config_group(hid_t file, const rl_config *cfg) {
    hid_t group = H5Gcreate2(file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0)
        return fail_write(file, "cannot create", "/config");
    int rc = 0;
    const char *value;
    const rl_cfg_spec *s;
    for (size_t i = 0; rc == 0 && (s = rl_cfg_item(cfg, i, &value)); i++) {
        switch (s->type) {
        case RL_CFG_INT: {
            long long v = rl_cfg_int(cfg, s->key);
            rc = write_scalar_attr(group, s->key, H5T_NATIVE_LLONG, &v);
            break;
        }
        case RL_CFG_FLOAT: {
            double v = rl_cfg_float(cfg, s->key);
            rc = write_scalar_attr(group, s->key, H5T_NATIVE_DOUBLE, &v);
            break;
        }
        case RL_CFG_BOOL: {
            signed char v = (signed char)rl_cfg_bool(cfg, s->key);
            rc = write_scalar_attr(group, s->key, H5T_NATIVE_SCHAR, &v);
            break;
        }
        case RL_CFG_STRING:
        case RL_CFG_CHOICE:
            rc = write_string_attr(group, s->key, value);
            break;
        }
    }
    H5Gclose(group);
    return rc;
}

static hid_t create_metric_set(hid_t group, const char *name, hid_t type) {
    hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {METRICS_CHUNK};
    hid_t space = H5Screate_simple(1, dims, maxdims);
    hid_t props = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(props, 1, chunk);
    H5Pset_deflate(props, 4);
    hid_t set = H5Dcreate2(group, name, type, space, H5P_DEFAULT, props, H5P_DEFAULT);
    H5Pclose(props);
    H5Sclose(space);
    return set;
}

static void partial_path(const io_results *r, char *path, size_t n) {
    snprintf(path, n, "%s/results.h5.partial", r->run_dir);
}

void io_results_close(io_results *r) {
    if (!r)
        return;
    for (int i = 0; r->metric_sets && i <= r->n_metrics; i++)
        if (r->metric_sets[i] >= 0)
            H5Dclose(r->metric_sets[i]);
    free(r->metric_sets);
    for (int i = 0; r->metric_names && i < r->n_metrics; i++)
        free(r->metric_names[i]);
    free(r->metric_names);
    if (r->file >= 0)
        H5Fclose(r->file);
    free(r);
}

int io_results_create(io_results **out, const char *run_dir, const io_results_meta *meta,
                      const rl_config *cfg, const char *const *metric_names, int n_metrics) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    io_results *r = rl_xcalloc(1, sizeof *r);
    r->file = -1;
    snprintf(r->run_dir, sizeof r->run_dir, "%s", run_dir);
    char path[PATH_MAX + 32];
    partial_path(r, path, sizeof path);
    r->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (r->file < 0) {
        io_results_close(r);
        return rl_fail("cannot create %s", "check that the run directory is writable", path);
    }
    char created[32], *config_text = rl_cfg_text(cfg);
    time_t now = time(NULL);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    int version = RESULTS_SCHEMA_VERSION;
    long long seed = (long long)meta->seed;
    int rc = write_scalar_attr(r->file, "schema_version", H5T_NATIVE_INT, &version);
    rc = rc ? rc : write_string_attr(r->file, "experiment", meta->experiment);
    rc = rc ? rc : write_string_attr(r->file, "run_id", meta->run_id);
    rc = rc ? rc : write_string_attr(r->file, "status", "running");
    rc = rc ? rc : write_scalar_attr(r->file, "world_size", H5T_NATIVE_INT, &meta->world_size);
    rc = rc ? rc : write_scalar_attr(r->file, "seed", H5T_NATIVE_LLONG, &seed);
    rc = rc ? rc : write_string_attr(r->file, "git_sha", RANKLAB_GIT_SHA);
    rc = rc ? rc : write_string_attr(r->file, "created_utc", created);
    rc = rc ? rc : write_string_attr(r->file, "config_text", config_text);
    rc = rc ? rc : write_string_attr(r->file, "inputs", meta->inputs);
    rc = rc ? rc : write_fingerprint(r->file, meta->fingerprint);
    const char *job = getenv("SLURM_JOB_ID"), *task = getenv("SLURM_ARRAY_TASK_ID");
    if (job)
        rc = rc ? rc : write_string_attr(r->file, "slurm_job_id", job);
    if (task)
        rc = rc ? rc : write_string_attr(r->file, "array_task_id", task);
    free(config_text);
    rc = rc ? rc : write_config_group(r->file, cfg);
    hid_t groups[3];
    const char *group_names[3] = {"metrics", "final", "arrays"};
    for (int g = 0; g < 3; g++) {
        groups[g] = H5Gcreate2(r->file, group_names[g], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (groups[g] < 0 && rc == 0)
            rc = fail_write(r->file, "cannot create group", group_names[g]);
    }
    r->n_metrics = n_metrics;
    r->metric_names = rl_xmalloc(sizeof(char *) * (size_t)(n_metrics + 1));
    for (int i = 0; i < n_metrics; i++)
        r->metric_names[i] = rl_xstrdup(metric_names[i]);
    r->metric_sets = rl_xmalloc(sizeof(hid_t) * (size_t)(n_metrics + 1));
    for (int i = 0; i <= n_metrics; i++)
        r->metric_sets[i] = groups[0] < 0 ? -1
                            : i == 0      ? create_metric_set(groups[0], "step", H5T_NATIVE_LLONG)
                                     : create_metric_set(groups[0], metric_names[i - 1],
                                                         H5T_NATIVE_DOUBLE);
    for (int i = 0; i <= n_metrics && rc == 0; i++)
        if (r->metric_sets[i] < 0)
            rc = rl_fail("cannot create metric dataset %s", "metric names must be unique",
                         i ? metric_names[i - 1] : "step");
    for (int g = 0; g < 3; g++)
        if (groups[g] >= 0)
            H5Gclose(groups[g]);
    if (rc == 0 && H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
        rc = fail_write(r->file, "cannot flush", "the new file");
    if (rc != 0) {
        io_results_close(r);
        return RL_ERR;
    }
    *out = r;
    return 0;
}

static int append_value(hid_t set, int64_t row, hid_t type, const void *value) {
    hsize_t size[1] = {(hsize_t)row + 1}, start[1] = {(hsize_t)row}, count[1] = {1};
    if (H5Dset_extent(set, size) < 0)
        return -1;
    hid_t file_space = H5Dget_space(set), mem_space = H5Screate_simple(1, count, NULL);
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL);
    herr_t rc = io_h5_dwrite(set, type, mem_space, file_space, H5P_DEFAULT, value);
    H5Sclose(mem_space);
    H5Sclose(file_space);
    return rc < 0 ? -1 : 0;
}

int io_results_append(io_results *r, int64_t step, const double *values) {
    long long s = step;
    int rc = append_value(r->metric_sets[0], r->rows, H5T_NATIVE_LLONG, &s);
    for (int i = 0; i < r->n_metrics && rc == 0; i++)
        rc = append_value(r->metric_sets[i + 1], r->rows, H5T_NATIVE_DOUBLE, &values[i]);
    if (rc != 0 || H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
        return fail_write(r->file, "cannot append", "a metrics row");
    r->rows++;
    return 0;
}

int io_results_set_final(io_results *r, const char *name, double value) {
    char path[256];
    snprintf(path, sizeof path, "final/%s", name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t set = H5Dcreate2(r->file, path, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT);
    herr_t rc =
        set < 0 ? -1 : io_h5_dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value);
    if (set >= 0)
        H5Dclose(set);
    H5Sclose(space);
    return rc < 0 ? rl_fail("cannot write /final/%s", "final metric names must be unique", name)
                  : 0;
}

int io_results_write_array_f32(io_results *r, const char *name, const float *data, size_t n,
                               const char *attr_name, const char *attr_value) {
    char path[256];
    snprintf(path, sizeof path, "arrays/%s", name);
    hsize_t dims[1] = {n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t set = H5Dcreate2(r->file, path, H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT);
    herr_t rc =
        set < 0 ? -1 : io_h5_dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (rc >= 0 && attr_name)
        rc = write_string_attr(set, attr_name, attr_value);
    if (set >= 0)
        H5Dclose(set);
    H5Sclose(space);
    return rc < 0 ? fail_write(r->file, "cannot write array", name) : 0;
}

/* Rank 0: close the serial handle, keeping r for reopen_serial. */
static int close_serial(io_results *r) {
    for (int i = 0; i <= r->n_metrics; i++) {
        if (r->metric_sets[i] >= 0)
            H5Dclose(r->metric_sets[i]);
        r->metric_sets[i] = -1;
    }
    herr_t rc = H5Fclose(r->file);
    r->file = -1;
    return rc < 0 ? io_fail_write(r->run_dir, 0, "cannot close results.h5.partial") : 0;
}

static int reopen_serial(io_results *r) {
    char path[PATH_MAX + 32], set_path[300];
    partial_path(r, path, sizeof path);
    r->file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (r->file < 0)
        return rl_fail("cannot reopen %s", "check the run directory", path);
    for (int i = 0; i <= r->n_metrics; i++) {
        snprintf(set_path, sizeof set_path, "metrics/%s", i ? r->metric_names[i - 1] : "step");
        r->metric_sets[i] = H5Dopen2(r->file, set_path, H5P_DEFAULT);
        if (r->metric_sets[i] < 0)
            return rl_fail("cannot reopen /%s in %s", "the file may be damaged", set_path, path);
    }
    return 0;
}

/* Collective: create /arrays/NAME and write this rank's slice. */
static int write_slice(hid_t file, const char *name, int64_t global_count, int64_t offset,
                       int64_t count, const float *data) {
    char path[256];
    snprintf(path, sizeof path, "arrays/%s", name);
    hid_t set = io_parallel_write_slice(file, path, H5T_NATIVE_FLOAT, global_count, offset, count,
                                        data);
    if (set < 0)
        return rl_fail("cannot write /arrays/%s collectively",
                       "array names must be unique; check disk space", name);
    H5Dclose(set);
    return 0;
}

int io_results_write_slices_f32(io_results *r, const char *run_dir, int n_arrays,
                                const char *const *names, int64_t global_count, int64_t offset,
                                int64_t count, const float *const *slices) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* As for checkpoints: a collective write must not meet a full disk half-way. */
    uint64_t bytes = (uint64_t)n_arrays * ((uint64_t)global_count * sizeof(float) + (4u << 10));
    int rc = r ? io_reserve_space(run_dir, bytes) : 0;
    rc = rc ? rc : r ? close_serial(r) : 0;
    if (comm_agree_error(rc) < 0)
        return RL_ERR;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/results.h5.partial", run_dir);
    comm_watch_region_begin("the results' array write (parallel HDF5)");
    hid_t fapl = io_parallel_access();
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (file < 0)
        rc = rl_fail("cannot open %s with parallel HDF5",
                     "the run directory must be on a file system every rank sees", path);
    rc = comm_agree_error(rc);
    for (int k = 0; rc == 0 && k < n_arrays; k++)
        rc = comm_agree_error(write_slice(file, names[k], global_count, offset, count, slices[k]));
    if (file >= 0 && H5Fclose(file) < 0 && rc == 0)
        rc = io_fail_write(path, 0, "cannot close");
    if (r && reopen_serial(r) < 0 && rc == 0)
        rc = RL_ERR;
    rc = comm_agree_error(rc);
    comm_watch_region_end();
    return rc;
}

/* status (written last), then close, seal and commit the file; frees r. */
static int finish_results(io_results *r, const char *status) {
    char partial[PATH_MAX + 32], final_path[PATH_MAX + 32];
    partial_path(r, partial, sizeof partial);
    snprintf(final_path, sizeof final_path, "%s/results.h5", r->run_dir);
    int rc = write_string_attr(r->file, "status", status);
    hid_t file = r->file;
    r->file = -1;
    for (int i = 0; i <= r->n_metrics; i++) {
        H5Dclose(r->metric_sets[i]);
        r->metric_sets[i] = -1;
    }
    if (H5Fclose(file) < 0 && rc == 0)
        rc = io_fail_write(partial, 0, "cannot close");
    rc = rc ? rc : io_seal_file(partial);
    rc = rc ? rc : io_commit_file(partial, final_path);
    io_results_close(r);
    return rc;
}

int io_results_complete(io_results *r) {
    return finish_results(r, "complete");
}

int io_results_complete_pruned(io_results *r, const io_pruned *why) {
    hid_t group = H5Gcreate2(r->file, "pruned", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    long long rung = why->rung, peers = why->peers;
    int rc = group < 0 ? fail_write(r->file, "cannot create group", "pruned") : 0;
    rc = rc ? rc : write_string_attr(group, "rule", why->rule);
    rc = rc ? rc : write_string_attr(group, "metric", why->metric);
    rc = rc ? rc : write_string_attr(group, "mode", why->mode);
    rc = rc ? rc : write_scalar_attr(group, "rung", H5T_NATIVE_LLONG, &rung);
    rc = rc ? rc : write_scalar_attr(group, "value", H5T_NATIVE_DOUBLE, &why->value);
    rc = rc ? rc : write_scalar_attr(group, "median", H5T_NATIVE_DOUBLE, &why->median);
    rc = rc ? rc : write_scalar_attr(group, "peers", H5T_NATIVE_LLONG, &peers);
    rc = rc ? rc : write_string_attr(group, "peer_values", why->peer_values);
    rc = rc ? rc : write_string_attr(group, "summary", why->summary);
    if (group >= 0)
        H5Gclose(group);
    if (rc < 0) {
        io_results_close(r);
        return RL_ERR;
    }
    return finish_results(r, "pruned");
}

static int is_partial(const char *path) {
    size_t n = strlen(path);
    return n >= 8 && !strcmp(path + n - 8, ".partial");
}

/* Open a results file to read. A finished one must pass its checksum seal before HDF5 parses
 * it; a .partial one (a run still going, or stopped) has none yet. */
static hid_t open_readonly(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct stat st;
    if (stat(path, &st) != 0) {
        char partial[PATH_MAX + 16];
        snprintf(partial, sizeof partial, "%s.partial", path);
        int unfinished = !is_partial(path) && io_path_exists(partial);
        rl_fail("cannot open %s: %s", NULL, path,
                unfinished ? "the run is not finished (only results.h5.partial is there)"
                           : strerror(errno));
        rl_fail_hint("%s", unfinished ? "run its command again to finish it (it resumes)"
                                      : "check the path: a finished run's directory holds "
                                        "results.h5");
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        rl_fail("%s is a directory", "give the results.h5 in it", path);
        return -1;
    }
    if (!is_partial(path) && io_check_seal(path, NULL) < 0) {
        rl_fail_hint("a results file changed or damaged after its run finished cannot be "
                     "trusted: move it away and run the experiment again");
        return -1;
    }
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        rl_fail("cannot open %s as HDF5", "check the path; a partial file means the run is not "
                                          "finished",
                path);
    return file;
}

/* A scalar string attribute, fixed or variable length; -1 if it is anything else. */
static int read_string_attr(hid_t obj, const char *name, char *value, size_t size) {
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return -1;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    int rc = -1;
    if (H5Tget_class(type) == H5T_STRING && H5Sget_simple_extent_type(space) == H5S_SCALAR) {
        if (H5Tis_variable_str(type) > 0) {
            hid_t mem = string_type();
            char *s = NULL;
            if (io_h5_aread(attr, mem, &s) >= 0 && s) {
                snprintf(value, size, "%s", s);
                H5free_memory(s);
                rc = 0;
            }
            H5Tclose(mem);
        } else {
            size_t len = H5Tget_size(type);
            char *s = len < (1u << 20) ? calloc(1, len + 1) : NULL;
            if (s && io_h5_aread(attr, type, s) >= 0) {
                snprintf(value, size, "%s", s);
                rc = 0;
            }
            free(s);
        }
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(attr);
    return rc;
}

int io_results_read_attr(const char *path, const char *group, const char *name, char *value,
                         size_t size) {
    hid_t file = open_readonly(path);
    if (file < 0)
        return RL_ERR;
    hid_t obj = H5Oopen(file, group, H5P_DEFAULT);
    int rc = obj < 0 ? -1 : read_string_attr(obj, name, value, size);
    if (obj >= 0)
        H5Oclose(obj);
    H5Fclose(file);
    return rc < 0 ? rl_fail("%s has no string attribute '%s' in %s",
                            "is it a ranklab results file?", path, name, group)
                  : 0;
}

int io_results_check(const char *path, io_results_info *info) {
    memset(info, 0, sizeof *info);
    hid_t file = open_readonly(path);
    if (file < 0)
        return RL_ERR;
    int ok = read_string_attr(file, "experiment", info->experiment, sizeof info->experiment) == 0 &&
             read_string_attr(file, "run_id", info->run_id, sizeof info->run_id) == 0 &&
             read_string_attr(file, "status", info->status, sizeof info->status) == 0;
    if (ok && read_string_attr(file, "inputs", info->inputs, sizeof info->inputs) < 0)
        info->inputs[0] = '\0';
    H5Fclose(file);
    if (!ok)
        return rl_fail("%s is not a ranklab results file (no experiment, run_id or status)",
                       "give the results.h5 of a ranklab run", path);
    if (strcmp(info->status, "complete") != 0 && strcmp(info->status, "pruned") != 0)
        return rl_fail("%s is not a finished run: its status is \"%s\"",
                       is_partial(path) ? "the run is still going or was stopped: run the same "
                                          "command to finish it"
                                        : "results.h5 is only ever written complete: this one was "
                                          "made or edited by something else; move it away",
                       path, info->status);
    return 0;
}

int io_results_read_array_f32(const char *path, const char *name, float **data, size_t *n,
                              const char *attr_name, char *attr_value, size_t attr_size) {
    hid_t file = open_readonly(path);
    if (file < 0)
        return RL_ERR;
    char set_path[256];
    snprintf(set_path, sizeof set_path, "arrays/%s", name);
    hid_t set = H5Dopen2(file, set_path, H5P_DEFAULT);
    if (set < 0) {
        H5Fclose(file);
        return rl_fail("%s has no /arrays/%s", "was it written by an experiment that saves it?",
                       path, name);
    }
    hid_t space = H5Dget_space(set);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    hsize_t file_bytes = 0;
    H5Fget_filesize(file, &file_bytes);
    int rc = count >= 0 && (uint64_t)count <= file_bytes / sizeof(float) ? 0 : -1;
    float *buf = rc ? NULL : rl_xmalloc(sizeof(float) * (size_t)(count > 0 ? count : 1));
    if (rc == 0 && io_h5_dread(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = -1;
    if (rc == 0 && attr_name && read_string_attr(set, attr_name, attr_value, attr_size) < 0)
        rc = -1;
    H5Sclose(space);
    H5Dclose(set);
    H5Fclose(file);
    if (rc < 0) {
        free(buf);
        return rl_fail("cannot read /arrays/%s of %s", "the file may be damaged", name, path);
    }
    *data = buf;
    *n = (size_t)count;
    return 0;
}

/* "float64 (3, 4)": what a value of this type and shape is, for values inspect does not print. */
static void describe(hid_t type, hid_t space, char *out, size_t n) {
    const char *kind = "value";
    switch (H5Tget_class(type)) {
    case H5T_INTEGER: kind = "integer"; break;
    case H5T_FLOAT: kind = "float"; break;
    case H5T_STRING: kind = "string"; break;
    default: break;
    }
    hsize_t dims[H5S_MAX_RANK];
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    int len = snprintf(out, n, "%s%s", kind, rank > 0 ? " array (" : rank < 0 ? " (?)" : "");
    if (rank > 0 && H5Sget_simple_extent_dims(space, dims, NULL) == rank)
        for (int d = 0; d < rank && len < (int)n; d++)
            len += snprintf(out + len, n - (size_t)len, "%s%llu", d ? ", " : "",
                            (unsigned long long)dims[d]);
    if (rank > 0 && len < (int)n)
        snprintf(out + len, n - (size_t)len, ")");
}

static int is_number(hid_t type) {
    H5T_class_t c = H5Tget_class(type);
    return c == H5T_INTEGER || c == H5T_FLOAT;
}

static herr_t print_attr(hid_t obj, const char *name, const H5A_info_t *info, void *unused) {
    (void)info;
    (void)unused;
    char text[128] = "";
    if (read_string_attr(obj, name, text, sizeof text) == 0) {
        char *newline = strchr(text, '\n');
        if (newline)
            strcpy(newline, " ...");
        printf("  %-16s %s\n", name, text);
        return 0;
    }
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    double v = 0;
    if (is_number(type) && H5Sget_simple_extent_type(space) == H5S_SCALAR &&
        io_h5_aread(attr, H5T_NATIVE_DOUBLE, &v) >= 0)
        printf("  %-16s %.10g\n", name, v);
    else {
        describe(type, space, text, sizeof text);
        printf("  %-16s (%s)\n", name, text);
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(attr);
    return 0;
}

static herr_t print_dataset(hid_t group, const char *name, const H5L_info_t *info, void *unused) {
    (void)info;
    (void)unused;
    hid_t set = H5Dopen2(group, name, H5P_DEFAULT);
    if (set < 0)
        return 0;
    hid_t space = H5Dget_space(set), type = H5Dget_type(set);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    int rank = H5Sget_simple_extent_ndims(space), numeric = is_number(type);
    double v = 0;
    if (numeric && rank == 0 &&
        io_h5_dread(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0) {
        printf("  %-24s %.6g\n", name, v);
    } else if (numeric && rank == 1 && n > 0) {
        hsize_t start[1] = {(hsize_t)n - 1}, one[1] = {1};
        hid_t mem = H5Screate_simple(1, one, NULL);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, one, NULL);
        if (io_h5_dread(set, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, &v) >= 0)
            printf("  %-24s %lld values, last %.6g\n", name, (long long)n, v);
        else
            printf("  %-24s %lld values (unreadable)\n", name, (long long)n);
        H5Sclose(mem);
    } else if (n == 0) {
        printf("  %-24s empty\n", name);
    } else {
        char text[128];
        describe(type, space, text, sizeof text);
        printf("  %-24s (%s)\n", name, text);
    }
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(set);
    return 0;
}

int io_results_inspect(const char *path) {
    hid_t file = open_readonly(path);
    if (file < 0)
        return RL_ERR;
    printf("%s\n/ (attributes)\n", path);
    H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, NULL, print_attr, NULL);
    hid_t pruned = H5Gopen2(file, "pruned", H5P_DEFAULT);
    if (pruned >= 0) {
        printf("/pruned (attributes: why early stopping ended the run)\n");
        H5Aiterate2(pruned, H5_INDEX_NAME, H5_ITER_INC, NULL, print_attr, NULL);
        H5Gclose(pruned);
    }
    const char *groups[] = {"metrics", "final", "arrays"};
    for (int g = 0; g < 3; g++) {
        hid_t group = H5Gopen2(file, groups[g], H5P_DEFAULT);
        if (group < 0)
            continue;
        printf("/%s\n", groups[g]);
        H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, NULL, print_dataset, NULL);
        H5Gclose(group);
    }
    hid_t config = H5Gopen2(file, "config", H5P_DEFAULT);
    if (config >= 0) {
        H5O_info_t info;
        H5Oget_info2(config, &info, H5O_INFO_NUM_ATTRS);
        printf("/config: %llu keys (ranklab show-config prints them; h5py: f['config'].attrs)\n",
               (unsigned long long)info.num_attrs);
        H5Gclose(config);
    }
    H5Fclose(file);
    return 0;
}

/* ---- feature cache ---- */

/* Write a whole float32 dataset NAME of rank `rank` with dimensions dims. */
static int write_f32_set(hid_t file, const char *name, int rank, const hsize_t *dims,
                         const float *data) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t set =
        H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc =
        set < 0 ? -1 : io_h5_dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (set >= 0)
        H5Dclose(set);
    H5Sclose(space);
    return rc < 0 ? fail_write(file, "cannot write", name) : 0;
}

int io_features_write(const char *path, const char *key, const float *f, int64_t n, int k,
                      const float *params, int64_t n_params) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp)
        return rl_fail("path too long: %s", "use a shorter cache path", path);
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0)
        return rl_fail("cannot create the feature cache %s",
                       "check that its directory exists "
                       "and is writable",
                       tmp);
    hsize_t fd[2] = {(hsize_t)n, (hsize_t)k}, pd[1] = {(hsize_t)n_params};
    int rc = write_string_attr(file, "key", key);
    rc = rc ? rc : write_f32_set(file, "features", 2, fd, f);
    rc = rc ? rc : write_f32_set(file, "params", 1, pd, params);
    if (H5Fclose(file) < 0 && rc == 0)
        rc = io_fail_write(tmp, 0, "cannot close");
    rc = rc ? rc : io_seal_file(tmp);
    rc = rc ? rc : io_commit_file(tmp, path);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int io_features_read(const char *path, const char *key, int64_t n, int k, int64_t lo, int64_t count,
                     float *f, int64_t n_params, float *params) {
    if (!io_path_exists(path))
        return 0;
    hid_t file = open_readonly(path);
    if (file < 0)
        return RL_ERR;
    char have[1024] = "";
    hid_t fset = H5Dopen2(file, "features", H5P_DEFAULT),
          pset = H5Dopen2(file, "params", H5P_DEFAULT);
    hid_t fspace = fset < 0 ? -1 : H5Dget_space(fset), pspace = pset < 0 ? -1 : H5Dget_space(pset);
    hsize_t fd[2] = {0, 0}, pd[1] = {0};
    int ok = read_string_attr(file, "key", have, sizeof have) == 0 && fspace >= 0 && pspace >= 0 &&
             H5Sget_simple_extent_ndims(fspace) == 2 && H5Sget_simple_extent_ndims(pspace) == 1;
    if (ok) {
        H5Sget_simple_extent_dims(fspace, fd, NULL);
        H5Sget_simple_extent_dims(pspace, pd, NULL);
    }
    int rc = 0;
    if (!ok)
        rc = rl_fail("%s is not a feature cache (no key, /features or /params)",
                     "point the cache key at another file, or delete this one", path);
    else if (strcmp(have, key) != 0)
        rc = rl_fail("the feature cache %s was made by \"%s\", not by this run's \"%s\"",
                     "delete the file to recompute it, or point the cache at another file", path,
                     have, key);
    else if (fd[0] != (hsize_t)n || fd[1] != (hsize_t)k || pd[0] != (hsize_t)n_params)
        rc = rl_fail("the feature cache %s holds (%llu, %llu) features and %llu parameters, not "
                     "(%lld, %d) and %lld",
                     "delete the file to recompute it", path, (unsigned long long)fd[0],
                     (unsigned long long)fd[1], (unsigned long long)pd[0], (long long)n, k,
                     (long long)n_params);
    if (rc == 0) {
        hsize_t start[2] = {(hsize_t)lo, 0}, cnt[2] = {(hsize_t)count, (hsize_t)k};
        hid_t mem = H5Screate_simple(2, cnt, NULL);
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL);
        if (io_h5_dread(fset, H5T_NATIVE_FLOAT, mem, fspace, H5P_DEFAULT, f) < 0 ||
            io_h5_dread(pset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, params) < 0)
            rc = rl_fail("cannot read the feature cache %s", "the file may be damaged; delete it",
                         path);
        H5Sclose(mem);
    }
    if (fspace >= 0)
        H5Sclose(fspace);
    if (pspace >= 0)
        H5Sclose(pspace);
    if (fset >= 0)
        H5Dclose(fset);
    if (pset >= 0)
        H5Dclose(pset);
    H5Fclose(file);
    return rc ? rc : 1;
}
