"""Red team, issue 11's cluster trust holes left open by the last round: a status transaction
reporting an endorsed twin (node._check_reported), a silent peer holding the threads of a
reader's attestation requests (follower.confirm_blocks), and a publisher's junk copy in the
certificate registry (node._know_signers). Each attack is refused and what an honest node
holds afterwards is unchanged. No etcd, no node process."""
import concurrent.futures
import queue
import threading
import types

import pytest

from ledger import errors
from ledger.block import SubchainStatus
from ledger.chain import now_ms
from ledger.cluster.follower import confirm_blocks
from ledger.cluster.ordered_crl import OrderedRevocations
from ledger.cluster.node import Node, every_peer, load_trust
from ledger.cluster.reads import ChainReader
from ledger.cluster.transport import Channel, Credentials, Method, pack, serve, unpack
from ledger.identity import TrustStore
from ledger.peer import Peer
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind
from cluster_helpers import pooled
from test_cluster_follower import world  # noqa: F401 (fixture)
from test_redteam_cluster3 import EDGE, _fake_call, _honest, _identity, edge_world  # noqa: F401 (fixture)


# --- a Type-II of an endorsed twin never reaches the main chain -----------------------------


@pytest.fixture
def main_node(edge_world, tmp_path):
    """A main-chain node's parts (its peer, empty chain) whose reads of edge-0 go to edge-0's
    peers, which serve and attest the ordered block 1 (the twin is endorsed, never ordered)."""
    w = edge_world
    me = _identity(w.directory / "nodes" / "main.peer0" / "credentials")
    peer = Peer(w.rules, me, PeerStore(tmp_path / "main.sqlite", "main"))
    pool = concurrent.futures.ThreadPoolExecutor(4)
    call = _fake_call(w, _honest(w, w.ordered))
    reader = ChainReader(w.rules, EDGE, [p.name for p in w.peers], call, pooled(pool, call))
    node = types.SimpleNamespace(name=me.name, chain_id="main", peer=peer, deployment=w.rules, _queue=queue.Queue(),
                                 reader=lambda chain_id: reader, _know_signers=lambda txs: None,
                                 sync=lambda: peer.height, follower=types.SimpleNamespace(
                                     endorsed=lambda b: None, endorsed_block=lambda digest: None,
                                     revocations=OrderedRevocations(w.rules.trust), term=0, term_cutter=None))
    node._check_reported = lambda tx: Node._check_reported(node, tx)
    node._check_term = lambda caller, term: Node._check_term(node, caller, term)
    _bind_ordering(node)
    yield node
    pool.shutdown(wait=False, cancel_futures=True)
    peer.close()


HANG = 60.0  # seconds after which a call that should return at once counts as hanging


def _returns(fn, *args):
    """fn(*args) on another thread, its result or exception; a call that does not return
    within HANG seconds fails the test instead of hanging it."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(fn, *args).result(HANG)
    except concurrent.futures.TimeoutError:
        pytest.fail(f"{fn.__qualname__} did not return within {HANG} s")
    finally:
        pool.shutdown(wait=False)  # (a hanging call's thread is left behind)


def _bind_ordering(node) -> None:
    """Give a stand-in node the Node methods Node._order calls (queueing and the outcomes)."""
    node._enqueue = lambda txs: Node._enqueue(node, txs)
    node._outcomes = lambda pendings, answers: Node._outcomes(node, pendings, answers)


def _type2(w, block, signer=1):
    """The first Type-II of edge-0 on main, reporting `block` (no witness: nothing reported before)."""
    return Transaction.create(w.peers[signer], TxKind.SUBCHAIN_STATUS, "main",
                              SubchainStatus(block.signed, b"").to_bytes(), timestamp_ms=now_ms(), nonce=now_ms())


def test_a_type2_of_an_endorsed_twin_is_refused_at_submission(edge_world, main_node):
    """edge-0's dishonest cutter holds a twin of block 1, endorsed by the honest peers, that
    it never appended, and submits its Type-II to main: main admitted it (the endorsements are
    genuine) and committed it, and every honest edge-0 peer then found main's anchor of block
    1 to be another block (layer_violation): they interlocked no more. The main peer refuses
    it at admission; nothing is queued or remembered, and the ordered block's Type-II passes."""
    w, node = edge_world, main_node
    twin = _type2(w, w.twin)
    kind, name, message = unpack(unpack(Node._order(node, [twin]), 1)[0])
    assert (kind, name) == (b"E", b"UnprovenAnswer") and b"attested by" in message
    assert node._queue.empty() and (twin.tx_id, twin.signature) not in node.peer._admitted
    assert node.peer.height == 0 and list(node.peer.statuses(EDGE)) == []
    node._check_reported(_type2(w, w.ordered))  # the ordered block's is admitted


def test_a_main_peer_does_not_endorse_a_block_holding_a_type2_of_a_twin(edge_world, main_node):
    """Main's cutter (dishonest too, or fooled) proposes a block with the twin's Type-II: an
    honest main peer refuses to endorse it, so it never gets the policy's endorsements; a block
    reporting the ordered block 1 it endorses."""
    w, node = edge_world, main_node
    proposal, rejected = node.peer._propose([_type2(w, w.twin)])
    assert not rejected and proposal.height == 0
    with pytest.raises(errors.UnprovenAnswer, match="attested by"):
        Node._rpc_endorse(node, None, proposal.to_bytes())
    assert node.peer.height == 0 and list(node.peer.statuses(EDGE)) == []
    node.peer._validated.clear()  # (a fresh proposal: the block above is validated already)
    honest = node.peer._propose([_type2(w, w.ordered, signer=2)])[0]
    fp, _ = unpack(Node._rpc_endorse(node, None, honest.to_bytes()), 2)
    assert fp == node.peer.identity.fingerprint


# --- a silent peer holds no reader's thread past its wait -----------------------------------


@pytest.fixture
def silent_peer(edge_world):
    """A server with edge-0.peer0's credentials whose Stored never answers (until released)."""
    w = edge_world
    release = threading.Event()

    def stored(caller, request):
        release.wait(30)
        return b""
    server, port = serve("127.0.0.1:0", Credentials.load(w.directory / "nodes" / f"{EDGE}.peer0" / "credentials"),
                         load_trust(w.directory / "trust"), {"Stored": Method(stored, per_caller=64)}, EDGE)
    channel = Channel(f"127.0.0.1:{port}", f"{EDGE}.peer0", Credentials.load(w.directory / "clients" / "client"))
    yield types.SimpleNamespace(channel=channel)
    release.set()
    channel.close()
    server.stop(0)


@pytest.mark.parametrize("honest_answers", [2, 1])
def test_a_silent_peer_holds_no_thread_past_the_readers_wait(edge_world, silent_peer, honest_answers):
    """peer0 accepts Stored calls and never answers. Readers ran each call on a shared pool of
    8 threads with a 10 s deadline while waiting 7 s: the silent calls outlived their readers
    and soon held every thread, so every read of the node queued. Now the calls hold no
    thread (gRPC futures), and each is cancelled when its reader is done: with the threshold
    met (2 honest answers) at once, without it (1) at the reader's deadline, never later."""
    w = edge_world
    served = _fake_call(w, _honest(w, w.ordered))
    honest = [p.name for p in w.peers[1:1 + honest_answers]]
    started = []

    def start(name, request, timeout):
        if name == w.peers[0].name:
            started.append(silent_peer.channel.call_future("Stored", request, timeout))
            return started[-1]
        answer = concurrent.futures.Future()
        if name in honest:
            answer.set_result(served(name, "Stored", request, timeout))
        else:
            answer.set_exception(errors.ServiceUnavailable(f"{name} is down"))
        return answer
    readers = 20
    with concurrent.futures.ThreadPoolExecutor(readers) as callers:  # the readers' own threads
        outcomes = [callers.submit(confirm_blocks, w.rules, EDGE, [(1, w.ordered.digest)], w.peers[0].name,
                                   [p.name for p in w.peers], start, 0.5) for _ in range(readers)]
        results = [f.exception(HANG) for f in outcomes]
    if honest_answers == 2:
        assert results == [None] * readers
    else:  # (each at its own deadline of 0.5 s: the silent call's)
        assert all(isinstance(e, errors.UnprovenAnswer) and "attested by 1 peers" in str(e) for e in results)
    assert len(started) == readers and all(f.done() for f in started)  # cancelled or expired: none under way


def test_a_chain_reader_starts_its_attestation_requests_without_a_thread(edge_world):
    """A node's and a client's ChainReader hand confirm_blocks `start` (Channel.call_future):
    the Stored requests of a read run on no pool at all."""
    w = edge_world
    served, threads = _fake_call(w, _honest(w, w.ordered)), []

    def start(name, method, request, timeout):
        threads.append(threading.current_thread())
        answer = concurrent.futures.Future()
        answer.set_result(served(name, method, request, timeout))
        return answer
    reader = ChainReader(w.rules, EDGE, [p.name for p in w.peers], served, start)
    assert reader.block(1).digest == w.ordered.digest
    assert threads and set(threads) == {threading.current_thread()}


# --- a publisher's junk copy of a certificate is passed over --------------------------------


def test_a_junk_copy_in_the_registry_does_not_hide_the_genuine_one(edge_world):
    """A dishonest peer publishes junk, or another member's certificate, under a
    fingerprint in its own directory of the registry: the node passes over it and admits the
    genuine copy another peer published."""
    w = edge_world
    client = _identity(w.directory / "clients" / "client")
    trust = TrustStore(w.rules.trust.ca_certificate)
    from cryptography.hazmat.primitives import serialization
    pem = client.certificate.public_bytes(serialization.Encoding.PEM)
    other = w.peers[0].certificate.public_bytes(serialization.Encoding.PEM)
    asked = []

    def certificates(fp, publishers):
        asked.append(list(publishers))
        return [b"junk", other, pem]
    kept = []
    node = types.SimpleNamespace(name=w.peers[0].name, trust=trust, addresses={w.peers[0].name: ""},
                                 _kept=types.SimpleNamespace(keep=kept.extend),
                                 _publishers=every_peer({"chains": [{"peers": [{"name": p.name} for p in w.peers]}]}),
                                 log=types.SimpleNamespace(certificates=certificates))
    tx = Transaction.create(client, TxKind.RECORD, EDGE, b"r", timestamp_ms=now_ms(), nonce=1)
    Node._know_signers(node, [tx])
    assert trust.resolve(client.fingerprint).name == client.name
    assert asked == [[p.name for p in w.peers]]
    assert {m.fingerprint for m in trust.members()} == {client.fingerprint}
    assert kept == [client.certificate]  # kept for a restart's re-validation


def test_a_silent_peer_does_not_delay_every_block_by_the_endorsement_deadline(world):
    """The cutter waited for every peer's Endorse answer: a peer that accepts the call and
    never answers delayed each block by the call's whole deadline (10 s). The threshold's
    first answers count and the silent call is cancelled."""
    peer = world.new_peer(0)
    silent, honest = concurrent.futures.Future(), concurrent.futures.Future()

    def channel(name):
        def call_future(method, request, timeout):
            assert method == "Endorse"
            return {"edge-0.peer1": silent, "edge-0.peer2": honest}[name]
        return types.SimpleNamespace(call_future=call_future)
    node = types.SimpleNamespace(name="edge-0.peer0", peer=peer, config=types.SimpleNamespace(endorsement_threshold=2),
                                 addresses={"edge-0.peer0": "", "edge-0.peer1": "", "edge-0.peer2": ""},
                                 _channel=channel, chain_id=EDGE,
                                 follower=types.SimpleNamespace(revocations=OrderedRevocations(world.rules.trust), term=0))
    for name in ("_counts", "_endorsements_now", "_own_endorsement"):
        if hasattr(Node, name):  # (the old code's Node lacks the last two)
            setattr(node, name, getattr(Node, name).__get__(node))
    block = peer._propose([])[0]
    honest.set_result(pack(world.peers[2].fingerprint,
                           world.peers[2].sign(block.header.endorsement_message())))
    endorsements = _returns(Node._endorsements, node, block)  # (waiting for the silent one never ends)
    assert silent.cancelled()
    assert [fp for fp, _ in endorsements] == [world.peers[0].fingerprint, world.peers[2].fingerprint]
    peer.close()


# --- callers waiting on a round or an order get a clear error at their deadline -------------


def test_interlock_calls_do_not_queue_on_the_round_under_way():
    """Each Interlock call waited on the round's lock, holding a server thread (16 per caller):
    while a round runs, another is refused at once."""
    node = types.SimpleNamespace(name="edge-0.peer0", _interlock_lock=threading.Lock(),
                                 _interlock_round=lambda: ["a round"])
    assert Node._interlock(node) == ["a round"]
    with node._interlock_lock:  # (waiting on it never ends: this thread holds it)
        with pytest.raises(errors.ServiceUnavailable, match="under way"):
            _returns(Node._interlock, node)


def test_a_submission_nobody_orders_is_answered_at_the_callers_deadline(world):
    """No block is cut (etcd's quorum is lost): the submitter got its answer after 30 s
    whatever its own deadline. Now within the caller's wait, a ServiceUnavailable per
    transaction (it stays queued for the next cut)."""
    peer = world.new_peer(0)
    node = types.SimpleNamespace(peer=peer, _queue=queue.Queue(), _know_signers=lambda txs: None,
                                 _check_reported=lambda tx: None,
                                 follower=types.SimpleNamespace(revocations=OrderedRevocations(world.rules.trust)))
    _bind_ordering(node)
    kind, name, message = unpack(unpack(Node._order(node, [world.genuine[0].transactions[0]], 0.3), 1)[0])
    assert (kind, name) == (b"E", b"ServiceUnavailable") and b"not ordered within 0.3 s" in message
    assert node._queue.qsize() == 1 and peer.height == 0
    peer.close()
