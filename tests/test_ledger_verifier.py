"""Verifier.verify_many: one batched Protocol 1 path. Distinct statements are checked once
with edgeacc.batch_verify; a dishonest prover (a peer serving forged witnesses or proofs) gets
exactly the transactions that rest on its forgery rejected."""
from __future__ import annotations

import pytest

import edgeacc
import ledger


@pytest.fixture
def net(tmp_path, toy):
    with ledger.Network.init(tmp_path / "net", subchains=2, params=toy, auto_interlock=False,
                             max_block_txs=4) as net:
        yield net


def committed(net, chain, n):
    pendings = net.submit_transactions([net.record(chain, b"%s %d" % (chain.encode(), i)) for i in range(n)])
    return [p.result().tx_id for p in pendings]


def chain_state(net):
    return {cid: [p.height for p in net.service(cid).peers] for cid in net.chain_ids}


def test_distinct_statements_are_batch_verified_once(net, monkeypatch):
    ids = committed(net, "edge-0", 10) + committed(net, "main", 3)
    net.interlock()
    blocks = {(r.chain_id, r.height) for r in map(net.locate, ids)}
    calls = []
    real = edgeacc.batch_verify
    monkeypatch.setattr(edgeacc, "batch_verify", lambda P, items, **kw: calls.append(list(items)) or real(P, items, **kw))
    verdicts = net.verify_many(ids + ids[:2], "edge-1")
    assert all(verdicts[t].ok for t in ids), [v.reason for v in verdicts.values() if not v.ok]
    assert len(calls) == 1
    # one statement per block, plus one Type-II proof of edge-0 under acc_M
    assert len(calls[0]) == len(set(calls[0])) == len(blocks) + 1
    for tx_id in ids:
        single = net.verify(tx_id, "edge-1")
        assert single.ok and single.height == verdicts[tx_id].height and single.chain_id == verdicts[tx_id].chain_id


@pytest.mark.parametrize("forgery", ["wrong witness", "malformed witness"])
def test_a_forged_block_witness_rejects_exactly_its_transactions(net, monkeypatch, forgery):
    ids = committed(net, "edge-0", 8)
    net.interlock()
    heights = {tx_id: net.locate(tx_id).height for tx_id in ids}
    target = heights[ids[0]]
    holder = net.service("edge-0").leader
    honest = holder.block_witnesses

    def dishonest(wanted, against):
        out = honest(wanted, against)
        if target in out:
            out[target] = edgeacc.powm(out[target], 3, net.params.n) if forgery == "wrong witness" else net.params.n - 1
        return out

    before = chain_state(net)
    monkeypatch.setattr(holder, "block_witnesses", dishonest)
    for verifier_chain in ("edge-1", "edge-0"):
        verdicts = net.verify_many(ids, verifier_chain)
        for tx_id in ids:
            assert verdicts[tx_id].ok == (heights[tx_id] != target), (verifier_chain, verdicts[tx_id].reason)
            if heights[tx_id] == target:
                assert verdicts[tx_id].code == "tx-proof"
    assert chain_state(net) == before


def test_a_forged_type2_proof_rejects_every_transaction_of_that_chain(net, monkeypatch):
    ids = committed(net, "edge-0", 3)
    other = committed(net, "main", 2)
    net.interlock()
    main = net.service("main").leader
    honest = main.inclusion_proof
    status_ids = {r.tx_id for r in main.statuses("edge-0")}

    def dishonest(tx_id, against=None):
        proof = honest(tx_id, against)
        if tx_id in status_ids:
            proof = type(proof)(**{**proof.__dict__, "witness": edgeacc.powm(proof.witness, 5, net.params.n)})
        return proof

    monkeypatch.setattr(main, "inclusion_proof", dishonest)
    verdicts = net.verify_many(ids + other, "edge-1")
    assert [verdicts[t].code for t in ids] == ["status-proof"] * 3
    assert all(verdicts[t].ok for t in other)


def test_verify_many_gives_verify_s_verdicts(net):
    early = committed(net, "edge-0", 3) + committed(net, "main", 2) + committed(net, "edge-1", 2)
    net.interlock()
    late = committed(net, "edge-0", 2) + committed(net, "main", 1)
    ids = early + late + [bytes(32)]
    for verifier_chain in net.chain_ids:
        verdicts = net.verify_many(ids + ["zz", b"short"], verifier_chain)
        for tx_id in ids:
            single = net.verify(tx_id, verifier_chain)
            assert (verdicts[tx_id].ok, verdicts[tx_id].code) == (single.ok, single.code), (verifier_chain, tx_id)
        assert verdicts["zz"].code == verdicts[b"short"].code == "malformed"
    with pytest.raises(ledger.errors.ArgumentError):
        net.verify_many(5, "edge-1")
    with pytest.raises(ledger.errors.NotFound):
        net.verify_many(ids, "edge-9")


# --- historical anchors: each witness spans one interlocking interval ----------------------

def spans(monkeypatch, net):
    """Record (chain, against - height) of every block witness a prover computes."""
    seen = []
    for cid in net.chain_ids:
        for peer in net.service(cid).peers:
            real_many, real_one = peer.state.block_witnesses, peer.state.block_witness

            def many(heights, against, real=real_many, cid=cid):
                seen.extend((cid, against - h) for h in heights)
                return real(heights, against)

            def one(height, against, real=real_one, cid=cid):
                seen.append((cid, against - height))
                return real(height, against)
            monkeypatch.setattr(peer.state, "block_witnesses", many)
            monkeypatch.setattr(peer.state, "block_witness", one)
    return seen


def test_an_old_transaction_is_proved_against_the_first_anchors_after_it(net, monkeypatch):
    first = committed(net, "edge-0", 1)[0]
    main_first = committed(net, "main", 1)[0]
    for _ in range(6):  # six more interlocking intervals of three blocks on edge-0
        net.interlock()
        for _ in range(3):
            committed(net, "edge-0", 1)
    net.interlock()
    seen = spans(monkeypatch, net)
    for verifier_chain in net.chain_ids:
        for tx_id in (first, main_first):
            verdict = net.verify(tx_id, verifier_chain)
            assert verdict.ok, (verifier_chain, verdict.reason)
    edge0 = net.service("edge-0").leader.height
    assert edge0 > 18 and seen and max(span for _, span in seen) <= 3, seen
    # the anchors used are the first ones: edge-0's block 0 under its first Type-II
    verdict = net.verify(first, "edge-1")
    assert verdict.anchored_height == net.service("main").leader.statuses("edge-0")[0].source_height


def test_a_proof_against_another_anchor_than_the_first_is_refused(net, monkeypatch):
    """A dishonest holder answering with a proof against a later (or earlier) accumulator than
    the one the verifier chose: it proves nothing about the anchor the verifier checks."""
    tx_id = committed(net, "edge-0", 1)[0]
    net.interlock()
    committed(net, "edge-0", 2)
    net.interlock()
    holder = net.service("edge-0").leader
    honest = holder.inclusion_proofs
    before = chain_state(net)
    for shift in (+1, +2):
        monkeypatch.setattr(holder, "inclusion_proofs", lambda ids, against, shift=shift: honest(ids, against + shift))
        verdict = net.verify(tx_id, "edge-1")
        assert not verdict.ok and verdict.code == "tx-proof", verdict.reason
    assert chain_state(net) == before
