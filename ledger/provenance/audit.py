"""The third-party audit of a training run (paper section V.B, verification).

The auditor samples steps i at random, from its own fresh randomness (`secrets`) unless the
caller passes the seed of an earlier audit to reproduce it; the report records the seed either
way, and nothing the audited party writes or chooses enters the draw. For each sampled step it
fetches M_{i-1}, M_O and d_i named by the ledger, checks every record involved through
Protocol 1 from its own chain's view, checks every fetched object against its recorded digest,
every reading against its device certificate and signature, the batch against the run's
committed data order, re-executes T and compares with the recorded M_i: bit for bit by
default, or within reported distance thresholds in tolerance mode. A step's M_O continues its
run's models (recorder.check_step_global): the run's initial model in round 0, then each
round the one FedAvg record that follows the model the run trained from before. Every input
of a FedAvg round a sampled step trains from must be a step of an audited run (the audited
one or one of `federation`), at the position its manifest gives (the run's last step of the
previous round), once per round, all trained from one model, weighted by the distinct
readings its run's committed data order gives it in that round - each recorded on its own
edge's chain and signed by its device at its block's time, none weighing another input of
the round (recorder.check_round_input) - and no other FedAvg record on the main chain may
follow that model (one aggregation per round). (Whether a run of the federation trained on
those batches, only an audit of that run replays.) A run's initial model is the round-0
record it names, derived by the run's own init_seed (recorder.check_run_initial).
Signatures count at the timestamp of the block that holds them (ledger.identity). Nothing the edge hands over is
trusted: the manifest (run and step transaction ids) only says where to look, and a
malformed or hostile record makes the report FAIL with a reason; `audit` raises only for the
caller's own bad arguments.
"""
from __future__ import annotations

import math
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, TypeVar

import numpy as np

from ledger.errors import LedgerError
from ledger.identity import TrustStore
from ledger.provenance.devices import check_reading_record
from ledger.provenance.encoding import (Tensors, aggregation_digest, decode_tensors, encode_tensors,
                                        sha256, step_digest)
from ledger.provenance.environment import environment_differences, environment_fingerprint
from ledger.provenance.errors import ProvenanceError, RecordError
from ledger.provenance.records import (MAX_STEPS, FetchedRecord, ProvenanceLedger, RunManifest, check_author,
                                       decode_data_order, followed_aggregation, validate_body)
from ledger.provenance.recorder import (RoundInputs, batch_from_readings, check_round_input, check_run_initial,
                                        check_step_global, round_batches)
from ledger.provenance.trainers import Hyperparameters, Trainer, fedavg, trainer_for


@dataclass(frozen=True)
class Tolerance:
    """Tolerance mode: accept a re-executed model whose every tensor is within `max_abs`
    (largest absolute difference) and `max_rel_l2` (||a - b|| / ||b||) of the recorded one."""

    max_abs: float = 1e-5
    max_rel_l2: float = 1e-5

    def __post_init__(self) -> None:
        """Finite non-negative bounds: a NaN bound fails no comparison, so it would pass every model."""
        for name in ("max_abs", "max_rel_l2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ProvenanceError(f"tolerance {name} must be a finite number >= 0")


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
    seed: int | None = None  # the sample's seed: audit(..., seed=report.seed) samples the same steps

    @property
    def passed(self) -> bool:
        """Every sampled step (at least one) and the run itself passed every check."""
        return not self.run_failures and bool(self.verdicts) and all(v.ok for v in self.verdicts)

    @property
    def failed_steps(self) -> list[int]:
        return [v.index for v in self.verdicts if not v.ok]

    def summary(self) -> str:
        lines = [f"audit of {self.chain_id}: {'PASS' if self.passed else 'FAIL'} "
                 f"({len(self.verdicts)} of {self.total_steps} steps sampled with seed "
                 f"{'none' if self.seed is None else hex(self.seed)}, {self.mode}, {self.seconds:.2f} s)"]
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


def _reason(exc: Exception) -> str:
    """A failure reason from what a check raised: the checks raise _Failed or a ledger error;
    anything else is a record no check anticipated, which fails too (never passes)."""
    if isinstance(exc, (_Failed, LedgerError)):
        return str(exc)
    return f"unchecked error on a malformed record (a failure): {exc!r}"[:300]


def fresh_seed() -> int:
    """A 128-bit sample seed from the operating system's randomness: the audited party can
    neither predict nor choose it."""
    return secrets.randbits(128)


def check_sample_request(count: int | None, fraction: float | None, seed: int) -> None:
    """The caller's sample size and seed (ProvenanceError for bad ones)."""
    if (count is None) == (fraction is None):
        raise ProvenanceError("give exactly one of count or fraction")
    if count is not None and (type(count) is not int or count < 1):
        raise ProvenanceError("count must be a positive integer")
    if fraction is not None and (type(fraction) not in (int, float) or not 0 < fraction <= 1):
        raise ProvenanceError("fraction must be a number in (0, 1]")
    if type(seed) is not int or not 0 <= seed < 1 << 256:
        raise ProvenanceError("seed must be an integer from 0 to 2^256 - 1")


def sample_steps(total: int, *, count: int | None = None, fraction: float | None = None,
                 seed: int | None = None) -> list[int]:
    """Sorted 1-based step indices: `count` of them (at most `total`), or ceil(fraction * total),
    drawn from `seed`: a recorded seed reproduces a sample; None draws from fresh_seed() (to
    know the seed of a new sample, draw it first and pass it)."""
    seed = fresh_seed() if seed is None else seed
    check_sample_request(count, fraction, seed)
    if type(total) is not int or not 0 <= total <= MAX_STEPS:
        raise ProvenanceError(f"total must be an integer from 0 to {MAX_STEPS}")
    wanted = count if count is not None else math.ceil(fraction * total)  # type: ignore[operator]
    return sorted(random.Random(seed).sample(range(1, total + 1), min(wanted, total)))


def model_distances(recomputed: Tensors, recorded: Tensors) -> tuple[float, float]:
    """(largest absolute difference, largest relative L2 distance) over the tensors; infinite
    for tensors that differ in names or shapes, or hold a NaN or infinity in either model
    (max() and ">" skip NaN: a poisoned model would come out at distance 0)."""
    if sorted(recomputed) != sorted(recorded):
        return math.inf, math.inf
    max_abs = max_rel = 0.0
    for name, value in recorded.items():
        a, b = np.asarray(recomputed[name], np.float64), np.asarray(value, np.float64)
        if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
            return math.inf, math.inf
        diff = a - b
        max_abs = max(max_abs, float(np.abs(diff).max(initial=0.0)))
        max_rel = max(max_rel, float(np.linalg.norm(diff) / max(np.linalg.norm(b), 1e-30)))
    return max_abs, max_rel


class _Covered(Protocol):
    """A run an audit covers: at least the manifest it was opened from."""

    @property
    def manifest(self) -> RunManifest: ...


CoveredRun = TypeVar("CoveredRun", bound=_Covered)


def cover(federation: Iterable[RunManifest], covered: dict[bytes, CoveredRun],
          open_run: Callable[[RunManifest], CoveredRun]) -> None:
    """Open each federation manifest's run (`open_run`) into `covered`, by run tx id: the runs
    whose records a round may average. A manifest that is not one, lists a covered run
    differently or fails to open fails the audit (_Failed)."""
    try:
        manifests = list(federation)
    except TypeError:
        raise _Failed("federation must be a sequence of RunManifests") from None
    for position, manifest in enumerate(manifests):
        known = covered.get(getattr(manifest, "run_tx", b""))
        if known is not None:
            if known.manifest != manifest:
                raise _Failed(f"federation manifest {position} lists run {manifest.run_tx.hex()[:12]} differently")
            continue
        try:
            run = open_run(manifest)
        except (_Failed, LedgerError) as exc:
            raise _Failed(f"federation manifest {position}: {exc}") from None
        covered[run.manifest.run_tx] = run


@dataclass
class _Run:
    """A run whose run record passed its checks: what its steps are audited against."""

    manifest: RunManifest
    record: FetchedRecord
    hyperparameters: Hyperparameters
    trainer: Trainer
    order: list[list[str]]


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
        self._covered: dict[bytes, _Run] = {}         # this audit's runs, by run tx id
        self._rounds: dict[bytes, list[str]] = {}     # this audit's FedAvg checks, by tx id
        self._follows: dict[str, str] = {}           # aggregation tx hex -> the one it follows (checked rounds)
        self._readings: dict[str, tuple[str, bytes]] = {}  # signed reading tx hex -> (chain, digest) (_signed)
        self._fetched: dict[bytes, FetchedRecord] = {}  # this audit's records read in batches (_prefetch)

    def audit(self, manifest: RunManifest, *, count: int | None = None, fraction: float | None = None,
              seed: int | None = None, federation: Iterable[RunManifest] = ()) -> AuditReport:
        """Audit a sample of the run's steps; see the module docstring for every check.

        `seed` None (the default) draws a fresh one; the report's `seed` reproduces the sample.
        `federation`: the manifests of the other runs whose steps the FedAvg rounds average.
        Raises ProvenanceError only for bad `count`/`fraction`/`seed`; whatever the records
        and manifests hold, the report says PASS or FAIL with reasons."""
        started = time.perf_counter()
        seed = fresh_seed() if seed is None else seed
        check_sample_request(count, fraction, seed)
        mode = "exact" if self.tolerance is None else \
            f"tolerance(max_abs={self.tolerance.max_abs:g}, max_rel_l2={self.tolerance.max_rel_l2:g})"
        if self.reexecute_with:
            mode += f", replayed with {self.reexecute_with}"
        chain_name = manifest.chain_id if isinstance(manifest, RunManifest) else "?"
        report = AuditReport(chain_name, mode, 0, [], [], 0.0, seed=seed)
        self._covered, self._rounds, self._follows, self._fetched = {}, {}, {}, {}
        try:
            run = self._open_run(manifest)
            self._covered = {run.manifest.run_tx: run}
            self._cover(federation)
        except Exception as exc:  # the run record, its data order or a federation manifest
            report.run_failures.append(_reason(exc))
            report.seconds = time.perf_counter() - started
            return report
        report.total_steps = len(run.manifest.step_txs)
        sampled = sample_steps(report.total_steps, count=count, fraction=fraction, seed=seed)
        protocol1_started = time.perf_counter()
        self._verify_in_batch(run, sampled)
        report.protocol1_seconds = time.perf_counter() - protocol1_started
        for index in sampled:
            step_started = time.perf_counter()
            verdict = StepVerdict(index)
            try:
                self._audit_step(run, index, verdict)
            except Exception as exc:
                verdict.failures.append(_reason(exc))
            verdict.seconds = time.perf_counter() - step_started
            report.verdicts.append(verdict)
        report.environment_notes = environment_differences(run.record.body["environment"],
                                                           environment_fingerprint(run.trainer.name))
        report.seconds = time.perf_counter() - started
        return report

    # --- the runs an audit covers ----------------------------------------------------------

    def _open_run(self, manifest: object) -> _Run:
        """Check a run record and what it commits to: its chain, step count, initial model
        (the round-0 aggregation it names) and data order."""
        record = self._run_record(manifest, "run")
        body = record.body
        hp = Hyperparameters.from_record(body["hyperparameters"])
        trainer = trainer_for(self.reexecute_with or body["trainer"], hp)
        if len(manifest.step_txs) != body["steps"]:
            raise _Failed(f"the run records {body['steps']} steps, the manifest lists {len(manifest.step_txs)}")
        if len(set(manifest.step_txs)) != len(manifest.step_txs):
            raise _Failed("the manifest lists a step twice")
        initial = self._record(bytes.fromhex(body["initial"]), "aggregation", self.ledger.main_chain_id)
        check_run_initial(body, initial.body, initial.obj.digest if initial.obj else None)
        failures = self._round_failures(initial)
        if failures:
            raise _Failed(failures[0])
        if record.obj is None or record.obj.digest.hex() != body["data_order"]:
            raise _Failed("the run record's object is not the data order it commits to")
        order = decode_data_order(self._object(record.obj.digest, "data order"), body["steps"])
        return _Run(manifest, record, hp, trainer, order)

    def _run_record(self, manifest: object, kind: str) -> FetchedRecord:
        """The run record (of `kind`) a manifest names, recorded by the edge it is for."""
        if not isinstance(manifest, RunManifest):
            raise _Failed(f"a manifest is a RunManifest, not {type(manifest).__name__}")
        record = self._record(manifest.run_tx, kind, manifest.chain_id)
        if record.body["edge"] != manifest.chain_id:
            raise _Failed(f"the run record is for edge {record.body['edge'][:40]!r}, recorded on {manifest.chain_id}")
        return record

    def _cover(self, federation: Iterable[RunManifest]) -> None:
        """Add the federation's runs to the audited ones (a bad manifest fails the audit)."""
        cover(federation, self._covered, self._open_run)

    # --- checks ------------------------------------------------------------------------

    def _verify_in_batch(self, run: _Run, sampled: list[int]) -> None:
        """Protocol 1 for every record the sampled steps name, in one pass that shares the
        witness work. The names come from records not yet checked; each is checked here and
        its content is only used after (in _record)."""
        wanted: set[bytes] = set()
        body = self._peeker(wanted)
        steps = run.manifest.step_txs
        self._prefetch([tx for index in sampled for tx in steps[max(index - 2, 0):index]])
        named = {index: body(steps[index - 1], "step") for index in sampled}
        self._prefetch([bytes.fromhex(step[name]) for step in named.values() if step for name in ("batch", "global")])
        for index in sampled:
            wanted.update(steps[max(index - 2, 0):index - 1])
            step = named[index]
            if step:
                readings = body(bytes.fromhex(step["batch"]), "batch").get("readings", [])
                inputs = body(bytes.fromhex(step["global"]), "aggregation").get("locals", [])
                wanted.update(bytes.fromhex(tx) for tx in readings)
                wanted.update(bytes.fromhex(entry["tx"]) for entry in inputs)
        self._verify_wanted(wanted)
        self._prefetch(wanted)

    def _prefetch(self, tx_ids: Iterable[bytes]) -> None:
        """Read the records `tx_ids` not read yet in one batch (ProvenanceLedger.fetch_many):
        what _fetch then returns for them, exactly fetch()'s records. An id the batch leaves
        out is fetched alone when it is needed, which fails as it always did."""
        missing = [t for t in dict.fromkeys(tx_ids) if t not in self._fetched and t not in self._verified]
        if missing:
            try:
                self._fetched.update(self.ledger.fetch_many(missing))
            except LedgerError:
                pass  # (each is then fetched alone)

    def _fetch(self, tx_id: bytes) -> FetchedRecord:
        """The record `tx_id` as fetch() returns it, read once per audit."""
        record = self._fetched.get(tx_id) or self._verified.get(tx_id)
        if record is None:
            record = self._fetched[tx_id] = self.ledger.fetch(tx_id)
        return record

    def _peeker(self, wanted: set[bytes]):
        """body(tx_id, kind): a not yet checked record's body, for the names in it ({} when it
        cannot be read: _record reports that), adding tx_id to `wanted`."""
        def body(tx_id: bytes, kind: str) -> dict:
            wanted.add(tx_id)
            try:
                return validate_body(self._fetch(tx_id).body, kind)
            except LedgerError:
                return {}
        return body

    def _verify_wanted(self, wanted: set[bytes]) -> None:
        """One batched Protocol 1 pass over the records not checked yet."""
        wanted -= set(self._verdicts) | set(self._verified)
        if wanted:
            try:
                self._verdicts.update(self.ledger.verify_many(wanted, self.verifier_chain))
            except LedgerError:
                pass  # each record is then checked on its own in _record

    def _record(self, tx_id: bytes, kind: str, chain_id: str | None = None) -> FetchedRecord:
        """The record, after Protocol 1 from the auditor's chain; cached per tx id. It must be
        a well-formed record of `kind`, submitted by a peer of its chain (`chain_id`, if given)."""
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
            self._verified[tx_id] = self._fetch(tx_id)
        record = self._verified[tx_id]
        try:
            check_author(self.trust, record.submitter, record.chain_id, record.signed_at_ms)
        except RecordError as exc:
            raise _Failed(f"{kind} {tx_id.hex()[:12]} was {exc}") from None
        try:
            validate_body(record.body, kind)
        except RecordError as exc:
            raise _Failed(f"transaction {tx_id.hex()[:12]} is not a well-formed {kind} record: {exc}") from None
        if chain_id is not None and record.chain_id != chain_id:
            raise _Failed(f"{kind} {tx_id.hex()[:12]} is on {record.chain_id}, not {chain_id}")
        return record

    def _object(self, digest: bytes, what: str) -> bytes:
        """Bytes the store holds for `digest`, hashed again here (the auditor trusts no store)."""
        try:
            data = self.ledger.load(digest)
        except LedgerError as exc:
            raise _Failed(f"{what}: {exc}") from None
        if sha256(data) != digest:
            raise _Failed(f"{what}: the store returned bytes that do not hash to {digest.hex()[:12]}")
        return data

    def _audit_step(self, run: _Run, index: int, verdict: StepVerdict) -> None:
        chain, steps, run_hex = run.manifest.chain_id, run.manifest.step_txs, run.record.tx_id.hex()
        step = self._record(steps[index - 1], "step", chain)
        body = step.body
        if body["run"] != run_hex or body["index"] != index:
            raise _Failed(f"the record is step {body['index']} of run {body['run'][:12]}, not step {index} of this run")

        # M_{i-1}: the run's initial model, or the previous step's recorded output.
        previous = None
        if index == 1:
            expected_in = run.record.body["initial_model"]
        else:
            previous = self._record(steps[index - 2], "step", chain)
            if previous.body["run"] != run_hex or previous.body["index"] != index - 1 or previous.obj is None:
                raise _Failed(f"the manifest's step {index - 1} is not a recorded step {index - 1} of this run")
            expected_in = previous.obj.digest.hex()
        if body["model_in"] != expected_in:
            verdict.failures.append("M_{i-1} is not the model the ledger records for step i-1")
        model_in = decode_tensors(self._object(bytes.fromhex(expected_in), "M_{i-1}"))[0]

        # M_O: the aggregation of this step's round, on the main chain, FedAvg re-executed.
        aggregation = self._record(bytes.fromhex(body["global"]), "aggregation", self.ledger.main_chain_id)
        expected_round = run.hyperparameters.round_of(index)
        if aggregation.body["round"] != expected_round:
            verdict.failures.append(f"M_O is round {aggregation.body['round']}, step {index} belongs to round {expected_round}")
        if aggregation.obj is None or aggregation.obj.digest.hex() != body["global_model"]:
            verdict.failures.append("M_O named by the step is not the model of its aggregation record")
        global_bytes = self._object(bytes.fromhex(body["global_model"]), "M_O")
        verdict.failures += self._round_failures(aggregation)
        try:
            check_step_global(index, run.hyperparameters, body["global"], run.record.body["initial"],
                              previous.body["global"] if previous else None, self._follows.get)
        except RecordError as exc:
            verdict.failures.append(str(exc))

        # d_i: the committed readings, each recorded, signed and intact, in the committed order.
        batch = self._record(bytes.fromhex(body["batch"]), "batch", chain)
        if batch.body["run"] != run_hex or batch.body["index"] != index:
            verdict.failures.append("d_i is recorded for another run or step")
        if batch.body["readings"] != run.order[index - 1]:
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
        recomputed = run.trainer.step(model_in, decode_tensors(global_bytes)[0], decode_tensors(batch_bytes)[0], index)
        recorded = decode_tensors(recorded_bytes)[0]
        verdict.max_abs, verdict.max_rel_l2 = model_distances(recomputed, recorded)
        if self.tolerance is None:
            if encode_tensors(recomputed) != recorded_bytes:
                verdict.failures.append("re-executing T does not reproduce M_i bit for bit")
        elif verdict.max_abs > self.tolerance.max_abs or verdict.max_rel_l2 > self.tolerance.max_rel_l2:
            verdict.failures.append("re-executing T gives a model outside the tolerance")

    def _reading(self, tx_id: bytes, chain: str) -> bytes:
        """The bytes of a reading a sampled step trains on: its record by Protocol 1, recorded
        on `chain`, signed by its device (_signed)."""
        record = self._record(tx_id, "reading", chain)
        if record.obj is None:
            raise _Failed(f"reading {tx_id.hex()[:12]} names no object")
        data = self._object(record.obj.digest, f"reading {tx_id.hex()[:12]}")
        self._signed(record, data)
        return data

    def _signed(self, record: FetchedRecord, data: bytes) -> None:
        """A reading record (with its object's bytes) signed by its device, valid at the time
        of the block holding it (devices.check_reading_record); checked once per reading."""
        tx_hex = record.tx_id.hex()
        if tx_hex not in self._readings:
            try:
                check_reading_record(self.trust, record.body, data, record.chain_id, record.signed_at_ms)
            except ProvenanceError as exc:
                raise _Failed(f"reading {tx_hex[:12]}: {exc}") from None
            self._readings[tx_hex] = (record.chain_id, record.obj.digest)  # type: ignore[union-attr]

    def _reading_ref(self, tx_hex: str) -> tuple[str, bytes]:
        """The chain and object digest of a reading record the committed data order of an
        audited run names, once it is signed by its device (_signed): what a FedAvg weight
        counts (recorder.edge_readings). The audit replays the steps of the audited run only,
        so without this an edge whose peers commit what they like would weigh in by readings
        of a revoked device or made-up ones. The tx id binds the record (fetch returns the
        transaction with that id): no Protocol 1 here."""
        if tx_hex not in self._readings:
            record = self._fetch(bytes.fromhex(tx_hex))
            try:
                validate_body(record.body, "reading")
            except RecordError as exc:
                raise _Failed(f"{tx_hex[:12]} in a data order is no reading record: {exc}") from None
            if record.obj is None:
                raise _Failed(f"reading {tx_hex[:12]} names no object")
            self._signed(record, self._object(record.obj.digest, f"reading {tx_hex[:12]}"))
        return self._readings[tx_hex]

    def _prefetch_round_readings(self, body: dict) -> None:
        """Read in one batch the reading records whose digests weigh the inputs of FedAvg round
        `body` (the committed batches of each input's audited run in the round): names only,
        each record checked where it is used (check_round_input, _reading_ref)."""
        self._prefetch([bytes.fromhex(entry["tx"]) for entry in body["locals"]])
        wanted: list[bytes] = []
        for entry in body["locals"]:
            try:
                step = validate_body(self._fetch(bytes.fromhex(entry["tx"])).body, "step")
            except LedgerError:
                continue
            run = self._covered.get(bytes.fromhex(step["run"]))
            if run is not None:
                batches = round_batches(run.order, run.hyperparameters, body["round"])
                wanted += [bytes.fromhex(tx) for batch in batches for tx in batch if tx not in self._readings]
        self._prefetch(wanted)

    def _other_aggregations(self, aggregation: FetchedRecord, previous: str | None) -> list[str]:
        """One aggregation per round of a model: a failure for each other version of the round
        on the main chain - a FedAvg record that follows the same aggregation `previous` (the
        model its first input trained from) with another body (inputs, weights, or model: its
        tx hash binds it) - whichever one the audited steps name: two versions of a round let
        a cloud show each edge another model. (A copy of the same body is the same round.)"""
        if previous is None:
            return []
        main = self.ledger.main_chain_id
        others = [(tx_id, body) for tx_id, body in self.ledger.committed_records(main, "aggregation")
                  if body != aggregation.body and body["round"] == aggregation.body["round"]]
        self._prefetch([bytes.fromhex(body["locals"][0]["tx"]) for _, body in others if body["round"] != 0])
        return [f"M_O round {aggregation.body['round']}: {tx_id.hex()[:12]} is a second FedAvg record of the round "
                "(one aggregation per round)" for tx_id, body in others
                if followed_aggregation(body, lambda tx_hex: self._fetch(bytes.fromhex(tx_hex)).body) == previous]

    def _round_failures(self, aggregation: FetchedRecord) -> list[str]:
        """Why a FedAvg record's model is not what it claims (none: it is), once per audit."""
        if aggregation.tx_id not in self._rounds:
            try:
                self._rounds[aggregation.tx_id] = self._check_round(aggregation)
            except Exception as exc:
                self._rounds[aggregation.tx_id] = [f"M_O round {aggregation.body['round']}: {_reason(exc)}"]
        return self._rounds[aggregation.tx_id]

    def _check_round(self, aggregation: FetchedRecord) -> list[str]:
        """Round 0 must be the seed's initial model; a later round FedAvg of its inputs, each a
        step of an audited run at the position its manifest gives (check_round_input)."""
        body, round_index = aggregation.body, aggregation.body["round"]
        if aggregation.obj is None:
            raise _Failed("the aggregation record names no model")
        model_bytes = self._object(aggregation.obj.digest, "the aggregated model")
        if round_index == 0:
            init = body["init"]
            derived = trainer_for(init["trainer"], Hyperparameters.from_record(init["hyperparameters"])).initial_model()
            failures = [] if encode_tensors(derived) == model_bytes else ["M_O (round 0) is not the model its seed derives"]
            if aggregation_digest(model_bytes, [], [], 0).hex() != body["tx_hash"]:
                failures.append("M_O round 0: tx hash does not match")
            return failures
        local_bytes, seen = [], RoundInputs()
        self._prefetch_round_readings(body)
        for entry in body["locals"]:
            local = self._record(bytes.fromhex(entry["tx"]), "step")
            run = self._covered.get(bytes.fromhex(local.body["run"]))
            if run is None or local.chain_id != run.manifest.chain_id:
                raise _Failed(f"input {entry['tx'][:12]} is a step of run {local.body['run'][:12]} on "
                              f"{local.chain_id}, which is not one of the audited runs")
            check_round_input(round_index, entry, local.body, local.chain_id, local.obj.digest if local.obj else None,
                              run.hyperparameters, seen, run.order, self._reading_ref)
            position = local.body["index"]
            if position > len(run.manifest.step_txs) or run.manifest.step_txs[position - 1] != local.tx_id:
                raise _Failed(f"input {entry['tx'][:12]} is not the step the manifest of run "
                              f"{local.body['run'][:12]} lists at position {position}")
            local_bytes.append(self._object(local.obj.digest, "local model"))  # type: ignore[union-attr]
        if seen.previous is not None:
            self._follows[aggregation.tx_id.hex()] = seen.previous
        failures = self._other_aggregations(aggregation, seen.previous)
        weights = [entry["weight"] for entry in body["locals"]]
        if aggregation_digest(model_bytes, local_bytes, weights, round_index).hex() != body["tx_hash"]:
            failures.append(f"M_O round {round_index}: tx hash does not match")
        averaged = fedavg([decode_tensors(data)[0] for data in local_bytes], weights)
        if encode_tensors(averaged) != model_bytes:
            failures.append(f"M_O round {round_index}: FedAvg does not reproduce the recorded model")
        return failures
