"""smtgen.sweep: specs rejected with field, value and what is allowed; the same
result table on the serial loop, the process pool and a two-node local Ray
cluster; failing and killed jobs reported with their logs while the rest finish;
transient failures retried; an interrupted sweep resumes with only what is
missing, and a changed input re-runs only its jobs. Area jobs run Yosys through
the release binary (conftest's `cli` fixture)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml

from conftest import ROOT

import smtgen.sweep as sw

NETS = ROOT / "examples" / "sweep" / "nets.py"


def write_spec(tmp: Path, doc: Dict[str, Any], name: str = "spec.yaml") -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(doc))
    return p


def small(seed: int = 1) -> Dict[str, Any]:
    """Three designs and one a dense network cannot run (2:4 weights required),
    PE area, and the tiny network with and without BN recalibration."""
    return {
        "name": "small",
        "points": ["baseline", "sysmt2", "sysmt4+pe.rounding=truncate", "sparq-stc-4b5opt"],
        "sizes": ["2x2", "4x4"],
        "measure": {"area": {"array": False}, "network": {"recalibrate": [False, True]}},
        "networks": {"tiny": {"factory": f"{NETS}:tiny", "args": {"seed": seed}}},
        "seed": 3,
    }


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A local Ray cluster of two nodes with one CPU each."""
    try:
        import ray
        from ray.cluster_utils import Cluster
    except ImportError:
        pytest.fail("ray is not installed in this interpreter: `make pyenv-ray` installs it into .venv")

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield str(c.address)
    ray.shutdown()
    c.shutdown()


@pytest.fixture(autouse=True)
def _binary(cli: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMTGEN_BIN", str(cli))
    monkeypatch.setenv("SMTGEN_SWEEP_PROBE_DIR", str(tmp_path))


# -- spec validation ------------------------------------------------------------


@pytest.mark.parametrize(
    "change, field, value, allowed",
    [
        ({"colour": 1}, "colour", "(given)", "only the keys name, grid"),
        ({"points": ["sysmt9"]}, "points[0]", "'sysmt9'", "a valid design point"),
        ({"points": ["sysmt4+pe.rounding=sideways"]}, "points[0]", "sideways", "config error: pe.rounding = sideways: allowed"),
        ({"grid": {"presets": ["sysmt2"], "fields": {"pe.window_logic": ["edge", "corner"]}}}, "grid point",
         "sysmt2+pe.window_logic=corner", "config error: pe.window_logic = corner: allowed"),
        ({"grid": {"presets": ["nope"]}}, "grid.presets[0]", "'nope'", "one of baseline"),
        ({"sizes": ["4by4"]}, "sizes[0]", "'4by4'", "RxC with 1 <= R, C <= 128"),
        ({"sizes": ["0x4"]}, "sizes[0]", "'0x4'", "RxC with 1 <= R, C <= 128"),
        ({"measure": {"power": {}}}, "measure.power", "(given)", "only the measurements area, library"),
        ({"measure": {"area": {"array": "yes"}}}, "measure.area.array", "'yes'", "true or false"),
        ({"measure": {"area": {"arrays": True}}}, "measure.area.arrays", "(given)", "only the keys array"),
        ({"measure": {"library": {"library": "tsmc7"}}}, "measure.library.library", "'tsmc7'", "osu018"),
        ({"measure": {"regress": {"simulator": "vcs"}}}, "measure.regress.simulator", "'vcs'", "verilator, icarus or both"),
        ({"measure": {"network": {"recalibrate": "sometimes"}}, "networks": {"t": {"factory": f"{NETS}:tiny"}}},
         "measure.network.recalibrate", "'sometimes'", "true or false"),
        ({"measure": {"network": {}}, "networks": {"t": {"factory": "missing.py:f"}}}, "networks.t.factory",
         "'missing.py:f'", "an existing Python file"),
        ({"measure": {"network": {"predict": [{"method": "guess"}]}}, "networks": {"t": {"factory": f"{NETS}:tiny"}}},
         "measure.network.predict[0].method", "'guess'", "one of cross-neuron, zap, oracle"),
        ({"measure": {"network": {"predict": ["none", {"method": "cross-neuron", "mask": 11}]}},
          "networks": {"t": {"factory": f"{NETS}:tiny"}}},
         "measure.network.predict[1].mask", "11", "a mask type 0 ... 10"),
        ({"measure": {"network": {"predict": [{"method": "cross-neuron", "neighbourhood": 6}]}},
          "networks": {"t": {"factory": f"{NETS}:tiny"}}},
         "measure.network.predict[0].neighbourhood", "6", "4 or 8"),
        ({"measure": {"network": {"predict": [{"method": "cross-neuron", "k": 5}]}},
          "networks": {"t": {"factory": f"{NETS}:tiny"}}},
         "measure.network.predict[0].k", "5", "an integer 1 ... 4 (the neighbourhood)"),
        ({"measure": {"network": {"predict": [{"method": "zap", "mask": 4}]}}, "networks": {"t": {"factory": f"{NETS}:tiny"}}},
         "measure.network.predict[0].budget", "(missing)", "required for method zap"),
        ({"measure": {"network": {"predict": [{"method": "zap", "budget": -0.1}]}},
          "networks": {"t": {"factory": f"{NETS}:tiny"}}},
         "measure.network.predict[0].budget", "-0.1", "a summed lost activation mass >= 0"),
        ({"measure": {"network": {"predict": [{"method": "oracle", "threshold": 0.5}]}},
          "networks": {"t": {"factory": f"{NETS}:tiny"}}},
         "measure.network.predict[0].threshold", "(given)", "only the keys method, mask, layers"),
        ({"measure": {"network": {"predict": [{"method": "oracle", "layers": []}]}},
          "networks": {"t": {"factory": f"{NETS}:tiny"}}},
         "measure.network.predict[0].layers", "[]", "simulated (the chains whose conv is simulated), all"),
        ({"threads": 0}, "threads", "0", "an integer >= 1"),
        ({"retries": -1}, "retries", "-1", "an integer >= 0"),
    ],
)
def test_bad_specs_name_field_value_and_allowed(tmp_path: Path, change: Dict[str, Any], field: str, value: str,
                                                allowed: str) -> None:
    doc: Dict[str, Any] = {"points": ["sysmt2"], "measure": {"probe": {}}}
    doc.update(change)
    with pytest.raises(sw.SpecError) as e:
        sw.load_spec(write_spec(tmp_path, doc))
    msg = str(e.value)
    assert msg.startswith("spec error: "), msg
    assert field in msg and value in msg and allowed in msg, f"want {field!r}, {value!r}, {allowed!r} in: {msg}"


def test_missing_spec_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(sw.SpecError, match="SPEC = .*nope.yaml: allowed an existing YAML sweep spec file"):
        sw.load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("points: [sysmt2\n")
    with pytest.raises(sw.SpecError, match="allowed valid YAML"):
        sw.load_spec(bad)


def test_grid_expands_and_drops_points_that_configure_the_same_hardware(tmp_path: Path) -> None:
    spec = sw.load_spec(write_spec(tmp_path, {
        "grid": [{"presets": ["sysmt2", "sysmt4"], "fields": {"pe.rounding": ["nearest_even", "truncate"]}}],
        "points": ["sysmt2", "sysmt4+pe.rounding=truncate"], "measure": {"probe": {}},
    }))
    assert spec.points == ["sysmt2+pe.rounding=nearest_even", "sysmt2+pe.rounding=truncate",
                           "sysmt4+pe.rounding=nearest_even", "sysmt4+pe.rounding=truncate"], spec.points


# -- executors -------------------------------------------------------------------


def run(spec_path: Path, out: Path, executor: str, **kw: Any) -> sw.Outcome:
    return sw.run(sw.load_spec(spec_path), out, executor, progress=False, **kw)


def test_serial_pool_and_two_node_ray_give_the_same_table(tmp_path: Path, ray_cluster: str) -> None:
    spec = write_spec(tmp_path, small())
    tables = {}
    for ex in ("serial", "pool", "ray"):
        res = run(spec, tmp_path / ex, ex, ray_address=ray_cluster, workers=2)
        assert res.ran == res.planned == 4 + 4 * 2, (ex, res)
        rows = list(res.table.latest().values())
        failed = [r for r in rows if r["status"] != "ok"]
        # The 2:4 design on the dense network fails (twice: with and without BN
        # recalibration), with its log; everything else finishes.
        assert [(r["kind"], r["point"]) for r in failed] == [("network", "sparq-stc-4b5opt")] * 2, (ex, failed)
        for r in failed:
            log = (tmp_path / ex / r["log"]).read_text()
            assert "2:4" in log and "Traceback" in log, log
        tables[ex] = sw.comparable(rows)
    for ex in ("pool", "ray"):
        if tables[ex] != tables["serial"]:
            diff = set(tables[ex]) ^ set(tables["serial"])
            pytest.fail(f"{ex} table differs from serial in {len(diff)} rows, e.g. {sorted(diff)[:2]}")
    ok = [r for r in sw.Table(tmp_path / "serial").rows() if r["status"] == "ok"]
    net = [r for r in ok if r["kind"] == "network"]
    assert all(0 <= r["top1"] <= 100 and 0 <= r["agreement"] <= 100 for r in net)
    base = [r for r in net if r["point"] == "baseline"]
    assert base and all(r["agreement"] == 100.0 and r["logit_sqnr_db"] == float("inf") for r in base
                        if not r["recalibrate"]), base
    # Reports from the table: every candidate, the front, a chart.
    written = sw.write_reports(sw.load_spec(spec), sw.Table(tmp_path / "serial"))
    names = {p.name for p in written}
    assert {"candidates.csv", "pareto.csv", "pareto.md", "pareto.svg"} <= names, names
    front = (tmp_path / "serial" / "pareto.csv").read_text().splitlines()
    assert len(front) >= 2, front


PROBE = {
    "name": "probe",
    "points": ["baseline", "sysmt2", "sysmt4", "ideal2", "ideal4"],
    "measure": {"probe": {"points": {"sysmt2": "kill", "sysmt4": "flaky", "ideal2": "fail"}}},
    "retries": 1,
}


@pytest.mark.parametrize("executor", ["pool", "ray"])
def test_failed_and_killed_jobs_keep_logs_and_transient_ones_are_retried(tmp_path: Path, executor: str,
                                                                       ray_cluster: str) -> None:
    spec = write_spec(tmp_path, PROBE)
    res = run(spec, tmp_path / "out", executor, ray_address=ray_cluster, workers=2)
    rows = {r["point"]: r for r in res.table.latest().values()}
    assert res.ran == 5 and res.failed == 2, rows
    assert rows["baseline"]["status"] == rows["ideal4"]["status"] == "ok"
    assert rows["sysmt4"]["status"] == "ok", rows["sysmt4"]  # flaky: failed once, retried
    assert rows["ideal2"]["status"] == "failed" and "asked to fail" in rows["ideal2"]["error"]
    killed = rows["sysmt2"]
    assert killed["status"] == "failed", killed
    assert "killed" in killed["error"] or "Crashed" in killed["error"] or "died" in killed["error"], killed
    for p in ("sysmt2", "ideal2"):
        log = (tmp_path / "out" / rows[p]["log"]).read_text()
        assert log.strip() and f"probe {p}" in log, log


def test_serial_retries_a_transient_failure(tmp_path: Path) -> None:
    doc = dict(PROBE, points=["baseline", "sysmt4", "ideal2"],
               measure={"probe": {"points": {"sysmt4": "flaky", "ideal2": "fail"}}})
    res = run(write_spec(tmp_path, doc), tmp_path / "out", "serial")
    rows = {r["point"]: r for r in res.table.latest().values()}
    assert rows["sysmt4"]["status"] == "ok" and rows["sysmt4"]["attempts"] == 2, rows["sysmt4"]
    assert rows["ideal2"]["status"] == "failed" and rows["baseline"]["status"] == "ok"


def test_an_interrupted_sweep_resumes_and_a_changed_input_reruns_only_its_jobs(tmp_path: Path) -> None:
    doc = small()
    doc["points"] = ["baseline", "sysmt2"]
    doc["sizes"] = ["2x2"]
    doc["measure"]["network"]["recalibrate"] = [False]
    spec = write_spec(tmp_path, doc)
    out = tmp_path / "out"
    first = run(spec, out, "serial", limit=2)
    assert first.ran == 2
    ran_first = {r["key"] for r in first.table.rows()}
    second = run(spec, out, "pool", workers=2)
    assert second.planned == 4 and second.ran == 2, second
    ran_second = [r["key"] for r in second.table.rows()][2:]
    assert len(ran_second) == 2 and not set(ran_second) & ran_first
    assert run(spec, out, "serial").ran == 0
    # A new network seed changes the network's input hash: only network jobs re-run.
    doc["networks"]["tiny"]["args"]["seed"] = 2
    third = run(write_spec(tmp_path, doc), out, "serial")
    kinds = [r["kind"] for r in third.table.rows()[4:]]
    assert third.ran == 2 and kinds == ["network", "network"], kinds


def test_pareto_front_is_the_non_dominated_set() -> None:
    rows: List[Dict[str, Any]] = [
        {"network": "n", "recalibrate": False, "top1": 90.0, "area": 10.0},
        {"network": "n", "recalibrate": False, "top1": 80.0, "area": 5.0},
        {"network": "n", "recalibrate": False, "top1": 80.0, "area": 12.0},  # dominated by both
        {"network": "n", "recalibrate": False, "top1": 90.0, "area": 10.0},  # a tie: neither dominates
        {"network": "m", "recalibrate": False, "top1": 10.0, "area": 99.0},  # alone in its group
    ]
    assert sw.pareto_front(rows, [("top1", 1), ("area", -1)]) == [True, True, False, True, True]


# -- zero prediction in network jobs ---------------------------------------------

PREDICT = [
    "none",
    {"method": "cross-neuron", "mask": 5, "neighbourhood": 4, "k": 2},
    {"method": "zap", "mask": 5, "budget": 0.2, "epochs": 2, "train_batches": 2, "sweep_batches": 2},
    {"method": "oracle", "mask": 4},
]


def predicting(seed: int = 1) -> Dict[str, Any]:
    """Two designs of the tiny network, with and without BN recalibration, under no
    prediction, cross-neuron, ZAP (trained in the job) and the Oracle."""
    return {
        "name": "predict",
        "points": ["baseline", "sysmt2"],
        "measure": {"network": {"recalibrate": [False, True], "predict": PREDICT, "stats_batches": 1}},
        "networks": {"tiny": {"factory": f"{NETS}:tiny", "args": {"seed": seed}}},
        "seed": 5,
    }


def test_prediction_spec_is_canonical_and_in_the_key(tmp_path: Path) -> None:
    spec = sw.load_spec(write_spec(tmp_path, predicting()))
    jobs = sw.plan(spec)
    assert len(jobs) == 2 * 2 * len(PREDICT), len(jobs)
    assert len({j.key for j in jobs}) == len(jobs), "a prediction must be part of the job's key"
    # Two spellings of one prediction (defaults written out or not) are one job.
    doc = predicting()
    doc["measure"]["network"]["predict"] = [{"method": "cross-neuron", "k": 2},
                                            {"method": "cross-neuron", "mask": 5, "neighbourhood": 4, "k": 2,
                                             "layers": "simulated"}]
    spec2 = sw.load_spec(write_spec(tmp_path, doc, "spec2.yaml"))
    assert len(spec2.measure["network"]["predict"]) == 1, spec2.measure["network"]["predict"]
    cn = [j for j in jobs if j.predict and "cross-neuron" in j.predict]
    assert {j.key for j in sw.plan(spec2)} == {j.key for j in cn}
    assert [sw.predict_label(p) for p in spec.measure["network"]["predict"]] == ["none", "cn5/4/k2", "zap5@0.2",
                                                                                 "oracle4"]


def _strict_json(line: str) -> Dict[str, Any]:
    def no_constant(name: str) -> None:
        raise AssertionError(f"not JSON: {name} in {line[:200]}")

    out: Dict[str, Any] = json.loads(line, parse_constant=no_constant)
    return out


def test_prediction_jobs_are_the_same_bits_on_serial_and_two_node_ray(tmp_path: Path, ray_cluster: str) -> None:
    spec = write_spec(tmp_path, predicting())
    tables = {}
    for ex in ("serial", "ray"):
        res = run(spec, tmp_path / ex, ex, ray_address=ray_cluster, workers=2)
        rows = list(res.table.latest().values())
        bad = [(r["point"], r["predict"], r["error"]) for r in rows if r["status"] != "ok"]
        assert res.ran == 16 and not bad, (ex, bad)
        tables[ex] = sw.comparable(rows)
    if tables["ray"] != tables["serial"]:
        diff = sorted(set(tables["ray"]) ^ set(tables["serial"]))
        pytest.fail(f"ray table differs from serial in {len(diff)} rows, e.g. {diff[:2]}")
    rows = sw.Table(tmp_path / "serial").rows()
    by = {(r["point"], r["recalibrate"], sw.predict_label(r["predict"])): r for r in rows}
    for (point, rc, pr), r in by.items():
        if pr == "none":
            assert r["macs_saved_share"] is None and r["skipped_share"] is None, r
            continue
        assert r["predict_layers"] == 2, r  # features.3 and features.6: the simulated chains
        assert 0.0 <= r["skipped_share"] <= 1.0 and 0.0 <= r["mispredicted_share"] <= 1.0, r
        assert r["macs_computed_per_input"] == pytest.approx(
            r["macs_per_input"] - r["macs_saved_per_input"] + r["predictor_macs_per_input"]), r
        if pr.startswith("oracle"):
            # The ceiling: skips only zeros, so nothing is mispredicted and top-1 is unchanged.
            assert r["mispredicted"] == 0 and r["lost_mass_share"] == 0.0, r
            assert r["top1"] == by[(point, rc, "none")]["top1"], (r, by[(point, rc, "none")])
            assert r["skipped_share"] > 0, r
        if pr.startswith("zap"):
            assert r["predictor_macs_per_input"] > 0, r
        else:
            assert r["predictor_macs_per_input"] == 0 and r["macs_saved_share"] > 0, r
    # ZAP trained in the job: its log has the training and the operating point.
    z = by[("baseline", False, "zap5@0.2")]
    log = (tmp_path / "serial" / z["log"]).read_text()
    assert "training loss per epoch" in log and "operating point (budget 0.2)" in log, log
    # Valid JSON on every line (no Infinity); an exact match's SQNR reads back as inf,
    # and the CSV writes the same value as "inf".
    lines = (tmp_path / "serial" / "results.jsonl").read_text().splitlines()
    raw = [_strict_json(x) for x in lines]
    exact = [r for r in raw if r["point"] == "baseline" and not r["recalibrate"] and r["predict"] == "none"]
    assert exact and exact[0]["logit_sqnr_db"] == "inf", exact
    assert by[("baseline", False, "none")]["logit_sqnr_db"] == float("inf")
    with open(tmp_path / "serial" / "results.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    c = [r for r in csv_rows if r["key"] == exact[0]["key"]]
    assert c and c[0]["logit_sqnr_db"] == "inf" and float(c[0]["logit_sqnr_db"]) == float("inf"), c
    for r in raw:
        for L in json.loads(r["layers"] or "[]"):
            assert not isinstance(L.get("sqnr_db"), float) or math.isfinite(L["sqnr_db"]), L
    # Reports take the prediction as its own candidate.
    sw.write_reports(sw.load_spec(spec), sw.Table(tmp_path / "serial"))
    cand = (tmp_path / "serial" / "candidates.csv").read_text()
    assert "zap5@0.2" in cand and "cn5/4/k2" in cand, cand


def test_a_prediction_the_network_cannot_take_fails_with_its_reason(tmp_path: Path) -> None:
    doc = predicting()
    doc["points"] = ["baseline"]
    doc["measure"]["network"] = {"recalibrate": [False], "predict": [
        {"method": "cross-neuron", "layers": ["pool"]},
        {"method": "zap", "budget": 0.1, "train_batches": 4, "sweep_batches": 2},
    ]}
    res = run(write_spec(tmp_path, doc), tmp_path / "out", "serial")
    rows = {sw.predict_label(r["predict"]): r for r in res.table.latest().values()}
    assert rows["cn5/4/k1"]["status"] == "failed" and "'pool'" in rows["cn5/4/k1"]["error"], rows["cn5/4/k1"]
    z = rows["zap5@0.1"]
    assert z["status"] == "failed" and "6 recal batches" in z["error"] and "it gave 4" in z["error"], z
