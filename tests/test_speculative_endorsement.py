"""Speculative endorsement (Peer.endorse_on, the cluster's Endorse while the parent is being
ordered): a peer endorses block h+1 on the block h it validated but has not stored. The
endorsement links to h's digest, so it counts only if h is the block the chain takes: a
candidate the chain never takes is never stored, and its child is refused; a parent the peer
never validated, a child replaying its parent's transaction and a parent with status
transactions are refused."""
import edgeacc
import pytest

import ledger
from ledger import errors
from ledger.block import Block, BlockHeader, SignedHeader
from ledger.chain import now_ms
from ledger.merkle import merkle_root
from ledger.tx import Transaction, TxKind


@pytest.fixture
def net(tmp_path, toy):
    with ledger.Network.init(tmp_path / "net", subchains=1, peers_per_chain=2, params=toy,
                             auto_interlock=False) as network:
        network.submit("edge-0", b"seed").result()
        yield network


def endorsed(block, *peers):
    return block.with_endorsements([p.endorse(block) for p in peers])


def stored_by_one(net, transactions):
    """(speculator, proposer, parent): block h of `transactions` that both peers endorsed
    (validated), stored by the proposer only (being ordered, as the speculator sees it)."""
    speculator, proposer = net.service("edge-0").peers
    parent, rejected = proposer.propose(transactions)
    assert not rejected
    parent = endorsed(parent, speculator, proposer)
    proposer.commit(parent)
    return speculator, proposer, parent


def block_on(peer, transactions):
    """A block of `transactions` on `peer`'s chain with a valid header, built without the
    transaction checks (what a dishonest cutter can propose)."""
    params, latest = peer.deployment.params, peer.latest().header
    leaves = tuple(tx.leaf for tx in transactions)
    content = BlockHeader(peer.chain_id, latest.height + 1, latest.digest, max(now_ms(), latest.timestamp_ms),
                          merkle_root(leaves), len(transactions), 0, 0, b"")
    x, k = edgeacc.hash_to_prime(content.element_data())
    value = edgeacc.update_witness(params, peer.accumulator_value(), [x])
    header = BlockHeader(content.chain_id, content.height, content.previous, content.timestamp_ms,
                         content.merkle_root, len(transactions), x, k, edgeacc.encode_element(params, value))
    return Block(SignedHeader(header, ()), tuple(transactions))


def test_a_child_endorsed_on_its_unstored_parent_commits_once_the_parent_does(net):
    speculator, proposer, parent = stored_by_one(net, [net.record("edge-0", b"parent")])
    height = speculator.height
    child, _ = proposer.propose([net.record("edge-0", b"child")])
    speculative = speculator.endorse_on(parent, child)
    assert speculative[0] == speculator.identity.fingerprint and speculator.height == height  # nothing stored
    child = child.with_endorsements([speculative, proposer.endorse(child)])
    with pytest.raises(errors.WrongHeight):
        speculator.commit(child)  # not before its parent
    speculator.commit(parent)
    speculator.commit(child)
    assert speculator.height == height + 2 and speculator.digest(height + 1) == child.digest


def test_a_candidate_the_chain_never_takes_is_never_stored_and_its_child_is_refused(net):
    speculator, proposer, parent = stored_by_one(net, [net.record("edge-0", b"candidate")])
    height = speculator.height
    child, _ = proposer.propose([net.record("edge-0", b"child")])
    speculative = speculator.endorse_on(parent, child)
    # the log takes another block at the candidate's height (another cutter's)
    twin, _ = speculator.propose([net.record("edge-0", b"the ordered twin")])
    # (the proposer stored the candidate: its signature on the twin is made directly)
    other = (proposer.identity.fingerprint, proposer.identity.sign(twin.header.endorsement_message()))
    speculator.commit(twin.with_endorsements([speculator.endorse(twin), other]))
    assert speculator.digest(height) == twin.digest != parent.digest
    child = child.with_endorsements([speculative, proposer.endorse(child)])
    with pytest.raises(errors.BrokenLink):
        speculator.commit(child)
    with pytest.raises(errors.WrongHeight):  # nor is anything endorsed on the candidate any more
        speculator.endorse_on(parent, block_on(proposer, [net.record("edge-0", b"another child")]))
    assert speculator.height == height + 1
    assert all(speculator.locate(tx.tx_id) is None for tx in parent.transactions)


def test_an_endorsement_on_a_parent_this_peer_never_validated_is_refused(net):
    speculator, proposer = net.service("edge-0").peers
    forged, _ = proposer.propose([net.record("edge-0", b"a parent the speculator never saw")])
    proposer.commit(forged.with_endorsements([proposer.endorse(forged), speculator.endorse(forged)]))
    speculator._validated.clear()  # (as a peer that never validated it)
    child, _ = proposer.propose([net.record("edge-0", b"child of a forged parent")])
    with pytest.raises(errors.WrongHeight, match="did not validate"):
        speculator.endorse_on(forged, child)


def test_a_child_replaying_its_parents_transaction_is_refused(net):
    tx = net.record("edge-0", b"once")
    speculator, proposer, parent = stored_by_one(net, [tx])
    with pytest.raises(errors.ReplayedTransaction):
        speculator.endorse_on(parent, block_on(proposer, [tx]))


def test_a_parent_with_status_transactions_is_not_speculated_on(net):
    net.submit("main", b"main's block").result()
    main = net.peer("main")
    status = Transaction.create(main.identity, TxKind.MAIN_STATUS, "edge-0", main.latest().to_bytes(),
                                timestamp_ms=now_ms(), nonce=now_ms())
    speculator, proposer, parent = stored_by_one(net, [status])
    child, _ = proposer.propose([net.record("edge-0", b"child")])
    with pytest.raises(errors.SpeculationRefused):
        speculator.endorse_on(parent, child)


def test_the_cutter_proposes_on_an_unapplied_parent_by_the_rules_it_is_endorsed_by(net):
    """The pipelined cutter proposes block h+1 on its block h before h is ordered
    (Peer._propose's parent, ChainState.next_block): on the parent's header and accumulator,
    h's transactions as on the chain (a copy is left out), and the endorser signs it on that
    parent. Refused on a parent it did not validate, or one with status transactions."""
    speculator, proposer = net.service("edge-0").peers
    tx = net.record("edge-0", b"in the parent")
    parent, _ = proposer.propose([tx])
    speculator.endorse(parent)
    child, rejected = proposer._propose([tx, net.record("edge-0", b"in the child")], parent=parent)
    assert [i for i, _ in rejected] == [0] and isinstance(rejected[0][1], errors.ReplayedTransaction)
    assert child.height == parent.height + 1 and child.header.previous == parent.digest
    endorsements = [speculator.endorse_on(parent, child), proposer.endorse_on(parent, child)]
    parent = parent.with_endorsements([speculator.endorse(parent), proposer.endorse(parent)])
    for peer in (speculator, proposer):
        peer.commit(parent)
        peer.commit(child.with_endorsements(endorsements))
    assert speculator.digest(child.height) == proposer.digest(child.height) == child.digest
    stranger, _ = speculator.propose([net.record("edge-0", b"never seen by the proposer")])
    with pytest.raises(errors.WrongHeight, match="did not validate"):
        proposer._propose([net.record("edge-0", b"on a stranger")], parent=stranger)
    net.submit("main", b"main's block").result()
    main = net.peer("main")
    status = Transaction.create(main.identity, TxKind.MAIN_STATUS, "edge-0", main.latest().to_bytes(),
                                timestamp_ms=now_ms(), nonce=now_ms())
    with_status, rejected = proposer.propose([status])
    assert not rejected
    with pytest.raises(errors.SpeculationRefused, match="status"):
        proposer._propose([net.record("edge-0", b"after a status")], parent=with_status)


def test_a_parent_with_the_validated_header_but_other_transactions_is_refused(net):
    """The parent is known by its header's digest only: a caller swapping its transactions
    (here: hiding the one the child replays; the cluster's follower keeps the copy last sent
    under a header it knows) must not get the replay endorsed, and a child endorsed ahead is
    committed without being validated again."""
    tx = net.record("edge-0", b"once")
    speculator, proposer, parent = stored_by_one(net, [tx])
    swapped = Block(parent.signed, (net.record("edge-0", b"a stand-in"),))
    with pytest.raises(errors.SpeculationRefused, match="transactions differ"):
        speculator.endorse_on(swapped, block_on(proposer, [tx]))
