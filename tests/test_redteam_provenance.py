"""Red-team variants of issue 9's provenance classes (points 7-9): what the endorsing peers
refuse, and what the audit fails, beyond test_provenance_attacks.py."""
import pytest

from ledger.provenance import Device, NetworkLedger
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

from ledger.provenance import Auditor, fedavg  # noqa: E402

from provenance_helpers import EDGES, HP, MAIN, ROUNDS, STEPS, WEIGHT, Federation, honest  # noqa: E402


def _weighted_round(fed, weights):
    """A cloud that records a correct FedAvg of the right inputs under weights of its choice
    (one edge drowned out: weight 2^53 against 1)."""
    fed.aggregate(honest(fed.edges), weights)


BAD_WEIGHTS = [[1 << 53, 1], [WEIGHT, WEIGHT + 1], [1, 1]]


@pytest.mark.parametrize("weights", BAD_WEIGHTS, ids=["drowned", "off by one", "unit"])
def test_fedavg_weights_other_than_the_rounds_readings_are_refused(net, digits, weights):
    fed = Federation.start(net, digits)
    fed.train_round()
    before = net.peer(MAIN).height
    with pytest.raises(EndorsementRefused, match="trained on 8 distinct readings"):
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


# --- 13. every public provenance entry point: hostile arguments raise only ledger errors --------

import re  # noqa: E402

import edgeacc  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import ledger  # noqa: E402
from ledger.errors import LedgerError  # noqa: E402
from ledger.provenance import CloudRecorder, EdgeRecorder, Hyperparameters, NumpyMLPTrainer  # noqa: E402
from ledger.provenance.audit import sample_steps  # noqa: E402
from ledger.provenance.devices import SignedReading, check_reading_record, decode_reading, verify_reading  # noqa: E402
from ledger.provenance.records import RunManifest, decode_body, decode_data_order, validate_body  # noqa: E402
from ledger.provenance.trainers import trainer_for  # noqa: E402

_HOSTILE = [None, 5, -1, 2 ** 4100, [2 ** 20000], True, 3.5, float("nan"), "text", "ab" * 32, b"", bytes(32),
            [], {}, object(), ("a",)]
_READING = {"kind": "reading", "device": "s", "device_fp": "00" * 32, "signer_fp": "00" * 32, "delegated": False,
            "signature": "00" * 64}


@pytest.fixture(scope="module")
def prov_net(tmp_path_factory):
    with ledger.Network.init(tmp_path_factory.mktemp("prov") / "net", subchains=1, auto_interlock=False,
                             params=edgeacc.generate_insecure_params(512, seed=7)) as network:
        yield network, NetworkLedger(network)


def _entry_points(net, chain):
    empty = RunManifest("edge-0", bytes(32), ())
    auditor = Auditor(chain, net.trust, "edge-0")
    return {
        "submit chain": lambda a: chain.submit(a, "edge-0.peer0", _READING, None),
        "submit signer": lambda a: chain.submit("edge-0", a, _READING, None),
        "submit body": lambda a: chain.submit("edge-0", "edge-0.peer0", a, None),
        "submit obj": lambda a: chain.submit("edge-0", "edge-0.peer0", _READING, a),
        "fetch": lambda a: chain.fetch(a), "store": lambda a: chain.store(a), "load": lambda a: chain.load(a),
        "verify": lambda a: chain.verify(a, "edge-0"), "verify chain": lambda a: chain.verify(bytes(32), a),
        "verify_many": lambda a: chain.verify_many(a, "edge-0"),
        "verify_many item": lambda a: chain.verify_many([a], "edge-0"),
        "verify_many chain": lambda a: chain.verify_many([bytes(32)], a),
        "audit manifest": lambda a: auditor.audit(a, fraction=1.0),
        "audit chain": lambda a: Auditor(chain, net.trust, a).audit(empty, fraction=1.0),
        "audit trust": lambda a: Auditor(chain, a, "edge-0").audit(empty, fraction=1.0),
        "audit ledger": lambda a: Auditor(a, net.trust, "edge-0").audit(empty, fraction=1.0),
        "audit federation": lambda a: auditor.audit(empty, fraction=1.0, federation=a),
        "audit count": lambda a: auditor.audit(empty, count=a),
        "audit seed": lambda a: auditor.audit(empty, count=1, seed=a),
        "Device": lambda a: Device(a),
        "Device delegate": lambda a: Device(net.identity("s", role="device"), a),
        "verify_reading": lambda a: verify_reading(net.trust, a),
        "verify_reading trust": lambda a: verify_reading(a, None),
        "SignedReading": lambda a: SignedReading("s", a, bytes(32), False, b"", bytes(64)),
        "from_record": lambda a: SignedReading.from_record(a, b""),
        "from_record data": lambda a: SignedReading.from_record(_READING, a),
        "check_reading_record": lambda a: check_reading_record(net.trust, _READING, b"", a),
        "decode_reading": decode_reading,
        "sample_steps": lambda a: sample_steps(a, count=1),
        "sample_steps fraction": lambda a: sample_steps(5, fraction=a),
        "decode_body": decode_body, "decode_body kind": lambda a: decode_body(b"{}", a),
        "validate_body": validate_body, "validate_body kind": lambda a: validate_body({"kind": "run"}, a),
        "RunManifest chain": lambda a: RunManifest(a, bytes(32), ()),
        "RunManifest run": lambda a: RunManifest("edge-0", a, ()),
        "RunManifest steps": lambda a: RunManifest("edge-0", bytes(32), a),
        "decode_data_order": lambda a: decode_data_order(a, 1),
        "decode_data_order steps": lambda a: decode_data_order(b"[]", a),
        "EdgeRecorder": lambda a: EdgeRecorder(chain, a, "edge-0.peer0", NumpyMLPTrainer(Hyperparameters()), net.trust),
        "record_aggregation": lambda a: CloudRecorder(chain, "main", "main.peer0").record_aggregation(a, [1], {}),
        "Hyperparameters": lambda a: Hyperparameters(hidden=a), "from_record hp": Hyperparameters.from_record,
        "fedavg": lambda a: fedavg(a, [1]), "fedavg weights": lambda a: fedavg([{}], a),
        "NetworkLedger": NetworkLedger, "NetworkLedger endorse": lambda a: NetworkLedger(net, endorse=a),
        "NetworkLedger timeout": lambda a: NetworkLedger(net, timeout=a).flush(),
        "trainer_for": lambda a: trainer_for(a, Hyperparameters()),
    }


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_provenance_entry_points_raise_only_ledger_errors(prov_net, data):
    net, chain = prov_net
    calls = _entry_points(net, chain)
    name = data.draw(st.sampled_from(sorted(calls)), label="entry point")
    value = data.draw(st.sampled_from(_HOSTILE), label="argument")
    before = {cid: s.leader.height for cid, s in net.services.items()}
    try:
        calls[name](value)
    except LedgerError as exc:
        assert not re.search(r"\d{100}", str(exc)), str(exc)[:200]
    chain.flush()
    assert {cid: s.leader.height for cid, s in net.services.items()} == before
