"""The distributed deployment's operator CA and its mutual-TLS transport: who may call what.

No etcd here: one in-process server with the production call checks (ledger.cluster.transport)."""
import concurrent.futures
import datetime
import itertools
import subprocess
import sys
import threading
import time

import pytest
from cryptography import x509

from ledger import errors
from ledger.cluster import authority
from ledger.cluster.transport import MAX_FIELD, Channel, Credentials, Method, pack, serve, unpack
from ledger.identity import load_certificate, load_revocation_list
from ledger.cluster.node import load_trust, remembered_crl_path

pytest.importorskip("grpc")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    cadir = authority.init(root / "ca")
    members = {}
    for name, role, chain in [("edge-0.peer0", "peer", "edge-0"), ("edge-0.peer1", "peer", "edge-0"),
                              ("edge-1.peer0", "peer", "edge-1"), ("alice", "client", None),
                              ("mallory", "client", None)]:
        members[name] = authority.issue(cadir, name, role, root / name, chain)
    foreign = authority.init(root / "foreign")
    members["stranger"] = authority.issue(foreign, "alice", "client", root / "stranger")
    trust_dir = root / "trust"
    (trust_dir / "certs").mkdir(parents=True)
    for f in ("ca.crt", "crl.pem"):
        (trust_dir / f).write_bytes((cadir / f).read_bytes())
    return root, cadir, members, trust_dir


@pytest.fixture(scope="module")
def server(pki):
    root, cadir, members, trust_dir = pki
    trust = load_trust(trust_dir)
    calls = []

    def echo(caller, request):
        calls.append((caller.name, request))
        return pack(caller.name.encode(), request)

    methods = {"Echo": Method(echo), "PeerOnly": Method(echo, roles=("peer",), same_chain=True)}
    srv, port = serve("127.0.0.1:0", Credentials.load(members["edge-0.peer0"]), trust, methods, "edge-0")
    yield f"127.0.0.1:{port}", trust, calls
    srv.stop(0)


def _channel(members, who, address, server_name="edge-0.peer0"):
    return Channel(address, server_name, Credentials.load(members[who]))


def test_member_of_the_ca_is_served_and_named_by_its_certificate(pki, server):
    _, _, members, _ = pki
    address, _, calls = server
    assert unpack(_channel(members, "alice", address).call("Echo", b"hi", 5), 2) == [b"alice", b"hi"]
    assert unpack(_channel(members, "edge-0.peer1", address).call("PeerOnly", b"x", 5), 2) == [b"edge-0.peer1", b"x"]


def test_foreign_ca_certificate_refused_at_the_handshake(pki, server):
    _, _, members, _ = pki
    address, _, calls = server
    before = len(calls)
    with pytest.raises(errors.ServiceUnavailable):
        _channel(members, "stranger", address).call("Echo", b"hi", 3)
    assert len(calls) == before  # the method never ran


def test_server_with_another_name_refused_by_the_client(pki, server):
    _, _, members, _ = pki
    address, _, calls = server
    before = len(calls)
    with pytest.raises(errors.ServiceUnavailable):  # expects edge-1.peer0, the server is edge-0.peer0
        _channel(members, "alice", address, server_name="edge-1.peer0").call("Echo", b"hi", 3)
    assert len(calls) == before


def test_peer_of_another_chain_and_a_client_refused_at_peer_methods(pki, server):
    _, _, members, _ = pki
    address, _, calls = server
    before = len(calls)
    with pytest.raises(errors.UnauthorizedSigner, match="edge-1"):
        _channel(members, "edge-1.peer0", address).call("PeerOnly", b"endorse me", 5)
    with pytest.raises(errors.UnauthorizedSigner, match="client"):
        _channel(members, "alice", address).call("PeerOnly", b"endorse me", 5)
    assert len(calls) == before


def test_revoked_client_refused_at_the_call_once_the_crl_is_installed(pki, server):
    root, cadir, members, trust_dir = pki
    address, trust, calls = server
    channel = _channel(members, "mallory", address)
    assert unpack(channel.call("Echo", b"1", 5), 2)[0] == b"mallory"
    trust.set_revocation_list(load_revocation_list(authority.revoke(cadir, "mallory")))
    before = len(calls)
    with pytest.raises(errors.RevokedCertificate, match="mallory"):
        channel.call("Echo", b"2", 5)  # the same, already open connection
    with pytest.raises(errors.RevokedCertificate):
        _channel(members, "mallory", address).call("Echo", b"3", 5)
    assert len(calls) == before
    assert _channel(members, "alice", address).call("Echo", b"4", 5)  # others unaffected


def test_ca_commands_issue_revoke_and_refuse_bad_input(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "ledger.cli", "-q", *map(str, args)], capture_output=True, text=True)

    assert cli("ca", "init", tmp_path / "ca").returncode == 0
    assert oct((tmp_path / "ca" / "ca.key").stat().st_mode & 0o777) == "0o600"
    r = cli("ca", "issue", tmp_path / "ca", "edge-0.peer0", "--role", "peer", "--chain", "edge-0", "--out", tmp_path / "p")
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "p" / "ca.key").exists()  # the CA key never goes to a member
    ledger_cert, tls_cert = load_certificate(tmp_path / "p" / "identity.crt"), load_certificate(tmp_path / "p" / "tls.crt")
    assert ledger_cert.subject == tls_cert.subject
    assert tls_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["edge-0.peer0"]
    for bad in (["issue", tmp_path / "ca", "x", "--role", "peer", "--out", tmp_path / "q"],   # a peer without chain
                ["issue", tmp_path / "ca", "edge-0.peer0", "--role", "peer", "--chain", "edge-0", "--out", tmp_path / "r"],
                ["revoke", tmp_path / "ca", "nobody"], ["init", tmp_path / "ca"]):
        r = cli("ca", *bad)
        assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr
    assert cli("ca", "revoke", tmp_path / "ca", "edge-0.peer0").returncode == 0
    revoked = {c.serial_number for c in load_revocation_list(tmp_path / "ca" / "crl.pem")}
    assert {ledger_cert.serial_number, tls_cert.serial_number} <= revoked


def test_replayed_older_crl_or_one_undoing_a_revocation_is_refused(tmp_path):
    """Whoever distributes crl.pem (or writes a node's trust directory) replays the CA's
    earlier CRL, or one the CA signed without the revocation: the revoked client stays out."""
    cadir = authority.init(tmp_path / "ca")
    creds = {n: Credentials.load(authority.issue(cadir, n, r, tmp_path / n, c))
             for n, r, c in [("edge-0.peer0", "peer", "edge-0"), ("trudy", "client", None)]}
    before_revocation = load_revocation_list(cadir / "crl.pem")
    trust = load_trust(cadir)
    srv, port = serve("127.0.0.1:0", creds["edge-0.peer0"], trust, {"Echo": Method(lambda c, r: r)}, "edge-0")
    try:
        channel = Channel(f"127.0.0.1:{port}", "edge-0.peer0", creds["trudy"])
        assert channel.call("Echo", b"1", 5) == b"1"
        trust.set_revocation_list(load_revocation_list(authority.revoke(cadir, "trudy")))
        revoked = trust.revocations_until(1 << 62)
        ca = authority._load(cadir)
        (serial, when_ms), *_ = revoked
        later = datetime.datetime.fromtimestamp(when_ms / 1000 + 3600, datetime.timezone.utc)
        for stale in (before_revocation,                                  # the CA's earlier CRL, replayed
                      ca.revocation_list({}),                             # a fresh one without the serials
                      ca.revocation_list({s: later for s, _ in revoked})):  # revocations postponed
            with pytest.raises(errors.StaleRevocationList):
                trust.set_revocation_list(stale)
            assert trust.revocations_until(1 << 62) == revoked
            with pytest.raises(errors.RevokedCertificate, match="trudy"):
                channel.call("Echo", b"2", 5)
        # a newer CRL that keeps every revocation (and adds one) is installed
        authority.issue(cadir, "alice", "client", tmp_path / "alice")
        trust.set_revocation_list(load_revocation_list(authority.revoke(cadir, "alice")))
        assert len(trust.revocations_until(1 << 62)) == len(revoked) + 2
    finally:
        srv.stop(0)


def test_a_node_remembers_the_last_crl_it_accepted_across_restarts(tmp_path):
    """Whoever writes a node's trust directory puts the CA's earlier CRL back while the node is
    down: on restart the node refuses it (it keeps the last CRL it accepted beside its store)
    and the revocation stays; without that memory the old CRL would be installed."""
    cadir = authority.init(tmp_path / "ca")
    authority.issue(cadir, "trudy", "client", tmp_path / "trudy")
    before = (cadir / "crl.pem").read_bytes()
    remembered = remembered_crl_path(tmp_path / "node" / "store.sqlite")
    remembered.parent.mkdir()
    assert not load_trust(cadir, remembered).revocations_until(1 << 62)  # first start
    assert remembered.read_bytes() == before
    authority.revoke(cadir, "trudy")
    after = (cadir / "crl.pem").read_bytes()
    revoked = load_trust(cadir, remembered).revocations_until(1 << 62)  # restart with the new CRL
    assert revoked and remembered.read_bytes() == after
    (cadir / "crl.pem").write_bytes(before)  # the replay, while the node is down
    with pytest.raises(errors.StaleRevocationList):
        load_trust(cadir, remembered)
    assert remembered.read_bytes() == after
    assert not load_trust(cadir).revocations_until(1 << 62)  # what a node without the memory installs
    remembered.write_bytes(b"not a CRL")
    with pytest.raises(errors.StorageError):
        load_trust(cadir, remembered)


def test_a_caller_flooding_waiting_calls_cannot_starve_the_others(pki):
    """mallory floods a method that waits (as Submit and Stored wait for a block) with far more
    calls than the server has threads: beyond its bound of calls under way the server refuses
    at once (RESOURCE_EXHAUSTED: ServiceUnavailable, retry later), and alice is still served,
    on the waiting method and on another. Without the bound mallory's calls would hold all six
    threads until they end and alice's calls would time out."""
    root, _, members, trust_dir = pki
    release, waiting = threading.Event(), []

    def wait(caller, request):
        waiting.append(caller.name)
        release.wait(20)
        return b"done"

    methods = {"Wait": Method(wait, per_caller=4), "Echo": Method(lambda caller, request: request)}
    srv, port = serve("127.0.0.1:0", Credentials.load(members["edge-0.peer0"]), load_trust(trust_dir), methods,
                      "edge-0", workers=6)
    address = f"127.0.0.1:{port}"
    mallory, alice = _channel(members, "mallory", address), _channel(members, "alice", address)
    try:
        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            flood = [pool.submit(mallory.call, "Wait", b"", 30) for _ in range(20)]
            refused = list(itertools.islice(concurrent.futures.as_completed(flood, timeout=10), 16))
            assert all(isinstance(f.exception(), errors.ServiceUnavailable)
                       and "4 Wait calls under way" in str(f.exception()) for f in refused)
            assert waiting.count("mallory") == 4
            assert alice.call("Echo", b"still served", 3) == b"still served"
            alice_waits = pool.submit(alice.call, "Wait", b"", 10)
            deadline = time.monotonic() + 3
            while "alice" not in waiting and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "alice" in waiting
            release.set()
            assert alice_waits.result(10) == b"done"
            assert [f.result(10) for f in flood if f not in refused] == [b"done"] * 4
    finally:
        release.set()
        mallory.close()
        alice.close()
        srv.stop(0)


def test_a_caller_holds_at_most_its_bound_of_streams_open(pki):
    """mallory opens more submission-like streams than its bound (Method.per_caller counts a
    stream as a call under way for its whole life): the one past the bound is refused at once
    (ServiceUnavailable), the open ones and alice's stream are still served, and a stream that
    ends frees its place. Without the bound each stream would hold a server thread for good."""
    root, _, members, trust_dir = pki

    def echo(caller, requests):
        for request in requests:
            yield pack(caller.name.encode(), request)

    srv, port = serve("127.0.0.1:0", Credentials.load(members["edge-0.peer0"]), load_trust(trust_dir),
                      {"Stream": Method(echo, per_caller=2, streaming=True)}, "edge-0", workers=8)
    address = f"127.0.0.1:{port}"
    mallory, alice = _channel(members, "mallory", address), _channel(members, "alice", address)

    def opened(channel):
        sink = __import__("queue").Queue()
        stream = channel.stream("Stream", iter(sink.get, None))
        answers = iter(stream)
        sink.put(b"hello")
        return stream, sink, answers

    try:
        first, second = opened(mallory), opened(mallory)
        assert unpack(next(first[2])) == [b"mallory", b"hello"] and unpack(next(second[2]))[0] == b"mallory"
        third = opened(mallory)
        with pytest.raises(errors.ServiceUnavailable, match="2 Stream calls under way"):
            next(third[2])
        assert unpack(next(opened(alice)[2])) == [b"alice", b"hello"]
        first[1].put(b"still served")
        assert unpack(next(first[2])) == [b"mallory", b"still served"]
        second[1].put(None)  # mallory ends one stream: its place is free again
        assert list(second[2]) == []
        deadline = time.monotonic() + 5
        while True:
            try:
                assert unpack(next(opened(mallory)[2]))[0] == b"mallory"
                break
            except errors.ServiceUnavailable:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        mallory.close()
        alice.close()
        srv.stop(0)


def test_one_submission_stream_queues_at_most_its_bound_of_transactions(monkeypatch):
    """mallory sends far more transactions on one submission stream than a stalled cutter
    cuts: the node reads the stream only while fewer than MAX_STREAM_PENDING of its
    transactions wait for their block (the rest stays unread: gRPC's flow control holds
    mallory); each answer frees room for one more; a single submission above the bound ends
    the stream with ArgumentError. Without the bound the node would queue all of them."""
    from ledger.cluster import node
    from ledger.cluster.transport import Caller
    monkeypatch.setattr(node, "MAX_STREAM_PENDING", 8)
    queued, sent = [], []

    class StalledCutter:  # the node's state the stream handler reads; it never cuts a block
        name, chain_id, _leadership, _stop = "edge-0.peer0", "edge-0", object(), threading.Event()
        _answer_of = staticmethod(node.Node._answer_of)
        _await_attested = node.Node._await_attested  # (errors only: no block to wait for)

        def _decode_submission(self, request):
            return unpack(request)

        def _enqueue(self, txs):
            pendings = [node._Pending(tx, concurrent.futures.Future()) for tx in txs]
            queued.extend(pendings)
            return pendings

        def _outcomes(self, pendings, answers):
            return [node.encode_outcome(a) for a in answers]

        def _relayed_attestations(self, blocks, deadline):
            return pack()

    def requests(count, per_request=1):
        for i in range(count):
            sent.append(i)
            yield pack(*[b"tx-%d" % i] * per_request)

    answers = node.Node._rpc_submit_stream(StalledCutter(), Caller("mallory", "client", None), requests(1000))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(next, answers)
        deadline = time.monotonic() + 5
        while len(queued) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert len(queued) == 8 and len(sent) <= 9  # (the 9th read waits for room)
        queued[0].future.set_exception(errors.ServiceUnavailable("not ordered"))
        pairs = unpack(unpack(first.result(5), 2)[0])
        assert [unpack(pair)[0] for pair in pairs] == [b"0"]
        pool.submit(next, answers)  # (gRPC asks for the next answer once it sent this one)
        deadline = time.monotonic() + 5
        while len(queued) < 9 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert len(queued) == 9 and len(sent) <= 10
        queued[1].future.set_exception(errors.ServiceUnavailable("not ordered"))  # (ends the waiting next)
    answers.close()  # the stream ends: its reader stops waiting for room

    queued.clear()
    too_many = node.Node._rpc_submit_stream(StalledCutter(), Caller("mallory", "client", None), requests(1, 9))
    with pytest.raises(errors.ArgumentError, match="at most 8"):
        next(too_many)
    assert not queued


@pytest.mark.parametrize("name", ["root", "edgeacc-etcd-member"])
def test_no_peer_is_issued_a_reserved_etcd_name(pki, tmp_path, name):
    """A peer's etcd user is its certificate's CN: a peer named root would administer etcd,
    one named as the members would pass their Raft port's CN check. Refused before anything
    is written or recorded."""
    _, cadir, _, _ = pki
    issued = (cadir / "issued.json").read_text()
    with pytest.raises(errors.ConfigurationError, match="reserved etcd name"):
        authority.issue(cadir, name, "peer", tmp_path / "creds", "edge-0")
    assert not (tmp_path / "creds").exists() and not (cadir / "certs" / f"{name}.crt").exists()
    assert (cadir / "issued.json").read_text() == issued


def test_a_transport_certificate_verified_once_vouches_for_no_other(pki):
    """check_transport verifies the CA's signature once per certificate (its exact DER): a
    certificate of the same subject from another CA, or the accepted one with a flipped
    signature byte, is still UnknownCertificate after the genuine one was accepted."""
    from cryptography.hazmat.primitives import serialization
    root, cadir, members, trust_dir = pki
    trust = load_trust(trust_dir)
    alice = load_certificate(members["alice"] / "tls.crt")
    assert trust.check_transport(alice)[:2] == trust.check_transport(alice)[:2] == ("alice", "client")
    with pytest.raises(errors.UnknownCertificate):
        trust.check_transport(load_certificate(members["stranger"] / "tls.crt"))  # "alice" of a foreign CA
    der = bytearray(alice.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 1  # inside the signature
    with pytest.raises(errors.UnknownCertificate, match="not signed by the deployment CA"):
        trust.check_transport(x509.load_der_x509_certificate(bytes(der)))


def _open_stream(channel, method="Stream"):
    sink = __import__("queue").Queue()
    stream = channel.stream(method, iter(sink.get, None))
    answers = iter(stream)
    sink.put(b"hello")
    return stream, sink, answers


def test_many_callers_streams_do_not_starve_the_calls_that_wait(pki):
    """Distinct callers each open submission-like streams and leave them idle: each holds a
    server worker while open, so (main) enough certificates took every worker and Submit /
    Endorse were no longer served. The server holds at most Method.total of them: the next
    caller is told ServerBusy naming Submit at once, and the other methods are served."""
    root, _, members, trust_dir = pki

    def echo(caller, requests):
        for request in requests:
            yield pack(caller.name.encode(), request)

    methods = {"Stream": Method(echo, per_caller=2, streaming=True, total=2, instead="Submit"),
               "Echo": Method(lambda caller, request: request)}
    srv, port = serve("127.0.0.1:0", Credentials.load(members["edge-0.peer0"]), load_trust(trust_dir), methods,
                      "edge-0", workers=4)
    address = f"127.0.0.1:{port}"
    channels = {n: _channel(members, n, address) for n in ("mallory", "alice", "edge-0.peer1")}
    try:
        held = [_open_stream(channels["mallory"]), _open_stream(channels["alice"])]
        assert [unpack(next(answers))[0] for _, _, answers in held] == [b"mallory", b"alice"]
        with pytest.raises(errors.ServerBusy, match="use Submit"):
            next(_open_stream(channels["edge-0.peer1"])[2])
        with concurrent.futures.ThreadPoolExecutor(4) as pool:  # every remaining worker still serves
            assert [f.result(5) for f in [pool.submit(channels["edge-0.peer1"].call, "Echo", b"x", 5)
                                          for _ in range(4)]] == [b"x"] * 4
        held[0][1].put(None)  # a stream that ends frees its place
        assert list(held[0][2]) == []
        deadline = time.monotonic() + 5
        while True:
            try:
                assert unpack(next(_open_stream(channels["edge-0.peer1"])[2]))[0] == b"edge-0.peer1"
                break
            except errors.ServerBusy:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        for c in channels.values():
            c.close()
        srv.stop(0)


def test_an_idle_stream_is_closed_and_its_place_freed(pki):
    """A stream nothing crossed for its method's idle_seconds is cancelled by the server: the
    caller sees the stream end (ServiceUnavailable) and its place counts no more."""
    root, _, members, trust_dir = pki
    ended = threading.Event()

    def echo(caller, requests):
        try:
            for request in requests:
                yield request
        finally:
            ended.set()

    srv, port = serve("127.0.0.1:0", Credentials.load(members["edge-0.peer0"]), load_trust(trust_dir),
                      {"Stream": Method(echo, per_caller=1, streaming=True, idle_seconds=1)}, "edge-0", workers=4)
    mallory = _channel(members, "mallory", f"127.0.0.1:{port}")
    try:
        _, sink, answers = _open_stream(mallory)
        assert next(answers) == b"hello"
        with pytest.raises(errors.ServiceUnavailable, match="cancelled"):
            next(answers)  # (nothing sent: the server closes it)
        assert ended.wait(10)
        _, _, again = _open_stream(mallory)  # per_caller=1: the idle one's place is free
        assert next(again) == b"hello"
    finally:
        mallory.close()
        srv.stop(0)


def test_a_handler_stops_waiting_once_its_caller_cancelled(pki):
    """gRPC's sync server ran a handler to its end after the caller cancelled: a Submit waiting
    for its block held the worker for nobody. Caller.ended is set when the call ends, and
    node.answer_within stops waiting then."""
    from ledger.cluster.node import answer_within
    root, _, members, trust_dir = pki
    never, stopped = concurrent.futures.Future(), threading.Event()

    def wait(caller, request):
        try:
            answer_within(never, time.monotonic() + 120, caller.ended)
        finally:
            stopped.set()
        return b"answered"

    srv, port = serve("127.0.0.1:0", Credentials.load(members["edge-0.peer0"]), load_trust(trust_dir),
                      {"Wait": Method(wait)}, "edge-0", workers=4)
    alice = _channel(members, "alice", f"127.0.0.1:{port}")
    try:
        call = alice.call_future("Wait", b"", 120)
        time.sleep(0.5)
        call.cancel()
        assert stopped.wait(15)  # (its own wait was 120 s)
        stopped.clear()
        with pytest.raises(errors.ServiceUnavailable, match="deadline"):
            alice.call("Wait", b"", 1)  # past its deadline the handler stops too
        assert stopped.wait(15)
    finally:
        alice.close()
        srv.stop(0)


def test_free_port_never_hands_out_one_port_twice():
    """local.free_port picks at random below the ephemeral range and closes the socket: the
    old code repeated a port once in about 150 deployments of 20 ports (two services, one
    port, one of them failing to bind); 1000 picks repeated one almost surely (p > 1 - 1e-6)."""
    from ledger.cluster import local
    ports = [local.free_port() for _ in range(1000)]
    assert len(set(ports)) == len(ports)


def _reference_unpack(data, count=None, what="message"):
    """unpack as ledger.encoding's Reader reads it (the encoding pack/unpack must keep)."""
    from ledger.encoding import Reader
    r = Reader(data, what)
    n = r.u32()
    if count is not None and n != count:
        raise errors.EncodingError("count")
    if n > 1 << 20:
        raise errors.EncodingError("fields")
    out = [r.bytes32(MAX_FIELD) for _ in range(n)]
    r.end()
    return out


def test_pack_and_unpack_keep_the_one_encoding_and_refuse_every_malformed_message():
    import random
    from ledger.encoding import Writer
    rng = random.Random(11)
    for _ in range(300):
        fields = [rng.randbytes(rng.choice((0, 1, 5, 32, 300))) for _ in range(rng.randrange(6))]
        w = Writer().u32(len(fields))
        for f in fields:
            w.bytes32(f)
        assert pack(*fields) == w.getvalue() == pack(*(bytearray(f) for f in fields))
        data = pack(*fields)
        assert unpack(data, len(fields)) == fields == unpack(memoryview(data)) == unpack(bytearray(data))
        mutants = [data[:rng.randrange(len(data))], data + rng.randbytes(rng.randrange(1, 5))]
        for _ in range(8):  # a flipped byte: in a count, a length or a field
            i = rng.randrange(len(data))
            mutants.append(data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:])
        for m in mutants:
            try:
                expected = _reference_unpack(m)
            except errors.EncodingError:
                with pytest.raises(errors.EncodingError):
                    unpack(m)
            else:
                assert unpack(m) == expected
    with pytest.raises(errors.EncodingError):
        unpack(pack(b"a", b"b"), 3)
    with pytest.raises(errors.EncodingError):
        unpack("not bytes")
    with pytest.raises(errors.EncodingError):  # a length past MAX_FIELD, however long the message
        unpack((1).to_bytes(4, "big") + (MAX_FIELD + 1).to_bytes(4, "big"))
    with pytest.raises(errors.EncodingError):
        unpack(((1 << 20) + 1).to_bytes(4, "big"))
    with pytest.raises(errors.ArgumentError):
        pack(b"a", "text")


@pytest.mark.parametrize("bad", [b"", b"01", b"00", b"-1", b"+1", b" 1", b"1 ", b"1_0", b"\xd9\xa1", b"1" * 1001])
def test_a_number_field_has_one_encoding(bad):
    from ledger.cluster.transport import number
    with pytest.raises(errors.EncodingError):
        number(bad, "height")
    assert number(b"0", "height") == 0 and number(bytearray(b"907"), "height") == 907 and number(b"ff", "x", 16) == 255


# --- the client's submission stream over grpc.aio (Channel.aio_stream) -----------------------


def _aio_exchange(channel, messages, method="Stream"):
    """Write `messages` on an aio stream of `method`, close the sending side, read every
    answer (on the process's loop, as the client's submission stream does); the channel's
    failure() of a failed call. `messages` None: only read - for a call the server refuses at
    its start, where a write races the refusal (grpc.aio reports a write into a call the server
    already ended as "internal", losing the server's status)."""
    import asyncio

    import grpc

    from ledger.cluster.transport import aio_loop

    async def run():
        call = channel.aio_stream(method)
        if messages is not None:
            for message in messages:
                await call.write(message)
            await call.done_writing()
        answers = []
        while (answer := await call.read()) is not grpc.aio.EOF:
            answers.append(answer)
        return answers
    try:
        return asyncio.run_coroutine_threadsafe(run(), aio_loop()).result(15)
    except grpc.RpcError as exc:
        raise channel.failure(exc) from None


@pytest.fixture(scope="module")
def stream_server(pki):
    root, cadir, members, trust_dir = pki
    trust = load_trust(trust_dir)
    seen = []

    def echo(caller, requests):
        for request in requests:
            seen.append((caller.name, request))
            yield pack(caller.name.encode(), request)

    srv, port = serve("127.0.0.1:0", Credentials.load(members["edge-0.peer0"]), trust,
                      {"Stream": Method(echo, streaming=True),
                       "PeerStream": Method(echo, roles=("peer",), same_chain=True, streaming=True)}, "edge-0")
    yield f"127.0.0.1:{port}", trust, seen
    srv.stop(0)


def test_an_aio_stream_is_served_and_named_by_the_callers_certificate(pki, stream_server):
    _, _, members, _ = pki
    address, _, _ = stream_server
    answers = _aio_exchange(_channel(members, "alice", address), [b"one", b"two"])
    assert [unpack(a, 2) for a in answers] == [[b"alice", b"one"], [b"alice", b"two"]]
    answers = _aio_exchange(_channel(members, "edge-0.peer1", address), [b"x"], "PeerStream")
    assert [unpack(a, 2) for a in answers] == [[b"edge-0.peer1", b"x"]]


def test_an_aio_stream_refuses_a_foreign_ca_and_a_server_of_another_name(pki, stream_server):
    """The aio channel keeps the sync one's TLS: a certificate of a foreign CA is refused at
    the handshake, and a server that does not present the expected name is not talked to
    (in neither case does the method see a message)."""
    _, _, members, _ = pki
    address, _, seen = stream_server
    before = len(seen)
    with pytest.raises(errors.ServiceUnavailable):
        _aio_exchange(_channel(members, "stranger", address), [b"hi"])
    with pytest.raises(errors.ServiceUnavailable):
        _aio_exchange(_channel(members, "alice", address, server_name="edge-0.peer1"), [b"hi"])
    assert len(seen) == before


def test_an_aio_stream_is_refused_a_method_of_another_role_or_chain(pki, stream_server):
    _, _, members, _ = pki
    address, _, seen = stream_server
    before = len(seen)
    with pytest.raises(errors.UnauthorizedSigner, match="edge-1"):
        _aio_exchange(_channel(members, "edge-1.peer0", address), None, "PeerStream")
    with pytest.raises(errors.UnauthorizedSigner, match="client"):
        _aio_exchange(_channel(members, "alice", address), None, "PeerStream")
    assert len(seen) == before


def test_an_aio_stream_keeps_the_message_limit(pki, stream_server, monkeypatch):
    """The aio channel takes the sync one's message limits (its options): a message past the
    limit is refused before it reaches the server. (A channel made with a 1 KiB limit.)"""
    from ledger.cluster import transport
    _, _, members, _ = pki
    address, _, seen = stream_server
    monkeypatch.setattr(transport, "_OPTIONS", [("grpc.max_send_message_length", 1024),
                                                ("grpc.max_receive_message_length", 1024)])
    small = _channel(members, "alice", address)
    assert unpack(_aio_exchange(small, [b"a" * 100])[0], 2) == [b"alice", b"a" * 100]
    before = len(seen)
    with pytest.raises(errors.ServiceUnavailable):  # (grpc.aio says "internal", the sync channel resource_exhausted)
        _aio_exchange(small, [b"a" * 2000])
    assert len(seen) == before


def test_an_aio_stream_of_a_revoked_client_is_refused_once_the_crl_is_installed(pki):
    """(Its own member, server and trust store: the revocation must not leak into the other tests.)"""
    root, cadir, members, trust_dir = pki
    eve = authority.issue(cadir, "eve", "client", root / "eve")
    trust = load_trust(trust_dir)

    def echo(caller, requests):
        for request in requests:
            yield request
    srv, port = serve("127.0.0.1:0", Credentials.load(members["edge-0.peer0"]), trust,
                      {"Stream": Method(echo, streaming=True)}, "edge-0")
    try:
        channel = Channel(f"127.0.0.1:{port}", "edge-0.peer0", Credentials.load(eve))
        assert _aio_exchange(channel, [b"1"]) == [b"1"]
        trust.set_revocation_list(load_revocation_list(authority.revoke(cadir, "eve")))
        with pytest.raises(errors.RevokedCertificate, match="eve"):
            _aio_exchange(channel, None)  # (the same, already open connection)
    finally:
        srv.stop(0)
