"""bench/table1.py with the CPU of every run split per process: the bench process (the
training clients), each etcd member and each node, as CPU seconds per 1000 transactions and
context switches per transaction (every thread of the process that is still alive at the end
of the run). The arguments are table1's; the split goes to stderr after each row's runs.

    python bench/cpu_split.py --cluster --paced --sizes 32

It wraps table1.cpu_seconds (which takes the run's pids at its start and end), so the runs
are exactly table1's; it measures, it asserts nothing.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import table1  # noqa: E402

_table_cpu = table1.cpu_seconds
_snapshots: list[dict[str, tuple[float, int]]] = []  # per cpu_seconds call: process -> (CPU s, switches)


def _process_name(pid: int) -> str:
    """'bench', 'etcd m0', or the node's name (the directory of its node.json)."""
    if pid == os.getpid():
        return "bench"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().decode(errors="replace").split("\0")
    except OSError:
        return f"pid {pid}"
    if "--name" in args:
        return f"etcd {args[args.index('--name') + 1]}"
    config = next((a for a in args if a.endswith(".json")), None)
    return Path(config).parent.name if config else f"pid {pid}"


def _usage(pid: int) -> tuple[float, int]:
    """(utime + stime in seconds, voluntary + involuntary context switches of its live threads)."""
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        cpu = (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, IndexError, ValueError):
        return 0.0, 0
    if pid == os.getpid():
        cpu = sum(os.times()[:2])
    switches = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        tasks = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                switches += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except (OSError, ValueError):
            continue
    return cpu, switches


def cpu_seconds(pids: list[int]) -> float:
    _snapshots.append({_process_name(pid): _usage(pid) for pid in [os.getpid(), *pids]})
    if len(_snapshots) % 2 == 0:
        _report(*_snapshots[-2:])
    return _table_cpu(pids)


def _report(before: dict[str, tuple[float, int]], after: dict[str, tuple[float, int]]) -> None:
    tx = _ARGS.clients * _ARGS.tx_per_client
    parts = []
    for name, (cpu, switches) in after.items():
        cpu0, switches0 = before.get(name, (0.0, 0))
        parts.append(f"{name} {1000 * (cpu - cpu0) / tx:.2f} CPU s, {(switches - switches0) / tx:.1f} sw/tx")
    print("\nper process, per 1000 tx: " + "; ".join(parts), file=sys.stderr)


table1.cpu_seconds = cpu_seconds
_ARGS = table1.argparse.Namespace(clients=10, tx_per_client=100)

if __name__ == "__main__":
    argv = sys.argv[1:]
    for flag, attr in (("--clients", "clients"), ("--tx-per-client", "tx_per_client")):
        if flag in argv:
            setattr(_ARGS, attr, int(argv[argv.index(flag) + 1]))
    raise SystemExit(table1.main(argv))
