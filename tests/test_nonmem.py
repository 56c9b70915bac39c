"""Non-membership witnesses, deletion, witness updates, PoKE2, constant-size set
non-membership and verifiable batch updates (issue 14): known answers computed independently
with gmpy2 (tests/data/make_acc_vectors.py), properties, and forgeries that must be refused."""
import json
import pathlib

import pytest
from hypothesis import given, strategies as st

import edgeacc
from edgeacc import _core, nonmem, poke, updates
from edgeacc.errors import (EdgeaccError, EdgeaccTypeError, EncodingError, InvalidArgument, InvalidElement,
                            InvalidExponent, VerificationError)
from helpers import reps

DOC = json.loads((pathlib.Path(__file__).parent / "data" / "acc_vectors.json").read_text())


def _h(s):
    return int(s, 16)


# ---- known answers ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", DOC["cases"], ids=lambda c: c["chain_id"])
def test_known_answers(case):
    P = edgeacc.Params(_h(case["n"]), insecure=case["insecure"])
    g = P.generator(bytes.fromhex(case["chain_id"]))
    xs, ys, added = ([_h(x) for x in case[k]] for k in ("members", "absent", "added"))
    acc = edgeacc.Accumulator(P, g)
    acc.add_many(xs)
    v = acc.value
    assert _core.canonical(v, P.n) == _h(case["value"])
    nws = acc.nonmembership_witnesses(ys)
    assert [list(map(hex, nw)) for nw in nws] == case["nonmembership"]
    assert [acc.nonmembership_witness(y) for y in ys] == nws           # one at a time: the same
    assert [nw.to_bytes(P).hex() for nw in nws] == case["nonmembership_bytes"]
    assert [edgeacc.NonMembershipWitness.from_bytes(P, bytes.fromhex(b)) for b in case["nonmembership_bytes"]] == nws
    # witness update on additions gives the unique canonical witness against the new value
    proofs = {}
    ws = acc.all_witnesses()
    set_proof = edgeacc.prove_set_nonmembership(acc, ys)
    assert set_proof.to_bytes(P).hex() == case["set_nonmembership"]
    v_add, proofs["add"] = edgeacc.Accumulator.add_many_with_proof(_copy(acc), added)
    assert _core.canonical(v_add, P.n) == _h(case["value_after_add"])
    for y, nw, want in zip(ys, nws, case["nonmembership_after_add"]):
        up = edgeacc.update_nonmembership_witness(P, y, nw, v, v_add, added)
        assert [up.a, _core.canonical(up.B, P.n)] == [_h(w) for w in want]
    assert proofs["add"].to_bytes(P).hex() == case["update_add"]
    # deletion
    gone = [xs[i] for i in case["deleted"]]
    v_del, proofs["delete"] = acc.delete_many_with_proof(gone, [ws[i] for i in case["deleted"]])
    assert _core.canonical(v_del, P.n) == _h(case["value_after_delete"])
    assert proofs["delete"].to_bytes(P).hex() == case["update_delete"]
    rest = [(x, w) for i, (x, w) in enumerate(zip(xs, ws)) if i not in case["deleted"]]
    for (x, w), want in zip(rest, case["witnesses_after_delete"]):
        assert _core.canonical(edgeacc.update_witness_after_delete(P, w, x, v_del, gone), P.n) == _h(want)
        assert _core.canonical(acc.witness(acc.elements.index(x)), P.n) == _h(want)
    for y, nw, want in zip(ys, nws, case["nonmembership_after_delete"]):
        up = edgeacc.update_nonmembership_after_delete(P, y, nw, v_del, gone)
        assert [up.a, _core.canonical(up.B, P.n)] == [_h(w) for w in want]
    # PoKE2
    k = case["poke2"]
    proof = poke.prove_known(P, g, _h(k["u"]), _h(k["w"]), _h(k["x"]), bytes.fromhex(k["context"]))
    assert (hex(proof.z), hex(proof.Q), hex(proof.r)) == (k["z"], k["Q"], k["r"])
    assert proof.to_bytes(P).hex() == k["bytes"]
    assert poke.verify(P, g, _h(k["u"]), _h(k["w"]), proof, bytes.fromhex(k["context"]))


def _copy(acc):
    c = edgeacc.Accumulator(acc.params, acc.g)
    c.add_many(list(acc.elements))
    return c


# ---- properties -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def state(toy):
    acc = edgeacc.Accumulator(toy, toy.generator(b"nm"))
    acc.add_many(reps(b"nm-m", 12))
    return acc


@given(st.lists(st.integers(0, 29), min_size=1, max_size=6, unique=True))
def test_batch_witnesses_verify_and_equal_single_ones(state, picks):
    pool = reps(b"nm-y", 30)
    ys = [pool[i] for i in picks]
    nws = state.nonmembership_witnesses(ys)
    assert all(state.verify_nonmembership(y, nw) for y, nw in zip(ys, nws))
    assert nws == [state.nonmembership_witness(y) for y in ys]
    items = [(y, nw) for y, nw in zip(ys, nws)]
    assert edgeacc.batch_verify_nonmembership(state.params, state.g, state.value, items) == []
    # a witness swapped onto another element fails, alone and in the batch, and only it
    if len(ys) > 1:
        items[0] = (ys[0], nws[1])
        assert edgeacc.batch_verify_nonmembership(state.params, state.g, state.value, items) == [0]


def test_batch_creation_on_threads_gives_the_same_witnesses(state):
    ys = reps(b"nm-t", 19)
    one = state.nonmembership_witnesses(ys, threads=1)
    assert state.nonmembership_witnesses(ys, threads=3) == one
    assert all(state.verify_nonmembership(y, nw) for y, nw in zip(ys, one))


@given(st.integers(1, 4), st.integers(1, 3), st.data())
def test_updates_keep_witnesses_valid(toy, n_add, n_del, data):
    acc = edgeacc.Accumulator(toy, toy.generator(b"upd"))
    members = reps(b"upd-m", 6)
    acc.add_many(members)
    y = reps(b"upd-y", 1)[0]
    nw = acc.nonmembership_witness(y)
    ws = acc.all_witnesses()
    v0 = acc.value
    tag = data.draw(st.integers(0, 10 ** 6))
    new = reps(b"upd-a%d" % tag, n_add)
    v1 = acc.add_many(new)
    nw = edgeacc.update_nonmembership_witness(toy, y, nw, v0, v1, new)
    ws = edgeacc.update_witnesses(toy, ws, new)
    assert acc.verify_nonmembership(y, nw) and all(acc.verify(x, w) for x, w in zip(members, ws))
    gone_idx = data.draw(st.lists(st.integers(0, 5), min_size=n_del, max_size=n_del, unique=True))
    gone = [members[i] for i in gone_idx]
    v2 = acc.delete_many(gone, [ws[i] for i in gone_idx])
    assert v2 == acc.value and len(acc) == 6 + n_add - n_del
    nw = edgeacc.update_nonmembership_after_delete(toy, y, nw, v2, gone)
    assert acc.verify_nonmembership(y, nw)
    for i, (x, w) in enumerate(zip(members, ws)):
        if i in gone_idx:
            assert acc.verify_nonmembership(x, acc.nonmembership_witness(x))    # deleted: now absent
        else:
            assert acc.verify(x, edgeacc.update_witness_after_delete(toy, w, x, v2, gone))
    assert all(acc.verify(x, acc.witness(i)) for i, x in enumerate(acc.elements))


# ---- refusals and forgeries -----------------------------------------------------------------

def test_member_has_no_nonmembership_witness_and_forged_ones_fail(state):
    P, g, v = state.params, state.g, state.value
    x = state.elements[3]
    with pytest.raises(InvalidArgument, match="accumulated"):
        state.nonmembership_witness(x)
    with pytest.raises(InvalidArgument, match="accumulated"):
        _core.nonmem_create(g, state._product(), x, P.n)        # the C refusal too
    y = reps(b"nm-y", 1)[0]
    a, B = state.nonmembership_witness(y)
    assert not state.verify_nonmembership(x, (a, B))           # another element
    assert not state.verify_nonmembership(y, (a + y, B))       # non-canonical a (same equation class)
    assert not state.verify_nonmembership(y, (a, B * 2 % P.n))
    assert not state.verify_nonmembership(y, (a + 1, B))
    assert not edgeacc.verify_nonmembership(P, g, v * v % P.n, y, (a, B))   # stale: another value
    assert edgeacc.verify_nonmembership(P, g, P.n - v, y, (a, P.n - B))     # +-: one group element
    assert edgeacc.batch_verify_nonmembership(P, g, v, [(y, (a + y, B)), (y, (a, B))]) == [0]
    with pytest.raises(InvalidElement):
        edgeacc.verify_nonmembership(P, g, v, y, (a, 1))
    with pytest.raises(InvalidExponent):
        edgeacc.verify_nonmembership(P, g, v, 4, (a, B))
    with pytest.raises(EdgeaccTypeError):
        edgeacc.verify_nonmembership(P, g, v, y, (a,))
    with pytest.raises(EdgeaccTypeError):
        edgeacc.verify_nonmembership(P, g, v, y, (1.5, B))


def test_update_refuses_an_element_that_was_added(toy):
    acc = edgeacc.Accumulator(toy, toy.generator(b"ref"))
    acc.add_many(reps(b"ref-m", 3))
    y = reps(b"ref-y", 1)[0]
    nw, v0 = acc.nonmembership_witness(y), acc.value
    v1 = acc.add(y)
    with pytest.raises(InvalidArgument, match="added"):
        edgeacc.update_nonmembership_witness(toy, y, nw, v0, v1, [y])
    assert not acc.verify_nonmembership(y, nw)                  # the stale witness is refused


def test_delete_refusals_leave_the_state_unchanged(toy):
    acc = edgeacc.Accumulator(toy, toy.generator(b"del"))
    xs = reps(b"del-m", 5)
    acc.add_many(xs[:2])
    acc.add_many(xs[2:])
    ws = acc.all_witnesses()
    before = (acc.value, acc.elements)
    for args, err in (((xs[1], ws[0]), VerificationError),          # someone else's witness
                      ((xs[1], acc.value), VerificationError),      # the value itself
                      ((reps(b"del-y", 1)[0], ws[0]), InvalidArgument),   # not accumulated
                      ((xs[1], 1), InvalidElement)):
        with pytest.raises(err):
            acc.delete(*args)
        assert (acc.value, acc.elements) == before
    with pytest.raises(InvalidArgument):
        acc.delete_many([xs[1], xs[1]], [ws[1], ws[1]])             # repeated
    with pytest.raises(VerificationError):
        acc.delete_many([xs[1], xs[2]], [ws[1], ws[1]])
    assert (acc.value, acc.elements) == before
    assert acc.delete(xs[1], ws[1]) == ws[1]
    assert acc.elements == (xs[0],) + tuple(xs[2:]) and acc.value == ws[1]
    assert all(acc.verify(x, acc.witness(i)) for i, x in enumerate(acc.elements))
    with pytest.raises(InvalidArgument):
        acc.delete(xs[1], ws[1])                                    # already deleted
    acc.add(xs[1])                                                  # may come back: a set
    assert acc.verify(xs[1], acc.witness(len(acc) - 1))


@pytest.mark.parametrize("positions", [[0, 1], [8, 9], [0, 9], [3, 4, 5, 6]])
def test_batch_delete_equals_a_fresh_accumulator(toy, positions):
    """Both ways to the new value (aggregated witnesses, or the stored prefix raised by the
    rest) give the accumulator of the remaining elements, checkpoints included."""
    xs = reps(b"bd", 10)
    acc = edgeacc.Accumulator(toy, toy.generator(b"bd"))
    for part in (xs[:3], xs[3:7], xs[7:]):
        acc.add_many(part)
    ws = acc.all_witnesses()
    acc.delete_many([xs[i] for i in positions], [ws[i] for i in positions])
    rest = [x for i, x in enumerate(xs) if i not in positions]
    fresh = edgeacc.Accumulator(toy, acc.g)
    fresh.add_many(rest)
    assert _core.canonical(acc.value, toy.n) == _core.canonical(fresh.value, toy.n)
    assert acc.elements == tuple(rest)
    assert [_core.canonical(acc.value_at(h), toy.n) for h in range(len(rest) + 1)] == \
        [_core.canonical(fresh.value_at(h), toy.n) for h in range(len(rest) + 1)]


def test_poke2_forgeries(P):
    g, u = P.generator(b"pk"), P.generator(b"pk-u")
    x = _core.product(reps(b"pk", 2))
    w, proof = poke.prove(P, g, u, x, b"ctx")
    assert poke.verify(P, g, u, w, proof, b"ctx")
    assert poke.verify(P, g, P.n - u, P.n - w, proof, b"ctx")        # classes
    bad = [poke.PoKE2Proof(proof.z, proof.Q, proof.r + 1),
           poke.PoKE2Proof(proof.z * u % P.n, proof.Q, proof.r),
           poke.PoKE2Proof(proof.z, proof.Q * u % P.n, proof.r),
           poke.PoKE2Proof(proof.z, proof.Q, proof.r + _core.poke2_challenge(g, u, w, proof.z, b"ctx", P.n)[0])]
    assert not any(poke.verify(P, g, u, w, p, b"ctx") for p in bad)
    assert not poke.verify(P, g, u, w * u % P.n, proof, b"ctx")     # another statement
    assert not poke.verify(P, P.generator(b"other"), u, w, proof, b"ctx")
    assert not poke.verify(P, g, u, w, proof, b"")                  # replayed in another context
    data = proof.to_bytes(P)
    k = P.element_bytes
    with pytest.raises(EncodingError):
        poke.PoKE2Proof.from_bytes(P, data[:-1])
    with pytest.raises(EncodingError):
        poke.PoKE2Proof.from_bytes(P, b"EAPE" + data[4:])
    with pytest.raises(EncodingError):      # non-canonical z (N - z)
        poke.PoKE2Proof.from_bytes(P, data[:5] + (P.n - proof.z).to_bytes(k, "big") + data[5 + k:])
    with pytest.raises(InvalidExponent):
        poke.prove(P, g, u, 2 ** 100 + 1)
    with pytest.raises(InvalidArgument):
        poke.verify(P, g, u, w, proof, b"x" * (poke.MAX_CONTEXT + 1))


def test_set_nonmembership_forgeries(state):
    P, g, v = state.params, state.g, state.value
    ys = reps(b"nm-y", 4)
    proof = edgeacc.prove_set_nonmembership(state, ys)
    assert edgeacc.verify_set_nonmembership(P, g, v, ys, proof)
    assert edgeacc.verify_set_nonmembership(P, g, v, ys[::-1], proof)        # a set: order free
    assert not edgeacc.verify_set_nonmembership(P, g, v, ys[:3], proof)       # another set
    assert not edgeacc.verify_set_nonmembership(P, g, v, ys + [state.elements[0]], proof)
    assert not edgeacc.verify_set_nonmembership(P, g, v * v % P.n, ys, proof)
    n = P.n
    for forged in (nonmem.SetNonMembershipProof(proof.V * g % n, proof.B, proof.poke, proof.poe),
                   nonmem.SetNonMembershipProof(proof.V, proof.B * g % n, proof.poke, proof.poe),
                   nonmem.SetNonMembershipProof(g, proof.B, proof.poke, proof.poe),
                   nonmem.SetNonMembershipProof(proof.V, proof.B, proof.poke, edgeacc.PoEProof(proof.poke.Q))):
        assert not edgeacc.verify_set_nonmembership(P, g, v, ys, forged)
    with pytest.raises(InvalidArgument):
        edgeacc.prove_set_nonmembership(state, ys + [state.elements[0]])
    data = proof.to_bytes(P)
    assert nonmem.SetNonMembershipProof.from_bytes(P, data) == proof
    for bad in (data[:-1], data + b"\0", b"EANM" + data[4:], data[:4] + b"\x02" + data[5:]):
        with pytest.raises(EncodingError):
            nonmem.SetNonMembershipProof.from_bytes(P, bad)


def test_update_proof_forgeries(toy):
    acc = edgeacc.Accumulator(toy, toy.generator(b"up"))
    acc.add_many(reps(b"up-m", 4))
    v0 = acc.value
    new = reps(b"up-a", 3)
    v1, proof = acc.add_many_with_proof(new)
    g = acc.g
    assert updates.verify_update(toy, g, v0, v1, proof, elements=new)
    assert updates.verify_update(toy, g, v0, v1, proof, elements=new[::-1])
    assert not updates.verify_update(toy, g, v1, v0, proof)                  # reversed
    assert not updates.verify_update(toy, g, v0, v1 * v1 % toy.n, proof)
    assert not updates.verify_update(toy, g, v0, v1, proof, elements=new[:2])
    assert not updates.verify_update(toy, g, v0, v1, proof, elements=new[:2] + reps(b"up-z", 1))
    from dataclasses import replace
    for forged in (replace(proof, kind="delete"), replace(proof, count=4), replace(proof, commitment=bytes(32)),
                   replace(proof, poe=edgeacc.PoEProof(proof.poke.Q))):
        assert not updates.verify_update(toy, g, v0, v1, forged, elements=new)
    # a delete proof for the reverse transition is a different statement
    ws = acc.witnesses([4, 5, 6])
    v2, dproof = acc.delete_many_with_proof(new, ws)
    assert _core.canonical(v2, toy.n) == _core.canonical(v0, toy.n)
    assert updates.verify_update(toy, g, v1, v2, dproof, elements=new)
    assert not updates.verify_update(toy, g, v0, v1, dproof)
    # a transition with no known exponent: v_new chosen freely
    fake = replace(proof, poke=poke.PoKE2Proof(proof.poke.z, proof.poke.Q, proof.poke.r))
    assert not updates.verify_update(toy, g, v0, toy.generator(b"free"), fake)
    data = proof.to_bytes(toy)
    assert updates.BatchUpdateProof.from_bytes(toy, data) == proof
    for bad in (data[:-1], data[:5] + b"\x03" + data[6:], data[:6] + bytes(4) + data[10:]):
        with pytest.raises(EncodingError):
            updates.BatchUpdateProof.from_bytes(toy, bad)
    with pytest.raises(InvalidArgument):
        acc.add_many_with_proof([])
    with pytest.raises(InvalidArgument):
        acc.add_many_with_proof([acc.elements[0]])                      # already accumulated


def test_bad_inputs_raise_package_errors(state, toy):
    P, g, v = state.params, state.g, state.value
    y = reps(b"nm-y", 1)[0]
    nw = state.nonmembership_witness(y)
    calls = [lambda: state.nonmembership_witness(2), lambda: state.nonmembership_witness("7"),
             lambda: state.nonmembership_witnesses(b"xx"),
             lambda: edgeacc.batch_verify_nonmembership(P, g, v, [(y,)]),
             lambda: edgeacc.batch_verify_nonmembership(P, g, v, [(y, nw)], security=8),
             lambda: edgeacc.update_nonmembership_witness(P, y, nw, v, v, []),
             lambda: edgeacc.update_nonmembership_witness(P, y, (y + 1, nw.B), v, v, [3]),
             lambda: edgeacc.update_nonmembership_after_delete(P, y, nw, 0, [3]),
             lambda: edgeacc.update_witness_after_delete(P, 5, 7, v, []),
             lambda: nonmem.NonMembershipWitness.from_bytes(P, b"EANM\x01"),
             lambda: nonmem.NonMembershipWitness(-1, nw.B).to_bytes(P),
             lambda: edgeacc.verify_set_nonmembership(P, g, v, [], None),
             lambda: edgeacc.verify_update(P, g, v, v, "proof"),
             lambda: state.delete_many([y], []),
             lambda: edgeacc.Accumulator(toy, toy.generator(b"e")).nonmembership_witness(y)]
    for call in calls:
        with pytest.raises(EdgeaccError):
            call()


@pytest.fixture(scope="module")
def encoded(toy):
    """One encoding of each proof type with the statement it is checked against."""
    acc = edgeacc.Accumulator(toy, toy.generator(b"enc"))
    acc.add_many(reps(b"enc-m", 4))
    v0, batch = acc.value, reps(b"enc-a", 2)
    v1, up = acc.add_many_with_proof(batch)
    ys = reps(b"enc-y", 2)
    sp = edgeacc.prove_set_nonmembership(acc, ys)
    nw = acc.nonmembership_witness(ys[0])
    g, u = acc.g, toy.generator(b"enc-u")
    w, pk = poke.prove(toy, g, u, _core.product(batch), b"c")
    return [
        (up.to_bytes(toy), lambda b: updates.verify_update(toy, g, v0, v1, updates.BatchUpdateProof.from_bytes(toy, b),
                                                          elements=batch)),
        (sp.to_bytes(toy), lambda b: edgeacc.verify_set_nonmembership(toy, g, v1, ys,
                                                                      nonmem.SetNonMembershipProof.from_bytes(toy, b))),
        (nw.to_bytes(toy), lambda b: acc.verify_nonmembership(ys[0], nonmem.NonMembershipWitness.from_bytes(toy, b))),
        (pk.to_bytes(toy), lambda b: poke.verify(toy, g, u, w, poke.PoKE2Proof.from_bytes(toy, b), b"c")),
    ]


@given(st.integers(0, 3), st.integers(0, 10 ** 6), st.integers(1, 255))
def test_every_byte_of_every_proof_matters(encoded, which, where, flip):
    """A changed byte anywhere in an encoding is refused: it does not decode, or the decoded
    proof does not verify (strict parsers: one encoding per proof)."""
    data, check = encoded[which]
    assert check(data)
    i = where % len(data)
    bad = data[:i] + bytes([data[i] ^ flip]) + data[i + 1:]
    try:
        assert not check(bad)
    except EncodingError:
        pass
