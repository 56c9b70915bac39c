"""Protocol 1 for many transactions at once, on the public ledger pieces.

`Network.verify` builds one inclusion proof per transaction, and each proof's witness costs
an exponentiation by the product of every later block's element. An auditor checks hundreds
of records (every reading of every sampled batch), mostly in a few hundred blocks, so here the
prover side computes the witnesses of all the blocks involved with one RootFactory pass per
chain (edgeacc.Accumulator.witnesses), shares each block's witness among its transactions, and
every transaction is then checked by the ledger's own Protocol 1 function
(`ledger.check_cross_chain`) as `Verifier.verify` would: acc_M from the verifier chain's
latest Type-III, the chain's Type-II under acc_M, the transaction under acc_B. One difference:
records of the verifier's own chain also go through the main chain here (Verifier.verify
uses the chain's own accumulator), so they must be interlocked first.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

import edgeacc

import ledger
from ledger.errors import NotFound


def _main_status(net: ledger.Network, verifier_chain: str) -> ledger.SignedHeader | None:
    """acc_M as the verifier chain knows it: its latest Type-III (the main chain's own head)."""
    peer = net.peer(verifier_chain)
    if verifier_chain == net.main_chain_id:
        return peer.latest()
    type3 = peer.statuses(net.main_chain_id)
    return ledger.SignedHeader.from_bytes(peer.transaction(type3[-1].tx_id).payload) if type3 else None


def _witnesses(net: ledger.Network, chain_id: str, heights: set[int], against: int) -> dict[int, int]:
    """Witness of each block in `heights` against the chain's value after block `against`."""
    peer = net.peer(chain_id)
    acc = edgeacc.Accumulator(net.params, net.deployment.generator(chain_id))
    acc.add_many([peer.signed_header(h).header.acc_element for h in range(against + 1)])
    wanted = sorted(heights)
    return dict(zip(wanted, acc.witnesses(wanted)))


def _reject(tx_id: bytes, code: str, reason: str) -> ledger.Verdict:
    """A rejecting verdict, as Verifier.verify gives."""
    return ledger.Verdict(False, code, reason, tx_id)


def verify_many(net: ledger.Network, tx_ids: Iterable[bytes], verifier_chain: str) -> dict[bytes, ledger.Verdict]:
    """Protocol 1 verdicts for `tx_ids`, run by a verifier on `verifier_chain`."""
    main_id = net.main_chain_id
    verdicts: dict[bytes, ledger.Verdict] = {}
    located: dict[str, list[tuple[bytes, ledger.Receipt]]] = defaultdict(list)
    for tx_id in set(tx_ids):
        try:
            receipt = net.locate(tx_id)
        except NotFound:
            verdicts[tx_id] = _reject(tx_id, "unknown-transaction", f"no chain holds transaction {tx_id.hex()}")
            continue
        located[receipt.chain_id].append((tx_id, receipt))
    main_status = _main_status(net, verifier_chain)
    if main_status is None:
        for items in located.values():
            for tx_id, _ in items:
                verdicts[tx_id] = _reject(tx_id, "no-main-status", f"{verifier_chain} holds no Type-III yet")
        return verdicts
    main_height = main_status.header.height
    main_peer = net.peer(main_id)
    for chain_id, items in located.items():
        status_proof = None
        if chain_id == main_id:
            against = main_height
        else:
            records = [r for r in main_peer.statuses(chain_id) if r.height <= main_height]
            if not records:
                for tx_id, _ in items:
                    verdicts[tx_id] = _reject(tx_id, "not-interlocked", f"no Type-II of {chain_id} under acc_M")
                continue
            against = records[-1].source_height
            status_proof = main_peer.inclusion_proof(records[-1].tx_id, main_height)
        covered = [(tx_id, r) for tx_id, r in items if r.height <= against]
        for tx_id, r in items:
            if r.height > against:
                verdicts[tx_id] = _reject(tx_id, "not-interlocked", f"block {r.height} of {chain_id} is after "
                                         f"the interlocked height {against}")
        witnesses = _witnesses(net, chain_id, {r.height for _, r in covered}, against)
        holder = net.peer(chain_id)
        for tx_id, receipt in covered:
            proof = ledger.InclusionProof.for_transaction(holder.block(receipt.height), receipt.position,
                                                          witnesses[receipt.height], against)
            verdicts[tx_id] = ledger.check_cross_chain(net.params, tx_id=tx_id, chain_id=chain_id, main_chain_id=main_id,
                                                main_status=main_status, status_proof=status_proof, tx_proof=proof)
    return verdicts
