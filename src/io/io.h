/* The only place that calls HDF5: the results file, checkpoints, run directories.
 *
 * Results (rank 0 only; DESIGN.md "Results file"): created as RUN_DIR/results.h5.partial with
 * status "running", metrics rows appended and flushed as they come, renamed to results.h5 by
 * io_results_complete after status = "complete" is written last.
 *
 *     io_results *r;
 *     io_results_create(&r, run_dir, &meta, cfg, metric_names, n_metrics);
 *     io_results_append(r, step, row);                  // one value per metric name
 *     io_results_set_final(r, "test_acc", 0.87);
 *     io_results_write_array_f32(r, "params", params, n, "model", "mlp:784-256-10");
 *     io_results_complete(r);                           // fsync, rename, fsync dir; frees r
 *
 * Checkpoints (collective over all ranks, parallel HDF5): RUN_DIR/ckpt/step-NNNNNNNNNN.h5,
 * written to a .tmp name, every dataset with a CRC-32 attribute, "complete" written last, then
 * fsync + rename + fsync of the directory. Each rank writes its own slice of a dataset; data
 * every rank holds is passed by rank 0 alone (the others pass count 0).
 *
 *     io_ckpt *c;
 *     io_ckpt_begin(&c, ckpt_dir, step, run_id, config_text);
 *     io_ckpt_write(c, "params", IO_F32, n, 0, rank == 0 ? n : 0, params);
 *     io_ckpt_commit(c, keep);                          // frees c
 */
#ifndef RANKLAB_IO_H
#define RANKLAB_IO_H

#include "src/core/config.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { IO_F32, IO_F64, IO_I64, IO_I8 } io_type;

/* ---- run directories ---- */

/* Create DIR (and parents) if needed and check it is a writable directory. */
int io_make_dir(const char *dir);
int io_path_exists(const char *path);
/* fsync a file, and a directory (so a rename inside it is durable). */
int io_fsync_file(const char *path);
int io_fsync_dir(const char *dir);

/* ---- results file ---- */

typedef struct {
    const char *experiment;
    const char *run_id;
    uint64_t seed;
    int world_size;
} io_results_meta;

typedef struct io_results io_results;

int io_results_create(io_results **out, const char *run_dir, const io_results_meta *meta,
                      const rl_config *cfg, const char *const *metric_names, int n_metrics);
/* Append one row: step and one value per metric (in the order given at create). */
int io_results_append(io_results *r, int64_t step, const double *values);
int io_results_set_final(io_results *r, const char *name, double value);
/* /arrays/NAME, 1-D float32, with an optional string attribute (attr_name may be NULL). */
int io_results_write_array_f32(io_results *r, const char *name, const float *data, size_t n,
                               const char *attr_name, const char *attr_value);
/* Collective (all ranks): /arrays/NAMES[k] for k < n_arrays, each 1-D float32 of global_count
 * elements of which this rank writes its slice [offset, offset + count) from slices[k] (the
 * ranks' slices tile the arrays in rank order; count may be 0). For arrays owned by slices
 * across ranks, such as per-example weights. Rank 0 passes its open results, the others NULL;
 * all pass the run directory. Rank 0's serial handle is closed, every rank opens the file with
 * the MPI-IO driver and writes collectively, then rank 0 reopens its handle. */
int io_results_write_slices_f32(io_results *r, const char *run_dir, int n_arrays,
                                const char *const *names, int64_t global_count, int64_t offset,
                                int64_t count, const float *const *slices);
/* status = "complete", close, fsync, rename results.h5.partial -> results.h5, fsync dir. */
int io_results_complete(io_results *r);
/* Close without completing (status stays "running"). NULL-safe. */
void io_results_close(io_results *r);

/* Read /arrays/NAME of a results file (float32) and its string attribute (may be NULL). */
int io_results_read_array_f32(const char *path, const char *name, float **data, size_t *n,
                              const char *attr_name, char *attr_value, size_t attr_size);
/* Read a string attribute of the root group ("status", "run_id", ...). */
int io_results_read_root_attr(const char *path, const char *name, char *value, size_t size);
/* Print a readable summary of a results file to stdout (ranklab inspect). */
int io_results_inspect(const char *path);

/* ---- checkpoints ---- */

typedef struct io_ckpt io_ckpt;

int io_ckpt_begin(io_ckpt **out, const char *ckpt_dir, int64_t step, const char *run_id,
                  const char *config_text);
/* Collective. Dataset NAME ("a/b" creates groups) of global_count elements; this rank writes
 * elements [offset, offset + count). Ranks' slices must tile the dataset in rank order. */
int io_ckpt_write(io_ckpt *c, const char *name, io_type type, int64_t global_count,
                  int64_t offset, int64_t count, const void *data);
/* Mark complete, close, make durable, rename; keep the newest `keep` checkpoints. Frees c. */
int io_ckpt_commit(io_ckpt *c, int keep);

/* Check one checkpoint file alone (any process): structure, "complete", every CRC.
 * Returns 0 if good; otherwise RL_ERR with the reason in the error message. */
int io_ckpt_verify(const char *path, int64_t *step, char *run_id, size_t run_id_size);
/* Collective: the newest good checkpoint in ckpt_dir (rank 0 verifies; bad ones are reported
 * as warnings and skipped). Returns 1 and fills path, step and run_id (64 bytes) if found, 0 if
 * there is none, RL_ERR on error. */
int io_ckpt_find_latest(const char *ckpt_dir, char *path, size_t path_size, int64_t *step,
                        char *run_id);
/* List checkpoint files of ckpt_dir, newest first (caller frees each and the array). */
int io_ckpt_list(const char *ckpt_dir, char ***paths, int *n);

/* Collective open for reading. */
int io_ckpt_open(io_ckpt **out, const char *path);
int64_t io_ckpt_size(io_ckpt *c, const char *name); /* -1 if missing */
int io_ckpt_read(io_ckpt *c, const char *name, io_type type, int64_t offset, int64_t count,
                 void *data);
void io_ckpt_close(io_ckpt *c); /* NULL-safe */

/* ---- feature cache (subset selection; one process each) ---- */

/* Write PATH: /features (n, k) float32, /params (n_params) float32 (what computes the features
 * of new rows, e.g. an encoder's weights) and the root string attribute "key" naming what made
 * them; through PATH.tmp, fsync and rename, so readers see a whole file or none. */
int io_features_write(const char *path, const char *key, const float *f, int64_t n, int k,
                      const float *params, int64_t n_params);
/* Read rows [lo, lo + count) of PATH's /features into f (count, k) and /params into params
 * (n_params): 1 if read, 0 if PATH does not exist, RL_ERR (naming what differs, with a hint) if
 * its key or shapes are not the caller's, or it cannot be read. */
int io_features_read(const char *path, const char *key, int64_t n, int k, int64_t lo,
                     int64_t count, float *f, int64_t n_params, float *params);

#endif
