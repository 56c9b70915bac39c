"""asv hygiene: the suite passes `asv check`, and a first run on a new machine needs no step."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("asv") is None, reason="asv is not installed ([bench])")


def asv_env(home: Path) -> dict:
    return dict(os.environ, HOME=str(home))  # a new machine: no ~/.asv-machine.json


def test_asv_check_collects_only_benchmarks(tmp_path):
    r = subprocess.run(["asv", "check", "--python=same"], cwd=ROOT, env=asv_env(tmp_path),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "No problems found" in r.stdout, r.stdout + r.stderr


def test_first_run_on_a_new_machine_needs_no_asv_machine_step(tmp_path):
    r = subprocess.run([str(ROOT / "bench" / "asv-run.sh"), "--quick", "--bench",
                        "CheckRepresentative"], cwd=ROOT, env=asv_env(tmp_path),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CheckRepresentative.time_200" in r.stdout
    assert (tmp_path / ".asv-machine.json").is_file()
