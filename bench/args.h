/* Arguments of the benchmark programs: each positional argument is the value of a config key the
 * program declares (type, default, range: src/core/config.h), so it is parsed strictly and
 * range-checked like any config value; a bad one prints the error, its hint and the usage.
 *
 *     static const rl_cfg_spec keys[] = {{"bench.batch", RL_CFG_INT, "64", 1, 65536, ...}};
 *     rl_config *cfg = rl_cfg_new();
 *     rl_cfg_declare(cfg, keys, 1);
 *     int rc = bench_args(argc, argv, usage, cfg, (const char *[]){"bench.batch"}, 1);
 *     if (rc != 0) return rc < 0 ? 2 : 0;   // bad arguments : --help
 *     int batch = (int)rl_cfg_int(cfg, "bench.batch");
 */
#ifndef RANKLAB_BENCH_ARGS_H
#define RANKLAB_BENCH_ARGS_H

#include "src/core/config.h"
#include "src/core/error.h"

#include <stdio.h>
#include <string.h>

/* keys[i] = argv[1 + i] for the n_keys or fewer arguments given (the others keep their
 * defaults), then resolve cfg (NULL for a program without arguments). 0; 1 after printing the
 * usage for --help or -h; RL_ERR after printing the error and the usage to stderr (too many
 * arguments, a value of the wrong type or out of range). */
static inline int bench_args(int argc, char **argv, const char *usage, rl_config *cfg,
                             const char *const *keys, int n_keys) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 1;
        }
    int rc = argc - 1 > n_keys ? rl_fail("too many arguments: %d given, at most %d taken",
                                         "see the usage below", argc - 1, n_keys)
                               : 0;
    char assignment[RL_CFG_MAX_KEY_CHARS + RL_CFG_MAX_VALUE_CHARS + 2];
    for (int i = 0; rc == 0 && i + 1 < argc; i++) {
        if (strlen(argv[1 + i]) > RL_CFG_MAX_VALUE_CHARS)
            rc = rl_fail("argument %d is longer than %d characters", "see the usage below", i + 1,
                         RL_CFG_MAX_VALUE_CHARS);
        else {
            snprintf(assignment, sizeof assignment, "%s=%s", keys[i], argv[1 + i]);
            rc = rl_cfg_set_override(cfg, assignment);
        }
    }
    rc = rc || !cfg ? rc : rl_cfg_resolve(cfg);
    if (rc < 0) {
        rl_error_print();
        fputs(usage, stderr);
    }
    return rc;
}

#endif
