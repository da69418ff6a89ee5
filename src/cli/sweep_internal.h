/* Internal to `ranklab sweep` (src/cli/sweep*.c): the sweep file and its grid, a planned sweep
 * directory and the state of its cells, and the helpers the files share.
 *
 *   sweep.c        the command: dispatch, help, shared options and helpers
 *   sweep_grid.c   the sweep file, the grid of cells, the manifest, `plan`, a planned directory
 *   sweep_stage.c  stages: init.from = sweep:DIR?KEY, the upstream sweep and the cell it names
 *   sweep_cell.c   one cell: `run --cell` with its heartbeat, the state of cells, `status`
 *   sweep_prune.c  early stopping of a cell: the median rule at rungs
 *   sweep_local.c  `run --all`: every incomplete cell on this machine, N cells at a time
 *   sweep_slurm.c  the batch script from the template, `submit` and `resubmit`
 *
 * A sweep directory:
 *
 *   SWEEP_DIR/sweep.ini      copy of the sweep file (the experiment INI plus [sweep])
 *   SWEEP_DIR/manifest.tsv   cell, run_id, dir, one column per swept config key (canonical values)
 *   SWEEP_DIR/cells/NNNN-RUNID/  one run directory per cell (results.h5, ckpt/, sweep-cell.txt,
 *                                rungs.tsv with early stopping)
 *   SWEEP_DIR/logs/          the cells' output: JOB_TASK.out (Slurm), cell-NNNN.out (run --all)
 *   SWEEP_DIR/jobs/          the submitted sbatch scripts and submitted.tsv
 */
#ifndef RANKLAB_CLI_SWEEP_INTERNAL_H
#define RANKLAB_CLI_SWEEP_INTERNAL_H

#include "src/core/config.h"
#include "src/core/text.h"
#include "src/run/run.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SWEEP_MAX_KEYS 64
#define SWEEP_DEFAULT_STALE_SECONDS 120
/* `status` (and `run --all`) when some cells are not complete and none failed here. */
#define SWEEP_EXIT_NOT_COMPLETE 3

/* ---- the sweep file and its grid (sweep_grid.c) ---- */

typedef struct {
    char *key;     /* "section.name" */
    char **values; /* (n_values) as written */
    int n_values;
    int axis;
    char *origin;  /* the file that gave the values (the sweep file or one it includes) */
    int line;      /* where in origin the key is first given */
    char *sampler; /* "loguniform(1e-5, 1e-1)" as written when sampled (values: the draws) */
} swept_key;

typedef struct stage_ref stage_ref; /* sweep_stage.c */
typedef struct planned planned;

/* The cell of an upstream sweep that a cell starts from (init.from = sweep:...); p NULL: none. */
typedef struct {
    const planned *p;
    int64_t cell;
} upstream_cell;

typedef struct {
    char path[PATH_MAX];
    char *text; /* the file as read; when it includes others, what it sets as one file */
    const rl_experiment *exp;
    rl_config *settings; /* sweep.* keys, resolved */
    rl_text base_ini;    /* every section but [sweep] */
    rl_text settings_ini;
    swept_key keys[SWEEP_MAX_KEYS];
    int n_keys;
    char **zips; /* (n_zips) zip lines */
    int n_zips;
    int axis_len[SWEEP_MAX_KEYS];
    int n_axes;
    int64_t n_cells;
    stage_ref *refs; /* (n_refs) the upstream sweeps named by init.from = sweep:... */
    int n_refs;
} sweep;

/* The settings of [sweep] (sweep.ranks, sweep.time, ...) declared, not yet loaded or resolved. */
rl_config *sweep_settings_new(void);
/* The resolved config of a cell: defaults, the sweep file's sections, the cell's values, and
 * init.from = sweep:... resolved to its upstream cell's directory (*up, when up is not NULL). */
int sweep_cell_config(const sweep *sw, int64_t cell, rl_config **out, upstream_cell *up);
/* The resolved value of key, NULL when cfg has no such key. */
const char *sweep_config_value(const rl_config *cfg, const char *key);
/* What a cell asks for: sweep.ranks, sweep.cpus_per_rank and sweep.time, or the cell's values
 * where they are swept (e.g. ranks = 1, 4 zipped with model.spec). */
typedef struct {
    int ranks, cpus_per_rank;
    char time[32];
} cell_resources;
void sweep_cell_resources(const sweep *sw, int64_t cell, cell_resources *out);
/* The distinct resources of the cells, in the order of their first cell (*tuples), and each
 * cell's index into them (*group_of_cell, n_cells); returns how many. The caller frees both. */
int sweep_resource_groups(const sweep *sw, cell_resources **tuples, int **group_of_cell);
/* Fails unless value can go into a batch script as is (#SBATCH lines cannot quote); `what`
 * names it in the message. */
int sweep_check_script_value(const char *what, const char *value);
/* `ranklab sweep plan FILE --dir SWEEP_DIR`; argv after "plan". 0 or RL_ERR (stored). */
int sweep_cmd_plan(int argc, char **argv);

/* ---- a planned sweep directory (sweep_grid.c) ---- */

typedef struct {
    char run_id[17];
} cell_row;

struct planned {
    char dir[PATH_MAX];
    sweep sw;
    cell_row *rows; /* (sw.n_cells) */
};

/* Open SWEEP_DIR: its sweep.ini and manifest.tsv, checked against each other, and the sweeps its
 * stages start from. On failure p must still be freed. */
int sweep_planned_open(planned *p, const char *dir);
/* The same for an upstream sweep, depth stages below the one opened first. */
int sweep_planned_open_stage(planned *p, const char *dir, int depth);
void sweep_planned_free(planned *p);
/* cells/NNNN-RUNID, the directory of a cell inside its sweep directory. */
void sweep_cell_dir_name(int64_t cell, const char *run_id, char out[48]);
/* SWEEP_DIR/cells/NNNN-RUNID, or a file in it when name is not NULL. */
int sweep_cell_path(const planned *p, int64_t cell, const char *name, char *out, size_t n);

/* ---- stages (sweep_stage.c) ---- */

/* Open the upstream sweeps named by the values of init.from (fixed_from, may be NULL, and the
 * swept ones) of the form sweep:DIR?KEY&KEY=VALUE, DIR taken from sweep_dir; depth: how many
 * stages below the first sweep this one is. Errors name the reference. */
int sweep_stages_open(sweep *sw, const char *fixed_from, const char *sweep_dir, int depth);
void sweep_stages_free(sweep *sw);
/* When cfg's init.from names a stage: the upstream cell it matches (*up, when not NULL), and
 * init.from set to that cell's directory (absolute) in cfg, resolved again. */
int sweep_stage_resolve(const sweep *sw, rl_config *cfg, upstream_cell *up);
/* The upstream cell of a cell of p (up->p NULL: none). */
int sweep_cell_upstream(const planned *p, int64_t cell, upstream_cell *up);

/* ---- cells: running one, their state (sweep_cell.c) ---- */

/* WAITING: not complete, not running, and its upstream cell (stages) is not complete. PRUNED:
 * finished early by early stopping (done, like COMPLETE, but not a cell to start from). */
typedef enum {
    CELL_COMPLETE,
    CELL_RUNNING,
    CELL_FAILED,
    CELL_MISSING,
    CELL_WAITING,
    CELL_PRUNED,
    CELL_N_STATES
} cell_state;
/* The cells that `run --all` and `resubmit --failed` run again (not the pruned ones). */
#define CELL_TO_RUN(state)                                                                         \
    ((state) == CELL_FAILED || (state) == CELL_MISSING || (state) == CELL_WAITING)

const char *sweep_state_name(cell_state state); /* "complete", "running", ... */
/* The state of a cell from its directory; detail says why (results, heartbeat, checkpoint). A
 * heartbeat older than stale seconds is not running. */
cell_state sweep_cell_status(const planned *p, int64_t cell, double stale, char *detail, size_t n);
/* States of every cell (caller frees); prints the table when verbose. Counts per state. */
cell_state *sweep_all_states(const planned *p, double stale, int verbose,
                             int64_t counts[CELL_N_STATES]);
/* `ranklab sweep run SWEEP_DIR [--cell I]` on the ranks it was started with (MPI is set up by
 * the caller); argv after "run". The run's exit code, or RL_ERR (stored) before it starts. */
int sweep_cmd_run_cell(int argc, char **argv);
/* `ranklab sweep status`; the exit code (0 all complete, SWEEP_EXIT_NOT_COMPLETE) or RL_ERR. */
int sweep_cmd_status(int argc, char **argv);

/* ---- early stopping (sweep_prune.c) ---- */

#define SWEEP_MAX_RUNGS 64

/* Early stopping of one cell, from the sweep's settings (early_stop, rungs, metric, mode,
 * min_peers). */
typedef struct {
    const planned *p;
    int64_t cell;
    int64_t rungs[SWEEP_MAX_RUNGS];
    int n_rungs; /* 0: early stopping is off */
    const char *metric;
    int maximize;
    int64_t min_peers;
    int pruned; /* rank 0: the rule pruned the cell */
} cell_pruner;

/* The early-stopping settings of sw, checked (p and cell are the caller's to set). */
int sweep_pruner_init(const sweep *sw, cell_pruner *out);
/* rl_run_watch's rung on rank 0: at a rung, record the cell's metric and apply the median rule
 * to its peers' values there; 1 (and why) when the cell is pruned. */
int sweep_prune_decide(cell_pruner *pr, const rl_run *run, int64_t rows, io_pruned *why);

/* ---- run --all (sweep_local.c) ---- */

/* `ranklab sweep run SWEEP_DIR --all [--jobs N]`: the exit code, or RL_ERR (stored) before any
 * cell starts. */
int sweep_cmd_run_all(int argc, char **argv);

/* ---- Slurm (sweep_slurm.c) ---- */

/* `ranklab sweep submit` (resubmit = 0) and `resubmit --failed`: 0 or RL_ERR (stored). */
int sweep_cmd_submit(int argc, char **argv, int resubmit);

/* ---- shared options and helpers (sweep.c) ---- */

/* Options of status, submit and resubmit. */
typedef struct {
    const char *dir;
    const char *template_path;
    long max_array_size; /* 0: ask Slurm */
    double stale;
    int dry_run, failed;
} sweep_opts;

int sweep_parse_opts(int argc, char **argv, sweep_opts *o, const char *usage);
/* A whole number of 1 to 18 decimal digits, or -1. */
long long sweep_parse_whole(const char *text);
/* The time now in UTC, e.g. 2024-05-01T12:00:00Z. */
void sweep_utc_now(char *out, size_t n);
/* DIR/NAME written through io_write_text_atomic (temporary name, fsync, rename, fsync of DIR). */
int sweep_write_text(const char *dir, const char *name, const char *text);
/* The error a cell's log at path shows after offset `from` (at most its last 64 KiB): 1 and its
 * first "error: " line, with the HINT line after it as "\n    HINT: ..."; else 0 and its last
 * line (not empty, not a ---- rule), "" when there is no such file. */
int sweep_log_error(const char *path, off_t from, char *out, size_t n);
/* Comma list of sorted cells with ranges, each minus offset: 3,7,12-15. */
void sweep_format_cells(const int64_t *cells, int64_t n, int64_t offset, rl_text *out);

#endif
