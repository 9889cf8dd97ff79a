/* convlab._sgemm_bf16: the float32 GEMM of convlab._sgemm with bfloat16 products, for torch's
 * "medium" float32 matmul precision (convlab/ops/gemm_bf16.py decides when; _sgemm_bf16.h has
 * the arithmetic). Same functions, arguments and checks as convlab._sgemm, so ops/gemm.py calls
 * either module the same way:
 *
 *   available() -> bool    this CPU runs AVX-512F, AVX-512BW and AVX512_BF16
 *   calls() -> int         products run so far (the tests' proof that a path reached this kernel)
 *   sgemm(a, b, c, accumulate, threads)
 *   sgemm_shifted(a, buf, rowoff, span, plane, c, accumulate, threads)
 *   sgemm_dot_shifted(a, buf, rowoff, c, accumulate, threads)
 *
 * c is float32 and C = (accumulate ? C : 0) + A @ B, where each entry of A and B is rounded to
 * bfloat16 (nearest even; subnormals as zero) and the sums are float32. The functions check
 * every buffer (dtype, shapes, that every read stays inside buf) and raise ValueError naming the
 * argument; RuntimeError where the CPU lacks the instructions. The arithmetic runs without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdatomic.h>
#include <string.h>

#include "_sgemm_bf16.h"

static int cpu_ok;
static _Atomic long long products;

static int clamp_threads(int t) { return t < 1 ? 1 : t > BF_MAX_THREADS ? BF_MAX_THREADS : t; }

static int need_cpu(const char *name)
{
    if (cpu_ok) return 0;
    PyErr_Format(PyExc_RuntimeError, "%s: this CPU lacks AVX512_BF16 (with AVX-512F and AVX-512BW)", name);
    return -1;
}

/* the product without the GIL; C = 0 (or as it is when accumulating) for k == 0 */
static PyObject *run_gemm(bf_job whole, int threads)
{
    int status = 0;
    atomic_fetch_add(&products, 1);
    if (whole.k == 0) {
        if (!whole.accumulate)
            for (idx i = 0; i < whole.m; i++) memset(whole.c + i * whole.ldc, 0, sizeof(float) * whole.n);
    } else {
        Py_BEGIN_ALLOW_THREADS status = bf_run(whole, clamp_threads(threads));
        Py_END_ALLOW_THREADS
    }
    if (status) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *py_available(PyObject *self, PyObject *args) { return PyBool_FromLong(cpu_ok); }

static PyObject *py_calls(PyObject *self, PyObject *args) { return PyLong_FromLongLong(atomic_load(&products)); }

/* a 2-D float32 buffer (whole elements); 0, or -1 with ValueError naming it */
static int view2d(PyObject *obj, Py_buffer *v, int writable, const char *fn, const char *name)
{
    if (PyObject_GetBuffer(obj, v, PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0) return -1;
    if (v->ndim != 2 || v->itemsize != 4 || strcmp(v->format, "f") != 0) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be a 2-D float32 array, got %d-D with format '%s'", fn, name, v->ndim,
                     v->format);
    } else if (v->strides[0] % 4 || v->strides[1] % 4) {
        PyErr_Format(PyExc_ValueError, "%s: %s has strides (%zd, %zd) bytes, not whole float32 elements", fn, name,
                     v->strides[0], v->strides[1]);
    } else {
        return 0;
    }
    PyBuffer_Release(v);
    return -1;
}

/* 0 when c is (m, n) with contiguous rows, else -1 with ValueError */
static int check_c(const Py_buffer *c, idx m, idx n, const char *fn)
{
    if (c->shape[0] == m && c->shape[1] == n && c->strides[1] == 4 && c->strides[0] >= 4 * n) return 0;
    PyErr_Format(PyExc_ValueError, "%s: c must be (%zd, %zd) with contiguous rows, got shape (%zd, %zd) strides (%zd, %zd)",
                 fn, m, n, c->shape[0], c->shape[1], c->strides[0], c->strides[1]);
    return -1;
}

static PyObject *py_sgemm(PyObject *self, PyObject *args)
{
    PyObject *ao, *bo, *co;
    int accumulate, threads;
    if (!PyArg_ParseTuple(args, "OOOpi", &ao, &bo, &co, &accumulate, &threads)) return NULL;
    if (need_cpu("sgemm") < 0) return NULL;
    Py_buffer a, b, c;
    PyObject *result = NULL;
    if (view2d(ao, &a, 0, "sgemm", "a") < 0) return NULL;
    if (view2d(bo, &b, 0, "sgemm", "b") < 0) goto no_b;
    if (view2d(co, &c, 1, "sgemm", "c") < 0) goto no_c;
    if (a.shape[1] != b.shape[0]) {
        PyErr_Format(PyExc_ValueError, "sgemm: shapes (%zd, %zd) @ (%zd, %zd) do not match", a.shape[0], a.shape[1],
                     b.shape[0], b.shape[1]);
    } else if (check_c(&c, a.shape[0], b.shape[1], "sgemm") == 0) {
        bf_job whole = {.m = a.shape[0], .n = b.shape[1], .k = a.shape[1], .a = a.buf, .b = b.buf,
                        .rsa = a.strides[0] / 4, .csa = a.strides[1] / 4, .rsb = b.strides[0] / 4,
                        .csb = b.strides[1] / 4, .c = c.buf, .ldc = c.strides[0] / 4, .accumulate = accumulate};
        result = run_gemm(whole, threads);
    }
    PyBuffer_Release(&c);
no_c:
    PyBuffer_Release(&b);
no_b:
    PyBuffer_Release(&a);
    return result;
}

/* the flat-grid products' buffers: a, c 2-D float32; buf any C-contiguous float32; rowoff int64 */
typedef struct {
    Py_buffer a, buf, off, c;
} grid_views;

static int get_grid_views(grid_views *v, PyObject *const objs[4], const char *fn)
{
    if (need_cpu(fn) < 0) return -1;
    if (view2d(objs[0], &v->a, 0, fn, "a") < 0) return -1;
    if (PyObject_GetBuffer(objs[1], &v->buf, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto no_buf;
    if (PyObject_GetBuffer(objs[2], &v->off, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto no_off;
    if (view2d(objs[3], &v->c, 1, fn, "c") < 0) goto no_c;
    if (v->buf.itemsize != 4 || strcmp(v->buf.format, "f") != 0)
        PyErr_Format(PyExc_ValueError, "%s: buf must be float32, got format '%s'", fn, v->buf.format);
    else if (v->off.itemsize != 8 || (strcmp(v->off.format, "q") != 0 && strcmp(v->off.format, "l") != 0))
        PyErr_Format(PyExc_ValueError, "%s: rowoff must be int64, got format '%s'", fn, v->off.format);
    else
        return 0;
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

/* 0 when `count` offsets, each read for `positions` values (span at a time, plane apart), stay
 * inside buf; else -1 with ValueError */
static int check_grid_reads(const grid_views *v, idx count, idx positions, idx span, idx plane, const char *fn)
{
    if (v->off.len / 8 != count) {
        PyErr_Format(PyExc_ValueError, "%s: rowoff must hold %zd int64 offsets, got %zd", fn, count, v->off.len / 8);
        return -1;
    }
    if (span < 1 || plane < span || positions % span) {
        PyErr_Format(PyExc_ValueError, "%s: need 1 <= span <= plane and span dividing %zd, got span %zd, plane %zd", fn,
                     positions, span, plane);
        return -1;
    }
    const long long *rowoff = v->off.buf;
    long long lo = 0, hi = 0;
    for (idx p = 0; p < count; p++) {
        if (p == 0 || rowoff[p] < lo) lo = rowoff[p];
        if (p == 0 || rowoff[p] > hi) hi = rowoff[p];
    }
    long long end = hi + (long long)(positions / span - 1) * plane + span;
    if (count && positions && (lo < 0 || end > (long long)(v->buf.len / 4))) {
        PyErr_Format(PyExc_ValueError, "%s: offsets %lld..%lld read buf from %lld to %lld, outside its %zd values", fn, lo,
                     hi, lo, end - 1, v->buf.len / 4);
        return -1;
    }
    return 0;
}

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
    if (check_c(&v.c, m, n, "sgemm_shifted") == 0 && check_grid_reads(&v, k, n, span, plane, "sgemm_shifted") == 0) {
        bf_shifted sb = {v.buf.buf, v.off.buf, span, plane};
        bf_job whole = {.m = m, .n = n, .k = k, .a = v.a.buf, .rsa = v.a.strides[0] / 4, .csa = v.a.strides[1] / 4,
                        .csb = 1, .c = v.c.buf, .ldc = v.c.strides[0] / 4, .accumulate = accumulate, .sb = &sb};
        result = run_gemm(whole, threads);
    }
    release_grid_views(&v);
    return result;
}

static PyObject *py_sgemm_dot_shifted(PyObject *self, PyObject *args)
{
    PyObject *objs[4];
    int accumulate, threads;
    if (!PyArg_ParseTuple(args, "OOOOpi", &objs[0], &objs[1], &objs[2], &objs[3], &accumulate, &threads)) return NULL;
    grid_views v;
    if (get_grid_views(&v, objs, "sgemm_dot_shifted") < 0) return NULL;
    PyObject *result = NULL;
    idx m = v.a.shape[0], k = v.a.shape[1], n = v.c.shape[1];
    if (v.a.strides[1] != 4) {
        PyErr_Format(PyExc_ValueError, "sgemm_dot_shifted: a must have contiguous rows, got strides (%zd, %zd)",
                     v.a.strides[0], v.a.strides[1]);
    } else if (check_c(&v.c, m, n, "sgemm_dot_shifted") == 0 &&
               check_grid_reads(&v, n, k, k ? k : 1, k ? k : 1, "sgemm_dot_shifted") == 0) {
        bf_job whole = {.m = m, .n = n, .k = k, .a = v.a.buf, .b = v.buf.buf, .rsa = v.a.strides[0] / 4, .csa = 1,
                        .rsb = 1, .c = v.c.buf, .ldc = v.c.strides[0] / 4, .accumulate = accumulate, .boff = v.off.buf};
        result = run_gemm(whole, threads);
    }
    release_grid_views(&v);
    return result;
}

static PyMethodDef methods[] = {
    {"available", py_available, METH_NOARGS, "available() -> bool: this CPU runs AVX512_BF16 (with AVX-512F/BW)"},
    {"calls", py_calls, METH_NOARGS, "calls() -> int: products this module has run"},
    {"sgemm", py_sgemm, METH_VARARGS,
     "sgemm(a, b, c, accumulate, threads): c (+)= a @ b on bfloat16 inputs with float32 sums"},
    {"sgemm_shifted", py_sgemm_shifted, METH_VARARGS,
     "sgemm_shifted(a, buf, rowoff, span, plane, c, accumulate, threads): c (+)= a @ B, "
     "B[p, n] = buf.flat[rowoff[p] + (n // span) * plane + n % span], on bfloat16 inputs"},
    {"sgemm_dot_shifted", py_sgemm_dot_shifted, METH_VARARGS,
     "sgemm_dot_shifted(a, buf, rowoff, c, accumulate, threads): c (+)= a @ B, B[q, j] = buf.flat[rowoff[j] + q], "
     "on bfloat16 inputs"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sgemm_bf16",
                                    "float32 GEMM on bfloat16 inputs (see _sgemm_bf16.c)", -1, methods};

PyMODINIT_FUNC PyInit__sgemm_bf16(void)
{
    cpu_ok = bf_cpu_ok();
    return PyModule_Create(&module);
}
