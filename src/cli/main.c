/* The `ranklab` program: run, list, show-config, inspect, compare, verify, sweep
 * (`COMMAND --help`). */
#include "src/run/run.h"
#include "src/cli/sweep.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/stop.h"
#include "src/io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_text =
    "ranklab: distributed machine-learning experiments on CPU clusters (MPI + HDF5)\n"
    "\n"
    "usage:\n"
    "  ranklab run EXPERIMENT [-c FILE]... [section.key=value ...] [--out DIR]\n"
    "  ranklab list\n"
    "  ranklab show-config EXPERIMENT [-c FILE]... [section.key=value ...]\n"
    "  ranklab inspect RESULTS.h5 | RUN_DIR\n"
    "  ranklab compare A B               (two results.h5 or run directories: the same bits?)\n"
    "  ranklab verify RUN_DIR\n"
    "  ranklab sweep plan|submit|run|status|resubmit ...   (Slurm job arrays; sweep --help)\n"
    "\n"
    "Run under MPI with `mpiexec -n P build/ranklab run ...`: results do not depend on P.\n"
    "`ranklab COMMAND --help` explains each command.\n";

static const char *run_help =
    "usage: ranklab run EXPERIMENT [-c FILE]... [section.key=value ...] [--out DIR]\n"
    "\n"
    "Runs EXPERIMENT with its built-in defaults, then each FILE (INI) in the order given, then\n"
    "the overrides: a later one replaces what an earlier one set. A file may start with\n"
    "`include = OTHER.ini` (several lines, or a comma list; OTHER taken from the including\n"
    "file's directory): OTHER comes first and the including file's own keys win. Cycles and\n"
    "missing files are refused. However it was composed, the same resolved config has the same\n"
    "run id. The run directory is DIR, or runs/EXPERIMENT-RUNID where RUNID hashes the resolved\n"
    "config. Running again on the same directory resumes from the newest good checkpoint; a\n"
    "complete run is not rerun. SIGTERM, SIGUSR1 or SIGUSR2 make every rank checkpoint and exit\n"
    "with code 75; run the same command to resume.\n"
    "\n"
    "The directory gets results.h5 (see `ranklab inspect`) and ckpt/ (see `ranklab verify`);\n"
    "each rank that fails writes failure-rank-R.txt there (time, host, pid, step, error). A rank\n"
    "that has waited run.stall_warn_seconds in a collective logs which ranks have not reached\n"
    "it and at which step; after run.stall_abort_seconds the job aborts with that message.\n"
    "`ranklab run EXPERIMENT --help` lists the experiment's keys.\n"
    "\n"
    "With run.compute=exact (the default) the results are the same bits on any x86-64 CPU with\n"
    "AVX2 + FMA (older CPUs are refused); run.compute=blas uses OpenBLAS, whose bits depend on\n"
    "the CPU. RANKLAB_ISA=generic|avx2|avx512 in the environment forces the ISA level of the\n"
    "kernels (the same bits at every level; for tests). `ranklab compare A B` checks two runs.\n";

static const char *show_config_help =
    "usage: ranklab show-config EXPERIMENT [-c FILE]... [section.key=value ...]\n"
    "\n"
    "Prints the run id, then every config key of EXPERIMENT as resolved from the defaults,\n"
    "the files (-c repeated, and what they include; see ranklab run --help) and the\n"
    "overrides, with its doc, type, range and default.\n";

static const char *inspect_help =
    "usage: ranklab inspect RESULTS.h5 | RUN_DIR\n"
    "\n"
    "Prints the attributes, metrics (length and last value), final values and arrays of a\n"
    "results file (a run directory's results.h5). In Python: "
    "h5py.File(path)['metrics/test_acc'][:].\n";

static const char *compare_help =
    "usage: ranklab compare A B\n"
    "\n"
    "A and B are results files (or run directories holding results.h5). Says IDENTICAL when\n"
    "/metrics, /final and /arrays hold the same bits in both (measurements of the machine left\n"
    "out: /final/wall_seconds, peak_mb_*, update_mb_*), else DIFFERENT with the first\n"
    "differing dataset,\n"
    "where it first differs and its largest difference (and other differing datasets). Then the\n"
    "config keys that differ, and the fingerprint attributes that differ (fingerprint.*:\n"
    "compute path, ISA level, BLAS and its kernel, MPI, HDF5, compiler, libc, CPU), split into\n"
    "those that can change bits and those that cannot. Exit code 0 identical, 1 different,\n"
    "2 when a file cannot be read.\n";

static const char *verify_help =
    "usage: ranklab verify RUN_DIR | FILE\n"
    "\n"
    "Checks every checkpoint in RUN_DIR/ckpt (the checksum seal over the whole file, structure,\n"
    "completeness, CRC-32 of every dataset) and RUN_DIR/results.h5 (its seal, status\n"
    "\"complete\"); or one checkpoint or results file. Exit code 0 when all are good, 1\n"
    "otherwise. A run resumes from the newest good checkpoint and skips damaged ones; a run\n"
    "whose final checkpoint (ckpt/final.h5) is good completes from it without recomputing.\n"
    "A directory with none of results.h5, results.h5.partial and ckpt/ (an empty one, a sweep\n"
    "directory: verify its cells/*) is an error.\n";

static int wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

static int cmd_list(void) {
    printf("experiments (ranklab run NAME --help for keys):\n");
    for (int i = 0; rl_experiment_at(i); i++)
        printf("  %-14s %s\n", rl_experiment_at(i)->name, rl_experiment_at(i)->summary);
    return RL_EXIT_OK;
}

/* Build the resolved config of an experiment from argv (after the experiment name). */
static int build_config(const rl_experiment *exp, int argc, char **argv, rl_config **out,
                        const char **out_dir) {
    rl_config *cfg = rl_experiment_new_config(exp);
    if (!cfg)
        return RL_ERR;
    int rc = 0;
    /* Files first, then overrides, whatever order they were given in. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; rc == 0 && i < argc; i++) {
            if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
                if (i + 1 >= argc)
                    rc = rl_fail("-c needs a file", "ranklab run EXPERIMENT -c FILE.ini");
                else if (pass == 0)
                    rc = rl_cfg_load_file(cfg, argv[i + 1]);
                i++;
            } else if (!strcmp(argv[i], "--out")) {
                if (!out_dir || i + 1 >= argc)
                    rc = rl_fail("--out needs a directory here", "ranklab run EXPERIMENT --out DIR");
                else if (pass == 0 && *out_dir)
                    rc = rl_fail("--out is given twice (%s and %s)", "give one --out directory",
                                 *out_dir, argv[i + 1]);
                else
                    *out_dir = argv[i + 1];
                i++;
            } else if (strchr(argv[i], '=')) {
                if (pass == 1)
                    rc = rl_cfg_set_override(cfg, argv[i]);
            } else {
                rc = rl_fail("unexpected argument '%s'",
                             "overrides look like section.key=value; see ranklab run --help",
                             argv[i]);
            }
        }
    }
    if (rc == 0)
        rc = rl_cfg_resolve(cfg);
    if (rc < 0) {
        rl_cfg_free(cfg);
        return RL_ERR;
    }
    *out = cfg;
    return 0;
}

static const rl_experiment *find_experiment(const char *name) {
    const rl_experiment *exp = name ? rl_experiment_find(name) : NULL;
    if (!exp)
        rl_fail("unknown experiment '%s'", "`ranklab list` shows the experiments",
                name ? name : "(none given)");
    return exp;
}

static void print_experiment_help(const rl_experiment *exp) {
    printf("%s\nexperiment %s: %s\n\n%s\n\nkeys (built-in defaults shown):\n", run_help,
           exp->name, exp->summary, exp->doc);
    rl_config *cfg;
    if (build_config(exp, 0, NULL, &cfg, NULL) == 0) {
        rl_cfg_print_docs(cfg);
        rl_cfg_free(cfg);
    }
}

static int cmd_show_config(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        fputs(show_config_help, stdout);
        return RL_EXIT_OK;
    }
    const rl_experiment *exp = find_experiment(argc > 0 ? argv[0] : NULL);
    rl_config *cfg;
    if (!exp || build_config(exp, argc - 1, argv + 1, &cfg, NULL) < 0) {
        rl_error_print();
        return RL_EXIT_USAGE;
    }
    char run_id[17];
    rl_cfg_run_id(cfg, run_id);
    printf("# %s, resolved config (run id %s)\n", exp->name, run_id);
    rl_cfg_print_docs(cfg);
    rl_cfg_free(cfg);
    return RL_EXIT_OK;
}

static int cmd_run(int argc, char **argv) {
    if (argc == 0 || (wants_help(argc, argv) && !rl_experiment_find(argv[0]))) {
        fputs(run_help, stdout);
        return argc == 0 ? RL_EXIT_USAGE : RL_EXIT_OK;
    }
    const rl_experiment *exp = find_experiment(argv[0]);
    if (exp && wants_help(argc, argv)) {
        print_experiment_help(exp);
        return RL_EXIT_OK;
    }
    rl_config *cfg = NULL;
    const char *out_dir = NULL;
    /* Agreed over the ranks: printed once, and by a rank that alone cannot read a file. */
    if (comm_agree_error(!exp ? RL_ERR : build_config(exp, argc - 1, argv + 1, &cfg, &out_dir)) <
        0) {
        rl_error_print();
        rl_cfg_free(cfg);
        return RL_EXIT_USAGE;
    }
    int code = rl_run_main(exp, cfg, out_dir, 0, NULL);
    rl_cfg_free(cfg);
    return code;
}

static void results_path(const char *given, char *out, size_t n);

static int cmd_inspect(int argc, char **argv) {
    if (argc != 1 || wants_help(argc, argv)) {
        fputs(inspect_help, stdout);
        return argc == 1 ? RL_EXIT_OK : RL_EXIT_USAGE;
    }
    char path[4200];
    results_path(argv[0], path, sizeof path);
    if (io_results_inspect(path) < 0) {
        rl_error_print();
        return RL_EXIT_ERROR;
    }
    return RL_EXIT_OK;
}

/* A results file given as itself or as its run directory. */
static void results_path(const char *given, char *out, size_t n) {
    if (io_path_kind(given) == IO_PATH_DIR)
        snprintf(out, n, "%s/results.h5", given);
    else
        snprintf(out, n, "%s", given);
}

static int cmd_compare(int argc, char **argv) {
    if (argc != 2 || wants_help(argc, argv)) {
        fputs(compare_help, stdout);
        return wants_help(argc, argv) ? RL_EXIT_OK : RL_EXIT_USAGE;
    }
    char a[4200], b[4200];
    results_path(argv[0], a, sizeof a);
    results_path(argv[1], b, sizeof b);
    int rc = io_results_compare(a, b);
    if (rc < 0) {
        rl_error_print();
        return RL_EXIT_USAGE;
    }
    return rc == 0 ? RL_EXIT_OK : RL_EXIT_ERROR;
}

/* One checkpoint: prints ok or BAD; returns the number of problems (0 or 1). */
static int verify_checkpoint(const char *path) {
    io_ckpt_info info;
    if (io_ckpt_verify(path, &info) < 0) {
        printf("BAD  %s\n", rl_error_message());
        return 1;
    }
    printf("ok   %s (%sstep %lld, run id %s)\n", path, info.final ? "final, " : "",
           (long long)info.step, info.run_id);
    return 0;
}

static int verify_results(const char *path) {
    io_results_info info;
    if (io_results_check(path, &info) < 0) {
        printf("BAD  %s\n", rl_error_message());
        return 1;
    }
    printf("ok   %s (%s, run id %s, status %s)\n", path, info.experiment, info.run_id,
           info.status);
    return 0;
}

static int cmd_verify(int argc, char **argv) {
    if (argc != 1 || wants_help(argc, argv)) {
        fputs(verify_help, stdout);
        return argc == 1 ? RL_EXIT_OK : RL_EXIT_USAGE;
    }
    const char *target = argv[0];
    int kind = io_path_kind(target);
    if (kind == IO_PATH_MISSING) {
        rl_fail("%s does not exist", "give a run directory (e.g. runs/train-<id>) or a file in it",
                target);
        rl_error_print();
        return RL_EXIT_ERROR;
    }
    int bad = 0;
    if (kind == IO_PATH_FILE) {
        size_t n = strlen(target);
        int is_results = (n >= 10 && !strcmp(target + n - 10, "results.h5")) ||
                         (n >= 18 && !strcmp(target + n - 18, "results.h5.partial"));
        bad = is_results ? verify_results(target) : verify_checkpoint(target);
        return bad ? RL_EXIT_ERROR : RL_EXIT_OK;
    }
    char ckpt_dir[4200], results[4200], partial[4200], manifest[4200];
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s/ckpt", target);
    snprintf(results, sizeof results, "%s/results.h5", target);
    snprintf(partial, sizeof partial, "%s/results.h5.partial", target);
    snprintf(manifest, sizeof manifest, "%s/manifest.tsv", target);
    if (!io_path_exists(results) && !io_path_exists(partial) &&
        io_path_kind(ckpt_dir) != IO_PATH_DIR) {
        if (io_path_exists(manifest)) {
            rl_fail("%s is a sweep directory, not a run directory", NULL, target);
            rl_fail_hint("`ranklab sweep status %s` shows its cells; each cell is a run: "
                         "for c in %s/cells/*; do ranklab verify \"$c\"; done",
                         target, target);
        } else {
            rl_fail("%s is not a run directory: it has no results.h5, results.h5.partial or ckpt/",
                    "give the directory of a run (its --out) or a checkpoint or results file in it",
                    target);
        }
        rl_error_print();
        return RL_EXIT_ERROR;
    }
    char **paths;
    int n;
    io_ckpt_list(ckpt_dir, &paths, &n);
    for (int i = 0; i < n; i++)
        bad += verify_checkpoint(paths[i]);
    io_ckpt_list_free(paths, n);
    if (n == 0)
        printf("--   no checkpoints in %s\n", ckpt_dir);
    if (io_path_exists(results))
        bad += verify_results(results);
    else
        printf("--   no results.h5 yet (the run is not complete)\n");
    printf("%d problem(s) in %s\n", bad, target);
    return bad ? RL_EXIT_ERROR : RL_EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage_text, stdout);
        return argc < 2 ? RL_EXIT_USAGE : RL_EXIT_OK;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "list"))
        return cmd_list();
    if (!strcmp(cmd, "show-config"))
        return cmd_show_config(argc - 2, argv + 2);
    if (!strcmp(cmd, "inspect"))
        return cmd_inspect(argc - 2, argv + 2);
    if (!strcmp(cmd, "compare"))
        return cmd_compare(argc - 2, argv + 2);
    if (!strcmp(cmd, "verify"))
        return cmd_verify(argc - 2, argv + 2);
    if (!strcmp(cmd, "sweep"))
        return cli_sweep_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "run")) {
        if (comm_init(&argc, &argv) < 0) {
            rl_error_print();
            return RL_EXIT_ERROR;
        }
        int rc = cmd_run(argc - 2, argv + 2);
        comm_finalize();
        return rc;
    }
    fprintf(stderr, "error: unknown command '%s'\nHINT: ranklab --help lists the commands\n", cmd);
    return RL_EXIT_USAGE;
}
