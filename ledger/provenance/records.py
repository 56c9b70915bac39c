"""The provenance records that go on the ledger, and the narrow ledger interface they need.

Each record is a Type-I transaction whose payload is canonical JSON naming its kind, and whose
object pointer (digest, URL) names the bulk bytes in the object store: a reading, a data batch,
a model checkpoint, or a run's data order.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Protocol

from ledger.objects import ObjectRef
from ledger.provenance.encoding import canonical_json
from ledger.provenance.errors import RecordError

KINDS = ("reading", "run", "batch", "step", "aggregation")


@dataclass(frozen=True)
class Ref:
    """A recorded object: the transaction that names it and the object it points to."""

    chain_id: str
    tx_id: bytes
    obj: ObjectRef

    @property
    def digest(self) -> bytes:
        return self.obj.digest


@dataclass(frozen=True)
class FetchedRecord:
    """A Type-I provenance record read back from a chain."""

    chain_id: str
    tx_id: bytes
    body: dict
    obj: ObjectRef | None
    submitter: bytes  # certificate fingerprint of the identity that signed the transaction


@dataclass(frozen=True)
class RunManifest:
    """Where an edge says a run's records are; an auditor checks all of it on the ledger."""

    chain_id: str
    run_tx: bytes
    step_txs: tuple[bytes, ...]


class ProvenanceLedger(Protocol):
    """What the recorder and the auditor need from the ledger (network_ledger.py has the
    implementation on the embedded ledger.Network)."""

    main_chain_id: str

    def store(self, data: bytes) -> ObjectRef:
        """Put bytes in the content-addressed object store."""

    def load(self, ref: ObjectRef) -> bytes:
        """Bytes named by `ref`; raises if they no longer hash to its digest."""

    def submit(self, chain_id: str, submitter: str, body: dict, obj: ObjectRef | None,
               reexecute: bool = False) -> bytes:
        """Endorse and append one Type-I record; returns its tx id. With `reexecute` the
        endorsing peers replay the step or FedAvg round before they sign."""

    def fetch(self, tx_id: bytes) -> FetchedRecord:
        """The record with this tx id, from whichever chain holds it."""

    def verify(self, tx_id: bytes, verifier_chain: str) -> None:
        """Protocol 1: raise unless the tx is proven on its chain from `verifier_chain`'s view."""

    def verify_many(self, tx_ids: Iterable[bytes], verifier_chain: str) -> dict[bytes, str | None]:
        """Protocol 1 for many records: per tx id, None when it holds, else why not."""


def encode_body(body: dict) -> bytes:
    if body.get("kind") not in KINDS:
        raise RecordError(f"unknown record kind {body.get('kind')!r}")
    return canonical_json(body)


def decode_body(payload: bytes, kind: str | None = None) -> dict:
    """Parse a record payload; with `kind`, require that kind."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"record payload is not JSON: {exc}") from None
    if not isinstance(body, dict) or body.get("kind") not in KINDS or canonical_json(body) != bytes(payload):
        raise RecordError("payload is not a canonical provenance record")
    if kind is not None and body["kind"] != kind:
        raise RecordError(f"expected a {kind} record, got {body['kind']}")
    return body
