"""The third-party audit of a training run (paper section V.B, verification).

The auditor samples steps i at random (a count or a fraction, seeded), fetches M_{i-1}, M_O and
d_i named by the ledger, checks every record involved through Protocol 1 from its own chain's
view, checks every fetched object against its recorded digest, every reading against its
device certificate and signature, the batch against the run's committed data order, re-executes
T and compares with the recorded M_i: bit for bit by default, or within reported distance
thresholds in tolerance mode. Nothing the edge hands over is trusted: the manifest (run and
step transaction ids) only says where to look.
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
import numpy as np

from ledger.errors import LedgerError
from ledger.identity import TrustStore
from ledger.provenance.devices import SignedReading, verify_reading
from ledger.provenance.encoding import (Tensors, aggregation_digest, decode_tensors, encode_tensors,
                                        step_digest)
from ledger.provenance.environment import environment_differences, environment_fingerprint
from ledger.provenance.errors import ProvenanceError
from ledger.provenance.records import FetchedRecord, ProvenanceLedger, RunManifest
from ledger.provenance.recorder import batch_from_readings, replay_aggregation
from ledger.provenance.trainers import Hyperparameters, Trainer, trainer_for


@dataclass(frozen=True)
class Tolerance:
    """Tolerance mode: accept a re-executed model whose every tensor is within `max_abs`
    (largest absolute difference) and `max_rel_l2` (||a - b|| / ||b||) of the recorded one."""

    max_abs: float = 1e-5
    max_rel_l2: float = 1e-5


@dataclass
class StepVerdict:
    """The outcome for one sampled step: every failed check, and the model distances."""

    index: int
    failures: list[str] = field(default_factory=list)
    max_abs: float | None = None
    max_rel_l2: float | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class AuditReport:
    chain_id: str
    mode: str
    total_steps: int
    verdicts: list[StepVerdict]
    run_failures: list[str]
    seconds: float
    protocol1_seconds: float = 0.0  # the batched Protocol 1 pass over every record involved
    environment_notes: list[str] = field(default_factory=list)  # run's environment vs the auditor's

    @property
    def passed(self) -> bool:
        return not self.run_failures and all(v.ok for v in self.verdicts)

    @property
    def failed_steps(self) -> list[int]:
        return [v.index for v in self.verdicts if not v.ok]

    def summary(self) -> str:
        lines = [f"audit of {self.chain_id}: {'PASS' if self.passed else 'FAIL'} "
                 f"({len(self.verdicts)} of {self.total_steps} steps sampled, {self.mode}, "
                 f"{self.seconds:.2f} s)"]
        lines += [f"  run: {reason}" for reason in self.run_failures]
        lines += [f"  environment differs (not a failure): {note}" for note in self.environment_notes]
        for verdict in self.verdicts:
            distance = "" if verdict.max_abs is None else \
                f" (max |diff| {verdict.max_abs:.3g}, rel L2 {verdict.max_rel_l2:.3g})"
            for reason in verdict.failures:
                lines.append(f"  step {verdict.index}: {reason}{distance}")
        return "\n".join(lines)


class _Failed(Exception):
    """One failed check; the message goes into the step's verdict."""


def sample_steps(total: int, *, count: int | None = None, fraction: float | None = None, seed: int = 0) -> list[int]:
    """Sorted 1-based step indices: `count` of them, or ceil(fraction * total), seeded."""
    if (count is None) == (fraction is None):
        raise ProvenanceError("give exactly one of count or fraction")
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ProvenanceError("fraction must be in (0, 1]")
        count = math.ceil(fraction * total)
    if count is None or count < 0:
        raise ProvenanceError("count must be non-negative")
    return sorted(random.Random(seed).sample(range(1, total + 1), min(count, total)))


def model_distances(recomputed: Tensors, recorded: Tensors) -> tuple[float, float]:
    """(largest absolute difference, largest relative L2 distance) over the tensors."""
    if sorted(recomputed) != sorted(recorded):
        return math.inf, math.inf
    max_abs = max_rel = 0.0
    for name, value in recorded.items():
        a, b = np.asarray(recomputed[name], np.float64), np.asarray(value, np.float64)
        if a.shape != b.shape:
            return math.inf, math.inf
        diff = a - b
        max_abs = max(max_abs, float(np.abs(diff).max(initial=0.0)))
        max_rel = max(max_rel, float(np.linalg.norm(diff) / max(np.linalg.norm(b), 1e-30)))
    return max_abs, max_rel


class Auditor:
    """A third party holding the deployment's trust store and one chain's view for Protocol 1."""

    def __init__(self, ledger: ProvenanceLedger, trust: TrustStore, verifier_chain: str,
                 tolerance: Tolerance | None = None, reexecute_with: str | None = None) -> None:
        """`tolerance` switches from bit-exact comparison to distance thresholds;
        `reexecute_with` names a trainer to replay with instead of the one the run record
        names (the same T on another framework, where only tolerance mode can pass)."""
        self.ledger, self.trust, self.verifier_chain, self.tolerance = ledger, trust, verifier_chain, tolerance
        self.reexecute_with = reexecute_with
        self._verified: dict[bytes, FetchedRecord] = {}
        self._verdicts: dict[bytes, str | None] = {}  # Protocol 1 results of the batch pass

    def audit(self, manifest: RunManifest, *, count: int | None = None, fraction: float | None = None,
              seed: int = 0) -> AuditReport:
        """Audit a sample of the run's steps; see the module docstring for every check."""
        started = time.perf_counter()
        mode = "exact" if self.tolerance is None else \
            f"tolerance(max_abs={self.tolerance.max_abs:g}, max_rel_l2={self.tolerance.max_rel_l2:g})"
        if self.reexecute_with:
            mode += f", replayed with {self.reexecute_with}"
        try:
            run = self._record(manifest.run_tx, "run", manifest.chain_id)
            trainer = trainer_for(self.reexecute_with or run.body["trainer"],
                                  Hyperparameters.from_record(run.body["hyperparameters"]))
            order = self._data_order(run)
            total = int(run.body["steps"])
            if len(manifest.step_txs) != total:
                raise _Failed(f"the run records {total} steps, the manifest lists {len(manifest.step_txs)}")
        except (_Failed, LedgerError) as exc:
            return AuditReport(manifest.chain_id, mode, 0, [], [str(exc)], time.perf_counter() - started)
        except (KeyError, TypeError, ValueError) as exc:
            return AuditReport(manifest.chain_id, mode, 0, [], [f"malformed run record: {exc!r}"],
                               time.perf_counter() - started)
        sampled = sample_steps(total, count=count, fraction=fraction, seed=seed)
        protocol1_started = time.perf_counter()
        self._verify_in_batch(manifest, sampled)
        protocol1_seconds = time.perf_counter() - protocol1_started
        verdicts = []
        for index in sampled:
            step_started = time.perf_counter()
            verdict = StepVerdict(index)
            try:
                self._audit_step(manifest, run, trainer, order, index, verdict)
            except (_Failed, LedgerError) as exc:
                verdict.failures.append(str(exc))
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                verdict.failures.append(f"malformed record: {exc!r}")
            verdict.seconds = time.perf_counter() - step_started
            verdicts.append(verdict)
        notes = environment_differences(run.body.get("environment", {}), environment_fingerprint(trainer.name))
        return AuditReport(manifest.chain_id, mode, total, verdicts, [], time.perf_counter() - started,
                           protocol1_seconds, notes)

    # --- checks ------------------------------------------------------------------------

    def _verify_in_batch(self, manifest: RunManifest, sampled: list[int]) -> None:
        """Protocol 1 for every record the sampled steps name, in one pass that shares the
        witness work. The names come from records not yet checked; each is checked here and
        its content is only used after (in _record)."""
        wanted: set[bytes] = set()

        def body(tx_id: bytes) -> dict:
            wanted.add(tx_id)
            try:
                return self.ledger.fetch(tx_id).body
            except LedgerError:
                return {}  # _record reports it when the step is audited

        for index in sampled:
            steps = manifest.step_txs[max(index - 2, 0):index]
            for tx_id in steps:
                body(tx_id)
            step = body(steps[-1]) if steps else {}
            try:
                for name in ("batch", "global"):
                    linked = body(bytes.fromhex(step[name]))
                    wanted.update(bytes.fromhex(tx) for tx in linked.get("readings", []))
                    wanted.update(bytes.fromhex(entry["tx"]) for entry in linked.get("locals", []))
            except (KeyError, TypeError, ValueError):
                continue  # a malformed record: the step's own audit reports it
        wanted -= set(self._verdicts) | set(self._verified)
        if wanted:
            self._verdicts.update(self.ledger.verify_many(wanted, self.verifier_chain))

    def _record(self, tx_id: bytes, kind: str, chain_id: str | None = None) -> FetchedRecord:
        """The record, after Protocol 1 from the auditor's chain; cached per tx id."""
        if tx_id not in self._verified:
            if tx_id in self._verdicts:
                reason = self._verdicts[tx_id]
            else:
                try:
                    self.ledger.verify(tx_id, self.verifier_chain)
                    reason = None
                except LedgerError as exc:
                    reason = str(exc)
            if reason is not None:
                raise _Failed(f"{kind} {tx_id.hex()[:12]} fails Protocol 1: {reason}")
            self._verified[tx_id] = self.ledger.fetch(tx_id)
        record = self._verified[tx_id]
        try:  # records are written by the peers of their chain, nobody else
            self.trust.resolve(record.submitter, roles=("peer",), chain_id=record.chain_id)
        except LedgerError as exc:
            raise _Failed(f"{kind} {tx_id.hex()[:12]} was not submitted by a peer of {record.chain_id}: {exc}") from None
        if record.body.get("kind") != kind:
            raise _Failed(f"transaction {tx_id.hex()[:12]} is a {record.body.get('kind')} record, not a {kind}")
        if chain_id is not None and record.chain_id != chain_id:
            raise _Failed(f"{kind} {tx_id.hex()[:12]} is on {record.chain_id}, not {chain_id}")
        return record

    def _object(self, digest: bytes, what: str) -> bytes:
        try:
            return self.ledger.load(digest)
        except LedgerError as exc:
            raise _Failed(f"{what}: {exc}") from None

    def _data_order(self, run: FetchedRecord) -> list[list[str]]:
        data = self._object(bytes.fromhex(run.body["data_order"]), "data order")
        return json.loads(data)

    def _audit_step(self, manifest: RunManifest, run: FetchedRecord, trainer: Trainer, order: list[list[str]],
                    index: int, verdict: StepVerdict) -> None:
        chain = manifest.chain_id
        step = self._record(manifest.step_txs[index - 1], "step", chain)
        body = step.body
        if body["run"] != run.tx_id.hex() or body["index"] != index:
            raise _Failed(f"the record is step {body['index']} of run {body['run'][:12]}, not step {index} of this run")

        # M_{i-1}: the run's initial model, or the previous step's recorded output.
        if index == 1:
            expected_in = run.body["initial_model"]
        else:
            previous = self._record(manifest.step_txs[index - 2], "step", chain)
            expected_in = previous.obj.digest.hex() if previous.obj else ""
        if body["model_in"] != expected_in:
            verdict.failures.append("M_{i-1} is not the model the ledger records for step i-1")
        model_in = decode_tensors(self._object(bytes.fromhex(expected_in), "M_{i-1}"))[0]

        # M_O: the aggregation of this step's round, on the main chain, FedAvg re-executed.
        aggregation = self._record(bytes.fromhex(body["global"]), "aggregation", self.ledger.main_chain_id)
        expected_round = (index - 1) // trainer.hyperparameters.local_steps
        if aggregation.body["round"] != expected_round:
            verdict.failures.append(f"M_O is round {aggregation.body['round']}, step {index} belongs to round {expected_round}")
        if aggregation.obj is None or aggregation.obj.digest.hex() != body["global_model"]:
            verdict.failures.append("M_O named by the step is not the model of its aggregation record")
        global_bytes = self._object(bytes.fromhex(body["global_model"]), "M_O")
        verdict.failures += self._check_aggregation(aggregation, global_bytes)

        # d_i: the committed readings, each recorded, signed and intact, in the committed order.
        batch = self._record(bytes.fromhex(body["batch"]), "batch", chain)
        if batch.body["run"] != run.tx_id.hex() or batch.body["index"] != index:
            verdict.failures.append("d_i is recorded for another run or step")
        if batch.body["readings"] != order[index - 1]:
            verdict.failures.append("d_i's readings differ from the run's committed data order")
        reading_bytes = [self._reading(bytes.fromhex(tx), chain) for tx in batch.body["readings"]]
        batch_bytes = self._object(bytes.fromhex(body["batch_digest"]), "d_i")
        if batch.obj is None or batch.obj.digest.hex() != body["batch_digest"]:
            verdict.failures.append("d_i named by the step is not the batch record's object")
        if encode_tensors(batch_from_readings(reading_bytes)) != batch_bytes:
            verdict.failures.append("d_i is not the batch its recorded readings make")

        # M_i: re-execute T and compare with the recorded model and transaction hash.
        if step.obj is None:
            raise _Failed("the step record names no model")
        recorded_bytes = self._object(step.obj.digest, "M_i")
        if step_digest(recorded_bytes, global_bytes, batch_bytes, index).hex() != body["tx_hash"]:
            verdict.failures.append("tx hash is not H(M_i || M_O || d_i || i)")
        recomputed = trainer.step(model_in, decode_tensors(global_bytes)[0], decode_tensors(batch_bytes)[0], index)
        recorded = decode_tensors(recorded_bytes)[0]
        verdict.max_abs, verdict.max_rel_l2 = model_distances(recomputed, recorded)
        if self.tolerance is None:
            if encode_tensors(recomputed) != recorded_bytes:
                verdict.failures.append("re-executing T does not reproduce M_i bit for bit")
        elif verdict.max_abs > self.tolerance.max_abs or verdict.max_rel_l2 > self.tolerance.max_rel_l2:
            verdict.failures.append("re-executing T gives a model outside the tolerance")

    def _reading(self, tx_id: bytes, chain: str) -> bytes:
        record = self._record(tx_id, "reading", chain)
        if record.obj is None:
            raise _Failed(f"reading {tx_id.hex()[:12]} names no object")
        data = self._object(record.obj.digest, f"reading {tx_id.hex()[:12]}")
        try:
            verify_reading(self.trust, SignedReading.from_record(record.body, data), chain)
        except ProvenanceError as exc:
            raise _Failed(f"reading {tx_id.hex()[:12]}: {exc}") from None
        return data

    def _check_aggregation(self, aggregation: FetchedRecord, model_bytes: bytes) -> list[str]:
        """Round 0 must be the seed's initial model; later rounds FedAvg of recorded locals."""
        body = aggregation.body
        if body["round"] == 0:
            init = body["init"]
            derived = trainer_for(init["trainer"], Hyperparameters.from_record(init["hyperparameters"])).initial_model()
            return [] if encode_tensors(derived) == model_bytes else ["M_O (round 0) is not the model its seed derives"]
        local_bytes = []
        for entry in body["locals"]:
            local = self._record(bytes.fromhex(entry["tx"]), "step")
            if local.obj is None or local.obj.digest.hex() != entry["model"]:
                return [f"M_O round {body['round']}: a local model is not the one its step records"]
            local_bytes.append(self._object(local.obj.digest, "local model"))
        failures = []
        if aggregation_digest(model_bytes, local_bytes, [e["weight"] for e in body["locals"]], body["round"]).hex() != body["tx_hash"]:
            failures.append(f"M_O round {body['round']}: tx hash does not match")
        if encode_tensors(replay_aggregation(self.ledger, body)) != model_bytes:
            failures.append(f"M_O round {body['round']}: FedAvg does not reproduce the recorded model")
        return failures
