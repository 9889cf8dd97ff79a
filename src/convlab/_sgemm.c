/* convlab._sgemm: single-precision GEMM with AVX-512 kernels, C = A @ B (+ C).
 *
 * Why it exists: NumPy's bundled OpenBLAS may run AVX2 kernels (this project's machines pin
 * OPENBLAS_CORETYPE=Haswell) on CPUs whose AVX-512 units do twice the work per cycle; the
 * convolutions' GEMMs are most of a training step. This is the textbook blocked algorithm
 * (Goto's, as BLIS lays it out), nothing more:
 *
 *   for each block of NC columns of B:            B block (KC x NC) packed, lives in L2/L3
 *     for each block of KC rows of B / cols of A: A block (MC x KC) packed, lives in L2
 *       for each MR x NR tile of C:               8 x 48 floats held in 24 zmm registers
 *         C_tile += A_panel (MR x KC) @ B_panel (KC x NR)   one broadcast + 3 FMAs per A entry
 *
 * Packing copies A and B into the order the kernel reads them, so A and B may have any
 * strides (a transposed operand costs nothing extra); edges are zero-padded in the packs and
 * written back through a small buffer. Threads come from a persistent pool (_pool.h): a
 * product is cut into blocks of whole NR-column tiles (two to four per thread, taken by
 * whichever thread is free), every C entry summed over k in the same order whatever the
 * thread count; a product with fewer than two column blocks per thread and a long k (a weight
 * gradient: few columns, the batch's pixels along k) is cut into one slice of k per thread
 * instead, whose partial sums are added in slice order: its rounding depends on the count.
 *
 * A product whose operands both run along k (a weight gradient, grad_y @ columns^T, k the
 * batch's pixels) skips packing: each entry of a 4 x 6 tile of C is a dot product kept as 16
 * partial sums in one zmm register.
 *
 * Convolutions on the flat padded grid (convlab/ops/conv_shift.py) never build their column
 * matrix here: row p of it is a channel's row of the grid shifted by a kernel offset, so a tile
 * of 48 columns within one sample is 48 contiguous floats of each row, which the kernel reads in
 * place from a table of row pointers (sgemm_shifted; tiles straddling two samples are packed
 * from the grid), and the weight
 * gradient's dot products read the grid's rows, contiguous over a chunk of samples, from an
 * offset table (sgemm_dot_shifted).
 *
 * Python API (see convlab/ops/gemm.py, which decides when to use it):
 *   available() -> bool                    the CPU has AVX-512F
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
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MR 8
#define NR 48
#define KC 256
#define MC 128
#define NC 3072
#define MAX_THREADS 64
#define APACK_FLOATS ((MC + MR) * KC) /* packing buffers, per thread */
#define BPACK_FLOATS ((NC + NR) * KC)

typedef Py_ssize_t idx;

#define AVX512 __attribute__((target("avx512f,fma")))

/* C[0:MR, 0:NR] (row stride ldc) = (accumulate ? C : 0) + a (kc x MR packed) @ B, where B's row p
 * is b + p * NR (a packed panel) or, when rows is given, rows[p] + off (NR floats read in place:
 * a tile of a shifted B that lies within one sample, see run_shifted) */
static inline __attribute__((always_inline)) AVX512 void kernel_any(idx kc, const float *restrict a,
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

AVX512 static void kernel(idx kc, const float *restrict a, const float *restrict b, float *restrict c, idx ldc,
                          int accumulate)
{
    kernel_any(kc, a, b, NULL, 0, c, ldc, accumulate);
}

AVX512 static void kernel_rows(idx kc, const float *restrict a, const float *const *rows, idx off, float *restrict c,
                               idx ldc, int accumulate)
{
    kernel_any(kc, a, NULL, rows, off, c, ldc, accumulate);
}

/* A block (mc x kc, strides rs, cs) -> panels of MR rows, out[panel][p][i]; zero rows past mc */
static void pack_a(idx mc, idx kc, const float *a, idx rs, idx cs, float *restrict out)
{
    for (idx i0 = 0; i0 < mc; i0 += MR, out += MR * kc) {
        idx mr = mc - i0 < MR ? mc - i0 : MR;
        if (cs == 1) { /* rows contiguous along k: read each row once */
            for (idx i = 0; i < mr; i++) {
                const float *src = a + (i0 + i) * rs;
                for (idx p = 0; p < kc; p++) out[p * MR + i] = src[p];
            }
        } else {
            for (idx p = 0; p < kc; p++)
                for (idx i = 0; i < mr; i++) out[p * MR + i] = a[(i0 + i) * rs + p * cs];
        }
        if (mr < MR)
            for (idx p = 0; p < kc; p++)
                for (idx i = mr; i < MR; i++) out[p * MR + i] = 0.f;
    }
}

/* B block (kc x nc, strides rs, cs) -> panels of NR columns, out[panel][p][j]; zero columns past nc */
static void pack_b(idx kc, idx nc, const float *b, idx rs, idx cs, float *restrict out)
{
    for (idx j0 = 0; j0 < nc; j0 += NR, out += NR * kc) {
        idx nr = nc - j0 < NR ? nc - j0 : NR;
        if (cs == 1) {
            for (idx p = 0; p < kc; p++) {
                memcpy(out + p * NR, b + p * rs + j0, nr * sizeof(float));
                for (idx j = nr; j < NR; j++) out[p * NR + j] = 0.f;
            }
        } else {
            if (rs == 1) { /* columns contiguous along k (a transposed operand) */
                for (idx j = 0; j < nr; j++) {
                    const float *src = b + (j0 + j) * cs;
                    for (idx p = 0; p < kc; p++) out[p * NR + j] = src[p];
                }
            } else {
                for (idx p = 0; p < kc; p++)
                    for (idx j = 0; j < nr; j++) out[p * NR + j] = b[p * rs + (j0 + j) * cs];
            }
            if (nr < NR)
                for (idx p = 0; p < kc; p++)
                    for (idx j = nr; j < NR; j++) out[p * NR + j] = 0.f;
        }
    }
}

/* The "dot" form, for products whose operands both run along k (rows of A and columns of B
 * contiguous: a weight gradient grad_y @ columns^T, with k the batch's pixels). No packing:
 * each of a 4 x 6 tile of C is a dot product held as 16 partial sums in a zmm register,
 * summed across lanes at the end of each slice of KD values of k. */
#define DM 4
#define DN 6
#define KD 512
#ifndef DOT_MIN_K
#define DOT_MIN_K 1024
#endif

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

/* C (m x n) (+)= A @ B with A's rows and B's columns contiguous along k: A[i, p] = a[i * lda + p],
 * B[p, j] = bcol[j][p], taken `slice` values of k at a time (a cache-sized piece of A and B). */
static void run_dot(idx m, idx n, idx k, idx slice, const float *a, idx lda, const float *const *bcol, float *c, idx ldc,
                    int accumulate)
{
    for (idx p0 = 0; p0 < k; p0 += slice) {
        idx kc = k - p0 < slice ? k - p0 : slice;
        int acc = accumulate || p0 > 0;
        for (idx j0 = 0; j0 < n; j0 += DN) {
            idx nr = n - j0 < DN ? n - j0 : DN;
            const float *bp[DN];
            for (idx j = 0; j < nr; j++) bp[j] = bcol[j0 + j] + p0;
            for (idx i0 = 0; i0 < m; i0 += DM) {
                const float *ap = a + i0 * lda + p0;
                float *cp = c + i0 * ldc + j0;
                if (m - i0 >= DM && nr == DN) dot_tile(kc, ap, lda, bp, cp, ldc, acc);
                else dot_edge(kc, ap, lda, bp, cp, ldc, acc, m - i0 < DM ? m - i0 : DM, nr);
            }
        }
    }
}

/* A "shifted" B, a convolution's column matrix read straight from its flat padded grid
 * (ops/conv_shift.py): row p of B starts at base + rowoff[p] (a channel's row of the grid plus
 * a kernel offset's shift), and column n, the grid position t of sample s = n / span, lies at
 * s * plane + t: B(p, n) = base[rowoff[p] + n + (n / span) * (plane - span)]. Packing copies
 * its panels from there, so the column matrix is never built. */
typedef struct {
    const float *base;
    const long long *rowoff;
    idx span, plane;
} shifted;

/* one panel, columns [col0, col0 + nr) (nr <= NR) of rows [0, kc) of a shifted B, as pack_b lays
 * it out: the tiles run_shifted cannot read in place (straddling two samples, or the last one) */
static void pack_panel_shifted(idx kc, idx nr, const shifted *sb, const long long *rowoff, idx col0, float *restrict out)
{
    idx seg_dst[NR], seg_src[NR], seg_len[NR], nseg = 0;
    for (idx j = 0; j < nr;) { /* the panel's runs of columns within one sample */
        idx g = col0 + j, s = g / sb->span, t = g % sb->span, len = sb->span - t;
        if (len > nr - j) len = nr - j;
        seg_dst[nseg] = j;
        seg_src[nseg] = s * sb->plane + t;
        seg_len[nseg++] = len;
        j += len;
    }
    for (idx p = 0; p < kc; p++) {
        const float *row = sb->base + rowoff[p];
        float *dst = out + p * NR;
        for (idx q = 0; q < nseg; q++) memcpy(dst + seg_dst[q], row + seg_src[q], seg_len[q] * sizeof(float));
        for (idx j = nr; j < NR; j++) dst[j] = 0.f;
    }
}

typedef struct {
    idx m, n, k;
    const float *a, *b;
    idx rsa, csa, rsb, csb;
    float *c;
    idx ldc;
    int accumulate;
    float *apack, *bpack;
    const shifted *sb;         /* B read from a flat grid (then b, rsb, csb are unused) */
    const long long *boff;     /* or: column q of B starts at b + boff[q], contiguous along k (csb unused) */
    idx col0;                  /* the job's first column of the whole product (shifted B, boff) */
} job;

/* C (+)= A @ B tile by tile, for a C tile and its MR rows of A: the kernel straight into C, or
 * through a buffer for an edge tile (mr < MR or nr < NR) */
static void tile_product(idx kc, const float *apanel, const float *bpanel, const float *const *rows, idx off, float *c,
                         idx ldc, int acc, idx mr, idx nr)
{
    float tile[MR * NR] __attribute__((aligned(64)));
    if (mr == MR && nr == NR) {
        if (rows) kernel_rows(kc, apanel, rows, off, c, ldc, acc);
        else kernel(kc, apanel, bpanel, c, ldc, acc);
        return;
    }
    if (rows) kernel_rows(kc, apanel, rows, off, tile, NR, 0);
    else kernel(kc, apanel, bpanel, tile, NR, 0);
    for (idx i = 0; i < mr; i++)
        for (idx q = 0; q < nr; q++) c[i * ldc + q] = (acc ? c[i * ldc + q] : 0.f) + tile[i * NR + q];
}

/* run() for a shifted B: a tile of NR columns within one sample is NR contiguous floats of each
 * row of B, so the kernel reads it in place (rows[p] + offset, no packing: the grid's rows are
 * read once from memory and their kernel-offset copies from the cache); only a tile that
 * straddles two samples, or the last partial one, is packed. With few rows of A (a layer's
 * output channels), packing B cost as much as the arithmetic. */
static void run_shifted(const job *j)
{
    const shifted *sb = j->sb;
    const float *rows[KC];
    for (idx jc = 0; jc < j->n; jc += NC) {
        idx nc = j->n - jc < NC ? j->n - jc : NC;
        for (idx pc = 0; pc < j->k; pc += KC) {
            idx kc = j->k - pc < KC ? j->k - pc : KC;
            int acc = j->accumulate || pc > 0;
            for (idx p = 0; p < kc; p++) rows[p] = sb->base + sb->rowoff[pc + p];
            for (idx ic = 0; ic < j->m; ic += MC) {
                idx mc = j->m - ic < MC ? j->m - ic : MC;
                pack_a(mc, kc, j->a + ic * j->rsa + pc * j->csa, j->rsa, j->csa, j->apack);
                for (idx jr = 0; jr < nc; jr += NR) {
                    idx nr = nc - jr < NR ? nc - jr : NR, g = j->col0 + jc + jr, t = g % sb->span;
                    int direct = nr == NR && t + NR <= sb->span;
                    if (!direct) pack_panel_shifted(kc, nr, sb, sb->rowoff + pc, g, j->bpack);
                    for (idx ir = 0; ir < mc; ir += MR)
                        tile_product(kc, j->apack + ir * kc, j->bpack, direct ? rows : NULL,
                                     (g / sb->span) * sb->plane + t, j->c + (ic + ir) * j->ldc + jc + jr, j->ldc, acc,
                                     mc - ir < MR ? mc - ir : MR, nr);
                }
            }
        }
    }
}

/* the serial algorithm on one job (a block of columns, or a slice of k, of the whole product) */
static void run(const job *j)
{
    if (j->sb) {
        run_shifted(j);
        return;
    }
    if (j->boff || (!j->sb && j->csa == 1 && j->rsb == 1 && j->k >= DOT_MIN_K)) {
        /* the dot form; the packing buffer holds the column pointers, a block of columns at a time.
         * Columns from an offset table (a weight gradient read from a flat grid) come in chunks the
         * caller sized to the cache: their sums stay in registers over the whole of k. */
        const float **bcol = (const float **)j->bpack;
        idx cap = BPACK_FLOATS * sizeof(float) / sizeof(*bcol);
        for (idx q0 = 0; q0 < j->n; q0 += cap) {
            idx nq = j->n - q0 < cap ? j->n - q0 : cap;
            for (idx q = 0; q < nq; q++)
                bcol[q] = j->boff ? j->b + j->boff[j->col0 + q0 + q] : j->b + (q0 + q) * j->csb;
            run_dot(j->m, nq, j->k, j->boff ? j->k : KD, j->a, j->rsa, bcol, j->c + q0, j->ldc, j->accumulate);
        }
        return;
    }
    for (idx jc = 0; jc < j->n; jc += NC) {
        idx nc = j->n - jc < NC ? j->n - jc : NC;
        for (idx pc = 0; pc < j->k; pc += KC) {
            idx kc = j->k - pc < KC ? j->k - pc : KC;
            int acc = j->accumulate || pc > 0;
            pack_b(kc, nc, j->b + pc * j->rsb + jc * j->csb, j->rsb, j->csb, j->bpack);
            for (idx ic = 0; ic < j->m; ic += MC) {
                idx mc = j->m - ic < MC ? j->m - ic : MC;
                pack_a(mc, kc, j->a + ic * j->rsa + pc * j->csa, j->rsa, j->csa, j->apack);
                for (idx jr = 0; jr < nc; jr += NR) {
                    idx nr = nc - jr < NR ? nc - jr : NR;
                    for (idx ir = 0; ir < mc; ir += MR)
                        tile_product(kc, j->apack + ir * kc, j->bpack + jr * kc, NULL, 0,
                                     j->c + (ic + ir) * j->ldc + jc + jr, j->ldc, acc, mc - ir < MR ? mc - ir : MR, nr);
                }
            }
        }
    }
}

/* Packing buffers, one pair per thread (the caller's and each pool worker's), allocated on the
 * thread's first product and kept (allocating ~3 MiB per call costs page faults on every call). */
static __thread float *tls_pack[2];

static int thread_buffers(float **apack, float **bpack)
{
    if (!tls_pack[0]) tls_pack[0] = aligned_alloc(64, APACK_FLOATS * sizeof(float));
    if (!tls_pack[1]) tls_pack[1] = aligned_alloc(64, BPACK_FLOATS * sizeof(float));
    *apack = tls_pack[0];
    *bpack = tls_pack[1];
    return tls_pack[0] && tls_pack[1] ? 0 : -1;
}

/* One product cut into parts for the pool: blocks of whole NR-column tiles (every C entry summed
 * over k in the same order whatever the cut), or slices of k (part 0 into C, the others into
 * partial sums added after in part order). */
typedef struct {
    job whole;
    int split_k;
    idx per;           /* columns (a multiple of NR) or values of k per part */
    float *partial;    /* split_k: (parts - 1) x m x n */
    _Atomic int failed;
} plan;

#include "_pool.h"

static void run_part(void *arg, idx part)
{
    plan *pl = arg;
    job j = pl->whole;
    if (thread_buffers(&j.apack, &j.bpack)) {
        pl->failed = 1;
        return;
    }
    if (pl->split_k) {
        idx k0 = pl->per * part, k1 = k0 + pl->per < pl->whole.k ? k0 + pl->per : pl->whole.k;
        if (k0 >= k1) return;
        j.a = j.a + k0 * j.csa;
        j.b = j.b + k0 * j.rsb;
        j.k = k1 - k0;
        if (part > 0) {
            j.c = pl->partial + (part - 1) * j.m * j.n;
            j.ldc = j.n;
            j.accumulate = 0;
        }
    } else {
        idx n0 = pl->per * part, n1 = n0 + pl->per < pl->whole.n ? n0 + pl->per : pl->whole.n;
        if (n0 >= n1) return;
        j.b = j.b + n0 * j.csb;
        j.col0 = j.col0 + n0;
        j.c = j.c + n0;
        j.n = n1 - n0;
    }
    run(&j);
}

/* Split the product over threads: by blocks of columns when there are at least two per thread
 * (up to four per thread, so that a late thread's share is taken by the others), else, for a
 * long k (a weight gradient: few columns, the batch's pixels along k), by one slice of k per
 * thread; returns 0, or -1 when out of memory. */
static int gemm(job whole, int threads)
{
    if (whole.m == 0 || whole.n == 0) return 0;
    idx col_blocks = (whole.n + NR - 1) / NR, parts = 1;
    plan pl = {.whole = whole, .split_k = 0, .per = whole.n, .partial = NULL, .failed = 0};
    if (threads > 1) {
        if (col_blocks >= 2 * threads) {
            parts = col_blocks < 4 * threads ? col_blocks : 4 * threads;
            pl.per = (col_blocks + parts - 1) / parts * NR;
            parts = (whole.n + pl.per - 1) / pl.per;
        } else if (whole.k >= 4 * KC * threads && !whole.sb) {
            pl.split_k = 1;
            parts = threads;
            pl.per = (whole.k / threads + KC - 1) / KC * KC;
            parts = (whole.k + pl.per - 1) / pl.per;
            pl.partial = malloc(sizeof(float) * (parts - 1) * whole.m * whole.n);
            if (!pl.partial) return -1;
        }
    }
    pool_run(run_part, &pl, parts, threads);
    if (pl.split_k) {
        for (idx t = 1; t < parts; t++) /* in part order: the same sums every call */
            for (idx i = 0; i < whole.m; i++) {
                float *dst = whole.c + i * whole.ldc;
                const float *src = pl.partial + ((t - 1) * whole.m + i) * whole.n;
                for (idx q = 0; q < whole.n; q++) dst[q] += src[q];
            }
        free(pl.partial);
    }
    return pl.failed ? -1 : 0;
}

static int clamp_threads(int threads) { return threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads; }

/* gemm() without the GIL; C = 0 (or left as it is when accumulating) for k == 0. None, or NULL
 * with MemoryError set. */
static PyObject *run_gemm(job whole, int threads)
{
    int status = 0;
    if (whole.k == 0) {
        if (!whole.accumulate)
            for (idx i = 0; i < whole.m; i++) memset(whole.c + i * whole.ldc, 0, sizeof(float) * whole.n);
    } else {
        Py_BEGIN_ALLOW_THREADS status = gemm(whole, threads);
        Py_END_ALLOW_THREADS
    }
    if (status) return PyErr_NoMemory();
    return Py_NewRef(Py_None);
}

static int has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}

static PyObject *py_available(PyObject *self, PyObject *args)
{
    return PyBool_FromLong(has_avx512());
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
    if (!has_avx512()) {
        PyErr_SetString(PyExc_RuntimeError, "sgemm: this CPU has no AVX-512F; use numpy.matmul");
        return NULL;
    }
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
        job whole = {a.shape[0], b.shape[1], a.shape[1], a.buf, b.buf, a.strides[0] / 4, a.strides[1] / 4,
                     b.strides[0] / 4, b.strides[1] / 4, c.buf, c.strides[0] / 4, accumulate, NULL, NULL, NULL, NULL, 0};
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
    if (!has_avx512()) {
        PyErr_Format(PyExc_RuntimeError, "%s: this CPU has no AVX-512F; use numpy.matmul", name);
        return -1;
    }
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
        job whole = {m, n, k, v.a.buf, NULL, v.a.strides[0] / 4, v.a.strides[1] / 4, 0, 1, v.c.buf, v.c.strides[0] / 4,
                     accumulate, NULL, NULL, &sb, NULL, 0};
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
        job whole = {m, n, k, v.a.buf, v.buf.buf, v.a.strides[0] / 4, 1, 1, 0, v.c.buf, v.c.strides[0] / 4, accumulate,
                     NULL, NULL, NULL, v.off.buf, 0};
        result = run_gemm(whole, clamp_threads(threads));
    }
    release_grid_views(&v);
    return result;
}

static PyMethodDef methods[] = {
    {"sgemm_dot_shifted", py_sgemm_dot_shifted, METH_VARARGS,
     "sgemm_dot_shifted(a, buf, rowoff, c, accumulate, threads): c = a @ B, B[q, j] = buf.flat[rowoff[j] + q]"},
    {"sgemm_shifted", py_sgemm_shifted, METH_VARARGS,
     "sgemm_shifted(a, buf, rowoff, span, plane, c, accumulate, threads): c = a @ B, "
     "B[p, n] = buf.flat[rowoff[p] + (n // span) * plane + n % span]"},
    {"available", py_available, METH_NOARGS, "available() -> bool: the CPU has the AVX-512F and FMA units the kernel uses"},
    {"sgemm", py_sgemm, METH_VARARGS,
     "sgemm(a, b, c, accumulate, threads): c = a @ b (c += a @ b when accumulate); float32 2-D buffers, any strides "
     "for a and b, c with contiguous rows"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sgemm", "AVX-512 single-precision GEMM (see _sgemm.c)", -1,
                                    methods};

PyMODINIT_FUNC PyInit__sgemm(void) { return PyModule_Create(&module); }
