/* The run's fingerprint (results.h5 root attributes "fingerprint.KEY"): what the bits of a
 * result may depend on, from every rank: the compute path and ISA level, the BLAS library and the
 * kernel it picked, the MPI and HDF5 libraries, the compiler, libc, the CPU and its ISA flags.
 * Keys on which the ranks agree hold the value; others list each value with its ranks, e.g.
 * "exact avx2 (ranks 0, 2); exact generic (rank 1)". */
#include "src/comm/comm.h"
#include "src/core/compute.h"
#include "src/core/error.h"
#include "src/io/io.h"
#include "src/run/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of `key` in "key=value" lines, copied into out ("" if absent). */
static void line_value(const char *lines, const char *key, char *out, size_t n) {
    size_t key_len = strlen(key);
    out[0] = '\0';
    for (const char *line = lines; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > key_len && strncmp(line, key, key_len) == 0 && line[key_len] == '=') {
            snprintf(out, n, "%.*s", (int)(len - key_len - 1), line + key_len + 1);
            return;
        }
        line += len + (line[len] == '\n');
    }
}

typedef struct {
    char *text;
    size_t len, cap;
} text_buf;

static void append(text_buf *b, const char *s) {
    b->len += (size_t)snprintf(b->text + b->len, b->cap - b->len, "%s", s);
}

/* Rank 0: one "key=value" line per key of rank 0's fingerprint, merged over the ranks. */
static char *merge_fingerprints(char **texts, int ranks) {
    size_t keys = 1, total = 0;
    for (const char *c = texts[0]; *c; c++)
        keys += *c == '\n';
    for (int r = 0; r < ranks; r++)
        total += strlen(texts[r]);
    /* Each distinct value at most once per key, plus every rank's number once per key. */
    text_buf b = {NULL, 0, total + keys * ((size_t)ranks * 14 + 64) + 1};
    b.text = rl_xmalloc(b.cap);
    b.text[0] = '\0';
    char key[64], value[RL_FINGERPRINT_MAX], other[RL_FINGERPRINT_MAX], number[16];
    for (const char *line = texts[0]; *line;) {
        size_t line_len = strcspn(line, "\n"), key_len = strcspn(line, "=");
        if (key_len < line_len && key_len < sizeof key) {
            snprintf(key, sizeof key, "%.*s", (int)key_len, line);
            line_value(texts[0], key, value, sizeof value);
            int same = 1;
            for (int r = 1; r < ranks && same; r++) {
                line_value(texts[r], key, other, sizeof other);
                same = strcmp(value, other) == 0;
            }
            append(&b, key);
            append(&b, "=");
            if (same)
                append(&b, value);
            /* Differing: each distinct value once, in order of its first rank, with its ranks. */
            for (int first = 0, shown = 0; !same && first < ranks; first++) {
                line_value(texts[first], key, value, sizeof value);
                int seen = 0, count = 0;
                for (int r = 0; r < first && !seen; r++) {
                    line_value(texts[r], key, other, sizeof other);
                    seen = strcmp(value, other) == 0;
                }
                for (int r = first; r < ranks && !seen; r++) {
                    line_value(texts[r], key, other, sizeof other);
                    count += strcmp(value, other) == 0;
                }
                if (seen)
                    continue;
                append(&b, shown++ ? "; " : "");
                append(&b, value);
                append(&b, count > 1 ? " (ranks " : " (rank ");
                for (int r = first, listed = 0; r < ranks; r++) {
                    line_value(texts[r], key, other, sizeof other);
                    if (strcmp(value, other) != 0)
                        continue;
                    snprintf(number, sizeof number, "%s%d", listed++ ? ", " : "", r);
                    append(&b, number);
                }
                append(&b, ")");
            }
            append(&b, "\n");
        }
        line += line_len + (line[line_len] == '\n');
    }
    return b.text;
}

char *run_fingerprint(void) {
    char mine[RL_FINGERPRINT_MAX + 512], mpi[256], hdf5[32];
    rl_compute_fingerprint(mine, RL_FINGERPRINT_MAX);
    comm_library_version(mpi, sizeof mpi);
    io_hdf5_version(hdf5, sizeof hdf5);
    size_t len = strlen(mine);
    snprintf(mine + len, sizeof mine - len, "mpi=%s\nhdf5=%s\n", mpi, hdf5);
    char **texts;
    if (comm_gather_texts(mine, &texts) < 0 || !texts)
        return NULL;
    char *merged = merge_fingerprints(texts, comm_size());
    comm_texts_free(texts);
    return merged;
}
