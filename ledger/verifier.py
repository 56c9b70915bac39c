"""Protocol 1 run by a verifier attached to one chain, for one transaction or many at once.

The verifier on chain A trusts only A's validated state, and it trusts all of it, old blocks
as much as the latest: acc_M comes from a Type-III A committed (A's own header when A is the
main chain), and a transaction of A itself is checked against A's own value after its block.
The proofs are fetched from each chain's leader (its most advanced validated peer); they are
data to check, and every check is ledger.protocol1's.

Historical anchors: costs that do not grow with the chain's age. A transaction in block h of
chain B is checked against the FIRST Type-II of B on the main chain that reports a block at or
after h (acc_B at that block, s), and that Type-II (in main block m) against the FIRST Type-III
A holds that reports a main block at or after m (acc_M at it). Each witness then spans one
interlocking interval (h..s on B, m..m' on main), not the chain's age, so the prover's and the
verifier's work per transaction is bounded by the interval. The anchors are chosen by the
height the holder locates the transaction at, which proves nothing, so they must then be the
first ones covering the block the proof proves (a "later-anchor" rejection otherwise). Soundness: (1) an accumulator value
commits to exactly the elements accumulated into it (strong RSA; the elements are prime
representatives bound to each block's content, checked by protocol1), so a witness for a block
under acc_B(s) proves it is B's block at its height in the history B's endorsers signed at s;
the later values contain the earlier ones (every Type-II carries a continuity witness, checked
on commit). (2) The anchors used are not weaker than the latest: each Type-II/III passed the
same checks when A and the main chain committed it (the endorsement policy at the header's
time, heights advancing, continuity), and the endorsement policy is applied again here to
both headers. (3) A rewrite of B or of the main chain after an anchor does not make an old
anchor lie about what it committed to; it is what ledger.anchors detects (RollbackDetected /
ForkDetected on open and on every round). A forgery therefore needs a forged endorsement or a
broken accumulator, as with the latest anchors; tests/test_ledger_verifier.py mounts the
forgeries (wrong or malformed witnesses, a forged Type-II proof, a later anchor's proof).

One path for one transaction and for many (verify is verify_many of one): the proofs of the
transactions of one block against one anchor share its witness (computed together per anchor
height), the transactions of B under one Type-II share its proof under acc_M, the endorsement
policy runs once per distinct header, and the distinct membership statements (w, x, v) left are
checked together by edgeacc.batch_verify (each on its own only when a malformed witness makes
the batch refuse). A verdict is ok only if every statement it rests on holds.
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

import edgeacc
from edgeacc.errors import EdgeaccError

from ledger import checks
from ledger.block import SignedHeader
from ledger.chain import Deployment, StatusRecord, StatusRecords
from ledger.errors import LedgerError, NotFound
from ledger.protocol1 import (Claim, InclusionProof, ProofRejected, Statement, Verdict, cross_chain_claim,
                              inclusion_claim, reject, statement_failure)

if TYPE_CHECKING:
    from ledger.peer import Peer
    from ledger.sequencer import ChainService

Located = tuple[bytes, tuple[int, int]]  # (tx id, (height, position)) as the holder located it


class Verifier:
    """A verifier peer on chain `chain_id`: it takes acc_M from the chain's latest Type-III and
    fetches the proofs of Protocol 1 from the main chain and from the transaction's chain.
    `services` maps every chain id to its service (what has a `leader` peer)."""

    def __init__(self, services: Mapping[str, "ChainService"], deployment: Deployment, chain_id: str) -> None:
        self.services = checks.instance(services, Mapping, "services")
        self.deployment = checks.instance(deployment, Deployment, "deployment")
        self.params = deployment.params
        self.main_chain_id = deployment.main_chain_id
        self.chain_id = self._leader(chain_id).chain_id

    def _leader(self, chain_id: str) -> "Peer":
        try:
            return self.services[checks.text(chain_id, "chain_id")].leader
        except KeyError:
            raise NotFound(f"no chain {checks.shown(chain_id)}") from None

    @property
    def peer(self) -> "Peer":
        """The verifier's view of its chain: the chain's most advanced validated peer (its
        leader), as every other chain is read from its leader (peer 0 may lag)."""
        return self._leader(self.chain_id)

    def verify(self, tx_id: bytes | str, chain_id: str | None = None) -> Verdict:
        """The verdict on `tx_id` (bytes or hex); `chain_id` is looked up when not given. It
        never raises: a malformed id, or a block, record or proof that cannot be fetched (a
        peer's store cut back, say), is a rejecting Verdict."""
        try:
            tx_id = checks.identifier(tx_id, "tx_id", "transaction id")
            chain_id = checks.optional_text(chain_id, "chain_id")
        except LedgerError as exc:
            return reject(b"", "malformed", str(exc))
        return self._verdicts([tx_id], chain_id)[tx_id]

    def verify_many(self, tx_ids: Iterable[bytes | str]) -> dict[bytes, Verdict]:
        """The verdicts on `tx_ids` (32-byte ids as bytes or hex), keyed by the id's bytes, as
        verify() gives them one by one; a malformed id gets a rejecting verdict under the
        value given. An argument that is not an iterable of bytes or str is an ArgumentError."""
        verdicts: dict = {}
        ids = []
        for raw in checks.items(tx_ids, "tx_ids"):
            try:
                ids.append(checks.identifier(raw, "tx_id", "transaction id"))
            except NotFound as exc:  # a malformed id names no transaction
                key = bytes(raw) if isinstance(raw, (bytes, bytearray, memoryview)) else raw
                verdicts[key] = reject(key, "malformed", str(exc))
        verdicts.update(self._verdicts(ids))
        return verdicts

    # --- one path for one or many ---------------------------------------------------------

    def _verdicts(self, ids: list[bytes], chain_id: str | None = None) -> dict[bytes, Verdict]:
        verdicts: dict[bytes, Verdict] = {}
        by_chain: dict[str, list[Located]] = defaultdict(list)
        for tx_id in dict.fromkeys(ids):
            rejected = self._locate(tx_id, chain_id, by_chain)
            if rejected is not None:
                verdicts[tx_id] = rejected
        claims: dict[bytes, Claim] = {}
        anchors = _Anchors(self.peer, self.main_chain_id)
        policy = _checked_once(self.deployment.check_endorsed)
        for chain, items in by_chain.items():
            try:
                claims.update(self._claims(chain, items, anchors, policy))
            except NotFound as exc:
                verdicts.update({tx_id: reject(tx_id, "not-found", f"a block or record Protocol 1 needs is missing: "
                                               f"{exc}", chain_id=chain) for tx_id, _ in items})
            except (LedgerError, EdgeaccError) as exc:
                verdicts.update({tx_id: reject(tx_id, "unavailable", f"the proofs cannot be fetched: {exc}",
                                               chain_id=chain) for tx_id, _ in items})
        failed = self._failed(list(dict.fromkeys(s for claim in claims.values() for s, _ in claim.statements)))
        verdicts.update({tx_id: claim.settle(self.params, failed.__contains__) for tx_id, claim in claims.items()})
        return verdicts

    def _locate(self, tx_id: bytes, chain_id: str | None, by_chain: dict[str, list[Located]]) -> Verdict | None:
        """Files `tx_id` under the chain that holds it, or returns why it cannot be checked."""
        if chain_id is None:
            chain_id = next((cid for cid, s in self.services.items() if s.leader.locate(tx_id) is not None), None)
            if chain_id is None:
                return reject(tx_id, "unknown-transaction", f"no chain holds transaction {tx_id.hex()}")
        try:
            where = self._leader(chain_id).locate(tx_id)
        except NotFound as exc:
            return reject(tx_id, "unknown-chain", str(exc))
        if where is None:
            return reject(tx_id, "unknown-transaction", f"{chain_id} holds no transaction {tx_id.hex()}")
        by_chain[chain_id].append((tx_id, where))
        return None

    def _claims(self, chain: str, items: list[Located], anchors: "_Anchors",
                policy: Callable[[SignedHeader], None]) -> dict[bytes, Claim]:
        """The claims for the transactions `items` of `chain`, from its leader's proofs, each
        against the earliest anchors that cover it (see the module docstring)."""
        holder = self._leader(chain)
        claims: dict[bytes, Claim] = {}
        if chain == self.chain_id:  # the verifier's own chain: its own value after the block suffices
            for tx_id, proof in _proofs(holder, [(tx_id, where, where[0]) for tx_id, where in items]):
                claims[tx_id] = _own_claim(self.params, tx_id, proof, chain, holder.accumulator_value(proof.against_height))
            return claims
        if not anchors.holds_a_main_status():
            return {tx_id: Claim(reject(tx_id, "no-main-status", f"{self.chain_id} holds no Type-III yet: run an "
                                        "interlocking round", chain_id=chain)) for tx_id, _ in items}
        main_peer = self._leader(self.main_chain_id)
        covered: list[tuple[bytes, tuple[int, int], int]] = []
        used: dict[bytes, tuple[StatusRecord | None, SignedHeader]] = {}
        for tx_id, where in items:
            height = where[0]
            record, main = anchors.covering(main_peer, chain, height)
            if main is None:
                claims[tx_id] = Claim(anchors.not_interlocked(tx_id, chain, f"main block {height}")
                                      if chain == self.main_chain_id else
                                      anchors.not_interlocked(tx_id, chain, f"block {height} of {chain}", record,
                                                              anchors.last_type2(main_peer, chain)))
                continue
            covered.append((tx_id, where, main.header.height if record is None else record.source_height))
            used[tx_id] = (record, main)
        for tx_id, proof in _proofs(holder, covered):
            record, main = used[tx_id]
            status_proof = None if record is None else anchors.status_proof(main_peer, record, main.header.height)
            claim = cross_chain_claim(self.params, tx_id=tx_id, chain_id=chain, main_chain_id=self.main_chain_id,
                                      main_status=main, status_proof=status_proof, tx_proof=proof,
                                      endorsement_policy=policy)
            # The anchors were chosen by the height the holder located, which proves nothing:
            # they must be the first ones covering the block proved (a later anchor would let
            # a chain that forked after an anchor prove a block the anchor does not hold).
            if claim.verdict.ok and not anchors.first_of(main_peer, chain, claim.verdict.height, record, main):
                claim = Claim(reject(tx_id, "later-anchor", f"block {claim.verdict.height} of {chain} was proved "
                                     f"under a later anchor (height {claim.verdict.anchored_height}) than the first "
                                     "that covers it", chain_id=chain), claim.statements)
            claims[tx_id] = claim
        return claims

    def _failed(self, statements: list[Statement]) -> set[Statement]:
        """The statements that do not hold: one batch_verify for all of them."""
        if not statements:
            return set()
        try:
            return {statements[i] for i in edgeacc.batch_verify(self.params, statements)}
        except EdgeaccError:  # a malformed witness or value refuses the batch: check each alone
            return {s for s in statements if statement_failure(self.params, s)}


def _proofs(holder: "Peer", items: list[tuple[bytes, tuple[int, int], int]]) -> list[tuple[bytes, InclusionProof]]:
    """The holder's inclusion proofs of (tx id, where, against height) items, those against
    one height computed together."""
    by_against: dict[int, list[bytes]] = defaultdict(list)
    for tx_id, _, against in items:
        by_against[against].append(tx_id)
    pairs = []
    for against, ids in by_against.items():
        proofs = holder.inclusion_proofs(ids, against)
        # a holder is a prover like any other: one proof per id asked, or none is used
        if not isinstance(proofs, (list, tuple)) or len(proofs) != len(ids):
            raise ProofRejected("malformed", f"{holder.name} answered {len(ids)} proof requests with "
                                f"{len(proofs) if isinstance(proofs, (list, tuple)) else 'no list'}")
        pairs.extend(zip(ids, proofs))
    return pairs


def _own_claim(params: edgeacc.Params, tx_id: bytes, proof: InclusionProof, chain: str, value: int) -> Claim:
    """The claim on a transaction of the verifier's own chain, under its own validated value
    after the proof's height."""
    try:
        tx, block, statement = inclusion_claim(params, proof, chain, value, proof.against_height)
    except ProofRejected as exc:
        return Claim(reject(tx_id, "tx-proof", str(exc), chain_id=chain))
    if tx.tx_id != tx_id:
        return Claim(reject(tx_id, "tx-proof", "the proved transaction has another id", chain_id=chain))
    return Claim(Verdict(True, "ok", f"valid: in {chain} under its own accumulator after block {proof.against_height}",
                         tx_id, chain, block.height,
                         transaction=tx),
                 ((statement, reject(tx_id, "tx-proof", "the block is not a member of the accumulator",
                                     chain_id=chain)),))


class _Anchors:
    """The anchors one verification reads, each fetched once: the verifier chain's Type-III
    records (or, on the main chain, its own headers) and the main chain's Type-II records."""

    def __init__(self, own: "Peer", main_chain_id: str) -> None:
        self.own, self.main_chain_id = own, main_chain_id
        self._type3: "Sequence[StatusRecord] | None" = None
        self._type2: dict[str, "Sequence[StatusRecord]"] = {}
        self._headers: dict[bytes, SignedHeader] = {}  # Type-III tx id -> the main header it carries
        self._own_headers: dict[int, SignedHeader] = {}  # (on the main chain) height -> its header
        self._status_proofs: dict[tuple[bytes, int], InclusionProof] = {}

    def _type3_records(self) -> "Sequence[StatusRecord]":
        if self._type3 is None:
            self._type3 = self.own.statuses(self.main_chain_id)
        return self._type3

    def holds_a_main_status(self) -> bool:
        """Whether the verifier chain knows any main-chain header (a Type-III, or its own)."""
        return self.own.chain_id == self.main_chain_id or bool(self._type3_records())

    def main_status_covering(self, main_height: int) -> SignedHeader | None:
        """The earliest main-chain header the verifier chain holds at or after `main_height`:
        its own header there (the main chain), else its first Type-III reporting a main block
        at or after it; None when no interlocking round brought one yet."""
        if self.own.chain_id == self.main_chain_id:
            if main_height >= self.own.height:
                return None
            if main_height not in self._own_headers:
                self._own_headers[main_height] = self.own.signed_header(main_height)
            return self._own_headers[main_height]
        records = self._type3_records()
        i = _first_at_or_after(records, main_height)
        if i == len(records):
            return None
        record = records[i]
        if record.tx_id not in self._headers:
            self._headers[record.tx_id] = SignedHeader.from_bytes(self.own.transaction(record.tx_id).payload)
        return self._headers[record.tx_id]

    def _records(self, main_peer: "Peer", chain: str) -> "Sequence[StatusRecord]":
        if chain not in self._type2:
            self._type2[chain] = main_peer.statuses(chain)
        return self._type2[chain]

    def covering(self, main_peer: "Peer", chain: str, height: int
                 ) -> tuple[StatusRecord | None, SignedHeader | None]:
        """The first anchors of block `height` of `chain`: its first Type-II at or after it
        (None for the main chain) and the first main-chain header the verifier chain holds at
        or after that (after the block itself, for the main chain); None where no
        interlocking round brought one yet."""
        if chain == self.main_chain_id:
            return None, self.main_status_covering(height)
        record = self.type2_covering(main_peer, chain, height)
        return record, (self.main_status_covering(record.height) if record is not None else None)

    def first_of(self, main_peer: "Peer", chain: str, height: int, record: StatusRecord | None,
                 main: SignedHeader) -> bool:
        """Whether (record, main) are the first anchors covering block `height` of `chain`."""
        first_record, first_main = self.covering(main_peer, chain, height)
        return (first_main is not None and first_main.header.digest == main.header.digest
                and (first_record.tx_id if first_record else None) == (record.tx_id if record else None))

    def type2_covering(self, main_peer: "Peer", chain: str, height: int):
        """The first Type-II of `chain` on the main chain reporting a block at or after `height`."""
        records = self._records(main_peer, chain)
        i = _first_at_or_after(records, height)
        return records[i] if i < len(records) else None

    def last_type2(self, main_peer: "Peer", chain: str):
        records = self._records(main_peer, chain)
        return records[-1] if records else None

    def status_proof(self, main_peer: "Peer", record, main_height: int) -> InclusionProof:
        """The proof of the Type-II `record` under the main chain's value after `main_height`."""
        key = (record.tx_id, main_height)
        if key not in self._status_proofs:
            self._status_proofs[key] = main_peer.inclusion_proof(record.tx_id, main_height)
        return self._status_proofs[key]

    def not_interlocked(self, tx_id: bytes, chain: str, what: str, record=None, last=None) -> Verdict:
        """The rejection of a transaction no anchor covers yet."""
        if chain == self.main_chain_id or record is not None:
            return reject(tx_id, "not-interlocked", f"{what} is not covered by a Type-III {self.own.chain_id} "
                          "holds: wait for the next interlocking round", chain_id=chain)
        anchored = last.source_height if last is not None else None
        return reject(tx_id, "not-interlocked", f"{what} is not covered by a Type-II on the main chain (anchored "
                      f"height {anchored}): wait for the next interlocking round", chain_id=chain,
                      anchored_height=anchored)


def _first_at_or_after(records, height: int) -> int:
    """The index of the first of `records` (oldest first) reporting a block at or after
    `height` (len if none): a peer's StatusRecords searches its columns, the list a remote
    reader answers (ledger.cluster) is bisected on its source heights."""
    if isinstance(records, StatusRecords):
        return records.first_at_or_after(height)
    return bisect.bisect_left(_SourceHeights(records), height)


class _SourceHeights:
    """The source heights of a list of status records, read at the indices bisect visits
    (bisect's `key` needs Python 3.10; the package supports 3.9)."""

    __slots__ = ("_records",)

    def __init__(self, records: Sequence[StatusRecord]) -> None:
        self._records = records

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: int) -> int:
        return self._records[index].source_height


def _checked_once(policy: Callable[[SignedHeader], None]) -> Callable[[SignedHeader], None]:
    """`policy`, run once per distinct signed header (one acc_M and one Type-II per chain are
    shared by all the transactions)."""
    accepted: set[bytes] = set()

    def check(signed: SignedHeader) -> None:
        raw = signed.to_bytes()
        if raw not in accepted:
            policy(signed)
            accepted.add(raw)
    return check
