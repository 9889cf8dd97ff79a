"""The seeds' teaching implementations, written plainly to be read.

Nothing here is fast, and nothing here is used by the library's layers: these loops are the
definitions the fast kernels in ``convlab.ops`` are tested against. Three levels:

1. Pure Python over nested lists (seed 000): :func:`convolve_2d` and its kernel gradient
   :func:`convolve_2d_gradient`, plus the input gradient (seed 003's "full convolution with
   the flipped kernel") :func:`convolve_2d_input_gradient` and :func:`global_max_pool`.
2. NumPy loops over output positions (seed 001): :func:`conv2d_naive` (channels, filters,
   stride, padding), then the same thing as one matrix product, :func:`im2col` +
   :func:`conv2d_batch`; and naive pooling :func:`max_pool2d_naive`, :func:`avg_pool2d_naive`.
3. The 1-D discrete convolution with its flip (seed 004): :func:`convolve_1d`.

As in deep learning libraries, "convolution" in levels 1 and 2 means cross-correlation (the
kernel is not flipped). Seed 004's :func:`convolve_1d` is the mathematical convolution, which
flips ``g``; :mod:`convlab.signal` offers both for signals and images.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "avg_pool2d_naive", "conv2d_batch", "conv2d_naive", "convolve_1d", "convolve_2d", "convolve_2d_gradient",
    "convolve_2d_input_gradient", "global_max_pool", "im2col", "max_pool2d_naive",
]


# --------------------------------------------------------------------------- seed 000: lists
def convolve_2d(image, kernel):
    """Slide ``kernel`` over ``image`` (lists of lists), no padding, stride 1.

    For every output position, sum the kernel weights times the pixels under them.

    >>> convolve_2d([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[0, 1], [2, 3]])
    [[19.0, 25.0], [37.0, 43.0]]
    """
    image_h = len(image)
    image_w = len(image[0])
    kernel_h = len(kernel)
    kernel_w = len(kernel[0])
    out_h = image_h - kernel_h + 1
    out_w = image_w - kernel_w + 1
    output = [[0.0 for _ in range(out_w)] for _ in range(out_h)]
    for out_row in range(out_h):
        for out_col in range(out_w):
            total = 0.0
            for k_row in range(kernel_h):
                for k_col in range(kernel_w):
                    total += kernel[k_row][k_col] * image[out_row + k_row][out_col + k_col]
            output[out_row][out_col] = total
    return output


def convolve_2d_gradient(upstream_grad, input_image, kernel):
    """Gradient of the loss with respect to each kernel weight.

    For each weight, sum (over every output position) the upstream gradient there times the
    input pixel that weight multiplied: the forward loop with the roles swapped.

    >>> convolve_2d_gradient([[1, 2], [0, -1]], [[1, 2, 0], [0, 1, 3], [2, 1, 1]], [[1, 0], [0, -1]])
    [[4.0, -1.0], [1.0, 6.0]]
    """
    kernel_h = len(kernel)
    kernel_w = len(kernel[0])
    out_h = len(upstream_grad)
    out_w = len(upstream_grad[0])
    grad_kernel = [[0.0 for _ in range(kernel_w)] for _ in range(kernel_h)]
    for k_row in range(kernel_h):
        for k_col in range(kernel_w):
            total = 0.0
            for out_row in range(out_h):
                for out_col in range(out_w):
                    total += upstream_grad[out_row][out_col] * input_image[out_row + k_row][out_col + k_col]
            grad_kernel[k_row][k_col] = total
    return grad_kernel


def convolve_2d_input_gradient(upstream_grad, kernel):
    """Gradient with respect to the input: every input pixel collects the upstream gradient of
    each output it fed, weighted by the kernel weight it met there (seed 003).

    Pixel ``(i, j)`` fed output ``(i - m, j - n)`` through weight ``K[m][n]``, so
    ``dX[i][j] = sum_{m,n} dS[i-m][j-n] * K[m][n]``: a full convolution with the flipped kernel.

    >>> convolve_2d_input_gradient([[1, 2], [0, -1]], [[1, 0], [0, -1]])
    [[1.0, 2.0, 0.0], [0.0, -2.0, -2.0], [0.0, 0.0, 1.0]]
    """
    out_h, out_w = len(upstream_grad), len(upstream_grad[0])
    kernel_h, kernel_w = len(kernel), len(kernel[0])
    in_h, in_w = out_h + kernel_h - 1, out_w + kernel_w - 1
    grad_input = [[0.0 for _ in range(in_w)] for _ in range(in_h)]
    for i in range(in_h):
        for j in range(in_w):
            total = 0.0
            for m in range(kernel_h):
                for n in range(kernel_w):
                    if 0 <= i - m < out_h and 0 <= j - n < out_w:  # outside the output grid, dS is 0
                        total += upstream_grad[i - m][j - n] * kernel[m][n]
            grad_input[i][j] = total
    return grad_input


def global_max_pool(feature_map):
    """``(value, row, col)`` of the largest entry (the first one on ties), as seed 000.

    Its gradient is the upstream gradient at that one cell and zero everywhere else.
    """
    best_value = feature_map[0][0]
    best_row, best_col = 0, 0
    for row, values in enumerate(feature_map):
        for col, value in enumerate(values):
            if value > best_value:
                best_value = value
                best_row, best_col = row, col
    return best_value, best_row, best_col


# --------------------------------------------------------------------------- seed 001: NumPy loops
def conv2d_naive(X, W, b, stride=1, padding=0):
    """Pure NumPy 2-D convolution (cross-correlation), one output value at a time.

    Args:
        X: ``(C, H, W)``; W: ``(F, C, kH, kW)``; b: ``(F,)``.

    Returns:
        ``(F, Ho, Wo)`` with ``Ho = (H + 2 padding - kH) // stride + 1``.
    """
    C, H, Ww = X.shape
    F, _, kH, kW = W.shape
    if padding > 0:
        X = np.pad(X, ((0, 0), (padding, padding), (padding, padding)))
    Ho = (X.shape[1] - kH) // stride + 1
    Wo = (X.shape[2] - kW) // stride + 1
    out = np.zeros((F, Ho, Wo), dtype=np.result_type(X, W, b))
    for f in range(F):
        for i in range(Ho):
            for j in range(Wo):
                patch = X[:, i * stride:i * stride + kH, j * stride:j * stride + kW]
                out[f, i, j] = np.sum(W[f] * patch) + b[f]
    return out


def im2col(X, kH, kW, stride=1, padding=0):
    """Unroll every receptive field of ``X`` ``(B, C, H, W)`` into a row.

    Returns ``(cols, Ho, Wo)`` with ``cols`` of shape ``(B*Ho*Wo, C*kH*kW)``: one loop over the
    kernel offsets, each copying a strided slice (seed 001).
    """
    B, C, H, W = X.shape
    if padding > 0:
        X = np.pad(X, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho = (X.shape[2] - kH) // stride + 1
    Wo = (X.shape[3] - kW) // stride + 1
    cols = np.zeros((B, C, kH, kW, Ho, Wo), dtype=X.dtype)
    for i in range(kH):
        for j in range(kW):
            cols[:, :, i, j, :, :] = X[:, :, i:i + Ho * stride:stride, j:j + Wo * stride:stride]
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(B * Ho * Wo, C * kH * kW), Ho, Wo


def conv2d_batch(X, W, b, stride=1, padding=0):
    """Batched convolution as one matrix product: ``(B, C, H, W)`` x ``(F, C, kH, kW)`` -> ``(B, F, Ho, Wo)``."""
    B = X.shape[0]
    F, _, kH, kW = W.shape
    col, Ho, Wo = im2col(X, kH, kW, stride, padding)
    W_col = W.reshape(F, -1)  # (F, C*kH*kW)
    out = (col @ W_col.T + b).T  # (F, B*Ho*Wo)
    return out.reshape(F, B, Ho, Wo).transpose(1, 0, 2, 3)


def max_pool2d_naive(X, kernel_size, stride=None):
    """Max over each ``k x k`` window of ``X`` ``(..., H, W)``, looping over output positions."""
    k = kernel_size
    s = k if stride is None else stride
    H, W = X.shape[-2:]
    Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
    out = np.zeros(X.shape[:-2] + (Ho, Wo), dtype=X.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[..., i, j] = X[..., i * s:i * s + k, j * s:j * s + k].max(axis=(-2, -1))
    return out


def avg_pool2d_naive(X, kernel_size, stride=None):
    """Mean over each ``k x k`` window of ``X`` ``(..., H, W)``, looping over output positions."""
    k = kernel_size
    s = k if stride is None else stride
    H, W = X.shape[-2:]
    Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
    out = np.zeros(X.shape[:-2] + (Ho, Wo), dtype=X.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[..., i, j] = X[..., i * s:i * s + k, j * s:j * s + k].mean(axis=(-2, -1))
    return out


# --------------------------------------------------------------------------- seed 004: 1-D, flipped
def convolve_1d(F, G):
    """The discrete convolution ``(F * G)[x] = sum_i F[i] G[x - i]`` (full length).

    ``G`` is read backwards as ``x - i`` grows: that reversal is the flip that distinguishes
    convolution from cross-correlation. Seed 004 keeps the first ``len(F)`` values.

    >>> [round(v, 4) for v in convolve_1d([10, 9, 10], [1/3, 1/3, 1/3])]
    [3.3333, 6.3333, 9.6667, 6.3333, 3.3333]
    """
    n = len(F) + len(G) - 1
    Y = [0.0] * n
    for x in range(n):
        total = 0
        for i in range(len(F)):
            if len(G) > x - i >= 0:
                total += F[i] * G[x - i]
        Y[x] = total
    return Y
