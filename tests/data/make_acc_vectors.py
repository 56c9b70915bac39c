"""Make tests/data/acc_vectors.json - non-membership, deletion, PoKE2, set non-membership and
batch-update proofs - independently of the code under test.

Everything is computed with gmpy2 and hashlib from the formulas of DESIGN.md section 2 and
the layouts documented in csrc/ea_poke.h, csrc/ea_protocol.h and the edgeacc.nonmem /
edgeacc.updates docstrings; edgeacc is not imported (hash-to-prime and generators come from
the sibling make_vectors.py, itself independent). Run from the repository root:

    python tests/data/make_acc_vectors.py > tests/data/acc_vectors.json
"""
import hashlib
import json
import os
import struct
import sys

import gmpy2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vectors import RSA_2048, generator, h2p, hash_to_group, toy_modulus  # noqa: E402

VERSION = 1


def width(n):
    return (n.bit_length() + 7) // 8


def canon(y, n):
    y %= n
    return min(y, n - y)


def enc(y, n):
    return canon(y, n).to_bytes(width(n), "big")


def prod(xs):
    r = gmpy2.mpz(1)
    for x in xs:
        r *= x
    return int(r)


def power(b, e, n):
    """b^e mod n for an exponent of any sign."""
    if e < 0:
        b, e = int(gmpy2.invert(b, n)), -e
    return int(gmpy2.powmod(b, e, n))


def nonmem(g, X, y, n):
    """Li-Li-Xue: a = X^-1 mod y, b = (1 - a X) / y, (a, canonical g^b)."""
    a = int(gmpy2.invert(X, y))
    b = (1 - a * X) // y
    return a, canon(power(g, b, n), n)


def commit(X):
    raw = X.to_bytes((X.bit_length() + 7) // 8, "big")
    return hashlib.sha256(b"edgeacc/poe/X" + struct.pack(">Q", len(raw)) + raw).digest()


def poe(w, X, v, n):
    """NI-PoE (edgeacc.poe): l = h2p_128(SHA-256(N) | w | v | commit(X)), Q = w^(X div l)."""
    data = hashlib.sha256(n.to_bytes(width(n), "big")).digest() + enc(w, n) + enc(v, n) + commit(X)
    l, _ = h2p(data, domain=b"edgeacc/poe", bits=128)
    return canon(power(w, X // l, n), n)


def poke2(g, u, w, x, ctx, n):
    """PoKE2 as csrc/ea_poke.h describes: (z, Q, r), on the base h hashed from the statement."""
    head = hashlib.sha256(n.to_bytes(width(n), "big")).digest() + enc(g, n) + enc(u, n) + enc(w, n)
    h = hash_to_group(n, b"edgeacc/poke2/base", head + ctx)
    z = power(h, x, n)
    data = head + enc(z, n) + ctx
    l, _ = h2p(data, domain=b"edgeacc/poke2", bits=128)
    dom = b"edgeacc/poke2/alpha"
    alpha = int.from_bytes(hashlib.sha256(bytes([len(dom)]) + dom + data + l.to_bytes(16, "big")).digest()[:16], "big")
    base = power(h, alpha, n) * u % n
    return canon(z, n), canon(power(base, x // l, n), n), x % l


def poke2_fields(p, n):
    z, Q, r = p
    return enc(z, n) + enc(Q, n) + r.to_bytes(16, "big")


def case(n, insecure, chain_id, count, absent):
    g = generator(n, chain_id)
    xs = [h2p(b"member-%d" % i)[0] for i in range(count)]
    ys = [h2p(b"absent-%d" % i)[0] for i in range(absent)]
    added = [h2p(b"added-%d" % i)[0] for i in range(2)]
    X = prod(xs)
    v = power(g, X, n)
    out = {"n": hex(n), "insecure": insecure, "chain_id": chain_id.hex(),
           "members": [hex(x) for x in xs], "absent": [hex(y) for y in ys], "added": [hex(x) for x in added],
           "value": hex(canon(v, n))}
    nws = [nonmem(g, X, y, n) for y in ys]
    out["nonmembership"] = [[hex(a), hex(B)] for a, B in nws]
    out["nonmembership_bytes"] = [(b"EANM" + bytes([VERSION]) + a.to_bytes(32, "big") + B.to_bytes(width(n), "big")).hex()
                                  for a, B in nws]
    # after adding `added`: the unique canonical witnesses against the new value
    X2 = X * prod(added)
    out["value_after_add"] = hex(canon(power(g, X2, n), n))
    out["nonmembership_after_add"] = [[hex(a), hex(B)] for a, B in (nonmem(g, X2, y, n) for y in ys)]
    # deleting members 0 and 2: the new value and the remaining members' witnesses
    gone = [xs[0], xs[2]]
    rest = [x for x in xs if x not in gone]
    Xr = prod(rest)
    out["deleted"] = [0, 2]
    out["value_after_delete"] = hex(canon(power(g, Xr, n), n))
    out["witnesses_after_delete"] = [hex(canon(power(g, Xr // x, n), n)) for x in rest]
    out["nonmembership_after_delete"] = [[hex(a), hex(B)] for a, B in (nonmem(g, Xr, y, n) for y in ys)]
    # PoKE2 of v = g^X with base g... here u = g^(member 0), x = X / member 0, context "kat"
    u = power(g, xs[0], n)
    p = poke2(g, u, v, X // xs[0], b"kat", n)
    out["poke2"] = {"u": hex(canon(u, n)), "w": hex(canon(v, n)), "x": hex(X // xs[0]), "context": b"kat".hex(),
                    "z": hex(p[0]), "Q": hex(p[1]), "r": hex(p[2]),
                    "bytes": (b"EAK2" + bytes([VERSION]) + poke2_fields(p, n)).hex()}
    # constant-size non-membership of every absent element
    Y = prod(ys)
    A, B = nonmem(g, X, Y, n)
    V = canon(power(v, A, n), n)
    ctx = b"edgeacc/nonmem-set" + enc(B, n) + commit(Y)
    pk = poke2(g, v, V, A, ctx, n)
    Qe = poe(B, Y, g * int(gmpy2.invert(V, n)) % n, n)
    out["set_nonmembership"] = (b"EANS" + bytes([VERSION]) + enc(V, n) + enc(B, n) + enc(Qe, n)
                                + poke2_fields(pk, n)).hex()
    # batch-update proofs: add `added` to v, then delete members 0 and 2 from v
    for kind, code, base, result, batch in (("add", 1, v, power(g, X2, n), added),
                                             ("delete", 2, power(g, Xr, n), v, gone)):
        E = prod(batch)
        head = struct.pack(">BI", code, len(batch)) + commit(E)
        pk = poke2(g, base, result, E, b"edgeacc/update" + head, n)
        out[f"update_{kind}"] = (b"EAUP" + bytes([VERSION]) + head + enc(poe(base, E, result, n), n)
                                 + poke2_fields(pk, n)).hex()
    return out


def main():
    doc = {
        "generated_by": "tests/data/make_acc_vectors.py (gmpy2 %s, %s)" % (gmpy2.version(), gmpy2.mp_version()),
        "cases": [case(RSA_2048, False, b"acc-kat", 5, 3), case(toy_modulus(), True, b"acc-toy", 4, 2)],
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
