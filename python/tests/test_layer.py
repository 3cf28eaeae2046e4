"""The compiled layer op (`smtgen.layer_forward`) against the path it replaces
(lower in Python, `smtgen.gemm`, dequantize in float64), bit for bit, for every
preset; strided / transposed / Fortran-order operands; the conv kinds of real
networks (grouped, depthwise, dilated, "same"-padded, 1-D) through smtgen.torch;
NaN and ceiling errors; memory of a 2^24-element GEMM."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any, List, Optional, Tuple

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import smtgen
import smtgen.torch as st

SEED = 20261206

Geom = Tuple[int, int, int, int, int, int, int, int, int]

# (N, C, H, W, O, KH, KW, geometry)
CASES: List[Tuple[int, int, int, int, int, int, int, Geom]] = [
    (2, 3, 7, 9, 5, 3, 3, (1, 1, 1, 1, 1, 1, 1, 1, 1)),
    (1, 8, 10, 7, 6, 3, 2, (2, 1, 0, 2, 1, 0, 1, 1, 1)),
    (2, 6, 9, 9, 4, 3, 3, (1, 2, 2, 2, 2, 2, 2, 2, 2)),
    (1, 8, 6, 5, 8, 3, 3, (1, 1, 1, 1, 1, 1, 1, 1, 8)),
    (3, 5, 1, 13, 7, 1, 3, (1, 2, 0, 0, 2, 1, 1, 3, 1)),
    (1, 12, 5, 5, 9, 1, 1, (1, 1, 0, 0, 0, 0, 1, 1, 3)),
    (2, 4, 13, 3, 70, 5, 1, (3, 1, 1, 3, 0, 0, 2, 1, 1)),
]


def python_lowering(xq: torch.Tensor, wq: torch.Tensor, geom: Geom) -> List[Tuple[Any, Any]]:
    """Today's lowering in Python (F.pad + F.unfold), per group: A (M x K uint8, k =
    tap * Cg + c) and W (K x Og int8)."""
    sh, sw, pt, pb, pl, pr, dh, dw, groups = geom
    n, c = xq.shape[:2]
    o, cg, kh, kw = wq.shape
    og = o // groups
    xp = F.pad(xq, (pl, pr, pt, pb))
    out = []
    for g in range(groups):
        cols = F.unfold(xp[:, g * cg:(g + 1) * cg], (kh, kw), dilation=(dh, dw), stride=(sh, sw))
        length = cols.shape[-1]
        a = cols.reshape(n, cg, kh * kw, length).permute(0, 3, 2, 1).reshape(n * length, kh * kw * cg)
        w = wq[g * og:(g + 1) * og].permute(2, 3, 1, 0).reshape(kh * kw * cg, og)
        out.append((np.ascontiguousarray(a.numpy().astype(np.uint8)), np.ascontiguousarray(w.numpy())))
    return out


def reference(x: torch.Tensor, wq: torch.Tensor, dx: float, dw: torch.Tensor, bias: Optional[torch.Tensor],
              geom: Geom, design: str) -> torch.Tensor:
    """Quantize, lower in Python, smtgen.gemm per group (a float64 conv for
    "exact"), dequantize in float64, one rounding to float32."""
    sh, sw, pt, pb, pl, pr, dh, dwl, groups = geom
    xq = torch.clamp(torch.round(x.to(torch.float64) / dx), 0, 255)
    n = x.shape[0]
    h_out = (x.shape[2] + pt + pb - dh * (wq.shape[2] - 1) - 1) // sh + 1
    w_out = (x.shape[3] + pl + pr - dwl * (wq.shape[3] - 1) - 1) // sw + 1
    if design == "exact":
        y = F.conv2d(F.pad(xq, (pl, pr, pt, pb)), wq.to(torch.float64), None, (sh, sw), 0, (dh, dwl), groups)
    else:
        parts = []
        for a, w in python_lowering(xq, wq, geom):
            c = smtgen.gemm(a, w, design)
            parts.append(torch.from_numpy(np.asarray(c, dtype=np.float64)).reshape(n, h_out, w_out, -1))
        y = torch.cat(parts, dim=3).permute(0, 3, 1, 2).contiguous()
    out = y * dx * dw.reshape(1, -1, 1, 1)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out.to(torch.float32)


def operands(rng: np.random.Generator, case: Tuple[int, int, int, int, int, int, int, Geom], design: str):
    n, c, h, w, o, kh, kw, geom = case
    groups = geom[8]
    x = rng.random((n, c, h, w), dtype=np.float32) * 3.0
    x[rng.random(x.shape) < 0.4] = 0.0
    wq = rng.integers(-128, 128, (o, c // groups, kh, kw), dtype=np.int8)
    if design.startswith("sparq-stc"):
        wq, _ = smtgen.prune_2_4(wq)
    dx = float(rng.uniform(0.005, 0.02))
    dw = rng.uniform(1e-4, 1e-2, o)
    bias = rng.uniform(-1, 1, o) if rng.random() < 0.5 else None
    return torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(wq)), dx, torch.from_numpy(dw), (
        None if bias is None else torch.from_numpy(bias))


def bits_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.equal(a.view(torch.int32), b.view(torch.int32))


@pytest.mark.parametrize("design", ["exact"] + list(smtgen.designs()))
def test_layer_op_equals_python_lowering_gemm_dequantize(design: str) -> None:
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED + sum(map(ord, design)))
    for case in CASES:
        x, wq, dx, dw, bias = operands(rng, case, design)
        want = reference(x, wq, dx, dw, bias, case[7], design)
        got = torch.from_numpy(smtgen.layer_forward(
            x.numpy(), wq.numpy(), dx, dw.numpy(), None if bias is None else bias.numpy(), design,
            conv=case[7], name="t"))
        assert bits_equal(got, want), (
            f"{design} {case} (seed {SEED}): x {x.flatten()[:16].tolist()}, w {wq.flatten()[:16].tolist()}, "
            f"dx {dx}\nexpected {want.flatten()[:16].tolist()}\ngot      {got.flatten()[:16].tolist()}")


def test_linear_layer_op_equals_gemm_dequantize() -> None:
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED)
    x = (rng.random((7, 33)) * 4).astype(np.float32)
    wq = rng.integers(-128, 128, (5, 33), dtype=np.int8)
    dw = rng.uniform(1e-3, 1e-2, 5)
    bias = rng.uniform(-1, 1, 5)
    dx = 4.0 / 255
    for design in ["exact", "baseline", "sysmt2", "sysmt4", "sparq-4b5opt"]:
        got = smtgen.layer_forward(x, wq, dx, dw, bias, design)
        xq = np.clip(np.round(x.astype(np.float64) / dx), 0, 255).astype(np.uint8)
        c = smtgen.gemm(xq, np.ascontiguousarray(wq.T), design).astype(np.float64)
        want = (c * dx * dw + bias).astype(np.float32)
        assert got.dtype == np.float32 and np.array_equal(got.view(np.int32), want.view(np.int32)), design


def test_strided_transposed_and_fortran_inputs_equal_their_contiguous_copies() -> None:
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED + 1)
    a = rng.integers(0, 256, (40, 66), dtype=np.uint8)
    w = rng.integers(-128, 128, (33, 20), dtype=np.int8)
    for design in ["baseline", "sysmt4", "exact"]:
        want = smtgen.gemm(np.ascontiguousarray(a[:, ::2]), w, design)
        assert np.array_equal(smtgen.gemm(a[:, ::2], w, design), want)
        assert np.array_equal(smtgen.gemm(np.asfortranarray(a[:, ::2]), np.asfortranarray(w), design), want)
        wt = np.ascontiguousarray(w.T)
        assert np.array_equal(smtgen.gemm(a[:, ::2], wt.T, design), want)
    x = rng.random((3, 5, 9, 8), dtype=np.float32)
    wq = rng.integers(-128, 128, (4, 5, 3, 3), dtype=np.int8)
    dw = rng.uniform(1e-3, 1e-2, 4)
    geom = (1, 1, 1, 1, 1, 1, 1, 1, 1)
    want = smtgen.layer_forward(x, wq, 0.01, dw, None, "sysmt2", conv=geom)
    xt = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # NHWC memory
    assert not xt.flags.c_contiguous
    assert np.array_equal(smtgen.layer_forward(xt, wq, 0.01, dw, None, "sysmt2", conv=geom), want)
    assert np.array_equal(smtgen.layer_forward(np.asfortranarray(x), np.asfortranarray(wq), 0.01, dw, None,
                                               "sysmt2", conv=geom), want)
    # A channels_last torch tensor through a simulated layer equals its contiguous copy.
    model = nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU(), nn.Conv2d(5, 4, 3, padding=1), nn.ReLU(), nn.Flatten())
    data = [torch.rand(2, 3, 9, 8) for _ in range(2)]
    st.quantize(model, data, batches=2, include_last=True, verbose=False, progress=False)
    st.simulate(model, "sysmt2")
    q = st.quant_layers(model)[0]
    xin = F.relu(model[0](torch.rand(2, 3, 9, 8))).detach().contiguous()
    xcl = xin.contiguous(memory_format=torch.channels_last)
    assert not xcl.is_contiguous()
    assert torch.equal(q(xcl), q(xin))


def _model_with(conv: nn.Module, c_in: int, one_d: bool = False) -> nn.Sequential:
    torch.manual_seed(SEED % 1000)
    first = nn.Conv1d(2, c_in, 3, padding=1) if one_d else nn.Conv2d(2, c_in, 3, padding=1)
    return nn.Sequential(first, nn.ReLU(), conv, nn.ReLU(), nn.Flatten()).eval()


CONV_KINDS = [
    ("grouped", lambda: nn.Conv2d(8, 12, 3, padding=1, groups=4), False),
    ("depthwise", lambda: nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), False),
    ("dilated", lambda: nn.Conv2d(8, 6, 3, padding=2, dilation=2), False),
    ("same", lambda: nn.Conv2d(8, 6, (4, 3), padding="same", dilation=(1, 2)), False),
    ("valid", lambda: nn.Conv2d(8, 6, 3, padding="valid", stride=(2, 1)), False),
    ("conv1d", lambda: nn.Conv1d(8, 6, 5, stride=2, padding=2, dilation=1), True),
    ("conv1d-same-grouped", lambda: nn.Conv1d(8, 4, 4, padding="same", groups=2), True),
]


@pytest.mark.parametrize("kind,make,one_d", CONV_KINDS, ids=[k for k, _, _ in CONV_KINDS])
def test_conv_kinds_are_the_float_conv_of_the_dequantized_operands(kind: str, make, one_d: bool) -> None:
    print(f"seed {SEED}")
    conv = make()
    model = _model_with(conv, 8, one_d)
    g = torch.Generator().manual_seed(SEED)
    shape = (4, 2, 11) if one_d else (4, 2, 9, 10)
    data = [torch.rand(*shape, generator=g) for _ in range(3)]
    report = st.quantize(model, data, batches=3, include_last=True, verbose=False, progress=False)
    assert report.quantized == ["2"], report
    q = st.quant_layers(model)[0]
    x = F.relu(model[0](data[0])).detach()
    got = q(x)
    assert q._wq is not None and q._dw is not None
    xq = q.quantize_input(x)
    wq = q._wq.to(torch.float64)
    fconv = F.conv1d if one_d else F.conv2d
    kw = dict(stride=conv.stride, padding=conv.padding, dilation=conv.dilation, groups=conv.groups)
    ch = (1, -1, 1) if one_d else (1, -1, 1, 1)
    # The exact integer conv (float64 holds it exactly), dequantized as the recipe says: bit for bit.
    want = fconv(xq, wq, None, **kw) * q.dx * q._dw.reshape(ch) + conv.bias.detach().double().reshape(ch)
    assert bits_equal(got, want.to(torch.float32)), f"{kind}: max |diff| {float((got.double() - want).abs().max())}"
    # The float conv of the dequantized operands: equal up to float64 rounding.
    fl = fconv(xq * q.dx, wq * q._dw.reshape((-1,) + (1,) * (wq.dim() - 1)), conv.bias.double(), **kw)
    assert torch.allclose(got.double(), fl, rtol=1e-5, atol=1e-6)
    # Per group against smtgen.gemm on the Python lowering, under a design.
    st.simulate(model, "sysmt4")
    got4 = q(x)
    geom = q.conv_geometry((1, 1))
    assert geom is not None
    x4 = xq.unsqueeze(2) if one_d else xq
    w4 = q._wq.unsqueeze(2) if one_d else q._wq
    parts = [torch.from_numpy(smtgen.gemm(a, w, "sysmt4").astype(np.float64)) for a, w in python_lowering(x4, w4, geom)]
    n = x.shape[0]
    c = torch.cat(parts, dim=1).reshape(n, -1, got4.shape[1]).permute(0, 2, 1)
    want4 = (c * q.dx * q._dw.reshape(1, -1, 1) + conv.bias.detach().double().reshape(1, -1, 1)).to(torch.float32)
    assert bits_equal(got4.reshape(n, got4.shape[1], -1), want4), kind


def test_zero_pad_in_front_of_the_conv_simulates() -> None:
    model = nn.Sequential(nn.Conv2d(2, 8, 3), nn.ReLU(), nn.ZeroPad2d((1, 2, 0, 1)), nn.Conv2d(8, 4, 3),
                          nn.ReLU(), nn.Flatten()).eval()
    g = torch.Generator().manual_seed(SEED)
    data = [torch.rand(2, 2, 9, 9, generator=g) for _ in range(2)]
    st.quantize(model, data, batches=2, include_last=True, verbose=False, progress=False)
    q = st.quant_layers(model)[0]
    x = F.relu(model[0](data[0])).detach()
    xq = F.pad(q.quantize_input(x), (1, 2, 0, 1))
    assert q._wq is not None and q._dw is not None
    want = F.conv2d(xq, q._wq.double()) * q.dx * q._dw.reshape(1, -1, 1, 1) + q.layer.bias.double().reshape(1, -1, 1, 1)
    assert bits_equal(q(F.pad(x, (1, 2, 0, 1))), want.to(torch.float32))


def test_nan_in_calibration_inference_and_weights_raises_naming_the_layer() -> None:
    model = _model_with(nn.Conv2d(8, 4, 3), 8)
    g = torch.Generator().manual_seed(SEED)
    data = [torch.rand(2, 2, 6, 6, generator=g) for _ in range(2)]
    bad = copy.deepcopy(data)
    bad[1][0, 1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match=r"layer '2'.*NaN"):
        st.quantize(copy.deepcopy(model), bad, batches=2, include_last=True, verbose=False, progress=False)
    bad[1][0, 1, 2, 3] = float("inf")  # reaches layer '2' as +inf or NaN
    with pytest.raises(ValueError, match=r"layer '2'.*NaN or infinite"):
        st.quantize(copy.deepcopy(model), bad, batches=2, include_last=True, verbose=False, progress=False)
    st.quantize(model, data, batches=2, include_last=True, verbose=False, progress=False)
    x = torch.rand(2, 2, 6, 6)
    model(x)
    q = st.quant_layers(model)[0]
    xin = F.relu(model[0](x)).detach()
    xin[1, 3, 2, 2] = float("nan")
    with pytest.raises(ValueError, match=r'layer "2".*NaN'):
        q(xin)
    xin[1, 3, 2, 2] = float("inf")
    with pytest.raises(ValueError, match=r'layer "2".*infinite'):
        q(xin)
    with torch.no_grad():
        q.layer.weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"layer '2'.*weight"):
        q.freeze()


def test_the_element_ceiling_names_the_argument_and_the_ceiling() -> None:
    a = np.zeros((4, 8), dtype=np.uint8)
    w = np.zeros((8, 3), dtype=np.int8)
    with pytest.raises(ValueError, match=r"^a has 32 elements.*ceiling of 31 .*max_elements"):
        smtgen.gemm(a, w, "baseline", max_elements=31)
    with pytest.raises(ValueError, match=r"^w has 24 elements.*ceiling of 23 "):
        smtgen.gemm(a[:2], w, "sysmt2", max_elements=23)
    assert smtgen.gemm(a, w, "baseline", max_elements=32).shape == (4, 3)
    big = np.zeros((1, (1 << 24) + 1), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"^a has 16777217 elements.*ceiling of 16777216"):
        smtgen.gemm(big, np.zeros(((1 << 24) + 1, 1), dtype=np.int8), "baseline")
    x = np.zeros((2, 3, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"^x has 96 elements.*ceiling of 95"):
        smtgen.layer_forward(x, np.zeros((2, 3, 1, 1), np.int8), 1.0, np.ones(2), None, "exact",
                             conv=(1, 1, 0, 0, 0, 0, 1, 1, 1), max_elements=95)


MEMORY_SCRIPT = r"""
import json, resource, sys
import numpy as np
import smtgen
m, k, n = map(int, sys.argv[1:4])
smtgen.gemm(np.ones((8, 8), np.uint8), np.ones((8, 8), np.int8), sys.argv[4])  # pools, code pages
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
a = np.random.default_rng(1).integers(0, 256, (m, k), dtype=np.uint8)
w = np.random.default_rng(2).integers(-128, 128, (k, n), dtype=np.int8)
r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c = smtgen.gemm(a, w, sys.argv[4], jobs=2)
r2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"operands": a.nbytes + w.nbytes + c.nbytes, "before": r0 * 1024, "with_operands": r1 * 1024,
                  "peak": r2 * 1024}))
"""


@pytest.mark.parametrize("design,shape", [("baseline", (4096, 4096, 64)), ("sysmt4", (4096, 4096, 64)),
                                          ("baseline", (1, 1 << 24, 1))],
                         ids=["baseline", "sysmt4", "baseline-narrow"])
def test_memory_of_a_2_24_element_gemm_stays_within_3x_its_operands(design: str, shape: Tuple[int, int, int]) -> None:
    """A 4096x4096 . 4096x64 GEMM, and a narrow 1 x 2^24 . 2^24 x 1 one (its W is not
    padded to a 32-column panel: kept as a column and multiplied by dot products)."""
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, *map(str, shape), design],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    grown = r["peak"] - r["before"]
    print(r, f"grown {grown / 2**20:.1f} MiB for {r['operands'] / 2**20:.1f} MiB of operands")
    assert grown <= 3 * r["operands"], r


@pytest.mark.parametrize("design", ["exact", "baseline", "sysmt2", "sysmt4", "sparq-4b5opt", "sparq-stc-4b5opt"])
def test_a_cache_prepares_again_when_the_weights_or_the_design_change(design: str) -> None:
    """One LayerCache across calls: the result equals the uncached call's bit for bit
    after a weight change (one weight nudged, as BN recalibration or a KURE freeze
    would change it), after a design change, and when nothing changed (no new
    preparation then)."""
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED + 7)
    for case in (CASES[0], CASES[3], CASES[5]):  # dense, depthwise, grouped 1x1
        x, wq, dx, dw, bias = operands(rng, case, design)
        b = None if bias is None else bias.numpy()
        cache = smtgen.LayerCache()

        def run(w: "np.ndarray[Any, Any]", d: str, c: Optional[Any]) -> torch.Tensor:
            return torch.from_numpy(smtgen.layer_forward(x.numpy(), w, dx, dw.numpy(), b, d, conv=case[7],
                                                         name="t", cache=c))

        w1 = wq.numpy()
        assert bits_equal(run(w1, design, cache), run(w1, design, None)), f"{design} {case}"
        assert cache.preparations == 1
        assert bits_equal(run(w1, design, cache), run(w1, design, None)), f"{design} {case} (reused)"
        assert cache.preparations == 1, "same weights and design: no new preparation"
        w2 = w1.copy()
        flat = w2.reshape(-1)
        nz = np.flatnonzero(flat)
        flat[nz[len(nz) // 2]] = -flat[nz[len(nz) // 2]] // 2  # stays 2:4 (a non-zero stays non-zero or becomes 0)
        want = run(w2, design, None)
        got = run(w2, design, cache)
        assert cache.preparations == 2
        assert bits_equal(got, want), (f"{design} {case}: after a weight change (seed {SEED})\n"
                                       f"expected {want.flatten()[:16].tolist()}\ngot      {got.flatten()[:16].tolist()}")
        other = "baseline" if design != "baseline" else "exact"
        assert bits_equal(run(w2, other, cache), run(w2, other, None)), f"{other} {case} after {design}"
        assert cache.preparations == 3


@pytest.mark.parametrize("design", ["exact", "sysmt2"])
def test_one_cache_shared_by_layers_of_other_shapes_and_kinds_prepares_again(design: str) -> None:
    """One LayerCache passed to a convolution, a depthwise convolution and a linear
    layer in turn (weights prepared for another shape or kind): each call prepares
    again and equals the uncached call bit for bit (the layer op's "prepared weights
    for another layer" error is not reachable from Python)."""
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED + 11)
    cache = smtgen.LayerCache()
    calls: List[Tuple[Any, Any, float, Any, Any, Optional[Geom]]] = []
    for case in (CASES[0], CASES[3]):
        x, wq, dx, dw, bias = operands(rng, case, design)
        calls.append((x.numpy(), wq.numpy(), dx, dw.numpy(), None if bias is None else bias.numpy(), case[7]))
    x = (rng.random((4, 6), dtype=np.float32) * 3.0)
    wl = rng.integers(-128, 128, (5, 6), dtype=np.int8)
    calls.append((x, wl, 0.01, rng.uniform(1e-4, 1e-2, 5), None, None))
    for n, (x, w, dx, dw, b, geom) in enumerate(calls * 2):
        got = smtgen.layer_forward(x, w, dx, dw, b, design, conv=geom, name="t", cache=cache)
        want = smtgen.layer_forward(x, w, dx, dw, b, design, conv=geom, name="t")
        assert np.array_equal(np.asarray(got).view(np.int32), np.asarray(want).view(np.int32)), (
            f"{design} call {n} ({'linear' if geom is None else geom}, seed {SEED})")
        assert cache.preparations == n + 1


def test_a_quant_layer_sees_new_weights_after_freeze_and_copies_start_empty() -> None:
    """smtgen.torch's layers keep their prepared weights between batches; new weights
    (changed in place, then freeze(), as BN recalibration does) give the fresh
    result, and a deep copy of the model runs with its own cache."""
    print(f"seed {SEED}")
    g = torch.Generator().manual_seed(SEED)
    model = _model_with(nn.Conv2d(8, 12, 3, padding=1), 8)
    data = [torch.rand(4, 2, 9, 9, generator=g) for _ in range(2)]
    st.quantize(model, data, batches=2, include_last=True, verbose=False, progress=False)
    st.simulate(model, "sysmt2")
    q = st.quant_layers(model)[0]
    x = F.relu(model[0](data[0])).detach()
    with torch.no_grad():
        y1 = q(x)
        assert bits_equal(q(x), y1)
        q.layer.weight.mul_(0.5)
        q.freeze()
        y2 = q(x)
        twin = copy.deepcopy(model)  # an empty cache of its own
        y3 = st.quant_layers(twin)[0](x)
    assert q._wq is not None and q._dw is not None
    fresh = torch.from_numpy(smtgen.layer_forward(
        x.numpy(), q._wq.numpy(), q.dx, q._dw.numpy(), q._bias, "sysmt2",
        conv=q.conv_geometry((9, 9)), name=q.name))
    assert not torch.equal(y1, y2)
    assert bits_equal(y2, fresh), "the cached layer after freeze() is the uncached call on the new weights"
    assert bits_equal(y3, fresh)
