"""The C core builds and passes its own test without Python (csrc/Makefile)."""
import pathlib
import shutil
import subprocess

import pytest

CSRC = pathlib.Path(__file__).resolve().parent.parent / "csrc"


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None, reason="no make/cc")
def test_c_core_standalone(tmp_path):
    build = tmp_path / "csrc"
    shutil.copytree(CSRC, build)
    proc = subprocess.run(["make", "-C", str(build), "test"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "csrc ok" in proc.stdout
