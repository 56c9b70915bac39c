"""Durable storage: reopening re-validates everything, tampering with one byte of a peer's
block log or SQLite file or of an object is detected, and a process killed with SIGKILL at random moments
loses nothing it reported committed."""
import random
import signal
import subprocess
import sys
import time

import pytest

import ledger
from ledger import errors
from tests import store_tamper

MARKER = b"TAMPER-ME-PLEASE-0123456789"


def snapshot(net):
    return {(cid, p.name): (p.height, p.latest().header.digest if p.latest() else None)
            for cid, s in net.services.items() for p in s.peers}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A closed deployment with records on both sub-chains, interlocked; returns (path, facts)."""
    path = tmp_path_factory.mktemp("store") / "net"
    with ledger.Network.init(path, subchains=2, auto_interlock=False) as net:
        ref = net.put_object(b"bulk reading " * 100)
        receipts = [net.submit("edge-0", MARKER, obj=ref).result()]
        receipts += [p.result() for p in [net.submit("edge-1", b"r%d" % i) for i in range(10)]]
        net.interlock()
        facts = {"snapshot": snapshot(net), "receipts": receipts, "ref": ref}
    return path, facts


def test_reopen_revalidates_and_keeps_everything(stored):
    path, facts = stored
    with ledger.Network.open(path, auto_interlock=False) as net:
        assert snapshot(net) == facts["snapshot"]
        for r in facts["receipts"]:
            assert net.locate(r.tx_id) == r
            assert net.verifier("edge-1" if r.chain_id == "edge-0" else "edge-0").verify(r.tx_id).ok
        assert net.get_object(facts["ref"]) == b"bulk reading " * 100


def _flip(file, offset):
    with open(file, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def test_one_byte_in_a_stored_block_is_detected(stored):
    path, _ = stored
    log = store_tamper.log_of(path / "peers" / "edge-0.peer1.sqlite")
    data = log.read_bytes()
    offset = data.find(MARKER)
    assert offset > 0, "the record should sit in the block log"
    _flip(log, offset + 3)
    try:
        with pytest.raises(errors.StorageError, match="edge-0.peer1.blocks: block 0 fails its checksum"):
            ledger.Network.open(path, auto_interlock=False)
    finally:
        _flip(log, offset + 3)
    ledger.Network.open(path, auto_interlock=False).close()


@pytest.mark.parametrize("peer, suffix", [("edge-0.peer0", ".sqlite"), ("main.peer1", ".sqlite"),
                                          ("edge-0.peer0", ".blocks"), ("main.peer1", ".blocks")])
def test_random_byte_flips_are_detected_or_harmless(stored, peer, suffix):
    """Any single flipped byte of the SQLite file or the block log either makes open fail
    with a LedgerError or leaves the validated state identical (bytes SQLite does not use)."""
    path, facts = stored
    db = path / "peers" / f"{peer}{suffix}"
    size = db.stat().st_size
    rng = random.Random(peer)
    for _ in range(12):
        offset = rng.randrange(size)
        _flip(db, offset)
        try:
            with ledger.Network.open(path, auto_interlock=False) as net:
                assert snapshot(net) == facts["snapshot"], f"flip at {offset} changed the chain silently"
        except errors.LedgerError:
            pass  # detected
        finally:
            _flip(db, offset)
    with ledger.Network.open(path, auto_interlock=False) as net:
        assert snapshot(net) == facts["snapshot"]


def test_tampered_object_is_detected(tmp_path):
    with ledger.Network.init(tmp_path / "n", subchains=1, auto_interlock=False) as net:
        ref = net.put_object(b"checkpoint bytes")
        receipt = net.submit("edge-0", b"meta", obj=ref).result()
        tx = net.transaction(receipt.tx_id)
        assert (tx.object_digest, tx.object_url) == (ref.digest, ref.url)
        h = ref.digest.hex()
        obj_file = tmp_path / "n" / "objects" / h[:2] / h
        obj_file.write_bytes(b"checkpoint bytez")
        with pytest.raises(errors.ObjectIntegrityError):
            net.get_object(tx.object_digest)
        obj_file.unlink()
        with pytest.raises(errors.NotFound):
            net.get_object(ref)


def test_lagging_peer_catches_up_on_open(tmp_path):
    with ledger.Network.init(tmp_path / "n", subchains=1, auto_interlock=False) as net:
        receipts = [net.submit("edge-0", b"r%d" % i).result() for i in range(3)]
    # as if the process died between the two peers' commits (before the checkpoints of the
    # close: a crash leaves none above the blocks stored)
    store_tamper.truncate(tmp_path / "n" / "peers" / "edge-0.peer1.sqlite", 2)
    store_tamper.drop_checkpoint(tmp_path / "n" / "peers" / "edge-0.peer1.sqlite")
    with ledger.Network.open(tmp_path / "n", auto_interlock=False) as net:
        assert [p.height for p in net.service("edge-0").peers] == [3, 3]
        assert net.peer("edge-0", 1).locate(receipts[2].tx_id) == (2, 0)


def test_damaged_directory_fails_cleanly(tmp_path):
    with ledger.Network.init(tmp_path / "n", subchains=1, auto_interlock=False):
        pass
    (tmp_path / "n" / "network.json").write_text("{not json")
    with pytest.raises(errors.StorageError):
        ledger.Network.open(tmp_path / "n")
    (tmp_path / "n" / "network.json").write_text('{"format": "something else"}')
    with pytest.raises(errors.StorageError):
        ledger.Network.open(tmp_path / "n")


# --- SIGKILL at random moments ----------------------------------------------------------

CHILD = r"""
import random, sys, time
import ledger
net = ledger.Network.open(sys.argv[1], auto_interlock=False)
rng = random.Random(int(sys.argv[2]))
print("ready", flush=True)
i = 0
deadline = time.monotonic() + 20  # never outlive a parent that died before killing us
while time.monotonic() < deadline:
    chain = rng.choice(["edge-0", "edge-1"])
    pending = [net.submit(chain, b"crash %s %d" % (sys.argv[2].encode(), i + j)) for j in range(rng.randint(1, 12))]
    i += len(pending)
    receipts = [p.result() for p in pending]
    if rng.random() < 0.25:
        report = net.interlock()
        receipts += list(report.type2 + report.type3)
    for r in receipts:
        print("ok", r.tx_id.hex(), r.chain_id, r.height, r.block_digest.hex(), flush=True)
"""


def crash_rounds(path, rounds, seed):
    rng = random.Random(seed)
    reported = {}
    for k in range(rounds):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(seed * 1000 + k)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert child.stdout.readline() == b"ready\n", child.stderr.read().decode()
            time.sleep(rng.uniform(0.0, 0.25))
        finally:
            child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=60)
        assert child.returncode == -signal.SIGKILL
        for line in out.split(b"\n")[:-1]:  # a line cut by the kill has no newline: not reported
            _, tx_id, chain, height, digest = line.decode().split()
            reported[tx_id] = (chain, int(height), digest)
        with ledger.Network.open(path, auto_interlock=False) as net:  # re-validates every block
            for tx_id, (chain, height, digest) in reported.items():
                r = net.locate(tx_id)
                assert (r.chain_id, r.height, r.block_digest.hex()) == (chain, height, digest)
            for service in net.services.values():
                assert len({p.height for p in service.peers}) == 1
    return reported


def fresh_network(path):
    with ledger.Network.init(path, subchains=2, auto_interlock=False):
        pass
    return path


def test_sigkill_loses_nothing_reported(tmp_path):
    reported = crash_rounds(fresh_network(tmp_path / "n"), rounds=20, seed=1)
    assert len(reported) > 20


@pytest.mark.slow
def test_sigkill_loses_nothing_reported_many_rounds(tmp_path):
    """60 more kills, on three deployments so reopening stays quick."""
    for k in range(3):
        reported = crash_rounds(fresh_network(tmp_path / f"n{k}"), rounds=20, seed=10 + k)
        assert len(reported) > 20


@pytest.mark.parametrize("manifest", ["[]", '{"format": "edgeacc-ledger/1"}',
                                      '{"format": "edgeacc-ledger/1", "params": 5, "chains": []}'])
def test_malformed_manifest_fails_cleanly(tmp_path, manifest):
    with ledger.Network.init(tmp_path / "n", subchains=1, auto_interlock=False):
        pass
    (tmp_path / "n" / "network.json").write_text(manifest)
    with pytest.raises(errors.StorageError):
        ledger.Network.open(tmp_path / "n")
