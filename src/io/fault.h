/* Every read and write of a file's contents in src/io goes through here (internal to src/io), so
 * tests can make one of them fail, as SQLite's tests do.
 *
 * RANKLAB_FAULT_IO="write@N[:RANK]" makes the Nth write of process RANK (default 0; writes
 * counted from 1: an HDF5 dataset or attribute write, a text file, a checksum seal, run.lock)
 * fail as if the disk had failed there; "read@N[:RANK]" the Nth read. A failed write has been
 * made (collective writes stay matched across ranks) but reports failure; a failed read is not
 * made and fills its destination with 0xA5 bytes where it can, as a half-done read leaves
 * garbage, so a caller that used it anyway would show. "stop@N[:RANK]" stops the process
 * (SIGSTOP) at its Nth write instead, as a rank hung in I/O (SIGCONT makes the write and goes
 * on), for the stall watchdog's test. RANKLAB_FAULT_IO=trace logs every
 * counted read and write with its number ("io trace: write 17 FILE OBJECT") on every rank, for
 * a test to choose its N. Without the variable nothing is counted.
 */
#ifndef RANKLAB_IO_FAULT_H
#define RANKLAB_IO_FAULT_H

#include <hdf5.h>
#include <stddef.h>

/* 1 if this write (described by `what`, for the log) is the one to fail. */
int io_fault_write(const char *what);
/* 1 if this read is the one to fail; then dest (bytes) is poisoned. */
int io_fault_read(const char *what, void *dest, size_t bytes);

/* H5Dwrite, H5Awrite, H5Dread and H5Aread, counted. */
herr_t io_h5_dwrite(hid_t set, hid_t type, hid_t mem, hid_t file, hid_t dxpl, const void *buf);
herr_t io_h5_awrite(hid_t attr, hid_t type, const void *buf);
herr_t io_h5_dread(hid_t set, hid_t type, hid_t mem, hid_t file, hid_t dxpl, void *buf);
herr_t io_h5_aread(hid_t attr, hid_t type, void *buf);

/* A new scalar attribute `name` of obj holding *value (of HDF5 type `type`), its write counted:
 * 0, or -1 if it cannot be created or written. */
int io_h5_write_scalar_attr(hid_t obj, const char *name, hid_t type, const void *value);

#endif
