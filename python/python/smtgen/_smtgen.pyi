"""Type stubs of the compiled extension ``smtgen._smtgen`` (Rust, PyO3).

Arrays are numpy arrays. Operands that are C-contiguous are read in place; any
other layout (strided, transposed, Fortran order) is accepted and gives the same
result. Results are new arrays handed over without a copy. Every function refuses
a tensor of more than ``max_elements`` elements (default 2**24, as the CLI's
``--max-elements``) with a ``ValueError`` naming the argument and the ceiling.
"""

from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

Design = Union[str, Mapping[str, object]]
"""A preset name (``designs()``), a ``"PRESET+key=value"`` string or a dict with a
``"preset"`` key and config fields."""

ConvGeometry = Tuple[int, int, int, int, int, int, int, int, int]
"""``(stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right, dilation_h,
dilation_w, groups)``."""

def gemm(
    a: npt.NDArray[np.uint8],
    w: npt.NDArray[np.int8],
    design: Design,
    jobs: int = 0,
    max_elements: int = 16777216,
) -> npt.NDArray[Any]:
    """``C = A·W`` under a design: ``a`` uint8 M×K, ``w`` int8 K×N; int32 M×N (int64
    when the design's accumulator is wider than 32 bits), bit-exact with
    ``smtgen gemm``. ``design="exact"``: the exact integer GEMM (int64, no wrap).
    ``jobs``: threads (0 = every core)."""

def gemm_reference(
    a: npt.NDArray[np.uint8],
    w: npt.NDArray[np.int8],
    design: Design,
    max_elements: int = 16777216,
) -> npt.NDArray[Any]:
    """The golden model's GEMM (one PE model per output; about a thousand times
    slower than :func:`gemm`): the reference :func:`gemm` is tested against."""

def gemm_stats(
    a: npt.NDArray[np.uint8],
    w: npt.NDArray[np.int8],
    design: Design,
    max_elements: int = 16777216,
) -> Tuple[npt.NDArray[Any], Dict[str, Any]]:
    """``(C, stats)``: the design's GEMM and its statistics against the exact
    integer GEMM (idle, collision and reduced-precision shares, the active-lane
    histogram ``active_histogram``, the output error and ``sqnr_db``)."""

def conv2d(
    x: npt.NDArray[np.uint8],
    w: npt.NDArray[np.int8],
    design: Design,
    stride: int = 1,
    padding: int = 0,
    jobs: int = 0,
    max_elements: int = 16777216,
) -> npt.NDArray[Any]:
    """A 2-D convolution under a design: ``x`` uint8 N×C×H×W, ``w`` int8
    O×C×KH×KW, zero padding on every side, lowered with K kernel-tap-major and
    input-channel-innermost; returns N×O×OH×OW integers."""

def layer_forward(
    x: npt.NDArray[Any],
    w: npt.NDArray[np.int8],
    dx: float,
    dw: npt.NDArray[np.float64],
    bias: Optional[npt.NDArray[np.float64]],
    design: Design,
    conv: Optional[ConvGeometry] = None,
    jobs: int = 0,
    name: str = "layer",
    max_elements: int = 16777216,
    times: bool = False,
    cache: Optional["LayerCache"] = None,
) -> Any:
    """One layer's integer work in one call: ``x`` (float32 or float64; N×C×H×W
    for a convolution, rows×I for a linear layer, ``conv=None``) quantized with
    ``dx`` (round half to even, clamp 0..255; NaN, infinite or negative values raise
    ``ValueError`` naming ``name``), lowered in the contract's K order inside the
    engine, multiplied under ``design`` (``"exact"``: the exact int8 layer) per
    group, and dequantized (``C·dx·dw[o] + bias[o]`` in float64, one rounding to
    ``x``'s dtype) into a new N×O×OH×OW (or rows×O) array. ``w`` is int8
    O×C/groups×KH×KW (or O×I). With ``times=True`` returns ``(y, times)``: seconds
    per stage (``prepare``, ``quantize`` and ``wall`` wall time; ``lower``,
    ``transform``, ``gemm``, ``dequantize`` CPU time summed over threads). With
    ``cache`` (a :class:`LayerCache`) the weights are prepared (lowered, planned,
    transformed, packed) once and kept for later calls with the same weights and
    design. A depthwise layer (one output channel per group) runs all its groups in
    one pass, bit-identical to one GEMM per group."""

class LayerCache:
    """A layer's weights prepared for the engine, kept between
    :func:`layer_forward` calls that pass it as ``cache=``. It holds a copy of the
    weights and the design, and prepares again whenever a call's differ, so it
    never gives a stale result. Copies and pickles are empty caches."""

    def __init__(self) -> None: ...
    @property
    def preparations(self) -> int:
        """How many times this cache prepared weights."""
    def clear(self) -> None:
        """Drops the prepared weights."""

def lower(
    x: npt.NDArray[Any],
    w: npt.NDArray[np.int8],
    dx: float,
    conv: Optional[ConvGeometry] = None,
    name: str = "layer",
    max_elements: int = 16777216,
) -> List[Tuple[npt.NDArray[np.uint8], npt.NDArray[np.int8]]]:
    """A layer's GEMM operands as :func:`layer_forward` builds them: ``x``
    quantized and lowered per group; a list of ``(A, W)``, A uint8 M×K (``k = tap ·
    C/groups + c``), W int8 K×(O/groups); one pair for a linear layer."""

def prune_2_4(w: npt.NDArray[np.float64], axis: Optional[int] = None) -> Tuple[npt.NDArray[np.float64], int]:
    """2:4 pruning of float64 weights along the reduction (see
    :func:`smtgen.prune_2_4`, which takes any real dtype)."""

def cycles(m: int, k: int, n: int, design: Design, rows: int = 16, cols: int = 16) -> Dict[str, Any]:
    """Cycles of an M×K·K×N GEMM on a ``rows``×``cols`` array of the design and of
    the baseline on the same array: ``cycles``, ``baseline_cycles``, ``speedup``,
    ``tiles``, ``groups``."""

def designs() -> List[str]:
    """The presets' names, in the order ``smtgen presets`` lists them."""

def describe(design: Design) -> Dict[str, Any]:
    """A design point: name, lanes, policy, accumulator width, the preset's
    description and the full YAML."""
