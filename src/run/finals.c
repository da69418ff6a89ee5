/* Finals of a run: staged by rl_run_final* while the run computes them, kept first in the final
 * checkpoint (ckpt/final.h5) with the metrics history, then written into results.h5, whose status
 * becomes "complete" last; a run whose newest checkpoint is final completes results.h5 from it
 * without recomputing (see run.h). */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/stop.h"
#include "src/run/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finals staged until the run is complete: scalars and arrays (rank 0's), and arrays owned in
 * slices by every rank. They go into the final checkpoint first, then into results.h5. */
typedef struct {
    char *name;
    double value;
} staged_scalar;

typedef struct {
    char *name, *attr_name, *attr_value; /* attr_name NULL: no attribute */
    float *data;
    int64_t n;
} staged_array;

typedef struct {
    char *name;
    float *slice; /* this rank's [offset, offset + count) */
    int64_t global, offset, count;
} staged_slice;

struct rl_finals {
    staged_scalar *scalars;
    staged_array *arrays;
    staged_slice *slices;
    int n_scalars, n_arrays, n_slices;
};


rl_finals *run_finals_new(void) {
    return rl_xcalloc(1, sizeof(rl_finals));
}

void run_finals_free(rl_finals *f) {
    if (!f)
        return;
    for (int i = 0; i < f->n_scalars; i++)
        free(f->scalars[i].name);
    for (int i = 0; i < f->n_arrays; i++) {
        free(f->arrays[i].name);
        free(f->arrays[i].attr_name);
        free(f->arrays[i].attr_value);
        free(f->arrays[i].data);
    }
    for (int i = 0; i < f->n_slices; i++) {
        free(f->slices[i].name);
        free(f->slices[i].slice);
    }
    free(f->scalars);
    free(f->arrays);
    free(f->slices);
    free(f);
}


static int final_name_taken(const rl_finals *f, const char *name) {
    for (int i = 0; i < f->n_scalars; i++)
        if (!strcmp(f->scalars[i].name, name))
            return 1;
    for (int i = 0; i < f->n_arrays; i++)
        if (!strcmp(f->arrays[i].name, name))
            return 1;
    for (int i = 0; i < f->n_slices; i++)
        if (!strcmp(f->slices[i].name, name))
            return 1;
    return 0;
}

static int check_final_name(const rl_finals *f, const char *name) {
    if (!name[0] || strchr(name, '/') || strchr(name, '\n') || strlen(name) > 200)
        return rl_fail("final result name \"%s\" is not a plain name", "a bug in the experiment",
                       name);
    if (final_name_taken(f, name))
        return rl_fail("two final results are named \"%s\"",
                       "a bug in the experiment, or a list key with a repeated value", name);
    return 0;
}

int rl_run_final(rl_run *run, const char *name, double value) {
    rl_finals *f = run->finals;
    if (comm_rank() != 0)
        return 0;
    if (check_final_name(f, name) < 0)
        return RL_ERR;
    f->scalars = realloc(f->scalars, sizeof *f->scalars * (size_t)(f->n_scalars + 1));
    if (!f->scalars)
        return rl_fail("out of memory staging final results", NULL);
    f->scalars[f->n_scalars++] = (staged_scalar){rl_xstrdup(name), value};
    return 0;
}

int rl_run_final_array(rl_run *run, const char *name, const float *data, int64_t n,
                       const char *attr_name, const char *attr_value) {
    rl_finals *f = run->finals;
    if (comm_rank() != 0)
        return 0;
    if (check_final_name(f, name) < 0)
        return RL_ERR;
    f->arrays = realloc(f->arrays, sizeof *f->arrays * (size_t)(f->n_arrays + 1));
    if (!f->arrays)
        return rl_fail("out of memory staging final results", NULL);
    staged_array *a = &f->arrays[f->n_arrays++];
    a->name = rl_xstrdup(name);
    a->attr_name = attr_name ? rl_xstrdup(attr_name) : NULL;
    a->attr_value = attr_name ? rl_xstrdup(attr_value ? attr_value : "") : NULL;
    a->n = n;
    a->data = rl_xmalloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    memcpy(a->data, data, sizeof(float) * (size_t)n);
    return 0;
}

int rl_run_final_slices(rl_run *run, int n_arrays, const char *const *names,
                        int64_t global_count, int64_t offset, int64_t count,
                        const float *const *slices) {
    rl_finals *f = run->finals;
    int rc = 0;
    for (int k = 0; rc == 0 && k < n_arrays; k++)
        rc = check_final_name(f, names[k]);
    if (comm_agree_error(rc) < 0)
        return RL_ERR;
    f->slices = realloc(f->slices, sizeof *f->slices * (size_t)(f->n_slices + n_arrays));
    if (!f->slices)
        return rl_fail("out of memory staging final results", NULL);
    for (int k = 0; k < n_arrays; k++) {
        staged_slice *s = &f->slices[f->n_slices++];
        s->name = rl_xstrdup(names[k]);
        s->global = global_count;
        s->offset = offset;
        s->count = count;
        s->slice = rl_xmalloc(sizeof(float) * (size_t)(count > 0 ? count : 1));
        memcpy(s->slice, slices[k], sizeof(float) * (size_t)count);
    }
    return 0;
}

/* Names joined by '\n' (rank 0's staged finals), for one text dataset. */
static char *join_names(const rl_finals *f, int arrays) {
    size_t len = 1;
    int n = arrays ? f->n_arrays : f->n_scalars;
    for (int i = 0; i < n; i++) {
        const staged_array *a = arrays ? &f->arrays[i] : NULL;
        len += strlen(arrays ? a->name : f->scalars[i].name) + 3;
        if (a && a->attr_name)
            len += strlen(a->attr_name) + strlen(a->attr_value);
    }
    char *text = rl_xmalloc(len), *p = text;
    for (int i = 0; i < n; i++) {
        const staged_array *a = arrays ? &f->arrays[i] : NULL;
        /* arrays: "name\tattr_name\tattr_value" (attr_name empty: none) */
        p += sprintf(p, "%s", arrays ? a->name : f->scalars[i].name);
        if (a)
            p += sprintf(p, "\t%s\t%s", a->attr_name ? a->attr_name : "",
                         a->attr_name ? a->attr_value : "");
        *p++ = '\n';
    }
    *p = '\0';
    return text;
}

/* Collective: the final checkpoint (final.h5): metrics history and every staged final. */
static int write_final_checkpoint(rl_run *run) {
    rl_finals *f = run->finals;
    int root = comm_rank() == 0;
    char *scalar_names = root ? join_names(f, 0) : NULL, *array_meta = root ? join_names(f, 1)
                                                                          : NULL;
    /* Sizes of rank 0's datasets, which the other ranks create with it. */
    int64_t sizes[5] = {0};
    double *values = NULL;
    int64_t *lengths = NULL;
    float *array_data = NULL;
    if (root) {
        sizes[0] = (int64_t)strlen(scalar_names);
        sizes[1] = f->n_scalars;
        sizes[2] = (int64_t)strlen(array_meta);
        sizes[3] = f->n_arrays;
        values = rl_xmalloc(sizeof(double) * (size_t)(f->n_scalars + 1));
        lengths = rl_xmalloc(sizeof(int64_t) * (size_t)(f->n_arrays + 1));
        for (int i = 0; i < f->n_scalars; i++)
            values[i] = f->scalars[i].value;
        for (int i = 0; i < f->n_arrays; i++) {
            lengths[i] = f->arrays[i].n;
            sizes[4] += f->arrays[i].n;
        }
        array_data = rl_xmalloc(sizeof(float) * (size_t)(sizes[4] + 1));
        for (int64_t i = 0, at = 0; i < f->n_arrays; at += f->arrays[i].n, i++)
            memcpy(array_data + at, f->arrays[i].data, sizeof(float) * (size_t)f->arrays[i].n);
    }
    io_ckpt *c;
    io_ckpt_info info;
    int64_t last_step = run->rows ? run->row_step[run->rows - 1] : 0;
    run_checkpoint_info(run, last_step, 1, &info);
    char *config_text = rl_cfg_text(run->cfg);
    int rc = comm_bcast(sizes, sizeof sizes, 0);
    rc = rc ? rc : io_ckpt_begin(&c, run->ckpt_dir, &info, config_text);
    free(config_text);
    if (rc == 0) {
#define MINE(n) (root ? (n) : 0)
        rc = io_ckpt_write(c, "final/scalar_names", IO_I8, sizes[0], 0, MINE(sizes[0]),
                           scalar_names);
        rc = rc ? rc
                : io_ckpt_write(c, "final/scalar_values", IO_F64, sizes[1], 0, MINE(sizes[1]),
                                values);
        rc = rc ? rc
                : io_ckpt_write(c, "final/array_meta", IO_I8, sizes[2], 0, MINE(sizes[2]),
                                array_meta);
        rc = rc ? rc
                : io_ckpt_write(c, "final/array_lengths", IO_I64, sizes[3], 0, MINE(sizes[3]),
                                lengths);
        rc = rc ? rc
                : io_ckpt_write(c, "final/array_values", IO_F32, sizes[4], 0, MINE(sizes[4]),
                                array_data);
#undef MINE
        for (int i = 0; rc == 0 && i < f->n_slices; i++) {
            char name[256];
            snprintf(name, sizeof name, "final/slices/%s", f->slices[i].name);
            rc = io_ckpt_write(c, name, IO_F32, f->slices[i].global, f->slices[i].offset,
                               f->slices[i].count, f->slices[i].slice);
        }
        rc = run_checkpoint_commit(run, c, rc);
    }
    free(scalar_names);
    free(array_meta);
    free(values);
    free(lengths);
    free(array_data);
    return rc;
}

/* Collective (every rank reads; rank 0 stages): the finals back from the final checkpoint. */
static int read_finals(rl_run *run, io_ckpt *c) {
    int64_t n_names = io_ckpt_size(c, "final/scalar_names"),
            n_values = io_ckpt_size(c, "final/scalar_values"),
            n_meta = io_ckpt_size(c, "final/array_meta"),
            n_arrays = io_ckpt_size(c, "final/array_lengths"),
            n_data = io_ckpt_size(c, "final/array_values");
    if (n_names < 0 || n_values < 0 || n_meta < 0 || n_arrays < 0 || n_data < 0)
        return rl_fail("%s has no finals", "a damaged final checkpoint: delete it to recompute",
                       run->resume_path);
    char *names = rl_xcalloc(1, (size_t)n_names + 1), *meta = rl_xcalloc(1, (size_t)n_meta + 1);
    double *values = rl_xmalloc(sizeof(double) * (size_t)(n_values + 1));
    int64_t *lengths = rl_xmalloc(sizeof(int64_t) * (size_t)(n_arrays + 1));
    float *data = rl_xmalloc(sizeof(float) * (size_t)(n_data + 1));
    int rc = io_ckpt_read(c, "final/scalar_names", IO_I8, 0, n_names, names);
    rc = rc ? rc : io_ckpt_read(c, "final/scalar_values", IO_F64, 0, n_values, values);
    rc = rc ? rc : io_ckpt_read(c, "final/array_meta", IO_I8, 0, n_meta, meta);
    rc = rc ? rc : io_ckpt_read(c, "final/array_lengths", IO_I64, 0, n_arrays, lengths);
    rc = rc ? rc : io_ckpt_read(c, "final/array_values", IO_F32, 0, n_data, data);
    char *save = NULL;
    int64_t i = 0, at = 0;
    for (char *line = strtok_r(names, "\n", &save); rc == 0 && line;
         line = strtok_r(NULL, "\n", &save))
        rc = i < n_values ? rl_run_final(run, line, values[i++]) : RL_ERR;
    i = 0;
    for (char *line = strtok_r(meta, "\n", &save); rc == 0 && line;
         line = strtok_r(NULL, "\n", &save), i++) {
        char *attr_name = strchr(line, '\t'), *attr_value = attr_name ? strchr(attr_name + 1, '\t')
                                                                      : NULL;
        if (!attr_value || i >= n_arrays || lengths[i] < 0 || at + lengths[i] > n_data) {
            rc = RL_ERR;
            break;
        }
        *attr_name++ = '\0';
        *attr_value++ = '\0';
        rc = rl_run_final_array(run, line, data + at, lengths[i], attr_name[0] ? attr_name : NULL,
                                attr_value);
        at += lengths[i];
    }
    free(names);
    free(meta);
    free(values);
    free(lengths);
    free(data);
    if (rc < 0)
        return rl_fail("%s: its finals do not read back",
                       "a damaged final checkpoint: delete it to recompute", run->resume_path);
    return 0;
}

/* Collective, like read_finals: the slices of the final checkpoint, whole, as arrays. */
static int read_final_slices(rl_run *run, io_ckpt *c) {
    char **names = NULL;
    int n = 0;
    int rc = io_ckpt_list_group(c, "final/slices", &names, &n);
    for (int i = 0; rc == 0 && i < n; i++) {
        char path[300];
        snprintf(path, sizeof path, "final/slices/%s", names[i]);
        int64_t count = io_ckpt_size(c, path);
        float *data = count < 0 ? NULL : rl_xmalloc(sizeof(float) * (size_t)(count + 1));
        rc = count < 0 ? RL_ERR : io_ckpt_read(c, path, IO_F32, 0, count, data);
        rc = rc ? rc : rl_run_final_array(run, names[i], data, count, NULL, NULL);
        free(data);
    }
    io_ckpt_list_free(names, n);
    return rc;
}

/* Rank 0 writes the staged scalars and arrays; the slices are written collectively. */
static int write_finals_to_results(rl_run *run) {
    rl_finals *f = run->finals;
    int rc = 0;
    if (comm_rank() == 0) {
        for (int i = 0; rc == 0 && i < f->n_scalars; i++)
            rc = io_results_set_final(run->results, f->scalars[i].name, f->scalars[i].value);
        for (int i = 0; rc == 0 && i < f->n_arrays; i++) {
            const staged_array *a = &f->arrays[i];
            rc = io_results_write_array_f32(run->results, a->name, a->data, (size_t)a->n,
                                            a->attr_name, a->attr_value);
        }
    }
    if (comm_agree_error(rc) < 0)
        return RL_ERR;
    /* Slices staged together (same extent and split) go out in one collective write. */
    for (int i = 0; i < f->n_slices;) {
        int n = 1;
        while (i + n < f->n_slices && f->slices[i + n].global == f->slices[i].global &&
               f->slices[i + n].offset == f->slices[i].offset)
            n++;
        const char **names = rl_xmalloc(sizeof(char *) * (size_t)n);
        const float **slices = rl_xmalloc(sizeof(float *) * (size_t)n);
        for (int k = 0; k < n; k++) {
            names[k] = f->slices[i + k].name;
            slices[k] = f->slices[i + k].slice;
        }
        rc = io_results_write_slices_f32(comm_rank() == 0 ? run->results : NULL, run->run_dir, n,
                                         names, f->slices[i].global, f->slices[i].offset,
                                         f->slices[i].count, slices);
        free(names);
        free(slices);
        if (comm_agree_error(rc) < 0)
            return RL_ERR;
        i += n;
    }
    return 0;
}

/* Collective: finals into results.h5, then status "complete" (sealed, renamed). */
static int complete_results(rl_run *run) {
    int rc = write_finals_to_results(run);
    if (rc == 0 && rl_fault_at("finals"))
        rc = rl_fail("fault injection: failing while writing the finals", NULL);
    if (comm_agree_error(rc) < 0)
        return RL_ERR;
    if (comm_rank() == 0) {
        rc = io_results_complete(run->results);
        run->results = NULL;
    }
    return comm_agree_error(rc);
}

int run_complete_from_final_checkpoint(rl_run *run) {
    rl_log_info("%s: its final checkpoint holds every result; completing results.h5 from it "
                "(nothing is recomputed)",
                run->run_dir);
    io_ckpt *c;
    if (run_checkpoint_open(run, &c) < 0)
        return RL_ERR;
    int rc = read_finals(run, c);
    rc = rc ? rc : read_final_slices(run, c);
    io_ckpt_close(c);
    if (comm_agree_error(rc) < 0 || complete_results(run) < 0)
        return RL_ERR;
    return 1;
}

int run_finish_pruned(rl_run *run) {
    int rc = 0;
    if (comm_rank() == 0) {
        rc = io_results_complete_pruned(run->results, &run->why);
        run->results = NULL;
    }
    return comm_agree_error(rc);
}

int run_finish(rl_run *run) {
    if (comm_agree_error(rl_run_final(run, "wall_seconds", rl_now() - run->t_start)) < 0)
        return RL_ERR;
    if (write_final_checkpoint(run) < 0)
        return RL_ERR;
    return complete_results(run);
}
