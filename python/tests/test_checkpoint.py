"""Resumable network reports (smtgen.report.report(checkpoint=...), smtgen.checkpoint):
a report stopped after a row and resumed gives the same rows as one run straight
through, rows in the checkpoint are reused and not measured again, and a checkpoint
written by a different run is refused naming what differs."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
import torch
import torch.nn as nn

import smtgen.torch as st
from smtgen import checkpoint as ckp
from smtgen import report as rp

SEED = 2031
ROOT = Path(__file__).resolve().parents[2]
DESIGNS = ["sysmt2", "sysmt4"]


def tiny(seed=SEED):
    """Dropout in train mode (as EfficientNet's drop-connect) draws from torch's RNG
    during calibration and BN recalibration: a row must not depend on the rows before it."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Dropout(0.25), nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(8, 5),
    ).eval()


def data(n=3, size=4, hw=8, seed=SEED):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(size, 3, hw, hw, generator=g), torch.tensor([0, 1, 2, -1])) for _ in range(n)]


def quantized(seed=SEED):
    model = tiny(seed)
    st.quantize(model, data(), batches=3, verbose=False, progress=False)
    return model


def run(model, path=None, stop_at=None, **kw):
    args: Dict[str, Any] = dict(rows=4, cols=4, recal_loader=data(), recal_batches=2, labelled=data(n=1),
                                area={"baseline": 100.0, "sysmt2": 130.0, "sysmt4": 210.0},
                                energy={"baseline": 50.0, "sysmt2": 40.0, "sysmt4": 35.0})
    args.update(kw)
    designs = args.pop("designs", DESIGNS)
    evald = args.pop("evald", data())
    return st.report(model, evald, designs, checkpoint=path, stop_at=stop_at, **args)


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    print(f"seed {SEED}")
    whole = run(quantized())
    assert [r["design"] for r in whole.rows] == ["float", "int8 (exact)", "sysmt2", "sysmt4"]
    path = tmp_path / "report.json"
    model = quantized()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    # A deadline already past: the float row and one measured row, then it stops.
    with pytest.raises(ckp.Unfinished) as e:
        run(model, path, stop_at=0.0)
    assert (e.value.done, e.value.total) == (2, 4)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items()), "BN state restored on a stop"
    assert [q.design for q in st.quant_layers(model)] == ["exact", "exact"]
    saved = json.loads(path.read_text())
    assert list(saved["entries"]) == ["row float", "row int8 (exact)"]
    assert not [p for p in tmp_path.iterdir() if p.name != "report.json"], "no temporary file left behind"
    with pytest.raises(ckp.Unfinished) as e:
        run(quantized(), path, stop_at=0.0)  # a new process would re-quantize: the same model
    assert (e.value.done, e.value.total) == (3, 4)
    # The last chunk measures only sysmt4: one recalibration.
    calls: List[str] = []
    real = st.recalibrate_bn

    def counting(model: nn.Module, *a: Any, **k: Any) -> nn.Module:
        calls.append(str([q.design for q in st.quant_layers(model)]))
        return real(model, *a, **k)

    monkeypatch.setattr(st, "recalibrate_bn", counting)
    resumed = run(quantized(), path)
    assert calls == [str(["sysmt4", "sysmt4"])], calls
    assert resumed.from_checkpoint == 3
    assert resumed.rows == whole.rows, f"resumed {resumed.rows}\nuninterrupted {whole.rows}"
    assert resumed.to_markdown() == whole.to_markdown()
    # A finished checkpoint gives the whole report again without measuring anything.
    calls.clear()
    again = run(quantized(), path, stop_at=0.0)
    assert again.rows == whole.rows and again.from_checkpoint == 4 and calls == []


def test_rows_in_the_checkpoint_are_reused_not_remeasured(tmp_path):
    path = tmp_path / "report.json"
    with pytest.raises(ckp.Unfinished):
        run(quantized(), path, stop_at=0.0)
    saved = json.loads(path.read_text())
    saved["entries"]["row int8 (exact)"]["measured"]["agreement"] = 12.5  # a value no run measures
    path.write_text(json.dumps(saved))
    rep = run(quantized(), path)
    assert {r["design"]: r["agreement"] for r in rep.rows}["int8 (exact)"] == 12.5


def _perturbed_weights() -> nn.Module:
    model: nn.Module = quantized()
    with torch.no_grad():
        st.quant_layers(model)[0].layer.weight[0, 0, 0, 0] += 1e-3
    return model


def _other_eval() -> List[Any]:
    d: List[Any] = data()
    d[1][0][0, 0, 0, 0] = 0.5
    return d


CHANGES: List[Any] = [
    ("designs", lambda: dict(designs=["sysmt2", "sparq-4b5opt"])),
    ("rows", lambda: dict(rows=8)),
    ("cols", lambda: dict(cols=2)),
    ("samples", lambda: dict(evald=data()[:2])),
    ("evaluation inputs", lambda: dict(evald=_other_eval())),
    ("recalibration", lambda: dict(recal_batches=1)),
    ("recalibration", lambda: dict(momentum=None)),
    ("recalibration", lambda: dict(recal_loader=None)),
    ("recalibration", lambda: dict(recal_seed=1)),
    ("labelled inputs", lambda: dict(labelled=data(n=1, seed=SEED + 1))),
    ("designs", lambda: dict(plans={"mixed": {"3": "sysmt4", "6": "exact"}})),
]


@pytest.mark.parametrize("field,change", CHANGES, ids=[f"{f}-{i}" for i, (f, _) in enumerate(CHANGES)])
def test_a_different_run_is_refused(tmp_path, field: str, change: Callable[[], Dict[str, Any]]):
    path = tmp_path / "report.json"
    with pytest.raises(ckp.Unfinished):
        run(quantized(), path, stop_at=0.0)
    text = path.read_text()
    with pytest.raises(ckp.CheckpointMismatch) as e:
        run(quantized(), path, **change())
    print(e.value)
    assert field in e.value.differences and f"{field}: checkpoint" in str(e.value) and str(path) in str(e.value)
    assert path.read_text() == text, "the refused checkpoint is left as it was"


def test_other_weights_or_calibration_are_refused(tmp_path):
    path = tmp_path / "report.json"
    with pytest.raises(ckp.Unfinished):
        run(quantized(), path, stop_at=0.0)
    with pytest.raises(ckp.CheckpointMismatch, match="model") as e:
        run(_perturbed_weights(), path)
    assert e.value.differences == ["model"]
    other = tiny()
    st.quantize(other, data()[:2], batches=2, verbose=False, progress=False)  # same weights, another calibration
    with pytest.raises(ckp.CheckpointMismatch, match="model"):
        run(other, path)


def test_unreadable_checkpoints_and_bad_arguments(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("{ not json")
    with pytest.raises(ckp.CheckpointMismatch, match="not readable"):
        run(quantized(), path)
    path.write_text(json.dumps({"rows": []}))
    with pytest.raises(ckp.CheckpointMismatch, match="not an smtgen checkpoint"):
        run(quantized(), path)
    assert json.loads(path.read_text()) == {"rows": []}
    with pytest.raises(ValueError, match="stop_at needs checkpoint"):
        run(quantized(), None, stop_at=0.0)


def test_fingerprints_see_every_change():
    d = data()
    base = ckp.fingerprint_batches(d)
    assert ckp.fingerprint_batches(data()) == base
    assert ckp.fingerprint_batches(d[::-1]) != base
    assert ckp.fingerprint_batches(_other_eval()) != base
    assert ckp.fingerprint_batches([(x.double(), y) for x, y in d]) != base
    assert ckp.fingerprint_batches([x for x, _ in d]) != base, "labels count"
    m = quantized()
    fm = ckp.fingerprint_model(m)
    assert ckp.fingerprint_model(quantized()) == fm
    m[4].running_mean[0] += 1.0  # a BatchNorm statistic
    assert ckp.fingerprint_model(m) != fm
    m = quantized()
    st.quant_layers(m)[1].max_mean.fill_(float(st.quant_layers(m)[1].max_mean) * 1.001)
    assert ckp.fingerprint_model(m) != fm


def test_efficientnet_example_resumes_in_chunks(tmp_path):
    """run.py --max-seconds 0 stops after each step (exit 3: the plan search, the
    table's rows, the signed row) and --resume continues; the chunks' final table
    equals one uninterrupted run's, number for number."""
    run_py = ROOT / "examples" / "efficientnet_lite0" / "run.py"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    args = [sys.executable, str(run_py), "--n", "8", "--batch", "4", "--designs", "sysmt2", "--photos", "2",
            "--threads", "1", "--no-stats"]
    one = subprocess.run(args + ["--out", str(tmp_path / "one")], capture_output=True, text=True, env=env,
                         timeout=600)
    if one.returncode == 2 and "failed" in one.stderr:
        pytest.skip(f"the package registry is unreachable: {one.stderr.strip()[-300:]}")
    assert one.returncode == 0, one.stderr[-3000:]
    codes = []
    for chunk in range(12):
        r = subprocess.run(args + ["--out", str(tmp_path / "chunks"), "--max-seconds", "0"]
                           + (["--resume"] if chunk else []), capture_output=True, text=True, env=env, timeout=600)
        codes.append(r.returncode)
        if r.returncode != 3:
            break
        assert not (tmp_path / "chunks" / "results.md").exists(), "no table before every row is there"
    assert codes[-1] == 0 and set(codes[:-1]) == {3} and len(codes) >= 3, (codes, r.stderr[-3000:])
    for name in ("results.csv",):
        a = (tmp_path / "one" / name).read_text()
        b = (tmp_path / "chunks" / name).read_text()
        assert a == b, f"{name} differs:\n{a}\n{b}"
    md = (tmp_path / "chunks" / "results.md").read_text()
    assert f"the {len(codes)} chunks it was built in" in md
