"""The compiled package: bit-exactness of smtgen.gemm / conv2d against the CLI, the
golden model and numpy, the design forms, and the exceptions bad input raises."""

import subprocess
import threading
from typing import Any

import numpy as np
import pytest

import smtgen

SEED = 1414
DESIGNS = smtgen.designs()


def operands(rng, m, k, n, zero=0.5):
    """Random operands over the full range with the corners planted."""
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    a[rng.random((m, k)) < zero] = 0
    w = rng.integers(-128, 128, (k, n), dtype=np.int8)
    w[rng.random((k, n)) < 0.2] = 0
    a[0, :4] = [255, 255, 0, 1]
    w[:4, 0] = [-128, 127, -128, -1]
    return a, w


def show(a, w, want, got, what):
    bad = np.argwhere(want != got)
    i, j = bad[0]
    return (
        f"{what}: {len(bad)} mismatches (seed {SEED}); first at C[{i},{j}]: expected {want[i, j]}, got {got[i, j]}; "
        f"a[{i}] = {a[i].tolist()}, w[:,{j}] = {w[:, j].tolist()}"
    )


def test_package_is_the_compiled_abi3_extension():
    assert smtgen._smtgen.__file__.endswith(".abi3.so"), smtgen._smtgen.__file__
    assert smtgen.__version__ == "0.1.0"


def test_designs_are_the_cli_presets(cli):
    out = subprocess.run([str(cli), "presets"], check=True, capture_output=True, text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert DESIGNS == names
    for d in DESIGNS:
        info = smtgen.describe(d)
        assert info["name"] == d and info["lanes"] in (1, 2, 4) and info["about"]


@pytest.mark.parametrize("design", DESIGNS)
def test_gemm_equals_cli_and_golden_model(design, cli, tmp_path):
    rng = np.random.default_rng([SEED, DESIGNS.index(design)])
    a, w = operands(rng, 37, 75, 23)
    if smtgen.describe(design)["stc"]:
        # 2:4-sparse designs take 2:4-sparse weights only.
        w, _ = smtgen.prune_2_4(w)
    got = smtgen.gemm(a, w, design)
    assert got.shape == (37, 23) and got.dtype == np.int32
    ref = smtgen.gemm_reference(a, w, design)
    assert np.array_equal(ref, got), show(a, w, ref, got, f"{design}: gemm vs golden model")
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "w.npy", w)
    subprocess.run(
        [str(cli), "gemm", "--preset", design, "--a", str(tmp_path / "a.npy"), "--w", str(tmp_path / "w.npy"),
         "--out", str(tmp_path / "c.npy")],
        check=True, stdout=subprocess.DEVNULL,
    )
    c_cli = np.load(tmp_path / "c.npy")
    assert np.array_equal(c_cli, got), show(a, w, c_cli, got, f"{design}: gemm vs CLI")
    exact = a.astype(np.int64) @ w.astype(np.int64)
    if design in ("baseline", "ideal2", "ideal4"):
        assert np.array_equal(exact, got), show(a, w, exact, got, f"{design}: gemm vs numpy")
    else:
        # A reducing design must actually reduce somewhere on dense random operands.
        assert not np.array_equal(exact, got), f"{design} equals the exact GEMM (seed {SEED})"


def test_jobs_and_threads_do_not_change_results():
    rng = np.random.default_rng(SEED)
    a, w = operands(rng, 64, 130, 17)
    one = smtgen.gemm(a, w, "sysmt4", jobs=1)
    assert np.array_equal(one, smtgen.gemm(a, w, "sysmt4", jobs=3))
    out: dict[int, Any] = {}
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, smtgen.gemm(a, w, "sysmt4"))) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(one, c) for c in out.values())


def test_design_forms_agree_and_wide_accumulators_give_int64():
    rng = np.random.default_rng(SEED + 1)
    a, w = operands(rng, 9, 33, 5)
    s = smtgen.gemm(a, w, "sysmt4+pe.rounding=truncate")
    d = smtgen.gemm(a, w, {"preset": "sysmt4", "pe.rounding": "truncate"})
    assert np.array_equal(s, d)
    assert not np.array_equal(s, smtgen.gemm(a, w, "sysmt4"))
    wide = smtgen.gemm(a, w, {"preset": "baseline", "pe.acc_width": 40})
    assert wide.dtype == np.int64 and np.array_equal(wide, a.astype(np.int64) @ w.astype(np.int64))


def test_narrow_accumulator_wraps():
    a = np.full((1, 4), 255, dtype=np.uint8)
    w = np.full((4, 1), 127, dtype=np.int8)
    c = smtgen.gemm(a, w, {"preset": "baseline", "pe.acc_width": 16})
    want = (4 * 255 * 127 + 2**15) % 2**16 - 2**15
    assert int(c[0, 0]) == want


def lower(x, w, stride, pad):
    """An independent lowering: K = (ky·KW + kx)·C + c (tap-major, channel-innermost)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=np.uint8)
    xp[:, :, pad : pad + h, pad : pad + wd] = x
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    a = np.zeros((n, oh, ow, kh, kw, c), dtype=np.uint8)
    for ky in range(kh):
        for kx in range(kw):
            a[:, :, :, ky, kx, :] = xp[:, :, ky : ky + stride * oh : stride, kx : kx + stride * ow : stride].transpose(0, 2, 3, 1)
    wm = w.transpose(2, 3, 1, 0).reshape(kh * kw * c, o)
    return a.reshape(n * oh * ow, kh * kw * c), wm, (n, oh, ow, o)


@pytest.mark.parametrize("design,stride,pad", [("sysmt2", 1, 1), ("sysmt4", 2, 1), ("sparq-3b", 2, 0), ("baseline", 1, 2)])
def test_conv2d_is_the_gemm_of_the_contract_lowering(design, stride, pad):
    rng = np.random.default_rng([SEED, stride, pad])
    x = rng.integers(0, 256, (2, 6, 7, 8), dtype=np.uint8)
    x[rng.random(x.shape) < 0.5] = 0
    w = rng.integers(-128, 128, (5, 6, 3, 3), dtype=np.int8)
    got = smtgen.conv2d(x, w, design, stride=stride, padding=pad)
    a, wm, (n, oh, ow, o) = lower(x, w, stride, pad)
    want = smtgen.gemm(a, wm, design).reshape(n, oh, ow, o).transpose(0, 3, 1, 2)
    assert got.shape == want.shape and np.array_equal(got, want), f"{design} stride {stride} pad {pad} (seed {SEED})"
    if design == "baseline":
        import torch
        import torch.nn.functional as F

        ref = F.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(), stride=stride, padding=pad)
        assert np.array_equal(ref.numpy().astype(np.int64), got)


def test_gemm_stats_match_the_result_and_count_collisions():
    rng = np.random.default_rng(SEED + 2)
    a, w = operands(rng, 20, 40, 6)
    c, s = smtgen.gemm_stats(a, w, "sysmt2")
    assert np.array_equal(c, smtgen.gemm(a, w, "sysmt2"))
    hist = s["active_histogram"]
    assert sum(hist) == 20 * 6 * 20
    assert s["collide_fraction"] == pytest.approx(hist[2] / sum(hist))
    assert 0 < s["reduced_fraction"] < 1 and 0 < s["idle_fraction"] < 1 and np.isfinite(s["sqnr_db"])
    _, e = smtgen.gemm_stats(a, w, "baseline")
    assert e["sqnr_db"] == float("inf") and e["reduced_fraction"] == 0


def test_cycles_follow_the_formula():
    r = smtgen.cycles(49, 144, 64, "sysmt2")
    tiles, g = 4 * 4, 72
    assert r["tiles"] == tiles and r["groups"] == g
    assert r["cycles"] == (tiles - 1) * g + g + 16 + 32 - 1
    assert r["baseline_cycles"] == (tiles - 1) * 144 + 144 + 16 + 32 - 1
    assert smtgen.cycles(49, 144, 64, "sysmt2-edge")["cycles"] == r["cycles"] + 1


A = np.zeros((3, 4), dtype=np.uint8)
W = np.zeros((4, 2), dtype=np.int8)


@pytest.mark.parametrize(
    "args,exc,words",
    [
        ((A.astype(np.float32), W, "sysmt2"), TypeError, ["a", "uint8", "float32"]),
        ((A.astype(np.int32) - 1, W, "sysmt2"), ValueError, ["a", "negative", "-1"]),
        ((A, W.astype(np.int16), "sysmt2"), TypeError, ["w", "int8", "int16"]),
        ((A, W.astype(np.float64), "sysmt2"), TypeError, ["w", "int8", "float64"]),
        ((A[:, :3], W, "sysmt2"), ValueError, ["3x3", "4x2", "K"]),
        ((A.ravel(), W, "sysmt2"), ValueError, ["a", "2-D"]),
        ((A.tolist(), W, "sysmt2"), TypeError, ["a", "numpy array", "list"]),
        ((A, W, "sysmt9"), ValueError, ["sysmt9", "sysmt2", "baseline"]),
        ((A, W, "sysmt2+pe.threads=3"), ValueError, ["pe.threads", "3"]),
        ((A, W, {"pe.threads": 2}), ValueError, ["preset"]),
        ((A, W, {"preset": "sysmt2", "pe.rounding": 1.5}), TypeError, ["pe.rounding", "float"]),
        ((A, W, 7), TypeError, ["design", "int"]),
    ],
)
def test_bad_gemm_input_is_a_clear_exception(args, exc, words):
    with pytest.raises(exc) as e:
        smtgen.gemm(*args)
    for word in words:
        assert word in str(e.value), f"{word!r} not in {e.value}"


def test_bad_conv_and_jobs_arguments():
    x = np.zeros((1, 3, 5, 5), dtype=np.uint8)
    w = np.zeros((2, 4, 3, 3), dtype=np.int8)
    with pytest.raises(ValueError, match="3 input channels.*expects 4"):
        smtgen.conv2d(x, w, "sysmt2")
    with pytest.raises(ValueError, match="stride = 0"):
        smtgen.conv2d(x, w[:, :3], "sysmt2", stride=0)
    with pytest.raises(ValueError, match="padding = -1"):
        smtgen.conv2d(x, w[:, :3], "sysmt2", padding=-1)
    with pytest.raises(ValueError, match="does not fit"):
        smtgen.conv2d(x[:, :, :2, :2], w[:, :3], "sysmt2")
    with pytest.raises(ValueError, match="jobs = -1"):
        smtgen.gemm(A, W, "sysmt2", jobs=-1)


def test_prune_2_4_keeps_the_two_largest_and_stc_designs_refuse_dense_weights():
    w = np.array([[3, 0], [-7, 5], [7, -7], [-128, 9], [1, 0], [2, 0]], dtype=np.int8)  # K = 6, N = 2
    p, zeroed = smtgen.prune_2_4(w)
    assert zeroed == 3 and p.dtype == np.int8
    # Column 0, k = 0..3: |-128| and |-7| = |7| (tie: the lower k) stay; k = 4, 5 stay.
    assert p[:, 0].tolist() == [0, -7, 0, -128, 1, 2]
    assert p[:, 1].tolist() == [0, 0, -7, 9, 0, 0]
    a = np.full((2, 6), 200, dtype=np.uint8)
    with pytest.raises(ValueError) as e:
        smtgen.gemm(a, w, "sparq-stc-4b5opt")
    msg = str(e.value)
    assert "w" in msg and "column 0" in msg and "group 0" in msg and "4 non-zero" in msg, msg
    got = smtgen.gemm(a, p, "sparq-stc-4b5opt")
    assert np.array_equal(got, smtgen.gemm_reference(a, p, "sparq-stc-4b5opt"))
    # Conv weights O x C x KH x KW: groups of four input channels at each tap.
    wc = np.arange(1, 1 + 2 * 8 * 1 * 1, dtype=np.int8).reshape(2, 8, 1, 1)
    pc, z = smtgen.prune_2_4(wc)
    assert z == 8 and pc[0, :, 0, 0].tolist() == [0, 0, 3, 4, 0, 0, 7, 8]
    x = np.ones((1, 8, 3, 3), dtype=np.uint8)
    with pytest.raises(ValueError):
        smtgen.conv2d(x, wc, "sparq-stc-4b5opt")
    smtgen.conv2d(x, pc, "sparq-stc-4b5opt")
    # C = 3: groups of the lowered K (k = tap * 3 + c) span taps; pruning follows them,
    # so the result is legal where per-tap pruning would leave three in k = 0..3.
    rng = np.random.default_rng(5)
    w3 = rng.integers(1, 128, size=(4, 3, 3, 3), dtype=np.int8)
    p3, z3 = smtgen.prune_2_4(w3)
    lowered = np.transpose(p3, (2, 3, 1, 0)).reshape(27, 4)
    assert all(np.count_nonzero(lowered[g:g + 4, j]) <= 2 for g in range(0, 27, 4) for j in range(4))
    assert z3 == 4 * 27 - int(np.count_nonzero(p3))
    x3 = rng.integers(0, 256, size=(1, 3, 5, 5), dtype=np.uint8)
    got3 = smtgen.conv2d(x3, p3, "sparq-stc-4b5opt", padding=1)
    assert got3.size == 4 * 5 * 5
    with pytest.raises(ValueError):
        smtgen.prune_2_4(w3, axis=0)
