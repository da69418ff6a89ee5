/* ranklab compare (io.h io_results_compare): two results files, dataset by dataset, bit for bit;
 * what differs, by how much, and which config keys and fingerprint attributes differ. */
#include "src/core/error.h"
#include "src/io/fault.h"
#include "src/io/io.h"
#include "src/io/results_read.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPARE_MAX_NAMES 4096
#define COMPARE_SHOWN 10 /* differing datasets listed after the first */

typedef struct {
    char *names[COMPARE_MAX_NAMES]; /* "metrics/x", in group order then name order */
    int n;
} name_list;

/* Measurements of the machine, not results. */
static int is_timing(const char *name) {
    return !strcmp(name, "final/wall_seconds") || !strncmp(name, "final/peak_mb_", 14) ||
           !strncmp(name, "final/update_mb_", 16);
}

typedef struct {
    name_list *list;
    const char *group;
} add_ctx;

static herr_t add_dataset(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)group;
    (void)info;
    add_ctx *ctx = data;
    char full[512];
    snprintf(full, sizeof full, "%s/%s", ctx->group, name);
    if (!is_timing(full) && ctx->list->n < COMPARE_MAX_NAMES)
        ctx->list->names[ctx->list->n++] = rl_xstrdup(full);
    return 0;
}

static void list_datasets(hid_t file, name_list *list) {
    static const char *const groups[] = {"metrics", "final", "arrays"};
    list->n = 0;
    for (int g = 0; g < 3; g++) {
        hid_t group = H5Lexists(file, groups[g], H5P_DEFAULT) > 0
                          ? H5Gopen2(file, groups[g], H5P_DEFAULT)
                          : -1;
        if (group < 0)
            continue;
        add_ctx ctx = {list, groups[g]};
        H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, NULL, add_dataset, &ctx);
        H5Gclose(group);
    }
}

static int find_name(const name_list *list, const char *name) {
    for (int i = 0; i < list->n; i++)
        if (!strcmp(list->names[i], name))
            return i;
    return -1;
}

/* A dataset's values: bytes in its own type (to compare bits) and as doubles (to measure). */
typedef struct {
    size_t count, size;
    unsigned char *bytes;
    double *values; /* NULL unless numeric */
} dataset_data;

static int read_dataset(hid_t file, const char *name, dataset_data *d) {
    memset(d, 0, sizeof *d);
    hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
    if (set < 0)
        return -1;
    hid_t space = H5Dget_space(set), type = H5Dget_type(set);
    hid_t native = H5Tget_native_type(type, H5T_DIR_ASCEND);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    int rc = count < 0 ? -1 : 0;
    if (rc == 0) {
        d->count = (size_t)count;
        d->size = H5Tget_size(native);
        d->bytes = rl_xmalloc(d->count * d->size + 1);
        rc = io_h5_dread(set, native, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->bytes) < 0 ? -1 : 0;
        if (H5Tis_variable_str(native) > 0) /* pointers: compare the strings instead */
            d->size = 0;
    }
    H5T_class_t cls = H5Tget_class(type);
    if (rc == 0 && (cls == H5T_INTEGER || cls == H5T_FLOAT)) {
        d->values = rl_xmalloc(sizeof(double) * (d->count + 1));
        rc = io_h5_dread(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->values) < 0 ? -1
                                                                                               : 0;
    }
    if (rc == 0 && d->size == 0)
        H5Dvlen_reclaim(native, space, H5P_DEFAULT, d->bytes);
    H5Tclose(native);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(set);
    return rc;
}

static void free_dataset(dataset_data *d) {
    free(d->bytes);
    free(d->values);
}

/* How two datasets differ: 0 same bits; else 1 with a description in out. */
static int dataset_difference(const dataset_data *a, const dataset_data *b, char *out, size_t n) {
    if (a->count != b->count || a->size != b->size) {
        snprintf(out, n, "%zu vs %zu values", a->count, b->count);
        return 1;
    }
    if (a->size > 0 && memcmp(a->bytes, b->bytes, a->count * a->size) == 0)
        return 0;
    if (!a->values || !b->values) {
        snprintf(out, n, "the values differ");
        return a->size > 0;
    }
    size_t first = a->count, worst = 0;
    double largest = -1.0;
    for (size_t i = 0; i < a->count; i++) {
        if (memcmp(a->bytes + i * a->size, b->bytes + i * b->size, a->size) == 0)
            continue;
        first = first < a->count ? first : i;
        double diff = fabs(a->values[i] - b->values[i]);
        if (diff != diff)
            diff = INFINITY; /* NaN on one side */
        if (diff > largest) {
            largest = diff;
            worst = i;
        }
    }
    double scale = fmax(fabs(a->values[worst]), fabs(b->values[worst]));
    int len = snprintf(out, n, "first at [%zu] (%.9g vs %.9g); largest difference %.3g at [%zu]",
                       first, a->values[first], b->values[first], largest, worst);
    if (scale > 0 && len > 0 && (size_t)len < n)
        snprintf(out + len, n - (size_t)len, " (relative %.3g)", largest / scale);
    return 1;
}

/* The text of a scalar attribute (string or number) of obj, "" if unreadable. */
static void attr_text(hid_t obj, const char *name, char *out, size_t n) {
    out[0] = '\0';
    if (io_results_string_attr(obj, name, out, n) == 0)
        return;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return;
    double v;
    if (io_h5_aread(attr, H5T_NATIVE_DOUBLE, &v) >= 0)
        snprintf(out, n, "%.17g", v);
    H5Aclose(attr);
}

static herr_t add_attr_name(hid_t obj, const char *name, const H5A_info_t *info, void *data) {
    (void)obj;
    (void)info;
    name_list *list = data;
    if (list->n < COMPARE_MAX_NAMES)
        list->names[list->n++] = rl_xstrdup(name);
    return 0;
}

static void free_names(name_list *list) {
    for (int i = 0; i < list->n; i++)
        free(list->names[i]);
    list->n = 0;
}

/* Print the attributes of obj_a / obj_b (names passing `keep`) whose values differ; returns how
 * many. */
static int print_attr_differences(hid_t obj_a, hid_t obj_b, int (*keep)(const char *),
                                  const char *indent) {
    name_list *names = rl_xcalloc(2, sizeof *names);
    H5Aiterate2(obj_a, H5_INDEX_NAME, H5_ITER_INC, NULL, add_attr_name, &names[0]);
    H5Aiterate2(obj_b, H5_INDEX_NAME, H5_ITER_INC, NULL, add_attr_name, &names[1]);
    int differ = 0;
    char va[1024], vb[1024];
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < names[side].n; i++) {
            const char *name = names[side].names[i];
            if (!keep(name) || (side == 1 && find_name(&names[0], name) >= 0))
                continue;
            attr_text(obj_a, name, va, sizeof va);
            attr_text(obj_b, name, vb, sizeof vb);
            if (strcmp(va, vb) != 0) {
                printf("%s%s: %s | %s\n", indent, name, va[0] ? va : "(none)",
                       vb[0] ? vb : "(none)");
                differ++;
            }
        }
    free_names(&names[0]);
    free_names(&names[1]);
    free(names);
    return differ;
}

static int any_key(const char *name) {
    (void)name;
    return 1;
}

/* Whether either run took the BLAS path: then the BLAS library, its kernel and the CPU matter. */
static int blas_in_play;

/* Fingerprint attributes that can change a result's bits, and those that cannot. */
static int may_change_bits(const char *name) {
    if (!strcmp(name, "fingerprint.blas") || !strcmp(name, "fingerprint.blas_core") ||
        !strcmp(name, "fingerprint.cpu") || !strcmp(name, "fingerprint.cpu_flags"))
        return blas_in_play;
    return !strcmp(name, "git_sha") || !strcmp(name, "fingerprint.compute") ||
           !strcmp(name, "fingerprint.compiler") || !strcmp(name, "fingerprint.libc");
}

static int keeps_bits(const char *name) {
    return !strncmp(name, "fingerprint.", 12) && !may_change_bits(name);
}

int io_results_compare(const char *path_a, const char *path_b) {
    hid_t file_a = io_results_open_read(path_a);
    if (file_a < 0)
        return RL_ERR;
    hid_t file_b = io_results_open_read(path_b);
    if (file_b < 0) {
        H5Fclose(file_a);
        return RL_ERR;
    }
    char experiment_a[64], experiment_b[64];
    attr_text(file_a, "experiment", experiment_a, sizeof experiment_a);
    attr_text(file_b, "experiment", experiment_b, sizeof experiment_b);
    if (strcmp(experiment_a, experiment_b) != 0)
        printf("these are runs of different experiments: A is %s, B is %s\n", experiment_a,
               experiment_b);
    name_list *lists = rl_xcalloc(2, sizeof *lists);
    list_datasets(file_a, &lists[0]);
    list_datasets(file_b, &lists[1]);
    int differing = 0, compared = 0;
    char detail[512];
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < lists[side].n; i++) {
            const char *name = lists[side].names[i];
            int other = find_name(&lists[1 - side], name);
            if (side == 1 && other >= 0)
                continue;
            compared++;
            int differs = 1;
            if (other < 0) {
                snprintf(detail, sizeof detail, "only in %s", side ? "B" : "A");
            } else {
                dataset_data da, db;
                if (read_dataset(file_a, name, &da) < 0 || read_dataset(file_b, name, &db) < 0)
                    snprintf(detail, sizeof detail, "unreadable");
                else
                    differs = dataset_difference(&da, &db, detail, sizeof detail);
                free_dataset(&da);
                free_dataset(&db);
            }
            if (!differs)
                continue;
            if (differing == 0)
                printf("DIFFERENT: the first differing dataset is /%s: %s\n", name, detail);
            else if (differing <= COMPARE_SHOWN)
                printf("  also /%s: %s\n", name, detail);
            differing++;
        }
    if (differing > COMPARE_SHOWN + 1)
        printf("  ... %d differing datasets in all\n", differing);
    if (differing == 0)
        printf("IDENTICAL: %d datasets of /metrics, /final and /arrays hold the same bits "
               "(measurements left out: /final/wall_seconds, peak_mb_*, update_mb_*)\n",
               compared);
    else
        printf("%d of %d datasets differ (measurements left out)\n", differing, compared);
    printf("A: %s\nB: %s\n", path_a, path_b);
    hid_t config_a = H5Gopen2(file_a, "config", H5P_DEFAULT);
    hid_t config_b = H5Gopen2(file_b, "config", H5P_DEFAULT);
    if (config_a >= 0 && config_b >= 0) {
        printf("config keys that differ (A | B):\n");
        if (print_attr_differences(config_a, config_b, any_key, "  ") == 0)
            printf("  none\n");
    }
    if (config_a >= 0)
        H5Gclose(config_a);
    if (config_b >= 0)
        H5Gclose(config_b);
    static char inputs_a[IO_INPUTS_MAX], inputs_b[IO_INPUTS_MAX];
    attr_text(file_a, "inputs", inputs_a, sizeof inputs_a);
    attr_text(file_b, "inputs", inputs_b, sizeof inputs_b);
    if (strcmp(inputs_a, inputs_b) != 0)
        printf("inputs that differ (data files and base models, with their checksums):\n  A: "
               "%s\n  B: %s\n",
               inputs_a, inputs_b);
    char compute_a[64], compute_b[64];
    attr_text(file_a, "fingerprint.compute", compute_a, sizeof compute_a);
    attr_text(file_b, "fingerprint.compute", compute_b, sizeof compute_b);
    blas_in_play = !strncmp(compute_a, "blas", 4) || !strncmp(compute_b, "blas", 4);
    printf("fingerprint differences that can change bits (A | B):\n");
    if (print_attr_differences(file_a, file_b, may_change_bits, "  ") == 0)
        printf("  none%s\n", differing ? " (so the config, the data or the code made the "
                                         "difference)"
                                       : "");
    printf("fingerprint differences that do not change bits (A | B):\n");
    if (print_attr_differences(file_a, file_b, keeps_bits, "  ") == 0)
        printf("  none\n");
    for (int side = 0; side < 2; side++)
        free_names(&lists[side]);
    free(lists);
    H5Fclose(file_a);
    H5Fclose(file_b);
    return differing ? 1 : 0;
}
