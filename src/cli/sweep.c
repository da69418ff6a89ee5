/* `ranklab sweep`: a grid of configs of one experiment, planned into a sweep directory, run on
 * this machine (`run --all`) or submitted as Slurm job arrays, one cell at a time (resuming
 * from checkpoints), checked from the files the cells write, and resubmitted where cells
 * failed. This file holds the command's dispatch and help, and the options and helpers its
 * parts share; sweep_internal.h lists the parts and the layout of a sweep directory. */
#include "src/cli/sweep.h"
#include "src/cli/sweep_internal.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/stop.h"
#include "src/io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *sweep_help =
    "usage:\n"
    "  ranklab sweep plan FILE --dir SWEEP_DIR\n"
    "  ranklab sweep run SWEEP_DIR --all [--jobs N]          (every cell, on this machine)\n"
    "  ranklab sweep submit SWEEP_DIR [--dry-run] [--template FILE] [--max-array-size N]\n"
    "  mpiexec -n P ranklab sweep run SWEEP_DIR [--cell I]\n"
    "  ranklab sweep status SWEEP_DIR [--stale SECONDS]\n"
    "  ranklab sweep resubmit SWEEP_DIR --failed [--dry-run] [--stale SECONDS] [...]\n"
    "\n"
    "A sweep file is an experiment's INI plus a [sweep] section. In [sweep], keys with a dot\n"
    "take comma lists of values and are swept; the other keys are the settings below:\n"
    "\n"
    "  [sweep]\n"
    "  experiment = train            ; the experiment every cell runs (required)\n"
    "  train.lr = 0.1, 0.01          ; swept: every combination (a grid) ...\n"
    "  train.batch = 64, 256\n"
    "  zip = train.lr, train.batch   ; ... except zipped keys, which move together\n"
    "  run.seed = 1, 2, 3            ; (one zip line per group of keys)\n"
    "  ranks = 2\n"
    "  time = 00:30:00\n"
    "  [train]\n"
    "  epochs = 5                    ; fixed for every cell\n"
    "\n"
    "Cells are numbered in file order, the last swept key fastest. A value holding a comma is\n"
    "quoted: attack.methods = \"zoqo,sign\", sign. A swept key given again (or continued on an\n"
    "indented line) adds values; any other key given twice is refused. A sweep file may start\n"
    "with `include = FILE` (as any config file, see ranklab run --help): FILE's sections,\n"
    "settings and lists come first, and the including file's replace them (a list replaces a\n"
    "list, keeping its place in the order); SWEEP_DIR/sweep.ini then holds what they set, as\n"
    "one file.\n"
    "\n"
    "Sampling: a key in [sweep] may be drawn instead of listed, with samples = N:\n"
    "  train.lr = loguniform(1e-5, 1e-1)   ; a (b/a)^u, 0 < a < b\n"
    "  train.momentum = uniform(0.5, 0.99) ; a + u (b - a)\n"
    "  train.optim = choice(sgd, adam)     ; one item, each as likely\n"
    "  samples = 20\n"
    "  sample_seed = 1\n"
    "The sampled keys make one axis of N cells (draw i of each), crossed with the lists. Draws "
    "are\n"
    "made at plan time by the counter-based RNG (Philox keyed by sample_seed, counter: the draw\n"
    "and the CRC-32 of the key's name), so the same file plans the same cells and run ids, in\n"
    "whatever order its keys are and whatever else is sampled. Numbers keep 6 significant digits\n"
    "(integer keys are rounded); the manifest holds the values drawn.\n"
    "\n"
    "Per-cell resources: ranks, cpus_per_rank and time may be lists too, zipped with the keys\n"
    "whose cells need them (they do not change a cell's config, so cells that differ in them\n"
    "alone are refused as the same run):\n"
    "  model.spec = mlp:784-64-10, mlp:784-1024-1024-10\n"
    "  ranks = 1, 4\n"
    "  time = 00:10:00, 02:00:00\n"
    "  zip = model.spec, ranks, time\n"
    "submit writes one array per (ranks, cpus_per_rank, time), its task ids the cells' numbers;\n"
    "run --all starts each cell with its own ranks.\n"
    "\n"
    "Stages: a sweep whose cells start from the cells of another, planned sweep:\n"
    "  init.from = sweep:../pretrain?run.seed     ; in [sweep], or `from =` in [init]\n"
    "names, for each cell, the cell of the sweep in ../pretrain (taken from this sweep's\n"
    "directory) whose run.seed equals the cell's own. Terms join with &, and KEY=VALUE asks for\n"
    "a value: sweep:../pretrain?run.seed&train.lr=0.01; without ?, that sweep has one cell.\n"
    "plan resolves it (a reference that matches no cell or several is refused): init.from\n"
    "becomes the absolute path of that cell's directory, which goes into the run id. A cell\n"
    "whose upstream cell is not complete is waiting; run --cell refuses it; run --all runs the\n"
    "upstream cells first (in their sweep), then each cell once its upstream is complete; submit\n"
    "makes Slurm wait for the upstream's queued job: --dependency=aftercorr:JOB when the array\n"
    "pairs 1:1 with it (task t starts from task t), afterok:JOB otherwise, and\n"
    "--kill-on-invalid-dep=yes. Submit the upstream sweep first: a cell whose upstream cell is\n"
    "neither complete nor queued is refused.\n"
    "\n"
    "Early stopping (off by default: what it decides depends on the order cells run in):\n"
    "  early_stop = median\n"
    "  rungs = 2, 4, 8       ; rows of metrics recorded (train: epochs)\n"
    "  metric = test_acc\n"
    "  mode = max            ; max: higher is better; min\n"
    "  min_peers = 2\n"
    "When a cell has recorded R rows and R is a rung, its rank 0 writes its metric there to\n"
    "CELL_DIR/rungs.tsv and reads the same of the sweep's other cells that have reached R; with\n"
    "min_peers of them or more, the cell is pruned if its value is worse than their median (not\n"
    "a number: worse than any). A pruned cell stops there: its results.h5 has status \"pruned\"\n"
    "and /pruned holds the rule, rung, metric, mode, value, median and the peers' values; status\n"
    "counts it done, run --all and resubmit leave it, and a cell that starts from it waits.\n"
    "Which peers have reached a rung depends on --jobs, the queue and throttle, so the same\n"
    "sweep may prune other cells when run again. Run ids do not change; a rung at a cell's last\n"
    "row decides nothing.\n"
    "\n"
    "Relative paths in the file (data.dir, init.from) are taken from the directory a cell\n"
    "runs in: where you submit or `run --all` from. Partition, time and the paths that go into\n"
    "the batch script must not need quoting (letters, digits and / . _ + , : = -).\n"
    "\n"
    "plan      resolves every cell and checks what needs no data (its model spec), errors\n"
    "          before anything is written; writes SWEEP_DIR/\n"
    "          sweep.ini and manifest.tsv (cell, run_id, dir, swept values) and prints the\n"
    "          count and resources. The run id is the one `ranklab run` gives the same config;\n"
    "          a cell runs in SWEEP_DIR/cells/NNNN-RUNID. SWEEP_DIR must be new or empty;\n"
    "          planning the same file again is a no-op, anything else there is refused.\n"
    "submit    writes SWEEP_DIR/jobs/NNN.sbatch from slurm/sweep.sbatch, an array of the cells\n"
    "          of each resource tuple (and upstream job, for stages), split into several\n"
    "          arrays above MaxArraySize, and submits it with sbatch; --dry-run prints the\n"
    "          script(s) instead. Logs: SWEEP_DIR/logs/JOB_TASK.out.\n"
    "run       runs one cell on the ranks it is started with; without --cell, I is\n"
    "          SLURM_ARRAY_TASK_ID. A complete cell is skipped, a partial one resumes from its\n"
    "          newest checkpoint. Exit codes as `ranklab run`: 75 = stopped after a checkpoint\n"
    "          (the array script requeues the task, at most sweep.max_requeues times).\n"
    "run --all runs every cell that is not complete (failed, missing or waiting; cells\n"
    "          `status` sees running elsewhere are left alone) on this machine, in cell order\n"
    "          (the upstream cells of stages first), as many at a time as fit in its cores\n"
    "          (ranks x cpus_per_rank each; a larger cell runs alone), or N at a time (--jobs\n"
    "          N): each is a child process `mpiexec -n RANKS ranklab sweep run SWEEP_DIR\n"
    "          --cell I` (RANKS: the cell's own), mpiexec found on PATH and the environment\n"
    "          passed on (OPENBLAS_NUM_THREADS = cpus_per_rank unless set; when a cell has\n"
    "          more ranks than the machine has cores, Open MPI is allowed to oversubscribe\n"
    "          with OMPI_MCA_rmaps_base_oversubscribe=1). Cell I's output is appended to\n"
    "          SWEEP_DIR/logs/cell-IIII.out. A failed cell does not stop the others. SIGINT\n"
    "          (Ctrl-C), SIGTERM or SIGUSR1/2: no new cell starts and the running ones get\n"
    "          USR2 (they checkpoint and exit 75); a second signal ends them at once. Exit 0\n"
    "          when every cell is complete (or pruned), 1 when a cell failed (they are\n"
    "          named), 75 when stopped, 3 when cells running elsewhere, or the cells some\n"
    "          start from, are not complete yet. Run the same command again to resume:\n"
    "          complete cells are skipped.\n"
    "status    reads the cell directories (not Slurm): complete (results.h5 status complete),\n"
    "          running (heartbeat younger than --stale, default 120 s, and its process, when\n"
    "          on this machine, still there), failed (started, not complete, not running;\n"
    "          the detail begins with the first failure a rank wrote: time, rank, host, pid,\n"
    "          step and error; or refused before it took its directory: the first error and\n"
    "          HINT of the last attempt in its newest log, logs/cell-NNNN.out or JOB_TASK.out),\n"
    "          missing (never started), waiting (failed or missing, and the cell it starts\n"
    "          from is not complete), pruned (by early stopping: done). Per cell: the step it\n"
    "          reached of its total and, while it runs, the time left at its rate since it\n"
    "          started or resumed (eta), from its heartbeat (rewritten every\n"
    "          log.progress_seconds). Exit 0 when every cell is complete or pruned, 3\n"
    "          otherwise.\n"
    "resubmit  --failed: submits the failed, missing and waiting cells only and prints their\n"
    "          array spec (e.g. 3,7,12-15). Refused while jobs of this sweep are still in the\n"
    "          queue.\n"
    "\n"
    "The Python side: /usr/bin/python3 analysis/report.py SWEEP_DIR (tables and plots).\n"
    "\n"
    "settings in [sweep] (written there without the \"sweep.\" prefix):\n";

/* ---- shared options and helpers ---- */

/* A whole number of 1 to 18 decimal digits, or -1. */
long long sweep_parse_whole(const char *text) {
    size_t digits = strspn(text, "0123456789");
    return digits >= 1 && digits <= 18 && !text[digits] ? strtoll(text, NULL, 10) : -1;
}

void sweep_utc_now(char *out, size_t n) {
    time_t now = time(NULL);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
}

/* DIR/NAME through io_write_text_atomic (temporary name, fsync, rename, fsync of DIR). */
int sweep_write_text(const char *dir, const char *name, const char *text) {
    char path[PATH_MAX + 64];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return rl_fail("path too long: %s/%s", "use a shorter sweep directory", dir, name);
    return io_write_text_atomic(path, text);
}

/* Comma list of cells with ranges, each minus offset: 3,7,12-15. */
void sweep_format_cells(const int64_t *cells, int64_t n, int64_t offset, rl_text *out) {
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j + 1 < n && cells[j + 1] == cells[j] + 1)
            j++;
        rl_text_add(out, "%s%lld", i ? "," : "", (long long)(cells[i] - offset));
        if (j > i)
            rl_text_add(out, "-%lld", (long long)(cells[j] - offset));
        i = j + 1;
    }
}

/* How much of the end of a failed cell's log is searched for its error. */
#define LOG_TAIL_BYTES 65536

int sweep_log_error(const char *path, off_t from, char *out, size_t n) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    fseeko(f, 0, SEEK_END);
    off_t end = ftello(f);
    fseeko(f, end - from > LOG_TAIL_BYTES ? end - LOG_TAIL_BYTES : from, SEEK_SET);
    char line[512], last[512] = "";
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (found == 1 && strstr(line, "HINT: ")) {
            snprintf(out + strlen(out), n - strlen(out), "\n    %s", line);
            found = 2;
        } else if (!found && !strncmp(line, "error: ", 7)) {
            snprintf(out, n, "%s", line);
            found = 1;
        } else if (found == 1) {
            found = 2;
        } else if (line[strspn(line, "- ")]) { /* not empty, not a ---- rule */
            snprintf(last, sizeof last, "%s", line);
        }
    }
    fclose(f);
    if (!found)
        snprintf(out, n, "%s", last);
    return found > 0;
}

int sweep_parse_opts(int argc, char **argv, sweep_opts *o, const char *usage) {
    memset(o, 0, sizeof *o);
    o->stale = SWEEP_DEFAULT_STALE_SECONDS;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--dry-run"))
            o->dry_run = 1;
        else if (!strcmp(a, "--failed"))
            o->failed = 1;
        else if (!strcmp(a, "--template") && next)
            o->template_path = argv[++i];
        else if (!strcmp(a, "--max-array-size") && next) {
            if ((o->max_array_size = (long)sweep_parse_whole(argv[++i])) < 1)
                return rl_fail("--max-array-size '%s' is not a whole number above 0",
                               "give Slurm's MaxArraySize (scontrol show config), e.g. "
                               "--max-array-size 1001",
                               next);
        } else if (!strcmp(a, "--stale") && next) {
            char *end;
            o->stale = strtod(argv[++i], &end);
            if (end == next || *end || !isfinite(o->stale) || o->stale <= 0)
                return rl_fail("--stale '%s' is not a number of seconds above 0",
                               "e.g. --stale 300 (a cell without a heartbeat for that long is "
                               "failed)",
                               next);
        } else if (!o->dir && a[0] != '-')
            o->dir = a;
        else
            return rl_fail("unexpected argument '%s'", NULL, a),
                   rl_fail_hint("usage: %s (ranklab sweep --help)", usage);
    }
    if (!o->dir)
        return rl_fail("no sweep directory given", NULL), rl_fail_hint("usage: %s", usage);
    return 0;
}

static int wants_all(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--all"))
            return 1;
    return 0;
}

static void print_help(void) {
    fputs(sweep_help, stdout);
    rl_config *settings = sweep_settings_new();
    rl_cfg_resolve(settings);
    rl_cfg_print_docs(settings);
    rl_cfg_free(settings);
}

int cli_sweep_main(int argc, char **argv) {
    const char *sub = argc > 0 ? argv[0] : NULL;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "help")) {
            print_help();
            return RL_EXIT_OK;
        }
    int rc;
    if (!sub) {
        print_help();
        return RL_EXIT_USAGE;
    } else if (!strcmp(sub, "run") && wants_all(argc, argv)) {
        /* Not under MPI: this process starts mpiexec for each cell. */
        rc = sweep_cmd_run_all(argc - 1, argv + 1);
        if (rc == RL_ERR)
            rl_error_print();
        return rc == RL_ERR ? RL_EXIT_USAGE : rc;
    } else if (!strcmp(sub, "run")) {
        rl_stop_install(); /* a stop that comes while MPI and the data load is kept for the run */
        if (comm_init(&argc, &argv) < 0) {
            rl_error_print();
            return RL_EXIT_ERROR;
        }
        rc = sweep_cmd_run_cell(argc - 1, argv + 1);
        if (rc == RL_ERR)
            rl_error_print();
        comm_finalize();
        return rc == RL_ERR ? RL_EXIT_USAGE : rc;
    } else if (!strcmp(sub, "plan")) {
        rc = sweep_cmd_plan(argc - 1, argv + 1);
    } else if (!strcmp(sub, "submit") || !strcmp(sub, "resubmit")) {
        rc = sweep_cmd_submit(argc - 1, argv + 1, !strcmp(sub, "resubmit"));
    } else if (!strcmp(sub, "status")) {
        rc = sweep_cmd_status(argc - 1, argv + 1);
        if (rc >= 0)
            return rc;
    } else {
        rc = rl_fail("unknown sweep command '%s'",
                     "the commands are plan, submit, run, status, resubmit (ranklab sweep --help)",
                     sub);
    }
    if (rc < 0)
        rl_error_print();
    return rc < 0 ? RL_EXIT_ERROR : RL_EXIT_OK;
}
