"""Self-demo of the engine: python -m edgeacc [--items N]."""
from __future__ import annotations

import argparse
import time

import edgeacc

MAX_ITEMS = 1_000_000      # a demo: about a minute of hash-to-prime at this size


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeacc", description=__doc__)
    ap.add_argument("--items", type=int, default=1000, help="elements to accumulate")
    args = ap.parse_args(argv)
    if not 2 <= args.items <= MAX_ITEMS:
        ap.error(f"--items must be in 2..{MAX_ITEMS}")

    P = edgeacc.Params.rsa2048()
    acc = edgeacc.Accumulator(P, P.generator(b"edgeacc-demo"))
    print(f"modulus: RSA-2048 challenge number ({P.bits} bits)")

    t0 = time.perf_counter()
    reps = [edgeacc.hash_to_prime(b"record-%d" % i) for i in range(args.items)]
    t1 = time.perf_counter()
    acc.add_many([x for x, _ in reps])
    t2 = time.perf_counter()
    print(f"hash_to_prime: {args.items} records in {t1 - t0:.3f} s "
          f"({(t1 - t0) / args.items * 1e6:.0f} us each)")
    print(f"add_many: {args.items} elements, one exponentiation, {t2 - t1:.3f} s")

    i = args.items // 2
    x, k = reps[i]
    w = acc.witness(i)
    proof = edgeacc.MembershipProof(x, k, w)
    raw = proof.to_bytes(P)
    ok = edgeacc.MembershipProof.from_bytes(P, raw).verify(P, b"record-%d" % i, acc.value)
    print(f"membership proof for record-{i}: {len(raw)} bytes, verifies: {ok}")
    wrong = proof.verify(P, b"record-%d" % (i + 1), acc.value)
    tampered = edgeacc.MembershipProof(x, k, edgeacc.powm(w, 3, P.n)).verify(P, b"record-%d" % i, acc.value)
    print(f"same proof for another record: {wrong}; tampered witness: {tampered}")
    return 0 if ok and not wrong and not tampered else 1


if __name__ == "__main__":
    raise SystemExit(main())
