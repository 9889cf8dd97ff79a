/* convlab._sgemm's shared definitions: the blocking sizes, the micro-kernel interface that each
 * instruction set implements (_sgemm_avx512.c, _sgemm_avx2.c), and the blocked driver's entry
 * point (_sgemm_driver.c). The Python functions are in _sgemm.c.
 *
 * A product C (m x n) = A (m x k) @ B (k x n) is cut, as Goto's algorithm / BLIS lay it out, into
 * MR x NR tiles of C, each the sum over k of an MR-row panel of A times an NR-column panel of B:
 *
 *   C_tile (MR x NR) += sum_p A_panel[:, p] (outer product) B_panel[p, :]
 *
 * The micro-kernel computes that sum for one tile, holding the whole tile in vector registers:
 * per value of p one broadcast of each of A's MR entries and NR / lanes loads of B's row, then
 * MR x NR / lanes fused multiply-adds. Both instruction sets use the same packed layout (MR = 8,
 * NR = 48), so the driver, the packing and the thread split are shared; only the register tiling
 * differs (AVX-512: one 8 x 48 tile in 24 zmm; AVX2: four 4 x 24 sub-tiles in 12 ymm each).
 *
 * The "dot" form, for products whose operands both run along k (a weight gradient: rows of A
 * and columns of B contiguous), is a DM x DN tile of dot products, each kept as partial sums in
 * one vector register (16 lanes or 8) and added across lanes at the end.
 */
#ifndef CONVLAB_SGEMM_H
#define CONVLAB_SGEMM_H

#include <stddef.h>

typedef ptrdiff_t idx;

#define MR 8
#define NR 48
#define KC 256
#define MC 128
#define NC 3072
#define DM 4
#define DN 6
#define KD 512
#define MAX_THREADS 64
/* A tile read in place from a flat grid (tile_rows) reads 48 floats from each of its kc rows, a
 * few dozen rows per channel apart: more streams than the hardware prefetchers follow, so each
 * tile waited on the L3 cache (ResNet-20's 16-channel layer, one thread, buffers out of cache:
 * 168 GFLOP/s). The kernel prefetches each row's data ROW_PREFETCH floats on, two tiles ahead
 * (242 GFLOP/s; one tile ahead 220, four 241: benchmarks/README.md). */
#define ROW_PREFETCH 96
#define APACK_FLOATS ((MC + MR) * KC) /* packing buffers, per thread */
#define BPACK_FLOATS ((NC + NR) * KC)

/* One instruction set's micro-kernels. All write C (row stride ldc) as (accumulate ? C : 0) +
 * the product; `a` is a packed A panel (kc x MR, MR floats per value of p).
 *   tile:      B is a packed panel, row p at b + p * NR
 *   tile_rows: B's row p is the NR floats at rows[p] + off, read in place (a shifted grid)
 *   dot_tile:  C (DM x DN) = A (DM rows, stride lda) . B (DN columns b[j]), kc values of k
 *   dot_edge:  the same for an edge tile of mr <= DM rows and nr <= DN columns */
typedef struct {
    const char *name;
    void (*tile)(idx kc, const float *a, const float *b, float *c, idx ldc, int accumulate);
    void (*tile_rows)(idx kc, const float *a, const float *const *rows, idx off, float *c, idx ldc, int accumulate);
    void (*dot_tile)(idx kc, const float *a, idx lda, const float *const *b, float *c, idx ldc, int accumulate);
    void (*dot_edge)(idx kc, const float *a, idx lda, const float *const *b, float *c, idx ldc, int accumulate, idx mr,
                     idx nr);
} sgemm_kernels;

extern const sgemm_kernels sgemm_avx512, sgemm_avx2;

/* A "shifted" B, a convolution's column matrix read from its flat padded grid
 * (ops/conv_shift.py): B(p, n) = base[rowoff[p] + (n / span) * plane + n % span]. */
typedef struct {
    const float *base;
    const long long *rowoff;
    idx span, plane;
} shifted;

/* One product, or the part of it that one thread computes. */
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
    const sgemm_kernels *kern; /* the instruction set's micro-kernels */
    int columns_only;          /* split over threads by columns only (sums in one order at any count) */
    int boff_packed;           /* boff's columns packed into panels for the blocked loop, not the dot form */
} job;

/* C (+)= A @ B on up to `threads` threads of the persistent pool; 0, or -1 when out of memory */
int sgemm_run(job whole, int threads);

/* The pieces _sgemm_conv.c builds its convolution passes from: one job on the calling thread
 * (with that thread's packing buffers; 0, or -1 out of memory), and task(ctx, part) for every
 * part in [0, parts) on up to `threads` threads of the same persistent pool. */
int sgemm_run_here(job j);
typedef void (*sgemm_task)(void *ctx, idx part);
void sgemm_parallel(sgemm_task task, void *ctx, idx parts, int threads);

/* the micro-kernels in use (_sgemm.c: the rule, or set_isa()); NULL where the CPU has none */
const sgemm_kernels *sgemm_active(void);

#endif
