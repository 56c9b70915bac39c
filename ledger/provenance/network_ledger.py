"""ProvenanceLedger on the embedded `ledger.Network`: records are Type-I transactions signed by
the submitting peer, objects go to the network's content-addressed store, and `verify` is
Protocol 1 run by a verifier on the caller's chain.

Endorser re-execution: the ledger's peers validate blocks (signatures, links, accumulators)
but take no application validator, so this layer runs the step's check once for every
endorsing peer of the chain before the transaction is handed to the chain; a refusal by any of
them stops the record (EndorsementRefused).
"""
from __future__ import annotations

from typing import Callable, Iterable

from ledger.errors import LedgerError
from ledger.network import Network, PendingTx
from ledger.objects import ObjectRef
from ledger.provenance.batch_verify import verify_many
from ledger.provenance.errors import RecordError
from ledger.provenance.records import FetchedRecord, decode_body, encode_body

_WAIT_FOR_INTERLOCK = ("not-interlocked", "no-main-status")


class EndorsementRefused(RecordError):
    """An endorsing peer's re-execution did not reproduce the record."""


class CrossChainRejected(RecordError):
    """Protocol 1 rejected a record; `code` is the ledger's verdict code."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code


class NetworkLedger:
    """Adapter from the provenance recorder and auditor to a running `ledger.Network`.

    Submissions are asynchronous so one block can carry many records; `flush()` waits until
    every submitted record is committed (and `verify` flushes first)."""

    def __init__(self, network: Network, timeout: float = 120.0) -> None:
        self.network = network
        self.main_chain_id = network.main_chain_id
        self.timeout = timeout
        self._pending: list[PendingTx] = []
        self.endorsement_checks = 0

    def store(self, data: bytes) -> ObjectRef:
        return self.network.put_object(data)

    def load(self, ref: ObjectRef | bytes) -> bytes:
        return self.network.get_object(ref)

    def endorsers(self, chain_id: str) -> list[str]:
        service = self.network.service(chain_id)
        return [peer.name for peer in service.peers[: service.config.endorsement_threshold]]

    def submit(self, chain_id: str, submitter: str, body: dict, obj: ObjectRef | None,
               endorse_check: Callable[[], None] | None = None) -> bytes:
        if endorse_check is not None:
            for peer in self.endorsers(chain_id):
                try:
                    endorse_check()
                except LedgerError as exc:
                    raise EndorsementRefused(f"{peer} refuses to endorse: {exc}") from exc
                self.endorsement_checks += 1
        pending = self.network.submit(chain_id, encode_body(body), obj=obj, signer=submitter)
        self._pending.append(pending)
        return pending.tx_id

    def flush(self) -> None:
        """Wait for every submitted record; raise the first rejection."""
        pending, self._pending = self._pending, []
        for item in pending:
            item.result(self.timeout)

    def fetch(self, tx_id: bytes) -> FetchedRecord:
        if any(item.tx_id == tx_id for item in self._pending):
            self.flush()
        receipt = self.network.locate(tx_id)
        tx = self.network.transaction(tx_id)
        if tx.tx_id != bytes(tx_id):
            raise RecordError(f"the ledger returned another transaction for {bytes(tx_id).hex()}")
        obj = ObjectRef(tx.object_digest, tx.object_url) if tx.object_digest else None
        return FetchedRecord(receipt.chain_id, tx.tx_id, decode_body(tx.payload), obj, tx.submitter)

    def verify_many(self, tx_ids: Iterable[bytes], verifier_chain: str) -> dict[bytes, str | None]:
        """Protocol 1 for many records with shared witnesses (batch_verify.py): per tx id,
        None when it holds, else the reason it was rejected."""
        self.flush()
        tx_ids = list(tx_ids)
        verdicts = verify_many(self.network, tx_ids, verifier_chain)
        if any(v.code in _WAIT_FOR_INTERLOCK for v in verdicts.values()):
            self.network.interlock(self.timeout)
            verdicts = verify_many(self.network, tx_ids, verifier_chain)
        return {tx_id: None if v.ok else f"{v.code}: {v.reason}" for tx_id, v in verdicts.items()}

    def verify(self, tx_id: bytes, verifier_chain: str) -> None:
        """Protocol 1; a record committed but not yet interlocked gets one interlocking round.
        Waits for pending submissions only when `tx_id` is one of them, so checking M_O
        before every step does not serialise the edge's own records into one block each."""
        if any(item.tx_id == tx_id for item in self._pending):
            self.flush()
        verdict = self.network.verify(tx_id, verifier_chain)
        if verdict.code in _WAIT_FOR_INTERLOCK:
            self.network.interlock(self.timeout)
            verdict = self.network.verify(tx_id, verifier_chain)
        if not verdict.ok:
            raise CrossChainRejected(verdict.code, verdict.reason)
