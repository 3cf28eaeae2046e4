"""Design-space sweeps: a YAML spec of design points x array sizes x measurements x
networks, run as independent jobs on a serial loop, a local process pool or a Ray
cluster, with results appended to one table as they finish.

Command line (``smtgen sweep SPEC ...`` runs the same)::

    python -m smtgen.sweep SPEC [--out DIR] [--executor serial|pool|ray]
                                [--ray auto|ADDRESS] [--workers N] [--no-progress]
    python -m smtgen.sweep SPEC --report-only      # the reports from the table

Every job is keyed by its design point, kind, parameters, the hashes of its inputs
and smtgen's version; a job whose key is already in the table with status ``ok``
is not run again, so an interrupted sweep resumes where it stopped and a changed
input re-runs only the jobs that read it. Results are the same bits on every
executor: seeds are part of the job and every job runs with the same thread count.
See docs/sweep.md.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import io
import itertools
import json
import math
import os
import pickle
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import smtgen as _sm

__all__ = [
    "Job",
    "Spec",
    "SpecError",
    "TransientJobError",
    "Table",
    "load_spec",
    "parse_spec",
    "plan",
    "run",
    "run_job",
    "main",
    "pareto_front",
    "predict_label",
    "write_reports",
]

#: The measurements a spec may ask for, one job kind each.
KINDS = ("area", "library", "regress", "network", "probe")
#: The spec's top-level keys.
SPEC_KEYS = ("name", "grid", "points", "sizes", "measure", "networks", "seed", "threads", "retries", "timeout")
#: Each measurement's parameters and their defaults.
MEASURE_KEYS: Dict[str, Dict[str, Any]] = {
    "area": {"array": False},
    "library": {"library": "osu018", "layer": "16x64x16", "layer_zero": 0.5},
    "regress": {"cycles": 20000, "array": False, "simulator": "verilator"},
    "network": {"recalibrate": [False], "stats_batches": 1, "predict": ["none"]},
    "probe": {"default": "ok", "points": {}},
}
#: What the executor-test measurement ``probe`` may do per point.
PROBE_ACTIONS = ("ok", "fail", "kill", "flaky", "sleep")
NETWORK_KEYS = ("factory", "args", "inputs")
#: Zero-prediction methods a network job may apply (``measure.network.predict``), and
#: each one's keys with their defaults (``None``: required). See docs/sweep.md.
PREDICT_KEYS: Dict[str, Dict[str, Any]] = {
    "cross-neuron": {"mask": 5, "neighbourhood": 4, "k": 1, "layers": "simulated"},
    "zap": {"mask": 5, "budget": None, "epochs": 5, "lr": 0.01, "train_batches": 4, "sweep_batches": 2,
            "min_macs": 0, "layers": "simulated"},
    "oracle": {"mask": 5, "layers": "simulated"},
}
EXECUTORS = ("serial", "pool", "ray")

#: The table's columns: identity, outcome, then every metric any job kind reports.
ID_COLUMNS = ["key", "kind", "point", "rows", "cols", "network", "recalibrate", "predict", "seed"]
RUN_COLUMNS = ["status", "attempts", "seconds", "host", "error", "log"]
METRICS = [
    "pe_ge", "array_ge", "depth",
    "pe_um2", "array_um2", "crit_ps", "fmax_mhz", "power_mw", "pj_per_mac",
    "regress_cycles",
    "top1", "top1_exact", "agreement", "logit_sqnr_db", "mean_layer_sqnr_db", "min_layer_sqnr_db",
    "macs_per_input", "layers",
    "predict_layers", "skipped_share", "zero_share", "macs_saved_share", "macs_saved_per_input",
    "predictor_macs_per_input", "macs_computed_per_input", "network_macs_per_input", "mispredicted",
    "mispredicted_share", "lost_mass_share",
    "probe",
]
#: Columns that are not numbers (never restored from the strings non-finite numbers are written as).
TEXT_COLUMNS = ("key", "kind", "point", "network", "predict", "status", "host", "error", "log", "layers", "probe")
#: Columns that depend on where and when a job ran, not on what it computed.
VOLATILE = ("seconds", "host", "log", "attempts")


class SpecError(ValueError):
    """An invalid sweep spec: names the field, the value and what is allowed."""

    def __init__(self, field_name: str, value: object, allowed: str):
        super().__init__(f"spec error: {field_name} = {value}: allowed {allowed}")
        self.field = field_name
        self.value = value
        self.allowed = allowed


class TransientJobError(RuntimeError):
    """A failure worth retrying (a worker killed, a tool killed by a signal): every
    executor retries it up to the spec's ``retries``."""


# --------------------------------------------------------------------------------
# The spec


@dataclass
class NetworkSpec:
    """A network and its data: ``factory`` (``FILE.py:function``, relative to the
    spec) returns a dict with ``model`` (a trained float ``torch.nn.Module``),
    ``calib`` (batches for calibration), ``test`` (``(x, y)`` batches) and
    optionally ``recal`` (batches for BatchNorm recalibration); ``args`` are passed
    to it; ``inputs`` are further files it reads (weights), hashed into the key."""

    name: str
    path: Path
    function: str
    args: Dict[str, Any]
    inputs: List[Path]


@dataclass
class Spec:
    """A validated sweep spec."""

    name: str
    points: List[str]
    sizes: List[Tuple[int, int]]
    measure: Dict[str, Dict[str, Any]]
    networks: List[NetworkSpec]
    seed: int
    threads: int
    retries: int
    timeout: float
    source: Optional[Path] = None



def _sizes_or_none(sizes: Sequence[Tuple[int, int]], array: bool) -> List[Optional[Tuple[int, int]]]:
    """The array sizes a job runs at, or one PE-only run (``None``)."""
    return list(sizes) if array else [None]

def _yaml() -> Any:
    try:
        import yaml
    except ImportError as e:  # pragma: no cover - environment
        raise RuntimeError("smtgen.sweep needs PyYAML (Debian: apt-get install python3-yaml)") from e
    return yaml


def load_spec(path: os.PathLike[str] | str) -> Spec:
    """Reads and validates a YAML sweep spec (see :func:`parse_spec`)."""
    p = Path(path)
    if not p.is_file():
        raise SpecError("SPEC", str(p), "an existing YAML sweep spec file")
    yaml = _yaml()
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise SpecError("SPEC", str(p), f"valid YAML ({str(e).splitlines()[0]})") from e
    spec = parse_spec(raw, p.parent)
    spec.source = p
    return spec


def _int(v: object, name: str, lo: int, allowed: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise SpecError(name, repr(v), allowed)
    return v


def _bool(v: object, name: str) -> bool:
    if not isinstance(v, bool):
        raise SpecError(name, repr(v), "true or false")
    return v


def _size(v: object, name: str) -> Tuple[int, int]:
    bad = SpecError(name, repr(v), "RxC with 1 <= R, C <= 128, e.g. 4x4")
    if not isinstance(v, str) or "x" not in v:
        raise bad
    r, c = v.split("x", 1)
    if not (r.isdigit() and c.isdigit()) or not (1 <= int(r) <= 128 and 1 <= int(c) <= 128):
        raise bad
    return int(r), int(c)


def _keys(m: object, name: str, allowed: Sequence[str]) -> Dict[str, Any]:
    if not isinstance(m, dict):
        raise SpecError(name, repr(m), f"a mapping with keys {', '.join(allowed)}")
    for k in m:
        if k not in allowed:
            raise SpecError(f"{name}.{k}" if name else str(k), "(given)", f"only the keys {', '.join(allowed)}")
    return m


def _point(p: str, where: str) -> str:
    """A design point checked by the extension: its error is the config's own."""
    try:
        _sm.describe(p)
    except ValueError as e:
        raise SpecError(where, repr(p), f"a valid design point ({e})") from e
    return p


def _canonical(p: str) -> str:
    """A design point's full configuration (YAML) without its name: two points
    that configure the same hardware have the same canonical form."""
    y = str(_sm.describe(p)["yaml"])
    return "\n".join(line for line in y.splitlines() if not line.startswith("name:"))


def _grid_points(g: object, where: str) -> List[str]:
    if isinstance(g, list):
        return [p for i, x in enumerate(g) for p in _grid_points(x, f"{where}[{i}]")]
    m = _keys(g, where, ("presets", "fields"))
    presets = m.get("presets")
    names = _sm.designs()
    if not isinstance(presets, list) or not presets:
        raise SpecError(f"{where}.presets", repr(presets), f"a non-empty list of presets ({', '.join(names)})")
    for i, p in enumerate(presets):
        if p not in names:
            raise SpecError(f"{where}.presets[{i}]", repr(p), f"one of {', '.join(names)}")
    fields = m.get("fields", {}) or {}
    if not isinstance(fields, dict):
        raise SpecError(f"{where}.fields", repr(fields), "a mapping from config field to a list of values")
    axes: List[List[str]] = []
    for f, vals in fields.items():
        if not isinstance(vals, list) or not vals:
            raise SpecError(f"{where}.fields.{f}", repr(vals), "a non-empty list of values")
        for v in vals:
            if isinstance(v, (dict, list)) or v is None:
                raise SpecError(f"{where}.fields.{f}", repr(v), "a string, number or boolean")
        axes.append([f"{f}={str(v).lower() if isinstance(v, bool) else v}" for v in vals])
    out = []
    for p in presets:
        for combo in itertools.product(*axes):
            point = "+".join([p, *combo])
            out.append(_point(point, f"{where} point"))
    return out


def parse_spec(raw: object, base: Path = Path(".")) -> Spec:
    """Validates a spec already read from YAML. Design points (``grid`` and
    ``points``) are checked by smtgen's own config parser, so a bad field or value
    is reported as the config reports it; the spec's own keys as
    ``spec error: FIELD = VALUE: allowed ...``. Points that configure the same
    hardware are kept once (the first name)."""
    m = _keys(raw, "", SPEC_KEYS)
    name = m.get("name", "sweep")
    if not isinstance(name, str) or not name:
        raise SpecError("name", repr(name), "a non-empty string")
    points: List[str] = []
    if "grid" in m:
        points += _grid_points(m["grid"], "grid")
    extra = m.get("points", []) or []
    if not isinstance(extra, list):
        raise SpecError("points", repr(extra), "a list of PRESET[+key=value...] design points")
    for i, p in enumerate(extra):
        if not isinstance(p, str):
            raise SpecError(f"points[{i}]", repr(p), "a PRESET[+key=value...] string")
        points.append(_point(p, f"points[{i}]"))
    if not points:
        raise SpecError("grid/points", "(none)", "at least one design point")
    seen: Dict[str, str] = {}
    unique = []
    for p in points:
        c = _canonical(p)
        if c not in seen:
            seen[c] = p
            unique.append(p)
    sizes_raw = m.get("sizes", ["4x4"])
    if not isinstance(sizes_raw, list) or not sizes_raw:
        raise SpecError("sizes", repr(sizes_raw), "a non-empty list of RxC array sizes")
    sizes = list(dict.fromkeys(_size(s, f"sizes[{i}]") for i, s in enumerate(sizes_raw)))
    meas_raw = m.get("measure")
    if not isinstance(meas_raw, dict) or not meas_raw:
        raise SpecError("measure", repr(meas_raw), f"a mapping with one or more of {', '.join(KINDS)}")
    measure: Dict[str, Dict[str, Any]] = {}
    for kind, params in meas_raw.items():
        if kind not in KINDS:
            raise SpecError(f"measure.{kind}", "(given)", f"only the measurements {', '.join(KINDS)}")
        params = {} if params is None or params is True else params
        given = _keys(params, f"measure.{kind}", tuple(MEASURE_KEYS[kind]))
        measure[kind] = {**MEASURE_KEYS[kind], **given}
    _check_measure(measure)
    nets_raw = m.get("networks", {}) or {}
    if not isinstance(nets_raw, dict):
        raise SpecError("networks", repr(nets_raw), "a mapping from network name to {factory, args, inputs}")
    networks = [_network(n, v, base) for n, v in nets_raw.items()]
    if "network" in measure and not networks:
        raise SpecError("networks", "(none)", "at least one network when measure has network")
    if networks and "network" not in measure:
        raise SpecError("measure.network", "(missing)", "given when networks are")
    if "probe" in measure:
        for p in measure["probe"]["points"]:
            if p not in unique:
                raise SpecError(f"measure.probe.points.{p}", "(given)", f"one of the sweep's points ({', '.join(unique)})")
    return Spec(
        name=name,
        points=unique,
        sizes=sizes,
        measure=measure,
        networks=networks,
        seed=_int(m.get("seed", 1), "seed", 0, "an integer >= 0"),
        threads=_int(m.get("threads", 1), "threads", 1, "an integer >= 1 (threads per job)"),
        retries=_int(m.get("retries", 2), "retries", 0, "an integer >= 0"),
        timeout=float(_int(m.get("timeout", 7200), "timeout", 1, "seconds per job, an integer >= 1")),
    )


def _check_measure(measure: Dict[str, Dict[str, Any]]) -> None:
    if "area" in measure:
        _bool(measure["area"]["array"], "measure.area.array")
    if "library" in measure:
        lib = measure["library"]
        if lib["library"] != "osu018":
            raise SpecError("measure.library.library", repr(lib["library"]), "osu018")
        lay = lib["layer"]
        parts = lay.split("x") if isinstance(lay, str) else []
        if len(parts) != 3 or not all(x.isdigit() and int(x) > 0 for x in parts):
            raise SpecError("measure.library.layer", repr(lay), "MxKxN, e.g. 16x64x16")
        z = lib["layer_zero"]
        if isinstance(z, bool) or not isinstance(z, (int, float)) or not 0.0 <= float(z) <= 1.0:
            raise SpecError("measure.library.layer_zero", repr(z), "a fraction in 0..1")
    if "regress" in measure:
        r = measure["regress"]
        _int(r["cycles"], "measure.regress.cycles", 1, "an integer >= 1")
        _bool(r["array"], "measure.regress.array")
        if r["simulator"] not in ("verilator", "icarus", "both"):
            raise SpecError("measure.regress.simulator", repr(r["simulator"]), "verilator, icarus or both")
    if "network" in measure:
        n = measure["network"]
        rec = n["recalibrate"]
        rec = rec if isinstance(rec, list) else [rec]
        if not rec:
            raise SpecError("measure.network.recalibrate", "[]", "true, false or a list of them")
        n["recalibrate"] = [_bool(x, "measure.network.recalibrate") for x in rec]
        _int(n["stats_batches"], "measure.network.stats_batches", 0, "an integer >= 0")
        pred = n["predict"]
        pred = pred if isinstance(pred, list) else [pred]
        if not pred:
            raise SpecError("measure.network.predict", "[]", "none, a prediction mapping or a list of them")
        n["predict"] = list(dict.fromkeys(_predict(x, f"measure.network.predict[{i}]") for i, x in enumerate(pred)))
    if "probe" in measure:
        pr = measure["probe"]
        if not isinstance(pr["points"], dict):
            raise SpecError("measure.probe.points", repr(pr["points"]), "a mapping from point to action")
        for where, act in [("measure.probe.default", pr["default"])] + [
            (f"measure.probe.points.{k}", v) for k, v in pr["points"].items()
        ]:
            if not isinstance(act, str) or act.split(":")[0] not in PROBE_ACTIONS:
                raise SpecError(where, repr(act), f"one of {', '.join(PROBE_ACTIONS)} (sleep:SECONDS)")


def _number(v: object, name: str, allowed: str, lo: float, hi: float = math.inf, open_lo: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise SpecError(name, repr(v), allowed)
    f = float(v)
    if f < lo or (open_lo and f == lo) or f > hi:
        raise SpecError(name, repr(v), allowed)
    return f


def _predict(v: object, where: str) -> str:
    """A ``measure.network.predict`` entry checked and made canonical: ``"none"`` or
    a JSON object with every key of its method (defaults filled in, sorted), so that
    two spellings of one prediction share a job key."""
    if v is None or v == "none":
        return "none"
    if not isinstance(v, dict):
        raise SpecError(where, repr(v), f"none or a mapping with method ({', '.join(PREDICT_KEYS)})")
    method = v.get("method")
    if method not in PREDICT_KEYS:
        raise SpecError(f"{where}.method", repr(method), f"one of {', '.join(PREDICT_KEYS)}")
    keys = PREDICT_KEYS[str(method)]
    _keys(v, where, ("method", *keys))
    out: Dict[str, Any] = {"method": method}
    for k, default in keys.items():
        if k not in v and default is None:
            raise SpecError(f"{where}.{k}", "(missing)", f"required for method {method}")
        out[k] = v.get(k, default)
    mask = out["mask"]
    if isinstance(mask, bool) or not isinstance(mask, int) or not 0 <= mask <= 10:
        raise SpecError(f"{where}.mask", repr(mask), "a mask type 0 ... 10 (5 = checkerboard; docs/zap.md)")
    layers = out["layers"]
    if not (layers in ("simulated", "all") or (isinstance(layers, list) and layers
                                                and all(isinstance(x, str) and x for x in layers))):
        raise SpecError(f"{where}.layers", repr(layers),
                        "simulated (the chains whose conv is simulated), all (every conv -> BN -> ReLU chain) "
                        "or a non-empty list of conv layer names")
    if method == "cross-neuron":
        nb = out["neighbourhood"]
        if isinstance(nb, bool) or nb not in (4, 8):
            raise SpecError(f"{where}.neighbourhood", repr(nb), "4 or 8")
        k = out["k"]
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= nb:
            raise SpecError(f"{where}.k", repr(k), f"an integer 1 ... {nb} (the neighbourhood)")
    if method == "zap":
        out["budget"] = _number(out["budget"], f"{where}.budget", "a summed lost activation mass >= 0", 0.0)
        out["lr"] = _number(out["lr"], f"{where}.lr", "a learning rate > 0", 0.0, open_lo=True)
        _int(out["epochs"], f"{where}.epochs", 1, "an integer >= 1")
        _int(out["train_batches"], f"{where}.train_batches", 1, "an integer >= 1 (recal batches that train)")
        _int(out["sweep_batches"], f"{where}.sweep_batches", 1,
             "an integer >= 1 (further recal batches for the threshold sweep)")
        _int(out["min_macs"], f"{where}.min_macs", 0, "an integer >= 0 (MACs per output a layer needs for ZAP)")
    return json.dumps(out, sort_keys=True)


def predict_label(p: str) -> str:
    """A short human name of a canonical prediction: ``none``, ``cn5/4/k3``,
    ``zap5@0.1``, ``oracle5``."""
    if p == "none":
        return p
    d = json.loads(p)
    if d["method"] == "cross-neuron":
        return f"cn{d['mask']}/{d['neighbourhood']}/k{d['k']}"
    if d["method"] == "zap":
        return f"zap{d['mask']}@{d['budget']:g}"
    return f"oracle{d['mask']}"


def _network(name: object, v: object, base: Path) -> NetworkSpec:
    where = f"networks.{name}"
    m = _keys(v, where, NETWORK_KEYS)
    fac = m.get("factory")
    if not isinstance(fac, str) or ":" not in fac:
        raise SpecError(f"{where}.factory", repr(fac), "FILE.py:function (relative to the spec)")
    file, fn = fac.rsplit(":", 1)
    path = (base / file).resolve()
    if not path.is_file():
        raise SpecError(f"{where}.factory", repr(fac), f"an existing Python file ({path} not found)")
    args = m.get("args", {}) or {}
    if not isinstance(args, dict):
        raise SpecError(f"{where}.args", repr(args), "a mapping of keyword arguments")
    inputs = m.get("inputs", []) or []
    if not isinstance(inputs, list):
        raise SpecError(f"{where}.inputs", repr(inputs), "a list of files")
    paths = []
    for i, f in enumerate(inputs):
        p = (base / str(f)).resolve()
        if not p.is_file():
            raise SpecError(f"{where}.inputs[{i}]", repr(f), "an existing file")
        paths.append(p)
    return NetworkSpec(str(name), path, fn, args, paths)


# --------------------------------------------------------------------------------
# Jobs


@dataclass
class Job:
    """One independent unit of work: what to measure on which design point. Its
    ``key`` hashes everything its result depends on."""

    key: str
    kind: str
    point: str
    rows: Optional[int]
    cols: Optional[int]
    network: Optional[str]
    recalibrate: Optional[bool]
    seed: int
    params: Dict[str, Any]
    threads: int
    retries: int
    timeout: float
    #: Name of the shared read-only input (a network bundle) the job reads, if any.
    shared: Optional[str] = None
    #: A network job's zero prediction (``"none"`` or the canonical JSON of
    #: :func:`_predict`); ``None`` for other kinds.
    predict: Optional[str] = None
    #: Environment the job runs with wherever it lands (the binary's path, the
    #: probe's directory); not part of the key.
    env: Dict[str, str] = field(default_factory=dict)

    def label(self) -> str:
        """A short human name for logs and the progress bar."""
        size = f" {self.rows}x{self.cols}" if self.rows else ""
        net = f" {self.network}{' +recal' if self.recalibrate else ''}" if self.network else ""
        if self.predict and self.predict != "none":
            net += f" +{predict_label(self.predict)}"
        return f"{self.kind} {self.point}{size}{net}"

    def ident(self) -> Dict[str, Any]:
        """The identity columns of the job's table row."""
        return {
            "key": self.key, "kind": self.kind, "point": self.point, "rows": self.rows, "cols": self.cols,
            "network": self.network, "recalibrate": self.recalibrate, "predict": self.predict, "seed": self.seed,
        }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def smtgen_binary() -> Path:
    """The ``smtgen`` binary HDL jobs run: ``$SMTGEN_BIN``, else the repository's
    ``target/release/smtgen`` (when this package runs from a checkout's venv), else
    ``smtgen`` on ``PATH``."""
    env = os.environ.get("SMTGEN_BIN")
    if env:
        return Path(env)
    for root in (Path.cwd(), Path(sys.prefix).parent):
        cand = root / "target" / "release" / "smtgen"
        if cand.is_file():
            return cand
    found = shutil.which("smtgen")
    if found:
        return Path(found)
    raise FileNotFoundError(
        "no smtgen binary: set SMTGEN_BIN, build target/release/smtgen (cargo build --release) or put smtgen on PATH"
    )


def _versions(hdl: bool) -> Dict[str, str]:
    """What every key carries: the package version, the extension's hash (the
    numerics) and, for HDL jobs, the binary's version and hash (templates, flows)."""
    v = {"package": str(getattr(_sm, "__version__", "?")), "extension": _file_sha(Path(_sm._smtgen.__file__))}
    if hdl:
        b = smtgen_binary()
        out = subprocess.run([str(b), "--version"], capture_output=True, text=True, check=False)
        v["binary"] = out.stdout.strip() or f"(smtgen --version failed: {out.stderr.strip()})"
        v["binary_sha"] = _file_sha(b)
    return v


def _key(parts: Mapping[str, Any]) -> str:
    return _sha(json.dumps(parts, sort_keys=True, default=str).encode())[:20]


def _network_hash(n: NetworkSpec) -> str:
    import torch

    parts = {
        "factory": _file_sha(n.path), "function": n.function, "args": n.args,
        "inputs": {str(p): _file_sha(p) for p in n.inputs}, "torch": torch.__version__,
    }
    return _key(parts)


def plan(spec: Spec) -> List[Job]:
    """Every job the spec asks for, in a fixed order, each with its key. Jobs
    whose result does not depend on the array size (PE-only area or regression,
    networks) are made once per point."""
    jobs: List[Job] = []
    hdl = any(k in spec.measure for k in ("area", "library", "regress"))
    versions = _versions(hdl)
    common = dict(seed=spec.seed, threads=spec.threads, retries=spec.retries, timeout=spec.timeout)

    def add(kind: str, point: str, size: Optional[Tuple[int, int]], params: Dict[str, Any],
            network: Optional[str] = None, recal: Optional[bool] = None, inputs: Any = None,
            shared: Optional[str] = None, predict: Optional[str] = None) -> None:
        cfg = point if size is None else f"{point}+array.rows={size[0]}+array.cols={size[1]}"
        key = _key({
            "kind": kind, "config": _canonical(cfg), "params": params, "network": network, "recal": recal,
            "inputs": inputs, "seed": spec.seed, "threads": spec.threads, "versions": versions,
            **({"predict": predict} if predict not in (None, "none") else {}),
        })
        jobs.append(Job(key=key, kind=kind, point=point, rows=size[0] if size else None,
                        cols=size[1] if size else None, network=network, recalibrate=recal,
                        params=params, shared=shared, predict=predict, **common))  # type: ignore[arg-type]

    for point in spec.points:
        if "area" in spec.measure:
            p = spec.measure["area"]
            for size in _sizes_or_none(spec.sizes, bool(p["array"])):
                add("area", point, size, p)
        if "library" in spec.measure:
            for size in spec.sizes:
                add("library", point, size, spec.measure["library"])
        if "regress" in spec.measure:
            p = spec.measure["regress"]
            for size in _sizes_or_none(spec.sizes, bool(p["array"])):
                add("regress", point, size, p)
        if "network" in spec.measure:
            p = spec.measure["network"]
            for net in spec.networks:
                h = _network_hash(net)
                for recal in p["recalibrate"]:
                    for pred in p["predict"]:
                        add("network", point, None, {"stats_batches": p["stats_batches"]}, net.name, recal, h,
                            net.name, pred)
        if "probe" in spec.measure:
            pr = spec.measure["probe"]
            add("probe", point, None, {"action": pr["points"].get(point, pr["default"])})
    return jobs


# --------------------------------------------------------------------------------
# Running one job (the same function on every executor)


def _set_threads(n: int) -> None:
    """Caps the job's threads: smtgen's engine (rayon reads RAYON_NUM_THREADS when
    its pool starts) and torch's intra-op pool, so results do not depend on the
    executor and tasks do not oversubscribe a node."""
    os.environ["RAYON_NUM_THREADS"] = str(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
    if "torch" in sys.modules:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)


def _tool(cmd: List[str], log: io.StringIO, timeout: float, cwd: Optional[str] = None) -> None:
    """Runs a tool, its output into ``log``; a signal death is transient, any other
    failure is the job's."""
    log.write("$ " + " ".join(cmd) + "\n")
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        log.write(out)
        raise RuntimeError(f"{cmd[1]} timed out after {timeout:.0f} s") from e
    log.write(p.stdout)
    if p.returncode < 0:
        raise TransientJobError(f"{cmd[0]} {cmd[1]} killed by signal {-p.returncode}")
    if p.returncode != 0:
        last = [line for line in p.stdout.splitlines() if line.strip()][-1:] or ["(no output)"]
        raise RuntimeError(f"smtgen {cmd[1]} exited with {p.returncode}: {last[0]}")


def _csv_row(path: Path) -> Dict[str, str]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != 1:
        raise RuntimeError(f"{path}: expected one design row, found {len(rows)}")
    return rows[0]


def _num(row: Mapping[str, str], col: str) -> Optional[float]:
    v = row.get(col)
    if v is None or v in ("", "-"):
        return None
    return float(v)


def _job_area(job: Job, log: io.StringIO) -> Dict[str, Any]:
    b = str(smtgen_binary())
    with tempfile.TemporaryDirectory(prefix="smtgen-sweep-") as d:
        cmd = [b, "compare", "--presets", job.point, "--baseline", job.point, "--out", d, "--jobs", str(job.threads)]
        if job.rows:
            cmd += ["--rows", str(job.rows), "--cols", str(job.cols)]
        else:
            cmd += ["--pe-only"]
        _tool(cmd, log, job.timeout)
        row = _csv_row(Path(d) / "compare.csv")
    return {"pe_ge": _num(row, "PE GE"), "array_ge": _num(row, "array GE"), "depth": _num(row, "depth")}


def _job_library(job: Job, log: io.StringIO) -> Dict[str, Any]:
    b = str(smtgen_binary())
    p = job.params
    with tempfile.TemporaryDirectory(prefix="smtgen-sweep-") as d:
        cmd = [b, "compare", "--library", str(p["library"]), "--presets", job.point, "--baseline", job.point,
               "--rows", str(job.rows), "--cols", str(job.cols), "--out", d, "--jobs", str(job.threads),
               "--layer", str(p["layer"]), "--layer-zero", str(p["layer_zero"]), "--layer-seed", str(job.seed)]
        _tool(cmd, log, job.timeout)
        row = _csv_row(Path(d) / "compare.csv")
    crit = _num(row, "array crit ps")
    return {
        "pe_um2": _num(row, "PE um2"), "array_um2": _num(row, "array um2"), "crit_ps": crit,
        # The array's clock: its own critical path (the table's fmax is the PE's).
        "fmax_mhz": 1e6 / crit if crit else None, "power_mw": _num(row, "power mW"),
        "pj_per_mac": _num(row, "pJ/MAC"),
    }


def _job_regress(job: Job, log: io.StringIO) -> Dict[str, Any]:
    b = str(smtgen_binary())
    p = job.params
    cmd = [b, "sim", "--preset", job.point, "--cycles", str(p["cycles"]), "--seed", str(job.seed),
           "--simulator", str(p["simulator"]), "--jobs", str(job.threads)]
    if job.rows:
        cmd += ["--array", "--rows", str(job.rows), "--cols", str(job.cols)]
    _tool(cmd, log, job.timeout)
    return {"regress_cycles": p["cycles"]}


def _job_probe(job: Job, log: io.StringIO) -> Dict[str, Any]:
    """The executors' self-test: ``ok``, ``fail`` (a job error), ``kill`` (the
    worker dies by SIGKILL), ``flaky`` (a transient error on the first attempt,
    remembered in ``$SMTGEN_SWEEP_PROBE_DIR``), ``sleep:S``."""
    action = str(job.params["action"])
    log.write(f"probe {job.point}: {action}\n")
    if action == "fail":
        raise RuntimeError(f"probe {job.point}: asked to fail")
    if action == "kill":
        log.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "flaky":
        d = Path(os.environ.get("SMTGEN_SWEEP_PROBE_DIR", tempfile.gettempdir()))
        marker = d / f"smtgen-probe-{job.key}"
        if not marker.exists():
            marker.write_text("failed once\n")
            raise TransientJobError(f"probe {job.point}: transient failure (first attempt)")
    if action.startswith("sleep"):
        time.sleep(float(action.split(":", 1)[1]) if ":" in action else 0.5)
    return {"probe": _sha(job.key.encode())[:8]}


# -- networks ---------------------------------------------------------------------


def _load_factory(net: NetworkSpec) -> ModuleType:
    """Imports the network's factory file under a stable module name, so a pickled
    model refers to classes every worker can import the same way."""
    name = "smtgen_sweep_net_" + _sha(str(net.path).encode())[:10]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, net.path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {net.path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    sys.path.insert(0, str(net.path.parent))
    spec.loader.exec_module(mod)
    return mod


def prepare_network(net: NetworkSpec, threads: int) -> bytes:
    """The network's shared read-only input, built once per sweep in the driver:
    the model quantized and calibrated the reference way, the test and recalibration
    batches, and the exact int8 model's logits. Returned pickled (the bytes every
    executor ships: Ray's object store holds them once)."""
    import torch

    import smtgen.torch as st

    _set_threads(threads)
    fac = getattr(_load_factory(net), net.function, None)
    if fac is None:
        raise SpecError(f"networks.{net.name}.factory", f"{net.path.name}:{net.function}", "a function defined in that file")
    made = fac(**net.args)
    if not isinstance(made, dict) or not {"model", "calib", "test"} <= set(made):
        raise TypeError(f"{net.path.name}:{net.function} must return a dict with model, calib, test (and recal)")
    model = made["model"]
    st.quantize(model, made["calib"], batches=int(made.get("calib_batches", 17)), progress=False, verbose=False)
    test = [(x.detach().clone(), y.detach().clone()) for x, y in made["test"]]
    recal = made.get("recal")
    nrecal = int(made.get("recal_batches", 17))
    recal_b = None
    if recal is not None:
        recal_b = [st._inputs(b).detach().clone() for b in itertools.islice(recal, nrecal)]  # type: ignore[no-untyped-call]
    st.simulate(model, "exact")
    model.eval()
    with torch.no_grad():
        exact = torch.cat([model(x) for x, _ in test])
    payload = {"model": model, "test": test, "recal": recal_b, "exact_logits": exact}
    return pickle.dumps((str(net.path), net.function, payload), protocol=pickle.HIGHEST_PROTOCOL)


def _job_network(job: Job, log: io.StringIO, bundle: bytes, factory: Tuple[str, str]) -> Dict[str, Any]:
    import torch
    import torch.nn as nn

    import smtgen.torch as st

    _set_threads(job.threads)  # torch is imported now, wherever the job landed
    _load_factory(NetworkSpec(str(job.network), Path(factory[0]), factory[1], {}, []))
    payload = pickle.loads(bundle)[2]
    model: nn.Module = payload["model"]
    test = payload["test"]
    torch.manual_seed(job.seed)
    st.simulate(model, job.point)
    skipper = _attach_prediction(job, model, payload, test[0][0][:1], log)
    if job.recalibrate:
        if payload["recal"] is None:
            raise RuntimeError(f"network {job.network}: its factory gave no recal batches")
        # With prediction the BN pass runs with the predictors on (as in the ZAP paper).
        st.recalibrate_bn(model, payload["recal"], batches=len(payload["recal"]), progress=False)
    model.eval()
    if skipper is not None:
        skipper.reset_stats()
    shapes: Dict[str, Tuple[int, int, int]] = {}

    def hook(mod: nn.Module, inp: Tuple[Any, ...], out: Any) -> None:
        q: Any = mod
        x = inp[0]
        w = q.layer.weight
        if q.kind == "conv":
            m = int(out.shape[2] * out.shape[3])
            shapes[q.name] = (m, int(w.shape[1] * w.shape[2] * w.shape[3]), int(w.shape[0]))
        else:
            m = int(x.numel() // x.shape[0] // x.shape[-1])
            shapes[q.name] = (m, int(w.shape[1]), int(w.shape[0]))

    handles = [q.register_forward_hook(hook) for q in st.quant_layers(model)]
    correct = total = 0
    logits = []
    with torch.no_grad():
        for i, (x, y) in enumerate(test):
            out = model(x)
            if i == 0:
                for h in handles:
                    h.remove()
            logits.append(out)
            correct += int((out.argmax(dim=1) == y).sum())
            total += int(y.numel())
    pred_metrics = _prediction_metrics(skipper, model, shapes, log) if skipper is not None else {}
    lg = torch.cat(logits).to(torch.float64)
    ex = payload["exact_logits"].to(torch.float64)
    labels = torch.cat([y for _, y in test])
    err = float((lg - ex).pow(2).sum())
    ref = float(ex.pow(2).sum())
    stats = []
    if job.params["stats_batches"] > 0:
        stats = st.layer_stats(model, test, batches=int(job.params["stats_batches"]))
    sq = [s["sqnr_db"] for s in stats if s["sqnr_db"] is not None]
    finite = [v for v in sq if math.isfinite(v)]
    layers = [
        {"layer": n, "m": s[0], "k": s[1], "n": s[2],
         "sqnr_db": next((x["sqnr_db"] for x in stats if x["layer"] == n), None)}
        for n, s in shapes.items()
    ]
    log.write(f"{len(test)} batches, {total} inputs: top-1 {100.0 * correct / max(total, 1):.2f} %\n")
    return pred_metrics | {
        "top1": 100.0 * correct / max(total, 1),
        "top1_exact": 100.0 * float((ex.argmax(dim=1) == labels).sum()) / max(total, 1),
        "agreement": 100.0 * float((lg.argmax(dim=1) == ex.argmax(dim=1)).sum()) / max(total, 1),
        "logit_sqnr_db": math.inf if err == 0 else 10.0 * math.log10(ref / err) if ref > 0 else -math.inf,
        # Over the layers with an error (an exact layer's SQNR is infinite).
        "mean_layer_sqnr_db": (sum(finite) / len(finite)) if finite else (math.inf if sq else None),
        "min_layer_sqnr_db": min(sq) if sq else None,
        "macs_per_input": sum(a * b * c for a, b, c in shapes.values()),
        "layers": json.dumps(_json_safe(layers), sort_keys=True, allow_nan=False),
    }


def _attach_prediction(job: Job, model: Any, payload: Mapping[str, Any], example: Any, log: io.StringIO) -> Any:
    """Attaches the job's zero prediction (``smtgen.zap``) to ``model``, already
    under the job's design; a ZAP job trains its predictors on the first
    ``train_batches`` recal batches (seed: the job's), sweeps thresholds on the next
    ``sweep_batches`` and sets the operating point of its budget. Returns the
    ``Skipper`` or ``None`` without prediction."""
    if job.predict in (None, "none"):
        return None
    import smtgen.torch as st
    import smtgen.zap as sz

    p = json.loads(str(job.predict))
    chains = sz.find_chains(model)
    mods = dict(model.named_modules())
    if p["layers"] == "all":
        layers = [c.conv for c in chains]
    elif p["layers"] == "simulated":
        layers = [c.conv for c in chains if isinstance(mods[c.conv], st.QuantLayer)
                  and getattr(mods[c.conv], "design", None) != "float"]
    else:
        layers = list(p["layers"])
    if p["method"] == "zap" and p["min_macs"]:
        def per_output(name: str) -> int:
            m = mods[name]
            c = m.layer if isinstance(m, st.QuantLayer) else m
            return int(c.in_channels // c.groups * c.kernel_size[0] * c.kernel_size[1])

        layers = [n for n in layers if per_output(n) >= p["min_macs"]]
    if not layers:
        raise ValueError(f"prediction {predict_label(str(job.predict))}: no layer to attach it to (layers = "
                         f"{p['layers']!r}; conv -> BN -> ReLU chains: {[c.conv for c in chains]})")
    log.write(f"prediction {job.predict} on {len(layers)} layer(s): {', '.join(layers)}\n")
    if p["method"] == "cross-neuron":
        return sz.attach_cross_neuron(model, layers, p["mask"], p["neighbourhood"], p["k"], example_input=example)
    if p["method"] == "oracle":
        return sz.attach(model, {n: sz.Oracle(p["mask"]) for n in layers}, example)
    recal = payload["recal"]
    need = p["train_batches"] + p["sweep_batches"]
    if recal is None or len(recal) < need:
        raise ValueError(f"ZAP needs train_batches + sweep_batches = {need} recal batches from the network's "
                         f"factory; it gave {0 if recal is None else len(recal)}")
    sk = sz.attach_zap(model, layers, mask_type=p["mask"], seed=job.seed, example_input=example)
    losses = sz.train_zap(sk, recal[: p["train_batches"]], batches=p["train_batches"], epochs=p["epochs"],
                          lr=p["lr"], seed=job.seed, progress=False)
    for name, h in losses.items():
        log.write(f"ZAP {name}: training loss per epoch {', '.join(f'{v:.5f}' for v in h)}\n")
    curves = sz.sweep(sk, recal[p["train_batches"]: need], batches=p["sweep_batches"], progress=False)
    op = sz.operating_point(curves, p["budget"])
    sk.set_thresholds(op.thresholds)
    log.write(f"operating point (budget {p['budget']:g}): "
              f"{', '.join(f'{n} ' + ('off' if t is None else f'{t:+.3f}') for n, t in op.thresholds.items())}\n")
    return sk


def _prediction_metrics(skipper: Any, model: Any, shapes: Mapping[str, Tuple[int, int, int]],
                        log: io.StringIO) -> Dict[str, Any]:
    """The skipping of the evaluation: outputs skipped and zero (shares of the
    predicted layers' outputs), MACs saved net of the predictors' over the whole
    network, the gross saving and the predictors' MACs per input, the simulated
    layers' MACs actually computed (dense − saved in simulated layers + every
    predictor's MACs), the mispredictions and their lost mass."""
    rep = skipper.report()
    log.write(f"{rep}\n")
    t = rep.total
    n = max(int(t.images), 1)
    sim_saved = sum(r.macs_saved for r in rep.layers if r.layer in shapes)
    dense_sim = sum(a * b * c for a, b, c in shapes.values())
    share = rep.network_saved_share(True)
    return {
        "predict_layers": len(rep.layers),
        "skipped_share": t.skipped_share,
        "zero_share": t.zero_share,
        "macs_saved_share": share,
        "macs_saved_per_input": t.macs_saved / n,
        "predictor_macs_per_input": t.overhead_macs / n,
        "macs_computed_per_input": dense_sim - sim_saved / n + t.overhead_macs / n,
        "network_macs_per_input": (rep.network_macs / n) if rep.network_macs else None,
        "mispredicted": int(t.mispredicted),
        "mispredicted_share": t.mispredicted / max(int(t.outputs), 1),
        "lost_mass_share": t.lost_mass_share,
    }


def _json_safe(v: Any) -> Any:
    """``v`` with every non-finite float written as a string (``"inf"``, ``"-inf"``,
    ``"nan"``): JSON has no infinity (Python's ``Infinity`` is not JSON)."""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _restore(row: Dict[str, Any]) -> Dict[str, Any]:
    """A row read back from JSON: the numeric columns' ``"inf"``/``"-inf"``/``"nan"``
    strings become floats again."""
    for k, v in row.items():
        if k not in TEXT_COLUMNS and isinstance(v, str) and v in _NONFINITE:
            row[k] = _NONFINITE[v]
    return row


class _Log(io.StringIO):
    """A job's log, also echoed (flushed) to ``echo`` so that a worker that dies
    mid-job leaves what it had written."""

    def __init__(self, echo: Optional[Any] = None):
        super().__init__()
        self.echo = echo

    def write(self, s: str) -> int:
        if self.echo is not None:
            self.echo.write(s)
            self.echo.flush()
        return super().write(s)


def run_job(job: Job, shared: Optional[bytes] = None, factory: Optional[Tuple[str, str]] = None,
            echo: Optional[Any] = None) -> Dict[str, Any]:
    """Runs one job where it is called and returns its row: ``status`` ``ok`` with
    the metrics, or ``failed`` with ``error``; ``log`` holds the job's whole log
    (tool output, traceback). A :class:`TransientJobError` propagates so that the
    executor can retry it."""
    t0 = time.time()
    log = _Log(echo)
    os.environ.update(job.env)
    _set_threads(job.threads)
    row: Dict[str, Any] = {**job.ident(), "host": platform.node()}
    try:
        if job.kind == "area":
            metrics = _job_area(job, log)
        elif job.kind == "library":
            metrics = _job_library(job, log)
        elif job.kind == "regress":
            metrics = _job_regress(job, log)
        elif job.kind == "network":
            if shared is None or factory is None:
                raise RuntimeError("network job without its shared network bundle")
            metrics = _job_network(job, log, shared, factory)
        elif job.kind == "probe":
            metrics = _job_probe(job, log)
        else:
            raise RuntimeError(f"unknown job kind {job.kind}")
        row.update(metrics)
        row["status"] = "ok"
        row["error"] = ""
    except TransientJobError:
        raise
    except Exception as e:  # a job's failure is its row, never the sweep's
        log.write(traceback.format_exc())
        row["status"] = "failed"
        row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
    row["seconds"] = round(time.time() - t0, 3)
    row["log"] = log.getvalue()
    return row


# --------------------------------------------------------------------------------
# The table


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


class Table:
    """The results: ``results.jsonl`` (one JSON object per finished job, appended)
    and ``results.csv`` (the same rows, appended) in ``out``; job logs in
    ``out/logs``. The last row of a key wins."""

    COLUMNS = ID_COLUMNS + RUN_COLUMNS + METRICS

    def __init__(self, out: Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "logs").mkdir(exist_ok=True)
        self.jsonl = self.out / "results.jsonl"
        self.csv = self.out / "results.csv"
        if self.csv.exists():
            with open(self.csv, newline="") as f:
                head = next(csv.reader(f), None)
            if head is not None and head != self.COLUMNS:
                raise RuntimeError(
                    f"{self.csv} has other columns than this version writes; move it away or pick another --out"
                )

    def rows(self) -> List[Dict[str, Any]]:
        """Every row in the order written (a truncated last line, from a kill mid-write, is skipped)."""
        if not self.jsonl.exists():
            return []
        out = []
        for line in self.jsonl.read_text().splitlines():
            try:
                out.append(_restore(json.loads(line)))
            except json.JSONDecodeError:
                continue
        return out

    def latest(self) -> Dict[str, Dict[str, Any]]:
        """The last row of each key."""
        return {r["key"]: r for r in self.rows()}

    def done(self) -> set[str]:
        """Keys whose last row is ``ok``."""
        return {k for k, r in self.latest().items() if r.get("status") == "ok"}

    def append(self, row: Dict[str, Any], job: Job) -> Dict[str, Any]:
        """Writes the job's log to ``logs/`` and its row to both files, flushed."""
        text = row.pop("log", "") or ""
        name = f"logs/{job.kind}-{job.key}.log"
        (self.out / name).write_text(f"# {job.label()}\n{text}")
        row["log"] = name
        full = {c: row.get(c) for c in self.COLUMNS}
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(_json_safe(full), sort_keys=True, default=str, allow_nan=False) + "\n")
            f.flush()
        new = not self.csv.exists() or self.csv.stat().st_size == 0
        with open(self.csv, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(self.COLUMNS)
            w.writerow([_cell(full[c]) for c in self.COLUMNS])
        return full


def comparable(rows: Iterable[Mapping[str, Any]]) -> List[Tuple[Tuple[str, str], ...]]:
    """Rows without the columns that depend on where and when a job ran, sorted:
    two runs of one spec on any executors give equal lists."""
    return sorted(tuple(sorted((k, _cell(v)) for k, v in r.items() if k not in VOLATILE)) for r in rows)


# --------------------------------------------------------------------------------
# Executors


class _Bar:
    """tqdm over the jobs with done / failed counts and time left."""

    def __init__(self, total: int, enabled: bool):
        self.failed = 0
        self.bar: Any = None
        if enabled:
            try:
                from tqdm import tqdm  # type: ignore[import-untyped]
            except ImportError:  # pragma: no cover - environment
                print("smtgen sweep: no progress bar (Debian: apt-get install python3-tqdm)", file=sys.stderr)
            else:
                self.bar = tqdm(total=total, unit="job", dynamic_ncols=True, file=sys.stderr)

    def update(self, row: Mapping[str, Any], label: str) -> None:
        if row.get("status") != "ok":
            self.failed += 1
            msg = f"failed: {label}: {row.get('error')} (log {row.get('log')})"
            if self.bar is not None:
                self.bar.write(msg, file=sys.stderr)
            else:
                print(msg, file=sys.stderr)
        if self.bar is not None:
            self.bar.set_postfix(failed=self.failed, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _failed(job: Job, error: str, log: str, attempts: int, seconds: float = 0.0) -> Dict[str, Any]:
    return {**job.ident(), "status": "failed", "error": error.splitlines()[0][:300] if error else "failed",
            "log": log, "attempts": attempts, "seconds": round(seconds, 3), "host": platform.node()}


def _serial(jobs: List[Job], shared: Dict[str, bytes], factories: Dict[str, Tuple[str, str]],
            done: Callable[[Job, Dict[str, Any]], None]) -> None:
    """Runs the jobs one after another in this process (a job that kills its
    process stops the sweep; the pool and Ray isolate that)."""
    for job in jobs:
        attempts, logs = 0, []
        while True:
            attempts += 1
            try:
                row = run_job(job, shared.get(job.shared or ""), factories.get(job.shared or ""))
                row["attempts"] = attempts
                break
            except TransientJobError:
                logs.append(traceback.format_exc())
                if attempts > job.retries:
                    row = _failed(job, logs[-1].strip().splitlines()[-1], "\n".join(logs), attempts)
                    break
        done(job, row)


def _job_main(argv: Sequence[str]) -> int:
    """A pool worker: ``--run-job JOB.pkl RESULT.json``; the job's log goes to
    stdout, which the pool keeps."""
    job_file, result_file = argv
    with open(job_file, "rb") as f:
        job, shared_path, factory = pickle.load(f)
    shared = Path(shared_path).read_bytes() if shared_path else None
    try:
        row = run_job(job, shared, factory, echo=sys.stdout)
    except TransientJobError as e:
        print(traceback.format_exc(), flush=True)
        Path(result_file).write_text(json.dumps({"transient": str(e)}))
        return 3
    tmp = Path(result_file + ".tmp")
    tmp.write_text(json.dumps(_json_safe(row), default=str, allow_nan=False))
    tmp.rename(result_file)
    return 0


def _pool(jobs: List[Job], shared_paths: Dict[str, str], factories: Dict[str, Tuple[str, str]], workers: int,
          scratch: Path, done: Callable[[Job, Dict[str, Any]], None]) -> None:
    """Runs each job in its own Python process, ``workers`` at once: a job that
    crashes or is killed fails alone (retried when the death was a signal)."""
    queue = list(reversed(jobs))
    running: Dict[int, Tuple[subprocess.Popen[bytes], Job, int, float, Path, List[str]]] = {}
    attempts: Dict[str, List[str]] = {}
    env = dict(os.environ)
    env.update({"RAYON_NUM_THREADS": str(jobs[0].threads if jobs else 1), "PYTHONUNBUFFERED": "1"})
    n = 0
    try:
        while queue or running:
            while queue and len(running) < workers:
                job = queue.pop()
                n += 1
                stem = scratch / f"job{n}"
                with open(f"{stem}.pkl", "wb") as f:
                    pickle.dump((job, shared_paths.get(job.shared or ""), factories.get(job.shared or "")), f)
                logf = open(f"{stem}.log", "wb")
                p = subprocess.Popen([sys.executable, "-m", "smtgen.sweep", "--run-job", f"{stem}.pkl", f"{stem}.json"],
                                     stdout=logf, stderr=subprocess.STDOUT, env=env)
                logf.close()
                running[p.pid] = (p, job, n, time.time(), stem, attempts.setdefault(job.key, []))
            time.sleep(0.05)
            for pid in list(running):
                p, job, _, t0, stem, tries = running[pid]
                rc = p.poll()
                if rc is None and time.time() - t0 > job.timeout + 60:
                    p.kill()
                    p.wait()
                    del running[pid]
                    log = Path(f"{stem}.log").read_text(errors="replace")
                    done(job, _failed(job, f"timed out after {job.timeout + 60:.0f} s", log, len(tries) + 1,
                                      time.time() - t0))
                    continue
                if rc is None:
                    continue
                del running[pid]
                log = Path(f"{stem}.log").read_text(errors="replace")
                res = Path(f"{stem}.json")
                if rc == 0 and res.exists():
                    row = _restore(json.loads(res.read_text()))
                    row["attempts"] = len(tries) + 1
                    done(job, row)
                    continue
                why = f"worker killed by signal {-rc}" if rc < 0 else f"transient failure (exit {rc})"
                if rc > 0 and rc != 3:
                    why = f"worker exited with {rc}"
                tries.append(f"--- attempt {len(tries) + 1}: {why}\n{log}")
                if rc < 0 or rc == 3:
                    if len(tries) <= job.retries:
                        queue.append(job)
                        continue
                done(job, _failed(job, f"{why} (after {len(tries)} attempt(s))", "\n".join(tries), len(tries),
                                  time.time() - t0))
    finally:
        for p, *_ in running.values():
            p.kill()


def _ray_init(address: str, cpus: int) -> Any:
    try:
        import ray
    except ImportError as e:
        raise RuntimeError(
            "the Ray executor needs ray in this interpreter: `make pyenv-ray` (pip install 'ray>=2.40' into .venv)"
        ) from e
    if ray.is_initialized():
        return ray
    if address == "auto":
        try:
            ray.init(address="auto", log_to_driver=False, include_dashboard=False, configure_logging=False)
        except ConnectionError:
            ray.init(num_cpus=cpus, log_to_driver=False, include_dashboard=False, configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False, include_dashboard=False, configure_logging=False)
    return ray


def _ray_task(job: Job, shared: Optional[bytes], factory: Optional[Tuple[str, str]]) -> Dict[str, Any]:
    row = run_job(job, shared, factory)
    row["host"] = platform.node()
    return row


def _ray(jobs: List[Job], shared: Dict[str, bytes], factories: Dict[str, Tuple[str, str]], address: str,
         cpus: int, done: Callable[[Job, Dict[str, Any]], None], traffic: Dict[str, int]) -> None:
    """Runs every job as a Ray task with ``num_cpus`` = the job's threads, Ray
    retrying worker deaths and :class:`TransientJobError` up to ``retries`` times;
    each network bundle is put in the object store once and read by every task."""
    ray = _ray_init(address, cpus)
    refs = {name: ray.put(b) for name, b in shared.items()}
    for name, b in shared.items():
        traffic[f"bundle {name}"] = len(b)
    task = ray.remote(_ray_task)
    pending: Dict[Any, Tuple[Job, float]] = {}
    for job in jobs:
        opts = dict(num_cpus=job.threads, max_retries=job.retries, retry_exceptions=[TransientJobError])
        ref = task.options(**opts).remote(job, refs.get(job.shared or ""), factories.get(job.shared or ""))
        pending[ref] = (job, time.time())
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            job, t0 = pending.pop(ref)
            try:
                row = ray.get(ref)
                row["attempts"] = None
            except Exception as e:  # the task failed after Ray's retries
                text = str(e)
                row = _failed(job, f"{type(e).__name__} after {job.retries} retries: {text.strip().splitlines()[-1] if text.strip() else ''}",
                              text, job.retries + 1, time.time() - t0)
            done(job, row)


# --------------------------------------------------------------------------------
# The sweep


@dataclass
class Outcome:
    """What :func:`run` did."""

    planned: int
    skipped: int
    ran: int
    failed: int
    seconds: float
    table: Table
    traffic: Dict[str, int] = field(default_factory=dict)


def run(spec: Spec, out: os.PathLike[str] | str, executor: str = "pool", ray_address: str = "auto",
        workers: Optional[int] = None, progress: bool = True, limit: Optional[int] = None) -> Outcome:
    """Runs the spec's jobs not yet in ``out``'s table on ``executor`` and appends
    their rows as they finish. ``limit`` stops after that many jobs (the tests'
    stand-in for an interrupted sweep). Returns counts and the table."""
    if executor not in EXECUTORS:
        raise SpecError("--executor", executor, ", ".join(EXECUTORS))
    t0 = time.time()
    table = Table(Path(out))
    jobs = plan(spec)
    done_keys = table.done()
    todo = [j for j in jobs if j.key not in done_keys]
    if limit is not None:
        todo = todo[:limit]
    env = {k: os.environ[k] for k in ("SMTGEN_SWEEP_PROBE_DIR",) if k in os.environ}
    if any(j.kind in ("area", "library", "regress") for j in todo):
        env["SMTGEN_BIN"] = str(smtgen_binary().resolve())
    for j in todo:
        j.env = env
    cores = os.cpu_count() or 1
    nworkers = workers or max(1, cores // spec.threads)
    need = {j.shared for j in todo if j.shared}
    shared: Dict[str, bytes] = {}
    factories: Dict[str, Tuple[str, str]] = {}
    traffic: Dict[str, int] = {}
    for net in spec.networks:
        if net.name in need:
            shared[net.name] = prepare_network(net, spec.threads)
            factories[net.name] = (str(net.path), net.function)
            traffic[f"bundle {net.name}"] = len(shared[net.name])
    bar = _Bar(len(todo), progress)
    failed = 0

    def done(job: Job, row: Dict[str, Any]) -> None:
        nonlocal failed
        full = table.append(row, job)
        if full["status"] != "ok":
            failed += 1
        bar.update(full, job.label())

    try:
        if executor == "serial":
            saved = None
            if "torch" in sys.modules:
                import torch

                saved = torch.get_num_threads()
            try:
                _serial(todo, shared, factories, done)
            finally:
                if saved is not None:
                    import torch

                    torch.set_num_threads(saved)
        elif executor == "pool":
            scratch = Path(tempfile.mkdtemp(prefix="smtgen-sweep-"))
            try:
                paths = {}
                for name, b in shared.items():
                    p = scratch / f"bundle-{name}.pkl"
                    p.write_bytes(b)
                    paths[name] = str(p)
                _pool(todo, paths, factories, nworkers, scratch, done)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        else:
            _ray(todo, shared, factories, ray_address, nworkers * spec.threads, done, traffic)
    finally:
        bar.close()
    skipped = sum(1 for j in jobs if j.key in done_keys)
    return Outcome(len(jobs), skipped, len(todo), failed, time.time() - t0, table, traffic)


# --------------------------------------------------------------------------------
# Reports


def _f(v: Any) -> Optional[float]:
    if v is None or v == "":
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def candidates(spec: Spec, table: Table) -> List[Dict[str, Any]]:
    """One row per (point, size, network, recalibration) joining the jobs' metrics:
    accuracy and fidelity from the network job; area (µm² with a library, else GE:
    the array's, or the PE's times R·C when only PEs were synthesized); energy per
    inference (pJ/MAC × the simulated layers' MACs); throughput (inferences per
    second at the array's fmax with a library, else per million cycles), from the
    published cycle formula over the simulated layers."""
    jobs = plan(spec)
    latest = table.latest()
    by: Dict[Tuple[str, str, Optional[int], Optional[str], Optional[bool], Optional[str]], Dict[str, Any]] = {}
    for j in jobs:
        r = latest.get(j.key)
        if r is not None and r.get("status") == "ok":
            by[(j.kind, j.point, j.rows, j.network, j.recalibrate, j.predict)] = r
    nets: List[Tuple[Optional[str], Optional[bool], Optional[str]]] = [(None, None, None)]
    if "network" in spec.measure:
        nets = [(n.name, rc, pr) for n in spec.networks for rc in spec.measure["network"]["recalibrate"]
                for pr in spec.measure["network"]["predict"]]
    out = []
    for point in spec.points:
        for rows, cols in spec.sizes:
            area_row = (by.get(("area", point, rows, None, None, None))
                        or by.get(("area", point, None, None, None, None)))
            lib = by.get(("library", point, rows, None, None, None))
            for net, rc, pr in nets:
                row: Dict[str, Any] = {"point": point, "size": f"{rows}x{cols}", "network": net or "",
                                       "recalibrate": rc, "predict": predict_label(pr) if pr else ""}
                if lib is not None:
                    row["area"] = _f(lib.get("array_um2"))
                    row["area_unit"] = "um2"
                elif area_row is not None:
                    a = _f(area_row.get("array_ge"))
                    pe = _f(area_row.get("pe_ge"))
                    row["area"] = a if a is not None else (pe * rows * cols if pe is not None else None)
                    row["area_unit"] = "GE" if a is not None else "GE (PE x R*C)"
                nr = by.get(("network", point, None, net, rc, pr)) if net else None
                if net and nr is None:
                    continue
                if nr is not None:
                    row["top1"] = _f(nr.get("top1"))
                    row["agreement"] = _f(nr.get("agreement"))
                    row["logit_sqnr_db"] = _f(nr.get("logit_sqnr_db"))
                    layers = json.loads(nr.get("layers") or "[]")
                    cyc = sum(int(_sm.cycles(L["m"], L["k"], L["n"], point, rows, cols)["cycles"]) for L in layers)
                    macs = _f(nr.get("macs_per_input"))
                    if _f(nr.get("macs_computed_per_input")) is not None:
                        # With prediction: the MACs computed (a skipped MAC costs 0 in this model).
                        macs = _f(nr.get("macs_computed_per_input"))
                        row["macs_saved_share"] = _f(nr.get("macs_saved_share"))
                    row["cycles_per_input"] = cyc
                    if lib is not None and _f(lib.get("fmax_mhz")):
                        row["throughput"] = float(lib["fmax_mhz"]) * 1e6 / max(cyc, 1)
                        row["throughput_unit"] = "inferences/s"
                    else:
                        row["throughput"] = 1e6 / max(cyc, 1)
                        row["throughput_unit"] = "inferences/Mcycle"
                    if lib is not None and _f(lib.get("pj_per_mac")) is not None and macs is not None:
                        row["energy_nj"] = float(lib["pj_per_mac"]) * macs / 1000.0
                out.append(row)
    return out


#: Objectives: column, +1 to maximize, -1 to minimize.
OBJECTIVES = [("top1", 1), ("area", -1), ("energy_nj", -1), ("throughput", 1)]


def pareto_front(rows: List[Dict[str, Any]], objectives: Sequence[Tuple[str, int]] = OBJECTIVES) -> List[bool]:
    """Which rows no other row dominates (at least as good on every objective every
    row has, better on one); rows are compared within their network and recalibration."""
    present = [(c, s) for c, s in objectives if rows and all(r.get(c) is not None for r in rows)]
    front = []
    for r in rows:
        group = [q for q in rows if q.get("network") == r.get("network") and q.get("recalibrate") == r.get("recalibrate")]
        dominated = any(
            all(s * q[c] >= s * r[c] for c, s in present) and any(s * q[c] > s * r[c] for c, s in present)
            for q in group if q is not r
        )
        front.append(not dominated)
    return front


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def write_reports(spec: Spec, table: Table) -> List[Path]:
    """Writes ``candidates.csv`` (every joined row, with ``front``), ``pareto.csv``,
    ``pareto.md`` and ``pareto.svg`` (+ ``pareto.png``) into the table's directory."""
    rows = candidates(spec, table)
    front = pareto_front(rows)
    for r, on in zip(rows, front):
        r["front"] = on
    cols = ["point", "size", "network", "recalibrate", "predict", "top1", "agreement", "logit_sqnr_db",
            "macs_saved_share", "area", "area_unit", "energy_nj", "throughput", "throughput_unit", "cycles_per_input", "front"]
    cols = [c for c in cols if any(r.get(c) is not None for r in rows)]
    out = table.out
    written = []
    for name, sel in (("candidates.csv", rows), ("pareto.csv", [r for r in rows if r["front"]])):
        with open(out / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for r in sel:
                w.writerow([_cell(r.get(c)) for c in cols])
        written.append(out / name)
    md = [f"# Sweep {spec.name}: Pareto front", "",
          f"{len(rows)} candidates (point x size x network x recalibration x prediction), {sum(front)} on the front "
          f"(no other candidate of the same network is at least as good on every objective: "
          f"{', '.join(c for c, _ in OBJECTIVES if rows and all(r.get(c) is not None for r in rows))}).", "",
          "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        if r["front"]:
            md.append("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    (out / "pareto.md").write_text("\n".join(md) + "\n")
    written.append(out / "pareto.md")
    svg = _chart(rows, out, f"Sweep {spec.name}")
    if svg:
        written += svg
    return written


def _short(point: str) -> str:
    """A chart label: ``sysmt4+pe.rounding=truncate`` -> ``sysmt4+truncate``."""
    head, *sets = point.split("+")
    return "+".join([head] + [x.split("=", 1)[-1] for x in sets])


def _label(r: Mapping[str, Any]) -> str:
    """A candidate's chart label: its point, and its prediction when it has one."""
    pr = str(r.get("predict") or "")
    return _short(str(r["point"])) + (f" {pr}" if pr and pr != "none" else "")


def _chart(rows: List[Dict[str, Any]], out: Path, title: str) -> List[Path]:
    """Top-1 against area, energy and throughput: one row of panels per network,
    with and without recalibration in each; in each panel the points no other
    point beats on both of its axes are joined and labelled."""
    try:
        import matplotlib  # type: ignore[import-untyped]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-untyped]
    except ImportError:
        print("smtgen sweep: no chart (Debian: apt-get install python3-matplotlib)", file=sys.stderr)
        return []
    if not rows or not all(r.get("top1") is not None for r in rows):
        return []
    xs = [(c, lab) for c, lab in (("area", "area"), ("energy_nj", "energy per inference (nJ)"),
                                 ("throughput", "throughput")) if all(r.get(c) is not None for r in rows)]
    if not xs:
        return []
    nets = sorted({str(r["network"]) for r in rows})
    fig, axes = plt.subplots(len(nets), len(xs), figsize=(5.6 * len(xs), 4.2 * len(nets)), squeeze=False)
    for ni, net in enumerate(nets):
        for xi, (xc, xl) in enumerate(xs):
            ax = axes[ni][xi]
            better = -1 if xc in ("area", "energy_nj") else 1
            for rc, marker, colour in ((False, "o", "tab:blue"), (True, "s", "tab:orange")):
                pts = [r for r in rows if r["network"] == net and bool(r["recalibrate"]) == rc]
                if not pts:
                    continue
                ax.scatter([r[xc] for r in pts], [r["top1"] for r in pts], marker=marker, color=colour, alpha=0.5,
                           label="BN recalibrated" if rc else "as quantized")
                fr = [r for r, on in zip(pts, pareto_front(pts, [("top1", 1), (xc, better)])) if on]
                fr.sort(key=lambda r: float(r[xc]))
                ax.plot([r[xc] for r in fr], [r["top1"] for r in fr], "-", color=colour, lw=1)
                for k, r in enumerate(fr):
                    ax.annotate(_label(r), (r[xc], r["top1"]), fontsize=7, color=colour,
                                xytext=(4, -10 if rc else 4), textcoords="offset points")
            unit = rows[0].get("area_unit", "") if xc == "area" else rows[0].get("throughput_unit", "") \
                if xc == "throughput" else ""
            ax.set_xlabel(f"{xl} ({unit})" if unit else xl)
            ax.set_ylabel(f"{net}: top-1 (%)")
            ax.grid(alpha=0.3)
            ax.margins(x=0.25, y=0.12)
        axes[ni][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{title}: top-1 against cost; joined and labelled: no other point is better on both axes",
                 fontsize=9)
    fig.tight_layout()
    paths = [out / "pareto.svg", out / "pareto.png"]
    fig.savefig(paths[0])
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    return paths


# --------------------------------------------------------------------------------
# Command line


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m smtgen.sweep`` (and ``smtgen sweep``)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["--run-job"]:
        return _job_main(args_in[1:])
    ap = argparse.ArgumentParser(prog="smtgen sweep", description="Run a design-space sweep spec (docs/sweep.md).")
    ap.add_argument("spec", help="the YAML sweep spec")
    ap.add_argument("--out", help="table and reports directory (default: sweep_out/NAME next to the spec)")
    ap.add_argument("--executor", choices=EXECUTORS, help="serial, pool (default) or ray")
    ap.add_argument("--ray", metavar="auto|ADDRESS",
                    help="run on Ray: auto joins the cluster on this machine or starts a local one; "
                         "ADDRESS (host:port, ray://host:10001) joins that cluster")
    ap.add_argument("--workers", type=int, help="pool workers / local Ray CPUs (default: cores / threads)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--report-only", action="store_true", help="write the reports from the table; run nothing")
    ap.add_argument("--plan", action="store_true", help="list the jobs (key, kind, point, done?) and run nothing")
    a = ap.parse_args(args_in)
    try:
        spec = load_spec(a.spec)
        if a.workers is not None and a.workers < 1:
            raise SpecError("--workers", a.workers, "an integer >= 1")
        executor = a.executor or ("ray" if a.ray else "pool")
        if a.ray and executor != "ray":
            raise SpecError("--ray", a.ray, "only with --executor ray (or without --executor)")
        out = Path(a.out) if a.out else Path(a.spec).resolve().parent / "sweep_out" / spec.name
        if a.plan:
            done = Table(out).done() if out.exists() else set()
            for j in plan(spec):
                print(f"{j.key}  {'done' if j.key in done else 'todo'}  {j.label()}")
            return 0
        if not a.report_only:
            res = run(spec, out, executor, a.ray or "auto", a.workers, progress=not a.no_progress)
            print(f"smtgen sweep {spec.name}: {res.planned} jobs, {res.skipped} already in the table, ran {res.ran} "
                  f"({res.failed} failed) in {res.seconds:.1f} s on {executor}; table {res.table.csv}")
            table = res.table
        else:
            table = Table(out)
        for p in write_reports(spec, table):
            print(f"wrote {p}")
        return 1 if (not a.report_only and res.failed) else 0
    except (SpecError, FileNotFoundError, RuntimeError) as e:
        print(f"smtgen sweep: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
