"""smtgen.torch.kure: the KURE loss against a hand computation and finite differences,
which layers it regularizes, seeded fine-tuning, the weight-quantization variants of
QuantLayer.freeze (spec §8) on a constructed tensor, and the robustness report."""

import copy
import math
from typing import Any, Dict, List, Tuple

import pytest
import torch
import torch.nn as nn
from torch.autograd.gradcheck import gradcheck

import smtgen.torch as st
from smtgen.torch import kure

SEED = 1234


def three_convs(dtype=torch.float64):
    """Conv 1x1 (first, not regularized), then two convolutions of four weights each."""
    m = nn.Sequential(
        nn.Conv2d(1, 1, 1, bias=False),
        nn.Conv2d(1, 2, (1, 2), bias=False),
        nn.Conv2d(2, 1, (1, 2), bias=False),
    ).to(dtype)
    with torch.no_grad():
        m[0].weight.fill_(3.0)
        m[1].weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=dtype).reshape(2, 1, 1, 2))
        m[2].weight.copy_(torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=dtype).reshape(1, 2, 1, 2))
    return m


def test_loss_equals_a_hand_computation():
    m = three_convs()
    # W1 = 1,2,3,4: mean 2.5, unbiased variance 5/3; z^4 = (1.5^4, 0.5^4, 0.5^4, 1.5^4) / (25/9)
    #   Kurt = (2·1.8225 + 2·0.0225) / 4 = 0.9225
    # W2 = 0,0,0,1: mean 0.25, unbiased variance 0.25 (std 0.5); z = -0.5 ×3, 1.5
    #   Kurt = (3·0.0625 + 5.0625) / 4 = 1.3125
    k1, k2 = 0.9225, 1.3125
    want = ((k1 - 1.8) ** 2 + (k2 - 1.8) ** 2) / 2  # 0.50383125
    got = kure.loss(m)
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(want, rel=1e-13), (float(got), want)
    assert float(kure.kurtosis(m[1].weight)) == pytest.approx(k1, rel=1e-13)
    assert float(kure.kurtosis(m[2].weight)) == pytest.approx(k2, rel=1e-13)
    # another target
    want19 = ((k1 - 1.9) ** 2 + (k2 - 1.9) ** 2) / 2
    assert float(kure.loss(m, target=1.9)) == pytest.approx(want19, rel=1e-13)
    rows = kure.report(m)
    assert [r.name for r in rows] == ["0", "1", "2"]
    assert [r.regularized for r in rows] == [False, True, True]
    assert math.isnan(rows[0].kurtosis)  # a single weight: undefined, reported as nan
    assert rows[1].kurtosis == pytest.approx(k1, rel=1e-13) and rows[2].numel == 4


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(SEED)
    print(f"seed {SEED}")
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1)).double()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    params = [m[1].weight, m[2].weight]
    m.zero_grad()
    kure.loss(m).backward()
    eps = 1e-6
    for p in params:
        assert p.grad is not None
        flat = p.data.view(-1)
        for i in range(flat.numel()):
            old = float(flat[i])
            with torch.no_grad():
                flat[i] = old + eps
                up = float(kure.loss(m))
                flat[i] = old - eps
                down = float(kure.loss(m))
                flat[i] = old
            fd = (up - down) / (2 * eps)
            ad = float(p.grad.view(-1)[i])
            assert ad == pytest.approx(fd, rel=1e-6, abs=1e-9), f"element {i} of {tuple(p.shape)}: autograd {ad}, fd {fd}"
    # and torch's own check of the kurtosis alone
    w = torch.randn(17, generator=g, dtype=torch.float64, requires_grad=True)
    assert gradcheck(kure.kurtosis, (w,))


def test_first_convolution_is_excluded():
    m = three_convs()
    before = float(kure.loss(m))
    with torch.no_grad():
        m[0].weight.fill_(-7.0)
    assert float(kure.loss(m)) == before
    m.zero_grad()
    kure.loss(m).backward()
    assert m[0].weight.grad is None
    assert m[1].weight.grad is not None and float(m[1].weight.grad.abs().sum()) > 0
    assert [n for n, _ in kure.regularized_convs(m)] == ["1", "2"]
    # Linear layers are not convolutions: a classifier is never regularized.
    m2 = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3), nn.Flatten(), nn.Linear(2, 3))
    assert [n for n, _ in kure.regularized_convs(m2)] == ["1"]
    with pytest.raises(ValueError, match="convolution"):
        kure.loss(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(2, 2)))
    m3 = three_convs()
    with torch.no_grad():
        m3[2].weight.fill_(0.5)
    with pytest.raises(ValueError, match="'2'.*constant"):
        kure.loss(m3)
    with pytest.raises(ValueError, match="target"):
        kure.loss(three_convs(), target=float("nan"))


def test_quantized_model_keeps_layer_names():
    torch.manual_seed(SEED)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                      nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    data = [(torch.rand(4, 1, 6, 6), torch.zeros(4, dtype=torch.int64))]
    before = float(kure.loss(m))
    st.quantize(m, data, batches=1, progress=False, verbose=False)
    assert [r.name for r in kure.report(m)] == ["0", "2", "4"]
    assert float(kure.loss(m)) == before
    with pytest.raises(ValueError, match="before quantize"):
        kure.finetune(m, data, 1, progress=False)


def tiny_task() -> Tuple[nn.Module, List[Tuple[torch.Tensor, torch.Tensor]]]:
    """A tiny 3-conv classifier and a seeded synthetic 4-class task."""
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    )
    g = torch.Generator().manual_seed(SEED + 1)
    data = []
    for _ in range(6):
        y = torch.randint(0, 4, (16,), generator=g)
        x = torch.rand(16, 1, 8, 8, generator=g) * 0.2
        for i, c in enumerate(y.tolist()):  # the class lights one quadrant
            x[i, 0, (c // 2) * 4:(c // 2) * 4 + 4, (c % 2) * 4:(c % 2) * 4 + 4] += 1.0
        data.append((x, y))
    return model, data


def test_finetune_lowers_r_and_is_reproducible():
    print(f"seed {SEED}")
    model, data = tiny_task()
    # push the weights away from the target so that there is something to lower
    with torch.no_grad():
        for _, conv in kure.regularized_convs(model):
            w = conv.weight
            assert isinstance(w, torch.Tensor)
            w.copy_(w ** 3 * 30)
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    la = kure.finetune(a, data, epochs=3, lam=1.0, lr=1e-2, seed=7, progress=False)
    lb = kure.finetune(b, data, epochs=3, lam=1.0, lr=1e-2, seed=7, progress=False)
    assert len(la.epochs) == 3 and la.seconds >= 0
    assert la.epochs[-1].r_end < 0.5 * la.r_start, (la.r_start, [e.r_end for e in la.epochs])
    assert float(kure.loss(a)) == pytest.approx(la.epochs[-1].r_end, rel=1e-6)
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"{k} differs between two runs with seed 7"
    assert [e.cross_entropy for e in la.epochs] == [e.cross_entropy for e in lb.epochs]
    assert not a.training
    # without the regularizer R is not driven down the same way
    c = copy.deepcopy(model)
    lc = kure.finetune(c, data, epochs=3, lam=0.0, lr=1e-2, seed=7, progress=False)
    assert lc.epochs[-1].r_end > la.epochs[-1].r_end
    cases: List[Tuple[Dict[str, Any], str]] = [
        (dict(epochs=0), "epochs"), (dict(epochs=1, lam=-1.0), "lam"),
        (dict(epochs=1, lr=0.0), "lr"), (dict(epochs=1, seed=1.5), "seed"),
    ]
    for bad, match in cases:
        with pytest.raises(ValueError, match=match):
            kure.finetune(copy.deepcopy(model), data, progress=False, **bad)


def quant_layer(weight):
    """A calibrated QuantLayer over a bias-free Linear with the given weights."""
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(weight)
    q = st.QuantLayer(lin, "l")
    q.max_mean.fill_(1.0)
    q.calib_samples.fill_(1)
    return q


W = torch.tensor([[1.0, -1.0, 0.5, -0.3], [0.25, -0.1, 0.06, 0.0]], dtype=torch.float64)
# Hand-computed (spec §8): row maxima 1.0 and 0.25.
EXPECTED = {
    # dw = 2/255, 0.5/255: 127.5 -> 128 -> 127, -127.5 -> -128, 63.75, -38.25; 127.5, -51, 30.6
    "per-channel": ([2 / 255, 0.5 / 255], [[127, -128, 64, -38], [127, -51, 31, 0]]),
    # dw = 2/255 for both rows: 31.875, -12.75, 7.65
    "per-tensor": ([2 / 255, 2 / 255], [[127, -128, 64, -38], [32, -13, 8, 0]]),
    # dw = 2^-6 >= 0.00784, 2^-8 >= 0.00196: 64, -64, 32, -19.2; 64, -25.6, 15.36
    "pow2": ([2.0 ** -6, 2.0 ** -8], [[64, -64, 32, -19], [64, -26, 15, 0]]),
    # dw = 2/15, 0.5/15: 7.5 -> 8 -> 7, -7.5 -> -8, 3.75, -2.25; 7.5, -3, 1.8
    "w4": ([2 / 15, 0.5 / 15], [[7, -8, 4, -2], [7, -3, 2, 0]]),
}


@pytest.mark.parametrize("variant", st.WEIGHT_VARIANTS)
def test_weight_variants_quantize_as_specified(variant):
    q = quant_layer(W)
    q.freeze(weights=variant)
    dw, wq = EXPECTED[variant]
    assert q._wq.tolist() == wq, f"{variant}: expected {wq}, got {q._wq.tolist()}"
    assert q._dw.tolist() == pytest.approx(dw, rel=1e-15)
    if variant == "pow2":
        assert q._dw.tolist() == dw  # exactly powers of two
    # the variant sticks for later freezes (prune_2_4 re-freezes)
    q.freeze()
    assert q.weights == variant and q._wq.tolist() == wq
    # the exact path dequantizes with the variant's steps
    x = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    q.mode, q.design = "quant", "exact"
    y = q(x)
    dx = 1.0 / 255
    xq = torch.round(x / dx)
    want = (xq @ torch.tensor(wq, dtype=torch.float64).t()) * dx * torch.tensor(dw, dtype=torch.float64)
    assert torch.allclose(y, want, rtol=1e-12, atol=0)


def test_pow2_keeps_a_step_that_is_already_a_power_of_two():
    # 2 · 0.99609375 / 255 = 2^-7 exactly; a zero channel gets step 1 = 2^0.
    q = quant_layer(torch.tensor([[0.99609375, 0.5], [0.0, 0.0]], dtype=torch.float64))
    q.freeze(weights="pow2")
    assert q._dw.tolist() == [2.0 ** -7, 1.0]
    assert q._wq.tolist() == [[127, 64], [0, 0]]  # 127.5 -> 128 -> clamped 127; 64


def test_unknown_weight_variant_is_rejected():
    q = quant_layer(W)
    with pytest.raises(ValueError, match="weights = 'int3'.*per-channel, per-tensor, pow2, w4"):
        q.freeze(weights="int3")
    assert q.weights == "per-channel"


def test_robustness_report_on_a_toy_model():
    model, data = tiny_task()
    st.quantize(model, data, batches=2, progress=False, verbose=False)
    layers = st.quant_layers(model)
    wq0 = [q._wq.clone() for q in layers if q._wq is not None]
    assert len(wq0) == len(layers)
    state0 = copy.deepcopy(model.state_dict())
    rep = kure.robustness(model, data[:2], lambda: data[2:], designs=["exact", "sysmt4"], recal_batches=2,
                          float_top1=50.0, progress=False)
    assert rep.variants() == list(st.WEIGHT_VARIANTS)
    assert len(rep.cells) == (3 * 2 + 1) * 2
    assert [c.design for c in rep.select("w4")] == ["exact", "exact"]
    spread, worst, best = rep.spread()
    assert spread == best.top1 - worst.top1 == max(c.top1 for c in rep.cells) - min(c.top1 for c in rep.cells)
    assert "spread" in rep.to_markdown() and "w4 + BN recal" in rep.to_markdown()
    # the model comes back as it was given
    assert [q.weights for q in layers] == ["per-channel"] * len(layers)
    assert all(q._wq is not None and torch.equal(a, q._wq) for a, q in zip(wq0, layers))
    for k, v in model.state_dict().items():
        assert torch.equal(v, state0[k]), k
    # per-channel exact without recalibration equals a direct evaluation
    assert rep.top1("per-channel", "exact", False) == st.evaluate(model, data[:2], progress=False)
    with pytest.raises(ValueError, match="variant"):
        kure.robustness(model, data[:1], lambda: data, variants=["int2"], progress=False)
