import pytest

import edgeacc
from edgeacc.errors import EdgeaccTypeError, InvalidArgument, InvalidModulus


def test_rsa2048_default():
    P = edgeacc.Params.rsa2048()
    assert P.bits == 2048 and not P.insecure and P.element_bytes == 256


def test_generator_is_derived_and_distinct(P):
    g1, g2 = P.generator(b"chain-1"), P.generator(b"chain-2")
    assert g1 != g2 and g1 == P.generator(b"chain-1")
    assert 1 < g1 < P.n - 1


@pytest.mark.parametrize("n, exc", [
    (0, InvalidModulus), (-7, InvalidModulus), (2**2048, InvalidModulus),
    (15, InvalidModulus), (257 * (2**2040 + 1), InvalidModulus),  # small factor 257
    (3 * (2**2047 + 9), InvalidModulus),                    # small factor 3
    (1.5, EdgeaccTypeError), ("123", EdgeaccTypeError), (True, EdgeaccTypeError),
])
def test_bad_moduli(n, exc):
    with pytest.raises(exc):
        edgeacc.Params(n)


def test_prime_modulus_rejected():
    p = 2**2203 - 1  # a Mersenne prime: its group order is known
    with pytest.raises(InvalidModulus, match="prime"):
        edgeacc.Params(p)


def test_small_modulus_needs_insecure_flag_and_reports_it(toy):
    assert toy.insecure and toy.bits == 512
    with pytest.raises(InvalidModulus, match="insecure=True"):
        edgeacc.Params(toy.n)
    assert "insecure=True" in repr(toy)


def test_generator_bad_chain_id(P):
    with pytest.raises(InvalidArgument):
        P.generator(b"")
    with pytest.raises(EdgeaccTypeError):
        P.generator("text")
