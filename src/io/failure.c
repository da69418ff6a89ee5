/* Failure summaries: each rank that fails writes RUN_DIR/failure-rank-R.txt (atomically), whose
 * first line starts with the UTC time, so the first failure of a run is the file with the
 * smallest first line (see io.h). */
#include "src/core/error.h"
#include "src/io/io.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FAILURE_PREFIX "failure-rank-"
#define FAILURE_SUFFIX ".txt"

static int is_failure_name(const char *name) {
    size_t len = strlen(name), prefix = strlen(FAILURE_PREFIX), suffix = strlen(FAILURE_SUFFIX);
    return len > prefix + suffix && !strncmp(name, FAILURE_PREFIX, prefix) &&
           !strcmp(name + len - suffix, FAILURE_SUFFIX);
}

int io_failure_write(const char *run_dir, int rank, const char *text) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/" FAILURE_PREFIX "%d" FAILURE_SUFFIX, run_dir, rank);
    return io_write_text_atomic(path, text);
}

void io_failure_clear(const char *run_dir) {
    DIR *d = opendir(run_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", run_dir, e->d_name);
        if (is_failure_name(e->d_name))
            unlink(path);
    }
    closedir(d);
}

int io_failure_first(const char *run_dir, char *out, size_t n) {
    DIR *d = opendir(run_dir);
    if (!d)
        return 0;
    char first_line[512] = "";
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_failure_name(e->d_name))
            continue;
        char path[PATH_MAX + 300], text[IO_FAILURE_MAX] = "";
        snprintf(path, sizeof path, "%s/%s", run_dir, e->d_name);
        FILE *f = fopen(path, "r");
        size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f)
            fclose(f);
        text[len] = '\0';
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(text, "\n"), text);
        if (len > 0 && (!found || strcmp(line, first_line) < 0)) {
            snprintf(first_line, sizeof first_line, "%s", line);
            snprintf(out, n, "%s", text);
            found = 1;
        }
    }
    closedir(d);
    return found;
}
