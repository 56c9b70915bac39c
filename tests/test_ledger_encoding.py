"""Canonical encodings of the ledger: known answers, round trips, and rejection of every
malformed input with ledger.errors.EncodingError (never another exception)."""
import doctest
import hashlib
import json
import os
import random

import nacl.bindings
import pytest
from hypothesis import given, settings, strategies as st

import edgeacc
import ledger.checks
import ledger.encoding
import ledger.merkle
from ledger.block import Block, BlockHeader, SignedHeader, SubchainStatus
from ledger.errors import EncodingError, LedgerError
from ledger.merkle import leaf_hash, merkle_path, merkle_paths, merkle_root, root_from_path
from ledger.protocol1 import InclusionProof
from ledger.tx import Transaction, TxKind

VECTORS = json.load(open(os.path.join(os.path.dirname(__file__), "data", "ledger_vectors.json")))


@pytest.mark.parametrize("vec", VECTORS["transactions"], ids=lambda v: v["tx_id"][:8])
def test_transaction_vectors(vec):
    raw = bytes.fromhex(vec["encoding"])
    tx = Transaction.from_bytes(raw)
    assert tx.kind == TxKind(vec["kind"]) and tx.chain_id == vec["chain_id"]
    assert tx.submitter.hex() == vec["submitter"] and tx.payload.hex() == vec["payload"]
    assert (tx.timestamp_ms, tx.nonce) == (vec["timestamp_ms"], vec["nonce"])
    assert tx.object_digest.hex() == vec["object_digest"] and tx.object_url == vec["object_url"]
    assert tx.tx_id.hex() == vec["tx_id"]
    rebuilt = Transaction(tx.kind, tx.chain_id, tx.submitter, tx.timestamp_ms, tx.nonce, tx.payload,
                          tx.object_digest, tx.object_url, tx.signature)
    assert rebuilt.to_bytes() == raw
    nacl.bindings.crypto_sign_open(tx.signature + tx.signed_message(), bytes.fromhex(vec["public_key"]))


def test_block_vector():
    vec = VECTORS["block"]
    P = edgeacc.Params.rsa2048()
    block = Block.from_bytes(bytes.fromhex(vec["encoding"]))
    h = block.header
    assert (h.chain_id, h.height, h.timestamp_ms, h.tx_count) == (vec["chain_id"], vec["height"], vec["timestamp_ms"], vec["tx_count"])
    assert h.previous.hex() == vec["previous"] and h.merkle_root.hex() == vec["merkle_root"]
    assert block.computed_merkle_root() == h.merkle_root
    assert h.encoded.hex() == vec["header_encoding"] and h.digest.hex() == vec["digest"]
    assert block.signed.to_bytes().hex() == vec["signed_encoding"]
    assert block.to_bytes().hex() == vec["encoding"]
    assert (hex(h.acc_element), h.acc_nonce) == (vec["acc_element"], vec["acc_nonce"])
    assert edgeacc.hash_to_prime(h.element_data()) == (h.acc_element, h.acc_nonce)
    assert P.generator(b"edge-0") == int(vec["generator"], 16)
    assert edgeacc.verify_membership(P, P.generator(b"edge-0"), h.acc_element, int(vec["acc_value"], 16))
    for (fp, sig), endorser in zip(block.signed.endorsements, vec["endorsers"]):
        assert fp.hex() == endorser["fingerprint"]
        nacl.bindings.crypto_sign_open(sig + h.endorsement_message(), bytes.fromhex(endorser["public_key"]))


def test_subchain_status_vector():
    vec = VECTORS["subchain_status"]
    raw = bytes.fromhex(vec["encoding"])
    status = SubchainStatus.from_bytes(raw)
    assert status.signed.to_bytes().hex() == VECTORS["block"]["signed_encoding"]
    assert status.continuity_witness.hex() == vec["witness"]
    assert status.to_bytes() == raw


def _encodings():
    block = bytes.fromhex(VECTORS["block"]["encoding"])
    return [
        (Transaction.from_bytes, bytes.fromhex(VECTORS["transactions"][1]["encoding"])),
        (BlockHeader.from_bytes, bytes.fromhex(VECTORS["block"]["header_encoding"])),
        (SignedHeader.from_bytes, bytes.fromhex(VECTORS["block"]["signed_encoding"])),
        (Block.from_bytes, block),
        (SubchainStatus.from_bytes, bytes.fromhex(VECTORS["subchain_status"]["encoding"])),
    ]


IDS = ["tx", "header", "signed", "block", "type2"]


@pytest.mark.parametrize("decode,raw", _encodings(), ids=IDS)
def test_every_truncation_and_extension_is_rejected(decode, raw):
    decode(raw)
    for cut in range(len(raw)):
        with pytest.raises(EncodingError):
            decode(raw[:cut])
    with pytest.raises(EncodingError):
        decode(raw + b"\0")


@pytest.mark.parametrize("decode,raw", _encodings(), ids=IDS)
def test_bad_magic_and_version_are_rejected(decode, raw):
    with pytest.raises(EncodingError, match="magic"):
        decode(b"XXXX" + raw[4:])
    with pytest.raises(EncodingError, match="version"):
        decode(raw[:4] + b"\x02" + raw[5:])


@pytest.mark.parametrize("decode,raw", _encodings(), ids=IDS)
def test_byte_flips_never_crash(decode, raw):
    rng = random.Random(4)
    for _ in range(300):
        data = bytearray(raw)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        try:
            decoded = decode(bytes(data))
        except EncodingError:
            continue
        # Accepted flips must land in a field and change the value (never the same object).
        assert decoded != decode(raw) or bytes(data) == raw


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_encoding_errors(data):
    for decode in (Transaction.from_bytes, BlockHeader.from_bytes, SignedHeader.from_bytes, Block.from_bytes,
                   SubchainStatus.from_bytes):
        try:
            decode(data)
        except EncodingError:
            pass


def test_non_bytes_and_bad_fields_are_rejected():
    with pytest.raises(EncodingError):
        Transaction.from_bytes("not bytes")
    tx = Transaction.from_bytes(bytes.fromhex(VECTORS["transactions"][0]["encoding"]))
    with pytest.raises(EncodingError, match="chain id"):
        Transaction(tx.kind, "Bad Chain!", tx.submitter, 0, 0, b"", signature=tx.signature).to_bytes()
    with pytest.raises(EncodingError, match="object"):
        Transaction(tx.kind, "edge-0", tx.submitter, 0, 0, b"", b"x" * 5, "file:///x", tx.signature).to_bytes()
    with pytest.raises(EncodingError, match="not signed"):
        Transaction(tx.kind, "edge-0", tx.submitter, 0, 0, b"").to_bytes()
    raw = bytearray(bytes.fromhex(VECTORS["transactions"][0]["encoding"]))
    raw[5] = 9  # unknown kind
    with pytest.raises(EncodingError, match="kind"):
        Transaction.from_bytes(bytes(raw))
    assert issubclass(EncodingError, LedgerError)


def test_unsorted_or_repeated_endorsements_are_not_canonical():
    raw = bytes.fromhex(VECTORS["block"]["signed_encoding"])
    signed = SignedHeader.from_bytes(raw)
    (a, b) = [fp + sig for fp, sig in signed.endorsements]
    assert raw.endswith(a + b)
    for endorsements in ((b, a), (a, a)):
        with pytest.raises(EncodingError, match="sorted"):
            SignedHeader.from_bytes(raw[:-len(a + b)] + b"".join(endorsements))
    for pairs in (tuple(reversed(signed.endorsements)), signed.endorsements[:1] * 2):
        with pytest.raises(EncodingError, match="sorted"):
            SignedHeader(signed.header, pairs)


@pytest.mark.parametrize("n", list(range(1, 34)) + [100])
def test_merkle_paths_prove_every_leaf_and_only_it(n):
    leaves = [leaf_hash(b"tx%d" % i) for i in range(n)]
    root = merkle_root(leaves)
    for i in range(n):
        path = merkle_path(leaves, i)
        assert root_from_path(leaves[i], i, n, path) == root
        assert root_from_path(leaf_hash(b"other"), i, n, path) != root
        if path:
            bad = list(path)
            bad[0] = hashlib.sha256(bad[0]).digest()
            assert root_from_path(leaves[i], i, n, bad) != root
            assert root_from_path(leaves[i], i, n, path[:-1]) is None
        assert root_from_path(leaves[i], i, n, path + [root]) is None
    assert root_from_path(leaves[0], n, n, []) is None


@given(st.integers(1, 70), st.data())
def test_paths_of_many_leaves_from_one_tree_prove_each_of_them(n, data):
    leaves = [leaf_hash(b"tx%d" % i) for i in range(n)]
    indices = data.draw(st.lists(st.integers(0, n - 1), max_size=n + 2))
    paths = merkle_paths(leaves, indices)
    assert len(paths) == len(indices)
    assert all(root_from_path(leaves[i], i, n, path) == merkle_root(leaves) for i, path in zip(indices, paths))
    with pytest.raises(LedgerError):
        merkle_paths(leaves, indices + [n])


def test_leaf_cannot_pass_for_an_inner_node():
    leaves = [leaf_hash(b"a"), leaf_hash(b"b")]
    root = merkle_root(leaves)
    assert merkle_root([leaf_hash(leaves[0] + leaves[1])]) != root


def test_inclusion_proof_round_trip_and_rejects_garbage():
    P = edgeacc.Params.rsa2048()
    vec = VECTORS["block"]
    proof = InclusionProof("edge-0", bytes.fromhex(VECTORS["transactions"][0]["encoding"]),
                           bytes.fromhex(vec["header_encoding"]), 0, (b"\1" * 32,), P.generator(b"edge-0"), 0)
    raw = proof.to_bytes(P)
    assert InclusionProof.from_bytes(P, raw) == proof
    for cut in (0, 5, len(raw) // 2, len(raw) - 1):
        with pytest.raises(EncodingError):
            InclusionProof.from_bytes(P, raw[:cut])
    with pytest.raises(EncodingError):
        InclusionProof.from_bytes(P, raw + b"\0")


@pytest.mark.parametrize("module", [ledger.checks, ledger.encoding, ledger.merkle])
def test_docstrings_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@given(st.integers(min_value=1, max_value=(1 << 64) - 1))
def test_a_headers_term_is_signed_in_its_digest_and_encoded_only_when_set(term):
    """BlockHeader.term (the cluster's ordering term, ledger.cluster.follower Terms): term 0
    is the v1 layout byte for byte (the vector); a term is a trailing u64, in the digest the
    endorsements sign, not in the content the accumulator element binds; a term of 0 written
    out, or a cut term, is not an encoding."""
    import dataclasses

    plain = BlockHeader.from_bytes(bytes.fromhex(VECTORS["block"]["header_encoding"]))
    assert plain.term == 0 and plain.encoded.hex() == VECTORS["block"]["header_encoding"]
    termed = dataclasses.replace(plain, term=term)
    assert termed.encoded == plain.encoded + term.to_bytes(8, "big")
    assert BlockHeader.from_bytes(termed.encoded) == termed and BlockHeader.from_bytes(termed.encoded).term == term
    assert termed.digest != plain.digest and termed.endorsement_message() != plain.endorsement_message()
    assert termed.element_data() == plain.element_data()
    for bad in (plain.encoded + bytes(8), termed.encoded[:-1], termed.encoded + b"\0"):
        with pytest.raises(EncodingError):
            BlockHeader.from_bytes(bad)


def _rebuilt(tx: Transaction) -> bytes:
    return Transaction(tx.kind, tx.chain_id, tx.submitter, tx.timestamp_ms, tx.nonce, tx.payload,
                       tx.object_digest, tx.object_url, tx.signature).to_bytes()


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_a_decoded_transaction_is_exactly_the_constructors_encoding(data):
    """Transaction.from_bytes keeps its input as the encoding instead of building it again: every
    input it accepts, however mutated, must be what the constructor encodes from the fields read
    (else two encodings of one transaction would have two ids)."""
    raw = bytearray(bytes.fromhex(data.draw(st.sampled_from(VECTORS["transactions"]))["encoding"]))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "set"]))
        if action == "flip":
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=3))
        elif action == "delete":
            del raw[at:at + data.draw(st.integers(1, 3))]
        else:
            raw[at] = data.draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xC0, 0xED, 0xFF]))
        if not raw:
            return
    try:
        tx = Transaction.from_bytes(bytes(raw))
    except EncodingError:
        return
    assert tx.to_bytes() == bytes(raw) == _rebuilt(tx)
    assert tx.body_bytes() == bytes(raw)[:-64] and tx.tx_id == hashlib.sha256(bytes(raw)[:-64]).digest()


@pytest.mark.parametrize("text", [b"\xc0\xae", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"e\xff"])
def test_a_url_that_is_not_strict_utf8_is_refused(text):
    """Overlong forms, encoded surrogates and code points past U+10FFFF have no encoding the
    constructor would write: refused, not taken as the input."""
    tx = Transaction.from_bytes(bytes.fromhex(VECTORS["transactions"][1]["encoding"]))  # (with a URL)
    body = bytearray(tx.body_bytes())
    url_at = len(body) - 2 - len(tx.object_url.encode())
    assert Transaction.from_bytes(bytes(body[:url_at]) + (2).to_bytes(2, "big") + b"ok" + tx.signature)
    forged = bytes(body[:url_at]) + len(text).to_bytes(2, "big") + text + tx.signature
    with pytest.raises(EncodingError, match="UTF-8"):
        Transaction.from_bytes(forged)
