"""Build of the edgeacc._core extension (setuptools + Cython; metadata in pyproject.toml).

Cython and the GMP/OpenSSL probes run only when the extension is built (build_ext below), so
`python -m build --sdist` needs neither GMP nor a compiler.

GMP is found by, in order: EDGEACC_GMP_DIR (a prefix with include/gmp.h and lib/libgmp.a or
libgmp.so; a static libgmp.a there is linked in, e.g. the CPU-tuned build from
scripts/build-gmp.sh), pkg-config, then the system paths. OpenSSL's libcrypto (SHA-256 in the
C core) by pkg-config, then the system paths. EDGEACC_COVERAGE=1 builds with CYTHON_TRACE;
EDGEACC_DEBUG=1 keeps debug info (release builds have none). Intel's crypto_mb (optional: the
AVX-512 IFMA lane kernels; PyPI ipp-crypto-static + ipp-crypto-include) is linked in when
found under EDGEACC_CRYPTO_MB_DIR or this Python's prefix; EDGEACC_CRYPTO_MB=0 builds without.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext
from setuptools.command.build_py import build_py as _build_py

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PREFIXES = ["/usr/local", "/usr", "/opt/homebrew", "/opt/local"]


def _pkg_config(name):
    if not shutil.which("pkg-config"):
        return None
    try:
        cflags = subprocess.check_output(["pkg-config", "--cflags-only-I", name], text=True)
        libs = subprocess.check_output(["pkg-config", "--libs-only-L", name], text=True)
    except (subprocess.CalledProcessError, OSError):
        return None
    return ([f[2:] for f in cflags.split()], [f[2:] for f in libs.split()])


def _system_include_dirs():
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = []
    for prefix in SYSTEM_PREFIXES:
        dirs.append(os.path.join(prefix, "include"))
        if multiarch:
            dirs.append(os.path.join(prefix, "include", multiarch))
    return dirs


def _find_header(header, extra_dirs=()):
    for d in list(extra_dirs) + _system_include_dirs():
        if os.path.isfile(os.path.join(d, header)):
            return d
    return None


def _fail(what, package):
    sys.exit(
        f"\nedgeacc: cannot find {what}.\n"
        f"  Install it (Debian/Ubuntu: `sudo apt-get install {package}`)"
        + (", or set EDGEACC_GMP_DIR to a GMP install prefix" if "GMP" in what else "")
        + ", then run the build again.\n"
    )


def find_gmp():
    """-> (include_dirs, library_dirs, libraries, extra_objects, description)."""
    override = os.environ.get("EDGEACC_GMP_DIR")
    if override:
        inc, lib = os.path.join(override, "include"), os.path.join(override, "lib")
        if not os.path.isfile(os.path.join(inc, "gmp.h")):
            sys.exit(f"\nedgeacc: EDGEACC_GMP_DIR={override} has no include/gmp.h\n")
        static = os.path.join(lib, "libgmp.a")
        if os.path.isfile(static):
            return [inc], [], [], [static], f"static {static}"
        return [inc], [lib], ["gmp"], [], f"shared {lib}"
    found = _pkg_config("gmp")
    if found and _find_header("gmp.h", found[0]):
        return found[0], found[1], ["gmp"], [], "pkg-config"
    inc = _find_header("gmp.h")
    if inc is None:
        _fail("GMP (gmp.h)", "libgmp-dev")
    return [inc], [], ["gmp"], [], f"system {inc}"


def find_libcrypto():
    found = _pkg_config("libcrypto")
    if found and _find_header("openssl/sha.h", found[0]):
        return found[0], found[1]
    inc = _find_header("openssl/sha.h")
    if inc is None:
        _fail("OpenSSL libcrypto (openssl/sha.h)", "libssl-dev")
    return [inc], []


def _crypto_mb_dirs():
    """Candidate (include, lib) prefixes for Intel's crypto_mb: EDGEACC_CRYPTO_MB_DIR, this
    Python's prefix (PyPI ipp-crypto-static + ipp-crypto-include install there), the system."""
    override = os.environ.get("EDGEACC_CRYPTO_MB_DIR")
    prefixes = [override] if override else [sys.prefix, sys.base_prefix] + SYSTEM_PREFIXES
    for prefix in prefixes:
        incs = [os.path.join(prefix, "include")] + sorted(glob.glob(os.path.join(prefix, "include", "*")))
        yield prefix, incs


def find_crypto_mb():
    """-> (include_dirs, extra_objects or libraries, description), or None: the optional lane
    kernels (AVX-512 IFMA). EDGEACC_CRYPTO_MB=0 builds without them."""
    if os.environ.get("EDGEACC_CRYPTO_MB") == "0":
        return None
    for prefix, incs in _crypto_mb_dirs():
        inc = next((d for d in incs if os.path.isfile(os.path.join(d, "crypto_mb", "exp.h"))), None)
        static = os.path.join(prefix, "lib", "libcrypto_mb.a")
        if inc and os.path.isfile(static):
            return [inc], [static], f"static {static}"
    return None


def configure(ext):
    """Set the C sources, include paths and libraries of the extension; cythonize it."""
    from Cython.Build import cythonize

    gmp_inc, gmp_lib, gmp_libs, gmp_objects, how = find_gmp()
    ssl_inc, ssl_lib = find_libcrypto()
    print(f"edgeacc: using GMP ({how})")
    directives = {"language_level": "3", "embedsignature": True}
    if os.environ.get("EDGEACC_COVERAGE") == "1":
        ext.define_macros.append(("CYTHON_TRACE_NOGIL", "1"))
        directives["linetrace"] = True
    ext.sources = ["bindings/_core.pyx"] + sorted(
        p for p in glob.glob("csrc/*.c") if not os.path.basename(p).startswith("test_")
    )
    ext.include_dirs = ["csrc", "bindings"] + gmp_inc + ssl_inc
    ext.library_dirs = gmp_lib + ssl_lib
    ext.libraries = gmp_libs + ["crypto"]
    ext.extra_objects = gmp_objects
    lanes = find_crypto_mb()
    if lanes:
        ext.include_dirs += lanes[0]
        ext.extra_objects = lanes[1] + ext.extra_objects
        ext.define_macros.append(("EA_HAVE_CRYPTO_MB", "1"))
    print(f"edgeacc: lane kernels (crypto_mb): {lanes[2] if lanes else 'not found, GMP/OpenSSL only'}")
    # -pthread: the batch engine's worker threads (a no-op on glibc >= 2.34)
    # EA_NO_EXPORT + hidden visibility: the C functions stay inside the extension module
    ext.define_macros.append(("EA_NO_EXPORT", "1"))
    ext.extra_compile_args = ["-O2", "-std=c99", "-pthread", "-fvisibility=hidden"]
    ext.extra_link_args = ["-pthread"]
    if os.environ.get("EDGEACC_DEBUG") != "1":  # release: no debug info (-S: none linked in)
        ext.extra_compile_args.append("-g0")
        ext.extra_link_args.append("-Wl,-S")
    # cythonize returns a plain copy; keep setuptools' own Extension (build_ext set it up)
    ext.sources = cythonize([ext], include_path=["bindings"],
                            compiler_directives=directives)[0].sources


def c_version():
    """EDGEACC_VERSION_STRING of csrc/ea_api.h: the one version of the C library and the package."""
    with open(os.path.join(HERE, "csrc", "ea_api.h")) as f:
        return re.search(r'^#define EDGEACC_VERSION_STRING "([^"]+)"', f.read(), re.M).group(1)


def public_headers():
    """csrc/edgeacc.h and the headers it includes: the installed C API (csrc/Makefile too)."""
    with open(os.path.join(HERE, "csrc", "edgeacc.h")) as f:
        included = re.findall(r'^#include "([^"]+)"', f.read(), re.M)
    return ["edgeacc.h"] + included


def copy_include_dir():
    """edgeacc/include: the public headers and the .pxd files, for edgeacc.get_include()."""
    target = os.path.join(HERE, "edgeacc", "include")
    shutil.rmtree(target, ignore_errors=True)  # no stale header from an older layout
    os.makedirs(target)
    sources = [os.path.join("csrc", h) for h in public_headers()] + glob.glob("bindings/*.pxd")
    for path in sources:
        shutil.copy2(os.path.join(HERE, path), target)


class build_py(_build_py):
    def run(self):
        copy_include_dir()
        super().run()


class build_ext(_build_ext):
    """Probe GMP and cythonize only now, when the extension is really compiled."""

    def run(self):
        copy_include_dir()
        for ext in self.extensions:
            configure(ext)
        super().run()


if __name__ == "__main__":
    os.chdir(HERE)
    setup(
        version=c_version(),
        # The sources are filled in by build_ext.run; the .pyx here is what sdist packs.
        ext_modules=[Extension("edgeacc._core", sources=["bindings/_core.pyx"])],
        cmdclass={"build_ext": build_ext, "build_py": build_py},
    )
