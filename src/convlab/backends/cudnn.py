"""``torch.backends.cudnn``: convlab uses no cuDNN, so ``is_available()`` is False; the switches
below are plain attributes a program may set (see :mod:`convlab.backends`)."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: convlab does not use NVIDIA's cuDNN (its GPU path, when CuPy is installed, does not either)."""
    return False


def version():
    """None, as torch answers when cuDNN is unavailable."""
    return None
