"""The C byte API (csrc/ea_bytes.h) through the installed shared library and ctypes: it gives
exactly the answers of the Python implementation on the vectors Python exports
(tests/data/make_capi_vectors.py), tampered inclusion proofs are rejected by both with the same
code, and hostile arguments (lengths, NULL, overflowing counts, random bytes) give a status,
never a crash. The protocol constants have one definition (csrc/ea_protocol.h)."""
import ctypes
import functools
import importlib.util
import json
import os
import shutil
import subprocess
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_ubyte, c_uint32, c_uint64, c_void_p
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

import edgeacc
from edgeacc import _core

ROOT = Path(__file__).resolve().parent.parent
VECTORS = json.loads((ROOT / "tests" / "data" / "capi_vectors.json").read_text())
pytestmark = pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                                reason="needs make and cc")
EA_OK, EA_ERR_MODULUS, EA_ERR_EXPONENT, EA_ERR_ELEMENT, EA_ERR_ARGUMENT = 0, 1, 2, 3, 4


@functools.lru_cache(maxsize=None)
def _exporter():
    spec = importlib.util.spec_from_file_location("make_capi_vectors", ROOT / "tests" / "data" / "make_capi_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Inclusion(ctypes.Structure):
    _fields_ = [("ok", c_int), ("reason", c_int), ("tx", c_void_p), ("tx_len", c_size_t),
                ("tx_id", c_ubyte * 32), ("tx_kind", c_int), ("height", c_uint64),
                ("previous", c_ubyte * 32), ("timestamp_ms", c_uint64),
                ("merkle_root", c_ubyte * 32), ("tx_count", c_uint32)]


class Lib:
    """The byte API of one libedgeacc.so, with Python-shaped calls."""

    def __init__(self, path: Path) -> None:
        self.c = c = ctypes.CDLL(str(path))
        c.ea_inclusion_reason_name.restype = c_char_p
        for name in ("ea_bytes_rsa2048", "ea_bytes_hash_to_prime", "ea_bytes_check_representative",
                     "ea_bytes_generator", "ea_bytes_verify_membership", "ea_bytes_batch_verify",
                     "ea_bytes_verify_inclusion"):
            getattr(c, name).restype = c_int
        c.ea_bytes_batch_verify.argtypes = [c_void_p, POINTER(c_int), c_char_p, c_char_p, c_size_t,
                                            c_char_p, c_size_t, c_char_p, c_size_t, ctypes.c_uint]
        c.ea_bytes_verify_inclusion.argtypes = [POINTER(Inclusion), c_char_p, c_size_t, c_char_p, c_size_t,
                                                c_char_p, c_size_t, c_uint64, c_char_p, c_size_t]

    def hash_to_prime(self, data: bytes):
        x, nonce = ctypes.create_string_buffer(32), c_uint32()
        rc = self.c.ea_bytes_hash_to_prime(x, byref(nonce), data, c_size_t(len(data)))
        return rc, x.raw, nonce.value

    def check_representative(self, data: bytes, x: bytes, nonce: int):
        ok = c_int(-1)
        rc = self.c.ea_bytes_check_representative(byref(ok), data, c_size_t(len(data)), x,
                                                  c_size_t(len(x)), c_uint32(nonce))
        return rc, ok.value

    def generator(self, n: bytes, chain_id: bytes, g_len=None):
        g = ctypes.create_string_buffer(len(n))
        rc = self.c.ea_bytes_generator(g, c_size_t(len(n) if g_len is None else g_len), n, c_size_t(len(n)),
                                       chain_id, c_size_t(len(chain_id)))
        return rc, g.raw

    def verify_membership(self, w: bytes, x: bytes, v: bytes, n: bytes):
        ok = c_int(-1)
        rc = self.c.ea_bytes_verify_membership(byref(ok), w, c_size_t(len(w)), x, c_size_t(len(x)),
                                               v, c_size_t(len(v)), n, c_size_t(len(n)))
        return rc, ok.value

    def batch_verify(self, items, n: bytes, x_len=32, count=None):
        count = len(items) if count is None else count
        bad, ok = (c_ubyte * max(count, 1))(), c_int(-1)
        ws, xs, vs = (b"".join(it[k] for it in items) for k in range(3))
        rc = self.c.ea_bytes_batch_verify(bad, byref(ok), ws, xs, x_len, vs, count, n, len(n), 2)
        return rc, ok.value, [j for j in range(count) if bad[j]] if rc == EA_OK else None

    def verify_inclusion(self, proof: bytes, chain_id: bytes, acc: bytes, height: int, n: bytes):
        r = Inclusion()
        buf = ctypes.create_string_buffer(proof, len(proof))
        rc = self.c.ea_bytes_verify_inclusion(byref(r), buf, len(proof), chain_id, len(chain_id), acc,
                                              len(acc), height, n, len(n))
        if rc != EA_OK:
            return rc, None
        out = {"verdict": self.c.ea_inclusion_reason_name(r.reason).decode()}
        assert r.ok == (out["verdict"] == "ok")
        if r.ok:
            out.update(tx=ctypes.string_at(r.tx, r.tx_len).hex(), tx_id=bytes(r.tx_id).hex(), kind=r.tx_kind,
                       height=r.height, previous=bytes(r.previous).hex(), timestamp_ms=r.timestamp_ms,
                       merkle_root=bytes(r.merkle_root).hex(), tx_count=r.tx_count)
        else:   # a rejection proves nothing: every output field stays zero
            assert not r.tx and r.tx_len == 0 and bytes(r.tx_id) == bytes(32) and r.height == 0
        return rc, out


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    from test_c_library import build
    return build(tmp_path_factory.mktemp("capi"))


@pytest.fixture(scope="module")
def lib(prefix) -> Lib:
    return Lib(prefix / "lib" / f"libedgeacc.so.{edgeacc.__version__}")


MODULI = {label: bytes.fromhex(h) for label, h in VECTORS["moduli"].items()}


def test_the_vectors_are_what_python_answers_today():
    """The committed vectors are the current Python implementation's answers (regenerated)."""
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _exporter().main()
    assert json.loads(out.getvalue()) == VECTORS


def test_constants_have_one_source():
    """edgeacc reads its protocol constants from the C header; the ledger owns its layout, and
    the C copies of it (which the C inclusion-proof parser uses) equal the ledger's."""
    import edgeacc.encoding
    import edgeacc.params
    import edgeacc.primes
    from ledger import block, encoding, objects, protocol1, tx
    assert (edgeacc.primes.H2P_DOMAIN, edgeacc.primes.REPRESENTATIVE_BITS, edgeacc.primes.MAX_NONCE) == \
        (b"edgeacc/h2p", 256, 1 << 20) == (_core.H2P_DOMAIN, _core.H2P_BITS, _core.H2P_MAX_NONCE)
    assert edgeacc.params.GENERATOR_DOMAIN is _core.GENERATOR_DOMAIN
    assert edgeacc.params.RSA_2048 == _core.RSA_2048 == int(VECTORS["moduli"]["rsa2048"], 16)
    assert edgeacc.encoding.PROOF_MAGIC == _core.MEMBERSHIP_PROOF_MAGIC == b"EAMP"
    assert _core.LEDGER_LAYOUT == {
        "PROOF_MAGIC": protocol1.PROOF_MAGIC, "PROOF_VERSION": protocol1.PROOF_VERSION,
        "HEADER_MAGIC": block.HEADER_MAGIC, "BLOCK_VERSION": block.BLOCK_VERSION,
        "TX_MAGIC": tx.TX_MAGIC, "TX_VERSION": tx.TX_VERSION, "TX_KIND_MAX": max(tx.TxKind),
        "ELEMENT_DOMAIN": block.ELEMENT_DOMAIN, "DIGEST_BYTES": encoding.DIGEST_BYTES,
        "SIGNATURE_BYTES": encoding.SIGNATURE_BYTES, "MAX_CHAIN_ID": encoding.MAX_CHAIN_ID,
        "CHAIN_ID_CHARS": "".join(sorted(encoding._CHAIN_ID_CHARS, key=_core.LEDGER_LAYOUT["CHAIN_ID_CHARS"].index)),
        "MAX_PROOF_PART": protocol1.MAX_PROOF_PART, "MAX_PAYLOAD_BYTES": tx.MAX_PAYLOAD_BYTES,
        "MAX_URL_BYTES": objects.MAX_URL_BYTES, "MAX_ELEMENT_BYTES": block.MAX_ELEMENT_BYTES,
        "REPRESENTATIVE_BYTES": block.REPRESENTATIVE_BYTES}
    assert set(_core.LEDGER_LAYOUT["CHAIN_ID_CHARS"]) == encoding._CHAIN_ID_CHARS
    assert [k.value for k in tx.TxKind] == list(range(1, _core.LEDGER_LAYOUT["TX_KIND_MAX"] + 1))


def test_rsa2048_bytes(lib):
    out = ctypes.create_string_buffer(256)
    assert lib.c.ea_bytes_rsa2048(out, c_size_t(256)) == EA_OK and out.raw == MODULI["rsa2048"]
    assert lib.c.ea_bytes_rsa2048(out, c_size_t(255)) == EA_ERR_ARGUMENT


def test_hash_to_prime_and_representatives(lib):
    for v in VECTORS["hash_to_prime"]:
        assert lib.hash_to_prime(bytes.fromhex(v["data"])) == (EA_OK, bytes.fromhex(v["x"]), v["nonce"])
    for v in VECTORS["representatives"]:
        got = lib.check_representative(bytes.fromhex(v["data"]), bytes.fromhex(v["x"]), v["nonce"])
        assert got == (EA_OK, int(v["ok"])), v["name"]
    assert lib.hash_to_prime(b"")[0] == EA_ERR_ARGUMENT
    assert lib.check_representative(b"", bytes(32), 0) == (EA_ERR_ARGUMENT, 0)


def test_generators(lib):
    for v in VECTORS["generators"]:
        assert lib.generator(MODULI[v["modulus"]], bytes.fromhex(v["chain_id"])) == (EA_OK, bytes.fromhex(v["g"]))
    n = MODULI["toy512"]
    assert lib.generator(n, b"")[0] == EA_ERR_ARGUMENT
    assert lib.generator(n, b"main", g_len=len(n) - 1)[0] == EA_ERR_ARGUMENT


def test_membership(lib):
    for v in VECTORS["membership"]:
        got = lib.verify_membership(*(bytes.fromhex(v[k]) for k in ("w", "x", "v")), MODULI[v["modulus"]])
        assert got == (EA_OK, int(v["ok"])), v["name"]


def test_batch(lib):
    for v in VECTORS["batches"]:
        items = [tuple(bytes.fromhex(h) for h in it) for it in v["items"]]
        assert lib.batch_verify(items, MODULI[v["modulus"]]) == (EA_OK, int(not v["bad"]), v["bad"]), v["name"]


def test_inclusion_proofs_and_their_tampered_variants(lib):
    exporter, checked = _exporter(), 0
    for case in VECTORS["inclusion"]:
        proof, n = bytes.fromhex(case["proof"]), MODULI[case["modulus"]]
        args = (case["chain_id"].encode(), bytes.fromhex(case["acc"]), case["acc_height"], n)
        assert lib.verify_inclusion(proof, *args) == (EA_OK, case["expect"]), case["name"]
        for edit in case["edits"]:
            got = lib.verify_inclusion(exporter.apply_edit(proof, edit), *args)
            expected = case["expect"] if edit["expect"] == "ok" else {"verdict": edit["expect"]}
            assert got == (EA_OK, expected), (case["name"], edit)
            checked += 1
    assert checked > 1900


# ---- hostile input ----

@functools.lru_cache(maxsize=None)
def _toy() -> edgeacc.Params:
    return _exporter().toy_params()


def _good_case():
    return next(c for c in VECTORS["inclusion"] if c["edits"] and c["modulus"] == "toy512")


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3), st.binary(max_size=40)), min_size=1, max_size=4))
def test_edited_proofs_get_the_python_verdict(lib, edits):
    """Differential fuzz: splice, delete and overwrite bytes of a good proof; C and Python agree."""
    case = _good_case()
    P = _toy()
    proof = bytearray.fromhex(case["proof"])
    for at, op, data in edits:
        at %= len(proof) + 1
        if op == 0:
            proof[at:at + len(data)] = data
        elif op == 1:
            proof[at:at] = data
        elif op == 2:
            del proof[at:at + len(data) + 1]
        else:
            proof[at:at + 1] = bytes([(proof[at] if at < len(proof) else 0) ^ 0xFF])
    acc = bytes.fromhex(case["acc"])
    expected = _exporter().python_verdict(P, bytes(proof), case["chain_id"], int.from_bytes(acc, "big"), case["acc_height"])
    assert lib.verify_inclusion(bytes(proof), case["chain_id"].encode(), acc, case["acc_height"],
                                MODULI["toy512"]) == (EA_OK, expected)


@given(st.binary(max_size=600), st.sampled_from([b"", b"EAIP\x01", b"EAIP\x01\x00\x06edge-0"]))
def test_random_bytes_are_rejected_without_a_crash(lib, tail, head):
    case = _good_case()
    got = lib.verify_inclusion(head + tail, b"edge-0", bytes.fromhex(case["acc"]), case["acc_height"], MODULI["toy512"])
    assert got == (EA_OK, {"verdict": "malformed"})


def test_hostile_arguments_give_a_status(lib):
    n, c = MODULI["toy512"], lib.c
    case = _good_case()
    proof, acc = bytes.fromhex(case["proof"]), bytes.fromhex(case["acc"])
    one = bytes(len(n) - 1) + b"\x02"
    for bad_n in (b"", b"\x00" + n, n[:-1] + bytes([n[-1] ^ 1]), n[:31], bytes([0xFF]) * (1025)):
        assert lib.verify_membership(one, b"\x03", one, bad_n)[0] == EA_ERR_MODULUS
        assert lib.verify_inclusion(proof, b"edge-0", acc, 3, bad_n)[0] == EA_ERR_MODULUS
    assert lib.verify_membership(bytes(len(n)), b"\x03", one, n) == (EA_ERR_ELEMENT, 0)
    assert lib.verify_membership(one + b"\x00", b"\x03", one, n) == (EA_ERR_ELEMENT, 0)   # longer than N
    assert lib.verify_membership(one, b"\x04", one, n) == (EA_ERR_EXPONENT, 0)
    assert lib.verify_membership(one, b"\x01", one, n) == (EA_ERR_EXPONENT, 0)
    assert lib.verify_membership(one, b"", one, n) == (EA_ERR_EXPONENT, 0)
    assert lib.verify_inclusion(proof, b"edge-0", n, 3, n)[0] == EA_ERR_ELEMENT
    assert lib.verify_inclusion(proof, b"edge-0", b"", 3, n)[0] == EA_ERR_ELEMENT
    assert c.ea_bytes_verify_inclusion(None, proof, len(proof), b"edge-0", 6, acc, len(acc), 3, n, len(n)) == EA_ERR_ARGUMENT
    r = Inclusion()
    assert c.ea_bytes_verify_inclusion(byref(r), None, 0, b"edge-0", 6, acc, len(acc), 3, n, len(n)) == EA_ERR_ARGUMENT
    # a count whose buffers would overflow size_t is refused before any read
    item = (one, b"\x03" * 32, one)
    for count in (2**63, 2**64 // len(n) + 1, 2**64 - 1):
        ok = c_int(-1)
        assert c.ea_bytes_batch_verify(None, byref(ok), one, b"\x03", 1, one, count, n, len(n), 1) == EA_ERR_ARGUMENT
        assert ok.value == 0
    assert lib.batch_verify([item], n, x_len=0)[0] == EA_ERR_EXPONENT
    assert lib.batch_verify([], n) == (EA_OK, 1, [])
    assert lib.batch_verify([(bytes(len(n)), b"\x03" * 32, one)], n)[0] == EA_ERR_ELEMENT
    assert lib.batch_verify([(one, b"\x03" * 32, bytes(len(n)))], n)[0] == EA_ERR_ELEMENT
    assert lib.batch_verify([(one, b"\x00" * 31 + b"\x02", one)], n)[0] == EA_ERR_EXPONENT
    assert c.ea_inclusion_reason_name(99) == b"unknown"


def test_c_fuzz_under_address_sanitizer(tmp_path):
    """csrc/test_bytes.c (every byte flip, truncation and 20000 random tails of a valid proof,
    hostile arguments) built with ASan/UBSan: no read past a buffer, no undefined behaviour."""
    exe = tmp_path / "test_bytes"
    sources = [str(p) for p in sorted((ROOT / "csrc").glob("ea_*.c"))]
    cmd = ["cc", "-std=c99", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
           "-fno-omit-frame-pointer", f"-I{ROOT / 'csrc'}", str(ROOT / "csrc" / "test_bytes.c"), *sources,
           "-o", str(exe), "-lgmp", "-lcrypto", "-lpthread"]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        pytest.skip("the compiler cannot build with -fsanitize=address,undefined here")
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300,
                       env={"ASAN_OPTIONS": "detect_leaks=1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and "csrc bytes ok" in r.stdout, r.stdout + r.stderr


def test_byte_api_header_needs_no_gmp(prefix):
    """ea_bytes.h and what it includes: no GMP header (Go, Rust, C# callers have none)."""
    include = prefix / "include" / "edgeacc"
    deps = subprocess.run(["cc", "-M", "-x", "c", f"-I{include}", str(include / "ea_bytes.h")],
                          capture_output=True, text=True, check=True).stdout
    assert "ea_protocol.h" in deps and "gmp.h" not in deps


@pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain (Debian golang-go; CI installs it)")
def test_go_consumer_through_cgo(prefix, tmp_path):
    """tests/go/verify: a Go program (standard library only) built with cgo against the
    installed library through pkg-config verifies the membership and inclusion proofs Python
    exported, and rejects the tampered ones, exactly as Python does."""
    env = dict(os.environ, GOCACHE=str(tmp_path / "gocache"), GOPATH=str(tmp_path / "gopath"),
               GOFLAGS="-mod=mod", GOPROXY="off", GOTOOLCHAIN="local", CGO_ENABLED="1",
               PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    exe = tmp_path / "verify"
    r = subprocess.run(["go", "build", "-o", str(exe), "."], cwd=ROOT / "tests" / "go" / "verify", env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(exe), str(ROOT / "tests" / "data" / "capi_vectors.json")], capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, LD_LIBRARY_PATH=str(prefix / "lib")))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == f"edgeacc {edgeacc.__version__} from Go: 0 differences from Python", r.stdout
    membership = VECTORS["membership"]
    accepted = sum(m["ok"] for m in membership)
    assert f"membership proofs: {len(membership)}, accepted {accepted}, rejected {len(membership) - accepted}" in lines
    proofs = VECTORS["inclusion"]
    good = sum(c["expect"]["verdict"] == "ok" for c in proofs)
    edits = sum(len(c["edits"]) for c in proofs)
    assert (f"inclusion proofs: {len(proofs)}, accepted {good}, rejected {len(proofs) - good}; "
            f"tampered variants: {edits}") in lines
    assert 0 < good < len(proofs) and edits > 1900


def test_byte_api_is_exported(prefix):
    from test_c_library import exported
    symbols = set(exported(prefix / "lib" / f"libedgeacc.so.{edgeacc.__version__}"))
    assert {"ea_bytes_rsa2048", "ea_bytes_hash_to_prime", "ea_bytes_check_representative",
            "ea_bytes_generator", "ea_bytes_verify_membership", "ea_bytes_batch_verify",
            "ea_bytes_verify_inclusion", "ea_inclusion_reason_name", "ea_derive_generator"} <= symbols
