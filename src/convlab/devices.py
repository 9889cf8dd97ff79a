"""``convlab.device``: where a tensor's array lives.

A :class:`device` names where a tensor's array lives (``'cpu'``, ``'cuda'``, ``'cuda:1'``...). It
is a ``str`` subclass, so it compares equal to its name and goes wherever a device string went;
``.type`` and ``.index`` read as in torch. Naming a device is always allowed (torch code builds
``device('cuda' if cuda.is_available() else 'cpu')`` up front); putting an array on one that is
not available raises, saying how to install it.
"""

from __future__ import annotations

_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


class device(str):  # noqa: N801 - torch's name
    """A device: ``device('cuda:0')``, ``device('cuda', 0)`` or ``device('cpu')``.

    >>> d = device("cuda", 1)
    >>> d, d.type, d.index, d == "cuda:1"
    (device(type='cuda', index=1), 'cuda', 1, True)
    >>> str(device("cpu"))
    'cpu'
    """

    __slots__ = ()

    def __new__(cls, type_or_name, index: int | None = None):
        if isinstance(type_or_name, device) and index is None:
            return type_or_name
        if isinstance(type_or_name, int) and not isinstance(type_or_name, bool):
            type_or_name, index = "cuda", type_or_name  # torch.device(0) is the first GPU
        if not isinstance(type_or_name, str):
            raise TypeError(f"device(): expected a device string such as 'cpu' or 'cuda:0', got {type(type_or_name).__name__}")
        kind, sep, idx = type_or_name.partition(":")
        if kind not in _TYPES and not _registered(kind):
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of device string: {type_or_name}")
        if sep:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {type_or_name}")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type_or_name}'")
            index = int(idx)
        if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index!r}")
        return super().__new__(cls, kind if index is None else f"{kind}:{index}")

    @property
    def type(self) -> str:  # noqa: A003 - torch's name
        return str.partition(self, ":")[0]

    @property
    def index(self) -> int | None:
        idx = str.partition(self, ":")[2]
        return int(idx) if idx else None

    def __repr__(self) -> str:
        index = self.index
        return f"device(type='{self.type}')" if index is None else f"device(type='{self.type}', index={index})"

    def __str__(self) -> str:
        return str.__str__(self)

    __hash__ = str.__hash__

    def __enter__(self):  # `with device(...)` in torch sets the default device; only cpu exists here
        return self

    def __exit__(self, *exc):
        return False


def _registered(kind: str) -> bool:
    """A device type some array module registered with :mod:`convlab.backend` (tests add one)."""
    from . import backend

    return any(name.split(":")[0] == kind for _, _, name in backend._REGISTRY)


_NAMED: dict[str, device] = {}


def as_device(name: str) -> device:
    """The (cached) :class:`device` for a device name."""
    d = _NAMED.get(name)
    if d is None:
        d = _NAMED[name] = device(name)
    return d
