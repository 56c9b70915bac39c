"""Protocol 1: a verifier on chain A checks a transaction of chain B through the main chain.
Valid transactions pass from every chain; forged, misplaced or not-yet-interlocked ones get a
rejecting verdict with a reason."""
import dataclasses
import time

import pytest

import edgeacc
import ledger
from ledger.block import BlockHeader, SignedHeader
from ledger.protocol1 import InclusionProof, check_cross_chain


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with ledger.Network.init(tmp_path_factory.mktemp("p1") / "net", subchains=3, peers_per_chain=2,
                             auto_interlock=False) as network:
        yield network


@pytest.fixture(scope="module")
def committed(net):
    """Records on edge-0 and edge-1 (a block of 20 above a first block on edge-0), then one
    interlocking round."""
    net.submit("edge-0", b"first block").result()
    batch = [net.record("edge-0", b"batched %d" % i) for i in range(20)]
    receipts = [p.result() for p in net.submit_transactions(batch)]
    single = net.submit("edge-1", b"lonely record").result()
    net.interlock()
    return receipts, single


def test_valid_transaction_verifies_from_every_chain(net, committed):
    receipts, single = committed
    for receipt in receipts[::7] + [single]:
        for chain in net.services:
            verdict = net.verifier(chain).verify(receipt.tx_id)
            assert verdict.ok, (chain, verdict.reason)
            assert verdict.code == "ok" and verdict.chain_id == receipt.chain_id
            assert verdict.height == receipt.height
            assert verdict.transaction.tx_id == receipt.tx_id


def test_many_transactions_share_a_block(net, committed):
    receipts, _ = committed
    assert len({r.height for r in receipts}) == 1  # submitted together: one block
    assert sorted(r.position for r in receipts) == list(range(len(receipts)))


def test_main_chain_transaction_verifies_from_a_subchain(net, committed):
    type2 = net.peer("main").statuses("edge-0")[-1]
    net.interlock()  # nothing new to anchor: no round-trip needed
    verdict = net.verifier("edge-2").verify(type2.tx_id)
    assert verdict.ok, verdict.reason


def test_not_interlocked_yet_then_valid(net, committed):
    receipt = net.submit("edge-2", b"fresh").result()
    verdict = net.verifier("edge-0").verify(receipt.tx_id)
    assert not verdict.ok and verdict.code == "not-interlocked"
    assert "interlocking" in verdict.reason
    net.interlock()
    assert net.verifier("edge-0").verify(receipt.tx_id).ok


def test_unknown_and_malformed_ids(net, committed):
    assert net.verifier("edge-0").verify(b"\x01" * 32).code == "unknown-transaction"
    assert net.verifier("edge-0").verify("xyz").code == "malformed"
    assert net.verifier("edge-0").verify(committed[1].tx_id, chain_id="edge-0").code == "unknown-transaction"
    assert net.verifier("edge-0").verify(committed[1].tx_id, chain_id="nope").code == "unknown-chain"


def test_verifier_without_a_type3_rejects(tmp_path):
    with ledger.Network.init(tmp_path / "n", subchains=2, auto_interlock=False) as net:
        r = net.submit("edge-0", b"x").result()
        verdict = net.verifier("edge-1").verify(r.tx_id)
        assert not verdict.ok and verdict.code == "no-main-status"


def _wait_until_valid(net, verifier_chain, tx_id, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        verdict = net.verifier(verifier_chain).verify(tx_id)
        if verdict.ok:
            return verdict
        time.sleep(0.05)
    return verdict


def test_automatic_interlocking_every_k_blocks(tmp_path):
    with ledger.Network.init(tmp_path / "n", subchains=2, interlock_blocks=3, interlock_seconds=0) as net:
        first = net.submit("edge-0", b"r0").result()
        time.sleep(0.3)
        assert not net.peer("main").statuses("edge-0"), "one block is below K: no round yet"
        for i in range(1, 4):
            net.submit("edge-0", b"r%d" % i).result()
        assert _wait_until_valid(net, "edge-1", first.tx_id).ok
        assert net.peer("main").statuses("edge-0")


def test_automatic_interlocking_every_t_seconds(tmp_path):
    with ledger.Network.init(tmp_path / "n", subchains=2, interlock_blocks=0, interlock_seconds=0.2) as net:
        receipt = net.submit("edge-1", b"only one block").result()
        assert _wait_until_valid(net, "edge-0", receipt.tx_id).ok


# --- forged proofs, checked by the pure Protocol 1 function ----------------------------------

def fetch(net, tx_id, chain_b, verifier_chain="edge-2"):
    """The proofs a verifier on `verifier_chain` fetches for `tx_id` on `chain_b`."""
    a = net.peer(verifier_chain)
    main_status = SignedHeader.from_bytes(a.transaction(a.statuses("main")[-1].tx_id).payload)
    h_m = main_status.header.height
    record = [r for r in net.peer("main").statuses(chain_b) if r.height <= h_m][-1]
    status_proof = net.peer("main").inclusion_proof(record.tx_id, h_m)
    tx_proof = net.peer(chain_b).inclusion_proof(tx_id, record.source_height)
    return dict(tx_id=tx_id, chain_id=chain_b, main_chain_id="main", main_status=main_status,
                status_proof=status_proof, tx_proof=tx_proof)


def test_fetched_proofs_verify_and_survive_serialisation(net, committed):
    receipt = committed[0][5]
    kw = fetch(net, receipt.tx_id, "edge-0")
    assert check_cross_chain(net.params, **kw).ok
    for key in ("status_proof", "tx_proof"):
        raw = kw[key].to_bytes(net.params)
        kw[key] = InclusionProof.from_bytes(net.params, raw)
    assert check_cross_chain(net.params, **kw).ok


def _forgeries(net, committed):
    P = net.params
    receipts, single = committed
    kw = fetch(net, receipts[5].tx_id, "edge-0")
    tx_proof, status_proof = kw["tx_proof"], kw["status_proof"]
    other = fetch(net, receipts[6].tx_id, "edge-0")["tx_proof"]
    edge1 = fetch(net, single.tx_id, "edge-1")
    header = BlockHeader.from_bytes(tx_proof.header)
    assert header.height > 0
    moved = dataclasses.replace(header, height=header.height - 1).encoded  # replay at another height
    renamed = dataclasses.replace(header, chain_id="edge-1").encoded        # replay on another chain
    fake_main = SignedHeader(dataclasses.replace(kw["main_status"].header, acc_value=edgeacc.encode_element(
        P, P.generator(b"forged"))), ())
    return kw, {
        "witness": ({"tx_proof": dataclasses.replace(tx_proof, witness=edgeacc.powm(tx_proof.witness, 3, P.n))}, "tx-proof"),
        "merkle path": ({"tx_proof": dataclasses.replace(tx_proof, path=(b"\0" * 32,) + tx_proof.path[1:])}, "tx-proof"),
        "position": ({"tx_proof": dataclasses.replace(tx_proof, position=tx_proof.position ^ 1)}, "tx-proof"),
        "other tx": ({"tx_proof": dataclasses.replace(tx_proof, tx=other.tx, position=other.position, path=other.path)}, "tx-proof"),
        "tx bytes": ({"tx_proof": dataclasses.replace(tx_proof, tx=tx_proof.tx[:-1] + bytes([tx_proof.tx[-1] ^ 1]))}, "tx-proof"),
        "truncated tx": ({"tx_proof": dataclasses.replace(tx_proof, tx=tx_proof.tx[:-3])}, "tx-proof"),
        "moved height": ({"tx_proof": dataclasses.replace(tx_proof, header=moved)}, "tx-proof"),
        "renamed chain": ({"tx_proof": dataclasses.replace(tx_proof, header=renamed)}, "tx-proof"),
        "status witness": ({"status_proof": dataclasses.replace(status_proof, witness=edgeacc.powm(status_proof.witness, 3, P.n))}, "status-proof"),
        "status of edge-1": ({"status_proof": edge1["status_proof"]}, "wrong-chain"),
        "tx proof of edge-1": ({"tx_proof": edge1["tx_proof"]}, "tx-proof"),
        "forged acc_M": ({"main_status": fake_main}, "status-proof"),
        "no status proof": ({"status_proof": None}, "no-status"),
        "record instead of Type-II": ({"status_proof": dataclasses.replace(
            tx_proof, chain_id="main", against_height=status_proof.against_height)}, "status-proof"),
        "another tx id": ({"tx_id": receipts[6].tx_id}, "tx-proof"),
        "stale against height": ({"tx_proof": dataclasses.replace(tx_proof, against_height=tx_proof.against_height + 1)}, "tx-proof"),
    }


def test_forged_proofs_are_rejected_with_a_reason(net, committed):
    kw, forgeries = _forgeries(net, committed)
    assert check_cross_chain(net.params, **kw).ok
    for name, (change, code) in forgeries.items():
        verdict = check_cross_chain(net.params, **{**kw, **change})
        assert not verdict.ok, name
        assert verdict.code == code, (name, verdict.code, verdict.reason)
        assert verdict.reason


def test_block_beyond_the_type2_is_not_interlocked(net, committed):
    receipt = net.submit("edge-0", b"late").result()
    kw = fetch(net, committed[0][0].tx_id, "edge-0")
    late_proof = net.peer("edge-0").inclusion_proof(receipt.tx_id)
    late_proof = dataclasses.replace(late_proof, against_height=kw["tx_proof"].against_height)
    verdict = check_cross_chain(net.params, **{**kw, "tx_id": receipt.tx_id, "tx_proof": late_proof})
    assert not verdict.ok and verdict.code == "not-interlocked"


def test_one_transaction_per_block_as_in_the_paper(tmp_path):
    with ledger.Network.init(tmp_path / "n", subchains=2, max_block_txs=1, auto_interlock=False) as net:
        receipts = [p.result() for p in [net.submit("edge-0", b"r%d" % i) for i in range(6)]]
        assert sorted(r.height for r in receipts) == list(range(6))
        assert all(r.position == 0 for r in receipts)
        net.interlock()
        for r in receipts:
            assert net.verifier("edge-1").verify(r.tx_id).ok


def test_package_docstring_example_runs(tmp_path, monkeypatch):
    """The usage example at the top of ledger/__init__.py is real code."""
    lines = ledger.__doc__.splitlines()
    start = lines.index("    import ledger")
    end = lines.index("", start)
    code = "\n".join(line[4:] for line in lines[start:end])
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "ledger/__init__.py docstring", "exec"), {})
    assert (tmp_path / "data" / "network.json").exists()


def test_submitted_together_fill_blocks_up_to_the_limit(tmp_path):
    with ledger.Network.init(tmp_path / "n", subchains=2, max_block_txs=5, auto_interlock=False) as net:
        txs = [net.record("edge-0" if i % 4 else "edge-1", b"r%d" % i) for i in range(16)]
        receipts = [p.result() for p in net.submit_transactions(txs)]
        assert [r.chain_id for r in receipts] == [t.chain_id for t in txs]
        sizes = {}
        for r in receipts:
            sizes[(r.chain_id, r.height)] = sizes.get((r.chain_id, r.height), 0) + 1
        assert sorted(sizes.values()) == [2, 4, 5, 5]  # edge-0: 12 = 5 + 5 + 2; edge-1: 4


def test_own_chain_verdict_survives_a_block_committed_while_verifying(tmp_path, toy, monkeypatch):
    """The verifier builds the proof, then reads the accumulator: a block committed in between
    (here forced right after the proof is built) must not turn a valid transaction away."""
    with ledger.Network.init(tmp_path / "n", subchains=1, params=toy, auto_interlock=False) as net:
        receipt = net.submit("edge-0", b"valid record").result()
        peer, height = net.peer("edge-0"), net.peer("edge-0").height
        build_proof = peer.inclusion_proof

        def proof_then_a_new_block(*args, **kwargs):
            proof = build_proof(*args, **kwargs)
            net.submit("edge-0", b"committed in between").result()
            return proof

        monkeypatch.setattr(peer, "inclusion_proof", proof_then_a_new_block)
        verdict = net.verifier("edge-0").verify(receipt.tx_id)
        assert peer.height == height + 1  # the block did land mid-verification
        assert verdict.ok, verdict.reason
