"""Recording data collection, local training and aggregation on the two-layer ledger.

A training loop drives an EdgeRecorder (one per edge sub-chain) and a CloudRecorder (main
chain)::

    edge.start_run(data_order, initial, data_order_seed)  # run record before training
    for i, readings in enumerate(data_order, start=1):
        batch = edge.record_batch(readings)              # d_i, checked M_O by Protocol 1
        model = trainer.step(edge.model, edge.global_model, batch, i)
        edge.record_step(model)                          # tx = H(M_i || M_O || d_i || i)

Whether the endorsing peers re-execute each step (or each FedAvg) before signing is the policy
of the chain (network_ledger.ProvenanceEndorser), not the recorder's choice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from ledger import checks
from ledger.identity import TrustStore
from ledger.provenance.devices import SignedReading, decode_reading, verify_reading
from ledger.provenance.encoding import (Tensors, aggregation_digest, canonical_json, decode_tensors,
                                        encode_tensors, step_digest)
from ledger.provenance.environment import environment_fingerprint
from ledger.provenance.errors import RecordError
from ledger.provenance.records import (FetchedRecord, ProvenanceLedger, Ref, RunManifest, decode_data_order,
                                       ignore_claimed_mode)
from ledger.provenance.trainers import Hyperparameters, Trainer, batch_tensors, fedavg


def data_order_bytes(order: Sequence[Sequence[Ref]]) -> bytes:
    """Canonical bytes of the committed data order: the reading tx ids of every step."""
    return canonical_json([[ref.tx_id.hex() for ref in step] for step in order])


def load_tensors(ledger: ProvenanceLedger, digest: bytes) -> tuple[bytes, Tensors]:
    data = ledger.load(digest)
    return data, decode_tensors(data)[0]


def batch_from_readings(reading_bytes: Sequence[bytes]) -> Tensors:
    """d from the bytes of its readings (ProvenanceError for bytes that are not readings)."""
    decoded = [decode_reading(data) for data in reading_bytes]
    return batch_tensors([pixels for _, _, pixels, _ in decoded], [label for _, _, _, label in decoded])


def replay_step(ledger: ProvenanceLedger, trainer: Trainer, body: dict) -> tuple[bytes, Tensors]:
    """Re-execute a recorded step from the stored M_{i-1}, M_O and d_i (each integrity-checked
    by the store); returns the canonical bytes and tensors of the recomputed M_i."""
    _, model_in = load_tensors(ledger, bytes.fromhex(body["model_in"]))
    _, global_model = load_tensors(ledger, bytes.fromhex(body["global_model"]))
    _, batch = load_tensors(ledger, bytes.fromhex(body["batch_digest"]))
    recomputed = trainer.step(model_in, global_model, batch, int(body["index"]))
    return encode_tensors(recomputed), recomputed


def check_step_global(index: int, hyperparameters: Hyperparameters, step_global: str, run_initial: str,
                      previous_global: str | None, follows: Callable[[str], str | None]) -> None:
    """The M_O step `index` trains from (`step_global`, an aggregation tx hex) continues its
    run's models: the steps of round 0 train from the run's initial model, a later round's
    first step from the aggregation that follows the M_O of the run's previous step
    (`previous_global`; `follows(tx hex)` is the aggregation a FedAvg record follows), any
    other step from its previous step's M_O. RecordError otherwise: without it a run could
    switch to another federation's round (or another round-0 model) between steps. The
    endorsing peers and the auditor both apply this rule."""
    round_index = hyperparameters.round_of(index)
    if round_index == 0:
        expected, what = run_initial, "the run's initial model"
    elif hyperparameters.starts_round(index):
        if previous_global is None or follows(step_global) != previous_global:
            raise RecordError(f"step {index}: M_O is not the round after the model step {index - 1} trained from")
        return
    else:
        expected, what = previous_global, f"the model step {index - 1} trained from"
    if step_global != expected:
        raise RecordError(f"step {index}: M_O is not {what}")


def check_run_initial(run: dict, initial: dict, initial_model: bytes | None) -> None:
    """A run record (`run`, its body) against the round-0 record it names as its initial model
    (`initial`, its body; `initial_model`, its object digest): that record's model is the run's
    M_0, and the run's init_seed is the seed that derived it. T never reads the seed, so
    replaying the run's steps cannot catch a run record naming another. RecordError otherwise;
    the endorsing peers and the auditor both apply this rule."""
    if initial["round"] != 0 or initial_model is None or initial_model.hex() != run["initial_model"]:
        raise RecordError("the run's initial model is not the round-0 model of the aggregation it names")
    seed = initial["init"]["hyperparameters"]["init_seed"]
    if run["seeds"]["init_seed"] != seed:
        raise RecordError(f"the run's init_seed {run['seeds']['init_seed']} is not {seed}, the seed of its "
                          "initial model")


def round_weight(order: Sequence[Sequence[str]], reading_digest: Callable[[str], bytes]) -> int:
    """A FedAvg weight, in both flows: the distinct signed readings the batches `order` (reading
    tx ids) trained on, each counted once by the digest of its signed bytes (`reading_digest`
    of its tx id). A reading listed again (another epoch, or one reading many times) or
    recorded again under another transaction trains again but is no more data: counting it
    again let one reading outweigh an edge."""
    return len(_distinct_readings(order, reading_digest))


def edge_readings(order: Sequence[Sequence[str]], reading: Callable[[str], tuple[str, bytes]],
                  chain_id: str) -> set[bytes]:
    """The distinct readings (digests) that weigh a FedAvg input whose run is on `chain_id`: as
    round_weight counts them, each a reading recorded on that edge's chain (`reading` of a tx
    hex: its chain and object digest). RecordError for one recorded elsewhere: a run citing
    another edge's readings would weigh data that edge collected (its own steps' replay refuses
    them, but nobody replays the steps of a run an audit of another edge only averages)."""
    def digest(tx_hex: str) -> bytes:
        chain, found = reading(tx_hex)
        if chain != chain_id:
            raise RecordError(f"reading {tx_hex[:12]} is recorded on {chain[:40]}, not on {chain_id[:40]}: "
                              "an input weighs only its own edge's readings")
        return found
    return _distinct_readings(order, digest)


def _distinct_readings(order: Sequence[Sequence[str]], reading_digest: Callable[[str], bytes]) -> set[bytes]:
    return {reading_digest(tx) for tx in {tx for batch in order for tx in batch}}  # (each tx looked up once)


def check_shared_readings(where: str, readings: set[bytes], others: set[bytes]) -> None:
    """No reading weighs two inputs of one FedAvg round: RecordError when an input's `readings`
    meet `others` (readings other inputs of the round weigh). A device bound to no edge reports
    to any, so its signed reading, public once recorded, can be recorded again on another edge:
    that edge would train on it and weigh in with data another edge collected."""
    if readings & others:
        raise RecordError(f"{where} weighs {len(readings & others)} readings another input of the round weighs: "
                          "a reading weighs one input of a round")


def round_batches(order: Sequence[Sequence[str]], hyperparameters: Hyperparameters, round_index: int
                  ) -> Sequence[Sequence[str]]:
    """The committed batches a step-flow run trains on from round `round_index - 1`'s model:
    what FedAvg round `round_index` weighs it by."""
    end = hyperparameters.round_input(round_index)
    return order[end - hyperparameters.local_steps:end]


@dataclass
class RoundInputs:
    """What check_round_input collects over the inputs of one FedAvg round."""

    edges: set[str] = field(default_factory=set)
    previous: str | None = None  # the aggregation (tx hex) every input trained from: the round before
    readings: set[bytes] = field(default_factory=set)  # the readings (digests) the inputs weigh


def check_round_input(round_index: int, entry: dict, step: dict, step_chain: str, step_model: bytes | None,
                      hyperparameters: Hyperparameters, seen: RoundInputs, order: Sequence[Sequence[str]],
                      reading: Callable[[str], tuple[str, bytes]]) -> None:
    """One input of FedAvg round `round_index` (an entry of its record's `locals`) against
    the step record `step` it names and its run's committed data order `order`: the entry's
    model is the step's recorded model, the step is its run's last of the previous round
    (Hyperparameters.round_input), trained from the same aggregation as the round's other
    inputs (`seen.previous`: the round follows that one, and only one round does), its weight
    is the distinct readings of its edge the run trained on in the round (edge_readings of
    round_batches; `reading` of a reading tx hex: its chain and digest), none of them weighing
    another input of the round (check_shared_readings), and no edge is averaged twice in a round
    (`seen.edges`; `step_chain` is the step's: a second run of an edge trains on the same
    readings, and averaging both would double the edge's weight). RecordError otherwise. The
    endorsing peers and the auditor both apply this rule."""
    where = f"input {entry['tx'][:12]}"
    if step_model is None or step_model.hex() != entry["model"]:
        raise RecordError(f"{where} names a model that is not the one its step records")
    expected = hyperparameters.round_input(round_index)
    if step["index"] != expected or expected > len(order):
        raise RecordError(f"{where} is step {step['index']} of its run; round {round_index} averages step {expected}")
    if seen.previous is not None and step["global"] != seen.previous:
        raise RecordError(f"{where} trained from another model than the round's other inputs")
    readings = edge_readings(round_batches(order, hyperparameters, round_index), reading, step_chain)
    if entry["weight"] != len(readings):
        raise RecordError(f"{where} has weight {checks.shown(entry['weight'])}; its run trained on {len(readings)} "
                          "distinct readings in the round")
    if step_chain in seen.edges:
        raise RecordError(f"{where}: {step_chain[:40]} is averaged twice in the round")
    check_shared_readings(where, readings, seen.readings)
    seen.edges.add(step_chain)
    seen.previous = step["global"]
    seen.readings |= readings


class EdgeRecorder:
    """Records one edge's readings, run, batches and local steps on its sub-chain."""

    def __init__(self, ledger: ProvenanceLedger, chain_id: str, submitter: str, trainer: Trainer,
                 trust: TrustStore, endorse_mode: str | None = None) -> None:
        """`endorse_mode` is ignored: the chain's policy decides (records.ignore_claimed_mode)."""
        ignore_claimed_mode(endorse_mode)
        self.ledger, self.chain_id, self.submitter = ledger, chain_id, submitter
        self.trainer, self.trust = trainer, trust
        self.run: Ref | None = None
        self.data_order: list[list[Ref]] = []
        self.steps: list[Ref] = []
        self.model: Tensors = {}
        self.global_model: Tensors = {}
        self._global_ref: Ref | None = None
        self._global_bytes = b""
        self._batch: tuple[Ref, bytes] | None = None
        self._model_digest = b""

    def manifest(self) -> RunManifest:
        """Where this run's records are, for an auditor (who checks all of it on the ledger)."""
        if self.run is None:
            raise RecordError("no run started")
        return RunManifest(self.chain_id, self.run.tx_id, tuple(ref.tx_id for ref in self.steps))

    @property
    def step_index(self) -> int:
        """Index of the last recorded step (0 before training)."""
        return len(self.steps)

    def record_reading(self, reading: SignedReading) -> Ref:
        """Check the device's certificate and signature, store the reading, append Type-I."""
        return self.record_readings([reading])[0]

    def record_readings(self, readings: Sequence[SignedReading]) -> list[Ref]:
        """Several readings (a gateway's upload): all checked before any is stored, then
        submitted together so they can share a block."""
        for reading in readings:
            verify_reading(self.trust, reading, self.chain_id)
        objects = [self.ledger.store(reading.data) for reading in readings]
        return [Ref(self.chain_id, self.ledger.submit(self.chain_id, self.submitter, reading.record(), obj), obj)
                for reading, obj in zip(readings, objects)]

    def use_global(self, ref: Ref) -> Tensors:
        """Adopt the cloud's model M_O after checking its record on the main chain (Protocol 1)."""
        record = self.ledger.fetch(ref.tx_id)
        if record.body["kind"] != "aggregation" or record.chain_id != self.ledger.main_chain_id:
            raise RecordError(f"M_O must be an aggregation record of {self.ledger.main_chain_id}, "
                              f"not a {record.body['kind']} record of {record.chain_id}")
        if record.obj is None or record.obj.digest != ref.digest:
            raise RecordError("the aggregation record names another model than the one offered")
        self.ledger.verify(ref.tx_id, self.chain_id)
        self._global_bytes, self.global_model = load_tensors(self.ledger, ref.digest)
        self._global_ref = ref
        return self.global_model

    def start_run(self, data_order: Sequence[Sequence[Ref]], initial: Ref, data_order_seed: int) -> Ref:
        """Record the run before training: trainer, hyperparameters, seeds, the data order
        commitment and the environment fingerprint. M_0 is the cloud's initial model."""
        if self.run is not None:
            raise RecordError("this recorder already started a run")
        self.use_global(initial)
        self.model = self.global_model
        self._model_digest = initial.digest
        self.data_order = [list(step) for step in data_order]
        order = self.ledger.store(data_order_bytes(data_order))
        body = {
            "kind": "run",
            "edge": self.chain_id,
            "trainer": self.trainer.name,
            "hyperparameters": self.trainer.hyperparameters.as_record(),
            "seeds": {"init_seed": self.trainer.hyperparameters.init_seed, "data_order_seed": data_order_seed},
            "data_order": order.digest.hex(),
            "steps": len(data_order),
            "initial": initial.tx_id.hex(),
            "initial_model": initial.digest.hex(),
            "environment": environment_fingerprint(self.trainer.name),
        }
        self.run = Ref(self.chain_id, self.ledger.submit(self.chain_id, self.submitter, body, order), order)
        return self.run

    def record_batch(self, readings: Sequence[Ref]) -> Tensors:
        """Record d_{i+1} built from recorded readings, after re-checking M_O (Protocol 1)."""
        if self.run is None or self._global_ref is None:
            raise RecordError("start_run before recording batches")
        self.ledger.verify(self._global_ref.tx_id, self.chain_id)
        tensors = batch_from_readings([self.ledger.load(ref.digest) for ref in readings])
        data = encode_tensors(tensors)
        obj = self.ledger.store(data)
        body = {"kind": "batch", "run": self.run.tx_id.hex(), "index": self.step_index + 1,
                "readings": [ref.tx_id.hex() for ref in readings]}
        self._batch = (Ref(self.chain_id, self.ledger.submit(self.chain_id, self.submitter, body, obj), obj), data)
        return tensors

    def record_step(self, model: Tensors) -> Ref:
        """Record M_{i+1} = T(M_i, M_O, d_{i+1}); under the chain's policy endorsers replay it."""
        if self._batch is None or self._global_ref is None or self.run is None:
            raise RecordError("record_batch before record_step")
        (batch_ref, batch_bytes), index = self._batch, self.step_index + 1
        data = encode_tensors(model)
        obj = self.ledger.store(data)
        body = {
            "kind": "step",
            "run": self.run.tx_id.hex(),
            "index": index,
            "batch": batch_ref.tx_id.hex(),
            "batch_digest": batch_ref.digest.hex(),
            "global": self._global_ref.tx_id.hex(),
            "global_model": self._global_ref.digest.hex(),
            "model_in": self._model_digest.hex(),
            "tx_hash": step_digest(data, self._global_bytes, batch_bytes, index).hex(),
        }
        ref = Ref(self.chain_id, self.ledger.submit(self.chain_id, self.submitter, body, obj), obj)
        self.steps.append(ref)
        self.model, self._model_digest, self._batch = model, obj.digest, None
        return ref


class CloudRecorder:
    """Records the initial model and every FedAvg round on the main chain."""

    def __init__(self, ledger: ProvenanceLedger, chain_id: str, submitter: str,
                 endorse_mode: str | None = None) -> None:
        """`endorse_mode` is ignored: the chain's policy decides (records.ignore_claimed_mode)."""
        ignore_claimed_mode(endorse_mode)
        self.ledger, self.chain_id, self.submitter = ledger, chain_id, submitter
        self.rounds: list[Ref] = []
        self._runs: dict[str, tuple[list[list[str]], Hyperparameters]] = {}
        self._readings: dict[str, tuple[str, bytes]] = {}  # reading tx hex -> (chain, object digest)

    def record_initial(self, trainer: Trainer) -> tuple[Ref, Tensors]:
        """Round 0: the initial model, derived from the recorded trainer and seed."""
        model = trainer.initial_model()
        data = encode_tensors(model)
        obj = self.ledger.store(data)
        body = {"kind": "aggregation", "round": 0, "locals": [],
                "init": {"trainer": trainer.name, "hyperparameters": trainer.hyperparameters.as_record()},
                "tx_hash": aggregation_digest(data, [], [], 0).hex()}
        ref = Ref(self.chain_id, self.ledger.submit(self.chain_id, self.submitter, body, obj), obj)
        self.rounds.append(ref)
        return ref, model

    def round_weights(self, local_steps: Sequence[Ref]) -> list[int]:
        """The weights the next round gives the edges' steps `local_steps`: the distinct
        readings of its edge each run trained on in the round, read from the ledger
        (edge_readings), not from what an edge claims; RecordError when a run cites another
        edge's readings. (Which inputs a round may average together the main chain's peers
        judge: check_round_input.)"""
        if not isinstance(local_steps, (list, tuple)) or not all(isinstance(ref, Ref) for ref in local_steps):
            raise RecordError("FedAvg takes a list of recorded steps (Refs)")
        if not self.rounds:
            raise RecordError("record the initial model (round 0) first")
        round_index = len(self.rounds)
        fetched = self.ledger.fetch_many([ref.tx_id for ref in local_steps])
        batches = []
        for ref in local_steps:
            step = fetched.get(ref.tx_id) or self.ledger.fetch(ref.tx_id)
            if step.body["kind"] != "step":
                raise RecordError(f"{ref.tx_id.hex()[:12]} is a {step.body['kind']} record, not a step")
            order, hp = self._run(step.body["run"])
            batches.append((step.chain_id, round_batches(order, hp, round_index)))
        self._read_readings([tx for _, round_order in batches for batch in round_order for tx in batch])
        return [len(edge_readings(round_order, self._reading, chain_id)) for chain_id, round_order in batches]

    def _run(self, run_hex: str) -> tuple[list[list[str]], Hyperparameters]:
        """(committed data order, hyperparameters) of a run record, read once (its tx id binds it)."""
        if run_hex not in self._runs:
            run = self.ledger.fetch(bytes.fromhex(run_hex))
            if run.body["kind"] != "run" or run.obj is None:
                raise RecordError(f"{run_hex[:12]} is no run record")
            self._runs[run_hex] = (decode_data_order(self.ledger.load(run.obj.digest), run.body["steps"]),
                                   Hyperparameters.from_record(run.body["hyperparameters"]))
        return self._runs[run_hex]

    def _reading(self, tx_hex: str) -> tuple[str, bytes]:
        """A reading record's chain and object digest, read once (its tx id binds them)."""
        if tx_hex not in self._readings:
            self._take_reading(tx_hex, self.ledger.fetch(bytes.fromhex(tx_hex)))
        return self._readings[tx_hex]

    def _read_readings(self, tx_hexes: Sequence[str]) -> None:
        """_reading of the readings `tx_hexes` not read yet, in one batch read
        (ProvenanceLedger.fetch_many); an id the batch leaves out is fetched alone when asked."""
        wanted = [bytes.fromhex(tx) for tx in dict.fromkeys(tx_hexes) if tx not in self._readings]
        if wanted:
            for tx_id, reading in self.ledger.fetch_many(wanted).items():
                self._take_reading(tx_id.hex(), reading)

    def _take_reading(self, tx_hex: str, reading: FetchedRecord) -> None:
        if reading.body["kind"] != "reading" or reading.obj is None:
            raise RecordError(f"{tx_hex[:12]} is no reading record")
        self._readings[tx_hex] = (reading.chain_id, reading.obj.digest)

    def record_aggregation(self, local_steps: Sequence[Ref], weights: Sequence[int] | None = None,
                           model: Tensors | None = None) -> Ref:
        """Record FedAvg of the edges' latest local models (each checked by Protocol 1),
        weighted by round_weights (`weights`, if given, must be those); `model` (default:
        computed here) must be their average, which the main chain's peers recompute."""
        round_index = len(self.rounds)
        expected = self.round_weights(local_steps)
        if not expected:
            raise RecordError("FedAvg needs at least one local model")
        if weights is not None and (not isinstance(weights, (list, tuple)) or list(weights) != expected):
            raise RecordError(f"weights {checks.shown(weights)} are not the distinct readings the runs trained on "
                              f"in the round ({expected[:8]})")
        weights = expected
        local_bytes = []
        for ref in local_steps:
            self.ledger.verify(ref.tx_id, self.chain_id)
            local_bytes.append(self.ledger.load(ref.digest))
        if model is None:
            model = fedavg([decode_tensors(data)[0] for data in local_bytes], weights)
        data = encode_tensors(model)
        obj = self.ledger.store(data)
        body = {"kind": "aggregation", "round": round_index,
                "locals": [{"tx": ref.tx_id.hex(), "model": ref.digest.hex(), "weight": int(w)}
                           for ref, w in zip(local_steps, weights)],
                "tx_hash": aggregation_digest(data, local_bytes, [int(w) for w in weights], round_index).hex()}
        ref = Ref(self.chain_id, self.ledger.submit(self.chain_id, self.submitter, body, obj), obj)
        self.rounds.append(ref)
        return ref


def replay_aggregation(ledger: ProvenanceLedger, body: dict) -> Tensors:
    """FedAvg recomputed from the stored local models a round names."""
    models = [load_tensors(ledger, bytes.fromhex(entry["model"]))[1] for entry in body["locals"]]
    return fedavg(models, [entry["weight"] for entry in body["locals"]])
