/* convlab._sgemm's AVX2 micro-kernels (see _sgemm.h for the interface and the algorithm), for
 * x86-64 CPUs without AVX-512 (and, forced, for testing on those with it).
 *
 * AVX2 has 16 ymm registers of 8 floats: the 8 x 48 tile of the shared packed layout would need
 * 48 accumulators, so it is computed as four 4 x 24 sub-tiles, one after another. A sub-tile
 * holds 12 accumulators (4 rows x 3 vectors) plus B's three vectors and one broadcast of A: 16
 * registers, 12 FMAs per 7 loads, and 12 independent chains, more than the latency x pipes (4 x 2
 * on Zen 2-4 and Intel's cores since Skylake) that keep both FMA units busy. The two sub-tiles of
 * one 24-column half read the same kc x 24 floats of B, the second time from the L1 cache.
 *
 * The dot form's 4 x 6 tile is two 2 x 6 blocks (12 accumulators of 8 partial sums each).
 */
#include <immintrin.h>

#include "_sgemm.h"

#define AVX2 __attribute__((target("avx2,fma")))

/* C[i0:i0+4, j0:j0+24] (C pointing at the tile's corner) of the 8 x 48 tile; A's rows i0..i0+3
 * are entries i0..i0+3 of each packed row of MR, B's columns j0..j0+23 of each row */
static inline __attribute__((always_inline)) AVX2 void sub_tile(idx kc, const float *restrict a, const float *restrict b,
                                                                  const float *const *rows, idx off, int i0, int j0,
                                                                  float *restrict c, idx ldc, int accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00, c21 = c00,
           c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    a += i0;
    for (idx p = 0; p < kc; p++) {
        const float *r = rows ? rows[p] + off + j0 : b + p * NR + j0;
        if (rows && i0 == 0) { /* the next tiles' rows, once per column half (_sgemm.h: ROW_PREFETCH) */
            _mm_prefetch((const char *)(r + ROW_PREFETCH), _MM_HINT_T0);
            _mm_prefetch((const char *)(r + ROW_PREFETCH + 16), _MM_HINT_T0);
        }
        __m256 b0 = _mm256_loadu_ps(r), b1 = _mm256_loadu_ps(r + 8), b2 = _mm256_loadu_ps(r + 16), t;
#define ROW(i)                                  \
    t = _mm256_broadcast_ss(a + (i));           \
    c##i##0 = _mm256_fmadd_ps(t, b0, c##i##0);  \
    c##i##1 = _mm256_fmadd_ps(t, b1, c##i##1);  \
    c##i##2 = _mm256_fmadd_ps(t, b2, c##i##2);
        ROW(0) ROW(1) ROW(2) ROW(3)
#undef ROW
        a += MR;
    }
    c += i0 * ldc + j0;
#define STORE(i)                                                                          \
    {                                                                                     \
        float *r = c + (i) * ldc;                                                         \
        if (accumulate) {                                                                 \
            c##i##0 = _mm256_add_ps(c##i##0, _mm256_loadu_ps(r));                         \
            c##i##1 = _mm256_add_ps(c##i##1, _mm256_loadu_ps(r + 8));                     \
            c##i##2 = _mm256_add_ps(c##i##2, _mm256_loadu_ps(r + 16));                    \
        }                                                                                 \
        _mm256_storeu_ps(r, c##i##0);                                                     \
        _mm256_storeu_ps(r + 8, c##i##1);                                                 \
        _mm256_storeu_ps(r + 16, c##i##2);                                                \
    }
    STORE(0) STORE(1) STORE(2) STORE(3)
#undef STORE
}

AVX2 static void tile(idx kc, const float *a, const float *b, float *c, idx ldc, int accumulate)
{
    for (int j0 = 0; j0 < NR; j0 += 24)
        for (int i0 = 0; i0 < MR; i0 += 4) sub_tile(kc, a, b, NULL, 0, i0, j0, c, ldc, accumulate);
}

AVX2 static void tile_rows(idx kc, const float *a, const float *const *rows, idx off, float *c, idx ldc, int accumulate)
{
    for (int j0 = 0; j0 < NR; j0 += 24)
        for (int i0 = 0; i0 < MR; i0 += 4) sub_tile(kc, a, NULL, rows, off, i0, j0, c, ldc, accumulate);
}

/* lanes [0, count) set: the masked load of the last kc mod 8 values of k */
static inline AVX2 __m256i first_lanes(idx count)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* the 8 partial sums of one dot product, added: (0+4, 1+5, 2+6, 3+7), then pairs, then the two */
static inline AVX2 float lane_sum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* rows i0, i0 + 1 of the 4 x 6 dot tile: 12 accumulators, lane l holding the terms p = l mod 8 */
static inline __attribute__((always_inline)) AVX2 void dot_rows2(idx kc, const float *a, idx lda,
                                                                   const float *const *b, float *c, idx ldc,
                                                                   int accumulate)
{
    __m256 acc[2][DN];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < DN; j++) acc[i][j] = _mm256_setzero_ps();
    idx p = 0;
    for (; p + 8 <= kc; p += 8) {
        __m256 a0 = _mm256_loadu_ps(a + p), a1 = _mm256_loadu_ps(a + lda + p);
        for (int j = 0; j < DN; j++) {
            __m256 bv = _mm256_loadu_ps(b[j] + p);
            acc[0][j] = _mm256_fmadd_ps(a0, bv, acc[0][j]);
            acc[1][j] = _mm256_fmadd_ps(a1, bv, acc[1][j]);
        }
    }
    if (p < kc) {
        __m256i m = first_lanes(kc - p);
        __m256 a0 = _mm256_maskload_ps(a + p, m), a1 = _mm256_maskload_ps(a + lda + p, m);
        for (int j = 0; j < DN; j++) {
            __m256 bv = _mm256_maskload_ps(b[j] + p, m);
            acc[0][j] = _mm256_fmadd_ps(a0, bv, acc[0][j]);
            acc[1][j] = _mm256_fmadd_ps(a1, bv, acc[1][j]);
        }
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < DN; j++) {
            float v = lane_sum(acc[i][j]);
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
        }
}

AVX2 static void dot_tile(idx kc, const float *a, idx lda, const float *const *b, float *c, idx ldc, int accumulate)
{
    dot_rows2(kc, a, lda, b, c, ldc, accumulate);
    dot_rows2(kc, a + 2 * lda, lda, b, c + 2 * ldc, ldc, accumulate);
}

/* an edge tile (mr <= DM rows, nr <= DN columns), one dot product at a time */
AVX2 static void dot_edge(idx kc, const float *a, idx lda, const float *const *b, float *c, idx ldc, int accumulate,
                          idx mr, idx nr)
{
    for (idx i = 0; i < mr; i++)
        for (idx j = 0; j < nr; j++) {
            __m256 acc = _mm256_setzero_ps();
            idx p = 0;
            for (; p + 8 <= kc; p += 8)
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i * lda + p), _mm256_loadu_ps(b[j] + p), acc);
            if (p < kc) {
                __m256i m = first_lanes(kc - p);
                acc = _mm256_fmadd_ps(_mm256_maskload_ps(a + i * lda + p, m), _mm256_maskload_ps(b[j] + p, m), acc);
            }
            float v = lane_sum(acc);
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
        }
}

const sgemm_kernels sgemm_avx2 = {"avx2", tile, tile_rows, dot_tile, dot_edge};
