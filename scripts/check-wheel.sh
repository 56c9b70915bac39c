#!/usr/bin/env bash
# Packager's check: sdist -> wheel in a fresh venv -> smoke test of the installed wheel from
# outside the source tree (core install only: no numeric stack). Run by .ci/run.
#   scripts/check-wheel.sh [OUTDIR]   (default: a temporary directory; prints what it built)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$(mktemp -d)}"
mkdir -p "$OUT"
rm -rf "$OUT/dist" "$OUT/venv" "$OUT/run"
quiet() { "$@" >"$OUT/log" 2>&1 || { cat "$OUT/log"; exit 1; }; }
quiet python -m build --sdist -o "$OUT/dist" "$ROOT"
SDIST="$(ls "$OUT"/dist/edgeacc-*.tar.gz)"
python -m venv "$OUT/venv"
PY="$OUT/venv/bin/python"
quiet "$PY" -m pip wheel --no-deps -w "$OUT/dist" "$SDIST"
WHEEL="$(ls "$OUT"/dist/edgeacc-*.whl)"
quiet "$PY" -m pip install "$WHEEL"
mkdir -p "$OUT/run" && cd "$OUT/run"
"$PY" - <<'PY'
import importlib.util, os, sys
import edgeacc, ledger
assert os.getcwd() not in os.path.dirname(edgeacc.__file__), edgeacc.__file__
heavy = [m for m in ("numpy", "scipy", "sklearn", "matplotlib", "safetensors")
         if importlib.util.find_spec(m) is not None]
assert not heavy, f"the core install pulled in {heavy}"
for name in ("edgeacc.h", "edgeacc_c.pxd", "gmp.pxd"):
    assert os.path.isfile(os.path.join(edgeacc.get_include(), name)), name
P = edgeacc.Params.rsa2048()
acc = edgeacc.Accumulator(P, P.generator(b"smoke"))
x, k = edgeacc.hash_to_prime(b"record")
acc.add(x)
assert acc.verify(x, acc.witness(0)) and edgeacc.check_representative(b"record", x, k)
print("wheel smoke test: edgeacc", edgeacc.__version__, "from", os.path.dirname(edgeacc.__file__))
PY
EA="$OUT/venv/bin/edgeacc"
"$EA" --version
"$EA" init net --subchains 2 --peers 2 --quiet
TX=$("$EA" submit net --chain edge-0 --data "smoke" | cut -d' ' -f1)
"$EA" interlock net >/dev/null
"$EA" verify net "$TX" --from edge-1
echo "sdist: $SDIST"
echo "wheel: $WHEEL ($(du -k "$WHEEL" | cut -f1) KiB)"
