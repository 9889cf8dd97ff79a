"""Model inspection: per-layer summaries with receptive fields, shape traces that explain failures.

:func:`summary` runs one dummy forward pass (batch 1, zeros, eval mode, no gradients) with
forward hooks on every module and reports, per layer: output shape, parameters (trainable and
not), multiply-accumulates, and the **receptive field** with its **jump**. :func:`trace` is the
same walk; when a shape fails anywhere it raises :class:`ShapeError` showing the per-layer trace
up to the failing layer, the arithmetic that failed, and the smallest input that works, which
:func:`min_input_size` finds.

Receptive field arithmetic (per spatial axis). A layer with kernel ``k``, stride ``s`` and
dilation ``d`` turns the field ``r`` and jump ``j`` (input pixels between neighbouring outputs,
the product of the strides so far) of its input into::

    r_out = r + d(k - 1) * j        j_out = j * s

Element-wise layers keep both; a global pool (or a flatten) sees the whole map,
``r + (H - 1) * j``. Where branches meet (a residual sum, an Inception concat) the field is the
largest of the branches. Only modules are seen: values computed by functions between modules
(``relu(out + x)``) get the largest field of the enclosing module's inputs and finished layers,
which is exact for the usual residual, dense and inception blocks. A squeeze-and-excitation
gate multiplies every pixel by a function of the whole map, so after one the field is global.

Counting conventions: multiply-accumulates are those of convolutions and linear layers (the
weights); normalisation, activations and pooling are not counted. Activation memory is the sum
of every leaf layer's output; "forward/backward" doubles it for the gradients, as torchinfo.
"""

from .records import Layer, ShapeError, Summary
from .run import min_input_size, summary, trace

__all__ = ["Layer", "Summary", "ShapeError", "summary", "trace", "min_input_size"]
