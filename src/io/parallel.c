/* Parallel HDF5 pieces shared by checkpoints and results (see parallel.h). src/io receives the
 * communicator from src/comm and calls no MPI function itself. */
#include "src/io/parallel.h"
#include "src/comm/comm.h"
#include "src/io/fault.h"

hid_t io_parallel_access(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm_world(), MPI_INFO_NULL);
    return fapl;
}

hid_t io_parallel_write_slice(hid_t loc, const char *path, hid_t type, int64_t global_count,
                              int64_t offset, int64_t count, const void *data) {
    hsize_t dims[1] = {(hsize_t)global_count}, start[1] = {(hsize_t)offset},
            n[1] = {(hsize_t)count};
    hid_t space = H5Screate_simple(1, dims, NULL), mem = H5Screate_simple(1, n, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t set = H5Dcreate2(loc, path, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (count > 0) {
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, n, NULL);
    } else {
        H5Sselect_none(space);
        H5Sselect_none(mem);
    }
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    herr_t rc = set < 0             ? -1
                : global_count == 0 ? 0
                                    : io_h5_dwrite(set, type, mem, space, dxpl, data);
    H5Pclose(dxpl);
    H5Sclose(mem);
    H5Sclose(space);
    if (rc < 0 && set >= 0) {
        H5Dclose(set);
        set = -1;
    }
    return set;
}
