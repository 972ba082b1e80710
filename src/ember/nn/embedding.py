"""Embedding layer: a learnable lookup table of dense vectors, one row per token id."""
from __future__ import annotations

from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Parameter, Tensor
from ember.creation import empty
from ember.nn import init
from ember.nn.linear import check_sizes
from ember.nn.module import Module
from ember.ops.embedding import embedding, embedding_bag


def _pretrained_table(layer, embeddings):
    """A copy of the table ``embeddings`` for ``layer``.from_pretrained, which takes only a 2-D one."""
    if embeddings.ndim != 2:
        raise ValueError(f"{layer}.from_pretrained: embeddings must be 2-D, got shape {tuple(embeddings.shape)}")
    return (embeddings.array if isinstance(embeddings, Tensor) else embeddings).copy()


class _EmbeddingTable(Module):
    """What Embedding and EmbeddingBag share: the table's initialisation and the repr of the lookup options."""

    def reset_parameters(self) -> None:
        """Redraw E ~ N(0, 1) and zero the ``padding_idx`` row, as PyTorch."""
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0

    def _lookup_repr(self) -> str:
        """The ``max_norm``, ``norm_type`` and ``scale_grad_by_freq`` part of the repr, each only when not default."""
        s = ""
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s


class Embedding(_EmbeddingTable):
    """Lookup table y = E[x] (= one_hot(x) @ E): token ids → vectors of ``embedding_dim``.

    Args:
        num_embeddings: size of the vocabulary (rows of E).
        embedding_dim: length of each vector (columns of E).
        padding_idx: a row initialised to zeros that never receives a gradient.
        max_norm: rows read in a forward whose ``norm_type``-norm exceeds it are rescaled
            in place to norm ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by its count in the mini-batch.
        sparse: not supported (ember has no sparse gradients): True raises.
        _weight: an initial (num_embeddings, embedding_dim) table instead of N(0, 1).
        _freeze: keep the table fixed (``weight.requires_grad`` False).

    Shapes: input integer ids (*) → output (*, embedding_dim); weight (num_embeddings,
    embedding_dim), initialised N(0, 1) with the ``padding_idx`` row zeroed, as PyTorch.

    >>> emb = nn.Embedding(10000, 256, padding_idx=0)
    >>> emb(em.randint(0, 10000, (32, 35))).shape
    (32, 35, 256)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        check_sizes("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within num_embeddings "
                                 f"{num_embeddings}")
            padding_idx %= num_embeddings
        if sparse:
            raise NotImplementedError("Embedding: sparse=True is not supported (ember has no sparse gradients)")
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dtype, device=device),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            data = _weight.array if isinstance(_weight, Tensor) else _weight
            if tuple(data.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight of shape {tuple(data.shape)} does not match "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(Tensor(data, dtype=dtype, device=device), requires_grad=not _freeze)

    def forward(self, input):
        """The rows of the table at the integer ids ``input`` (*) → (*, embedding_dim)."""
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding whose table is ``embeddings`` (num_embeddings, embedding_dim), kept fixed
        when ``freeze`` (the default); the padding row is used as given, not zeroed.

        >>> emb = nn.Embedding.from_pretrained(em.tensor([[1.0, 2.3], [4.0, 5.1]]))
        >>> emb(em.tensor([1]))
        tensor([[4. , 5.1]])
        """
        table = _pretrained_table("Embedding", embeddings)
        return cls(*table.shape, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=table,
                   _freeze=freeze)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        s += self._lookup_repr()
        if self.sparse:
            s += ", sparse=True"
        return s


class EmbeddingBag(_EmbeddingTable):
    """Sums, means or maxima of bags of embeddings (``Embedding`` followed by a reduction over each bag,
    without building the (bags, length, dim) lookup in between).

    Args:
        num_embeddings, embedding_dim: the table's shape, as ``Embedding``.
        max_norm, norm_type, scale_grad_by_freq: as ``Embedding``.
        mode: 'sum', 'mean' (default) or 'max' over each bag.
        include_last_offset: ``offsets`` has B + 1 entries, the last one the input's length.
        padding_idx: entries with this index are left out of their bag (and the row gets no gradient).
        sparse: not supported (ember has no sparse gradients): True raises.

    ``forward(input, offsets=None, per_sample_weights=None)``: input (B, L) (a bag per row) or 1-D
    with ``offsets`` (B,) marking where each bag starts; ``per_sample_weights`` (sum only) weighs
    each entry. Output (B, embedding_dim). The table is initialised N(0, 1), as PyTorch.

    >>> bag = nn.EmbeddingBag(10, 3, mode="sum")
    >>> bag(em.tensor([1, 2, 4, 5, 4, 3, 2, 9]), em.tensor([0, 4])).shape
    (2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False, _weight=None,
                 include_last_offset: bool = False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        table = Embedding(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type, scale_grad_by_freq,
                          sparse, _weight, device=device, dtype=dtype)  # checks the arguments, draws the table
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode has to be one of sum, mean or max, got {mode!r}")
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, table.padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset
        self.weight = table.weight

    def forward(self, input, offsets=None, per_sample_weights=None):
        """The reduced bags of ``input`` (see the class docstring) → (B, embedding_dim)."""
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                             self.mode, self.sparse, per_sample_weights, self.include_last_offset, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        """An EmbeddingBag over the table ``embeddings`` (num_embeddings, embedding_dim), fixed when ``freeze``."""
        table = _pretrained_table("EmbeddingBag", embeddings)
        bag = cls(*table.shape, max_norm, norm_type, scale_grad_by_freq, mode, sparse, table, include_last_offset,
                  padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}{self._lookup_repr()}, mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
