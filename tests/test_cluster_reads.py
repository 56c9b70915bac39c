"""Reading another chain from its peers (ledger.cluster.reads), attacked by one dishonest peer
of that chain, without etcd: edge-0's three peers (2-of-any) are gRPC servers holding the real
peers' credentials. Two honest ones serve the ordered chain; the dishonest one serves an endorsed twin
(a block both endorsers validated and signed that the cutter never appended: what a dishonest
cutter can hold) and forged status records. Every reader - the client's block, height and
Protocol 1 reads, a node's validators (DeploymentView) and its layer check's anchors - takes
the ordered block, whichever peer answers first, and nothing it cannot prove."""
import concurrent.futures
import json
import types

import pytest
from cryptography.hazmat.primitives import serialization

from ledger import errors
from ledger.chain import Deployment, Receipt, StatusRecord, now_ms
from ledger.cluster import local
from ledger.cluster.client import connect
from ledger.cluster.follower import decode_block_id, stored_message
from ledger.cluster.node import chain_configs, deployment_params, encode_receipt, load_trust
from ledger.cluster.reads import ChainReader
from ledger.cluster.remote import RemotePeer
from ledger.cluster.transport import Channel, Credentials, Method, pack, serve, unpack
from ledger.cluster.validators import DeploymentView
from ledger.identity import Identity, load_certificate, load_private_key
from ledger.peer import Peer
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind

from cluster_helpers import pooled

pytest.importorskip("grpc")

EDGE = "edge-0"


def _identity(creds):
    return Identity(load_private_key(creds / "identity.key"), load_certificate(creds / "identity.crt"))


def _endorsed(block, endorsers):
    return block.with_endorsements([(p.fingerprint, p.sign(block.header.endorsement_message())) for p in endorsers])


class Served:
    """What one peer serves: its blocks (height -> Block) and its status records."""

    def __init__(self, me: Identity) -> None:
        self.me, self.blocks, self.statuses = me, {}, []
        self.hides = False  # LocateMany answers "not here" for everything

    def locate_answer(self, locate, tx_id: bytes) -> bytes:
        if self.hides:
            return b""
        try:
            return locate(tx_id)
        except errors.NotFound:
            return b""

    def methods(self, certificates):
        def block(request):
            height = int(request)
            if height not in self.blocks:
                raise errors.NotFound(f"{self.me.name} holds no block {height}")
            return self.blocks[height]

        def stored(request):  # it attests exactly the blocks it serves
            height, digest = decode_block_id(request)
            if height not in self.blocks or self.blocks[height].digest != digest:
                raise errors.ServiceUnavailable(f"{self.me.name} does not store that block {height}")
            return pack(self.me.fingerprint, self.me.sign(stored_message(EDGE, height, digest)))

        def locate(request):
            for height, b in self.blocks.items():
                for position, tx in enumerate(b.transactions):
                    if tx.tx_id == request:
                        return encode_receipt(Receipt(tx.tx_id, EDGE, height, position, b.digest))
            raise errors.NotFound("no such transaction")

        def latest(_request):
            return self.blocks[max(self.blocks)].signed.to_bytes() if self.blocks else b""
        return {"Block": Method(lambda c, r: block(r).to_bytes()),
                "Header": Method(lambda c, r: block(r).signed.to_bytes()),
                "Latest": Method(lambda c, r: latest(r)),
                "Stored": Method(lambda c, r: stored(r)),
                "Locate": Method(lambda c, r: locate(r)),
                "LocateMany": Method(lambda c, r: pack(*(self.locate_answer(locate, bytes(t)) for t in unpack(r)))),
                "Statuses": Method(lambda c, r: pack(*(pack(s.source_chain.encode(), b"%d" % s.source_height,
                                                            b"%d" % s.height, s.tx_id, b"%x" % s.source_element,
                                                            s.source_digest) for s in self.statuses))),
                "Certificate": Method(lambda c, r: certificates[bytes(r)])}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("reads")
    d = local.create(root / "d", subchains=1, peers_per_chain=3)
    deployment = json.loads((d / "deployment.json").read_text())
    trust = load_trust(d / "trust")
    rules = Deployment(deployment_params(deployment), trust, chain_configs(deployment))
    creds = {p["name"]: d / "nodes" / p["name"] / "credentials" for c in deployment["chains"] for p in c["peers"]}
    ids = {name: _identity(c) for name, c in creds.items()}
    for i in ids.values():
        trust.add_certificate(i.certificate)
    client_id = _identity(d / "clients" / "client")
    trust.add_certificate(client_id.certificate)
    certificates = {i.fingerprint: i.certificate.public_bytes(serialization.Encoding.PEM)
                    for i in [*ids.values(), client_id]}
    edge_peers = [ids[f"{EDGE}.peer{i}"] for i in range(3)]
    main_peers = [ids[f"main.peer{i}"] for i in range(2)]

    def record(chain, payload):
        return Transaction.create(client_id, TxKind.RECORD, chain, payload, timestamp_ms=now_ms(), nonce=now_ms())

    # the main chain's block 0, reported to edge-0 by a Type-III
    main = Peer(rules, main_peers[0], PeerStore(root / "main.sqlite", "main"))
    main_block = _endorsed(main._propose([record("main", b"main record")])[0], main_peers)
    main._commit(main_block, live=False)
    type3 = Transaction.create(main_peers[0], TxKind.MAIN_STATUS, EDGE, main_block.signed.to_bytes(),
                               timestamp_ms=now_ms(), nonce=now_ms())
    # edge-0: block 0 (a record and the Type-III), then the ordered block 1 and its endorsed twin
    edge = Peer(rules, edge_peers[0], PeerStore(root / "edge.sqlite", EDGE))
    block0 = _endorsed(edge._propose([record(EDGE, b"zero"), type3])[0], edge_peers)
    edge._commit(block0, live=False)
    ordered_tx, twin_tx = record(EDGE, b"ordered"), record(EDGE, b"twin")
    twin = _endorsed(edge._propose([twin_tx])[0], edge_peers)
    ordered = _endorsed(edge._propose([ordered_tx])[0], edge_peers)
    edge._commit(ordered, live=False)
    assert twin.height == ordered.height == 1 and twin.digest != ordered.digest
    honest_record = edge.statuses("main")[0]

    dishonest, honest, other = Served(edge_peers[0]), Served(edge_peers[1]), Served(edge_peers[2])
    honest.blocks = other.blocks = {0: block0, 1: ordered}
    honest.statuses = other.statuses = [honest_record]
    dishonest.blocks = {0: block0, 1: twin}
    address = {p["name"]: p["address"] for c in deployment["chains"] for p in c["peers"]}
    servers = [serve(address[s.me.name], Credentials.load(creds[s.me.name]), trust, s.methods(certificates), EDGE)[0]
               for s in (dishonest, honest, other)]
    client = connect({"name": "client", "credentials": str(d / "clients" / "client"), "trust": str(d / "trust"),
                      "deployment": str(d / "deployment.json")})
    pool = concurrent.futures.ThreadPoolExecutor(4)
    channels = {}

    def new_reader():
        """A fresh reader of edge-0 as a node of the main chain holds one (asks the dishonest peer first)."""
        def call(name, method, request, timeout):
            channel = channels.get(name) or channels.setdefault(
                name, Channel(address[name], name, Credentials.load(creds["main.peer0"])))
            return channel.call(method, request, timeout)
        return ChainReader(rules, EDGE, [s.me.name for s in (dishonest, honest, other)], call, pooled(pool, call))
    w = types.SimpleNamespace(client=client, rules=rules, ordered=ordered, twin=twin, block0=block0,
                              honest=honest, other=other, dishonest=dishonest, honest_record=honest_record,
                              ordered_tx=ordered_tx, twin_tx=twin_tx, new_reader=new_reader,
                              deployment=deployment, directory=d)
    try:
        yield w
    finally:
        client.close()
        for ch in channels.values():
            ch.close()
        for s in servers:
            s.stop(0)
        pool.shutdown()
        main.close()
        edge.close()


@pytest.mark.parametrize("first", range(2))
def test_client_block_is_the_ordered_one_not_an_endorsed_twin(world, first):
    """Whichever peer is asked first (the client rotates), block 1 is the ordered block: the
    twin's endorsements are genuine, but no other peer attests it stores it."""
    world.client._readers.clear()
    reader = world.client.reader(EDGE)
    for _ in range(first):
        next(reader._start)
    assert world.client.block(EDGE, 1).digest == world.ordered.digest
    assert world.client.transaction(world.ordered_tx.tx_id).payload == b"ordered"


def test_a_dishonest_answer_moves_on_to_the_next_peer(world):
    """The first peer asked serves the twin: the read does not abort, the next peer proves."""
    reader = world.new_reader()  # the dishonest peer first
    assert reader.block(1).digest == world.ordered.digest
    assert reader.header(1).header.digest == world.ordered.digest


def test_with_only_the_dishonest_peer_the_twin_is_refused(world):
    saved = world.honest.blocks
    world.honest.blocks = world.other.blocks = {0: world.block0}  # the honest peers lag: they hold block 0 only
    try:
        reader = world.new_reader()
        with pytest.raises(errors.NotFound, match="holds no block 1"):  # what the honest peers say
            reader.block(1)
        assert (1, world.twin.digest) not in reader._confirmed
        assert reader.latest().header.height == 0  # the twin as the latest does not count either
    finally:
        world.honest.blocks = world.other.blocks = saved


def test_client_height_counts_the_ordered_latest_only(world):
    world.dishonest.blocks = {0: world.block0, 1: world.twin, 2: world.twin}  # claims a block beyond
    try:
        world.client._readers.clear()
        assert world.client.height(EDGE) == 2
        assert world.client.reader(EDGE).latest().header.digest == world.ordered.digest
    finally:
        world.dishonest.blocks = {0: world.block0, 1: world.twin}


def test_protocol1_remote_reads_take_the_ordered_headers(world):
    world.client._readers.clear()
    remote = RemotePeer(world.client, EDGE)
    assert remote.latest().header.digest == world.ordered.digest
    assert remote.signed_header(0).header.digest == world.block0.digest
    assert remote.statuses("main") == [world.honest_record]


def _view(world, reader):
    """The DeploymentView of a main-chain node whose reads of edge-0 go through `reader`."""
    node = types.SimpleNamespace(
        chain_id="main", name="main.peer0", deployment=world.rules, trust=world.rules.trust,
        deployment_info=world.deployment, reader=lambda chain_id: reader,
        peer=types.SimpleNamespace(locate=lambda tx_id: None))
    return DeploymentView(node)


def test_a_validator_reads_the_ordered_block_and_no_twin_record(world):
    """DeploymentView (what the provenance validator reads): the ordered block, the ordered
    record found; the twin's record, which a dishonest peer locates, is on no chain."""
    view = _view(world, world.new_reader())
    assert view.block(EDGE, 1).digest == world.ordered.digest
    assert view.transaction(world.ordered_tx.tx_id).payload == b"ordered"
    with pytest.raises(errors.NotFound):
        view.transaction(world.twin_tx.tx_id)


def test_client_locate_proves_where_a_transaction_is(world):
    """The dishonest peer locates the twin's record in its block 1: no chain proves it."""
    world.client._readers.clear()
    assert world.client.locate(world.ordered_tx.tx_id).block_digest == world.ordered.digest
    with pytest.raises(errors.NotFound):
        world.client.reader(EDGE).locate(world.twin_tx.tx_id)
    with pytest.raises(errors.ServiceUnavailable, match="unsure: main"):  # (main is silent here: it might hold it)
        world.client.locate(world.twin_tx.tx_id)


@pytest.mark.parametrize("forgery", ["another digest", "a record transaction", "no such transaction",
                                     "another source"])
def test_forged_status_records_are_refused_and_the_next_peer_asked(world, forgery):
    """The anchors of the layer check (and Protocol 1's Type-II/III records) come from the
    holder chain's peers: a record is taken only when the ordered block it names holds its
    status transaction reporting exactly that block."""
    r = world.honest_record
    forged = {"another digest": StatusRecord(r.source_chain, r.source_height, r.height, r.tx_id, r.source_element,
                                             b"\7" * 32),
              "a record transaction": StatusRecord("main", 0, 0, world.block0.transactions[0].tx_id,
                                                   r.source_element, r.source_digest),
              "no such transaction": StatusRecord("main", 5, 1, b"\1" * 32, r.source_element, r.source_digest),
              "another source": StatusRecord("edge-9", r.source_height, r.height, r.tx_id, r.source_element,
                                             r.source_digest)}[forgery]
    world.dishonest.statuses = [forged]
    try:
        assert world.new_reader().statuses("main") == [r]  # the dishonest peer first, then the honest
        saved, world.honest.statuses, world.other.statuses = world.honest.statuses, [forged], [forged]
        try:
            with pytest.raises(errors.UnprovenAnswer):
                world.new_reader().statuses("main")
        finally:
            world.honest.statuses = world.other.statuses = saved
    finally:
        world.dishonest.statuses = []


@pytest.mark.parametrize("hiding", [False, True])
def test_locate_many_takes_what_the_ordered_blocks_prove_whoever_answers_first(world, hiding):
    """Ledger.transactions locates its ids in batches (LocateMany). The dishonest peer, asked
    first, answers the twin's record with a receipt in its twin block (its whole answer is
    dropped: the ordered block 1 does not hold it) or, hiding, "not here" for everything (the
    next peer is asked for those ids): the ordered records are found, the twin's is not."""
    world.dishonest.hides = hiding
    try:
        reader = world.new_reader()
        ids = [world.ordered_tx.tx_id, world.twin_tx.tx_id, world.block0.transactions[0].tx_id]
        found = reader.locate_many(ids)
        assert set(found) == {ids[0], ids[2]} and found[ids[0]].block_digest == world.ordered.digest
        assert found[ids[2]] == Receipt(ids[2], EDGE, 0, 0, world.block0.digest)
    finally:
        world.dishonest.hides = False


def test_locate_many_with_only_the_dishonest_peer_proves_nothing_of_the_twin(world):
    """Alone, the dishonest peer's receipt of the twin's record is refused (its block 1 is not
    the ordered one the honest peers' Stored attest)."""
    reader = world.new_reader()
    reader.peers = [world.dishonest.me.name]
    with pytest.raises(errors.LedgerError):
        reader.locate_many([world.twin_tx.tx_id])
