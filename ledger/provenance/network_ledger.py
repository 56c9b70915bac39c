"""ProvenanceLedger on the embedded `ledger.Network`: records are Type-I transactions signed by
the submitting peer, objects go to the network's content-addressed store, and `verify` is
Protocol 1 run by a verifier on the caller's chain.

Endorser re-execution: NetworkLedger registers an application validator on every chain
(`Network.add_validator`), so each endorsing peer itself re-executes a step (from the stored
M_{i-1}, M_O and d_i, with the trainer and hyperparameters of the run record the step names)
or a FedAvg round before it signs, and refuses unless it reproduces the recorded model. The
recorder chooses per record whether the peers re-execute ("reexecute") or check signatures
only ("signatures"). A submission too few peers endorse fails with EndorsementRefused and
leaves the chain unchanged. Validators are not stored with the network: a NetworkLedger made
after `Network.open` registers its own.
"""
from __future__ import annotations

import threading
from typing import Iterable

from ledger.errors import LedgerError, ValidationRejected
from ledger.network import Network, PendingTx
from ledger.objects import ObjectRef
from ledger.provenance.batch_verify import verify_many
from ledger.provenance.errors import RecordError
from ledger.provenance.records import FetchedRecord, decode_body, encode_body
from ledger.provenance.recorder import (aggregation_endorsement_check, initial_endorsement_check,
                                        step_endorsement_check)
from ledger.provenance.trainers import Hyperparameters, Trainer, trainer_for
from ledger.tx import Transaction

_WAIT_FOR_INTERLOCK = ("not-interlocked", "no-main-status")


class EndorsementRefused(RecordError):
    """Too few endorsing peers accept the record: their re-execution did not reproduce it."""


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
        self.endorsement_checks = 0  # re-executions run by endorsing peers
        self._lock = threading.Lock()
        self._reexecute: set[bytes] = set()  # tx ids the peers re-execute before endorsing
        self._run_trainers: dict[bytes, Trainer] = {}
        for chain_id in network.services:
            network.add_validator(chain_id, self.endorse)

    def store(self, data: bytes) -> ObjectRef:
        return self.network.put_object(data)

    def load(self, ref: ObjectRef | bytes) -> bytes:
        return self.network.get_object(ref)

    def submit(self, chain_id: str, submitter: str, body: dict, obj: ObjectRef | None,
               reexecute: bool = False) -> bytes:
        """Sign and submit one record; with `reexecute` the endorsing peers replay it first.
        A record refused at admission raises now, nothing committed: EndorsementRefused when too
        few peers' validators accept it, else the ledger's error (e.g. an unknown signer)."""
        tx = self.network.record(chain_id, encode_body(body), obj=obj, signer=submitter)
        if reexecute:
            with self._lock:
                self._reexecute.add(tx.tx_id)
        try:
            pending = self.network.submit_transaction(tx)
        except LedgerError:
            self._forget(tx.tx_id)
            raise
        # a peer that endorses without having admitted the record re-executes it in the sequencer
        pending.add_done_callback(lambda done: self._forget(done.tx_id))
        if pending.done():  # refused at admission, which runs on this thread: say so now
            try:
                pending.result(0)
            except ValidationRejected as exc:
                raise EndorsementRefused(str(exc)) from exc
        self._pending.append(pending)
        return tx.tx_id

    def _forget(self, tx_id: bytes) -> None:
        with self._lock:
            self._reexecute.discard(tx_id)

    def endorse(self, peer_name: str, tx: Transaction) -> None:
        """The validator every endorsing peer runs on a Type-I transaction: re-execute the step
        or FedAvg round a record submitted with `reexecute` names, and raise unless it
        reproduces the recorded model (other records pass)."""
        with self._lock:
            if tx.tx_id not in self._reexecute:
                return
        body = decode_body(tx.payload)
        if not tx.object_digest:
            raise RecordError(f"a {body['kind']} record to re-execute names no model")
        if body["kind"] == "step":
            check = step_endorsement_check(self, self._run_trainer(body["run"], tx.chain_id), body, tx.object_digest)
        elif body["kind"] == "aggregation" and body["round"] == 0:
            check = initial_endorsement_check(body, self.load(tx.object_digest))
        elif body["kind"] == "aggregation":
            check = aggregation_endorsement_check(self, body, self.load(tx.object_digest))
        else:
            raise RecordError(f"a {body['kind']} record is not re-executed")
        check()
        with self._lock:
            self.endorsement_checks += 1

    def _run_trainer(self, run_tx_hex: str, chain_id: str) -> Trainer:
        """The trainer and hyperparameters the run record names, read once per run from the
        chain, or from this adapter's pending submissions when the run is not committed yet
        (its id binds its bytes; waiting here could block the sequencer that commits it)."""
        run_tx = bytes.fromhex(run_tx_hex)
        with self._lock:
            trainer = self._run_trainers.get(run_tx)
        if trainer is None:
            pending = [item.transaction for item in list(self._pending) if item.tx_id == run_tx]
            run = pending[0] if pending else self.network.transaction(run_tx)
            body = decode_body(run.payload)
            if body["kind"] != "run" or run.chain_id != chain_id:
                raise RecordError(f"the step names a {body['kind']} record of {run.chain_id}, not a run of {chain_id}")
            trainer = trainer_for(body["trainer"], Hyperparameters.from_record(body["hyperparameters"]))
            with self._lock:
                self._run_trainers[run_tx] = trainer
        return trainer

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
