"""Every shell and Python block of README.md runs, and every repository path it names exists.

A block preceded by `<!-- readme-test: skip (reason) -->` is not run; the reason names what
covers it (the install line, the test command and the wheel check are what .ci/run itself runs;
`edgeacc demo` is tests/test_provenance_demo.py::test_console_script_runs_the_demo; the Flower
sketch is tests/test_provenance_flower.py). Each
block runs in its own directory (with a copy of csrc/, tests/, tools/ and scripts/) against
this source tree (`edgeacc` is `python -m ledger.cli` there).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"(<!-- readme-test: skip \((?P<why>[^)]+)\) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```",
                   re.S)
BLOCKS = [(m["lang"], m["body"], m["why"], README[:m.start()].count("\n") + 1)
          for m in BLOCK.finditer(README)]


def env() -> dict:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, MPLBACKEND="Agg")


def blocks(lang: str) -> list:
    return [pytest.param(body, id=f"line{line}") for kind, body, why, line in BLOCKS
            if kind == lang and why is None]


def test_every_block_is_run_or_says_why_not():
    assert {kind for kind, *_ in BLOCKS} <= {"sh", "python"}, "label each block sh or python"
    skipped = [why for *_, why, _ in BLOCKS if why]
    assert len(skipped) == 4 and len(blocks("sh")) >= 1 and len(blocks("python")) >= 3


@pytest.mark.parametrize("body", blocks("sh"))
def test_shell_block(body, tmp_path):
    for name in ("csrc", "tests", "tools", "scripts"):  # what a block may build or read
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns(
            "__pycache__", "*.o", "*.a", "*.so*", "test_core", "test_batch"))
    script = f'set -euo pipefail\nedgeacc() {{ "{sys.executable}" -m ledger.cli "$@"; }}\n{body}'
    r = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env(), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("body", blocks("python"))
def test_python_block(body, tmp_path):
    r = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, env=env(),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def test_readme_names_only_files_that_exist():
    tops = "|".join(p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")
                    and p.name not in ("build", "dist") and not p.name.endswith(".egg-info"))
    named = set(re.findall(rf"`((?:{tops})/[\w./*-]*)", README))
    named |= set(re.findall(r"`([\w-]+\.(?:md|py|sh|json|toml|in))`", README))
    assert len(named) > 10, named
    missing = [p for p in sorted(named) if not list(ROOT.glob(p.rstrip("/")))]
    assert not missing, missing
    outside = re.findall(r"\(?`?(\.\./[\w./-]+)", README)
    assert not outside, f"points outside the repository: {outside}"
