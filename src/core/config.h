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
 */
#ifndef RANKLAB_CORE_CONFIG_H
#define RANKLAB_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { RL_CFG_INT, RL_CFG_FLOAT, RL_CFG_BOOL, RL_CFG_STRING, RL_CFG_CHOICE } rl_cfg_type;

enum {
    RL_CFG_RUNTIME = 1, /* does not change the result (not hashed into the run id) */
};

typedef struct {
    const char *key;     /* "section.name" */
    rl_cfg_type type;
    const char *def;     /* default, as text */
    double min, max;     /* inclusive range for INT and FLOAT (ignored when min > max) */
    const char *choices; /* "a|b|c" for CHOICE */
    int flags;           /* RL_CFG_RUNTIME */
    const char *doc;     /* one line */
} rl_cfg_spec;

typedef struct rl_config rl_config;

rl_config *rl_cfg_new(void);
void rl_cfg_free(rl_config *cfg);
/* Declare keys; the spec array must outlive cfg. Declaring the same key twice is allowed
 * when the specs are identical (modules share common keys). */
void rl_cfg_declare(rl_config *cfg, const rl_cfg_spec *specs, size_t n);
/* Read an INI file; values are checked at rl_cfg_resolve. Returns 0 or RL_ERR. */
int rl_cfg_load_file(rl_config *cfg, const char *path);
/* Load INI text (e.g. an experiment's embedded defaults); `origin` names it in errors. */
int rl_cfg_load_text(rl_config *cfg, const char *text, const char *origin);
/* One `section.key=value` override (command line). */
int rl_cfg_set_override(rl_config *cfg, const char *assignment);
/* Check every value against its spec; unknown keys are errors. */
int rl_cfg_resolve(rl_config *cfg);

int64_t rl_cfg_int(const rl_config *cfg, const char *key);
double rl_cfg_float(const rl_config *cfg, const char *key);
int rl_cfg_bool(const rl_config *cfg, const char *key);
const char *rl_cfg_str(const rl_config *cfg, const char *key); /* STRING and CHOICE */

/* The resolved config as "key = value" lines sorted by key (caller frees). */
char *rl_cfg_text(const rl_config *cfg);
/* Hex id of the resolved config: FNV-1a 64 of the non-runtime lines, 16 hex digits. */
void rl_cfg_run_id(const rl_config *cfg, char out[17]);
/* Iterate over resolved keys in sorted order: returns the spec and value of item i, or NULL. */
const rl_cfg_spec *rl_cfg_item(const rl_config *cfg, size_t i, const char **value);
/* Print every key with type, default, range and doc (for --help and show-config). */
void rl_cfg_print_docs(const rl_config *cfg);

#endif
