/* Peak and current resident memory from /proc (see mem.h). */
#include "src/core/mem.h"

#include <stdio.h>
#include <string.h>

static int64_t status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && sscanf(line + n, " %lld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

int64_t rl_mem_peak_kb(void) {
    return status_kb("VmHWM:");
}

int64_t rl_mem_current_kb(void) {
    return status_kb("VmRSS:");
}

int rl_mem_peak_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int rc = fputs("5", f) < 0 ? -1 : 0;
    return fclose(f) == 0 ? rc : -1;
}
