"""Device revocation by accumulator (issue 14, ledger.revocation): the pure state and its
record and proof encodings, and the deployment: a revoked device is refused on every edge after
the next interlock, a stale non-revocation proof is refused, the published records keep honest
devices' proofs valid, and only revocations the CA's CRL backs reach the main chain."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import edgeacc
from ledger.errors import EncodingError, LedgerError
from ledger.provenance import Device, EdgeRecorder, NetworkLedger, NumpyMLPTrainer, Hyperparameters
from ledger.revocation import (DeviceRevoked, NonRevocationProof, RevocationError, RevocationRecord,
                               RevocationRegistry, RevocationState, StaleProof, replay, update_proof)

from provenance_helpers import net  # noqa: F401 (fixture)

FPS = [bytes([i]) * 32 for i in range(6)]


def test_state_rules(toy):
    s0 = RevocationState(toy)
    proofs = {fp: s0.issue(fp) for fp in FPS[:3]}
    for fp, p in proofs.items():
        s0.check_not_revoked(fp, p)
    with pytest.raises(RevocationError):
        s0.check_not_revoked(FPS[1], proofs[FPS[0]])                # another device's proof
    rec1 = s0.next_record([FPS[2]])
    s1 = s0.applied(rec1)
    assert RevocationRecord.from_payload(toy, rec1.to_payload(toy)) == rec1
    with pytest.raises(StaleProof):
        s1.check_not_revoked(FPS[0], proofs[FPS[0]])                # stale: before revocation 1
    with pytest.raises(DeviceRevoked):
        s1.check_not_revoked(FPS[2], proofs[FPS[2]])
    with pytest.raises(DeviceRevoked):
        update_proof(toy, FPS[2], proofs[FPS[2]], [rec1])
    forged = NonRevocationProof(1, proofs[FPS[2]].witness)          # a revoked device's old witness, relabelled
    with pytest.raises(DeviceRevoked):
        s1.check_not_revoked(FPS[2], forged)
    rec2 = s1.next_record([FPS[3], FPS[4]])
    s2 = s1.applied(rec2)
    for fp in FPS[:2]:      # honest devices follow the published records
        p = update_proof(toy, fp, proofs[fp], [rec1, rec2])
        s2.check_not_revoked(fp, p)
        assert NonRevocationProof.from_bytes(toy, p.to_bytes(toy)) == p
        assert p == s2.issue(fp)                                   # the same witness the operator issues
    # records that do not continue the state are refused, and skipped on replay
    for bad in (rec1, rec2, dataclasses.replace(s2.next_record([FPS[5]]), sequence=4),
                dataclasses.replace(s2.next_record([FPS[5]]), fingerprints=(FPS[0],)),
                dataclasses.replace(s2.next_record([FPS[5]]), value_after=s1.value)):
        with pytest.raises(RevocationError):
            s2.applied(bad)
    assert replay(toy, [rec1, rec1, rec2, rec2]).value == s2.value
    with pytest.raises(RevocationError):
        s2.next_record([FPS[3]])                                    # already revoked
    data = rec2.to_payload(toy)
    for broken in (data[:-1], data + b"\0", data[:4] + b"\x02" + data[5:], data[:11] + data[43:75] * 2 + data[75:]):
        with pytest.raises(EncodingError):
            RevocationRecord.from_payload(toy, broken)


def _edges(net):
    chain = NetworkLedger(net)
    trainer = NumpyMLPTrainer(Hyperparameters(hidden=4, batch_size=2, local_steps=1))
    return [EdgeRecorder(chain, e, f"{e}.peer0", trainer, net.trust) for e in net.subchain_ids]


def test_without_the_registry_revocation_payloads_are_no_provenance_records(net):
    _edges(net)     # the provenance endorser alone
    payload = RevocationState(net.params).next_record([FPS[0]]).to_payload(net.params)
    with pytest.raises(LedgerError):
        net.submit(net.main_chain_id, payload, signer=net.identity("main.peer0")).result(30)


def _read(device):
    return device.read(np.zeros(64), 1)


def test_revocation_on_every_edge_after_the_interlock(net):
    edges = _edges(net)
    registry = RevocationRegistry.install(net)
    P = net.params
    devices = [Device(net.identity(f"sensor-{k}", role="device")) for k in range(3)]
    honest, victim, lagging = devices
    for d in devices:
        d.nonrevoked = registry.main_state().issue(d.identity.fingerprint).to_bytes(P)
    for edge in edges:
        for d in devices:
            edge.record_reading(_read(d))
    junk = RevocationState(P).next_record([FPS[0]]).to_payload(P)
    with pytest.raises(LedgerError):   # a revocation-looking payload on an edge gets the provenance rules
        net.submit(edges[0].chain_id, junk, signer=net.identity(f"{edges[0].chain_id}.peer0")).result(30)
    bare = Device(net.identity("sensor-bare", role="device"))
    with pytest.raises(LedgerError, match="non-revocation"):    # revocation on: a proof is required
        edges[0].record_reading(_read(bare))

    # a record the CRL does not back is refused on the main chain, the state unchanged
    forged = registry.main_state().next_record([honest.identity.fingerprint])
    main_height = net.peer(net.main_chain_id).height
    for payload in (forged.to_payload(P), b"EARV" + bytes(40)):
        with pytest.raises(LedgerError):
            net.submit(net.main_chain_id, payload, signer=net.identity("main.peer0")).result(30)
    assert registry.main_state().sequence == 0 and net.peer(net.main_chain_id).height == main_height

    record = registry.revoke(["sensor-1"])
    assert registry.main_state().sequence == 1
    with pytest.raises(LedgerError):                            # replayed: refused
        net.submit(net.main_chain_id, record.to_payload(P), signer=net.identity("main.peer0")).result(30)
    fp_v = victim.identity.fingerprint
    for edge in edges:      # before the interlock the edges still verify against revocation 0
        registry.check_reading(edge.chain_id, fp_v, victim.nonrevoked)
    net.interlock()
    heights = {edge.chain_id: net.peer(edge.chain_id).height for edge in edges}
    for edge in edges:
        with pytest.raises(DeviceRevoked):                      # the accumulator alone refuses it
            registry.check_reading(edge.chain_id, fp_v, victim.nonrevoked)
        with pytest.raises(LedgerError):                        # and so does the edge
            edge.record_reading(_read(victim))
        with pytest.raises(LedgerError, match="revocation 0"):  # a stale proof is refused
            edge.record_reading(_read(lagging))
    assert heights == {edge.chain_id: net.peer(edge.chain_id).height for edge in edges}   # nothing recorded
    published = registry.records()
    assert published == [record]
    for d in (honest, lagging):
        old = NonRevocationProof.from_bytes(P, d.nonrevoked)
        d.nonrevoked = update_proof(P, d.identity.fingerprint, old, published).to_bytes(P)
        for edge in edges:
            edge.record_reading(_read(d))
    with pytest.raises(DeviceRevoked):
        update_proof(P, fp_v, NonRevocationProof.from_bytes(P, victim.nonrevoked), published)
