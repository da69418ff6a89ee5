/* Subset selection from an unlabeled pool: PCA of the pool (fixed-point covariance, the
 * eigensolver of kernels/eigen.c) and the rank-independent selectors of subset.h. */
#include "src/data/subset.h"

#include "kernels/kernels.h"
#include "kernels/select.h"
#include "src/comm/comm.h"
#include "src/core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Streams of the selection key: sampling keys keyed by example id, the k-center start, k-means
 * seeds, ProbCover's fill after full coverage and its purity sample. */
enum {
    STREAM_SAMPLE = 1,
    STREAM_START = 2,
    STREAM_CENTERS = 3,
    STREAM_FILL = 4,
    STREAM_PURITY = 5
};

/* ProbCover: rows per distance block (a block's transposed features stay in the L1 cache). */
enum { COVER_BLOCK = 256 };

/* TypiClust: neighbours of the typicality, cluster cap (K = min(B, cap)), Lloyd iterations. */
enum { TYPI_KNN = 20, TYPI_MAX_CLUSTERS = 500, TYPI_ITERS = 20 };

int subset_kind_parse(const char *name) {
    static const char *const names[] = {"random",         "norm",         "norm-gs",
                                        "kcenter",        "kcenter-norm", "typiclust",
                                        "typiclust-norm", "probcover",    "probcover-norm"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int subset_kind_nested(subset_kind kind) {
    return kind != SUBSET_TYPICLUST && kind != SUBSET_TYPICLUST_NORM;
}

int subset_pca(const float *x, int64_t n_mine, int dim, int64_t first_id, int64_t n_total, int k,
               float *mean, float *basis, double *eig) {
    int bad = first_id % RL_ROW_CHUNK != 0 ||
              (n_mine % RL_ROW_CHUNK != 0 && first_id + n_mine != n_total) || k < 1 || k > dim;
    if (comm_any_failed(bad))
        return rl_fail("subset_pca: shard [%lld, +%lld) is not whole chunks of %d rows, or k = "
                       "%d is not in [1, %d]",
                       "give each rank whole chunks (and k <= the feature dimension)",
                       (long long)first_id, (long long)n_mine, RL_ROW_CHUNK, k, dim);
    size_t dd = (size_t)dim * (size_t)dim;
    comm_exact acc; /* Σ x xᵀ (dim, dim), then Σ x (dim) */
    comm_exact_init(&acc, dd + (size_t)dim);
    float *c = rl_xmalloc(sizeof(float) * (dd + (size_t)dim));    // chunk X^T X, column sums
    for (int64_t lo = 0; lo < n_mine; lo += RL_ROW_CHUNK) {
        int rows = (int)(n_mine - lo < RL_ROW_CHUNK ? n_mine - lo : RL_ROW_CHUNK);
        const float *xc = x + (size_t)lo * (size_t)dim; // (rows, dim)
        kern_sgemm(1, 0, dim, dim, rows, 1.0f, xc, dim, xc, dim, 0.0f, c, dim);
        memset(c + dd, 0, sizeof(float) * (size_t)dim);
        for (int i = 0; i < rows; i++)
            for (int p = 0; p < dim; p++)
                c[dd + (size_t)p] += xc[(size_t)i * (size_t)dim + (size_t)p];
        comm_exact_add(&acc, 0, c, dd + (size_t)dim, RL_FIXED_FRAC_BITS);
    }
    free(c);
    int rc = comm_exact_reduce(&acc);
    double *a = rl_xmalloc(sizeof(double) * dd), *w = rl_xmalloc(sizeof(double) * (size_t)dim);
    double n = (double)n_total;
    for (int p = 0; p < dim; p++)
        mean[p] = (float)(comm_exact_value(&acc, dd + (size_t)p, RL_FIXED_FRAC_BITS) / n);
    for (int p = 0; p < dim; p++)
        for (int q = 0; q < dim; q++) {
            double mp = comm_exact_value(&acc, dd + (size_t)p, RL_FIXED_FRAC_BITS) / n;
            double mq = comm_exact_value(&acc, dd + (size_t)q, RL_FIXED_FRAC_BITS) / n;
            a[(size_t)p * (size_t)dim + (size_t)q] =
                comm_exact_value(&acc, (size_t)p * (size_t)dim + (size_t)q, RL_FIXED_FRAC_BITS) /
                    n -
                mp * mq;
        }
    double *scratch = rl_xmalloc(sizeof(double) * (size_t)dim);
    if (rc == 0 && kern_sym_eigen(a, dim, w, scratch) < 0)
        rc = rl_fail("subset_pca: the eigendecomposition of the pool's covariance failed",
                     "check the pool for non-finite pixels");
    for (int j = 0; rc == 0 && j < k; j++) {
        const double *v = a + (size_t)(dim - 1 - j) * (size_t)dim; // eigenvalues ascend
        int big = 0;
        for (int p = 1; p < dim; p++)
            if (fabs(v[p]) > fabs(v[big]))
                big = p;
        double sign = v[big] < 0.0 ? -1.0 : 1.0;
        for (int p = 0; p < dim; p++)
            basis[(size_t)p * (size_t)k + (size_t)j] = (float)(sign * v[p]);
        eig[j] = w[dim - 1 - j];
    }
    free(scratch);
    free(a);
    free(w);
    comm_exact_free(&acc);
    return rc;
}

void subset_features(const float *x, int64_t n, int dim, const float *mean, const float *basis,
                     int k, float *f) {
    double *row = rl_xmalloc(sizeof(double) * (size_t)k);
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++)
            row[j] = 0.0;
        const float *xi = x + (size_t)i * (size_t)dim;
        for (int p = 0; p < dim; p++) {
            double c = (double)xi[p] - (double)mean[p];
            const float *b = basis + (size_t)p * (size_t)k;
            for (int j = 0; j < k; j++)
                row[j] += c * (double)b[j];
        }
        for (int j = 0; j < k; j++)
            f[(size_t)i * (size_t)k + (size_t)j] = (float)row[j];
    }
    free(row);
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

/* Sampling without replacement ∝ w (exponential keys, global smallest-budget merge). */
static int select_sampled(const double *w, int64_t n_mine, int64_t first_id, int64_t budget,
                          const uint32_t key[2], uint32_t stream, int64_t *ids) {
    kern_pair *mine = rl_xmalloc(sizeof(kern_pair) * (size_t)(n_mine + 1));
    kern_pair *top = rl_xmalloc(sizeof(kern_pair) * (size_t)budget);
    kern_sample_keys(w, (size_t)n_mine, first_id, key, stream, mine);
    int rc = comm_select_smallest(mine, n_mine, budget, top);
    for (int64_t b = 0; b < budget; b++)
        ids[b] = top[b].id;
    free(mine);
    free(top);
    return rc;
}

/* Greedy selectors on residuals / distances of the rows (f as double in r, (n_mine, d)). */
static int select_greedy(subset_kind kind, const double *f, double *r, const double *nrm2,
                         int64_t n_mine, int d, int64_t first_id, const shards *sh, int64_t budget,
                         const uint32_t key[2], int64_t *ids) {
    char *chosen = rl_xcalloc((size_t)n_mine + 1, 1);
    double *score = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
    double *mind = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
    double *u = rl_xmalloc(sizeof(double) * (size_t)d);
    int rc = 0;
    int64_t id = -1;
    if (kind == SUBSET_KCENTER) { // start: the row with the smallest uniform key
        double *ones = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
        kern_pair *mine = rl_xmalloc(sizeof(kern_pair) * (size_t)(n_mine + 1)), top;
        for (int64_t i = 0; i < n_mine; i++)
            ones[i] = 1.0;
        kern_sample_keys(ones, (size_t)n_mine, first_id, key, STREAM_START, mine);
        rc = comm_select_smallest(mine, n_mine, 1, &top);
        id = top.id;
        free(ones);
        free(mine);
    }
    for (int64_t i = 0; i < n_mine; i++)
        mind[i] = INFINITY;
    for (int64_t b = 0; rc == 0 && b < budget; b++) {
        if (kind == SUBSET_NORM_GS && b > 0 && b % d == 0) // span exhausted: restart from F
            memcpy(r, f, sizeof(double) * (size_t)n_mine * (size_t)d);
        if (b > 0 || kind != SUBSET_KCENTER) {
            for (int64_t i = 0; i < n_mine; i++) {
                const double *ri = r + (size_t)i * (size_t)d;
                score[i] = kind == SUBSET_NORM_GS   ? dot(ri, ri, d)
                           : kind == SUBSET_KCENTER ? mind[i]
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
        if (kind == SUBSET_NORM_GS) {
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

/* Index of the centroid (k, d) nearest to row x (d), ties to the smallest index. */
static int nearest(const double *cent, int k, const double *x, int d) {
    int best = 0;
    double bd = INFINITY;
    for (int c = 0; c < k; c++) {
        double s = 0.0;
        for (int j = 0; j < d; j++)
            s += (x[j] - cent[(size_t)c * (size_t)d + (size_t)j]) *
                 (x[j] - cent[(size_t)c * (size_t)d + (size_t)j]);
        if (s < bd) {
            bd = s;
            best = c;
        }
    }
    return best;
}

/* Collective k-means (Lloyd, TYPI_ITERS rounds from k rows sampled uniformly): assign (n_mine)
 * and size (k) of the final clusters. Centroid sums in fixed point, so rank-independent. */
static int kmeans(const float *ff, const double *f, int64_t n_mine, int d, int64_t first_id,
                  const shards *sh, int k, const uint32_t key[2], int *assign, int64_t *size) {
    double *ones = rl_xmalloc(sizeof(double) * (size_t)(n_mine + 1));
    double *cent = rl_xmalloc(sizeof(double) * (size_t)k * (size_t)d);
    int64_t *seeds = rl_xmalloc(sizeof(int64_t) * (size_t)k);
    comm_exact acc; /* per cluster: Σ features (k, d), then the counts (k) */
    comm_exact_init(&acc, (size_t)k * (size_t)(d + 1));
    for (int64_t i = 0; i < n_mine; i++)
        ones[i] = 1.0;
    int rc = select_sampled(ones, n_mine, first_id, k, key, STREAM_CENTERS, seeds);
    for (int c = 0; rc == 0 && c < k; c++)
        rc = shards_bcast_row(sh, seeds[c], f, first_id, d, cent + (size_t)c * (size_t)d);
    for (int it = 0; rc == 0 && it <= TYPI_ITERS; it++) {
        comm_exact_zero(&acc);
        for (int64_t i = 0; i < n_mine; i++) {
            int c = assign[i] = nearest(cent, k, f + (size_t)i * (size_t)d, d);
            comm_exact_add(&acc, (size_t)c * (size_t)d, ff + (size_t)i * (size_t)d, (size_t)d,
                           RL_FIXED_FRAC_BITS);
            comm_exact_count(&acc, (size_t)k * (size_t)d + (size_t)c, 1);
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
    free(seeds);
    comm_exact_free(&acc);
    return rc;
}

/* Typicality of row x (d) among the m gathered members (rows of d + 1: id, features):
 * 1 / mean distance to its min(TYPI_KNN, m − 1) nearest other members (+inf when alone). */
static double typicality(const double *x, int64_t id, const double *members, int64_t m, int d) {
    double near[TYPI_KNN];
    int have = 0;
    for (int64_t t = 0; t < m; t++) {
        const double *y = members + (size_t)t * (size_t)(d + 1);
        if ((int64_t)y[0] == id)
            continue;
        double s = 0.0;
        for (int j = 0; j < d; j++)
            s += (x[j] - y[1 + j]) * (x[j] - y[1 + j]);
        s = sqrt(s);
        int pos = have < TYPI_KNN ? have++ : TYPI_KNN;
        if (pos == TYPI_KNN && s >= near[TYPI_KNN - 1])
            continue;
        pos = pos == TYPI_KNN ? TYPI_KNN - 1 : pos;
        while (pos > 0 && near[pos - 1] > s) {
            near[pos] = near[pos - 1];
            pos--;
        }
        near[pos] = s;
    }
    double sum = 0.0;
    for (int q = 0; q < have; q++)
        sum += near[q];
    return have > 0 && sum > 0.0 ? (double)have / sum : INFINITY;
}

/* TypiClust: k-means with K = min(B, TYPI_MAX_CLUSTERS); repeatedly the least covered cluster
 * (fewest picks, then largest, then lowest index) gives its most typical untaken member (ties to
 * the smallest id); norm plug-in: typicality × ‖F‖. Members gathered in id order. */
static int select_typiclust(subset_kind kind, const float *ff, const double *f, const double *nrm2,
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
        double *members = rl_xmalloc(sizeof(double) * ((size_t)m * (size_t)(d + 1) + 1));
        for (int64_t i = 0, t = off; i < n_mine; i++)
            if (assign[i] == c) {
                double *y = members + (size_t)t++ * (size_t)(d + 1);
                y[0] = (double)(first_id + i);
                memcpy(y + 1, f + (size_t)i * (size_t)d, sizeof(double) * (size_t)d);
            }
        rc = rc ? rc
                : comm_allgather_blocks(members, sizeof(double) * (size_t)(d + 1), off, off + mine);
        kern_pair best = {INFINITY, -1}, top;
        for (int64_t i = 0; rc == 0 && i < n_mine; i++)
            if (assign[i] == c && !chosen[i]) {
                double t = typicality(f + (size_t)i * (size_t)d, first_id + i, members, m, d);
                t = kind == SUBSET_TYPICLUST_NORM ? t * sqrt(nrm2[i]) : t;
                if (best.id < 0 || -t < best.key) {
                    best.key = -t;
                    best.id = first_id + i;
                }
            }
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
 * bits as sqdist_block's for the pair, either way round (the δ-graph is symmetric). */
static float sqdist1(const float *x, const float *y, int d) {
    float s = 0.0f;
    for (int p = 0; p < d; p++) {
        float t = x[p] - y[p];
        s += t * t;
    }
    return s;
}

/* s (m) = squared distances of row x (d) to the m rows of yt (d, m) (transposed), each summed
 * like sqdist1 (vectorized over the rows; a pair's bits depend only on its two rows). */
static void sqdist_block(const float *x, const float *yt, int m, int d, float *s) {
    for (int j = 0; j < m; j++)
        s[j] = 0.0f;
    for (int p = 0; p < d; p++) {
        const float xp = x[p], *y = yt + (size_t)p * (size_t)m;
        for (int j = 0; j < m; j++) {
            float t = xp - y[j];
            s[j] += t * t;
        }
    }
}

/* yt (d, m) = rows [lo, lo + m) of y (·, d), transposed. */
static void transpose_rows(const float *y, int64_t lo, int m, int d, float *yt) {
    for (int j = 0; j < m; j++)
        for (int p = 0; p < d; p++)
            yt[(size_t)p * (size_t)m + (size_t)j] = y[(size_t)(lo + j) * (size_t)d + (size_t)p];
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
        transpose_rows(y, lo, w, d, yt);
        for (int64_t i = 0; i < n_mine; i++) {
            if (sign < 0 && cnt[i] == 0)
                continue;
            sqdist_block(f + (size_t)i * (size_t)d, yt, w, d, s);
            int64_t c = 0;
            for (int j = 0; j < w; j++)
                c += s[j] <= d2;
            cnt[i] += sign * c;
        }
    }
    free(yt);
}

/* Collective: the remaining ids (out, r) drawn without replacement from my unchosen rows, ∝ w
 * (exponential keys of STREAM_FILL, global smallest-r merge). */
static int fill_sampled(const double *w, const char *chosen, int64_t n_mine, int64_t first_id,
                        int64_t r, const uint32_t key[2], int64_t *out) {
    kern_pair *mine = rl_xmalloc(sizeof(kern_pair) * (size_t)(n_mine + 1));
    kern_pair *top = rl_xmalloc(sizeof(kern_pair) * (size_t)r);
    kern_sample_keys(w, (size_t)n_mine, first_id, key, STREAM_FILL, mine);
    int64_t m = 0;
    for (int64_t i = 0; i < n_mine; i++)
        if (!chosen[i])
            mine[m++] = mine[i];
    int rc = comm_select_smallest(mine, m, r, top);
    for (int64_t b = 0; b < r; b++)
        out[b] = top[b].id;
    free(mine);
    free(top);
    return rc;
}

/* ProbCover (Yehuda et al. 2022): repeatedly the point whose δ-ball holds the most uncovered
 * points (norm plug-in: that count × ‖F_i‖; ties to the smallest id); its ball becomes covered.
 * Counts are exact integers: the initial ball sizes against all gathered rows, then, after each
 * pick, the newly covered rows (gathered in id order) are subtracted from the counts of their
 * neighbours. Once everything is covered the rest is sampled (uniform; ∝ ‖F‖ with the norm). */
static int select_probcover(subset_kind kind, const float *f, const double *nrm2, int64_t n_mine,
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
            w[i] = (double)cnt[i] * (kind == SUBSET_PROBCOVER_NORM ? sqrt(nrm2[i]) : 1.0);
        int64_t id = -1;
        double best = 0.0;
        rc = best_row(w, chosen, n_mine, first_id, &id, &best);
        if (rc == 0 && best <= 0.0) { // all covered: sample the rest
            for (int64_t i = 0; i < n_mine; i++)
                w[i] = kind == SUBSET_PROBCOVER_NORM ? sqrt(nrm2[i]) : 1.0;
            rc = fill_sampled(w, chosen, n_mine, first_id, budget - b, key, ids + b);
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

int subset_probcover_delta(const float *f, int64_t n_mine, int d, int64_t first_id, int64_t n_total,
                           int clusters, double purity, const uint32_t key[2], double *delta) {
    if (clusters < 2 || clusters > n_total || !(purity > 0.0 && purity <= 1.0))
        return rl_fail("subset_probcover_delta: %d clusters for %lld points, purity %g",
                       "use 2 <= clusters <= the pool and a purity in (0, 1]", clusters,
                       (long long)n_total, purity);
    size_t nd = (size_t)n_mine * (size_t)d;
    int64_t s = n_total < SUBSET_PURITY_SAMPLE ? n_total : SUBSET_PURITY_SAMPLE;
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
    rc = rc ? rc : select_sampled(ones, n_mine, first_id, s, key, STREAM_PURITY, sid);
    all = rc ? NULL : gather_rows(f, n_mine, d, first_id, n_total);
    rc = rc ? rc : all ? 0 : RL_ERR;
    for (int64_t i = 0; i < n_mine; i++)
        label[first_id + i] = assign[i];
    rc = rc ? rc : comm_allgather_blocks(label, sizeof(int64_t), first_id, first_id + n_mine);
    for (int64_t c = 0; c < s; c++)
        r[c] = -INFINITY; // −(smallest distance to another cluster), maximized over ranks
    for (int64_t lo = 0; rc == 0 && lo < n_mine; lo += COVER_BLOCK) {
        int w = (int)(n_mine - lo < COVER_BLOCK ? n_mine - lo : COVER_BLOCK);
        transpose_rows(f, lo, w, d, yt);
        for (int64_t c = 0; c < s; c++) {
            sqdist_block(all + (size_t)sid[c] * (size_t)d, yt, w, d, dist);
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
        rc = rl_fail("subset_probcover_delta: no radius gives purity %g (distance to another "
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

int subset_select(subset_kind kind, const float *f, int64_t n_mine, int d, int64_t first_id,
                  int64_t n_total, int64_t budget, double delta, const uint32_t key[2],
                  int64_t *ids) {
    if (budget < 1 || budget > n_total)
        return rl_fail("subset_select: budget %lld is not in [1, %lld]",
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
    if (kind == SUBSET_RANDOM || kind == SUBSET_NORM) {
        for (int64_t i = 0; i < n_mine; i++)
            nrm2[i] = kind == SUBSET_RANDOM ? 1.0 : sqrt(nrm2[i]);
        rc = select_sampled(nrm2, n_mine, first_id, budget, key, STREAM_SAMPLE, ids);
    } else if (kind == SUBSET_PROBCOVER || kind == SUBSET_PROBCOVER_NORM) {
        rc = delta > 0.0 ? select_probcover(kind, f, nrm2, n_mine, d, first_id, n_total, budget,
                                            delta, key, ids)
                         : rl_fail("subset_select: ProbCover radius %g is not positive",
                                   "give a radius > 0 (subset_probcover_delta)", delta);
    } else if (kind == SUBSET_TYPICLUST || kind == SUBSET_TYPICLUST_NORM) {
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
