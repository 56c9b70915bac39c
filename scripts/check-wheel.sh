#!/usr/bin/env bash
# Packager's check: sdist -> wheel in a fresh venv -> (with auditwheel and patchelf) a
# manylinux wheel bundling GMP, stripped -> smoke test of the installed wheel from outside the
# source tree (core install only: no numeric stack). Run by .ci/run.
#   scripts/check-wheel.sh [OUTDIR]   (default: a temporary directory; prints what it built)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$(mktemp -d)}"
mkdir -p "$OUT"
rm -rf "$OUT/dist" "$OUT/venv" "$OUT/run" "$OUT/wheelhouse" "$OUT/unpacked"
quiet() { "$@" >"$OUT/log" 2>&1 || { cat "$OUT/log"; exit 1; }; }
quiet python -m build --sdist -o "$OUT/dist" "$ROOT"
SDIST="$(ls "$OUT"/dist/edgeacc-*.tar.gz)"
python -m venv "$OUT/venv"
PY="$OUT/venv/bin/python"
quiet "$PY" -m pip wheel --no-deps -w "$OUT/dist" "$SDIST"
WHEEL="$(ls "$OUT"/dist/edgeacc-*.whl)"
if command -v auditwheel >/dev/null && command -v patchelf >/dev/null; then
  # manylinux: GMP and libcrypto grafted into edgeacc.libs/, symbols stripped
  quiet auditwheel repair --strip -w "$OUT/wheelhouse" "$WHEEL"
  WHEEL="$(ls "$OUT"/wheelhouse/edgeacc-*manylinux*.whl)"
  python -m zipfile -e "$WHEEL" "$OUT/unpacked"
  CORE="$(ls "$OUT"/unpacked/edgeacc/_core*.so)"
  readelf -d "$CORE" | grep -q 'NEEDED.*libgmp-[0-9a-f]*\.so' \
    || { echo "the repaired wheel does not bundle GMP"; exit 1; }
  if readelf -S "$CORE" | grep -q '\.debug_'; then echo "debug info in $CORE"; exit 1; fi
else
  echo "auditwheel/patchelf not installed: testing the plain linux wheel"
fi
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
python -m zipfile -l "$WHEEL" | grep -v -E '[.]py |/ |RECORD|INSTALLER'
