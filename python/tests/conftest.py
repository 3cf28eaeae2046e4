"""Shared fixtures: the repository root and the CLI binary the tests compare with."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `smtgen` binary: $SMTGEN_BIN or target/release/smtgen (built by
    `make pytest`). Missing is a failure, not a skip."""
    path = Path(os.environ.get("SMTGEN_BIN", ROOT / "target" / "release" / "smtgen"))
    if not path.exists():
        pytest.fail(f"{path} not found: build it with `cargo build --release` (make pytest does)")
    subprocess.run([str(path), "presets"], check=True, stdout=subprocess.DEVNULL)
    return path
