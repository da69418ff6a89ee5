/* A growing text buffer (see text.h). */
#include "src/core/text.h"
#include "src/core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rl_text_add(rl_text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return;
    if (t->len + (size_t)need + 1 > t->cap) {
        size_t cap = 2 * (t->len + (size_t)need + 1) + 256;
        char *grown = rl_xmalloc(cap);
        if (t->s)
            memcpy(grown, t->s, t->len + 1);
        free(t->s);
        t->s = grown;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)need + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)need;
}

const char *rl_text_str(const rl_text *t) {
    return t->s ? t->s : "";
}

void rl_text_free(rl_text *t) {
    free(t->s);
    *t = (rl_text){0};
}
