"""Wall time of one sweep spec on each executor, from an empty table each time, and
the job sizes the scale estimate in docs/sweep.md starts from: per job kind, the
jobs' seconds, the bytes a task ships in (the pickled job) and out (its row and
log), and each network bundle's size (what Ray's object store holds once).

    python examples/sweep/bench.py examples/sweep/spec.yaml [--executors serial,pool,ray] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List

import smtgen.sweep as sw


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--executors", default="serial,pool,ray")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    spec = sw.load_spec(a.spec)
    root = Path(tempfile.mkdtemp(prefix="smtgen-sweep-bench-"))
    times: Dict[str, float] = {}
    last = None
    try:
        for ex in a.executors.split(","):
            t0 = time.time()
            res = sw.run(spec, root / ex, ex, "auto", a.workers, progress=False)
            times[ex] = time.time() - t0
            print(f"{ex}: {res.ran} jobs ({res.failed} failed) in {times[ex]:.1f} s", file=sys.stderr, flush=True)
            if last is None:
                last = res  # the job sizes come from the first executor's table
        assert last is not None
        jobs = {j.key: j for j in sw.plan(spec)}
        per: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
        for r in last.table.latest().values():
            per[r["kind"] + (f" {r['network']}" if r["network"] else "")].append(r)
        print(f"executors (workers {a.workers}): " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
        ref = times.get("serial")
        if ref:
            print("speed-up over serial: " + ", ".join(f"{k} {ref / v:.2f}x" for k, v in times.items()))
        print("| kind | jobs | failed | s mean | s max | in B (job) | out B (row + log) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for kind, rows in sorted(per.items()):
            secs = [float(r["seconds"]) for r in rows if r["seconds"] is not None]
            bad = sum(1 for r in rows if r["status"] != "ok")
            inb = statistics.mean(len(pickle.dumps(jobs[r["key"]])) for r in rows)
            outb = statistics.mean(
                len(json.dumps(r)) + (last.table.out / r["log"]).stat().st_size for r in rows
            )
            print(f"| {kind} | {len(rows)} | {bad} | {statistics.mean(secs):.2f} | {max(secs):.2f} | {inb:.0f} | {outb:.0f} |")
        for k, v in last.traffic.items():
            print(f"{k}: {v} B")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
