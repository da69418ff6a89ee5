/* Stop flag set by signals, and fault injection for tests (see stop.h). */
#include "src/core/stop.h"
#include "src/core/log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig) {
    stop_signal = sig;
}

void rl_stop_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
}

int rl_stop_requested(void) {
    return stop_signal;
}

void rl_stop_inject_fault(int64_t step) {
    const char *spec = getenv("RANKLAB_FAULT");
    if (!spec || !*spec)
        return;
    char name[16];
    long long at = -1;
    int rank = 0;
    if (sscanf(spec, "%15[a-z12]@%lld:%d", name, &at, &rank) < 2 || !strcmp(name, "fail"))
        return;
    if (at != step || rank != rl_log_rank_id())
        return;
    int sig = !strcmp(name, "kill")   ? SIGKILL
              : !strcmp(name, "stop") ? SIGSTOP
              : !strcmp(name, "usr1") ? SIGUSR1
              : !strcmp(name, "usr2") ? SIGUSR2
                                      : SIGTERM;
    rl_log_rank("fault injection: raising %s at step %lld", name, at);
    raise(sig);
}

int rl_fault_at(const char *point) {
    const char *spec = getenv("RANKLAB_FAULT");
    return spec && !strncmp(spec, "fail@", 5) && !strcmp(spec + 5, point);
}
