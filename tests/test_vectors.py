"""Known-answer vectors computed independently with gmpy2 (tests/data/make_vectors.py)."""
import json
import pathlib

import pytest

import edgeacc

DOC = json.loads((pathlib.Path(__file__).parent / "data" / "core_vectors.json").read_text())


@pytest.mark.parametrize("case", DOC["hash_to_prime"], ids=lambda c: c["data"][:16] or "empty")
def test_hash_to_prime_matches_vectors(case):
    data = bytes.fromhex(case["data"])
    assert edgeacc.hash_to_prime(data) == (int(case["x"], 16), case["nonce"])
    assert edgeacc.check_representative(data, int(case["x"], 16), case["nonce"])


@pytest.mark.parametrize("case", DOC["accumulators"], ids=lambda c: c["chain_id"])
def test_accumulator_matches_vectors(case):
    P = edgeacc.Params(int(case["n"], 16), insecure=case["insecure"])
    g = P.generator(bytes.fromhex(case["chain_id"]))
    assert g == int(case["generator"], 16)
    acc = edgeacc.Accumulator(P, g)
    for (x, k), d, v in zip(case["representatives"], case["data"], case["values"]):
        assert edgeacc.hash_to_prime(bytes.fromhex(d)) == (int(x, 16), k)
        assert acc.add(int(x, 16)) == int(v, 16)
    for i, w in enumerate(case["canonical_witnesses"]):
        assert edgeacc.encode_element(P, acc.witness(i)) == int(w, 16).to_bytes(P.element_bytes, "big")
    # The same values through one batch add.
    batch = edgeacc.Accumulator(P, g)
    batch.add_many([int(x, 16) for x, _ in case["representatives"]])
    assert batch.value == int(case["values"][-1], 16)
