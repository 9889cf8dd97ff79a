/* convlab._cpu: what this CPU's floating-point units can do, measured, for the bench and for
 * choosing kernels (ops/gemm.py).
 *
 *   fma_peak(width, threads, iterations) -> (seconds, chains)
 *       `threads` threads at once each run `iterations` rounds of CHAINS (zmm) or CHAINS_256 (ymm) independent float32 FMAs
 *       on registers of `width` bits (512: zmm, 256: ymm), nothing read from or written to memory;
 *       the wall time from the start barrier to the last thread's end. GFLOP/s = 2 * lanes *
 *       chains * iterations * threads / seconds, lanes = width / 32 (`chains` is returned too).
 *   has(feature) -> bool   __builtin_cpu_supports for "avx512f", "avx2", "fma"
 *
 * Why: a GEMM's speed means something only beside the machine's limit, which depends on more
 * than the instruction set: Zen 4 runs a 512-bit FMA as two 256-bit halves (zmm and ymm peaks
 * equal), Zen 5 and Intel's server cores at full width (zmm twice ymm), and two vCPUs of a VM
 * may share one core (two threads' peak no higher than one's). Each of those is visible here.
 *
 * The FMAs form CHAINS independent dependency chains, more than latency x pipes (4 x 2 on the
 * x86 cores of 2020-2025), so the loop is bound by FMA throughput, not latency.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define CHAINS 16     /* zmm: 16 accumulators + 2 operands of 32 registers */
#define CHAINS_256 12 /* ymm: 12 + 2 of the 16 AVX2 has (more would spill to memory) */
#define MAX_THREADS 256

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define X86 1

__attribute__((target("avx512f,fma"))) static float loop512(long iterations)
{
    __m512 acc[CHAINS], x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps((float)c);
    for (long i = 0; i < iterations; i++)
#pragma GCC unroll 16
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], x, y);
    for (int c = 1; c < CHAINS; c++) acc[0] = _mm512_add_ps(acc[0], acc[c]);
    return _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"))) static float loop256(long iterations)
{
    __m256 acc[CHAINS_256], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS_256; c++) acc[c] = _mm256_set1_ps((float)c);
    for (long i = 0; i < iterations; i++)
#pragma GCC unroll 16
        for (int c = 0; c < CHAINS_256; c++) acc[c] = _mm256_fmadd_ps(acc[c], x, y);
    for (int c = 1; c < CHAINS_256; c++) acc[0] = _mm256_add_ps(acc[0], acc[c]);
    float out[8];
    _mm256_storeu_ps(out, acc[0]);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}
#endif

typedef struct {
    int width;
    long iterations;
    _Atomic int *go;
    volatile float sink;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    while (!atomic_load(w->go)) /* every thread starts together */
        ;
#ifdef X86
    w->sink = w->width == 512 ? loop512(w->iterations) : loop256(w->iterations);
#endif
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int supports(const char *feature)
{
#ifdef X86
    __builtin_cpu_init();
    if (!strcmp(feature, "avx512f")) return __builtin_cpu_supports("avx512f");
    if (!strcmp(feature, "avx2")) return __builtin_cpu_supports("avx2");
    if (!strcmp(feature, "fma")) return __builtin_cpu_supports("fma");
#endif
    (void)feature;
    return 0;
}

static PyObject *py_fma_peak(PyObject *self, PyObject *args)
{
    int width, threads;
    long iterations;
    if (!PyArg_ParseTuple(args, "iil", &width, &threads, &iterations)) return NULL;
    if (width != 512 && width != 256) return PyErr_Format(PyExc_ValueError, "fma_peak: width must be 512 or 256, got %d", width);
    if (threads < 1 || threads > MAX_THREADS)
        return PyErr_Format(PyExc_ValueError, "fma_peak: threads must be in [1, %d], got %d", MAX_THREADS, threads);
    if (iterations < 1) return PyErr_Format(PyExc_ValueError, "fma_peak: iterations must be positive, got %ld", iterations);
    if (!supports(width == 512 ? "avx512f" : "avx2") || !supports("fma"))
        return PyErr_Format(PyExc_RuntimeError, "fma_peak: this CPU has no %d-bit FMA", width);
    worker ws[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    _Atomic int go = 0;
    int started = 0;
    double t0 = 0.0, t1 = 0.0;
    Py_BEGIN_ALLOW_THREADS
    for (; started < threads; started++) {
        ws[started] = (worker){width, iterations, &go, 0.f};
        if (pthread_create(&ids[started], NULL, run, &ws[started])) break;
    }
    t0 = now();
    atomic_store(&go, 1);
    for (int t = 0; t < started; t++) pthread_join(ids[t], NULL);
    t1 = now();
    Py_END_ALLOW_THREADS
    if (started < threads)
        return PyErr_Format(PyExc_RuntimeError, "fma_peak: could start only %d of %d threads", started, threads);
    return Py_BuildValue("di", t1 - t0, width == 512 ? CHAINS : CHAINS_256);
}

static PyObject *py_has(PyObject *self, PyObject *arg)
{
    const char *feature = PyUnicode_AsUTF8(arg);
    if (!feature) return NULL;
    return PyBool_FromLong(supports(feature));
}

static PyMethodDef methods[] = {
    {"fma_peak", py_fma_peak, METH_VARARGS,
     "fma_peak(width, threads, iterations) -> (seconds, chains): threads x iterations x chains register-only FMAs"},
    {"has", py_has, METH_O, "has(feature) -> bool: 'avx512f', 'avx2' or 'fma' on this CPU"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cpu", "the CPU's measured FMA peak (see _cpu.c)", -1, methods};

PyMODINIT_FUNC PyInit__cpu(void) { return PyModule_Create(&module); }
