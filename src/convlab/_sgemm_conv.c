/* convlab._sgemm's stride-1 convolution passes on the flat padded grid (ops/conv_shift.py), the
 * batch cut into chunks of samples and every chunk's work done by one thread, start to finish:
 *
 *   conv_forward:     y[chunk] = crop(W @ B[chunk]) (+ bias)   (B, the column matrix, read from
 *                     the grid; the product lives in the thread's scratch, cache-sized)
 *   conv_weight_grad: grad_W = sum over chunks of grad_y_grid[chunk] @ B[chunk]^T   (grad_y laid on
 *                     the grid's whole planes in the thread's scratch, then the dot products)
 *
 * Why: done chunk by chunk with each product split over the threads, every chunk paid a wake-up
 * and a wait of the pool, and the copies around the products (the crop, grad_y onto the grid)
 * ran on the calling thread alone while the other cores waited: ResNet-20's training step on 2
 * threads spent 21 ms of its ~180 in those copies and its weight-gradient products ran 1.5x,
 * not 2x, faster than on one. A chunk per thread does copies and products in one go, in that
 * core's cache, with one wait per layer.
 *
 * Results do not depend on the thread count: a chunk is computed whole by one thread in the
 * same order whatever the count (the chunks are the caller's, cut by cache size, not by
 * threads), and the weight gradient's chunk sums are added in chunk order, exactly as one thread
 * accumulating chunk after chunk adds them. With fewer than two chunks per thread, the chunks
 * run one after another, each product split over the threads by columns (never along k), which
 * keeps every sum in the same order too.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "_sgemm.h"

/* a per-thread scratch buffer of at least `floats` floats, kept between calls; NULL out of memory */
static __thread float *scratch;
static __thread idx scratch_cap;

static float *thread_scratch(idx floats)
{
    if (floats > scratch_cap) {
        free(scratch);
        scratch_cap = (floats + 1023) / 1024 * 1024;
        scratch = aligned_alloc(64, scratch_cap * sizeof(float));
        if (!scratch) scratch_cap = 0;
    }
    return scratch;
}

/* a scratch buffer larger than this (16 MiB: a chunk of a layer with a large weight) is given
 * back after its chunk rather than kept for the thread's lifetime */
#define SCRATCH_KEEP_FLOATS ((idx)1 << 22)

static void trim_scratch(void)
{
    if (scratch_cap > SCRATCH_KEEP_FLOATS) {
        free(scratch);
        scratch = NULL;
        scratch_cap = 0;
    }
}

typedef struct {
    const sgemm_kernels *kern;
    const long long *chunk; /* chunk c is samples [chunk[c], chunk[c + 1]) */
    idx nchunks;
    int shared; /* the chunks shared out over the threads (else one after another) */
    int inner;  /* threads per product: 1 when the chunks are shared out */
    /* the grid and its column matrix's offsets (rows for the forward, columns for the gradient) */
    const float *buf;
    const long long *rowoff;
    idx plane, span;
    /* forward: W (m x k, rows rsw) and y (n, cy, h, w) from channel o0 on, bias or NULL */
    const float *w;
    idx m, k, rsw;
    float *y;
    const float *bias;
    idx cy, o0, h, wd, gw, gh;
    /* weight gradient: grad_y (n, cy, h, w) channels [o0, o0 + m); out (m x ncol); partial sums */
    const float *gy;
    idx ncol;
    float *out, *partial;
    _Atomic int failed;
} conv_pass;

/* y[s, o0 + o, i, j] = product[o, (s - s0) * span + i * gw + j] (+ bias[o]) for the chunk's samples */
static void crop(const conv_pass *p, const float *product, idx s0, idx ns)
{
    idx hw = p->h * p->wd, cols = ns * p->span;
    for (idx s = 0; s < ns; s++)
        for (idx o = 0; o < p->m; o++) {
            const float *restrict g = product + o * cols + s * p->span;
            float *restrict dst = p->y + ((s0 + s) * p->cy + p->o0 + o) * hw;
            if (!p->bias) /* a copy: adding 0 would turn -0 into +0 */
                for (idx i = 0; i < p->h; i++, g += p->gw, dst += p->wd) memcpy(dst, g, sizeof(float) * p->wd);
            else
                for (idx i = 0; i < p->h; i++, g += p->gw, dst += p->wd)
                    for (idx j = 0; j < p->wd; j++) dst[j] = g[j] + p->bias[o];
        }
}

static void forward_chunk(void *ctx, idx part)
{
    conv_pass *p = ctx;
    idx s0 = p->chunk[part], ns = p->chunk[part + 1] - s0, cols = ns * p->span;
    float *product = thread_scratch(p->m * cols);
    if (!product) {
        p->failed = 1;
        return;
    }
    shifted sb = {p->buf + s0 * p->plane, p->rowoff, p->span, p->plane};
    job j = {.m = p->m, .n = cols, .k = p->k, .a = p->w, .rsa = p->rsw, .csa = 1, .csb = 1, .c = product, .ldc = cols,
             .sb = &sb, .kern = p->kern, .columns_only = 1};
    if ((p->inner > 1 ? sgemm_run(j, p->inner) : sgemm_run_here(j)) < 0) {
        p->failed = 1;
        return;
    }
    crop(p, product, s0, ns);
    trim_scratch();
}

/* grad_y's channels [o0, o0 + m) of samples [s0, s0 + ns) on whole grid planes: a[o, s * plane +
 * i * gw + j] = gy[s0 + s, o0 + o, i, j], zero past the output's edge */
static void grad_to_grid(const conv_pass *p, idx s0, idx ns, float *restrict a)
{
    idx hw = p->h * p->wd;
    for (idx o = 0; o < p->m; o++)
        for (idx s = 0; s < ns; s++) {
            float *restrict g = a + (o * ns + s) * p->plane;
            const float *restrict src = p->gy + ((s0 + s) * p->cy + p->o0 + o) * hw;
            for (idx i = 0; i < p->h; i++, g += p->gw, src += p->wd) {
                memcpy(g, src, sizeof(float) * p->wd);
                memset(g + p->wd, 0, sizeof(float) * (p->gw - p->wd));
            }
            memset(g, 0, sizeof(float) * (p->gh - p->h) * p->gw);
        }
}

/* From this many output channels the weight gradient runs the blocked loop on packed panels (B's
 * columns gathered from the grid, KC values of k at a time) instead of the dot form: a dot tile
 * reads 4 rows of grad_y and 6 columns per 24 FMAs, all from L2, and adds each of its 24 sums
 * across lanes at the end. ResNet-18's 256- and 512-channel layers (batch 16, 2 threads, 2-vCPU
 * Zen 5) ran their weight gradients at 40-44% of peak x 2 in the dot form and at 59-60% packed;
 * the step's grid weight gradients 205 -> 160 ms (ops/conv_shift.py sizes those layers' chunks
 * by the weight, as the forward pass does, so that fewer partial sums are added). */
#define PACKED_MIN_ROWS 128

static void weight_grad_chunk(void *ctx, idx part)
{
    conv_pass *p = ctx;
    idx s0 = p->chunk[part], ns = p->chunk[part + 1] - s0, k = ns * p->plane;
    float *a = thread_scratch(p->m * k);
    if (!a) {
        p->failed = 1;
        return;
    }
    grad_to_grid(p, s0, ns, a);
    /* chunk 0 straight into out; with the chunks shared out, chunk c > 0 into its partial sums,
     * added after in chunk order; one after another, each accumulated into out */
    int shared = p->shared;
    job j = {.m = p->m, .n = p->ncol, .k = k, .a = a, .rsa = k, .csa = 1, .b = p->buf + s0 * p->plane, .rsb = 1,
             .boff = p->rowoff, .c = part > 0 && shared ? p->partial + (part - 1) * p->m * p->ncol : p->out,
             .ldc = p->ncol, .accumulate = part > 0 && !shared, .kern = p->kern, .columns_only = 1,
             .boff_packed = p->m >= PACKED_MIN_ROWS};
    if ((p->inner > 1 ? sgemm_run(j, p->inner) : sgemm_run_here(j)) < 0) p->failed = 1;
    trim_scratch();
}

/* the chunks shared out over the threads when there are at least two per thread, else one after
 * another with each product split by columns; 0, or -1 out of memory */
static int run_chunks(conv_pass *p, sgemm_task task, int threads)
{
    if (p->shared) {
        p->inner = 1;
        sgemm_parallel(task, p, p->nchunks, threads);
    } else {
        p->inner = threads;
        for (idx c = 0; c < p->nchunks && !p->failed; c++) task(p, c);
    }
    return p->failed ? -1 : 0;
}

/* the chunks are shared out when there are at least two per thread */
static int shares(idx nchunks, int threads) { return threads > 1 && nchunks >= 2 * threads; }

static int sgemm_conv_forward(conv_pass *p, int threads)
{
    p->shared = shares(p->nchunks, threads);
    return run_chunks(p, forward_chunk, threads);
}

/* the weight gradient's partial sums, one m x ncol block per chunk after the first, are kept
 * under this many floats (32 MiB); a layer that would need more runs its chunks in turn */
#define PARTIAL_MAX_FLOATS ((idx)1 << 23)

static int sgemm_conv_weight_grad(conv_pass *p, int threads)
{
    int shared = p->shared = shares(p->nchunks, threads) && (p->nchunks - 1) * p->m * p->ncol <= PARTIAL_MAX_FLOATS;
    if (shared) {
        p->partial = malloc(sizeof(float) * (p->nchunks - 1) * p->m * p->ncol);
        if (!p->partial) return -1;
    }
    int status = run_chunks(p, weight_grad_chunk, threads);
    if (shared) {
        for (idx c = 1; c < p->nchunks && !status; c++) { /* in chunk order: the sums of one thread */
            const float *src = p->partial + (c - 1) * p->m * p->ncol;
            for (idx q = 0; q < p->m * p->ncol; q++) p->out[q] += src[q];
        }
        free(p->partial);
    }
    return status;
}

/* ------------------------------------------------------------------ Python functions */

/* a C-contiguous buffer of `ndim` dimensions (0: any) and struct format `fmt` ('f' float32, 'q'
 * int64); 0, or -1 with ValueError naming the argument and nothing held */
static int take(PyObject *obj, Py_buffer *v, int ndim, const char *fmt, int writable, const char *fn, const char *name)
{
    const char *what = fmt[0] == 'f' ? "float32" : "int64";
    if (PyObject_GetBuffer(obj, v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s: %s must be a %sC-contiguous %s array, got %s", fn, name,
                     writable ? "writable " : "", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    int ok = fmt[0] == 'f' ? v->itemsize == 4 && strcmp(v->format, "f") == 0
                           : v->itemsize == 8 && (strcmp(v->format, "q") == 0 || strcmp(v->format, "l") == 0);
    if (ok && (ndim == 0 || v->ndim == ndim)) return 0;
    PyErr_Format(PyExc_ValueError, "%s: %s must be a C-contiguous %s array%s, got %d-D with format '%s'", fn, name,
                 what, ndim == 4 ? " of 4 dimensions" : ndim == 2 ? " of 2 dimensions" : "",
                 v->ndim, v->format);
    PyBuffer_Release(v);
    return -1;
}

/* the chunk boundaries 0 = chunk[0] < chunk[1] < ... < chunk[nchunks] = n; 0, or -1 with ValueError */
static int check_chunks(const Py_buffer *v, idx n, const char *fn)
{
    const long long *c = v->buf;
    idx count = v->len / 8;
    int ok = count >= 2 && c[0] == 0 && c[count - 1] == n;
    for (idx i = 1; ok && i < count; i++) ok = c[i] > c[i - 1];
    if (ok) return 0;
    PyErr_Format(PyExc_ValueError, "%s: chunks must rise strictly from 0 to the batch's %zd samples (%zd given)", fn, n,
                 count);
    return -1;
}

/* every offset in [0, end - reach] of a buffer of nbuf values: the reads stay inside */
static int check_reads(const Py_buffer *off, idx reach, idx nbuf, const char *fn)
{
    const long long *o = off->buf;
    for (idx i = 0; i < off->len / 8; i++)
        if (o[i] < 0 || o[i] + reach > nbuf) {
            PyErr_Format(PyExc_ValueError, "%s: offset %lld reads buf up to %lld, outside its %zd values", fn, o[i],
                         o[i] + reach - 1, nbuf);
            return -1;
        }
    return 0;
}

/* sgemm_conv_forward(w, buf, rowoff, span, plane, gw, chunks, bias, y, o0, threads) */
PyObject *py_conv_forward(PyObject *self, PyObject *args)
{
    PyObject *wo, *bufo, *offo, *chunko, *biaso, *yo;
    Py_ssize_t span, plane, gw, o0;
    int threads;
    const char *fn = "sgemm_conv_forward";
    if (!PyArg_ParseTuple(args, "OOOnnnOOOni", &wo, &bufo, &offo, &span, &plane, &gw, &chunko, &biaso, &yo, &o0, &threads))
        return NULL;
    if (!sgemm_active()) return PyErr_Format(PyExc_RuntimeError, "%s: this CPU has neither AVX-512F nor AVX2 with FMA", fn);
    Py_buffer v[6];
    int held = 0, ok = 0;
    if (take(wo, &v[0], 2, "f", 0, fn, "w") || (held = 1, take(bufo, &v[1], 0, "f", 0, fn, "buf")) ||
        (held = 2, take(offo, &v[2], 1, "q", 0, fn, "rowoff")) || (held = 3, take(chunko, &v[3], 1, "q", 0, fn, "chunks")) ||
        (held = 4, take(yo, &v[4], 4, "f", 1, fn, "y")) ||
        (held = 5, biaso != Py_None && take(biaso, &v[5], 1, "f", 0, fn, "bias")))
        goto done;
    held = biaso != Py_None ? 6 : 5;
    idx m = v[0].shape[0], k = v[0].shape[1], n = v[4].shape[0], h = gw > 0 ? span / gw : 0;
    if (v[0].strides[1] != 4 || v[2].len / 8 != k || gw < 1 || span % gw || h != v[4].shape[2] || v[4].shape[3] > gw ||
        plane < span || o0 < 0 || o0 + m > v[4].shape[1] || (held == 6 && v[5].len / 4 != m)) {
        PyErr_Format(PyExc_ValueError, "%s: w (%zd, %zd), %zd row offsets, span %zd, plane %zd, grid width %zd, bias and "
                     "y (%zd, %zd, %zd, %zd) from channel %zd do not fit together", fn, m, k, v[2].len / 8, span, plane, gw,
                     n, v[4].shape[1], v[4].shape[2], v[4].shape[3], o0);
        goto done;
    }
    if (check_chunks(&v[3], n, fn) || check_reads(&v[2], (n - 1) * plane + span, v[1].len / 4, fn)) goto done;
    conv_pass p = {.kern = sgemm_active(), .chunk = v[3].buf, .nchunks = v[3].len / 8 - 1, .buf = v[1].buf,
                   .rowoff = v[2].buf, .plane = plane, .span = span, .w = v[0].buf, .m = m, .k = k,
                   .rsw = v[0].strides[0] / 4, .y = v[4].buf, .bias = held == 6 ? v[5].buf : NULL, .cy = v[4].shape[1],
                   .o0 = o0, .h = h, .wd = v[4].shape[3], .gw = gw};
    int status;
    Py_BEGIN_ALLOW_THREADS status = sgemm_conv_forward(&p, threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads);
    Py_END_ALLOW_THREADS
    if (status) PyErr_NoMemory();
    else ok = 1;
done:
    while (held--) PyBuffer_Release(&v[held]);
    return ok ? Py_NewRef(Py_None) : NULL;
}

/* sgemm_conv_weight_grad(gy, o0, m, buf, rowoff, gh, gw, chunks, out, threads) */
PyObject *py_conv_weight_grad(PyObject *self, PyObject *args)
{
    PyObject *gyo, *bufo, *offo, *chunko, *outo;
    Py_ssize_t o0, m, gh, gw;
    int threads;
    const char *fn = "sgemm_conv_weight_grad";
    if (!PyArg_ParseTuple(args, "OnnOOnnOOi", &gyo, &o0, &m, &bufo, &offo, &gh, &gw, &chunko, &outo, &threads)) return NULL;
    if (!sgemm_active()) return PyErr_Format(PyExc_RuntimeError, "%s: this CPU has neither AVX-512F nor AVX2 with FMA", fn);
    Py_buffer v[5];
    int held = 0, ok = 0;
    if (take(gyo, &v[0], 4, "f", 0, fn, "gy") || (held = 1, take(bufo, &v[1], 0, "f", 0, fn, "buf")) ||
        (held = 2, take(offo, &v[2], 1, "q", 0, fn, "rowoff")) || (held = 3, take(chunko, &v[3], 1, "q", 0, fn, "chunks")) ||
        (held = 4, take(outo, &v[4], 2, "f", 1, fn, "out")))
        goto done;
    held = 5;
    idx n = v[0].shape[0], ncol = v[4].shape[1];
    if (o0 < 0 || m < 1 || o0 + m > v[0].shape[1] || v[4].shape[0] != m || v[2].len / 8 != ncol || v[0].shape[2] > gh ||
        v[0].shape[3] > gw) {
        PyErr_Format(PyExc_ValueError, "%s: gy (%zd, %zd, %zd, %zd) channels %zd..%zd, out (%zd, %zd), %zd column offsets "
                     "and a %zd x %zd grid do not fit together", fn, n, v[0].shape[1], v[0].shape[2], v[0].shape[3], o0,
                     o0 + m - 1, v[4].shape[0], ncol, v[2].len / 8, gh, gw);
        goto done;
    }
    if (check_chunks(&v[3], n, fn) || check_reads(&v[2], n * gh * gw, v[1].len / 4, fn)) goto done;
    conv_pass p = {.kern = sgemm_active(), .chunk = v[3].buf, .nchunks = v[3].len / 8 - 1, .buf = v[1].buf,
                   .rowoff = v[2].buf, .plane = gh * gw, .m = m, .cy = v[0].shape[1], .o0 = o0, .h = v[0].shape[2],
                   .wd = v[0].shape[3], .gw = gw, .gh = gh, .gy = v[0].buf, .ncol = ncol, .out = v[4].buf};
    int status;
    Py_BEGIN_ALLOW_THREADS status = sgemm_conv_weight_grad(&p, threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads);
    Py_END_ALLOW_THREADS
    if (status) PyErr_NoMemory();
    else ok = 1;
done:
    while (held--) PyBuffer_Release(&v[held]);
    return ok ? Py_NewRef(Py_None) : NULL;
}
