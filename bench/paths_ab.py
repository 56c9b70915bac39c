"""Issue 12's last check: do blocks and audits get faster on the fast kernels? The demo (its
audit above all) and the embedded Table I, each run in a child process on this build's default
kernels ("fast": edgeacc.build_info() names them) and on the portable path
(EDGEACC_PORTABLE=1: GMP only), alternating pair by pair so that a shared machine's load
hits both alike.

    python -m bench.paths_ab [--pairs 2] [--sizes 32,8192,16384,32768] [--skip engine|demo|table1]

Printed per figure: every run's value on each path and fast / portable of the medians. The
engine figures are a block's own engine work (one hash_to_prime of its content and one 256-bit
exponentiation, as update_witness and verify_membership do: bench.speed_table's rows, best
of runs); the demo's audit figures are the passing audits' (three edges, a fixed sample
seed): their wall time per sampled step and the seconds of their batched Protocol 1; Table
I's are CPU seconds per 1000 transactions (every process of the run: the figure load
disturbs least) of the paced and the burst run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = {"fast": None, "portable": "1"}   # EDGEACC_PORTABLE per path
AUDIT_SEED = 7
WHAT = ("engine", "demo", "table1")        # the children, in the order each pair runs them


def engine_figures() -> dict:
    """A block's engine work: hash_to_prime of a digest and one 256-bit exponentiation."""
    from bench.speed_table import make_rows

    rows = make_rows(which={"verify", "h2p"})
    return {"block engine: hash_to_prime us": 1e6 * rows["h2p"]().measure()[0],
            "block engine: 256-bit exponentiation us": 1e6 * rows["verify"]().measure()[0]}


def demo_figures() -> dict:
    """One demo on the embedded deployment (the README's main job, no plot)."""
    from bench.table1 import cpu_seconds
    from ledger.provenance.demo import demo_succeeded, run_demo

    cpu = cpu_seconds([])
    with tempfile.TemporaryDirectory(prefix="edgeacc-paths-demo-") as scratch:
        result = run_demo(Path(scratch) / "deployment", progress=False, audit_seed=AUDIT_SEED)
    steps = sum(len(r.verdicts) for r in result.audits)
    return {"demo ok": float(demo_succeeded(result)),
            "demo CPU s": cpu_seconds([]) - cpu,
            "demo audit s": result.seconds["audit"],
            "audit ms per sampled step": 1000 * sum(r.seconds for r in result.audits) / max(steps, 1),
            "audit Protocol 1 s": sum(r.protocol1_seconds for r in result.audits)}


def table1_figures(sizes: list[int]) -> dict:
    """The embedded Table I rows (bench/table1.py's defaults: 10 clients x 100 tx, 2 peers)."""
    from bench import table1

    out = {}
    with tempfile.TemporaryDirectory(prefix="edgeacc-paths-table1-") as workdir:
        for size in sizes:
            row = table1.run(size, 10, 100, None, 2, workdir)
            out[f"Table I {size} B paced CPU s/1000 tx"] = row.paced.cpu_per_1000
            out[f"Table I {size} B burst CPU s/1000 tx"] = row.burst.cpu_per_1000
    return out


def child(what: str, sizes: list[int]) -> None:
    import edgeacc

    figures = {"engine": engine_figures, "demo": demo_figures, "table1": lambda: table1_figures(sizes),
               "build": dict}[what]()
    print(json.dumps({"build": edgeacc.build_info(), "figures": figures}))


def run_child(what: str, path: str, sizes: list[int]) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "EDGEACC_PORTABLE"}
    if PATHS[path] is not None:
        env["EDGEACC_PORTABLE"] = PATHS[path]
    done = subprocess.run([sys.executable, "-m", "bench.paths_ab", "--child", what,
                           "--sizes", ",".join(map(str, sizes))],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {what} child on the {path} path failed:\n{done.stderr[-2000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if answer["build"]["portable"] is not (path == "portable"):
        raise SystemExit(f"the {path} child ran with build_info {answer['build']}")
    return answer


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--sizes", default="32,8192,16384,32768")
    ap.add_argument("--skip", choices=WHAT, action="append", default=[])
    ap.add_argument("--child", choices=WHAT + ("build",), help=argparse.SUPPRESS)  # (build: no figures)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        child(args.child, sizes)
        return 0
    runs: dict[str, dict[str, list[float]]] = {path: {} for path in PATHS}
    builds = {}
    for _ in range(args.pairs):
        for what in WHAT:
            if what in args.skip:
                continue
            for path in PATHS:
                answer = run_child(what, path, sizes)
                builds[path] = answer["build"]
                for name, value in answer["figures"].items():
                    runs[path].setdefault(name, []).append(value)
    print(f"# fast kernels against EDGEACC_PORTABLE=1, {args.pairs} pair(s), {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.2f} at the end; fast path: {builds.get('fast')}\n")
    print("| figure | fast | portable | fast / portable (medians) |\n|---|---|---|---|")
    for name, fast in runs["fast"].items():
        portable = runs["portable"][name]
        base = statistics.median(portable)
        ratio = statistics.median(fast) / base if base else float("nan")
        print(f"| {name} | {', '.join(f'{v:.3g}' for v in fast)} | {', '.join(f'{v:.3g}' for v in portable)} "
              f"| {ratio:.3f} |")
    return 0 if all(v == 1.0 for path in PATHS for v in runs[path].get("demo ok", [1.0])) else 1


if __name__ == "__main__":
    raise SystemExit(main())
