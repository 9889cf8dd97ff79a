"""Pictures of what a convolutional network computes (matplotlib, Agg backend, files only).

* :func:`kernel_grid` -- the kernels of a conv layer, one cell per (output, input) channel pair,
  or one RGB picture per output channel for 3-channel inputs;
* :func:`capture_feature_maps` / :func:`feature_map_grid` -- the outputs of chosen layers for an
  input, captured with forward hooks;
* :func:`layer_statistics` / :func:`statistics_figure` -- per layer mean and std of activations
  and of their gradients, and the fraction of dead ReLUs;
* :func:`im2col_figure` -- seed 001's point: the convolution is one matrix product once the
  patches are unrolled into the rows of a matrix (drawn from convlab's own ``im2col``);
* :func:`receptive_field` / :func:`receptive_field_panels` -- the input pixels that reach one
  output pixel, found from the gradient, drawn over the image;
* building blocks the demos share: :func:`image_panels`, :func:`kernel_panels`,
  :func:`line_plot` and :func:`save_figure` (atomic PNG writes).
"""

from .activations import (  # noqa: F401
    _as_batch,
    _named_layers,
    _record_calls,
    capture_feature_maps,
    feature_map_grid,
    layer_statistics,
    statistics_figure,
)
from .figures import _grid, _plt, image_panels, kernel_panels, line_plot, save_figure  # noqa: F401
from .im2col import im2col_figure, im2col_matrix  # noqa: F401
from .kernels import kernel_grid  # noqa: F401
from .receptive import receptive_field, receptive_field_panels  # noqa: F401

__all__ = ["capture_feature_maps", "feature_map_grid", "im2col_figure", "im2col_matrix", "image_panels", "kernel_grid",
           "kernel_panels", "layer_statistics", "line_plot", "receptive_field", "receptive_field_panels", "save_figure",
           "statistics_figure"]
