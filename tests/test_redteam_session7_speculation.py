"""Red team, session 7: speculative endorsement (Peer.endorse_on, Node._rpc_endorse). A
dishonest peer of the chain may call Endorse with as many variants of one block as it likes -
children of one parent, or blocks at the next height: what the endorser remembers of them
(Peer._validated, Peer._validated_on, the follower's decoded proposals) stays bounded, and a
proposal forgotten is validated again when it commits."""
from ledger.cluster.follower import ENDORSED_KEPT, Follower
from ledger.peer import VALIDATED_KEPT
from test_speculative_endorsement import net, stored_by_one  # noqa: F401 (net: the fixture)

VARIANTS = VALIDATED_KEPT + 40


def test_variant_children_of_one_parent_do_not_grow_the_endorsers_memory(net):
    """The old code kept every child's digest until the parent committed, and the follower
    every endorsed child decoded, transactions and all: a same-chain peer holding the parent
    back grew the endorser's memory without bound, one Endorse call at a time."""
    speculator, proposer, parent = stored_by_one(net, [net.record("edge-0", b"parent")])
    follower = Follower(speculator, None, lambda txs: None, lambda: [], 1)
    children = []
    for n in range(VARIANTS):
        child, _ = proposer.propose([net.record("edge-0", b"variant %d" % n)])
        speculator.endorse_on(parent, child)
        follower.endorsed(child)
        children.append(child)
    assert len(speculator._validated_on[parent.digest]) == VALIDATED_KEPT
    assert len(follower._endorsed) == ENDORSED_KEPT
    assert follower.endorsed_block(children[-1].digest) is children[-1]
    # the parent commits: the newest children are validated, a forgotten one is validated again
    speculator.commit(parent)
    assert children[-1].digest in speculator._validated and children[0].digest not in speculator._validated
    first = children[0].with_endorsements([speculator.endorse(children[0]), proposer.endorse(children[0])])
    speculator.commit(first)
    assert speculator.digest(first.height) == first.digest


def test_variant_blocks_at_the_next_height_do_not_grow_the_endorsers_memory(net):
    speculator, proposer = net.service("edge-0").peers
    for n in range(VARIANTS):
        block, _ = proposer.propose([net.record("edge-0", b"variant %d" % n)])
        speculator.endorse(block)
    assert len(speculator._validated) == VALIDATED_KEPT
