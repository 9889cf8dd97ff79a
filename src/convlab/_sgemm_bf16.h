/* convlab._sgemm_bf16's shared definitions: a float32 GEMM, C (+)= A @ B, whose products run on
 * bfloat16 copies of A and B with float32 sums (torch's "medium" float32 matmul precision, on
 * CPUs with AVX512_BF16). The Python functions are in _sgemm_bf16.c; packing, the micro-kernels
 * and the thread split in _sgemm_bf16_kernel.c.
 *
 * The instruction: VDPBF16PS (_mm512_dpbf16_ps) takes, in each of 16 float32 lanes, a pair of
 * bfloat16 values from each operand and adds both products into the lane:
 *
 *   c[l] += a[2l] * b[2l] + a[2l + 1] * b[2l + 1]
 *
 * so k is consumed in pairs. A bfloat16 is a float32's upper 16 bits (8 bits of significand);
 * a product of two is exact in float32, so the only new error against float32 arithmetic is the
 * rounding of each input to bfloat16 (round to nearest even, relative error <= 2^-9), done when
 * the operands are packed (VCVTNE2PS2BF16). The instruction treats subnormal inputs as zero.
 *
 * Layout, as the float32 GEMM (_sgemm.h) but with a 32-bit word holding a pair of k values:
 * a packed A panel is kq = ceil(kc / 2) groups of MR words (rows i, pair q: A[i, 2q], A[i, 2q+1]),
 * a packed B panel kq groups of NR words (columns j: B[2q, j], B[2q + 1, j]), an odd k's last pair
 * padded with a zero. The micro-kernel holds an 8 x 48 tile of C in 24 zmm registers: per pair,
 * three loads of B, eight broadcasts of A's words, 24 VDPBF16PS (two multiply-adds per lane each,
 * twice the work of an FMA).
 *
 * Products whose operands both run along k (a weight gradient) take the "dot" form: no packing;
 * 32 values of each row of A and column of B are rounded to bfloat16 in registers and a DM x DN
 * tile of dot products kept as 16 partial sums each.
 */
#ifndef CONVLAB_SGEMM_BF16_H
#define CONVLAB_SGEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

typedef ptrdiff_t idx;

#define BF_MR 8
#define BF_NR 48
#define BF_KC 256 /* values of k per block: 128 pairs */
#define BF_MC 128
#define BF_NC 3072
#define BF_DM 4
#define BF_DN 6
#define BF_KD 1024 /* the dot form's slice of k (a plain product's) */
#define BF_DOT_MIN_K 1024
#define BF_MAX_THREADS 64
#define BF_APACK_WORDS ((BF_MC + BF_MR) * BF_KC / 2)
#define BF_BPACK_WORDS ((BF_NC + BF_NR) * BF_KC / 2)

/* B read from a convolution's flat padded grid: B(p, n) = base[rowoff[p] + (n / span) * plane + n % span] */
typedef struct {
    const float *base;
    const long long *rowoff;
    idx span, plane;
} bf_shifted;

/* One product, or the part of it that one thread computes (as _sgemm.h's job) */
typedef struct {
    idx m, n, k;
    const float *a, *b;
    idx rsa, csa, rsb, csb;
    float *c;
    idx ldc;
    int accumulate;
    uint32_t *apack, *bpack;
    const bf_shifted *sb;  /* B read from a flat grid (b, rsb, csb unused) */
    const long long *boff; /* or: column q of B starts at b + boff[q], contiguous along k */
    idx col0;              /* the part's first column of the whole product (sb, boff) */
} bf_job;

/* 1 when the CPU runs AVX-512F, AVX-512BW and AVX512_BF16 */
int bf_cpu_ok(void);

/* C (+)= A @ B on up to `threads` threads; 0, or -1 when out of memory */
int bf_run(bf_job whole, int threads);

#endif
