/* Users' data files (data.name=h5): the HDF5 side of reading a file ranklab did not write —
 * opening it, the shape and element type of a dataset, its first rows, a root attribute (see
 * io.h). What the file must hold is decided in src/data. */
#include "src/core/error.h"
#include "src/io/fault.h"
#include "src/io/io.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct io_data_file {
    hid_t file;
    char path[4096];
};

/* The innermost entry of HDF5's error stack, the most specific reason ("truncated file: eof =
 * ..."), or "" when there is none. */
static herr_t innermost(unsigned n, const H5E_error2_t *e, void *out) {
    if (n == 0 && e->desc)
        snprintf(out, 256, "%s", e->desc);
    return 0;
}

static void hdf5_reason(char out[256]) {
    out[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, out);
}

int io_data_open(const char *path, io_data_file **out) {
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    io_path_kind_t kind = io_path_kind(path);
    if (kind != IO_PATH_FILE)
        return rl_fail("%s %s", "check the path", path,
                       kind == IO_PATH_MISSING ? "does not exist" : "is not a regular file");
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        char reason[256];
        hdf5_reason(reason);
        return rl_fail("cannot read %s as HDF5: %s",
                       "the file is incomplete (truncated) or not HDF5: write it again, e.g. "
                       "with h5py",
                       path, reason[0] ? reason : "unknown reason");
    }
    io_data_file *f = rl_xcalloc(1, sizeof *f);
    f->file = file;
    snprintf(f->path, sizeof f->path, "%s", path);
    *out = f;
    return RL_OK;
}

void io_data_close(io_data_file *f) {
    if (!f)
        return;
    H5Fclose(f->file);
    free(f);
}

/* Open dataset NAME ("group/set"), checking each link on the way: HDF5 fails on a link below a
 * missing group. */
static hid_t open_set(io_data_file *f, const char *name) {
    char prefix[256];
    for (const char *slash = strchr(name, '/');; slash = strchr(slash + 1, '/')) {
        size_t len = slash ? (size_t)(slash - name) : strlen(name);
        snprintf(prefix, sizeof prefix, "%.*s", (int)len, name);
        if (H5Lexists(f->file, prefix, H5P_DEFAULT) <= 0) {
            rl_fail("%s has no dataset %s", NULL, f->path, name);
            return -1;
        }
        if (!slash)
            break;
    }
    hid_t set = H5Oopen(f->file, name, H5P_DEFAULT);
    if (set < 0 || H5Iget_type(set) != H5I_DATASET) {
        if (set >= 0)
            H5Oclose(set);
        rl_fail("%s: %s is not a dataset", NULL, f->path, name);
        return -1;
    }
    return set;
}

/* The element type in numpy's words ("uint8", "float64", "string", ...). */
static void type_name(hid_t type, char *out, size_t size) {
    size_t bits = 8 * H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
        snprintf(out, size, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
        break;
    case H5T_FLOAT:
        snprintf(out, size, "float%zu", bits);
        break;
    case H5T_STRING:
        snprintf(out, size, "string");
        break;
    case H5T_COMPOUND:
        snprintf(out, size, "compound");
        break;
    case H5T_ENUM:
        snprintf(out, size, "enum");
        break;
    default:
        snprintf(out, size, "a non-numeric type");
        break;
    }
}

int io_data_array_info(io_data_file *f, const char *name, io_data_array *info) {
    memset(info, 0, sizeof *info);
    hid_t set = open_set(f, name);
    if (set < 0)
        return RL_ERR;
    hid_t type = H5Dget_type(set), space = H5Dget_space(set);
    hsize_t dims[H5S_MAX_RANK];
    int ndims = H5Sget_simple_extent_dims(space, dims, NULL);
    int rc = ndims < 0 ? rl_fail("%s: cannot read the shape of %s", "the file may be damaged",
                                 f->path, name)
                       : RL_OK;
    info->ndims = ndims;
    for (int k = 0; k < ndims && k < IO_DATA_MAX_DIMS; k++)
        info->dims[k] = (int64_t)dims[k];
    info->integer = H5Tget_class(type) == H5T_INTEGER;
    type_name(type, info->type, sizeof info->type);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(set);
    return rc;
}

int io_data_read_rows(io_data_file *f, const char *name, io_data_elem elem, int64_t rows,
                      void *out) {
    hid_t set = open_set(f, name);
    if (set < 0)
        return RL_ERR;
    hid_t space = H5Dget_space(set);
    hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
    int ndims = H5Sget_simple_extent_dims(space, count, NULL);
    hsize_t values = 1;
    count[0] = (hsize_t)rows;
    for (int k = 0; k < ndims; k++)
        values *= count[k];
    hid_t mem = H5Screate_simple(1, &values, NULL);
    hid_t mem_type = elem == IO_DATA_U8    ? H5T_NATIVE_UINT8
                     : elem == IO_DATA_F32 ? H5T_NATIVE_FLOAT
                                           : H5T_NATIVE_INT64;
    int rc = RL_OK;
    if (ndims < 1 || H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        io_h5_dread(set, mem_type, mem, space, H5P_DEFAULT, out) < 0) {
        char reason[256];
        hdf5_reason(reason);
        rc = rl_fail("cannot read the first %lld rows of %s from %s%s%s",
                     "the file may be damaged: write it again", (long long)rows, name, f->path,
                     reason[0] ? ": " : "", reason);
    }
    H5Sclose(mem);
    H5Sclose(space);
    H5Dclose(set);
    return rc;
}

int io_data_root_int(io_data_file *f, const char *name, int64_t *value) {
    if (H5Aexists(f->file, name) <= 0)
        return 0;
    hid_t attr = H5Aopen(f->file, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr), space = attr < 0 ? -1 : H5Aget_space(attr);
    int rc = RL_OK;
    if (attr < 0 || H5Tget_class(type) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != 1)
        rc = rl_fail("%s: the root attribute '%s' is not one integer", NULL, f->path, name);
    else if (io_h5_aread(attr, H5T_NATIVE_INT64, value) < 0)
        rc = rl_fail("%s: cannot read the root attribute '%s'", "the file may be damaged", f->path,
                     name);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (attr >= 0)
        H5Aclose(attr);
    return rc < 0 ? rc : 1;
}
