"""smtgen for Python: bit-exact GEMM and convolution through the golden models of
smtgen's SySMT / SPARQ processing elements, and (in :mod:`smtgen.torch`) a PyTorch
flow that quantizes a network the reference way and runs its layers through them.

Design points are preset names (``smtgen.designs()``), ``"PRESET+key=value"``
strings as the CLI takes them, or dicts ``{"preset": "sysmt4", "pe.rounding": ...}``.
"""

import numpy as _np

from ._smtgen import conv2d, cycles, describe, designs, gemm, gemm_reference, gemm_stats

__all__ = [
    "conv2d",
    "cycles",
    "describe",
    "designs",
    "gemm",
    "gemm_reference",
    "gemm_stats",
    "prune_2_4",
]


def prune_2_4(w, axis=None):
    """Prunes weights to 2:4 along the reduction axis, as 2:4-sparse designs
    (``sparq-stc-*``, ``pe.stc``) require: in every aligned group of four consecutive
    indices along ``axis``, keeps the two largest ``|w|`` (ties to the lower index)
    and zeroes the rest. Never applied implicitly.

    ``axis`` defaults to 0 for a 2-D ``K x N`` matrix (as :func:`gemm` takes it). For
    4-D ``O x C x KH x KW`` convolution weights the groups are those of the lowered
    GEMM :func:`conv2d` runs (``k = tap * C + c``, kernel-tap-major, input channel
    innermost), so a group spans two taps when ``C`` is not a multiple of four; ``axis``
    must then be left out (or 1). Works on numpy arrays of any numeric dtype; returns
    ``(pruned copy, number zeroed)``.
    """
    arr = _np.asarray(w)
    if arr.ndim not in (2, 4):
        raise ValueError(
            f"w has shape {arr.shape}: allowed a 2-D K x N matrix or 4-D O x C x KH x KW weights"
        )
    if arr.ndim == 4:
        if axis not in (None, 1):
            raise ValueError(
                f"axis = {axis}: allowed 1 (the input channels) or None for 4-D weights"
            )
        # Prune the lowered K x O matrix, then lay it back out as O x C x KH x KW.
        o, c, kh, kw = arr.shape
        lowered = _np.transpose(arr, (2, 3, 1, 0)).reshape(kh * kw * c, o)
        out, zeroed = prune_2_4(lowered, axis=0)
        back = _np.transpose(out.reshape(kh, kw, c, o), (3, 2, 0, 1))
        return _np.ascontiguousarray(back), zeroed
    if axis is None:
        axis = 0
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis = {axis}: allowed 0..{arr.ndim - 1}")
    moved = _np.moveaxis(arr, axis, -1)
    k = moved.shape[-1]
    pad = (-k) % 4
    padded = _np.concatenate(
        [moved, _np.zeros(moved.shape[:-1] + (pad,), dtype=moved.dtype)], axis=-1
    )
    groups = padded.reshape(moved.shape[:-1] + ((k + pad) // 4, 4))
    # Largest magnitude first; a stable sort keeps the lower index first among equals.
    order = _np.argsort(-_np.abs(groups.astype(_np.float64)), axis=-1, kind="stable")
    keep = _np.zeros(groups.shape, dtype=bool)
    _np.put_along_axis(keep, order[..., :2], True, axis=-1)
    out = _np.where(keep, groups, 0).reshape(padded.shape)[..., :k]
    zeroed = int(_np.count_nonzero(moved) - _np.count_nonzero(out))
    return _np.ascontiguousarray(_np.moveaxis(out, -1, axis)).astype(arr.dtype), zeroed
__version__ = "0.1.0"
