"""ledger.recent.Recent: the bounded memory of what a long-lived process checked, and the caches
that use it (a flood of distinct entries must not grow a peer's, endorser's or client's memory)."""
import doctest

import pytest
from hypothesis import given, strategies as st

import ledger.recent
from ledger.errors import ArgumentError
from ledger.recent import Recent


def test_doctest_runs():
    result = doctest.testmod(ledger.recent)
    assert result.attempted > 0 and result.failed == 0


@given(st.integers(1, 8), st.lists(st.tuples(st.integers(0, 20), st.booleans()), max_size=60))
def test_keeps_exactly_the_newest_keys(limit, operations):
    recent, model = Recent(limit), {}  # model: an insertion-ordered dict trimmed by hand
    for key, drop in operations:
        if drop:
            recent.discard(key)
            model.pop(key, None)
        else:
            recent[key] = -key
            model.pop(key, None)
            model[key] = -key
            while len(model) > limit:
                del model[next(iter(model))]
        assert len(recent) == len(model) <= limit
        assert all(k in recent and recent[k] == recent.get(k) == v for k, v in model.items())
        assert all(k not in recent and recent.get(k, "none") == "none" for k in range(21) if k not in model)


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, None, "3"])
def test_a_limit_below_one_or_not_an_int_is_refused(limit):
    with pytest.raises(ArgumentError):
        Recent(limit)


def test_a_peers_admissions_are_bounded(tmp_path, monkeypatch):
    """Admitted transactions never proposed (a cutter that loses its term with a queue, a client
    that floods admissions) are forgotten oldest first; a forgotten one is verified again."""
    import os
    import time

    import ledger
    import ledger.peer
    from ledger.tx import Transaction, TxKind

    monkeypatch.setattr(ledger.peer, "ADMITTED_KEPT", 5)
    with ledger.Network.init(tmp_path / "net", subchains=1, peers_per_chain=2, auto_interlock=False) as net:
        me = net.identity("trainer", "client")
        peer = ledger.peer.Peer(net.peer("edge-0", 0).deployment, net.peer("edge-0", 0).identity,
                                net.peer("edge-0", 0).store)
        txs = [Transaction.create(me, TxKind.RECORD, "edge-0", os.urandom(8), timestamp_ms=int(time.time() * 1000),
                                  nonce=i) for i in range(12)]
        for tx in txs:
            peer.admit(tx)
        assert len(peer._admitted) == 5
        assert [(tx.tx_id, tx.signature) in peer._admitted for tx in txs] == [False] * 7 + [True] * 5
        block, rejected = peer.propose(txs)  # every one still valid: the forgotten are verified again
        assert rejected == [] and block.header.tx_count == 12
