"""What a summary or a trace reports: one :class:`Layer` per leaf module, the :class:`Summary`
table, and the :class:`ShapeError` of a failed pass."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Layer:
    """One call of a module during the dummy forward pass.

    ``rf``/``jump`` are per spatial axis (``None`` when unknown); ``repeat`` marks a module
    called again (its parameters are counted at its first call only).
    """

    __module__ = "convlab.inspect"  # where users import it from

    name: str
    type: str
    input_shape: tuple
    output_shape: tuple | None
    trainable: int = 0
    non_trainable: int = 0
    macs: int = 0
    rf: tuple | None = None
    jump: tuple | None = None
    output_bytes: int = 0
    repeat: bool = False

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


def _si(n: float) -> str:
    """``416520`` -> ``"0.417 M"``, ``1.8e9`` -> ``"1.8 G"``: three significant figures in the unit that fits."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale / 10:
            return f"{n / scale:.3g} {unit}"
    return f"{n:g}"


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _axes(t) -> str:
    """(7, 7) -> '7', (7, 5) -> '7x5', None -> '-'."""
    if t is None:
        return "-"
    vals = [int(v) if float(v).is_integer() else round(v, 2) for v in t]
    return str(vals[0]) if len(set(vals)) == 1 else "x".join(str(v) for v in vals)


def _table(header, rows, right_from: int | None = None) -> list[str]:
    """Aligned text table; columns from ``right_from`` on are right-aligned (numbers)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    numeric = [right_from is not None and i >= right_from for i in range(len(header))]

    def fmt(r):
        return "  ".join(str(v).rjust(w) if num else str(v).ljust(w) for v, w, num in zip(r, widths, numeric)).rstrip()
    line = "-" * len(fmt(header))
    return [fmt(header), line, *[fmt(r) for r in rows], line]


@dataclass
class Summary:
    """What :func:`summary` found; ``str(summary)`` (or ``print``) gives the table."""

    __module__ = "convlab.inspect"  # where users import it from

    model: str
    input_shape: tuple
    output_shape: tuple
    layers: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    buffers: int = 0
    total_macs: int = 0
    input_bytes: int = 0
    activation_bytes: int = 0
    params_bytes: int = 0

    @property
    def forward_backward_bytes(self) -> int:
        """Activations kept for backward plus their gradients: twice the forward activations."""
        return 2 * self.activation_bytes

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.forward_backward_bytes + self.params_bytes

    def __str__(self) -> str:
        header = ("Layer", "Type", "Output shape", "Params", "Non-trainable", "MACs", "RF", "Jump")
        rows = []
        for L in self.layers:
            params = "(repeat)" if L.repeat else f"{L.trainable:,}"
            frozen = "" if L.repeat else f"{L.non_trainable:,}"
            rows.append((L.name, L.type, str(L.output_shape), params, frozen, f"{L.macs:,}", _axes(L.rf), _axes(L.jump)))
        out = [f"{self.model}: input {self.input_shape} -> output {self.output_shape}"]
        out += _table(header, rows, right_from=3)
        out += [
            f"Total params: {self.total_params:,} (trainable {self.trainable_params:,}, "
            f"non-trainable {self.non_trainable_params:,}); buffers: {self.buffers:,}",
            f"Multiply-accumulates: {self.total_macs:,} ({_si(self.total_macs)})",
            f"Input: {_human_bytes(self.input_bytes)}; activations, forward: {_human_bytes(self.activation_bytes)}, "
            f"forward/backward: {_human_bytes(self.forward_backward_bytes)}; params and buffers: "
            f"{_human_bytes(self.params_bytes)}; estimated total: {_human_bytes(self.total_bytes)}",
        ]
        return "\n".join(out)

    __repr__ = __str__


class ShapeError(ValueError):
    """A forward pass failed on shapes. ``layers`` is the trace up to the failure, ``failed``
    the failing :class:`Layer` (``output_shape`` None), ``explanation`` the arithmetic that
    failed and ``min_size`` the smallest square input that works (``None`` if unknown)."""

    __module__ = "convlab.inspect"  # where users import it from

    def __init__(self, message, layers, failed, explanation, min_size):
        super().__init__(message)
        self.layers, self.failed, self.explanation, self.min_size = layers, failed, explanation, min_size
