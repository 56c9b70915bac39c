"""The byte API's parsers and verifiers of non-membership witnesses, PoKE2 and batch-update
proofs (csrc/ea_bytes.h) through the installed library and ctypes: the same verdicts as
Python on the independent vectors (tests/data/make_acc_vectors.py), strict parsing (every
tampered, truncated or non-canonical encoding refused), hostile arguments a status."""
import ctypes
import json
import shutil
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_ubyte, c_uint32
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

import edgeacc

ROOT = Path(__file__).resolve().parent.parent
DOC = json.loads((ROOT / "tests" / "data" / "acc_vectors.json").read_text())
pytestmark = pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                                reason="needs make and cc")
EA_OK, EA_ERR_EXPONENT, EA_ERR_ELEMENT, EA_ERR_ARGUMENT = 0, 2, 3, 4


class Update(ctypes.Structure):
    _fields_ = [("kind", c_int), ("count", c_uint32), ("commitment", c_ubyte * 32)]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    from test_c_library import build
    c = ctypes.CDLL(str(build(tmp_path_factory.mktemp("capi-acc")) / "lib" / f"libedgeacc.so.{edgeacc.__version__}"))
    sz = c_size_t
    c.ea_bytes_verify_nonmembership.argtypes = [POINTER(c_int)] + [c_char_p, sz] * 5
    c.ea_bytes_verify_poke2.argtypes = [POINTER(c_int)] + [c_char_p, sz] * 6
    c.ea_bytes_verify_update.argtypes = [POINTER(c_int), POINTER(Update)] + [c_char_p, sz] * 5
    return c


def _b(h, width):
    return int(h, 16).to_bytes(width, "big")


def nonmem(lib, g, v, y, nw, n):
    ok = c_int(-1)
    rc = lib.ea_bytes_verify_nonmembership(byref(ok), g, len(g), v, len(v), y, len(y), nw, len(nw), n, len(n))
    return rc, ok.value


def poke2(lib, proof, g, u, w, ctx, n):
    ok = c_int(-1)
    rc = lib.ea_bytes_verify_poke2(byref(ok), proof, len(proof), g, len(g), u, len(u), w, len(w), ctx, len(ctx),
                                   n, len(n))
    return rc, ok.value


def update(lib, proof, g, old, new, n):
    ok, up = c_int(-1), Update()
    rc = lib.ea_bytes_verify_update(byref(ok), byref(up), proof, len(proof), g, len(g), old, len(old), new, len(new),
                                    n, len(n))
    return rc, ok.value, (up.kind, up.count, bytes(up.commitment))


def _tamperings(data: bytes, skip=range(0)):
    """A bit flipped at a spread of positions (outside ``skip``), a truncation, an extension."""
    for i in sorted({0, 4, 5, 6, 9, 10, 41, 42, len(data) // 2, len(data) - 17, len(data) - 1}):
        if 0 <= i < len(data) and i not in skip:
            yield data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]
    yield data[:-1]
    yield data + b"\0"


@pytest.mark.parametrize("case", DOC["cases"], ids=lambda c: c["chain_id"])
def test_vectors_and_tamperings(lib, case):
    n_int = int(case["n"], 16)
    P = edgeacc.Params(n_int, insecure=case["insecure"])
    k = P.element_bytes
    n = n_int.to_bytes(k, "big")
    g = P.generator(bytes.fromhex(case["chain_id"])).to_bytes(k, "big")
    v = _b(case["value"], k)
    ys = [_b(y, 32) for y in case["absent"]]
    for y, nw_hex in zip(ys, case["nonmembership_bytes"]):
        nw = bytes.fromhex(nw_hex)
        assert nonmem(lib, g, v, y, nw, n) == (EA_OK, 1)
        assert nonmem(lib, g, v, ys[-1] if y != ys[-1] else ys[0], nw, n) == (EA_OK, 0)   # another element
        for bad in _tamperings(nw):
            assert nonmem(lib, g, v, y, bad, n) == (EA_OK, 0)
        B = int.from_bytes(nw[37:], "big")      # N - B: the same class, not the canonical encoding
        assert nonmem(lib, g, v, y, nw[:37] + (n_int - B).to_bytes(k, "big"), n) == (EA_OK, 0)
    p = case["poke2"]
    proof, u, w, ctx = bytes.fromhex(p["bytes"]), _b(p["u"], k), _b(p["w"], k), bytes.fromhex(p["context"])
    assert poke2(lib, proof, g, u, w, ctx, n) == (EA_OK, 1)
    assert poke2(lib, proof, g, u, w, ctx + b"!", n) == (EA_OK, 0)
    assert poke2(lib, proof, g, w, u, ctx, n) == (EA_OK, 0)
    for bad in _tamperings(proof):
        assert poke2(lib, bad, g, u, w, ctx, n) == (EA_OK, 0)
    v_add, v_del = _b(case["value_after_add"], k), _b(case["value_after_delete"], k)
    for hexproof, old, new, kind in ((case["update_add"], v, v_add, 1), (case["update_delete"], v, v_del, 2)):
        data = bytes.fromhex(hexproof)
        parsed = edgeacc.BatchUpdateProof.from_bytes(P, data)
        rc, ok, stated = update(lib, data, g, old, new, n)
        assert (rc, ok) == (EA_OK, 1)
        assert stated == (kind, parsed.count, parsed.commitment)
        assert edgeacc.verify_update(P, int.from_bytes(g, "big"), int.from_bytes(old, "big"),
                                     int.from_bytes(new, "big"), parsed)
        assert update(lib, data, g, new, old, n)[:2] == (EA_OK, 0)          # reversed transition
        # the light check covers all but the PoE (bytes 42..42+k), which needs the elements
        for bad in _tamperings(data, skip=range(42, 42 + k)):
            rc, ok, stated = update(lib, bad, g, old, new, n)
            assert (rc, ok, stated) == (EA_OK, 0, (0, 0, bytes(32)))       # a rejection states nothing


def test_hostile_arguments_give_a_status(lib):
    case = DOC["cases"][1]
    n_int = int(case["n"], 16)
    k = (n_int.bit_length() + 7) // 8
    n = n_int.to_bytes(k, "big")
    nw = bytes.fromhex(case["nonmembership_bytes"][0])
    g = _b(case["value"], k)
    y = _b(case["absent"][0], 32)
    assert nonmem(lib, b"\0" * k, g, y, nw, n)[0] == EA_ERR_ELEMENT
    assert nonmem(lib, g, g, b"\x04", nw, n)[0] == EA_ERR_EXPONENT
    assert nonmem(lib, g, g, y, nw, n[:-1] + b"\x02")[0] != EA_OK          # even modulus
    ok = c_int(-1)
    assert lib.ea_bytes_verify_nonmembership(byref(ok), g, k, g, k, y, 32, None, 0, n, k) == EA_ERR_ARGUMENT
    assert lib.ea_bytes_verify_poke2(byref(ok), b"x", 1, g, k, g, k, g, k, None, 5, n, k) == EA_ERR_ARGUMENT
    assert lib.ea_bytes_verify_update(byref(ok), None, b"x", 1, g, k, g, k, g, k, n, k) == EA_ERR_ARGUMENT


@given(st.binary(max_size=400))
def test_random_bytes_are_rejected(lib, junk):
    case = DOC["cases"][1]
    n_int = int(case["n"], 16)
    k = (n_int.bit_length() + 7) // 8
    n, v, g = n_int.to_bytes(k, "big"), _b(case["value"], k), _b(case["value_after_add"], k)
    assert nonmem(lib, g, v, _b(case["absent"][0], 32), junk, n) == (EA_OK, 0)
    assert poke2(lib, junk, g, v, g, b"", n) == (EA_OK, 0)
    assert update(lib, junk, g, v, g, n)[:2] == (EA_OK, 0)
