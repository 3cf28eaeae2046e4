"""smtgen for Python: bit-exact GEMM and convolution through the golden models of
smtgen's SySMT / SPARQ processing elements, and (in :mod:`smtgen.torch`) a PyTorch
flow that quantizes a network the reference way and runs its layers through them.

Design points are preset names (``smtgen.designs()``), ``"PRESET+key=value"``
strings as the CLI takes them, or dicts ``{"preset": "sysmt4", "pe.rounding": ...}``.
"""

from ._smtgen import conv2d, cycles, describe, designs, gemm, gemm_reference, gemm_stats

__all__ = ["conv2d", "cycles", "describe", "designs", "gemm", "gemm_reference", "gemm_stats"]
__version__ = "0.1.0"
