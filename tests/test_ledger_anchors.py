"""Rollback and fork detection across the layers: a sub-chain cut back or rewritten below a
height the main chain anchored through a Type-II, or a main chain cut back or rewritten below a
Type-III a sub-chain received, is refused on open and on every interlock with RollbackDetected
or ForkDetected naming the chain, the height and both digests, and nothing on disk changes.
An edge holds its own peers' keys, so the rewritten histories here are validly re-endorsed:
only the other layer's anchors catch them."""
import dataclasses
import doctest
import shutil
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import edgeacc
import ledger
import ledger.anchors
from ledger import errors
from ledger.anchors import Anchor, ChainCopy, check_chain
from ledger.block import SignedHeader, SubchainStatus
from ledger.chain import now_ms
from ledger.tx import Transaction, TxKind
from tests import store_tamper


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, toy):
    """Two interlocking rounds, then one unanchored record on edge-0. Returns the closed
    deployment's path and, per chain, its block digests and the heights anchored by the
    other layer (edge-0 [2, 5], edge-1 [0, 2]; the main chain's two heights depend on whether
    a round's two Type-IIs shared a block)."""
    path = tmp_path_factory.mktemp("anchors") / "net"
    with ledger.Network.init(path, subchains=2, params=toy, auto_interlock=False) as net:
        for i in range(3):
            net.submit("edge-0", b"a%d" % i).result()
        net.submit("edge-1", b"b0").result()
        net.interlock()
        for i in range(2):
            net.submit("edge-0", b"c%d" % i).result()
        net.submit("edge-1", b"b1").result()
        net.interlock()
        net.submit("edge-0", b"unanchored").result()
        digests = {cid: [net.peer(cid).signed_header(h).header.digest for h in range(net.peer(cid).height)]
                   for cid in net.services}
        anchored = {cid: sorted({r.source_height for r in net.peer("main").statuses(cid)}) for cid in net.subchain_ids}
        anchored["main"] = sorted({r.source_height for cid in net.subchain_ids for r in net.peer(cid).statuses("main")})
    assert (anchored["edge-0"], anchored["edge-1"], len(anchored["main"])) == ([2, 5], [0, 2], 2)
    return path, {"digests": digests, "anchored": anchored}


@pytest.fixture
def deployment(pristine, tmp_path):
    path, facts = pristine
    shutil.copytree(path, tmp_path / "net")
    return tmp_path / "net", facts


def db(path, peer):
    return path / "peers" / f"{peer}.sqlite"


def files(path):
    """The bytes of every peer's store (what an open must not change)."""
    return {f.name: f.read_bytes() for f in sorted((path / "peers").iterdir())}


def truncate(path, peer, height, *, keep_checkpoint=False):
    """Cut a peer's store back to its first `height` blocks and, unless `keep_checkpoint`,
    delete its signed checkpoint, which names a height the store lacks now and refuses the
    open by itself (tests/test_ledger_reopen.py): only the other layer's anchors are left to
    catch the cut."""
    store_tamper.truncate(db(path, peer), height)
    if not keep_checkpoint:
        store_tamper.drop_checkpoint(db(path, peer))


def peers_of(chain):
    return [f"{chain}.peer0", f"{chain}.peer1"]


def rewrite(path, chain, cut, records):
    """What an operator holding every key of `chain`'s peers can do: cut the chain back to
    `cut` blocks on all its peers and append `records` new, validly endorsed blocks. Built by
    a Network whose cross-layer check is switched off (the code before this check)."""
    for peer in peers_of(chain):
        truncate(path, peer, cut)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ledger.Network, "_check_layers", lambda self, *args, **kwargs: None)
        with ledger.Network.open(path, auto_interlock=False) as net:
            for i in range(records):
                net.submit(chain, b"rewritten %d" % i).result()
            return [net.peer(chain).signed_header(h).header.digest for h in range(net.peer(chain).height)]


def refused_on_open(path, error):
    before = files(path)
    with pytest.raises(error) as info:
        ledger.Network.open(path, auto_interlock=False)
    assert files(path) == before, "a refused open must leave every store as it was"
    exc = info.value
    assert exc.chain_id in str(exc) and str(exc.height) in str(exc) and exc.expected.hex() in str(exc)
    if exc.found is not None:
        assert exc.found.hex() in str(exc)
    return exc


# --- on open -------------------------------------------------------------------------------

@pytest.mark.parametrize("cut,height", [(5, 5), (3, 5), (0, 2)])
def test_subchain_cut_back_on_every_peer_is_a_rollback(deployment, cut, height):
    path, facts = deployment
    for peer in peers_of("edge-0"):
        truncate(path, peer, cut)
    exc = refused_on_open(path, errors.RollbackDetected)
    assert (exc.chain_id, exc.height, exc.found) == ("edge-0", height, None)
    assert exc.expected == facts["digests"]["edge-0"][height]


def test_unanchored_blocks_cut_back_open(deployment):
    """Blocks after the last Type-II are protected by the edge's peers only: cutting them is
    no evidence against the anchors (nothing to detect, nothing refused)."""
    path, facts = deployment
    for peer in peers_of("edge-0"):
        truncate(path, peer, 6)
    with ledger.Network.open(path, auto_interlock=False) as net:
        assert [p.height for p in net.service("edge-0").peers] == [6, 6]


def test_one_peer_cut_back_is_refused_then_repaired_from_the_others(deployment):
    """A log cut back below its peer's own checkpoint is refused (never opened shorter); the
    repair is explicit: that peer is caught up from the others."""
    path, facts = deployment
    truncate(path, "edge-0.peer1", 1, keep_checkpoint=True)
    last = len(facts["digests"]["edge-0"]) - 1
    with pytest.raises(errors.RollbackDetected, match=f"edge-0.peer1.*holds 1 block .*vouches for block {last} "):
        ledger.Network.open(path, auto_interlock=False)
    with ledger.Network.open(path, auto_interlock=False, repair=["edge-0.peer1"]) as net:
        peer = net.peer("edge-0", 1)
        assert [peer.signed_header(h).header.digest for h in range(peer.height)] == facts["digests"]["edge-0"]
    ledger.Network.open(path, auto_interlock=False).close()  # (repaired for good)


@pytest.mark.parametrize("cut,height", [(4, 5), (0, 2)])
def test_rewritten_subchain_is_a_fork(deployment, cut, height):
    path, facts = deployment
    forged = rewrite(path, "edge-0", cut, records=8)
    exc = refused_on_open(path, errors.ForkDetected)
    assert (exc.chain_id, exc.height) == ("edge-0", height)
    assert (exc.expected, exc.found) == (facts["digests"]["edge-0"][height], forged[height])


def test_rewritten_subchain_is_refused_at_the_same_height(deployment):
    """The rewrite keeps the chain's length: only the digests at anchored heights differ."""
    path, facts = deployment
    forged = rewrite(path, "edge-0", 5, records=3)
    assert len(forged) == len(facts["digests"]["edge-0"])
    assert refused_on_open(path, errors.ForkDetected).found == forged[5]


def test_one_peer_rewritten_is_a_fork_between_peers(deployment, tmp_path):
    path, facts = deployment
    other = tmp_path / "other"
    shutil.copytree(path, other)
    rewrite(other, "edge-0", 4, records=8)
    store_tamper.copy_store(db(other, "edge-0.peer0"), db(path, "edge-0.peer0"))
    exc = refused_on_open(path, errors.ForkDetected)
    assert "edge-0.peer0" in str(exc) and "edge-0.peer1" in str(exc)


def test_a_short_honest_peer_does_not_receive_a_forged_history(deployment, tmp_path):
    """The honest peer holds only blocks before the fork: the peers agree, the longest is the
    forged one, and the anchors refuse it before the honest peer is caught up with it."""
    path, facts = deployment
    other = tmp_path / "other"
    shutil.copytree(path, other)
    forged = rewrite(other, "edge-0", 4, records=8)
    store_tamper.copy_store(db(other, "edge-0.peer0"), db(path, "edge-0.peer0"))
    truncate(path, "edge-0.peer1", 3, keep_checkpoint=True)
    before = files(path)
    with pytest.raises(errors.ForkDetected) as info:  # (even with the honest peer's repair asked for)
        ledger.Network.open(path, auto_interlock=False, repair=["edge-0.peer1"])
    assert files(path) == before
    assert (info.value.height, info.value.found) == (5, forged[5])


@pytest.mark.parametrize("which", [0, 1])
def test_main_chain_cut_back_below_a_type3_is_a_rollback(deployment, which):
    path, facts = deployment
    cut = facts["anchored"]["main"][which]
    for peer in peers_of("main"):
        truncate(path, peer, cut)
    exc = refused_on_open(path, errors.RollbackDetected)
    assert (exc.chain_id, exc.height) == ("main", cut)
    assert exc.expected == facts["digests"]["main"][cut]


def test_rewritten_main_chain_is_a_fork(deployment):
    path, facts = deployment
    first = facts["anchored"]["main"][0]
    forged = rewrite(path, "main", first, records=4)
    exc = refused_on_open(path, errors.ForkDetected)
    assert (exc.chain_id, exc.height) == ("main", first)
    assert (exc.expected, exc.found) == (facts["digests"]["main"][first], forged[first])


def test_type3_dropped_from_a_subchain_is_seen_through_the_later_type2(deployment):
    """edge-1's block 1 holds its first Type-III; its Type-II at height 2 anchors what follows.
    A history without that Type-III differs at the anchored height."""
    path, facts = deployment
    forged = rewrite(path, "edge-1", 1, records=4)
    exc = refused_on_open(path, errors.ForkDetected)
    assert (exc.chain_id, exc.height, exc.found) == ("edge-1", 2, forged[2])


# --- on every interlock --------------------------------------------------------------------

def store_rows(path):
    out = {}
    for f in sorted((path / "peers").glob("*.sqlite")):
        out[f.name] = [(height, digest) for height, digest, _ in store_tamper.rows(f)]
    return out


@pytest.mark.parametrize("chain", ["edge-0", "main"])
def test_stores_cut_back_under_a_running_network_stop_the_interlock(deployment, chain):
    path, facts = deployment
    cut, error = facts["anchored"][chain][-1], errors.RollbackDetected
    with ledger.Network.open(path, auto_interlock=False) as net:
        net.submit("edge-1", b"new record to interlock").result()
        for peer in peers_of(chain):
            truncate(path, peer, cut)
        rows = store_rows(path)
        heights = {cid: [p.height for p in s.peers] for cid, s in net.services.items()}
        with pytest.raises(error) as info:
            net.interlock()
        assert info.value.chain_id == chain and "store of" in str(info.value)
        assert store_rows(path) == rows
        assert {cid: [p.height for p in s.peers] for cid, s in net.services.items()} == heights


def test_a_stored_digest_rewritten_under_a_running_network_is_a_fork(deployment):
    path, facts = deployment
    with ledger.Network.open(path, auto_interlock=False) as net:
        store_tamper.rewrite(db(path, "edge-0.peer1"), 5, digest=b"\x07" * 32)
        with pytest.raises(errors.ForkDetected) as info:
            net.interlock()
        assert (info.value.chain_id, info.value.height, info.value.found) == ("edge-0", 5, b"\x07" * 32)


def test_the_automatic_interlocker_stops_at_a_rollback(deployment):
    path, facts = deployment
    with ledger.Network.open(path, auto_interlock=True) as net:
        anchored = len(net.peer("main").statuses("edge-0"))
        for peer in peers_of("edge-0"):
            truncate(path, peer, 5)
        with pytest.raises(errors.StorageError, match="not the .* this store wrote|changed under the running peer"):  # (cut under it)
            net.submit("edge-0", b"would be anchored").result()
        deadline = time.monotonic() + 20
        while net._interlocker.is_alive():
            assert time.monotonic() < deadline, "the interlocker kept running over a rolled-back chain"
            time.sleep(0.05)
        assert len(net.peer("main").statuses("edge-0")) == anchored
        with pytest.raises(errors.RollbackDetected):
            net.interlock()


def test_interlock_passes_on_an_honest_deployment(deployment):
    path, facts = deployment
    with ledger.Network.open(path, auto_interlock=False) as net:
        net.check_layers()
        assert net.interlock().type2


# --- the pure rule ---------------------------------------------------------------------------

def test_docstring_examples_run():
    result = doctest.testmod(ledger.anchors)
    assert result.attempted > 0 and result.failed == 0


@st.composite
def copies_and_anchors(draw):
    """A true chain of digests; copies that are prefixes of it, each perhaps forked from some
    height on (a fork changes every later digest, as a hash chain does); anchors from the true
    chain, perhaps beyond it or with a foreign digest."""
    n = draw(st.integers(0, 8))
    true = [b"T%d" % h for h in range(n + 3)]
    copies = []
    for c in range(draw(st.integers(1, 3))):
        length = draw(st.integers(0, n))
        fork = draw(st.one_of(st.none(), st.integers(0, max(length - 1, 0))))
        digests = [true[h] if fork is None or h < fork else b"F%d-%d" % (c, h) for h in range(length)]
        copies.append(digests)
    anchors = [(h, true[h] if honest else b"X%d" % h)
               for h, honest in draw(st.lists(st.tuples(st.integers(0, n + 2), st.booleans()), max_size=4))]
    return copies, anchors


@given(copies_and_anchors())
def test_check_chain_refuses_exactly_the_inconsistent(case):
    copies, anchors = case
    longest = max(len(c) for c in copies)
    consistent = all(a[h] == b[h] for a in copies for b in copies for h in range(min(len(a), len(b)))) \
        and all(h < longest and all(c[h] == d for c in copies if h < len(c)) for h, d in anchors)
    chain_copies = [ChainCopy("edge-0", f"peer{i}", len(c), c.__getitem__) for i, c in enumerate(copies)]
    chain_anchors = [Anchor("edge-0", h, d, "main") for h, d in anchors]
    if consistent:
        check_chain(chain_copies, chain_anchors)
    else:
        with pytest.raises(errors.ChainIntegrityError):
            check_chain(chain_copies, chain_anchors)


def test_an_edge_that_reports_another_block_than_it_holds_is_caught_at_the_next_interlock(tmp_path, toy):
    """An edge holds its peers' keys, so it can endorse a second block at a height it already
    has and report that one to the main chain (a first report needs no continuity witness).
    The main chain accepts the validly endorsed status; the next interlock sees the fork."""
    with ledger.Network.init(tmp_path / "n", subchains=2, params=toy, auto_interlock=False) as net:
        real = net.submit("edge-1", b"the block edge-1 keeps").result()
        honest = net.peer("edge-1").signed_header(0).header
        # a fully consistent other block 0: its own element, and the value it gives from g
        content = dataclasses.replace(honest.content, merkle_root=b"\x42" * 32)
        x, k = edgeacc.hash_to_prime(content.element_data())
        value = pow(net.deployment.generator("edge-1"), x, toy.n)
        header = dataclasses.replace(honest, merkle_root=b"\x42" * 32, acc_element=x, acc_nonce=k,
                                     acc_value=edgeacc.encode_element(toy, value))
        peers = net.service("edge-1").peers
        endorsed = SignedHeader(header, tuple(sorted(
            (p.identity.fingerprint, p.identity.sign(header.endorsement_message())) for p in peers)))
        report = Transaction.create(peers[0].identity, TxKind.SUBCHAIN_STATUS, "main",
                                    SubchainStatus(endorsed).to_bytes(), timestamp_ms=now_ms(), nonce=1)
        net.submit_transaction(report).result()
        main_height = net.peer("main").height
        with pytest.raises(errors.ForkDetected) as info:
            net.interlock()
        assert (info.value.chain_id, info.value.height) == ("edge-1", 0)
        assert (info.value.expected, info.value.found) == (header.digest, real.block_digest)
        assert net.peer("main").height == main_height  # nothing anchored over the fork
    with pytest.raises(errors.ForkDetected):
        ledger.Network.open(tmp_path / "n", auto_interlock=False)
