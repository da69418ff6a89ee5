/* The stall watchdog of src/comm's collectives (inside src/comm; comm.h has its settings). Each
 * collective is bracketed by watchdog_enter and watchdog_leave, which only store what the
 * collective is and when it began; a thread of the watchdog does the rest while the collective
 * blocks. */
#ifndef RANKLAB_COMM_WATCHDOG_H
#define RANKLAB_COMM_WATCHDOG_H

#include <mpi.h>

typedef enum { WATCH_WORLD, WATCH_NODE, WATCH_N_GROUPS } watch_group;

/* After MPI_Init_thread (MPI_THREAD_MULTIPLE provided: threaded 1, else the watchdog stays off);
 * node_comm: the communicator of the node's ranks. Collective over the world. */
void watchdog_init(MPI_Comm node_comm, int threaded);
/* Before MPI_Finalize: stops the thread. Collective over the world. */
void watchdog_finalize(void);
/* The calling (main) thread enters / has left a collective of the group ("MPI_Allreduce(sum)"). */
void watchdog_enter(watch_group group, const char *what);
void watchdog_leave(void);

#endif
