"""Commit semantics under failed writes: a block durable on the policy's quorum is committed
(Receipt); one durable on fewer peers but at least one is CommitPending, never a failure that
invites re-signing; one durable on no peer failed and is on no chain. Submitting the same
transaction again is idempotent, lagging peers catch up on the next commit and on open, and
no acknowledged transaction is lost or duplicated."""
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger
from ledger import errors
from tests import store_tamper


def fail_writes(monkeypatch, peer, *, landed=False):
    """Make `peer`'s store refuse every append (disk full). With landed=True the write reaches
    disk and the error comes after it (a commit reported failed that was durable). Returns a
    function that repairs the store."""
    real = peer.store.append

    def append(*args):
        if landed:
            real(*args)
        raise errors.StorageError("disk full (simulated)")

    monkeypatch.setattr(peer.store, "append", append)
    return lambda: monkeypatch.setattr(peer.store, "append", real)


def rows(peer):
    """Every stored block and index row of the peer, read from its files."""
    db = sqlite3.connect(peer.store.path)
    try:
        return store_tamper.rows(peer.store.path), db.execute("SELECT * FROM txs ORDER BY tx_id").fetchall()
    finally:
        db.close()


def heights(net, chain="edge-0"):
    return [p.height for p in net.service(chain).peers]


def occurrences(peer, tx_id):
    return sum(tx.tx_id == tx_id for h in range(peer.height) for tx in peer.block(h).transactions)


def wait_until(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def pending_outcome(pending):
    with pytest.raises(errors.CommitPending) as info:
        pending.result()
    return info.value


def test_follower_write_fails_pending_then_idempotent_resubmission(tmp_path, toy, monkeypatch):
    with ledger.Network.init(tmp_path / "n", subchains=1, params=toy, auto_interlock=False) as net:
        leader, follower = net.service("edge-0").peers
        repair = fail_writes(monkeypatch, follower)
        empty = rows(follower)
        pending = net.submit("edge-0", b"on one peer only")
        outcome = pending_outcome(pending)
        assert (outcome.durable, outcome.quorum) == (1, 2)
        assert (outcome.receipt.tx_id, outcome.receipt.height) == (pending.tx_id, 0)
        assert pending.tx_id.hex() in str(outcome)
        assert heights(net) == [1, 0] and rows(follower) == empty
        # resubmitted while the follower still fails: pending again, not a replay, nothing added
        assert pending_outcome(net.submit_transaction(pending.transaction)).receipt == outcome.receipt
        assert heights(net) == [1, 0]
        repair()
        receipt = net.submit_transaction(pending.transaction).result()
        assert receipt == outcome.receipt == net.locate(pending.tx_id)
        assert heights(net) == [1, 1]
        assert [occurrences(p, pending.tx_id) for p in (leader, follower)] == [1, 1]
    with ledger.Network.open(tmp_path / "n", auto_interlock=False) as net:
        assert heights(net) == [1, 1] and net.locate(pending.tx_id) == receipt


def test_the_os_reporting_disk_full_on_a_follower(tmp_path, toy):
    """No monkeypatch: the kernel itself refuses the write (the follower's block log is
    /dev/full for a while: ENOSPC), and the store is whole once the disk has room again."""
    with ledger.Network.init(tmp_path / "n", subchains=1, params=toy, auto_interlock=False) as net:
        follower = net.peer("edge-0", 1)
        log, saved = follower.store._log, os.dup(follower.store._log)
        full = os.open("/dev/full", os.O_WRONLY)
        os.dup2(full, log)
        pending = net.submit("edge-0", b"x" * 300_000)
        outcome = pending_outcome(pending)
        assert outcome.durable == 1 and heights(net) == [1, 0]
        os.dup2(saved, log)
        for fd in (full, saved):
            os.close(fd)
        assert net.submit_transaction(pending.transaction).result() == outcome.receipt
        assert heights(net) == [1, 1]
    with ledger.Network.open(tmp_path / "n", auto_interlock=False) as net:
        assert heights(net) == [1, 1]


def test_leader_write_fails_another_peer_leads_and_the_leader_catches_up(tmp_path, toy, monkeypatch):
    with ledger.Network.init(tmp_path / "n", subchains=1, params=toy, auto_interlock=False) as net:
        service = net.service("edge-0")
        first, second = service.peers
        repair = fail_writes(monkeypatch, first)
        pending = net.submit("edge-0", b"the leader's disk is full")
        outcome = pending_outcome(pending)
        assert outcome.durable == 1 and heights(net) == [0, 1]
        assert service.leader is second  # reads come from it too
        assert net.transaction(pending.tx_id).payload == b"the leader's disk is full"
        assert net.block("edge-0", 0).header.digest == outcome.receipt.block_digest
        # while the first peer cannot store, the 2-of-2 policy cannot be met: a plain failure,
        # the transaction is on no chain
        blocked = net.submit("edge-0", b"while the first peer is down")
        with pytest.raises(errors.EndorsementError):
            blocked.result()
        assert heights(net) == [0, 1]
        with pytest.raises(errors.NotFound):
            net.locate(blocked.tx_id)
        repair()
        assert net.submit_transaction(blocked.transaction).result().height == 1  # caught up first
        assert heights(net) == [2, 2] and service.leader is first
        assert net.submit_transaction(pending.transaction).result() == outcome.receipt
        for peer in service.peers:
            assert occurrences(peer, pending.tx_id) == occurrences(peer, blocked.tx_id) == 1
    with ledger.Network.open(tmp_path / "n", auto_interlock=False) as net:
        assert heights(net) == [2, 2]


def test_all_writes_fail_nothing_is_on_the_chain_and_a_resubmission_commits(tmp_path, toy, monkeypatch):
    with ledger.Network.init(tmp_path / "n", subchains=1, params=toy, auto_interlock=False) as net:
        peers = net.service("edge-0").peers
        repairs = [fail_writes(monkeypatch, p) for p in peers]
        before = [rows(p) for p in peers]
        pending = net.submit("edge-0", b"stored nowhere")
        with pytest.raises(errors.StorageError, match="stored on no peer") as info:
            pending.result()
        assert not isinstance(info.value, errors.CommitPending)
        assert heights(net) == [0, 0] and [rows(p) for p in peers] == before
        with pytest.raises(errors.NotFound):
            net.locate(pending.tx_id)
        for repair in repairs:
            repair()
        receipt = net.submit_transaction(pending.transaction).result()
        assert receipt.height == 0 and heights(net) == [1, 1]
        assert [occurrences(p, pending.tx_id) for p in peers] == [1, 1]


def test_quorum_of_three_commits_past_a_failed_peer_which_catches_up_on_open(tmp_path, toy, monkeypatch):
    with ledger.Network.init(tmp_path / "n", subchains=1, peers_per_chain=3, params=toy,
                             auto_interlock=False) as net:
        peers = net.service("edge-0").peers
        fail_writes(monkeypatch, peers[0])  # the proposer's disk fails for good
        receipts = [net.submit("edge-0", b"r%d" % i).result() for i in range(3)]
        assert [r.height for r in receipts] == [0, 1, 2]
        assert heights(net) == [0, 3, 3]
    with ledger.Network.open(tmp_path / "n", auto_interlock=False) as net:
        assert heights(net) == [3, 3, 3]
        for r in receipts:
            assert net.peer("edge-0", 0).receipt(r.tx_id) == r


@pytest.mark.parametrize("failing", [[1], [0], [0, 1]])
def test_a_write_that_reached_disk_is_never_reported_failed(tmp_path, toy, monkeypatch, failing):
    with ledger.Network.init(tmp_path / "n", subchains=1, params=toy, auto_interlock=False) as net:
        peers = net.service("edge-0").peers
        for i in failing:
            fail_writes(monkeypatch, peers[i], landed=True)
        receipt = net.submit("edge-0", b"on disk despite the error").result()
        assert heights(net) == [1, 1]
        assert net.submit("edge-0", b"the next block").result().height == 1
    with ledger.Network.open(tmp_path / "n", auto_interlock=False) as net:
        assert heights(net) == [2, 2] and net.locate(receipt.tx_id) == receipt


def test_a_pending_type2_is_not_sent_twice(tmp_path, toy, monkeypatch):
    with ledger.Network.init(tmp_path / "n", subchains=1, params=toy, auto_interlock=False) as net:
        net.submit("edge-0", b"to anchor").result()
        repair = fail_writes(monkeypatch, net.peer("main", 1))
        with pytest.raises(errors.CommitPending):
            net.interlock()
        repair()
        report = net.interlock()
        assert report.type2 == () and len(report.type3) == 1
        wait_until(lambda: heights(net, "main") == [1, 1])  # caught up while the chain is idle
        assert [len(p.statuses("edge-0")) for p in net.service("main").peers] == [1, 1]


@settings(max_examples=12)
@given(st.lists(st.tuples(st.sets(st.integers(0, 2)), st.booleans(), st.integers(1, 3)), min_size=1, max_size=5))
def test_no_acknowledged_transaction_is_lost_or_duplicated(toy, steps):
    """Blocks under random write failures (any subset of three peers, the write lost or landed):
    every answer matches what the peers hold then, and after repair every transaction is on the
    chain exactly once, where its receipt said."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as monkeypatch:
        path = Path(tmp) / "n"
        with ledger.Network.init(path, subchains=1, peers_per_chain=3, params=toy, auto_interlock=False) as net:
            service = net.service("edge-0")
            repairs, receipts, txs, n = [], {}, [], 0
            for failing, landed, count in steps:
                for repair in repairs:
                    repair()
                repairs = [fail_writes(monkeypatch, service.peers[i], landed=landed) for i in failing]
                batch = [net.record("edge-0", b"tx %d" % (n + i)) for i in range(count)]
                n += count
                txs += batch
                for pending in net.submit_transactions(batch):
                    try:
                        receipts[pending.tx_id] = pending.result()
                        durable = sum(p.height > receipts[pending.tx_id].height for p in service.peers)
                        assert durable >= service.quorum
                    except errors.CommitPending as exc:
                        assert 1 <= exc.durable < service.quorum
                        assert service.leader.receipt(pending.tx_id) == exc.receipt
                    except errors.LedgerError:
                        assert all(p.locate(pending.tx_id) is None for p in service.peers)
            for repair in repairs:
                repair()
            final = [p.result() for p in net.submit_transactions(txs)]
            for tx, receipt in zip(txs, final):
                assert receipts.get(tx.tx_id, receipt) == receipt
            assert len(set(heights(net))) == 1
            leader = service.leader
            on_chain = [t.tx_id for h in range(leader.height) for t in leader.block(h).transactions]
            assert sorted(on_chain) == sorted(tx.tx_id for tx in txs)
        with ledger.Network.open(path, auto_interlock=False) as net:
            assert [net.locate(tx.tx_id) for tx in txs] == final
