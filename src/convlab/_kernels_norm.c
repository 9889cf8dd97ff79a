/* convlab._kernels' ReLU and batch-norm loops (see _kernels.h; the Python side is ops/fused.py).
 *
 * In NumPy a batch norm is four or five passes over its activations (ResNet-20's 16-channel one:
 * mean, x - mean, the variance, the scale, the shift); here each is the fewest passes the maths
 * allows: the statistics in one read, the normalisation in one read and one write.
 *
 * Activations are (N, C, L) with L the pixels of one channel of one sample (contiguous).
 * Per-channel sums are accumulated in float64: a row's sum and its centred sum of squares, merged
 * across rows with Chan's formula, so the variance does not suffer from E[x^2] - E[x]^2.
 */
#include "_kernels.h"

CLONES void relu_loop(idx lo, idx hi, const float *restrict x, float *restrict y, unsigned char *restrict mask)
{
    for (idx i = lo; i < hi; i++) {
        float v = x[i];
        int keep = !(v <= 0.f); /* v > 0, or NaN: passed through, its gradient too (as torch does) */
        mask[i] = (unsigned char)keep;
        y[i] = keep ? v : 0.f;
    }
}

CLONES void relu_backward_loop(idx lo, idx hi, const float *restrict g, const unsigned char *restrict mask,
                                      float *restrict out)
{
    for (idx i = lo; i < hi; i++) out[i] = g[i] * (float)mask[i];
}

/* The batch-norm loops run over (sample, channel) rows of L values. */

/* sum and centred sum of squares of one row, in float64 (a cloned function of its own: inlined
 * into a cloned loop, its reductions ran 2.3x slower) */
CLONES static void row_moments(idx len, const float *restrict r, double *sum, double *m2)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (idx i = 0; i < len; i++) s += r[i];
    double mean = s / (double)len, q = 0.0;
#pragma omp simd reduction(+ : q)
    for (idx i = 0; i < len; i++) {
        double d = (double)r[i] - mean;
        q += d * d;
    }
    *sum = s;
    *m2 = q;
}

void moments_loop(idx j0, idx j1, idx n, idx c, idx len, const float *x, double *mean, double *var)
{
    for (idx j = j0; j < j1; j++) {
        double count = 0.0, mu = 0.0, m2 = 0.0;
        for (idx s = 0; s < n; s++) { /* Chan et al.: merge (count, mu, m2) with the row's */
            double rs, rq;
            row_moments(len, x + (s * c + j) * len, &rs, &rq);
            double rmu = rs / (double)len, total = count + (double)len, delta = rmu - mu;
            mu += delta * (double)len / total;
            m2 += rq + delta * delta * count * (double)len / total;
            count = total;
        }
        mean[j] = mu;
        var[j] = count > 0 ? m2 / count : 0.0;
    }
}

/* y = (x - mean) * scale + shift per channel */
CLONES void normalize_loop(idx r0, idx r1, idx c, idx len, const float *x, const float *mean, const float *scale,
                                  const float *shift, float *y)
{
    for (idx row = r0; row < r1; row++) {
        idx j = row % c;
        const float *restrict r = x + row * len;
        float *restrict out = y + row * len;
        for (idx i = 0; i < len; i++) out[i] = (r[i] - mean[j]) * scale[j] + shift[j];
    }
}

/* per channel sum(g) and sum(g * (x - mean)), in float64 */
CLONES void grad_sums_loop(idx j0, idx j1, idx n, idx c, idx len, const float *g, const float *x,
                                  const float *mean, double *sg, double *sgx)
{
    for (idx j = j0; j < j1; j++) sg[j] = sgx[j] = 0.0;
    for (idx s = 0; s < n; s++)
        for (idx j = j0; j < j1; j++) {
            const float *restrict gr = g + (s * c + j) * len, *restrict r = x + (s * c + j) * len;
            float m = mean[j];
            double a = 0.0, b = 0.0;
#pragma omp simd reduction(+ : a, b)
            for (idx i = 0; i < len; i++) {
                a += gr[i];
                b += (double)gr[i] * (double)(r[i] - m);
            }
            sg[j] += a;
            sgx[j] += b;
        }
}

/* out = g * k + (x - mean) * a + b per channel */
CLONES void normalize_backward_loop(idx r0, idx r1, idx c, idx len, const float *g, const float *x, const float *k,
                                           const float *mean, const float *a, const float *b, float *out)
{
    for (idx row = r0; row < r1; row++) {
        idx j = row % c, o = row * len;
        const float *restrict gr = g + o, *restrict r = x + o;
        float *restrict dst = out + o;
        for (idx i = 0; i < len; i++) dst[i] = gr[i] * k[j] + (r[i] - mean[j]) * a[j] + b[j];
    }
}