/* Internal to `ranklab sweep` (src/cli/sweep*.c): the sweep file and its grid, a planned sweep
 * directory and the state of its cells, and the helpers the files share.
 *
 *   sweep.c        the command: dispatch, help, shared options and helpers
 *   sweep_grid.c   the sweep file, the grid of cells, the manifest, `plan`, a planned directory
 *   sweep_cell.c   one cell: `run --cell` with its heartbeat, the state of cells, `status`
 *   sweep_local.c  `run --all`: every incomplete cell on this machine, N cells at a time
 *   sweep_slurm.c  the batch script from the template, `submit` and `resubmit`
 *
 * A sweep directory:
 *
 *   SWEEP_DIR/sweep.ini      copy of the sweep file (the experiment INI plus [sweep])
 *   SWEEP_DIR/manifest.tsv   cell, run_id, dir, one column per swept config key (canonical values)
 *   SWEEP_DIR/cells/NNNN-RUNID/  one run directory per cell (results.h5, ckpt/, sweep-cell.txt)
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
    char *sampler; /* "loguniform(1e-5, 1e-1)" as written when sampled (values: the draws) */
} swept_key;

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
} sweep;

/* The settings of [sweep] (sweep.ranks, sweep.time, ...) declared, not yet loaded or resolved. */
rl_config *sweep_settings_new(void);
/* The resolved config of a cell: defaults, the sweep file's sections, the cell's values. */
int sweep_cell_config(const sweep *sw, int64_t cell, rl_config **out);
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

typedef struct {
    char dir[PATH_MAX];
    sweep sw;
    cell_row *rows; /* (sw.n_cells) */
} planned;

/* Open SWEEP_DIR: its sweep.ini and manifest.tsv, checked against each other. On failure p must
 * still be freed. */
int sweep_planned_open(planned *p, const char *dir);
void sweep_planned_free(planned *p);
/* SWEEP_DIR/cells/NNNN-RUNID, or a file in it when name is not NULL. */
int sweep_cell_path(const planned *p, int64_t cell, const char *name, char *out, size_t n);

/* ---- cells: running one, their state (sweep_cell.c) ---- */

typedef enum { CELL_COMPLETE, CELL_RUNNING, CELL_FAILED, CELL_MISSING } cell_state;

/* The state of a cell from its directory; detail says why (results, heartbeat, checkpoint). A
 * heartbeat older than stale seconds is not running. */
cell_state sweep_cell_status(const planned *p, int64_t cell, double stale, char *detail, size_t n);
/* States of every cell (caller frees); prints the table when verbose. Counts per state. */
cell_state *sweep_all_states(const planned *p, double stale, int verbose, int64_t counts[4]);
/* `ranklab sweep run SWEEP_DIR [--cell I]` on the ranks it was started with (MPI is set up by
 * the caller); argv after "run". The run's exit code, or RL_ERR (stored) before it starts. */
int sweep_cmd_run_cell(int argc, char **argv);
/* `ranklab sweep status`; the exit code (0 all complete, SWEEP_EXIT_NOT_COMPLETE) or RL_ERR. */
int sweep_cmd_status(int argc, char **argv);

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
/* Comma list of sorted cells with ranges, each minus offset: 3,7,12-15. */
void sweep_format_cells(const int64_t *cells, int64_t n, int64_t offset, rl_text *out);

#endif
