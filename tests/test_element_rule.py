"""One element rule everywhere (issue 9, point 11): an element is an odd integer >= 3 for
every entry point that takes one (x = 1 or an even x would let a trivial witness verify), and
an accumulated element is also a probable prime. The rule is C's (ea_check.h); errors name
the failing item."""
import pytest

import edgeacc
from edgeacc import _core
from edgeacc.errors import InvalidExponent


@pytest.fixture(scope="module")
def setup(toy):
    acc = edgeacc.Accumulator(toy, toy.generator(b"rule"))
    xs = [edgeacc.hash_to_prime(b"r%d" % i)[0] for i in range(3)]
    acc.add_many(xs)
    return toy, acc, xs


@pytest.mark.parametrize("bad", [1, 2, 0, -3, 2 ** 300])
def test_every_entry_point_refuses_trivial_elements(setup, bad):
    P, acc, xs = setup
    v, w = acc.value, acc.witness(0)
    # x = 1 with w = v, or an even x, would make a "witness" out of nothing:
    calls = {
        "verify_membership": lambda: edgeacc.verify_membership(P, v, bad, v),
        "batch_verify": lambda: edgeacc.batch_verify(P, [(w, xs[0], v), (v, bad, v)]),
        "shamir_trick": lambda: edgeacc.shamir_trick(P, w, xs[0], v, bad),
        "aggregate_witnesses": lambda: edgeacc.aggregate_witnesses(P, [(w, xs[0]), (v, bad)]),
        "root_factory": lambda: edgeacc.root_factory(P, acc.g, [xs[0], bad]),
        "update_witnesses": lambda: edgeacc.update_witnesses(P, [w], [xs[1], bad]),
        "update_witness": lambda: edgeacc.update_witness(P, w, [bad]),
        "verify_set_membership": lambda: edgeacc.verify_set_membership(
            P, [xs[0], bad], v, edgeacc.prove_set_membership(acc, [0])),
        "add": lambda: acc.add(bad),
        "add_many": lambda: acc.add_many([edgeacc.hash_to_prime(b"new")[0], bad]),
    }
    before = (acc.value, acc.elements)
    for name, call in calls.items():
        with pytest.raises(InvalidExponent) as info:
            call()
        assert len(str(info.value)) < 300, name
    assert (acc.value, acc.elements) == before


def test_the_core_names_the_failing_item(setup):
    P, acc, xs = setup
    with pytest.raises(InvalidExponent, match="element 2 must be an odd integer >= 3"):
        _core.root_factory(acc.g, [xs[0], xs[1], 4], P.n)
    with pytest.raises(InvalidExponent, match="element 1 must be a prime representative"):
        _core.check_exponents([xs[0], 15, 9], _core.RULE_PRIME)
    with pytest.raises(InvalidExponent, match="element 1 must be an odd"):
        edgeacc.batch_verify(P, [(acc.witness(0), xs[0], acc.value), (acc.value, 1, acc.value)])


def test_trivial_witness_would_verify_without_the_rule(setup):
    """What the rule stops: with x = 1, w = v satisfies w^x = v for any v."""
    P, acc, _ = setup
    v = acc.value
    assert edgeacc.powm(v, 1, P.n) == v
    with pytest.raises(InvalidExponent):
        edgeacc.verify_membership(P, v, 1, v)
