/* The metrics history of a run: rows of named values set one by one, appended to results.h5
 * (rank 0) and kept by every rank, saved in checkpoints with the names (see run.h). */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/run/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "name\n" for every metric, for the checkpoint. */
static char *joined_names(const rl_run *run) {
    size_t len = 1;
    for (int i = 0; i < run->n_metrics; i++)
        len += strlen(run->metric_names[i]) + 1;
    char *text = rl_xmalloc(len), *p = text;
    for (int i = 0; i < run->n_metrics; i++)
        p += sprintf(p, "%s\n", run->metric_names[i]);
    *p = '\0';
    return text;
}

int run_metrics_init(rl_run *run, const char *const *names, int n_names) {
    for (int i = 0; i < n_names; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return rl_fail("metric %s named twice", "a bug in the experiment", names[i]);
    run->metric_names = names;
    run->n_metrics = n_names;
    run->pending = rl_xcalloc((size_t)n_names + 1, sizeof(double));
    run->is_set = rl_xcalloc((size_t)n_names + 1, 1);
    run->names_text = joined_names(run);
    return 0;
}

void run_metrics_free(rl_run *run) {
    free(run->row_step);
    free(run->row_values);
    free(run->pending);
    free(run->is_set);
    free(run->names_text);
    run->names_text = NULL;
    run->row_step = NULL;
    run->row_values = NULL;
    run->pending = NULL;
    run->is_set = NULL;
}

static int column(const rl_run *run, const char *metric) {
    for (int i = 0; i < run->n_metrics; i++)
        if (!strcmp(run->metric_names[i], metric))
            return i;
    fprintf(stderr, "bug: metric %s is not one of %s's metrics\n", metric, run->exp->name);
    abort();
}

void rl_run_set(rl_run *run, const char *metric, double value) {
    int i = column(run, metric);
    run->pending[i] = value;
    run->is_set[i] = 1;
}

int rl_run_record(rl_run *run, int64_t step) {
    for (int i = 0; i < run->n_metrics; i++)
        if (!run->is_set[i])
            return rl_fail("metric %s of step %lld was not set", "a bug in the experiment",
                           run->metric_names[i], (long long)step);
    memset(run->is_set, 0, (size_t)run->n_metrics);
    return run_metrics_append(run, step, run->pending);
}

int64_t rl_run_rows(const rl_run *run) {
    return run->rows;
}

double rl_run_value(const rl_run *run, int64_t row, const char *metric) {
    int i = column(run, metric);
    return row >= 0 && row < run->rows ? run->row_values[row * run->n_metrics + i] : NAN;
}

double rl_run_last(const rl_run *run, const char *metric) {
    return rl_run_value(run, run->rows - 1, metric);
}

const char *rl_run_last_text(const rl_run *run, const char *metric, char *out, size_t n) {
    if (run->rows == 0)
        snprintf(out, n, "—");
    else
        snprintf(out, n, "%.4f", rl_run_last(run, metric));
    return out;
}

int run_metrics_append(rl_run *run, int64_t step, const double *values) {
    if (run->rows == run->cap) {
        int64_t cap = run->cap ? 2 * run->cap : 64;
        int64_t *steps = realloc(run->row_step, sizeof(int64_t) * (size_t)cap);
        if (steps)
            run->row_step = steps;
        double *rows =
            realloc(run->row_values, sizeof(double) * (size_t)(cap * run->n_metrics + 1));
        if (rows)
            run->row_values = rows;
        if (!steps || !rows)
            return rl_fail("out of memory for the metrics history", NULL);
        run->cap = cap;
    }
    run->row_step[run->rows] = step;
    memcpy(run->row_values + run->rows * run->n_metrics, values,
           sizeof(double) * (size_t)run->n_metrics);
    run->rows++;
    return run->results ? io_results_append(run->results, step, values) : 0;
}

int run_metrics_save(rl_run *run, io_ckpt *c) {
    int mine = comm_rank() == 0;
    int64_t rows = run->rows, n = rows * run->n_metrics, len = (int64_t)strlen(run->names_text);
    /* Rows are stored row-major (rows, n_metrics) under the names they were recorded with. */
    int rc = io_ckpt_write(c, "metrics/names", IO_I8, len, 0, mine ? len : 0, run->names_text);
    rc =
        rc ? rc : io_ckpt_write(c, "metrics/step", IO_I64, rows, 0, mine ? rows : 0, run->row_step);
    rc = rc ? rc : io_ckpt_write(c, "metrics/values", IO_F64, n, 0, mine ? n : 0, run->row_values);
    return rc;
}

int run_metrics_restore(rl_run *run, io_ckpt *c) {
    const char *other = "checkpoint %s has no metrics history of this experiment's metrics";
    const char *hint = "it was written by another version; delete the run directory";
    int64_t rows = io_ckpt_size(c, "metrics/step"), len = io_ckpt_size(c, "metrics/names");
    if (rows < 0 || len < 0 || io_ckpt_size(c, "metrics/values") != rows * run->n_metrics)
        return rl_fail(other, hint, run->resume_path);
    char *stored = rl_xcalloc((size_t)len + 1, 1);
    int rc = io_ckpt_read(c, "metrics/names", IO_I8, 0, len, stored); /* reports its failure */
    if (rc == 0 && strcmp(stored, run->names_text) != 0)
        rc = rl_fail(other, hint, run->resume_path);
    free(stored);
    if (rc < 0)
        return RL_ERR;
    int64_t *steps = rl_xmalloc(sizeof(int64_t) * (size_t)(rows ? rows : 1));
    double *values = rl_xmalloc(sizeof(double) * (size_t)(rows * run->n_metrics + 1));
    rc = io_ckpt_read(c, "metrics/step", IO_I64, 0, rows, steps);
    rc = rc ? rc : io_ckpt_read(c, "metrics/values", IO_F64, 0, rows * run->n_metrics, values);
    run->rows = 0;
    for (int64_t r = 0; rc == 0 && r < rows; r++)
        rc = run_metrics_append(run, steps[r], values + r * run->n_metrics);
    free(steps);
    free(values);
    return rc;
}
