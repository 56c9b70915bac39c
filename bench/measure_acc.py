"""One-run measurement of issue 14's operations against the gmpy2 baseline
(bench/baseline_acc_gmpy2.py): non-membership create/verify, batch non-membership verify,
delete, batch delete, verifiable batch-add proof create/verify, PoKE2 verify.

    python -m bench.measure_acc [--quick] [--json out.json]

2048-bit N (RSA-2048), every ratio from timings taken in this one process (best of several
runs for short operations, one run for long ones). Prints a Markdown report.
"""
import argparse
import json
import os
import sys

import gmpy2

import edgeacc
from edgeacc import poe, poke, updates
from edgeacc.batch import _weights

from . import baseline_acc_gmpy2 as base
from .baseline_gmpy2 import _product
from .common import P, best, digests
from .measure_batch import once


def reps(count, seed):
    return [edgeacc.hash_to_prime(d)[0] for d in digests(count, seed=seed)]


def accumulator(xs, tag):
    acc = edgeacc.Accumulator(P, P.generator(tag))
    acc.add_many(xs)
    return acc


def row(lines, out, name, t_c, t_py, note=""):
    out[name] = {"edgeacc_ms": t_c * 1e3, "gmpy2_ms": t_py * 1e3, "ratio": t_py / t_c}
    lines.append(f"| {name} | {t_c * 1e3:.3f} ms | {t_py * 1e3:.3f} ms | {t_py / t_c:.2f}x | {note} |")


def add_context(X, count):
    return updates.update_context("add", count, poe.commit_exponent(X))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args(argv)
    rep = 3 if args.quick else 10
    n = P.n
    out = {"cpu_count": os.cpu_count(), "gmp": gmpy2.mp_version(), "N_bits": P.bits}
    lines = [f"# edgeacc issue 14 operations vs gmpy2 baseline ({P.bits}-bit N, {os.cpu_count()} CPUs, "
             f"gmpy2 {gmpy2.version()} on {gmpy2.mp_version()})", "",
             f"Load average at start: {os.getloadavg()[0]:.2f}.", "",
             "| operation | edgeacc | gmpy2 (same algorithm) | ratio | note |", "|---|---|---|---|---|"]
    members = reps(2000, 21)
    ys = reps(1024, 22)

    # non-membership against 100 elements (X of 25,600 bits)
    acc = accumulator(members[:100], b"m-nm")
    g, v = acc.g, acc.value
    t_c = best(lambda: acc.nonmembership_witness(ys[0]), rep)
    t_py = best(lambda: base.nonmem_create(n, g, _product(members[:100]), ys[0]), rep)
    row(lines, out, "non-membership create (100 elements)", t_c, t_py, "one exponentiation by ~X")
    nw = acc.nonmembership_witness(ys[0])
    assert base.nonmem_verify(n, g, v, ys[0], *nw) and acc.verify_nonmembership(ys[0], nw)
    t_c = best(lambda: acc.verify_nonmembership(ys[0], nw), rep * 20)
    t_py = best(lambda: base.nonmem_verify(n, g, v, ys[0], *nw), rep * 20)
    row(lines, out, "non-membership verify", t_c, t_py)
    for t in (16, 1024):
        nws = acc.nonmembership_witnesses(ys[:t])
        items = list(zip(ys[:t], nws))
        t_c = best(lambda: edgeacc.batch_verify_nonmembership(P, g, v, items), max(2, rep * 16 // t))
        t_py = best(lambda: base.nonmem_batch_verify(n, g, v, items, _weights(t, 128)), max(2, rep * 16 // t))
        t_ind = best(lambda: [base.nonmem_verify(n, g, v, y, *w) for y, w in items], max(2, rep * 16 // t))
        row(lines, out, f"batch non-membership verify t={t}", t_c, t_py,
            f"{t_c / t * 1e6:.0f} us/item; {t_ind / t_c:.1f}x vs t independent gmpy2 checks")
    t_c, _ = once(lambda: acc.nonmembership_witnesses(ys[:1024]))
    out["batch non-membership create t=1024 (100 elements)_ms"] = t_c * 1e3
    single = best(lambda: acc.nonmembership_witness(ys[0]), 2)
    lines.append(f"| batch non-membership create t=1024 (100 elements) | {t_c * 1e3:.0f} ms | - | - | "
                 f"{1024 * single / t_c:.0f}x vs 1024 single creations in edgeacc |")

    # deletion: one element of 100, then 1000 of 2000
    copies = [accumulator(members[:100], b"m-del") for _ in range(rep)]
    w, v_del = copies[0].witness(50), copies[0].value
    it = iter(copies)
    t_c = best(lambda: next(it).delete(members[50], w), rep)
    t_py = best(lambda: base.delete(n, v_del, members[50], w), rep)
    row(lines, out, "delete (with its witness)", t_c, t_py, "the witness check dominates")
    big = accumulator(members, b"m-bdel")
    ws = big.witnesses(range(1000))
    v_big = big.value
    t_py, v_py = once(lambda: base.batch_delete(n, v_big, members[:1000], ws, _weights(1000, 128)))
    t_agg, (v_agg, _) = once(lambda: edgeacc.aggregate_witnesses(P, list(zip(ws, members[:1000]))))
    t_c, v_c = once(lambda: big.delete_many(members[:1000], ws))
    assert v_py == v_agg and edgeacc.encode_element(P, v_c) == edgeacc.encode_element(P, v_py)
    row(lines, out, "batch delete n=1000 of 2000: Shamir tree", t_agg, t_py,
        "aggregate_witnesses vs the same tree in gmpy2 (check included there)")
    row(lines, out, "batch delete n=1000 of 2000: Accumulator.delete_many", t_c, t_py,
        "check + the cheaper way (stored prefix here)")

    # verifiable batch add of 1000 elements
    acc = accumulator(members[:10], b"m-add")
    v0 = acc.value
    batch = members[1000:2000]
    t_c, (v1, proof) = once(lambda: acc.add_many_with_proof(batch))
    t_py, (v1p, Qp, pkp) = once(lambda: base.batch_add_proof(P, acc.g, v0, batch, lambda X: add_context(X, 1000)))
    assert v1p == v1 and (proof.poe.Q in (Qp, n - Qp))
    row(lines, out, "batch-add proof create, 1000 elements", t_c, t_py, "add + PoE + PoKE2 (4 exponentiations by X)")
    t_c = best(lambda: edgeacc.verify_update(P, acc.g, v0, v1, proof, elements=batch), rep)
    t_py = best(lambda: base.batch_add_verify(P, acc.g, v0, v1, batch, proof.poe.Q,
                                              (proof.poke.z, proof.poke.Q, proof.poke.r),
                                              lambda X: add_context(X, 1000)), rep)
    assert edgeacc.verify_update(P, acc.g, v0, v1, proof, elements=batch)
    row(lines, out, "batch-add proof verify, 1000 elements", t_c, t_py, "BPSW of each element, product, PoE, PoKE2")
    t_light = best(lambda: edgeacc.verify_update(P, acc.g, v0, v1, proof), rep * 5)
    ctx = proof.context()
    t_py = best(lambda: base.poke2_verify(n, acc.g, v0, v1, (proof.poke.z, proof.poke.Q, proof.poke.r), ctx), rep * 5)
    t_pk = best(lambda: poke.verify(P, acc.g, v0, v1, proof.poke, ctx), rep * 5)
    row(lines, out, "PoKE2 verify", t_pk, t_py)
    out["light_update_verify_ms"] = t_light * 1e3
    lines += ["", f"Light client (no elements, PoKE2 only): verify_update {t_light * 1e3:.3f} ms.", ""]

    # what a device reading pays at the edge for the revocation check (ledger.revocation)
    from ledger.revocation import RevocationState, device_element
    state = RevocationState(P)
    fps = [d for d in digests(101, seed=23)]
    state = state.applied(state.next_record(fps[1:]))          # 100 devices revoked
    proof = state.issue(fps[0])
    t_check = best(lambda: state.check_not_revoked(fps[0], proof), rep * 20)
    t_rep = best(lambda: (device_element.cache_clear(), device_element(fps[0])), rep * 5)
    out["revocation_check_per_reading_ms"] = t_check * 1e3
    out["revocation_representative_ms"] = t_rep * 1e3
    lines += [f"Revocation check per reading at the edge (after 100 revocations): {t_check * 1e3:.3f} ms "
              f"(one non-membership check; the device's representative, cached, costs {t_rep * 1e3:.3f} ms "
              "the first time).", ""]
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
