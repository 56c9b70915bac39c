"""Red-team attacks on the ledger split, reopen-from-checkpoint and historical anchors: an
operator editing a running peer's store or garbling its checkpoint, a header rewritten below
the checkpoint, a checkpoint vouching for blocks dated after it, and a dishonest holder
answering with the wrong number of proofs or locating a transaction later than its block to
have it checked under a later anchor than the first."""
from __future__ import annotations

import sqlite3

import pytest

import ledger
from ledger.errors import StorageError
from tests import store_tamper
from tests.test_ledger_verifier import net  # noqa: F401  (the fixture: two sub-chains)


def committed(net, chain, n):
    return [net.submit(chain, b"%s %d" % (chain.encode(), i)).result().tx_id for i in range(n)]


def real_height(peer, tx_id):
    return peer.state.locate(tx_id)[0]


def heights(net):
    return {cid: [p.height for p in net.service(cid).peers] for cid in net.chain_ids}


def stored_rows(peer):
    return store_tamper.rows(peer.store.path)


def overwrite(peer, height, data):
    store_tamper.rewrite(peer.store.path, height, data=data)


@pytest.mark.parametrize("answer", ["none", "one too many", "not a list"])
def test_a_prover_answering_the_wrong_number_of_proofs_gets_a_rejection(net, monkeypatch, answer):
    """A holder is a prover: fewer proofs than asked used to leave a transaction without a
    verdict (verify raised a bare KeyError), and verify_many dropped it silently."""
    ids = committed(net, "edge-0", 3)
    net.interlock()
    holder = net.service("edge-0").leader
    honest = holder.inclusion_proofs

    def dishonest(tx_ids, against):
        proofs = honest(tx_ids, against)
        return {"none": [], "one too many": proofs + proofs[:1], "not a list": None}[answer]

    monkeypatch.setattr(holder, "inclusion_proofs", dishonest)
    before = heights(net)
    verdict = net.verify(ids[0], "edge-1")
    assert not verdict.ok and verdict.code == "unavailable" and verdict.tx_id == ids[0]
    verdicts = net.verify_many(ids, "edge-1")
    assert set(verdicts) == set(ids) and not any(v.ok for v in verdicts.values())
    assert heights(net) == before


def test_a_block_swapped_in_a_running_peers_store_is_never_served(net):
    """The operator of a running peer overwrites a stored block with another valid block of
    the same chain. Headers read back were checked against the validated digests, whole blocks
    were not: proofs, the Type-III anchors the verifier trusts and the revocation scan read
    whatever the file held."""
    committed(net, "main", 1)
    ids = committed(net, "edge-0", 2)
    net.interlock()
    main = net.service("main").leader
    rows = stored_rows(main)
    assert len(rows) >= 2
    overwrite(main, rows[-1][0], rows[0][2])  # main's latest block (with a Type-II) := block 0
    with pytest.raises(StorageError, match="not the one this peer validated|changed under it"):
        net.block("main", rows[-1][0])
    assert not any(v.ok for v in net.verify_many(ids, "edge-1").values())
    overwrite(main, rows[-1][0], rows[-1][2])  # restored: served again
    assert all(v.ok for v in net.verify_many(ids, "edge-1").values())


def test_a_type3_swapped_in_the_verifiers_own_store_is_not_trusted(net):
    """The verifier chain's own Type-III is its anchor of trust (acc_M); a block of its store
    exchanged for another must not supply it."""
    ids = committed(net, "edge-0", 2)
    net.interlock()
    committed(net, "edge-1", 1)
    own = net.service("edge-1").leader
    record = own.statuses(net.main_chain_id)[-1]
    rows = stored_rows(own)
    other = next(data for height, _, data in rows if height != record.height)
    overwrite(own, record.height, other)
    before = heights(net)
    verdicts = net.verify_many(ids, "edge-1")
    assert not any(v.ok for v in verdicts.values())
    with pytest.raises(StorageError):
        own.transaction(record.tx_id)
    assert heights(net) == before


def test_a_truncated_block_in_a_running_peers_store_is_a_storage_error(net):
    committed(net, "edge-0", 1)
    peer = net.service("edge-0").leader
    height, _, data = stored_rows(peer)[0]
    overwrite(peer, height, data[:-3])
    with pytest.raises(StorageError, match="no longer decodes|changed under it"):
        peer.block(height)


def test_a_checkpoint_does_not_vouch_for_blocks_dated_after_its_revocations(tmp_path, toy, monkeypatch):
    """A proposer may date blocks up to MAX_CLOCK_SKEW_MS ahead. The checkpoint signed the
    revocations effective at its own (earlier) time, so a revocation dated between the
    checkpoint and such a block, which a full re-validation refuses the block for, slipped
    past the shortcut."""
    import datetime

    import ledger.chain
    from ledger.network import _pem

    path = tmp_path / "net"
    real_now = ledger.chain.now_ms
    start = real_now()
    with monkeypatch.context() as m:
        m.setattr(ledger.chain, "now_ms", lambda: real_now() + 40_000)  # blocks dated 40 s ahead
        with ledger.Network.init(path, subchains=1, params=toy, auto_interlock=False) as net:
            net.submit("edge-0", b"dated ahead").result()
            serial = net.trust.by_name("client").certificate.serial_number
            revoked_at = datetime.datetime.fromtimestamp((start + 20_000) / 1000, datetime.timezone.utc)
            crl = net._ca.revocation_list({serial: revoked_at})
    (path / "ca" / "crl.pem").write_bytes(_pem(crl))
    before = store_tamper.store_bytes(path)
    for revalidate in (True, False):  # the shortcut refuses what the full re-validation refuses
        with pytest.raises(StorageError, match="fails re-validation"):
            ledger.Network.open(path, auto_interlock=False, revalidate=revalidate)
    assert store_tamper.store_bytes(path) == before


@pytest.mark.parametrize("field", [{"acc_value": b"\x00"}, {"acc_element": 4}, {"acc_element": 0}])
def test_a_rewritten_header_below_the_checkpoint_is_a_storage_error_naming_the_store(tmp_path, toy, field):
    """The operator rewrites a header below the checkpoint and its digest column: the hash
    chain catches it at the next block, but applying the forged header came first and its
    EdgeaccError escaped load unnamed instead of the StorageError naming the store."""
    import dataclasses

    path = tmp_path / "net"
    with ledger.Network.init(path, subchains=1, params=toy, auto_interlock=False) as net:
        for i in range(3):
            net.submit("edge-0", b"record %d" % i).result()
    store = store_tamper.store_path(path, "edge-0.peer0")
    block = ledger.Block.from_bytes(store_tamper.block(store, 1))
    header = dataclasses.replace(block.header, **field)
    forged = ledger.Block(ledger.SignedHeader(header, block.signed.endorsements), block.transactions)
    store_tamper.rewrite(store, 1, data=forged.to_bytes(), digest=forged.digest)
    before = store_tamper.store_bytes(path)
    for revalidate in (False, True):
        with pytest.raises(StorageError, match="edge-0.peer0"):
            ledger.Network.open(path, auto_interlock=False, revalidate=revalidate)
    assert store_tamper.store_bytes(path) == before


@pytest.mark.parametrize("value", ["[" * 100_000, '{"height": -1}', '{"height": 1180591620717411303424}',
                                   '{"time_ms": -5}', "3", '{"digest": 7}'])
def test_a_garbled_checkpoint_is_ignored(tmp_path, toy, value):
    """Whatever the operator writes as the checkpoint, the peer validates every block again
    and opens: a deeply nested JSON (RecursionError) or a height that does not fit the
    signed message (OverflowError) escaped load."""
    import json

    path = tmp_path / "net"
    with ledger.Network.init(path, subchains=1, params=toy, auto_interlock=False) as net:
        net.submit("edge-0", b"record").result()
    db = sqlite3.connect(path / "peers" / "edge-0.peer0.sqlite", isolation_level=None)
    try:
        real = json.loads(db.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()[0])
        if value.startswith("{"):
            value = json.dumps({**real, **json.loads(value)})
        db.execute("UPDATE meta SET value = ? WHERE key = 'checkpoint'", (value,))
    finally:
        db.close()
    with ledger.Network.open(path, auto_interlock=False) as net:
        assert net.height("edge-0") == 1 and net.verify(net.block("edge-0", 0).transactions[0].tx_id, "edge-0").ok


@pytest.mark.parametrize("chain", ["edge-0", "main"])
def test_a_holder_locating_a_transaction_later_cannot_pick_a_later_anchor(net, monkeypatch, chain):
    """The anchors are chosen by the height the holder's locate() names, which proves
    nothing: a holder naming a later block had an old transaction accepted under a later
    Type-II (or Type-III), the route by which a chain that forked after its first anchor
    proves a block that anchor does not hold."""
    from ledger.chain import Receipt

    tx_id = committed(net, chain, 1)[0]
    net.interlock()
    committed(net, chain, 3)
    net.interlock()
    holder = net.service(chain).leader
    anchors = (net.service("main").leader.statuses(chain) if chain != "main"
               else net.service("edge-1").leader.statuses("main"))
    later = anchors[-1].source_height  # covered by the last anchor only
    assert later > real_height(holder, tx_id) and anchors[0].source_height >= real_height(holder, tx_id)
    real_locate = holder.state.locate
    monkeypatch.setattr(holder, "locate", lambda t: (later, 0) if t == tx_id else real_locate(t))
    # the proofs it serves are honest ones, for the block that really holds the transaction
    monkeypatch.setattr(holder, "receipt", lambda t: Receipt(t, chain, *real_locate(t), holder.digest(real_locate(t)[0])))
    before = heights(net)
    verdict = net.verify(tx_id, "edge-1")
    assert not verdict.ok and verdict.code == "later-anchor", verdict
    assert not net.verify_many([tx_id], "edge-1")[tx_id].ok
    assert heights(net) == before
    monkeypatch.undo()
    assert net.verify(tx_id, "edge-1").ok
