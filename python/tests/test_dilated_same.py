"""Whole networks with dilated and 'same'-padded convolutions through smtgen.torch:
torchvision's ResNet-50 with replace_stride_with_dilation=[False, True, True]
(random weights) quantizes in one call and runs under "exact" and a design, and a
network of padding='same' convolutions (odd and even kernels, dilation) does too.

Reference: every simulated layer's output in the network's own forward pass is
checked against its inputs as the layer saw them (so an error cannot hide behind
the network's float layers): under "exact", bit for bit against the integer conv of
the quantized operands dequantized as the recipe says, and within float tolerance
against the float conv of the dequantized operands; under the design, bit for bit
against smtgen.gemm per group on the Python lowering (test_layer.py's) for the
dilated / 'same' layers."""

from typing import Any, Dict, List, Tuple

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import smtgen
import smtgen.torch as st
from test_layer import bits_equal, python_lowering

SEED = 4242
tv = pytest.importorskip("torchvision", reason="torchvision (Debian: python3-torchvision) is not installed")


def _capture(model: nn.Module, x: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, Tuple[torch.Tensor, torch.Tensor]]]:
    """The model's output and each simulated layer's (input, output) in that pass."""
    seen: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}
    hooks = []
    for q in st.quant_layers(model):

        def hook(mod: nn.Module, inp: Tuple[Any, ...], out: torch.Tensor, name: str = q.name) -> None:
            seen[name] = (inp[0].detach().clone(), out.detach().clone())

        hooks.append(q.register_forward_hook(hook))
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for h in hooks:
            h.remove()
    return out, seen


def _check_exact(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Runs ``model`` under "exact" and checks every simulated conv layer (see the module doc)."""
    st.simulate(model, "exact")
    out, seen = _capture(model, x)
    layers = st.quant_layers(model)
    assert set(seen) == {q.name for q in layers}, "every simulated layer ran"
    for q in layers:
        conv = q.layer
        assert isinstance(conv, nn.Conv2d) and q._wq is not None and q._dw is not None
        xin, got = seen[q.name]
        xq = q.quantize_input(xin)
        wq = q._wq.to(torch.float64)
        kw: Dict[str, Any] = dict(stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
                                  groups=conv.groups)
        want = F.conv2d(xq, wq, None, **kw) * q.dx * q._dw.reshape(1, -1, 1, 1)
        bias = None if conv.bias is None else conv.bias.detach().double()
        if bias is not None:
            want = want + bias.reshape(1, -1, 1, 1)
        assert bits_equal(got, want.to(torch.float32)), \
            f"seed {SEED}: {q.name} (dilation {conv.dilation}): max |diff| {float((got.double() - want).abs().max())}"
        fl = F.conv2d(xq * q.dx, wq * q._dw.reshape(-1, 1, 1, 1), bias, **kw)
        assert torch.allclose(got.double(), fl, rtol=1e-5, atol=1e-6), q.name
    return out


def _check_design(model: nn.Module, x: torch.Tensor, design: str, names: List[str]) -> None:
    """Runs ``model`` under ``design``; the layers ``names`` against smtgen.gemm per group."""
    st.simulate(model, design)
    out, seen = _capture(model, x)
    assert torch.isfinite(out).all()
    by = {q.name: q for q in st.quant_layers(model)}
    assert all(q.design == design for q in by.values())
    for name in names:
        q = by[name]
        assert q._wq is not None and q._dw is not None
        xin, got = seen[name]
        geom = q.conv_geometry((1, 1))
        assert geom is not None
        xq = q.quantize_input(xin)
        parts = [torch.from_numpy(smtgen.gemm(a, w, design).astype(np.float64))
                 for a, w in python_lowering(xq, q._wq, geom)]
        n, o = got.shape[:2]
        c = torch.cat(parts, dim=1).reshape(n, -1, o).permute(0, 2, 1)
        want = c * q.dx * q._dw.reshape(1, -1, 1)
        if q.layer.bias is not None:
            want = want + q.layer.bias.detach().double().reshape(1, -1, 1)
        assert bits_equal(got.reshape(n, o, -1), want.to(torch.float32)), f"seed {SEED}: {name} under {design}"


def test_dilated_resnet50_quantizes_in_one_call_and_simulates():
    print(f"seed {SEED}")
    torch.manual_seed(SEED)
    model = tv.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True]).eval()
    g = torch.Generator().manual_seed(SEED)
    data = [torch.rand(2, 3, 64, 64, generator=g) for _ in range(2)]
    convs = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    report = st.quantize(model, data, batches=2, verbose=False, progress=False)  # unsupported="error": none
    # Every conv simulated or named with its reason: only the 7x7 stem and the classifier stay float.
    assert report.float_layers == {"conv1": "first layer (include_first=True to simulate it)",
                                   "fc": "classifier (include_last=True to simulate it)"}, report
    assert sorted(report.quantized + list(report.float_layers)) == sorted(convs)
    assert len(report.quantized) == 52 and not report.signed
    dilations = {q.name: tuple(q.layer.dilation) for q in st.quant_layers(model)}
    dilated = [n for n, d in dilations.items() if d != (1, 1)]
    assert {dilations[n] for n in dilated} == {(2, 2), (4, 4)}
    assert len(dilated) == 5 + 3, dilated  # layer3: 5 of its 6 3x3 convs at 2 (its first keeps 1); layer4: 2, then 4, 4
    x = data[0]
    with torch.no_grad():
        assert model(x).shape == (2, 1000)
    out = _check_exact(model, x)
    assert torch.isfinite(out).all()
    # One design: the first dilated 3x3 conv of layer3 (dilation 2) and of layer4 (dilation 4)
    # against smtgen.gemm per group.
    picks = [next(n for n in dilated if dilations[n] == d) for d in ((2, 2), (4, 4))]
    _check_design(model, x, "sysmt2", picks)


class SameNet(nn.Module):
    """'same' padding: odd and even kernels, dilation, a grouped one, a 1x1."""

    def __init__(self) -> None:
        super().__init__()
        self.c0 = nn.Conv2d(3, 8, 3, padding="same")
        self.c1 = nn.Conv2d(8, 8, 4, padding="same")  # even: 1 before, 2 after (torch's split)
        self.c2 = nn.Conv2d(8, 12, (2, 5), padding="same", dilation=(3, 2))
        self.c3 = nn.Conv2d(12, 12, 3, padding="same", groups=4, dilation=2)
        self.c4 = nn.Conv2d(12, 6, 1, padding="same")
        self.fc = nn.Linear(6, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in (self.c0, self.c1, self.c2, self.c3, self.c4):
            x = torch.relu(c(x))
        y: torch.Tensor = self.fc(x.mean(dim=(2, 3)))
        return y


def test_same_padded_network_quantizes_in_one_call_and_simulates():
    print(f"seed {SEED}")
    torch.manual_seed(SEED)
    model = SameNet().eval()
    g = torch.Generator().manual_seed(SEED)
    data = [torch.rand(3, 3, 11, 13, generator=g) for _ in range(2)]
    report = st.quantize(model, data, batches=2, verbose=False, progress=False)
    assert report.quantized == ["c1", "c2", "c3", "c4"] and set(report.float_layers) == {"c0", "fc"}, report
    q1 = st.quant_layers(model)[0]
    assert q1.conv_geometry((11, 13)) == (1, 1, 1, 2, 1, 2, 1, 1, 1)
    x = data[1]
    with torch.no_grad():
        ref = model(x)
    out = _check_exact(model, x)
    assert out.shape == ref.shape
    for d in ("sysmt2", "sysmt4"):
        _check_design(model, x, d, ["c1", "c2", "c3", "c4"])
