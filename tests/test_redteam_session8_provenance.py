"""Red team of session 8: certificate validity dates, and the step (non-PyTorch) flow's FedAvg.

1. A certificate signed whatever its validity dates said: an expired or not yet valid client,
   device or peer certificate still signed transactions, readings and endorsements, and the
   CA issued 20-year certificates. A signature now counts only within its certificate's (and
   the CA's) validity, judged at the block's timestamp, which every peer agrees on.
2. The step flow weighed a FedAvg input by every reading its batches listed (repeats too).
3. Two FedAvg records of one round of a model were both accepted.
Red team: a step's M_O was checked for its round number only (a run could switch models); two
runs of one edge (the same readings) could both be averaged in a round; an edge's peer could
sign "delegated" readings for a device bound to no edge (one that reports anywhere).
"""
from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import errors
from ledger.block import SignedHeader
from ledger.chain import now_ms
from ledger import identity
from ledger.identity import CertificateAuthority, Identity, TrustStore, _name
from ledger.provenance import Device
from ledger.provenance.devices import verify_reading
from ledger.provenance.errors import DeviceError

from provenance_helpers import digits, lax_net, net  # noqa: F401 (fixtures)

DAY = datetime.timedelta(days=1)


def dated_identity(ca_key, ca_cert, trust: TrustStore, name: str, role: str, chain_id: str | None,
                   not_before: datetime.datetime, not_after: datetime.datetime) -> Identity:
    """An identity the deployment's CA signed with these validity dates, admitted to `trust`."""
    key = Ed25519PrivateKey.generate()
    cert = (x509.CertificateBuilder().subject_name(_name(name, role, chain_id))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, None))
    trust.add_certificate(cert)
    return Identity(key, cert)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


EXPIRED = (-3 * DAY, -DAY)          # valid from three days ago until yesterday
NOT_YET = (DAY, 3 * DAY)            # valid from tomorrow


def endorsed(message, *signers):
    return tuple(sorted((s.fingerprint, s.sign(message)) for s in signers))


def on(net, name, role, chain_id, dates):
    start, end = dates
    return dated_identity(net._ca.key, net._ca.certificate, net.trust, name, role, chain_id,
                          _now() + start, _now() + end)


@pytest.mark.parametrize("dates", [EXPIRED, NOT_YET], ids=["expired", "not-yet-valid"])
def test_a_client_outside_its_certificates_dates_cannot_sign_a_transaction(net, dates):
    client = on(net, "dated-client", "client", None, dates)
    with pytest.raises(errors.LedgerError, match="not valid at"):
        net.submit("edge-0", b"signed outside its dates", signer=client).result(30)
    assert net.submit("edge-0", b"a valid client's record").result(30)


@pytest.mark.parametrize("dates", [EXPIRED, NOT_YET], ids=["expired", "not-yet-valid"])
def test_a_device_outside_its_certificates_dates_cannot_sign_a_reading(net, digits, dates):
    pixels, labels, _, _ = digits
    sensor = Device(on(net, "dated-sensor", "device", "edge-0", dates))
    reading = sensor.read(pixels[0], int(labels[0]))
    with pytest.raises(DeviceError, match="not valid at"):
        verify_reading(net.trust, reading, "edge-0")


def test_an_expired_peer_certificate_does_not_count_as_an_endorser(net):
    net.submit("edge-0", b"a block to endorse").result(30)
    peer = net.peer("edge-0")
    header = peer.signed_header(peer.height - 1).header
    honest = net.peer("edge-0").identity
    expired = on(net, "edge-0.peer9", "peer", "edge-0", EXPIRED)
    message = header.endorsement_message()
    signed = SignedHeader(header, endorsed(message, honest, expired))
    with pytest.raises(errors.IdentityError, match="not valid at"):
        net.deployment.check_endorsements(signed, at_ms=header.timestamp_ms)


def test_a_signature_counts_at_its_blocks_time_not_at_the_checking_peers_clock(net):
    """A block endorsed while a certificate was valid stays valid after it expired (every
    peer replaying the chain decides alike), and a block dated after the expiry is refused."""
    peer = net.peer("edge-0")
    net.submit("edge-0", b"a block").result(30)
    header = peer.signed_header(peer.height - 1).header
    honest = peer.identity
    # valid from two days ago until one hour after the block's (real) time, then expired
    block_time = datetime.datetime.fromtimestamp(header.timestamp_ms / 1000, datetime.timezone.utc)
    # expired a second before the block (X.509 dates are whole seconds; dated from the clock,
    # "until now" fell after the block whenever a second ticked between commit and issue)
    since = dated_identity(net._ca.key, net._ca.certificate, net.trust, "edge-0.peer8", "peer", "edge-0",
                           block_time - 2 * DAY, block_time - datetime.timedelta(seconds=1))
    expired_later = dated_identity(net._ca.key, net._ca.certificate, net.trust, "edge-0.peer7", "peer", "edge-0",
                                   block_time - 2 * DAY, block_time + datetime.timedelta(hours=1))
    for signer, valid in ((expired_later, True), (since, False)):
        message = header.endorsement_message()
        signed = SignedHeader(header, endorsed(message, honest, signer))
        for at_ms in (header.timestamp_ms, None):  # replay and live judge validity alike
            if valid:
                net.deployment.check_endorsements(signed, at_ms=at_ms)
            else:
                with pytest.raises(errors.IdentityError, match="not valid at"):
                    net.deployment.check_endorsements(signed, at_ms=at_ms)
    # the same key judged at a block time after its expiry
    trust = net.trust
    late = now_ms() + 2 * 3600 * 1000
    with pytest.raises(errors.IdentityError, match="not valid at"):
        trust.resolve(expired_later.fingerprint, roles=("peer",), valid_at_ms=late)


def test_issued_certificates_have_bounded_lifetimes_and_never_outlive_the_ca():
    ca = CertificateAuthority.create()
    member = ca.issue("edge-0.peer0", "peer", "edge-0").certificate
    lifetime = member.not_valid_after_utc - member.not_valid_before_utc
    assert lifetime <= datetime.timedelta(days=identity.DEFAULT_MEMBER_DAYS, minutes=10)
    assert ca.certificate.not_valid_after_utc - ca.certificate.not_valid_before_utc <= datetime.timedelta(days=3660)
    short = CertificateAuthority.create(lifetime_days=30)
    device = short.issue("sensor", "device", lifetime_days=400).certificate
    assert device.not_valid_after_utc <= short.certificate.not_valid_after_utc
    assert ca.issue("c", "client", lifetime_days=7).certificate.not_valid_after_utc <= _now() + 7 * DAY
    for bad in (0, -1, "365", 10 ** 9):
        with pytest.raises(errors.LedgerError):
            ca.issue("c", "client", lifetime_days=bad)


def test_the_cas_own_dates_bound_every_certificate_it_signed(net):
    """A member certificate dated beyond the CA's expiry signs only until the CA expires."""
    trust = net.trust
    ca_until = net._ca.certificate.not_valid_after_utc
    long = dated_identity(net._ca.key, net._ca.certificate, trust, "long-client", "client", None,
                          _now() - DAY, ca_until + 400 * DAY)
    trust.resolve(long.fingerprint)
    with pytest.raises(errors.IdentityError, match="not valid at"):
        trust.resolve(long.fingerprint, valid_at_ms=int((ca_until + DAY).timestamp() * 1000))


def test_the_audit_judges_each_signature_at_its_blocks_time(net, digits, monkeypatch):
    """Audited after every certificate of the run expired, an honest run still passes: the
    readings and records count at the timestamps of their blocks, not at the auditor's clock."""
    import ledger.identity as identity_module
    from test_provenance_ledger import audit, collect, train

    run = train(collect(net, digits))
    assert audit(run).passed
    later = _now() + 2 * 365 * DAY
    monkeypatch.setattr(identity_module, "_now", lambda: later)
    with pytest.raises(errors.IdentityError, match="not valid at"):
        net.trust.resolve(net.identity("sensor-0").fingerprint)  # expired by now
    report = audit(run)
    assert report.passed, report.summary()


def test_a_reading_recorded_while_its_device_was_expired_fails_the_audit(net, digits, monkeypatch):
    """A dishonest edge records an expired device's readings and lax endorsers let them in:
    the audit judges the device certificate at the reading's block time and fails the run."""
    import ledger.provenance.network_ledger as network_ledger
    import ledger.provenance.recorder as recorder
    from test_provenance_ledger import audit, collect, train

    net._identities["sensor-0"] = on(net, "sensor-0", "device", None, EXPIRED)
    monkeypatch.setattr(recorder, "verify_reading", lambda *a, **k: None)
    monkeypatch.setattr(network_ledger, "check_reading_record", lambda *a, **k: None)
    run = train(collect(net, digits))
    monkeypatch.undo()
    report = audit(run)
    assert not report.passed
    assert "not valid at" in report.summary(), report.summary()


# --- 2 and 3: the step flow's FedAvg weights and rounds --------------------------------------
#
# A round's weight counted every listed reading (a run listing one reading in every batch
# outweighed an edge with distinct ones), and two FedAvg records of one round were both
# accepted: a cloud could show each edge another version of the round.


def repeated_run(net, digits, endorse_mode=None):
    """A run of edge-0 whose every batch is the same 8 readings (8 distinct, 24 listed a round)."""
    from test_provenance_ledger import STEPS, collect

    run = collect(net, digits, endorse_mode=endorse_mode)
    run.order = [run.readings[:8]] * STEPS
    return run


def train_with(run, aggregate):
    """Both rounds of test_provenance_ledger.train; aggregate(run) records round 1's FedAvg."""
    from test_provenance_ledger import HP

    trainer = run.edge.trainer
    initial, _ = run.cloud.record_initial(trainer)
    run.edge.start_run(run.order, initial, data_order_seed=0)
    for index, readings in enumerate(run.order, start=1):
        if index > 1 and HP.starts_round(index):
            run.edge.use_global(aggregate(run))
        batch = run.edge.record_batch(readings)
        run.edge.record_step(trainer.step(run.edge.model, run.edge.global_model, batch, index))
    run.chain.flush()
    run.net.interlock()
    return run


def forged_aggregation(run, weight):
    """Round 1 over the edge's last step with `weight`, submitted as the cloud's peer would
    (its recorder refuses a weight the ledger does not give)."""
    from ledger.provenance import fedavg
    from ledger.provenance.encoding import aggregation_digest, encode_tensors
    from ledger.provenance.records import Ref

    step = run.edge.steps[-1]
    local = run.chain.load(step.digest)
    model = encode_tensors(fedavg([run.edge.model], [weight]))
    obj = run.chain.store(model)
    body = {"kind": "aggregation", "round": len(run.cloud.rounds),
            "locals": [{"tx": step.tx_id.hex(), "model": step.digest.hex(), "weight": weight}],
            "tx_hash": aggregation_digest(model, [local], [weight], len(run.cloud.rounds)).hex()}
    ref = Ref("main", run.chain.submit("main", "main.peer0", body, obj), obj)
    run.cloud.rounds.append(ref)
    run.chain.flush()
    return ref


def test_repeated_readings_weigh_once_in_a_step_flow_round(net, digits):
    """The cloud recorder takes the weight from the ledger (8 distinct readings, not 24
    listed) and refuses the listed count; the peers refuse a record that claims it."""
    from ledger.provenance import ProvenanceError
    from test_provenance_ledger import audit

    def honest(run):
        assert run.cloud.round_weights([run.edge.steps[-1]]) == [8]
        with pytest.raises(ProvenanceError, match="distinct readings"):
            run.cloud.record_aggregation([run.edge.steps[-1]], [24])
        with pytest.raises(ProvenanceError, match="distinct readings"):
            forged_aggregation(run, 24)
        return run.cloud.record_aggregation([run.edge.steps[-1]])

    report = audit(train_with(repeated_run(net, digits), honest))
    assert report.passed, report.summary()


def test_a_round_weighted_by_listed_readings_fails_the_audit(lax_net, digits):
    from test_provenance_ledger import audit

    run = train_with(repeated_run(lax_net, digits), lambda run: forged_aggregation(run, 24))
    report = audit(run)
    assert not report.passed
    assert "distinct readings" in report.summary(), report.summary()


def test_a_second_version_of_a_round_is_refused(net, digits):
    """Round 1 over both edges is recorded; a version over edge-0 alone (valid on its own) is
    refused by the main chain's peers; the same body again (a retry) is the same round."""
    from ledger.provenance import EndorsementRefused
    from provenance_helpers import Federation, MAIN, honest

    fed = Federation.start(net, digits)
    fed.train_round()
    first = fed.aggregate(honest(fed.edges))
    fed.cloud.rounds.pop()
    with pytest.raises(EndorsementRefused, match="one aggregation per round"):
        fed.aggregate(honest(fed.edges)[:1])
    before = net.peer(MAIN).height
    retry = fed.aggregate(honest(fed.edges))  # the first body again, in a new transaction
    assert retry.tx_id != first.tx_id and retry.digest == first.digest and net.peer(MAIN).height > before


@pytest.mark.parametrize("trains_from", ["both edges", "edge-0 alone"])
def test_two_versions_of_a_round_fail_the_audit(lax_net, digits, trains_from):
    """On a chain whose peers only check signatures both versions commit: whichever one the
    edges train from, the audit fails the round."""
    from provenance_helpers import Federation, honest

    fed = Federation.start(lax_net, digits)
    fed.train_round()
    first = fed.aggregate(honest(fed.edges))
    fed.cloud.rounds.pop()
    second = fed.aggregate(honest(fed.edges)[:1])
    if trains_from == "both edges":
        for edge in fed.edges:
            edge.use_global(first)
        fed.cloud.rounds[-1:] = [first]
    fed.train_round()
    fed.aggregate(honest(fed.edges))  # round 2, then round 3's steps: the whole run
    fed.train_round()
    fed.chain.flush()
    lax_net.interlock()
    assert second != first
    report = fed.audit(0, federation=fed.manifests())
    assert not report.passed
    assert "second FedAvg record of the round" in report.summary(), report.summary()


# --- red team: a run switching models between steps ---------------------------------------
#
# A step's M_O was checked for its round number only: a run could train from another round-0
# record than its own initial model, or switch to another federation's round, and the audit
# passed (the steps re-execute from the recorded M_O either way).


def switched_run(net, digits):
    """Round 0 of edge-0's run trains from another round-0 record (the same seed: even the
    same model bytes) than the initial model its run record names."""
    from test_provenance_ledger import collect

    from test_provenance_ledger import HP

    run = collect(net, digits)
    run.order = run.order[:HP.local_steps]  # one round
    trainer = run.edge.trainer
    initial, _ = run.cloud.record_initial(trainer)
    other, _ = run.cloud.record_initial(trainer)
    run.edge.start_run(run.order, initial, data_order_seed=0)
    run.edge.use_global(other)
    return run


def test_a_step_that_trains_from_another_model_than_its_runs_is_refused(net, digits):
    from ledger.provenance import EndorsementRefused

    run = switched_run(net, digits)
    batch = run.edge.record_batch(run.order[0])
    with pytest.raises(EndorsementRefused, match="M_O is not the run's initial model"):
        run.edge.record_step(run.edge.trainer.step(run.edge.model, run.edge.global_model, batch, 1))


def test_a_run_that_switches_models_fails_the_audit(lax_net, digits):
    from test_provenance_ledger import HP, audit

    run = switched_run(lax_net, digits)
    for index in range(1, HP.local_steps + 1):
        batch = run.edge.record_batch(run.order[index - 1])
        run.edge.record_step(run.edge.trainer.step(run.edge.model, run.edge.global_model, batch, index))
    run.chain.flush()
    run.net.interlock()
    report = audit(run)
    assert not report.passed
    assert "M_O is not the run's initial model" in report.summary(), report.summary()


# --- red team: one edge weighed twice in a round, and readings made up by an edge's peer ------


def two_runs_of_one_edge(net, digits):
    """Two runs of edge-0 over the same readings, both trained through round 0."""
    from ledger.provenance import EdgeRecorder
    from test_provenance_ledger import EDGE, HP, collect

    run = collect(net, digits)
    run.order = run.order[:HP.local_steps + 1]  # round 0 and the first step of round 1
    second = EdgeRecorder(run.chain, EDGE, f"{EDGE}.peer0", run.edge.trainer, net.trust)
    initial, _ = run.cloud.record_initial(run.edge.trainer)
    for edge in (run.edge, second):
        edge.start_run(run.order, initial, data_order_seed=0)
        for index in range(1, HP.local_steps + 1):
            batch = edge.record_batch(run.order[index - 1])
            edge.record_step(edge.trainer.step(edge.model, edge.global_model, batch, index))
    return run, second


def both_in_one_round(run, second):
    """Round 1 over both runs' last steps, each weighted by its 24 distinct readings."""
    from ledger.provenance import fedavg

    return run.cloud.record_aggregation([run.edge.steps[-1], second.steps[-1]], [24, 24],
                                        fedavg([run.edge.model, second.model], [24, 24]))


def test_two_runs_of_one_edge_are_not_averaged_in_one_round(net, digits):
    from ledger.provenance import EndorsementRefused

    run, second = two_runs_of_one_edge(net, digits)
    with pytest.raises(EndorsementRefused, match="edge-0 is averaged twice in the round"):
        both_in_one_round(run, second)


def test_two_runs_of_one_edge_averaged_in_one_round_fail_the_audit(lax_net, digits):
    from ledger.provenance import Auditor
    from test_provenance_ledger import HP, OTHER_EDGE

    run, second = two_runs_of_one_edge(lax_net, digits)
    aggregated = both_in_one_round(run, second)
    index = HP.local_steps + 1
    for edge in (run.edge, second):
        edge.use_global(aggregated)
        batch = edge.record_batch(run.order[index - 1])
        edge.record_step(edge.trainer.step(edge.model, edge.global_model, batch, index))
    run.chain.flush()
    lax_net.interlock()
    manifests = [run.edge.manifest(), second.manifest()]
    report = Auditor(run.chain, lax_net.trust, OTHER_EDGE).audit(manifests[0], fraction=1.0, federation=manifests)
    assert not report.passed
    assert "averaged twice" in report.summary(), report.summary()


def test_a_peer_cannot_sign_readings_for_a_device_bound_to_no_edge(net, digits):
    """An unbound device reports to any edge: a "delegated" reading of it that an edge's peer
    signed would be data that peer made up in the device's name."""
    import dataclasses

    pixels, labels, _, _ = digits
    device = net.identity("roaming-sensor", role="device")
    peer = net.identity("edge-0.peer1")
    reading = Device(device).read(pixels[0], int(labels[0]))
    made_up = dataclasses.replace(reading, delegated=True, signer_fingerprint=peer.fingerprint,
                                  signature=peer.sign(b"edgeacc/provenance/reading/v1\x00" + reading.data))
    with pytest.raises(DeviceError, match="bound to no edge"):
        verify_reading(net.trust, made_up, "edge-0")
    with pytest.raises(DeviceError, match="own edge chain"):
        Device(device, delegate=peer)


def test_the_operators_ca_issues_certificates_of_the_lifetime_asked_for(tmp_path):
    from ledger.cluster import authority
    from ledger.identity import load_certificate

    cadir = authority.init(tmp_path / "ca", lifetime_days=30)
    out = authority.issue(cadir, "sensor-1", "device", tmp_path / "sensor-1", lifetime_days=7)
    for name in ("identity.crt", "tls.crt"):
        cert = load_certificate(out / name)
        assert cert.not_valid_after_utc - cert.not_valid_before_utc <= 7 * DAY + datetime.timedelta(minutes=10)
    default = load_certificate(authority.issue(cadir, "sensor-2", "device", tmp_path / "sensor-2") / "identity.crt")
    assert default.not_valid_after_utc <= load_certificate(cadir / "ca.crt").not_valid_after_utc
