"""A small federation on the embedded ledger for the provenance attack and fuzz tests: two
edges, three rounds of two local steps, FedAvg on the main chain after each round but the last."""
from __future__ import annotations

import dataclasses

import pytest

import ledger
from ledger.provenance import (Auditor, CloudRecorder, Device, EdgeRecorder, Hyperparameters,
                               NetworkLedger, NumpyMLPTrainer, Ref, fedavg, load_digits_split)
from ledger.provenance.encoding import aggregation_digest, decode_tensors, encode_tensors
from ledger.provenance.records import decode_body

EDGES, MAIN = ("edge-0", "edge-1"), "main"
HP = Hyperparameters(hidden=8, batch_size=4, local_steps=2)
ROUNDS, READINGS = 3, 8
STEPS = ROUNDS * HP.local_steps
WEIGHT = HP.local_steps * HP.batch_size
HP_MODEL = ("w1", "b1", "w2", "b2")


def network(path, params):
    """Two edge sub-chains and the main chain, two peers each, interlocked by hand."""
    return ledger.Network.init(path, subchains=2, peers_per_chain=2, params=params, auto_interlock=False)


# fixtures the provenance test modules import
@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def deployment(path, params, endorse=None):
    with network(path, params) as net:
        if endorse is not None:
            NetworkLedger(net, endorse=endorse)  # the chains' policy, installed at set-up
        yield net


@pytest.fixture
def net(tmp_path, toy):
    yield from deployment(tmp_path / "net", toy)


@pytest.fixture
def lax_net(tmp_path, toy):
    """A deployment whose chains' policy is "signatures": bad records commit, the audit must see them."""
    yield from deployment(tmp_path / "lax", toy, endorse="signatures")


@dataclasses.dataclass
class Federation:
    net: ledger.Network
    chain: NetworkLedger
    cloud: CloudRecorder
    edges: list[EdgeRecorder]

    @classmethod
    def start(cls, net, digits):
        chain, trainer = NetworkLedger(net), NumpyMLPTrainer(HP)
        fed = cls(net, chain, CloudRecorder(chain, MAIN, f"{MAIN}.peer0"),
                  [EdgeRecorder(chain, edge, f"{edge}.peer0", trainer, net.trust) for edge in EDGES])
        pixels, labels, _, _ = digits
        initial, _ = fed.cloud.record_initial(trainer)
        for e, edge in enumerate(fed.edges):
            sensor = Device(net.identity(f"{edge.chain_id}.sensor", role="device", chain_id=edge.chain_id))
            readings = edge.record_readings([sensor.read(pixels[k], int(labels[k]))
                                             for k in range(e * READINGS, (e + 1) * READINGS)])
            order = [readings[(j * HP.batch_size) % READINGS:][:HP.batch_size] for j in range(STEPS)]
            edge.start_run(order, initial, data_order_seed=e)
        return fed

    def train_round(self):
        for edge in self.edges:
            for _ in range(HP.local_steps):
                index = edge.step_index + 1
                batch = edge.record_batch(edge.data_order[index - 1])
                edge.record_step(edge.trainer.step(edge.model, edge.global_model, batch, index))

    def aggregate(self, inputs: list[Ref], weights: list[int] | None = None) -> Ref:
        """A cloud that records FedAvg of exactly `inputs` under `weights` (each WEIGHT by
        default), skipping the honest recorder's checks: the average is right, only what it
        averages (or how it weighs them) is wrong."""
        round_index = len(self.cloud.rounds)
        self.chain.flush()  # the inputs are committed, as the honest recorder's Protocol 1 ensures
        local_bytes = [self.chain.load(ref.digest) for ref in inputs]
        models = [m for m in (decode_tensors(data)[0] for data in local_bytes) if set(m) == set(HP_MODEL)]
        model = fedavg(models, weights or [WEIGHT] * len(models))  # of the inputs that are models at all
        weights = weights or [WEIGHT] * len(inputs)
        data = encode_tensors(model)
        canonical_model = self.chain.store(data)
        body = {"kind": "aggregation", "round": round_index,
                "locals": [{"tx": ref.tx_id.hex(), "model": ref.digest.hex(), "weight": w}
                           for ref, w in zip(inputs, weights)],
                "tx_hash": aggregation_digest(data, local_bytes, weights, round_index).hex()}
        ref = Ref(MAIN, self.chain.submit(MAIN, f"{MAIN}.peer0", body, canonical_model), canonical_model)
        self.cloud.rounds.append(ref)
        self.chain.flush()
        self.net.interlock()
        for edge in self.edges:
            edge.use_global(ref)
        return ref

    def run(self, choose=None, attacked=None):
        """ROUNDS rounds; after each but the last, FedAvg of each edge's last step (as the
        manifests place it), or of choose(edges) in round `attacked`."""
        for round_index in range(1, ROUNDS + 1):
            self.train_round()
            if round_index < ROUNDS:
                self.aggregate((choose if round_index == attacked else honest)(self.edges))
        self.chain.flush()
        self.net.interlock()
        return self

    def manifests(self):
        return [edge.manifest() for edge in self.edges]

    def audit(self, edge=0, federation=None, **kw):
        if "count" not in kw:
            kw.setdefault("fraction", 1.0)
        manifests = self.manifests()
        return Auditor(self.chain, self.net.trust, EDGES[1 - edge]).audit(
            manifests[edge], federation=manifests if federation is None else federation, **kw)


def honest(edges):
    return [edge.steps[-1] for edge in edges]


def main_records(net):
    return [decode_body(tx.payload) for h in range(net.peer(MAIN).height)
            for tx in net.block(MAIN, h).transactions if tx.kind == ledger.TxKind.RECORD]
