/* Symmetric eigendecomposition in double (kernels.h kern_sym_eigen): Householder reduction to
 * tridiagonal form, then the implicit QL method with Wilkinson-style shifts (the EISPACK
 * tred2/tql2 pair, as in JAMA). Plain loops in a fixed order, square roots and divisions only
 * (correctly rounded), no FMA contraction: the same bits on every x86-64 CPU, unlike a LAPACK
 * whose kernels are picked by CPU.
 *
 * The algorithm is written for V, the (n, n) matrix whose columns become the eigenvectors, but V
 * is stored transposed in `a` (V(r, c) = a[c·n + r]): every inner loop then runs along a row of
 * `a`, and at the end row j of `a` is eigenvector j. */
#include "kernels/kernels.h"

#include <math.h>

#define V(r, c) a[(size_t)(c) * (size_t)n + (size_t)(r)]
#define EIGEN_MAX_ITERATIONS 64 /* QL iterations per eigenvalue; 2-3 is typical */

/* sqrt(x² + y²) without overflow or underflow in the squares. */
static double eigen_hypot(double x, double y) {
    x = fabs(x);
    y = fabs(y);
    double big = x > y ? x : y, small = x > y ? y : x;
    if (big == 0.0)
        return 0.0;
    double r = small / big;
    return big * sqrt(1.0 + r * r);
}

/* Householder reduction of V (holding the matrix) to tridiagonal form: diagonal d, subdiagonal
 * e (e[0] = 0); V becomes the orthogonal transformation. */
static void eigen_tridiagonalize(double *a, int n, double *d, double *e) {
    for (int j = 0; j < n; j++)
        d[j] = V(n - 1, j);
    for (int i = n - 1; i > 0; i--) {
        double scale = 0.0, h = 0.0;
        for (int k = 0; k < i; k++)
            scale += fabs(d[k]);
        if (scale == 0.0) {
            e[i] = d[i - 1];
            for (int j = 0; j < i; j++) {
                d[j] = V(i - 1, j);
                V(i, j) = 0.0;
                V(j, i) = 0.0;
            }
        } else {
            for (int k = 0; k < i; k++) { /* the Householder vector */
                d[k] /= scale;
                h += d[k] * d[k];
            }
            double f = d[i - 1], g = sqrt(h);
            if (f > 0)
                g = -g;
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for (int j = 0; j < i; j++)
                e[j] = 0.0;
            for (int j = 0; j < i; j++) { /* the similarity transformation */
                f = d[j];
                V(j, i) = f;
                g = e[j] + V(j, j) * f;
                for (int k = j + 1; k <= i - 1; k++) {
                    g += V(k, j) * d[k];
                    e[k] += V(k, j) * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for (int j = 0; j < i; j++) {
                e[j] /= h;
                f += e[j] * d[j];
            }
            double hh = f / (h + h);
            for (int j = 0; j < i; j++)
                e[j] -= hh * d[j];
            for (int j = 0; j < i; j++) {
                f = d[j];
                g = e[j];
                for (int k = j; k <= i - 1; k++)
                    V(k, j) -= (f * e[k] + g * d[k]);
                d[j] = V(i - 1, j);
                V(i, j) = 0.0;
            }
        }
        d[i] = h;
    }
    for (int i = 0; i < n - 1; i++) { /* accumulate the transformations */
        V(n - 1, i) = V(i, i);
        V(i, i) = 1.0;
        double h = d[i + 1];
        if (h != 0.0) {
            for (int k = 0; k <= i; k++)
                d[k] = V(k, i + 1) / h;
            for (int j = 0; j <= i; j++) {
                double g = 0.0;
                for (int k = 0; k <= i; k++)
                    g += V(k, i + 1) * V(k, j);
                for (int k = 0; k <= i; k++)
                    V(k, j) -= g * d[k];
            }
        }
        for (int k = 0; k <= i; k++)
            V(k, i + 1) = 0.0;
    }
    for (int j = 0; j < n; j++) {
        d[j] = V(n - 1, j);
        V(n - 1, j) = 0.0;
    }
    V(n - 1, n - 1) = 1.0;
    e[0] = 0.0;
}

/* Implicit QL on the tridiagonal (d, e), rotations applied to V; eigenvalues into d, sorted
 * ascending with V's columns. -1 if an eigenvalue does not converge. */
static int eigen_ql(double *a, int n, double *d, double *e) {
    for (int i = 1; i < n; i++)
        e[i - 1] = e[i];
    e[n - 1] = 0.0;
    double f = 0.0, tst1 = 0.0;
    const double eps = 0x1p-52;
    for (int l = 0; l < n; l++) {
        double size = fabs(d[l]) + fabs(e[l]);
        tst1 = size > tst1 ? size : tst1;
        int m = l;
        while (m < n - 1 && !(fabs(e[m]) <= eps * tst1))
            m++;
        for (int iter = 0; m > l; iter++) {
            if (iter == EIGEN_MAX_ITERATIONS)
                return -1;
            double g = d[l]; /* the implicit shift */
            double p = (d[l + 1] - g) / (2.0 * e[l]);
            double r = eigen_hypot(p, 1.0);
            if (p < 0)
                r = -r;
            d[l] = e[l] / (p + r);
            d[l + 1] = e[l] * (p + r);
            double dl1 = d[l + 1], h = g - d[l];
            for (int i = l + 2; i < n; i++)
                d[i] -= h;
            f += h;
            p = d[m]; /* the QL sweep */
            double c = 1.0, c2 = c, c3 = c, el1 = e[l + 1], s = 0.0, s2 = 0.0;
            for (int i = m - 1; i >= l; i--) {
                c3 = c2;
                c2 = c;
                s2 = s;
                g = c * e[i];
                h = c * p;
                r = eigen_hypot(p, e[i]);
                e[i + 1] = s * r;
                s = e[i] / r;
                c = p / r;
                p = c * d[i] - s * g;
                d[i + 1] = h + s * (c * g + s * d[i]);
                for (int k = 0; k < n; k++) {
                    h = V(k, i + 1);
                    V(k, i + 1) = s * V(k, i) + c * h;
                    V(k, i) = c * V(k, i) - s * h;
                }
            }
            p = -s * s2 * c3 * el1 * e[l] / dl1;
            e[l] = s * p;
            d[l] = c * p;
            if (!(fabs(e[l]) > eps * tst1))
                break;
        }
        d[l] += f;
        e[l] = 0.0;
    }
    for (int i = 0; i < n - 1; i++) { /* selection sort, ascending */
        int k = i;
        double p = d[i];
        for (int j = i + 1; j < n; j++)
            if (d[j] < p) {
                k = j;
                p = d[j];
            }
        if (k != i) {
            d[k] = d[i];
            d[i] = p;
            for (int j = 0; j < n; j++) {
                double t = V(j, i);
                V(j, i) = V(j, k);
                V(j, k) = t;
            }
        }
    }
    return 0;
}

int kern_sym_eigen(double *a, int n, double *w, double *scratch) {
    for (size_t i = 0; i < (size_t)n * (size_t)n; i++)
        if (!isfinite(a[i]))
            return -1;
    if (n <= 0)
        return 0;
    eigen_tridiagonalize(a, n, w, scratch);
    return eigen_ql(a, n, w, scratch);
}
