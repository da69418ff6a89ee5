/* `ranklab sweep`: grids of configs of one experiment, run on this machine or as Slurm job
 * arrays (`ranklab sweep --help`; the parts are listed in sweep_internal.h). */
#ifndef RANKLAB_CLI_SWEEP_H
#define RANKLAB_CLI_SWEEP_H

/* The `sweep` command; argv holds what follows "sweep". Returns the program's exit code. */
int cli_sweep_main(int argc, char **argv);

#endif
