"""Checkpoints for long measurements, so that a run stopped (or stopped on purpose
after a few minutes, to be continued later) resumes where it was.

A checkpoint is one JSON file: the run's **identity** (what it measures and on what:
designs, number of samples, array size, recalibration settings, fingerprints of the
inputs and of the model's weights, the torch and smtgen versions) and its finished
**entries** (key → JSON value), in the order they finished. Each entry is written as
it finishes by rewriting the whole file atomically (a temporary file beside it,
flushed to disk, then renamed over it), so a killed run leaves the previous complete
checkpoint, never half a file. Opening a checkpoint whose identity differs from the
run's raises :class:`CheckpointMismatch` naming every field that differs: results of
different runs are never mixed.

Used by :func:`smtgen.report.report` (``checkpoint=path``) and by the
EfficientNet-Lite0 example's ``--resume``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import torch
import torch.nn as nn

__all__ = [
    "FORMAT",
    "Checkpoint",
    "CheckpointMismatch",
    "Unfinished",
    "fingerprint_batches",
    "fingerprint_model",
    "fingerprint_tensor",
    "jsonable",
]

#: The format tag every checkpoint carries; a file without it is refused.
FORMAT = "smtgen-checkpoint/1"


class CheckpointMismatch(ValueError):
    """A checkpoint was written by a different run (its identity differs in the
    fields :attr:`differences` names) or is not a checkpoint at all."""

    def __init__(self, message: str, differences: Optional[List[str]] = None) -> None:
        super().__init__(message)
        #: The identity fields that differ (empty when the file is unreadable).
        self.differences: List[str] = list(differences or [])


class Unfinished(RuntimeError):
    """A checkpointed run stopped at its deadline before every entry was done; the
    finished ones are in the checkpoint, and calling again with the same arguments
    continues. ``done`` and ``total`` count the units of work (e.g. report rows)."""

    def __init__(self, what: str, done: int, total: int, path: Union[str, Path]) -> None:
        super().__init__(f"{what}: {done} of {total} done, stopped at the deadline; the finished ones are in "
                         f"{path} (run again with the same arguments to continue)")
        self.done = done
        self.total = total
        self.path = Path(path)


def _update_tensor(h: Any, t: torch.Tensor) -> None:
    t = t.detach().cpu()
    h.update(f"{t.dtype}{tuple(t.shape)};".encode())
    if t.numel():
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())


def fingerprint_tensor(t: torch.Tensor) -> str:
    """SHA-256 (hex, first 16 digits) of a tensor's dtype, shape and bytes."""
    h = hashlib.sha256()
    _update_tensor(h, t)
    return h.hexdigest()[:16]


def fingerprint_batches(batches: Iterable[Any]) -> str:
    """SHA-256 (hex, first 16 digits) over every tensor of every batch (a tensor, or a
    tuple/list of tensors such as ``(x, y)``), in order: the same data in the same
    batches gives the same fingerprint, anything else (one value, the order, the
    batching) another. Non-tensor items are hashed by their ``repr``."""
    h = hashlib.sha256()
    for i, batch in enumerate(batches):
        h.update(f"batch {i};".encode())
        items = batch if isinstance(batch, (list, tuple)) else [batch]
        for item in items:
            if isinstance(item, torch.Tensor):
                _update_tensor(h, item)
            else:
                h.update(repr(item).encode())
    return h.hexdigest()[:16]


def fingerprint_model(model: nn.Module) -> str:
    """SHA-256 (hex, first 16 digits) of the model's state: every parameter and
    buffer by name (weights, BatchNorm statistics, smtgen's calibrated activation
    ranges) and, for each simulated layer, what its quantization depends on beyond
    them (signed mode, weight quantizer)."""
    from . import torch as st

    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(f"{name}=".encode())
        _update_tensor(h, t)
    for q in st.quant_layers(model):
        h.update(f"quant {q.name} {q.kind} signed={q.signed} weights={q.weights};".encode())
    return h.hexdigest()[:16]


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists and mapping keys as strings, so that it equals
    what a JSON round trip gives back (the identity is compared that way)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _short(v: Any, limit: int = 160) -> str:
    s = json.dumps(v, sort_keys=True, default=str)
    return s if len(s) <= limit else s[: limit - 3] + "..."


class Checkpoint:
    """One checkpoint file: :meth:`open` it with the run's identity, :meth:`get`
    finished entries, :meth:`put` each new one as it finishes (written at once,
    atomically). Entries are JSON values; floats round-trip exactly (``inf`` too)."""

    def __init__(self, path: Union[str, Path], identity: Mapping[str, Any],
                 entries: Optional[Dict[str, Any]] = None) -> None:
        self.path = Path(path)
        self.identity: Dict[str, Any] = jsonable(identity)
        self.entries: Dict[str, Any] = dict(entries or {})

    @classmethod
    def open(cls, path: Union[str, Path], identity: Mapping[str, Any]) -> "Checkpoint":
        """The checkpoint at ``path`` if it exists and was written by a run with this
        ``identity`` (its entries are reused); a new, empty one if the file does not
        exist (nothing is written until the first :meth:`put`). Raises
        :class:`CheckpointMismatch` naming every identity field that differs (with
        both values), or when the file is not a readable checkpoint; the file is
        then left as it is."""
        p = Path(path)
        ident = jsonable(identity)
        if not p.exists():
            return cls(p, ident)
        try:
            data = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise CheckpointMismatch(f"checkpoint {p}: not readable as a checkpoint ({e}); "
                                     "delete it or give another path to start afresh") from e
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("identity"), dict) \
                or not isinstance(data.get("entries"), dict):
            raise CheckpointMismatch(f"checkpoint {p}: not an smtgen checkpoint (no {FORMAT!r} format tag with "
                                     "identity and entries); delete it or give another path to start afresh")
        old: Dict[str, Any] = data["identity"]
        diffs = [k for k in sorted(set(old) | set(ident)) if old.get(k, "<absent>") != ident.get(k, "<absent>")]
        if diffs:
            lines = "\n".join(f"  {k}: checkpoint {_short(old.get(k, '<absent>'))}, this run "
                              f"{_short(ident.get(k, '<absent>'))}" for k in diffs)
            raise CheckpointMismatch(
                f"checkpoint {p} was written by a different run ({', '.join(diffs)} differ{'s' if len(diffs) == 1 else ''}"
                f"):\n{lines}\nits results are not mixed with this run's: delete it, or give another path, to start "
                "afresh", diffs)
        return cls(p, ident, data["entries"])

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str) -> Any:
        """The finished entry ``key``, or None."""
        return self.entries.get(key)

    def put(self, key: str, value: Any) -> None:
        """Records entry ``key`` and writes the checkpoint at once, atomically."""
        self.entries[key] = jsonable(value)
        self.save()

    def save(self) -> None:
        """Writes the checkpoint: a temporary file in the same directory, flushed to
        disk, renamed over ``path`` (the directory is created if missing)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": FORMAT, "identity": self.identity, "entries": self.entries}, indent=1)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        finally:
            if tmp.exists():
                tmp.unlink()
