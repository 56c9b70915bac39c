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
uses the chain's own accumulator), so they must be interlocked first. Every chain is read from
its leader (its most advanced validated peer), the endorsement policy is applied to acc_M's
header and to each Type-II's header as Verifier.verify applies it, and a block or record that
cannot be fetched is a rejecting verdict, never an exception.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable

import edgeacc
from edgeacc.errors import EdgeaccError

import ledger
from ledger import checks
from ledger.errors import ArgumentError, LedgerError, NotFound


def _main_status(net: ledger.Network, verifier_chain: str) -> ledger.SignedHeader | None:
    """acc_M as the verifier chain knows it: its latest Type-III (the main chain's own head)."""
    peer = net.service(verifier_chain).leader
    if verifier_chain == net.main_chain_id:
        return peer.latest()
    type3 = peer.statuses(net.main_chain_id)
    return ledger.SignedHeader.from_bytes(peer.transaction(type3[-1].tx_id).payload) if type3 else None


def _witnesses(net: ledger.Network, chain_id: str, heights: set[int], against: int) -> dict[int, int]:
    """Witness of each block in `heights` against the chain's value after block `against`."""
    peer = net.service(chain_id).leader
    acc = edgeacc.Accumulator(net.params, net.deployment.generator(chain_id))
    acc.add_many([peer.signed_header(h).header.acc_element for h in range(against + 1)])
    wanted = sorted(heights)
    return dict(zip(wanted, acc.witnesses(wanted)))


def _reject(tx_id: bytes, code: str, reason: str) -> ledger.Verdict:
    """A rejecting verdict, as Verifier.verify gives."""
    return ledger.Verdict(False, code, reason, tx_id)


def tx_id_list(tx_ids: Iterable[bytes]) -> list:
    """The ids of an iterable, as a list (ArgumentError for anything that is not iterable)."""
    try:
        return list(tx_ids)
    except TypeError:
        raise ArgumentError(f"tx_ids must be an iterable of transaction ids, not {type(tx_ids).__name__}") from None


def verify_many(net: ledger.Network, tx_ids: Iterable[bytes], verifier_chain: str) -> dict[bytes, ledger.Verdict]:
    """Protocol 1 verdicts for `tx_ids` (32-byte ids, as bytes or hex; the verdicts are keyed
    by the bytes), run by a verifier on `verifier_chain`. A malformed id gets a rejecting
    verdict; an id of another type, or an unknown verifier chain, is an ArgumentError/NotFound."""
    checks.instance(net, ledger.Network, "net")
    net.service(verifier_chain)
    main_id = net.main_chain_id
    verdicts: dict[bytes, ledger.Verdict] = {}
    located: dict[str, list[tuple[bytes, ledger.Receipt]]] = defaultdict(list)
    ids = set()
    for tx_id in tx_id_list(tx_ids):
        try:
            ids.add(checks.identifier(tx_id, "tx_id", "transaction id"))
        except NotFound as exc:  # a malformed id names no transaction
            key = bytes(tx_id) if isinstance(tx_id, (bytes, bytearray, memoryview)) else tx_id
            verdicts[key] = _reject(key, "malformed", str(exc))
    for tx_id in ids:
        try:
            receipt = net.locate(tx_id)
        except NotFound:
            verdicts[tx_id] = _reject(tx_id, "unknown-transaction", f"no chain holds transaction {tx_id.hex()}")
            continue
        located[receipt.chain_id].append((tx_id, receipt))
    try:
        main_status = _main_status(net, verifier_chain)
    except (LedgerError, EdgeaccError) as exc:
        main_status, unavailable = None, f"the verifier's Type-III cannot be fetched: {exc}"
    else:
        unavailable = f"{verifier_chain} holds no Type-III yet"
    if main_status is None:
        for items in located.values():
            for tx_id, _ in items:
                verdicts[tx_id] = _reject(tx_id, "no-main-status", unavailable)
        return verdicts
    main_peer = net.service(main_id).leader
    policy = _checked_once(net.deployment.check_endorsed)
    for chain_id, items in located.items():
        try:
            _verify_chain(net, chain_id, items, main_status, main_peer, policy, verdicts)
        except (LedgerError, EdgeaccError) as exc:  # a block or record cut back, say
            for tx_id, _ in items:
                verdicts.setdefault(tx_id, _reject(tx_id, "unavailable", f"the proofs cannot be fetched: {exc}"))
    return verdicts


def _checked_once(policy: Callable[[ledger.SignedHeader], None]) -> Callable[[ledger.SignedHeader], None]:
    """`policy`, run once per distinct signed header (one acc_M and one Type-II per chain are
    shared by all the transactions)."""
    accepted: set[bytes] = set()

    def check(signed: ledger.SignedHeader) -> None:
        raw = signed.to_bytes()
        if raw not in accepted:
            policy(signed)
            accepted.add(raw)
    return check


def _verify_chain(net, chain_id, items, main_status, main_peer, policy, verdicts) -> None:
    """verify_many's verdicts for the transactions `items` of one chain."""
    main_id, main_height = net.main_chain_id, main_status.header.height
    status_proof = None
    if chain_id == main_id:
        against = main_height
    else:
        records = [r for r in main_peer.statuses(chain_id) if r.height <= main_height]
        if not records:
            for tx_id, _ in items:
                verdicts[tx_id] = _reject(tx_id, "not-interlocked", f"no Type-II of {chain_id} under acc_M")
            return
        against = records[-1].source_height
        status_proof = main_peer.inclusion_proof(records[-1].tx_id, main_height)
    covered = [(tx_id, r) for tx_id, r in items if r.height <= against]
    for tx_id, r in items:
        if r.height > against:
            verdicts[tx_id] = _reject(tx_id, "not-interlocked", f"block {r.height} of {chain_id} is after "
                                     f"the interlocked height {against}")
    witnesses = _witnesses(net, chain_id, {r.height for _, r in covered}, against)
    holder = net.service(chain_id).leader
    by_height: dict[int, list[tuple[bytes, ledger.Receipt]]] = defaultdict(list)
    for tx_id, receipt in covered:
        by_height[receipt.height].append((tx_id, receipt))
    for height, in_block in by_height.items():  # each block read and decoded once
        proofs = ledger.InclusionProof.for_transactions(holder.block(height), [r.position for _, r in in_block],
                                                        witnesses[height], against)
        for (tx_id, _), proof in zip(in_block, proofs):
            verdicts[tx_id] = ledger.check_cross_chain(
                net.params, tx_id=tx_id, chain_id=chain_id, main_chain_id=main_id, main_status=main_status,
                status_proof=status_proof, tx_proof=proof, endorsement_policy=policy)
