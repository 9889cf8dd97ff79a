/* convlab._kernels' shared definitions: the loops of each memory pass (one file per concept:
 * _kernels_norm.c ReLU and batch norm, _kernels_grid.c the convolution's copies and depthwise,
 * _kernels_pool.c max pooling), the pass that cuts a loop over the worker pool
 * (_kernels_pass.c), and the Python functions that check the buffers (_kernels.c).
 *
 * Every loop takes a range [lo, hi) of the pieces its pass is cut into (elements, rows,
 * channels, samples or planes): pieces write disjoint outputs and sum nothing across the cut,
 * so a pass gives the same bits whatever the thread count.
 *
 * Instruction sets: the loops are memory-bound (a few operations per value read), so they are
 * compiled three times by GCC's target_clones, for AVX-512F, AVX2 and baseline x86-64, and the
 * loader picks the widest the CPU has (the rule: wider vectors never make a streaming loop
 * slower; the bandwidth, not the vector width, is what these passes wait for).
 */
#ifndef CONVLAB_KERNELS_H
#define CONVLAB_KERNELS_H

#include <stddef.h>

typedef ptrdiff_t idx;

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

/* a 2-D convolution or pooling window: input (n, c, h, w), kernel (kh, kw), stride, dilation,
 * padding before (top, left), output (oh, ow); ih = oh * sh + ky * dh - ph, likewise iw */
typedef struct {
    idx n, c, h, w, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow;
} geometry2d;

/* the output columns [lo, hi) whose input column o * stride + offset lies in [0, w) */
static inline void valid_range(idx out, idx stride, idx offset, idx w, idx *lo, idx *hi)
{
    idx a = offset >= 0 ? 0 : (-offset + stride - 1) / stride, b = w - offset <= 0 ? 0 : (w - offset + stride - 1) / stride;
    if (b > out) b = out;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* _kernels_norm.c */
void relu_loop(idx lo, idx hi, const float *x, float *y, unsigned char *mask);
void relu_backward_loop(idx lo, idx hi, const float *g, const unsigned char *mask, float *out);
void moments_loop(idx j0, idx j1, idx n, idx c, idx len, const float *x, double *mean, double *var);
void normalize_loop(idx r0, idx r1, idx c, idx len, const float *x, const float *mean, const float *scale,
                    const float *shift, float *y);
void grad_sums_loop(idx j0, idx j1, idx n, idx c, idx len, const float *g, const float *x, const float *mean, double *sg,
                    double *sgx);
void normalize_backward_loop(idx r0, idx r1, idx c, idx len, const float *g, const float *x, const float *k,
                             const float *mean, const float *a, const float *b, float *out);

/* _kernels_grid.c */
void im2col_loop(idx c0, idx c1, const geometry2d *g, const float *x, float *col);
void col2im_loop(idx c0, idx c1, const geometry2d *g, const float *col, float *out);
void grid_in_loop(idx c0, idx c1, idx n, idx c, idx h, idx w, idx gh, idx gw, idx base, idx len, const float *x,
                  float *out);
void phase_grid_loop(idx c0, idx c1, idx n, idx c, idx h, idx w, idx gh, idx gw, idx top, idx left, idx len,
                     const float *x, float *out);
void grid_out_loop(idx s0, idx s1, idx n, idx c, idx h, idx w, idx gh, idx gw, const float *src, const float *bias,
                   float *out);
void depthwise_loop(idx p0, idx p1, int mode, const geometry2d *g, const float *a, const float *b, const float *bias,
                    void *out, float *pad, float *flat);

/* _kernels_pool.c */
void maxpool_loop(idx p0, idx p1, const geometry2d *g, const float *x, float *best, signed char *arg);
void maxpool_backward_loop(idx p0, idx p1, const geometry2d *g, const float *gy, const signed char *arg, float *gx);
/* 1: the AVX-512 pooling loops, 0: the portable ones; set: 0, or -1 when the CPU lacks AVX-512F */
int set_pool_simd(int on);
int get_pool_simd(void);

/* _kernels_pass.c: one pass, cut into parts over the pool */
enum {
    RELU, RELU_BACKWARD, MOMENTS, NORMALIZE, GRAD_SUMS, NORMALIZE_BACKWARD, IM2COL, COL2IM, GRID_IN, PHASE_GRID, GRID_OUT, DEPTHWISE,
    MAXPOOL, MAXPOOL_BACKWARD
};

typedef struct {
    int kind, mode;
    idx units, parts, n, c, len, h, w, gh, gw, base, left; /* phase grid: base is its top */
    const void *in[6];
    void *out[3];
    const geometry2d *g;
    idx scratch; /* depthwise: floats of scratch per part */
    _Atomic int failed;
} pass;

/* run a pass of `units` pieces touching `elements` values: on the pool when large enough; 0, or
 * -1 out of memory */
int run_pass(pass *p, idx units, idx elements);
/* the thread count and the size from which a pass is shared; 0, or -1 when out of range */
int set_pass_threads(int threads, idx min_values);
void get_pass_threads(int *threads, idx *min_values);
#define PASS_MAX_THREADS 64

#endif
