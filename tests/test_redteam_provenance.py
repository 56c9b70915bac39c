"""Red-team variants of issue 9's provenance classes (points 7-9): what the endorsing peers
refuse, and what the audit fails, beyond test_provenance_attacks.py."""
import numpy as np
import pytest

from ledger.provenance import Device, NetworkLedger
from ledger.provenance.errors import RecordError
from ledger.provenance.network_ledger import EndorsementRefused

from provenance_helpers import deployment, digits, net  # noqa: F401
from test_ledger_hardening import snapshot


@pytest.fixture
def lax_net(tmp_path, toy):
    yield from deployment(tmp_path / "lax", toy, endorse="signatures")


def _pixels(digits):
    pixels, labels, _, _ = digits
    return pixels[0], int(labels[0])


def _submit_reading(chain, reading, edge="edge-0", submitter="edge-0.peer0"):
    obj = chain.store(reading.data)
    return chain.submit(edge, submitter, reading.record(), obj)


def _forged_readings(net, digits):
    """Readings a dishonest peer submits straight to the ledger (skipping the recorder's own
    check): a device of another edge, a revoked device, a signature by another key."""
    pixels, label = _pixels(digits)
    other = Device(net.identity("edge-1.sensor", role="device", chain_id="edge-1"))
    revoked = Device(net.identity("edge-0.old-sensor", role="device", chain_id="edge-0"))
    net.revoke("edge-0.old-sensor")
    honest = Device(net.identity("edge-0.sensor", role="device", chain_id="edge-0"))
    reading = honest.read(pixels, label)
    from ledger.provenance.devices import SignedReading
    bad_signature = SignedReading(reading.device, reading.device_fingerprint, reading.signer_fingerprint,
                                  False, reading.data, bytes(64))
    return {"another edge's device": other.read(pixels, label), "a revoked device": revoked.read(pixels, label),
            "a bad signature": bad_signature}


@pytest.mark.parametrize("policy", ["signatures", "reexecute"])
def test_peers_refuse_readings_the_audit_would_fail(request, digits, policy):
    target = request.getfixturevalue("lax_net" if policy == "signatures" else "net")
    chain = NetworkLedger(target)
    forged = _forged_readings(target, digits)
    before = snapshot(target)
    for what, reading in forged.items():
        with pytest.raises(EndorsementRefused):
            _submit_reading(chain, reading)
    chain.flush()
    assert snapshot(target) == before
    pixels, label = _pixels(digits)
    honest = Device(target.identity("edge-0.sensor", role="device", chain_id="edge-0"))
    _submit_reading(chain, honest.read(pixels, label))
    chain.flush()  # an honest one still commits


def test_peers_refuse_records_not_written_by_a_peer_of_the_chain(lax_net, digits):
    chain = NetworkLedger(lax_net)
    pixels, label = _pixels(digits)
    reading = Device(lax_net.identity("edge-0.sensor", role="device", chain_id="edge-0")).read(pixels, label)
    before = snapshot(lax_net)
    for submitter in ("client", "edge-1.peer0", "main.peer0"):
        with pytest.raises(EndorsementRefused, match="not submitted by a peer of edge-0"):
            _submit_reading(chain, reading, submitter=submitter)
    assert snapshot(lax_net) == before


# --- 8. a FedAvg weight is bound to the readings its run trained on in the round ----------------

from ledger.provenance import Auditor, Ref, fedavg  # noqa: E402
from ledger.provenance.encoding import aggregation_digest, decode_tensors, encode_tensors  # noqa: E402

from provenance_helpers import EDGES, HP, MAIN, ROUNDS, STEPS, WEIGHT, Federation, honest  # noqa: E402


def _weighted_round(fed, weights):
    """A cloud that records a correct FedAvg of the right inputs under weights of its choice
    (one edge drowned out: weight 2^53 against 1)."""
    inputs = honest(fed.edges)
    round_index = len(fed.cloud.rounds)
    fed.chain.flush()
    local_bytes = [fed.chain.load(ref.digest) for ref in inputs]
    model = fedavg([decode_tensors(data)[0] for data in local_bytes], weights)
    data = encode_tensors(model)
    obj = fed.chain.store(data)
    body = {"kind": "aggregation", "round": round_index,
            "locals": [{"tx": ref.tx_id.hex(), "model": ref.digest.hex(), "weight": w} for ref, w in zip(inputs, weights)],
            "tx_hash": aggregation_digest(data, local_bytes, weights, round_index).hex()}
    ref = Ref(MAIN, fed.chain.submit(MAIN, f"{MAIN}.peer0", body, obj), obj)
    fed.cloud.rounds.append(ref)
    fed.chain.flush()
    fed.net.interlock()
    for edge in fed.edges:
        edge.use_global(ref)


BAD_WEIGHTS = [[1 << 53, 1], [WEIGHT, WEIGHT + 1], [1, 1]]


@pytest.mark.parametrize("weights", BAD_WEIGHTS, ids=["drowned", "off by one", "unit"])
def test_fedavg_weights_other_than_the_rounds_readings_are_refused(net, digits, weights):
    fed = Federation.start(net, digits)
    fed.train_round()
    before = net.peer(MAIN).height
    with pytest.raises(EndorsementRefused, match="trained on 8 readings"):
        _weighted_round(fed, weights)
    fed.chain.flush()
    assert net.peer(MAIN).height == before


def test_fedavg_weights_other_than_the_rounds_readings_fail_the_audit(lax_net, digits):
    fed = Federation.start(lax_net, digits)
    fed.train_round()
    _weighted_round(fed, [1 << 53, 1])
    for round_index in range(2, ROUNDS + 1):
        fed.train_round()
        if round_index < ROUNDS:
            fed.aggregate(honest(fed.edges))
    fed.chain.flush()
    fed.net.interlock()
    trained_from_it = [i for i in range(1, STEPS + 1) if HP.round_of(i) == 1]
    manifests = fed.manifests()
    report = Auditor(fed.chain, lax_net.trust, EDGES[1]).audit(manifests[0], federation=manifests, fraction=1.0)
    assert report.failed_steps == trained_from_it and "readings in the round" in report.summary(), report.summary()
