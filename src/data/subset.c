/* Subset selection from an unlabeled pool: PCA of the pool (fixed-point covariance, LAPACK
 * dsyevd) and the rank-independent selectors of subset.h. */
#include "src/data/subset.h"

#include "kernels/kernels.h"
#include "kernels/select.h"
#include "src/comm/comm.h"
#include "src/core/error.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK's symmetric eigensolver (divide and conquer), from OpenBLAS. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);

/* Streams of the selection key: sampling keys keyed by example id, the k-center start. */
enum { STREAM_SAMPLE = 1, STREAM_START = 2, STREAM_CENTERS = 3 };

/* TypiClust: neighbours of the typicality, cluster cap (K = min(B, cap)), Lloyd iterations. */
enum { TYPI_KNN = 20, TYPI_MAX_CLUSTERS = 500, TYPI_ITERS = 20 };

int subset_kind_parse(const char *name) {
    static const char *const names[] = {"random",       "norm",      "norm-gs",       "kcenter",
                                        "kcenter-norm", "typiclust", "typiclust-norm"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int subset_pca(const float *x, int64_t n_mine, int dim, int64_t first_id, int64_t n_total, int k,
               float *mean, float *basis, double *eig) {
    int bad = first_id % SUBSET_CHUNK != 0 ||
              (n_mine % SUBSET_CHUNK != 0 && first_id + n_mine != n_total) || k < 1 || k > dim;
    if (comm_any_failed(bad))
        return rl_fail("subset_pca: shard [%lld, +%lld) is not whole chunks of %d rows, or k = "
                       "%d is not in [1, %d]",
                       "give each rank whole chunks (and k <= the feature dimension)",
                       (long long)first_id, (long long)n_mine, SUBSET_CHUNK, k, dim);
    size_t dd = (size_t)dim * (size_t)dim;
    int64_t *acc = rl_xcalloc(dd + (size_t)dim, sizeof(int64_t)); // (dim, dim) then (dim)
    float *c = rl_xmalloc(sizeof(float) * (dd + (size_t)dim));    // chunk X^T X, column sums
    for (int64_t lo = 0; lo < n_mine; lo += SUBSET_CHUNK) {
        int rows = (int)(n_mine - lo < SUBSET_CHUNK ? n_mine - lo : SUBSET_CHUNK);
        const float *xc = x + (size_t)lo * (size_t)dim; // (rows, dim)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dim, dim, rows, 1.0f, xc, dim, xc, dim,
                    0.0f, c, dim);
        memset(c + dd, 0, sizeof(float) * (size_t)dim);
        for (int i = 0; i < rows; i++)
            for (int p = 0; p < dim; p++)
                c[dd + (size_t)p] += xc[(size_t)i * (size_t)dim + (size_t)p];
        kern_add_fixed(c, acc, dd + (size_t)dim, RL_FIXED_FRAC_BITS);
    }
    free(c);
    int rc = comm_sum_i64(acc, dd + (size_t)dim);
    double *a = rl_xmalloc(sizeof(double) * dd), *w = rl_xmalloc(sizeof(double) * (size_t)dim);
    double unit = ldexp(1.0, -RL_FIXED_FRAC_BITS), n = (double)n_total;
    for (int p = 0; p < dim; p++)
        mean[p] = (float)((double)acc[dd + (size_t)p] * unit / n);
    for (int p = 0; p < dim; p++)
        for (int q = 0; q < dim; q++) {
            double mp = (double)acc[dd + (size_t)p] * unit / n;
            double mq = (double)acc[dd + (size_t)q] * unit / n;
            a[(size_t)p * (size_t)dim + (size_t)q] =
                (double)acc[(size_t)p * (size_t)dim + (size_t)q] * unit / n - mp * mq;
        }
    int info = 0, lwork = -1, liwork = -1, iw_query = 0;
    double w_query = 0.0;
    dsyevd_("V", "U", &dim, a, &dim, w, &w_query, &lwork, &iw_query, &liwork, &info);
    lwork = (int)w_query;
    liwork = iw_query;
    double *work = rl_xmalloc(sizeof(double) * (size_t)lwork);
    int *iwork = rl_xmalloc(sizeof(int) * (size_t)liwork);
    if (rc == 0 && info == 0)
        dsyevd_("V", "U", &dim, a, &dim, w, work, &lwork, iwork, &liwork, &info);
    if (rc == 0 && info != 0)
        rc = rl_fail("subset_pca: LAPACK dsyevd failed (info %d)",
                     "check the pool for non-finite pixels", info);
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
    free(work);
    free(iwork);
    free(a);
    free(w);
    free(acc);
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

/* Collective: the id of the largest score among unchosen rows, ties to the smallest id. */
static int best_row(const double *score, const char *chosen, int64_t n_mine, int64_t first_id,
                    int64_t *id) {
    kern_pair mine = {INFINITY, -1}, top;
    for (int64_t i = 0; i < n_mine; i++)
        if (!chosen[i] && (mine.id < 0 || -score[i] < mine.key)) {
            mine.key = -score[i];
            mine.id = first_id + i;
        }
    int rc = comm_select_smallest(&mine, mine.id >= 0 ? 1 : 0, 1, &top);
    *id = top.id;
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
            rc = best_row(score, chosen, n_mine, first_id, &id);
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
    int64_t *acc = rl_xmalloc(sizeof(int64_t) * (size_t)k * (size_t)(d + 1)); // sums, counts
    for (int64_t i = 0; i < n_mine; i++)
        ones[i] = 1.0;
    int rc = select_sampled(ones, n_mine, first_id, k, key, STREAM_CENTERS, seeds);
    for (int c = 0; rc == 0 && c < k; c++)
        rc = shards_bcast_row(sh, seeds[c], f, first_id, d, cent + (size_t)c * (size_t)d);
    double unit = ldexp(1.0, -RL_FIXED_FRAC_BITS);
    for (int it = 0; rc == 0 && it <= TYPI_ITERS; it++) {
        memset(acc, 0, sizeof(int64_t) * (size_t)k * (size_t)(d + 1));
        for (int64_t i = 0; i < n_mine; i++) {
            int c = assign[i] = nearest(cent, k, f + (size_t)i * (size_t)d, d);
            kern_add_fixed(ff + (size_t)i * (size_t)d, acc + (size_t)c * (size_t)d, (size_t)d,
                           RL_FIXED_FRAC_BITS);
            acc[(size_t)k * (size_t)d + (size_t)c]++;
        }
        rc = comm_sum_i64(acc, (size_t)k * (size_t)(d + 1));
        for (int c = 0; rc == 0 && c < k; c++) {
            int64_t m = size[c] = acc[(size_t)k * (size_t)d + (size_t)c];
            for (int j = 0; j < d && m > 0 && it < TYPI_ITERS; j++)
                cent[(size_t)c * (size_t)d + (size_t)j] =
                    (double)acc[(size_t)c * (size_t)d + (size_t)j] * unit / (double)m;
        }
    }
    free(ones);
    free(cent);
    free(seeds);
    free(acc);
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

int subset_select(subset_kind kind, const float *f, int64_t n_mine, int d, int64_t first_id,
                  int64_t n_total, int64_t budget, const uint32_t key[2], int64_t *ids) {
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
