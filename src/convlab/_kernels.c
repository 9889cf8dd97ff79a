/* convlab._kernels: the memory passes around the GEMM: ReLU, batch norm, 2-D im2col / col2im,
 * the flat grid's copies, depthwise convolution and max pooling. This file holds the Python
 * functions (buffer checks); the loops are in _kernels_norm.c, _kernels_grid.c and
 * _kernels_pool.c, their threads in _kernels_pass.c (_kernels.h lists them).
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
 *   phase_grid(x, (n, c, h, w, grid_h, grid_w, top, left), out)  x's stride-2 phases onto flat grids (_kernels_grid.c)
 *   grid_out(src, (n, c, h, w, grid_h, grid_w), bias, out)  the reverse, plus a per-channel bias (or None)
 *   depthwise_2d(mode, a, b, geometry, bias, out)       stride-1 depthwise convolution, one plane at a time:
 *       mode 0: out = conv(a = x, b = w) + bias   1: out = grad_x from a = grad_y, b = w
 *       2: out (C, KH * KW) float64 = grad_w from a = x, b = grad_y
 *   maxpool_2d(x, geometry, best, arg)    window maxima and their kernel-offset numbers (int8, row-major)
 *   maxpool_backward_2d(gy, arg, geometry, out)  out = the maxima's gradient routed to their cells
 *   pool_simd([on]) -> bool                max pooling's forward loop: AVX-512 (default where the CPU has it) or portable
 *   set_threads(threads, min_elements), get_threads()   the passes' thread count and values per thread
 * with the per-channel vectors float32 unless said otherwise, and geometry the tuple
 * (n, c, h, w, kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, out_h, out_w),
 * ih = oh * stride_h + kh * dilation_h - pad_top (likewise iw). NumPy builds a strided
 * convolution's columns as a padded copy and one strided copy per kernel offset, three times
 * the memory traffic of these loops (ResNet-20's 16>32 stride-2 layer: 2.8 of its 4.3 ms).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "_kernels.h"

static PyObject *py_set_threads(PyObject *self, PyObject *args)
{
    int threads;
    Py_ssize_t min_values;
    if (!PyArg_ParseTuple(args, "in", &threads, &min_values)) return NULL;
    if (set_pass_threads(threads, min_values) < 0)
        return PyErr_Format(PyExc_ValueError, "set_threads: need 1 <= threads <= %d and min_elements >= 0, got %d, %zd",
                            PASS_MAX_THREADS, threads, min_values);
    Py_RETURN_NONE;
}

static PyObject *py_get_threads(PyObject *self, PyObject *args)
{
    int threads;
    idx min_values;
    get_pass_threads(&threads, &min_values);
    return Py_BuildValue("in", threads, (Py_ssize_t)min_values);
}

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

static PyObject *py_phase_grid(PyObject *self, PyObject *args)
{
    PyObject *xo, *oo;
    idx n, c, h, w, gh, gw, top, left;
    if (!PyArg_ParseTuple(args, "O(nnnnnnnn)O", &xo, &n, &c, &h, &w, &gh, &gw, &top, &left, &oo)) return NULL;
    Py_buffer ov;
    if (PyObject_GetBuffer(oo, &ov, PyBUF_SIMPLE) < 0) return NULL;
    idx total = ov.len / 4;
    PyBuffer_Release(&ov);
    if (n < 0 || c < 1 || h < 1 || w < 1 || gh < 1 || gw < 1 || top < 0 || left < 0 || top > 1 + 2 * gh ||
        left > 1 + 2 * gw || total % (4 * c) || n * gh * gw > total / (4 * c)) {
        PyErr_Format(PyExc_ValueError, "phase_grid: 4 phase grids of %zdx%zd (padding %zd, %zd) for %zd samples of %zd "
                     "channels do not fit out's %zd values", gh, gw, top, left, n, c, total);
        return NULL;
    }
    arg a[2] = {{xo, "x", "f", 4, n * c * h * w, 0}, {oo, "out", "f", 4, total, 1}};
    Py_buffer v[2];
    if (get_all("phase_grid", a, v, 2) < 0) return NULL;
    pass p = {.kind = PHASE_GRID, .n = n, .c = c, .h = h, .w = w, .gh = gh, .gw = gw, .base = top, .left = left,
              .len = total / (4 * c), .in = {v[0].buf}, .out = {v[1].buf}};
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

/* maxpool_2d(x, geometry, best, arg) and maxpool_backward_2d(gy, arg, geometry, out) */
static PyObject *maxpool_call(PyObject *args, int backward)
{
    const char *fn = backward ? "maxpool_backward_2d" : "maxpool_2d";
    PyObject *o[3], *to;
    geometry2d g;
    if (backward ? !PyArg_ParseTuple(args, "OOO!O", &o[0], &o[1], &PyTuple_Type, &to, &o[2])
                 : !PyArg_ParseTuple(args, "OO!OO", &o[0], &PyTuple_Type, &to, &o[1], &o[2]))
        return NULL;
    if (parse_geometry(fn, to, &g) < 0) return NULL;
    if (g.kh * g.kw > 127) {
        PyErr_Format(PyExc_ValueError, "%s: at most 127 kernel offsets fit the int8 argmax, got %zd", fn, g.kh * g.kw);
        return NULL;
    }
    idx image = g.n * g.c * g.h * g.w, outs = g.n * g.c * g.oh * g.ow;
    arg a[3] = {{o[0], backward ? "gy" : "x", "f", 4, backward ? outs : image, 0},
                {o[1], backward ? "arg" : "best", backward ? "b" : "f", backward ? 1 : 4, outs, !backward},
                {o[2], backward ? "out" : "arg", backward ? "f" : "b", backward ? 4 : 1, backward ? image : outs, 1}};
    Py_buffer v[3];
    if (get_all(fn, a, v, 3) < 0) return NULL;
    pass p = {.kind = backward ? MAXPOOL_BACKWARD : MAXPOOL, .g = &g, .in = {v[0].buf, backward ? v[1].buf : NULL},
              .out = {backward ? v[2].buf : v[1].buf, backward ? NULL : v[2].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, g.n * g.c, image + outs);
    Py_END_ALLOW_THREADS release_all(v, 3);
    Py_RETURN_NONE;
}

static PyObject *py_maxpool_2d(PyObject *self, PyObject *args) { return maxpool_call(args, 0); }

static PyObject *py_maxpool_backward_2d(PyObject *self, PyObject *args) { return maxpool_call(args, 1); }

/* pool_simd() -> bool, pool_simd(on): the AVX-512 pooling loops or the portable ones */
static PyObject *py_pool_simd(PyObject *self, PyObject *args)
{
    int on = -1;
    if (!PyArg_ParseTuple(args, "|p", &on)) return NULL;
    if (on >= 0 && set_pool_simd(on) < 0)
        return PyErr_Format(PyExc_ValueError, "pool_simd: this CPU has no AVX-512F for the vector pooling loops");
    return PyBool_FromLong(get_pool_simd());
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
    {"phase_grid", py_phase_grid, METH_VARARGS,
     "phase_grid(x, (n, c, h, w, grid_h, grid_w, top, left), out): x's four stride-2 phases on flat grids, out (4C, L)"},
    {"grid_out", py_grid_out, METH_VARARGS,
     "grid_out(src, (n, c, h, w, grid_h, grid_w), bias, out): out (N, C, h, w) = src's grids cropped (+ bias)"},
    {"depthwise_2d", py_depthwise_2d, METH_VARARGS,
     "depthwise_2d(mode, a, b, geometry, bias, out): stride-1 depthwise convolution (0), its input (1) or weight (2) "
     "gradient"},
    {"maxpool_2d", py_maxpool_2d, METH_VARARGS,
     "maxpool_2d(x, geometry, best, arg): window maxima and their row-major kernel-offset numbers (int8)"},
    {"maxpool_backward_2d", py_maxpool_backward_2d, METH_VARARGS,
     "maxpool_backward_2d(gy, arg, geometry, out): out = gy routed to each window's argmax cell"},
    {"pool_simd", py_pool_simd, METH_VARARGS,
     "pool_simd([on]) -> bool: max pooling's forward on the AVX-512 loop (the default where the CPU has AVX-512F) or not"},
    {"set_threads", py_set_threads, METH_VARARGS,
     "set_threads(threads, min_elements): run a pass on one thread per min_elements values it touches (0: all), at "
     "most `threads`"},
    {"get_threads", py_get_threads, METH_NOARGS, "get_threads() -> (threads, min_elements)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", "fused ReLU, batch-norm, im2col and pooling passes (see _kernels.c)",
                                    -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
