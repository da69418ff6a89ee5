/* Subset selection from an unlabeled pool (METHODS.md §3): label-free PCA features of the pool
 * and the selectors that pick B examples from any features (these, or an encoder's such as
 * src/train/autoencoder.h), all collective and rank-independent. Ranks hold row shards of the
 * pool: rank r holds rows [first_id, first_id + n_mine) in rank order; the shards tile the pool
 * (for PCA in whole chunks of RL_ROW_CHUNK rows, comm_chunk_range).
 *
 *     select_pca(x, n_mine, dim, first_id, n_total, k, mean, basis, eig);  // collective
 *     select_pca_features(x, n_mine, dim, mean, basis, k, f);              // f (n_mine, k)
 *     select_subset(SELECT_NORM, f, n_mine, k, first_id, n_total, B, 0.0, key, ids);
 *
 * The selected ids are the same bits on any rank count: sampling uses exponential keys from the
 * counter RNG keyed by example id and a global smallest-B merge (comm_select_smallest); greedy
 * choices take the global (largest score, smallest id) by the same merge with k = 1; every row's
 * arithmetic depends only on the row and on vectors broadcast from the chosen row's owner.
 */
#ifndef RANKLAB_SELECT_SELECT_H
#define RANKLAB_SELECT_SELECT_H

#include <stdint.h>

typedef enum {
    SELECT_RANDOM,  /* uniform without replacement */
    SELECT_NORM,    /* without replacement, p ∝ ‖F_i‖ */
    SELECT_NORM_GS, /* largest residual norm, chosen direction projected out (Gram–Schmidt) */
    SELECT_KCENTER, /* k-center greedy (farthest point), started at a random point */
    SELECT_KCENTER_NORM, /* k-center, norm plug-in: score d_min(i)·‖F_i‖, start at max ‖F‖ */
    SELECT_TYPICLUST, /* k-means (K = min(B, 500)); most typical point of least covered cluster */
    SELECT_TYPICLUST_NORM, /* TypiClust with norm plug-in: score typicality·‖F_i‖ */
    SELECT_PROBCOVER, /* ProbCover: δ-ball graph; the point covering the most uncovered points */
    SELECT_PROBCOVER_NORM, /* ProbCover with norm plug-in: score (uncovered in ball)·‖F_i‖ */
    SELECT_NORM_GS_SAMPLED /* Gram–Schmidt, each row drawn ∝ its residual norm (the paper's
                            * randomized variant), chosen direction projected out */
} select_kind;

/* Points sampled from the pool to measure the purity of ProbCover's δ-balls when choosing δ
 * (select_probcover_delta; Yehuda et al. 2022 take the largest δ with purity ≥ 0.95, K = the
 * number of classes). */
#define SELECT_PURITY_SAMPLE 2000

/* Parse "random|norm|norm-gs|kcenter|kcenter-norm|typiclust|typiclust-norm|probcover|
 * probcover-norm|norm-gs-sampled"; -1 if unknown. */
int select_kind_parse(const char *name);

/* Collective: mean (dim), the top k eigenvectors of the pool covariance as basis (dim, k),
 * column j the j-th largest, sign fixed so its largest-|·| entry (first on ties) is positive,
 * and their eigenvalues eig (k). The covariance is summed in fixed point over chunks of
 * RL_ROW_CHUNK rows (rank-independent); every rank then solves the same eigenproblem. */
int select_pca(const float *x, int64_t n_mine, int dim, int64_t first_id, int64_t n_total, int k,
               float *mean, float *basis, double *eig);

/* f (n, k) = (x − mean) basis, row by row in a fixed order (a row's bits depend on the row only).
 */
void select_pca_features(const float *x, int64_t n, int dim, const float *mean, const float *basis,
                         int k, float *f);

/* 1 if the selection of budget B is the first B ids of the selection of any larger budget (with
 * the same key and radius): every kind but TypiClust (whose clusters depend on B). */
int select_kind_nested(select_kind kind);

/* Collective: ProbCover's δ for features f (rows as in select_subset): k-means with `clusters`
 * clusters (as TypiClust's, from key), then r_c = the smallest distance from each of
 * min(SELECT_PURITY_SAMPLE, n_total) uniformly sampled points c to a point of another cluster;
 * a δ-ball is pure iff δ < r_c, so δ = just below the (⌊(1 − purity)·s⌋ + 1)-th smallest r_c:
 * the largest δ with at least a fraction `purity` of the sampled balls pure. */
int select_probcover_delta(const float *f, int64_t n_mine, int d, int64_t first_id, int64_t n_total,
                           int clusters, double purity, const uint32_t key[2], double *delta);

/* Collective: the budget ids (global, in selection order; for sampled kinds in key order) of the
 * pool whose rows [first_id, first_id + n_mine) this rank holds as features f (n_mine, d).
 * budget <= n_total; delta: ProbCover's ball radius (> 0; ignored by the other kinds); key: the
 * selection's random key (from run.seed). */
int select_subset(select_kind kind, const float *f, int64_t n_mine, int d, int64_t first_id,
                  int64_t n_total, int64_t budget, double delta, const uint32_t key[2],
                  int64_t *ids);

#endif
