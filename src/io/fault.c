/* Counted file reads and writes with injected failures for tests (see fault.h). */
#include "src/io/fault.h"
#include "src/core/log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POISON 0xA5

/* The process's counters; the configured fault is read once. */
static struct {
    int parsed, armed, trace;
    char kind[8]; /* "write", "read" or "stop" (at a write) */
    long long at;
    long long writes, reads;
} fault;

static int hit(const char *kind, long long *count, const char *what) {
    if (!fault.parsed) {
        fault.parsed = 1;
        const char *spec = getenv("RANKLAB_FAULT_IO");
        int rank = 0;
        fault.trace = spec && !strcmp(spec, "trace");
        fault.armed = fault.trace ||
                      (spec && sscanf(spec, "%7[a-z]@%lld:%d", fault.kind, &fault.at, &rank) >= 2 &&
                       rank == rl_log_rank_id());
    }
    if (!fault.armed)
        return 0;
    ++*count;
    if (fault.trace) {
        rl_log_rank("io trace: %s %lld %s", kind, *count, what);
        return 0;
    }
    int stop = !strcmp(fault.kind, "stop") && !strcmp(kind, "write");
    if ((strcmp(kind, fault.kind) != 0 && !stop) || *count != fault.at)
        return 0;
    if (stop) { /* as a rank hung in I/O: SIGCONT goes on with the write */
        rl_log_rank("fault injection: stopping this process at write %lld (%s)", fault.at, what);
        raise(SIGSTOP);
        return 0;
    }
    rl_log_rank("fault injection: failing %s %lld (%s)", kind, fault.at, what);
    return 1;
}

int io_fault_write(const char *what) {
    return hit("write", &fault.writes, what);
}

int io_fault_read(const char *what, void *dest, size_t bytes) {
    if (!hit("read", &fault.reads, what))
        return 0;
    if (dest)
        memset(dest, POISON, bytes);
    return 1;
}

/* "FILE OBJECT" or "FILE OBJECT@ATTRIBUTE", for the log. */
static const char *object_name(hid_t obj, int attribute, char *out, size_t size) {
    char file[512] = "?", path[256] = "?", attr[128] = "";
    H5Fget_name(obj, file, sizeof file);
    H5Iget_name(obj, path, sizeof path);
    if (attribute)
        H5Aget_name(obj, sizeof attr, attr);
    snprintf(out, size, "%s %s%s%s", file, path, attribute ? "@" : "", attr);
    return out;
}

herr_t io_h5_dwrite(hid_t set, hid_t type, hid_t mem, hid_t file, hid_t dxpl, const void *buf) {
    char name[1024];
    herr_t rc = H5Dwrite(set, type, mem, file, dxpl, buf);
    return rc < 0 || io_fault_write(object_name(set, 0, name, sizeof name)) ? -1 : rc;
}

herr_t io_h5_awrite(hid_t attr, hid_t type, const void *buf) {
    char name[1024];
    herr_t rc = H5Awrite(attr, type, buf);
    return rc < 0 || io_fault_write(object_name(attr, 1, name, sizeof name)) ? -1 : rc;
}

int io_h5_write_scalar_attr(hid_t obj, const char *name, hid_t type, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : io_h5_awrite(attr, type, value);
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

/* Bytes a read of `points` elements of `type` fills, or 0 where poisoning would plant a pointer
 * (variable-length data). */
static size_t plain_bytes(hid_t type, hssize_t points) {
    return points > 0 && H5Tis_variable_str(type) == 0 && H5Tdetect_class(type, H5T_VLEN) == 0
               ? (size_t)points * H5Tget_size(type)
               : 0;
}

herr_t io_h5_dread(hid_t set, hid_t type, hid_t mem, hid_t file, hid_t dxpl, void *buf) {
    char name[1024];
    hid_t space = mem == H5S_ALL ? H5Dget_space(set) : mem;
    size_t bytes = plain_bytes(type, H5Sget_select_npoints(space));
    if (mem == H5S_ALL)
        H5Sclose(space);
    if (io_fault_read(object_name(set, 0, name, sizeof name), buf, bytes))
        return -1;
    return H5Dread(set, type, mem, file, dxpl, buf);
}

herr_t io_h5_aread(hid_t attr, hid_t type, void *buf) {
    char name[1024];
    hid_t space = H5Aget_space(attr);
    size_t bytes = plain_bytes(type, H5Sget_simple_extent_npoints(space));
    H5Sclose(space);
    if (io_fault_read(object_name(attr, 1, name, sizeof name), buf, bytes))
        return -1;
    return H5Aread(attr, type, buf);
}
