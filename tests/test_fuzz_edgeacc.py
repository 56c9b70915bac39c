"""Fuzz every public decoder and constructor of edgeacc (issue 9, point 13 and acceptance):
whatever the input, only edgeacc.errors.EdgeaccError subclasses come out - never a bare
TypeError/ValueError/AttributeError/IndexError/RecursionError/ZeroDivisionError."""
import pytest
from hypothesis import example, given, strategies as st

import edgeacc
from edgeacc import poe
from edgeacc.dkg import DkgConfig, wire
from edgeacc.errors import EdgeaccError

huge = st.integers(min_value=-(2 ** 5000), max_value=2 ** 5000)
junk = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2 ** 70), huge, st.floats(allow_nan=True),
    st.text(max_size=4), st.binary(max_size=80), st.lists(st.integers(0, 9), max_size=3),
    st.lists(st.lists(st.integers(0, 9), max_size=2), max_size=2), st.just([[1]]),
    st.dictionaries(st.integers(0, 3), st.integers(0, 3), max_size=2), st.just(object()),
    st.tuples(st.integers(0, 9), st.integers(0, 9)), st.just(float("inf")),
)
junk_lists = st.one_of(junk, st.lists(junk, max_size=4), st.lists(st.tuples(junk, junk, junk), max_size=3),
                       st.lists(st.tuples(junk, junk), max_size=3))


def only_edgeacc_errors(call):
    try:
        call()
    except EdgeaccError as exc:
        assert len(str(exc)) < 2000, "an error message printed a huge value in full"
    except Exception as exc:  # the assertion below is the test
        pytest.fail(f"{type(exc).__name__} escaped: {exc!r:.200}")


@pytest.fixture(scope="module")
def acc(toy):
    a = edgeacc.Accumulator(toy, toy.generator(b"fuzz"))
    a.add_many([edgeacc.hash_to_prime(b"%d" % i)[0] for i in range(3)])
    return a


def proof_bytes(toy):
    """Byte strings around the lengths the decoders expect, plus the valid prefixes."""
    k = toy.element_bytes
    return st.one_of(
        st.binary(max_size=3 * k + 20),
        st.builds(lambda head, body: head + body,
                  st.sampled_from([b"EAMP\x01", b"EAPE\x01", b"EASM\x01", b"EAMP\x02", b""]),
                  st.one_of(st.binary(min_size=k - 2, max_size=k + 40),
                            st.binary(min_size=2 * k, max_size=2 * k + 40))),
        junk,
    )


@given(data=st.data())
def test_decoders(toy, data):
    raw = data.draw(proof_bytes(toy))
    for decode in (lambda: edgeacc.decode_element(toy, raw),
                   lambda: edgeacc.MembershipProof.from_bytes(toy, raw),
                   lambda: edgeacc.PoEProof.from_bytes(toy, raw),
                   lambda: edgeacc.SetMembershipProof.from_bytes(toy, raw),
                   lambda: wire.decode(raw)):
        only_edgeacc_errors(decode)
    other = data.draw(junk)
    only_edgeacc_errors(lambda: edgeacc.decode_element(other, raw))
    only_edgeacc_errors(lambda: edgeacc.MembershipProof.from_bytes(other, raw))


@given(n=st.one_of(junk, st.integers(0, 2 ** 2047)), flag=junk)
@example(n=2 ** 5000 + 1, flag=False)
def test_params_constructor(n, flag):
    only_edgeacc_errors(lambda: edgeacc.Params(n))
    only_edgeacc_errors(lambda: edgeacc.Params(n, insecure=flag))


@given(n=st.integers(0, 2 ** 700))
def test_params_insecure_screens(n):
    only_edgeacc_errors(lambda: edgeacc.Params(n, insecure=True))


@given(a=junk, b=junk_lists, c=junk, d=junk)
@example(a=2 ** 5000, b=[2 ** 5000], c=2 ** 5000, d=2 ** 5000)
@example(a="auto", b=[3], c=[[1]], d=1)
def test_accumulator_and_verifiers(toy, acc, a, b, c, d):
    P = toy
    calls = [
        lambda: edgeacc.Accumulator(P, a), lambda: edgeacc.Accumulator(a, c),
        lambda: acc.witness(a), lambda: acc.witnesses(b), lambda: acc.verify(a, c),
        lambda: acc.aggregate_witness(b), lambda: acc.value_at(a), lambda: acc.updated_witness(a, c),
        lambda: acc.updated_witnesses(b, a), lambda: acc.all_witnesses(threads=a),
        lambda: edgeacc.Accumulator(P, P.generator(b"f")).add(a),
        lambda: edgeacc.Accumulator(P, P.generator(b"f")).add_many(b),
        lambda: edgeacc.verify_membership(P, a, c, d), lambda: edgeacc.verify_membership(a, b, c, d),
        lambda: edgeacc.update_witness(P, a, b),
        lambda: edgeacc.batch_verify(P, b), lambda: edgeacc.batch_verify(P, b, security=a, threads=c),
        lambda: edgeacc.multi_exp(P, b, b), lambda: edgeacc.multi_exp(P, [3], [5], method=a, param=c),
        lambda: edgeacc.multi_exp(P, [3], [5], threads=a),
        lambda: edgeacc.MultiExpTable(P, b, group_size=a),
        lambda: edgeacc.shamir_trick(P, a, c, d, a), lambda: edgeacc.aggregate_witnesses(P, b),
        lambda: edgeacc.root_factory(P, a, b, threads=c, arity=d),
        lambda: edgeacc.update_witnesses(P, b, b, threads=c),
        lambda: edgeacc.hash_to_prime(a), lambda: edgeacc.check_representative(a, c, d),
        lambda: edgeacc.is_first_representative(a, c, d),
        lambda: edgeacc.encode_element(P, a), lambda: P.generator(a),
        lambda: edgeacc.MembershipProof(a, c, d).to_bytes(P),
        lambda: edgeacc.MembershipProof(a, c, d).verify(P, b"x", acc.value),
        lambda: edgeacc.MembershipProof(3, 0, acc.value).verify(P, a, c),
        lambda: edgeacc.PoEProof(a).to_bytes(P), lambda: edgeacc.SetMembershipProof(a, c).to_bytes(P),
        lambda: poe.verify(P, a, c, d, edgeacc.PoEProof(a)), lambda: poe.prove(P, a, c),
        lambda: poe.challenge(P, a, c, d), lambda: poe.commit_exponent(a),
        lambda: edgeacc.verify_set_membership(P, b, a, edgeacc.SetMembershipProof(c, edgeacc.PoEProof(d))),
        lambda: edgeacc.prove_set_membership(acc, b), lambda: edgeacc.prove_set_membership(a, b),
        lambda: edgeacc.powm(a, c, d), lambda: edgeacc.generate_insecure_params(a, seed=c),
    ]
    for call in calls:
        only_edgeacc_errors(call)


@given(fields=st.fixed_dictionaries({}, optional={
    "parties": junk, "bits": junk, "threshold": junk, "soundness_bits": junk,
    "batch_size": junk, "max_candidates": junk, "timeout": junk}))
def test_dkg_config(fields):
    only_edgeacc_errors(lambda: DkgConfig(**fields).validate())


@given(config=junk, index=junk)
def test_dkg_entry_points(config, index):
    from edgeacc.dkg import Party, generate_modulus, run_in_process
    from edgeacc.dkg.wire import LocalHub

    net = LocalHub(3).network(1, 1.0)
    for call in (lambda: run_in_process(config), lambda: Party(index, DkgConfig(), net),
                 lambda: Party(1, config, net), lambda: Party(1, DkgConfig(), config),
                 lambda: generate_modulus(k=config, bits=index)):
        only_edgeacc_errors(call)


@given(value=st.recursive(st.one_of(junk, st.integers(-3, 3)), lambda inner: st.lists(inner, max_size=3),
                          max_leaves=8))
def test_dkg_wire_encode_and_roundtrip(value):
    try:
        raw = wire.encode(value)
    except EdgeaccError:
        return
    except Exception as exc:
        pytest.fail(f"{type(exc).__name__} escaped wire.encode: {exc!r:.200}")
    assert wire.encode(wire.decode(raw)) == raw


def test_deeply_nested_wire_message_is_a_protocol_error():
    from edgeacc.errors import ProtocolError

    deep = b"l\x00\x00\x00\x01" * 100_000 + b"i\x00\x00\x00\x00"
    with pytest.raises(ProtocolError, match="nested"):
        wire.decode(deep)
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    with pytest.raises(ProtocolError, match="nest"):
        wire.encode(nested)


def test_huge_even_exponent_message_is_brief(toy):
    from edgeacc.errors import InvalidExponent

    x = 2 ** 100_000
    with pytest.raises(InvalidExponent) as info:
        edgeacc.verify_membership(toy, 4, x, 4)
    assert "100001-bit" in str(info.value) and len(str(info.value)) < 300
    with pytest.raises(InvalidExponent, match="element 0 must be"):
        edgeacc.Accumulator(toy, toy.generator(b"e")).add(x)


def test_unhashable_method_is_an_edgeacc_error(toy):
    with pytest.raises(edgeacc.errors.InvalidArgument, match="method"):
        edgeacc.multi_exp(toy, [3], [5], method=[])
