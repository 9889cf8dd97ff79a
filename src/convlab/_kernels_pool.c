/* convlab._kernels' 2-D max pooling (see _kernels.h; the Python side is ops/pool.py).
 *
 * Forward: each window's maximum and the number of the kernel offset it came from (row-major,
 * ky * kw + kx), one output row of one (sample, channel) plane at a time. The row's maxima start
 * as offset 0's values and each later offset replaces an entry only when strictly greater, so
 * ties go to the first maximum in row-major order, as torch's; a NaN replaces a non-NaN, and
 * nothing replaces a NaN, so the first NaN in a window wins. Padding reads as -inf: it is never
 * strictly greater than anything, so only offset 0 of a window can take it (a window whose
 * input cells are all -inf), exactly as NumPy's padded path does.
 *
 * Why one pass: NumPy runs a running maximum over the kernel offsets' strided views and then a
 * second walk to find the argmax, about three passes over the input per offset (for 2 x 2
 * windows, a dozen passes in all, plus a NaN check); here every input value is read once per
 * window that holds it, and each output row stays in the L1 cache while its offsets are taken.
 *
 * Backward: max pooling's derivative is 1 at the window's argmax and 0 elsewhere, so
 * grad_x[argmax cell] += grad_y. The adds run offset by offset, as NumPy's path sums its
 * scattered windows, so overlapping windows add into a cell in the same order.
 *
 * Both are cut over (sample, channel) planes: the same bits on any thread count.
 */
#include <math.h>
#include <string.h>

#include "_kernels.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define POOL_AVX512 1
#endif

/* -1: not chosen yet; 1: the AVX-512 loops (the CPU has AVX-512F); 0: the portable ones.
 * set_pool_simd() forces either, for the tests. */
static int pool_simd = -1;

static int use_simd(void)
{
#ifdef POOL_AVX512
    if (pool_simd < 0) {
        __builtin_cpu_init();
        pool_simd = __builtin_cpu_supports("avx512f") != 0;
    }
    return pool_simd;
#else
    return 0;
#endif
}

int set_pool_simd(int on)
{
#ifdef POOL_AVX512
    __builtin_cpu_init();
    if (on && !__builtin_cpu_supports("avx512f")) return -1;
    pool_simd = on != 0;
    return 0;
#else
    return on ? -1 : 0;
#endif
}

int get_pool_simd(void) { return use_simd(); }

/* offset i's values row[o * sw + off] for outputs o in [lo, hi) against the row's maxima so
 * far: strictly greater, or a NaN over a non-NaN, takes the place (computed without branches:
 * whether a value wins is data, and a mispredicted branch per value cost 4 ns, 4x NumPy) */
static inline __attribute__((always_inline)) void max_update(idx lo, idx hi, idx sw, const float *restrict row,
                                                              idx off, signed char i, float *restrict best,
                                                              signed char *restrict arg)
{
    for (idx o = lo; o < hi; o++) {
        float v = row[o * sw + off], b = best[o];
        int take = (v > b) | ((v != v) & (b == b));
        best[o] = take ? v : b;
        arg[o] = take ? i : arg[o];
    }
}

/* the output columns [lo[kx], hi[kx]) whose input column lies inside the row, per kx: worked out
 * once per pass (two integer divisions each cost more than a short row's maxima) */
static void column_ranges(const geometry2d *g, idx *lo, idx *hi)
{
    for (idx kx = 0; kx < g->kw; kx++) valid_range(g->ow, g->sw, kx * g->dw - g->pw, g->w, &lo[kx], &hi[kx]);
}

/* the row of maxima for output row oy of plane x (h x w): best[ox], arg[ox] over every offset */
CLONES static void max_row(const geometry2d *g, const idx *los, const idx *his, const float *x, idx oy,
                           float *restrict best, signed char *restrict arg)
{
    for (idx ox = 0; ox < g->ow; ox++) { /* what a window reading only padding keeps: -inf, offset 0 */
        best[ox] = -INFINITY;
        arg[ox] = 0;
    }
    for (idx ky = 0; ky < g->kh; ky++) {
        idx iy = oy * g->sh + ky * g->dh - g->ph;
        if (iy < 0 || iy >= g->h) continue; /* padding rows: -inf, never strictly greater */
        const float *row = x + iy * g->w;
        for (idx kx = 0; kx < g->kw; kx++) {
            idx off = kx * g->dw - g->pw, lo = los[kx], hi = his[kx];
            signed char i = (signed char)(ky * g->kw + kx);
            if (i == 0) { /* offset 0 takes its cells whatever they hold (-inf included) */
                for (idx ox = lo; ox < hi; ox++) best[ox] = row[ox * g->sw + off];
                continue;
            }
            /* constant strides, so that the compiler vectorises the loads */
            if (g->sw == 1) max_update(lo, hi, 1, row, off, i, best, arg);
            else if (g->sw == 2) max_update(lo, hi, 2, row, off, i, best, arg);
            else max_update(lo, hi, g->sw, row, off, i, best, arg);
        }
    }
}

#ifdef POOL_AVX512
/* The AVX-512 forward: 16 outputs of a row at a time, their maxima and offsets held in registers
 * over every kernel offset and stored once (a pooled row is short, 14 outputs in LeNet-5: the
 * compiler's vector loop never started on it, and the scalar loop below runs 4x NumPy's time).
 * Masks keep every read and write inside the row. Measured on the 2-vCPU Zen 5 VM, one thread,
 * ms forward (NumPy / this): (128, 6, 28, 28) 2x2 0.51 / 0.21, (128, 32, 32, 32) 2x2 6.1 / 1.2,
 * (16, 64, 112, 112) 3x3/2 pad 1 27 / 14. The backward's scattered adds gained nothing from
 * vectors (a block of a short row held too few of them): the scalar loop below runs it. */
#define POOL_TARGET __attribute__((target("avx512f")))

/* lanes j of the block starting at output o0 with lo <= o0 + j < hi */
static inline __mmask16 lanes(idx o0, idx lo, idx hi)
{
    idx a = lo - o0 > 0 ? lo - o0 : 0, b = hi - o0 < 16 ? hi - o0 : 16;
    return b <= a ? 0 : (__mmask16)(((1u << b) - 1) & ~((1u << a) - 1));
}

/* bit j of an 8-bit mask to bit 2j: the lanes of the even floats among 16 */
static inline __mmask16 spread8(unsigned x)
{
    x &= 0xFF;
    x = (x | (x << 4)) & 0x0F0F;
    x = (x | (x << 2)) & 0x3333;
    x = (x | (x << 1)) & 0x5555;
    return (__mmask16)x;
}

/* row[(o0 + j) * sw + off] for the lanes in m, `fill` elsewhere: one load at stride 1, two loads
 * and a shuffle of their even lanes at stride 2 (2 x 2 pooling, 3 x 3 / 2), else a gather */
static inline POOL_TARGET __m512 load_at(const float *row, idx o0, idx sw, idx off, __mmask16 m, __m512 fill)
{
    if (sw == 1) return _mm512_mask_loadu_ps(fill, m, row + o0 + off);
    if (sw == 2) {
        const float *base = row + 2 * o0 + off;
        __m512 lo = _mm512_mask_loadu_ps(fill, spread8(m), base), hi = _mm512_mask_loadu_ps(fill, spread8(m >> 8), base + 16);
        return _mm512_permutex2var_ps(lo, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), hi);
    }
    __m512i at = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                                                          10, 11, 12, 13, 14, 15),
                                                                         _mm512_set1_epi32((int)o0)),
                                                        _mm512_set1_epi32((int)sw)),
                                  _mm512_set1_epi32((int)off));
    return _mm512_mask_i32gather_ps(fill, m, at, row, 4);
}

POOL_TARGET static void max_plane_avx512(const geometry2d *g, const idx *los, const idx *his, const float *x,
                                         float *best, signed char *arg)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (idx oy = 0; oy < g->oh; oy++)
        for (idx o0 = 0; o0 < g->ow; o0 += 16) {
            __m512 b = ninf; /* a window reading only padding keeps -inf and offset 0 */
            __m512i a = _mm512_setzero_si512();
            for (idx ky = 0; ky < g->kh; ky++) {
                idx iy = oy * g->sh + ky * g->dh - g->ph;
                if (iy < 0 || iy >= g->h) continue;
                for (idx kx = 0; kx < g->kw; kx++) {
                    idx i = ky * g->kw + kx;
                    __mmask16 m = lanes(o0, los[kx], his[kx]);
                    __m512 v = load_at(x + iy * g->w, o0, g->sw, kx * g->dw - g->pw, m, ninf);
                    if (i == 0) { /* offset 0 takes its cells whatever they hold */
                        b = v;
                        continue;
                    }
                    __mmask16 take = _mm512_cmp_ps_mask(v, b, _CMP_GT_OQ) |
                                     (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(b, b, _CMP_ORD_Q));
                    b = _mm512_mask_mov_ps(b, take, v);
                    a = _mm512_mask_mov_epi32(a, take, _mm512_set1_epi32((int)i));
                }
            }
            idx o = oy * g->ow + o0;
            __mmask16 out = lanes(o0, 0, g->ow);
            _mm512_mask_storeu_ps(best + o, out, b);
            _mm512_mask_cvtepi32_storeu_epi8(arg + o, out, a);
        }
}

#endif

void maxpool_loop(idx p0, idx p1, const geometry2d *g, const float *x, float *best, signed char *arg)
{
    idx lo[128], hi[128]; /* kw <= kh * kw < 128 (checked by the caller) */
    column_ranges(g, lo, hi);
#ifdef POOL_AVX512
    if (use_simd()) {
        for (idx p = p0; p < p1; p++)
            max_plane_avx512(g, lo, hi, x + p * g->h * g->w, best + p * g->oh * g->ow, arg + p * g->oh * g->ow);
        return;
    }
#endif
    for (idx p = p0; p < p1; p++)
        for (idx oy = 0; oy < g->oh; oy++) {
            idx o = (p * g->oh + oy) * g->ow;
            max_row(g, lo, hi, x + p * g->h * g->w, oy, best + o, arg + o);
        }
}

/* gx[cell of offset i] += gy where the window's argmax is i, else += 0 (no branch, as above) */
static inline __attribute__((always_inline)) void route_back(idx lo, idx hi, idx sw, float *restrict row, idx off,
                                                              signed char i, const float *restrict gr,
                                                              const signed char *restrict ar)
{
    for (idx o = lo; o < hi; o++) row[o * sw + off] += ar[o] == i ? gr[o] : 0.f;
}

CLONES void maxpool_backward_loop(idx p0, idx p1, const geometry2d *g, const float *gy, const signed char *arg,
                                  float *gx)
{
    idx los[128], his[128];
    column_ranges(g, los, his);
    for (idx p = p0; p < p1; p++) {
        float *dst = gx + p * g->h * g->w;
        const float *src = gy + p * g->oh * g->ow;
        const signed char *a = arg + p * g->oh * g->ow;
        memset(dst, 0, sizeof(float) * g->h * g->w);
        for (idx ky = 0; ky < g->kh; ky++)
            for (idx kx = 0; kx < g->kw; kx++) {
                idx off = kx * g->dw - g->pw, lo = los[kx], hi = his[kx];
                signed char i = (signed char)(ky * g->kw + kx);
                for (idx oy = 0; oy < g->oh; oy++) {
                    idx iy = oy * g->sh + ky * g->dh - g->ph;
                    if (iy < 0 || iy >= g->h) continue;
                    float *row = dst + iy * g->w;
                    const float *gr = src + oy * g->ow;
                    const signed char *ar = a + oy * g->ow;
                    if (g->sw == 1) route_back(lo, hi, 1, row, off, i, gr, ar);
                    else if (g->sw == 2) route_back(lo, hi, 2, row, off, i, gr, ar);
                    else route_back(lo, hi, g->sw, row, off, i, gr, ar);
                }
            }
    }
}
