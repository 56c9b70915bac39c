import random

import pytest

import edgeacc
from edgeacc import _core
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


# ---------------------------------------------------------------------------------------------
# Where a modulus came from (issue 9, point 10): labels, and the screens that refuse moduli
# anyone can factor at once. Each weak modulus below made a non-member verify before.

def _prime(rng, bits):
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1     # top two bits: p*q has 2k bits
        if _core.is_probable_prime(c):
            return c


def _cofactor_prime(rng, p, bits=2048):
    """A prime q with p*q of exactly `bits` bits."""
    while True:
        q = _prime(rng, bits - p.bit_length())
        if (p * q).bit_length() == bits:
            return q


def test_forgery_with_a_factorable_modulus_is_why_the_screen_exists():
    """With N = p*q and p found, a root of anything is computable: a non-member verifies."""
    rng = random.Random(17)
    p = 65537 * 2 + 1 if _core.is_probable_prime(65537 * 2 + 1) else 131071   # a 17-bit prime
    q = _cofactor_prime(rng, p)
    n = p * q
    x, _ = edgeacc.hash_to_prime(b"not a member")
    v = 4
    d = pow(x, -1, (p - 1) * (q - 1))
    assert edgeacc.powm(edgeacc.powm(v, d, n), x, n) == v     # the forged witness works
    with pytest.raises(InvalidModulus, match="small factor 131071"):
        edgeacc.Params(n)
    with pytest.raises(InvalidModulus, match="small factor 131071"):
        edgeacc.Params(n, insecure=True)


def test_adjacent_primes_product_is_refused():
    rng = random.Random(3)
    p = _prime(rng, 1024)
    q = int(gmpy2_next_prime(p))
    for flag in (False, True):
        with pytest.raises(InvalidModulus, match="Fermat"):
            edgeacc.Params(p * q, insecure=flag)
    far = _prime(rng, 1024)
    near = far + (1 << 500)           # |p - q| ~ 2^500: Fermat's first steps split it
    near = int(gmpy2_next_prime(near))
    with pytest.raises(InvalidModulus, match="Fermat"):
        edgeacc.Params(far * near)


def gmpy2_next_prime(n):
    n += 1 + n % 2
    while not _core.is_probable_prime(n):
        n += 2
    return n


@pytest.mark.slow
def test_factor_just_below_2_32_is_refused_and_a_fair_caller_modulus_is_only_caller():
    rng = random.Random(5)
    p = 4294967291                     # the largest prime below 2^32
    n = p * _cofactor_prime(rng, p)
    with pytest.raises(InvalidModulus, match="small factor 4294967291"):
        edgeacc.Params(n)
    fair = _prime(rng, 1024) * _prime(rng, 1024)
    C = edgeacc.Params(fair)
    assert C.source == "caller" and not C.secure and not C.insecure


def test_perfect_powers_are_refused():
    rng = random.Random(9)
    p, q = _prime(rng, 1024), _prime(rng, 683)
    for n in (p * p, q ** 3, (p * q) ** 2 if (p * q) ** 2 % 2 else 9):
        with pytest.raises(InvalidModulus, match="perfect power"):
            edgeacc.Params(n, insecure=True)


def test_labels_of_every_source(toy):
    P = edgeacc.Params.rsa2048()
    assert (P.source, P.secure, P.insecure) == ("rsa2048-challenge", True, False)
    assert edgeacc.Params(P.n) == P                         # the challenge number is the challenge
    assert (toy.source, toy.secure, toy.insecure) == ("generated", False, True)
    flagged = edgeacc.Params(P.n, insecure=True)
    assert flagged.source == "rsa2048-challenge" and not flagged.secure


def test_rewrapped_generated_modulus_keeps_its_insecure_label():
    G = edgeacc.generate_insecure_params(2048, seed=11)
    assert (G.source, G.secure, G.insecure) == ("generated", False, True)
    again = edgeacc.Params(G.n)              # no insecure flag asked for: must not get better
    assert (again.source, again.secure, again.insecure) == ("generated", False, True)
    assert again == G


def test_in_process_ceremony_is_labelled_insecure_at_any_size():
    from edgeacc.dkg import generate_modulus
    from edgeacc.params import IN_PROCESS_CEREMONY, Params

    small = generate_modulus(k=3, bits=256).params
    assert (small.source, small.secure, small.insecure) == ("in-process-ceremony", False, True)
    assert edgeacc.Params(small.n, insecure=True).source == "in-process-ceremony"
    rng = random.Random(2)
    big = Params._labelled(_prime(rng, 1024) * _prime(rng, 1024), IN_PROCESS_CEREMONY)
    assert big.bits == 2048 and big.insecure and not big.secure     # dealer-equivalent
    assert edgeacc.Params(big.n).insecure


def test_labels_are_read_only(toy):
    with pytest.raises(AttributeError):
        toy.source = "ceremony"
    with pytest.raises(AttributeError):
        toy.insecure = False
    assert toy.source == "generated"
