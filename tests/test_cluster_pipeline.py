"""The pipelined block cutter (Node._cut_loop: block h+1 proposed and endorsed on h while h is
appended and stored), in process: the cutter's Node over a stand-in etcd log whose appends
the test holds, its fellow peer's Endorse called directly (test_cluster_follower's world)."""
import concurrent.futures
import queue
import threading

import pytest

from ledger import errors
from ledger.block import Block
from ledger.cluster.follower import term_entry
from ledger.cluster.node import _Pending
from ledger.cluster.ordering import Leadership
from test_cluster_follower import CHAIN, AppendLog, FakeLog, _cutter_node, _endorser, world  # noqa: F401 (fixture)


class HeldLog(AppendLog):
    """AppendLog whose block appends wait until the test lets each through (`release`), and
    fail instead when it says so (`fail`); it notes what it held at each Endorse call."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: queue.Queue = queue.Queue()
        self.waiting = threading.Semaphore(0)

    def append(self, slot, entry, leadership=None, cutter=None):
        if not entry.startswith(b"EATM"):  # (a term entry goes at once)
            self.waiting.release()
            if not self.gates.get(timeout=10):
                return False
        return super().append(slot, entry, leadership, cutter)

    def release(self, ok=True):
        assert self.waiting.acquire(timeout=10), "no append came"
        self.gates.put(ok)


def _running_cutter(world):
    log = HeldLog()
    endorser, _ = _endorser(world, log, caller=world.peers[0].name)
    node = _cutter_node(world, log, endorser)
    node.__dict__.update(_queue=queue.Queue(), max_block_txs=2000, cut_ahead=1)
    node._leadership = Leadership(1, 1)
    assert node._own_term(node._leadership) == 1
    seen = []  # (entries in the log, Endorse) at each Endorse call
    call_future = node._channel("peer1").call_future

    def noting(method, request, timeout):
        seen.append(len(log.entries))
        return call_future(method, request, timeout)
    node._channel = lambda name: type("C", (), {"call_future": staticmethod(noting)})
    loop = threading.Thread(target=node._cut_loop, daemon=True)
    loop.start()
    return node, endorser, log, seen, loop


def _queued(node, world, count, tag):
    batch = []
    for i in range(count):
        tx = world.tx(tag)
        node.peer.admit(tx)
        batch.append(_Pending(tx, concurrent.futures.Future()))
    return batch


def _put(node, batch):
    for p in batch:
        node._queue.put(p)


def _until(condition, timeout=10.0):
    deadline = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        deadline.wait(0.01)
    raise AssertionError("not within the time")


def _stop(node, loop, *peers):
    node._stop.set()
    loop.join(10)
    for p in peers:
        p.close()


def test_a_block_is_endorsed_on_the_one_being_appended_and_appended_after_it_in_order(world):
    """Block 0 is held in its append; the next batch is proposed on it, endorsed (the endorser
    signs on the parent it endorsed, before the log holds it) and appended at the next slot once
    block 0 is stored: the log holds them in order, each submitter gets its receipt once."""
    node, endorser, log, seen, loop = _running_cutter(world)
    try:
        first, second = _queued(node, world, 3, b"first"), _queued(node, world, 2, b"second")
        _put(node, first)
        assert log.waiting.acquire(timeout=10)  # (block 0 is being appended)
        log.waiting.release()
        _put(node, second)
        _until(lambda: len(seen) >= 2)
        assert seen == [1, 1]  # (both Endorse calls while the log held the term entry only)
        assert endorser.follower.endorsed_ahead == 1 and not any(p.future.done() for p in first + second)
        log.release()
        log.release()
        receipts = [p.future.result(10) for p in first + second]
        assert [r.height for r in receipts] == [0, 0, 0, 1, 1]
        assert node.peer.height == 2 and node.peer.block(1).header.previous == node.peer.digest(0)
        assert sorted(log.entries)[1:] == [1, 2]  # (slot 0: the term entry)
        assert endorser.follower.sync() == 2 and endorser.follower.skipped == 0
        assert endorser.peer.digest(1) == node.peer.digest(1)
    finally:
        _stop(node, loop, node.peer, endorser.peer)


def test_a_failed_append_drops_the_block_on_it_and_every_submitter_is_answered_once(world):
    """Block 0's append fails (the fence lost, say) while block 1 is endorsed on it: block 1
    is dropped, never appended, and its submitters told "submit again" as block 0's are -
    each future answered once. Submitted again, the cutter appends its endorsed block 0 again
    (no new proposal) and the rest goes on top: every transaction on the chain once."""
    node, endorser, log, seen, loop = _running_cutter(world)
    try:
        first, second = _queued(node, world, 2, b"first"), _queued(node, world, 2, b"second")
        _put(node, first)
        assert log.waiting.acquire(timeout=10)
        log.waiting.release()
        _put(node, second)
        _until(lambda: len(seen) >= 2)
        log.release(ok=False)  # (the slot stays empty, the chain did not move: _append_next gives up)
        for p in first + second:
            with pytest.raises(errors.ServiceUnavailable, match="submit again"):
                p.future.result(10)
        assert node.peer.height == 0 and sorted(log.entries) == [0]  # (nothing appended, block 1 neither)
        endorsed = node._unappended
        assert endorsed is not None and endorsed.height == 0
        again = [_Pending(p.tx, concurrent.futures.Future()) for p in first + second]
        _put(node, again)
        log.release()
        assert [p.future.result(10).height for p in again[:2]] == [0, 0]
        assert node.peer.digest(0) == endorsed.digest and len(seen) == 2  # (block 0 not proposed anew)
        for p in again[2:]:  # (not in the block appended again: as a batch after a failed append is)
            with pytest.raises(errors.ServiceUnavailable, match="submit again"):
                p.future.result(10)
        last = [_Pending(p.tx, concurrent.futures.Future()) for p in second]
        _put(node, last)
        log.release()
        assert [p.future.result(10).height for p in last] == [1, 1]
        ids = [tx.tx_id for h in range(node.peer.height) for tx in node.peer.block(h).transactions]
        assert sorted(ids) == sorted(p.tx.tx_id for p in first + second) and len(set(ids)) == len(ids)
        assert endorser.follower.sync() == 2 and endorser.follower.skipped == 0
    finally:
        _stop(node, loop, node.peer, endorser.peer)


def test_a_batch_on_a_parent_with_status_transactions_waits_for_it_and_is_cut_serially(world):
    """The block being appended carries a status transaction: the next batch cannot be
    validated before it (SpeculationRefused: the status columns move; the rule's own test:
    test_speculative_endorsement), so the cutter waits for it to be stored and cuts the batch
    on the stored chain - no block on that parent is proposed or endorsed."""
    log = AppendLog()
    endorser, _ = _endorser(world, log, caller=world.peers[0].name)
    node = _cutter_node(world, log, endorser)
    node._leadership = Leadership(1, 1)
    node._own_term(node._leadership)
    propose, proposed = node.peer._propose, []

    def refusing(transactions, term=0, parent=None):  # (the rule's answer for a parent with statuses)
        proposed.append(parent)
        if parent is not None:
            raise errors.SpeculationRefused(f"block {parent.height} carries status transactions")
        return propose(transactions, term, parent)
    node.peer._propose = refusing
    try:
        parent_cut = node._prepare(_queued(node, world, 1, b"parent"))
        calls = len(node.endorse_calls)
        stored: concurrent.futures.Future = concurrent.futures.Future()
        waited = []

        def result(timeout=None):  # (block 0's append ends when the cutter waits for it)
            if not stored.done():
                waited.append(node.peer.height)
                stored.set_result(node._finish(parent_cut))
            return concurrent.futures.Future.result(stored, timeout)
        stored.result = result
        batch = _queued(node, world, 2, b"child")
        cut = node._prepare(batch, (parent_cut, stored))
        assert waited == [0] and proposed[1:] == [parent_cut.block, None]
        assert cut.parent is None and cut.height == 1 and node.peer.height == 1
        assert len(node.endorse_calls) == calls + 1  # (one Endorse: of the serial block only)
        node._finish(cut)
        assert [p.future.result(0).height for p in batch] == [1, 1]
        assert node.peer.block(1).header.previous == node.peer.digest(0)
    finally:
        for p in (node.peer, endorser.peer):
            p.close()


def test_a_block_on_a_parent_is_not_appended_once_the_log_started_another_term(world):
    """While block 0 was appended, another peer appended the entry of term 2 (any peer of the
    chain may write the log) and the cutter's follower read it: block 1, endorsed on block 0
    in term 1, would be skipped by every follower. It is not appended (no slot spent on it),
    its submitter is told "submit again"."""
    log = AppendLog()
    endorser, _ = _endorser(world, log, caller=world.peers[0].name)
    node = _cutter_node(world, log, endorser)
    node._leadership = Leadership(1, 1)
    node._own_term(node._leadership)
    try:
        parent_cut = node._prepare(_queued(node, world, 1, b"parent"))
        stored: concurrent.futures.Future = concurrent.futures.Future()
        batch = _queued(node, world, 1, b"child")
        cut = node._prepare(batch, (parent_cut, stored))
        assert cut.parent is parent_cut.block and cut.height == 1
        stored.set_result(node._finished(parent_cut))
        assert stored.result() and node.peer.height == 1
        log.entries[2] = term_entry(CHAIN, 2, world.peers[1])
        assert node.follower.sync() == 1 and node.follower.term == 2
        assert not node._finished(cut)
        with pytest.raises(errors.ServiceUnavailable, match="submit again"):
            batch[0].future.result(0)
        assert sorted(log.entries) == [0, 1, 2]
    finally:
        for p in (node.peer, endorser.peer):
            p.close()


def test_an_endorser_asked_again_under_a_header_it_validated_signs_only_its_own_transactions(world):
    """Attack: a dishonest cutter sends an honest endorser its proposal, then the same header
    with other transactions (the digest names the header, not the body). The endorser signed
    the second without checking it (it had validated that digest) and kept it decoded as the
    proposal's body: when the log ordered the header, it committed those transactions, which
    the Merkle root refuses, and skipped the block every other peer took - a split, and every
    later block on it skipped too. Now the second is refused and it takes the ordered block."""
    log = FakeLog({})
    node, endorse = _endorser(world, log)
    cutter = world.new_peer(0)
    block = cutter._propose([world.tx()])[0]
    endorse(block)
    with pytest.raises(errors.MerkleMismatch):
        endorse(Block(block.signed, (world.tx(),)))
    log.entries[0] = world.endorse(block, (0, 1)).to_bytes()
    assert node.follower.sync() == 1 and node.follower.skipped == 0 and node.peer.digest(0) == block.digest
    for p in (cutter, node.peer):
        p.close()
