/* convlab._sgemm's AVX-512 micro-kernels (see _sgemm.h for the interface and the algorithm).
 *
 * The 8 x 48 tile of C lives in 24 zmm registers (8 rows x 3 vectors of 16 floats). For each p,
 * B's row is three loads and each of A's 8 entries one broadcast, followed by its 3 FMAs:
 * 24 FMAs per 11 loads, and 24 independent accumulators, more than the FMA latency x pipes
 * (4 x 2) needed to keep both FMA units busy. On a CPU that splits a 512-bit FMA into two
 * 256-bit halves (Zen 4) this runs at the AVX2 kernel's FMA rate with half the instructions.
 */
#include <immintrin.h>

#include "_sgemm.h"

#define AVX512 __attribute__((target("avx512f,fma")))

/* C[0:MR, 0:NR] = (accumulate ? C : 0) + a @ B, B's row p at b + p * NR or at rows[p] + off */
static inline __attribute__((always_inline)) AVX512 void tile_any(idx kc, const float *restrict a,
                                                                    const float *restrict b,
                                                                    const float *const *rows, idx off,
                                                                    float *restrict c, idx ldc, int accumulate)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00, c21 = c00,
           c22 = c00, c30 = c00, c31 = c00, c32 = c00, c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00,
           c52 = c00, c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
    for (idx p = 0; p < kc; p++) {
        __m512 b0, b1, b2, t;
        if (rows) {
            const float *r = rows[p] + off;
            _mm_prefetch((const char *)(r + ROW_PREFETCH), _MM_HINT_T0);
            _mm_prefetch((const char *)(r + ROW_PREFETCH + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(r + ROW_PREFETCH + 32), _MM_HINT_T0);
            b0 = _mm512_loadu_ps(r), b1 = _mm512_loadu_ps(r + 16), b2 = _mm512_loadu_ps(r + 32);
        } else {
            b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), b2 = _mm512_load_ps(b + 32);
            b += NR;
        }
#define ROW(i)                                  \
    t = _mm512_set1_ps(a[i]);                   \
    c##i##0 = _mm512_fmadd_ps(t, b0, c##i##0);  \
    c##i##1 = _mm512_fmadd_ps(t, b1, c##i##1);  \
    c##i##2 = _mm512_fmadd_ps(t, b2, c##i##2);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
        a += MR;
    }
#define STORE(i)                                                                          \
    {                                                                                     \
        float *r = c + (i) * ldc;                                                         \
        if (accumulate) {                                                                 \
            c##i##0 = _mm512_add_ps(c##i##0, _mm512_loadu_ps(r));                         \
            c##i##1 = _mm512_add_ps(c##i##1, _mm512_loadu_ps(r + 16));                    \
            c##i##2 = _mm512_add_ps(c##i##2, _mm512_loadu_ps(r + 32));                    \
        }                                                                                 \
        _mm512_storeu_ps(r, c##i##0);                                                     \
        _mm512_storeu_ps(r + 16, c##i##1);                                                \
        _mm512_storeu_ps(r + 32, c##i##2);                                                \
    }
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)
#undef STORE
}

AVX512 static void tile(idx kc, const float *a, const float *b, float *c, idx ldc, int accumulate)
{
    tile_any(kc, a, b, NULL, 0, c, ldc, accumulate);
}

AVX512 static void tile_rows(idx kc, const float *a, const float *const *rows, idx off, float *c, idx ldc, int accumulate)
{
    tile_any(kc, a, NULL, rows, off, c, ldc, accumulate);
}

/* the 4 x 6 dot tile: each C entry's sum over k as 16 partial sums (lane l holds the terms
 * p = l mod 16), added across lanes at the end; a masked load reads the last kc mod 16 values */
AVX512 static void dot_tile(idx kc, const float *a, idx lda, const float *const *b, float *c, idx ldc, int accumulate)
{
    __m512 acc[DM][DN];
    for (int i = 0; i < DM; i++)
        for (int j = 0; j < DN; j++) acc[i][j] = _mm512_setzero_ps();
    idx p = 0;
    for (; p + 16 <= kc; p += 16) {
        __m512 av[DM];
        for (int i = 0; i < DM; i++) av[i] = _mm512_loadu_ps(a + i * lda + p);
        for (int j = 0; j < DN; j++) {
            __m512 bv = _mm512_loadu_ps(b[j] + p);
            for (int i = 0; i < DM; i++) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
        }
    }
    if (p < kc) {
        __mmask16 tail = (__mmask16)((1u << (kc - p)) - 1);
        __m512 av[DM];
        for (int i = 0; i < DM; i++) av[i] = _mm512_maskz_loadu_ps(tail, a + i * lda + p);
        for (int j = 0; j < DN; j++) {
            __m512 bv = _mm512_maskz_loadu_ps(tail, b[j] + p);
            for (int i = 0; i < DM; i++) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
        }
    }
    for (int i = 0; i < DM; i++)
        for (int j = 0; j < DN; j++) {
            float v = _mm512_reduce_add_ps(acc[i][j]);
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
        }
}

/* an edge tile (mr <= DM rows, nr <= DN columns), one dot product at a time */
AVX512 static void dot_edge(idx kc, const float *a, idx lda, const float *const *b, float *c, idx ldc, int accumulate,
                            idx mr, idx nr)
{
    for (idx i = 0; i < mr; i++)
        for (idx j = 0; j < nr; j++) {
            __m512 acc = _mm512_setzero_ps();
            idx p = 0;
            for (; p + 16 <= kc; p += 16)
                acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i * lda + p), _mm512_loadu_ps(b[j] + p), acc);
            if (p < kc) {
                __mmask16 tail = (__mmask16)((1u << (kc - p)) - 1);
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a + i * lda + p),
                                      _mm512_maskz_loadu_ps(tail, b[j] + p), acc);
            }
            float v = _mm512_reduce_add_ps(acc);
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
        }
}

const sgemm_kernels sgemm_avx512 = {"avx512", tile, tile_rows, dot_tile, dot_edge};
