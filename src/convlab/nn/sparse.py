"""``Embedding``: a lookup table of learnable rows (``nn.functional.embedding``)."""

from __future__ import annotations

from .. import validate
from ..more_ops import embedding
from ..tensor import zeros
from ..validate import ConvlabError
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """``num_embeddings`` learnable rows of ``embedding_dim``: integer input (*) -> (*, embedding_dim).

    Initialisation (torch's): ``N(0, 1)``, the ``padding_idx`` row zero (it gets no gradient).

    >>> import convlab
    >>> Embedding(10, 3)(convlab.tensor([[1, 2], [4, 9]])).shape
    convlab.Size([2, 2, 3])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = validate.nonneg_int(num_embeddings, "Embedding", "num_embeddings")
        self.embedding_dim = validate.nonneg_int(embedding_dim, "Embedding", "embedding_dim")
        if padding_idx is not None:
            if not -self.num_embeddings <= validate.integer(padding_idx, "Embedding", "padding_idx") \
                    < self.num_embeddings:
                raise ConvlabError(f"Embedding: padding_idx must be within num_embeddings ({num_embeddings}), "
                                   f"got {padding_idx}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(zeros(num_embeddings, embedding_dim, dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            from ..argcheck import as_tensor_arg

            _weight = as_tensor_arg(_weight, "Embedding", "_weight")
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ConvlabError(f"Embedding: _weight has shape {tuple(_weight.shape)}, expected "
                                   f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False):
        """An ``Embedding`` whose rows are ``embeddings`` (2-d; shared, not copied), frozen unless
        ``freeze=False``."""
        if getattr(embeddings, "ndim", None) != 2:
            raise ConvlabError(f"Embeddings parameter is expected to be 2-dimensional, got "
                               f"{getattr(embeddings, 'ndim', type(embeddings).__name__)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=freeze)
