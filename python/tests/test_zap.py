"""smtgen.zap: mask types, chain finding and refusal, the MAC accounting on a
hand-counted map, exact misprediction counts, composition with a simulated design,
and a trained ZAP reproducing its operating point on a fixed seed."""

from fractions import Fraction
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest
import torch
import torch.nn as nn

import smtgen.torch as st
import smtgen.zap as sz

SEED = 23


def test_mask_types_shares():
    expected = {0: Fraction(1, 9), 1: Fraction(2, 9), 2: Fraction(1, 4), 3: Fraction(1, 3), 4: Fraction(2, 5),
                5: Fraction(1, 2), 6: Fraction(3, 5), 7: Fraction(2, 3), 8: Fraction(3, 4), 9: Fraction(7, 9),
                10: Fraction(8, 9)}
    for t, share in expected.items():
        m = sz.mask_pattern(t, 30, 30)  # 30 = lcm of the periods 2, 3, 5
        assert set(m.unique().tolist()) <= {0.0, 1.0}
        got = Fraction(int(m.sum()), 900)
        assert got == share, f"mask type {t}: share {got}, expected {share}"
        assert sz.mask_share(t) == pytest.approx(float(share), abs=1e-12)
        if t != 5:
            assert torch.equal(m, 1.0 - sz.mask_pattern(10 - t, 30, 30)), f"type {t} is not the complement of {10 - t}"
    cb = sz.mask_pattern(5, 4, 6)
    ij = torch.arange(4).reshape(-1, 1) + torch.arange(6).reshape(1, -1)
    assert torch.equal(cb, (ij % 2 == 0).float())
    bads: List[Any] = [-1, 11, 2.0, True]
    for bad in bads:
        with pytest.raises(ValueError, match="mask_type"):
            sz.mask_pattern(bad, 4, 4)


# The constructed 4×4 map (one image, one channel). Under the checkerboard the
# computed positions are (i + j) even; the others are predicted from their 4
# computed neighbours, whose zeros are hand-counted below.
X0 = [[0, 5, 0, 0],
      [0, 0, 3, 0],
      [2, 0, 0, 0],
      [0, 0, 0, 4]]
# zero computed neighbours of each predicted position, counted by hand
ZERO_NEIGHBOURS = {(0, 1): 3, (0, 3): 2, (1, 0): 2, (1, 2): 4, (2, 1): 3, (2, 3): 2, (3, 0): 1, (3, 2): 2}


def picker():
    """A conv 2→1 channels, 3×3 (18 MACs per output), that outputs input channel 0,
    then a ReLU."""
    conv = nn.Conv2d(2, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1] = 1.0
    return nn.Sequential(conv, nn.ReLU()).eval()


def picker_input():
    x = torch.zeros(1, 2, 4, 4)
    x[0, 0] = torch.tensor(X0, dtype=torch.float32)
    x[0, 1] = -7.0  # ignored by the conv
    return x


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_cross_neuron_accounting_hand_counted(k):
    model = picker()
    x = picker_input()
    sk = sz.attach_cross_neuron(model, ["0"], mask_type=5, neighbourhood=4, k=k, example_input=x)
    with torch.no_grad():
        y = model(x)
    skipped = [p for p, z in ZERO_NEIGHBOURS.items() if z >= k]
    nonzero_skipped = [p for p in skipped if X0[p[0]][p[1]] > 0]
    expect = torch.tensor(X0, dtype=torch.float32)
    for i, j in skipped:
        expect[i, j] = 0.0
    assert torch.equal(y[0, 0], expect), f"k={k}: got {y[0, 0]}, expected {expect}"
    r = sk.report()
    row = r.layers[0]
    assert row.layer == "0"
    assert row.outputs == 16 and row.exact == 8 and row.images == 1
    assert row.skipped == len(skipped)
    assert row.macs == 16 * 18
    assert row.macs_saved == 18 * len(skipped)
    assert row.overhead_macs == 0
    assert row.mispredicted == len(nonzero_skipped)
    assert row.mass == 14.0
    assert row.lost_mass == sum(X0[i][j] for i, j in nonzero_skipped)
    assert row.zeros == 12
    assert r.network_macs == 16 * 18
    assert r.network_saved_share() == pytest.approx(len(skipped) / 16)
    t = r.total
    assert (t.skipped, t.macs_saved, t.mispredicted) == (row.skipped, row.macs_saved, row.mispredicted)


def test_oracle_skips_exactly_the_zeros_outside_the_mask():
    model = picker()
    x = picker_input()
    sk = sz.attach(model, {"0": sz.Oracle(5)})
    with torch.no_grad():
        y = model(x)
    assert torch.equal(y[0, 0], torch.tensor(X0, dtype=torch.float32))
    row = sk.report().layers[0]
    # predicted positions holding 0: all but (0, 1) = 5 and (1, 2) = 3
    assert (row.skipped, row.mispredicted, row.macs_saved) == (6, 0, 6 * 18)


def test_cross_neuron_neighbourhood_8_and_edges():
    # Mask type 8 (3 of 4 computed): position (1, 1) of each 2×2 tile is predicted;
    # its 8 neighbours are all computed.
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0  # one non-zero diagonal neighbour of (1, 1)
    keep8 = sz.CrossNeuron(8, 8, 8).keep(x, sz.mask_pattern(8, 4, 4))
    keep7 = sz.CrossNeuron(8, 8, 7).keep(x, sz.mask_pattern(8, 4, 4))
    assert bool(keep8[0, 0, 1, 1]) and not bool(keep7[0, 0, 1, 1])
    # (3, 3) sits in the corner: 3 computed neighbours, so k = 4 never skips it.
    keep4 = sz.CrossNeuron(8, 8, 4).keep(x, sz.mask_pattern(8, 4, 4))
    assert bool(keep4[0, 0, 3, 3]) and not bool(keep4[0, 0, 1, 1])
    with pytest.raises(ValueError, match="neighbourhood"):
        sz.CrossNeuron(5, 6, 1)
    with pytest.raises(ValueError, match="k = 5"):
        sz.CrossNeuron(5, 4, 5)


def constant_zap(channels, biases, mask_type=5):
    """A ZAP predictor whose score is the constant ``biases[c]`` per channel (zero
    weights, identity BNs in eval mode)."""
    p = sz.ZapPredictor(channels, mask_type)
    with torch.no_grad():
        for conv in (p.conv1, p.conv2):
            assert conv.bias is not None
            conv.weight.zero_()
            conv.bias.zero_()
        assert p.conv2.bias is not None
        p.conv2.bias.copy_(torch.tensor(biases))
        for bn in (p.bn1, p.bn2):
            assert bn.running_mean is not None and bn.running_var is not None
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)  # so that bn(v) = v exactly
    return p.eval()


def test_zap_mispredictions_counted_exactly():
    torch.manual_seed(SEED)
    n, c, h, w = 3, 3, 7, 5
    model = nn.Sequential(nn.Identity(), nn.Conv2d(c, c, 1, bias=False), nn.ReLU()).eval()
    with torch.no_grad():
        model[1].weight.copy_(torch.eye(c).reshape(c, c, 1, 1))
    g = torch.Generator().manual_seed(SEED)
    x = torch.randn(n, c, h, w, generator=g)
    x[x.abs() < 0.3] = 0.0
    pred = constant_zap(c, [1.0, -1.0, 0.25])  # channel 0 kept, 1 skipped outside M, 2 depends on threshold
    sk = sz.attach(model, {"1": pred}, example_input=x[:1])
    cases: List[Tuple[float, List[int]]] = [(0.0, [1]), (0.5, [1, 2]), (-2.0, [])]
    for th, skipped_channels in cases:
        sk.set_thresholds({"1": th}).reset_stats()
        with torch.no_grad():
            y = model(x)
        m = sz.mask_pattern(5, h, w).bool()
        relu = x.clamp(min=0)
        outside = (~m).expand(n, h, w)
        exp_skipped = sum(int(outside.sum()) for _ in skipped_channels)
        exp_miss = sum(int(((relu[:, ch] > 0) & outside).sum()) for ch in skipped_channels)
        exp_lost = sum(float((relu[:, ch] * outside).double().sum()) for ch in skipped_channels)
        row = sk.report().layers[0]
        assert row.skipped == exp_skipped, f"threshold {th}"
        assert row.mispredicted == exp_miss, f"threshold {th}: {row.mispredicted} vs {exp_miss}"
        assert row.lost_mass == pytest.approx(exp_lost, rel=1e-12)
        assert row.macs_saved == exp_skipped * c
        assert row.overhead_macs == 18 * n * c * h * w
        expect = relu.clone()
        for ch in skipped_channels:
            expect[:, ch][outside] = 0.0
        assert torch.equal(y, expect)
    sk.detach()
    with torch.no_grad():
        assert torch.equal(model(x), x.clamp(min=0))


def test_refuses_a_layer_not_followed_by_relu():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU6(),
        nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Sigmoid(),
        nn.Conv2d(4, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 36, 2),
    ).eval()
    chains = sz.find_chains(model)
    assert [(c.conv, c.norm, c.act) for c in chains] == [("0", "1", "relu6")]
    with pytest.raises(sz.NotReluError, match=r"'3'.*Sigmoid"):
        sz.attach_cross_neuron(model, ["3"])
    with pytest.raises(sz.NotReluError, match=r"'6'.*Flatten"):
        sz.attach_zap(model, ["6"])
    with pytest.raises(ValueError, match="not a conv layer"):
        sz.attach_cross_neuron(model, ["8"])

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.relu = nn.ReLU()

        def forward(self, x):
            y = self.conv(x)
            return self.relu(y) + y

    with pytest.raises(sz.NotReluError, match=r"'conv'.*2 places"):
        sz.attach_cross_neuron(Residual(), ["conv"])


def toy_quantized():
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4),
    ).eval()
    g = torch.Generator().manual_seed(SEED)
    data = [(torch.rand(8, 2, 12, 12, generator=g), torch.randint(0, 4, (8,), generator=g)) for _ in range(4)]
    st.quantize(model, data, batches=4, verbose=False, progress=False)
    return model, data


def test_skipping_composes_with_a_design():
    """The predictor reads what the design computed, and the computed outputs stay
    bit-identical to the design's: skipped outputs are 0, the rest unchanged."""
    model, data = toy_quantized()
    x = data[0][0]

    def post_relu():
        with torch.no_grad():
            return torch.relu(model[3](model[2](model[1](model[0](x)))))

    exact = post_relu()
    st.simulate(model, "sysmt2")
    ref = post_relu()
    assert not torch.equal(exact, ref), "sysmt2 should differ from int8 on this layer"
    seen: Dict[str, torch.Tensor] = {}
    sk = sz.attach_cross_neuron(model, ["2"], mask_type=5, neighbourhood=4, k=2)
    h = model[4].register_forward_hook(lambda m, i, o: seen.__setitem__("y", o.detach().clone()))
    with torch.no_grad():
        model(x)
    h.remove()
    y = seen["y"]
    keep = sz.CrossNeuron(5, 4, 2).keep(ref, sz.mask_pattern(5, 12, 12))
    assert torch.equal(y, torch.where(keep, ref, torch.zeros_like(ref)))
    r = sk.report().layers[0]
    assert r.skipped == int((~keep).sum()) > 0
    assert r.mispredicted == int(((~keep) & (ref > 0)).sum())
    assert r.macs_saved == r.skipped * 8 * 9


def test_trained_zap_reproduces_its_operating_point():
    """A ZAP trained on a fixed seed lands on the same thresholds and skip share
    (recorded when the test was written; tolerances cover float summation order)."""
    model, data = toy_quantized()
    st.simulate(model, "exact")
    results = []
    for _ in range(2):
        sk = sz.attach_zap(model, ["2", "5"], mask_type=5, seed=SEED)
        losses = sz.train_zap(sk, data, batches=4, epochs=5, seed=SEED, progress=False)
        assert all(len(v) == 5 and v[-1] < v[0] for v in losses.values()), losses
        curves = sz.sweep(sk, data, batches=4, progress=False)
        for n in ("2", "5"):
            assert np.all(np.diff(curves.kept[n]) <= 1e-12), "kept share must fall as the threshold rises"
        op = sz.operating_point(curves, budget=0.2)
        sk.set_thresholds(op.thresholds).reset_stats()
        st.evaluate(model, data, progress=False)
        rep = sk.report()
        lost = sum(r.lost_mass_share for r in rep.layers)
        results.append((op.thresholds, rep.total.skipped_share, sum(op.predicted_loss.values()), lost))
        sk.detach()
    (t0, s0, l0, m0), (t1, s1, l1, m1) = results
    assert t0 == t1 and s0 == s1 and m0 == m1, "same seed, different result"
    print("thresholds", t0, "skipped share", s0, "predicted summed loss", l0, "measured", m0)
    # Measured with every predictor on at once (the sweep measured each alone, so the
    # second layer's inputs differ): recorded, not equal to the budget.
    assert m0 == pytest.approx(RECORDED_LOST_MASS, abs=0.01)
    assert l0 <= 0.2 + 1e-6
    for n, v in RECORDED_THRESHOLDS.items():
        got = t0[n]
        if v is None or got is None:
            assert got is v, f"layer {n}: threshold {got}, recorded {v}"
        else:
            assert got == pytest.approx(v, abs=0.05), f"layer {n}: threshold {got}, recorded {v}"
    assert s0 == pytest.approx(RECORDED_SKIPPED_SHARE, abs=0.01)


# Recorded with the net-MACs objective: layer "2" (72 MACs per output, its predictor
# 18) is switched off, it cannot pay for itself within the budget; under the earlier
# objective (MACs computed only) it sat at −0.470 and "5" at 0.149.
RECORDED_THRESHOLDS: Dict[str, Optional[float]] = {"2": None, "5": 0.179}
RECORDED_SKIPPED_SHARE = 0.1960
RECORDED_LOST_MASS = 0.1872


def test_functional_relu_and_the_module_order_fallback(capsys):
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3, padding=1)
            self.head = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            return self.head(torch.nn.functional.relu(self.conv(x)))

    chains = sz.find_chains(Functional())
    assert [(c.conv, c.norm, c.act, c.found_by) for c in chains] == [("conv", None, "relu", "fx")]

    class Untraceable(nn.Module):
        """Data-dependent control flow: torch.fx cannot trace it."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3, padding=1)
            self.bn = nn.BatchNorm2d(2)
            self.relu = nn.ReLU()
            self.out = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            y = self.relu(self.bn(self.conv(x)))
            return self.out(y) if float(y.sum()) > 0 else y

    model = Untraceable().eval()
    chains = sz.find_chains(model)
    assert "module order" in capsys.readouterr().err
    assert [(c.conv, c.norm, c.site, c.found_by) for c in chains] == [("conv", "bn", "bn", "module order")]
    with pytest.raises(sz.NotReluError, match=r"'out'.*module order"):
        sz.attach_cross_neuron(model, ["out"])
    sk = sz.attach_cross_neuron(model, ["conv"], mask_type=5, neighbourhood=4, k=4)
    with torch.no_grad():
        model(torch.rand(2, 1, 6, 6))
    assert sk.report().layers[0].outputs == 2 * 2 * 36


def _curves(layers: Dict[str, Tuple[float, float, float, float]]) -> sz.Curves:
    """Constructed curves: per layer (dense MACs, predictor MACs, deepest skip share,
    lost mass at that share); kept = 1 − s·σ(4t), lost = L·σ(4t) over the sweep."""
    t = np.asarray(sz.THRESHOLDS)
    sig = 1.0 / (1.0 + np.exp(-4.0 * t))
    kept = {n: 1.0 - s * sig for n, (_, _, s, _) in layers.items()}
    loss = {n: lm * sig for n, (_, _, _, lm) in layers.items()}
    return sz.Curves(sz.THRESHOLDS, kept, loss, {n: v[0] for n, v in layers.items()},
                     {n: v[1] for n, v in layers.items()})


# 100 outputs per image each: "cheap" has 9 MACs per output (a depthwise 3×3 conv),
# "mid" 36, "big" 576; every predictor costs 18 MACs per output (1,800 per image).
PRICED = {"cheap": (900.0, 1800.0, 0.6, 0.3), "mid": (3600.0, 1800.0, 0.6, 0.3), "big": (57600.0, 1800.0, 0.6, 0.3)}


def test_operating_point_switches_off_a_predictor_that_cannot_pay():
    """Budget 0.05: "cheap" could never save its predictor's MACs (at most 540 of
    1,800); "mid" could at a deep threshold (up to 2,160) but within the budget saves
    at most 360, so it is off too; "big" takes the whole budget: σ(4t) = 1/6."""
    op = sz.operating_point(_curves(PRICED), budget=0.05)
    assert op.thresholds["cheap"] is None and op.thresholds["mid"] is None, op.thresholds
    big = op.thresholds["big"]
    assert big is not None and big == pytest.approx(np.log(0.2) / 4.0, abs=0.02), big
    assert op.predicted_kept["cheap"] == 1.0 and op.predicted_loss["mid"] == 0.0
    kept_big = 1.0 - 0.6 / 6.0
    expect = (900 + 3600 + 57600 * kept_big + 1800) / (900 + 3600 + 57600)
    assert op.predicted_net_macs == pytest.approx(expect, rel=1e-3)
    # Switching "mid" on at its best share of the budget costs more than it saves.
    for mid in np.linspace(-1.3, 1.3, 27):
        sig_mid = 1.0 / (1.0 + np.exp(-4.0 * mid))
        if 0.3 * sig_mid > 0.05:
            break
        sig_big = (0.05 - 0.3 * sig_mid) / 0.3
        other = (900 + 3600 * (1 - 0.6 * sig_mid) + 1800 + 57600 * (1 - 0.6 * sig_big) + 1800) / 62100
        assert other > op.predicted_net_macs, f"mid on at {mid} beats the chosen point"


def test_operating_point_keeps_a_predictor_that_pays():
    """Budget 0.6: "big" stops near its deepest threshold (lost mass 0.298), the rest
    lets "mid" skip about half its outputs, 1,000+ MACs more than its predictor costs:
    it stays on; "cheap" stays off."""
    op = sz.operating_point(_curves(PRICED), budget=0.6)
    assert op.thresholds["cheap"] is None
    mid, big = op.thresholds["mid"], op.thresholds["big"]
    assert mid is not None and big is not None, op.thresholds
    assert 3600 * (1 - op.predicted_kept["mid"]) > 1800
    assert sum(op.predicted_loss.values()) <= 0.6 + 1e-6
    # One layer alone: at budget 0.03 it skips 6 % (3,456 MACs, more than 1,800): on;
    # at 0.01 it could skip only 2 % (1,152 MACs): off.
    assert sz.operating_point(_curves({"big": PRICED["big"]}), budget=0.03).thresholds["big"] is not None
    assert sz.operating_point(_curves({"big": PRICED["big"]}), budget=0.01).thresholds["big"] is None
    # At budget 0 nothing may be lost: every predictor is off, nothing is saved.
    zero = sz.operating_point(_curves(PRICED), budget=0.0)
    assert all(v is None for v in zero.thresholds.values()) and zero.predicted_net_macs == 1.0
    with pytest.raises(ValueError, match="budget"):
        sz.operating_point(_curves(PRICED), budget=-0.1)


def test_operating_point_local_search_above_the_exhaustive_limit():
    """More candidate layers than are solved exhaustively: the local search reaches
    the same choice as on a copy of the layers solved exhaustively."""
    layers = {f"big{i}": PRICED["big"] for i in range(sz.EXHAUSTIVE_LAYERS + 1)}
    layers.update({"mid": PRICED["mid"], "cheap": PRICED["cheap"]})
    op = sz.operating_point(_curves(layers), budget=0.05)
    assert op.thresholds["cheap"] is None and op.thresholds["mid"] is None
    assert sum(op.predicted_loss.values()) <= 0.05 + 1e-6
    on = [n for n, v in op.thresholds.items() if v is not None]
    assert on and all(n.startswith("big") for n in on)


def test_predictor_switched_off_computes_everything_and_costs_nothing():
    torch.manual_seed(SEED)
    n, c, h, w = 2, 3, 5, 5
    model = nn.Sequential(nn.Identity(), nn.Conv2d(c, c, 1, bias=False), nn.ReLU()).eval()
    with torch.no_grad():
        model[1].weight.copy_(torch.eye(c).reshape(c, c, 1, 1))
    x = torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(SEED))
    sk = sz.attach(model, {"1": constant_zap(c, [-1.0, -1.0, -1.0])}, example_input=x[:1])
    sk.set_thresholds({"1": None}).reset_stats()
    with torch.no_grad():
        y = model(x)
    assert torch.equal(y, x.clamp(min=0))
    row = sk.report().layers[0]
    assert row.skipped == 0 and row.overhead_macs == 0 and row.outputs == n * c * h * w
    assert "threshold=off" in row.predictor
    sk.set_thresholds({"1": 0.0}).reset_stats()
    with torch.no_grad():
        model(x)
    assert sk.report().layers[0].overhead_macs == 18 * n * c * h * w
    for bad in (float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="threshold of layer '1'"):
            sk.set_thresholds({"1": bad})  # type: ignore[dict-item]


def test_gemm_operands_and_skip_mask_are_the_layers_gemm():
    """A·W from gemm_operands is the layer's accumulators (the exact design's output
    dequantized from it), K is tap-major and channel-innermost, and the skip mask's
    rows and columns are the GEMM's output positions and channels."""
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Conv2d(2, 5, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(5, 6, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3),
    ).eval()
    g = torch.Generator().manual_seed(SEED)
    data = [(torch.rand(3, 2, 11, 9, generator=g), torch.zeros(3, dtype=torch.long)) for _ in range(2)]
    st.quantize(model, data, batches=2, verbose=False, progress=False)
    st.simulate(model, "exact")
    q = model[2]
    assert isinstance(q, st.QuantLayer)
    seen: Dict[str, torch.Tensor] = {}
    h = q.register_forward_hook(lambda m, i, o: seen.update(x=i[0].detach().clone(), y=o.detach().clone()))
    x = data[0][0]
    with torch.no_grad():
        model(x)
    h.remove()
    a, w = sz.gemm_operands(q, seen["x"])
    n, o, oh, ow = seen["y"].shape
    assert a.dtype == np.uint8 and w.dtype == np.int8 and a.shape == (n * oh * ow, 9 * 5) and w.shape == (45, o)
    acc = a.astype(np.int64) @ w.astype(np.int64)
    assert q._dw is not None and q.layer.bias is not None
    expect = acc * q.dx * q._dw.numpy()[None, :] + q.layer.bias.detach().double().numpy()[None, :]
    got = seen["y"].double().permute(0, 2, 3, 1).reshape(-1, o).numpy()
    assert np.allclose(got, expect, rtol=1e-6, atol=1e-6), f"max diff {np.abs(got - expect).max()} (seed {SEED})"
    xq = torch.nn.functional.pad(q.quantize_input(seen["x"]), (1, 1, 1, 1))
    rng = np.random.default_rng(SEED)
    for _ in range(50):
        m, k = int(rng.integers(a.shape[0])), int(rng.integers(a.shape[1]))
        img, rest = divmod(m, oh * ow)
        r, cc = divmod(rest, ow)
        tap, ch = divmod(k, 5)
        i, j = divmod(tap, 3)
        assert a[m, k] == int(xq[img, ch, 2 * r + i, 2 * cc + j]), f"A[{m}, {k}]"
    keep = torch.rand(n, o, oh, ow, generator=g) > 0.3
    mask = sz.gemm_skip_mask(keep)
    assert mask.dtype == np.uint8 and mask.shape == (n * oh * ow, o)
    for img in range(n):
        for ch in range(o):
            for r in range(oh):
                for cc in range(ow):
                    assert mask[(img * oh + r) * ow + cc, ch] == int(not keep[img, ch, r, cc])
    sk = sz.attach(model, {"2": sz.Oracle(5)})
    with torch.no_grad():
        model(x)
    with pytest.raises(ValueError, match="no batch has run"):
        sk.skip_mask("2")  # not recording
    sk.record_masks().reset_stats()
    with torch.no_grad():
        model(x)
    assert np.array_equal(sk.skip_mask("2"), sz.gemm_skip_mask(sk.site("2").last_keep))  # type: ignore[arg-type]
    assert int(sk.skip_mask("2").sum()) == sk.report().layers[0].skipped
    with pytest.raises(ValueError, match="quantized 2-D conv"):
        sz.gemm_operands(model[0], x)  # type: ignore[arg-type]


def test_cross_neuron_matches_a_stencil_convolution():
    """The slice-based neighbour count gives the same decisions as a 3×3 stencil
    convolution (the reference formulation) on seeded random maps, every rule."""
    g = torch.Generator().manual_seed(SEED)
    print("seed", SEED)
    for n, c, h, w in [(2, 3, 7, 5), (1, 4, 4, 4), (3, 2, 1, 6), (1, 1, 9, 9)]:
        x = torch.relu(torch.randn(n, c, h, w, generator=g))
        for t in (3, 4, 5, 6, 8):
            m = sz.mask_pattern(t, h, w)
            for nb in (4, 8):
                st_ = torch.ones(3, 3) if nb == 8 else torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]])
                st_[1, 1] = 0.0
                zero = (torch.eq(x, 0) & torch.gt(m, 0)).float().reshape(n * c, 1, h, w)
                count = torch.nn.functional.conv2d(zero, st_.reshape(1, 1, 3, 3), padding=1).reshape(n, c, h, w)
                for k in range(1, nb + 1):
                    ref = torch.gt(m, 0) | torch.lt(count, k - 0.5)
                    got = sz.CrossNeuron(t, nb, k).keep(x, m)
                    assert torch.equal(got, ref), f"shape {(n, c, h, w)} mask {t} N={nb} k={k}: {(got != ref).sum()} differ"
