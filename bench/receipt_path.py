"""CPU per transaction of the submission answer path, without a cluster: what the block
cutter does to answer a block's receipts on a submission stream (Node._outcomes and the
stream's messages, three receipts a message as in Table I's paced run) and what a client
does with each answer (the stream's unpacking and node.proven_receipt, the block's
endorsements checked once). The block comes from an embedded deployment.

    python bench/receipt_path.py          # this tree
    PYTHONPATH=/work/main python bench/receipt_path.py   # another tree's code, same measurement

It measures (process CPU time); it asserts nothing.
"""
from __future__ import annotations

import os
import tempfile
import time
import types

import ledger
from ledger.cluster.node import Node, proven_receipt
from ledger.cluster.transport import pack, unpack
from ledger.merkle import merkle_paths

ROUNDS = 300
PER_MESSAGE = 3


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, \
            ledger.Network.init(os.path.join(tmp, "net"), subchains=1, peers_per_chain=2) as net:
        signer = net.identity("trainer", role="client")
        for p in [net.submit("edge-0", os.urandom(32), signer=signer) for _ in range(400)]:
            p.result(60)
        peer = net.services["edge-0"].peers[0]
        block = peer.block(max(range(peer.height), key=lambda h: peer.block(h).header.tx_count))
        txs = list(block.transactions)
        receipts = [peer.receipt(tx.tx_id) for tx in txs]
        paths = merkle_paths(block.leaves, list(range(len(txs))))
        pendings = [types.SimpleNamespace(tx=tx, proof=(block.signed, paths[r.position])) for tx, r in zip(txs, receipts)]
        cutter = types.SimpleNamespace(peer=peer)

        started = time.process_time()
        for _ in range(ROUNDS):
            outcomes = Node._outcomes(cutter, pendings, receipts)  # type: ignore[arg-type]
            messages = [pack(pack(*(pack(b"%d" % n, o) for n, o in enumerate(outcomes[i:i + PER_MESSAGE]))), pack())
                        for i in range(0, len(outcomes), PER_MESSAGE)]
        cut = (time.process_time() - started) / ROUNDS / len(txs)

        verified: set[bytes] = set()
        headers: dict = {}
        started = time.process_time()
        for _ in range(ROUNDS):
            headers.clear()
            for i, message in enumerate(messages):
                pairs, _ = unpack(message, 2, "stream answer")
                for j, pair in enumerate(unpack(pairs, what="stream answer")):
                    _, outcome = unpack(pair, 2, "stream outcome")
                    _, *fields = unpack(outcome, what="outcome")
                    proven_receipt(net.deployment, txs[PER_MESSAGE * i + j], fields, verified, lambda fp: None, headers)
        client = (time.process_time() - started) / ROUNDS / len(txs)
        print(f"block of {len(txs)} tx: cutter answers {cut * 1e6:.1f} us/tx, client checks {client * 1e6:.1f} us/tx")


if __name__ == "__main__":
    main()
