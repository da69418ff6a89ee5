/* A growing text buffer: printf-style appends into one heap string, for files and messages
 * built piece by piece (manifests, batch scripts, config text).
 *
 *     rl_text t = {0};
 *     rl_text_add(&t, "%s\t%d\n", name, n);
 *     fputs(rl_text_str(&t), f);                 // "" while nothing was added
 *     rl_text_free(&t);
 */
#ifndef RANKLAB_CORE_TEXT_H
#define RANKLAB_CORE_TEXT_H

#include <stddef.h>

typedef struct {
    char *s; /* NUL-terminated once anything was added; NULL before */
    size_t len, cap;
} rl_text;

/* Append printf-style; out of memory is fatal (rl_fatal). */
void rl_text_add(rl_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" when empty). */
const char *rl_text_str(const rl_text *t);
/* Free the text and leave t empty (reusable). */
void rl_text_free(rl_text *t);

#endif
