"""Transformer layers with PyTorch's constructors, forward signatures and parameter names (so state_dicts can
be exchanged): TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder,
Transformer (with ``generate_square_subsequent_mask``).

Shapes (``batch_first=False``): src (S, N, E), tgt (T, N, E), memory (S, N, E); with ``batch_first=True``
the first two dims are swapped; unbatched (S, E) inputs work too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import get_array_module
from ..dtypes import as_dtype, get_default_dtype
from ..tensor import Tensor
from . import functional as F
from . import init
from .attention import MultiheadAttention
from .layers import Dropout, Linear
from .module import Module, ModuleList
from .normalization import LayerNorm

__all__ = [
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "TransformerDecoderLayer",
    "TransformerDecoder",
    "Transformer",
]


def _activation(activation: str | Callable, cls: str) -> Callable:
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise RuntimeError(f"{cls}: activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"{cls}: activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return activation


def _check_dims(cls: str, d_model: int, nhead: int, dim_feedforward: int) -> None:
    if d_model <= 0 or nhead <= 0 or dim_feedforward <= 0:
        raise ValueError(
            f"{cls}: d_model, nhead and dim_feedforward must be positive, got d_model={d_model}, "
            f"nhead={nhead}, dim_feedforward={dim_feedforward}"
        )
    if d_model % nhead:
        raise ValueError(f"{cls}: d_model ({d_model}) must be divisible by nhead ({nhead})")


class _TransformerLayer(Module):
    """What TransformerEncoderLayer and TransformerDecoderLayer share: building the submodules in PyTorch's
    order (so parameter names and state_dict order match), the attention/feed-forward blocks and the
    residual + LayerNorm plumbing (post-norm by default, pre-norm with ``norm_first``)."""

    def _build(
        self,
        cls: str,
        attn_names: tuple[str, ...],
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        dropout: float,
        activation: str | Callable,
        layer_norm_eps: float,
        batch_first: bool,
        norm_first: bool,
        bias: bool,
        device: Any,
        dtype: Any,
    ) -> None:
        """Registers ``attn_names`` (MultiheadAttention each), ``linear1``, ``dropout``, ``linear2``, then
        ``norm1``..``normK`` and ``dropout1``..``dropoutK`` with K = len(attn_names) + 1, in that order."""
        _check_dims(cls, d_model, nhead, dim_feedforward)
        fk = {"device": device, "dtype": dtype}
        for name in attn_names:
            setattr(
                self,
                name,
                MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **fk),
            )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **fk)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **fk)
        self.norm_first = norm_first
        n = len(attn_names) + 1
        for i in range(1, n + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk))
        for i in range(1, n + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation, cls)

    def _residual(self, x: Tensor, blocks: list[tuple[Module, Callable[[Tensor], Tensor]]]) -> Tensor:
        """Applies each (norm, block) in turn: ``x + block(norm(x))`` with norm_first, else
        ``norm(x + block(x))``."""
        for norm, block in blocks:
            x = x + block(norm(x)) if self.norm_first else norm(x + block(x))
        return x

    @staticmethod
    def _attn_block(
        attn: Module,
        drop: Module,
        x: Tensor,
        mem: Tensor,
        attn_mask: Tensor | None,
        key_padding_mask: Tensor | None,
        is_causal: bool,
    ) -> Tensor:
        x = attn(
            x,
            mem,
            mem,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return drop(x)

    def _sa_block(
        self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None, is_causal: bool
    ) -> Tensor:
        return self._attn_block(self.self_attn, self.dropout1, x, x, attn_mask, key_padding_mask, is_causal)

    def _feed_forward(self, x: Tensor, drop: Module) -> Tensor:
        return drop(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention + feed-forward block (post-norm by default, pre-norm with ``norm_first``).

    Submodules as PyTorch: ``self_attn`` (MultiheadAttention), ``linear1`` (d_model -> dim_feedforward),
    ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``.
    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False) -> src's shape.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self._build(
            "TransformerEncoderLayer",
            ("self_attn",),
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation,
            layer_norm_eps,
            batch_first,
            norm_first,
            bias,
            device,
            dtype,
        )

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        def sa(x: Tensor) -> Tensor:
            return self._sa_block(x, src_mask, src_key_padding_mask, is_causal)

        return self._residual(src, [(self.norm1, sa), (self.norm2, self._ff_block)])

    def _ff_block(self, x: Tensor) -> Tensor:
        return self._feed_forward(x, self.dropout2)


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention + cross-attention over ``memory`` + feed-forward.

    Submodules as PyTorch: ``self_attn``, ``multihead_attn``, ``linear1``, ``dropout``, ``linear2``,
    ``norm1``..``norm3``, ``dropout1``..``dropout3``.
    forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
    tgt_is_causal=False, memory_is_causal=False) -> tgt's shape.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self._build(
            "TransformerDecoderLayer",
            ("self_attn", "multihead_attn"),
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation,
            layer_norm_eps,
            batch_first,
            norm_first,
            bias,
            device,
            dtype,
        )

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        def sa(x: Tensor) -> Tensor:
            return self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal)

        def mha(x: Tensor) -> Tensor:
            return self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)

        return self._residual(tgt, [(self.norm1, sa), (self.norm2, mha), (self.norm3, self._ff_block)])

    def _mha_block(
        self,
        x: Tensor,
        mem: Tensor,
        attn_mask: Tensor | None,
        key_padding_mask: Tensor | None,
        is_causal: bool,
    ) -> Tensor:
        return self._attn_block(
            self.multihead_attn, self.dropout2, x, mem, attn_mask, key_padding_mask, is_causal
        )

    def _ff_block(self, x: Tensor) -> Tensor:
        return self._feed_forward(x, self.dropout3)


def _clones(layer: Module, n: int, cls: str) -> ModuleList:
    if not isinstance(layer, Module):
        raise TypeError(f"{cls}: expected a Module as the layer to stack, got {type(layer).__name__}")
    if n < 0:
        raise ValueError(f"{cls}: num_layers must be non-negative, got {n}")
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


def _is_causal(mask: Tensor | None, is_causal: bool | None, size: int | None = None) -> bool:
    """PyTorch's ``_detect_is_causal_mask``: an explicit flag wins; otherwise True iff ``mask`` equals the
    square subsequent mask of its size."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None:
        return False
    n = size if size is not None else mask.shape[-2]
    if tuple(mask.shape[-2:]) != (n, n):
        return False
    ref = Transformer.generate_square_subsequent_mask(n, dtype=mask.dtype if mask.dtype != bool else None)
    m = mask.array
    if m.dtype == bool:
        return bool((m == (ref.array != 0)).all())
    xp = get_array_module(m)
    return bool(xp.array_equal(m, xp.asarray(ref.array, dtype=m.dtype)))


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` (``layers.0``, ``layers.1``, ...) and an optional final
    ``norm``. forward(src, mask=None, src_key_padding_mask=None, is_causal=None)."""

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        causal = _is_causal(mask, is_causal)
        out = src
        for mod in self.layers:
            out = mod(out, src_mask=mask, is_causal=causal, src_key_padding_mask=src_key_padding_mask)
        return self.norm(out) if self.norm is not None else out


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` and an optional final ``norm``."""

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        causal = _is_causal(tgt_mask, tgt_is_causal)
        out = tgt
        for mod in self.layers:
            out = mod(
                out,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=causal,
                memory_is_causal=memory_is_causal,
            )
        return self.norm(out) if self.norm is not None else out


class Transformer(Module):
    """Encoder-decoder transformer (PyTorch's ``nn.Transformer``): ``encoder`` (TransformerEncoder with a
    final LayerNorm) and ``decoder`` (TransformerDecoder with a final LayerNorm); every weight matrix is
    re-initialised xavier-uniform, as PyTorch does.

    forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
    memory_key_padding_mask, src_is_causal, tgt_is_causal, memory_is_causal) -> (T, N, E).
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(
                d_model,
                nhead,
                dim_feedforward,
                dropout,
                activation,
                layer_norm_eps,
                batch_first,
                norm_first,
                bias,
                **fk,
            )
            self.encoder = TransformerEncoder(
                layer, num_encoder_layers, LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
            )
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(
                d_model,
                nhead,
                dim_feedforward,
                dropout,
                activation,
                layer_norm_eps,
                batch_first,
                norm_first,
                bias,
                **fk,
            )
            self.decoder = TransformerDecoder(
                layer, num_decoder_layers, LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
            )
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        batched = src.ndim == 3
        if not self.batch_first and batched and src.shape[1] != tgt.shape[1]:
            raise RuntimeError(
                f"Transformer: the batch number of src ({src.shape[1]}) and tgt ({tgt.shape[1]}) "
                "must be equal"
            )
        if self.batch_first and batched and src.shape[0] != tgt.shape[0]:
            raise RuntimeError(
                f"Transformer: the batch number of src ({src.shape[0]}) and tgt ({tgt.shape[0]}) "
                "must be equal"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(
                f"Transformer: the feature number of src and tgt must be equal to d_model "
                f"({self.d_model}), got {src.shape[-1]} and {tgt.shape[-1]}"
            )
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """(sz, sz) float mask: -inf above the diagonal (future positions), 0 on and below it."""
        dt = np.dtype(get_default_dtype() if dtype is None else as_dtype(dtype))
        m = np.triu(np.full((sz, sz), -np.inf, dtype=dt), 1)
        out = Tensor._make(m)
        return out if device is None else out.to(device)
