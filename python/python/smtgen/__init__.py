"""smtgen for Python: bit-exact GEMM and convolution through the golden models of
smtgen's SySMT / SPARQ processing elements, and (in :mod:`smtgen.torch`) a PyTorch
flow that quantizes a network the reference way and runs its layers through them.

Design points are preset names (``smtgen.designs()``), ``"PRESET+key=value"``
strings as the CLI takes them, or dicts ``{"preset": "sysmt4", "pe.rounding": ...}``.
"""

import os as _os
import sys as _sys
from typing import Any, Optional, Tuple

# torch's OpenMP runtime (libgomp) keeps its idle threads spinning for
# milliseconds after every parallel region unless OMP_WAIT_POLICY says
# otherwise; between torch's operations and smtgen's layers those spinning
# threads take the cores smtgen's own threads need (on two cores the simulated
# layers of ResNet-18 ran 1.5-2x slower). The runtime reads the variable once,
# when torch loads it, so it is set here, before torch is imported, and only if
# the user has not set it. It changes no result. Import smtgen before torch to
# get it; ``OMP_POLICY_SET_BY_SMTGEN`` says whether it took effect this way.
OMP_POLICY_SET_BY_SMTGEN = "OMP_WAIT_POLICY" not in _os.environ and "torch" not in _sys.modules
if OMP_POLICY_SET_BY_SMTGEN:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import numpy as _np  # noqa: E402

from ._smtgen import LayerCache, conv2d, cycles, describe, designs, gemm, gemm_reference, gemm_stats, layer_forward, lower  # noqa: E402
from ._smtgen import prune_2_4 as _prune_2_4  # noqa: E402

__all__ = [
    "OMP_POLICY_SET_BY_SMTGEN",
    "LayerCache",
    "conv2d",
    "cycles",
    "describe",
    "designs",
    "gemm",
    "gemm_reference",
    "gemm_stats",
    "layer_forward",
    "lower",
    "prune_2_4",
]


def prune_2_4(w: Any, axis: Optional[int] = None) -> Tuple[Any, int]:
    """Prunes weights to 2:4 along the reduction axis, as 2:4-sparse designs
    (``sparq-stc-*``, ``pe.stc``) require: in every aligned group of four consecutive
    indices along ``axis``, keeps the two largest ``|w|`` (ties to the lower index)
    and zeroes the rest. Never applied implicitly. The rule runs in the compiled core
    (the one the CLI's ``--prune 2:4`` uses).

    ``axis`` defaults to 0 for a 2-D ``K x N`` matrix (as :func:`gemm` takes it). For
    4-D ``O x C x KH x KW`` convolution weights the groups are those of the lowered
    GEMM :func:`conv2d` runs (``k = tap * C + c``, kernel-tap-major, input channel
    innermost), so a group spans two taps when ``C`` is not a multiple of four; ``axis``
    must then be left out (or 1). Works on numpy arrays of any real dtype; returns
    ``(pruned copy, number zeroed)``.
    """
    arr = _np.asarray(w)
    out, zeroed = _prune_2_4(_np.asarray(arr, dtype=_np.float64), axis)
    return _np.ascontiguousarray(out.astype(arr.dtype)), int(zeroed)


__version__ = "0.1.0"
