"""The C core builds and passes its own test without Python (csrc/Makefile)."""
import math
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


def _sieve_generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_sieve_table", CSRC.parent / "tools" / "gen_sieve_table.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def test_generated_sieve_table_is_up_to_date():
    """csrc/ea_sieve_table.h is tools/gen_sieve_table.py's output (edit the generator, not the file)."""
    import io

    out = io.StringIO()
    _sieve_generator().main(out)
    assert out.getvalue() == (CSRC / "ea_sieve_table.h").read_text()


def test_sieve_groups_fit_the_fold():
    """Each group's product is below 2^62 (ea_sieve.h's fold: s < 2^128, s + q m < 2^128) and
    its constants are B^i mod m and -m^-1 mod B; the groups cover the odd primes in order."""
    gen = _sieve_generator()
    primes = gen.odd_primes(gen.SIEVE_BOUND)
    groups = gen.groups_of(primes)
    assert [p for _, ps in groups for p in ps] == primes
    for prod, ps in groups:
        assert prod < 1 << 62 and prod % 2 == 1
        assert prod == math.prod(ps)
        s_max = ((1 << 64) - 1) * (1 + 3 * (prod - 1))      # l0 + l1 b1 + l2 b2 + l3 b3
        assert s_max < 1 << 128 and (s_max + ((1 << 64) - 1) * prod) >> 64 < 1 << 64
