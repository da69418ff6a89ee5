/* Run directories and durability: mkdir -p, fsync of files and directories, the one
 * temp + fsync + rename + fsync-directory commit, the checksum seal every finished file carries,
 * the run-directory lock, and telling a full disk from other write failures. */
#include "src/core/error.h"
#include "src/core/text.h"
#include "src/io/fault.h"
#include "src/io/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

int io_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

io_path_kind_t io_path_kind(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return IO_PATH_MISSING;
    return S_ISREG(st.st_mode) ? IO_PATH_FILE : S_ISDIR(st.st_mode) ? IO_PATH_DIR : IO_PATH_OTHER;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dot_entry(const char *name) {
    return !strcmp(name, ".") || !strcmp(name, "..");
}

long io_dir_entries(const char *dir, rl_text *names, int max_names) {
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += !is_dot_entry(e->d_name);
    /* The names, sorted, so that a message names the same ones every time. */
    char **all = rl_xcalloc((size_t)n + 1, sizeof *all);
    long kept = 0;
    rewinddir(d);
    for (struct dirent *e; kept < n && (e = readdir(d));)
        if (!is_dot_entry(e->d_name))
            all[kept++] = rl_xstrdup(e->d_name);
    closedir(d);
    qsort(all, (size_t)kept, sizeof *all, compare_names);
    for (long i = 0; i < kept; i++) {
        if (names && i < max_names)
            rl_text_add(names, "%s%s", i ? ", " : "", all[i]);
        free(all[i]);
    }
    free(all);
    return n;
}

int io_make_dir(const char *dir) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return rl_fail("output path too long: %s", "choose a shorter --out", dir);
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(path, 0775) != 0 && errno != EEXIST)
                return rl_fail("cannot create directory %s: %s",
                               "choose a writable --out directory", path, strerror(errno));
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
                return rl_fail("%s exists and is not a directory",
                               "choose another --out directory", path);
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    if (access(dir, W_OK | X_OK) != 0)
        return rl_fail("output directory %s is not writable: %s",
                       "choose a writable --out directory", dir, strerror(errno));
    return 0;
}

int io_fsync_file(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return rl_fail("cannot open %s to sync it: %s", "check the disk and permissions", path,
                       strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0)
        return io_fail_write(path, err, "fsync failed");
    return 0;
}

int io_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return rl_fail("cannot open directory %s: %s", "check the run directory", dir,
                       strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0)
        return io_fail_write(dir, err, "fsync of the directory failed");
    return 0;
}

/* The directory part of path ("." when it has none). */
static void parent_dir(const char *path, char *dir, size_t n) {
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, n, ".");
    else
        *(slash == dir ? slash + 1 : slash) = '\0';
}

int io_fail_write(const char *path, int err, const char *what) {
    char dir[PATH_MAX];
    if (io_path_kind(path) == IO_PATH_DIR)
        snprintf(dir, sizeof dir, "%s", path);
    else
        parent_dir(path, dir, sizeof dir);
    struct statvfs fs;
    int full = err == ENOSPC || err == EDQUOT;
    unsigned long long free_bytes = 0;
    if (statvfs(dir, &fs) == 0) {
        free_bytes = (unsigned long long)fs.f_bavail * fs.f_frsize;
        full |= free_bytes < IO_LOW_SPACE_BYTES;
    }
    if (!full)
        return rl_fail("%s: %s%s%s", "check the disk and the permissions of the run directory",
                       path, what, err ? ": " : "", err ? strerror(err) : "");
    rl_fail("%s: %s: the file system is full (%llu bytes free in %s)%s",
            "free space (or raise the quota), then run the same command: it resumes from the "
            "last good checkpoint",
            path, what, free_bytes, dir, err == EDQUOT ? ", disk quota exceeded" : "");
    rl_error_set_class(RL_ERRC_NOSPACE);
    return RL_ERR;
}

int io_reserve_space(const char *dir, uint64_t bytes) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/.space-check", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_fail_write(path, errno, "cannot create a scratch file");
    int err = posix_fallocate(fd, 0, (off_t)bytes);
    close(fd);
    unlink(path);
    if (err == EOPNOTSUPP || err == EINVAL) { /* no fallocate here: count the free space */
        struct statvfs fs;
        if (statvfs(dir, &fs) != 0 || (uint64_t)fs.f_bavail * fs.f_frsize >= bytes)
            return 0;
        err = ENOSPC;
    }
    if (err) {
        char what[96];
        snprintf(what, sizeof what, "cannot reserve %llu bytes for the next file",
                 (unsigned long long)bytes);
        return io_fail_write(dir, err, what);
    }
    return 0;
}

int io_commit_file(const char *tmp, const char *path) {
    char dir[PATH_MAX];
    parent_dir(path, dir, sizeof dir);
    if (io_fsync_file(tmp) < 0)
        return RL_ERR;
    if (rename(tmp, path) != 0)
        return rl_fail("cannot rename %s to %s: %s", "check the directory", tmp, path,
                       strerror(errno));
    return io_fsync_dir(dir);
}

int io_write_text_atomic(const char *path, const char *text) {
    char tmp[PATH_MAX + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return rl_fail("path too long: %s", "use a shorter directory", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return rl_fail("cannot write %s: %s", "check that the directory is writable", tmp,
                       strerror(errno));
    size_t n = strlen(text);
    int err = fwrite(text, 1, n, f) == n ? 0 : errno;
    if (!err && io_fault_write(tmp))
        err = EIO;
    if (fclose(f) != 0 && !err)
        err = errno ? errno : EIO;
    if (err || io_commit_file(tmp, path) < 0) {
        int rc = err ? io_fail_write(tmp, err, "cannot write") : RL_ERR;
        unlink(tmp);
        return rc;
    }
    return 0;
}

/* ---- checksum seal ---- */

/* A sealed file ends with SEAL_BYTES: the magic, the number of bytes before the seal
 * (little-endian u64) and their CRC-32 (little-endian u32, then 4 zero bytes). HDF5 ignores bytes
 * past the end of its data, so a sealed HDF5 file still opens in h5py. */
#define SEAL_MAGIC "RLSEAL01"
#define SEAL_BYTES 24
#define SEAL_READ_BLOCK (1u << 20)

static void put_le(uint8_t *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* CRC-32 of the first n bytes of fd. */
static int crc_prefix(int fd, const char *path, uint64_t n, uint32_t *crc) {
    uint8_t *buf = rl_xmalloc(SEAL_READ_BLOCK);
    uLong c = crc32(0L, Z_NULL, 0);
    int rc = 0;
    for (uint64_t at = 0; at < n;) {
        size_t want = n - at < SEAL_READ_BLOCK ? (size_t)(n - at) : SEAL_READ_BLOCK;
        ssize_t got =
            io_fault_read(path, buf, want) ? (errno = EIO, -1) : pread(fd, buf, want, (off_t)at);
        if (got <= 0) {
            rc = rl_fail("cannot read %s: %s", "check the disk", path,
                         got < 0 ? strerror(errno) : "unexpected end of file");
            break;
        }
        c = crc32(c, buf, (uInt)got);
        at += (uint64_t)got;
    }
    free(buf);
    *crc = (uint32_t)c;
    return rc;
}

int io_seal_file(const char *path) {
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return rl_fail("cannot open %s to seal it: %s", "check the run directory", path,
                       strerror(errno));
    struct stat st;
    uint32_t crc = 0;
    int rc = fstat(fd, &st) == 0 ? 0 : rl_fail("cannot stat %s", NULL, path);
    rc = rc ? rc : crc_prefix(fd, path, (uint64_t)st.st_size, &crc);
    if (rc == 0) {
        uint8_t seal[SEAL_BYTES] = {0};
        memcpy(seal, SEAL_MAGIC, 8);
        put_le(seal + 8, (uint64_t)st.st_size, 8);
        put_le(seal + 16, crc, 4);
        ssize_t put = pwrite(fd, seal, sizeof seal, st.st_size);
        if (put == (ssize_t)sizeof seal && io_fault_write(path))
            put = -1, errno = EIO;
        if (put != (ssize_t)sizeof seal)
            rc = io_fail_write(path, put < 0 ? errno : ENOSPC, "cannot write its checksum");
    }
    close(fd);
    return rc;
}

int io_check_seal(const char *path, uint64_t *data_bytes) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return rl_fail("cannot open %s: %s", "check the path", path, strerror(errno));
    struct stat st;
    uint8_t seal[SEAL_BYTES];
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = rl_fail("%s is not a regular file", "give the path of a file ranklab wrote", path);
    else if (st.st_size < SEAL_BYTES || pread(fd, seal, SEAL_BYTES, st.st_size - SEAL_BYTES) !=
                                            SEAL_BYTES ||
             memcmp(seal, SEAL_MAGIC, 8) != 0)
        rc = rl_fail("%s has no checksum seal at its end: it was not finished by ranklab, or it "
                     "was truncated or changed afterwards",
                     NULL, path);
    uint64_t covered = rc ? 0 : get_le(seal + 8, 8);
    if (rc == 0 && covered != (uint64_t)st.st_size - SEAL_BYTES)
        rc = rl_fail("%s: its checksum covers %llu bytes but the file holds %llu before the seal "
                     "(truncated or changed)",
                     NULL, path, (unsigned long long)covered,
                     (unsigned long long)(st.st_size - SEAL_BYTES));
    uint32_t crc = 0, expected = rc ? 0 : (uint32_t)get_le(seal + 16, 4);
    rc = rc ? rc : crc_prefix(fd, path, covered, &crc);
    if (rc == 0 && (crc != expected || get_le(seal + 20, 4) != 0))
        rc = rl_fail("%s fails its checksum (crc32 %08x, sealed %08x): it was damaged or changed "
                     "after it was written",
                     NULL, path, crc, expected);
    close(fd);
    if (rc == 0 && data_bytes)
        *data_bytes = covered;
    return rc;
}

/* ---- run-directory lock ---- */

/* An flock(2) on RUN_DIR/run.lock held by rank 0 while a run uses the directory: the kernel
 * drops it when the process ends however it ends, so a lock left by a crash is never in the way
 * (the file stays, naming its last holder). Works across nodes where the file system supports
 * locks (NFSv4, Lustre with -o flock); elsewhere a warning says concurrent runs go undetected. */
struct io_lock {
    int fd;
    char path[PATH_MAX + 16];
};

int io_lock_acquire(const char *dir, const char *holder, io_lock **out) {
    io_lock *l = rl_xcalloc(1, sizeof *l);
    l->fd = -1;
    if (snprintf(l->path, sizeof l->path, "%s/run.lock", dir) >= (int)sizeof l->path) {
        free(l);
        return rl_fail("path too long: %s", "choose a shorter --out", dir);
    }
    for (int attempt = 0; attempt < 10; attempt++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
        if (fd < 0) {
            int err = errno;
            free(l);
            return io_fail_write(dir, err, "cannot create run.lock");
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            if (err == EWOULDBLOCK) {
                char who[512] = "";
                ssize_t got = pread(fd, who, sizeof who - 1, 0);
                who[got > 0 ? got : 0] = '\0';
                who[strcspn(who, "\n")] = '\0';
                close(fd);
                free(l);
                rl_fail("%s is in use by another run (%s)",
                        "wait for that run to finish, or choose another --out directory", dir,
                        who[0] ? who : "holder unknown");
                return IO_LOCK_BUSY;
            }
            /* A file system without locks: go on, unprotected. */
            fprintf(stderr, "warning: cannot lock %s (%s): concurrent runs on this directory "
                            "will not be detected\n",
                    l->path, strerror(err));
        }
        /* The holder before us may have removed the file between our open and our lock. */
        struct stat by_fd, by_path;
        if (fstat(fd, &by_fd) == 0 && stat(l->path, &by_path) == 0 &&
            by_fd.st_ino == by_path.st_ino && by_fd.st_dev == by_path.st_dev) {
            l->fd = fd;
            break;
        }
        close(fd);
    }
    if (l->fd < 0) {
        free(l);
        return rl_fail("cannot take the lock %s/run.lock: it keeps changing", "try again", dir);
    }
    char line[768];
    int n = snprintf(line, sizeof line, "%s\n", holder);
    if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, line, (size_t)n, 0) != n ||
        (io_fault_write("run.lock") && (errno = EIO))) {
        int err = errno;
        io_lock_release(l);
        return io_fail_write(dir, err, "cannot write run.lock");
    }
    *out = l;
    return 0;
}

void io_lock_release(io_lock *l) {
    if (!l)
        return;
    unlink(l->path); /* while still holding it: a waiter then finds a fresh file */
    close(l->fd);
    free(l);
}
