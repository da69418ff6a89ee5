/* Run directories and durability: mkdir -p, fsync of files and directories. */
#include "src/io/io.h"
#include "src/core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int io_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
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
    close(fd);
    if (rc != 0)
        return rl_fail("fsync of %s failed: %s", "the disk may be full or failing", path,
                       strerror(errno));
    return 0;
}

int io_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return rl_fail("cannot open directory %s: %s", "check the run directory", dir,
                       strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0)
        return rl_fail("fsync of directory %s failed: %s", "the disk may be full or failing", dir,
                       strerror(errno));
    return 0;
}
