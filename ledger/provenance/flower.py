"""Flower federations on the ledger (optional extra `edgeacc[flower]`).

`RecordingStrategy` wraps a Flower Strategy on the server: round 0 is the seeded model of the
contract's model class, recorded on the main chain; every fit round is recorded as a
"pipeline-round" whose inputs are the clients' last recorded segments (their ledger
references come back in the fit metrics), averaged from the ledger's states, not from the
parameters the clients send; the main chain's endorsing peers re-execute that FedAvg before
they sign. The parameters the server hands out next are the recorded model.

`provenance_mod(edge)` is a client Mod: before a client trains it checks that the parameters
the server sent are the main chain's recorded model of the round named in the fit config
(Protocol 1), opens a PipelineRecorder run on the client's edge chain from that model (the
client's fit trains through `edge.recorder`), and after training checks that the parameters
the client returns are its last recorded segment's and adds that segment's reference::

    edge = FlowerEdge(chain, "edge-0", "edge-0.peer0", net.trust, model, make_optimizer,
                      step=train_step, data_order=order, interval=2)
    app = ClientApp(client_fn=lambda context: DigitsClient(edge).to_client(), mods=[provenance_mod(edge)])
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ledger.errors import LedgerError
from ledger.identity import TrustStore
from ledger.provenance import torch_state
from ledger.provenance.encoding import decode_tensors, encode_tensors
from ledger.provenance.errors import RecordError
from ledger.provenance.pipeline import PipelineCloud, PipelineRecorder, round_weight
from ledger.provenance.records import ProvenanceLedger, Ref, RunManifest

try:
    from flwr.app import Message, MessageType
    from flwr.common import Code, FitIns, FitRes, Parameters, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.compat.common.recorddict_compat import recorddict_to_fitins, recorddict_to_fitres, fitres_to_recorddict
    from flwr.server.strategy import Strategy
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("Flower support needs the optional extra: pip install 'edgeacc[flower]'") from exc

GLOBAL_KEY = "edgeacc.global"    # fit config: the round record the parameters are
SEGMENT_KEY = "edgeacc.segment"  # fit metrics: the client's last recorded segment
RUN_KEY = "edgeacc.run"          # fit metrics: the client's run record


def _ref(ledger: ProvenanceLedger, tx_hex: object, kind: str) -> Ref:
    """A Ref to a committed record of `kind` named by a hex id from a Flower message."""
    if not isinstance(tx_hex, str) or len(tx_hex) != 64:
        raise RecordError(f"a Flower message must name a {kind} record by its 32-byte hex id")
    try:
        record = ledger.fetch(bytes.fromhex(tx_hex))
    except ValueError:
        raise RecordError(f"{tx_hex[:16]!r} is not a hex transaction id") from None
    if record.body["kind"] != kind or record.obj is None:
        raise RecordError(f"{tx_hex[:12]} is a {record.body['kind']} record, not a {kind}")
    return Ref(record.chain_id, record.tx_id, record.obj)


def _as_tensors(names: Sequence[str], arrays: Sequence[np.ndarray]) -> bytes:
    if len(names) != len(arrays):
        raise RecordError(f"the parameters hold {len(arrays)} arrays; the model has {len(names)} tensors")
    return encode_tensors({name: np.asarray(array) for name, array in zip(names, arrays)})


class FlowerEdge:
    """A Flower client's edge: its ledger identity, its model, how to make a fresh optimizer
    (and scheduler) each round, the step function and the committed data order of a round."""

    def __init__(self, ledger: ProvenanceLedger, chain_id: str, submitter: str, trust: TrustStore,
                 model: Any, make_optimizer: Callable, *, step: Callable, data_order: Sequence[Sequence[Ref]],
                 make_scheduler: Callable | None = None, scheduler_kwargs: dict | None = None,
                 hyperparameters: dict | None = None, seed: int = 0, interval: int = 1,
                 model_kwargs: dict | None = None) -> None:
        self.ledger, self.chain_id, self.submitter, self.trust = ledger, chain_id, submitter, trust
        self.model, self.make_optimizer, self.make_scheduler = model, make_optimizer, make_scheduler
        self.options = {"step": step, "hyperparameters": hyperparameters, "seed": seed, "interval": interval,
                        "model_kwargs": model_kwargs, "scheduler_kwargs": scheduler_kwargs}
        self.data_order = [list(batch) for batch in data_order]
        self.names = list(model.state_dict())
        self.recorder: PipelineRecorder | None = None
        self.manifests: list[RunManifest] = []
        self.refusals: list[str] = []  # why the Mod refused a fit round

    @property
    def examples(self) -> int:
        digests = {ref.tx_id.hex(): ref.digest for batch in self.data_order for ref in batch}
        return round_weight([[ref.tx_id.hex() for ref in batch] for batch in self.data_order], digests.__getitem__)

    def parameters(self) -> list[np.ndarray]:
        return [value.detach().numpy().copy() for value in self.model.state_dict().values()]

    def open(self, global_ref: Ref) -> PipelineRecorder:
        """A run of this round from M_O: fresh optimizer and scheduler, the model loaded with M_O."""
        optimizer = self.make_optimizer(self.model)
        scheduler = self.make_scheduler(optimizer) if self.make_scheduler else None
        self.recorder = PipelineRecorder(self.ledger, self.chain_id, self.submitter, self.trust, self.model,
                                         optimizer, scheduler, **self.options)
        self.recorder.start(self.data_order, global_ref)
        return self.recorder


def provenance_mod(edge: FlowerEdge) -> Callable[[Message, Any, Callable], Message]:
    """The client Mod recording each local training of `edge` (see the module docstring)."""

    def mod(msg: Message, context: Any, call_next: Callable) -> Message:
        if msg.metadata.message_type != MessageType.TRAIN:
            return call_next(msg, context)
        try:
            return record_fit(msg, context, call_next)
        except LedgerError as exc:  # refused: the server gets a failed fit with the reason
            edge.refusals.append(str(exc))
            refused = FitRes(Status(Code.FIT_NOT_IMPLEMENTED, f"edgeacc refused: {str(exc)[:300]}"),
                             Parameters([], ""), 0, {})
            return msg.create_reply(fitres_to_recorddict(refused, keep_input=False))

    def record_fit(msg: Message, context: Any, call_next: Callable) -> Message:
        fit_ins = recorddict_to_fitins(msg.content, keep_input=True)
        global_ref = _ref(edge.ledger, fit_ins.config.get(GLOBAL_KEY), "pipeline-round")
        if global_ref.chain_id != edge.ledger.main_chain_id:
            raise RecordError("the fit round names a record that is not on the main chain")
        if _as_tensors(edge.names, parameters_to_ndarrays(fit_ins.parameters)) != edge.ledger.load(global_ref.digest):
            raise RecordError("the server sent other parameters than the main chain's model of the round it names")
        with torch_state.REPLAY_LOCK:  # in-process clients train one at a time (torch's RNGs are global)
            recorder = edge.open(global_ref)
            reply = call_next(msg, context)
            if reply.has_error():
                return reply
            if recorder.iteration != len(recorder.data_order):
                raise RecordError(f"the client trained {recorder.iteration} of {len(recorder.data_order)} "
                                  "committed iterations")
        edge.ledger.flush()  # type: ignore[attr-defined]
        fit_res = recorddict_to_fitres(reply.content, keep_input=True)
        last = recorder.segments[-1]
        if _as_tensors(edge.names, parameters_to_ndarrays(fit_res.parameters)) != \
                torch_state.model_bytes(edge.ledger.load(last.digest)):
            raise RecordError("the client returns other parameters than its last recorded segment")
        edge.manifests.append(recorder.manifest())
        fit_res.metrics[SEGMENT_KEY] = last.tx_id.hex()
        fit_res.metrics[RUN_KEY] = recorder.run_ref.tx_id.hex()  # type: ignore[union-attr]
        fit_res.num_examples = edge.examples
        reply.content = fitres_to_recorddict(fit_res, keep_input=True)
        return reply

    return mod


class RecordingStrategy(Strategy):
    """Wraps a Flower Strategy: client selection, evaluation and configuration are the
    wrapped strategy's; the initial model and every round's aggregation are recorded on the
    main chain (PipelineCloud), and the aggregate is the ledger's FedAvg of the clients'
    recorded segments."""

    def __init__(self, strategy: Strategy, cloud: PipelineCloud, model_class: type, *, seed: int = 0,
                 model_kwargs: dict | None = None) -> None:
        self.strategy, self.cloud = strategy, cloud
        self.model_class, self.seed, self.model_kwargs = model_class, seed, model_kwargs or {}
        self.names = list(model_class(**self.model_kwargs).state_dict())
        self.refused: list[str] = []  # why results were left out of a round

    def _parameters(self, ref: Ref) -> Parameters:
        tensors = decode_tensors(self.cloud.ledger.load(ref.digest))[0]
        return ndarrays_to_parameters([tensors[name] for name in self.names])

    def initialize_parameters(self, client_manager: Any) -> Parameters:
        return self._parameters(self.cloud.record_initial(self.model_class, self.seed, self.model_kwargs))

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any) -> list:
        config = self.strategy.configure_fit(server_round, self._parameters(self.cloud.rounds[-1]), client_manager)
        head = self.cloud.rounds[-1].tx_id.hex()
        return [(client, FitIns(ins.parameters, {**ins.config, GLOBAL_KEY: head})) for client, ins in config]

    def aggregate_fit(self, server_round: int, results: list, failures: list) -> tuple[Parameters | None, dict]:
        """The ledger's FedAvg of the results' recorded segments. A result the main chain's
        peers would refuse (no recorded segment, a run not trained from the last round, not
        its run's last segment, an edge already in the round) is left out with its reason in
        `refused`, so one dishonest client cannot sink the round; weights come from the ledger."""
        segments: list[Ref] = []
        for _, fit_res in results:
            try:
                segments.append(_ref(self.cloud.ledger, fit_res.metrics.get(SEGMENT_KEY), "segment"))
            except LedgerError as exc:
                self.refused.append(str(exc))
        try:
            ref = self.cloud.record_round(segments, refused=self.refused)
        except RecordError as exc:  # no input left to average
            self.refused.append(str(exc))
            return None, {}
        return self._parameters(ref), {"edgeacc.round": ref.tx_id.hex()}

    def configure_evaluate(self, server_round: int, parameters: Parameters, client_manager: Any) -> list:
        return self.strategy.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(self, server_round: int, results: list, failures: list) -> tuple:
        return self.strategy.aggregate_evaluate(server_round, results, failures)

    def evaluate(self, server_round: int, parameters: Parameters) -> Any:
        return self.strategy.evaluate(server_round, parameters)
