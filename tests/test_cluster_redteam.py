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
from ledger.cluster.node import (chain_configs, deployment_params, encode_outcome, encode_receipt, load_trust,
                                 number, text_field)
from ledger.cluster.transport import Credentials, Method, pack, serve, unpack
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
    methods = {"Submit": Method(lambda caller, request: pack(*(answer[0](Transaction.from_bytes(t))
                                                                for t in unpack(request)))),
               "Register": Method(lambda caller, request: b"\0" * 32),
               "Status": Method(lambda caller, request: json.dumps({"cutter": True, "height": 10 ** 9}).encode()),
               "Latest": Method(lambda caller, request: latest[0]),
               "Certificate": Method(lambda caller, request: next(
                   p.certificate.public_bytes(serialization.Encoding.PEM) for p in peers if p.fingerprint == request))}
    servers = [serve(p["address"], Credentials.load(creds[p["name"]]), trust, methods, "edge-0")[0]
               for p in edge["peers"]]
    client = connect({"name": "client", "credentials": str(d / "clients" / "client"), "trust": str(d / "trust"),
                      "deployment": str(d / "deployment.json"), "submit_timeout": 1.5})
    try:
        yield client, builder, peers, answer, latest
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
    client, builder, peers, answer, _ = dishonest
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
    # the control: a receipt with its proof is accepted
    answer[0] = lambda tx: _outcome(tx, _block(builder, peers, [other, tx], peers), position=1)
    tx = client.record("edge-0", b"honest")
    receipt = client.submit_transaction(tx).result(10)
    assert receipt.tx_id == tx.tx_id and receipt.position == 1


def _outcome(tx, block, position=0):
    return encode_outcome(_receipt(tx, block, position), block.signed, merkle_path(block.leaves, position))


def test_client_height_is_what_the_peers_prove_not_what_they_claim(dishonest):
    """Every edge-0 peer claims height 10**9 in its Status and serves a latest header that is
    forged (self-endorsed, or of another chain): the client counts only a proven header."""
    client, builder, peers, _, latest = dishonest
    tx = client.record("edge-0", b"h")
    assert client.height("edge-0") == 0  # Latest answers "empty chain"; the Status claim is ignored
    forged = _block(builder, peers, [tx], peers[:1])  # endorsed by one of the two the policy needs
    latest[0] = forged.signed.to_bytes()
    assert client.height("edge-0") == 0
    genuine = _block(builder, peers, [tx], peers)  # endorsed by both: proven
    latest[0] = genuine.signed.to_bytes()
    assert client.height("edge-0") == genuine.height + 1 == 1


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
    try:
        value = number(data, "field", base)
    except errors.EncodingError:
        return
    assert data == format(value, "x" if base == 16 else "d").encode()
