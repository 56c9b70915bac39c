"""Red-team attacks on the non-membership, PoKE2, set non-membership and batch-update proofs
and on device revocation (issue 14): each test mounts the attack of a dishonest prover and
asserts that it is refused and that nothing changed."""
import threading
import time

import pytest

import edgeacc
from edgeacc import _core, nonmem, poe, poke, updates
from edgeacc.errors import InvalidArgument
from helpers import reps
from ledger.errors import LedgerError
from ledger.provenance import Device
from ledger.revocation import (NonRevocationProof, RevocationError, RevocationRegistry, RevocationState,
                               update_proof)
from provenance_helpers import net  # noqa: F401 (fixture)


def _forge_poke2(params, g, X, W, context):
    """A PoKE2 'that u^x = w' for u = g^X, w = g^W and ANY W, by a prover who knows both
    discrete logs to g: z = g^Z, then r = (W + Z alpha) / (X + alpha) mod l and Q = g^q
    solve Q^l (u g^alpha)^r = w z^alpha over the integers. Sound only if the PoKE2 base is
    not g (or anything the prover knows u's discrete log to)."""
    n = params.n
    u, w = pow(g, X, n), pow(g, W, n)
    for Z in range(3, 100):
        z = pow(g, Z, n)
        l, alpha = _core.poke2_challenge(g, u, w, z, context, n)
        if (X + alpha) % l == 0:
            continue
        r = (W + Z * alpha) * pow(X + alpha, -1, l) % l
        q = (W + Z * alpha - (X + alpha) * r) // l
        Q = pow(g, q, n)                    # q may be negative: g is a unit
        return poke.PoKE2Proof(_core.canonical(z, n), _core.canonical(Q, n), r)
    raise AssertionError("no forgery found")


@pytest.fixture(scope="module")
def chain(toy):
    acc = edgeacc.Accumulator(toy, toy.generator(b"rt-acc"))
    acc.add_many(reps(b"rt-m", 4))
    return acc


def test_poke2_from_known_discrete_logs_is_refused(toy, chain):
    g, X = chain.g, chain._product()
    W = X // chain.elements[0] + 7          # no integer x has u^x = w
    forged = _forge_poke2(toy, g, X, W, b"ctx")
    assert not poke.verify(toy, g, pow(g, X, toy.n), pow(g, W, toy.n), forged, b"ctx")


def test_light_client_update_that_drops_a_member_is_refused(toy, chain):
    """An 'add' whose v_new = g^(X / x0): every light client would believe x0 still a member."""
    g, X, v_old = chain.g, chain._product(), chain.value
    v_new = pow(g, X // chain.elements[0], toy.n)
    commitment = poe.commit_exponent(_core.product(reps(b"rt-claimed", 2)))
    forged = updates.BatchUpdateProof("add", 2, commitment, poe.PoEProof(chain.g),
                                      _forge_poke2(toy, g, X, X // chain.elements[0],
                                                   updates.update_context("add", 2, commitment)))
    assert not updates.verify_update(toy, g, v_old, v_new, forged)


def test_set_nonmembership_of_a_member_is_refused(toy, chain):
    """V = g^(1 - bY), B = g^b: the PoE B^Y = g / V is honest; only the PoKE2 (v^A = V) is forged."""
    g, X, n = chain.g, chain._product(), toy.n
    ys = [chain.elements[1]] + reps(b"rt-absent", 2)
    Y = _core.product(ys)
    b = 5
    V, B = _core.canonical(pow(g, 1 - b * Y, n), n), _core.canonical(pow(g, b, n), n)
    target = _core.canonical(g * pow(V, -1, n) % n, n)
    forged = nonmem.SetNonMembershipProof(V, B, _forge_poke2(toy, g, X, 1 - b * Y, nonmem._set_context(toy, B, Y)),
                                          poe.prove_known(toy, B, Y, target))
    assert poe.verify(toy, B, Y, target, forged.poe)
    assert not edgeacc.verify_set_nonmembership(toy, g, chain.value, ys, forged)


def test_revoked_device_is_refused_on_the_main_chain_too(net):
    """The main chain has no Type-III status of itself: its view must not fall back to the
    state before every revocation (which a revoked device's first proof verifies against)."""
    registry = RevocationRegistry.install(net)
    device = Device(net.identity("sensor-rt", role="device"))
    fp = device.identity.fingerprint
    old = registry.main_state().issue(fp).to_bytes(net.params)
    registry.revoke(["sensor-rt"])
    net.interlock()
    height = net.peer(net.main_chain_id).height
    for chain_id in [net.main_chain_id, *net.subchain_ids]:
        with pytest.raises(RevocationError):
            registry.check_reading(chain_id, fp, old)
        assert registry.edge_state(chain_id).sequence == 1
    assert net.peer(net.main_chain_id).height == height and registry.main_state().sequence == 1


def test_concurrent_revocations_all_take_effect(net):
    """Operators revoking at once (one registry each, as separate processes would): records
    for the same sequence race, and one that commits second is skipped on replay. revoke()
    returns only when the committed state revokes its devices."""
    registries = [RevocationRegistry.install(net)] + [RevocationRegistry(net) for _ in range(3)]
    fps = [Device(net.identity(f"sensor-race-{i}", role="device")).identity.fingerprint for i in range(4)]
    outcome = {}

    def revoke(i):
        try:
            registries[i].revoke([f"sensor-race-{i}"])
            outcome[i] = fps[i] in registries[0].main_state().revoked
        except LedgerError as exc:      # the old code: refused, with the CRL already changed
            outcome[i] = exc

    threads = [threading.Thread(target=revoke, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome == {i: True for i in range(4)}
    assert registries[0].main_state().revoked == frozenset(fps)


def test_nonmembership_update_over_a_deletion_of_y_itself_is_refused(toy, chain):
    """y among the deleted elements was a member: its 'non-membership witness' was false, and
    the update must say so rather than return a witness with a = 0."""
    y = reps(b"rt-nm", 1)[0]
    nw = chain.nonmembership_witness(y)
    with pytest.raises(InvalidArgument, match="deleted"):
        edgeacc.update_nonmembership_after_delete(toy, y, nw, chain.value, [y])
    with pytest.raises(InvalidArgument, match="deleted"):
        edgeacc.update_nonmembership_after_delete(toy, y, nw, chain.value, [chain.elements[0], 3 * y])
    assert chain.verify_nonmembership(y, nw)


def test_record_committed_without_the_crl_rule_is_not_applied(net):
    """A main-chain peer commits a well-formed record revoking an honest device while no
    registry validates (no provenance endorser either); a registry installed later must not
    apply it: only the CA, through its CRL, revokes."""
    honest = Device(net.identity("sensor-honest", role="device"))
    fp = honest.identity.fingerprint
    state = RevocationState(net.params)
    proof = state.issue(fp).to_bytes(net.params)
    net.submit(net.main_chain_id, state.next_record([fp]).to_payload(net.params),
               signer=net.identity("main.peer0")).result(30)
    registry = RevocationRegistry.install(net)
    net.interlock()
    assert len(registry.records()) == 1 and registry.main_state().sequence == 0
    for chain_id in [net.main_chain_id, *net.subchain_ids]:
        registry.check_reading(chain_id, fp, proof)         # still accepted
    # the CA revoking the device afterwards does not back the earlier record: a registry that
    # reads the chain only now applies the same records as the installed one
    time.sleep(1.05)        # past the CRL's whole-second rounding of the record's block time
    net.revoke("sensor-honest")
    assert RevocationRegistry(net).main_state().sequence == 0 == registry.main_state().sequence


def test_proof_update_over_another_history_or_from_a_stale_proof_is_refused(toy):
    """A device fed a valid record of a forked history, or updating a stale proof, must learn
    it at once (RevocationError), not carry a witness every edge refuses later."""
    fps = [bytes([0xA0 + i]) * 32 for i in range(4)]
    s0 = RevocationState(toy)
    rec1, fork1 = s0.next_record([fps[1]]), s0.next_record([fps[2]])
    s1 = s0.applied(rec1)
    rec2 = s1.next_record([fps[3]])
    proof0 = s0.issue(fps[0])
    with pytest.raises(RevocationError, match="continue"):
        update_proof(toy, fps[0], proof0, [fork1, rec2])
    stale = NonRevocationProof(1, proof0.witness)       # relabelled: its witness is for revocation 0
    with pytest.raises(RevocationError, match="stale"):
        update_proof(toy, fps[0], stale, [rec2])
    assert update_proof(toy, fps[0], proof0, [rec1, rec2]) == s1.applied(rec2).issue(fps[0])
