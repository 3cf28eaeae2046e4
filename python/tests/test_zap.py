"""smtgen.zap: mask types, chain finding and refusal, the MAC accounting on a
hand-counted map, exact misprediction counts, composition with a simulated design,
and a trained ZAP reproducing its operating point on a fixed seed."""

from fractions import Fraction
from typing import Any, Dict, List, Tuple

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
        assert t0[n] == pytest.approx(v, abs=0.05), f"layer {n}: threshold {t0[n]}, recorded {v}"
    assert s0 == pytest.approx(RECORDED_SKIPPED_SHARE, abs=0.01)


RECORDED_THRESHOLDS = {"2": -0.470, "5": 0.149}
RECORDED_SKIPPED_SHARE = 0.1904
RECORDED_LOST_MASS = 0.1618


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
