"""The provenance records that go on the ledger, and the narrow ledger interface they need.

Each record is a Type-I transaction whose payload is canonical JSON naming its kind, and whose
object pointer (digest, URL) names the bulk bytes in the object store: a reading, a data batch,
a model checkpoint, or a run's data order.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

from ledger.errors import LedgerError
from ledger.objects import ObjectRef
from ledger.provenance.encoding import canonical_json
from ledger.provenance.errors import RecordError

KINDS = ("reading", "run", "batch", "step", "aggregation", "pipeline", "segment", "pipeline-round")
ENDORSE_POLICIES = ("reexecute", "signatures")  # what a chain's endorsing peers do with a record


def ignore_claimed_mode(mode: object) -> None:
    """A submitter's claim of how its record is to be endorsed (the old per-record choice):
    refused if it is no policy at all, otherwise ignored. Whether the peers re-execute is the
    chain's policy (network_ledger.ProvenanceEndorser); nothing a submitter says changes it."""
    if mode is not None and mode not in (*ENDORSE_POLICIES, True, False):
        raise RecordError(f"an endorsement mode is one of {ENDORSE_POLICIES}")


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
    signed_at_ms: int | None = None  # the timestamp of the block that holds it: when its signatures count


@dataclass(frozen=True)
class RunManifest:
    """Where an edge says a run's records are; an auditor checks all of it on the ledger."""

    chain_id: str
    run_tx: bytes
    step_txs: tuple[bytes, ...]

    def __post_init__(self) -> None:
        """The manifest comes from the audited edge: refuse anything but a chain name and
        32-byte transaction ids (a list of steps is kept as a tuple)."""
        _name(self.chain_id, "manifest.chain_id")
        if not isinstance(self.step_txs, (tuple, list)) or len(self.step_txs) > MAX_STEPS:
            raise RecordError("manifest.step_txs must be a sequence of transaction ids")
        object.__setattr__(self, "step_txs", tuple(self.step_txs))
        for where, tx_id in (("run_tx", self.run_tx), *(("step_txs", t) for t in self.step_txs)):
            if type(tx_id) is not bytes or len(tx_id) != 32:
                raise RecordError(f"manifest.{where} must hold 32-byte transaction ids")


class ProvenanceLedger(Protocol):
    """What the recorder and the auditor need from the ledger (network_ledger.py has the
    implementation on the embedded ledger.Network)."""

    main_chain_id: str

    def store(self, data: bytes) -> ObjectRef:
        """Put bytes in the content-addressed object store."""

    def load(self, ref: ObjectRef) -> bytes:
        """Bytes named by `ref`; raises if they no longer hash to its digest."""

    def submit(self, chain_id: str, submitter: str, body: dict, obj: ObjectRef | None,
               reexecute: bool | None = None) -> bytes:
        """Endorse and append one Type-I record; returns its tx id. Whether the endorsing
        peers replay a step or FedAvg round first is the chain's policy: `reexecute` is
        ignored (ignore_claimed_mode)."""

    def fetch(self, tx_id: bytes) -> FetchedRecord:
        """The committed record with this tx id (the SHA-256 of its transaction's body, so
        the id binds its content), from whichever chain holds it."""

    def fetch_many(self, tx_ids: Iterable[bytes]) -> dict[bytes, FetchedRecord]:
        """fetch() of many records at once (each block read once), keyed by tx id in the order
        given: exactly what fetch() returns for each id it returns for; an id fetch() raises
        for (not on the ledger, in a block the ledger refuses, no provenance record) is left
        out: fetch() it to learn why."""

    def verify(self, tx_id: bytes, verifier_chain: str) -> None:
        """Protocol 1: raise unless the tx is proven on its chain from `verifier_chain`'s view."""

    def verify_many(self, tx_ids: Iterable[bytes], verifier_chain: str) -> dict[bytes, str | None]:
        """Protocol 1 for many records: per tx id, None when it holds, else why not."""

    def committed_records(self, chain_id: str, kind: str) -> list[tuple[bytes, dict]]:
        """(tx id, body) of every well-formed record of `kind` committed on `chain_id`, in
        chain order: what an auditor searches for a record that competes with one it checks."""



# --- the record schema: one rule for the recorder, the endorsing peers and the auditor ------

MAX_STEPS = 1 << 32        # steps of a run, FedAvg rounds, a step's index
MAX_ITEMS = 1 << 16        # readings in a batch, inputs of a FedAvg round
MAX_WEIGHT = 1 << 53       # a FedAvg weight (exact as a float)
MAX_SEED = (1 << 64) - 1
MAX_NAME = 256
_HEX = frozenset("0123456789abcdef")


def _fail(where: str, what: str) -> RecordError:
    return RecordError(f"{where} must be {what}")


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME:
        raise _fail(where, f"a non-empty string of at most {MAX_NAME} characters")
    return value


def _hex(size: int):
    def check(value: object, where: str) -> str:
        if not isinstance(value, str) or len(value) != 2 * size or not _HEX.issuperset(value):
            raise _fail(where, f"{size} bytes as lowercase hex")
        return value
    return check


_digest = _hex(32)  # tx ids and object digests (SHA-256)


def _hex_up_to(size: int):
    def check(value: object, where: str) -> str:
        if not isinstance(value, str) or not 0 < len(value) <= 2 * size or len(value) % 2 \
                or not _HEX.issuperset(value):
            raise _fail(where, f"1 to {size} bytes as lowercase hex")
        return value
    return check


def _int(low: int, high: int):
    def check(value: object, where: str) -> int:
        if type(value) is not int or not low <= value <= high:
            raise _fail(where, f"an integer from {low} to {high}")
        return value
    return check


def _bool(value: object, where: str) -> bool:
    if type(value) is not bool:
        raise _fail(where, "true or false")
    return value


def _dict(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(where, "an object")
    return value


def _list_of(item, low: int, high: int):
    def check(value: object, where: str) -> list:
        if not isinstance(value, list) or not low <= len(value) <= high:
            raise _fail(where, f"a list of {low} to {high} items")
        for position, element in enumerate(value):
            item(element, f"{where}[{position}]")
        return value
    return check


def _fields(schema: dict, optional: dict | None = None):
    """An object with exactly the fields of `schema` (and any of `optional`), each passing
    its check."""
    optional = optional or {}

    def check(value: object, where: str) -> dict:
        _dict(value, where)
        if not set(schema) <= set(value) <= set(schema) | set(optional):
            missing, extra = sorted(set(schema) - set(value)), sorted(map(str, set(value) - set(schema) - set(optional)))
            raise RecordError(f"{where} has {'missing fields ' + ', '.join(missing) if missing else ''}"
                              f"{'; ' if missing and extra else ''}"
                              f"{'unknown fields ' + ', '.join(e[:40] for e in extra[:5]) if extra else ''}")
        for key, field_check in {**schema, **optional}.items():
            if key in value:
                field_check(value[key], f"{where}.{key}")
        return value
    return check


def _hyperparameters(value: object, where: str) -> dict:
    from ledger.provenance.trainers import Hyperparameters  # trainers do not import records

    _dict(value, where)
    Hyperparameters.from_record(value)
    return value


def _optional(check):
    def optional(value: object, where: str):
        return None if value is None else check(value, where)
    return optional


_step_index = _int(1, MAX_STEPS)
_code = _fields({"ref": _name, "source": _digest})  # an importable reference and its source's SHA-256
_class = _fields({"ref": _name, "source": _digest, "kwargs": _dict})
_round_input = _fields({"tx": _digest, "model": _digest, "weight": _int(1, MAX_WEIGHT)})
# A PyTorch pipeline's replay contract (pipeline.py): what the auditor re-imports and replays.
_contract = _fields({"step": _code, "model": _class, "optimizer": _class, "scheduler": _optional(_class),
                     "hyperparameters": _dict, "seed": _int(0, MAX_SEED), "interval": _int(1, MAX_ITEMS),
                     "deterministic": _fields({"algorithms": _bool, "threads": _int(1, 1024),
                                               "interop_threads": _int(1, 1024)})})
_SCHEMAS = {
    # nonrevoked: the device's ledger.revocation.NonRevocationProof, where revocation is on
    "reading": _fields({"kind": _name, "device": _name, "device_fp": _digest, "signer_fp": _digest,
                        "delegated": _bool, "signature": _hex(64)}, optional={"nonrevoked": _hex_up_to(2048)}),
    "run": _fields({"kind": _name, "edge": _name, "trainer": _name, "hyperparameters": _hyperparameters,
                    "seeds": _fields({"init_seed": _int(0, MAX_SEED), "data_order_seed": _int(0, MAX_SEED)}),
                    "data_order": _digest, "steps": _step_index, "initial": _digest,
                    "initial_model": _digest, "environment": _dict}),
    "batch": _fields({"kind": _name, "run": _digest, "index": _step_index,
                      "readings": _list_of(_digest, 1, MAX_ITEMS)}),
    "step": _fields({"kind": _name, "run": _digest, "index": _step_index, "batch": _digest,
                     "batch_digest": _digest, "global": _digest, "global_model": _digest,
                     "model_in": _digest, "tx_hash": _digest}),
    # round 0 is the initial model (no inputs, the seed that derives it); later rounds FedAvg
    "initial": _fields({"kind": _name, "round": _int(0, 0), "locals": _list_of(_digest, 0, 0),
                        "init": _fields({"trainer": _name, "hyperparameters": _hyperparameters}),
                        "tx_hash": _digest}),
    "aggregation": _fields({"kind": _name, "round": _int(1, MAX_STEPS), "tx_hash": _digest,
                            "locals": _list_of(_round_input, 1, MAX_ITEMS)}),
    # a pipeline run: its object is the data order; M_O (global) is None for a run that starts
    # from the contract's seeded model
    "pipeline": _fields({"kind": _name, "edge": _name, "contract": _contract, "environment": _dict,
                         "data_order": _digest, "iterations": _step_index, "global": _optional(_digest),
                         "global_model": _optional(_digest), "initial_state": _digest}),
    # one checkpoint: `interval` iterations (fewer for the run's last), its object the state after
    "segment": _fields({"kind": _name, "run": _digest, "index": _step_index,
                        "batches": _list_of(_digest, 1, MAX_ITEMS), "batch_digests": _list_of(_digest, 1, MAX_ITEMS),
                        "state_in": _digest, "tx_hash": _digest}),
    # a federated round of pipelines: round 0 is the contract's seeded model, later ones FedAvg
    "pipeline-initial": _fields({"kind": _name, "round": _int(0, 0), "model": _class, "seed": _int(0, MAX_SEED),
                                 "tx_hash": _digest}),
    "pipeline-round": _fields({"kind": _name, "round": _int(1, MAX_STEPS), "previous": _digest,
                               "locals": _list_of(_round_input, 1, MAX_ITEMS), "tx_hash": _digest}),
}


def segment_count(iterations: int, interval: int) -> int:
    """The segments of a pipeline run of `iterations` with checkpoint interval `interval`."""
    return -(-iterations // interval)


def check_author(trust, submitter: bytes, chain_id: str, signed_at_ms: int | None = None) -> None:
    """Provenance records are written by the peers of their chain, nobody else: the endorsing
    peers refuse a record another identity signed, and the auditor fails it (RecordError).
    The certificate must be valid at `signed_at_ms`, the timestamp of the block holding the
    record (None: now, before it is recorded)."""
    try:
        trust.resolve(submitter, roles=("peer",), chain_id=chain_id, valid_at_ms=signed_at_ms)
    except LedgerError as exc:
        raise RecordError(f"not submitted by a peer of {chain_id}: {exc}") from None


def validate_body(body: object, kind: str | None = None) -> dict:
    """`body` if it is a well-formed provenance record (of `kind`, when given): exactly the
    fields of its kind, each of the right type and range, and a run's seeds consistent with
    its hyperparameters. Raises RecordError naming the first bad field otherwise."""
    if not isinstance(body, dict):
        raise RecordError("a provenance record is a JSON object")
    if kind is not None and kind not in KINDS:
        raise RecordError(f"kind must be one of {KINDS}")
    found = body.get("kind")
    if found not in KINDS:
        raise RecordError(f"unknown record kind {str(found)[:40]!r}")
    if kind is not None and found != kind:
        raise RecordError(f"expected a {kind} record, got {found}")
    schema = {"aggregation": "initial", "pipeline-round": "pipeline-initial"}[found] \
        if found in ("aggregation", "pipeline-round") and body.get("round") == 0 else found
    _SCHEMAS[schema](body, found)
    if found == "run" and body["seeds"]["init_seed"] != body["hyperparameters"]["init_seed"]:
        raise RecordError("run.seeds.init_seed differs from run.hyperparameters.init_seed")
    if found == "segment" and len(body["batches"]) != len(body["batch_digests"]):
        raise RecordError("segment.batches and segment.batch_digests differ in length")
    return body


def _canonical(body: dict) -> bytes:
    try:
        return canonical_json(body)
    except (ValueError, TypeError, RecursionError) as exc:  # circular, unserialisable, too deep
        raise RecordError(f"a record must be plain JSON: {str(exc)[:80]}") from None


def encode_body(body: dict) -> bytes:
    """Canonical JSON of a well-formed record (the Type-I payload)."""
    return _canonical(validate_body(body))


def parse_json(data: object, what: str) -> object:
    """JSON from bytes; RecordError for anything that is not (bad UTF-8, bad syntax, nesting
    too deep for the parser, numbers too long)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise RecordError(f"{what} must be bytes, not {type(data).__name__}")
    try:
        return json.loads(bytes(data))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise RecordError(f"{what} is not JSON: {str(exc)[:80]}") from None


def decode_body(payload: bytes, kind: str | None = None) -> dict:
    """Parse and validate a record payload (canonical JSON); with `kind`, require that kind.

    >>> decode_body(b'{"index":1,"kind":"batch"}')
    Traceback (most recent call last):
    ...
    ledger.provenance.errors.RecordError: batch has missing fields readings, run
    """
    body = parse_json(payload, "record payload")
    if not isinstance(body, dict) or _canonical(body) != bytes(payload):
        raise RecordError("payload is not a canonical provenance record")
    return validate_body(body, kind)


def followed_aggregation(body: object, step_body: Callable[[str], object]) -> str | None:
    """The aggregation (tx hex) a FedAvg record of round >= 1 (`body`) follows: the M_O its
    first input trained from, read from that input's step record (`step_body(tx hex)`, its
    body). None for a round-0 record, any other record, or a FedAvg whose first input is no
    recorded step (it follows nothing). One rule for the endorsing peers (one aggregation per
    round: ProvenanceEndorser) and the auditor (no second FedAvg record of a round)."""
    if not isinstance(body, dict) or body.get("kind") != "aggregation" or body.get("round") == 0:
        return None
    try:
        return validate_body(step_body(validate_body(body, "aggregation")["locals"][0]["tx"]), "step")["global"]
    except LedgerError:
        return None


def decode_data_order(data: bytes, steps: int) -> list[list[str]]:
    """A run's committed data order (the reading tx ids of each of its `steps` batches)."""
    _int(1, MAX_STEPS)(steps, "steps")
    order = parse_json(data, "data order")
    return _list_of(_list_of(_digest, 1, MAX_ITEMS), steps, steps)(order, "data order")
