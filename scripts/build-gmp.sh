#!/usr/bin/env bash
# Build a CPU-tuned, static, PIC GMP for edgeacc from Debian's own GMP source
# package (no tarball downloads; only the Debian archive is used).
#
# Usage:  scripts/build-gmp.sh [PREFIX] [--native] [--check] [--keep]
#   PREFIX    install prefix (default /opt/edgeacc-gmp)
#   --native  additionally build a non-fat GMP tuned for *this* host CPU
#             (configure's own CPU detection) into PREFIX-native.
#             NOTE: that library may SIGILL on other CPUs; only use it for
#             builds that never leave this machine.
#   --check   run GMP's `make check` before installing (slower, recommended
#             the first time on a new machine)
#   --keep    keep the work directory (printed at the end)
#
# Result: PREFIX/include/gmp.h and PREFIX/lib/libgmp.a. Then:
#   export EDGEACC_GMP_DIR=PREFIX
# and setup.py links libgmp.a statically.
#
# The default (fat) build uses --enable-fat: all x86-64 asm kernels are
# compiled in and the best one is selected at runtime via CPUID, so the
# library is portable across x86-64 CPUs while still using the tuned
# mpn kernels (this is what gmpy2's PyPI wheels do).
#
# Needs root (or sudo) for the deb-src setup / apt-get and for writing /opt.
set -euo pipefail

PREFIX=/opt/edgeacc-gmp
NATIVE=0
CHECK=0
KEEP=0
for arg in "$@"; do
    case "$arg" in
        --native) NATIVE=1 ;;
        --check)  CHECK=1 ;;
        --keep)   KEEP=1 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        -*) echo "unknown option: $arg" >&2; exit 2 ;;
        *)  PREFIX="$arg" ;;
    esac
done
JOBS="${JOBS:-2}"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '\n==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- deb-src --
# Debian 12 uses deb822 sources (/etc/apt/sources.list.d/debian.sources) with
# "Types: deb" only. Add a separate deb-src file mirroring it for main.
ensure_deb_src() {
    if apt-get source --print-uris gmp >/dev/null 2>&1; then
        return 0
    fi
    local f=/etc/apt/sources.list.d/edgeacc-deb-src.sources
    if [ ! -e "$f" ]; then
        local codename
        codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
        log "enabling deb-src for $codename in $f"
        $SUDO tee "$f" >/dev/null <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${codename} ${codename}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: ${codename}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    log "apt-get update"
    $SUDO apt-get update -qq
}

ensure_tools() {
    local missing=()
    command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
    command -v m4          >/dev/null || missing+=(m4)
    command -v gcc         >/dev/null || missing+=(gcc)
    command -v make        >/dev/null || missing+=(make)
    # Debian's dfsg tarball drops doc/ and patches configure.ac/Makefile.am
    # accordingly; debian/rules regenerates with dh_autoreconf, so we must too.
    command -v autoreconf  >/dev/null || missing+=(autoconf)
    command -v automake    >/dev/null || missing+=(automake)
    command -v libtoolize  >/dev/null || missing+=(libtool)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing build tools: ${missing[*]}"
        $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
    fi
}

ensure_deb_src
ensure_tools

WORK="$(mktemp -d "${TMPDIR:-/tmp}/edgeacc-gmp.XXXXXX")"
if [ "$KEEP" -eq 0 ]; then trap 'rm -rf "$WORK"' EXIT; fi

log "apt-get source gmp (into $WORK)"
( cd "$WORK" && apt-get source gmp )
SRC="$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'gmp-*' | head -n1)"
[ -n "$SRC" ] && [ -x "$SRC/configure" ] || { echo "gmp source not found in $WORK" >&2; exit 1; }
# Same step as debian/rules' dh_autoreconf. GMP ships its own config.guess /
# config.sub wrappers (they report the exact CPU, e.g. zen3-pc-linux-gnu, and
# wrap configfsf.guess/.sub); `autoreconf -fi` would overwrite them with the
# generic FSF ones, so save and restore them.
log "autoreconf -fi (as debian/rules does)"
(
    cd "$SRC"
    mkdir -p .edgeacc-save
    cp -p config.guess config.sub configfsf.guess configfsf.sub .edgeacc-save/
    autoreconf -fi >autoreconf.log 2>&1 || { tail -n 40 autoreconf.log >&2; exit 1; }
    cp -p .edgeacc-save/* .
)
log "source: $SRC ($(cd "$SRC" && dpkg-parsechangelog -S Version 2>/dev/null || echo '?'))"

# build_one <builddir> <prefix> <configure args...>
build_one() {
    local bdir="$1" prefix="$2"; shift 2
    mkdir -p "$bdir"
    (
        cd "$bdir"
        log "configure $* --prefix=$prefix"
        "$SRC/configure" "$@" --with-pic --disable-shared --enable-static \
            --prefix="$prefix" >configure.log 2>&1 \
            || { tail -n 40 configure.log >&2; exit 1; }
        grep -E '^(checking build system type|checking host system type|  CC=|  CFLAGS=|  MPN_PATH)' \
            configure.log >&2 || true
        log "make -j$JOBS ($bdir)"
        make -j"$JOBS" >make.log 2>&1 || { tail -n 40 make.log >&2; exit 1; }
        if [ "$CHECK" -eq 1 ]; then
            log "make check ($bdir)"
            make -j"$JOBS" check >check.log 2>&1 || { tail -n 60 check.log >&2; exit 1; }
        fi
        log "make install -> $prefix"
        $SUDO make install >install.log 2>&1 || { tail -n 40 install.log >&2; exit 1; }
    )
    test -f "$prefix/include/gmp.h" && test -f "$prefix/lib/libgmp.a"
}

start=$SECONDS
build_one "$WORK/build-fat" "$PREFIX" --enable-fat
echo "fat build done in $((SECONDS - start)) s" >&2

if [ "$NATIVE" -eq 1 ]; then
    start=$SECONDS
    # No --enable-fat, no --host/--build: configure's config.guess detects
    # the exact CPU and picks the matching mpn asm path and -march flags.
    build_one "$WORK/build-native" "$PREFIX-native"
    echo "native build done in $((SECONDS - start)) s" >&2
    echo "# host-specific build (not portable): export EDGEACC_GMP_DIR=$PREFIX-native"
fi

[ "$KEEP" -eq 1 ] && echo "# work dir kept: $WORK" >&2
echo "export EDGEACC_GMP_DIR=$PREFIX"
