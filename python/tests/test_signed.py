"""The opt-in signed mode of smtgen.torch (``quantize(..., signed="exact")``, spec §8):
layers whose inputs go negative run on the exact int8 path with symmetric signed
activations, computed as two unsigned exact GEMMs ``A⁺·W − A⁻·W``; bit for bit the
float conv of the dequantized signed operands; a hardware design is never applied
to such a layer."""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import smtgen.torch as st
from smtgen import report as rp

SEED = 20261207
pytestmark = pytest.mark.filterwarnings("ignore:Lazy modules")


def bits_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.view(torch.int32), b.view(torch.int32))


def _signed_model(layer: nn.Module, c_in: int, one_d: bool = False, linear: bool = False) -> nn.Sequential:
    """A first layer whose output is not passed through a ReLU (a signed sum, like a
    linear bottleneck) feeding ``layer``, then a ReLU and a classifier."""
    torch.manual_seed(SEED % 1000)
    if linear:
        first: nn.Module = nn.Linear(6, c_in)
    elif one_d:
        first = nn.Conv1d(2, c_in, 3, padding=1)
    else:
        first = nn.Conv2d(2, c_in, 3, padding=1)
    return nn.Sequential(first, layer, nn.ReLU(), nn.Flatten(), nn.LazyLinear(3)).eval()


KINDS: List[Tuple[str, Callable[[], nn.Module], str]] = [
    ("conv", lambda: nn.Conv2d(8, 6, 3, padding=1), "2d"),
    ("strided-nobias", lambda: nn.Conv2d(8, 5, (3, 2), stride=2, padding=(1, 0), bias=False), "2d"),
    ("grouped", lambda: nn.Conv2d(8, 12, 3, padding=1, groups=4), "2d"),
    ("depthwise", lambda: nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), "2d"),
    ("dilated-same", lambda: nn.Conv2d(8, 6, 3, padding="same", dilation=2), "2d"),
    ("pointwise", lambda: nn.Conv2d(8, 16, 1), "2d"),
    ("conv1d", lambda: nn.Conv1d(8, 6, 5, stride=2, padding=2), "1d"),
    ("linear", lambda: nn.Linear(8, 7), "linear"),
]


def _data(kind: str, g: torch.Generator, n: int = 3) -> List[torch.Tensor]:
    shape = {"2d": (4, 2, 9, 10), "1d": (4, 2, 11), "linear": (5, 6)}[kind]
    return [torch.randn(*shape, generator=g) for _ in range(n)]


def _with_corners(x: torch.Tensor, dx: float, g: torch.Generator) -> torch.Tensor:
    """``x`` with corner values written over its first elements: exact ties
    (k + 1/2)·dx in both signs (round half to even), the ends of the range and
    beyond (clamped to -128 / 127), zero, -0.0 and tiny values."""
    corners = torch.tensor([0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, 127.0, 127.5, 128.0, 300.0,
                            -127.5, -128.0, -128.5, -129.0, -300.0, 1e-9, -1e-9], dtype=torch.float64) * dx
    flat = x.detach().clone().to(torch.float64).flatten()
    k = min(len(corners), flat.numel())
    perm = torch.randperm(flat.numel(), generator=g)[:k]
    flat[perm] = corners[:k]
    return flat.reshape(x.shape).to(x.dtype)


@pytest.mark.parametrize("name,make,kind", KINDS, ids=[k for k, _, _ in KINDS])
def test_signed_exact_is_the_float_conv_of_the_dequantized_signed_operands(
        name: str, make: Callable[[], nn.Module], kind: str) -> None:
    print(f"seed {SEED}")
    layer: Any = make()
    model = _signed_model(layer, 8, one_d=kind == "1d", linear=kind == "linear")
    g = torch.Generator().manual_seed(SEED + sum(map(ord, name)))
    data = _data(kind, g)
    model(data[0])  # materializes the lazy classifier
    rep = st.quantize(model, data, batches=3, signed="exact", verbose=False, progress=False)
    assert rep.quantized == ["1"] and rep.signed == ["1"], rep
    q = st.quant_layers(model)[0]
    assert q.signed and q.design == "exact"
    # The scale: the weights' symmetric rule on the mean of each sample's max |x|.
    x_cal = [model[0](d).detach() for d in data]
    m = torch.cat([x.reshape(x.shape[0], -1).abs().amax(1) for x in x_cal]).to(torch.float64).mean()
    assert float(q.absmax_mean) == pytest.approx(float(m), rel=1e-12)
    assert q.dx == 2.0 * float(q.absmax_mean) / 255.0
    assert q._wq is not None and q._dw is not None
    for trial in range(4):
        x = model[0](torch.randn(*data[0].shape, generator=g) * (1 + trial)).detach()
        x = _with_corners(x, q.dx, g)
        if trial == 3:
            x = x.to(torch.float64)
        got = q(x)
        xq = torch.clamp(torch.round(x.to(torch.float64) / q.dx), -128, 127)
        assert float(xq.min()) == -128 and float(xq.max()) == 127, "the corners reach both ends of the range"
        assert torch.equal(q.quantize_input(x), xq)
        wq = q._wq.to(torch.float64)
        bias = None if layer.bias is None else layer.bias.detach().to(torch.float64)
        if kind == "linear":
            c = xq @ wq.T
            ch: Tuple[int, ...] = (-1,)
        else:
            fconv = F.conv1d if kind == "1d" else F.conv2d
            c = fconv(xq, wq, None, stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
                      groups=layer.groups)
            ch = (1, -1, 1) if kind == "1d" else (1, -1, 1, 1)
        # The exact integer result (float64 holds it exactly), dequantized as the layer op does.
        want = c * q.dx * q._dw.reshape(ch)
        if bias is not None:
            want = want + bias.reshape(ch)
        want = want.to(x.dtype)
        assert bits_equal(got, want), (
            f"{name} trial {trial} (seed {SEED}): x {x.flatten()[:12].tolist()}\nxq {xq.flatten()[:12].tolist()}\n"
            f"expected {want.flatten()[:12].tolist()}\ngot      {got.flatten()[:12].tolist()}\n"
            f"max |diff| {float((got.double() - want.double()).abs().max())}")
        # The float conv of the dequantized operands: equal up to float64 rounding.
        wdq = wq * q._dw.reshape((-1,) + (1,) * (wq.dim() - 1))
        if kind == "linear":
            fl = F.linear(xq * q.dx, wdq, bias)
        else:
            fl = fconv(xq * q.dx, wdq, bias, stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
                       groups=layer.groups)
        assert torch.allclose(got.double(), fl, rtol=1e-5, atol=1e-6), name


def test_unbatched_inputs_equal_their_batched_copies() -> None:
    g = torch.Generator().manual_seed(SEED)
    for kind, layer in (("2d", nn.Conv2d(8, 6, 3, padding=1)), ("1d", nn.Conv1d(8, 6, 3, padding=1))):
        model = _signed_model(layer, 8, one_d=kind == "1d")
        data = _data(kind, g)
        model(data[0])
        st.quantize(model, data, batches=3, signed="exact", verbose=False, progress=False)
        q = st.quant_layers(model)[0]
        x = model[0](data[1]).detach()
        assert torch.equal(q(x[1]), q(x)[1]), kind


def test_the_signed_rule_on_the_worked_integers_of_the_contract() -> None:
    """docs/numerics.md §8's rows: max_abs_mean = 1.0, so dx = 2/255; then dx = 1
    (max_abs_mean = 127.5) for exact ties."""
    q = st.QuantLayer(nn.Linear(4, 1, bias=False), "l")
    q.signed = True
    q.absmax_mean.fill_(1.0)
    assert q.dx == 2.0 / 255.0
    x = torch.tensor([1.0, -1.0, 0.5, -0.3, -2.0, 0.0], dtype=torch.float64)
    assert q.quantize_input(x).tolist() == [127.0, -128.0, 64.0, -38.0, -128.0, 0.0]
    q.absmax_mean.fill_(127.5)
    assert q.dx == 1.0
    ties = torch.tensor([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, 127.5, -127.5, -128.5, 300.0, -300.0],
                        dtype=torch.float64)
    assert q.quantize_input(ties).tolist() == [0.0, -0.0, 2.0, -2.0, 2.0, -2.0, 126.0, 127.0, -128.0, -128.0,
                                                127.0, -128.0]
    # C = A+ W - A- W: q = (127, -128, 64, -38), w = (1, 1, -2, 3): C+ = -1, C- = 242, C = -243.
    q.absmax_mean.fill_(1.0)
    q._wq = torch.tensor([[1, 1, -2, 3]], dtype=torch.int8)
    q._dw = torch.tensor([0.01], dtype=torch.float64)
    q._bias = None
    q.mode, q.design = "quant", "exact"
    y = q(torch.tensor([[1.0, -1.0, 0.5, -0.3]], dtype=torch.float64))
    assert float(y[0, 0]) == -243.0 * (2.0 / 255.0) * 0.01


def test_a_hardware_design_is_never_applied_to_a_signed_layer() -> None:
    g = torch.Generator().manual_seed(SEED)
    model = nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1),  # 2: unsigned input
                          nn.Conv2d(8, 6, 3, padding=1),  # 3: the signed sum of 2
                          nn.ReLU(), nn.Flatten(), nn.Linear(6 * 9 * 10, 3)).eval()
    data = _data("2d", g)
    # Default: the signed layer stays float with its reason.
    default = st.quantize(model, data, batches=3, unsupported="float", verbose=False, progress=False)
    assert default.quantized == ["2"] and default.float_layers["3"].startswith("signed inputs"), default
    assert default.signed == []
    for q in st.quant_layers(model):
        st._set_child(model, q.name, q.layer)
    with pytest.raises(ValueError, match="signed = 'int8'"):
        st.quantize(model, data, signed="int8", verbose=False, progress=False)
    rep = st.quantize(model, data, batches=3, signed="exact", verbose=False, progress=False)
    assert rep.quantized == ["2", "3"] and rep.signed == ["3"], rep
    assert "signed, on the exact int8 path" in str(rep)
    q2, q3 = st.quant_layers(model)
    x = model[2](F.relu(model[0](data[0]))).detach()
    # A uniform design leaves the signed layer float; the other layer runs it.
    designs: List[st.Design] = ["sysmt2", "sysmt4", "sparq-4b5opt", {"preset": "sysmt2"}]
    for d in designs:
        st.simulate(model, d)
        assert q2.design == d and q3.design == "float", d
        assert torch.equal(q3(x), q3.layer(x)), "float, not a design"
    st.simulate(model, "exact")
    assert q3.design == "exact"
    # A plan naming it with a design is refused; its default does not reach it.
    with pytest.raises(ValueError, match="signed inputs"):
        st.simulate(model, {"3": "sysmt2"})
    assert q3.design == "exact", "nothing changed"
    st.simulate(model, {"2": "sysmt4"}, default="sysmt2")
    assert (q2.design, q3.design) == ("sysmt4", "float")
    st.simulate(model, {"2": "sysmt4", "3": "exact"})
    assert (q2.design, q3.design) == ("sysmt4", "exact")
    # Set directly, the layer refuses to run.
    q3.design = "sysmt2"
    with pytest.raises(ValueError, match="runs only 'exact' or 'float'"):
        q3(x)
    st.simulate(model, "exact")
    # Statistics: exact only (no lanes, no error); the per-layer plan leaves it exact.
    stats = {s["layer"]: s for s in st.layer_stats(model, data[:1])}
    assert stats["3"]["sqnr_db"] == float("inf") and stats["3"]["collide_fraction"] == 0.0
    xq = q3.quantize_input(x)
    assert stats["3"]["zero_fraction"] == pytest.approx(float((xq == 0).double().mean()))
    asg = st.assign_designs(model, data, 100.0, designs=("sysmt4",))
    assert "3" not in asg.plan and q3.design == "exact" and q2.design == "sysmt4"
    # The report counts the signed layer's two passes on the unsigned array.
    geoms = rp.layer_geometry(model, data[0])
    assert (geoms["2"].passes, geoms["3"].passes) == (1, 2)
    cyc, base = rp.network_cycles(geoms, "exact", 4, 4)
    assert cyc == base == rp.layer_cycles(geoms["2"], "exact", 4, 4) + 2 * rp.layer_cycles(geoms["3"], "exact", 4, 4)
    cyc2, base2 = rp.network_cycles(geoms, {"2": "sysmt2", "3": "float"}, 4, 4)
    assert (cyc2, base2) == (rp.layer_cycles(geoms["2"], "sysmt2", 4, 4), rp.layer_cycles(geoms["2"], "exact", 4, 4))
    r = st.report(model, data, ["sysmt2"], rows=4, cols=4)
    by = {row["design"]: row for row in r.rows}
    assert by["int8 (exact)"]["plan"] == {"2": "baseline", "3": "baseline"}
    assert by["sysmt2"]["plan"] == {"2": "sysmt2", "3": "float"}


def test_random_signed_layers_against_numpy(capsys: pytest.CaptureFixture[str]) -> None:
    """Random geometries and scales (seeded): the layer against an independent numpy
    computation of the same integers, bit for bit."""
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    for case in range(12):
        c_in = int(rng.integers(1, 5)) * 2
        groups = int(rng.choice([1, 2, c_in]))
        c_out = groups * int(rng.integers(1, 4))
        k = int(rng.integers(1, 4))
        layer = nn.Conv2d(c_in, c_out, k, stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, 2)),
                          groups=groups, bias=bool(rng.integers(0, 2)))
        first = nn.Conv2d(2, c_in, 1)
        model = nn.Sequential(first, layer, nn.ReLU(), nn.Flatten()).eval()
        scale = float(10.0 ** rng.uniform(-3, 3))
        data = [torch.from_numpy(rng.standard_normal((2, 2, 7, 6)) * scale).float() for _ in range(2)]
        st.quantize(model, data, batches=2, signed="exact", include_last=True, verbose=False, progress=False)
        q = st.quant_layers(model)[0]
        assert q.signed and q._wq is not None and q._dw is not None
        x = model[0](data[0]).detach()
        x = _with_corners(x, q.dx, torch.Generator().manual_seed(SEED + case))
        got = q(x).double()
        xq = np.clip(np.round(x.double().numpy() / q.dx), -128, 127)
        want = F.conv2d(torch.from_numpy(xq), q._wq.double(), None, layer.stride, layer.padding, 1, groups)
        want = want * q.dx * q._dw.reshape(1, -1, 1, 1)
        if layer.bias is not None:
            want = want + layer.bias.detach().double().reshape(1, -1, 1, 1)
        want = want.to(torch.float32).double()
        assert torch.equal(got, want), (
            f"case {case} (seed {SEED}): {layer}, dx {q.dx}\nx {x.flatten()[:10].tolist()}\n"
            f"expected {want.flatten()[:10].tolist()}\ngot      {got.flatten()[:10].tolist()}")
