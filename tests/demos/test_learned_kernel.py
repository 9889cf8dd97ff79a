"""Seed 000: the kernel learned with --seed 7 equals the seed's printed kernels (3 decimals),
and the whole trajectory equals the seed's own pure-Python program."""

import math
import random

import numpy as np

from convlab.demos import learned_kernel as lk
from convlab.reference import convolve_2d, convolve_2d_gradient, global_max_pool


# ---------------------------------------------------------------- seed 000's program
# (its convolution, kernel gradient and max pool are convlab.reference's; the rest verbatim)
def generate_line_images(rng, n, direction):
    images = []
    for _ in range(n):
        grid = [[0.0 for _ in range(8)] for _ in range(8)]
        if direction == "horizontal":
            row = rng.randint(1, 6)
            for col in range(8):
                grid[row][col] = 1.0
        else:
            col = rng.randint(1, 6)
            for row in range(8):
                grid[row][col] = 1.0
        images.append(grid)
    return images


def sigmoid(x):
    if x > 50:
        return 1.0
    if x < -50:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


def train_step(kernel, bias, image, label, learning_rate):
    feature_map = convolve_2d(image, kernel)
    max_value, max_row, max_col = global_max_pool(feature_map)
    d_logit = sigmoid(max_value + bias) - label
    upstream = [[0.0 for _ in range(len(feature_map[0]))] for _ in range(len(feature_map))]
    upstream[max_row][max_col] = d_logit
    grad_kernel = convolve_2d_gradient(upstream, image, kernel)
    for k_row in range(3):
        for k_col in range(3):
            kernel[k_row][k_col] -= learning_rate * grad_kernel[k_row][k_col]
    return bias - learning_rate * d_logit


def seed_program(seed=7, steps=600):
    rng = random.Random(seed)
    kernel = [[rng.gauss(0.0, 0.3) for _ in range(3)] for _ in range(3)]
    bias, snapshots = 0.0, {0: [r[:] for r in kernel]}
    for step in range(steps):
        if rng.random() < 0.5:
            label, image = 1.0, generate_line_images(rng, 1, "horizontal")[0]
        else:
            label, image = 0.0, generate_line_images(rng, 1, "vertical")[0]
        bias = train_step(kernel, bias, image, label, learning_rate=0.1)
        if (step + 1) % 100 == 0:
            snapshots[step + 1] = [r[:] for r in kernel]
    return snapshots, bias


# ---------------------------------------------------------------- tests
def test_printed_kernels_match_seed_000_to_three_decimals():
    result = lk.run(None, log=lambda *a: None, figures=False, seed=7)
    for step, printed in lk.SEED_KERNELS.items():
        np.testing.assert_array_equal(np.round(result["kernels"][step], 3), printed, err_msg=f"step {step}")
    assert result["max_abs_logit"] < 50  # the seed's sigmoid clamp is never reached
    # held-out accuracy: the learned kernel finds a line's lower edge; a horizontal line at row 1
    # has no dark rows above it inside the image and scores like a vertical line (1/12 of the data)
    assert 0.88 <= result["heldout_accuracy"] <= 0.95
    assert result["all_lines_accuracy"] == 14 / 16


def test_whole_trajectory_equals_the_seeds_program():
    snapshots, bias = seed_program()
    model, ours, _, _ = lk.train(seed=7, steps=600)
    for step in snapshots:
        np.testing.assert_allclose(ours[step], snapshots[step], atol=1e-12, err_msg=f"step {step}")
    assert abs(model.bias - bias) < 1e-12
    # a different seed gives a different, also horizontal-edge-like, kernel
    _, other, _, _ = lk.train(seed=3, steps=300, report_every=300)
    k = other[300]
    assert k[2].mean() > 0 > k[0].mean() and not np.allclose(k, ours[300])
