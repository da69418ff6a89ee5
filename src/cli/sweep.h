/* `ranklab sweep`: grids of configs of one experiment as Slurm job arrays (see sweep.c and
 * `ranklab sweep --help`). */
#ifndef RANKLAB_CLI_SWEEP_H
#define RANKLAB_CLI_SWEEP_H

/* The `sweep` command; argv holds what follows "sweep". Returns the program's exit code. */
int cli_sweep_main(int argc, char **argv);

#endif
