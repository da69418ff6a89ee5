/* src/io on one rank: the checksum seal, checkpoints that reject every single-byte change, a
 * failed checkpoint that leaves the older ones alone, dataset extents bounded by the file, the
 * run-directory lock (held, refused, released by the kernel when its holder dies). */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/io/io.h"
#include "tests/unit/harness.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_SET_COUNT 1237 /* a distinctive extent, found in the file by its bytes */

static void scratch_dir(char *dir, size_t n) {
    snprintf(dir, n, "%s/ranklab-io-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static void remove_tree(const char *dir) {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    CU_ASSERT_EQUAL_FATAL(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void write_file(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void ckpt_info(io_ckpt_info *info, int64_t step) {
    memset(info, 0, sizeof *info);
    info->step = step;
    snprintf(info->run_id, sizeof info->run_id, "00112233445566ff");
    snprintf(info->inputs, sizeof info->inputs, "test data crc32 12345678");
    snprintf(info->code_version, sizeof info->code_version, "test");
}

/* A small checkpoint of `step` in dir/ckpt: an f32 set of TEST_SET_COUNT values and an i64 pair. */
static int write_checkpoint(const char *dir, int64_t step, int keep, char *path, size_t n) {
    char ckpt_dir[PATH_MAX];
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s/ckpt", dir);
    float *values = malloc(sizeof(float) * TEST_SET_COUNT);
    for (int i = 0; i < TEST_SET_COUNT; i++)
        values[i] = (float)i * 0.5f + (float)step;
    int64_t pair[2] = {step, -7};
    io_ckpt_info info;
    ckpt_info(&info, step);
    io_ckpt *c;
    int rc = io_ckpt_begin(&c, ckpt_dir, &info, "train.lr = 0.001\n");
    rc = rc ? rc : io_ckpt_write(c, "model/params", IO_F32, TEST_SET_COUNT, 0, TEST_SET_COUNT, values);
    rc = rc ? rc : io_ckpt_write(c, "train/scalars", IO_I64, 2, 0, 2, pair);
    rc = rc ? rc : io_ckpt_commit(c, keep);
    free(values);
    snprintf(path, n, "%s/step-%010lld.h5", ckpt_dir, (long long)step);
    return rc;
}

static void test_seal_detects_changes(void) {
    char dir[PATH_MAX], path[PATH_MAX + 16];
    scratch_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/file", dir);
    uint8_t text[300];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (uint8_t)(i * 7);
    write_file(path, text, sizeof text);
    CU_ASSERT_NOT_EQUAL(io_check_seal(path, NULL), 0); /* not sealed yet */
    CU_ASSERT_EQUAL_FATAL(io_seal_file(path), 0);
    uint64_t covered = 0;
    CU_ASSERT_EQUAL(io_check_seal(path, &covered), 0);
    CU_ASSERT_EQUAL(covered, sizeof text);
    size_t n;
    uint8_t *sealed = read_file(path, &n);
    int accepted = 0;
    for (size_t at = 0; at < n; at++) {
        uint8_t *b = malloc(n);
        memcpy(b, sealed, n);
        b[at] ^= (uint8_t)(1u << (at % 8));
        write_file(path, b, n);
        accepted += io_check_seal(path, NULL) == 0;
        free(b);
    }
    CU_ASSERT_EQUAL(accepted, 0);
    write_file(path, sealed, n - 1); /* truncated */
    CU_ASSERT_NOT_EQUAL(io_check_seal(path, NULL), 0);
    uint8_t *longer = calloc(1, n + 5); /* extended */
    memcpy(longer, sealed, n);
    write_file(path, longer, n + 5);
    CU_ASSERT_NOT_EQUAL(io_check_seal(path, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "no checksum seal"));
    free(longer);
    free(sealed);
    remove_tree(dir);
}

/* Every byte of a checkpoint flipped, one at a time: verify refuses each copy (and does not
 * crash), so a resume never starts from a changed checkpoint. */
static void test_checkpoint_byte_flips_all_refused(void) {
    char dir[PATH_MAX], path[PATH_MAX + 64], copy[PATH_MAX + 64];
    scratch_dir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(write_checkpoint(dir, 3, 2, path, sizeof path), 0);
    io_ckpt_info info;
    CU_ASSERT_EQUAL_FATAL(io_ckpt_verify(path, &info), 0);
    CU_ASSERT_EQUAL(info.step, 3);
    CU_ASSERT_STRING_EQUAL(info.inputs, "test data crc32 12345678");
    size_t n;
    uint8_t *good = read_file(path, &n);
    snprintf(copy, sizeof copy, "%s/flipped.h5", dir);
    int accepted = 0;
    uint8_t *b = malloc(n);
    for (size_t at = 0; at < n; at++) {
        memcpy(b, good, n);
        b[at] ^= 0xff;
        write_file(copy, b, n);
        accepted += io_ckpt_verify(copy, &info) == 0;
    }
    CU_ASSERT_EQUAL(accepted, 0);
    free(b);
    free(good);
    remove_tree(dir);
}

/* A checkpoint whose dataset claims a huge extent (its seal made valid again, as a file
 * damaged before it was sealed would be): refused with the numbers, nothing allocated. */
static void test_checkpoint_huge_extent_refused(void) {
    char dir[PATH_MAX], path[PATH_MAX + 64];
    scratch_dir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(write_checkpoint(dir, 4, 2, path, sizeof path), 0);
    size_t n;
    uint8_t *b = read_file(path, &n);
    n -= 24; /* drop the seal */
    int patched = 0;
    for (size_t at = 0; at + 8 <= n; at++) {
        uint64_t v;
        memcpy(&v, b + at, 8);
        if (v == TEST_SET_COUNT) {
            uint64_t huge = (uint64_t)1 << 40;
            memcpy(b + at, &huge, 8);
            patched++;
        }
    }
    CU_ASSERT_FATAL(patched > 0);
    write_file(path, b, n);
    CU_ASSERT_EQUAL_FATAL(io_seal_file(path), 0);
    io_ckpt_info info;
    CU_ASSERT_NOT_EQUAL(io_ckpt_verify(path, &info), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "claims"));
    free(b);
    remove_tree(dir);
}

/* A write that fails (slices not tiling the set: a failure on every rank) discards the
 * checkpoint being written and leaves the older one, even with ckpt.keep = 1. */
static void test_failed_checkpoint_keeps_older(void) {
    char dir[PATH_MAX], path[PATH_MAX + 64], ckpt_dir[PATH_MAX + 8];
    scratch_dir(dir, sizeof dir);
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s/ckpt", dir);
    CU_ASSERT_EQUAL_FATAL(write_checkpoint(dir, 10, 1, path, sizeof path), 0);
    io_ckpt_info info;
    ckpt_info(&info, 20);
    io_ckpt *c;
    float v[4] = {1, 2, 3, 4};
    CU_ASSERT_EQUAL_FATAL(io_ckpt_begin(&c, ckpt_dir, &info, ""), 0);
    CU_ASSERT_EQUAL(io_ckpt_write(c, "ok", IO_F32, 4, 0, 4, v), 0);
    CU_ASSERT_NOT_EQUAL(io_ckpt_write(c, "torn", IO_F32, 8, 0, 4, v), 0);
    CU_ASSERT_NOT_EQUAL(io_ckpt_write(c, "after", IO_F32, 4, 0, 4, v), 0); /* sticky */
    CU_ASSERT_NOT_EQUAL(io_ckpt_commit(c, 1), 0);
    char **paths;
    int n;
    io_ckpt_list(ckpt_dir, &paths, &n);
    CU_ASSERT_EQUAL(n, 1);
    if (n == 1)
        CU_ASSERT_STRING_EQUAL(paths[0], path);
    io_ckpt_list_free(paths, n);
    CU_ASSERT_EQUAL(io_ckpt_verify(path, &info), 0);
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/step-0000000020.h5.tmp", ckpt_dir);
    CU_ASSERT_FALSE(io_path_exists(tmp));
    remove_tree(dir);
}

static void test_ckpt_list_order_and_temporaries(void) {
    char dir[PATH_MAX], path[PATH_MAX + 64], ckpt_dir[PATH_MAX + 8];
    scratch_dir(dir, sizeof dir);
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s/ckpt", dir);
    CU_ASSERT_EQUAL_FATAL(write_checkpoint(dir, 5, 10, path, sizeof path), 0);
    CU_ASSERT_EQUAL_FATAL(write_checkpoint(dir, 50, 10, path, sizeof path), 0);
    char name[PATH_MAX + 64];
    snprintf(name, sizeof name, "%s/final.h5", ckpt_dir);
    write_file(name, (const uint8_t *)"x", 1);
    snprintf(name, sizeof name, "%s/step-0000000099.h5.tmp", ckpt_dir);
    write_file(name, (const uint8_t *)"x", 1);
    char **paths;
    int n;
    io_ckpt_list(ckpt_dir, &paths, &n);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(paths[0], "/final.h5"));
    CU_ASSERT_PTR_NOT_NULL(strstr(paths[1], "step-0000000050.h5"));
    CU_ASSERT_PTR_NOT_NULL(strstr(paths[2], "step-0000000005.h5"));
    io_ckpt_list_free(paths, n);
    io_ckpt_remove_temporaries(ckpt_dir);
    CU_ASSERT_FALSE(io_path_exists(name));
    remove_tree(dir);
}

static void test_lock_refuses_second_holder(void) {
    char dir[PATH_MAX];
    scratch_dir(dir, sizeof dir);
    io_lock *first, *second = NULL;
    CU_ASSERT_EQUAL_FATAL(io_lock_acquire(dir, "first holder, pid 1", &first), 0);
    CU_ASSERT_EQUAL(io_lock_acquire(dir, "second", &second), IO_LOCK_BUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "in use by another run"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "first holder, pid 1"));
    io_lock_release(first);
    CU_ASSERT_EQUAL(io_lock_acquire(dir, "second", &second), 0);
    io_lock_release(second);
    remove_tree(dir);
}

/* A holder that dies without releasing (kill -9, a crash): its lock is gone with it. */
static void test_lock_of_dead_holder_is_free(void) {
    char dir[PATH_MAX], path[PATH_MAX + 16];
    scratch_dir(dir, sizeof dir);
    pid_t child = fork();
    if (child == 0) {
        io_lock *l;
        _exit(io_lock_acquire(dir, "a run that crashed", &l) == 0 ? 0 : 1);
    }
    int status;
    CU_ASSERT_EQUAL_FATAL(waitpid(child, &status, 0), child);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(path, sizeof path, "%s/run.lock", dir);
    CU_ASSERT_TRUE(io_path_exists(path)); /* left behind, naming the dead holder */
    io_lock *l;
    CU_ASSERT_EQUAL(io_lock_acquire(dir, "next run", &l), 0);
    io_lock_release(l);
    CU_ASSERT_FALSE(io_path_exists(path));
    remove_tree(dir);
}

static const rl_test tests[] = {
    {"seal detects every changed byte, truncation and extension", test_seal_detects_changes},
    {"checkpoint: every single-byte flip is refused by verify",
     test_checkpoint_byte_flips_all_refused},
    {"checkpoint: a huge dataset extent is refused, not allocated",
     test_checkpoint_huge_extent_refused},
    {"checkpoint: a failed write keeps the older one (keep = 1)",
     test_failed_checkpoint_keeps_older},
    {"checkpoint list: final first, then newest; temporaries removed",
     test_ckpt_list_order_and_temporaries},
    {"lock: a second holder is refused, naming the first", test_lock_refuses_second_holder},
    {"lock: a dead holder's lock is free", test_lock_of_dead_holder_is_free},
    {NULL, NULL},
};

RL_TEST_SUITE("io", tests)
