"""Reopen from a validated checkpoint: only the blocks above it are re-validated, the rest
pass the hash chain and the signed hash of their bytes, so any changed byte of any stored
block is still caught; `edgeacc revalidate` re-validates everything."""
from __future__ import annotations

import json
import sqlite3

import pytest

import ledger
from ledger.chain import ChainState
from ledger.errors import ArgumentError, ConfigurationError, RollbackDetected, StorageError
from ledger.peer import Peer
from tests import store_tamper


def build(path, toy, blocks=4):
    with ledger.Network.init(path, subchains=1, params=toy, auto_interlock=False) as net:
        for i in range(blocks):
            net.submit("edge-0", b"record %d" % i).result()
        net.interlock()


def count_validations(monkeypatch):
    seen = []
    real = ChainState.validate_block
    monkeypatch.setattr(ChainState, "validate_block",
                        lambda self, block, **kw: seen.append((self.chain_id, block.height)) or real(self, block, **kw))
    return seen


def crash_after_records(net, monkeypatch, records=3):
    """Commit `records` blocks on edge-0, then stop its service as a crash would: no
    checkpoint recorded for them."""
    with monkeypatch.context() as m:
        m.setattr(Peer, "checkpoint_if_behind", lambda self: None)
        for i in range(records):
            net.submit("edge-0", b"after %d" % i).result()
        net.service("edge-0").close()
        net.services.pop("edge-0")


def store(path, peer="edge-0.peer0"):
    return sqlite3.connect(path / "peers" / f"{peer}.sqlite", isolation_level=None)


def test_reopen_validates_only_the_blocks_above_the_checkpoint(tmp_path, toy, monkeypatch):
    path = tmp_path / "net"
    build(path, toy)
    seen = count_validations(monkeypatch)
    with ledger.Network.open(path, auto_interlock=False) as net:
        assert seen == []  # every peer's checkpoint is at its latest block
        crash_after_records(net, monkeypatch)
    seen.clear()
    with ledger.Network.open(path, auto_interlock=False) as net:
        heights = sorted(h for cid, h in seen if cid == "edge-0")
        top = net.height("edge-0")
        assert heights == sorted(list(range(top - 3, top)) * 2)  # the three new blocks, on both peers
        assert net.verify(net.block("edge-0", 0).transactions[0].tx_id, "edge-0").ok
    seen.clear()
    with ledger.Network.open(path, auto_interlock=False, revalidate=True) as net:
        assert len(seen) == sum(2 * net.height(cid) for cid in net.chain_ids)


@pytest.mark.parametrize("where", ["magic", "header", "endorsement", "transaction", "last byte"])
def test_any_changed_byte_below_the_checkpoint_is_caught_on_open(tmp_path, toy, where):
    path = tmp_path / "net"
    build(path, toy)
    data = store_tamper.block(store_tamper.store_path(path, "edge-0.peer0"), 1)
    block = ledger.Block.from_bytes(data)
    offset = {"magic": 0, "header": data.index(block.header.encoded) + 20,
              "endorsement": data.index(block.signed.endorsements[0][1]) + 5,
              "transaction": data.index(block.tx_bytes[0]) + len(block.tx_bytes[0]) // 2,
              "last byte": len(data) - 1}[where]
    tampered = data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1:]
    store_tamper.rewrite(store_tamper.store_path(path, "edge-0.peer0"), 1, data=tampered)
    before = store_tamper.store_bytes(path)
    for revalidate in (False, True):
        with pytest.raises(StorageError, match="edge-0.peer0"):
            ledger.Network.open(path, auto_interlock=False, revalidate=revalidate)
    assert store_tamper.store_bytes(path) == before


def test_a_forged_checkpoint_buys_nothing(tmp_path, toy, monkeypatch):
    path = tmp_path / "net"
    build(path, toy)
    with store(path) as db:
        checkpoint = json.loads(db.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()[0])
    # the operator's edit of a checkpoint (another height, content, or a signature of its own)
    # is not this peer's signature: the peer validates every block again and opens
    seen = count_validations(monkeypatch)
    for change in ({"height": checkpoint["height"] - 1}, {"content": "00" * 32}, {"signature": "11" * 64},
                   {"statuses": "00" * 32}, {"index": "00" * 32}, {"last_record": 0}, {"last_record": "x"},
                   {"content": "00"}):
        with store(path) as db:
            db.execute("UPDATE meta SET value = ? WHERE key = 'checkpoint'", (json.dumps({**checkpoint, **change}),))
        seen.clear()
        with ledger.Network.open(path, auto_interlock=False) as net:
            assert sum(1 for cid, _ in seen if cid == "edge-0") == net.height("edge-0")  # peer0: every block
        with store(path) as db:  # the reopened network recorded a real checkpoint again
            checkpoint = json.loads(db.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()[0])


def test_cli_revalidate(tmp_path, toy, capsys):
    from ledger import cli

    path = tmp_path / "net"
    build(path, toy)
    assert cli.main(["revalidate", str(path)]) == 0
    heights = json.loads(capsys.readouterr().out)
    assert heights["edge-0"] == 5 and heights["main"] >= 1  # four records and a Type-III


def test_a_revocation_backdated_below_the_checkpoint_revalidates_everything(tmp_path, toy):
    """A key found compromised: the operator revokes the client with an early date. Blocks it
    signed after that date are invalid; the checkpoint (validated under the old list) must not
    vouch for them, so the open validates again and refuses."""
    import datetime

    from ledger.network import _pem

    path = tmp_path / "net"
    build(path, toy)
    with ledger.Network.open(path, auto_interlock=False) as net:
        serial = net.trust.by_name("client").certificate.serial_number
        crl = net._ca.revocation_list({serial: datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)})
    (path / "ca" / "crl.pem").write_bytes(_pem(crl))
    with pytest.raises(StorageError, match="fails re-validation"):
        ledger.Network.open(path, auto_interlock=False)


def test_reopen_decodes_no_record_block_below_the_checkpoint(tmp_path, toy, monkeypatch):
    """Below the checkpoint open hashes the stored bytes: it decodes only the blocks that give
    state (the status records, the head, the last Type-I), never the bulk of the records."""
    path = tmp_path / "net"
    build(path, toy, blocks=12)
    decoded = []
    real = ledger.Block.from_bytes.__func__
    monkeypatch.setattr(ledger.Block, "from_bytes",
                        classmethod(lambda cls, data: decoded.append(b := real(cls, data)) or b))
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        heights = {b.height for b in decoded if b.header.chain_id == "edge-0"}
        status = {r.height for r in edge.statuses("main")}
        assert status and heights == {edge.height - 1}  # (the status records are stored, the last Type-I signed)
        assert edge.last_record_height == 11
        decoded.clear()
        # what was not decoded is still served, checked against the digests the state holds
        tx_id = net.block("edge-0", 0).transactions[0].tx_id
        assert net.verify(tx_id, "main").ok and net.transaction(tx_id).tx_id == tx_id


def test_a_stored_index_row_moved_to_another_transaction_is_refused(tmp_path, toy):
    """The store's index answers lookups after open; a row changed under a running peer to
    point at another transaction's place is refused (the block there holds another id), and
    the peer serves nothing from it."""
    path = tmp_path / "net"
    build(path, toy)
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        tx_id = net.block("edge-0", 2).transactions[0].tx_id
        assert edge.locate(tx_id) == (2, 0)
        with store(path) as db:
            store_tamper.index_sql(db, "UPDATE txs SET height = 1 WHERE tx_id = ?", (tx_id,))
        for read in (edge.locate, edge.transaction, edge.receipt):
            with pytest.raises(StorageError, match="holds another"):
                read(tx_id)
        assert edge.height == 5 and edge.block(2).transactions[0].tx_id == tx_id


def test_a_witness_from_its_window_is_the_full_accumulator_s(tmp_path, toy):
    """ChainState builds a witness from v_(h-1) and the elements up to the value it is against;
    it is the one an accumulator of every element gives, alone or with others."""
    import edgeacc

    path = tmp_path / "net"
    build(path, toy, blocks=7)
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        full = edgeacc.Accumulator(net.params, net.deployment.generator("edge-0"))
        for h in range(edge.height):
            full.add(edge.signed_header(h).header.acc_element)
        same = lambda a, b: edgeacc.encode_element(net.params, a) == edgeacc.encode_element(net.params, b)  # (±v)
        assert same(full.value, edge.accumulator_value())
        for h, against in ((0, 0), (0, 7), (3, 5), (7, 7)):
            assert same(edge.block_witness(h, against), full.witness_at(h, against + 1))
        witnesses = edge.block_witnesses([1, 4, 6], 6)
        assert sorted(witnesses) == [1, 4, 6] and all(same(witnesses[h], full.witness_at(h, 7)) for h in witnesses)


def test_reopen_work_is_the_blocks_since_the_checkpoint(tmp_path, toy, monkeypatch):
    """Reopen decodes and validates exactly the blocks above each peer's checkpoint (and
    decodes the head it restores from): its validation work does not grow with the chain."""
    path = tmp_path / "net"
    build(path, toy, blocks=9)
    with ledger.Network.open(path, auto_interlock=False) as net:
        crash_after_records(net, monkeypatch)
    seen, decoded = count_validations(monkeypatch), []
    real = ledger.Block.from_bytes.__func__
    monkeypatch.setattr(ledger.Block, "from_bytes",
                        classmethod(lambda cls, data: decoded.append(b := real(cls, data)) or b))
    with ledger.Network.open(path, auto_interlock=False) as net:
        top = net.height("edge-0")
        since = list(range(top - 3, top))
        assert sorted(h for cid, h in seen if cid == "edge-0") == sorted(since * 2)
        assert not [h for cid, h in seen if cid != "edge-0"]  # (their checkpoints are at their heads)
        edge_decoded = sorted(b.height for b in decoded if b.header.chain_id == "edge-0")
        assert edge_decoded == sorted((since + [top - 4]) * 2)  # (and each peer's checkpointed head)


def cut_back_below_the_checkpoint(path, toy, peers=("edge-0.peer0", "edge-0.peer1")):
    """Two unanchored records after the interlocking round, a clean close (checkpoints at the
    heads), then the logs of `peers` cut back by one block: the other layer anchors nothing
    there, only the peers' own checkpoints know the height they validated. Returns edge-0's
    height before the cut."""
    build(path, toy)
    with ledger.Network.open(path, auto_interlock=False) as net:
        for i in range(2):
            net.submit("edge-0", b"unanchored %d" % i).result()
        top = net.height("edge-0")
    for peer in peers:
        store_tamper.truncate(store_tamper.store_path(path, peer), top - 1)
    return top


@pytest.mark.parametrize("revalidate", [False, True])
def test_a_log_cut_back_below_its_own_checkpoint_is_refused(tmp_path, toy, revalidate):
    """The old open re-validated the shorter log and opened at its height, and its next
    checkpoint erased the evidence. Refused now (even with a full re-validation), naming both
    heights, and nothing is written."""
    path = tmp_path / "net"
    top = cut_back_below_the_checkpoint(path, toy)
    before = store_tamper.store_bytes(path)
    with pytest.raises(RollbackDetected, match=f"edge-0.peer0.sqlite: its log holds {top - 1} blocks "
                       f"\\(heights 0..{top - 2}\\), but this peer's signed checkpoint vouches for block {top - 1}"
                       ) as info:
        ledger.Network.open(path, auto_interlock=False, revalidate=revalidate)
    assert (info.value.chain_id, info.value.height, info.value.found) == ("edge-0", top - 1, None)
    assert "`edgeacc repair DIR edge-0.peer0`" in str(info.value)  # (what to do about it)
    assert store_tamper.store_bytes(path) == before


def test_a_cut_back_log_is_refused_after_a_revocation_voids_the_checkpoints(tmp_path, toy):
    """A revocation dated before the checkpoints (of a certificate that signed nothing) makes
    them stand for nothing: every block is validated again. They are still the peers' own
    word on the heights they held, so the cut-back log is refused all the same."""
    import datetime

    from ledger.identity import CertificateAuthority, load_certificate, load_private_key
    from ledger.network import _pem

    path = tmp_path / "net"
    top = cut_back_below_the_checkpoint(path, toy)
    ca = CertificateAuthority(load_private_key(path / "ca" / "ca.key"), load_certificate(path / "ca" / "ca.crt"))
    unused = ca.issue("unused sensor", "device", "edge-0")
    crl = ca.revocation_list({unused.certificate.serial_number: datetime.datetime(2000, 1, 1,
                                                                                  tzinfo=datetime.timezone.utc)})
    (path / "ca" / "crl.pem").write_bytes(_pem(crl))
    before = store_tamper.store_bytes(path)
    with pytest.raises(RollbackDetected, match=f"vouches for block {top - 1}"):
        ledger.Network.open(path, auto_interlock=False)
    assert store_tamper.store_bytes(path) == before


def test_a_repair_must_reach_the_checkpointed_block(tmp_path, toy):
    """The explicit repair opens a cut-back peer at what it holds and catches it up from the
    chain's other peers; when they are cut back too, the repair fails (StorageError) and the
    checkpoint, the evidence, is kept: the next open refuses again."""
    path = tmp_path / "net"
    top = cut_back_below_the_checkpoint(path, toy)
    checkpoints = {p: store_tamper.store_path(path, p) for p in ("edge-0.peer0", "edge-0.peer1")}
    kept = {p: sqlite3.connect(f).execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
            for p, f in checkpoints.items()}
    with pytest.raises(RollbackDetected, match=f"no copy holds block {top - 1} .*which edge-0.peer0's signed checkpoint"):
        ledger.Network.open(path, auto_interlock=False, repair=list(checkpoints))
    assert {p: sqlite3.connect(f).execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
            for p, f in checkpoints.items()} == kept
    with pytest.raises(RollbackDetected, match=f"vouches for block {top - 1}"):
        ledger.Network.open(path, auto_interlock=False)


@pytest.mark.parametrize("repair,error", [("edge-0.peer0", ArgumentError), (["nobody"], ConfigurationError),
                                          (3, ArgumentError), ([None], ArgumentError)])
def test_repair_takes_peer_names_only(tmp_path, toy, repair, error):
    path = tmp_path / "net"
    build(path, toy, blocks=1)
    with pytest.raises(error, match="repair"):
        ledger.Network.open(path, auto_interlock=False, repair=repair)


def test_cli_repair(tmp_path, toy, capsys):
    from ledger import cli

    path = tmp_path / "net"
    top = cut_back_below_the_checkpoint(path, toy, peers=["edge-0.peer1"])
    assert cli.main(["status", str(path)]) == 2
    err = capsys.readouterr().err
    assert "edge-0.peer1.sqlite: its log holds" in err and "`edgeacc repair DIR edge-0.peer1`" in err
    assert cli.main(["repair", str(path), "edge-0.peer1"]) == 0
    assert json.loads(capsys.readouterr().out)["edge-0"] == top
    assert cli.main(["status", str(path)]) == 0
