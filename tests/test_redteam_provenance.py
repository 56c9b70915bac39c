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
