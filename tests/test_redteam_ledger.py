"""Red-team variants of issue 9's ledger classes (points 1-6, 13) beyond the ones
test_ledger_hardening.py mounts: each test is an attack, asserting the rejection and the
unchanged state (memory, stores, reopen)."""
import dataclasses

import pytest

import edgeacc
import ledger
from ledger import errors
from ledger.block import Block, BlockHeader, SignedHeader
from ledger.chain import now_ms
from ledger.merkle import leaf_hash, merkle_root
from ledger.protocol1 import check_cross_chain
from ledger.tx import Transaction, TxKind

from test_ledger_hardening import _endorsed, _tampered, net, reopen_snapshot, snapshot  # noqa: F401


def _endorse_all(peers, block):
    return block.with_endorsements([p.endorse(block) for p in peers])


# --- 1. a peer checks, signs and stores the decoding of the bytes, on every entry point --------

def test_admit_of_a_tampered_object_does_not_vouch_for_its_bytes(net):
    """A client hands peers an object whose fields name itself as submitter while its signed
    bytes name a peer: admit() must not remember "signature checked" for bytes it did not check,
    or the peers' block attributes the client's record to the peer."""
    edge = net.service("edge-0")
    victim = edge.peers[2].identity
    client = net.identity("client")
    forged = Transaction(TxKind.RECORD, "edge-0", victim.fingerprint, now_ms(), 7, b"peer says so")
    forged = dataclasses.replace(forged, signature=client.sign(forged.signed_message()))
    dressed = _tampered(Transaction.from_bytes(forged.to_bytes()), submitter=client.fingerprint)
    before = snapshot(net)
    for peer in edge.peers:
        with pytest.raises(errors.BadSignature):
            peer.admit(dressed)
    honest = Transaction.from_bytes(forged.to_bytes())
    block, rejected = edge.leader.propose([honest])
    assert [type(e) for _, e in rejected] == [errors.BadSignature] and not block.transactions
    assert snapshot(net) == before
    assert reopen_snapshot(net) == before


def _header_for(peer, txs):
    """The header `peer` would propose for `txs` (whatever they are)."""
    previous = peer.latest().header
    content = BlockHeader(peer.chain_id, peer.height, previous.digest, now_ms(),
                          merkle_root([leaf_hash(tx.to_bytes()) for tx in txs]), len(txs), 0, 0, b"")
    x, k = edgeacc.hash_to_prime(content.element_data())
    value = edgeacc.update_witness(peer.deployment.params, peer.accumulator_value(), [x])
    return dataclasses.replace(content, acc_element=x, acc_nonce=k,
                               acc_value=edgeacc.encode_element(peer.deployment.params, value))


def _smuggling_block(net, chain):
    """A block whose cached encodings and leaves (set by a dishonest leader) hold a badly
    signed transaction X while its transaction objects hold a valid Y: the old peers validated
    Y and stored X, and the deployment no longer reopened."""
    leader = net.service(chain).leader
    shown = net.record(chain, b"harmless")
    good = net.record(chain, b"evil")
    hidden = dataclasses.replace(good, signature=bytes(64))
    forged = Block(SignedHeader(_header_for(leader, [hidden]), ()), (shown,))
    forged.__dict__.update(tx_bytes=(hidden.to_bytes(),), leaves=(leaf_hash(hidden.to_bytes()),))
    return forged


def test_endorse_and_commit_validate_the_bytes_they_store(net):
    seen = []
    net.add_validator("edge-0", lambda _peer, tx: seen.append(tx.to_bytes()))
    peers = net.service("edge-0").peers
    forged = _smuggling_block(net, "edge-0")
    before = snapshot(net)
    for peer in peers:
        with pytest.raises((errors.BadSignature, errors.MerkleMismatch)):
            peer.endorse(forged)
        with pytest.raises((errors.BadSignature, errors.MerkleMismatch)):
            peer.validate_block(forged)
    # endorsements by every peer's key (an edge holds them) do not make commit store bytes
    # it did not validate
    endorsed = _endorsed(forged, [(p.identity.fingerprint, p.identity.key) for p in peers])
    endorsed.__dict__.update(tx_bytes=forged.tx_bytes, leaves=forged.leaves)
    for peer in peers:
        with pytest.raises((errors.BadSignature, errors.MerkleMismatch)):
            peer.commit(endorsed)
    assert not seen
    assert snapshot(net) == before
    assert reopen_snapshot(net) == before


def test_protocol1_reads_acc_m_from_the_endorsed_bytes(net):
    """A main-chain header whose acc_value field was replaced after its endorsements: the
    policy checks the signed digest, so acc_M must come from the same bytes."""
    tx_id = net.submit("edge-0", b"to verify").result().tx_id
    net.interlock()
    verifier = net.verifier("edge-1")
    honest = verifier.verify(tx_id)
    assert honest.ok
    main = net.peer("main")
    records = [r for r in main.statuses("edge-0")]
    edge0 = net.peer("edge-0")
    kwargs = dict(tx_id=tx_id, chain_id="edge-0", main_chain_id="main",
                  status_proof=main.inclusion_proof(records[-1].tx_id, main.height - 1),
                  tx_proof=edge0.inclusion_proof(tx_id, records[-1].source_height),
                  endorsement_policy=net.deployment.check_endorsed)
    other_value = SignedHeader.from_bytes(main.signed_header(0).to_bytes()).header.acc_value
    tampered = SignedHeader.from_bytes(main.latest().to_bytes())
    _tampered(tampered.header, acc_value=other_value)
    verdict = check_cross_chain(net.params, main_status=tampered, **kwargs)
    assert verdict.ok and verdict.main_height == main.height - 1  # read from its bytes
    assert check_cross_chain(net.params, main_status=main.latest(), **kwargs).ok
