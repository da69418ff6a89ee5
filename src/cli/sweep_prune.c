/* Early stopping of a sweep's cells (early_stop = median; off by default): the median rule at
 * rungs. The decision lives in the cell: when its run has recorded `rung` rows of metrics (train:
 * epochs), rank 0 writes its metric there to CELL_DIR/rungs.tsv, reads the same line of every
 * peer (the sweep's other cells) that has reached that rung, and prunes the run when its value is
 * worse than their median (with at least min_peers of them). Which peers have reached a rung
 * depends on the order in which cells run, so the same sweep may prune other cells when run
 * again, in another order or on more machines: a pruned cell's results say so (status "pruned",
 * /pruned holding the decision's inputs), and its run id is the one it would have had anyway. */
#include "src/cli/sweep_internal.h"
#include "src/core/error.h"
#include "src/core/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNGS_FILE "rungs.tsv" /* "RUNG\tVALUE" lines, one per rung the cell reached */

int sweep_pruner_init(const sweep *sw, cell_pruner *out) {
    memset(out, 0, sizeof *out);
    const rl_config *s = sw->settings;
    if (!strcmp(rl_cfg_str(s, "sweep.early_stop"), "none"))
        return 0;
    if (!rl_cfg_str(s, "sweep.rungs")[0])
        return rl_fail("%s: early_stop = median needs its rungs", NULL, sw->path),
               rl_fail_hint("say after how many rows of metrics (train: epochs) the rule looks, "
                            "e.g. rungs = 2, 4, 8");
    if (rl_cfg_int_list(s, "sweep.rungs", 1, 1000000000, SWEEP_MAX_RUNGS, out->rungs,
                        &out->n_rungs) < 0)
        return rl_fail_context("%s", sw->path);
    out->metric = rl_cfg_str(s, "sweep.metric");
    out->maximize = !strcmp(rl_cfg_str(s, "sweep.mode"), "max");
    out->min_peers = rl_cfg_int(s, "sweep.min_peers");
    if (!out->metric[0])
        return rl_fail("%s: early stopping compares no metric",
                       "set metric = test_acc (or "
                       "another metric of the "
                       "experiment) in [sweep]",
                       sw->path);
    return 0;
}

/* The value a cell recorded at `rung` in its RUNGS_FILE; 0 if it has, -1 if not (yet). */
static int rung_value(const planned *p, int64_t cell, int64_t rung, double *value) {
    char path[PATH_MAX + 64], line[128];
    if (sweep_cell_path(p, cell, RUNGS_FILE, path, sizeof path) < 0)
        return -1;
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        char *end;
        found = strtoll(line, &end, 10) == rung && *end == '\t';
        if (found)
            *value = strtod(end + 1, NULL);
    }
    if (f)
        fclose(f);
    return found ? 0 : -1;
}

/* Add "rung\tvalue" to the cell's RUNGS_FILE (a rung seen again, when the cell resumed from
 * before it, replaces its line). */
static int record_rung(const planned *p, int64_t cell, int64_t rung, double value) {
    char path[PATH_MAX + 64], dir[PATH_MAX + 64], line[128];
    if (sweep_cell_path(p, cell, NULL, dir, sizeof dir) < 0 ||
        sweep_cell_path(p, cell, RUNGS_FILE, path, sizeof path) < 0)
        return RL_ERR;
    rl_text text = {0};
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strtoll(line, NULL, 10) != rung)
            rl_text_add(&text, "%s", line);
    if (f)
        fclose(f);
    rl_text_add(&text, "%lld\t%.17g\n", (long long)rung, value);
    int rc = sweep_write_text(dir, RUNGS_FILE, text.s);
    rl_text_free(&text);
    return rc;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int sweep_prune_decide(cell_pruner *pr, const rl_run *run, int64_t rows, io_pruned *why) {
    int at = 0;
    while (at < pr->n_rungs && pr->rungs[at] != rows)
        at++;
    if (at == pr->n_rungs)
        return 0;
    double value = rl_run_value(run, rows - 1, pr->metric);
    if (record_rung(pr->p, pr->cell, rows, value) < 0)
        rl_log_warn("early stopping: cannot record rung %lld (%s); peers will not see it",
                    (long long)rows, rl_error_message());
    /* The peers' values; one that is not a number (diverged) counts as the worst. */
    int64_t n_cells = pr->p->sw.n_cells, peers = 0;
    double *values = rl_xmalloc(sizeof(double) * (size_t)(n_cells + 1));
    rl_text list = {0};
    for (int64_t c = 0; c < n_cells; c++) {
        double v;
        if (c == pr->cell || rung_value(pr->p, c, rows, &v) < 0)
            continue;
        if (list.len < 900)
            rl_text_add(&list, "%scell %lld: %.6g", peers ? ", " : "", (long long)c, v);
        values[peers++] = isnan(v) ? (pr->maximize ? -INFINITY : INFINITY) : v;
    }
    int prune = 0;
    if (peers < pr->min_peers) {
        rl_log_info("early stopping at rung %lld: %lld peers have reached it, fewer than "
                    "min_peers = %lld: no decision",
                    (long long)rows, (long long)peers, (long long)pr->min_peers);
    } else {
        qsort(values, (size_t)peers, sizeof *values, compare_doubles);
        double median =
            peers % 2 ? values[peers / 2] : (values[peers / 2 - 1] + values[peers / 2]) / 2;
        prune = isnan(value) || (pr->maximize ? value < median : value > median);
        rl_log_info("early stopping at rung %lld: %s = %.6g, the median of %lld peers %.6g: %s",
                    (long long)rows, pr->metric, value, (long long)peers, median,
                    prune ? "pruned" : "goes on");
        if (prune) {
            memset(why, 0, sizeof *why);
            snprintf(why->rule, sizeof why->rule, "median");
            snprintf(why->metric, sizeof why->metric, "%s", pr->metric);
            snprintf(why->mode, sizeof why->mode, "%s", pr->maximize ? "max" : "min");
            why->rung = rows;
            why->value = value;
            why->median = median;
            why->peers = peers;
            snprintf(why->peer_values, sizeof why->peer_values, "%s", list.s);
            snprintf(why->summary, sizeof why->summary,
                     "median rule at rung %lld: %s = %.6g %s %.6g, the median of %lld peers "
                     "(%s)",
                     (long long)rows, pr->metric, value, pr->maximize ? "<" : ">", median,
                     (long long)peers, list.s);
            pr->pruned = 1;
        }
    }
    rl_text_free(&list);
    free(values);
    return prune;
}
