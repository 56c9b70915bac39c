"""Red team on the watch-fed follower (lat8: a follower takes the entries etcd's watch brought,
EtcdLog.arrived, instead of reading them). What the watch hands the follower must be what a
read of the log at that moment returns: an entry deleted after its event is not one, and
entries any peer writes far ahead of the log must not push out the next ones. Real etcd
(tests/cluster_helpers.py: its etcd only, no node processes); a dishonest peer is a writer
with that peer's etcd credentials. The follower's own status: stand-in logs
(tests/test_cluster_follower.py's world)."""
import asyncio
import concurrent.futures
import threading
import time
import types

import pytest

from ledger.cluster.ordering import ARRIVED_KEPT
from cluster_helpers import Harness, need_etcd
from test_cluster_follower import WatchedLog, _follower, world  # noqa: F401 (world: the fixture)

CHAIN = "edge-0"


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """writer, reader: the log as a dishonest peer writes it, and as an honest one watches it."""
    need_etcd()
    h = Harness(tmp_path_factory.mktemp("watch"), peers=3, threshold=2)
    h.cluster.start_etcd()
    writer = reader = None
    try:
        writer = h.cluster.etcd_log(CHAIN, h.names[1])
        reader = h.cluster.etcd_log(CHAIN, h.names[0])
        reader.start_watch()
        deadline = time.monotonic() + 10
        while reader.head != 0:  # (until the watch runs: an entry at slot 0, no test's)
            assert time.monotonic() < deadline, "the watch does not run"
            writer.put_raw(b"block/%012d" % 0, b"the watch runs")
            reader.wait_change(0.2)
        yield types.SimpleNamespace(cluster=h.cluster, writer=writer, reader=reader)
    finally:
        for log in (writer, reader):
            if log is not None:
                log.close()
        h.stop()


def _brought(reader, slot: int, timeout: float = 10.0) -> None:
    """Wait until the watch brought the entry written at `slot` (events come in revision order:
    every earlier write's event came before it)."""
    deadline = time.monotonic() + timeout
    while reader.head != slot:
        assert time.monotonic() < deadline, f"the watch did not bring slot {slot}"
        reader.wait_change(0.2)


def test_entries_written_far_ahead_do_not_push_the_next_entry_out_of_the_watch(logs):
    """A dishonest peer writes ARRIVED_KEPT entries at slots far past the log's end (no cutter
    ever reaches them). The old ArrivedEntries forgot the lowest slots first: every new entry
    of the log went at once, so each honest follower read every block from etcd again (the
    watch's use gone for as long as the junk stood). The highest slots go first now."""
    writer, reader = logs.writer, logs.reader
    far = 10 ** 11
    for i in range(ARRIVED_KEPT):
        writer.put_raw(b"block/%012d" % (far + i), b"junk %d" % i)
    _brought(reader, far + ARRIVED_KEPT - 1)
    writer.put_raw(b"block/%012d" % 100, b"the next entry")
    _brought(reader, 100)
    assert reader.arrived(100) == [(100, b"the next entry")]


def test_an_entry_deleted_after_its_event_is_not_handed_to_the_follower(logs):
    """A dishonest peer writes an entry at the next slot and deletes it. A read of the log finds
    the slot empty, and the follower waits there (it passes a gap only by a checkpoint); the
    old watch path kept the deleted bytes and handed them over as the slot's entry, so a
    follower lagging behind the watch took an entry no read could return and moved past the
    slot where every peer reading the log waits."""
    writer, reader = logs.writer, logs.reader
    writer.put_raw(b"block/%012d" % 200, b"an entry deleted at once")
    _brought(reader, 200)
    _delete(writer, 200)
    writer.put_raw(b"block/%012d" % 201, b"the entry after it")
    _brought(reader, 201)  # (the delete's event came before this one)
    assert writer.blocks(200, 1) == [(201, b"the entry after it")]  # (a read: slot 200 is empty)
    assert reader.arrived(200) == []
    assert reader.arrived(201) == [(201, b"the entry after it")]



def _established(watches: list, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(watches) < count:
        assert time.monotonic() < deadline, f"watch {count} was not established"
        time.sleep(0.02)


def _delete(log, slot: int) -> None:
    log._run(log._client.delete(log.key(b"block/%012d" % slot)), "delete")


def test_entries_the_watch_brought_before_it_was_lost_are_read_again(logs):
    """The watch is lost (a member down, a moved leader) and established again from the
    revision of that moment: a write or delete in between comes in no event. The old
    ArrivedEntries kept what the lost watch brought, so an entry deleted meanwhile was handed
    over as the slot's entry; a new watch now starts with nothing kept."""
    writer = logs.writer
    reader = logs.cluster.etcd_log(CHAIN, "edge-0.peer2")
    try:
        watches, rewatch, watch = [], threading.Event(), reader._client.watch

        async def held_watch(*args, **kwargs):  # (the second watch waits for `rewatch`)
            while watches and not rewatch.is_set():
                await asyncio.sleep(0.02)
            watches.append(await watch(*args, **kwargs))
            return watches[-1]
        reader._client.watch = held_watch
        reader.start_watch()
        _established(watches, 1)
        writer.put_raw(b"block/%012d" % 300, b"an entry deleted while no watch runs")
        _brought(reader, 300)
        asyncio.run_coroutine_threadsafe(watches[0].cancel(), reader._loop).result(5)  # the watch is lost
        _delete(writer, 300)
        rewatch.set()
        _established(watches, 2)
        writer.put_raw(b"block/%012d" % 301, b"the entry after it")
        _brought(reader, 301)
        assert writer.blocks(300, 1) == [(301, b"the entry after it")]  # (a read: slot 300 is empty)
        assert reader.arrived(300) == []
    finally:
        reader.close()


def test_a_follower_the_watch_moved_past_a_gap_no_longer_reports_waiting_there(world):
    """A follower reads the log with slot 1 empty and slot 2 present: it waits at slot 1 (and
    says so in its status). The watch then brings slots 1 and 2 and the follower takes them;
    the old follow_arrived left `waiting` naming slot 1, a status the follower had passed."""
    g = world.genuine
    log = WatchedLog({0: g[0].to_bytes(), 2: g[2].to_bytes()}, {})
    follower = _follower(world, log)
    assert follower.sync() == 1 and follower.status()["waiting"] is not None
    log.entries[1] = g[1].to_bytes()
    for slot in (1, 2):
        log.watch.keep(slot, log.entries[slot])
    assert follower.follow_arrived() == 3
    assert follower.status()["waiting"] is None


def test_a_stream_message_waits_for_its_blocks_attestations_once(monkeypatch):
    """A block whose attestations do not come (a silent peer where the policy needs it, or a
    lagging one): the node's stream answer waited CONFIRM_WAIT + 2 s for them before the
    message (_await_attested) and as long again while packing it (_relayed_attestations), so
    the message came after 14 s, past the client's STREAM_STALL (10 s), and the client gave up
    the stream and resubmitted everything on it. One deadline per message now. (A clock of the
    test's: each wait takes exactly the time it was given.)"""
    from ledger.chain import Receipt
    from ledger.cluster import node
    from ledger.cluster.client import STREAM_STALL
    from ledger.cluster.follower import CONFIRM_WAIT
    from ledger.cluster.transport import Caller, pack, unpack

    clock, waits = [1000.0], []
    monkeypatch.setattr(node, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))

    class Unattested:  # _attested's future for a block no quorum attests in time
        def result(self, timeout):
            waits.append(timeout)
            clock[0] += timeout
            raise concurrent.futures.TimeoutError

    class Cutter:  # the node's state the stream handler reads
        name, chain_id, _leadership, _stop = "edge-0.peer0", CHAIN, object(), threading.Event()
        config = types.SimpleNamespace(endorsement_threshold=2)
        _answer_of = staticmethod(node.Node._answer_of)
        _await_attested = node.Node._await_attested
        _relayed_attestations = node.Node._relayed_attestations

        def _decode_submission(self, request):
            return unpack(request)

        def _enqueue(self, txs):
            pendings = [node._Pending(tx, concurrent.futures.Future()) for tx in txs]
            for i, p in enumerate(pendings):
                p.future.set_result(Receipt(b"%32d" % i, CHAIN, 7, i, b"d" * 32))
            return pendings

        def _outcomes(self, pendings, answers):
            return [b"R" for _ in answers]

        def _attested(self, height, digest):
            return Unattested()

    answers = node.Node._rpc_submit_stream(Cutter(), Caller("alice", "client", None), iter([pack(b"tx")]))
    try:
        pairs, relayed = unpack(next(answers), 2)
    finally:
        answers.close()
    assert [unpack(pair)[0] for pair in unpack(pairs)] == [b"0"] and unpack(relayed) == []
    assert sum(waits) <= CONFIRM_WAIT + 2 < STREAM_STALL
