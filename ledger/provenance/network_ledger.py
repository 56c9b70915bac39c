"""ProvenanceLedger on the embedded `ledger.Network` or a client of the distributed deployment
(`ledger.connect`): records are Type-I transactions signed by the submitting peer, objects go
to the deployment's content-addressed store, and `verify` is Protocol 1 run by a verifier on
the caller's chain. On the distributed deployment the nodes run the ProvenanceEndorser below
as the "provenance" validator their deployment.json names (node_endorser,
ledger.cluster.validators), with the policy in POLICY_FILE beside deployment.json.

Endorsement: the first NetworkLedger on a network installs one ProvenanceEndorser as the
application validator of every chain (`Network.add_validator`), with each chain's policy:
"reexecute" (the default: each endorsing peer itself re-executes a step or a FedAvg round
before it signs, and refuses unless it reproduces the recorded model) or "signatures" (well-
formed records only). Under both, a record must be signed by a peer of its chain and a reading
must carry a valid signed reading of a device of that chain (what the audit checks too). The policy is the chain's, held by its peers' validator: a mode a
submitter passes with a record (submit's `reexecute`, the recorders' `endorse_mode`) is
ignored, a record that carries one has a field its kind does not have and every peer refuses
it, and a later NetworkLedger asking for another policy is refused.
The set-up policy is kept in the deployment's directory (POLICY_FILE), so a NetworkLedger made
after `Network.open` installs the same one. A submission too few peers endorse fails with
EndorsementRefused and leaves the chain unchanged.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterable, Mapping

from ledger import checks
from ledger.api import Ledger
from ledger.errors import LedgerError, ValidationRejected
from ledger.identity import Identity
from ledger.network import Network, PendingTx
from ledger.objects import ObjectRef
from ledger.recent import Recent
from ledger.provenance.encoding import canonical_json, decode_tensors, encode_tensors
from ledger.provenance.errors import ProvenanceError, RecordError
from ledger.provenance.devices import check_reading_record
from ledger.revocation import RevocationRegistry, is_revocation_payload
from ledger.provenance.records import (ENDORSE_POLICIES, FetchedRecord, check_author, decode_body,
                                       decode_data_order, encode_body, followed_aggregation, ignore_claimed_mode,
                                       parse_json)
from ledger.provenance.recorder import (RoundInputs, batch_from_readings, check_round_input, check_run_initial,
                                        check_step_global, replay_aggregation, replay_step)
from ledger.provenance.trainers import Hyperparameters, Trainer, trainer_for
from ledger.tx import Transaction, TxKind

_WAIT_FOR_INTERLOCK = ("not-interlocked", "no-main-status")
_REPLAYED = ("step", "aggregation", "pipeline", "segment", "pipeline-round")  # what "reexecute" peers replay
COMMIT_TIMEOUT = 120.0  # s a submission may take to commit; also how long an uncommitted round claim holds
KEPT = 1 << 16  # records (and blocks, runs, readings) each endorser and recorder cache remembers


class EndorsementRefused(RecordError):
    """Too few endorsing peers accept the record: it is malformed, or under the chain's
    re-execution policy their replay did not reproduce it."""


class CrossChainRejected(RecordError):
    """Protocol 1 rejected a record; `code` is the ledger's verdict code."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code


class ProvenanceEndorser:
    """The application validator every endorsing peer of a provenance deployment runs on each
    Type-I record before it signs (registered with Network.add_validator).

    Every record must be a well-formed provenance record (records.decode_body) signed by a
    peer of its chain (records.check_author), and a reading must carry a valid reading of a
    device of that chain (devices.check_reading_record), as the audit requires. On a chain
    whose policy is "reexecute" the peer also replays a step (from the ledger's M_{i-1}, M_O
    and d_i: the run's previous step or initial model, the main chain's model of the step's
    round, the run's batch i, which must hold the readings of batch i of the run's committed
    data order and be the batch those recorded readings make; with the trainer and hyperparameters of the run record the step
    names, and its M_O continuing the run's models: recorder.check_step_global), derives a
    round-0 model from its seed, or checks that every input of a FedAvg round is a committed
    step at its run's position, all trained from one model and weighted by their distinct
    readings - of their own edge, each signed by its device (checked again here), none weighing
    two inputs (recorder.check_round_input) - that no other FedAvg record follows that model
    (one aggregation per round: _claim_round), and recomputes the average; it refuses unless the
    recorded model is reproduced bit for bit. A run record must name its data order as its
    object and a round-0 model of the main chain its own seed derives (recorder.
    check_run_initial). Nothing in a record, or passed with it, selects the policy."""

    def __init__(self, network: Network, policy: Mapping[str, str]) -> None:
        self.network = network
        self.policy = dict(policy)
        self.reexecutions = 0
        self._lock = threading.Lock()
        # tx id -> (chain, body, object digest) of the records this endorser accepted: the
        # steps that name them may come before they commit (the id binds the bytes)
        self._accepted: Recent[bytes, tuple[str, dict, bytes]] = Recent(KEPT)
        # (each cache keeps the newest KEPT: one forgotten is read from the chain again)
        self._trainers: Recent[bytes, Trainer] = Recent(KEPT)  # run tx id -> the trainer its record names
        self._orders: Recent[bytes, list[list[str]]] = Recent(KEPT)  # run tx id -> its committed data order
        self._weighed: Recent[str, None] = Recent(KEPT)  # reading tx hex whose device signature a FedAvg weight checked
        self._block_times: Recent[tuple[str, int], int] = Recent(KEPT)  # (chain, height) -> its block's timestamp
        # (run, index) -> (the accepted M_index, the M_O it trained from: None for a segment)
        self._models: Recent[tuple[bytes, int], tuple[str, str | None]] = Recent(KEPT)
        # aggregation tx hex -> the payload of the one FedAvg record that follows it, from the
        # records this endorser accepted and the main chain's blocks up to _rounds_scanned
        self._successors: dict[str, bytes] = {}
        # aggregation tx hex -> (payload, monotonic time) of a version endorsed here but not yet
        # seen committed: it holds the round only for claim_timeout seconds, so a version that
        # never commits cannot block the round on this node
        self._pending: dict[str, tuple[bytes, float]] = {}
        self.claim_timeout = COMMIT_TIMEOUT
        self._rounds_scanned = 0
        self._rounds_lock = threading.Lock()

    def load(self, ref: ObjectRef | bytes) -> bytes:
        return self.network.get_object(ref)

    def __call__(self, peer_name: str, tx: Transaction) -> None:
        if tx.chain_id == self.network.main_chain_id and is_revocation_payload(tx.payload) \
                and RevocationRegistry.of(self.network) is not None:
            return  # a main-chain revocation record: the registry's own validator rules on it
        body = decode_body(tx.payload)
        check_author(self.network.trust, tx.submitter, tx.chain_id)
        if body["kind"] == "reading":  # the device's certificate, chain and signature, as the audit checks
            if not tx.object_digest:
                raise RecordError("a reading record names no reading")
            check_reading_record(self.network.trust, body, self.load(tx.object_digest), tx.chain_id)
            revocation = RevocationRegistry.of(self.network)
            if revocation is not None:  # the device's non-revocation proof, against this edge's view
                revocation.check_reading(tx.chain_id, bytes.fromhex(body["device_fp"]),
                                         bytes.fromhex(body.get("nonrevoked", "")))
            with self._lock:  # (checked here: a FedAvg weight need not check it again)
                self._weighed.add(tx.tx_id.hex())
        if self.policy.get(tx.chain_id) == "reexecute" and body["kind"] == "run":
            self._check_run(tx, body)
        if self.policy.get(tx.chain_id) == "reexecute" and body["kind"] in _REPLAYED:
            if not tx.object_digest:
                raise RecordError(f"a {body['kind']} record names no object")
            if body["kind"] in ("step", "aggregation"):
                self._reexecute(tx, body)
            else:
                self._replay_pipeline(tx, body)
        with self._lock:  # what later batches, steps and rounds name
            self._accepted[tx.tx_id] = (tx.chain_id, body, tx.object_digest)
            if body["kind"] in ("step", "segment"):
                self._models[bytes.fromhex(body["run"]), body["index"]] = (tx.object_digest.hex(), body.get("global"))

    def _reexecute(self, tx: Transaction, body: dict) -> None:
        model_bytes = self.load(tx.object_digest)
        if body["kind"] == "step":
            trainer = self._run_trainer(body["run"], tx.chain_id)
            self._check_step_inputs(body, tx.chain_id, trainer.hyperparameters)
            recomputed, _ = replay_step(self, trainer, body)
            if recomputed != model_bytes:
                raise RecordError(f"step {body['index']}: re-execution does not reproduce the recorded model")
        elif body["round"] == 0:
            init = body["init"]
            derived = trainer_for(init["trainer"], Hyperparameters.from_record(init["hyperparameters"]))
            if encode_tensors(derived.initial_model()) != model_bytes:
                raise RecordError("the initial model is not the one its seed derives")
        else:
            previous = self._check_round_inputs(body)
            if encode_tensors(replay_aggregation(self, body)) != model_bytes:
                raise RecordError(f"round {body['round']}: FedAvg does not reproduce the recorded model")
            self._claim_round(tx.payload, previous, body["round"])
        with self._lock:
            self.reexecutions += 1

    def _check_run(self, tx: Transaction, body: dict) -> None:
        """A step-flow run record: its object is its data order, and its initial model the
        round-0 model of the main chain it names, derived by its seed (check_run_initial)."""
        if tx.object_digest.hex() != body["data_order"]:
            raise RecordError("the run record's object is not its data order")
        chain, initial, digest = self._record(body["initial"], "aggregation", "the run's initial model")
        if chain != self.network.main_chain_id:
            raise RecordError(f"the run's initial model is recorded on {chain[:40]}, not on the main chain")
        check_run_initial(body, initial, digest or None)

    def _replay_pipeline(self, tx: Transaction, body: dict) -> None:
        """A PyTorch pipeline's record (pipeline.py): a run's initial state derived from its
        contract and M_O, a segment replayed from its starting state over its batches, a
        round's FedAvg of its runs' last segments; the same checks as PipelineAuditor."""
        from ledger.provenance import pipeline  # torch is an optional extra

        lookup = lambda tx_hex, kind: self._record(tx_hex, kind, kind)  # noqa: E731
        stored = self.load(tx.object_digest)
        if body["kind"] == "pipeline":
            global_model = None
            if body["global"] is not None:
                chain, _, digest = self._record(body["global"], "pipeline-round", "M_O")
                if chain != self.network.main_chain_id or digest.hex() != body["global_model"]:
                    raise RecordError("the run's M_O is not the model of a round of the main chain")
                global_model = decode_tensors(self.load(digest))[0]
            elif body["global_model"] is not None:
                raise RecordError("the run names M_O's model but no round")
            if stored != self.load(bytes.fromhex(body["data_order"])):
                raise RecordError("the run record's object is not its data order")
            pipeline.check_initial(body, global_model, self.load(bytes.fromhex(body["initial_state"])))
        elif body["kind"] == "segment":
            run_chain, run, _ = self._record(body["run"], "pipeline", "the run")
            if run_chain != tx.chain_id:
                raise RecordError(f"the segment names a run of {run_chain}, not of {tx.chain_id}")
            expected_in = run["initial_state"] if body["index"] == 1 else \
                self._recorded_model(body["run"], body["index"] - 1, tx.chain_id)
            state_in, batches = pipeline.check_segment(
                body, run, tx.chain_id, self._run_order(body["run"], "pipeline"), lookup, self.load,
                lambda reading: self._reading_bytes(reading, tx.chain_id), expected_in)
            pipeline.check_segment_output(body, run["contract"], state_in, batches, stored)
        else:
            if tx.chain_id != self.network.main_chain_id:
                raise RecordError("pipeline rounds are recorded on the main chain")
            pipeline.check_round(body, stored, lookup,
                                 lambda run_hex: self._run_order(run_hex, "pipeline"),
                                 self.load, main_chain=self.network.main_chain_id, reading=self._reading_of)
        with self._lock:
            self.reexecutions += 1

    def _record(self, tx_id_hex: str, kind: str, what: str) -> tuple[str, dict, bytes]:
        """(chain, body, object digest) of a record this endorser accepted or a committed one."""
        tx_id = bytes.fromhex(tx_id_hex)
        with self._lock:
            known = self._accepted.get(tx_id)
        if known is None:
            try:
                committed = self.network.transaction(tx_id)
            except LedgerError:
                raise RecordError(f"{what} {tx_id_hex[:12]} is no recorded transaction") from None
            known = (committed.chain_id, decode_body(committed.payload), committed.object_digest)
        if known[1]["kind"] != kind:
            raise RecordError(f"{what} {tx_id_hex[:12]} is a {known[1]['kind']} record, not a {kind}")
        return known

    def _check_step_inputs(self, body: dict, chain_id: str, hp: Hyperparameters) -> None:
        """The step replays from the ledger's inputs: d_i is its run's batch i, M_O the main
        chain's model of the step's round, M_{i-1} the run's initial model or its step i-1."""
        index = body["index"]
        batch_chain, batch, batch_digest = self._record(body["batch"], "batch", "d_i")
        if (batch_chain, batch["run"], batch["index"], batch_digest.hex()) != \
                (chain_id, body["run"], index, body["batch_digest"]):
            raise RecordError(f"step {index}: d_i is not batch {index} of the run")
        order = self._run_order(body["run"])
        if index > len(order) or batch["readings"] != order[index - 1]:
            raise RecordError(f"step {index}: d_i's readings are not batch {index} of the run's committed data order")
        readings = [self._reading_bytes(reading, chain_id) for reading in batch["readings"]]
        if encode_tensors(batch_from_readings(readings)) != self.load(batch_digest):
            raise RecordError(f"step {index}: d_i is not the batch its recorded readings make")
        global_chain, aggregation, global_digest = self._record(body["global"], "aggregation", "M_O")
        if (global_chain, aggregation["round"], global_digest.hex()) != \
                (self.network.main_chain_id, hp.round_of(index), body["global_model"]):
            raise RecordError(f"step {index}: M_O is not the main chain's model of round {hp.round_of(index)}")
        run = self._record(body["run"], "run", "the run")[1]
        previous = None if index == 1 else self._recorded_step(body["run"], index - 1, chain_id)
        expected = run["initial_model"] if index == 1 else previous[0] if previous else None
        check_step_global(index, hp, body["global"], run["initial"], previous[1] if previous else None,
                          self._follows)
        if body["model_in"] != expected:
            raise RecordError(f"step {index}: M_{{i-1}} is not the run's recorded model {index - 1}")

    def _reading_bytes(self, tx_id_hex: str, chain_id: str) -> bytes:
        """The object of a reading record of `chain_id` (its device and signature were checked
        when it was endorsed)."""
        reading_chain, _, digest = self._record(tx_id_hex, "reading", "reading")
        if reading_chain != chain_id or not digest:
            raise RecordError(f"reading {tx_id_hex[:12]} is not a recorded reading of {chain_id}")
        return self.load(digest)

    def _reading_of(self, tx_id_hex: str) -> tuple[str, bytes]:
        """(chain, object digest) of a reading record a FedAvg weight counts, once its device's
        signature is checked at the time of the block holding it (now, before it commits):
        the edge chain's peers checked it when they endorsed it, but a main-chain peer does not
        take an edge's word for the data the edge weighs in by. Checked once per reading (not
        again when this endorser endorsed it)."""
        chain, body, digest = self._record(tx_id_hex, "reading", "reading")
        with self._lock:
            known = tx_id_hex in self._weighed
        if not known:
            if not digest:
                raise RecordError(f"reading {tx_id_hex[:12]} names no reading")
            check_reading_record(self.network.trust, body, self.load(digest), chain, self._block_time(tx_id_hex))
            with self._lock:
                self._weighed.add(tx_id_hex)
        return chain, digest

    def _block_time(self, tx_id_hex: str) -> int | None:
        """The timestamp of the block that holds a committed transaction (None: not committed),
        each block read once."""
        try:
            receipt = self.network.locate(bytes.fromhex(tx_id_hex))
        except LedgerError:
            return None
        key = (receipt.chain_id, receipt.height)
        with self._lock:
            known = self._block_times.get(key)
        if known is None:
            known = self.network.block(receipt.chain_id, receipt.height).header.timestamp_ms
            with self._lock:
                self._block_times[key] = known
        return known

    def _recorded_model(self, run_hex: str, index: int, chain_id: str) -> str | None:
        """The model digest of step `index` of a run: accepted here, or (after Network.open)
        found on the chain, newest blocks first."""
        recorded = self._recorded_step(run_hex, index, chain_id)
        return recorded[0] if recorded else None

    def _recorded_step(self, run_hex: str, index: int, chain_id: str) -> tuple[str, str | None] | None:
        """(model digest, M_O tx hex) of step `index` of a run, as _recorded_model finds it."""
        key = (bytes.fromhex(run_hex), index)
        with self._lock:
            if key in self._models:
                return self._models[key]
        for height in reversed(range(self.network.peer(chain_id).height)):
            for tx in self.network.block(chain_id, height).transactions:
                if tx.kind != TxKind.RECORD:
                    continue
                try:
                    step = decode_body(tx.payload)
                except RecordError:
                    continue
                if step["kind"] in ("step", "segment") and step["run"] == run_hex and step["index"] == index:
                    with self._lock:
                        self._models[key] = (tx.object_digest.hex(), step.get("global"))
                    return self._models[key]
        return None

    def _claim_round(self, payload: bytes, previous: str, round_index: int) -> None:
        """One aggregation per round of a model: the FedAvg record `payload` (its canonical
        body, whose tx hash binds the averaged model) is the round after the aggregation
        `previous`, unless another version already is (committed on the main chain, or
        accepted here in the last claim_timeout seconds - it may be in the same block; one that
        never commits stops holding the round then). The same body again (a retry after its
        first submission failed) is the same round."""
        with self._rounds_lock:
            self._scan_rounds()
            holder = self._successors.get(previous)
            if holder is None:
                now = time.monotonic()
                pending = self._pending.get(previous)
                if pending is None or pending[0] == payload or now - pending[1] >= self.claim_timeout:
                    self._pending[previous] = (payload, now)
                    return
                holder = pending[0]
        if holder != payload:
            raise RecordError(f"round {round_index} after aggregation {previous[:12]} is already recorded "
                              "with other inputs or another model: one aggregation per round")

    def _scan_rounds(self) -> None:
        """Index the FedAvg records committed on the main chain since the last scan by the
        aggregation they follow (the model their first input trained from)."""
        main = self.network.main_chain_id
        height = self.network.peer(main).height
        for h in range(self._rounds_scanned, height):
            for tx in self.network.block(main, h).transactions:
                previous = self._previous_of(tx)
                if previous is not None:
                    self._successors.setdefault(previous, tx.payload)
                    self._pending.pop(previous, None)
        self._rounds_scanned = max(self._rounds_scanned, height)

    def _follows(self, aggregation_hex: str) -> str | None:
        """The aggregation a FedAvg record follows (the M_O its first input trained from)."""
        try:
            return self._previous_of(self.network.transaction(bytes.fromhex(aggregation_hex)))
        except LedgerError:
            return None

    def _previous_of(self, tx: Transaction) -> str | None:
        """The aggregation a committed FedAvg record of round >= 1 follows (records.
        followed_aggregation), None for any other."""
        if tx.kind != TxKind.RECORD or is_revocation_payload(tx.payload):
            return None
        try:
            body = decode_body(tx.payload)
        except LedgerError:
            return None  # no provenance record: follows nothing
        return followed_aggregation(
            body, lambda tx_hex: decode_body(self.network.transaction(bytes.fromhex(tx_hex)).payload))

    def _check_round_inputs(self, body: dict) -> str:
        """Each input of a FedAvg round is a committed step, at its run's position, once, all
        trained from one aggregation: returns it (the round before)."""
        seen = RoundInputs()
        for entry in body["locals"]:
            try:
                receipt = self.network.locate(bytes.fromhex(entry["tx"]))
                local = self.network.transaction(receipt.tx_id)
            except LedgerError:
                raise RecordError(f"FedAvg round {body['round']}: input {entry['tx'][:12]} is not a "
                                  "committed transaction") from None
            step = decode_body(local.payload, "step")
            trainer = self._run_trainer(step["run"], receipt.chain_id)
            check_round_input(body["round"], entry, step, receipt.chain_id, local.object_digest or None,
                              trainer.hyperparameters,
                              seen, self._run_order(step["run"]), self._reading_of)
        if seen.previous is None:
            raise RecordError(f"FedAvg round {body['round']} averages nothing")
        return seen.previous

    def _run_order(self, run_tx_hex: str, kind: str = "run") -> list[list[str]]:
        """The data order a run (or, `kind` "pipeline", a pipeline run) record commits to (its
        object, checked against its digest), decoded once per run."""
        run_tx = bytes.fromhex(run_tx_hex)
        with self._lock:
            order = self._orders.get(run_tx)
        if order is None:
            run = self._record(run_tx_hex, kind, "the run")[1]
            order = decode_data_order(self.load(bytes.fromhex(run["data_order"])),
                                      run["steps" if kind == "run" else "iterations"])
            with self._lock:
                self._orders[run_tx] = order
        return order

    def _run_trainer(self, run_tx_hex: str, chain_id: str) -> Trainer:
        """The trainer and hyperparameters of the run record a step names, which must be a run
        of the step's chain."""
        run_chain, run, _ = self._record(run_tx_hex, "run", "the run")
        if run_chain != chain_id:
            raise RecordError(f"the step names a run of {run_chain}, not of {chain_id}")
        run_tx = bytes.fromhex(run_tx_hex)
        with self._lock:
            trainer = self._trainers.get(run_tx)
        if trainer is None:
            trainer = trainer_for(run["trainer"], Hyperparameters.from_record(run["hyperparameters"]))
            with self._lock:
                self._trainers[run_tx] = trainer
        return trainer


def chain_policy(chain_ids: Iterable[str], endorse: str | Mapping[str, str]) -> dict[str, str]:
    """Per chain of `chain_ids`, its endorsement policy: one for all chains, or per chain
    ("reexecute" for the chains a mapping leaves out)."""
    policy = {chain_id: endorse if isinstance(endorse, str) else "reexecute" for chain_id in chain_ids}
    if isinstance(endorse, Mapping):
        unknown = set(endorse) - set(policy)
        if unknown:
            raise ProvenanceError(f"endorse names chains the network does not have: {sorted(map(str, unknown))[:5]}")
        policy.update(endorse)
    elif not isinstance(endorse, str):
        raise ProvenanceError("endorse is a policy name or a mapping of chain ids to policy names")
    if not set(policy.values()) <= set(ENDORSE_POLICIES):
        raise ProvenanceError(f"endorsement policies are {ENDORSE_POLICIES}")
    return policy


POLICY_FILE = "provenance-policy.json"  # in the deployment's directory, written at set-up
_INSTALL_LOCK = threading.Lock()


def read_policy(directory: str | Path, chain_ids: Iterable[str]) -> dict[str, str] | None:
    """The policy a deployment in `directory` with chains `chain_ids` was set up with, if it
    has been (POLICY_FILE)."""
    try:
        data = (Path(directory) / POLICY_FILE).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProvenanceError(f"cannot read the deployment's {POLICY_FILE}: {exc}") from None
    stored = parse_json(data, POLICY_FILE)
    if not isinstance(stored, dict) or chain_policy(chain_ids, stored) != stored:
        raise ProvenanceError(f"the deployment's {POLICY_FILE} is not a policy for its chains")
    return stored


def write_policy(directory: str | Path, policy: dict[str, str]) -> bool:
    """Record the set-up policy in `directory` once (fsynced); False when it was recorded before."""
    try:
        with open(Path(directory) / POLICY_FILE, "xb") as f:
            f.write(canonical_json(policy))
            f.flush()
            os.fsync(f.fileno())
    except FileExistsError:
        return False
    except OSError as exc:
        raise ProvenanceError(f"cannot write the deployment's {POLICY_FILE}: {exc}") from None
    return True


def node_endorser(view, directory: Path) -> ProvenanceEndorser:
    """The ProvenanceEndorser a node of the distributed deployment runs (the "provenance"
    validator of ledger.cluster.validators; `view` is its DeploymentView), with the policy the
    deployment was set up with: POLICY_FILE beside deployment.json. A node without one refuses
    to start: it must not guess a policy weaker than the operator's."""
    policy = read_policy(directory, view.chain_ids)
    if policy is None:
        raise ProvenanceError(f"the deployment in {directory} names the provenance validator but has no {POLICY_FILE}")
    return ProvenanceEndorser(view, policy)


def _stored_policy(network: Network) -> dict[str, str] | None:
    """The policy the embedded deployment was set up with, if it has been."""
    return read_policy(network.path, network.services)


def _store_policy(network: Network, policy: dict[str, str]) -> dict[str, str]:
    """Record the set-up policy once; when another process set it up first, that one holds."""
    return policy if write_policy(network.path, policy) else _stored_policy(network) or policy


def install_endorser(network: Network, endorse: str | Mapping[str, str] | None = None) -> ProvenanceEndorser:
    """The network's ProvenanceEndorser, installed on every chain when there is none yet, with
    the policy the deployment was set up with (POLICY_FILE, kept across Network.open); the
    first install sets it up, from `endorse` (default "reexecute" on every chain). Asking for
    another policy than the deployment's is refused: a participant cannot change it."""
    with _INSTALL_LOCK:  # one endorser per network, even when adapters are made concurrently
        installed = next((v for chain_id in network.services for v in network.deployment.validators(chain_id)
                          if isinstance(v, ProvenanceEndorser)), None)
        policy = installed.policy if installed is not None else _stored_policy(network)
        if policy is not None and endorse is not None and chain_policy(network.services, endorse) != policy:
            raise ProvenanceError(f"the chains' endorsement policy is {policy}, set when the deployment was "
                                  "set up; a participant cannot change it")
        if installed is not None:
            return installed
        if policy is None:
            policy = _store_policy(network, chain_policy(network.services, "reexecute" if endorse is None else endorse))
        endorser = ProvenanceEndorser(network, policy)
        for chain_id in network.services:
            network.add_validator(chain_id, endorser)
        return endorser


class NetworkLedger:
    """Adapter from the provenance recorder and auditor to a running deployment: the embedded
    `ledger.Network`, or a client of the distributed one (`ledger.connect`, any ledger.api.Ledger).

    Submissions are asynchronous so one block can carry many records; `flush()` waits until
    every submitted record is committed (and `verify` flushes first). `endorse` sets the
    chains' endorsement policy when this is the embedded network's first NetworkLedger
    (install_endorser); the nodes of a distributed deployment run the validators and policy
    its deployment.json and POLICY_FILE set (ledger.cluster.validators), so no `endorse` is
    taken for one. `signers` maps submitter names to identities this process holds the keys of
    (a client of a distributed deployment signs with those, or its own)."""

    def __init__(self, network: Network | Ledger, timeout: float = COMMIT_TIMEOUT,
                 endorse: str | Mapping[str, str] | None = None,
                 signers: Mapping[str, Identity] | None = None) -> None:
        self.network = checks.instance(network, Ledger, "network")
        timeout = checks.number(timeout, "timeout")
        self.main_chain_id = network.main_chain_id
        self.timeout = timeout
        self._pending: list[PendingTx] = []
        self._signers = dict(signers or {})
        self._block_times: Recent[tuple[str, int], int] = Recent(KEPT)
        self._scanned: dict[str, tuple[int, list[tuple[bytes, dict]]]] = {}  # chain -> (height, its records)
        self.embedded = isinstance(network, Network)
        if self.embedded:
            self.endorser = install_endorser(network, endorse)
        elif endorse is not None:
            raise ProvenanceError("a distributed deployment's endorsement policy is set when it is created "
                                  "(its nodes' POLICY_FILE); a client cannot choose one")
        else:
            self.endorser = None

    @property
    def endorsement_checks(self) -> int:
        """Re-executions the endorsing peers have run on this network (embedded only: nodes
        count their own)."""
        if self.endorser is None:
            raise ProvenanceError("the re-executions of a distributed deployment are counted by its nodes")
        return self.endorser.reexecutions

    def store(self, data: bytes) -> ObjectRef:
        return self.network.put_object(data)

    def load(self, ref: ObjectRef | bytes) -> bytes:
        return self.network.get_object(ref)

    def submit(self, chain_id: str, submitter: str, body: dict, obj: ObjectRef | None,
               reexecute: bool | None = None) -> bytes:
        """Sign and submit one record; the chain's endorsing peers check it under the chain's
        policy, whatever `reexecute` claims (ignore_claimed_mode). A record refused at admission
        raises now, nothing committed: EndorsementRefused when too few peers' validators accept
        it, else the ledger's error (e.g. an unknown signer)."""
        ignore_claimed_mode(reexecute)
        if not self.embedded and body.get("kind") != "reading":
            # a node admits concurrent submissions in any order, and its validator checks a
            # record against the ones it names: those go first
            self.flush()
        tx = self.network.record(chain_id, encode_body(body), obj=obj, signer=self._signer(submitter))
        pending = self.network.submit_transaction(tx)
        if pending.done():  # refused at admission, which runs on this thread: say so now
            try:
                pending.result(0)
            except ValidationRejected as exc:
                raise EndorsementRefused(str(exc)) from exc
        self._pending.append(pending)
        return tx.tx_id

    def _signer(self, submitter):
        """The identity this adapter holds for the name `submitter`, else `submitter` itself
        (the ledger resolves or refuses it)."""
        return self._signers.get(submitter, submitter) if isinstance(submitter, str) else submitter

    def flush(self) -> None:
        """Wait for every submitted record; raise the first rejection."""
        pending, self._pending = self._pending, []
        for item in pending:
            try:
                item.result(self.timeout)
            except ValidationRejected as exc:  # a node's validator refused it (the embedded one, at submission)
                raise EndorsementRefused(str(exc)) from exc

    def fetch(self, tx_id: bytes) -> FetchedRecord:
        if any(item.tx_id == tx_id for item in self._pending):
            self.flush()
        receipt = self.network.locate(tx_id)
        return self._fetched(tx_id, self.network.transaction(tx_id), receipt, self._block_time(receipt))

    def fetch_many(self, tx_ids: Iterable[bytes]) -> dict[bytes, FetchedRecord]:
        """fetch() of many records (records.ProvenanceLedger.fetch_many): one batch read
        (Ledger.transactions: each id located once, each block read and checked once), each
        record checked as fetch() checks it. An id fetch() raises for is left out; when the
        ledger refuses the batch (a block it no longer proves), each id is fetched alone."""
        tx_ids = list(dict.fromkeys(bytes(checks.data(t, "tx_id")) for t in checks.items(tx_ids, "tx_ids")))
        wanted = set(tx_ids)
        if any(item.tx_id in wanted for item in self._pending):
            self.flush()
        try:
            found = self.network.transactions(tx_ids)
        except LedgerError:
            found = None
        out = {}
        for tx_id in tx_ids:
            try:
                if found is None:
                    out[tx_id] = self.fetch(tx_id)
                elif tx_id in found:
                    out[tx_id] = self._fetched(tx_id, *found[tx_id])
            except LedgerError:
                continue  # (fetch() says why)
        return out

    def _fetched(self, tx_id: bytes, tx: Transaction, receipt, block_time_ms: int) -> FetchedRecord:
        """The record of a located transaction, after the checks fetch() makes: the ledger's
        transaction is the one with that id, its payload a provenance record; with the time
        of the block holding it (read from that block: the receipt's digest)."""
        if tx.tx_id != bytes(tx_id) or receipt.tx_id != tx.tx_id:
            raise RecordError(f"the ledger returned another transaction for {bytes(tx_id).hex()}")
        obj = ObjectRef(tx.object_digest, tx.object_url) if tx.object_digest else None
        return FetchedRecord(receipt.chain_id, tx.tx_id, decode_body(tx.payload), obj, tx.submitter, block_time_ms)

    def _block_time(self, receipt) -> int:
        """The timestamp of the block holding a located transaction (its signatures count at
        that time), read once per block."""
        key = (receipt.chain_id, receipt.height)
        known = self._block_times.get(key)
        if known is None:
            header = self.network.block(receipt.chain_id, receipt.height).header
            if header.digest != receipt.block_digest:
                raise RecordError(f"the ledger returned another block {receipt.height} of {receipt.chain_id}")
            known = self._block_times[key] = header.timestamp_ms
        return known

    def committed_records(self, chain_id: str, kind: str) -> list[tuple[bytes, dict]]:
        """(tx id, body) of every well-formed record of `kind` committed on `chain_id`, in chain
        order (the blocks read once: later calls read only the new ones)."""
        self.flush()
        height, found = self._scanned.get(chain_id, (0, []))
        top = self.network.height(chain_id)
        for h in range(height, top):
            for tx in self.network.block(chain_id, h).transactions:
                if tx.kind != TxKind.RECORD or is_revocation_payload(tx.payload):
                    continue
                try:
                    found.append((tx.tx_id, decode_body(tx.payload)))
                except RecordError:
                    pass  # (not a provenance record)
        self._scanned[chain_id] = (max(height, top), found)
        return [(tx_id, body) for tx_id, body in found if body["kind"] == kind]

    def verify_many(self, tx_ids: Iterable[bytes], verifier_chain: str) -> dict[bytes, str | None]:
        """Protocol 1 for many records with shared proofs (Network.verify_many): per tx id,
        None when it holds, else the reason it was rejected."""
        self.flush()
        tx_ids = checks.items(tx_ids, "tx_ids")
        verdicts = self.network.verify_many(tx_ids, verifier_chain)
        if any(v.code in _WAIT_FOR_INTERLOCK for v in verdicts.values()):
            self.network.interlock(self.timeout)
            verdicts = self.network.verify_many(tx_ids, verifier_chain)
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
