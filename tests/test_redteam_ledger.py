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


# --- 4. the CLI on CommitPending: says how to complete, never signs the record again ----------

def test_cli_submit_below_quorum_exits_3_and_reopening_completes_it(tmp_path, capsys, monkeypatch):
    from ledger import cli
    from ledger.store import PeerStore

    d = tmp_path / "net"
    assert cli.main(["init", str(d), "--subchains", "1", "--peers", "2"]) == 0
    real = PeerStore.append

    def full_disk(store, *args):
        if store.path.name == "edge-0.peer1.sqlite":
            raise errors.StorageError("disk full (simulated)")
        return real(store, *args)

    monkeypatch.setattr(PeerStore, "append", full_disk)
    capsys.readouterr()
    assert cli.main(["submit", str(d), "--chain", "edge-0", "--data", "once"]) == cli.EXIT_PENDING
    out = capsys.readouterr()
    tx_id = out.out.split()[0]
    assert "pending (1 of 2 peers)" in out.out and "do not submit them again" in out.err
    monkeypatch.setattr(PeerStore, "append", real)
    assert cli.main(["status", str(d)]) == 0  # opening catches edge-0.peer1 up
    with ledger.Network.open(d, auto_interlock=False) as net:
        assert [p.height for p in net.service("edge-0").peers] == [1, 1]
        assert net.locate(tx_id).height == 0
        assert net.peer("edge-0").block(0).transactions[0].payload == b"once"


# --- 5. Protocol 1 reads each chain from its most advanced validated peer ----------------------

def test_verifiers_read_the_leader_not_a_lagging_peer_0(net, monkeypatch):
    from test_ledger_commit import fail_writes

    for chain in ("edge-0", "main", "edge-1"):
        fail_writes(monkeypatch, net.peer(chain, 0))  # peer 0's disk is full from now on
    tx_id = net.submit("edge-0", b"while peer 0 lags").result().tx_id
    net.interlock()
    assert all(net.peer(c, 0).height < net.service(c).leader.height for c in ("edge-0", "main", "edge-1"))
    for chain in ("edge-0", "edge-1", "main"):
        assert net.verify(tx_id, chain).ok, chain
    assert net.verify_many([tx_id], "edge-1")[tx_id].ok


def test_verify_many_never_raises_for_missing_blocks(net, monkeypatch):

    tx_id = net.submit("edge-0", b"to be cut").result().tx_id
    net.interlock()
    for p in net.service("edge-0").peers:
        monkeypatch.setattr(p.store, "get", lambda height: None)
    verdict = net.verify_many([tx_id], "edge-1")[tx_id]
    assert not verdict.ok and verdict.code == "not-found"


# --- 2/6. concurrent revocations are all kept; re-revoking never moves a date later ------------

def test_concurrent_revocations_are_not_lost(net, monkeypatch):
    import threading
    import time

    import ledger.network as network_module

    real = network_module.load_revocation_list

    def slow(path):  # widen the read-modify-write window
        crl = real(path)
        time.sleep(0.05)
        return crl

    monkeypatch.setattr(network_module, "load_revocation_list", slow)
    names = [f"device-{i}" for i in range(4)]
    for name in names:
        net.identity(name, role="device")
    first = {}
    threads = [threading.Thread(target=net.revoke, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    crl = real(net.path / "ca" / "crl.pem")
    serials = {net.trust.by_name(n).certificate.serial_number for n in names}
    first = {r.serial_number: r.revocation_date_utc for r in crl}
    assert serials <= set(first)
    time.sleep(1.1)
    net.revoke(names[0])
    again = {r.serial_number: r.revocation_date_utc for r in real(net.path / "ca" / "crl.pem")}
    assert again == first


# --- 1/13. objects mutated after construction, at every entry point that takes one -------------

import re  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ledger.block import SubchainStatus, reported_header  # noqa: E402
from ledger.protocol1 import InclusionProof, verify_inclusion  # noqa: E402

_HOSTILE = [None, 5, -1, 2 ** 4100, [2 ** 20000], True, 3.5, "text", "ab" * 32, b"", bytes(32), bytes(64), [], (b"a", b"b"),
            ((bytes(32), bytes(64)),), object(), "<deleted>"]
_ATTRIBUTES = {
    "tx": ["kind", "chain_id", "submitter", "timestamp_ms", "nonce", "payload", "object_digest", "object_url",
           "signature", "_body", "tx_id", "leaf"],
    "block": ["signed", "transactions", "tx_bytes", "leaves", "encoded"],
    "signed": ["header", "endorsements"],
    "header": ["chain_id", "height", "acc_element", "acc_nonce", "acc_value", "_content", "_encoded", "digest",
               "merkle_root", "tx_count"],
    "proof": ["chain_id", "tx", "header", "position", "path", "witness", "against_height"],
    "ref": ["digest", "url"],
}


@pytest.fixture(scope="module")
def fuzz_net(tmp_path_factory, toy):
    with ledger.Network.init(tmp_path_factory.mktemp("redteam") / "net", subchains=1, params=toy,
                             auto_interlock=False) as network:
        network.submit("edge-0", b"r").result()
        network.interlock()
        yield network


def _fresh_objects(net):
    peer = net.peer("edge-0")
    tx = net.record("edge-0", b"new")
    block = Block.from_bytes(peer.block(0).to_bytes())
    proof = peer.inclusion_proof(block.transactions[0].tx_id)
    return {"tx": tx, "block": block, "signed": SignedHeader.from_bytes(peer.latest().to_bytes()),
            "header": SignedHeader.from_bytes(peer.latest().to_bytes()).header, "proof": proof,
            "ref": net.put_object(b"obj")}


def _no_huge_number(exc):
    assert not re.search(r"\d{100}", str(exc)), str(exc)[:200]


@settings(max_examples=int(__import__("os").environ.get("RT_EXAMPLES", 60)), deadline=None)
@given(kind=st.sampled_from(sorted(_ATTRIBUTES)), data=st.data())
def test_mutated_objects_raise_only_ledger_errors_and_change_nothing(fuzz_net, kind, data):
    net = fuzz_net
    objects = _fresh_objects(net)
    target = objects[kind]
    name = data.draw(st.sampled_from(_ATTRIBUTES[kind]), label="attribute")
    value = data.draw(st.sampled_from(_HOSTILE), label="value")
    if value == "<deleted>":
        target.__dict__.pop(name, None)
    else:
        object.__setattr__(target, name, value)
    if kind == "header":
        object.__setattr__(objects["signed"], "header", target)
    heights = {cid: [p.height for p in s.peers] for cid, s in net.services.items()}
    peer = net.peer("edge-0")
    tx, block, signed, proof, ref = (objects[k] for k in ("tx", "block", "signed", "proof", "ref"))
    calls = [lambda: peer.admit(tx), lambda: peer.check_transaction(tx), lambda: peer.propose([tx]),
             lambda: reported_header(tx),
             lambda: peer.run_validators(tx), lambda: peer.validate_block(block), lambda: peer.endorse(block),
             lambda: peer.commit(block), lambda: InclusionProof.for_transaction(block, 0, 1, 0),
             lambda: net.deployment.check_endorsements(signed, None), lambda: net.deployment.check_endorsed(signed),
             lambda: SubchainStatus(signed).to_bytes(),
             lambda: verify_inclusion(net.params, proof, "edge-0", peer.accumulator_value(), peer.height - 1),
             lambda: check_cross_chain(net.params, tx_id=bytes(32), chain_id="edge-0", main_chain_id="main",
                                       main_status=signed, status_proof=proof, tx_proof=proof),
             lambda: net.get_object(ref)]
    for call in calls:
        try:
            call()
        except errors.LedgerError as exc:
            _no_huge_number(exc)
    assert {cid: [p.height for p in s.peers] for cid, s in net.services.items()} == heights
    try:  # what commits is the decoding of the signed bytes
        receipt = net.submit_transaction(tx).result(5)
    except errors.LedgerError as exc:
        _no_huge_number(exc)
    else:
        assert net.transaction(receipt.tx_id).to_bytes() == Transaction.to_bytes(tx)


# --- 3. a hand-edited manifest or swapped identity files fail on open, naming the problem ------

import json  # noqa: E402
import shutil  # noqa: E402


def _edit_manifest(manifest, variant):
    edge0 = next(c for c in manifest["chains"] if c["id"] == "edge-0")
    if variant == "peer listed twice":
        edge0["peers"] = [edge0["peers"][0]] * 2
    elif variant == "peer of another chain":
        edge0["peers"][1] = "main.peer1"
    elif variant == "threshold above the peers":
        edge0["threshold"] = 3
    elif variant == "threshold zero":
        edge0["threshold"] = 0
    elif variant == "chain twice":
        manifest["chains"].append(dict(edge0))
    elif variant == "block size not a number":
        manifest["max_block_txs"] = "2000"
    elif variant == "interlock not numbers":
        manifest["interlock"] = {"blocks": "50", "seconds": None}
    return manifest


@pytest.mark.parametrize("variant", ["peer listed twice", "peer of another chain", "threshold above the peers",
                                     "threshold zero", "chain twice", "block size not a number",
                                     "interlock not numbers", "identity files swapped"])
def test_hand_edited_deployments_fail_on_open(tmp_path, toy, variant):
    path = tmp_path / "net"
    with ledger.Network.init(path, subchains=1, peers_per_chain=2, params=toy, auto_interlock=False) as net:
        net.submit("edge-0", b"r").result()
    original = (path / "network.json").read_bytes()
    ids = path / "identities"
    if variant == "identity files swapped":
        for ext in ("crt", "key"):
            shutil.copy(ids / f"edge-0.peer1.{ext}", ids / f"edge-0.peer0.{ext}")
    else:
        (path / "network.json").write_text(json.dumps(_edit_manifest(json.loads(original), variant)))
    with pytest.raises(errors.StorageError):
        ledger.Network.open(path, auto_interlock=False).close()


# --- 6. the object store: a file planted at an object's path never passes for the object -------

@pytest.mark.parametrize("planted", ["wrong bytes", "symlink elsewhere", "dangling symlink"])
def test_put_replaces_whatever_was_planted_at_the_objects_path(tmp_path, planted):
    import hashlib
    import os

    from ledger.objects import ObjectStore

    store = ObjectStore((tmp_path / "objects").as_uri())
    data = b"the model"
    digest = hashlib.sha256(data).digest()
    target = tmp_path / "objects" / digest.hex()[:2] / digest.hex()
    target.parent.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.write_bytes(b"not the model")
    if planted == "wrong bytes":
        target.write_bytes(b"not the model")
    else:
        os.symlink(outside if planted == "symlink elsewhere" else tmp_path / "missing", target)
    with pytest.raises((errors.ObjectIntegrityError, errors.NotFound)):
        store.get(digest)
    ref = store.put(data)
    assert store.get(ref) == data and not target.is_symlink()
    assert outside.read_bytes() == b"not the model"  # the link's target is left alone
