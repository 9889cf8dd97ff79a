/* convlab._sgemm_bf16's packing, micro-kernels and driver (the algorithm: _sgemm_bf16.h).
 *
 * The blocking is the float32 GEMM's (_sgemm_driver.c: Goto's loops, NC x KC blocks of B, MC x KC
 * of A, MR x NR tiles), with one difference: every panel of B is packed, also from a flat grid,
 * because packing is where the float32 values become bfloat16 pairs. Each B block is packed once
 * and used by every block of A's rows.
 *
 * Functions that use the bfloat16 instructions carry a target attribute, so the module builds
 * with any x86-64 compiler flags and loads on any CPU; _sgemm_bf16.c runs them only where
 * bf_cpu_ok().
 */
#include <immintrin.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "_sgemm_bf16.h"

#define BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

int bf_cpu_ok(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
}

static __mmask16 lanes(idx count) { return count >= 16 ? 0xFFFF : count <= 0 ? 0 : (__mmask16)((1u << count) - 1); }

/* word l = bf16(hi[l]) << 16 | bf16(lo[l]) for l < count (<= 16), zero past it: the pairs
 * (lo, hi) = (B[2q, j], B[2q + 1, j]) rounded to nearest even; hi NULL reads as zeros */
static inline __attribute__((always_inline)) BF16 __m512i pair_words(const float *lo, const float *hi, idx count)
{
    /* the 16-bit lanes of [bf16(lo[0..15]), bf16(hi[0..15])] in the order lo0 hi0 lo1 hi1 ... */
    static const uint16_t interleave[32] __attribute__((aligned(64))) = {
        0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    __mmask16 m = lanes(count);
    __m512 l = _mm512_maskz_loadu_ps(m, lo), h = hi ? _mm512_maskz_loadu_ps(m, hi) : _mm512_setzero_ps();
    __m512i both = (__m512i)_mm512_cvtne2ps_pbh(h, l);
    return _mm512_permutexvar_epi16(_mm512_load_si512(interleave), both);
}

/* A block (mc x kc, strides rs, cs) -> panels of MR rows of pair words, out[panel][q][i]; zero rows past mc */
static BF16 void pack_a(idx mc, idx kc, const float *a, idx rs, idx cs, uint32_t *restrict out)
{
    idx kq = (kc + 1) / 2;
    for (idx i0 = 0; i0 < mc; i0 += BF_MR, out += BF_MR * kq) {
        idx mr = mc - i0 < BF_MR ? mc - i0 : BF_MR;
        for (idx q = 0; q < kq; q++) {
            float lo[BF_MR], hi[BF_MR];
            for (idx i = 0; i < mr; i++) {
                const float *src = a + (i0 + i) * rs + 2 * q * cs;
                lo[i] = src[0];
                hi[i] = 2 * q + 1 < kc ? src[cs] : 0.f;
            }
            _mm256_storeu_si256((__m256i *)(out + q * BF_MR), _mm512_castsi512_si256(pair_words(lo, hi, mr)));
        }
    }
}

/* one group of NR pair words from B's rows 2q and 2q+1 (lo, hi: nr contiguous floats each, hi
 * NULL past an odd k's end); zero columns past nr */
static inline __attribute__((always_inline)) BF16 void pack_group(const float *lo, const float *hi, idx nr, uint32_t *out)
{
    for (idx v = 0; v < BF_NR; v += 16)
        _mm512_storeu_si512(out + v, pair_words(lo + v, hi ? hi + v : NULL, nr - v));
}

/* B block (kc x nc, strides rs, cs) -> panels of NR columns of pair words, out[panel][q][j] */
static BF16 void pack_b(idx kc, idx nc, const float *b, idx rs, idx cs, uint32_t *restrict out)
{
    idx kq = (kc + 1) / 2;
    float lo[BF_NR], hi[BF_NR];
    for (idx j0 = 0; j0 < nc; j0 += BF_NR, out += BF_NR * kq) {
        idx nr = nc - j0 < BF_NR ? nc - j0 : BF_NR;
        for (idx q = 0; q < kq; q++) {
            int odd_end = 2 * q + 1 >= kc;
            const float *r = b + 2 * q * rs + j0 * cs;
            if (cs == 1) {
                pack_group(r, odd_end ? NULL : r + rs, nr, out + q * BF_NR);
                continue;
            }
            for (idx j = 0; j < nr; j++) { /* a transposed or strided operand: gathered first */
                lo[j] = r[j * cs];
                hi[j] = odd_end ? 0.f : r[j * cs + rs];
            }
            pack_group(lo, hi, nr, out + q * BF_NR);
        }
    }
}

/* one panel, columns [col0, col0 + nr) of rows [0, kc) of a shifted B (rowoff: its rows' offsets) */
static BF16 void pack_panel_shifted(idx kc, idx nr, const bf_shifted *sb, const long long *rowoff, idx col0,
                                    uint32_t *restrict out)
{
    idx seg_dst[BF_NR], seg_src[BF_NR], seg_len[BF_NR], nseg = 0;
    for (idx j = 0; j < nr;) { /* the panel's runs of columns within one sample */
        idx g = col0 + j, s = g / sb->span, t = g % sb->span, len = sb->span - t;
        if (len > nr - j) len = nr - j;
        seg_dst[nseg] = j;
        seg_src[nseg] = s * sb->plane + t;
        seg_len[nseg++] = len;
        j += len;
    }
    float lo[BF_NR], hi[BF_NR];
    for (idx q = 0; q < (kc + 1) / 2; q++) {
        const float *r0 = sb->base + rowoff[2 * q], *r1 = 2 * q + 1 < kc ? sb->base + rowoff[2 * q + 1] : NULL;
        if (nseg == 1) { /* within one sample: straight from the grid's two rows */
            pack_group(r0 + seg_src[0], r1 ? r1 + seg_src[0] : NULL, nr, out + q * BF_NR);
            continue;
        }
        for (idx s = 0; s < nseg; s++) {
            memcpy(lo + seg_dst[s], r0 + seg_src[s], seg_len[s] * sizeof(float));
            if (r1) memcpy(hi + seg_dst[s], r1 + seg_src[s], seg_len[s] * sizeof(float));
        }
        pack_group(lo, r1 ? hi : NULL, nr, out + q * BF_NR);
    }
}

/* C[0:MR, 0:NR] = (accumulate ? C : 0) + A @ B over kq pairs of k; a, b packed panels */
static BF16 void tile(idx kq, const uint32_t *restrict a, const uint32_t *restrict b, float *restrict c, idx ldc,
                      int accumulate)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00, c21 = c00,
           c22 = c00, c30 = c00, c31 = c00, c32 = c00, c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00,
           c52 = c00, c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
    for (idx q = 0; q < kq; q++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16),
                 b2 = (__m512bh)_mm512_loadu_si512(b + 32), t;
        b += BF_NR;
#define ROW(i)                                              \
    t = (__m512bh)_mm512_set1_epi32((int)a[i]);             \
    c##i##0 = _mm512_dpbf16_ps(c##i##0, t, b0);             \
    c##i##1 = _mm512_dpbf16_ps(c##i##1, t, b1);             \
    c##i##2 = _mm512_dpbf16_ps(c##i##2, t, b2);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
        a += BF_MR;
    }
#define STORE(i)                                                       \
    {                                                                  \
        float *r = c + (i) * ldc;                                      \
        if (accumulate) {                                              \
            c##i##0 = _mm512_add_ps(c##i##0, _mm512_loadu_ps(r));      \
            c##i##1 = _mm512_add_ps(c##i##1, _mm512_loadu_ps(r + 16)); \
            c##i##2 = _mm512_add_ps(c##i##2, _mm512_loadu_ps(r + 32)); \
        }                                                              \
        _mm512_storeu_ps(r, c##i##0);                                  \
        _mm512_storeu_ps(r + 16, c##i##1);                             \
        _mm512_storeu_ps(r + 32, c##i##2);                             \
    }
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)
#undef STORE
}

/* a tile of mr x nr (<= MR x NR) entries: straight into C when whole, else through a buffer */
static void tile_product(idx kq, const uint32_t *a, const uint32_t *b, float *c, idx ldc, int acc, idx mr, idx nr)
{
    float t[BF_MR * BF_NR] __attribute__((aligned(64)));
    if (mr == BF_MR && nr == BF_NR) {
        tile(kq, a, b, c, ldc, acc);
        return;
    }
    tile(kq, a, b, t, BF_NR, 0);
    for (idx i = 0; i < mr; i++)
        for (idx q = 0; q < nr; q++) c[i * ldc + q] = (acc ? c[i * ldc + q] : 0.f) + t[i * BF_NR + q];
}

/* x[0, count) -> bfloat16 at out[0, count) (nearest even), 32 at a time */
static BF16 void to_bf16(const float *x, idx count, uint16_t *restrict out)
{
    idx p = 0;
    for (; p + 32 <= count; p += 32)
        _mm512_storeu_si512(out + p, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + p + 16), _mm512_loadu_ps(x + p)));
    if (p < count) {
        idx r = count - p;
        __m512i v = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(lanes(r - 16), x + p + 16),
                                                 _mm512_maskz_loadu_ps(lanes(r), x + p));
        _mm512_mask_storeu_epi16(out + p, r >= 32 ? ~0u : (__mmask32)((1u << r) - 1), v);
    }
}

/* the dot form's DM x DN tile (mr x nr of it stored): C = (acc ? C : 0) + A . B over kc values of
 * k, on bfloat16 rows of A (a + i * lda) and columns of B (b[j]): 32 values a load, lane l holding
 * the pair (2l, 2l + 1) of both; the last partial load masked. Rows and columns past the edge
 * repeat the first one and are not stored. */
static BF16 void dot_tile(idx kc, const uint16_t *a, idx lda, const uint16_t *const *b, float *c, idx ldc,
                          int accumulate, idx mr, idx nr)
{
    const uint16_t *a0 = a, *a1 = a + (mr > 1) * lda, *a2 = a + (mr > 2) * 2 * lda, *a3 = a + (mr > 3) * 3 * lda;
    const uint16_t *b0 = b[0], *b1 = b[nr > 1], *b2 = b[(nr > 2) * 2], *b3 = b[(nr > 3) * 3], *b4 = b[(nr > 4) * 4],
                   *b5 = b[(nr > 5) * 5];
    /* 24 named accumulators: GCC kept an array of them in memory, a store after every VDPBF16PS */
#define ZERO(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = c##i##0, c##i##2 = c##i##0, c##i##3 = c##i##0, \
                       c##i##4 = c##i##0, c##i##5 = c##i##0;
    ZERO(0) ZERO(1) ZERO(2) ZERO(3)
#undef ZERO
    for (idx p = 0; p < kc; p += 32) {
        __mmask32 m = kc - p >= 32 ? ~0u : (__mmask32)((1u << (kc - p)) - 1);
        __m512bh v0 = (__m512bh)_mm512_maskz_loadu_epi16(m, a0 + p), v1 = (__m512bh)_mm512_maskz_loadu_epi16(m, a1 + p),
                 v2 = (__m512bh)_mm512_maskz_loadu_epi16(m, a2 + p), v3 = (__m512bh)_mm512_maskz_loadu_epi16(m, a3 + p), w;
#define COL(j)                                                \
    w = (__m512bh)_mm512_maskz_loadu_epi16(m, b##j + p);      \
    c0##j = _mm512_dpbf16_ps(c0##j, v0, w);                   \
    c1##j = _mm512_dpbf16_ps(c1##j, v1, w);                   \
    c2##j = _mm512_dpbf16_ps(c2##j, v2, w);                   \
    c3##j = _mm512_dpbf16_ps(c3##j, v3, w);
        COL(0) COL(1) COL(2) COL(3) COL(4) COL(5)
#undef COL
    }
    float sum[BF_DM][BF_DN];
#define REDUCE(i)                                 \
    sum[i][0] = _mm512_reduce_add_ps(c##i##0);    \
    sum[i][1] = _mm512_reduce_add_ps(c##i##1);    \
    sum[i][2] = _mm512_reduce_add_ps(c##i##2);    \
    sum[i][3] = _mm512_reduce_add_ps(c##i##3);    \
    sum[i][4] = _mm512_reduce_add_ps(c##i##4);    \
    sum[i][5] = _mm512_reduce_add_ps(c##i##5);
    REDUCE(0) REDUCE(1) REDUCE(2) REDUCE(3)
#undef REDUCE
    for (idx i = 0; i < mr; i++)
        for (idx j = 0; j < nr; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum[i][j] : sum[i][j];
}

static int by_address(const void *x, const void *y)
{
    const float *p = **(const float *const *const *)x, *q = **(const float *const *const *)y;
    return p < q ? -1 : p > q;
}

/* C (m x n) (+)= A @ B, A's rows and B's columns (bcol) contiguous along k, `slice` values of k at
 * a time. Each slice is rounded to bfloat16 once before its dot products: A's rows, and the
 * stretches of memory B's columns read, merged where they overlap (a flat grid's columns are one
 * channel's row shifted by the kernel offsets: 9 columns, one stretch). Returns -1 when out of memory. */
static int run_dot(idx m, idx n, idx k, idx slice, const float *a, idx lda, const float **bcol, float *c, idx ldc,
                   int accumulate)
{
    idx kc0 = k < slice ? k : slice;
    const float ***order = malloc(n * sizeof(*order));
    const uint16_t **b16 = malloc(n * sizeof(*b16));
    uint16_t *a16 = malloc((m * kc0 + 32) * sizeof(uint16_t)), *s16 = malloc((n * kc0 + 32) * sizeof(uint16_t));
    int status = order && b16 && a16 && s16 ? 0 : -1;
    for (idx p0 = 0; p0 < k && !status; p0 += slice) {
        idx kc = k - p0 < slice ? k - p0 : slice;
        for (idx i = 0; i < m; i++) to_bf16(a + i * lda + p0, kc, a16 + i * kc);
        for (idx j = 0; j < n; j++) order[j] = &bcol[j];
        qsort(order, n, sizeof(*order), by_address);
        uint16_t *dst = s16;
        for (idx q = 0; q < n;) { /* one stretch: the columns whose reads overlap or touch */
            const float *lo = *order[q] + p0, *hi = lo + kc;
            idx r = q + 1;
            for (; r < n && *order[r] + p0 <= hi; r++)
                if (*order[r] + p0 + kc > hi) hi = *order[r] + p0 + kc;
            to_bf16(lo, hi - lo, dst);
            for (idx t = q; t < r; t++) b16[order[t] - bcol] = dst + (*order[t] + p0 - lo);
            dst += hi - lo;
            q = r;
        }
        int acc = accumulate || p0 > 0;
        for (idx j0 = 0; j0 < n; j0 += BF_DN)
            for (idx i0 = 0; i0 < m; i0 += BF_DM)
                dot_tile(kc, a16 + i0 * kc, kc, b16 + j0, c + i0 * ldc + j0, ldc, acc, m - i0 < BF_DM ? m - i0 : BF_DM,
                         n - j0 < BF_DN ? n - j0 : BF_DN);
    }
    free(order);
    free(b16);
    free(a16);
    free(s16);
    return status;
}

/* the serial algorithm on one job; -1 when out of memory */
static int run(const bf_job *j)
{
    if (j->boff || (!j->sb && j->csa == 1 && j->rsb == 1 && j->k >= BF_DOT_MIN_K)) {
        const float **bcol = (const float **)j->bpack; /* the pack buffer holds the column pointers */
        idx cap = BF_BPACK_WORDS * sizeof(uint32_t) / sizeof(*bcol);
        for (idx q0 = 0; q0 < j->n; q0 += cap) {
            idx nq = j->n - q0 < cap ? j->n - q0 : cap;
            for (idx q = 0; q < nq; q++)
                bcol[q] = j->boff ? j->b + j->boff[j->col0 + q0 + q] : j->b + (q0 + q) * j->csb;
            if (run_dot(j->m, nq, j->k, j->boff ? j->k : BF_KD, j->a, j->rsa, bcol, j->c + q0, j->ldc, j->accumulate))
                return -1;
        }
        return 0;
    }
    for (idx jc = 0; jc < j->n; jc += BF_NC) {
        idx nc = j->n - jc < BF_NC ? j->n - jc : BF_NC;
        for (idx pc = 0; pc < j->k; pc += BF_KC) {
            idx kc = j->k - pc < BF_KC ? j->k - pc : BF_KC, kq = (kc + 1) / 2;
            int acc = j->accumulate || pc > 0;
            if (j->sb)
                for (idx jr = 0; jr < nc; jr += BF_NR)
                    pack_panel_shifted(kc, nc - jr < BF_NR ? nc - jr : BF_NR, j->sb, j->sb->rowoff + pc,
                                       j->col0 + jc + jr, j->bpack + jr * kq);
            else
                pack_b(kc, nc, j->b + pc * j->rsb + jc * j->csb, j->rsb, j->csb, j->bpack);
            for (idx ic = 0; ic < j->m; ic += BF_MC) {
                idx mc = j->m - ic < BF_MC ? j->m - ic : BF_MC;
                pack_a(mc, kc, j->a + ic * j->rsa + pc * j->csa, j->rsa, j->csa, j->apack);
                for (idx jr = 0; jr < nc; jr += BF_NR)
                    for (idx ir = 0; ir < mc; ir += BF_MR)
                        tile_product(kq, j->apack + ir * kq, j->bpack + jr * kq, j->c + (ic + ir) * j->ldc + jc + jr,
                                     j->ldc, acc, mc - ir < BF_MR ? mc - ir : BF_MR, nc - jr < BF_NR ? nc - jr : BF_NR);
            }
        }
    }
    return 0;
}

/* packing buffers, one pair per thread, allocated on the thread's first product and kept */
static __thread uint32_t *tls_apack, *tls_bpack;

static int thread_buffers(uint32_t **apack, uint32_t **bpack)
{
    if (!tls_apack) tls_apack = aligned_alloc(64, BF_APACK_WORDS * sizeof(uint32_t));
    if (!tls_bpack) tls_bpack = aligned_alloc(64, BF_BPACK_WORDS * sizeof(uint32_t));
    *apack = tls_apack;
    *bpack = tls_bpack;
    return tls_apack && tls_bpack ? 0 : -1;
}

/* a product cut into parts: blocks of whole NR-column tiles, or slices of k (part 0 into C, the
 * others into partial sums added after, in part order) */
typedef struct {
    bf_job whole;
    int split_k;
    idx per;
    float *partial;
    _Atomic int failed;
} bf_plan;

#include "_pool.h"

static void run_part(void *arg, idx part)
{
    bf_plan *pl = arg;
    bf_job j = pl->whole;
    if (thread_buffers(&j.apack, &j.bpack)) {
        pl->failed = 1;
        return;
    }
    if (pl->split_k) {
        idx k0 = pl->per * part, k1 = k0 + pl->per < j.k ? k0 + pl->per : j.k;
        if (k0 >= k1) return;
        j.a += k0 * j.csa;
        j.b += k0 * j.rsb;
        j.k = k1 - k0;
        if (part > 0) {
            j.c = pl->partial + (part - 1) * j.m * j.n;
            j.ldc = j.n;
            j.accumulate = 0;
        }
    } else {
        idx n0 = pl->per * part, n1 = n0 + pl->per < j.n ? n0 + pl->per : j.n;
        if (n0 >= n1) return;
        if (!j.sb && !j.boff) j.b += n0 * j.csb;
        j.col0 += n0;
        j.c += n0;
        j.n = n1 - n0;
    }
    if (run(&j)) pl->failed = 1;
}

/* The float32 GEMM's split (_sgemm_driver.c): by blocks of columns when there are at least two
 * per thread, else (a long k: a weight gradient) one slice of k per thread */
int bf_run(bf_job whole, int threads)
{
    if (whole.m == 0 || whole.n == 0) return 0;
    idx col_blocks = (whole.n + BF_NR - 1) / BF_NR, parts = 1;
    bf_plan pl = {.whole = whole, .split_k = 0, .per = whole.n, .partial = NULL, .failed = 0};
    if (threads > 1) {
        if (col_blocks >= 2 * threads) {
            parts = col_blocks < 4 * threads ? col_blocks : 4 * threads;
            pl.per = (col_blocks + parts - 1) / parts * BF_NR;
            parts = (whole.n + pl.per - 1) / pl.per;
        } else if (whole.k >= 4 * BF_KC * threads && !whole.sb) {
            pl.split_k = 1;
            pl.per = (whole.k / threads + BF_KC - 1) / BF_KC * BF_KC;
            parts = (whole.k + pl.per - 1) / pl.per;
            pl.partial = malloc(sizeof(float) * (parts - 1) * whole.m * whole.n);
            if (!pl.partial) return -1;
        }
    }
    pool_run(run_part, &pl, parts, threads);
    if (pl.split_k) {
        for (idx t = 1; t < parts; t++)
            for (idx i = 0; i < whole.m; i++) {
                float *dst = whole.c + i * whole.ldc;
                const float *src = pl.partial + ((t - 1) * whole.m + i) * whole.n;
                for (idx q = 0; q < whole.n; q++) dst[q] += src[q];
            }
        free(pl.partial);
    }
    return pl.failed ? -1 : 0;
}
