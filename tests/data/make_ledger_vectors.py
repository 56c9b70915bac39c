"""Make tests/data/ledger_vectors.json: known-answer encodings of the ledger's version-1 layouts.

Written from the layout in ledger/tx.py and ledger/block.py docstrings with struct and hashlib
only (no ledger import), so the tests compare two independent writers. Ed25519 signatures are
deterministic (RFC 8032), so fixed seeds give fixed bytes. The accumulator element comes from
edgeacc.hash_to_prime (the engine has its own vectors) and the value from Python's pow().

    python tests/data/make_ledger_vectors.py > tests/data/ledger_vectors.json
"""
import hashlib
import json
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import edgeacc


def text16(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def key(seed_byte: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32)


def raw_pub(k: Ed25519PrivateKey) -> bytes:
    return k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def tx(k, fingerprint: bytes, kind: int, chain: str, ts: int, nonce: int, payload: bytes,
       obj_digest: bytes = b"", obj_url: str = "") -> dict:
    body = (b"EATX" + bytes([1, kind]) + text16(chain) + fingerprint + struct.pack(">QQ", ts, nonce)
            + struct.pack(">I", len(payload)) + payload + bytes([len(obj_digest)]) + obj_digest
            + text16(obj_url))
    tx_id = hashlib.sha256(body).digest()
    sig = k.sign(b"edgeacc/tx/v1" + tx_id)
    return {"kind": kind, "chain_id": chain, "submitter": fingerprint.hex(), "timestamp_ms": ts,
            "nonce": nonce, "payload": payload.hex(), "object_digest": obj_digest.hex(),
            "object_url": obj_url, "public_key": raw_pub(k).hex(), "tx_id": tx_id.hex(),
            "encoding": (body + sig).hex()}


def merkle(leaves):
    level = list(leaves)
    if not level:
        return hashlib.sha256(b"").digest()
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def main() -> None:
    P = edgeacc.Params.rsa2048()
    client, peer_a, peer_b = key(1), key(2), key(3)
    fp_client = hashlib.sha256(b"client certificate stand-in").digest()
    fp_a, fp_b = sorted([hashlib.sha256(b"peer a").digest(), hashlib.sha256(b"peer b").digest()])
    txs = [
        tx(client, fp_client, 1, "edge-0", 1_700_000_000_000, 1, b"reading 42"),
        tx(client, fp_client, 1, "edge-0", 1_700_000_000_001, 2, b"",
           hashlib.sha256(b"object").digest(), "file:///data/objects/ab/cd"),
        tx(client, fp_client, 1, "edge-0", 1_700_000_000_002, 3, bytes(range(256)) * 4),
    ]
    tx_bytes = [bytes.fromhex(t["encoding"]) for t in txs]
    root = merkle([hashlib.sha256(b"\x00" + b).digest() for b in tx_bytes])
    chain, height, previous, ts = "edge-0", 0, bytes(32), 1_700_000_000_010
    content = (b"EABH" + bytes([1]) + text16(chain) + struct.pack(">Q", height) + previous
               + struct.pack(">Q", ts) + root + struct.pack(">I", len(txs)))
    x, k = edgeacc.hash_to_prime(b"edgeacc/block/v1" + content)
    g = P.generator(chain.encode())
    v = pow(g, x, P.n)
    v = min(v, P.n - v)
    value = v.to_bytes(P.element_bytes, "big")
    header = content + x.to_bytes(32, "big") + struct.pack(">I", k) + struct.pack(">H", len(value)) + value
    digest = hashlib.sha256(header).digest()
    endorsements = [(fp_a, peer_a.sign(b"edgeacc/endorse/v1" + digest)), (fp_b, peer_b.sign(b"edgeacc/endorse/v1" + digest))]
    signed = (b"EASH" + bytes([1]) + struct.pack(">I", len(header)) + header + struct.pack(">H", 2)
              + b"".join(fp + sig for fp, sig in endorsements))
    block = (b"EABK" + bytes([1]) + struct.pack(">I", len(signed)) + signed + struct.pack(">I", len(txs))
             + b"".join(struct.pack(">I", len(b)) + b for b in tx_bytes))
    witness = g.to_bytes(P.element_bytes, "big")  # a Type-II's continuity witness field
    type2 = b"EAS2" + bytes([1]) + struct.pack(">I", len(signed)) + signed + struct.pack(">H", len(witness)) + witness
    out = {
        "about": "ledger encoding version 1 known answers; made by tests/data/make_ledger_vectors.py",
        "transactions": txs,
        "block": {
            "chain_id": chain, "height": height, "previous": previous.hex(), "timestamp_ms": ts,
            "merkle_root": root.hex(), "tx_count": len(txs), "acc_element": hex(x), "acc_nonce": k,
            "acc_value": value.hex(), "generator": hex(g), "digest": digest.hex(),
            "endorsers": [{"fingerprint": fp.hex(), "public_key": raw_pub(kk).hex()}
                          for fp, kk in zip((fp_a, fp_b), (peer_a, peer_b))],
            "header_encoding": header.hex(), "signed_encoding": signed.hex(), "encoding": block.hex(),
        },
        "subchain_status": {"witness": witness.hex(), "encoding": type2.hex()},
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
