/* convlab._kernels: the memory passes around the GEMM: ReLU, batch norm, 2-D im2col / col2im,
 * the flat grid's copies and depthwise convolution.
 *
 * Why it exists: in NumPy a batch norm is four or five passes over its activations (ResNet-20's
 * 16-channel one: mean, x - mean, the variance, the scale, the shift), and on small layers memory
 * passes, not arithmetic, are what a training step waits for. Here each is the fewest passes the
 * maths allows: the statistics in one read, the normalisation in one read and one write.
 * ops/fused.py is the Python side; the ops call it when the arrays suit (float32, C-contiguous)
 * and keep their NumPy code for everything else; the tests run both.
 *
 * Activations are (N, C, L) with L the pixels of one channel of one sample (contiguous).
 * Per-channel sums are accumulated in float64: a row's sum and its centred sum of squares, merged
 * across rows with Chan's formula, so the variance does not suffer from E[x^2] - E[x]^2.
 *
 * Python API (buffers are checked; the arithmetic runs without the GIL):
 *   relu(x, y, mask)                       y = max(x, 0), mask = not x <= 0 (bool; NaN: y NaN, mask 1)
 *   relu_backward(g, mask, out)            out = g * mask (as NumPy computes it)
 *   moments(x, n, c, mean, var)            per-channel mean and biased variance (float64 out)
 *   normalize(x, n, c, mean, scale, shift, y)          y = (x - mean) * scale + shift
 *   grad_sums(g, x, n, c, mean, sum_g, sum_gxc)        sum g and sum g * (x - mean) (float64 out)
 *   normalize_backward(g, x, n, c, k, mean, a, b, out) out = g * k + (x - mean) * a + b
 *   im2col_2d(x, geometry, col)            col[c, kh, kw, n, oh, ow] = x[n, c, ih, iw] (0 in the padding)
 *   col2im_2d(col, geometry, out)          its adjoint: out[n, c, ih, iw] = sum of the entries read from there
 *   grid_in(x, (n, c, h, w, grid_h, grid_w, base), out)  x (N, C, h, w) onto flat padded grids (below)
 *   grid_out(src, (n, c, h, w, grid_h, grid_w), bias, out)  the reverse, plus a per-channel bias (or None)
 *   depthwise_2d(mode, a, b, geometry, bias, out)       stride-1 depthwise convolution, one plane at a time:
 *       mode 0: out = conv(a = x, b = w) + bias   1: out = grad_x from a = grad_y, b = w
 *       2: out (C, KH * KW) float64 = grad_w from a = x, b = grad_y
 * with the per-channel vectors float32 unless said otherwise, and geometry the tuple
 * (n, c, h, w, kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, out_h, out_w),
 * ih = oh * stride_h + kh * dilation_h - pad_top (likewise iw). NumPy builds a strided
 * convolution's columns as a padded copy and one strided copy per kernel offset, three times
 * the memory traffic of these loops (ResNet-20's 16>32 stride-2 layer: 2.8 of its 4.3 ms).
 *
 * The flat padded grid of ops/conv_shift.py lays channel c of sample s at
 * out[c, base + s * plane + i * grid_w + j] (plane = grid_h * grid_w), zeros everywhere else,
 * out being (C, L): grid_in writes every value of out once (NumPy: zero it, then a strided copy).
 * grid_out reads src (C, N * grid_h * grid_w) back as (N, C, h, w) (+ bias), the GEMM's output
 * cropped to the convolution's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

typedef Py_ssize_t idx;

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

CLONES static void relu_loop(idx lo, idx hi, const float *restrict x, float *restrict y, unsigned char *restrict mask)
{
    for (idx i = lo; i < hi; i++) {
        float v = x[i];
        int keep = !(v <= 0.f); /* v > 0, or NaN: passed through, its gradient too (as torch does) */
        mask[i] = (unsigned char)keep;
        y[i] = keep ? v : 0.f;
    }
}

CLONES static void relu_backward_loop(idx lo, idx hi, const float *restrict g, const unsigned char *restrict mask,
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

static void moments_loop(idx j0, idx j1, idx n, idx c, idx len, const float *x, double *mean, double *var)
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
CLONES static void normalize_loop(idx r0, idx r1, idx c, idx len, const float *x, const float *mean, const float *scale,
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
CLONES static void grad_sums_loop(idx j0, idx j1, idx n, idx c, idx len, const float *g, const float *x,
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
CLONES static void normalize_backward_loop(idx r0, idx r1, idx c, idx len, const float *g, const float *x, const float *k,
                                           const float *mean, const float *a, const float *b, float *out)
{
    for (idx row = r0; row < r1; row++) {
        idx j = row % c, o = row * len;
        const float *restrict gr = g + o, *restrict r = x + o;
        float *restrict dst = out + o;
        for (idx i = 0; i < len; i++) dst[i] = gr[i] * k[j] + (r[i] - mean[j]) * a[j] + b[j];
    }
}

/* the output columns [lo, hi) whose input column ow * stride + offset lies in [0, w) */
static void valid_range(idx out, idx stride, idx offset, idx w, idx *lo, idx *hi)
{
    idx a = offset >= 0 ? 0 : (-offset + stride - 1) / stride, b = w - offset <= 0 ? 0 : (w - offset + stride - 1) / stride;
    if (b > out) b = out;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

typedef struct {
    idx n, c, h, w, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow;
} geometry2d;

CLONES static void im2col_loop(idx c0, idx c1, const geometry2d *g, const float *x, float *col)
{
    col += c0 * g->kh * g->kw * g->n * g->oh * g->ow;
    for (idx c = c0; c < c1; c++)
        for (idx i = 0; i < g->kh; i++)
            for (idx j = 0; j < g->kw; j++) {
                idx off = j * g->dw - g->pw, lo, hi;
                valid_range(g->ow, g->sw, off, g->w, &lo, &hi);
                for (idx s = 0; s < g->n; s++)
                    for (idx oy = 0; oy < g->oh; oy++, col += g->ow) {
                        idx iy = oy * g->sh + i * g->dh - g->ph;
                        if (iy < 0 || iy >= g->h) {
                            memset(col, 0, sizeof(float) * g->ow);
                            continue;
                        }
                        const float *row = x + ((s * g->c + c) * g->h + iy) * g->w;
                        for (idx ox = 0; ox < lo; ox++) col[ox] = 0.f;
                        if (g->sw == 1) memcpy(col + lo, row + lo + off, sizeof(float) * (hi - lo));
                        else
                            for (idx ox = lo; ox < hi; ox++) col[ox] = row[ox * g->sw + off];
                        for (idx ox = hi; ox < g->ow; ox++) col[ox] = 0.f;
                    }
            }
}

CLONES static void col2im_loop(idx c0, idx c1, const geometry2d *g, const float *col, float *out)
{
    for (idx s = 0; s < g->n; s++) memset(out + (s * g->c + c0) * g->h * g->w, 0, sizeof(float) * (c1 - c0) * g->h * g->w);
    col += c0 * g->kh * g->kw * g->n * g->oh * g->ow;
    for (idx c = c0; c < c1; c++)
        for (idx i = 0; i < g->kh; i++)
            for (idx j = 0; j < g->kw; j++) {
                idx off = j * g->dw - g->pw, lo, hi;
                valid_range(g->ow, g->sw, off, g->w, &lo, &hi);
                for (idx s = 0; s < g->n; s++)
                    for (idx oy = 0; oy < g->oh; oy++, col += g->ow) {
                        idx iy = oy * g->sh + i * g->dh - g->ph;
                        if (iy < 0 || iy >= g->h) continue;
                        float *row = out + ((s * g->c + c) * g->h + iy) * g->w;
                        for (idx ox = lo; ox < hi; ox++) row[ox * g->sw + off] += col[ox];
                    }
            }
}

/* rows of a few floats: plain loops (the compiler's vector code), not a library call per row */
CLONES static void grid_in_loop(idx c0, idx c1, idx n, idx c, idx h, idx w, idx gh, idx gw, idx base, idx len,
                                const float *x, float *out)
{
    idx plane = gh * gw;
    for (idx ch = c0; ch < c1; ch++) {
        float *dst = out + ch * len;
        memset(dst, 0, sizeof(float) * base);
        for (idx s = 0; s < n; s++) {
            float *restrict g = dst + base + s * plane;
            const float *restrict src = x + (s * c + ch) * h * w;
            for (idx i = 0; i < h; i++, g += gw, src += w) {
                for (idx j = 0; j < w; j++) g[j] = src[j];
                for (idx j = w; j < gw; j++) g[j] = 0.f;
            }
            for (idx j = 0; j < (gh - h) * gw; j++) g[j] = 0.f;
        }
        memset(dst + base + n * plane, 0, sizeof(float) * (len - base - n * plane));
    }
}

CLONES static void grid_out_loop(idx s0, idx s1, idx n, idx c, idx h, idx w, idx gh, idx gw, const float *src,
                                 const float *bias, float *out)
{
    idx plane = gh * gw;
    for (idx s = s0; s < s1; s++)
        for (idx ch = 0; ch < c; ch++) {
            const float *restrict g = src + (ch * n + s) * plane;
            float *restrict dst = out + (s * c + ch) * h * w;
            if (!bias) /* a copy: adding 0 would turn -0 into +0 */
                for (idx i = 0; i < h; i++, g += gw, dst += w)
                    for (idx j = 0; j < w; j++) dst[j] = g[j];
            else
                for (idx i = 0; i < h; i++, g += gw, dst += w)
                    for (idx j = 0; j < w; j++) dst[j] = g[j] + bias[ch];
        }
}

/* Depthwise (one filter per channel, stride 1): each (sample, channel) plane on its own, through
 * a zero-padded copy of it (hp x wp = out + dilation * (kernel - 1)) that stays in the L1 cache.
 * Laid flat, kernel offset (ky, kx) is a shift of ky * dh * wp + kx * dw, and each product is
 * one run over the plane's oh x wp positions (the wp - ow extra ones per row read and write
 * zeros, or are dropped): the forward and the input gradient are nine multiply-adds of a whole
 * run, the weight gradient nine dot products. NumPy does the same runs over the whole batch at
 * once, a pass over memory each. */
static inline void dw_axpy(idx len, float v, const float *restrict src, float *restrict dst)
{
    for (idx j = 0; j < len; j++) dst[j] += v * src[j];
}

static inline double dw_dot(idx len, const float *restrict a, const float *restrict b)
{
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (idx j = 0; j < len; j++) s += a[j] * b[j];
    return s;
}

/* the (h, w) plane src into the zeroed (rows, wp) buffer dst at (top, left); what falls past its
 * edge is left out (an input longer than the convolution reads: a transposed convolution's
 * output_padding) */
static inline void dw_place(idx h, idx w, const float *src, idx rows, idx wp, idx top, idx left, float *dst)
{
    memset(dst, 0, sizeof(float) * rows * wp);
    idx hh = rows - top < h ? rows - top : h, ww = wp - left < w ? wp - left : w;
    for (idx i = 0; i < hh; i++)
        for (idx j = 0; j < ww; j++) dst[(i + top) * wp + j + left] = src[i * w + j];
}

CLONES static void depthwise_loop(idx p0, idx p1, int mode, const geometry2d *g, const float *a, const float *b,
                                  const float *bias, void *out, float *pad, float *flat)
{
    idx hp = g->oh + g->dh * (g->kh - 1), wp = g->ow + g->dw * (g->kw - 1), nk = g->kh * g->kw, run = g->oh * wp;
    for (idx p = p0; p < p1; p++) { /* a plane (s, c); the weight gradient goes channel by channel, samples in order */
        idx s = mode == 2 ? p % g->n : p / g->c, c = mode == 2 ? p / g->n : p % g->c;
        const float *w = mode == 2 ? NULL : b + c * nk; /* b is grad_y in mode 2 */
        if (mode == 1) { /* grad_x: grad_y laid on the flat rows, added back at every shift, cropped */
            dw_place(g->oh, g->ow, a + (s * g->c + c) * g->oh * g->ow, g->oh, wp, 0, 0, flat);
            memset(pad, 0, sizeof(float) * hp * wp);
            for (idx ky = 0; ky < g->kh; ky++)
                for (idx kx = 0; kx < g->kw; kx++)
                    dw_axpy(run, w[ky * g->kw + kx], flat, pad + ky * g->dh * wp + kx * g->dw);
            float *gx = (float *)out + (s * g->c + c) * g->h * g->w; /* zero where nothing was read */
            for (idx iy = 0; iy < g->h; iy++)
                for (idx ix = 0; ix < g->w; ix++)
                    gx[iy * g->w + ix] = iy + g->ph < hp && ix + g->pw < wp ? pad[(iy + g->ph) * wp + ix + g->pw] : 0.f;
            continue;
        }
        dw_place(g->h, g->w, a + (s * g->c + c) * g->h * g->w, hp, wp, g->ph, g->pw, pad);
        if (mode == 0) {
            float b0 = bias ? bias[c] : 0.f;
            for (idx q = 0; q < run; q++) flat[q] = b0;
            for (idx ky = 0; ky < g->kh; ky++)
                for (idx kx = 0; kx < g->kw; kx++)
                    dw_axpy(run, w[ky * g->kw + kx], pad + ky * g->dh * wp + kx * g->dw, flat);
            float *y = (float *)out + (s * g->c + c) * g->oh * g->ow;
            for (idx oy = 0; oy < g->oh; oy++)
                for (idx ox = 0; ox < g->ow; ox++) y[oy * g->ow + ox] = flat[oy * wp + ox];
        } else { /* grad_w: grad_y on the flat rows (zeros past each row's end), one dot per offset */
            dw_place(g->oh, g->ow, b + (s * g->c + c) * g->oh * g->ow, g->oh, wp, 0, 0, flat);
            double *gw = (double *)out + c * nk;
            for (idx ky = 0; ky < g->kh; ky++)
                for (idx kx = 0; kx < g->kw; kx++)
                    gw[ky * g->kw + kx] += dw_dot(run, flat, pad + ky * g->dh * wp + kx * g->dw);
        }
    }
}

/* ------------------------------------------------------------------ threads */

/* Every pass is cut along a dimension whose pieces write disjoint outputs and sum nothing across
 * the cut (elements, rows, channels, samples, planes), so the result is the same bits whatever
 * the thread count. A pass smaller than `min_elements` values stays on the calling thread. */
#include "_pool.h"

static int pass_threads = 1;
static idx min_elements = (idx)1 << 17; /* 512 KiB of float32: ~25 us of one core's bandwidth */

enum { RELU, RELU_BACKWARD, MOMENTS, NORMALIZE, GRAD_SUMS, NORMALIZE_BACKWARD, IM2COL, COL2IM, GRID_IN, GRID_OUT, DEPTHWISE };

typedef struct {
    int kind, mode;
    idx units, parts, n, c, len, h, w, gh, gw, base;
    const void *in[6];
    void *out[3];
    const geometry2d *g;
    idx scratch; /* depthwise: floats of scratch per part */
    _Atomic int failed;
} pass;

static void pass_part(void *arg, idx part)
{
    pass *p = arg;
    idx lo = p->units * part / p->parts, hi = p->units * (part + 1) / p->parts;
    const void *const *in = p->in;
    void *const *out = p->out;
    switch (p->kind) {
    case RELU: relu_loop(lo, hi, in[0], out[0], out[1]); break;
    case RELU_BACKWARD: relu_backward_loop(lo, hi, in[0], in[1], out[0]); break;
    case MOMENTS: moments_loop(lo, hi, p->n, p->c, p->len, in[0], out[0], out[1]); break;
    case NORMALIZE: normalize_loop(lo, hi, p->c, p->len, in[0], in[1], in[2], in[3], out[0]); break;
    case GRAD_SUMS: grad_sums_loop(lo, hi, p->n, p->c, p->len, in[0], in[1], in[2], out[0], out[1]); break;
    case NORMALIZE_BACKWARD:
        normalize_backward_loop(lo, hi, p->c, p->len, in[0], in[1], in[2], in[3], in[4], in[5], out[0]);
        break;
    case IM2COL: im2col_loop(lo, hi, p->g, in[0], out[0]); break;
    case COL2IM: col2im_loop(lo, hi, p->g, in[0], out[0]); break;
    case GRID_IN: grid_in_loop(lo, hi, p->n, p->c, p->h, p->w, p->gh, p->gw, p->base, p->len, in[0], out[0]); break;
    case GRID_OUT: grid_out_loop(lo, hi, p->n, p->c, p->h, p->w, p->gh, p->gw, in[0], in[1], out[0]); break;
    case DEPTHWISE: {
        float *pad = malloc(sizeof(float) * p->scratch);
        if (!pad) {
            p->failed = 1;
            return;
        }
        idx per = p->mode == 2 ? p->n : 1; /* the weight gradient: whole channels (each sums its samples) */
        depthwise_loop(lo * per, hi * per, p->mode, p->g, in[0], in[1], in[2], out[0], pad, pad + p->len);
        free(pad);
        break;
    }
    }
}

/* run a pass of `units` pieces touching `elements` values: on the pool when large enough; 0, or -1 out of memory */
static int run_pass(pass *p, idx units, idx elements)
{
    int threads = elements >= min_elements ? pass_threads : 1;
    p->units = units;
    p->parts = units < 2 * threads ? units : 2 * threads; /* two per thread: a late thread's share is taken */
    if (p->parts < 1) p->parts = 1;
    if (threads < 2) p->parts = 1;
    p->failed = 0;
    if (units > 0) pool_run(pass_part, p, p->parts, threads);
    return p->failed ? -1 : 0;
}

static PyObject *py_set_threads(PyObject *self, PyObject *args)
{
    int threads;
    Py_ssize_t min_values;
    if (!PyArg_ParseTuple(args, "in", &threads, &min_values)) return NULL;
    if (threads < 1 || threads > POOL_MAX || min_values < 0)
        return PyErr_Format(PyExc_ValueError, "set_threads: need 1 <= threads <= %d and min_elements >= 0, got %d, %zd",
                            POOL_MAX, threads, min_values);
    pass_threads = threads;
    min_elements = min_values;
    Py_RETURN_NONE;
}

static PyObject *py_get_threads(PyObject *self, PyObject *args) { return Py_BuildValue("in", pass_threads, min_elements); }

/* ------------------------------------------------------------------ buffer checks */

/* a C-contiguous buffer of `count` items of `format` (itemsize `size`); 0, or -1 with ValueError */
static int get(PyObject *obj, Py_buffer *view, int writable, const char *fn, const char *name, const char *format,
               idx size, idx count)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    int ok_format = view->itemsize == size && (strcmp(view->format, format) == 0 ||
                                               (format[0] == '?' && strcmp(view->format, "B") == 0));
    if (!ok_format || view->len / view->itemsize != count) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be %zd contiguous values of format '%s', got %zd of format '%s'", fn,
                     name, count, format, view->len / (view->itemsize ? view->itemsize : 1), view->format);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

typedef struct {
    PyObject *obj;
    const char *name, *format;
    idx size, count;
    int writable;
} arg;

/* take every buffer or none: 0, or -1 with the error set and nothing held */
static int get_all(const char *fn, arg *args, Py_buffer *views, int count)
{
    for (int i = 0; i < count; i++)
        if (get(args[i].obj, &views[i], args[i].writable, fn, args[i].name, args[i].format, args[i].size,
                args[i].count) < 0) {
            while (i--) PyBuffer_Release(&views[i]);
            return -1;
        }
    return 0;
}

static void release_all(Py_buffer *views, int count)
{
    for (int i = 0; i < count; i++) PyBuffer_Release(&views[i]);
}

static int sizes(const char *fn, PyObject *x, idx n, idx c, idx *len)
{
    Py_buffer v;
    if (PyObject_GetBuffer(x, &v, PyBUF_SIMPLE) < 0) return -1;
    idx total = v.len / 4;
    PyBuffer_Release(&v);
    if (n < 1 || c < 1 || total % (n * c)) {
        PyErr_Format(PyExc_ValueError, "%s: x's %zd values are not n=%zd samples of c=%zd channels", fn, total, n, c);
        return -1;
    }
    *len = total / (n * c);
    return 0;
}

/* ------------------------------------------------------------------ Python functions */

/* relu(x, y, mask) and relu_backward(g, mask, out): three buffers of one length each */
static PyObject *relu_call(PyObject *args, int backward)
{
    const char *fn = backward ? "relu_backward" : "relu";
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2])) return NULL;
    Py_buffer first;
    if (PyObject_GetBuffer(o[0], &first, PyBUF_SIMPLE) < 0) return NULL;
    idx count = first.len / 4;
    PyBuffer_Release(&first);
    arg a[3] = {{o[0], backward ? "g" : "x", "f", 4, count, 0},
                {o[1], backward ? "mask" : "y", backward ? "?" : "f", backward ? 1 : 4, count, !backward},
                {o[2], backward ? "out" : "mask", backward ? "f" : "?", backward ? 4 : 1, count, 1}};
    Py_buffer v[3];
    if (get_all(fn, a, v, 3) < 0) return NULL;
    pass p = {.kind = backward ? RELU_BACKWARD : RELU, .in = {v[0].buf, v[1].buf}, .out = {backward ? v[2].buf : v[1].buf, v[2].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, count, count);
    Py_END_ALLOW_THREADS release_all(v, 3);
    Py_RETURN_NONE;
}

static PyObject *py_relu(PyObject *self, PyObject *args) { return relu_call(args, 0); }

static PyObject *py_relu_backward(PyObject *self, PyObject *args) { return relu_call(args, 1); }

static PyObject *py_moments(PyObject *self, PyObject *args)
{
    PyObject *xo, *mo, *vo;
    idx n, c, len;
    if (!PyArg_ParseTuple(args, "OnnOO", &xo, &n, &c, &mo, &vo)) return NULL;
    if (sizes("moments", xo, n, c, &len) < 0) return NULL;
    arg a[3] = {{xo, "x", "f", 4, n * c * len, 0}, {mo, "mean", "d", 8, c, 1}, {vo, "var", "d", 8, c, 1}};
    Py_buffer v[3];
    if (get_all("moments", a, v, 3) < 0) return NULL;
    pass p = {.kind = MOMENTS, .n = n, .c = c, .len = len, .in = {v[0].buf}, .out = {v[1].buf, v[2].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, c, n * c * len);
    Py_END_ALLOW_THREADS release_all(v, 3);
    Py_RETURN_NONE;
}

static PyObject *py_normalize(PyObject *self, PyObject *args)
{
    PyObject *xo, *mo, *so, *ho, *yo;
    idx n, c, len;
    if (!PyArg_ParseTuple(args, "OnnOOOO", &xo, &n, &c, &mo, &so, &ho, &yo)) return NULL;
    if (sizes("normalize", xo, n, c, &len) < 0) return NULL;
    arg a[5] = {{xo, "x", "f", 4, n * c * len, 0}, {mo, "mean", "f", 4, c, 0}, {so, "scale", "f", 4, c, 0},
                {ho, "shift", "f", 4, c, 0},       {yo, "y", "f", 4, n * c * len, 1}};
    Py_buffer v[5];
    if (get_all("normalize", a, v, 5) < 0) return NULL;
    pass p = {.kind = NORMALIZE, .c = c, .len = len, .in = {v[0].buf, v[1].buf, v[2].buf, v[3].buf}, .out = {v[4].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, n * c, n * c * len);
    Py_END_ALLOW_THREADS release_all(v, 5);
    Py_RETURN_NONE;
}

static PyObject *py_grad_sums(PyObject *self, PyObject *args)
{
    PyObject *go, *xo, *mo, *so, *to;
    idx n, c, len;
    if (!PyArg_ParseTuple(args, "OOnnOOO", &go, &xo, &n, &c, &mo, &so, &to)) return NULL;
    if (sizes("grad_sums", xo, n, c, &len) < 0) return NULL;
    arg a[5] = {{go, "g", "f", 4, n * c * len, 0}, {xo, "x", "f", 4, n * c * len, 0}, {mo, "mean", "f", 4, c, 0},
                {so, "sum_g", "d", 8, c, 1},       {to, "sum_gxc", "d", 8, c, 1}};
    Py_buffer v[5];
    if (get_all("grad_sums", a, v, 5) < 0) return NULL;
    pass p = {.kind = GRAD_SUMS, .n = n, .c = c, .len = len, .in = {v[0].buf, v[1].buf, v[2].buf}, .out = {v[3].buf, v[4].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, c, n * c * len);
    Py_END_ALLOW_THREADS release_all(v, 5);
    Py_RETURN_NONE;
}

static PyObject *py_normalize_backward(PyObject *self, PyObject *args)
{
    PyObject *go, *xo, *ko, *mo, *ao, *bo, *oo;
    idx n, c, len;
    if (!PyArg_ParseTuple(args, "OOnnOOOOO", &go, &xo, &n, &c, &ko, &mo, &ao, &bo, &oo)) return NULL;
    if (sizes("normalize_backward", xo, n, c, &len) < 0) return NULL;
    arg a[7] = {{go, "g", "f", 4, n * c * len, 0}, {xo, "x", "f", 4, n * c * len, 0}, {ko, "k", "f", 4, c, 0},
                {mo, "mean", "f", 4, c, 0},         {ao, "a", "f", 4, c, 0},           {bo, "b", "f", 4, c, 0},
                {oo, "out", "f", 4, n * c * len, 1}};
    Py_buffer v[7];
    if (get_all("normalize_backward", a, v, 7) < 0) return NULL;
    pass p = {.kind = NORMALIZE_BACKWARD, .c = c, .len = len,
              .in = {v[0].buf, v[1].buf, v[2].buf, v[3].buf, v[4].buf, v[5].buf}, .out = {v[6].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, n * c, n * c * len);
    Py_END_ALLOW_THREADS release_all(v, 7);
    Py_RETURN_NONE;
}

/* the geometry tuple of im2col_2d / col2im_2d; 0, or -1 with ValueError */
static int parse_geometry(const char *fn, PyObject *t, geometry2d *g)
{
    if (!PyArg_ParseTuple(t, "nnnnnnnnnnnnnn;geometry must be 14 ints", &g->n, &g->c, &g->h, &g->w, &g->kh, &g->kw,
                          &g->sh, &g->sw, &g->dh, &g->dw, &g->ph, &g->pw, &g->oh, &g->ow))
        return -1;
    idx v[14] = {g->n, g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->dh, g->dw, g->ph, g->pw, g->oh, g->ow};
    for (int i = 0; i < 14; i++)
        if (v[i] < 0 || ((i >= 4 && i <= 9) && v[i] < 1)) {
            PyErr_Format(PyExc_ValueError, "%s: geometry entry %d must be %s, got %zd", fn, i,
                         i >= 4 && i <= 9 ? "positive" : "non-negative", v[i]);
            return -1;
        }
    return 0;
}

static PyObject *columns_2d(PyObject *args, const char *fn, int forward)
{
    PyObject *io, *to, *oo;
    geometry2d g;
    if (!PyArg_ParseTuple(args, "OO!O", &io, &PyTuple_Type, &to, &oo)) return NULL;
    if (parse_geometry(fn, to, &g) < 0) return NULL;
    idx image = g.n * g.c * g.h * g.w, cols = g.c * g.kh * g.kw * g.n * g.oh * g.ow;
    arg a[2] = {{io, forward ? "x" : "col", "f", 4, forward ? image : cols, 0},
                {oo, forward ? "col" : "out", "f", 4, forward ? cols : image, 1}};
    Py_buffer v[2];
    if (get_all(fn, a, v, 2) < 0) return NULL;
    pass p = {.kind = forward ? IM2COL : COL2IM, .g = &g, .in = {v[0].buf}, .out = {v[1].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, g.c, cols + image);
    Py_END_ALLOW_THREADS release_all(v, 2);
    Py_RETURN_NONE;
}

static PyObject *py_im2col_2d(PyObject *self, PyObject *args) { return columns_2d(args, "im2col_2d", 1); }

static PyObject *py_col2im_2d(PyObject *self, PyObject *args) { return columns_2d(args, "col2im_2d", 0); }

static PyObject *py_grid_in(PyObject *self, PyObject *args)
{
    PyObject *xo, *oo;
    idx n, c, h, w, gh, gw, base;
    if (!PyArg_ParseTuple(args, "O(nnnnnnn)O", &xo, &n, &c, &h, &w, &gh, &gw, &base, &oo)) return NULL;
    Py_buffer ov;
    if (PyObject_GetBuffer(oo, &ov, PyBUF_SIMPLE) < 0) return NULL;
    idx total = ov.len / 4;
    PyBuffer_Release(&ov);
    if (n < 0 || c < 1 || h < 1 || w < 1 || gh < h || gw < w || base < 0 || total % c ||
        base + n * gh * gw > total / c) {
        PyErr_Format(PyExc_ValueError, "grid_in: grids of %zdx%zd for %zd samples of %zd channels of %zdx%zd from offset "
                     "%zd do not fit out's %zd values", gh, gw, n, c, h, w, base, total);
        return NULL;
    }
    arg a[2] = {{xo, "x", "f", 4, n * c * h * w, 0}, {oo, "out", "f", 4, total, 1}};
    Py_buffer v[2];
    if (get_all("grid_in", a, v, 2) < 0) return NULL;
    pass p = {.kind = GRID_IN, .n = n, .c = c, .h = h, .w = w, .gh = gh, .gw = gw, .base = base, .len = total / c,
              .in = {v[0].buf}, .out = {v[1].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, c, total);
    Py_END_ALLOW_THREADS release_all(v, 2);
    Py_RETURN_NONE;
}

static PyObject *py_grid_out(PyObject *self, PyObject *args)
{
    PyObject *so, *bo, *oo;
    idx n, c, h, w, gh, gw;
    if (!PyArg_ParseTuple(args, "O(nnnnnn)OO", &so, &n, &c, &h, &w, &gh, &gw, &bo, &oo)) return NULL;
    if (n < 0 || c < 1 || h < 1 || w < 1 || gh < h || gw < w) {
        PyErr_Format(PyExc_ValueError, "grid_out: need grids of at least %zdx%zd, got %zdx%zd", h, w, gh, gw);
        return NULL;
    }
    arg a[3] = {{so, "src", "f", 4, c * n * gh * gw, 0}, {oo, "out", "f", 4, n * c * h * w, 1}, {bo, "bias", "f", 4, c, 0}};
    Py_buffer v[3];
    int nb = bo == Py_None ? 2 : 3;
    if (get_all("grid_out", a, v, nb) < 0) return NULL;
    pass p = {.kind = GRID_OUT, .n = n, .c = c, .h = h, .w = w, .gh = gh, .gw = gw,
              .in = {v[0].buf, nb == 3 ? v[2].buf : NULL}, .out = {v[1].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, n, n * c * (h * w + gh * gw));
    Py_END_ALLOW_THREADS release_all(v, nb);
    Py_RETURN_NONE;
}

static PyObject *py_depthwise_2d(PyObject *self, PyObject *args)
{
    int mode;
    PyObject *ao, *bo, *to, *biaso, *oo;
    geometry2d g;
    if (!PyArg_ParseTuple(args, "iOOO!OO", &mode, &ao, &bo, &PyTuple_Type, &to, &biaso, &oo)) return NULL;
    if (parse_geometry("depthwise_2d", to, &g) < 0) return NULL;
    if (mode < 0 || mode > 2 || g.sh != 1 || g.sw != 1 || g.oh + g.dh * (g.kh - 1) < g.ph ||
        g.ow + g.dw * (g.kw - 1) < g.pw) {
        PyErr_Format(PyExc_ValueError, "depthwise_2d: need mode 0-2 and stride 1 with padding inside the padded plane, "
                     "got mode %d, stride (%zd, %zd), padding (%zd, %zd)", mode, g.sh, g.sw, g.ph, g.pw);
        return NULL;
    }
    idx image = g.n * g.c * g.h * g.w, outs = g.n * g.c * g.oh * g.ow, wsize = g.c * g.kh * g.kw;
    arg a[4] = {{ao, mode == 1 ? "grad_y" : "x", "f", 4, mode == 1 ? outs : image, 0},
                {bo, mode == 2 ? "grad_y" : "w", "f", 4, mode == 2 ? outs : wsize, 0},
                {oo, "out", mode == 2 ? "d" : "f", mode == 2 ? 8 : 4, mode == 0 ? outs : mode == 1 ? image : wsize, 1},
                {biaso, "bias", "f", 4, g.c, 0}};
    Py_buffer v[4];
    int nb = mode == 0 && biaso != Py_None ? 4 : 3;
    if (get_all("depthwise_2d", a, v, nb) < 0) return NULL;
    idx wp = g.ow + g.dw * (g.kw - 1), plane = (g.oh + g.dh * (g.kh - 1)) * wp;
    if (mode == 2) memset(v[2].buf, 0, sizeof(double) * wsize);
    pass p = {.kind = DEPTHWISE, .mode = mode, .g = &g, .n = g.n, .len = plane, .scratch = plane + g.oh * wp + 1,
              .in = {v[0].buf, v[1].buf, nb == 4 ? v[3].buf : NULL}, .out = {v[2].buf}};
    int status;
    Py_BEGIN_ALLOW_THREADS status = run_pass(&p, mode == 2 ? g.c : g.n * g.c, image + outs);
    Py_END_ALLOW_THREADS release_all(v, nb);
    if (status) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"relu", py_relu, METH_VARARGS, "relu(x, y, mask): y = max(x, 0), mask = not x <= 0 (NaN passes through, with its gradient)"},
    {"relu_backward", py_relu_backward, METH_VARARGS, "relu_backward(g, mask, out): out = g * mask"},
    {"moments", py_moments, METH_VARARGS,
     "moments(x, n, c, mean, var): per-channel mean and biased variance of x (n, c, L), float64"},
    {"normalize", py_normalize, METH_VARARGS, "normalize(x, n, c, mean, scale, shift, y): y = (x - mean) * scale + shift"},
    {"grad_sums", py_grad_sums, METH_VARARGS,
     "grad_sums(g, x, n, c, mean, sum_g, sum_gxc): per-channel sums of g and g * (x - mean), float64"},
    {"normalize_backward", py_normalize_backward, METH_VARARGS,
     "normalize_backward(g, x, n, c, k, mean, a, b, out): out = g * k + (x - mean) * a + b"},
    {"im2col_2d", py_im2col_2d, METH_VARARGS,
     "im2col_2d(x, geometry, col): col[c, kh, kw, n, oh, ow] = x[n, c, ih, iw], 0 in the padding"},
    {"col2im_2d", py_col2im_2d, METH_VARARGS, "col2im_2d(col, geometry, out): the adjoint of im2col_2d"},
    {"grid_in", py_grid_in, METH_VARARGS,
     "grid_in(x, (n, c, h, w, grid_h, grid_w, base), out): x onto the flat padded grids of out (C, L), zeros elsewhere"},
    {"grid_out", py_grid_out, METH_VARARGS,
     "grid_out(src, (n, c, h, w, grid_h, grid_w), bias, out): out (N, C, h, w) = src's grids cropped (+ bias)"},
    {"depthwise_2d", py_depthwise_2d, METH_VARARGS,
     "depthwise_2d(mode, a, b, geometry, bias, out): stride-1 depthwise convolution (0), its input (1) or weight (2) "
     "gradient"},
    {"set_threads", py_set_threads, METH_VARARGS,
     "set_threads(threads, min_elements): run passes of at least min_elements values on `threads` threads"},
    {"get_threads", py_get_threads, METH_NOARGS, "get_threads() -> (threads, min_elements)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", "fused ReLU, batch-norm and im2col passes (see _kernels.c)",
                                    -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
