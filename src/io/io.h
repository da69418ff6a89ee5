/* The only place that calls HDF5: the results file, checkpoints, run directories, users' data
 * files.
 *
 * Results (rank 0 only; DESIGN.md "Results file"): created as RUN_DIR/results.h5.partial with
 * status "running", metrics rows appended and flushed as they come, renamed to results.h5 by
 * io_results_complete after status = "complete" is written last (io_results_complete_pruned:
 * "pruned", for a run that early stopping ended).
 *
 *     io_results *r;
 *     io_results_create(&r, run_dir, &meta, cfg, metric_names, n_metrics);
 *     io_results_append(r, step, row);                  // one value per metric name
 *     io_results_set_final(r, "test_acc", 0.87);
 *     io_results_write_array_f32(r, "params", params, n, "model", "mlp:784-256-10");
 *     io_results_complete(r);                           // fsync, rename, fsync dir; frees r
 *
 * Checkpoints (collective over all ranks, parallel HDF5): RUN_DIR/ckpt/step-NNNNNNNNNN.h5 (and
 * final.h5, the finished run's metrics and finals), written to a .tmp name, every dataset with
 * a CRC-32 attribute, "complete" written last; then rank 0 seals the whole file with a checksum,
 * reads it back as a resume would, and only then renames it into place (fsync of file and
 * directory) and drops older ones beyond ckpt.keep. A write that fails on any rank fails on
 * every rank (they agree after each dataset), and the commit then discards the temporary,
 * leaving the previous checkpoints as they were. Each rank writes its own slice of a dataset;
 * data every rank holds is passed by rank 0 alone (the others pass count 0).
 *
 *     io_ckpt *c;
 *     io_ckpt_begin(&c, ckpt_dir, &info, config_text);
 *     io_ckpt_write(c, "params", IO_F32, n, 0, rank == 0 ? n : 0, params);
 *     io_ckpt_commit(c, keep);                          // frees c; RL_ERR if anything failed
 *
 * Every finished file ranklab writes (results.h5, checkpoints, feature caches) ends with a
 * checksum seal over all its bytes, checked before HDF5 parses the file again: a file changed
 * after it was written is refused, never half-read.
 */
#ifndef RANKLAB_IO_H
#define RANKLAB_IO_H

#include "src/core/config.h"
#include "src/core/text.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { IO_F32, IO_F64, IO_I64, IO_I8 } io_type;

/* ---- run directories ---- */

/* Bytes of free space below which a failed write is reported as a full disk. */
#define IO_LOW_SPACE_BYTES (1u << 20)
/* "what this run was made from" (data and model digests), as text. */
#define IO_INPUTS_MAX 2048

/* Create DIR (and parents) if needed and check it is a writable directory. */
int io_make_dir(const char *dir);
int io_path_exists(const char *path);
typedef enum { IO_PATH_MISSING, IO_PATH_FILE, IO_PATH_DIR, IO_PATH_OTHER } io_path_kind_t;
/* What path is (following links): missing, a regular file, a directory, or something else. */
io_path_kind_t io_path_kind(const char *path);
/* How many entries directory dir holds (. and .. not counted), -1 when it cannot be read. The
 * first (by name) of them, at most max_names, go into names as "a, b, c" (may be NULL); the
 * caller frees names with rl_text_free. */
long io_dir_entries(const char *dir, rl_text *names, int max_names);
/* fsync a file, and a directory (so a rename inside it is durable). */
int io_fsync_file(const char *path);
int io_fsync_dir(const char *dir);
/* Make tmp durable and atomically replace path with it: fsync, rename, fsync the directory. */
int io_commit_file(const char *tmp, const char *path);
/* Write text to path through path.tmp and io_commit_file. */
int io_write_text_atomic(const char *path, const char *text);
/* Failure summaries in a run directory: a rank that fails writes RUN_DIR/failure-rank-R.txt
 * (atomically; at most IO_FAILURE_MAX bytes are read back) whose first line starts with the UTC
 * time of the failure. io_failure_first copies the text of the first failure (the smallest first
 * line) to out and returns 1, or returns 0 when there is none; io_failure_clear removes them
 * (a run that starts again). */
#define IO_FAILURE_MAX 4096
int io_failure_write(const char *run_dir, int rank, const char *text);
int io_failure_first(const char *run_dir, char *out, size_t n);
void io_failure_clear(const char *run_dir);
/* Store the error for a failed write to path (errno err, or 0 when unknown, e.g. inside HDF5):
 * when the file system is full (ENOSPC, EDQUOT, or less than IO_LOW_SPACE_BYTES free) the
 * message says so with the free bytes and the error class is RL_ERRC_NOSPACE. Returns RL_ERR. */
int io_fail_write(const char *path, int err, const char *what);

/* Rank 0, before a large collective write into dir: check that the file system can take
 * `bytes` more (fallocate of a scratch file, which also honours quotas; where the file system
 * cannot fallocate, its free space). A full disk is RL_ERRC_NOSPACE, before anything is
 * written. */
int io_reserve_space(const char *dir, uint64_t bytes);

/* Append the checksum seal to a finished file. */
int io_seal_file(const char *path);
/* Check path's seal; on success *data_bytes (may be NULL) is the size before the seal. RL_ERR
 * names what is wrong (no seal, truncated, checksum mismatch). Reads the whole file. */
int io_check_seal(const char *path, uint64_t *data_bytes);

/* The run-directory lock (RUN_DIR/run.lock, an flock the kernel releases when its process
 * ends, however it ends). `holder` (host, pid, start time) is written into the file so a
 * refused run can say who holds it. 0 when taken; IO_LOCK_BUSY (message stored, naming the
 * holder) if another process holds it; RL_ERR if it cannot be taken. */
typedef struct io_lock io_lock;
enum { IO_LOCK_BUSY = 1 };
int io_lock_acquire(const char *dir, const char *holder, io_lock **out);
void io_lock_release(io_lock *l); /* NULL-safe */

/* ---- results file ---- */

typedef struct {
    const char *experiment;
    const char *run_id;
    const char *inputs; /* what the run was made from (root attribute "inputs") */
    uint64_t seed;
    int world_size;
    const char *fingerprint; /* "key=value" lines: root attributes "fingerprint.KEY" */
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
/* status = "complete", close, seal, fsync, rename results.h5.partial -> results.h5, fsync dir. */
int io_results_complete(io_results *r);
/* Why early stopping pruned a run: the attributes of /pruned in its results. */
typedef struct {
    char rule[16];          /* "median" */
    char metric[64];        /* the metric compared */
    char mode[8];           /* "max" (higher is better) or "min" */
    int64_t rung;           /* rows of the metrics history when it was pruned */
    double value;           /* the run's metric there */
    double median;          /* its peers' median there */
    int64_t peers;          /* how many peers had reached the rung */
    char peer_values[1024]; /* "cell 0: 0.81, cell 1: 0.79" */
    char summary[1536];     /* one line saying all of it */
} io_pruned;
/* As io_results_complete, with /pruned holding why and status = "pruned" (a finished run). */
int io_results_complete_pruned(io_results *r, const io_pruned *why);
/* Close without completing (status stays "running"). NULL-safe. */
void io_results_close(io_results *r);

typedef struct {
    char experiment[64], run_id[64], status[32];
    char inputs[IO_INPUTS_MAX];
} io_results_info;
/* Check a results file as a reader relies on it: its seal, its root attributes, status
 * "complete" (or "pruned": finished early by a sweep's early stopping). Fills info as far as it
 * could read; RL_ERR says what is wrong (a .partial file is "not a finished run"). */
int io_results_check(const char *path, io_results_info *info);

/* Readers below check a finished file's seal before reading (not a .partial one's). */
/* Read /arrays/NAME of a results file (float32) and its string attribute (may be NULL). */
int io_results_read_array_f32(const char *path, const char *name, float **data, size_t *n,
                              const char *attr_name, char *attr_value, size_t attr_size);
/* Read a string attribute of the group `group` ("/": the root's "status", "run_id", ...). */
int io_results_read_attr(const char *path, const char *group, const char *name, char *value,
                         size_t size);
/* Print a readable summary of a results file to stdout (ranklab inspect). */
int io_results_inspect(const char *path);
/* ranklab compare: whether two results files hold the same bits in /metrics, /final and /arrays
 * (measurements of the machine left out: /final/wall_seconds, /final/peak_mb_*); if not, prints
 * the first differing dataset, its largest difference, the config keys and the fingerprint
 * attributes that differ. 0 identical, 1 different, RL_ERR if a file cannot be read. */
int io_results_compare(const char *path_a, const char *path_b);
/* The HDF5 library's version, "1.10.8". */
void io_hdf5_version(char *out, size_t n);

/* ---- checkpoints ---- */

typedef struct io_ckpt io_ckpt;
/* The final checkpoint's name in RUN_DIR/ckpt (the others: step-NNNNNNNNNN.h5). */
#define IO_CKPT_FINAL_NAME "final.h5"

/* What a checkpoint says about itself (root attributes). */
typedef struct {
    int64_t step;  /* where the run resumes */
    int64_t final; /* 1: final.h5, the run's finals are in it; nothing is left to compute */
    char run_id[64];
    char inputs[IO_INPUTS_MAX];
    char code_version[64];
} io_ckpt_info;

/* Collective. Starts RUN_DIR/ckpt/step-NNNNNNNNNN.h5.tmp (final.h5.tmp if info->final). */
int io_ckpt_begin(io_ckpt **out, const char *ckpt_dir, const io_ckpt_info *info,
                  const char *config_text);
/* Collective. Dataset NAME ("a/b" creates groups) of global_count elements; this rank writes
 * elements [offset, offset + count). Ranks' slices must tile the dataset in rank order. The
 * data is written at io_ckpt_commit: a slice of up to IO_CKPT_COPY_BYTES is copied here, a
 * larger one (the state arrays) must stay valid and unchanged until the commit. */
#define IO_CKPT_COPY_BYTES (64u << 10)
int io_ckpt_write(io_ckpt *c, const char *name, io_type type, int64_t global_count,
                  int64_t offset, int64_t count, const void *data);
/* Collective. Reserve the file's size on disk (a full disk fails here, before HDF5 writes
 * anything), write every dataset, mark complete, close, seal, verify, rename; then keep the
 * newest `keep` checkpoints. If anything fails, on any rank, the temporary is removed and the
 * older checkpoints stay untouched; RL_ERR on every rank. Frees c. */
int io_ckpt_commit(io_ckpt *c, int keep);
/* Abandon a checkpoint before its commit (nothing was written). NULL-safe. */
void io_ckpt_discard(io_ckpt *c);

/* Check one checkpoint file alone (any process): the seal, then structure, "complete", every
 * dataset's CRC. Returns 0 and fills info if good; otherwise RL_ERR with the reason. */
int io_ckpt_verify(const char *path, io_ckpt_info *info);
/* Collective: the newest good checkpoint in ckpt_dir (rank 0 verifies; bad ones are reported
 * as warnings and skipped). Returns 1 and fills path and info if found, 0 if there is none,
 * RL_ERR on error. */
int io_ckpt_find_latest(const char *ckpt_dir, char *path, size_t path_size, io_ckpt_info *info);
/* List checkpoint files of ckpt_dir, newest first (final.h5 first of all). */
int io_ckpt_list(const char *ckpt_dir, char ***paths, int *n);
void io_ckpt_list_free(char **paths, int n);
/* Remove *.h5.tmp files of ckpt_dir (left by a run that died while writing one). */
void io_ckpt_remove_temporaries(const char *ckpt_dir);

/* Collective open for reading. */
int io_ckpt_open(io_ckpt **out, const char *path);
/* Elements of dataset NAME; -1 if missing, or if it claims more than the file could hold. */
int64_t io_ckpt_size(io_ckpt *c, const char *name);
int io_ckpt_read(io_ckpt *c, const char *name, io_type type, int64_t offset, int64_t count,
                 void *data);
/* Names of the datasets in GROUP of an open checkpoint (none if it has no such group); free
 * with io_ckpt_list_free. */
int io_ckpt_list_group(io_ckpt *c, const char *group, char ***names, int *n);
void io_ckpt_close(io_ckpt *c); /* NULL-safe */

/* ---- feature cache (subset selection; one process each) ---- */

/* Write PATH: /features (n, k) float32, /params (n_params) float32 (what computes the features
 * of new rows, e.g. an encoder's weights) and the root string attribute "key" naming what made
 * them; through PATH.PID.tmp, sealed, fsync and rename, so readers see a whole file or none and
 * runs writing the same cache at once (cells of a sweep) each rename a whole file of their own. */
int io_features_write(const char *path, const char *key, const float *f, int64_t n, int k,
                      const float *params, int64_t n_params);
/* Read rows [lo, lo + count) of PATH's /features into f (count, k) and /params into params
 * (n_params): 1 if read, 0 if PATH does not exist, RL_ERR (naming what differs, with a hint) if
 * its key or shapes are not the caller's, or it cannot be read. */
int io_features_read(const char *path, const char *key, int64_t n, int k, int64_t lo,
                     int64_t count, float *f, int64_t n_params, float *params);

/* ---- users' data files (data.name=h5; read-only, one process each) ---- */

/* A user's HDF5 file: no seal (ranklab did not write it), only its shapes and types are known
 * before src/data validates them.
 *
 *     io_data_file *f;
 *     io_data_open(path, &f);
 *     io_data_array x;
 *     io_data_array_info(f, "train/x", &x);            // x.dims[0] rows of type x.type
 *     io_data_read_rows(f, "train/x", IO_DATA_U8, n, out);
 *     io_data_close(f);
 */
typedef struct io_data_file io_data_file;
#define IO_DATA_MAX_DIMS 8
typedef struct {
    int ndims;                      /* dimensions (0: a scalar); the first IO_DATA_MAX_DIMS kept */
    int64_t dims[IO_DATA_MAX_DIMS]; /* (ndims) */
    int integer;                    /* integer elements, of any size and sign */
    char type[32];                  /* the element type in numpy's words: "uint8", "float64", ... */
} io_data_array;
/* What rows are read as: uint8, float32, int64 (HDF5 converts). */
typedef enum { IO_DATA_U8, IO_DATA_F32, IO_DATA_I64 } io_data_elem;

/* RL_ERR naming the file and the reason: missing, not HDF5, truncated (HDF5's own words). */
int io_data_open(const char *path, io_data_file **out);
void io_data_close(io_data_file *f); /* NULL-safe */
/* Shape and element type of dataset NAME ("train/x"); RL_ERR "FILE has no dataset NAME" (or it
 * is not a dataset). */
int io_data_array_info(io_data_file *f, const char *name, io_data_array *info);
/* The first `rows` rows (first dimension) of dataset NAME, all of each row, as elem into out. */
int io_data_read_rows(io_data_file *f, const char *name, io_data_elem elem, int64_t rows,
                      void *out);
/* Integer attribute NAME of the root group: 1 and *value, 0 if there is none, RL_ERR if it is
 * not one integer. */
int io_data_root_int(io_data_file *f, const char *name, int64_t *value);

#endif
