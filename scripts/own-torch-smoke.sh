#!/bin/bash
# The README's "With your own torch in your own venv" path, exactly as written, on a
# fresh venv WITHOUT system site packages: PyPI torch (a ~3 GB download with its CUDA
# libraries), the package built from ./python, then the EfficientNet-Lite0 example on
# a few inputs. Not part of `make test`. The venv is deleted afterwards unless
# KEEP_VENV=1. PYTHON picks the interpreter (default: the first python3 on PATH, as a
# newcomer's shell would); OWN_TORCH_VENV the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TMP=""
[ -n "${OWN_TORCH_VENV:-}" ] || TMP=$(mktemp -d /tmp/smtgen-own-torch.XXXXXX)
VENV=${OWN_TORCH_VENV:-$TMP/venv}
OUT=$(dirname "$VENV")/out
cleanup() { [ "${KEEP_VENV:-0}" = 1 ] || rm -rf "$VENV" "$OUT" ${TMP:+"$TMP"}; }
trap cleanup EXIT
echo "own-torch smoke: $($PYTHON --version) -> $VENV"
"$PYTHON" -m venv "$VENV"
. "$VENV/bin/activate"
# The README's commands, in its order:
pip install torch torchvision matplotlib pillow tqdm
pip install ./python
python -c "import torch, smtgen, smtgen.torch; print('torch', torch.__version__, 'smtgen', smtgen.__version__)"
python examples/efficientnet_lite0/run.py --n 16 --batch 4 --designs sysmt2,sysmt4 --photos 4 --no-stats \
  --out "$OUT"
grep -q "| sysmt4 |" "$OUT/results.md"
echo "own-torch smoke: passed (torch $(python -c 'import torch; print(torch.__version__)'))"
