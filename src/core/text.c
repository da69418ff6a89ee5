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

size_t rl_utf8_sequence(const unsigned char *s, size_t n) {
    if (s[0] >= 0x01 && s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

void rl_utf8_printable(char *s) {
    unsigned char *u = (unsigned char *)s;
    for (size_t i = 0, n = strlen(s); i < n;) {
        size_t len = rl_utf8_sequence(u + i, n - i);
        if (len == 0 || (len == 1 && (u[i] < 0x20 || u[i] == 0x7f)))
            u[i++] = '?';
        else
            i += len;
    }
}
