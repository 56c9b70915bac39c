"""Adversarial tests of the engine hardening (issue 9, points 10-13): a dishonest modulus
supplier, prover or caller against every class of check, with more variants than the issue
lists. Each test mounts the attack and asserts the rejection and the unchanged state."""
import copy
import os
import pickle
import random
import subprocess
import sys

import pytest

import edgeacc
from edgeacc import _core, poe
from edgeacc.errors import (EdgeaccError, EdgeaccTypeError, InvalidArgument, InvalidElement,
                            InvalidExponent, InvalidModulus, ReadOnlyError)
from edgeacc.params import CEREMONY, IN_PROCESS_CEREMONY, Params

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def prime(rng, bits):
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if _core.is_probable_prime(c):
            return c


def smooth_prime(rng, bits, bound):
    """A prime p with p - 1 = 2 * (distinct primes below bound): Pollard p-1 splits p * q."""
    small = [q for q in range(3, bound) if _core.is_probable_prime(q)]
    while True:
        m = 2
        for q in rng.sample(small, len(small)):
            if m.bit_length() >= bits:
                break
            m *= q
        if _core.is_probable_prime(m + 1):
            return m + 1


# ---------------------------------------------------------------------------------------------
# Point 10: weak moduli and forged labels.

CHERNICK_K = 1237940039285380274899138561     # 6k+1, 12k+1, 18k+1 all prime: a Carmichael N


def test_carmichael_modulus_is_refused():
    k = CHERNICK_K
    n = (6 * k + 1) * (12 * k + 1) * (18 * k + 1)      # three 90-bit primes; lambda(N) | N - 1
    assert pow(2, n - 1, n) == 1
    with pytest.raises(InvalidModulus, match="pseudoprime"):
        Params(n, insecure=True)


def test_smooth_p_minus_1_factor_is_refused_by_pollard():
    rng = random.Random(4)
    p = smooth_prime(rng, 400, 1 << 12)
    n = p * prime(rng, 400)
    with pytest.raises(InvalidModulus, match="p-1"):
        Params(n, insecure=True)
    weakness, factor = _core.screen_modulus(n, 3, 0, 1)
    assert weakness == _core.WEAK_SMOOTH_ORDER and factor == p


def test_pm1_when_every_factor_is_smooth_still_refuses():
    rng = random.Random(6)
    n = smooth_prime(rng, 200, 1 << 10) * smooth_prime(rng, 200, 1 << 10)
    assert _core.screen_modulus(n, 3, 0, 1)[0] != _core.WEAK_NONE


def test_fair_toy_modulus_passes_the_new_screens():
    rng = random.Random(8)
    n = prime(rng, 256) * prime(rng, 256)
    assert _core.screen_modulus(n, 1 << 24, 1 << 10, 1) == (_core.WEAK_NONE, 0)


def test_three_prime_modulus_passes_but_is_only_a_caller_modulus():
    rng = random.Random(10)
    n = prime(rng, 200) * prime(rng, 200) * prime(rng, 200)
    P = Params(n, insecure=True)
    assert (P.source, P.secure, P.insecure) == ("caller", False, True)


@pytest.mark.parametrize("n", [1, 2, -3, -(2 ** 2048 + 1), 0, 2 ** 2048, 3 ** 1400, 2 ** 16385 + 1],
                         ids=["1", "2", "-3", "negative", "0", "even", "power-of-3", "huge"])
def test_degenerate_moduli(n):
    with pytest.raises(InvalidModulus):
        Params(n)
    with pytest.raises(InvalidModulus):
        Params(n, insecure=True)


def test_huge_modulus_is_refused_fast():
    with pytest.raises(InvalidModulus, match="at most 16384"):
        Params((1 << 100_000) + 1)


def test_small_factor_hidden_by_insecure_then_rewrapped_is_screened_fully():
    rng = random.Random(12)
    p = 16777907          # the first safe prime above 2^24 (p - 1 = 2q: Pollard misses it)
    n = p * prime(rng, 2030)
    weak = Params(n, insecure=True)        # the test screen stops at 2^24
    assert weak.source == "caller" and weak.insecure
    with pytest.raises(InvalidModulus, match="small factor 16777907"):
        Params(n)
    with pytest.raises(InvalidModulus):
        pickle.loads(pickle.dumps(_Rewrapped(n)))       # a pickle claiming insecure=False


class _Rewrapped:
    def __init__(self, n):
        self.n = n

    def __reduce__(self):
        return Params, (self.n, False)


def test_forged_fields_never_make_a_modulus_secure(toy):
    victim = edgeacc.generate_insecure_params(512, seed=21)
    object.__setattr__(victim, "_source", CEREMONY)
    object.__setattr__(victim, "_insecure", False)
    assert not victim.secure and victim.insecure
    R = Params.rsa2048()
    forged = Params.rsa2048()
    object.__setattr__(forged, "_n", toy.n)
    assert not forged.secure
    assert R.secure and R == Params.rsa2048()


def test_params_is_immutable_and_final(toy):
    for name in ("_source", "_insecure", "_n", "source", "secure", "n"):
        with pytest.raises(ReadOnlyError):
            setattr(toy, name, "ceremony")
        with pytest.raises(ReadOnlyError):
            delattr(toy, name)
    assert (toy.source, toy.insecure, toy.secure) == ("generated", True, False)
    with pytest.raises(EdgeaccTypeError, match="subclassed"):
        class Vouched(Params):       # noqa: F841 - the definition is the attack
            secure = True


class _ForgedPickle:
    """Pickles as a Params whose state claims a ceremony for a generated modulus."""

    def __init__(self, n):
        self.n = n

    def __reduce__(self):
        state = {"_n": self.n, "_bits": self.n.bit_length(), "_insecure": False,
                 "_source": CEREMONY, "_nbytes": (self.n.bit_length() + 7) // 8}
        return object.__new__, (Params,), (None, state)


def test_crafted_pickle_cannot_set_a_label(toy):
    with pytest.raises(EdgeaccError):
        pickle.loads(pickle.dumps(_ForgedPickle(toy.n)))


def test_pickle_and_copies_rederive_the_label(toy):
    R = Params.rsa2048()
    for P in (R, toy):
        for clone in (copy.copy(P), copy.deepcopy(P), pickle.loads(pickle.dumps(P))):
            assert clone == P and hash(clone) == hash(P)
            assert (clone.source, clone.secure, clone.insecure) == (P.source, P.secure, P.insecure)
    assert copy.deepcopy({"p": toy})["p"].source == "generated"


def test_labels_in_another_process_are_never_better():
    """What a ledger manifest (modulus_hex + insecure) gives on reopen in a new process: a
    generated or in-process-ceremony modulus is 'caller' and stays insecure."""
    from edgeacc.dkg import generate_modulus

    dkg = generate_modulus(k=3, bits=256).params
    G = edgeacc.generate_insecure_params(512, seed=23)
    for P in (dkg, G):
        reopened = Params(int(hex(P.n), 16), insecure=P.insecure)   # same process
        assert reopened.source == P.source and not reopened.secure and reopened.insecure
        code = ("import pickle, sys, edgeacc; P = pickle.loads(sys.stdin.buffer.read()); "
                "print(P.source, P.secure, P.insecure)")
        out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(P), cwd=ROOT,
                             capture_output=True, check=True).stdout.decode().split()
        assert out == ["caller", "False", "True"]


def test_ceremony_record_cannot_relabel_the_challenge_or_a_seen_modulus():
    R = Params.rsa2048()
    G = edgeacc.generate_insecure_params(512, seed=25)
    assert Params._labelled(G.n, CEREMONY).source == "generated"       # never upgraded
    assert Params(G.n, insecure=True).source == "generated"
    rng = random.Random(14)
    n = prime(rng, 512) * prime(rng, 512)
    C = Params._labelled(n, CEREMONY)             # a small ceremony: labelled, insecure by size
    assert (C.source, C.secure, C.insecure) == ("ceremony", False, True)
    Params._labelled(n, IN_PROCESS_CEREMONY)      # the same N seen in-process: downgraded
    assert Params(n, insecure=True).source == "in-process-ceremony"
    assert R.secure and Params(R.n).source == "rsa2048-challenge"


def test_uninitialised_params_is_an_edgeacc_error(toy):
    E = Params.__new__(Params)
    for call in (lambda: E.n, lambda: E.secure, lambda: repr(E),
                 lambda: edgeacc.verify_membership(E, 3, 3, 3),
                 lambda: edgeacc.Accumulator(E, 4), lambda: edgeacc.batch_verify(E, []),
                 lambda: edgeacc.encode_element(E, 4), lambda: poe.challenge(E, 4, 5, 6)):
        with pytest.raises(EdgeaccTypeError, match="uninitialised"):
            call()


def test_repr_reports_every_label(toy):
    R = Params.rsa2048()
    assert "source='rsa2048-challenge'" in repr(R) and "secure=True" in repr(R)
    assert "source='generated'" in repr(toy) and "secure=False" in repr(toy)
    assert "insecure=True" in repr(toy)
    assert len(repr(R)) < 120
