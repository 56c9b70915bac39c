"""The batch reads of issue 12 (session 10): ProvenanceLedger.fetch_many and the Ledger's
transactions() it stands on return exactly what the single reads return, read each block
once per call, and keep refusing what the single reads refuse (an unknown id, a transaction
that is no provenance record, a block rewritten in the store under the running peer), so an audit
that reads in batches fails exactly as one reading record by record."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ledger
from ledger.chain import ChainState
from ledger.tx import TxKind
from ledger.errors import LedgerError, StorageError
from ledger.provenance import NetworkLedger
from ledger.provenance.records import followed_aggregation
from provenance_helpers import EDGES, MAIN, Federation, deployment, digits  # noqa: F401  (fixture)
from tests import store_tamper

UNKNOWN = b"\x05" * 32


@pytest.fixture(scope="module")
def fed(tmp_path_factory, toy, digits):  # noqa: F811
    for net in deployment(tmp_path_factory.mktemp("fetch_many") / "net", toy):
        fed = Federation.start(net, digits).run()
        status = next(t for t in all_ids(net) if net.transaction(t).kind != TxKind.RECORD)  # (a Type-II/III)
        yield fed, status


def all_ids(net):
    return [tx.tx_id for c in net.chain_ids for h in range(net.height(c)) for tx in net.block(c, h).transactions]


def single_reads(chain, tx_ids):
    """{id: fetch(id)} of the ids fetch() accepts, in order: what fetch_many must return."""
    out = {}
    for tx_id in tx_ids:
        try:
            out[tx_id] = chain.fetch(tx_id)
        except LedgerError:
            pass
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(min_value=0), max_size=40))
def test_fetch_many_is_the_single_fetches(fed, picks):
    fed, status = fed
    ids = all_ids(fed.net) + [UNKNOWN, status]
    asked = [ids[i % len(ids)] for i in picks]
    chain = NetworkLedger(fed.net)
    expected = single_reads(chain, dict.fromkeys(asked))
    assert status not in expected and UNKNOWN not in expected  # (fetch refuses both)
    got = chain.fetch_many(asked)
    assert list(got.items()) == list(expected.items())
    found = fed.net.transactions(asked)
    assert list(found) == [t for t in dict.fromkeys(asked) if t != UNKNOWN]
    for tx_id, (tx, receipt, block_time) in found.items():
        assert (tx.to_bytes(), receipt) == (fed.net.transaction(tx_id).to_bytes(), fed.net.locate(tx_id))
        assert block_time == fed.net.block(receipt.chain_id, receipt.height).header.timestamp_ms


def test_a_batch_reads_each_block_once(fed, monkeypatch):
    """Every id asked twice, each block read once. How many of the federation's records share
    a block depends on timing (a cutter faster than the submissions cuts one a block), so the
    shared block is pinned by test_transactions_read_a_shared_block_once."""
    fed, _ = fed
    ids = all_ids(fed.net)
    blocks = {(r.chain_id, r.height) for _, r, _ in fed.net.transactions(ids).values()}
    reads = []
    original = ChainState.block
    monkeypatch.setattr(ChainState, "block", lambda self, height: reads.append((self.chain_id, height))
                        or original(self, height))
    got = NetworkLedger(fed.net).fetch_many(ids + ids)
    assert sorted(reads) == sorted(blocks)
    assert 0 < len(got) < len(ids)  # (the Type-II/III transactions are no provenance records)


def test_transactions_read_a_shared_block_once(tmp_path, monkeypatch):
    """The batch read under fetch_many (Ledger.transactions) reads a block holding several of
    the ids once, however often each is asked."""
    with ledger.Network.init(tmp_path / "net", subchains=1, peers_per_chain=2) as net:
        txs = [net.record("edge-0", b"shared-%d" % i) for i in range(12)]
        receipts = [p.result() for p in net.submit_transactions(txs)]  # (queued together: one block)
        assert len({r.height for r in receipts}) == 1
        reads = []
        original = ChainState.block
        monkeypatch.setattr(ChainState, "block", lambda self, height: reads.append((self.chain_id, height))
                            or original(self, height))
        found = net.transactions([tx.tx_id for tx in txs] * 2)
        assert list(found) == [tx.tx_id for tx in txs]
        assert [c.receipt for c in found.values()] == receipts
        assert reads == [("edge-0", receipts[0].height)]


def test_one_aggregation_rule_for_the_endorser_and_the_auditor(fed):
    """records.followed_aggregation: round 1 follows the run's initial model, round 2 round 1;
    round 0, a record of another kind and a FedAvg whose first input is no step follow nothing."""
    fed, status = fed
    chain = NetworkLedger(fed.net)
    body = lambda tx_hex: chain.fetch(bytes.fromhex(tx_hex)).body  # noqa: E731
    initial, first, second = (chain.fetch(ref.tx_id).body for ref in fed.cloud.rounds)
    assert followed_aggregation(first, body) == fed.cloud.rounds[0].tx_id.hex()
    assert followed_aggregation(second, body) == fed.cloud.rounds[1].tx_id.hex()
    assert followed_aggregation(initial, body) is None
    assert followed_aggregation(body(first["locals"][0]["tx"]), body) is None
    not_a_step = dict(first, locals=[dict(first["locals"][0], tx=fed.edges[0].run.tx_id.hex())])
    assert followed_aggregation(not_a_step, body) is None
    assert followed_aggregation(dict(first, locals=[dict(first["locals"][0], tx=UNKNOWN.hex())]), body) is None
    endorser = fed.chain.endorser
    assert endorser._previous_of(fed.net.transaction(fed.cloud.rounds[2].tx_id)) == fed.cloud.rounds[1].tx_id.hex()
    assert endorser._previous_of(fed.net.transaction(status)) is None


class SingleReads:
    """The auditor's view as before batch reads: fetch_many reads nothing, so every record is
    fetched alone."""

    def __init__(self, chain):
        self.chain = chain
        self.main_chain_id = chain.main_chain_id

    def fetch_many(self, tx_ids):
        return {}

    def __getattr__(self, name):
        return getattr(self.chain, name)


def outcome(report):
    return report.passed, report.run_failures, [(v.index, v.failures) for v in report.verdicts]


def test_a_block_rewritten_under_the_running_peer_fails_the_batched_audit_as_before(tmp_path, toy, digits):  # noqa: F811
    """Attack: an operator rewrites a stored block holding readings (checksums fixed) under
    the running leader of edge-0. The batch reads refuse it as the single reads do: the
    Ledger's raises StorageError, fetch_many leaves out the records fetch() refuses (the
    store refuses the edited block's whole group: here every edge-0 block) and returns the
    other chains' ones, and the audit fails with the same reasons as an audit reading record
    by record."""
    from ledger.provenance import Auditor

    for net in deployment(tmp_path / "net", toy):
        fed = Federation.start(net, digits).run()
        chain, manifests = fed.chain, fed.manifests()
        honest = Auditor(chain, net.trust, EDGES[1]).audit(manifests[0], fraction=1.0, federation=manifests, seed=1)
        assert honest.passed, honest.summary()
        ids = all_ids(net)
        leader = net.service("edge-0").leader
        reading = fed.edges[0].data_order[0][0].tx_id
        height = leader.locate(reading)[0]
        rows = store_tamper.rows(leader.store.path)
        data = rows[height][2]
        rows[height] = (height, rows[height][1], data[:-9] + bytes([data[-9] ^ 1]) + data[-8:])
        store_tamper.rewrite_log(leader.store.path, rows)

        def uncached():
            leader.state._headers.clear(), leader.store._groups.clear()  # (every read goes to the file)
            return NetworkLedger(net)

        with pytest.raises(StorageError, match="changed under it"):
            uncached().fetch(reading)
        with pytest.raises(StorageError, match="changed under it"):
            net.transactions([reading])
        expected = single_reads(uncached(), ids)
        assert reading not in expected and {r.chain_id for r in expected.values()} == {"edge-1", MAIN}
        assert uncached().fetch_many(ids) == expected
        batched = Auditor(uncached(), net.trust, EDGES[1]).audit(manifests[0], fraction=1.0, federation=manifests,
                                                                seed=1)
        alone = Auditor(SingleReads(uncached()), net.trust, EDGES[1]).audit(
            manifests[0], fraction=1.0, federation=manifests, seed=1)
        assert not batched.passed and outcome(batched) == outcome(alone)
        assert "changed under it" in batched.summary()
