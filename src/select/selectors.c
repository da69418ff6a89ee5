/* The selectors of select.h: sampling (random, norm), greedy (norm-gs, k-center) and sequential
 * sampling (norm-gs-sampled), TypiClust and ProbCover, each with its norm plug-in, and
 * ProbCover's radius from purity; all collective and rank-independent (the same ids on any rank
 * count). */
#include "src/select/select.h"

#include "kernels/select.h"
#include "src/comm/comm.h"
#include "src/core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Streams of the selection key: sampling keys keyed by example id, the k-center start, k-means
 * seeds, ProbCover's fill after full coverage and its purity sample; draw b of the sampled
 * Gram–Schmidt uses stream STREAM_RESIDUAL + b. */
enum {
    STREAM_SAMPLE = 1,
    STREAM_START = 2,
    STREAM_CENTERS = 3,
    STREAM_FILL = 4,
    STREAM_PURITY = 5,
    STREAM_RESIDUAL = 16
};

/* ProbCover: rows per distance block (a block's transposed features stay in the L1 cache). */
enum { COVER_BLOCK = 256 };

/* TypiClust: neighbours of the typicality, cluster cap (K = min(B, cap)), Lloyd iterations; rows
 * per call of the distance kernel (k-means assignments, typicalities). */
enum { TYPI_KNN = 20, TYPI_MAX_CLUSTERS = 500, TYPI_ITERS = 20, DIST_ROWS = 8 };

int select_kind_parse(const char *name) {
    static const char *const names[] = {"random",         "norm",         "norm-gs",
                                        "kcenter",        "kcenter-norm", "typiclust",
                                        "typiclust-norm", "probcover",    "probcover-norm",
                                        "norm-gs-sampled"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int select_kind_nested(select_kind kind) {
    return kind != SELECT_TYPICLUST && kind != SELECT_TYPICLUST_NORM;
}

/* Row shards: starts (P + 1) of every rank's first id, for finding a row's owner. */
typedef struct {
    int p;
    int64_t *starts;
} shards;

static int shards_make(shards *s, int64_t first_id, int64_t n_total) {
    s->p = comm_size();
    s->starts = rl_xmalloc(sizeof(int64_t) * (size_t)(s->p + 1));
    s->starts[s->p] = n_total;
    return comm_allgather_i64(&first_id, 1, s->starts);
}

/* Collective: row `id` (d values) broadcast from its owner into out; src is the owner's shard. */
static int shards_bcast_row(const shards *s, int64_t id, const double *src, int64_t first_id, int d,
                            double *out) {
    int owner = 0;
    while (owner + 1 < s->p && s->starts[owner + 1] <= id)
        owner++;
    if (owner == comm_rank())
        memcpy(out, src + (size_t)(id - first_id) * (size_t)d, sizeof(double) * (size_t)d);
    return comm_bcast(out, sizeof(double) * (size_t)d, owner);
}

/* Collective: the id of the largest score among unchosen rows, ties to the smallest id; its score
 * in *best unless best is NULL. */
static int best_row(const double *score, const char *chosen, int64_t n_mine, int64_t first_id,
                    int64_t *id, double *best) {
    kern_pair mine = {INFINITY, -1}, top;
    for (int64_t i = 0; i < n_mine; i++)
        if (!chosen[i] && (mine.id < 0 || -score[i] < mine.key)) {
            mine.key = -score[i];
            mine.id = first_id + i;
        }
    int rc = comm_select_smallest(&mine, mine.id >= 0 ? 1 : 0, 1, &top);
    *id = top.id;
    if (best)
        *best = -top.key;
    return rc;
}

static double dot(const double *a, const double *b, int d) {
    double s = 0.0;
    for (int j = 0; j < d; j++)
        s += a[j] * b[j];
    return s;
}

/* Collective: sampling without replacement ∝ w among my rows not marked in chosen (NULL: all),
 * by the exponential keys of `stream` and a global smallest-budget merge. */
static int select_sampled(const double *w, const char *chosen, int64_t n_mine, int64_t first_id,
                          int64_t budget, const uint32_t key[2], uint32_t stream, int64_t *ids) {
    kern_pair *mine = rl_xmalloc(sizeof(kern_pair) * (size_t)(n_mine + 1));
    kern_pair *top = rl_xmalloc(sizeof(kern_pair) * (size_t)budget);
    kern_sample_keys(w, (size_t)n_mine, first_id, key, stream, mine);
    int64_t m = 0;
    for (int64_t i = 0; i < n_mine; i++)
        if (!chosen || !chosen[i])
            mine[m++] = mine[i];
    int rc = comm_select_smallest(mine, m, budget, top);
    for (int64_t b = 0; b < budget; b++)
        ids[b] = top[b].id;
    free(mine);
    free(top);
    return rc;
}

/* Greedy selectors on residuals / distances of the rows (f as double in r, (n_mine, d)); the
 * sampled Gram–Schmidt draws each row ∝ its residual norm instead of taking the largest. */
static int select_greedy(select_kind kind, const double *f, double *r, const double *nrm2,
                         int64_t n_mine, int d, int64_t first_id, const shards *sh, int64_t budget,
                         const uint32_t key[2], int64_t *ids) {
    char *chosen = rl_xcalloc((size_t)n_mine + 1, 1);
    double *score = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
    double *mind = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
    double *u = rl_xmalloc(sizeof(double) * (size_t)d);
    int rc = 0;
    int64_t id = -1;
    if (kind == SELECT_KCENTER) { // start: the row with the smallest uniform key
        double *ones = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
        for (int64_t i = 0; i < n_mine; i++)
            ones[i] = 1.0;
        rc = select_sampled(ones, NULL, n_mine, first_id, 1, key, STREAM_START, &id);
        free(ones);
    }
    for (int64_t i = 0; i < n_mine; i++)
        mind[i] = INFINITY;
    for (int64_t b = 0; rc == 0 && b < budget; b++) {
        const int gram_schmidt = kind == SELECT_NORM_GS || kind == SELECT_NORM_GS_SAMPLED;
        if (gram_schmidt && b > 0 && b % d == 0) // span exhausted: restart from F
            memcpy(r, f, sizeof(double) * (size_t)n_mine * (size_t)d);
        if (kind == SELECT_NORM_GS_SAMPLED) {
            for (int64_t i = 0; i < n_mine; i++)
                score[i] = sqrt(dot(r + (size_t)i * (size_t)d, r + (size_t)i * (size_t)d, d));
            rc = select_sampled(score, chosen, n_mine, first_id, 1, key,
                                STREAM_RESIDUAL + (uint32_t)b, &id);
        } else if (b > 0 || kind != SELECT_KCENTER) {
            for (int64_t i = 0; i < n_mine; i++) {
                const double *ri = r + (size_t)i * (size_t)d;
                score[i] = kind == SELECT_NORM_GS   ? dot(ri, ri, d)
                           : kind == SELECT_KCENTER ? mind[i]
                           : b == 0                 ? nrm2[i]
                                                    : mind[i] * nrm2[i];
            }
            rc = best_row(score, chosen, n_mine, first_id, &id, NULL);
        }
        ids[b] = id;
        if (id >= first_id && id < first_id + n_mine)
            chosen[id - first_id] = 1;
        rc = rc ? rc : shards_bcast_row(sh, id, r, first_id, d, u);
        if (rc)
            break;
        if (gram_schmidt) {
            double un = sqrt(dot(u, u, d));
            for (int j = 0; j < d && un > 0.0; j++)
                u[j] /= un;
            for (int64_t i = 0; i < n_mine && un > 0.0; i++) {
                double *ri = r + (size_t)i * (size_t)d, c = dot(ri, u, d);
                for (int j = 0; j < d; j++)
                    ri[j] -= c * u[j];
            }
        } else {
            for (int64_t i = 0; i < n_mine; i++) {
                const double *ri = r + (size_t)i * (size_t)d;
                double s = 0.0;
                for (int j = 0; j < d; j++)
                    s += (ri[j] - u[j]) * (ri[j] - u[j]);
                mind[i] = s < mind[i] ? s : mind[i];
            }
        }
    }
    free(chosen);
    free(score);
    free(mind);
    free(u);
    return rc;
}

/* yt (d, m) = rows [lo, lo + m) of y (·, d), transposed; elements of `size` bytes. */
static void transpose_rows(const void *y, size_t size, int64_t lo, int m, int d, void *yt) {
    const char *from = y;
    char *to = yt;
    for (int j = 0; j < m; j++)
        for (int p = 0; p < d; p++)
            memcpy(to + ((size_t)p * (size_t)m + (size_t)j) * size,
                   from + ((size_t)(lo + j) * (size_t)d + (size_t)p) * size, size);
}

/* Index of the smallest of s (k), ties to the smallest index. */
static int argmin(const double *s, int k) {
    int best = 0;
    for (int c = 1; c < k; c++)
        best = s[c] < s[best] ? c : best;
    return best;
}

/* Collective k-means (Lloyd, TYPI_ITERS rounds from k rows sampled uniformly): assign (n_mine)
 * and size (k) of the final clusters. Centroid sums in fixed point, so rank-independent. */
static int kmeans(const float *ff, const double *f, int64_t n_mine, int d, int64_t first_id,
                  const shards *sh, int k, const uint32_t key[2], int *assign, int64_t *size) {
    double *ones = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
    double *cent = rl_xmalloc(sizeof(double) * (size_t)k * (size_t)d);
    double *cent_t = rl_xmalloc(sizeof(double) * (size_t)k * (size_t)d); // (d, k)
    double *dist = rl_xmalloc(sizeof(double) * DIST_ROWS * (size_t)k);
    int64_t *seeds = rl_xmalloc(sizeof(int64_t) * (size_t)k);
    comm_exact acc; /* per cluster: Σ features (k, d), then the counts (k) */
    comm_exact_init(&acc, (size_t)k * (size_t)(d + 1));
    for (int64_t i = 0; i < n_mine; i++)
        ones[i] = 1.0;
    int rc = select_sampled(ones, NULL, n_mine, first_id, k, key, STREAM_CENTERS, seeds);
    for (int c = 0; rc == 0 && c < k; c++)
        rc = shards_bcast_row(sh, seeds[c], f, first_id, d, cent + (size_t)c * (size_t)d);
    for (int it = 0; rc == 0 && it <= TYPI_ITERS; it++) {
        comm_exact_zero(&acc);
        transpose_rows(cent, sizeof(double), 0, k, d, cent_t);
        for (int64_t lo = 0; lo < n_mine; lo += DIST_ROWS) {
            int rows = (int)(n_mine - lo < DIST_ROWS ? n_mine - lo : DIST_ROWS);
            kern_sqdist_f64(f + (size_t)lo * (size_t)d, rows, cent_t, k, d, dist);
            for (int64_t i = lo; i < lo + rows; i++) {
                int c = assign[i] = argmin(dist + (size_t)(i - lo) * (size_t)k, k);
                comm_exact_add(&acc, (size_t)c * (size_t)d, ff + (size_t)i * (size_t)d, (size_t)d,
                               RL_FIXED_FRAC_BITS);
                comm_exact_count(&acc, (size_t)k * (size_t)d + (size_t)c, 1);
            }
        }
        rc = comm_exact_reduce(&acc);
        for (int c = 0; rc == 0 && c < k; c++) {
            int64_t m = size[c] = comm_exact_raw(&acc, (size_t)k * (size_t)d + (size_t)c);
            for (int j = 0; j < d && m > 0 && it < TYPI_ITERS; j++)
                cent[(size_t)c * (size_t)d + (size_t)j] =
                    comm_exact_value(&acc, (size_t)c * (size_t)d + (size_t)j, RL_FIXED_FRAC_BITS) /
                    (double)m;
        }
    }
    free(ones);
    free(cent);
    free(cent_t);
    free(dist);
    free(seeds);
    comm_exact_free(&acc);
    return rc;
}

/* Typicality of a member from its squared distances s (m) to the m members (ids, in the same
 * order): 1 / mean distance to its min(TYPI_KNN, m − 1) nearest others (+inf when alone). The
 * nearest are kept by squared distance and their square roots summed in increasing order. */
static double typicality(const double *s, const int64_t *ids, int64_t m, int64_t id) {
    double near[TYPI_KNN];
    int have = 0;
    for (int64_t t = 0; t < m; t++) {
        if (ids[t] == id || (have == TYPI_KNN && s[t] >= near[TYPI_KNN - 1]))
            continue;
        int pos = have < TYPI_KNN ? have++ : TYPI_KNN - 1;
        while (pos > 0 && near[pos - 1] > s[t]) {
            near[pos] = near[pos - 1];
            pos--;
        }
        near[pos] = s[t];
    }
    double sum = 0.0;
    for (int q = 0; q < have; q++)
        sum += sqrt(near[q]);
    return have > 0 && sum > 0.0 ? (double)have / sum : INFINITY;
}

/* TypiClust: k-means with K = min(B, TYPI_MAX_CLUSTERS); repeatedly the least covered cluster
 * (fewest picks, then largest, then lowest index) gives its most typical untaken member (ties to
 * the smallest id); norm plug-in: typicality × ‖F‖. Members gathered in id order. */
static int select_typiclust(select_kind kind, const float *ff, const double *f, const double *nrm2,
                            int64_t n_mine, int d, int64_t first_id, const shards *sh,
                            int64_t budget, const uint32_t key[2], int64_t *ids) {
    int k = (int)(budget < TYPI_MAX_CLUSTERS ? budget : TYPI_MAX_CLUSTERS);
    int *assign = rl_xmalloc(sizeof(int) * (size_t)(n_mine + 1));
    int64_t *size = rl_xcalloc((size_t)k, sizeof(int64_t)),
            *picks = rl_xcalloc((size_t)k, sizeof(int64_t));
    char *chosen = rl_xcalloc((size_t)n_mine + 1, 1);
    int64_t *counts = rl_xmalloc(sizeof(int64_t) * (size_t)sh->p);
    int rc = kmeans(ff, f, n_mine, d, first_id, sh, k, key, assign, size);
    for (int64_t b = 0; rc == 0 && b < budget; b++) {
        int c = -1;
        for (int q = 0; q < k; q++)
            if (picks[q] < size[q] &&
                (c < 0 || picks[q] < picks[c] || (picks[q] == picks[c] && size[q] > size[c])))
                c = q;
        int64_t mine = 0, off = 0, m = 0;
        for (int64_t i = 0; i < n_mine; i++)
            mine += assign[i] == c;
        rc = comm_allgather_i64(&mine, 1, counts);
        for (int r = 0; rc == 0 && r < sh->p; r++) {
            off += r < comm_rank() ? counts[r] : 0;
            m += counts[r];
        }
        int64_t *member_ids = rl_xmalloc(sizeof(int64_t) * (size_t)(m + 1));
        double *members = rl_xmalloc(sizeof(double) * ((size_t)m * (size_t)d + 1));
        double *members_t = rl_xmalloc(sizeof(double) * ((size_t)m * (size_t)d + 1)); // (d, m)
        double *dist = rl_xmalloc(sizeof(double) * ((size_t)m * DIST_ROWS + 1));
        for (int64_t i = 0, t = off; i < n_mine; i++)
            if (assign[i] == c) {
                member_ids[t] = first_id + i;
                memcpy(members + (size_t)t++ * (size_t)d, f + (size_t)i * (size_t)d,
                       sizeof(double) * (size_t)d);
            }
        rc = rc ? rc : comm_allgather_blocks(member_ids, sizeof(int64_t), off, off + mine);
        rc = rc ? rc : comm_allgather_blocks(members, sizeof(double) * (size_t)d, off, off + mine);
        if (rc == 0)
            transpose_rows(members, sizeof(double), 0, (int)m, d, members_t);
        kern_pair best = {INFINITY, -1}, top;
        for (int64_t lo = off; rc == 0 && lo < off + mine; lo += DIST_ROWS) { // my members
            int rows = (int)(off + mine - lo < DIST_ROWS ? off + mine - lo : DIST_ROWS);
            kern_sqdist_f64(members + (size_t)lo * (size_t)d, rows, members_t, (int)m, d, dist);
            for (int64_t t = lo; t < lo + rows; t++) {
                int64_t i = member_ids[t] - first_id;
                if (chosen[i])
                    continue;
                double typ =
                    typicality(dist + (size_t)(t - lo) * (size_t)m, member_ids, m, member_ids[t]);
                typ = kind == SELECT_TYPICLUST_NORM ? typ * sqrt(nrm2[i]) : typ;
                if (best.id < 0 || -typ < best.key) {
                    best.key = -typ;
                    best.id = member_ids[t];
                }
            }
        }
        free(member_ids);
        free(members_t);
        free(dist);
        free(members);
        rc = rc ? rc : comm_select_smallest(&best, best.id >= 0 ? 1 : 0, 1, &top);
        if (rc)
            break;
        ids[b] = top.id;
        picks[c]++;
        if (top.id >= first_id && top.id < first_id + n_mine)
            chosen[top.id - first_id] = 1;
    }
    free(assign);
    free(size);
    free(picks);
    free(chosen);
    free(counts);
    return rc;
}

/* Squared distance of rows x and y (d), in float, summed over the dimensions in order: the same
 * bits as kern_sqdist_f32's for the pair, either way round (the δ-graph is symmetric). */
static float sqdist1(const float *x, const float *y, int d) {
    float s = 0.0f;
    for (int p = 0; p < d; p++) {
        float t = x[p] - y[p];
        s += t * t;
    }
    return s;
}

/* Collective: all (n_total, d) = every rank's rows of f; NULL on failure. */
static float *gather_rows(const float *f, int64_t n_mine, int d, int64_t first_id,
                          int64_t n_total) {
    float *all = rl_xmalloc(sizeof(float) * ((size_t)n_total * (size_t)d + 1));
    memcpy(all + (size_t)first_id * (size_t)d, f, sizeof(float) * (size_t)n_mine * (size_t)d);
    if (comm_allgather_blocks(all, sizeof(float) * (size_t)d, first_id, first_id + n_mine) < 0) {
        free(all);
        return NULL;
    }
    return all;
}

/* cnt[i] += sign · #{rows of y (m, d) within squared distance d2 of my row i}, in blocks of
 * COVER_BLOCK rows of y (no (n, m) matrix); with sign < 0 rows whose count is 0 are skipped. */
static void ball_counts(const float *f, int64_t n_mine, int d, const float *y, int64_t m, float d2,
                        int sign, int64_t *cnt) {
    float *yt = rl_xmalloc(sizeof(float) * COVER_BLOCK * (size_t)d), s[COVER_BLOCK];
    for (int64_t lo = 0; lo < m; lo += COVER_BLOCK) {
        int w = (int)(m - lo < COVER_BLOCK ? m - lo : COVER_BLOCK);
        transpose_rows(y, sizeof(float), lo, w, d, yt);
        for (int64_t i = 0; i < n_mine; i++) {
            if (sign < 0 && cnt[i] == 0)
                continue;
            kern_sqdist_f32(f + (size_t)i * (size_t)d, 1, yt, w, d, s);
            int64_t c = 0;
            for (int j = 0; j < w; j++)
                c += s[j] <= d2;
            cnt[i] += sign * c;
        }
    }
    free(yt);
}

/* ProbCover (Yehuda et al. 2022): repeatedly the point whose δ-ball holds the most uncovered
 * points (norm plug-in: that count × ‖F_i‖; ties to the smallest id); its ball becomes covered.
 * Counts are exact integers: the initial ball sizes against all gathered rows, then, after each
 * pick, the newly covered rows (gathered in id order) are subtracted from the counts of their
 * neighbours. Once everything is covered the rest is sampled (uniform; ∝ ‖F‖ with the norm). */
static int select_probcover(select_kind kind, const float *f, const double *nrm2, int64_t n_mine,
                            int d, int64_t first_id, int64_t n_total, int64_t budget, double delta,
                            const uint32_t key[2], int64_t *ids) {
    float d2 = (float)(delta * delta);
    float *all = gather_rows(f, n_mine, d, first_id, n_total);
    if (!all)
        return RL_ERR;
    int p = comm_size();
    int64_t *cnt = rl_xcalloc((size_t)n_mine + 1, sizeof(int64_t));
    int64_t *fresh = rl_xmalloc(sizeof(int64_t) * (size_t)(n_total + 1)); // newly covered ids
    int64_t *counts = rl_xmalloc(sizeof(int64_t) * (size_t)p);
    float *rows = rl_xmalloc(sizeof(float) * ((size_t)n_total * (size_t)d + 1)); // their rows
    char *covered = rl_xcalloc((size_t)n_mine + 1, 1), *chosen = rl_xcalloc((size_t)n_mine + 1, 1);
    double *w = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
    ball_counts(f, n_mine, d, all, n_total, d2, 1, cnt);
    int rc = 0;
    for (int64_t b = 0; rc == 0 && b < budget; b++) {
        for (int64_t i = 0; i < n_mine; i++)
            w[i] = (double)cnt[i] * (kind == SELECT_PROBCOVER_NORM ? sqrt(nrm2[i]) : 1.0);
        int64_t id = -1;
        double best = 0.0;
        rc = best_row(w, chosen, n_mine, first_id, &id, &best);
        if (rc == 0 && best <= 0.0) { // all covered: sample the rest
            for (int64_t i = 0; i < n_mine; i++)
                w[i] = kind == SELECT_PROBCOVER_NORM ? sqrt(nrm2[i]) : 1.0;
            rc = select_sampled(w, chosen, n_mine, first_id, budget - b, key, STREAM_FILL, ids + b);
            break;
        }
        ids[b] = id;
        if (id >= first_id && id < first_id + n_mine)
            chosen[id - first_id] = 1;
        const float *u = all + (size_t)id * (size_t)d;
        int64_t mine = 0, off = 0, m = 0;
        for (int64_t i = 0; i < n_mine; i++)
            if (!covered[i] && sqdist1(f + (size_t)i * (size_t)d, u, d) <= d2) {
                covered[i] = 1;
                fresh[mine++] = first_id + i;
            }
        rc = rc ? rc : comm_allgather_i64(&mine, 1, counts);
        for (int r = 0; rc == 0 && r < p; r++) {
            off += r < comm_rank() ? counts[r] : 0;
            m += counts[r];
        }
        if (rc)
            break;
        memmove(fresh + off, fresh, sizeof(int64_t) * (size_t)mine);
        rc = comm_allgather_blocks(fresh, sizeof(int64_t), off, off + mine);
        for (int64_t t = 0; rc == 0 && t < m; t++)
            memcpy(rows + (size_t)t * (size_t)d, all + (size_t)fresh[t] * (size_t)d,
                   sizeof(float) * (size_t)d);
        if (rc == 0)
            ball_counts(f, n_mine, d, rows, m, d2, -1, cnt);
    }
    free(all);
    free(cnt);
    free(fresh);
    free(counts);
    free(rows);
    free(covered);
    free(chosen);
    free(w);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int select_probcover_delta(const float *f, int64_t n_mine, int d, int64_t first_id, int64_t n_total,
                           int clusters, double purity, const uint32_t key[2], double *delta) {
    if (clusters < 2 || clusters > n_total || !(purity > 0.0 && purity <= 1.0))
        return rl_fail("select_probcover_delta: %d clusters for %lld points, purity %g",
                       "use 2 <= clusters <= the pool and a purity in (0, 1]", clusters,
                       (long long)n_total, purity);
    size_t nd = (size_t)n_mine * (size_t)d;
    int64_t s = n_total < SELECT_PURITY_SAMPLE ? n_total : SELECT_PURITY_SAMPLE;
    double *f64 = rl_xmalloc(sizeof(double) * (nd + 1)),
           *ones = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
    double *r = rl_xmalloc(sizeof(double) * (size_t)s);
    int *assign = rl_xmalloc(sizeof(int) * (size_t)(n_mine + 1));
    int64_t *size = rl_xmalloc(sizeof(int64_t) * (size_t)clusters);
    int64_t *sid = rl_xmalloc(sizeof(int64_t) * (size_t)s);
    int64_t *label = rl_xmalloc(sizeof(int64_t) * (size_t)n_total);
    float *yt = rl_xmalloc(sizeof(float) * COVER_BLOCK * (size_t)d), dist[COVER_BLOCK];
    for (size_t t = 0; t < nd; t++)
        f64[t] = (double)f[t];
    for (int64_t i = 0; i < n_mine; i++)
        ones[i] = 1.0;
    shards sh = {0, NULL};
    float *all = NULL;
    int rc = shards_make(&sh, first_id, n_total);
    rc = rc ? rc : kmeans(f, f64, n_mine, d, first_id, &sh, clusters, key, assign, size);
    rc = rc ? rc : select_sampled(ones, NULL, n_mine, first_id, s, key, STREAM_PURITY, sid);
    all = rc ? NULL : gather_rows(f, n_mine, d, first_id, n_total);
    rc = rc ? rc : all ? 0 : RL_ERR;
    for (int64_t i = 0; i < n_mine; i++)
        label[first_id + i] = assign[i];
    rc = rc ? rc : comm_allgather_blocks(label, sizeof(int64_t), first_id, first_id + n_mine);
    for (int64_t c = 0; c < s; c++)
        r[c] = -INFINITY; // −(smallest distance to another cluster), maximized over ranks
    for (int64_t lo = 0; rc == 0 && lo < n_mine; lo += COVER_BLOCK) {
        int w = (int)(n_mine - lo < COVER_BLOCK ? n_mine - lo : COVER_BLOCK);
        transpose_rows(f, sizeof(float), lo, w, d, yt);
        for (int64_t c = 0; c < s; c++) {
            kern_sqdist_f32(all + (size_t)sid[c] * (size_t)d, 1, yt, w, d, dist);
            for (int j = 0; j < w; j++)
                if (assign[lo + j] != label[sid[c]] && -(double)dist[j] > r[c])
                    r[c] = -(double)dist[j];
        }
    }
    rc = rc ? rc : comm_max_f64(r, (size_t)s);
    for (int64_t c = 0; c < s; c++)
        r[c] = -r[c];
    qsort(r, (size_t)s, sizeof(double), cmp_double);
    int64_t q = (int64_t)floor((1.0 - purity) * (double)s);
    q = q < s ? q : s - 1;
    float d2 = rc == 0 ? nextafterf((float)r[q], 0.0f) : 0.0f;
    if (rc == 0 && !(d2 > 0.0f && isfinite(d2)))
        rc = rl_fail("select_probcover_delta: no radius gives purity %g (distance to another "
                     "cluster %g)",
                     "set the ball radius explicitly (subset.delta) or lower subset.purity", purity,
                     r[q]);
    *delta = sqrt((double)d2);
    free(sh.starts);
    free(all);
    free(f64);
    free(ones);
    free(r);
    free(assign);
    free(size);
    free(sid);
    free(label);
    free(yt);
    return rc;
}

int select_subset(select_kind kind, const float *f, int64_t n_mine, int d, int64_t first_id,
                  int64_t n_total, int64_t budget, double delta, const uint32_t key[2],
                  int64_t *ids) {
    if (budget < 1 || budget > n_total)
        return rl_fail("select_subset: budget %lld is not in [1, %lld]",
                       "choose a budget no larger than the pool", (long long)budget,
                       (long long)n_total);
    size_t nd = (size_t)n_mine * (size_t)d;
    double *r = rl_xmalloc(sizeof(double) * (nd + 1)), *f64 = rl_xmalloc(sizeof(double) * (nd + 1));
    double *nrm2 = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
    for (size_t t = 0; t < nd; t++)
        r[t] = f64[t] = (double)f[t];
    for (int64_t i = 0; i < n_mine; i++)
        nrm2[i] = dot(f64 + (size_t)i * (size_t)d, f64 + (size_t)i * (size_t)d, d);
    shards sh = {0, NULL};
    int rc = 0;
    if (kind == SELECT_RANDOM || kind == SELECT_NORM) {
        for (int64_t i = 0; i < n_mine; i++)
            nrm2[i] = kind == SELECT_RANDOM ? 1.0 : sqrt(nrm2[i]);
        rc = select_sampled(nrm2, NULL, n_mine, first_id, budget, key, STREAM_SAMPLE, ids);
    } else if (kind == SELECT_PROBCOVER || kind == SELECT_PROBCOVER_NORM) {
        rc = delta > 0.0 ? select_probcover(kind, f, nrm2, n_mine, d, first_id, n_total, budget,
                                            delta, key, ids)
                         : rl_fail("select_subset: ProbCover radius %g is not positive",
                                   "give a radius > 0 (select_probcover_delta)", delta);
    } else if (kind == SELECT_TYPICLUST || kind == SELECT_TYPICLUST_NORM) {
        rc = shards_make(&sh, first_id, n_total);
        rc = rc ? rc
                : select_typiclust(kind, f, f64, nrm2, n_mine, d, first_id, &sh, budget, key, ids);
    } else {
        rc = shards_make(&sh, first_id, n_total);
        rc =
            rc ? rc : select_greedy(kind, f64, r, nrm2, n_mine, d, first_id, &sh, budget, key, ids);
    }
    free(sh.starts);
    free(r);
    free(f64);
    free(nrm2);
    return rc;
}
