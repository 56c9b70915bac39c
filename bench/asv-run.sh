#!/usr/bin/env bash
# asv on this machine, first run included: records the machine (`asv machine --yes`, defaults
# from this host) when ~/.asv-machine.json does not know it yet, then runs the benchmarks in
# the current environment. Arguments go to `asv run`, e.g.
#   bench/asv-run.sh --quick                  # every benchmark once
#   bench/asv-run.sh --bench HashToPrime      # one class, full repeats
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python - <<'PY'
import json, os, platform, sys
path = os.path.expanduser("~/.asv-machine.json")
known = json.load(open(path)) if os.path.exists(path) else {}
sys.exit(0 if platform.node() in known else 1)
PY
then
  asv machine --yes >/dev/null
fi
exec asv run --python=same --set-commit-hash "$(git rev-parse HEAD 2>/dev/null || echo 0000000)" "$@"
