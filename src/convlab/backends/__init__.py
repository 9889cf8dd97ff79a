"""``torch.backends`` as convlab answers it on a CPU: ``cudnn`` and ``mps`` report what is really
there (convlab has no cuDNN and no Metal backend), and their switches are accepted.

``cudnn.benchmark`` (autotune convolution algorithms), ``cudnn.deterministic`` and
``cudnn.enabled`` have nothing to switch here: convlab's CPU convolutions are deterministic for
a given input, thread count and build. Programs that set them run unchanged.

>>> import convlab
>>> convlab.backends.cudnn.is_available(), convlab.backends.mps.is_available()
(False, False)
>>> convlab.backends.cudnn.benchmark = True   # accepted; changes nothing on a CPU
"""

from . import cudnn, mps

__all__ = ["cudnn", "mps"]
