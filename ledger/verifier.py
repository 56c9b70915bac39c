"""Protocol 1 run by a verifier attached to one chain, for one transaction or many at once.

The verifier on chain A trusts only A's validated state: acc_M comes from A's latest Type-III
(A's own head when A is the main chain), and a transaction of A itself is checked against A's
latest accumulator. The proofs are fetched from each chain's leader (its most advanced
validated peer); they are data to check, and every check is ledger.protocol1's.

One path for one transaction and for many (verify is verify_many of one): the proofs of all
the transactions of one block share its witness (one RootFactory pass per chain computes the
witnesses of every block involved), all the transactions of chain B share the proof of B's
Type-II under acc_M, the endorsement policy runs once per distinct header, and the distinct
membership statements (w, x, v) left are checked together by edgeacc.batch_verify (each one
on its own only when a malformed witness makes the batch refuse). A verdict is ok only if
every statement it rests on holds.
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

import edgeacc
from edgeacc.errors import EdgeaccError

from ledger import checks
from ledger.block import SignedHeader
from ledger.chain import Deployment
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
        main_status = _Fetched(self._main_status)
        policy = _checked_once(self.deployment.check_endorsed)
        for chain, items in by_chain.items():
            try:
                claims.update(self._claims(chain, items, main_status, policy))
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

    def _main_status(self) -> SignedHeader | None:
        """acc_M as the verifier chain knows it: its latest Type-III (the main chain's own head)."""
        own = self.peer
        if self.chain_id == self.main_chain_id:
            return own.latest()
        type3 = own.statuses(self.main_chain_id)
        return SignedHeader.from_bytes(own.transaction(type3[-1].tx_id).payload) if type3 else None

    def _claims(self, chain: str, items: list[Located], main_status: "_Fetched",
                policy: Callable[[SignedHeader], None]) -> dict[bytes, Claim]:
        """The claims for the transactions `items` of `chain`, from its leader's proofs."""
        holder = self._leader(chain)
        if chain == self.chain_id:  # the verifier's own chain: its own accumulator suffices
            # One height for the proofs and the value: a block committed in between must not
            # make them disagree.
            latest = holder.height - 1
            value = holder.accumulator_value(latest)
            return {tx_id: _own_claim(self.params, tx_id, proof, chain, value, latest)
                    for tx_id, proof in _proofs(holder, items, latest)}
        status = main_status()
        if status is None:
            return {tx_id: Claim(reject(tx_id, "no-main-status", f"{self.chain_id} holds no Type-III yet: run an "
                                        "interlocking round", chain_id=chain)) for tx_id, _ in items}
        main_height = status.header.height
        main_peer = self._leader(self.main_chain_id)
        late: dict[bytes, Claim] = {}
        status_proof = None
        if chain == self.main_chain_id:
            against = main_height
            for tx_id, (height, _) in items:
                if height > against:
                    late[tx_id] = Claim(reject(tx_id, "not-interlocked", f"main block {height} is after the Type-III's "
                                               f"height {main_height}: wait for the next interlocking round",
                                               chain_id=chain, main_height=main_height))
        else:
            records = [r for r in main_peer.statuses(chain) if r.height <= main_height]
            against = records[-1].source_height if records else -1
            for tx_id, (height, _) in items:
                if height > against:
                    anchored = against if records else None
                    late[tx_id] = Claim(reject(tx_id, "not-interlocked", f"block {height} of {chain} is not covered by "
                                               f"a Type-II under acc_M (anchored height {anchored}): wait for the next "
                                               "interlocking round", chain_id=chain, main_height=main_height,
                                               anchored_height=anchored))
            if len(late) < len(items):
                status_proof = main_peer.inclusion_proof(records[-1].tx_id, main_height)
        covered = [(tx_id, where) for tx_id, where in items if tx_id not in late]
        late.update({tx_id: cross_chain_claim(self.params, tx_id=tx_id, chain_id=chain, main_chain_id=self.main_chain_id,
                                              main_status=status, status_proof=status_proof, tx_proof=proof,
                                              endorsement_policy=policy)
                     for tx_id, proof in _proofs(holder, covered, against)})
        return late

    def _failed(self, statements: list[Statement]) -> set[Statement]:
        """The statements that do not hold: one batch_verify for all of them."""
        if not statements:
            return set()
        try:
            return {statements[i] for i in edgeacc.batch_verify(self.params, statements)}
        except EdgeaccError:  # a malformed witness or value refuses the batch: check each alone
            return {s for s in statements if statement_failure(self.params, s)}


def _proofs(holder: "Peer", items: list[Located], against: int) -> list[tuple[bytes, InclusionProof]]:
    """The holder's inclusion proofs of `items` against its value after block `against`."""
    ids = [tx_id for tx_id, _ in items]
    return list(zip(ids, holder.inclusion_proofs(ids, against))) if ids else []


def _own_claim(params: edgeacc.Params, tx_id: bytes, proof: InclusionProof, chain: str, value: int,
               latest: int) -> Claim:
    """The claim on a transaction of the verifier's own chain, under its latest accumulator."""
    try:
        tx, block, statement = inclusion_claim(params, proof, chain, value, latest)
    except ProofRejected as exc:
        return Claim(reject(tx_id, "tx-proof", str(exc), chain_id=chain))
    if tx.tx_id != tx_id:
        return Claim(reject(tx_id, "tx-proof", "the proved transaction has another id", chain_id=chain))
    return Claim(Verdict(True, "ok", f"valid: in {chain} under its latest accumulator", tx_id, chain, block.height,
                         transaction=tx),
                 ((statement, reject(tx_id, "tx-proof", "the block is not a member of the accumulator",
                                     chain_id=chain)),))


class _Fetched:
    """A value fetched at most once, on first use (an error is raised again on each use)."""

    def __init__(self, fetch: Callable[[], object]) -> None:
        self._fetch, self._done, self._value = fetch, False, None

    def __call__(self):
        if not self._done:
            self._value, self._done = self._fetch(), True
        return self._value


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
