"""Accumulator.restore / restore_checkpoint (rebuilding from stored checkpoints), witness_at
and witnesses(height=) against earlier values."""
import pytest
from hypothesis import given, strategies as st

import edgeacc
from edgeacc.errors import EdgeaccError, InvalidArgument


def elements(n, tag=b"r"):
    return [edgeacc.hash_to_prime(tag + b"%d" % i)[0] for i in range(n)]


def grown(P, xs):
    """An accumulator grown one element at a time, with its value after each."""
    acc = edgeacc.Accumulator(P, P.generator(b"restore"))
    return acc, [acc.add(x) for x in xs]


@given(n=st.integers(1, 6), data=st.data())
def test_restored_equals_grown_and_witnesses_agree(toy, n, data):
    xs = elements(n)
    acc, values = grown(toy, xs)
    for verify in (True, False):
        copy = edgeacc.Accumulator.restore(toy, acc.g, [([x], v) for x, v in zip(xs, values)], verify=verify)
        assert copy.value == acc.value and len(copy) == n and all(x in copy for x in xs)
        assert [copy.witness(i) for i in range(n)] == [acc.witness(i) for i in range(n)]
    height = data.draw(st.integers(1, n))
    i = data.draw(st.integers(0, height - 1))
    w = acc.witness_at(i, height)
    assert edgeacc.verify_membership(toy, w, xs[i], values[height - 1])
    assert acc.witnesses([i, 0], height=height) == [w, acc.witness_at(0, height)]


def test_a_forged_checkpoint_is_refused_and_nothing_is_added(toy):
    xs = elements(3)
    acc, values = grown(toy, xs)
    copy = edgeacc.Accumulator.restore(toy, acc.g, [([xs[0]], values[0])])
    before = (copy.value, len(copy))
    forged = [([xs[1]], values[2]),                     # the value of another checkpoint
              ([xs[1], xs[2]], values[1]),              # elements that do not take it there
              ([xs[0]], values[1]),                     # an element already accumulated
              ([xs[1], xs[1]], values[2]),              # repeated
              ([xs[1] * xs[2]], values[2]),             # composite (the product of two members)
              ([], values[1])]                          # a value change without elements
    for elems, value in forged:
        with pytest.raises(InvalidArgument):
            copy.restore_checkpoint(elems, value)
        assert (copy.value, len(copy)) == before
    for bad_value in (0, 1, toy.n - 1, toy.n):          # not a group element, even unverified
        with pytest.raises(EdgeaccError):
            copy.restore_checkpoint([xs[1]], bad_value, verify=False)
    with pytest.raises(EdgeaccError):
        copy.restore_checkpoint([4], values[1], verify=False)  # even: never an element
    assert (copy.value, len(copy)) == before
    with pytest.raises(EdgeaccError):
        edgeacc.Accumulator.restore(toy, acc.g, [(xs[0], values[0])])  # not an (elements, value) pair


def test_witness_at_bounds(toy):
    acc, _ = grown(toy, elements(2))
    for i, height in ((2, 2), (0, 3), (1, 1), (-1, 2)):
        with pytest.raises(EdgeaccError):
            acc.witness_at(i, height)
    with pytest.raises(EdgeaccError):
        acc.witnesses([1], height=1)
