/* convlab._kernels: the memory passes around the GEMM: ReLU, batch norm, 2-D im2col / col2im,
 * the flat grid's copies, depthwise convolution and max pooling. This file holds the Python
 * functions of the ReLU and batch-norm passes and the buffer checks (those of the passes that take a
 * geometry are in _kernels_py_geometry.c); the loops are in _kernels_norm.c, _kernels_grid.c and
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
#include <string.h>

#include "_kernels_py.h"

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

/* take every buffer or none: 0, or -1 with the error set and nothing held */
int buffers_get(const char *fn, buffer_arg *args, Py_buffer *views, int count)
{
    for (int i = 0; i < count; i++)
        if (get(args[i].obj, &views[i], args[i].writable, fn, args[i].name, args[i].format, args[i].size,
                args[i].count) < 0) {
            while (i--) PyBuffer_Release(&views[i]);
            return -1;
        }
    return 0;
}

void buffers_release(Py_buffer *views, int count)
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
    buffer_arg a[3] = {{o[0], backward ? "g" : "x", "f", 4, count, 0},
                {o[1], backward ? "mask" : "y", backward ? "?" : "f", backward ? 1 : 4, count, !backward},
                {o[2], backward ? "out" : "mask", backward ? "f" : "?", backward ? 4 : 1, count, 1}};
    Py_buffer v[3];
    if (buffers_get(fn, a, v, 3) < 0) return NULL;
    pass p = {.kind = backward ? RELU_BACKWARD : RELU, .in = {v[0].buf, v[1].buf}, .out = {backward ? v[2].buf : v[1].buf, v[2].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, count, count);
    Py_END_ALLOW_THREADS buffers_release(v, 3);
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
    buffer_arg a[3] = {{xo, "x", "f", 4, n * c * len, 0}, {mo, "mean", "d", 8, c, 1}, {vo, "var", "d", 8, c, 1}};
    Py_buffer v[3];
    if (buffers_get("moments", a, v, 3) < 0) return NULL;
    pass p = {.kind = MOMENTS, .n = n, .c = c, .len = len, .in = {v[0].buf}, .out = {v[1].buf, v[2].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, c, n * c * len);
    Py_END_ALLOW_THREADS buffers_release(v, 3);
    Py_RETURN_NONE;
}

static PyObject *py_normalize(PyObject *self, PyObject *args)
{
    PyObject *xo, *mo, *so, *ho, *yo;
    idx n, c, len;
    if (!PyArg_ParseTuple(args, "OnnOOOO", &xo, &n, &c, &mo, &so, &ho, &yo)) return NULL;
    if (sizes("normalize", xo, n, c, &len) < 0) return NULL;
    buffer_arg a[5] = {{xo, "x", "f", 4, n * c * len, 0}, {mo, "mean", "f", 4, c, 0}, {so, "scale", "f", 4, c, 0},
                {ho, "shift", "f", 4, c, 0},       {yo, "y", "f", 4, n * c * len, 1}};
    Py_buffer v[5];
    if (buffers_get("normalize", a, v, 5) < 0) return NULL;
    pass p = {.kind = NORMALIZE, .c = c, .len = len, .in = {v[0].buf, v[1].buf, v[2].buf, v[3].buf}, .out = {v[4].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, n * c, n * c * len);
    Py_END_ALLOW_THREADS buffers_release(v, 5);
    Py_RETURN_NONE;
}

static PyObject *py_grad_sums(PyObject *self, PyObject *args)
{
    PyObject *go, *xo, *mo, *so, *to;
    idx n, c, len;
    if (!PyArg_ParseTuple(args, "OOnnOOO", &go, &xo, &n, &c, &mo, &so, &to)) return NULL;
    if (sizes("grad_sums", xo, n, c, &len) < 0) return NULL;
    buffer_arg a[5] = {{go, "g", "f", 4, n * c * len, 0}, {xo, "x", "f", 4, n * c * len, 0}, {mo, "mean", "f", 4, c, 0},
                {so, "sum_g", "d", 8, c, 1},       {to, "sum_gxc", "d", 8, c, 1}};
    Py_buffer v[5];
    if (buffers_get("grad_sums", a, v, 5) < 0) return NULL;
    pass p = {.kind = GRAD_SUMS, .n = n, .c = c, .len = len, .in = {v[0].buf, v[1].buf, v[2].buf}, .out = {v[3].buf, v[4].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, c, n * c * len);
    Py_END_ALLOW_THREADS buffers_release(v, 5);
    Py_RETURN_NONE;
}

static PyObject *py_normalize_backward(PyObject *self, PyObject *args)
{
    PyObject *go, *xo, *ko, *mo, *ao, *bo, *oo;
    idx n, c, len;
    if (!PyArg_ParseTuple(args, "OOnnOOOOO", &go, &xo, &n, &c, &ko, &mo, &ao, &bo, &oo)) return NULL;
    if (sizes("normalize_backward", xo, n, c, &len) < 0) return NULL;
    buffer_arg a[7] = {{go, "g", "f", 4, n * c * len, 0}, {xo, "x", "f", 4, n * c * len, 0}, {ko, "k", "f", 4, c, 0},
                {mo, "mean", "f", 4, c, 0},         {ao, "a", "f", 4, c, 0},           {bo, "b", "f", 4, c, 0},
                {oo, "out", "f", 4, n * c * len, 1}};
    Py_buffer v[7];
    if (buffers_get("normalize_backward", a, v, 7) < 0) return NULL;
    pass p = {.kind = NORMALIZE_BACKWARD, .c = c, .len = len,
              .in = {v[0].buf, v[1].buf, v[2].buf, v[3].buf, v[4].buf, v[5].buf}, .out = {v[6].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, n * c, n * c * len);
    Py_END_ALLOW_THREADS buffers_release(v, 7);
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
    {"set_threads", py_set_threads, METH_VARARGS,
     "set_threads(threads, min_elements): run a pass on one thread per min_elements values it touches (0: all), at "
     "most `threads`"},
    {"get_threads", py_get_threads, METH_NOARGS, "get_threads() -> (threads, min_elements)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", "fused ReLU, batch-norm, im2col and pooling passes (see _kernels.c)",
                                    -1, methods};

PyMODINIT_FUNC PyInit__kernels(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddFunctions(m, kernels_geometry_methods) < 0) Py_CLEAR(m);
    return m;
}
