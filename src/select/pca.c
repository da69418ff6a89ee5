/* PCA features of a pool (select.h): the covariance summed in fixed point over chunks of
 * RL_ROW_CHUNK rows, so every rank solves the same eigenproblem (the eigensolver of
 * kernels/eigen.c, eigenvector signs fixed) and gets the same basis on any rank count and CPU. */
#include "src/select/select.h"

#include "kernels/kernels.h"
#include "src/comm/comm.h"
#include "src/core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


int select_pca(const float *x, int64_t n_mine, int dim, int64_t first_id, int64_t n_total, int k,
               float *mean, float *basis, double *eig) {
    int bad = first_id % RL_ROW_CHUNK != 0 ||
              (n_mine % RL_ROW_CHUNK != 0 && first_id + n_mine != n_total) || k < 1 || k > dim;
    if (comm_any_failed(bad))
        return rl_fail("select_pca: shard [%lld, +%lld) is not whole chunks of %d rows, or k = "
                       "%d is not in [1, %d]",
                       "give each rank whole chunks (and k <= the feature dimension)",
                       (long long)first_id, (long long)n_mine, RL_ROW_CHUNK, k, dim);
    size_t dd = (size_t)dim * (size_t)dim;
    comm_exact acc; /* Σ x xᵀ (dim, dim), then Σ x (dim) */
    comm_exact_init(&acc, dd + (size_t)dim);
    float *c = rl_xmalloc(sizeof(float) * (dd + (size_t)dim)); // chunk X^T X, column sums
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
        rc = rl_fail("select_pca: the eigendecomposition of the pool's covariance failed",
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

void select_pca_features(const float *x, int64_t n, int dim, const float *mean, const float *basis,
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
