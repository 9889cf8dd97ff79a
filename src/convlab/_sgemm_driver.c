/* convlab._sgemm's blocked driver: packing, the loops around the micro-kernels, and the split of
 * a product over the persistent worker pool (_pool.h). The micro-kernels are the instruction
 * set's (_sgemm_avx512.c, _sgemm_avx2.c), named in each job; _sgemm.h has the algorithm.
 *
 *   for each block of NC columns of B:            B block (KC x NC) packed, lives in L2/L3
 *     for each block of KC rows of B / cols of A: A block (MC x KC) packed, lives in L2
 *       for each MR x NR tile of C:               the micro-kernel, C_tile += A_panel @ B_panel
 *
 * Packing copies A and B into the order the kernel reads them, so A and B may have any strides
 * (a transposed operand costs nothing extra); edges are zero-padded in the packs and written
 * back through a small buffer.
 *
 * Threads: a product is cut into blocks of whole NR-column tiles (two to four per thread, taken
 * by whichever thread is free), every C entry summed over k in the same order whatever the
 * thread count; a product with fewer than two column blocks per thread and a long k (a weight
 * gradient: few columns, the batch's pixels along k) is cut into one slice of k per thread
 * instead, whose partial sums are added in slice order: its rounding depends on the count.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "_sgemm.h"

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

/* columns [col0, col0 + nc) of a B whose column q is contiguous along k from b + boff[q], rows
 * [pc, pc + kc) -> panels of NR columns as pack_b lays them out (a weight gradient's columns read
 * from a flat grid, for the blocked loop) */
static void pack_b_cols(idx kc, idx nc, const float *b, const long long *boff, idx col0, idx pc, float *restrict out)
{
    for (idx j0 = 0; j0 < nc; j0 += NR, out += NR * kc) {
        idx nr = nc - j0 < NR ? nc - j0 : NR;
        for (idx j = 0; j < nr; j++) {
            const float *src = b + boff[col0 + j0 + j] + pc;
            for (idx p = 0; p < kc; p++) out[p * NR + j] = src[p];
        }
        for (idx p = 0; nr < NR && p < kc; p++)
            for (idx j = nr; j < NR; j++) out[p * NR + j] = 0.f;
    }
}

/* The "dot" form, for products whose operands both run along k (rows of A and columns of B
 * contiguous: a weight gradient grad_y @ columns^T, with k the batch's pixels): no packing,
 * the micro-kernel's DM x DN tiles of dot products, each summed over a slice of KD values of k. */
#ifndef DOT_MIN_K
#define DOT_MIN_K 1024
#endif

/* C (m x n) (+)= A @ B with A's rows and B's columns contiguous along k: A[i, p] = a[i * lda + p],
 * B[p, j] = bcol[j][p], taken `slice` values of k at a time (a cache-sized piece of A and B). */
static void run_dot(const sgemm_kernels *kern, idx m, idx n, idx k, idx slice, const float *a, idx lda,
                    const float *const *bcol, float *c, idx ldc, int accumulate)
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
                if (m - i0 >= DM && nr == DN) kern->dot_tile(kc, ap, lda, bp, cp, ldc, acc);
                else kern->dot_edge(kc, ap, lda, bp, cp, ldc, acc, m - i0 < DM ? m - i0 : DM, nr);
            }
        }
    }
}

/* A shifted B (see _sgemm.h and ops/conv_shift.py): row p of B starts at base + rowoff[p] (a
 * channel's row of the grid plus a kernel offset's shift), and column n, the grid position t of
 * sample s = n / span, lies at s * plane + t. Packing copies its panels from there, so the column
 * matrix is never built. */

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

/* C (+)= A @ B tile by tile, for a C tile and its MR rows of A: the kernel straight into C, or
 * through a buffer for an edge tile (mr < MR or nr < NR) */
static void tile_product(const sgemm_kernels *kern, idx kc, const float *apanel, const float *bpanel, const float *const *rows, idx off, float *c,
                         idx ldc, int acc, idx mr, idx nr)
{
    float tile[MR * NR] __attribute__((aligned(64)));
    if (mr == MR && nr == NR) {
        if (rows) kern->tile_rows(kc, apanel, rows, off, c, ldc, acc);
        else kern->tile(kc, apanel, bpanel, c, ldc, acc);
        return;
    }
    if (rows) kern->tile_rows(kc, apanel, rows, off, tile, NR, 0);
    else kern->tile(kc, apanel, bpanel, tile, NR, 0);
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
                        tile_product(j->kern, kc, j->apack + ir * kc, j->bpack, direct ? rows : NULL,
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
    if ((j->boff && !j->boff_packed) || (!j->boff && !j->sb && j->csa == 1 && j->rsb == 1 && j->k >= DOT_MIN_K)) {
        /* the dot form; the packing buffer holds the column pointers, a block of columns at a time.
         * Columns from an offset table (a weight gradient read from a flat grid) come in chunks the
         * caller sized to the cache: their sums stay in registers over the whole of k. */
        const float **bcol = (const float **)j->bpack;
        idx cap = BPACK_FLOATS * sizeof(float) / sizeof(*bcol);
        for (idx q0 = 0; q0 < j->n; q0 += cap) {
            idx nq = j->n - q0 < cap ? j->n - q0 : cap;
            for (idx q = 0; q < nq; q++)
                bcol[q] = j->boff ? j->b + j->boff[j->col0 + q0 + q] : j->b + (q0 + q) * j->csb;
            run_dot(j->kern, j->m, nq, j->k, j->boff ? j->k : KD, j->a, j->rsa, bcol, j->c + q0, j->ldc, j->accumulate);
        }
        return;
    }
    for (idx jc = 0; jc < j->n; jc += NC) {
        idx nc = j->n - jc < NC ? j->n - jc : NC;
        for (idx pc = 0; pc < j->k; pc += KC) {
            idx kc = j->k - pc < KC ? j->k - pc : KC;
            int acc = j->accumulate || pc > 0;
            if (j->boff) pack_b_cols(kc, nc, j->b, j->boff, j->col0 + jc, pc, j->bpack);
            else pack_b(kc, nc, j->b + pc * j->rsb + jc * j->csb, j->rsb, j->csb, j->bpack);
            for (idx ic = 0; ic < j->m; ic += MC) {
                idx mc = j->m - ic < MC ? j->m - ic : MC;
                pack_a(mc, kc, j->a + ic * j->rsa + pc * j->csa, j->rsa, j->csa, j->apack);
                for (idx jr = 0; jr < nc; jr += NR) {
                    idx nr = nc - jr < NR ? nc - jr : NR;
                    for (idx ir = 0; ir < mc; ir += MR)
                        tile_product(j->kern, kc, j->apack + ir * kc, j->bpack + jr * kc, NULL, 0,
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

/* One product cut into parts for the pool: blocks of whole NR-column tiles or of whole MR-row
 * panels (every C entry summed over k in the same order whatever the cut), or slices of k (part 0
 * into C, the others into partial sums added after in part order). */
typedef struct {
    job whole;
    int split_k, split_m;
    idx per;           /* columns (a multiple of NR), rows (a multiple of MR) or values of k per part */
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
    } else if (pl->split_m) {
        idx m0 = pl->per * part, m1 = m0 + pl->per < pl->whole.m ? m0 + pl->per : pl->whole.m;
        if (m0 >= m1) return;
        j.a = j.a + m0 * j.rsa;
        j.c = j.c + m0 * j.ldc;
        j.m = m1 - m0;
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

int sgemm_run_here(job j)
{
    if (thread_buffers(&j.apack, &j.bpack)) return -1;
    run(&j);
    return 0;
}

void sgemm_parallel(sgemm_task task, void *ctx, idx parts, int threads) { pool_run(task, ctx, parts, threads); }

/* Split the product over threads: by blocks of rows when the columns are too few to share out
 * evenly (under four blocks per thread) and the rows are not (at least four panels per thread):
 * a batch-1 convolution's late layers, 512 channels on a 7x7 grid's 63 columns, where a column
 * split gave one thread 48 columns and the other 15; else by blocks of columns when there are at
 * least two per thread (up to four per thread, so that a late thread's share is taken by the
 * others), else, for a long k (a weight gradient: few columns, the batch's pixels along k), by
 * one slice of k per thread; returns 0, or -1 when out of memory. Rows and columns keep every
 * sum in one order at any thread count; only the slices of k do not. */
int sgemm_run(job whole, int threads)
{
    if (whole.m == 0 || whole.n == 0) return 0;
    idx col_blocks = (whole.n + NR - 1) / NR, row_blocks = (whole.m + MR - 1) / MR, parts = 1;
    plan pl = {.whole = whole, .split_k = 0, .split_m = 0, .per = whole.n, .partial = NULL, .failed = 0};
    if (threads > 1) {
        if (col_blocks < 4 * threads && row_blocks >= 4 * threads) {
            pl.split_m = 1;
            parts = 4 * threads;
            pl.per = (row_blocks + parts - 1) / parts * MR;
            parts = (whole.m + pl.per - 1) / pl.per;
        } else if (col_blocks >= 2 * threads || (whole.columns_only && col_blocks >= 2)) {
            parts = col_blocks < 4 * threads ? col_blocks : 4 * threads;
            pl.per = (col_blocks + parts - 1) / parts * NR;
            parts = (whole.n + pl.per - 1) / pl.per;
        } else if (whole.k >= 4 * KC * threads && !whole.sb && !whole.columns_only) {
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
