"""Primitive differentiable operations: one :class:`~convlab.tensor.Function` per op."""
