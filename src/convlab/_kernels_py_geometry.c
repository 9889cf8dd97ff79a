/* convlab._kernels' Python functions for the passes that take a geometry: 2-D im2col / col2im,
 * the flat grids (grid_in, phase_grid, grid_out), stride-1 depthwise convolution and max pooling
 * (their API is listed in _kernels.c's header; the loops are in _kernels_grid.c and _kernels_pool.c). */
#include "_kernels_py.h"

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
    buffer_arg a[2] = {{io, forward ? "x" : "col", "f", 4, forward ? image : cols, 0},
                {oo, forward ? "col" : "out", "f", 4, forward ? cols : image, 1}};
    Py_buffer v[2];
    if (buffers_get(fn, a, v, 2) < 0) return NULL;
    pass p = {.kind = forward ? IM2COL : COL2IM, .g = &g, .in = {v[0].buf}, .out = {v[1].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, g.c, cols + image);
    Py_END_ALLOW_THREADS buffers_release(v, 2);
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
    buffer_arg a[2] = {{xo, "x", "f", 4, n * c * h * w, 0}, {oo, "out", "f", 4, total, 1}};
    Py_buffer v[2];
    if (buffers_get("grid_in", a, v, 2) < 0) return NULL;
    pass p = {.kind = GRID_IN, .n = n, .c = c, .h = h, .w = w, .gh = gh, .gw = gw, .base = base, .len = total / c,
              .in = {v[0].buf}, .out = {v[1].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, c, total);
    Py_END_ALLOW_THREADS buffers_release(v, 2);
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
    buffer_arg a[2] = {{xo, "x", "f", 4, n * c * h * w, 0}, {oo, "out", "f", 4, total, 1}};
    Py_buffer v[2];
    if (buffers_get("phase_grid", a, v, 2) < 0) return NULL;
    pass p = {.kind = PHASE_GRID, .n = n, .c = c, .h = h, .w = w, .gh = gh, .gw = gw, .base = top, .left = left,
              .len = total / (4 * c), .in = {v[0].buf}, .out = {v[1].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, c, total);
    Py_END_ALLOW_THREADS buffers_release(v, 2);
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
    buffer_arg a[3] = {{so, "src", "f", 4, c * n * gh * gw, 0}, {oo, "out", "f", 4, n * c * h * w, 1}, {bo, "bias", "f", 4, c, 0}};
    Py_buffer v[3];
    int nb = bo == Py_None ? 2 : 3;
    if (buffers_get("grid_out", a, v, nb) < 0) return NULL;
    pass p = {.kind = GRID_OUT, .n = n, .c = c, .h = h, .w = w, .gh = gh, .gw = gw,
              .in = {v[0].buf, nb == 3 ? v[2].buf : NULL}, .out = {v[1].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, n, n * c * (h * w + gh * gw));
    Py_END_ALLOW_THREADS buffers_release(v, nb);
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
    buffer_arg a[4] = {{ao, mode == 1 ? "grad_y" : "x", "f", 4, mode == 1 ? outs : image, 0},
                {bo, mode == 2 ? "grad_y" : "w", "f", 4, mode == 2 ? outs : wsize, 0},
                {oo, "out", mode == 2 ? "d" : "f", mode == 2 ? 8 : 4, mode == 0 ? outs : mode == 1 ? image : wsize, 1},
                {biaso, "bias", "f", 4, g.c, 0}};
    Py_buffer v[4];
    int nb = mode == 0 && biaso != Py_None ? 4 : 3;
    if (buffers_get("depthwise_2d", a, v, nb) < 0) return NULL;
    idx wp = g.ow + g.dw * (g.kw - 1), plane = (g.oh + g.dh * (g.kh - 1)) * wp;
    if (mode == 2) memset(v[2].buf, 0, sizeof(double) * wsize);
    pass p = {.kind = DEPTHWISE, .mode = mode, .g = &g, .n = g.n, .len = plane, .scratch = plane + g.oh * wp + 1,
              .in = {v[0].buf, v[1].buf, nb == 4 ? v[3].buf : NULL}, .out = {v[2].buf}};
    int status;
    Py_BEGIN_ALLOW_THREADS status = run_pass(&p, mode == 2 ? g.c : g.n * g.c, image + outs);
    Py_END_ALLOW_THREADS buffers_release(v, nb);
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
    buffer_arg a[3] = {{o[0], backward ? "gy" : "x", "f", 4, backward ? outs : image, 0},
                {o[1], backward ? "arg" : "best", backward ? "b" : "f", backward ? 1 : 4, outs, !backward},
                {o[2], backward ? "out" : "arg", backward ? "f" : "b", backward ? 4 : 1, backward ? image : outs, 1}};
    Py_buffer v[3];
    if (buffers_get(fn, a, v, 3) < 0) return NULL;
    pass p = {.kind = backward ? MAXPOOL_BACKWARD : MAXPOOL, .g = &g, .in = {v[0].buf, backward ? v[1].buf : NULL},
              .out = {backward ? v[2].buf : v[1].buf, backward ? NULL : v[2].buf}};
    Py_BEGIN_ALLOW_THREADS run_pass(&p, g.n * g.c, image + outs);
    Py_END_ALLOW_THREADS buffers_release(v, 3);
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

PyMethodDef kernels_geometry_methods[] = {
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
    {NULL, NULL, 0, NULL},
};
