"""The C library as another project gets it: `make -C csrc` / `make install PREFIX=...`, a
SONAME, only the public API exported, pkg-config, public headers without internal layouts,
user CFLAGS that cannot drop the required flags, and a Cython extension built against
edgeacc.get_include() (the C tests themselves: tests/test_c_core.py)."""
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import edgeacc

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("make", "cc", "nm", "pkg-config", "readelf")
pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason=f"needs {', '.join(TOOLS)}")
INTERNAL = ("ea_mont_init", "ea_mont_mul", "ea_parallel_run", "ea_mexp_mont",
            "ea_mexp_table_init", "ea_exp_bits")


def run(*cmd, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{cmd}:\n{r.stdout}\n{r.stderr}"
    return r


def build(tmp: Path, *make_args) -> Path:
    """A copy of csrc/ built and installed into tmp/prefix; returns the prefix."""
    src = tmp / "csrc"
    shutil.copytree(ROOT / "csrc", src, ignore=shutil.ignore_patterns("*.o", "*.a", "*.so*"))
    prefix = tmp / "prefix"
    run("make", "-C", src, "-j2", *make_args)
    run("make", "-C", src, "install", f"PREFIX={prefix}", *make_args)
    return prefix


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("clib"))


def exported(library: Path) -> list[str]:
    out = run("nm", "-D", "--defined-only", library).stdout
    return sorted(line.split()[-1] for line in out.splitlines() if line.split()[1] in "TDBR")


def public_declarations(include: Path) -> set[str]:
    text = "".join(p.read_text() for p in include.glob("*.h"))
    return set(re.findall(r"^\w[\w\s\*]*?\b(ea_\w+)\(", text, re.M))


def test_install_layout_and_soname(prefix):
    lib, version = prefix / "lib", edgeacc.__version__
    major = version.split(".")[0]
    assert (lib / f"libedgeacc.so.{version}").is_file() and (lib / "libedgeacc.a").is_file()
    assert os.readlink(lib / f"libedgeacc.so.{major}") == f"libedgeacc.so.{version}"
    assert os.readlink(lib / "libedgeacc.so") == f"libedgeacc.so.{major}"
    dynamic = run("readelf", "-d", lib / f"libedgeacc.so.{version}").stdout
    assert f"Library soname: [libedgeacc.so.{major}]" in dynamic
    headers = sorted(p.name for p in (prefix / "include" / "edgeacc").iterdir())
    assert "edgeacc.h" in headers and "ea_api.h" in headers
    assert not {"ea_mont.h", "ea_multiexp.h", "ea_thread.h", "ea_sieve_table.h"} & set(headers)
    env = dict(os.environ, PKG_CONFIG_PATH=str(lib / "pkgconfig"))
    assert run("pkg-config", "--modversion", "edgeacc", env=env).stdout.strip() == version


def test_only_the_public_api_is_exported(prefix):
    symbols = exported(prefix / "lib" / f"libedgeacc.so.{edgeacc.__version__}")
    declared = public_declarations(prefix / "include" / "edgeacc")
    assert symbols and set(symbols) == declared, set(symbols) ^ declared
    assert not set(INTERNAL) & set(symbols)


def test_public_headers_hide_internal_layouts(prefix, tmp_path):
    include = prefix / "include" / "edgeacc"
    text = "".join(p.read_text() for p in include.glob("*.h"))
    assert "ea_mont" not in text and "mp_limb_t" not in text and "struct ea_mexp_table {" not in text
    r = subprocess.run(["cc", "-c", f"-I{include}", str(ROOT / "tests" / "c" / "opaque_table.c"),
                        "-o", str(tmp_path / "x.o")], capture_output=True, text=True)
    assert r.returncode != 0 and "ea_mexp_table" in r.stderr


@pytest.mark.parametrize("static", [False, True], ids=["shared", "static"])
def test_c_consumer_through_pkg_config(prefix, tmp_path, static):
    lib = prefix / "lib"
    env = dict(os.environ, PKG_CONFIG_PATH=str(lib / "pkgconfig"))
    flags = run("pkg-config", "--cflags", "--libs", *(["--static"] if static else []), "edgeacc",
                env=env).stdout.split()
    exe = tmp_path / "consumer"
    if static:  # the archive itself, with the private dependencies pkg-config --static lists
        flags = [f"{lib}/libedgeacc.a" if f == "-ledgeacc" else f for f in flags]
    run("cc", "-std=c99", "-Wall", "-Werror", ROOT / "tests" / "c" / "consumer.c", *flags, "-o", exe)
    out = run(exe, env=dict(os.environ, LD_LIBRARY_PATH=str(lib))).stdout
    assert out.strip().endswith(f"edgeacc {edgeacc.__version__}: 0 failures"), out
    assert "FAILED" not in out and out.count(": ok") == 11
    needed = run("readelf", "-d", exe).stdout
    assert ("libedgeacc.so" in needed) is not static


def test_user_cflags_cannot_drop_required_flags(tmp_path):
    """-std=gnu89 would not compile the C99 sources, -fvisibility=default would export
    everything: the Makefile's required flags come after the user's and win."""
    prefix = build(tmp_path, "CFLAGS=-O1 -std=gnu89 -fvisibility=default")
    symbols = exported(prefix / "lib" / f"libedgeacc.so.{edgeacc.__version__}")
    assert not set(INTERNAL) & set(symbols)
    assert set(symbols) == public_declarations(prefix / "include" / "edgeacc")


def test_cython_extension_cimports_the_engine(prefix, tmp_path):
    """Another project's Cython extension: `from edgeacc_c cimport ...` found through
    edgeacc.get_include(), linked against the installed static library."""
    pytest.importorskip("Cython")
    (tmp_path / "uses_engine.pyx").write_text(textwrap.dedent("""
        # cython: language_level=3
        from edgeacc_c cimport ea_version, ea_is_probable_prime
        from gmp cimport mpz_t, mpz_init, mpz_set_si, mpz_clear

        def engine_version():
            return ea_version().decode()

        def is_prime(long v):
            cdef mpz_t z
            mpz_init(z)
            mpz_set_si(z, v)
            try:
                return bool(ea_is_probable_prime(z))
            finally:
                mpz_clear(z)
    """))
    (tmp_path / "setup.py").write_text(textwrap.dedent(f"""
        import edgeacc
        from Cython.Build import cythonize
        from setuptools import Extension, setup
        ext = Extension("uses_engine", ["uses_engine.pyx"], include_dirs=[edgeacc.get_include()],
                        extra_objects=[{str(prefix / "lib" / "libedgeacc.a")!r}],
                        libraries=["gmp", "crypto"])
        setup(ext_modules=cythonize([ext], include_path=[edgeacc.get_include()], quiet=True))
    """))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run(sys.executable, "setup.py", "-q", "build_ext", "--inplace", cwd=tmp_path, env=env)
    r = run(sys.executable, "-c", "import uses_engine as u; print(u.engine_version(), "
            "u.is_prime(65537), u.is_prime(65535))", cwd=tmp_path, env=env)
    assert r.stdout.split() == [edgeacc.__version__, "True", "False"]
