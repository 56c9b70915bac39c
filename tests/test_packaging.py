"""Packaging: the sdist, the core install's dependencies, the version, typing, the source tree.

The wheel built from the sdist in a fresh venv is smoke-tested by scripts/check-wheel.sh
(run by .ci/run); the C library and its pkg-config consumer by tests/test_c_library.py.
"""
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

import edgeacc

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "scipy", "sklearn", "matplotlib", "safetensors", "torch")


def run_python(code: str, cwd=ROOT, args=(), **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args, "-c", textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, **kw)


def git_files(*dirs: str) -> list[str]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (the sdist itself is being tested)")
    out = subprocess.run(["git", "ls-files", *dirs], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return out.split()


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> list[str]:
    """Build the sdist with GMP made unfindable: packing it must not probe for GMP."""
    out = tmp_path_factory.mktemp("sdist")
    env = dict(os.environ, EDGEACC_GMP_DIR="/nonexistent-gmp")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(out)],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    (archive,) = out.glob("edgeacc-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0]
    return [n[len(top) + 1:] for n in names if n.startswith(top + "/")]


def test_sdist_has_every_file_a_build_and_the_tests_need(sdist):
    needed = git_files("bindings", "csrc", "tools", "tests", "edgeacc", "ledger", "scripts", "bench")
    needed += ["LICENSE", "README.md", "pyproject.toml", "setup.py", "MANIFEST.in", "asv.conf.json"]
    missing = sorted(set(needed) - set(sdist))
    assert not missing, missing
    assert "csrc/ea_sieve_table.h" in sdist and "csrc/Makefile" in sdist
    assert not [n for n in sdist if n.endswith((".so", ".o", ".a")) or n == "bindings/_core.c"]


def test_core_import_needs_no_numeric_stack():
    r = run_python(f"""
        import sys, edgeacc, ledger
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


BLOCK_HEAVY = f"""
    import sys
    class Block:  # as in a core-only install: none of the numeric stack is importable
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {HEAVY!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
    sys.meta_path.insert(0, Block())
"""


def test_cli_of_a_core_install_runs_and_explains_the_demo_extra():
    r = run_python(textwrap.dedent(BLOCK_HEAVY) + textwrap.dedent("""
        from ledger import cli
        print(cli.main(["selftest", "--items", "4"]))
        print(cli.main(["demo", "--rounds", "1"]))
    """))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-2:] == ["0", "2"]
    assert "pip install 'edgeacc[demo]'" in r.stderr and "Traceback" not in r.stderr


def test_one_version_string():
    """EDGEACC_VERSION_STRING in csrc/ea_api.h: the C library, the metadata, the CLI."""
    header = (ROOT / "csrc" / "ea_api.h").read_text()
    assert f'#define EDGEACC_VERSION_STRING "{edgeacc.__version__}"' in header
    assert edgeacc.__version__ == importlib.metadata.version("edgeacc")
    r = run_python("from ledger import cli; cli.main(['--version'])")
    assert r.stdout.strip() == f"edgeacc {edgeacc.__version__}"
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and "\nversion =" not in text.split("[tool")[0]


def test_source_tree_without_the_extension_says_what_to_run(tmp_path):
    shutil.copytree(ROOT / "edgeacc", tmp_path / "edgeacc",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__", "include"))
    (tmp_path / "bindings").mkdir()
    shutil.copy(ROOT / "bindings" / "_core.pyx", tmp_path / "bindings")
    # -S: no site-packages, so no installed edgeacc (editable or not) can supply the extension
    r = run_python("import edgeacc", cwd=tmp_path, args=("-S",))
    assert r.returncode != 0
    assert "build_ext --inplace" in r.stderr and "circular" not in r.stderr


def test_get_include_has_the_public_headers_and_pxd():
    inc = Path(edgeacc.get_include())
    for name in ("edgeacc.h", "ea_api.h", "ea_mexp.h", "edgeacc_c.pxd", "gmp.pxd"):
        assert (inc / name).is_file(), name
    assert not [n for n in ("ea_mont.h", "ea_multiexp.h", "ea_thread.h") if (inc / n).exists()]


@pytest.fixture(scope="module")
def mypy():
    pytest.importorskip("mypy")
    def check(*paths, cwd=ROOT):
        return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *paths],
                              cwd=cwd, capture_output=True, text=True, timeout=300)
    return check


def test_mypy_public_api_is_clean(mypy):
    r = mypy()  # files and options from pyproject.toml [tool.mypy]
    assert r.returncode == 0, r.stdout


def test_mypy_catches_wrong_argument_types(mypy, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent("""
        import edgeacc, ledger
        P = edgeacc.Params.rsa2048()
        acc = edgeacc.Accumulator(P, P.generator(b"c"))
        acc.add("x")
        edgeacc.batch_verify(P, [(b"w", 3, 5)])
        ledger.Network.init(7)
    """))
    r = mypy("--follow-imports=silent", "--ignore-missing-imports", str(bad))
    assert r.returncode == 1
    assert [line.split(":")[1] for line in r.stdout.splitlines() if ": error:" in line] == \
        ["5", "6", "7"], r.stdout
