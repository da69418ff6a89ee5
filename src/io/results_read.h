/* Reading results files, shared by results.c and compare.c (internal to src/io). */
#ifndef RANKLAB_IO_RESULTS_READ_H
#define RANKLAB_IO_RESULTS_READ_H

#include <hdf5.h>
#include <stddef.h>

/* Open a results file to read (a finished one's seal checked first); -1 with the error stored. */
hid_t io_results_open_read(const char *path);
/* A scalar string attribute of obj into value; -1 if it is missing or not a string. */
int io_results_string_attr(hid_t obj, const char *name, char *value, size_t size);

#endif
