"""Registry entries for convolution and pooling (minigrad/nn/conv.py), checked against the loop
references of minigrad/nn/conv_reference.py (imported by tests/opdb.py)."""

from __future__ import annotations

import numpy as np
from opdb import C, S, arr, distinct, register

from minigrad.nn import conv as K
from minigrad.nn.conv_reference import (
    adaptive_avg_pool2d_reference,
    avg_pool2d_reference,
    conv2d_reference,
    conv2d_reference_grads,
    conv_transpose2d_reference,
    max_pool2d_reference,
)


def _conv1d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    unbatched = x.ndim == 2
    x4 = (x[None] if unbatched else x)[:, :, None, :]
    pad = padding if isinstance(padding, str) else (0, padding)
    y = conv2d_reference(x4, w[:, :, None, :], b, (1, stride), pad, (1, dilation), groups)[:, :, 0]
    return y[0] if unbatched else y


register("nn.conv2d", K.conv2d, conv2d_reference,
         [S(arr(2, 2, 5, 5), arr(2, 2, 3, 3), arr(2)),
          S(arr(2, 2, 5, 5), arr(3, 2, 3, 3), arr(3), stride=2, padding=1, desc="stride-pad"),
          S(arr(1, 2, 6, 5), arr(2, 2, 2, 3), None, padding="same", dilation=(2, 1),
            desc="same-dilation-nobias"),
          S(arr(2, 4, 4, 4), arr(4, 2, 3, 3), arr(4), padding=1, groups=2, desc="groups"),
          S(arr(1, 2, 5, 6), arr(2, 2, 3, 2), None, stride=(2, 1), padding=(1, 0), desc="non-square"),
          S(arr(2, 5, 5), arr(2, 2, 3, 3), arr(2), padding=2, dilation=2, desc="unbatched-dilation"),
          S(arr(8, 2, 3, 3), arr(1, 2, 3, 3), arr(1), padding=1, desc="batch-8"),
          # rows as wide as the padded image (stride 1 along W): the input gradient by kernel offsets ...
          S(arr(2, 2, 3, 9), arr(2, 2, 3, 3), arr(2), padding=1, desc="wide-rows"),
          # ... and by col2im (stride 2 along H, groups)
          S(arr(1, 2, 4, 9), arr(2, 1, 3, 3), None, stride=(2, 1), padding=1, groups=2,
            desc="wide-rows-stride-groups")],
         covers=("conv2d",))
register("nn.conv1d", K.conv1d, _conv1d_ref,
         [S(arr(2, 2, 7), arr(3, 2, 3), arr(3), stride=2, padding=1),
          S(arr(2, 6), arr(2, 1, 2), None, padding="same", dilation=2, groups=2,
            desc="unbatched-same-groups")],
         covers=("conv1d",))
register("nn.conv_transpose2d", K.conv_transpose2d, conv_transpose2d_reference,
         [S(arr(2, 2, 3, 3), arr(2, 2, 3, 3), arr(2), stride=2, padding=1, output_padding=1,
            desc="stride-output_padding"),
          S(arr(1, 4, 3, 4), arr(4, 1, 2, 2), None, groups=2, dilation=2, desc="groups-dilation-nobias"),
          S(arr(1, 2, 3, 2), arr(2, 1, 3, 2), arr(1), stride=(1, 2), padding=(1, 0), output_padding=(0, 1),
            desc="non-square")],
         covers=("conv_transpose2d",))
register("nn.conv_transpose1d", K.conv_transpose1d,
         lambda x, w, b=None, stride=1, padding=0, output_padding=0: conv_transpose2d_reference(
             x[:, :, None], w[:, :, None], b, (1, stride), (0, padding), (0, output_padding))[:, :, 0],
         [S(arr(2, 2, 4), arr(2, 3, 3), arr(3), stride=2, padding=1, output_padding=1)])


def _grad_weight(x, gy, stride=1, padding=0, dilation=1, groups=1, k=(3, 3)):
    """The weight-gradient op on its own, as a function of (x, dy)."""
    kh, kw = k
    g = K.ConvGeometry(K._pair(stride, "", ""), (padding,) * 4, K._pair(dilation, "", ""), groups)
    return K.Conv2dGradWeight(g, k)(x, gy)


def _grad_weight_ref(x, gy, stride=1, padding=0, dilation=1, groups=1, k=(3, 3)):
    w = np.zeros((gy.shape[1], x.shape[1] // groups) + tuple(k))
    return conv2d_reference_grads(x, w, gy, stride, padding, dilation, groups)[1]


register("nn.conv2d_grad_weight", _grad_weight, _grad_weight_ref,
         [S(arr(2, 2, 5, 5), arr(2, 3, 3, 3), padding=0),
          S(arr(1, 4, 5, 5), arr(1, 2, 3, 3), stride=2, padding=1, groups=2, desc="stride-groups")],
         covers=("Conv2dGradWeight",))


def _grad_input(gy, w, x_hw=(5, 5), stride=1, padding=0, dilation=1, groups=1):
    g = K.ConvGeometry(K._pair(stride, "", ""), (padding,) * 4, K._pair(dilation, "", ""), groups)
    return K.Conv2dGradInput(g, x_hw)(gy, w)


def _grad_input_ref(gy, w, x_hw=(5, 5), stride=1, padding=0, dilation=1, groups=1):
    x = np.zeros((gy.shape[0], w.shape[1] * groups) + tuple(x_hw))
    return conv2d_reference_grads(x, w, gy, stride, padding, dilation, groups)[0]


register("nn.conv2d_grad_input", _grad_input, _grad_input_ref,
         [S(arr(2, 3, 3, 3), arr(3, 2, 3, 3)),
          S(arr(1, 2, 3, 3), arr(2, 1, 3, 3), x_hw=(6, 5), stride=2, padding=1, groups=2,
            desc="stride-groups")],
         covers=("Conv2dGradInput",))

register("nn.max_pool2d", K.max_pool2d, max_pool2d_reference,
         [S(distinct(2, 2, 4, 4), 2),
          S(distinct(2, 2, 5, 5), 3, 2, 1, desc="overlap-pad"),
          S(distinct(1, 2, 6, 5), (2, 3), (1, 2), ceil_mode=True, desc="ceil-non-square"),
          S(distinct(1, 2, 6, 6), 2, 1, 1, dilation=2, return_indices=True, desc="dilation-indices")],
         covers=("max_pool2d",))
register("nn.avg_pool2d", K.avg_pool2d, avg_pool2d_reference,
         [S(arr(2, 2, 4, 4), 2),
          S(arr(2, 2, 5, 5), 3, 2, 1, desc="overlap-pad"),
          S(arr(1, 2, 5, 6), (3, 2), (2, 2), 1, ceil_mode=True, count_include_pad=False,
            desc="ceil-exclude-pad"),
          S(arr(1, 2, 4, 4), 3, 1, 1, divisor_override=4, desc="divisor_override")],
         covers=("avg_pool2d",))
register("nn.adaptive_avg_pool2d", K.adaptive_avg_pool2d, adaptive_avg_pool2d_reference,
         [S(arr(2, 2, 5, 5), 3), S(arr(2, 2, 6, 4), (3, 2), desc="divisible"),
          S(arr(1, 2, 3, 4), 1, desc="global"), S(arr(1, 2, 5, 4), (None, 3), desc="none")],
         covers=("adaptive_avg_pool2d",))


# --- PixelCNN layers (minigrad/nn/masked_conv.py, gated_pixelcnn.py), as functions of their parameters ----
def _with_params(module, tensors, *args):
    """Call ``module(*args)`` with its parameters (named_parameters order) replaced by ``tensors``."""
    saved = []
    for (name, _), t in zip(module.named_parameters(), tensors):
        path, _, pname = name.rpartition(".")
        owner = module.get_submodule(path) if path else module
        saved.append((owner, pname, owner._parameters[pname]))
        owner._parameters[pname] = t
    try:
        return module(*args)
    finally:
        for owner, pname, p in saved:
            owner._parameters[pname] = p


def _masked(x, w, b, mask_type="B", groups=1):
    from minigrad.nn import MaskedConv2d

    layer = MaskedConv2d(w.shape[1], w.shape[0], w.shape[2:], mask_type, color_groups=groups)
    return _with_params(layer, [w, b], x)


def _masked_ref(x, w, b, mask_type="B", groups=1):
    from minigrad.nn.masked_conv import causal_mask

    mask = causal_mask(mask_type, w.shape[0], w.shape[1], w.shape[2:], groups)
    return conv2d_reference(x, w * mask, b, padding=(w.shape[2] // 2, w.shape[3] // 2))


register("nn.MaskedConv2d", _masked, _masked_ref,
         [S(arr(2, 2, 4, 5), arr(3, 2, 3, 3), arr(3), "A"), S(arr(1, 2, 5, 4), arr(2, 2, 5, 3), arr(2), "B",
                                                               desc="B-5x3"),
          S(arr(1, 3, 3, 4), arr(6, 3, 3, 3), arr(6), "A", 3, desc="A-rgb")], covers=("MaskedConv2d",))


_GATED = {}


def _gated(v, h, *params, mask_type="B", y=None):
    from minigrad.nn import GatedPixelCNNLayer

    c_in, c = v.shape[1], params[6].shape[0]          # h_out.weight (C, C, 1, 1)
    key = (c_in, c, mask_type, y is not None)
    if key not in _GATED:
        _GATED[key] = GatedPixelCNNLayer(c_in, c, 3, mask_type, num_classes=3 if y is not None else None)
    return _with_params(_GATED[key], params, v, h, y)


def _gated_ref(v, h, wv, bv, wh, bh, wl, bl, wo, bo, emb=None, mask_type="B", y=None):
    def gate(a):
        c = a.shape[1] // 2
        return np.tanh(a[:, :c]) / (1 + np.exp(-a[:, c:]))

    hh, ww = v.shape[2:]
    vp = conv2d_reference(np.pad(v, ((0, 0), (0, 0), (1, 0), (1, 1))), wv, bv)
    shift = 2 if mask_type == "A" else 1
    hp = conv2d_reference(np.pad(h, ((0, 0), (0, 0), (0, 0), (shift, 0))), wh, bh)[..., :ww]
    hp = hp + conv2d_reference(np.pad(vp, ((0, 0), (0, 0), (1, 0), (0, 0)))[:, :, :hh], wl, bl)
    if y is not None:
        cb = emb[y][:, :, None, None]
        vp, hp = vp + cb[:, : vp.shape[1]], hp + cb[:, vp.shape[1]:]
    out = conv2d_reference(gate(hp), wo, bo)
    return gate(vp), (h + out if mask_type == "B" and h.shape[1] == out.shape[1] else out)


def _gated_params(c_in, c, classes=0):
    p = [arr(2 * c, c_in, 2, 3), arr(2 * c), arr(2 * c, c_in, 1, 2), arr(2 * c), arr(2 * c, 2 * c, 1, 1),
         arr(2 * c), arr(c, c, 1, 1), arr(c)]
    return p + ([arr(classes, 4 * c)] if classes else [])


register("nn.GatedPixelCNNLayer", _gated, _gated_ref,
         [S(arr(1, 1, 3, 4), arr(1, 1, 3, 4), *_gated_params(1, 2), mask_type="A", desc="A"),
          S(arr(2, 2, 3, 3), arr(2, 2, 3, 3), *_gated_params(2, 2), desc="B-residual"),
          S(arr(2, 2, 3, 3), arr(2, 2, 3, 3), *_gated_params(2, 2, 3), y=C(np.array([2, 0])),
            desc="B-class-bias")], covers=("GatedPixelCNNLayer",))
