/* convlab._sgemm: single-precision GEMM, C = A @ B (+ C), with AVX-512 or AVX2 micro-kernels.
 *
 * Why it exists: NumPy's bundled OpenBLAS may run AVX2 kernels (this project's machines pin
 * OPENBLAS_CORETYPE=Haswell) on CPUs whose AVX-512 units do twice the work per cycle; and the
 * stride-1 convolutions' products read their column matrix straight from a flat padded grid,
 * which no BLAS can. This is the textbook blocked algorithm (Goto's, as BLIS lays it out):
 * _sgemm.h states it, _sgemm_driver.c runs it (packing, blocking, threads), and
 * _sgemm_avx512.c / _sgemm_avx2.c hold the register-tiled micro-kernels.
 *
 * Which micro-kernels (the rule; ops/gemm.py documents the measurements behind it): AVX-512F
 * with FMA -> the AVX-512 kernels (full-width units: twice the AVX2 rate; split units, Zen 4:
 * the same rate with half the instructions); AVX2 with FMA -> the AVX2 kernels; neither -> the
 * module refuses (ops/gemm.py then uses numpy.matmul). set_isa() forces either, for tests and
 * measurements, where the CPU has it.
 *
 * Convolutions on the flat padded grid (convlab/ops/conv_shift.py) never build their column
 * matrix here: row p of it is a channel's row of the grid shifted by a kernel offset, so a tile
 * of 48 columns within one sample is 48 contiguous floats of each row, which the kernel reads in
 * place from a table of row pointers (sgemm_shifted; tiles straddling two samples are packed
 * from the grid), and the weight gradient's dot products read the grid's rows, contiguous over a
 * chunk of samples, from an offset table (sgemm_dot_shifted).
 *
 * Python API (see convlab/ops/gemm.py, which decides when to use it):
 *   available() -> bool                    the CPU has AVX-512F or AVX2 (with FMA)
 *   isa() -> str | None                    the micro-kernels in use: "avx512", "avx2" or None
 *   supports(name) -> bool                 this CPU can run the "avx512" or "avx2" kernels
 *   set_isa(name)                          use "avx512" or "avx2" (ValueError where the CPU lacks it)
 *   sgemm(a, b, c, accumulate, threads)    float32 2-D buffers; c C-contiguous rows
 *   sgemm_shifted(a, buf, rowoff, span, plane, c, accumulate, threads)
 *                                          c = a @ B, B[p, n] = buf.flat[rowoff[p] + (n // span) * plane + n % span]
 *   sgemm_dot_shifted(a, buf, rowoff, c, accumulate, threads)
 *                                          c = a @ B, B[q, j] = buf.flat[rowoff[j] + q]
 * Every function checks its buffers (dtype, shapes, and that every read stays inside buf) and
 * raises ValueError naming the argument; the arithmetic runs without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "_sgemm.h"

/* the micro-kernels the products use: chosen at import by the rule above, or by set_isa() */
static const sgemm_kernels *active;

static int cpu_has(const char *isa)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("fma")) return 0;
    if (strcmp(isa, "avx512") == 0) return __builtin_cpu_supports("avx512f");
    if (strcmp(isa, "avx2") == 0) return __builtin_cpu_supports("avx2");
    return 0;
}

static const sgemm_kernels *best_kernels(void)
{
    return cpu_has("avx512") ? &sgemm_avx512 : cpu_has("avx2") ? &sgemm_avx2 : NULL;
}

const sgemm_kernels *sgemm_active(void) { return active; }

/* _sgemm_conv.c: the stride-1 convolution's forward and weight gradient, chunk by chunk */
PyObject *py_conv_forward(PyObject *self, PyObject *args);
PyObject *py_conv_weight_grad(PyObject *self, PyObject *args);

static int clamp_threads(int threads) { return threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads; }

/* sgemm_run() without the GIL; C = 0 (or left as it is when accumulating) for k == 0. None, or
 * NULL with MemoryError set. */
static PyObject *run_gemm(job whole, int threads)
{
    int status = 0;
    whole.kern = active;
    if (whole.k == 0) {
        if (!whole.accumulate)
            for (idx i = 0; i < whole.m; i++) memset(whole.c + i * whole.ldc, 0, sizeof(float) * whole.n);
    } else {
        Py_BEGIN_ALLOW_THREADS status = sgemm_run(whole, threads);
        Py_END_ALLOW_THREADS
    }
    if (status) return PyErr_NoMemory();
    return Py_NewRef(Py_None);
}

/* 0 when the CPU has kernels to run, else -1 with RuntimeError */
static int need_kernels(const char *name)
{
    if (active) return 0;
    PyErr_Format(PyExc_RuntimeError, "%s: this CPU has neither AVX-512F nor AVX2 with FMA; use numpy.matmul", name);
    return -1;
}

static PyObject *py_available(PyObject *self, PyObject *args) { return PyBool_FromLong(best_kernels() != NULL); }

static PyObject *py_isa(PyObject *self, PyObject *args)
{
    if (!active) Py_RETURN_NONE;
    return PyUnicode_FromString(active->name);
}

static PyObject *py_supports(PyObject *self, PyObject *arg)
{
    const char *name = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (!name) return PyErr_Format(PyExc_TypeError, "supports: name must be a str, got %s", Py_TYPE(arg)->tp_name);
    return PyBool_FromLong(cpu_has(name));
}

static PyObject *py_set_isa(PyObject *self, PyObject *arg)
{
    const char *name = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (!name) return PyErr_Format(PyExc_TypeError, "set_isa: name must be a str, got %s", Py_TYPE(arg)->tp_name);
    if (strcmp(name, "avx512") != 0 && strcmp(name, "avx2") != 0)
        return PyErr_Format(PyExc_ValueError, "set_isa: name must be 'avx512' or 'avx2', got '%s'", name);
    if (!cpu_has(name)) return PyErr_Format(PyExc_ValueError, "set_isa: this CPU cannot run the %s kernels", name);
    active = strcmp(name, "avx512") == 0 ? &sgemm_avx512 : &sgemm_avx2;
    Py_RETURN_NONE;
}

/* a 2-D float32 buffer's shape and strides in elements; 0 on success, else a Python error set */
static int view2d(PyObject *obj, Py_buffer *view, int writable, const char *name)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0) return -1;
    if (view->ndim != 2 || view->itemsize != 4 || strcmp(view->format, "f") != 0) {
        PyErr_Format(PyExc_ValueError, "sgemm: %s must be a 2-D float32 array, got %d-D with format '%s'", name,
                     view->ndim, view->format);
        PyBuffer_Release(view);
        return -1;
    }
    if (view->strides[0] % 4 || view->strides[1] % 4) {
        PyErr_Format(PyExc_ValueError, "sgemm: %s has strides (%zd, %zd) bytes, not whole float32 elements", name,
                     view->strides[0], view->strides[1]);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *py_sgemm(PyObject *self, PyObject *args)
{
    PyObject *ao, *bo, *co;
    int accumulate, threads;
    if (!PyArg_ParseTuple(args, "OOOpi", &ao, &bo, &co, &accumulate, &threads)) return NULL;
    if (need_kernels("sgemm") < 0) return NULL;
    Py_buffer a, b, c;
    if (view2d(ao, &a, 0, "a") < 0) return NULL;
    if (view2d(bo, &b, 0, "b") < 0) {
        PyBuffer_Release(&a);
        return NULL;
    }
    if (view2d(co, &c, 1, "c") < 0) {
        PyBuffer_Release(&a);
        PyBuffer_Release(&b);
        return NULL;
    }
    PyObject *result = NULL;
    if (a.shape[1] != b.shape[0] || c.shape[0] != a.shape[0] || c.shape[1] != b.shape[1]) {
        PyErr_Format(PyExc_ValueError, "sgemm: shapes (%zd, %zd) @ (%zd, %zd) do not give c's (%zd, %zd)", a.shape[0],
                     a.shape[1], b.shape[0], b.shape[1], c.shape[0], c.shape[1]);
    } else if (c.strides[1] != 4 || c.strides[0] < 4 * c.shape[1]) {
        PyErr_Format(PyExc_ValueError, "sgemm: c must have contiguous rows, got strides (%zd, %zd) bytes for shape (%zd, %zd)",
                     c.strides[0], c.strides[1], c.shape[0], c.shape[1]);
    } else {
        job whole = {.m = a.shape[0], .n = b.shape[1], .k = a.shape[1], .a = a.buf, .b = b.buf,
                     .rsa = a.strides[0] / 4, .csa = a.strides[1] / 4, .rsb = b.strides[0] / 4, .csb = b.strides[1] / 4,
                     .c = c.buf, .ldc = c.strides[0] / 4, .accumulate = accumulate};
        result = run_gemm(whole, clamp_threads(threads));
    }
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&c);
    return result;
}

/* The buffers of sgemm_shifted / sgemm_dot_shifted: a and c 2-D float32, buf any C-contiguous
 * float32 buffer (read flat), rowoff int64 offsets into it. */
typedef struct {
    Py_buffer a, buf, off, c;
} grid_views;

/* take the buffers of (a, buf, rowoff, c); 0, or -1 with the error set and nothing held */
static int get_grid_views(grid_views *v, PyObject *const objs[4], const char *name)
{
    if (need_kernels(name) < 0) return -1;
    if (view2d(objs[0], &v->a, 0, "a") < 0) return -1;
    if (PyObject_GetBuffer(objs[1], &v->buf, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto no_buf;
    if (PyObject_GetBuffer(objs[2], &v->off, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto no_off;
    if (view2d(objs[3], &v->c, 1, "c") < 0) goto no_c;
    if (v->buf.itemsize == 4 && strcmp(v->buf.format, "f") == 0) {
        if (v->off.itemsize == 8 && (strcmp(v->off.format, "q") == 0 || strcmp(v->off.format, "l") == 0)) return 0;
        PyErr_Format(PyExc_ValueError, "%s: rowoff must be int64, got format '%s'", name, v->off.format);
    } else {
        PyErr_Format(PyExc_ValueError, "%s: buf must be float32, got format '%s'", name, v->buf.format);
    }
    PyBuffer_Release(&v->c);
no_c:
    PyBuffer_Release(&v->off);
no_off:
    PyBuffer_Release(&v->buf);
no_buf:
    PyBuffer_Release(&v->a);
    return -1;
}

static void release_grid_views(grid_views *v)
{
    PyBuffer_Release(&v->a);
    PyBuffer_Release(&v->buf);
    PyBuffer_Release(&v->off);
    PyBuffer_Release(&v->c);
}

/* 0 when `count` offsets (one per `per`), read `positions` = samples * span values on from each
 * (span at a time, plane apart; the columns of `along`), stay inside buf; else -1, error set */
static int check_grid_reads(const grid_views *v, idx count, const char *per, idx positions, const char *along, idx span,
                            idx plane, const char *name)
{
    if (v->off.len / 8 != count) {
        PyErr_Format(PyExc_ValueError, "%s: rowoff must be %zd int64 offsets (one per %s), got %zd", name, count, per,
                     v->off.len / 8);
        return -1;
    }
    if (span < 1 || plane < span || positions % span) {
        PyErr_Format(PyExc_ValueError, "%s: need 1 <= span <= plane and span dividing %s's %zd columns, got span %zd, "
                     "plane %zd", name, along, positions, span, plane);
        return -1;
    }
    const long long *rowoff = v->off.buf;
    long long lo = 0, hi = 0;
    for (idx p = 0; p < count; p++) {
        if (p == 0 || rowoff[p] < lo) lo = rowoff[p];
        if (p == 0 || rowoff[p] > hi) hi = rowoff[p];
    }
    idx nbuf = v->buf.len / 4;
    long long end = hi + (long long)(positions / span - 1) * plane + span; /* one past the last read */
    if (count && positions && (lo < 0 || end > nbuf)) {
        PyErr_Format(PyExc_ValueError, "%s: offsets %lld..%lld read buf from %lld to %lld, outside its %zd values", name, lo,
                     hi, lo, end - 1, nbuf);
        return -1;
    }
    return 0;
}

/* c = (or +=) a @ B with B a shifted view of buf (see `shifted`): the convolution's GEMM without
 * its column matrix; rowoff has one offset per row of B (= column of a); c's columns are span
 * positions of each of c.shape[1] / span samples. */
static PyObject *py_sgemm_shifted(PyObject *self, PyObject *args)
{
    PyObject *objs[4];
    Py_ssize_t span, plane;
    int accumulate, threads;
    if (!PyArg_ParseTuple(args, "OOOnnOpi", &objs[0], &objs[1], &objs[2], &span, &plane, &objs[3], &accumulate, &threads))
        return NULL;
    grid_views v;
    if (get_grid_views(&v, objs, "sgemm_shifted") < 0) return NULL;
    PyObject *result = NULL;
    idx m = v.a.shape[0], k = v.a.shape[1], n = v.c.shape[1];
    if (v.c.shape[0] != m || v.c.strides[1] != 4 || v.c.strides[0] < 4 * n) {
        PyErr_Format(PyExc_ValueError, "sgemm_shifted: c must be (%zd, N) with contiguous rows, got shape (%zd, %zd) "
                     "strides (%zd, %zd)", m, v.c.shape[0], n, v.c.strides[0], v.c.strides[1]);
    } else if (check_grid_reads(&v, k, "column of a", n, "c", span, plane, "sgemm_shifted") == 0) {
        shifted sb = {v.buf.buf, v.off.buf, span, plane};
        job whole = {.m = m, .n = n, .k = k, .a = v.a.buf, .rsa = v.a.strides[0] / 4, .csa = v.a.strides[1] / 4,
                     .csb = 1, .c = v.c.buf, .ldc = v.c.strides[0] / 4, .accumulate = accumulate, .sb = &sb};
        result = run_gemm(whole, clamp_threads(threads));
    }
    release_grid_views(&v);
    return result;
}

/* c (m x n) = (or +=) a @ B, the transposed column matrix of a flat grid in a weight gradient:
 * a (m, k) with contiguous rows (grad_y on whole grid planes), B[q, j] = buf.flat[rowoff[j] + q]
 * (column j of the column matrix: one channel's row of the grid from one kernel offset on). */
static PyObject *py_sgemm_dot_shifted(PyObject *self, PyObject *args)
{
    PyObject *objs[4];
    int accumulate, threads;
    if (!PyArg_ParseTuple(args, "OOOOpi", &objs[0], &objs[1], &objs[2], &objs[3], &accumulate, &threads)) return NULL;
    grid_views v;
    if (get_grid_views(&v, objs, "sgemm_dot_shifted") < 0) return NULL;
    PyObject *result = NULL;
    idx m = v.a.shape[0], k = v.a.shape[1], n = v.c.shape[1];
    if (v.a.strides[1] != 4 || v.c.shape[0] != m || v.c.strides[1] != 4 || v.c.strides[0] < 4 * n) {
        PyErr_Format(PyExc_ValueError, "sgemm_dot_shifted: a (%zd, %zd) and c (%zd, %zd) must have contiguous rows and "
                     "as many of them", m, k, v.c.shape[0], n);
    } else if (check_grid_reads(&v, n, "column of c", k, "a", k ? k : 1, k ? k : 1, "sgemm_dot_shifted") == 0) {
        job whole = {.m = m, .n = n, .k = k, .a = v.a.buf, .b = v.buf.buf, .rsa = v.a.strides[0] / 4, .csa = 1, .rsb = 1,
                     .c = v.c.buf, .ldc = v.c.strides[0] / 4, .accumulate = accumulate, .boff = v.off.buf};
        result = run_gemm(whole, clamp_threads(threads));
    }
    release_grid_views(&v);
    return result;
}

static PyMethodDef methods[] = {
    {"sgemm_conv_forward", py_conv_forward, METH_VARARGS,
     "sgemm_conv_forward(w, buf, rowoff, span, plane, gw, chunks, bias, y, o0, threads): y[:, o0:o0 + m] = the stride-1 "
     "convolution W @ B of the flat grid buf (+ bias), chunk by chunk (_sgemm_conv.c)"},
    {"sgemm_conv_weight_grad", py_conv_weight_grad, METH_VARARGS,
     "sgemm_conv_weight_grad(gy, o0, m, buf, rowoff, gh, gw, chunks, out, threads): out = gy[:, o0:o0 + m] on the grid @ "
     "B^T, summed over the chunks in order (_sgemm_conv.c)"},
    {"sgemm_dot_shifted", py_sgemm_dot_shifted, METH_VARARGS,
     "sgemm_dot_shifted(a, buf, rowoff, c, accumulate, threads): c = a @ B, B[q, j] = buf.flat[rowoff[j] + q]"},
    {"sgemm_shifted", py_sgemm_shifted, METH_VARARGS,
     "sgemm_shifted(a, buf, rowoff, span, plane, c, accumulate, threads): c = a @ B, "
     "B[p, n] = buf.flat[rowoff[p] + (n // span) * plane + n % span]"},
    {"available", py_available, METH_NOARGS, "available() -> bool: the CPU has AVX-512F or AVX2, with FMA"},
    {"isa", py_isa, METH_NOARGS, "isa() -> str | None: the micro-kernels in use, 'avx512' or 'avx2'"},
    {"supports", py_supports, METH_O, "supports(name) -> bool: this CPU can run the 'avx512' or 'avx2' kernels"},
    {"set_isa", py_set_isa, METH_O, "set_isa(name): use the 'avx512' or 'avx2' micro-kernels (the CPU must have them)"},
    {"sgemm", py_sgemm, METH_VARARGS,
     "sgemm(a, b, c, accumulate, threads): c = a @ b (c += a @ b when accumulate); float32 2-D buffers, any strides "
     "for a and b, c with contiguous rows"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sgemm", "single-precision GEMM (see _sgemm.c)", -1, methods};

PyMODINIT_FUNC PyInit__sgemm(void)
{
    active = best_kernels();
    return PyModule_Create(&module);
}
