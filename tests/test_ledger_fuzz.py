"""Fuzzing every public decoder and constructor of the ledger (issue 9, acceptance): random
bytes, mutated valid encodings and arguments of every type make them raise LedgerError
subclasses only; whatever decodes re-encodes to exactly its input."""
import json
import os

import pytest
from hypothesis import example, given, settings, strategies as st

import edgeacc
import ledger
from ledger import checks, merkle
from ledger.block import Block, BlockContent, BlockHeader, SignedHeader, SubchainStatus, reported_header
from ledger.chain import ChainConfig
from ledger.encoding import Reader, Writer, check_chain_id
from ledger.errors import LedgerError
from ledger.identity import (CertificateAuthority, TrustStore, load_certificate, load_private_key,
                             load_revocation_list)
from ledger.objects import ObjectRef
from ledger.protocol1 import InclusionProof
from ledger.tx import Transaction

VECTORS = json.load(open(os.path.join(os.path.dirname(__file__), "data", "ledger_vectors.json")))
P = edgeacc.Params.rsa2048()
TX = bytes.fromhex(VECTORS["transactions"][1]["encoding"])
HEADER = bytes.fromhex(VECTORS["block"]["header_encoding"])
SIGNED = bytes.fromhex(VECTORS["block"]["signed_encoding"])
BLOCK = bytes.fromhex(VECTORS["block"]["encoding"])
STATUS = bytes.fromhex(VECTORS["subchain_status"]["encoding"])
PROOF = InclusionProof("edge-0", bytes.fromhex(VECTORS["transactions"][0]["encoding"]), HEADER, 0,
                       (b"\1" * 32,), P.generator(b"edge-0"), 0).to_bytes(P)


def ledger_errors_only(fn, *args, **kwargs):
    """fn(...)'s result, or None when it raised a LedgerError; anything else propagates."""
    try:
        return fn(*args, **kwargs)
    except LedgerError:
        return None


class Opaque:
    """An object of no expected type."""


ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**64 - 2, max_value=2**4100),
    st.integers(max_value=-1), st.floats(allow_nan=True), st.text(max_size=40), st.binary(max_size=80),
    st.builds(bytearray, st.binary(max_size=40)), st.builds(memoryview, st.binary(max_size=40)),
    st.lists(st.integers(), max_size=3), st.tuples(st.binary(max_size=40), st.binary(max_size=70)),
    st.builds(Opaque), st.just(float("inf")), st.just(()), st.just({}),
)


def valid_or_anything(valid):
    return st.one_of(valid, ANYTHING)


def mutated(raw):
    """`raw` with a few bytes changed, cut short or extended."""
    def mutate(data, edits, cut, tail):
        data = bytearray(data)
        for position, value in edits:
            data[position % len(data)] = value
        return bytes(data[:cut] if cut is not None else data) + tail
    return st.builds(mutate, st.just(raw), st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)),
                                                    max_size=4),
                     st.one_of(st.none(), st.integers(0, len(raw))), st.binary(max_size=4))


DECODERS = {
    "transaction": (Transaction.from_bytes, TX, lambda o: o.to_bytes()),
    "header": (BlockHeader.from_bytes, HEADER, lambda o: o.encoded),
    "signed header": (SignedHeader.from_bytes, SIGNED, lambda o: o.to_bytes()),
    "block": (Block.from_bytes, BLOCK, lambda o: o.to_bytes()),
    "sub-chain status": (SubchainStatus.from_bytes, STATUS, lambda o: o.to_bytes()),
    "inclusion proof": (lambda d: InclusionProof.from_bytes(P, d), PROOF, lambda o: o.to_bytes(P)),
}


@pytest.mark.parametrize("name", DECODERS)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_decoders_raise_only_ledger_errors_and_are_canonical(name, data):
    decode, valid, encode = DECODERS[name]
    raw = data.draw(st.one_of(mutated(valid), st.binary(max_size=300), ANYTHING))
    obj = ledger_errors_only(decode, raw)
    if obj is not None:
        assert encode(obj) == bytes(raw)  # one encoding per value: the object is its bytes


READ_ARITY = {"raw": 1, "u8": 0, "u16": 0, "u32": 0, "u64": 0, "bytes8": 0, "bytes16": 0, "bytes32": 1,
              "text16": 0, "magic": 2, "canonical": 1, "end": 0}
WRITE_OPS = ["raw", "u8", "u16", "u32", "u64", "bytes8", "bytes16", "bytes32", "text16"]


def calls(ops, values):
    """Lists of (operation, arguments) with each operation's arity."""
    return st.lists(st.sampled_from(sorted(ops)).flatmap(
        lambda op: st.tuples(st.just(op), st.lists(values, min_size=ops[op], max_size=ops[op]))), max_size=8)


@settings(max_examples=200, deadline=None)
@given(ops=calls(READ_ARITY, valid_or_anything(st.integers(0, 40))),
       data=valid_or_anything(st.binary(max_size=60)), what=valid_or_anything(st.just("thing")))
def test_reader_primitives_raise_only_ledger_errors(ops, data, what):
    reader = ledger_errors_only(Reader, data, what)
    if reader is None:
        return
    for op, args in ops:
        ledger_errors_only(getattr(reader, op), *args)


@settings(max_examples=200, deadline=None)
@given(ops=calls(dict.fromkeys(WRITE_OPS, 1), ANYTHING))
def test_writer_primitives_raise_only_ledger_errors(ops):
    writer = Writer()
    for op, args in ops:
        ledger_errors_only(getattr(writer, op), *args)
    assert type(writer.getvalue()) is bytes


CHAIN = st.from_regex(r"[a-z0-9._-]{1,64}", fullmatch=True)
U64 = st.integers(0, 2**64 - 1)
DIGEST = st.binary(min_size=32, max_size=32)


@settings(max_examples=300, deadline=None)
@given(kind=valid_or_anything(st.integers(1, 3)), chain=valid_or_anything(CHAIN), submitter=valid_or_anything(DIGEST),
       ts=valid_or_anything(U64), nonce=valid_or_anything(U64), payload=valid_or_anything(st.binary(max_size=60)),
       digest=valid_or_anything(st.one_of(st.just(b""), DIGEST)), url=valid_or_anything(st.text(max_size=30)),
       signature=valid_or_anything(st.one_of(st.just(b""), st.binary(min_size=64, max_size=64))))
@example(kind=1, chain="edge-0", submitter=bytes(32), ts=0, nonce=0, payload=5, digest=b"", url="", signature=b"")
def test_transaction_constructor_raises_only_ledger_errors(kind, chain, submitter, ts, nonce, payload, digest, url,
                                                           signature):
    tx = ledger_errors_only(Transaction, kind, chain, submitter, ts, nonce, payload, digest, url, signature)
    if tx is not None and tx.signature:
        assert Transaction.from_bytes(tx.to_bytes()) == tx
        assert type(tx.payload) is bytes


HEADER_FIELDS = dict(chain=CHAIN, height=U64, previous=DIGEST, ts=U64, root=DIGEST, count=st.integers(0, 2**32 - 1),
                     element=st.integers(0, 2**256 - 1), nonce=st.integers(0, 2**32 - 1),
                     value=st.binary(max_size=300))


@settings(max_examples=300, deadline=None)
@given(**{k: valid_or_anything(v) for k, v in HEADER_FIELDS.items()},
       endorsements=valid_or_anything(st.lists(st.tuples(DIGEST, st.binary(min_size=64, max_size=64)), max_size=3)),
       witness=valid_or_anything(st.binary(max_size=300)))
def test_header_constructors_raise_only_ledger_errors(chain, height, previous, ts, root, count, element, nonce, value,
                                                      endorsements, witness):
    ledger_errors_only(BlockContent, chain, height, previous, ts, root, count)
    header = ledger_errors_only(BlockHeader, chain, height, previous, ts, root, count, element, nonce, value)
    if header is None:
        return
    assert BlockHeader.from_bytes(header.encoded) == header
    signed = ledger_errors_only(SignedHeader, header, endorsements)
    if signed is None:
        return
    assert SignedHeader.from_bytes(signed.to_bytes()) == signed
    status = ledger_errors_only(SubchainStatus, signed, witness)
    if status is not None:
        assert SubchainStatus.from_bytes(status.to_bytes()) == status
    block = ledger_errors_only(Block, signed, ())
    if block is not None:
        assert Block.from_bytes(block.to_bytes()) == block
    ledger_errors_only(block.with_endorsements if block else Block, endorsements)


@settings(max_examples=200, deadline=None)
@given(signed=valid_or_anything(st.just(SignedHeader.from_bytes(SIGNED))),
       txs=valid_or_anything(st.lists(st.just(Transaction.from_bytes(TX)), max_size=4).map(tuple)),
       status_payload=valid_or_anything(st.binary(max_size=40)))
def test_block_constructor_and_reported_header_raise_only_ledger_errors(signed, txs, status_payload):
    ledger_errors_only(Block, signed, txs)
    tx = ledger_errors_only(Transaction, 2, "main", bytes(32), 0, 0, status_payload, b"", "", bytes(64))
    ledger_errors_only(reported_header, tx if tx is not None else status_payload)


@settings(max_examples=200, deadline=None)
@given(chain=valid_or_anything(CHAIN), tx=valid_or_anything(st.binary(max_size=40)),
       header=valid_or_anything(st.binary(max_size=40)), position=valid_or_anything(st.integers(0, 9)),
       path=valid_or_anything(st.lists(DIGEST, max_size=3).map(tuple)), witness=valid_or_anything(st.integers(2, 2**70)),
       against=valid_or_anything(U64))
def test_inclusion_proof_constructor_raises_only_ledger_errors(chain, tx, header, position, path, witness, against):
    proof = ledger_errors_only(InclusionProof, chain, tx, header, position, path, witness, against)
    if proof is not None:
        raw = ledger_errors_only(proof.to_bytes, P)
        if raw is not None:
            assert InclusionProof.from_bytes(P, raw).to_bytes(P) == raw
    block = Block.from_bytes(BLOCK)
    ledger_errors_only(InclusionProof.for_transaction, block, position, witness, against)
    ledger_errors_only(InclusionProof.for_transaction, tx, 0, witness, against)


@settings(max_examples=200, deadline=None)
@given(digest=valid_or_anything(DIGEST), url=valid_or_anything(st.text(max_size=30)),
       chain=valid_or_anything(CHAIN), kind=valid_or_anything(st.sampled_from(["main", "sub"])),
       threshold=valid_or_anything(st.integers(1, 5)), leaves=valid_or_anything(st.lists(DIGEST, max_size=5)),
       index=valid_or_anything(st.integers(-2, 6)), size=valid_or_anything(st.integers(-2, 6)))
def test_small_constructors_and_merkle_raise_only_ledger_errors(digest, url, chain, kind, threshold, leaves, index,
                                                                size):
    ledger_errors_only(ObjectRef, digest, url)
    ledger_errors_only(ChainConfig, chain, kind, threshold)
    ledger_errors_only(check_chain_id, chain)
    ledger_errors_only(merkle.merkle_root, leaves)
    ledger_errors_only(merkle.merkle_path, leaves, index)
    ledger_errors_only(merkle.leaf_hash, digest)
    ledger_errors_only(merkle.root_from_path, digest, index, size, leaves)
    ledger_errors_only(checks.identifier, digest, "id", "transaction id")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a certificate it issued (PEM), its private key (PEM), its CRL (PEM) and a directory."""
    from cryptography.hazmat.primitives import serialization
    ca = CertificateAuthority.create()
    member = ca.issue("edge-0.peer0", "peer", "edge-0")
    pem = member.certificate.public_bytes(serialization.Encoding.PEM)
    key = member.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    crl = ca.revocation_list({}).public_bytes(serialization.Encoding.PEM)
    return ca, pem, key, crl, tmp_path_factory.mktemp("pki")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_certificate_and_key_loading_raise_only_ledger_errors(pki, data):
    ca, pem, key, crl, directory = pki
    trust = TrustStore(ca.certificate)
    cert_file, key_file, crl_file = directory / "fuzz.crt", directory / "fuzz.key", directory / "fuzz.crl"
    cert_file.write_bytes(data.draw(st.one_of(mutated(pem), st.binary(max_size=200)), label="certificate"))
    cert = ledger_errors_only(load_certificate, cert_file)
    if cert is not None:
        ledger_errors_only(trust.add_certificate, cert)
        ledger_errors_only(TrustStore, cert)
    key_file.write_bytes(data.draw(st.one_of(mutated(key), st.binary(max_size=200)), label="key"))
    ledger_errors_only(load_private_key, key_file)
    crl_file.write_bytes(data.draw(st.one_of(mutated(crl), st.binary(max_size=200)), label="crl"))
    revocations = ledger_errors_only(load_revocation_list, crl_file)
    if revocations is not None:
        ledger_errors_only(trust.set_revocation_list, revocations)
    for entry in (trust.add_certificate, trust.set_revocation_list, TrustStore, load_certificate, load_private_key,
                  load_revocation_list, trust.by_name, trust.resolve):
        ledger_errors_only(entry, data.draw(ANYTHING, label="argument"))
    ledger_errors_only(ca.issue, data.draw(valid_or_anything(st.text(max_size=80))), "client")


@pytest.fixture(scope="module")
def net(tmp_path_factory, toy):
    with ledger.Network.init(tmp_path_factory.mktemp("fuzz") / "net", subchains=1, params=toy,
                             auto_interlock=False) as network:
        network.submit("edge-0", b"r").result()
        yield network


@settings(max_examples=100, deadline=None)
@given(a=ANYTHING, b=ANYTHING)
def test_network_entry_points_raise_only_ledger_errors(net, a, b):
    def heights():
        return {cid: service.leader.height for cid, service in net.services.items()}

    before = heights()
    peer = net.peer("edge-0")
    one_argument = [net.locate, net.transaction, net.get_object, net.put_object, net.identity, net.revoke,
                    net.service, net.verifier, net.submit_transactions,
                    peer.block, peer.signed_header, peer.locate, peer.receipt, peer.transaction, peer.statuses,
                    peer.accumulator_value, peer.inclusion_proof, peer.admit, peer.commit, peer.endorse,
                    peer.propose, peer.check_transaction, net.trust.resolve]
    for call in one_argument:
        ledger_errors_only(call, a)
    for call in (net.peer, net.block, net.add_validator, peer.block_witness, peer.inclusion_proof):
        ledger_errors_only(call, a, b)
    ledger_errors_only(net.record, a, b)
    ledger_errors_only(net.record, "edge-0", b"", obj=a, signer=b)
    if not isinstance(a, (bytes, bytearray, memoryview)):  # bytes would be a valid record
        ledger_errors_only(net.submit, "edge-0", a)
    if isinstance(a, bool) or not isinstance(a, (int, float)):  # a number would run a round
        ledger_errors_only(net.interlock, a)
    verdict = net.verifier("edge-0").verify(a, chain_id=b if b is None or isinstance(b, str) else None)
    assert verdict.ok in (True, False)
    assert net.verify(a, "edge-0").ok in (True, False)
    assert heights() == before
