"""Write tests/data/capi_vectors.json: answers of the Python implementation (edgeacc and the
ledger) that the C byte API (csrc/ea_bytes.h) and the Go consumer (tests/go/verify) must give
exactly. Deterministic; run from the repository root:

    python tests/data/make_capi_vectors.py > tests/data/capi_vectors.json

Inclusion proofs are built from a small chain made here (transactions with fixed signature
bytes: an inclusion proof does not prove signatures). Each good proof comes with tampered
variants, given as edits of its bytes (xor a byte, truncate, append) with Python's verdict
(an edit of the header's own accumulator value, which the proof does not prove, keeps "ok"
and the same proven fields).
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import edgeacc  # noqa: E402
from edgeacc import _core  # noqa: E402
from ledger.block import Block, BlockHeader, SignedHeader  # noqa: E402
from ledger.errors import LedgerError  # noqa: E402
from ledger.merkle import merkle_root  # noqa: E402
from ledger.protocol1 import InclusionProof, ProofRejected, verify_inclusion  # noqa: E402
from ledger.tx import Transaction, TxKind  # noqa: E402

CHAIN = "edge-0"
BLOCK_SIZES = (1, 2, 3, 5)


def toy_params() -> edgeacc.Params:
    return edgeacc.generate_insecure_params(512, seed=11)


def element_hex(P: edgeacc.Params, y: int) -> str:
    return y.to_bytes(P.element_bytes, "big").hex()


def python_verdict(P: edgeacc.Params, proof: bytes, chain_id: str, acc: int, height: int) -> dict:
    """What the ledger answers for these proof bytes: {"verdict": code} and, when it holds,
    the proven transaction and block content."""
    try:
        decoded = InclusionProof.from_bytes(P, proof)
    except LedgerError:
        return {"verdict": "malformed"}
    try:
        tx, content = verify_inclusion(P, decoded, chain_id, acc, height)
    except ProofRejected as exc:
        return {"verdict": exc.code}
    return {"verdict": "ok", "tx": tx.to_bytes().hex(), "tx_id": tx.tx_id.hex(), "kind": int(tx.kind),
            "height": content.height, "previous": content.previous.hex(),
            "timestamp_ms": content.timestamp_ms, "merkle_root": content.merkle_root.hex(),
            "tx_count": content.tx_count}


def transaction(i: int, chain_id: str = CHAIN) -> Transaction:
    pointer = {}
    if i % 3 == 1:   # an object pointer with a non-ASCII URL (UTF-8 in the encoding)
        pointer = {"object_digest": hashlib.sha256(b"obj %d" % i).digest(),
                   "object_url": f"file:///objects/é-{i}"}
    return Transaction(TxKind.RECORD, chain_id, hashlib.sha256(b"submitter").digest(), 1_700_000_000_000 + i,
                       i, b"reading %d" % i, signature=hashlib.sha512(b"sig %d" % i).digest(), **pointer)


def build_chain(P: edgeacc.Params):
    """Blocks of BLOCK_SIZES transactions, their accumulator values, and the accumulator."""
    acc = edgeacc.Accumulator(P, P.generator(CHAIN.encode()))
    blocks, previous, t = [], bytes(32), 0
    for height, size in enumerate(BLOCK_SIZES):
        txs = [transaction(t + k) for k in range(size)]
        t += size
        root = merkle_root([tx.leaf for tx in txs])
        stub = BlockHeader(CHAIN, height, previous, 1_700_000_000_000 + height, root, size, 0, 0, b"")
        x, k = edgeacc.hash_to_prime(stub.element_data())
        acc.add(x)
        header = BlockHeader(CHAIN, height, previous, stub.timestamp_ms, root, size, x, k,
                             edgeacc.encode_element(P, acc.value))
        blocks.append(Block(SignedHeader(header, ()), tuple(txs)))
        previous = header.digest
    return blocks, acc


def replace_witness(P: edgeacc.Params, proof: bytes, witness: int) -> bytes:
    """The proof bytes with the witness field overwritten by `witness` (any encoding)."""
    w = P.element_bytes
    at = len(proof) - 8 - w
    return proof[:at] + witness.to_bytes(w, "big") + proof[at + w:]


def inclusion_cases(P: edgeacc.Params, label: str, mutate_all: bool) -> list[dict]:
    blocks, acc = build_chain(P)
    top = len(blocks) - 1
    value = acc.value
    cases = []

    def case(name, proof, chain_id=CHAIN, acc_value=value, height=top, edits=()):
        expected = python_verdict(P, proof, chain_id, acc_value, height)
        cases.append({"name": name, "modulus": label, "proof": proof.hex(), "chain_id": chain_id,
                      "acc": element_hex(P, acc_value), "acc_height": height, "expect": expected,
                      "edits": list(edits)})
        return expected

    good = []
    for b in blocks:
        for pos in range(len(b.transactions)):
            proof = InclusionProof.for_transaction(b, pos, acc.witness(b.height), top).to_bytes(P)
            assert case(f"block {b.height} tx {pos}", proof)["verdict"] == "ok"
            good.append((b, pos, proof))
    b, pos, proof = good[-2]
    w = acc.witness(b.height)
    other = InclusionProof.for_transaction(blocks[1], 0, acc.witness(1), top)
    forged = [
        ("expected another chain", proof, {"chain_id": "edge-1"}),
        ("against another height", proof, {"height": top - 1}),
        ("another accumulator value", proof, {"acc_value": edgeacc.decode_element(P, blocks[1].header.acc_value)}),
        ("witness of another block", replace_witness(P, proof, _core.canonical(acc.witness(1), P.n)), {}),
        ("non-canonical witness", replace_witness(P, proof, max(w, P.n - w)), {}),
        ("witness 1", replace_witness(P, proof, 1), {}),
        ("another position", InclusionProof(CHAIN, b.tx_bytes[pos], b.header.encoded, (pos + 1) % len(b.transactions),
                                            tuple(InclusionProof.for_transaction(b, pos, w, top).path), w, top).to_bytes(P), {}),
        ("another block's header", InclusionProof(CHAIN, b.tx_bytes[pos], blocks[1].header.encoded, 0,
                                                  other.path, w, top).to_bytes(P), {}),
        ("block after the accumulated height", InclusionProof.for_transaction(
            blocks[top], 0, acc.witness(top), top - 1).to_bytes(P),
         {"height": top - 1, "acc_value": edgeacc.decode_element(P, blocks[top - 1].header.acc_value)}),
    ]
    for name, data, kw in forged:
        assert case(name, data, **kw)["verdict"] != "ok", name
    # edits of a good proof's bytes: every byte (or a stride of them), truncations, an extra byte
    for b, pos, proof in (good[-2],) + ((good[0],) if mutate_all else ()):
        stride = 1 if mutate_all else 7
        edits = [{"xor": [at, 0x01 if at % 2 else 0x80]} for at in range(0, len(proof), stride)]
        edits += [{"truncate": n} for n in range(0, len(proof), max(1, len(proof) // 40))]
        edits += [{"append": "00"}]
        base = python_verdict(P, proof, CHAIN, value, top)
        for e in edits:
            got = python_verdict(P, apply_edit(proof, e), CHAIN, value, top)
            # the header's own accumulator value is not proven: editing it changes no proven field
            assert got["verdict"] != "ok" or got == base, e
            e["expect"] = got["verdict"]
        case(f"edits of block {b.height} tx {pos}", proof, edits=edits)
    return cases


def apply_edit(proof: bytes, edit: dict) -> bytes:
    if "xor" in edit:
        at, mask = edit["xor"]
        return proof[:at] + bytes([proof[at] ^ mask]) + proof[at + 1:]
    if "truncate" in edit:
        return proof[:edit["truncate"]]
    return proof + bytes.fromhex(edit["append"])


def main() -> None:
    rsa, toy = edgeacc.Params.rsa2048(), toy_params()
    moduli = {"rsa2048": rsa, "toy512": toy}
    datas = [b"a", b"block 1", bytes(range(256)), b"\x00" * 3]
    h2p = []
    for d in datas:
        x, k = edgeacc.hash_to_prime(d)
        h2p.append({"data": d.hex(), "x": x.to_bytes(32, "big").hex(), "nonce": k})
    representatives = []
    for d, (x, k) in ((d, edgeacc.hash_to_prime(d)) for d in datas):
        for name, xx, kk in (("good", x, k), ("x + 2", x + 2, k), ("nonce + 1", x, k + 1),
                             ("nonce at the bound", x, _core.H2P_MAX_NONCE)):
            representatives.append({"name": name, "data": d.hex(), "x": xx.to_bytes(32, "big").hex(),
                                    "nonce": kk, "ok": edgeacc.check_representative(d, xx, kk)})
    generators = [{"modulus": label, "chain_id": cid.hex(), "g": element_hex(P, P.generator(cid))}
                  for label, P in moduli.items() for cid in (b"main", b"edge-0", b"\xff" * 70)]
    membership, batches = [], []
    for label, P in moduli.items():
        acc = edgeacc.Accumulator(P, P.generator(b"capi"))
        xs = [edgeacc.hash_to_prime(b"m%d" % i)[0] for i in range(5)]
        acc.add_many(xs)
        ws, v = acc.all_witnesses(), acc.value
        items = [(ws[0], xs[0], v, "good"), (P.n - ws[0], xs[0], v, "witness -w"),
                 (ws[0], xs[0], P.n - v, "value -v"), (ws[1], xs[0], v, "wrong witness"),
                 (ws[0], xs[0] + 2, v, "wrong element"), (ws[0], xs[0] * xs[1], v, "composite")]
        for w, x, vv, name in items:
            membership.append({"name": name, "modulus": label, "w": element_hex(P, w),
                               "x": x.to_bytes((x.bit_length() + 7) // 8, "big").hex(),
                               "v": element_hex(P, vv), "ok": edgeacc.verify_membership(P, w, x, vv)})
        good = [(w, x, v) for w, x in zip(ws, xs)]
        for name, its in (("all good", good), ("one swapped", good[:2] + [(ws[3], xs[2], v)] + good[3:]),
                          ("two bad", [(ws[1], xs[0], v)] + good[1:4] + [(P.n - 2, xs[4], v)])):
            batches.append({"name": name, "modulus": label,
                            "items": [[element_hex(P, w), x.to_bytes(32, "big").hex(), element_hex(P, vv)]
                                      for w, x, vv in its],
                            "bad": edgeacc.batch_verify(P, its)})
    out = {
        "moduli": {label: P.n.to_bytes(P.element_bytes, "big").hex() for label, P in moduli.items()},
        "hash_to_prime": h2p, "representatives": representatives, "generators": generators,
        "membership": membership, "batches": batches,
        "inclusion": inclusion_cases(rsa, "rsa2048", True) + inclusion_cases(toy, "toy512", False),
    }
    json.dump(out, sys.stdout, indent=0, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
