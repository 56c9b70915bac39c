"""Attacks on the ledger's trust boundaries (issue 9, ledger points 1, 2, 5, 6 and 13): each
test mounts the attack and asserts the rejection and that chains, stores and objects are
unchanged."""
import dataclasses
import datetime
import os
import stat
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import edgeacc
import ledger
from ledger import errors
from ledger.block import Block, BlockHeader, SignedHeader, SubchainStatus
from ledger.chain import now_ms
from ledger.identity import _name, save_certificate, save_private_key
from ledger.objects import ObjectRef, ObjectStore
from ledger.protocol1 import InclusionProof, check_cross_chain, verify_inclusion
from ledger.tx import Transaction, TxKind


def snapshot(net):
    """Height, latest digest and stored height of every peer, and the stored transaction ids."""
    return {p.name: (p.height, p.latest().header.digest if p.latest() else None, p.store.height(),
                     frozenset(p.store.tx_index()))
            for s in net.services.values() for p in s.peers}


@pytest.fixture
def net(tmp_path, toy):
    with ledger.Network.init(tmp_path / "net", subchains=2, peers_per_chain=3, params=toy,
                             auto_interlock=False) as network:
        network.submit("edge-0", b"seed").result()
        network.submit("edge-1", b"seed").result()
        yield network


def reopen_snapshot(net):
    """Close `net`, reopen its directory and return the reopened state (it must reopen)."""
    path = net.path
    net.close()
    with ledger.Network.open(path, auto_interlock=False) as again:
        return snapshot(again)


def certify(net, public_key, name, role="peer", chain_id=None):
    """A certificate the deployment's CA issues for an existing key (as an operator could by
    mistake): installed in the trust store and in the directory, so reopen loads it too."""
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name, role, chain_id))
            .issuer_name(net._ca.certificate.subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(net._ca.key, None))
    save_certificate(cert, net.path / "identities" / f"extra-{cert.serial_number:x}.crt")
    return net.trust.add_certificate(cert)


# --- 1. objects are exactly what was signed ---------------------------------------------------

def test_a_transaction_cannot_carry_a_body_beside_its_fields(net):
    client_tx = net.record("edge-0", b"client record")
    peer = net.peer("edge-0")
    peer_tx = Transaction.create(peer.identity, TxKind.RECORD, "edge-0", b"peer record",
                                 timestamp_ms=now_ms(), nonce=1)
    fields = [getattr(peer_tx, f.name) for f in dataclasses.fields(Transaction)]
    with pytest.raises(errors.ArgumentError, match="_body"):
        Transaction(*fields, _body=client_tx.body_bytes())
    with pytest.raises(errors.ArgumentError, match="_body"):
        dataclasses.replace(client_tx, _body=peer_tx.body_bytes())
    # Changing a field re-encodes the body: the id moves and the signature no longer covers it.
    claimed = dataclasses.replace(client_tx, submitter=peer.identity.fingerprint)
    assert claimed.tx_id != client_tx.tx_id and claimed.body_bytes() != client_tx.body_bytes()
    assert Transaction.from_bytes(claimed.to_bytes()) == claimed
    before = snapshot(net)
    with pytest.raises(errors.BadSignature):
        net.submit_transaction(claimed).result()
    assert snapshot(net) == before


def _tampered(tx, **fields):
    """`tx` with fields overwritten after construction (what a hostile in-memory object
    looks like): its encoding still holds the signed values."""
    for name, value in fields.items():
        object.__setattr__(tx, name, value)
    return tx


def test_a_record_is_attributed_to_whoever_signed_its_bytes(net):
    """A client's record whose fields claim a peer as submitter: the peers check and store the
    decoding of the signed bytes, so it is the client's record."""
    client = net.identity("client")
    tx = _tampered(net.record("edge-0", b"mine"), submitter=net.peer("edge-0").identity.fingerprint)
    receipt = net.submit_transaction(tx).result()
    stored = net.transaction(receipt.tx_id)
    assert stored.submitter == client.fingerprint and stored.payload == b"mine"
    assert stored.to_bytes() == tx.to_bytes()
    expected = snapshot(net)
    assert reopen_snapshot(net) == expected


def test_a_status_cannot_be_smuggled_in_as_a_record(net):
    """One edge-0 peer signs a Type-II reporting a header nobody endorsed, and hands it over
    dressed as an innocent record: the main chain checks it as the Type-II its bytes are,
    refuses it, and still reopens."""
    edge0 = net.peer("edge-0")
    unendorsed = SignedHeader(edge0.latest().header, ())
    status = _status(edge0.identity, TxKind.SUBCHAIN_STATUS, "main", unendorsed)
    dressed = _tampered(status, kind=TxKind.RECORD, payload=b"an innocent record")
    before = snapshot(net)
    with pytest.raises(errors.EndorsementError):
        net.submit_transaction(dressed).result()
    assert snapshot(net) == before
    assert reopen_snapshot(net) == before


def test_an_application_validator_sees_the_bytes_that_are_stored(net):
    seen = []

    def no_evil(peer_name, tx):
        seen.append(tx.to_bytes())
        if b"evil" in tx.payload:
            raise errors.ValidationRejected("evil payload")

    net.add_validator("edge-0", no_evil)
    tx = _tampered(net.record("edge-0", b"evil payload"), payload=b"fine payload")
    before = snapshot(net)
    with pytest.raises(errors.ValidationRejected, match="evil"):
        net.submit_transaction(tx).result()
    assert snapshot(net) == before
    assert seen and all(raw == tx.to_bytes() for raw in seen)
    assert reopen_snapshot(net) == before


@pytest.mark.parametrize("payload", [5, "text", None, 3.5, [1, 2], True])
def test_non_bytes_payloads_are_refused(net, payload):
    before = snapshot(net)
    with pytest.raises(errors.ArgumentError, match="payload"):
        net.submit("edge-0", payload)
    with pytest.raises(errors.ArgumentError, match="payload"):
        Transaction.create(net.identity("client"), TxKind.RECORD, "edge-0", payload, timestamp_ms=1, nonce=1)
    assert snapshot(net) == before


def test_bytes_like_payloads_are_copied_when_signed(net):
    buffer = bytearray(b"mutable reading")
    tx = net.record("edge-0", buffer)
    buffer[:] = b"changed later!!"
    assert type(tx.payload) is bytes and tx.payload == b"mutable reading"
    assert Transaction.from_bytes(tx.to_bytes()) == tx
    receipt = net.submit_transaction(tx).result()
    assert net.transaction(receipt.tx_id).payload == b"mutable reading"
    assert net.record("edge-0", memoryview(b"view")).payload == b"view"


def test_signed_objects_must_be_of_their_exact_class(net):
    class Shifty(Transaction):
        def to_bytes(self):
            return b"other bytes"

    tx = net.record("edge-0", b"r")
    shifty = Shifty(*[getattr(tx, f.name) for f in dataclasses.fields(Transaction)])
    before = snapshot(net)
    with pytest.raises(errors.ArgumentError, match="Transaction"):
        net.submit_transaction(shifty)
    with pytest.raises(errors.ArgumentError):
        net.peer("edge-0").admit(shifty)
    block, _ = net.peer("edge-0").propose([tx])
    with pytest.raises(errors.ArgumentError):
        Block(block.signed, (shifty,))
    with pytest.raises(errors.EncodingError, match="count"):
        Block(block.signed, ())
    with pytest.raises(errors.ArgumentError, match="header"):
        SignedHeader(block.header.encoded, ())  # bytes where a BlockHeader belongs
    with pytest.raises(errors.ArgumentError):
        SubchainStatus(block.header, b"")  # a header where a signed header belongs

    class Chameleon(str):  # equal to every chain id, encoded as one
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    with pytest.raises(errors.EncodingError, match="chain id"):
        Transaction(TxKind.RECORD, Chameleon("edge-1"), bytes(32), 0, 0, b"")
    assert snapshot(net) == before


def test_headers_statuses_and_proofs_are_their_encodings(net):
    net.interlock()
    main, edge0 = net.peer("main"), net.peer("edge-0")
    status_tx = main.transaction(main.statuses("edge-0")[-1].tx_id)
    status = SubchainStatus.from_bytes(status_tx.payload)
    proof = edge0.inclusion_proof(edge0.block(0).transactions[0].tx_id)
    for obj, decode in ((status, SubchainStatus.from_bytes), (status.signed, SignedHeader.from_bytes),
                        (edge0.block(0), Block.from_bytes)):
        assert decode(obj.to_bytes()) == obj
    header = status.signed.header
    assert BlockHeader.from_bytes(header.encoded) == header
    raw = proof.to_bytes(net.params)  # the witness travels as min(w, N - w): Z_N^*/{+-1}
    assert InclusionProof.from_bytes(net.params, raw).to_bytes(net.params) == raw
    moved = dataclasses.replace(header, height=header.height + 1)
    assert moved.encoded != header.encoded and moved.digest != header.digest
    for bad in ({"height": -1}, {"height": "1"}, {"previous": b"short"}, {"acc_value": "00"},
                {"acc_element": 1 << 256}, {"chain_id": "Main!"}, {"tx_count": 1 << 32}):
        with pytest.raises(errors.LedgerError):
            dataclasses.replace(header, **bad)


# --- 2. an endorsement policy counts distinct endorsers, on every path -----------------------

def _endorsed(block, signers):
    """`block` with (fingerprint, key) endorsers' signatures."""
    message = block.header.endorsement_message()
    return block.with_endorsements([(fp, key.sign(message)) for fp, key in signers])


def _duplicate_endorsers(net, chain):
    """Two ways one peer of `chain` may try to count twice: its key under a second
    certificate, and its name under a second certificate with another key."""
    peer = net.peer(chain).identity
    alias = certify(net, peer.key.public_key(), f"{chain}.peer0-alias", chain_id=chain)
    other_key = Ed25519PrivateKey.generate()
    renamed = certify(net, other_key.public_key(), peer.name, chain_id=chain)
    return {
        "same key, two certificates": [(peer.fingerprint, peer.key), (alias.fingerprint, peer.key)],
        "same name, two certificates": [(peer.fingerprint, peer.key), (renamed.fingerprint, other_key)],
    }


def test_duplicate_endorsers_do_not_meet_the_policy_at_commit(net):
    peer = net.peer("edge-0")
    block, _ = peer.propose([net.record("edge-0", b"one endorser")])
    before = snapshot(net)
    for name, signers in _duplicate_endorsers(net, "edge-0").items():
        endorsed = _endorsed(block, signers)
        assert len(endorsed.signed.endorsements) == 2, name
        for p in net.service("edge-0").peers:
            with pytest.raises(errors.EndorsementError, match="twice"):
                p.commit(endorsed)
    assert snapshot(net) == before


def test_duplicate_endorsers_are_refused_on_reopen(net):
    path = net.path
    peers = net.service("edge-0").peers
    block, _ = peers[0].propose([net.record("edge-0", b"stored behind the peers' back")])
    endorsed = _endorsed(block, _duplicate_endorsers(net, "edge-0")["same key, two certificates"])
    before = {p.name: p.store.height() for p in peers}
    for p in peers:  # as if a store had been written by a peer that counted the duplicate
        p.store.append(endorsed.height, endorsed.digest, endorsed.to_bytes(),
                       [tx.tx_id for tx in endorsed.transactions])
    net.close()
    with pytest.raises(errors.StorageError, match="twice"):
        ledger.Network.open(path, auto_interlock=False)
    for p in peers:  # nothing was rewritten by the refused open
        from ledger.store import PeerStore
        store = PeerStore(p.store.path, "edge-0")
        assert store.height() == before[p.name] + 1
        store.close()


def _status(signer, kind, chain, anchor, witness=b""):
    payload = SubchainStatus(anchor, witness) if kind == TxKind.SUBCHAIN_STATUS else anchor
    return Transaction.create(signer, kind, chain, payload.to_bytes(), timestamp_ms=now_ms(), nonce=now_ms())


def test_duplicate_other_chain_and_revoked_endorsers_are_refused_in_statuses(net):
    """The headers a Type-II reports go through the same policy: an edge-1 header only one
    peer endorsed (a fork it signed alone) cannot reach the main chain."""
    edge1 = net.peer("edge-1")
    fork, _ = edge1.propose([net.record("edge-1", b"a fork one peer signs")])
    cases = dict(_duplicate_endorsers(net, "edge-1"))
    own, other_chain = edge1.identity, net.peer("edge-0").identity
    cases["peer of another chain"] = [(own.fingerprint, own.key), (other_chain.fingerprint, other_chain.key)]
    revoked = net.service("edge-1").peers[2].identity
    cases["revoked peer"] = [(own.fingerprint, own.key), (revoked.fingerprint, revoked.key)]
    net.revoke(revoked.name)
    expected = {"peer of another chain": errors.UnauthorizedSigner, "revoked peer": errors.RevokedCertificate}
    before = snapshot(net)
    for name, signers in cases.items():
        tx = _status(own, TxKind.SUBCHAIN_STATUS, "main", _endorsed(fork, signers).signed)
        with pytest.raises(expected.get(name, errors.EndorsementError)):
            net.submit_transaction(tx).result()
    assert snapshot(net) == before
    assert not net.peer("main").statuses("edge-1")


def test_protocol1_applies_the_same_policy_to_the_headers_it_trusts(net):
    receipt = net.submit("edge-0", b"cross-chain").result()
    net.interlock()
    verifier_peer, main = net.peer("edge-1"), net.peer("main")
    main_status = SignedHeader.from_bytes(verifier_peer.transaction(verifier_peer.statuses("main")[-1].tx_id).payload)
    record = main.statuses("edge-0")[-1]
    kw = dict(tx_id=receipt.tx_id, chain_id="edge-0", main_chain_id="main",
              status_proof=main.inclusion_proof(record.tx_id, main_status.header.height),
              tx_proof=net.peer("edge-0").inclusion_proof(receipt.tx_id, record.source_height),
              endorsement_policy=net.deployment.check_endorsed)
    assert check_cross_chain(net.params, main_status=main_status, **kw).ok
    signers = _duplicate_endorsers(net, "main")["same key, two certificates"]
    message = main_status.header.endorsement_message()
    doubled = SignedHeader(main_status.header, tuple(sorted((fp, key.sign(message)) for fp, key in signers)))
    verdict = check_cross_chain(net.params, main_status=doubled, **kw)
    assert not verdict.ok and verdict.code == "endorsement" and "twice" in verdict.reason
    assert net.verifier("edge-1").verify(receipt.tx_id).ok


# --- 5. proofs return only what they prove; a verifier always answers -----------------------

def test_verify_inclusion_returns_no_unproved_header_field(net):
    receipt = net.submit("edge-0", b"proved").result()
    peer = net.peer("edge-0")
    proof = peer.inclusion_proof(receipt.tx_id)
    genuine = BlockHeader.from_bytes(proof.header)
    forged_header = dataclasses.replace(genuine, acc_value=b"\x07" * 40)  # the element does not bind it
    forged = dataclasses.replace(proof, header=forged_header.encoded)
    value, height = peer.accumulator_value(), peer.height - 1
    for candidate in (proof, forged):
        tx, block = verify_inclusion(net.params, candidate, "edge-0", value, height)
        assert tx.tx_id == receipt.tx_id
        assert block == genuine.content  # the same answer: only what the element and the path prove
        assert not hasattr(block, "acc_value") and not hasattr(block, "digest")
        assert (block.height, block.merkle_root) == (receipt.height, genuine.merkle_root)


@pytest.mark.parametrize("missing", ["holder's block", "main chain's block", "verifier's Type-III"])
def test_a_missing_block_or_record_is_a_rejecting_verdict(net, monkeypatch, missing):
    receipt = net.submit("edge-0", b"to verify").result()
    net.interlock()
    assert net.verifier("edge-1").verify(receipt.tx_id).ok
    peer = {"holder's block": net.peer("edge-0"), "main chain's block": net.peer("main"),
            "verifier's Type-III": net.peer("edge-1")}[missing]
    monkeypatch.setattr(peer.store, "get", lambda height: None)  # the store was cut back under it
    verdict = net.verifier("edge-1").verify(receipt.tx_id)
    assert not verdict.ok and verdict.code == "not-found" and "missing" in verdict.reason
    own = net.verifier("edge-0").verify(receipt.tx_id)
    assert own.ok == (missing != "holder's block")


# --- 6. status checks, object puts, private keys ----------------------------------------------

def test_a_status_header_with_a_wrong_representative_is_refused(net):
    """A header whose element is not the hash-to-prime representative of its content (here the
    next candidate's nonce), endorsed by a threshold of its chain's peers: Protocol 1 would
    refuse to prove anything under it, so neither a Type-II nor a Type-III accepts it."""
    net.interlock()
    net.submit("edge-1", b"more").result()
    net.submit("main", b"more").result()  # so a Type-III would advance
    cases = []
    for chain, kind, target in (("edge-1", TxKind.SUBCHAIN_STATUS, "main"), ("main", TxKind.MAIN_STATUS, "edge-0")):
        peers = net.service(chain).peers
        header = peers[0].latest().header
        bad = dataclasses.replace(header, acc_nonce=header.acc_nonce + 1)
        anchor = SignedHeader(bad, tuple(sorted((p.identity.fingerprint, p.identity.sign(bad.endorsement_message()))
                                                for p in peers[:2])))
        witness = b""
        if kind == TxKind.SUBCHAIN_STATUS:
            anchored = net.peer("main").statuses(chain)[-1]
            witness = edgeacc.encode_element(net.params, peers[0].block_witness(anchored.source_height, header.height))
        cases.append((_status(peers[0].identity, kind, target, anchor, witness), target))
    before = snapshot(net)
    for tx, target in cases:
        with pytest.raises(errors.AccumulatorMismatch, match="representative"):
            net.submit_transaction(tx).result()
    assert snapshot(net) == before


def test_concurrent_puts_of_the_same_content_do_not_race(tmp_path, monkeypatch):
    store = ObjectStore((tmp_path / "objects").as_uri())
    monkeypatch.setattr(store._fs, "exists", lambda path: False)  # every put writes, as in a race
    contents = [b"checkpoint %d" % i * 1000 for i in range(4)]
    errors_seen, refs = [], []
    start = threading.Barrier(8)

    def put(data):
        start.wait()
        for _ in range(25):
            try:
                refs.append(store.put(data))
            except errors.LedgerError as exc:
                errors_seen.append(exc)

    threads = [threading.Thread(target=put, args=(contents[i % 4],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors_seen
    assert {store.get(ref) for ref in refs} == set(contents)
    leftovers = [p for p in (tmp_path / "objects").rglob("*") if p.is_file() and p.name.endswith(".tmp")]
    assert not leftovers


def test_private_keys_are_created_owner_only(tmp_path, monkeypatch):
    created = []
    real_open = os.open

    def spy(path, flags, mode=0o777, **kw):
        fd = real_open(path, flags, mode, **kw)
        created.append((flags, stat.S_IMODE(os.fstat(fd).st_mode), os.fstat(fd).st_size))
        return fd

    old_umask = os.umask(0)  # a permissive umask must not widen a key file
    try:
        monkeypatch.setattr(os, "open", spy)
        save_private_key(Ed25519PrivateKey.generate(), tmp_path / "k.key")
    finally:
        os.umask(old_umask)
        monkeypatch.undo()
    flags, mode, size = created[0]
    assert flags & os.O_EXCL and flags & os.O_CREAT and mode == 0o600 and size == 0  # 0600 before any byte
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600
    # An existing file (or a planted symlink) is never written through.
    target = tmp_path / "elsewhere"
    target.write_bytes(b"planted")
    (tmp_path / "link.key").symlink_to(target)
    with pytest.raises(errors.StorageError):
        save_private_key(Ed25519PrivateKey.generate(), tmp_path / "link.key")
    assert target.read_bytes() == b"planted"


def test_every_key_of_a_deployment_is_owner_only(net):
    keys = list((net.path / "identities").glob("*.key")) + [net.path / "ca" / "ca.key"]
    net.identity("sensor-new", role="device")
    keys.append(net.path / "identities" / "sensor-new.key")
    assert len(keys) > 10
    assert {stat.S_IMODE(k.stat().st_mode) for k in keys} == {0o600}


# --- 13. bad arguments raise LedgerErrors that name the argument --------------------------------

def test_bad_arguments_at_every_entry_point_raise_ledger_errors(net, tmp_path):
    peer = net.peer("edge-0")
    pending = net.submit("edge-0", b"r")
    receipt = pending.result()
    block = peer.block(receipt.height)
    w = peer.block_witness(receipt.height, receipt.height)
    calls = {
        "submit payload int": (lambda: net.submit("edge-0", 5), "payload"),
        "submit obj": (lambda: net.submit("edge-0", b"", obj="file:///x"), "obj"),
        "submit signer int": (lambda: net.submit("edge-0", b"", signer=5), "signer"),
        "submit signer object": (lambda: net.submit("edge-0", b"", signer=object()), "signer"),
        "submit chain": (lambda: net.submit(["edge-0"], b""), "chain_id"),
        "submit_transactions": (lambda: net.submit_transactions("not a list"), "txs"),
        "peer index out of range": (lambda: net.peer("edge-0", 7), "peer"),
        "peer index negative": (lambda: net.peer("edge-0", -1), "peer"),
        "peer index str": (lambda: net.peer("edge-0", "0"), "peer"),
        "get_object hex string": (lambda: net.get_object("zz" * 32), "ref"),
        "get_object unknown hex": (lambda: net.get_object("ab" * 32), "object"),
        "get_object int": (lambda: net.get_object(5), "ref"),
        "get_object short": (lambda: net.get_object(b"short"), "ref"),
        "put_object str": (lambda: net.put_object("text"), "data"),
        "for_transaction position": (lambda: InclusionProof.for_transaction(block, 9, w, receipt.height), "position"),
        "for_transaction negative": (lambda: InclusionProof.for_transaction(block, -1, w, receipt.height), "position"),
        "for_transaction str": (lambda: InclusionProof.for_transaction(block, "0", w, receipt.height), "position"),
        "for_transaction block": (lambda: InclusionProof.for_transaction(b"block", 0, w, 0), "block"),
        "block height": (lambda: net.block("edge-0", "1"), "block"),
        "block huge": (lambda: net.block("edge-0", 10**40), "block"),
        "locate int": (lambda: net.locate(5), "tx_id"),
        "transaction none": (lambda: net.transaction(None), "tx_id"),
        "interlock timeout": (lambda: net.interlock(timeout="soon"), "timeout"),
        "identity name": (lambda: net.identity(5), "name"),
        "identity path": (lambda: net.identity("../ca/ca"), "name"),
        "identity path with role": (lambda: net.identity("../ca/evil", role="client"), "name"),
        "validators": (lambda: net.deployment.validators(["edge-0"]), "chain_id"),
        "forget": (lambda: peer.forget(b"tx"), "tx"),
        "validate_block": (lambda: peer.validate_block(None), "block"),
        "pending": (lambda: peer.check_transaction(net.record("edge-0", b"p"), pending=[]), "pending"),
        "url_for": (lambda: net.objects.url_for(5), "digest"),
        "result timeout": (lambda: pending.result(timeout="1"), "timeout"),
        "done callback": (lambda: pending.add_done_callback(5), "fn"),
        "revoke name": (lambda: net.revoke(None), "name"),
        "add_validator chain": (lambda: net.add_validator(5, lambda p, t: None), "chain_id"),
        "init count": (lambda: ledger.Network.init(tmp_path / "x", subchains="2"), "subchains"),
        "init path": (lambda: ledger.Network.init(5), "path"),
        "open path": (lambda: ledger.Network.open(None), "path"),
        "witness height": (lambda: peer.block_witness("0", 0), "block"),
        "accumulator height": (lambda: peer.accumulator_value(2.5), "block"),
        "inclusion_proof id": (lambda: peer.inclusion_proof(7), "tx_id"),
        "statuses": (lambda: peer.statuses(None), "source_chain"),
        "commit": (lambda: peer.commit(block.to_bytes()), "block"),
        "resolve": (lambda: net.trust.resolve("fingerprint"), "fp"),
        "add_certificate": (lambda: net.trust.add_certificate(b"pem"), "cert"),
        "verify signature": (lambda: net.trust.by_name("client").verify("sig", b"m"), "signature"),
        "object store": (lambda: ObjectStore(5), "root_url"),
        "object ref": (lambda: ObjectRef("ab" * 32, "file:///x"), "digest"),
        "verify_inclusion": (lambda: verify_inclusion(net.params, "proof", "edge-0", 1, 0), "proof"),
        "check_cross_chain": (lambda: check_cross_chain(net.params, tx_id=receipt.tx_id, chain_id="edge-0",
                                                        main_chain_id="main", main_status=None,
                                                        status_proof=None, tx_proof=None), "main_status"),
        "proof params": (lambda: InclusionProof.from_bytes(None, b""), "params"),
        "create signer": (lambda: Transaction.create("client", TxKind.RECORD, "edge-0", b"", timestamp_ms=1, nonce=1), "signer"),
        "transaction kind": (lambda: Transaction(9, "edge-0", bytes(32), 0, 0, b""), "kind"),
        "transaction nonce": (lambda: Transaction(1, "edge-0", bytes(32), 0, -1, b""), "nonce"),
    }
    before = snapshot(net)
    for name, (call, argument) in calls.items():
        with pytest.raises(errors.LedgerError) as info:
            call()
        assert argument in str(info.value), (name, str(info.value))
        assert len(str(info.value)) < 300, name
    assert snapshot(net) == before
    assert net.verify(5, "edge-1").code == "malformed"
    assert net.verifier("edge-1").verify(b"\0" * 32, chain_id=5).code == "malformed"
