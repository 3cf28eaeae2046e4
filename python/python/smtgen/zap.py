"""Skipping outputs predicted zero: cross-neuron prediction and ZAP over any design.

Two ways to skip the work of convolution outputs that a ReLU would zero, applied to a
network that already runs under :func:`smtgen.torch.simulate` (or float):

* **cross-neuron prediction** (Shomron & Weiser, IEEE CAL 2019): a fixed spatial
  pattern ``M`` of each output feature map is computed exactly first; every other
  output is skipped (set to 0) when at least ``k`` of its computed neighbours
  (4- or 8-neighbourhood, same channel) are zero after the activation;
* **ZAP** (Shomron, Banner, Shkolnik & Weiser, ECCV 2020): a tiny per-layer predictor,
  depthwise 3×3 conv (with bias) → BN → ReLU → depthwise 3×3 conv → BN, reads the
  computed outputs ``x·M`` and scores the others; an output outside ``M`` is computed
  only when its score exceeds the layer's threshold, otherwise it is 0.

Where it acts. A *chain* is a convolution, an optional BatchNorm and a ReLU or ReLU6
(found with ``torch.fx``, or in module order when the model cannot be traced). The
computed outputs are what the layer's design produced (its GEMM through smtgen when
the conv is simulated), after BN and the activation: the predictors see what the
hardware computed. An output-stationary array computes every output independently
(a PE's lanes are reduction indices of one output, ``docs/numerics.md`` §1), so
skipping an output leaves every computed output bit-identical; skipping is therefore
applied as a mask on the layer's result, a skipped output being 0 after the
activation (it is set to 0 before it; ReLU(0) = ReLU6(0) = 0). A conv whose output
is not followed by a ReLU is refused by name (:class:`NotReluError`).

Accounting, per layer and in total (:meth:`Skipper.report`): outputs, outputs in the
exact pattern, outputs skipped, MACs saved (skipped outputs × the conv's MACs per
output, ``C_in/groups · KH · KW``), the predictor's own MACs (ZAP: two depthwise 3×3
convs over the map, 18 per output; cross-neuron: none, it only compares), and the
mispredictions (skipped outputs that were not zero, and their share of the layer's
activation mass ``Σ x``). MACs saved in the *next* layer by the extra zeros are not
counted. Use::

    import smtgen.torch as st, smtgen.zap as sz
    st.quantize(model, calib); st.simulate(model, "sysmt2")
    sk = sz.attach_zap(model, ["features.3", "features.6"], mask_type=5, seed=0)
    sz.train_zap(sk, train_loader, batches=100)          # label-free, network frozen
    curves = sz.sweep(sk, held_out_loader, batches=20)   # thresholds -1.3 ... 1.3
    plan = sz.operating_point(curves, budget=0.05)       # min net MACs, Σ lost mass ≤ 0.05
    sk.set_thresholds(plan.thresholds)
    st.recalibrate_bn(model, train_loader, batches=17)   # the one BN pass (optional)
    sk.reset_stats(); st.evaluate(model, test_loader); print(sk.report())
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import numpy.typing as npt

try:
    from tqdm import tqdm as _tqdm
except ImportError as _e:  # pragma: no cover - a packaging error, said plainly
    raise ImportError("smtgen.zap needs tqdm (Debian: apt-get install python3-tqdm; or pip install tqdm)") from _e

from .torch import QuantLayer

__all__ = [
    "MASK_TYPES",
    "Chain",
    "NotReluError",
    "mask_pattern",
    "mask_share",
    "find_chains",
    "CrossNeuron",
    "Oracle",
    "ZapPredictor",
    "Skipper",
    "LayerSkip",
    "SkipReport",
    "attach",
    "attach_cross_neuron",
    "attach_zap",
    "train_zap",
    "Curves",
    "sweep",
    "OperatingPoint",
    "operating_point",
    "model_macs",
    "THRESHOLDS",
    "EXHAUSTIVE_LAYERS",
    "gemm_operands",
    "gemm_skip_mask",
]

NDArray = npt.NDArray[np.float64]

#: The mask types: 0 … 10, computing 1/9 … 8/9 of each map exactly (5: checkerboard).
MASK_TYPES = tuple(range(11))

#: The threshold sweep: −1.3 … 1.3 in steps of 0.1 (27 points).
THRESHOLDS: Tuple[float, ...] = tuple(round(-1.3 + 0.1 * i, 2) for i in range(27))

# Not-computed positions of the tile of each mask type 5 … 10 (row, column) and the
# tile's period; types 0 … 4 are the complements of 10 … 6.
_TILES: Dict[int, Tuple[int, Tuple[Tuple[int, int], ...]]] = {
    5: (2, ((0, 1), (1, 0))),
    6: (5, ((0, 2), (0, 4), (1, 1), (1, 3), (2, 0), (2, 2), (3, 1), (3, 4), (4, 0), (4, 3))),
    7: (3, ((0, 2), (1, 1), (2, 0))),
    8: (2, ((1, 1),)),
    9: (3, ((1, 1), (2, 0))),
    10: (3, ((1, 1),)),
}


class NotReluError(ValueError):
    """A layer chosen for skipping whose output is not followed by a ReLU/ReLU6."""


def _check_mask_type(mask_type: object) -> int:
    if isinstance(mask_type, bool) or not isinstance(mask_type, int) or mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type = {mask_type!r}: allowed an integer 0 … 10 (5 = checkerboard)")
    return mask_type


def mask_pattern(mask_type: int, height: int, width: int) -> torch.Tensor:
    """The mask ``M`` of a ``height × width`` map (float 0/1, 1 = computed exactly),
    the type's tile repeated from the top-left corner."""
    t = _check_mask_type(mask_type)
    if height < 1 or width < 1:
        raise ValueError(f"map size {height}×{width}: allowed at least 1×1")
    base = 10 - t if t < 5 else t
    period, holes = _TILES[base]
    tile = torch.ones(period, period)
    for r, c in holes:
        tile[r, c] = 0.0
    if t < 5:
        tile = torch.ones_like(tile) - tile
    reps = (-(-height // period), -(-width // period))
    out: torch.Tensor = tile.repeat(*reps)[:height, :width].contiguous()
    return out


def mask_share(mask_type: int) -> float:
    """The share of outputs a mask type computes exactly (its tile's share)."""
    t = _check_mask_type(mask_type)
    period = _TILES[10 - t if t < 5 else t][0]
    m = mask_pattern(t, period, period)
    return int(m.sum()) / int(m.numel())


# -- finding conv → (BN) → ReLU chains -----------------------------------------------


@dataclass
class Chain:
    """A convolution whose output goes (through an optional BatchNorm) into a ReLU or
    ReLU6 and nowhere else. ``site`` is the module whose output is masked (the BN,
    or the conv without one)."""

    conv: str
    norm: Optional[str]
    act: str  # "relu" | "relu6"
    site: str
    found_by: str  # "fx" | "module order"


def _is_conv(m: nn.Module) -> bool:
    return isinstance(m, nn.Conv2d) or (isinstance(m, QuantLayer) and m.kind == "conv")


def _conv_of(m: nn.Module) -> nn.Conv2d:
    if isinstance(m, QuantLayer):
        assert isinstance(m.layer, nn.Conv2d)
        return m.layer
    assert isinstance(m, nn.Conv2d)
    return m


def _act_kind_module(m: nn.Module) -> Optional[str]:
    if isinstance(m, nn.ReLU6):
        return "relu6"
    if isinstance(m, nn.ReLU):
        return "relu"
    return None


def _chains_fx(model: nn.Module) -> Tuple[List[Chain], Dict[str, str]]:
    """Chains from a torch.fx trace (QuantLayer kept as a leaf), and for every other
    conv what follows it."""
    import torch.fx as fx

    class _Tracer(fx.Tracer):  # type: ignore[misc,name-defined]
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return isinstance(m, QuantLayer) or super().is_leaf_module(m, qualname)

    graph = _Tracer().trace(model)
    mods = dict(model.named_modules())

    def act_of(node: Any) -> Optional[str]:
        if node.op == "call_module":
            return _act_kind_module(mods[node.target])
        if node.op == "call_function":
            if node.target in (F.relu, torch.relu, torch.relu_):
                return "relu"
            if node.target is F.relu6:
                return "relu6"
        if node.op == "call_method" and node.target in ("relu", "relu_"):
            return "relu"
        return None

    def describe(node: Any) -> str:
        if node.op == "call_module":
            return f"{type(mods[node.target]).__name__} {node.target!r}"
        return f"{node.op} {getattr(node.target, '__name__', node.target)}"

    chains: List[Chain] = []
    why: Dict[str, str] = {}
    for node in graph.nodes:
        if node.op != "call_module" or not _is_conv(mods[node.target]):
            continue
        name = str(node.target)
        users = list(node.users)
        if len(users) != 1:
            why[name] = f"its output goes to {len(users)} places ({', '.join(describe(u) for u in users) or 'none'})"
            continue
        nxt, norm, site = users[0], None, name
        if nxt.op == "call_module" and isinstance(mods[nxt.target], nn.BatchNorm2d):
            norm = site = str(nxt.target)
            users = list(nxt.users)
            if len(users) != 1:
                why[name] = f"its BatchNorm {norm!r} feeds {len(users)} places"
                continue
            nxt = users[0]
        kind = act_of(nxt)
        if kind is None:
            why[name] = f"it is followed by {describe(nxt)}"
            continue
        chains.append(Chain(name, norm, kind, site, "fx"))
    return chains, why


def _chains_module_order(model: nn.Module) -> Tuple[List[Chain], Dict[str, str]]:
    """Chains from the order in which leaf modules are registered (a heuristic for
    models torch.fx cannot trace: it assumes registration order is execution order)."""
    leaves = [
        (n, m)
        for n, m in model.named_modules()
        if n and (isinstance(m, QuantLayer) or (not list(m.children()) and not _inside_quant(model, n)))
    ]
    chains: List[Chain] = []
    why: Dict[str, str] = {}
    for i, (name, m) in enumerate(leaves):
        if not _is_conv(m):
            continue
        j, norm, site = i + 1, None, name
        if j < len(leaves) and isinstance(leaves[j][1], nn.BatchNorm2d):
            norm = site = leaves[j][0]
            j += 1
        kind = _act_kind_module(leaves[j][1]) if j < len(leaves) else None
        if kind is None:
            nxt = f"{type(leaves[j][1]).__name__} {leaves[j][0]!r}" if j < len(leaves) else "nothing"
            why[name] = f"it is followed by {nxt} (module order)"
            continue
        chains.append(Chain(name, norm, kind, site, "module order"))
    return chains, why


def _inside_quant(model: nn.Module, name: str) -> bool:
    parts = name.split(".")
    m: nn.Module = model
    for p in parts[:-1]:
        m = getattr(m, p)
        if isinstance(m, QuantLayer):
            return True
    return False


def _find(model: nn.Module) -> Tuple[List[Chain], Dict[str, str]]:
    try:
        return _chains_fx(model)
    except Exception as e:  # torch.fx cannot trace data-dependent control flow
        print(
            f"smtgen.zap: torch.fx could not trace the model ({type(e).__name__}: {e}); "
            "chains found in module order instead",
            file=sys.stderr,
        )
        return _chains_module_order(model)


def find_chains(model: nn.Module) -> List[Chain]:
    """Every conv → (BatchNorm2d) → ReLU/ReLU6 chain of the model, in graph order."""
    return _find(model)[0]


# -- predictors ---------------------------------------------------------------------


class CrossNeuron:
    """Cross-neuron prediction: an output outside the mask is skipped when at least
    ``k`` of its computed neighbours (``neighbourhood`` 4: up, down, left, right; 8:
    also the diagonals; same channel, inside the map) are zero. With the checkerboard
    (type 5) every diagonal neighbour is itself predicted, so 4 and 8 coincide."""

    overhead_macs_per_output = 0

    def __init__(self, mask_type: int = 5, neighbourhood: int = 4, k: int = 1):
        self.mask_type = _check_mask_type(mask_type)
        if neighbourhood not in (4, 8) or isinstance(neighbourhood, bool):
            raise ValueError(f"neighbourhood = {neighbourhood!r}: allowed 4 or 8")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= neighbourhood:
            raise ValueError(f"k = {k!r}: allowed an integer 1 … {neighbourhood} (the neighbourhood)")
        self.neighbourhood = neighbourhood
        self.k = k
        # The neighbours' offsets (row, column) into the map padded by one.
        self._offsets = [(0, 1), (2, 1), (1, 0), (1, 2)]
        if neighbourhood == 8:
            self._offsets += [(0, 0), (0, 2), (2, 0), (2, 2)]

    def __repr__(self) -> str:
        return f"CrossNeuron(mask_type={self.mask_type}, neighbourhood={self.neighbourhood}, k={self.k})"

    def keep(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Boolean N×C×H×W: computed (in the mask, or not predicted zero)."""
        h, w = x.shape[2], x.shape[3]
        # Zero computed neighbours, counted by shifted slices of the padded map (a
        # one-channel conv2d over N·C maps did the same an order of magnitude slower).
        zero = F.pad((torch.eq(x, 0) & torch.gt(m, 0)).to(torch.uint8), (1, 1, 1, 1))
        count = torch.zeros(x.shape, dtype=torch.uint8, device=x.device)
        for r, c in self._offsets:
            count += zero[:, :, r: r + h, c: c + w]
        keep: torch.Tensor = torch.gt(m, 0) | torch.lt(count, self.k)
        return keep


class Oracle:
    """The ceiling of any zero predictor with mask ``mask_type``: skips exactly the
    outputs outside the mask that are zero (it reads the outputs it skips, so it is a
    measurement, not hardware). No MACs, no mispredictions."""

    overhead_macs_per_output = 0

    def __init__(self, mask_type: int = 5):
        self.mask_type = _check_mask_type(mask_type)

    def __repr__(self) -> str:
        return f"Oracle(mask_type={self.mask_type})"

    def keep(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Boolean N×C×H×W: in the mask, or not zero."""
        keep: torch.Tensor = torch.gt(m, 0) | torch.gt(x, 0)
        return keep


class ZapPredictor(nn.Module):
    """The ZAP predictor of a layer with ``channels`` output channels: depthwise 3×3
    conv (bias) → BN → ReLU → depthwise 3×3 conv (bias) → BN. It reads ``x·M`` and its
    score counts only outside ``M``."""

    overhead_macs_per_output = 18

    def __init__(self, channels: int, mask_type: int = 5, threshold: Optional[float] = 0.0):
        super().__init__()
        self.mask_type = _check_mask_type(mask_type)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.bn2 = nn.BatchNorm2d(channels)
        #: ``None``: the predictor is switched off (the layer computes every output and
        #: the predictor costs nothing), as an operating point may choose.
        self.threshold: Optional[float] = None if threshold is None else float(threshold)

    def score(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """The raw score ``p·(1−M)`` of the outputs outside the mask."""
        p = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x * m)))))
        out: torch.Tensor = p * (1.0 - m)
        return out

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """The training prediction ``clamp(p·(1−M) + M, 0, 1)``."""
        return torch.clamp(self.score(x, m) + m, 0.0, 1.0)

    @property
    def active_overhead_macs_per_output(self) -> int:
        """The predictor's MACs per output as it runs: 0 when switched off."""
        return 0 if self.threshold is None else self.overhead_macs_per_output

    def keep(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Boolean N×C×H×W: computed (in the mask, or scored above the threshold;
        everything when the predictor is off)."""
        with torch.no_grad():
            if self.threshold is None:
                return torch.ones(x.shape, dtype=torch.bool, device=x.device)
            keep: torch.Tensor = torch.gt(m, 0) | torch.gt(self.score(x, m), self.threshold)
            return keep


Predictor = Union[CrossNeuron, Oracle, ZapPredictor]


# -- the sites and their accounting -------------------------------------------------


class _StopForward(Exception):
    """Raised by a site to end a forward pass once it has what it needs."""


@dataclass
class LayerSkip:
    """One layer's (or the total's) skipping, summed over the images seen."""

    layer: str
    predictor: str
    images: int = 0
    outputs: int = 0
    exact: int = 0
    skipped: int = 0
    mispredicted: int = 0
    mass: float = 0.0
    lost_mass: float = 0.0
    zeros: int = 0
    macs: int = 0
    macs_saved: int = 0
    overhead_macs: int = 0

    @property
    def skipped_share(self) -> float:
        """Skipped outputs over all outputs."""
        return self.skipped / max(self.outputs, 1)

    @property
    def saved_share(self) -> float:
        """MACs saved over the layer's dense MACs."""
        return self.macs_saved / max(self.macs, 1)

    @property
    def net_saved_share(self) -> float:
        """(MACs saved − predictor MACs) over the layer's dense MACs."""
        return (self.macs_saved - self.overhead_macs) / max(self.macs, 1)

    @property
    def lost_mass_share(self) -> float:
        """Activation mass of the mispredicted outputs over the layer's ``Σ x``."""
        return self.lost_mass / self.mass if self.mass > 0 else 0.0

    @property
    def zero_share(self) -> float:
        """Share of the layer's outputs that are zero (the potential)."""
        return self.zeros / max(self.outputs, 1)


@dataclass
class SkipReport:
    """Per layer and in total; ``network_macs`` (all conv/linear MACs of the images
    seen, when known) gives the whole-network share."""

    layers: List[LayerSkip] = field(default_factory=list)
    network_macs: Optional[int] = None

    @property
    def total(self) -> LayerSkip:
        """The layers summed."""
        t = LayerSkip("total", "", images=max((r.images for r in self.layers), default=0))
        for r in self.layers:
            for k in ("outputs", "exact", "skipped", "mispredicted", "zeros", "macs", "macs_saved", "overhead_macs"):
                setattr(t, k, getattr(t, k) + getattr(r, k))
            t.mass += r.mass
            t.lost_mass += r.lost_mass
        return t

    def network_saved_share(self, net: bool = True) -> Optional[float]:
        """MACs saved (minus predictor MACs when ``net``) over the whole network's MACs."""
        if not self.network_macs:
            return None
        t = self.total
        return (t.macs_saved - (t.overhead_macs if net else 0)) / self.network_macs

    def __str__(self) -> str:
        head = (
            f"{'layer':<16} {'predictor':<34} {'outputs':>10} {'skipped %':>9} {'zero %':>7} {'MACs saved %':>12} "
            f"{'overhead %':>10} {'mispred':>8} {'lost mass %':>11}"
        )
        lines = [head]
        for r in self.layers + [self.total]:
            lines.append(
                f"{r.layer:<16} {r.predictor:<34} {r.outputs:>10} {100 * r.skipped_share:>9.2f} "
                f"{100 * r.zero_share:>7.2f} {100 * r.saved_share:>12.2f} "
                f"{100 * r.overhead_macs / max(r.macs, 1):>10.2f} {r.mispredicted:>8} {100 * r.lost_mass_share:>11.3f}"
            )
        s = self.network_saved_share()
        if s is not None:
            lines.append(f"whole network: {100 * s:.2f} % of MACs saved net of predictor MACs")
        return "\n".join(lines)


def _overhead_per_output(p: Predictor) -> int:
    """The predictor's MACs per output as it runs (a switched-off ZAP costs none)."""
    return p.active_overhead_macs_per_output if isinstance(p, ZapPredictor) else p.overhead_macs_per_output


def _label(p: Predictor) -> str:
    if isinstance(p, ZapPredictor):
        th = "off" if p.threshold is None else f"{p.threshold:+.3f}"
        return f"ZAP(mask_type={p.mask_type}, threshold={th})"
    return repr(p)


class _Site:
    """One chain with its predictor: a forward hook on the module before the
    activation that applies, collects or trains."""

    def __init__(self, chain: Chain, conv: nn.Conv2d, module: nn.Module, predictor: Predictor):
        self.chain = chain
        self.conv = conv
        self.predictor = predictor
        self.macs_per_output = (conv.in_channels // conv.groups) * conv.kernel_size[0] * conv.kernel_size[1]
        self.mode = "apply"  # apply | off | sweep | capture
        self.stats = LayerSkip(chain.conv, _label(predictor))
        self.captured: List[Tuple[torch.Tensor, torch.Tensor]] = []
        self.sweep_kept = np.zeros(len(THRESHOLDS))
        self.sweep_kept_mass = np.zeros(len(THRESHOLDS))
        self.sweep_outputs = 0
        self.sweep_mass = 0.0
        self._mask_cache: Dict[Tuple[int, int], torch.Tensor] = {}
        #: The keep mask of the last batch applied (N×C×H×W bool), kept only while
        #: ``record`` (:meth:`Skipper.record_masks`), for :meth:`Skipper.skip_mask`.
        self.record = False
        self.last_keep: Optional[torch.Tensor] = None
        self.handle = module.register_forward_hook(self._hook)  # type: ignore[arg-type]

    def mask(self, h: int, w: int) -> torch.Tensor:
        key = (h, w)
        if key not in self._mask_cache:
            self._mask_cache[key] = mask_pattern(self.predictor.mask_type, h, w)
        return self._mask_cache[key]

    def activation(self, y: torch.Tensor) -> torch.Tensor:
        x = F.relu(y)
        return torch.clamp(x, max=6.0) if self.chain.act == "relu6" else x

    def _hook(self, module: nn.Module, inputs: Any, out: torch.Tensor) -> Optional[torch.Tensor]:
        if self.mode == "off":
            return None
        if out.dim() != 4:
            raise ValueError(f"layer {self.chain.conv!r}: expected an N×C×H×W output, got shape {tuple(out.shape)}")
        with torch.no_grad():
            x = self.activation(out.detach().float())
            m = self.mask(x.shape[2], x.shape[3]).to(x.device)
            if self.mode == "capture":
                self.captured.append((x.to(torch.float16), torch.gt(x, 0)))
                raise _StopForward
            if isinstance(self.predictor, ZapPredictor):
                self.predictor.eval()
            if self.mode == "sweep":
                self._sweep(x, m)
                return None
            keep = self.predictor.keep(x, m)
            if self.record:
                self.last_keep = keep
            skipped = ~keep
            self._account(x, m, skipped)
            return out.masked_fill(skipped, 0.0)

    def _account(self, x: torch.Tensor, m: torch.Tensor, skipped: torch.Tensor) -> None:
        s = self.stats
        n = x.shape[0]
        per_image = x[0].numel()
        miss = skipped & torch.gt(x, 0)
        n_skipped = int(skipped.sum())
        s.images += n
        s.outputs += x.numel()
        s.exact += int(m.sum()) * x.shape[1] * n
        s.skipped += n_skipped
        s.mispredicted += int(miss.sum())
        s.mass += float(torch.sum(x, dtype=torch.float64))
        # x ≥ 0 after the activation: the mass of the mispredicted outputs is that of the skipped ones.
        s.lost_mass += float(torch.sum(x[skipped], dtype=torch.float64)) if n_skipped else 0.0
        s.zeros += int(torch.eq(x, 0).sum())
        s.macs += x.numel() * self.macs_per_output
        s.macs_saved += n_skipped * self.macs_per_output
        s.overhead_macs += _overhead_per_output(self.predictor) * per_image * n

    def _sweep(self, x: torch.Tensor, m: torch.Tensor) -> None:
        assert isinstance(self.predictor, ZapPredictor)
        p = self.predictor.score(x, m)
        xd = x.double()
        inside = torch.gt(m, 0)
        for i, t in enumerate(THRESHOLDS):
            keep = inside | torch.gt(p, t)
            self.sweep_kept[i] += float(keep.sum())
            self.sweep_kept_mass[i] += float((xd * keep).sum())
        self.sweep_outputs += x.numel()
        self.sweep_mass += float(xd.sum())

    def reset(self) -> None:
        self.stats = LayerSkip(self.chain.conv, _label(self.predictor))
        self.sweep_kept[:] = 0
        self.sweep_kept_mass[:] = 0
        self.sweep_outputs = 0
        self.sweep_mass = 0.0
        self.captured = []


class Skipper:
    """The predictors attached to a model (:func:`attach`): switch them on and off,
    set thresholds, read the accounting, detach. Predictors are not submodules of the
    model, so ``model.train()`` and its ``state_dict`` leave them alone."""

    def __init__(self, model: nn.Module, sites: List[_Site]):
        self.model = model
        self.sites = sites
        self.network_macs_per_image: Optional[int] = None

    @property
    def layers(self) -> List[str]:
        """The layers (conv names) with a predictor, in graph order."""
        return [s.chain.conv for s in self.sites]

    def site(self, layer: str) -> _Site:
        """The site of ``layer`` (a conv name)."""
        for s in self.sites:
            if s.chain.conv == layer:
                return s
        raise ValueError(f"no predictor on layer {layer!r}; attached: {self.layers}")

    def enable(self, on: bool = True) -> "Skipper":
        """Skipping on (every site applies its predictor) or off (the model runs as without)."""
        for s in self.sites:
            s.mode = "apply" if on else "off"
        return self

    def set_thresholds(self, thresholds: Mapping[str, Optional[float]]) -> "Skipper":
        """Sets ZAP thresholds by layer name; every name must have a ZAP predictor.
        ``None`` switches that layer's predictor off: the layer computes every output
        and the predictor costs nothing (an :class:`OperatingPoint` may choose it)."""
        for name, t in thresholds.items():
            p = self.site(name).predictor
            if not isinstance(p, ZapPredictor):
                raise ValueError(f"layer {name!r} has {p!r}, not a ZAP predictor: it has no threshold")
            if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not np.isfinite(t)):
                raise ValueError(f"threshold of layer {name!r} = {t!r}: allowed a finite number, or None (off)")
            p.threshold = None if t is None else float(t)
            self.site(name).stats.predictor = _label(p)
        return self

    def reset_stats(self) -> "Skipper":
        """Zeroes every site's counters."""
        for s in self.sites:
            s.reset()
        return self

    def record_masks(self, on: bool = True) -> "Skipper":
        """Keeps (or stops keeping) each layer's decisions on the last batch, for
        :meth:`skip_mask` (off by default: a bool per output of every layer)."""
        for s in self.sites:
            s.record = on
            if not on:
                s.last_keep = None
        return self

    def skip_mask(self, layer: str) -> npt.NDArray[np.uint8]:
        """The skip decisions of ``layer`` on the last batch it applied its predictor
        to since :meth:`record_masks`, as the array's skip mask of that conv's GEMM
        (:func:`gemm_skip_mask`): what ``smtgen compare --skip-mask`` reads beside
        :func:`gemm_operands`."""
        keep = self.site(layer).last_keep
        if keep is None:
            raise ValueError(f"layer {layer!r}: no batch has run with its predictor applied since record_masks()")
        return gemm_skip_mask(keep)

    def report(self) -> SkipReport:
        """The counters since the last :meth:`reset_stats`, per layer and in total."""
        rows = [s.stats for s in self.sites]
        images = max((r.images for r in rows), default=0)
        net = self.network_macs_per_image * images if self.network_macs_per_image else None
        return SkipReport(list(rows), net)

    def detach(self) -> None:
        """Removes every hook: the model runs as before :func:`attach`."""
        for s in self.sites:
            s.handle.remove()
        self.sites = []


def attach(
    model: nn.Module,
    predictors: Mapping[str, Predictor],
    example_input: Optional[torch.Tensor] = None,
) -> Skipper:
    """Attaches a predictor after each named conv (``{conv_name: CrossNeuron(...) |
    ZapPredictor(...) | Oracle(...)}``). Every name must be a conv whose output feeds, through an
    optional BatchNorm2d, a ReLU/ReLU6 and nothing else; any other is refused
    (:class:`NotReluError` naming the layer and what follows it). With
    ``example_input`` the whole network's MACs per image are counted for the total."""
    if not predictors:
        raise ValueError("predictors is empty: name at least one conv layer")
    chains, why = _find(model)
    by_conv = {c.conv: c for c in chains}
    mods = dict(model.named_modules())
    sites: List[_Site] = []
    for name, pred in predictors.items():
        if not isinstance(pred, (CrossNeuron, Oracle, ZapPredictor)):
            raise TypeError(
                f"predictor for {name!r}: expected CrossNeuron, Oracle or ZapPredictor, got {type(pred).__name__}"
            )
        if name not in by_conv:
            if name in why:
                raise NotReluError(
                    f"layer {name!r}: its output is not followed by a ReLU ({why[name]}); skipping predicts "
                    f"outputs a ReLU zeroes. Layers that qualify: {sorted(by_conv)}"
                )
            if name in mods and _is_conv(mods[name]):
                raise NotReluError(f"layer {name!r}: no ReLU follows it; layers that qualify: {sorted(by_conv)}")
            raise ValueError(f"{name!r} is not a conv layer of the model; layers that qualify: {sorted(by_conv)}")
        chain = by_conv[name]
        conv = _conv_of(mods[chain.conv])
        if isinstance(pred, ZapPredictor) and pred.conv1.in_channels != conv.out_channels:
            raise ValueError(
                f"layer {name!r} has {conv.out_channels} output channels; its ZapPredictor has "
                f"{pred.conv1.in_channels}"
            )
        sites.append(_Site(chain, conv, mods[chain.site], pred))
    order = {c.conv: i for i, c in enumerate(chains)}
    sites.sort(key=lambda s: order[s.chain.conv])
    sk = Skipper(model, sites)
    if example_input is not None:
        sk.enable(False)
        sk.network_macs_per_image = model_macs(model, example_input) // max(example_input.shape[0], 1)
        sk.enable(True)
    return sk


def attach_cross_neuron(
    model: nn.Module,
    layers: Sequence[str],
    mask_type: int = 5,
    neighbourhood: int = 4,
    k: int = 1,
    example_input: Optional[torch.Tensor] = None,
) -> Skipper:
    """:func:`attach` with the same :class:`CrossNeuron` rule on every layer."""
    rule = CrossNeuron(mask_type, neighbourhood, k)
    return attach(model, {n: rule for n in layers}, example_input)


def attach_zap(
    model: nn.Module,
    layers: Sequence[str],
    mask_type: int = 5,
    seed: int = 0,
    example_input: Optional[torch.Tensor] = None,
) -> Skipper:
    """:func:`attach` with a fresh :class:`ZapPredictor` per layer, initialized from
    ``seed`` (layer i from ``seed + i``)."""
    mods = dict(model.named_modules())
    preds: Dict[str, Predictor] = {}
    for i, name in enumerate(layers):
        ch = _conv_of(mods[name]).out_channels if name in mods and _is_conv(mods[name]) else 1
        torch.manual_seed(seed + i)
        preds[name] = ZapPredictor(ch, mask_type)
    return attach(model, preds, example_input)


def gemm_skip_mask(keep: torch.Tensor) -> npt.NDArray[np.uint8]:
    """A layer's keep mask (N×C×H×W, true = computed) as the output skip mask of its
    GEMM ``C = A·W``: ``(N·H·W) × C`` uint8, 1 = skipped; row ``(n·H + h)·W + w``
    (the output positions, image-major then raster order, the rows of
    :func:`gemm_operands`' ``A``), column = output channel. ``np.save`` it for
    ``smtgen compare --skip-mask``."""
    if keep.dim() != 4 or keep.dtype != torch.bool:
        raise ValueError(f"keep: expected an N×C×H×W bool tensor, got {keep.dtype} of shape {tuple(keep.shape)}")
    n, c, h, w = keep.shape
    skip = (~keep).permute(0, 2, 3, 1).reshape(n * h * w, c)
    out: npt.NDArray[np.uint8] = np.ascontiguousarray(skip.cpu().numpy().astype(np.uint8))
    return out


def gemm_operands(layer: QuantLayer, x: torch.Tensor) -> Tuple[npt.NDArray[np.uint8], npt.NDArray[np.int8]]:
    """The integer GEMM a quantized conv runs on its input ``x`` (N×C×H×W float, the
    layer's input as it receives it): ``A`` (M×K uint8, ``M = N·OH·OW`` output
    positions, image-major then raster; ``K = KH·KW·C`` kernel-tap-major and
    input-channel-innermost, the lowering of docs/numerics.md) and ``W`` (K×O int8),
    so that ``A·W`` is the layer's accumulators. Written with ``np.save``, they are
    ``smtgen compare --layer-a/--layer-w``'s energy workload. Ungrouped 2-D convs
    with unsigned activations only."""
    if not isinstance(layer, QuantLayer) or layer.kind != "conv":
        raise ValueError(f"layer: expected a quantized 2-D conv (smtgen.torch.QuantLayer), got {type(layer).__name__}")
    wq = layer._wq
    if wq is None:
        raise ValueError(f"layer {layer.name!r} is not quantized yet (smtgen.torch.quantize first)")
    if layer.signed:
        raise ValueError(f"layer {layer.name!r} takes signed activations; the array's A operand is unsigned")
    if x.dim() != 4 or x.shape[1] != wq.shape[1] * layer.layer.groups:
        raise ValueError(f"layer {layer.name!r}: x of shape {tuple(x.shape)}: expected N×{wq.shape[1]}×H×W")
    geom = layer.conv_geometry((int(x.shape[2]), int(x.shape[3])))
    assert geom is not None
    sh, sw, pt, pb, pl, pr, dh, dw, groups = geom
    if groups != 1:
        raise ValueError(f"layer {layer.name!r} has groups = {groups}: one GEMM per group; only groups = 1 here")
    xq = F.pad(layer.quantize_input(x), (pl, pr, pt, pb))
    o, c, kh, kw = (int(v) for v in wq.shape)
    oh = (xq.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xq.shape[3] - dw * (kw - 1) - 1) // sw + 1
    taps = [
        xq[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]
        for i in range(kh)
        for j in range(kw)
    ]
    a = torch.stack(taps).permute(1, 3, 4, 0, 2).reshape(-1, kh * kw * c)
    wm = wq.permute(2, 3, 1, 0).reshape(kh * kw * c, o)
    return (
        np.ascontiguousarray(a.numpy().astype(np.uint8)),
        np.ascontiguousarray(wm.numpy().astype(np.int8)),
    )


def model_macs(model: nn.Module, example_input: torch.Tensor) -> int:
    """All Conv2d and Linear MACs of one forward pass on ``example_input`` (eval mode,
    no grad; a simulated layer counts once, whether or not it runs its inner layer)."""
    total = 0
    hooks = []

    def hook(m: nn.Module, inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        inner = m.layer if isinstance(m, QuantLayer) else m
        if isinstance(inner, nn.Conv2d):
            total += out.numel() * (inner.in_channels // inner.groups) * inner.kernel_size[0] * inner.kernel_size[1]
        elif isinstance(inner, nn.Linear):
            total += out.numel() * inner.in_features

    inside = {id(q.layer) for q in model.modules() if isinstance(q, QuantLayer)}
    for m in model.modules():
        if isinstance(m, QuantLayer) or (isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in inside):
            hooks.append(m.register_forward_hook(hook))
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example_input)
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    return total


def _quiet(progress: bool) -> Optional[bool]:
    """tqdm's ``disable``: off when not asked for, else only where stderr is no terminal."""
    return None if progress else True


# -- ZAP training ----------------------------------------------------------------------


def _inputs(batch: Any) -> torch.Tensor:
    if isinstance(batch, (list, tuple)):
        first: torch.Tensor = batch[0]
        return first
    assert isinstance(batch, torch.Tensor)
    return batch


def train_zap(
    skipper: Skipper,
    loader: Iterable[Any],
    *,
    batches: int,
    epochs: int = 5,
    lr: float = 0.01,
    seed: int = 0,
    progress: bool = True,
) -> Dict[str, List[float]]:
    """Trains every ZAP predictor of ``skipper``, one at a time, label-free, with the
    network frozen in eval mode and every other predictor off: target ``1[x > 0]``
    outside the mask, prediction ``clamp(p·(1−M) + M, 0, 1)``, MSE, Adam (``lr``),
    ``epochs`` passes. The network being frozen, a layer's outputs on the first
    ``batches`` batches of ``loader`` are computed once (under its design) and kept
    (float16); each epoch visits them in a seeded order. Returns, per layer, the mean
    loss of each epoch. (The kept inputs are float16; the targets come from the
    float32 outputs.)"""
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise ValueError(f"batches = {batches!r}: allowed a positive integer")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs = {epochs!r}: allowed a positive integer")
    if not lr > 0:
        raise ValueError(f"lr = {lr!r}: allowed a positive number")
    model = skipper.model
    was = model.training
    modes = [s.mode for s in skipper.sites]
    losses: Dict[str, List[float]] = {}
    rng = np.random.default_rng(seed)
    model.eval()
    try:
        for site in skipper.sites:
            pred = site.predictor
            if not isinstance(pred, ZapPredictor):
                continue
            for s in skipper.sites:
                s.mode = "off"
            site.mode = "capture"
            site.captured = []
            with torch.no_grad():
                bar = _tqdm(loader, total=batches, desc=f"ofm {site.chain.conv}", disable=_quiet(progress), leave=False)
                for i, batch in enumerate(bar):
                    if i >= batches:
                        break
                    try:
                        model(_inputs(batch))
                    except _StopForward:
                        pass
            maps = site.captured
            site.captured = []
            site.mode = "off"
            if not maps:
                raise ValueError(f"layer {site.chain.conv!r}: the loader gave no batch reaching it")
            m = site.mask(maps[0][0].shape[2], maps[0][0].shape[3])
            opt = torch.optim.Adam(pred.parameters(), lr=lr)
            pred.train()
            hist: List[float] = []
            bar = _tqdm(total=epochs * len(maps), desc=f"train ZAP {site.chain.conv}", disable=_quiet(progress))
            for _ in range(epochs):
                total = 0.0
                for j in rng.permutation(len(maps)):
                    xh, positive = maps[int(j)]
                    x = xh.float()
                    target = positive.float() * (1.0 - m) + m
                    out = pred(x, m)
                    loss = F.mse_loss(out, target)
                    opt.zero_grad()
                    loss.backward()  # type: ignore[no-untyped-call]
                    opt.step()
                    total += float(loss)
                    bar.update()
                hist.append(total / len(maps))
                bar.set_postfix(loss=f"{hist[-1]:.4f}")
            bar.close()
            pred.eval()
            losses[site.chain.conv] = hist
    finally:
        for s, md in zip(skipper.sites, modes):
            s.mode = md
        model.train(was)
    return losses


# -- threshold sweep and operating points ---------------------------------------------


@dataclass
class Curves:
    """Per layer, over :data:`THRESHOLDS`: the share of outputs computed (``kept``)
    and the lost activation mass ``1 − Σ(x·keep)/Σx`` (``loss``); ``macs`` is the
    layer's dense MACs per image, ``predictor_macs`` its predictor's MACs per image
    (what switching the predictor on costs, whatever it skips)."""

    thresholds: Tuple[float, ...]
    kept: Dict[str, NDArray]
    loss: Dict[str, NDArray]
    macs: Dict[str, float]
    predictor_macs: Dict[str, float]


def sweep(skipper: Skipper, loader: Iterable[Any], *, batches: int, progress: bool = True) -> Curves:
    """Sweeps every ZAP layer's threshold over :data:`THRESHOLDS` on the first
    ``batches`` batches of ``loader`` (eval mode, no output changed, so each layer is
    measured in isolation)."""
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise ValueError(f"batches = {batches!r}: allowed a positive integer")
    zsites = [s for s in skipper.sites if isinstance(s.predictor, ZapPredictor)]
    if not zsites:
        raise ValueError("the skipper has no ZAP predictor to sweep")
    model = skipper.model
    was = model.training
    modes = [s.mode for s in skipper.sites]
    for s in skipper.sites:
        s.mode = "off"
    for s in zsites:
        s.reset()
        s.mode = "sweep"
    model.eval()
    images = 0
    try:
        with torch.no_grad():
            for i, batch in enumerate(_tqdm(loader, total=batches, desc="threshold sweep", disable=_quiet(progress))):
                if i >= batches:
                    break
                x = _inputs(batch)
                images += int(x.shape[0])
                model(x)
    finally:
        for s, md in zip(skipper.sites, modes):
            s.mode = md
        model.train(was)
    kept, loss, macs, pmacs = {}, {}, {}, {}
    for s in zsites:
        if s.sweep_outputs == 0:
            raise ValueError(f"layer {s.chain.conv!r}: the sweep saw no output")
        kept[s.chain.conv] = s.sweep_kept / s.sweep_outputs
        loss[s.chain.conv] = 1.0 - s.sweep_kept_mass / s.sweep_mass if s.sweep_mass > 0 else np.zeros(len(THRESHOLDS))
        macs[s.chain.conv] = float(s.macs_per_output) * s.sweep_outputs / max(images, 1)
        pmacs[s.chain.conv] = float(ZapPredictor.overhead_macs_per_output) * s.sweep_outputs / max(images, 1)
        s.reset()
    return Curves(THRESHOLDS, kept, loss, macs, pmacs)


def _sigmoid(t: NDArray, a: float, b: float, c: float, d: float) -> NDArray:
    return d + a / (1.0 + np.exp(np.clip(-b * t + c, -60.0, 60.0)))


def _fit(layer: str, what: str, t: NDArray, y: NDArray) -> Tuple[NDArray, float]:
    try:
        from scipy.optimize import curve_fit
    except ImportError as e:
        raise ImportError("operating points need scipy (Debian: apt-get install python3-scipy)") from e
    lo, hi = float(y.min()), float(y.max())
    if hi - lo < 1e-12:  # a flat curve: the sigmoid degenerates to its constant
        return np.array([0.0, 0.0, 0.0, lo]), 0.0
    decreasing = y[0] > y[-1]
    p0 = [hi - lo, -5.0 if decreasing else 5.0, 0.0, lo]
    try:
        with warnings.catch_warnings():  # an exact fit leaves no covariance to estimate: harmless here
            warnings.filterwarnings("ignore", message="Covariance of the parameters could not be estimated")
            popt, _ = curve_fit(_sigmoid, t, y, p0=p0, maxfev=20000)
    except RuntimeError as e:
        raise RuntimeError(f"layer {layer!r}: the 4-parameter sigmoid does not fit its {what} curve ({e})") from e
    rms = float(np.sqrt(np.mean((_sigmoid(t, *popt) - y) ** 2)))
    return popt, rms


def _sigmoid_slope(t: NDArray, a: float, b: float, c: float, d: float) -> NDArray:
    z = np.clip(-b * t + c, -60.0, 60.0)
    e = np.exp(z)
    out: NDArray = a * b * e / (1.0 + e) ** 2
    return out


#: Up to this many candidate layers every on/off combination is solved; above it a
#: local search toggles one layer at a time (from all on and from all off).
EXHAUSTIVE_LAYERS = 6


@dataclass
class OperatingPoint:
    """Per layer a threshold, or ``None`` where the predictor is switched off (it
    cannot pay for itself within the budget), minimizing the fitted net MACs under
    ``Σ fitted loss ≤ budget``; with the fits' predicted share of outputs computed
    (1 where off) and lost mass (0 where off), the predicted net MACs (computed +
    predictors', over the layers' dense MACs), and the fits' RMS residuals."""

    budget: float
    thresholds: Dict[str, Optional[float]]
    predicted_kept: Dict[str, float]
    predicted_loss: Dict[str, float]
    fit_rms: Dict[str, Tuple[float, float]]
    predicted_net_macs: float


def operating_point(curves: Curves, budget: float) -> OperatingPoint:
    """Chooses per layer a threshold or no predictor at all, minimizing the net MACs.

    Each layer's kept share and lost mass are fitted with ``d + a/(1 + e^(−b·t + c))``.
    A layer with its predictor on at threshold ``t`` costs ``MACs·kept(t) + P`` (``P``
    the predictor's MACs, paid whatever it skips) and loses ``loss(t)``; with it off
    it costs ``MACs`` and loses nothing. The objective is the sum over the layers (the
    net MACs), subject to ``Σ loss ≤ budget`` over the layers that are on, ``t`` in
    [−1.3, 1.3]. For a set of layers on, SLSQP (analytic gradients, started at −1.3, 0
    and 1.3) sets their thresholds; the set is chosen over every combination of the
    layers that could pay at all (up to :data:`EXHAUSTIVE_LAYERS` of them; above, a
    local search toggling one layer at a time from all on and from all off). A layer
    whose fitted saving ``MACs·(1 − kept(t))`` never exceeds ``P`` on [−1.3, 1.3] is
    off. All off is always feasible, so every budget ≥ 0 has an operating point."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget >= 0:
        raise ValueError(f"budget = {budget!r}: allowed a non-negative summed lost mass")
    from scipy.optimize import minimize

    t = np.asarray(curves.thresholds)
    names = list(curves.kept)
    if not names:
        raise ValueError("the curves have no layer")
    missing = [n for n in names if n not in curves.predictor_macs or n not in curves.macs]
    if missing:
        raise ValueError(f"layers {missing}: the curves give no dense or predictor MACs for them")
    fits = {}
    rms = {}
    for n in names:
        pk, rk = _fit(n, "MACs", t, curves.kept[n])
        pl, rl = _fit(n, "lost mass", t, curves.loss[n])
        fits[n] = (pk, pl)
        rms[n] = (rk, rl)
    scale = sum(curves.macs.values())
    if not scale > 0:
        raise ValueError("the curves' layers have no MACs")
    w = {n: curves.macs[n] / scale for n in names}
    pm = {n: curves.predictor_macs[n] / scale for n in names}
    lo, hi = float(t[0]), float(t[-1])
    grid = np.linspace(lo, hi, 261)
    # Layers that could pay: some threshold saves more than the predictor costs.
    cand = [n for n in names if w[n] * (1.0 - float(np.min(_sigmoid(grid, *fits[n][0])))) > pm[n]]
    dense = sum(w.values())

    def kept(n: str, v: float) -> float:
        return float(_sigmoid(np.asarray(v), *fits[n][0]))

    def lost(n: str, v: float) -> float:
        return float(_sigmoid(np.asarray(v), *fits[n][1]))

    solved: Dict[Tuple[str, ...], Tuple[float, Optional[NDArray]]] = {}

    def solve(on: Tuple[str, ...]) -> Tuple[float, Optional[NDArray]]:
        """The least net MACs (over the layers' dense MACs) with exactly ``on`` on,
        and their thresholds; ``inf`` when no thresholds meet the budget."""
        if on in solved:
            return solved[on]
        if not on:
            solved[on] = (dense, np.zeros(0))
            return solved[on]
        base = dense - sum(w[n] for n in on) + sum(pm[n] for n in on)
        wk = np.array([w[n] for n in on])
        fk = [fits[n][0] for n in on]
        fl = [fits[n][1] for n in on]

        def objective(v: NDArray) -> float:
            return float(base + sum(wk[i] * _sigmoid(np.asarray(v[i]), *fk[i]) for i in range(len(on))))

        def objective_grad(v: NDArray) -> NDArray:
            return np.array([wk[i] * _sigmoid_slope(np.asarray(v[i]), *fk[i]) for i in range(len(on))], dtype=float)

        def constraint(v: NDArray) -> float:
            return float(budget - sum(_sigmoid(np.asarray(v[i]), *fl[i]) for i in range(len(on))))

        def constraint_grad(v: NDArray) -> NDArray:
            return -np.array([_sigmoid_slope(np.asarray(v[i]), *fl[i]) for i in range(len(on))], dtype=float)

        best: Optional[NDArray] = None
        for start in (lo, 0.0, hi):
            x0 = np.full(len(on), start)
            with warnings.catch_warnings():  # SLSQP may step outside the bounds; the result is clipped
                warnings.simplefilter("ignore", RuntimeWarning)
                sol = minimize(objective, x0, jac=objective_grad, method="SLSQP", bounds=[(lo, hi)] * len(on),
                               constraints=[{"type": "ineq", "fun": constraint, "jac": constraint_grad}])
            v = np.clip(sol.x, lo, hi)
            if constraint(v) >= -1e-6 and (best is None or objective(v) < objective(best)):
                best = v
        solved[on] = (float("inf"), None) if best is None else (objective(best), best)
        return solved[on]

    def key(on: Iterable[str]) -> Tuple[str, ...]:
        s = set(on)
        return tuple(n for n in cand if n in s)

    if len(cand) <= EXHAUSTIVE_LAYERS:
        sets = [key(n for i, n in enumerate(cand) if bits >> i & 1) for bits in range(1 << len(cand))]
    else:
        sets = []
        for start in (tuple(cand), ()):
            cur = key(start)
            while True:
                moves = [key(set(cur) ^ {n}) for n in cand]
                nxt = min(moves, key=lambda s: solve(s)[0])
                if not solve(nxt)[0] < solve(cur)[0] - 1e-12:
                    break
                cur = nxt
            sets.append(cur)
    # Least net MACs; on a tie, fewer predictors on.
    on = min(sets, key=lambda s: (solve(s)[0], len(s)))
    cost, v = solve(on)
    assert v is not None  # the empty set is always feasible and always a candidate
    th: Dict[str, Optional[float]] = {n: None for n in names}
    for i, n in enumerate(on):
        th[n] = float(v[i])
    kept_at: Dict[str, float] = {}
    lost_at: Dict[str, float] = {}
    for n in names:
        tn = th[n]
        kept_at[n] = 1.0 if tn is None else kept(n, tn)
        lost_at[n] = 0.0 if tn is None else lost(n, tn)
    return OperatingPoint(budget, th, kept_at, lost_at, rms, cost / dense)
