"""Hostile and malformed records (issue 9, provenance 9).

The decoders raise only the provenance exceptions on arbitrary input, and the audit of an
honest federation whose records or manifests are mutated, as if a dishonest edge or cloud had
committed them so, returns a FAIL report with a reason: it never raises and never passes,
unless the mutation touches only what the audit does not vouch for (the environment notes, the
data-order seed, the round-0 record's training-only hyperparameters)."""
from __future__ import annotations

import copy
import dataclasses
import json
import struct

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.objects import ObjectRef
from ledger.provenance import Auditor, Hyperparameters, RunManifest, SignedReading, load_digits_split
from ledger.provenance.devices import decode_reading, encode_reading
from ledger.provenance.encoding import decode_tensors, encode_tensors, sha256
from ledger.provenance.records import FetchedRecord, decode_body, decode_data_order, validate_body
from ledger.provenance.trainers import initial_mlp

from provenance_helpers import EDGES, HP, STEPS, Federation, network

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                    max_leaves=12)


def safetensors_like(header: object, tail: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + tail


def mutated_bytes(data: bytes, draw) -> bytes:
    """`data` with a byte changed, cut short, or grown."""
    how = draw(st.sampled_from(["flip", "cut", "grow"]))
    if how == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    if how == "cut":
        return data[:draw(st.integers(0, max(len(data) - 1, 0)))]
    return data + draw(st.binary(min_size=1, max_size=8))


READING = encode_reading("sensor-1", 3, np.arange(64) % 17, 4)
MODEL = encode_tensors(initial_mlp(HP))


@st.composite
def hostile_bytes(draw):
    kind = draw(st.sampled_from(["raw", "header", "mutated", "json"]))
    if kind == "raw":
        return draw(st.binary(max_size=96))
    if kind == "header":
        return safetensors_like(draw(JSON), draw(st.binary(max_size=32)))
    if kind == "json":
        return json.dumps(draw(JSON)).encode()
    return mutated_bytes(draw(st.sampled_from([READING, MODEL])), draw)


# --- decoders ------------------------------------------------------------------------------

@given(hostile_bytes())
@example(b"\x02" + bytes(7) + b"[]")
@example(safetensors_like({"x": {"dtype": "F32", "shape": [0, 2**62, 2**62], "data_offsets": [0, 0]}}, b""))
@example(safetensors_like({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 10**30]}}, b""))
@example(safetensors_like({"__metadata__": [1]}, b""))
@example(struct.pack("<Q", 2**63) + b"{}")
@example(b"\x10" + bytes(7) + b"[" * 5000)
@example(encode_tensors({"x": np.zeros(64, np.uint8), "y": np.zeros(3, np.int64)}, {"device": "d", "seq": "1"}))
@example(encode_tensors({"x": np.zeros(64, np.uint8), "y": np.array(1)}, {"device": "d", "seq": "9" * 5000}))
def test_decoders_raise_only_provenance_errors_on_arbitrary_bytes(data):
    for decode in (decode_tensors, decode_reading, decode_body, lambda d: decode_data_order(d, 2)):
        try:
            decode(data)
        except LedgerError:
            pass


@given(JSON, st.sampled_from(["reading", "run", "batch", "step", "aggregation", None]))
@example({"kind": "aggregation", "round": 0}, None)
@example({"kind": "run", "hyperparameters": {"local_steps": 0}}, "run")
def test_record_checks_raise_only_provenance_errors_on_arbitrary_values(value, kind):
    for check in (lambda: validate_body(value, kind), lambda: SignedReading.from_record(value, READING),
                  lambda: Hyperparameters.from_record(value), lambda: decode_body(json.dumps(value).encode()),
                  lambda: RunManifest(value, value, value)):
        try:
            check()
        except LedgerError:
            pass


@pytest.mark.parametrize("field, bad", [("local_steps", 0), ("hidden", 10**9), ("learning_rate", float("nan")),
                                        ("batch_size", -1), ("init_seed", 2**70), ("proximal_mu", "0"),
                                        ("weight_decay", True)])
def test_hyperparameters_refuse_what_t_cannot_run(field, bad):
    with pytest.raises(LedgerError, match=field):
        Hyperparameters(**{field: bad})


# --- the audit of mutated records ----------------------------------------------------------

class HostileView:
    """The auditor's ledger, where some records and objects hold what a dishonest party
    committed: Protocol 1 holds for those records (they are on the chain), their content is
    the mutation. Protocol 1 verdicts of the real records are cached across examples."""

    def __init__(self, real, verdicts: dict, records: dict, objects: dict) -> None:
        self.real, self.verdicts, self.records, self.objects = real, verdicts, records, objects
        self.main_chain_id = real.main_chain_id

    def fetch(self, tx_id):
        return self.records[tx_id] if tx_id in self.records else self.real.fetch(tx_id)

    def fetch_many(self, tx_ids):
        tx_ids = list(tx_ids)
        real = self.real.fetch_many([t for t in tx_ids if t not in self.records])
        return {t: self.records[t] if t in self.records else real[t] for t in tx_ids if t in self.records or t in real}

    def load(self, ref):
        digest = ref.digest if isinstance(ref, ObjectRef) else bytes(ref)
        return self.objects[digest] if digest in self.objects else self.real.load(digest)

    def verify_many(self, tx_ids, verifier_chain):
        tx_ids = list(tx_ids)
        missing = [t for t in tx_ids if t not in self.records and (t, verifier_chain) not in self.verdicts]
        if missing:
            for tx_id, verdict in self.real.verify_many(missing, verifier_chain).items():
                self.verdicts[tx_id, verifier_chain] = verdict
        return {t: None if t in self.records else self.verdicts[t, verifier_chain] for t in tx_ids}

    def committed_records(self, chain_id, kind):
        return self.real.committed_records(chain_id, kind)

    def verify(self, tx_id, verifier_chain):
        reason = self.verify_many([tx_id], verifier_chain)[tx_id]
        if reason is not None:
            raise LedgerError(reason)


@pytest.fixture(scope="module")
def federation(tmp_path_factory, toy):
    with network(tmp_path_factory.mktemp("fuzz") / "net", toy) as net:
        fed = Federation.start(net, load_digits_split()).run()
        yield fed, {}


def audited_records(fed) -> dict[str, bytes]:
    """The records edge-0's audit depends on, by name: its run, steps, batches and readings,
    every FedAvg round, and the FedAvg inputs of edge-1 (bound by position, not re-executed)."""
    edge, other = fed.edges
    records = {"run": edge.run.tx_id, "other-run": other.run.tx_id}
    for i, step in enumerate(edge.steps, start=1):
        records[f"step {i}"] = step.tx_id
        records[f"batch {i}"] = bytes.fromhex(fed.chain.fetch(step.tx_id).body["batch"])
    for i, ref in enumerate(edge.data_order[0] + edge.data_order[1]):
        records[f"reading {i}"] = ref.tx_id
    for r, ref in enumerate(fed.cloud.rounds):
        records[f"round {r}"] = ref.tx_id
    for r in range(1, len(fed.cloud.rounds)):
        records[f"other input {r}"] = other.steps[HP.round_input(r) - 1].tx_id
    return records


def paths(value, prefix=()):
    """Every path into a record body (not into the free-form environment)."""
    yield prefix
    if prefix[-1:] == ("environment",):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, prefix + (key,))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from paths(item, prefix + (position,))


def unvouched(name: str, path: tuple) -> bool:
    """Fields the audit reports on but does not vouch for; a valid change there is a no-op."""
    if name in ("run", "other-run") and (path[:1] == ("environment",) or path == ("seeds", "data_order_seed")):
        return True
    if name == "other-run" and path[:1] == ("hyperparameters",) and path[1:] != ("local_steps",):
        return True  # edge-1's run is covered for its positions only; its own audit re-executes it
    if name == "other-run" and path in (("trainer",), ("seeds", "init_seed")):
        return True
    if name.startswith("other input") and path[:1] not in (("run",), ("index",)):
        return True  # likewise: only which run and step it is bind it to a round
    return name == "round 0" and path[:2] == ("init", "hyperparameters") and \
        path[2:] in (("learning_rate",), ("batch_size",), ("local_steps",), ("proximal_mu",), ("weight_decay",))


@st.composite
def hostile_value(draw, known_hex):
    return draw(st.one_of(JSON, st.sampled_from(known_hex), hostile_bytes().map(lambda b: ("object", b))))


def set_path(body, path, value):
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def delete_path(body, path):
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]


@settings(max_examples=80)  # one audit per example; the mutations span every record kind
@given(data=st.data())
def test_an_audit_of_mutated_records_fails_with_a_reason_and_never_raises(federation, data):
    fed, verdicts = federation
    records = audited_records(fed)
    known_hex = sorted({tx.hex() for tx in records.values()} | {"00" * 32})
    objects: dict[bytes, bytes] = {}

    def as_value(value):
        if isinstance(value, tuple):  # hostile bytes, stored: the record names their digest
            objects[sha256(value[1])] = value[1]
            return sha256(value[1]).hex()
        return value

    manifests = fed.manifests()
    hostile: dict[bytes, FetchedRecord] = {}
    name = data.draw(st.sampled_from(sorted(records) + ["manifest"]), label="target")
    no_op = False
    if name == "manifest":
        steps = list(manifests[0].step_txs)
        how = data.draw(st.sampled_from(["drop", "duplicate", "swap", "replace", "run", "chain", "object"]))
        at = data.draw(st.integers(0, len(steps) - 1))
        if how == "drop":
            del steps[at]
        elif how == "duplicate":
            steps.insert(at, steps[at - 1])
        elif how == "swap":
            other = data.draw(st.integers(0, len(steps) - 1))
            assume(other != at)
            steps[at], steps[other] = steps[other], steps[at]
        elif how == "replace":
            steps[at] = bytes.fromhex(data.draw(st.sampled_from(known_hex)))
        try:
            if how == "run":
                manifest = dataclasses.replace(manifests[0], run_tx=bytes.fromhex(data.draw(st.sampled_from(known_hex))))
            elif how == "chain":
                manifest = dataclasses.replace(manifests[0], chain_id=data.draw(st.sampled_from([EDGES[1], "main", "edge-9"])))
            elif how == "object":
                manifest = data.draw(st.sampled_from([None, 5, "manifest", manifests[1].step_txs]))
            else:
                manifest = dataclasses.replace(manifests[0], step_txs=tuple(steps))
        except LedgerError:
            return  # refused when built
        assume(manifest != manifests[0])
    else:
        manifest = manifests[0]
        tx_id = records[name]
        original = fed.chain.fetch(tx_id)
        body = copy.deepcopy(original.body)
        obj, chain_id, submitter = original.obj, original.chain_id, original.submitter
        part = data.draw(st.sampled_from(["body", "body", "body", "object", "chain", "submitter"]), label="part")
        if part == "body":
            path = data.draw(st.sampled_from(list(paths(body))), label="path")
            how = data.draw(st.sampled_from(["replace", "delete", "add"]), label="how")
            if not path:
                body = as_value(data.draw(hostile_value(known_hex))) if how == "replace" else {**body, "extra": 1}
            elif how == "delete":
                delete_path(body, path)
            elif how == "add":
                target = body
                for key in path:
                    target = target[key]
                if isinstance(target, dict):
                    target["extra"] = 1
                else:
                    set_path(body, path, {"extra": 1})
            else:
                set_path(body, path, as_value(data.draw(hostile_value(known_hex), label="value")))
            assume(body != original.body)
            try:
                validate_body(body)
                no_op = unvouched(name, path)
            except LedgerError:
                pass
        elif part == "object":
            choice = data.draw(st.sampled_from(["none", "other", "bytes"]))
            if choice == "none":
                obj = None
            elif choice == "other":
                obj = fed.edges[0].steps[data.draw(st.integers(0, STEPS - 1))].obj
            else:
                content = data.draw(hostile_bytes())
                objects[sha256(content)] = content
                obj = ObjectRef(sha256(content), "memory://hostile")
            assume(obj != original.obj)
        elif part == "chain":
            chain_id = data.draw(st.sampled_from([c for c in (*EDGES, "main") if c != original.chain_id]))
        else:
            submitter = data.draw(st.sampled_from([bytes(32), fed.net.identity("main.peer0").fingerprint,
                                                   fed.net.identity(f"{EDGES[0]}.sensor").fingerprint]))
            assume(submitter != original.submitter)
        hostile[tx_id] = FetchedRecord(chain_id, tx_id, body, obj, submitter)

    view = HostileView(fed.chain, verdicts, hostile, objects)
    report = Auditor(view, fed.net.trust, EDGES[1]).audit(manifest, fraction=1.0, federation=manifests[1:])
    reasons = report.run_failures + [reason for v in report.verdicts for reason in v.failures]
    assert not any("unchecked error" in reason for reason in reasons), report.summary()
    if not no_op:
        assert not report.passed and reasons, f"{name}: {report.summary()}"


def test_the_hostile_view_of_unmutated_records_passes(federation):
    fed, verdicts = federation
    manifests = fed.manifests()
    report = Auditor(HostileView(fed.chain, verdicts, {}, {}), fed.net.trust, EDGES[1]).audit(
        manifests[0], fraction=1.0, federation=manifests[1:])
    assert report.passed, report.summary()


def mutate(fed, name: str, change) -> dict[bytes, FetchedRecord]:
    """{tx id: the record `name` with change(body) applied}."""
    tx_id = audited_records(fed)[name]
    original = fed.chain.fetch(tx_id)
    body = copy.deepcopy(original.body)
    change(body)
    return {tx_id: dataclasses.replace(original, body=body)}


CASES = [  # (record, change, what the report says)
    ("run", lambda b: b["hyperparameters"].update(local_steps=0), "local_steps must be an integer from 1"),
    ("run", lambda b: b.pop("steps"), "missing fields steps"),
    ("run", lambda b: b.update(steps="6"), "run.steps must be an integer"),
    ("run", lambda b: b.update(steps=-6), "run.steps must be an integer"),
    ("run", lambda b: b.update(steps=2**80), "run.steps must be an integer"),
    ("run", lambda b: b.update(data_order="11" * 32), "the run record's object is not the data order"),
    ("step 3", lambda b: b.update(index=2**70), "step.index must be an integer"),
    ("step 3", lambda b: b.update(model_in="22" * 32), "M_{i-1} is not the model the ledger records"),
    ("step 3", lambda b: b.update(batch="33" * 32), "batch 333333333333 fails Protocol 1"),
    ("step 3", lambda b: b.update(global_model="44" * 32), "M_O: no object"),
    ("batch 2", lambda b: b.update(readings=b["readings"][:-1]), "differ from the run's committed data order"),
    ("batch 2", lambda b: b.update(readings=[]), "batch.readings must be a list of 1"),
    ("round 1", lambda b: b["locals"][0].update(weight=0), "weight must be an integer from 1"),
    ("round 1", lambda b: b["locals"][0].update(weight=3), "has weight 3; its run trained on"),
    ("round 1", lambda b: b.update(round=2), "M_O is round 2, step 3 belongs to round 1"),
    ("reading 0", lambda b: b.update(signature="ab" * 63), "signature must be 64 bytes"),
    ("reading 0", lambda b: b.update(delegated=True), "reading of"),
]


@pytest.mark.parametrize("name, change, reason", CASES, ids=[f"{c[0]}-{c[2][:24]}" for c in CASES])
def test_each_kind_of_malformed_record_fails_the_audit_with_its_reason(federation, name, change, reason):
    fed, verdicts = federation
    manifests = fed.manifests()
    view = HostileView(fed.chain, verdicts, mutate(fed, name, change), {})
    report = Auditor(view, fed.net.trust, EDGES[1]).audit(manifests[0], fraction=1.0, federation=manifests[1:])
    assert not report.passed and reason in report.summary(), report.summary()


def test_a_committed_record_that_is_not_json_fails_the_audit(tmp_path, toy):
    """A payload that is no provenance record at all, committed on a chain before any
    provenance validator was installed: the audit fails on it, it does not raise."""
    with network(tmp_path / "net", toy) as net:
        garbage = net.submit(EDGES[0], b"\xff not json {", signer=f"{EDGES[0]}.peer0").result()
        fed = Federation.start(net, load_digits_split()).run()
        manifest = fed.manifests()[0]
        for forged in (dataclasses.replace(manifest, run_tx=garbage.tx_id),
                       dataclasses.replace(manifest, step_txs=(garbage.tx_id,) + manifest.step_txs[1:])):
            report = Auditor(fed.chain, net.trust, EDGES[1]).audit(forged, fraction=1.0, federation=fed.manifests()[1:])
            assert not report.passed and "payload is not JSON" in report.summary(), report.summary()
        report = Auditor(fed.chain, net.trust, EDGES[1]).audit(manifest, fraction=1.0, federation=fed.manifests()[1:])
        assert report.passed, report.summary()


@given(st.one_of(hostile_bytes(), st.sampled_from([b'{"kind":"step"}', b'{"kind": "batch"}', b"[]", b"null"])))
def test_the_peers_refuse_a_payload_that_is_no_provenance_record(federation, payload):
    fed, _ = federation
    height = fed.net.peer(EDGES[0]).height
    with pytest.raises(LedgerError):
        fed.net.submit(EDGES[0], payload, signer=f"{EDGES[0]}.peer0").result(30)
    assert fed.net.peer(EDGES[0]).height == height
