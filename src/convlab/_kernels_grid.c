/* convlab._kernels' convolution copies (see _kernels.h): 2-D im2col / col2im, the flat padded
 * grid's copies in and out, and stride-1 depthwise convolution.
 *
 * im2col_2d: col[c, ky, kx, n, oy, ox] = x[n, c, oy * sh + ky * dh - ph, ox * sw + kx * dw - pw]
 * (0 in the padding); col2im its adjoint, every column entry added back onto the pixel it was read
 * from. NumPy builds a strided convolution's columns as a padded copy and one strided copy per
 * kernel offset, three times the memory traffic of these loops (ResNet-20's 16>32 stride-2
 * layer: 2.8 of its 4.3 ms).
 *
 * The flat padded grid of ops/conv_shift.py lays channel c of sample s at
 * out[c, base + s * plane + i * grid_w + j] (plane = grid_h * grid_w), zeros everywhere else,
 * out being (C, L): grid_in writes every value of out once (NumPy: zero it, then a strided copy).
 * grid_out reads src (C, N * grid_h * grid_w) back as (N, C, h, w) (+ bias), the GEMM's output
 * cropped to the convolution's.
 */
#include <string.h>

#include "_kernels.h"

CLONES void im2col_loop(idx c0, idx c1, const geometry2d *g, const float *x, float *col)
{
    col += c0 * g->kh * g->kw * g->n * g->oh * g->ow;
    for (idx c = c0; c < c1; c++)
        for (idx i = 0; i < g->kh; i++)
            for (idx j = 0; j < g->kw; j++) {
                idx off = j * g->dw - g->pw, lo, hi;
                valid_range(g->ow, g->sw, off, g->w, &lo, &hi);
                for (idx s = 0; s < g->n; s++)
                    for (idx oy = 0; oy < g->oh; oy++, col += g->ow) {
                        idx iy = oy * g->sh + i * g->dh - g->ph;
                        if (iy < 0 || iy >= g->h) {
                            memset(col, 0, sizeof(float) * g->ow);
                            continue;
                        }
                        const float *row = x + ((s * g->c + c) * g->h + iy) * g->w;
                        for (idx ox = 0; ox < lo; ox++) col[ox] = 0.f;
                        if (g->sw == 1) memcpy(col + lo, row + lo + off, sizeof(float) * (hi - lo));
                        else
                            for (idx ox = lo; ox < hi; ox++) col[ox] = row[ox * g->sw + off];
                        for (idx ox = hi; ox < g->ow; ox++) col[ox] = 0.f;
                    }
            }
}

CLONES void col2im_loop(idx c0, idx c1, const geometry2d *g, const float *col, float *out)
{
    for (idx s = 0; s < g->n; s++) memset(out + (s * g->c + c0) * g->h * g->w, 0, sizeof(float) * (c1 - c0) * g->h * g->w);
    col += c0 * g->kh * g->kw * g->n * g->oh * g->ow;
    for (idx c = c0; c < c1; c++)
        for (idx i = 0; i < g->kh; i++)
            for (idx j = 0; j < g->kw; j++) {
                idx off = j * g->dw - g->pw, lo, hi;
                valid_range(g->ow, g->sw, off, g->w, &lo, &hi);
                for (idx s = 0; s < g->n; s++)
                    for (idx oy = 0; oy < g->oh; oy++, col += g->ow) {
                        idx iy = oy * g->sh + i * g->dh - g->ph;
                        if (iy < 0 || iy >= g->h) continue;
                        float *row = out + ((s * g->c + c) * g->h + iy) * g->w;
                        for (idx ox = lo; ox < hi; ox++) row[ox * g->sw + off] += col[ox];
                    }
            }
}

/* rows of a few floats: plain loops (the compiler's vector code), not a library call per row */
CLONES void grid_in_loop(idx c0, idx c1, idx n, idx c, idx h, idx w, idx gh, idx gw, idx base, idx len,
                                const float *x, float *out)
{
    idx plane = gh * gw;
    for (idx ch = c0; ch < c1; ch++) {
        float *dst = out + ch * len;
        memset(dst, 0, sizeof(float) * base);
        for (idx s = 0; s < n; s++) {
            float *restrict g = dst + base + s * plane;
            const float *restrict src = x + (s * c + ch) * h * w;
            for (idx i = 0; i < h; i++, g += gw, src += w) {
                for (idx j = 0; j < w; j++) g[j] = src[j];
                for (idx j = w; j < gw; j++) g[j] = 0.f;
            }
            for (idx j = 0; j < (gh - h) * gw; j++) g[j] = 0.f;
        }
        memset(dst + base + n * plane, 0, sizeof(float) * (len - base - n * plane));
    }
}

/* A stride-2 convolution's input as four stride-1 grids, its polyphase components (ops/conv_phase.py):
 * out[(ch * 4 + a * 2 + b) * len + s * gh * gw + u * gw + v] = x[s, ch, 2u + a - top, 2v + b - left],
 * 0 outside x (the padding) and past the n planes. A (sample, channel) plane of x is read for its
 * four phases in turn, while it is in the L1 cache. */
CLONES void phase_grid_loop(idx c0, idx c1, idx n, idx c, idx h, idx w, idx gh, idx gw, idx top, idx left, idx len,
                            const float *x, float *out)
{
    idx plane = gh * gw;
    for (idx ch = c0; ch < c1; ch++) {
        for (idx s = 0; s < n; s++) {
            const float *src = x + (s * c + ch) * h * w;
            for (idx ph = 0; ph < 4; ph++) {
                idx a = ph >> 1, b = ph & 1, lo, hi;
                valid_range(gw, 2, b - left, w, &lo, &hi);
                float *restrict g = out + (ch * 4 + ph) * len + s * plane;
                for (idx u = 0; u < gh; u++, g += gw) {
                    idx r = 2 * u + a - top;
                    if (r < 0 || r >= h) {
                        for (idx v = 0; v < gw; v++) g[v] = 0.f;
                        continue;
                    }
                    const float *restrict row = src + r * w + b - left;
                    for (idx v = 0; v < lo; v++) g[v] = 0.f;
                    for (idx v = lo; v < hi; v++) g[v] = row[2 * v];
                    for (idx v = hi; v < gw; v++) g[v] = 0.f;
                }
            }
        }
        for (idx ph = 0; ph < 4; ph++) memset(out + (ch * 4 + ph) * len + n * plane, 0, sizeof(float) * (len - n * plane));
    }
}

CLONES void grid_out_loop(idx s0, idx s1, idx n, idx c, idx h, idx w, idx gh, idx gw, const float *src,
                                 const float *bias, float *out)
{
    idx plane = gh * gw;
    for (idx s = s0; s < s1; s++)
        for (idx ch = 0; ch < c; ch++) {
            const float *restrict g = src + (ch * n + s) * plane;
            float *restrict dst = out + (s * c + ch) * h * w;
            if (!bias) /* a copy: adding 0 would turn -0 into +0 */
                for (idx i = 0; i < h; i++, g += gw, dst += w)
                    for (idx j = 0; j < w; j++) dst[j] = g[j];
            else
                for (idx i = 0; i < h; i++, g += gw, dst += w)
                    for (idx j = 0; j < w; j++) dst[j] = g[j] + bias[ch];
        }
}

/* Depthwise (one filter per channel, stride 1): each (sample, channel) plane on its own, through
 * a zero-padded copy of it (hp x wp = out + dilation * (kernel - 1)) that stays in the L1 cache.
 * Laid flat, kernel offset (ky, kx) is a shift of ky * dh * wp + kx * dw, and each product is
 * one run over the plane's oh x wp positions (the wp - ow extra ones per row read and write
 * zeros, or are dropped): the forward and the input gradient are nine multiply-adds of a whole
 * run, the weight gradient nine dot products. NumPy does the same runs over the whole batch at
 * once, a pass over memory each. */
static inline void dw_axpy(idx len, float v, const float *restrict src, float *restrict dst)
{
    for (idx j = 0; j < len; j++) dst[j] += v * src[j];
}

static inline double dw_dot(idx len, const float *restrict a, const float *restrict b)
{
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (idx j = 0; j < len; j++) s += a[j] * b[j];
    return s;
}

/* the (h, w) plane src into the zeroed (rows, wp) buffer dst at (top, left); what falls past its
 * edge is left out (an input longer than the convolution reads: a transposed convolution's
 * output_padding) */
static inline void dw_place(idx h, idx w, const float *src, idx rows, idx wp, idx top, idx left, float *dst)
{
    memset(dst, 0, sizeof(float) * rows * wp);
    idx hh = rows - top < h ? rows - top : h, ww = wp - left < w ? wp - left : w;
    for (idx i = 0; i < hh; i++)
        for (idx j = 0; j < ww; j++) dst[(i + top) * wp + j + left] = src[i * w + j];
}

CLONES void depthwise_loop(idx p0, idx p1, int mode, const geometry2d *g, const float *a, const float *b,
                                  const float *bias, void *out, float *pad, float *flat)
{
    idx hp = g->oh + g->dh * (g->kh - 1), wp = g->ow + g->dw * (g->kw - 1), nk = g->kh * g->kw, run = g->oh * wp;
    for (idx p = p0; p < p1; p++) { /* a plane (s, c); the weight gradient goes channel by channel, samples in order */
        idx s = mode == 2 ? p % g->n : p / g->c, c = mode == 2 ? p / g->n : p % g->c;
        const float *w = mode == 2 ? NULL : b + c * nk; /* b is grad_y in mode 2 */
        if (mode == 1) { /* grad_x: grad_y laid on the flat rows, added back at every shift, cropped */
            dw_place(g->oh, g->ow, a + (s * g->c + c) * g->oh * g->ow, g->oh, wp, 0, 0, flat);
            memset(pad, 0, sizeof(float) * hp * wp);
            for (idx ky = 0; ky < g->kh; ky++)
                for (idx kx = 0; kx < g->kw; kx++)
                    dw_axpy(run, w[ky * g->kw + kx], flat, pad + ky * g->dh * wp + kx * g->dw);
            float *gx = (float *)out + (s * g->c + c) * g->h * g->w; /* zero where nothing was read */
            for (idx iy = 0; iy < g->h; iy++)
                for (idx ix = 0; ix < g->w; ix++)
                    gx[iy * g->w + ix] = iy + g->ph < hp && ix + g->pw < wp ? pad[(iy + g->ph) * wp + ix + g->pw] : 0.f;
            continue;
        }
        dw_place(g->h, g->w, a + (s * g->c + c) * g->h * g->w, hp, wp, g->ph, g->pw, pad);
        if (mode == 0) {
            float b0 = bias ? bias[c] : 0.f;
            for (idx q = 0; q < run; q++) flat[q] = b0;
            for (idx ky = 0; ky < g->kh; ky++)
                for (idx kx = 0; kx < g->kw; kx++)
                    dw_axpy(run, w[ky * g->kw + kx], pad + ky * g->dh * wp + kx * g->dw, flat);
            float *y = (float *)out + (s * g->c + c) * g->oh * g->ow;
            for (idx oy = 0; oy < g->oh; oy++)
                for (idx ox = 0; ox < g->ow; ox++) y[oy * g->ow + ox] = flat[oy * wp + ox];
        } else { /* grad_w: grad_y on the flat rows (zeros past each row's end), one dot per offset */
            dw_place(g->oh, g->ow, b + (s * g->c + c) * g->oh * g->ow, g->oh, wp, 0, 0, flat);
            double *gw = (double *)out + c * nk;
            for (idx ky = 0; ky < g->kh; ky++)
                for (idx kx = 0; kx < g->kw; kx++)
                    gw[ky * g->kw + kx] += dw_dot(run, flat, pad + ky * g->dh * wp + kx * g->dw);
        }
    }
}