"""Chains, peers and endorsement: every malformed or forged block or transaction is rejected
with a LedgerError naming the problem, and the chain is unchanged afterwards."""
import dataclasses

import pytest

import edgeacc
import ledger
from ledger import errors
from ledger.block import Block, BlockHeader, SignedHeader, SubchainStatus
from ledger.chain import now_ms
from ledger.identity import CertificateAuthority
from ledger.merkle import leaf_hash, merkle_root
from ledger.tx import Transaction, TxKind


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with ledger.Network.init(tmp_path_factory.mktemp("chain") / "net", subchains=2, peers_per_chain=3,
                             auto_interlock=False) as network:
        for i in range(3):
            network.submit("edge-0", b"seed %d" % i).result()
        network.interlock()
        yield network


def snapshot(net):
    """Heights, latest digests and stored heights of every peer of every chain."""
    return {(cid, p.name): (p.height, p.latest().header.digest if p.latest() else None, p.store.height())
            for cid, s in net.services.items() for p in s.peers}


def build(net, peer, txs, *, height=None, previous=None, timestamp=None, root=None, element=None,
          value=None, endorsers=None):
    """A block on top of `peer`'s chain with the given fields overridden; the accumulator is
    computed for the (possibly altered) content unless `element`/`value` override it."""
    latest = peer.latest()
    height = peer.height if height is None else height
    previous = (latest.header.digest if latest else bytes(32)) if previous is None else previous
    timestamp = max(now_ms(), latest.header.timestamp_ms if latest else 0) if timestamp is None else timestamp
    root = merkle_root([leaf_hash(t.to_bytes()) for t in txs]) if root is None else root
    content = BlockHeader(peer.chain_id, height, previous, timestamp, root, len(txs), 0, 0, b"")
    x, k = edgeacc.hash_to_prime(content.element_data()) if element is None else element
    P = peer.deployment.params
    v = edgeacc.update_witness(P, peer.accumulator_value(), [x]) if value is None else value
    header = dataclasses.replace(content, acc_element=x, acc_nonce=k, acc_value=edgeacc.encode_element(P, v))
    block = Block(SignedHeader(header, ()), tuple(txs))
    signers = endorsers if endorsers is not None else [p.identity for p in net.service(peer.chain_id).peers[:2]]
    return block.with_endorsements([(i.fingerprint, i.sign(header.endorsement_message())) for i in signers])


def record(net, chain="edge-0", payload=b"r", signer="client"):
    return net.record(chain, payload, signer=signer)


def test_a_well_formed_block_commits_on_every_peer(net):
    peers = net.service("edge-1").peers
    block = build(net, peers[0], [record(net, "edge-1")])
    for p in peers:
        p.commit(block)
    assert {p.height for p in peers} == {block.height + 1}
    assert {p.latest().header.digest for p in peers} == {block.digest}


@pytest.mark.parametrize("defect,error", [
    ("height", errors.WrongHeight),
    ("old height", errors.WrongHeight),
    ("link", errors.BrokenLink),
    ("merkle", errors.MerkleMismatch),
    ("element", errors.AccumulatorMismatch),
    ("value", errors.AccumulatorMismatch),
    ("chain", errors.WrongChain),
    ("past", errors.ValidationError),
    ("future", errors.ValidationError),
])
def test_malformed_blocks_are_rejected_and_change_nothing(net, defect, error):
    peer = net.peer("edge-0")
    txs = [record(net)]
    P = net.params
    kw = {
        "height": {"height": peer.height + 1},
        "old height": {"height": peer.height - 1},
        "link": {"previous": b"\x07" * 32},
        "merkle": {"root": merkle_root([leaf_hash(b"other")])},
        "element": {"element": edgeacc.hash_to_prime(b"another block")},
        "value": {"value": P.generator(b"edge-0")},
        "past": {"timestamp": peer.latest().header.timestamp_ms - 1},
        "future": {"timestamp": now_ms() + 3_600_000},
        "chain": {},
    }[defect]
    if defect == "chain":
        block = build(net, net.peer("edge-1"), [record(net, "edge-1")])
    else:
        block = build(net, peer, txs, **kw)
    before = snapshot(net)
    for p in net.service("edge-0").peers:
        with pytest.raises(error):
            p.commit(block)
        with pytest.raises(error):
            p.endorse(block)
    assert snapshot(net) == before


def test_endorsement_policy_is_enforced(net):
    peer = net.peer("edge-0")
    others = net.service("edge-0").peers
    outsider = CertificateAuthority.create("rogue CA").issue("edge-0.peer9", "peer", "edge-0")
    cases = [
        ([others[0].identity], errors.EndorsementError),                       # 1 of the needed 2
        ([], errors.EndorsementError),                                          # none
        ([others[0].identity, outsider], errors.UnknownCertificate),            # cert from another CA
        ([others[0].identity, net.peer("edge-1").identity], errors.UnauthorizedSigner),  # another chain's peer
        ([others[0].identity, net.identity("client")], errors.UnauthorizedSigner),      # not a peer
    ]
    before = snapshot(net)
    for signers, error in cases:
        block = build(net, peer, [record(net)], endorsers=signers)
        with pytest.raises(error):
            peer.commit(block)
    good = build(net, peer, [record(net)])
    (fp0, sig0), rest = good.signed.endorsements[0], good.signed.endorsements[1:]
    forged = good.with_endorsements([(fp0, bytes([sig0[0] ^ 1]) + sig0[1:])] + list(rest))
    with pytest.raises(errors.BadSignature):
        peer.commit(forged)
    reused = build(net, peer, [record(net, payload=b"other")])  # signatures of another header
    stolen = Block(SignedHeader(good.header, reused.signed.endorsements), good.transactions)
    with pytest.raises(errors.BadSignature):
        peer.commit(stolen)
    assert snapshot(net) == before


def test_bad_transactions_are_rejected_individually(net):
    good = record(net, payload=b"good")
    bad_sig = dataclasses.replace(record(net, payload=b"bad sig"), signature=bytes(64))
    rogue = CertificateAuthority.create("rogue CA").issue("mallory", "client")
    unknown = Transaction.create(rogue, TxKind.RECORD, "edge-0", b"x", timestamp_ms=now_ms(), nonce=1)
    wrong_chain = record(net, chain="edge-1", payload=b"for edge-1")
    service = net.service("edge-0")
    pendings = [service.submit(t) for t in (bad_sig, good, unknown, wrong_chain)]
    with pytest.raises(errors.BadSignature):
        pendings[0].result()
    receipt = pendings[1].result()
    with pytest.raises(errors.UnknownCertificate):
        pendings[2].result()
    with pytest.raises(errors.WrongChain):
        pendings[3].result()
    assert net.peer("edge-0").transaction(receipt.tx_id) == good
    for t in (bad_sig, unknown, wrong_chain):
        assert net.peer("edge-0").locate(t.tx_id) is None


def test_replayed_transactions_are_rejected(net):
    tx = record(net, payload=b"once")
    receipt = net.submit_transaction(tx).result()
    before = snapshot(net)
    # the same bytes again: idempotent, answered with the existing receipt, nothing added
    assert net.submit_transaction(tx).result() == receipt
    assert [p.result() for p in net.submit_transactions([tx, tx])] == [receipt, receipt]
    # the same id with other bytes (another signature) is a replay
    resigned = Transaction.from_bytes(tx.to_bytes()[:-64] + bytes(64))
    assert resigned.tx_id == tx.tx_id
    with pytest.raises(errors.ReplayedTransaction):
        net.submit_transaction(resigned).result()
    assert snapshot(net) == before
    # twice in one fresh submission: one copy goes into the block, both get its receipt
    fresh = record(net, payload=b"twice")
    first, second = net.submit_transactions([fresh, fresh])
    assert first.result() == second.result() == net.locate(fresh.tx_id)
    before = snapshot(net)
    twice = build(net, net.peer("edge-0"), [record(net, payload=b"dup")] * 2)
    with pytest.raises(errors.ReplayedTransaction):
        net.peer("edge-0").commit(twice)
    committed_again = build(net, net.peer("edge-0"), [tx])
    with pytest.raises(errors.ReplayedTransaction):
        net.peer("edge-0").commit(committed_again)
    assert snapshot(net) == before


def test_revoked_certificates_are_rejected(tmp_path):
    with ledger.Network.init(tmp_path / "net", subchains=1, peers_per_chain=3, auto_interlock=False) as net:
        device = net.identity("sensor-1", role="device")
        early = net.submit("edge-0", b"before revocation", signer=device).result()
        net.revoke("sensor-1")
        with pytest.raises(errors.RevokedCertificate):
            net.submit("edge-0", b"after revocation", signer=device).result()
        net.revoke("edge-0.peer0")
        # The revoked proposer's endorsement is refused; 2 of the remaining peers still endorse.
        peer = net.peer("edge-0", 1)
        block = build(net, peer, [net.record("edge-0", b"x")], endorsers=[net.peer("edge-0", 0).identity, peer.identity])
        with pytest.raises(errors.RevokedCertificate):
            peer.commit(block)
        later = net.submit("edge-0", b"endorsed by the two unrevoked peers").result()
        endorsers = {net.trust.resolve(fp).name for fp, _ in net.peer("edge-0").signed_header(later.height).endorsements}
        assert endorsers == {"edge-0.peer1", "edge-0.peer2"}
    with ledger.Network.open(tmp_path / "net", auto_interlock=False) as net:
        # Blocks signed before the revocation still validate on reopen.
        assert net.locate(early.tx_id).height == early.height


def test_status_transactions_are_checked(net):
    main = net.peer("main")
    edge0, edge1 = net.peer("edge-0"), net.peer("edge-1")
    net.submit("edge-1", b"new").result()

    def status(signer, kind, chain, anchor, witness=b""):
        payload = SubchainStatus(anchor, witness) if kind == TxKind.SUBCHAIN_STATUS else anchor
        return Transaction.create(signer, kind, chain, payload.to_bytes(), timestamp_ms=now_ms(), nonce=now_ms())

    # edge-0 reported before: its next Type-II must prove that block is in the new accumulator
    anchored = net.peer("main").statuses("edge-0")[-1]
    net.submit("edge-0", b"after the report").result()
    fork = build(net, edge0, [record(net)], height=edge0.height + 3, previous=b"\x05" * 32,
                 value=edgeacc.powm(net.deployment.generator("edge-0"), 3, net.params.n))
    right = edgeacc.encode_element(net.params, edge0.block_witness(anchored.source_height, edge0.height - 1))
    wrong = edgeacc.encode_element(net.params, net.deployment.generator("edge-0"))
    before = snapshot(net)

    cases = [
        # a peer of edge-0 claims edge-1's status
        (status(edge0.identity, TxKind.SUBCHAIN_STATUS, "main", edge1.latest()), errors.UnauthorizedSigner),
        # a Type-II reporting the main chain
        (status(main.identity, TxKind.SUBCHAIN_STATUS, "main", main.latest()), errors.WrongChain),
        # a Type-II sent to a sub-chain, a Type-III sent to the main chain
        (status(edge1.identity, TxKind.SUBCHAIN_STATUS, "edge-0", edge1.latest()), errors.ValidationError),
        (status(main.identity, TxKind.MAIN_STATUS, "main", main.latest()), errors.ValidationError),
        # a Type-III reporting a sub-chain
        (status(edge1.identity, TxKind.MAIN_STATUS, "edge-0", edge1.latest()), errors.WrongChain),
        # a status that does not advance (edge-0's anchored height again)
        (status(edge0.identity, TxKind.SUBCHAIN_STATUS, "main",
                edge0.signed_header(net.peer("main").statuses("edge-0")[-1].source_height)), errors.StaleStatus),
        # a status whose reported header carries a forged endorsement
        (status(edge1.identity, TxKind.SUBCHAIN_STATUS, "main",
                SignedHeader(edge1.latest().header, tuple((fp, bytes(64)) for fp, _ in edge1.latest().endorsements))),
         errors.BadSignature),
        # a status whose reported header has too few endorsements
        (status(edge1.identity, TxKind.SUBCHAIN_STATUS, "main",
                SignedHeader(edge1.latest().header, edge1.latest().endorsements[:1])), errors.EndorsementError),
        # a Type-II of a chain reported before, without / with a wrong continuity witness
        (status(edge0.identity, TxKind.SUBCHAIN_STATUS, "main", edge0.latest()), errors.ValidationError),
        (status(edge0.identity, TxKind.SUBCHAIN_STATUS, "main", edge0.latest(), wrong), errors.AccumulatorMismatch),
        (status(edge0.identity, TxKind.SUBCHAIN_STATUS, "main", edge0.latest(), b"\1" * 3), errors.AccumulatorMismatch),
        # a forked header, validly endorsed by edge-0's peers, that drops the reported block
        (status(edge0.identity, TxKind.SUBCHAIN_STATUS, "main", fork.signed, right), errors.AccumulatorMismatch),
        # a Type-II whose payload is a bare header (the Type-III layout)
        (Transaction.create(edge1.identity, TxKind.SUBCHAIN_STATUS, "main", edge1.latest().to_bytes(),
                            timestamp_ms=1, nonce=2), errors.EncodingError),
        # a status with an undecodable payload
        (Transaction.create(edge1.identity, TxKind.SUBCHAIN_STATUS, "main", b"garbage", timestamp_ms=1, nonce=1),
         errors.EncodingError),
    ]
    for tx, error in cases:
        with pytest.raises(error):
            net.submit_transaction(tx).result()
    assert snapshot(net) == before
    first_report = status(edge1.identity, TxKind.SUBCHAIN_STATUS, "main", edge1.latest())
    assert net.submit_transaction(first_report).result().chain_id == "main"
    continued = status(edge0.identity, TxKind.SUBCHAIN_STATUS, "main", edge0.latest(), right)
    assert net.submit_transaction(continued).result().chain_id == "main"


def test_bad_arguments_raise_ledger_errors(net, tmp_path):
    with pytest.raises(errors.NotFound):
        net.submit("edge-9", b"x")
    with pytest.raises(errors.NotFound):
        net.identity("nobody")
    with pytest.raises(errors.NotFound):
        net.locate("00" * 32)
    with pytest.raises(errors.NotFound):
        net.locate("not hex")
    with pytest.raises(errors.NotFound):
        net.peer("edge-0").block(10**6)
    with pytest.raises(errors.ConfigurationError):
        ledger.Network.init(tmp_path / "x", endorsement_threshold=3, peers_per_chain=2)
    with pytest.raises(errors.ConfigurationError):
        ledger.Network.init(net.path)  # not empty
    with pytest.raises(errors.StorageError):
        ledger.Network.open(tmp_path / "missing")
    with pytest.raises(errors.EncodingError):
        net.submit("edge-0", b"x" * ((1 << 20) + 1))
    with pytest.raises(errors.ConfigurationError):
        net.submit_transaction(b"raw bytes")


def test_admitted_signature_is_not_a_pass_for_other_bytes(net):
    peer = net.peer("edge-0")
    good = record(net, payload=b"admitted")
    peer.admit(good)
    forged = dataclasses.replace(good, signature=bytes(64))  # same tx id, bad signature
    assert forged.tx_id == good.tx_id
    before = snapshot(net)
    with pytest.raises(errors.BadSignature):
        peer.commit(build(net, peer, [forged]))
    with pytest.raises(errors.BadSignature):
        peer.admit(forged)
    assert snapshot(net) == before


def test_revocation_after_admission_still_rejects(tmp_path):
    with ledger.Network.init(tmp_path / "net", subchains=1, auto_interlock=False) as net:
        device = net.identity("sensor-2", role="device")
        tx = net.record("edge-0", b"x", signer=device)
        for p in net.service("edge-0").peers:
            p.admit(tx)
        net.revoke("sensor-2")
        with pytest.raises(errors.RevokedCertificate):
            net.peer("edge-0").commit(build(net, net.peer("edge-0"), [tx]))
        assert net.peer("edge-0").height == 0


def test_an_endorsed_header_cannot_carry_other_transactions(net):
    peer = net.peer("edge-0")
    block, rejected = peer.propose([record(net, payload=b"endorsed")])
    assert not rejected
    endorsed = block.with_endorsements([p.endorse(block) for p in net.service("edge-0").peers[:2]])
    swapped = Block(endorsed.signed, (record(net, payload=b"smuggled"),))
    before = snapshot(net)
    for p in net.service("edge-0").peers:
        with pytest.raises(errors.MerkleMismatch):
            p.commit(swapped)
    assert snapshot(net) == before


# --- application validators (Network.add_validator) ---------------------------------------

def test_a_peer_whose_validator_refuses_does_not_endorse(tmp_path, toy):
    """2-of-3 policy: a refusing peer is replaced by another; with two refusing, the submission
    fails with ValidationRejected naming them and nothing is committed."""
    with ledger.Network.init(tmp_path / "n", subchains=1, peers_per_chain=3, params=toy,
                             auto_interlock=False) as net:
        seen = []

        def refuse_when_named(peer_name, tx):  # "refused by peer0" is refused by edge-0.peer0
            seen.append((peer_name, tx.kind))
            if peer_name.rsplit(".", 1)[1] in tx.payload.decode():
                raise errors.ValidationRejected("the payload names me")

        net.add_validator("edge-0", refuse_when_named)
        peers = net.service("edge-0").peers
        receipt = net.submit("edge-0", b"refused by peer0").result()
        signers = {fp for fp, _ in net.block("edge-0", receipt.height).signed.endorsements}
        assert signers == {peers[1].identity.fingerprint, peers[2].identity.fingerprint}

        before = snapshot(net)
        pending = net.submit("edge-0", b"refused by peer0 and peer1")
        with pytest.raises(errors.ValidationRejected, match="1 of the 2 endorsements") as refused:
            pending.result()
        assert "edge-0.peer0 refuses" in str(refused.value) and "edge-0.peer1 refuses" in str(refused.value)
        assert snapshot(net) == before
        with pytest.raises(errors.NotFound):
            net.locate(pending.tx_id)

        net.interlock()  # Type-II/III transactions are the ledger's own: no validator sees them
        assert {kind for _, kind in seen} == {TxKind.RECORD}


def test_a_crashing_validator_refuses_and_validators_are_not_persisted(tmp_path, toy):
    with ledger.Network.init(tmp_path / "n", subchains=1, params=toy, auto_interlock=False) as net:
        net.add_validator("edge-0", lambda peer_name, tx: {}[tx.payload])  # KeyError: a buggy validator
        with pytest.raises(errors.ValidationRejected, match="refuses"):
            net.submit("edge-0", b"anything").result()
        assert net.peer("edge-0").height == 0
        assert net.submit("main", b"another chain has no validator").result()
        with pytest.raises(errors.NotFound):
            net.add_validator("edge-9", lambda peer_name, tx: None)
        with pytest.raises(errors.ConfigurationError):
            net.add_validator("edge-0", "not callable")
    with ledger.Network.open(tmp_path / "n", auto_interlock=False) as reopened:
        assert reopened.submit("edge-0", b"anything").result().height == 0  # register again after open


# --- devices bound to their edge chain -----------------------------------------------------

def test_a_device_bound_to_an_edge_signs_records_for_that_edge_only(tmp_path, toy):
    with ledger.Network.init(tmp_path / "n", subchains=2, params=toy, auto_interlock=False) as net:
        device = net.identity("sensor-e0", role="device", chain_id="edge-0")
        assert device.chain_id == "edge-0" and net.trust.by_name("sensor-e0").chain_id == "edge-0"
        assert net.submit("edge-0", b"my edge", signer=device).result()
        before = snapshot(net)
        with pytest.raises(errors.UnauthorizedSigner, match="device of edge-0, not of edge-1"):
            net.submit("edge-1", b"another edge", signer=device).result()
        assert snapshot(net) == before
        assert net.submit("edge-1", b"unbound devices are not restricted",
                          signer=net.identity("sensor-free", role="device")).result()

        with pytest.raises(errors.ConfigurationError, match="bound to 'edge-0'"):
            net.identity("sensor-e0", role="device", chain_id="edge-1")
        for role, chain in (("client", "edge-0"), ("device", "main"), ("device", "edge-9")):
            with pytest.raises(errors.ConfigurationError):
                net.identity(f"new-{role}-{chain}", role=role, chain_id=chain)
            with pytest.raises(errors.NotFound):
                net.identity(f"new-{role}-{chain}")  # nothing was issued
    with ledger.Network.open(tmp_path / "n", auto_interlock=False) as reopened:
        assert reopened.identity("sensor-e0").chain_id == "edge-0"  # the binding is in the certificate
