"""Recording a user's own PyTorch training loop, with checkpoint intervals, and replaying it.

The edge wraps its loop in a few lines; the model code does not change::

    recorder = PipelineRecorder(chain, "edge-0", "edge-0.peer0", net.trust, model, optimizer,
                                scheduler, step=train_step, hyperparameters={"clip": 1.0},
                                seed=0, interval=10, scheduler_kwargs={"step_size": 50})
    with recorder.run(data_order):               # the run record: the replay contract
        for readings in data_order:
            batch = recorder.batch(readings)     # d_i recorded; torch tensors x (uint8), y (int64)
            train_step(model, optimizer, scheduler, batch, recorder.hyperparameters)  # the user's step
            recorder.done()                      # every `interval` iterations: one segment

The run record ("pipeline") names the **replay contract**: the step function, the model,
optimizer and scheduler classes (each an importable "module:qualname" reference with the
SHA-256 of its source, and the constructor arguments), the hyperparameters passed to the step,
the seed, the checkpoint interval k, the deterministic-algorithm settings, and the environment
fingerprint. The initial state is derived from the contract: the RNGs seeded, the model built
(or loaded with the main chain's M_O), a fresh optimizer and scheduler. Every k iterations a
"segment" records the whole training state after them (torch_state.py: model, optimizer
moments, scheduler, RNGs) and the k batch records, so one record covers k iterations as
Proof-of-Learning's checkpoints do; k = 1 is exact per-step mode.

Replay (`replay_segment`) re-imports the contract's code, refuses code outside the replaying
party's trusted modules (`trust_code`; importing what a record names runs it) or whose source
digest differs, builds the objects, loads the segment's starting state, runs the step function
on its k batches and encodes the state: the recorded one must match bit for bit. The endorsing
peers of a "reexecute" chain replay every segment before signing (network_ledger.py), and
`PipelineAuditor` replays a sample.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import random
import struct
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ledger.errors import LedgerError
from ledger.identity import TrustStore
from ledger.provenance import torch_state
from ledger.provenance.audit import AuditReport, Auditor, StepVerdict, _Failed, _reason, check_sample_request, \
    cover, fresh_seed, sample_steps
from ledger.provenance.encoding import Tensors, decode_tensors, encode_tensors, sha256
from ledger.provenance.environment import environment_differences, environment_fingerprint
from ledger.provenance.errors import ProvenanceError, RecordError
from ledger.provenance.records import (FetchedRecord, ProvenanceLedger, Ref, RunManifest, decode_data_order,
                                       segment_count)
from ledger.provenance.recorder import (batch_from_readings, check_shared_readings, data_order_bytes, edge_readings,
                                       load_tensors, round_weight)
from ledger.provenance.torch_trainer import pin_torch, torch
from ledger.provenance.trainers import fedavg

TRAINER_NAME = "torch-pipeline"
DETERMINISTIC = {"algorithms": True, "threads": 1}  # what a replayable run must have been recorded under
MAX_PARAMETERS = 1 << 28  # tensor elements of a model a replay builds (1 GiB of float32)
_TRUSTED: set[str] = {"torch"}  # module prefixes this process's replays may import (trust_code)
_CLASSES = {"model": torch.nn.Module, "optimizer": torch.optim.Optimizer,  # what each contract class must be
            "scheduler": torch.optim.lr_scheduler.LRScheduler}


# --- code references: the one rule for recording and resolving them --------------------------

def trust_code(*modules: str) -> None:
    """Let this process's replays (endorsing peers, auditors) import code from `modules` and
    their submodules. Only the operator decides this: a record only names code."""
    for module in modules:
        if not isinstance(module, str) or not module or module.startswith("."):
            raise ProvenanceError("trust_code takes module names")
        _TRUSTED.add(module)


def _trusted(module: str, trusted: Iterable[str]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in trusted)


def source_digest(obj: object) -> str:
    """SHA-256 of the source of the module defining `obj`: its helpers are part of what runs."""
    try:
        source = inspect.getsource(inspect.getmodule(obj))  # type: ignore[arg-type]
    except (OSError, TypeError):
        raise RecordError(f"{getattr(obj, '__qualname__', obj)!r} has no Python source to record") from None
    return hashlib.sha256(source.encode()).hexdigest()


def code_ref(obj: object) -> dict[str, str]:
    """{"ref": "module:qualname", "source": SHA-256 of its source} of a function or class."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise RecordError(f"{obj!r} is not importable by reference: define it at a module's top level")
    return {"ref": f"{module}:{qualname}", "source": source_digest(obj)}


def resolve(spec: dict, what: str, trusted: Iterable[str], base: type | None = None) -> Any:
    """The object a recorded reference names: a Python function (`base` None) or a subclass of
    `base`, defined in a trusted module under exactly that name (not reached through another
    module's attribute, as "torch:os.system" would be), whose module's source still has the
    recorded digest. RecordError otherwise, before anything named is called."""
    module, _, qualname = spec["ref"].partition(":")
    if not module or not qualname or "__" in qualname:
        raise RecordError(f"the {what} reference {spec['ref'][:80]!r} is not module:qualname")
    if not _trusted(module, trusted):
        raise RecordError(f"the {what} {spec['ref'][:80]!r} is outside the code this replay trusts")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # ImportError, AttributeError, whatever the module raises
        raise RecordError(f"the {what} {spec['ref'][:80]!r} cannot be imported: {str(exc)[:80]}") from None
    if getattr(obj, "__module__", None) != module or getattr(obj, "__qualname__", None) != qualname:
        raise RecordError(f"the {what} {spec['ref'][:80]!r} is not defined as that name in that module")
    if not (inspect.isfunction(obj) if base is None else isinstance(obj, type) and issubclass(obj, base)):
        raise RecordError(f"the {what} {spec['ref'][:80]!r} is not a "
                          f"{'Python function' if base is None else base.__qualname__ + ' class'}")
    if source_digest(obj) != spec["source"]:
        raise RecordError(f"the {what} {spec['ref'][:80]!r} has another source than the run recorded")
    return obj


def plain(value: Any) -> Any:
    """Constructor arguments and hyperparameters as exact JSON (tuples and floats kept)."""
    tensors: Tensors = {}
    encoded = torch_state._flatten(value, "argument", tensors)
    if tensors:
        raise RecordError("constructor arguments and hyperparameters cannot hold tensors")
    return encoded


def unplain(value: Any, what: str) -> Any:
    try:
        return torch_state._restore(value, {})
    except ProvenanceError as exc:
        raise RecordError(f"{what}: {exc}") from None


# --- the contract and the objects it builds -----------------------------------------------

def make_contract(model: "torch.nn.Module", optimizer: "torch.optim.Optimizer", scheduler: Any | None, *,
                  step: Callable, hyperparameters: dict, seed: int, interval: int,
                  model_kwargs: dict | None = None, scheduler_kwargs: dict | None = None) -> dict:
    """The replay contract of a run (records._contract checks its shape)."""
    def cls(obj: object, kwargs: dict) -> dict:
        if not isinstance(kwargs, dict):
            raise RecordError("constructor arguments are a dict")
        return {**code_ref(type(obj)), "kwargs": plain(kwargs)}

    if not isinstance(hyperparameters, dict):
        raise RecordError("hyperparameters are a dict")
    if scheduler is not None and scheduler_kwargs is None:
        raise RecordError("give scheduler_kwargs: the scheduler's constructor arguments besides the optimizer")
    return {"step": code_ref(step), "model": cls(model, model_kwargs or {}),
            "optimizer": cls(optimizer, dict(optimizer.defaults)),
            "scheduler": None if scheduler is None else cls(scheduler, scheduler_kwargs or {}),
            "hyperparameters": plain(hyperparameters), "seed": seed, "interval": interval,
            "deterministic": {"algorithms": torch.are_deterministic_algorithms_enabled(),
                              "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads()}}


@dataclass
class Built:
    """The objects a contract names, built afresh, and its step function."""

    model: Any
    optimizer: Any
    scheduler: Any | None
    step: Callable
    hyperparameters: Any


def build(contract: dict, trusted: Iterable[str] | None = None) -> Built:
    """Import and construct what the contract names (RecordError for anything that fails)."""
    trusted = _TRUSTED if trusted is None else trusted
    if {k: contract["deterministic"][k] for k in DETERMINISTIC} != DETERMINISTIC:
        raise RecordError(f"the run was recorded with deterministic settings {contract['deterministic']}, "
                          f"not {DETERMINISTIC}: it cannot be replayed bit for bit")
    step = resolve(contract["step"], "step function", trusted)
    parts = {}
    for part, base in _CLASSES.items():
        spec = contract[part]
        parts[part] = None if spec is None else (resolve(spec, part + " class", trusted, base),
                                                 unplain(spec["kwargs"], f"{part} arguments"))
    try:
        model = construct_model(*parts["model"])
        optimizer_cls, optimizer_kwargs = parts["optimizer"]
        optimizer = optimizer_cls(model.parameters(), **optimizer_kwargs)
        scheduler = None
        if parts["scheduler"] is not None:
            scheduler_cls, scheduler_kwargs = parts["scheduler"]
            scheduler = scheduler_cls(optimizer, **scheduler_kwargs)
    except RecordError:
        raise
    except Exception as exc:  # whatever a constructor raises on recorded arguments
        raise RecordError(f"the contract's objects cannot be built: {str(exc)[:120]}") from None
    if not isinstance(model, torch.nn.Module) or not isinstance(optimizer, torch.optim.Optimizer):
        raise RecordError("the contract's model is not an nn.Module or its optimizer not an Optimizer")
    return Built(model, optimizer, scheduler, step, unplain(contract["hyperparameters"], "hyperparameters"))


def construct_model(model_cls: type, kwargs: dict) -> "torch.nn.Module":
    """model_cls(**kwargs), the recorded arguments having been counted first on the meta device:
    they may ask for any size (RecordError above MAX_PARAMETERS tensor elements)."""
    with torch.device("meta"):
        size = sum(p.numel() for p in model_cls(**kwargs).state_dict().values())
    if size > MAX_PARAMETERS:
        raise RecordError(f"the recorded model has {size} parameters; replays take at most {MAX_PARAMETERS}")
    return model_cls(**kwargs)


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (1 << 32))
    random.seed(seed)


def initial_state(contract: dict, global_model: Tensors | None, trusted: Iterable[str] | None = None) -> bytes:
    """The run's starting state, derived from the contract alone: RNGs seeded, the model built
    under that seed (or loaded with M_O), a fresh optimizer and scheduler, RNGs seeded again."""
    pin_torch()
    with torch_state.isolated_rng():
        _seed_all(contract["seed"])
        built = build(contract, trusted)
        if global_model is not None:
            try:
                built.model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in global_model.items()})
            except Exception as exc:
                raise RecordError(f"M_O does not fit the contract's model: {str(exc)[:120]}") from None
        _seed_all(contract["seed"])
        return torch_state.encode_state(torch_state.capture_state(built.model, built.optimizer, built.scheduler))


def torch_batch(batch: Tensors) -> dict[str, "torch.Tensor"]:
    return {name: torch.from_numpy(np.array(value)) for name, value in batch.items()}


def replay_segment(contract: dict, state_in: bytes, batches: Sequence[Tensors],
                   trusted: Iterable[str] | None = None) -> bytes:
    """The state after running the contract's step on `batches` from `state_in` (its bytes).
    RecordError (or TensorEncodingError) for a contract or state that cannot be replayed."""
    pin_torch()
    with torch_state.isolated_rng():
        built = build(contract, trusted)
        torch_state.load_state(torch_state.decode_state(state_in), built.model, built.optimizer, built.scheduler)
        built.model.train()
        for batch in batches:
            try:
                built.step(built.model, built.optimizer, built.scheduler, torch_batch(batch), built.hyperparameters)
            except Exception as exc:  # the recorded step function failed on recorded inputs
                raise RecordError(f"the step function fails on the recorded inputs: {str(exc)[:120]}") from None
        return torch_state.encode_state(torch_state.capture_state(built.model, built.optimizer, built.scheduler))


def segment_bounds(index: int, interval: int, iterations: int) -> range:
    """The 1-based iterations segment `index` covers."""
    return range((index - 1) * interval + 1, min(index * interval, iterations) + 1)


def segment_digest(state_out: bytes, batches: Sequence[bytes], index: int) -> bytes:
    """H(S_j || d_1 || ... || d_k || j) for segment j: like the step digest, every part
    length-prefixed (u64 little-endian) so the concatenation has one parse."""
    h = hashlib.sha256(b"edgeacc/provenance/segment/v1")
    for part in (state_out, *batches):
        h.update(struct.pack("<Q", len(part)))
        h.update(part)
    h.update(struct.pack("<QQ", len(batches), index))
    return h.digest()


# --- the checks both the endorsing peers and the auditor apply (one rule) ------------------

Lookup = Callable[[str, str], tuple[str, dict, bytes]]  # (tx hex, kind) -> (chain, body, object digest)


def check_segment(body: dict, run: dict, run_chain: str, order: list[list[str]], lookup: Lookup,
                  load: Callable[[bytes], bytes], reading: Callable[[str], bytes],
                  state_in_expected: str | None) -> tuple[bytes, list[bytes]]:
    """A segment against its run: its index exists, its starting state is the run's initial
    state or the previous segment's recorded state (`state_in_expected`), its batches are the
    run's batch records of exactly its iterations, holding the committed data order's readings
    and being the batches those readings make. Returns (state_in bytes, batch bytes)."""
    index, interval, iterations = body["index"], run["contract"]["interval"], run["iterations"]
    if index > segment_count(iterations, interval):
        raise RecordError(f"segment {index}: the run has {segment_count(iterations, interval)} segments")
    if body["state_in"] != state_in_expected:
        raise RecordError(f"segment {index}: its starting state is not the run's recorded state before it")
    iterations_covered = segment_bounds(index, interval, iterations)
    if len(body["batches"]) != len(iterations_covered):
        raise RecordError(f"segment {index} must cover iterations {iterations_covered.start}..{iterations_covered.stop - 1}")
    batch_bytes = []
    for iteration, tx_hex, digest_hex in zip(iterations_covered, body["batches"], body["batch_digests"]):
        chain, batch, digest = lookup(tx_hex, "batch")
        if (chain, batch["run"], batch["index"], digest.hex()) != (run_chain, body["run"], iteration, digest_hex):
            raise RecordError(f"segment {index}: batch {tx_hex[:12]} is not batch {iteration} of the run")
        if batch["readings"] != order[iteration - 1]:
            raise RecordError(f"segment {index}: batch {iteration}'s readings are not the committed data order's")
        data = load(digest)
        if encode_tensors(batch_from_readings([reading(tx) for tx in batch["readings"]])) != data:
            raise RecordError(f"segment {index}: batch {iteration} is not the batch its recorded readings make")
        batch_bytes.append(data)
    return load(bytes.fromhex(body["state_in"])), batch_bytes


def check_segment_output(body: dict, contract: dict, state_in: bytes, batch_bytes: list[bytes],
                         state_out: bytes, trusted: Iterable[str] | None = None) -> None:
    """The recorded state is the replay's, and the tx hash binds it and the batches."""
    if segment_digest(state_out, batch_bytes, body["index"]).hex() != body["tx_hash"]:
        raise RecordError(f"segment {body['index']}: tx hash is not H(S_j || d_1..d_k || j)")
    replayed = replay_segment(contract, state_in, [decode_tensors(b)[0] for b in batch_bytes], trusted)
    if replayed != state_out:
        raise RecordError(f"segment {body['index']}: replaying the contract's step does not reproduce "
                          "the recorded training state bit for bit")


def check_initial(run: dict, global_model: Tensors | None, initial: bytes, trusted: Iterable[str] | None = None) -> None:
    if initial_state(run["contract"], global_model, trusted) != initial:
        raise RecordError("the run's initial state is not the one its contract (and M_O) derive")


def check_round_inputs(body: dict, lookup: Lookup, order_of: Callable[[str], list[list[str]]],
                       load: Callable[[bytes], bytes], refused: list[str] | None = None, *,
                       reading: Callable[[str], tuple[str, bytes]] | None = None) -> list[bytes]:
    """Each input of a pipeline round: the last segment of a run trained from the previous
    round, the model of that segment's state, weighted by the distinct readings of its edge its
    run trained on (recorder.edge_readings), none weighing another input too, one run per
    edge chain. Returns the inputs' model bytes, in order. With a `refused` list, an input
    that fails is dropped from body["locals"] and its reason appended instead of raising; of
    inputs sharing readings all are dropped, whatever their order: keeping the first would let
    a client that copied another's readings and answered first weigh in with them.
    `reading(tx hex)`: a weighed reading's chain and digest once its device's signature is
    checked (the peers' and the auditor's); None takes them as `lookup` gives them (the
    cloud's draft, which its peers then check)."""
    reading = reading or (lambda tx_hex: _reading_ref(lookup, tx_hex))
    edges: set[str] = set()
    passed = []  # (entry, its readings, its model) of each input that passes on its own
    for entry in body["locals"]:
        try:
            edge, readings, model = _round_input(body, entry, lookup, order_of, load, edges, reading)
        except LedgerError as exc:
            if refused is None:
                raise
            refused.append(str(exc))
            continue
        edges.add(edge)
        passed.append((entry, readings, model))
    weighed = Counter(digest for _, readings, _ in passed for digest in readings)
    shared = {digest for digest, inputs in weighed.items() if inputs > 1}
    models, kept = [], []
    for entry, readings, model in passed:
        try:
            check_shared_readings(f"round {body['round']}: input {entry['tx'][:12]}", readings, shared)
        except RecordError as exc:
            if refused is None:
                raise
            refused.append(str(exc))
            continue
        models.append(model)
        kept.append(entry)
    if refused is not None:  # only the caller's own draft is edited, never a recorded body
        body["locals"] = kept
    return models


def _round_input(body: dict, entry: dict, lookup: Lookup, order_of: Callable[[str], list[list[str]]],
                 load: Callable[[bytes], bytes], edges: set[str],
                 reading: Callable[[str], tuple[str, bytes]]) -> tuple[str, set[bytes], bytes]:
    where = f"round {body['round']}: input {entry['tx'][:12]}"
    edge, segment, state_digest = lookup(entry["tx"], "segment")
    run_chain, run, _ = lookup(segment["run"], "pipeline")
    if run_chain != edge:  # a copy of another edge's segment on a lax chain would weigh that run twice
        raise RecordError(f"{where} is a segment on {edge} of a run recorded on {run_chain[:40]}")
    if run["global"] != body["previous"]:
        raise RecordError(f"{where} is a run that did not train from the previous round's model")
    if segment["index"] != segment_count(run["iterations"], run["contract"]["interval"]):
        raise RecordError(f"{where} is not its run's last segment")
    readings = edge_readings(order_of(segment["run"]), reading, edge)
    if entry["weight"] != len(readings):
        raise RecordError(f"{where} has weight {entry['weight']}; its run trained on {len(readings)} distinct readings")
    if edge in edges:  # one run per edge and round: an edge cannot weigh in twice
        raise RecordError(f"{where}: {edge} is averaged twice in the round")
    model = torch_state.model_bytes(load(state_digest))
    if sha256(model).hex() != entry["model"]:
        raise RecordError(f"{where} names a model that is not its segment's")
    return edge, readings, model


def _reading_ref(lookup: Lookup, tx_hex: str) -> tuple[str, bytes]:
    """(chain, object digest) of a reading record: what a round's weight counts."""
    chain, _, digest = lookup(tx_hex, "reading")
    return chain, digest


def check_round(body: dict, model: bytes, lookup: Lookup, order_of: Callable[[str], list[list[str]]],
                load: Callable[[bytes], bytes], trusted: Iterable[str] | None = None, *, main_chain: str,
                reading: Callable[[str], tuple[str, bytes]]) -> None:
    """A pipeline round's recorded model: round 0 the contract's seeded model, round r the
    FedAvg of its inputs (check_round_inputs, `reading` its checked readings; and its previous
    round a round r-1 record of `main_chain`, not one a lax edge chain holds); RecordError
    otherwise."""
    if body["round"] == 0:
        if initial_model(body["model"], body["seed"], trusted) != model:
            raise RecordError("round 0's model is not the one its model class and seed derive")
        locals_bytes, weights = [], []
    else:
        previous_chain, previous, _ = lookup(body["previous"], "pipeline-round")
        if previous_chain != main_chain:
            raise RecordError(f"round {body['round']} names a previous round recorded on {previous_chain[:40]}, "
                              "not on the main chain")
        if previous["round"] != body["round"] - 1:
            raise RecordError(f"round {body['round']} names round {previous['round']} as the previous one")
        locals_bytes = check_round_inputs(body, lookup, order_of, load, reading=reading)
        weights = [entry["weight"] for entry in body["locals"]]
        if encode_tensors(fedavg([decode_tensors(m)[0] for m in locals_bytes], weights)) != model:
            raise RecordError(f"round {body['round']}: FedAvg does not reproduce the recorded model")
    if round_digest(model, locals_bytes, weights, body["round"]).hex() != body["tx_hash"]:
        raise RecordError(f"round {body['round']}: tx hash does not match")


def initial_model(model_spec: dict, seed: int, trusted: Iterable[str] | None = None) -> bytes:
    """Canonical bytes of the model class built under `seed` (a federation's round 0)."""
    model_cls = resolve(model_spec, "model class", _TRUSTED if trusted is None else trusted, torch.nn.Module)
    pin_torch()
    with torch_state.isolated_rng():
        _seed_all(seed)
        kwargs = unplain(model_spec["kwargs"], "model arguments")
        try:
            model = construct_model(model_cls, kwargs)
        except RecordError:
            raise
        except Exception as exc:
            raise RecordError(f"the model class cannot be built: {str(exc)[:120]}") from None
        return encode_tensors({k: v.detach().numpy() for k, v in model.state_dict().items()})


def round_digest(model: bytes, local_models: list[bytes], weights: list[int], round_index: int) -> bytes:
    from ledger.provenance.encoding import aggregation_digest

    return aggregation_digest(model, local_models, weights, round_index)


# --- recording -----------------------------------------------------------------------------

class PipelineRecorder:
    """Records a user's own PyTorch loop on an edge's sub-chain (see the module docstring)."""

    def __init__(self, ledger: ProvenanceLedger, chain_id: str, submitter: str, trust: TrustStore,
                 model: "torch.nn.Module", optimizer: "torch.optim.Optimizer", scheduler: Any | None = None, *,
                 step: Callable, hyperparameters: dict | None = None, seed: int = 0, interval: int = 1,
                 model_kwargs: dict | None = None, scheduler_kwargs: dict | None = None) -> None:
        if not isinstance(model, torch.nn.Module) or not isinstance(optimizer, torch.optim.Optimizer):
            raise RecordError("model must be a torch.nn.Module and optimizer a torch.optim.Optimizer")
        if type(interval) is not int or not 1 <= interval <= 1 << 16:
            raise RecordError("interval must be an integer from 1 to 65536")
        if type(seed) is not int or not 0 <= seed < 1 << 64:
            raise RecordError("seed must be an integer from 0 to 2^64 - 1")
        pin_torch()
        self.ledger, self.chain_id, self.submitter, self.trust = ledger, chain_id, submitter, trust
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.contract = make_contract(model, optimizer, scheduler, step=step, hyperparameters=hyperparameters or {},
                                      seed=seed, interval=interval, model_kwargs=model_kwargs,
                                      scheduler_kwargs=scheduler_kwargs)
        self.step_function = step
        self.hyperparameters = hyperparameters or {}
        self.run_ref: Ref | None = None
        self.segments: list[Ref] = []
        self.data_order: list[list[Ref]] = []
        self.iteration = 0
        self._state_digest = b""
        self._pending: list[tuple[Ref, bytes]] = []  # the current segment's batch records and bytes
        self._batch: Tensors | None = None

    @property
    def interval(self) -> int:
        return self.contract["interval"]

    def start(self, data_order: Sequence[Sequence[Ref]], global_ref: Ref | None = None) -> Ref:
        """Record the run (contract, environment, committed data order, M_O if any) and put the
        contract's initial state into the user's model, optimizer, scheduler and RNGs."""
        if self.run_ref is not None:
            raise RecordError("this recorder already started a run")
        if not data_order:
            raise RecordError("the data order needs at least one batch")
        global_model = None
        if global_ref is not None:  # M_O checked by Protocol 1, as the MLP recorder does
            record = self.ledger.fetch(global_ref.tx_id)
            if record.body["kind"] != "pipeline-round" or record.chain_id != self.ledger.main_chain_id:
                raise RecordError("M_O must be a pipeline-round record of the main chain")
            if record.obj is None or record.obj.digest != global_ref.digest:
                raise RecordError("the round record names another model than the one offered")
            self.ledger.verify(global_ref.tx_id, self.chain_id)
            global_model = load_tensors(self.ledger, global_ref.digest)[1]
        state = self.initial_state(global_model)
        try:
            torch_state.load_state(torch_state.decode_state(state), self.model, self.optimizer, self.scheduler)
        except ProvenanceError as exc:
            raise RecordError(f"the contract does not rebuild your objects (give model_kwargs and "
                              f"scheduler_kwargs as you constructed them): {exc}") from None
        initial = self.ledger.store(state)
        self.data_order = [list(batch) for batch in data_order]
        order = self.ledger.store(data_order_bytes(self.data_order))
        body = {"kind": "pipeline", "edge": self.chain_id, "contract": self.contract,
                "environment": environment_fingerprint(TRAINER_NAME), "data_order": order.digest.hex(),
                "iterations": len(self.data_order),
                "global": None if global_ref is None else global_ref.tx_id.hex(),
                "global_model": None if global_ref is None else global_ref.digest.hex(),
                "initial_state": initial.digest.hex()}
        self.run_ref = Ref(self.chain_id, self.ledger.submit(self.chain_id, self.submitter, body, order), order)
        self._state_digest = initial.digest
        return self.run_ref

    def initial_state(self, global_model: Tensors | None) -> bytes:
        """The contract's initial state; the edge trusts the code it runs itself."""
        own = [spec["ref"].split(":")[0] for spec in (self.contract[part] for part in ("step", "model", "optimizer",
                                                                                      "scheduler")) if spec]
        return initial_state(self.contract, global_model, [*_TRUSTED, *own])

    @contextlib.contextmanager
    def run(self, data_order: Sequence[Sequence[Ref]], global_ref: Ref | None = None) -> Iterator["PipelineRecorder"]:
        """start(); the body trains; on a clean exit every committed iteration must be done."""
        self.start(data_order, global_ref)
        yield self
        if self.iteration != len(self.data_order):
            raise RecordError(f"the run commits {len(self.data_order)} iterations; {self.iteration} were trained")

    def batch(self, readings: Sequence[Ref]) -> dict[str, "torch.Tensor"]:
        """Record the next iteration's batch d_i from recorded readings (the committed ones);
        returns it as torch tensors x (n x 64, uint8) and y (n, int64)."""
        if self.run_ref is None:
            raise RecordError("start the run before recording batches")
        if self._batch is not None:
            raise RecordError("call done() after training on the previous batch")
        index = self.iteration + 1
        if index > len(self.data_order) or list(readings) != self.data_order[index - 1]:
            raise RecordError(f"batch {index} must hold the committed data order's readings")
        tensors = batch_from_readings([self.ledger.load(ref.digest) for ref in readings])
        data = encode_tensors(tensors)
        obj = self.ledger.store(data)
        body = {"kind": "batch", "run": self.run_ref.tx_id.hex(), "index": index,
                "readings": [ref.tx_id.hex() for ref in readings]}
        self._pending.append((Ref(self.chain_id, self.ledger.submit(self.chain_id, self.submitter, body, obj), obj), data))
        self._batch = tensors
        return torch_batch(tensors)

    def step(self) -> Any:
        """Run the contract's step function on the current batch (instead of calling it), then done()."""
        if self._batch is None:
            raise RecordError("record a batch before stepping")
        result = self.step_function(self.model, self.optimizer, self.scheduler, torch_batch(self._batch),
                                    self.hyperparameters)
        self.done()
        return result

    def done(self) -> Ref | None:
        """The user's step on the current batch is done; after every `interval` iterations (and
        the run's last) record a segment with the whole state. Returns it, or None."""
        if self._batch is None:
            raise RecordError("record a batch before calling done()")
        self.iteration += 1
        self._batch = None
        if self.iteration % self.interval and self.iteration != len(self.data_order):
            return None
        state = torch_state.encode_state(torch_state.capture_state(self.model, self.optimizer, self.scheduler))
        obj = self.ledger.store(state)
        index = len(self.segments) + 1
        body = {"kind": "segment", "run": self.run_ref.tx_id.hex(), "index": index,  # type: ignore[union-attr]
                "batches": [ref.tx_id.hex() for ref, _ in self._pending],
                "batch_digests": [ref.digest.hex() for ref, _ in self._pending],
                "state_in": self._state_digest.hex(),
                "tx_hash": segment_digest(state, [data for _, data in self._pending], index).hex()}
        ref = Ref(self.chain_id, self.ledger.submit(self.chain_id, self.submitter, body, obj), obj)
        self.segments.append(ref)
        self._state_digest, self._pending = obj.digest, []
        return ref

    def manifest(self) -> RunManifest:
        """Where the run's records are: the run and its segments (in order)."""
        if self.run_ref is None:
            raise RecordError("no run started")
        return RunManifest(self.chain_id, self.run_ref.tx_id, tuple(ref.tx_id for ref in self.segments))

    def final_model(self) -> Tensors:
        """The model tensors of the last recorded state (what a round averages)."""
        return {k: v.detach().numpy().copy() for k, v in self.model.state_dict().items()}


class PipelineCloud:
    """Records a federation of pipelines' rounds on the main chain: round 0 the seeded model
    of a model class, round r the FedAvg of the last segments of the runs trained from r-1."""

    def __init__(self, ledger: ProvenanceLedger, submitter: str) -> None:
        self.ledger, self.submitter = ledger, submitter
        self.rounds: list[Ref] = []

    def _submit(self, body: dict, model: bytes) -> Ref:
        obj = self.ledger.store(model)
        chain = self.ledger.main_chain_id
        ref = Ref(chain, self.ledger.submit(chain, self.submitter, body, obj), obj)
        self.ledger.flush()  # type: ignore[attr-defined]  # the clients are handed a committed round
        self.rounds.append(ref)
        return ref

    def record_initial(self, model_class: type, seed: int = 0, model_kwargs: dict | None = None) -> Ref:
        spec = {**code_ref(model_class), "kwargs": plain(model_kwargs or {})}
        model = initial_model(spec, seed, trusted=[model_class.__module__])
        return self._submit({"kind": "pipeline-round", "round": 0, "model": spec, "seed": seed,
                             "tx_hash": round_digest(model, [], [], 0).hex()}, model)

    def _lookup(self, tx_hex: str, kind: str) -> tuple[str, dict, bytes]:
        record = self.ledger.fetch(bytes.fromhex(tx_hex))
        if record.body["kind"] != kind or record.obj is None:
            raise RecordError(f"{tx_hex[:12]} is a {record.body['kind']} record, not a {kind} with an object")
        return record.chain_id, record.body, record.obj.digest

    def _order(self, run_hex: str) -> list[list[str]]:
        _, run, digest = self._lookup(run_hex, "pipeline")
        return decode_data_order(self.ledger.load(digest), run["iterations"])

    def round_body(self, segments: Sequence[Ref], refused: list[str] | None = None) -> dict:
        """The next round's record body over `segments`, each weighted by the distinct readings its
        run trained on (from the ledger, not from what a client claims), checked by the rules the
        main chain's peers apply (check_round_inputs): RecordError for an input they refuse,
        or, with a `refused` list, the input left out and the reason appended."""
        return self._round_body(segments, refused)[0]

    def _round_body(self, segments: Sequence[Ref], refused: list[str] | None) -> tuple[dict, list[bytes]]:
        """round_body and its kept inputs' model bytes (check_round_inputs's), in order."""
        if not self.rounds or not segments:
            raise RecordError("record the initial round first, and give at least one segment")
        locals_ = []
        for ref in segments:
            try:
                _, segment, digest = self._lookup(ref.tx_id.hex(), "segment")
                model = torch_state.model_bytes(self.ledger.load(digest))
                locals_.append({"tx": ref.tx_id.hex(), "model": sha256(model).hex(),
                                "weight": round_weight(self._order(segment["run"]),
                                                       lambda tx: self._lookup(tx, "reading")[2])})
            except LedgerError as exc:
                if refused is None:
                    raise
                refused.append(str(exc))
        body = {"kind": "pipeline-round", "round": len(self.rounds), "previous": self.rounds[-1].tx_id.hex(),
                "locals": locals_}
        return body, check_round_inputs(body, self._lookup, self._order, self.ledger.load, refused)

    def record_round(self, segments: Sequence[Ref], weights: Sequence[int] | None = None,
                     refused: list[str] | None = None) -> Ref:
        """FedAvg of the runs' last segments (each checked by Protocol 1), weighted by their
        runs' readings; `weights`, if given, must be those. With a `refused` list, inputs the
        main chain's peers would refuse are left out (reasons appended) instead of raising."""
        body, models = self._round_body(segments, refused)
        if not body["locals"]:
            raise RecordError("no input of the round can be averaged")
        if weights is not None and [int(w) for w in weights] != [entry["weight"] for entry in body["locals"]]:
            raise RecordError(f"weights {list(weights)[:8]} are not the distinct readings the runs trained on")
        for entry in body["locals"]:
            self.ledger.verify(bytes.fromhex(entry["tx"]), self.ledger.main_chain_id)
        weights = [entry["weight"] for entry in body["locals"]]
        averaged = encode_tensors(fedavg([decode_tensors(m)[0] for m in models], weights))
        body["tx_hash"] = round_digest(averaged, models, weights, body["round"]).hex()
        return self._submit(body, averaged)


# --- the audit -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _CoveredPipeline:
    """A pipeline run an audit covers: its manifest and its checked run record."""

    manifest: RunManifest
    record: FetchedRecord


class PipelineAuditor(Auditor):
    """Audits a pipeline run: its contract (importable from `trusted_code`, source digests,
    deterministic settings), its initial state, M_O (the round it trains from: its FedAvg, and
    every input the last segment that the manifest of an audited run lists, so that auditing
    those runs covers what the round averaged), and a sample of its segments, each replayed
    from its starting checkpoint over its k batches. Every record is checked by Protocol 1 from
    the auditor's chain; whatever the records hold, the report is PASS or FAIL with reasons."""

    def __init__(self, ledger: ProvenanceLedger, trust: TrustStore, verifier_chain: str,
                 trusted_code: Iterable[str] | None = None) -> None:
        super().__init__(ledger, trust, verifier_chain)
        self.trusted = set(_TRUSTED if trusted_code is None else trusted_code)

    def _lookup(self, tx_hex: str, kind: str) -> tuple[str, dict, bytes]:
        record = self._record(bytes.fromhex(tx_hex), kind)
        return record.chain_id, record.body, record.obj.digest if record.obj else b""

    def _load(self, digest: bytes) -> bytes:
        return self._object(digest, f"object {digest.hex()[:12]}")

    def _weighed_reading(self, tx_hex: str) -> tuple[str, bytes]:
        """A reading a round's weight counts: its record by Protocol 1, its device's signature
        (Auditor._reading_ref)."""
        self._record(bytes.fromhex(tx_hex), "reading")
        return self._reading_ref(tx_hex)

    def _order(self, run: FetchedRecord) -> list[list[str]]:
        if run.obj is None or run.obj.digest.hex() != run.body["data_order"]:
            raise _Failed("the run record's object is not the data order it commits to")
        return decode_data_order(self._load(run.obj.digest), run.body["iterations"])

    def audit(self, manifest: RunManifest, *, count: int | None = None, fraction: float | None = None,
              seed: int | None = None, federation: Iterable[RunManifest] = ()) -> AuditReport:
        """Audit a sample of the run's segments (`count` or `fraction`; `seed` None draws a
        fresh one, the report's seed reproduces the sample). `federation`: the manifests of
        the runs the round this run trains from averages (the previous round's runs)."""
        started = time.perf_counter()
        seed = fresh_seed() if seed is None else seed
        check_sample_request(count, fraction, seed)
        report = AuditReport(getattr(manifest, "chain_id", "?"), "exact, segments replayed", 0, [], [], 0.0, seed=seed)
        try:
            run, order = self._open_pipeline(manifest, federation)
        except Exception as exc:
            report.run_failures.append(_reason(exc))
            report.seconds = time.perf_counter() - started
            return report
        report.total_steps = len(manifest.step_txs)
        sampled = sample_steps(report.total_steps, count=count, fraction=fraction, seed=seed)
        protocol1_started = time.perf_counter()
        self._verify_segments_in_batch(manifest, sampled)
        report.protocol1_seconds = time.perf_counter() - protocol1_started
        for index in sampled:
            verdict = StepVerdict(index)
            segment_started = time.perf_counter()
            try:
                self._audit_segment(manifest, run, order, index)
            except Exception as exc:
                verdict.failures.append(_reason(exc))
            verdict.seconds = time.perf_counter() - segment_started
            report.verdicts.append(verdict)
        report.environment_notes = environment_differences(run.body["environment"], environment_fingerprint(TRAINER_NAME))
        report.seconds = time.perf_counter() - started
        return report

    def _verify_segments_in_batch(self, manifest: RunManifest, sampled: list[int]) -> None:
        """Protocol 1 for every record the sampled segments name (segments, batches, readings)
        in one pass sharing the witness work; a name read here is only used after its record
        is checked (in _record), and one that cannot be read is checked on its own there."""
        wanted: set[bytes] = set()
        body = self._peeker(wanted)
        for index in sampled:
            wanted.update(manifest.step_txs[max(index - 2, 0):index - 1])
            for batch_tx in body(manifest.step_txs[index - 1], "segment").get("batches", []):
                wanted.update(bytes.fromhex(tx) for tx in body(bytes.fromhex(batch_tx), "batch").get("readings", []))
        self._verify_wanted(wanted)

    def _covered_run(self, manifest: RunManifest) -> _CoveredPipeline:
        """The run record a manifest names, which lists each of the run's segments once."""
        run = self._run_record(manifest, "pipeline")
        expected = segment_count(run.body["iterations"], run.body["contract"]["interval"])
        if len(manifest.step_txs) != expected or len(set(manifest.step_txs)) != expected:
            raise _Failed(f"the run has {expected} segments; the manifest lists {len(manifest.step_txs)} distinct ones")
        return _CoveredPipeline(manifest, run)

    def _check_inputs_covered(self, round_body: dict, covered: dict[bytes, _CoveredPipeline]) -> None:
        """Every input of a round is the last segment its run's covered manifest lists: a
        second "last segment" an edge recorded beside its listed ones is not audited by
        auditing that run (check_round has already checked each input's index)."""
        for entry in round_body.get("locals", ()):  # round 0 averages nothing
            segment = self._record(bytes.fromhex(entry["tx"]), "segment")
            run = covered.get(bytes.fromhex(segment.body["run"]))
            if run is None or segment.chain_id != run.manifest.chain_id:
                raise _Failed(f"round {round_body['round']}: input {entry['tx'][:12]} is a segment of run "
                              f"{segment.body['run'][:12]} on {segment.chain_id}, which is not one of the audited runs")
            if run.manifest.step_txs[-1] != segment.tx_id:
                raise _Failed(f"round {round_body['round']}: input {entry['tx'][:12]} is not the last segment the "
                              f"manifest of run {segment.body['run'][:12]} lists")

    def _open_pipeline(self, manifest: RunManifest, federation: Iterable[RunManifest]
                       ) -> tuple[FetchedRecord, list[list[str]]]:
        """The run record and what it commits to: contract, segment count, M_O and the runs
        it averages (covered by `federation`), initial state."""
        audited = self._covered_run(manifest)
        run, body = audited.record, audited.record.body
        covered = {manifest.run_tx: audited}
        cover(federation, covered, self._covered_run)
        global_model = None
        if body["global"] is not None:
            round_record = self._record(bytes.fromhex(body["global"]), "pipeline-round", self.ledger.main_chain_id)
            if round_record.obj is None or round_record.obj.digest.hex() != body["global_model"]:
                raise _Failed("M_O named by the run is not the model of its round record")
            model = self._load(round_record.obj.digest)
            check_round(round_record.body, model, self._lookup, lambda tx: self._order(self._record(bytes.fromhex(tx), "pipeline")),
                        self._load, self.trusted, main_chain=self.ledger.main_chain_id, reading=self._weighed_reading)
            self._check_inputs_covered(round_record.body, covered)
            global_model = load_tensors(self, round_record.obj.digest)[1]
        elif body["global_model"] is not None:
            raise _Failed("the run names M_O's model but no round")
        check_initial(body, global_model, self._load(bytes.fromhex(body["initial_state"])), self.trusted)
        return run, self._order(run)

    def load(self, digest: bytes) -> bytes:  # load_tensors' ledger interface
        return self._load(digest)

    def _audit_segment(self, manifest: RunManifest, run: FetchedRecord, order: list[list[str]], index: int) -> None:
        segment = self._record(manifest.step_txs[index - 1], "segment", manifest.chain_id)
        body = segment.body
        if body["run"] != run.tx_id.hex() or body["index"] != index:
            raise _Failed(f"the record is segment {body['index']} of run {body['run'][:12]}, not segment {index} of this run")
        if index == 1:
            expected_in = run.body["initial_state"]
        else:
            previous = self._record(manifest.step_txs[index - 2], "segment", manifest.chain_id)
            if previous.body["run"] != body["run"] or previous.body["index"] != index - 1 or previous.obj is None:
                raise _Failed(f"the manifest's segment {index - 1} is not a recorded segment {index - 1} of this run")
            expected_in = previous.obj.digest.hex()
        state_in, batches = check_segment(body, run.body, manifest.chain_id, order, self._lookup, self._load,
                                          lambda tx: self._reading(bytes.fromhex(tx), manifest.chain_id), expected_in)
        if segment.obj is None:
            raise _Failed("the segment record names no state")
        check_segment_output(body, run.body["contract"], state_in, batches, self._load(segment.obj.digest), self.trusted)
