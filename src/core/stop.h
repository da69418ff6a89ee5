/* Stop flag: SIGTERM, SIGUSR1 and SIGUSR2 set it; loops poll it at step boundaries and the
 * ranks agree on it through src/comm before checkpointing and exiting with RL_EXIT_STOPPED.
 *
 * Fault injection for tests (SQLite-style): RANKLAB_FAULT="SIGNAL@STEP[:RANK]" makes the given
 * rank (default 0) raise SIGNAL (term, usr1, usr2, kill or stop) on itself when it reaches STEP,
 * e.g. RANKLAB_FAULT=kill@37:1 simulates rank 1 dying at step 37, stop@37:1 hanging there.
 * RANKLAB_FAULT="fail@POINT" makes rl_fault_at(POINT) true: the code there fails as if its write
 * had failed (points: "finals", while writing a finished run's finals into results.h5). Failures of
 * a file's Nth write or read: RANKLAB_FAULT_IO (src/io/fault.h).
 */
#ifndef RANKLAB_CORE_STOP_H
#define RANKLAB_CORE_STOP_H

#include <stdint.h>

void rl_stop_install(void);
/* The signal number that asked us to stop, or 0. */
int rl_stop_requested(void);
/* Raise the fault configured by RANKLAB_FAULT if this rank has reached its step. */
void rl_stop_inject_fault(int64_t step);
/* 1 if RANKLAB_FAULT is "fail@POINT" for this point. */
int rl_fault_at(const char *point);

#endif
