"""Red-team attacks on the distributed deployment by a dishonest peer, without etcd: the
dishonest peer is a gRPC server holding a real peer's credentials (ledger.cluster.transport)
that answers as it likes."""
import json

import pytest
from hypothesis import given, strategies as st
from cryptography.hazmat.primitives import serialization

from ledger import errors
from ledger.chain import Deployment, Receipt
from ledger.cluster import local
from ledger.cluster.client import connect
from ledger.cluster.follower import decode_block_id, stored_message
from ledger.cluster.node import (chain_configs, decode_receipt, deployment_params, encode_outcome, encode_receipt,
                                 load_trust, number)
from ledger.cluster.transport import Credentials, Method, pack, serve, text_field, unpack
from ledger.identity import Identity, load_certificate, load_private_key
from ledger.merkle import merkle_path
from ledger.peer import Peer
from ledger.store import PeerStore
from ledger.tx import Transaction

pytest.importorskip("grpc")


@pytest.fixture(scope="module")
def dishonest(tmp_path_factory):
    """Every peer of edge-0 is a server that answers Submit with `answer[0](tx)`."""
    root = tmp_path_factory.mktemp("dishonest")
    d = local.create(root / "d", subchains=1, peers_per_chain=2)
    deployment = json.loads((d / "deployment.json").read_text())
    edge = next(c for c in deployment["chains"] if c["id"] == "edge-0")
    trust = load_trust(d / "trust")
    rules = Deployment(deployment_params(deployment), trust, chain_configs(deployment))
    creds = {p["name"]: d / "nodes" / p["name"] / "credentials" for p in edge["peers"]}
    peers = [Identity(load_private_key(c / "identity.key"), load_certificate(c / "identity.crt")) for c in creds.values()]
    builder = Peer(rules, peers[0], PeerStore(root / "builder.sqlite", "edge-0"))
    answer, latest = [None], [b""]
    # what a peer answers when asked to attest that it stores a block: by default that it
    # does not (it never saw the block in etcd)
    stored = [lambda me, height, digest: (_ for _ in ()).throw(errors.ServiceUnavailable("not stored"))]
    # what a submission stream relays as the attestations of each block it answers with
    relay = [lambda me, height, digest: []]

    def submit_stream(me):
        def answer_stream(caller, requests):
            sequence = 0
            for request in requests:
                pairs, blocks = [], []
                for data in unpack(request):
                    outcome = answer[0](Transaction.from_bytes(data))
                    pairs.append(pack(b"%d" % sequence, outcome))
                    sequence += 1
                    kind, *rest = unpack(outcome)
                    if kind == b"R" and len(rest) == 3:
                        receipt = decode_receipt(rest[0])
                        blocks.append((receipt.height, receipt.block_digest))
                yield pack(pack(*pairs), pack(*(pack(b"%d" % h, d, *relay[0](me, h, d)) for h, d in blocks)))
        return answer_stream

    def methods(me):
        return {"Submit": Method(lambda caller, request: pack(*(answer[0](Transaction.from_bytes(t))
                                                                 for t in unpack(request)))),
                "SubmitStream": Method(submit_stream(me), streaming=True),
                "Register": Method(lambda caller, request: b"\0" * 32),
                "Status": Method(lambda caller, request: json.dumps({"cutter": True, "height": 10 ** 9}).encode()),
                "Latest": Method(lambda caller, request: latest[0]),
                "Stored": Method(lambda caller, request: stored[0](me, *decode_block_id(request))),
                "Certificate": Method(lambda caller, request: next(
                    p.certificate.public_bytes(serialization.Encoding.PEM) for p in peers if p.fingerprint == request))}
    servers = [serve(p["address"], Credentials.load(creds[p["name"]]), trust, methods(me), "edge-0")[0]
               for p, me in zip(edge["peers"], peers)]
    client = connect({"name": "client", "credentials": str(d / "clients" / "client"), "trust": str(d / "trust"),
                      "deployment": str(d / "deployment.json"), "submit_timeout": 1.5})
    try:
        client.relay = relay  # (the stream's relayed attestations: test_relayed_attestations_...)
        client.deployment_path = d  # (a second connection: test_what_one_connection_checked_...)
        yield client, builder, peers, answer, latest, stored
    finally:
        client.close()
        for s in servers:
            s.stop(0)
        builder.close()


def _block(builder, peers, txs, endorsers):
    block, rejected = builder._propose(txs)
    assert not rejected
    return block.with_endorsements([(p.fingerprint, p.sign(block.header.endorsement_message())) for p in endorsers])


def _receipt(tx, block, position=0):
    return Receipt(tx.tx_id, "edge-0", block.height, position, block.digest)


def test_client_refuses_receipts_a_dishonest_peer_forges(dishonest):
    """A peer drops the transaction and acknowledges it anyway: the client must not report it
    committed (the exactly-once guarantee holds only for receipts that prove themselves)."""
    client, builder, peers, answer, _, stored = dishonest
    other = client.record("edge-0", b"someone else's")
    forgeries = {
        # the plain receipt of the old wire format: nothing proves it
        "bare": (lambda tx: pack(b"R", encode_receipt(Receipt(tx.tx_id, "edge-0", 0, 0, b"\1" * 32))),
                 errors.UnprovenAnswer),
        # a block that holds the transaction, endorsed by the dishonest peer alone (policy: 2)
        "self-endorsed": (lambda tx: _outcome(tx, _block(builder, peers, [tx], peers[:1])), errors.EndorsementError),
        # a genuinely endorsed block of another transaction, claimed to hold this one
        "other block": (lambda tx: _outcome(tx, _block(builder, peers, [other], peers)), errors.UnprovenAnswer),
    }
    for name, (forge, error) in forgeries.items():
        answer[0] = forge
        tx = client.record("edge-0", name.encode())
        with pytest.raises(error):
            client.submit_transaction(tx).result(10)
    # the control: a receipt with its proof, its block attested by the other peer
    answer[0] = lambda tx: _outcome(tx, _block(builder, peers, [other, tx], peers), position=1)
    stored[0] = _attest
    try:
        tx = client.record("edge-0", b"honest")
        receipt = client.submit_transaction(tx).result(10)
    finally:
        stored[0] = _refuse
    assert receipt.tx_id == tx.tx_id and receipt.position == 1


def _attest(me, height, digest, chain="edge-0"):
    return pack(me.fingerprint, me.sign(stored_message(chain, height, digest)))


def _flip(data, at):
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


def _refuse(me, height, digest):
    raise errors.ServiceUnavailable(f"{me.name} does not store block {height}")


@pytest.mark.parametrize("variant", ["never appended", "attested by the answering peer only",
                                     "attestation of another block", "attestation of another chain",
                                     "attestation with a bad signature"])
def test_dishonest_cutter_cannot_hand_out_a_receipt_of_a_block_it_never_ordered(dishonest, variant):
    """The elected cutter is dishonest: it collects a real quorum of endorsements (the peers
    validate the block and sign) but never appends the block to etcd, and answers the client
    with the receipt, header and Merkle path - all genuine. The client accepts a receipt only
    once threshold-1 peers other than the one that answered attest they store that block (an
    honest peer does so only after following it from etcd): here the other peer never saw it,
    or the attestations come from the wrong peer or name another block. The submission ends in
    ServiceUnavailable past the deadline, with no receipt."""
    client, builder, peers, answer, _, stored = dishonest
    height, confirmed = builder.height, set(client._checked().confirmed)
    answer[0] = lambda tx: _outcome(tx, _block(builder, peers, [tx], peers))  # endorsed by both: a real quorum
    stored[0] = {"never appended": _refuse,
                 "attested by the answering peer only": lambda me, h, d: _attest(next(p for p in peers if p != me), h, d),
                 "attestation of another block": lambda me, h, d: _attest(me, h, b"\5" * 32),
                 "attestation of another chain": lambda me, h, d: _attest(me, h, d, "main"),
                 "attestation with a bad signature": lambda me, h, d: _flip(_attest(me, h, d), -40),
                 }[variant]
    try:
        tx = client.record("edge-0", variant.encode())
        with pytest.raises(errors.LedgerError) as info:
            client.submit_transaction(tx).result(10)
    finally:
        stored[0] = _refuse
    assert isinstance(info.value, (errors.UnprovenAnswer, errors.ServiceUnavailable, errors.EndorsementError))
    assert "vouched for by" in str(info.value) or "attest" in str(info.value)
    assert builder.height == height and client._checked().confirmed == confirmed


@pytest.mark.parametrize("variant", ["none", "its own twice", "one of them of another block",
                                     "one of them of another chain", "one with a bad signature", "junk"])
def test_relayed_attestations_do_not_confirm_a_block_the_peers_do_not_attest(dishonest, variant):
    """The dishonest cutter answers on the submission stream with a genuine, endorsed receipt
    of a block it never appended, and relays "attestations" that its peers store the block:
    none, its own twice, or one of the other peer's of another block or chain, with a bad
    signature, or junk. The client checks each signature (follower.check_attested) before it
    counts the block confirmed; here it falls back to asking the peers (who refuse) and the
    submission ends in an error, no receipt, nothing confirmed. The control: the two peers'
    genuine attestations relayed confirm the block without the client asking anyone."""
    client, builder, peers, answer, _, stored = dishonest
    me, other = peers

    def relayed(height, digest):
        own, theirs = _attest(me, height, digest), _attest(other, height, digest)
        return {"none": [], "its own twice": [own, own],
                "one of them of another block": [own, _attest(other, height, b"\5" * 32)],
                "one of them of another chain": [own, _attest(other, height, digest, "main")],
                "one with a bad signature": [own, _flip(theirs, -40)],
                "junk": [own, b"junk"], "genuine": [own, theirs]}[variant]
    confirmed = set(client._checked().confirmed)
    answer[0] = lambda tx: _outcome(tx, _block(builder, peers, [tx], peers))  # endorsed by both: a real quorum
    client.relay[0] = lambda _me, height, digest: relayed(height, digest)
    try:
        tx = client.record("edge-0", variant.encode())
        with pytest.raises(errors.LedgerError) as info:
            client.submit_transaction(tx).result(10)
        assert isinstance(info.value, (errors.UnprovenAnswer, errors.ServiceUnavailable))
        assert client._checked().confirmed == confirmed
        variant = "genuine"
        tx = client.record("edge-0", b"genuine relay")
        receipt = client.submit_transaction(tx).result(10)  # (stored[0] still refuses: the relay proves it)
        assert receipt.tx_id == tx.tx_id and (receipt.height, receipt.block_digest) in client._checked().confirmed
    finally:
        client.relay[0] = lambda _me, height, digest: []


def _outcome(tx, block, position=0):
    return encode_outcome(_receipt(tx, block, position), block.signed, merkle_path(block.leaves, position))


def test_client_height_is_what_the_peers_prove_not_what_they_claim(dishonest):
    """Every edge-0 peer claims height 10**9 in its Status and serves a latest header that is
    forged (self-endorsed), or endorsed but never ordered (no other peer attests it stores it):
    the client counts only a header that is endorsed and ordered."""
    client, builder, peers, _, latest, stored = dishonest
    tx = client.record("edge-0", b"h")
    assert client.height("edge-0") == 0  # Latest answers "empty chain"; the Status claim is ignored
    forged = _block(builder, peers, [tx], peers[:1])  # endorsed by one of the two the policy needs
    latest[0] = forged.signed.to_bytes()
    assert client.height("edge-0") == 0
    genuine = _block(builder, peers, [tx], peers)  # endorsed by both, but no peer attests it is ordered
    latest[0] = genuine.signed.to_bytes()
    assert client.height("edge-0") == 0  # an endorsed twin a dishonest cutter never appended
    stored[0] = _attest  # the other peer attests it stores that block: proven
    try:
        assert client.height("edge-0") == genuine.height + 1 == 1
    finally:
        stored[0] = _refuse


def test_a_text_field_that_is_not_utf8_is_an_encoding_error():
    """A member asking for the statuses of chain b"\xff" gets an error naming the field (it was
    an 'internal error ... UnicodeDecodeError' of the node)."""
    assert text_field("edge-0".encode(), "chain id") == "edge-0"
    with pytest.raises(errors.EncodingError, match="chain id is not UTF-8"):
        text_field(b"\xffedge", "chain id")


@given(st.one_of(st.binary(max_size=12), st.integers(0, 10 ** 30).map(lambda v: b"%d" % v),
                 st.integers(0, 10 ** 30).map(lambda v: b"0%d" % v)), st.sampled_from([10, 16]))
def test_message_numbers_have_one_encoding(data, base):
    """A number field decodes only from its canonical form: no second encoding of a height."""
    spelling = "x" if base == 16 else "d"
    try:
        value = number(data, "field", base)
    except errors.EncodingError:
        try:
            canonical = format(int(data, base), spelling).encode()
        except ValueError:
            canonical = None
        assert data != canonical, "the one encoding of a number was refused"
        return
    assert data == format(value, spelling).encode()


def test_one_stream_message_confirms_only_the_blocks_its_attestations_prove(dishonest):
    """The dishonest cutter answers two transactions in one stream message with two genuinely
    endorsed blocks at the same height, and relays the peers' genuine attestations of the
    first block and, for the second, the other peer's attestation of the first block (a
    signature that verifies, of another digest). The first receipt stands; the second block is
    not confirmed by its neighbour's attestations (the peers refuse to attest it): no receipt."""
    client, builder, peers, answer, _, stored = dishonest
    me, other = peers
    good_tx, forged_tx = client.record("edge-0", b"shared good"), client.record("edge-0", b"shared forged")
    blocks = {tx.tx_id: _block(builder, peers, [tx], peers) for tx in (good_tx, forged_tx)}
    good, forged = blocks[good_tx.tx_id], blocks[forged_tx.tx_id]
    assert good.height == forged.height and good.digest != forged.digest
    confirmed = set(client._checked().confirmed)
    answer[0] = lambda tx: _outcome(tx, blocks[tx.tx_id])
    client.relay[0] = lambda _me, height, digest: [_attest(me, height, digest),
                                                   _attest(other, height, good.digest)]
    try:
        first, second = client.submit_transactions([good_tx, forged_tx])
        assert first.result(10).block_digest == good.digest
        with pytest.raises((errors.UnprovenAnswer, errors.ServiceUnavailable)):
            second.result(10)
    finally:
        client.relay[0] = lambda _me, height, digest: []
    assert client._checked().confirmed - confirmed == {(good.height, good.digest)}


def _checked_once(dishonest, first, second, tag: bytes):
    """`first` gets a genuine receipt of `a` at position 0 of block [a, b] (its header
    checked, the block attested); then the peers refuse to attest, and the dishonest cutter
    answers `second` with that same header: `b` claimed at `a`'s position with `a`'s path,
    and a transaction the block does not hold, each refused (UnprovenAnswer); the control, `b`
    at its own position 1, stands on what was checked. Returns the block."""
    _, builder, peers, answer, _, stored = dishonest
    a, b, absent = (first.record("edge-0", tag + data) for data in (b" a", b" b", b" not in the block"))
    block = _block(builder, peers, [a, b], peers)
    stored[0] = _attest
    try:
        answer[0] = lambda tx: _outcome(tx, block, 0)
        assert first.submit_transaction(a).result(10).position == 0
    finally:
        stored[0] = _refuse
    assert block.signed.to_bytes() in second._checked().decoded  # (decoded once, kept for the next answers)
    assert (block.height, block.digest) in second._checked().confirmed
    for tx in (b, absent):
        with pytest.raises(errors.UnprovenAnswer):
            second.submit_transaction(tx).result(10)
    answer[0] = lambda tx: _outcome(tx, block, 1)
    assert second.submit_transaction(b).result(10).position == 1
    return block


def test_a_header_checked_once_proves_no_other_transaction_or_position(dishonest):
    """The client decodes and checks a block's header once for all the receipts that carry it,
    and that header proves only the transactions its Merkle paths put in it (_checked_once)."""
    client = dishonest[0]
    _checked_once(dishonest, client, client, b"pair")


def test_what_one_connection_checked_proves_no_other_transaction_on_another(dishonest, tmp_path):
    """The connections of one process that check by the same rules share what was checked
    (client._Checked): a second connection takes the first one's checked header and attested
    block (the peers refuse to attest by then), yet refuses another transaction or position
    of that header (_checked_once: each receipt's Merkle path is its own). A connection that
    checks against another CA shares nothing."""
    client = dishonest[0]
    d = client.deployment_path
    second = connect({"name": "client", "credentials": str(d / "clients" / "client"), "trust": str(d / "trust"),
                      "deployment": str(d / "deployment.json"), "submit_timeout": 1.5})
    try:
        assert second._checked() is client._checked()
        block = _checked_once(dishonest, client, second, b"shared")
    finally:
        second.close()
    foreign = local.create(tmp_path / "foreign", subchains=1, peers_per_chain=2)
    third = connect({"name": "client", "credentials": str(foreign / "clients" / "client"),
                     "trust": str(foreign / "trust"), "deployment": str(d / "deployment.json")})
    try:
        assert third._checked() is not client._checked()
        assert (block.height, block.digest) not in third._checked().confirmed
    finally:
        third.close()
