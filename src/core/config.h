/* Config: INI files plus `section.key=value` overrides, checked against declared keys.
 *
 * Every key is declared by the module that reads it, with type, default, allowed range or
 * choices, and a one-line doc:
 *
 *     static const rl_cfg_spec keys[] = {
 *         {"train.lr", RL_CFG_FLOAT, "0.001", 0, 10, NULL, 0, "learning rate"},
 *         {"train.optim", RL_CFG_CHOICE, "adam", 0, 0, "sgd|adam", 0, "optimizer"},
 *     };
 *     rl_cfg_declare(cfg, keys, sizeof keys / sizeof keys[0]);
 *
 * Then rl_cfg_load_file / rl_cfg_set (overrides) and rl_cfg_resolve, which rejects unknown
 * keys (naming the closest valid one), wrong types and out-of-range values. Getters read the
 * resolved value; asking for an undeclared key is a programming error and aborts.
 *
 * Limits, refused with the numbers rather than cut: config files of at most
 * RL_CFG_MAX_FILE_BYTES without NUL bytes, INI lines as long as inih's line buffer allows, keys
 * of RL_CFG_MAX_KEY_CHARS and values of RL_CFG_MAX_VALUE_CHARS characters. A key given twice in
 * one file is refused naming both lines; a later file or an override replaces it.
 */
#ifndef RANKLAB_CORE_CONFIG_H
#define RANKLAB_CORE_CONFIG_H

#include "src/core/text.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { RL_CFG_INT, RL_CFG_FLOAT, RL_CFG_BOOL, RL_CFG_STRING, RL_CFG_CHOICE } rl_cfg_type;

enum {
    RL_CFG_RUNTIME = 1,       /* does not change the result (not hashed into the run id) */
    RL_CFG_ID_IF_CHANGED = 2, /* hashed into the run id only when it differs from its default:
                                 a key added later keeps the run ids of existing configs */
};

typedef struct {
    const char *key; /* "section.name" */
    rl_cfg_type type;
    const char *def;     /* default, as text */
    double min, max;     /* inclusive range for INT and FLOAT (ignored when min > max) */
    const char *choices; /* "a|b|c" for CHOICE */
    int flags;           /* RL_CFG_RUNTIME, RL_CFG_ID_IF_CHANGED */
    const char *doc;     /* one line */
} rl_cfg_spec;

#define RL_CFG_MAX_FILE_BYTES ((size_t)1 << 20)
#define RL_CFG_MAX_KEY_CHARS 255
#define RL_CFG_MAX_VALUE_CHARS 4095

typedef struct rl_config rl_config;

rl_config *rl_cfg_new(void);
void rl_cfg_free(rl_config *cfg);
/* Declare keys; the spec array must outlive cfg. Declaring the same key twice is allowed
 * when the specs are identical (modules share common keys). */
void rl_cfg_declare(rl_config *cfg, const rl_cfg_spec *specs, size_t n);
/* Read an INI file (a regular file or a pipe such as -c <(...)) and the files it includes (see
 * rl_cfg_walk_file); values are checked at rl_cfg_resolve. Returns 0 or RL_ERR. Loading files one
 * after another (repeated -c) is the same as one file including them in that order: a later one
 * replaces a key an earlier one set. */
int rl_cfg_load_file(rl_config *cfg, const char *path);
/* Load INI text (e.g. an experiment's embedded defaults); `origin` names it in errors. */
int rl_cfg_load_text(rl_config *cfg, const char *text, const char *origin);
/* One `section.key=value` override (command line). */
int rl_cfg_set_override(rl_config *cfg, const char *assignment);

/* The whole text file at `path` (caller frees), or NULL with the error stored: a directory, a
 * file larger than max_bytes (read up to max_bytes + 1, so /dev/zero is refused too) and a NUL
 * byte are refused. `what` names the file in messages ("config file"). */
char *rl_cfg_read_file(const char *path, const char *what, size_t max_bytes);

/* Walking an INI text with inih, for formats built on INI (sweep files). fn gets each
 * `name = value` with the file it comes from (`origin`), its section and line, and returns 0,
 * RL_ERR (message stored: stop), or RL_CFG_LIST: this key is a list, which may be given again
 * and continued on indented lines (fn gets every piece). Any other key given twice in one text is
 * refused naming both lines; so are lines longer than inih's buffer and lines that are not INI.
 * `origin` names the text. */
enum { RL_CFG_LIST = 1 };
typedef int (*rl_cfg_ini_fn)(void *user, const char *origin, const char *section, const char *name,
                             const char *value, int line);
int rl_cfg_walk_ini(const char *text, const char *origin, rl_cfg_ini_fn fn, void *user);

/* Composition: rl_cfg_walk_file walks the INI file at path (read as rl_cfg_read_file does, `what`
 * naming it) and the files it includes. A line `include = FILE` (or a comma list, or several
 * lines) before the first [section] walks FILE there, before the rest of the including file, so
 * that the including file's own keys come later and win; FILE is taken from the including file's
 * directory unless absolute. A file that includes itself, directly or not, more than
 * RL_CFG_MAX_INCLUDE_DEPTH files deep, or a missing file is refused naming the include line.
 * *text gets the file's own text (caller frees; text may be NULL), *n_included how many files
 * were included in all (may be NULL). */
#define RL_CFG_MAX_INCLUDE_DEPTH 16
int rl_cfg_walk_file(const char *path, const char *what, rl_cfg_ini_fn fn, void *user, char **text,
                     int *n_included);

/* Lists: "a, b, \"c,d\"" -> a | b | c,d (items trimmed; quotes keep commas), appended to
 * *items (*n of them; free with rl_cfg_list_free). An empty item (so also an empty text) or an
 * unbalanced quote is an error naming `what` and the text. */
int rl_cfg_split_list(const char *text, const char *what, char ***items, int *n);
void rl_cfg_list_free(char **items, int n);
/* The items of a list-valued key (resolved): at least 1 and at most max_items, none given
 * twice; otherwise an error naming the key, with a hint. Values that mean the same but are
 * written differently (0.1 and 0.10) are the caller's to compare. */
int rl_cfg_list(const rl_config *cfg, const char *key, int max_items, char ***items, int *n);

/* rl_cfg_list of whole numbers in [lo, hi] into values (max_items), none twice (10 and 010 are
 * the same number). */
int rl_cfg_int_list(const rl_config *cfg, const char *key, int64_t lo, int64_t hi, int max_items,
                    int64_t *values, int *n);

/* Check every value against its spec; unknown keys are errors. */
int rl_cfg_resolve(rl_config *cfg);

int64_t rl_cfg_int(const rl_config *cfg, const char *key);
double rl_cfg_float(const rl_config *cfg, const char *key);
int rl_cfg_bool(const rl_config *cfg, const char *key);
const char *rl_cfg_str(const rl_config *cfg, const char *key); /* STRING and CHOICE */

/* The resolved config as "key = value" lines sorted by key (caller frees). */
char *rl_cfg_text(const rl_config *cfg);
/* Whether the resolved value of a declared key is its default (in canonical form). */
int rl_cfg_is_default(const rl_config *cfg, const char *key);
/* The keys that count in the run id and whose values in `earlier` (an rl_cfg_text of another
 * run) differ from cfg's, as "key: EARLIER -> NOW" joined by "; " into *out (a key `earlier`
 * lacks shows "(none)"). Returns how many. */
int rl_cfg_changes(const rl_config *cfg, const char *earlier, rl_text *out);
/* Hex id of the resolved config: FNV-1a 64 of the non-runtime lines, 16 hex digits. */
void rl_cfg_run_id(const rl_config *cfg, char out[17]);
/* Iterate over resolved keys in sorted order: returns the spec and value of item i, or NULL. */
const rl_cfg_spec *rl_cfg_item(const rl_config *cfg, size_t i, const char **value);
/* Print every key with type, default, range and doc (for --help and show-config). */
void rl_cfg_print_docs(const rl_config *cfg);

#endif
