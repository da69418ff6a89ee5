/* Parallel HDF5 pieces shared by checkpoints and results (internal to src/io). */
#ifndef RANKLAB_IO_PARALLEL_H
#define RANKLAB_IO_PARALLEL_H

#include <hdf5.h>
#include <stdint.h>

/* File access through MPI-IO on the world communicator (caller closes). */
hid_t io_parallel_access(void);
/* Collective: create dataset `path` (1-D, global_count elements of `type`, intermediate groups
 * created) in `loc`, and write this rank's elements [offset, offset + count). Returns the open
 * dataset (caller closes) or -1. */
hid_t io_parallel_write_slice(hid_t loc, const char *path, hid_t type, int64_t global_count,
                              int64_t offset, int64_t count, const void *data);

#endif
