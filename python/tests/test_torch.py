"""smtgen.torch on toy models: the quantization recipe, simulated layers against
float convolutions of the dequantized operands and against smtgen.conv2d, BN
recalibration, per-layer statistics and the errors for what it cannot simulate."""

import copy

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import smtgen
import smtgen.torch as st

SEED = 77


def toy(bn=True):
    torch.manual_seed(SEED)
    layers = [nn.Conv2d(2, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(8))
    layers += [nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 5 * 5, 4)]
    return nn.Sequential(*layers).eval()


def batches(n=3, size=8, seed=SEED):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(size, 2, 10, 10, generator=g), torch.randint(0, 4, (size,), generator=g)) for _ in range(n)]


def test_quantize_follows_the_recipe():
    model = toy(bn=False)
    data = batches()
    float_model = copy.deepcopy(model)
    report = st.quantize(model, data, batches=3, verbose=False)
    assert report.quantized == ["2", "4"]
    assert list(report.float_layers) == ["0", "7"]
    assert "first layer" in report.float_layers["0"] and "classifier" in report.float_layers["7"]
    q = dict((l.name, l) for l in st.quant_layers(model))
    # max_mean: the mean over every calibration sample of that sample's maximum input.
    with torch.no_grad():
        maxima = torch.cat([F.relu(float_model[0](x)).flatten(1).amax(1) for x, _ in data]).double()
    assert float(q["2"].max_mean) == pytest.approx(float(maxima.mean()), rel=1e-12)
    # weights: symmetric per output channel, 2·max|w|/255, round half to even.
    w = float_model[2].weight.detach().double()
    dw = 2 * w.flatten(1).abs().amax(1) / 255
    want = torch.clamp(torch.round(w / dw.view(-1, 1, 1, 1)), -128, 127)
    assert q["2"]._wq is not None and q["2"]._dw is not None
    assert torch.equal(q["2"]._wq.double(), want) and torch.allclose(q["2"]._dw, dw)
    assert int(q["2"]._wq.min()) >= -128 and int(q["2"]._wq.abs().max()) >= 127
    # round half to even on the activations
    q2 = copy.deepcopy(q["2"])
    q2.max_mean.fill_(255 * 0.25)  # dx = 0.25 exactly
    x = torch.tensor([0.125, 0.375, 0.625, -0.75, 1000.0])
    assert q2.quantize_input(x).tolist() == [0.0, 2.0, 2.0, 0.0, 255.0]


def test_include_first_and_last():
    model = toy()
    report = st.quantize(model, batches(), batches=2, include_first=True, include_last=True, verbose=False)
    assert report.quantized == ["0", "2", "5", "8"] and not report.float_layers


def test_exact_is_the_float_conv_of_the_dequantized_operands():
    model = toy()
    data = batches()
    st.quantize(model, data, batches=3, verbose=False)
    q = st.quant_layers(model)[0]
    x = F.relu(model[0](data[0][0])).detach()
    xq = q.quantize_input(x)
    assert q._wq is not None and q._dw is not None
    wdq = q._wq.double() * q._dw.view(-1, 1, 1, 1)
    want = F.conv2d(xq * q.dx, wdq, q.layer.bias.double(), stride=2, padding=1)
    got = q(x)
    assert got.dtype == torch.float32
    assert torch.allclose(got.double(), want, rtol=1e-5, atol=1e-6), float((got.double() - want).abs().max())
    # The baseline design through smtgen gives the same numbers bit for bit.
    st.simulate(model, "baseline")
    assert torch.equal(q(x), got)
    # And the float model is close, but not equal (quantization error is there).
    fl = q.layer(x)
    assert 0 < float((fl - got).abs().max()) < 0.05 * float(fl.abs().max())


@pytest.mark.parametrize("design", ["sysmt2", "sysmt4", "sparq-4b3opt"])
def test_simulated_conv_is_smtgen_conv2d(design):
    model = toy()
    data = batches()
    st.quantize(model, data, batches=3, verbose=False)
    st.simulate(model, design)
    for q, x in [(st.quant_layers(model)[0], F.relu(model[0](data[1][0]))), (st.quant_layers(model)[1], None)]:
        if x is None:
            x = torch.rand(3, 8, 5, 5) * 2 * q.dx * 255
        xq = q.quantize_input(x)
        assert q._wq is not None and q._dw is not None
        c = smtgen.conv2d(xq.numpy().astype(np.uint8), q._wq.numpy(), design,
                          stride=q.layer.stride[0], padding=q.layer.padding[0])
        ch = (1, -1, 1, 1)
        want = torch.from_numpy(c.astype(np.float64)) * q.dx * q._dw.reshape(ch) + q.layer.bias.double().reshape(ch)
        y = q(x)
        assert torch.equal(y, want.to(torch.float32)), design
        exact = F.conv2d(xq, q._wq.double(), None, q.layer.stride, q.layer.padding)
        assert not torch.equal(torch.from_numpy(c.astype(np.float64)), exact), f"{design} gave the exact result (seed {SEED})"


def test_per_layer_designs_and_validation():
    model = toy()
    st.quantize(model, batches(), batches=2, verbose=False)
    st.simulate(model, {"2": "sysmt4"})
    assert [q.design for q in st.quant_layers(model)] == ["sysmt4", "exact"]
    with pytest.raises(ValueError, match="sysmt9"):
        st.simulate(model, "sysmt9")
    assert [q.design for q in st.quant_layers(model)] == ["sysmt4", "exact"], "a bad design changed nothing"
    with pytest.raises(ValueError, match="not simulated"):
        st.simulate(model, {"0": "sysmt2"})
    st.simulate(model, {"preset": "sysmt2", "pe.rounding": "truncate"})
    assert all(isinstance(q.design, dict) for q in st.quant_layers(model))


def test_recalibrate_bn_changes_running_stats_and_nothing_else():
    model = toy()
    data = batches(4)
    st.quantize(model, data, batches=2, verbose=False)
    st.simulate(model, "sysmt4")
    before = copy.deepcopy(model.state_dict())
    st.recalibrate_bn(model, data, batches=4, progress=False)
    after = model.state_dict()
    assert not model.training and not any(m.training for m in model.modules())
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"3.running_mean", "3.running_var", "3.num_batches_tracked"}, changed
    assert int(after["3.num_batches_tracked"]) == int(before["3.num_batches_tracked"]) + 4
    with pytest.raises(ValueError, match="batches"):
        st.recalibrate_bn(model, data, batches=0)


def _with_dropout(p):
    """toy() with a Dropout(p) after the first ReLU (p=0: an Identity in its place)."""
    model = toy()
    layers = list(model.children())
    layers.insert(2, nn.Dropout(p) if p else nn.Identity())
    return nn.Sequential(*layers).eval()


def test_calibration_and_recalibration_run_without_dropout():
    # BatchNorm in train mode, dropout (and stochastic depth) off: a Dropout(0.5) in
    # train mode would zero half the inputs of layer '3' and double the rest, so its
    # ranges and the BN statistics after it would differ from the network without it.
    data = batches(4)
    got, want = _with_dropout(0.5), _with_dropout(0)
    for m in (got, want):
        torch.manual_seed(SEED)
        st.quantize(m, data, batches=3, verbose=False, progress=False)
    qg, qw = st.quant_layers(got), st.quant_layers(want)
    assert [q.name for q in qg] == ["3", "6"]
    for a, b in zip(qg, qw):
        assert torch.equal(a.max_mean, b.max_mean), (a.name, a.max_mean, b.max_mean)
    for m in (got, want):
        st.simulate(m, "sysmt2")
        st.recalibrate_bn(m, data, batches=4, progress=False, momentum=None)
    assert torch.equal(got.state_dict()["4.running_mean"], want.state_dict()["4.running_mean"])
    assert torch.equal(got.state_dict()["4.running_var"], want.state_dict()["4.running_var"])
    assert not any(m.training for m in got.modules())


def test_quantize_leaves_the_float_model_unchanged():
    model = toy()
    ref = copy.deepcopy(model)
    data = batches()
    st.quantize(model, data, batches=3, verbose=False)
    st.simulate(model, "float")
    x = data[0][0]
    assert torch.equal(model(x), ref(x))


def test_layer_stats():
    model = toy()
    data = batches()
    st.quantize(model, data, batches=3, verbose=False)
    st.simulate(model, "sysmt2")
    stats = st.layer_stats(model, data, batches=2)
    assert [s["layer"] for s in stats] == ["2", "5"]
    for s in stats:
        assert 0.1 < s["zero_fraction"] < 0.9, s
        assert 0 < s["collide_fraction"] < 1 and 0 < s["reduced_fraction"] < 1, s
        assert 10 < s["sqnr_db"] < 80, s
    st.simulate(model, "exact")
    exact = st.layer_stats(model, data, batches=2)
    assert all(s["sqnr_db"] == float("inf") and s["collide_fraction"] == 0 for s in exact)
    # The first layer's input statistics do not depend on the design.
    assert exact[0]["zero_fraction"] == stats[0]["zero_fraction"]


@pytest.mark.parametrize(
    "layer,word",
    [(nn.Conv2d(6, 8, 3, stride=2, padding=1, groups=2, padding_mode="reflect"), "reflect"),
     (nn.Conv2d(6, 8, 3, stride=2, padding=2, dilation=2, padding_mode="circular"), "circular")],
)
def test_layers_it_cannot_simulate_are_an_error(layer, word):
    model = toy()
    model[2] = layer
    with pytest.raises(st.UnsupportedLayerError, match=word) as e:
        st.quantize(model, batches(), batches=1, verbose=False)
    assert "'2'" in str(e.value) and "skip" in str(e.value)
    assert not st.quant_layers(model), "nothing was swapped"
    report = st.quantize(model, batches(), batches=1, skip=["2"], verbose=False)
    assert report.float_layers["2"] == "in skip" and report.quantized == ["5"]


def test_negative_inputs_are_an_error_and_leave_the_model_as_it_was():
    model = toy()
    data = [(x - 0.5, y) for x, y in batches()]  # the first layer sees negative inputs
    with pytest.raises(st.UnsupportedLayerError, match="0: signed inputs") as e:
        st.quantize(model, data, batches=2, include_first=True, verbose=False)
    assert "skip=['0']" in str(e.value) and 'unsupported="float"' in str(e.value)
    assert not st.quant_layers(model) and isinstance(model[0], nn.Conv2d)
    report = st.quantize(model, data, batches=2, include_first=True, unsupported="float", verbose=False)
    assert report.float_layers["0"].startswith("signed inputs") and "0" not in report.quantized
    assert isinstance(model[0], nn.Conv2d) and report.quantized == ["2", "5"]
    model = toy()
    st.quantize(model, batches(), batches=2, verbose=False)
    q = st.quant_layers(model)[1]
    with pytest.raises(ValueError, match="negative input"):
        q(-torch.ones(1, 8, 5, 5))


def test_no_quantizable_layer_and_bad_arguments():
    with pytest.raises(ValueError, match="no quantizable layer"):
        st.quantize(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), [torch.rand(2, 4)], verbose=False)
    with pytest.raises(ValueError, match="no quantizable layer"):
        st.quantize(nn.Sequential(nn.ReLU()), [torch.rand(2, 4)], verbose=False)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        st.quantize("resnet", [], verbose=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="skip names"):
        st.quantize(toy(), batches(), skip=["nope"], verbose=False)
    with pytest.raises(ValueError, match="quantize"):
        st.simulate(toy(), "sysmt2")
    model = toy()
    st.quantize(model, batches(), batches=1, verbose=False)
    with pytest.raises(ValueError, match="already quantized"):
        st.quantize(model, batches(), verbose=False)


def test_quantize_max_elements_is_each_layers_ceiling() -> None:
    """The ceiling given to quantize reaches every simulated layer: a batch above it is
    refused naming the ceiling, and the same batch passes under a raised one."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(),
        nn.Flatten(), nn.Linear(4 * 2 * 2, 3),
    )
    x = torch.rand(2, 1, 8, 8)
    st.quantize(model, [x], batches=1, verbose=False, progress=False, max_elements=50)
    with pytest.raises(ValueError, match="max_elements"):
        model(x)
    for q in st.quant_layers(model):
        q.max_elements = 1 << 24
    assert model(x).shape == (2, 3)


@pytest.mark.parametrize(
    "env, first, expected",
    [
        (None, "smtgen", ("PASSIVE", "True")),  # unset, smtgen first: set to passive
        ("ACTIVE", "smtgen", ("ACTIVE", "False")),  # the user's choice is kept
        (None, "torch", ("None", "False")),  # too late once torch is loaded: left alone
    ],
)
def test_import_sets_the_openmp_wait_policy_only_when_it_can(env, first, expected):
    import os
    import subprocess
    import sys

    e = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env is not None:
        e["OMP_WAIT_POLICY"] = env
    other = "torch" if first == "smtgen" else "smtgen"
    code = (f"import {first}, {other}, os, smtgen; "
            "print(os.environ.get('OMP_WAIT_POLICY'), smtgen.OMP_POLICY_SET_BY_SMTGEN)")
    out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, check=True)
    assert tuple(out.stdout.split()) == expected, f"env {env}, {first} first: expected {expected}, got {out.stdout!r}"
