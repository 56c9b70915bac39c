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
from edgeacc.batch import _batch_verify_with_weights, _weights
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
    with pytest.raises(InvalidModulus, match="at most 8192"):
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


# ---------------------------------------------------------------------------------------------
# Point 11: one element rule, witnesses and batch soundness, with a toy modulus whose factors
# the test knows (so it can build elements of order 2).

@pytest.fixture(scope="module")
def known():
    rng = random.Random(31)
    p, q = prime(rng, 256), prime(rng, 256)
    n = p * q
    P = Params(n, insecure=True)
    h = (1 + p * ((-2 * pow(p, -1, q)) % q)) % n          # 1 mod p, -1 mod q: order 2
    assert h * h % n == 1 and h not in (1, n - 1)
    acc = edgeacc.Accumulator(P, P.generator(b"redteam"))
    xs = [edgeacc.hash_to_prime(b"rt%d" % i)[0] for i in range(12)]
    acc.add_many(xs)
    return {"P": P, "p": p, "q": q, "h": h, "acc": acc, "xs": xs, "ws": acc.all_witnesses()}


COMPOSITES = [
    561, 41041, 825265,                     # Carmichael numbers
    2047, 3215031751, 3825123056546413051,  # strong pseudoprimes to base 2 (the last to 2..23)
    (2 ** 127 - 1) * 170141183460469231731687303715884105757,   # two 127-bit primes
]


@pytest.mark.parametrize("x", COMPOSITES, ids=["561", "41041", "825265", "2047", "3215031751",
                                               "spsp-2-23", "two-127-bit-primes"])
def test_composites_are_never_accumulated(known, x):
    acc = edgeacc.Accumulator(known["P"], known["P"].generator(b"composite"))
    before = acc.value
    for attempt in (lambda: acc.add(x), lambda: acc.add_many([known["xs"][0], x])):
        with pytest.raises(InvalidExponent, match="prime"):
            attempt()
    assert acc.value == before and len(acc) == 0


@pytest.mark.parametrize("x", [0, 1, 2, -3, 4, 2 ** 300, True, 3.0, "3", None, b"\x03"])
def test_trivial_or_mistyped_elements_everywhere(known, x):
    P, acc, ws, xs = known["P"], known["acc"], known["ws"], known["xs"]
    v = acc.value
    calls = [
        lambda: acc.add(x), lambda: acc.verify(x, ws[0]), lambda: edgeacc.verify_membership(P, ws[0], x, v),
        lambda: edgeacc.batch_verify(P, [(ws[0], x, v)]), lambda: edgeacc.shamir_trick(P, ws[0], x, ws[1], xs[1]),
        lambda: edgeacc.aggregate_witnesses(P, [(ws[0], x), (ws[1], xs[1])]),
        lambda: edgeacc.root_factory(P, ws[0], [x]), lambda: edgeacc.update_witnesses(P, [ws[0]], [x]),
        lambda: edgeacc.update_witness(P, ws[0], [x]),
        lambda: edgeacc.verify_set_membership(P, [x], v, edgeacc.prove_set_membership(acc, [0])),
    ]
    for call in calls:
        with pytest.raises(EdgeaccError):
            call()
    assert len(acc) == 12


def test_numpy_and_mpz_elements_are_the_same_element(known):
    np = pytest.importorskip("numpy")
    gmpy2 = pytest.importorskip("gmpy2")
    acc, ws, xs = known["acc"], known["ws"], known["xs"]
    assert acc.verify(gmpy2.mpz(xs[0]), gmpy2.mpz(ws[0]))
    assert not acc.verify(np.int64(3), ws[0])
    for bad in (np.float64(3.0), np.bool_(True)):
        with pytest.raises(EdgeaccTypeError):
            acc.verify(bad, ws[0])


@pytest.mark.parametrize("w", ["zero", "one", "minus-one", "N", "p", "huge"])
def test_degenerate_witnesses_everywhere(known, w):
    P, acc, xs, p = known["P"], known["acc"], known["xs"], known["p"]
    n, v = P.n, acc.value
    w = {"zero": 0, "one": 1, "minus-one": n - 1, "N": n, "p": p, "huge": n + 5}[w]
    calls = [
        lambda: acc.verify(xs[0], w), lambda: edgeacc.batch_verify(P, [(w, xs[0], v)]),
        lambda: edgeacc.batch_verify(P, [(known["ws"][0], xs[0], w)]),
        lambda: edgeacc.shamir_trick(P, w, xs[0], known["ws"][1], xs[1]),
        lambda: edgeacc.aggregate_witnesses(P, [(w, xs[0])]), lambda: edgeacc.root_factory(P, w, xs[:2]),
        lambda: edgeacc.update_witnesses(P, [w], []), lambda: edgeacc.update_witnesses(P, [w], xs[:1]),
        lambda: edgeacc.update_witness(P, w, []), lambda: acc.updated_witness(w, 3),
        lambda: acc.updated_witnesses([w], 3), lambda: edgeacc.encode_element(P, w),
        lambda: poe.prove(P, w, 2 ** 200 + 1), lambda: poe.verify(P, w, 2 ** 200 + 1, v, poe.PoEProof(5)),
        lambda: poe.verify(P, 5, 2 ** 200 + 1, v, poe.PoEProof(w)),
    ]
    for call in calls:
        with pytest.raises(InvalidElement):
            call()


def _honest(known, count):
    v = known["acc"].value
    return [(w, x, v) for w, x in zip(known["ws"][:count], known["xs"][:count])]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("size", [1, 2, 5, 12])
def test_one_order_2_error_fails_in_every_batch_path(known, threads, size):
    """w*h fails alone; odd weights make it fail in the top check, every thread group and
    every bisection step, next to honest items and next to ordinary false items."""
    n, h = known["P"].n, known["h"]
    for pos in {0, size // 2, size - 1}:
        items = _honest(known, size)
        w, x, v = items[pos]
        items[pos] = (w * h % n, x, v)
        assert not known["acc"].verify(x, w * h % n)
        assert edgeacc.batch_verify(known["P"], items, threads=threads) == [pos]
        if size > 2:                # bisection: another (ordinary) false item in the batch
            other = (pos + 1) % size
            items[other] = (items[other][0], known["xs"][(other + 1) % size], v)
            assert edgeacc.batch_verify(known["P"], items, threads=threads) == sorted({pos, other})
        items = _honest(known, size)
        items[pos] = (w, x, v * h % n)          # the accumulator value off by h
        assert edgeacc.batch_verify(known["P"], items, threads=threads) == [pos]


@pytest.mark.parametrize("threads", [1, 2])
def test_one_statement_repeated_with_an_order_2_error_is_caught(known, threads):
    n, h = known["P"].n, known["h"]
    w, x, v = _honest(known, 1)[0]
    forged = (w * h % n, x, v)
    for items in ([forged, forged], [forged] * 16, [forged, (n - forged[0], x, n - v)] * 4,
                  _honest(known, 3) + [forged] * 2):
        expect = [j for j, it in enumerate(items) if it[0] in (forged[0], n - forged[0])]
        assert edgeacc.batch_verify(known["P"], items, threads=threads) == expect


def test_two_distinct_order_2_errors_cancel_but_the_factors_forge_anyway(known):
    """The documented limit: with N's factors known, two distinct false items carrying h
    cancel in an odd-weighted product. The same knowledge forges a witness that verifies
    alone, so a known-factor modulus (never `secure`) is broken either way."""
    P, n, h, xs = known["P"], known["P"].n, known["h"], known["xs"]
    items = _honest(known, 2)
    items = [(w * h % n, x, v) for w, x, v in items]
    for strategy in ("weighted", "ifma"):      # the weighted test (t = 2 alone checks each item)
        assert _batch_verify_with_weights(P, items, _weights(2, 128), strategy=strategy) == []
    assert not any(known["acc"].verify(x, w) for w, x, _ in items)
    phi = (known["p"] - 1) * (known["q"] - 1)
    y = edgeacc.hash_to_prime(b"never added")[0]
    forged = pow(known["acc"].value, pow(y, -1, phi), n)
    assert known["acc"].verify(y, forged) and not P.secure


def test_batch_weights_come_from_os_urandom(known, monkeypatch):
    import random as stdlib_random

    from edgeacc import batch

    def refuse(*args, **kwargs):
        raise AssertionError("the random module must not feed verifier weights")

    for name in ("getrandbits", "randrange", "randint", "random", "seed"):
        monkeypatch.setattr(stdlib_random, name, refuse)
    monkeypatch.setattr(stdlib_random.Random, "getrandbits", refuse)
    items = _honest(known, 4)
    assert edgeacc.batch_verify(known["P"], items) == []
    drawn = []
    real = os.urandom
    monkeypatch.setattr(batch.os, "urandom", lambda k: drawn.append(k) or real(k))
    edgeacc.batch_verify(known["P"], items, security=128)
    assert drawn == [16 * 4]
    ws = batch._weights(200, 128)
    assert all(r % 2 == 1 and r.bit_length() <= 128 for r in ws) and len(set(ws)) == 200


@pytest.mark.parametrize("security", [0, 1, 32, 63, 1025, -128, True, 128.0, "128"])
def test_batch_security_cannot_be_downgraded_below_the_floor(known, security):
    with pytest.raises(EdgeaccError):
        edgeacc.batch_verify(known["P"], _honest(known, 2), security=security)


def test_mixing_accumulators_and_signs_in_one_batch(known):
    P, n = known["P"], known["P"].n
    other = edgeacc.Accumulator(P, P.generator(b"other"))
    ys = [edgeacc.hash_to_prime(b"o%d" % i)[0] for i in range(3)]
    other.add_many(ys)
    ows = other.all_witnesses()
    items = _honest(known, 3) + [(w, y, other.value) for w, y in zip(ows, ys)]
    items += [(n - w, x, n - v) for w, x, v in items[:2]]           # the same classes, signed
    assert edgeacc.batch_verify(P, items) == []
    crossed = [(ows[0], ys[0], known["acc"].value), (known["ws"][0], known["xs"][0], other.value)]
    assert edgeacc.batch_verify(P, items + crossed) == [len(items), len(items) + 1]


# ---------------------------------------------------------------------------------------------
# Point 12: verdicts are never left behind by a failure; sizes and threads from Python.

def test_screen_failure_is_never_a_verdict():
    assert _core.WEAK_NOT_SCREENED not in (_core.WEAK_NONE, _core.WEAK_PERFECT_POWER, _core.WEAK_PRIME,
                                           _core.WEAK_SMALL_FACTOR, _core.WEAK_NEAR_SQUARE,
                                           _core.WEAK_PSEUDOPRIME, _core.WEAK_SMOOTH_ORDER)
    for bound, steps in ((1 << 33, 0), (-1, 0), (3, 1 << 25)):
        with pytest.raises(InvalidArgument):
            _core.screen_modulus(15 * 2 ** 300 + 1, bound, steps, 1)


@pytest.mark.parametrize("threads", [0, -1, 257, 2 ** 64, 2 ** 64 + 1, True, 1.5, "2"])
def test_thread_counts_out_of_range(known, threads):
    P, ws, xs, v = known["P"], known["ws"], known["xs"], known["acc"].value
    for call in (lambda: edgeacc.batch_verify(P, [(ws[0], xs[0], v)], threads=threads),
                 lambda: edgeacc.root_factory(P, ws[0], xs[:2], threads=threads),
                 lambda: edgeacc.update_witnesses(P, [ws[0]], xs[:1], threads=threads),
                 lambda: edgeacc.multi_exp(P, [3], [5], threads=threads),
                 lambda: edgeacc.MultiExpTable(P, [3]).eval([5], threads=threads),
                 lambda: known["acc"].witnesses([0], threads=threads)):
        with pytest.raises(EdgeaccError):
            call()


@pytest.mark.parametrize("size", [0, -1, 2 ** 31, 2 ** 32 + 1, 2 ** 64 + 1, 256, True])
def test_group_sizes_and_params_out_of_range(known, size):
    P = known["P"]
    for call in (lambda: edgeacc.MultiExpTable(P, [3, 5], group_size=size),
                 lambda: edgeacc.multi_exp(P, [3], [5], method="tables", param=size),
                 lambda: edgeacc.root_factory(P, known["ws"][0], known["xs"][:2], arity=size),
                 lambda: _core.mexp_choose(size if size >= 0 else 2 ** 65, 2048)):
        try:
            call()
        except EdgeaccError:
            pass


def test_inputs_mutated_by_another_thread_during_a_call(known):
    """Lists are copied into C before the GIL is released: mutating them from another thread
    (or from an element's own __index__) changes nothing and crashes nothing."""
    import threading

    P = known["P"]
    items = _honest(known, 12) * 8
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            items.append(items.pop(0))
            items[0] = (1, 2, 3)
            items[0] = _honest(known, 1)[0]

    t = threading.Thread(target=churn)
    t.start()
    try:
        for _ in range(20):
            try:
                bad = edgeacc.batch_verify(P, items, threads=2)
            except EdgeaccError:
                continue
            assert all(0 <= j < len(items) for j in bad)
    finally:
        stop.set()
        t.join()


def test_a_list_shrunk_by_an_items_index_is_never_read_after_free(known):
    """The bindings index their input lists without bounds checks: an item whose __index__
    empties the caller's list made them read freed objects (garbage values, OverflowError,
    crashes). They now copy every list first, so the call sees the items as passed."""
    import math

    n = known["P"].n
    for _ in range(50):
        big = [(1 << 400) + i for i in range(200)]
        bases = [3] + list(big)

        class Shrink:
            def __index__(self):
                del bases[1:]
                _ = [bytearray(b"\xff" * 60) for _ in range(400)]     # reuse the freed memory
                return 5

        bases[0] = Shrink()
        for call in (lambda: _core.multi_exp(bases, [1] * 201, n),
                     lambda: edgeacc.multi_exp(known["P"], bases, [1] * 201)):
            bases[1:] = big
            assert call() == 5 * math.prod(big) % n


# ---------------------------------------------------------------------------------------------
# Point 13: only edgeacc exceptions, brief messages, clear CLI errors.

def test_dkg_peer_cannot_crash_a_party_with_a_huge_tag():
    from edgeacc.dkg.wire import LocalHub, describe
    from edgeacc.errors import ProtocolError

    hub = LocalHub(3)
    me, peer = hub.network(1, 1.0), hub.network(2, 1.0)
    for tag in (10 ** 5000, "x" * 100_000, [[1]] * 5000, b"\xff" * 5000, 2 ** 70_000):
        peer.send(1, tag, 1)
        with pytest.raises(ProtocolError) as info:
            me.receive(2, "hello")
        assert len(str(info.value)) < 200
    assert describe(2 ** 100_000).startswith("<100001-bit int")


def test_dkg_hello_with_huge_parameters_is_a_brief_protocol_error():
    import secrets

    from edgeacc.dkg import DkgConfig, Party
    from edgeacc.dkg.wire import LocalHub
    from edgeacc.errors import ProtocolError

    hub = LocalHub(3)
    nets = [hub.network(i, 1.0) for i in (1, 2, 3)]
    for net in nets[1:]:
        net.broadcast("hello", [[10 ** 6000] * 3, secrets.token_bytes(32)])
    party = Party(1, DkgConfig(parties=3, bits=256, timeout=1), nets[0])
    with pytest.raises(ProtocolError, match="different parameters") as info:
        party.open_session()
    assert len(str(info.value)) < 300


def _cli(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args", [
    ["ceremony", "-k", "1"], ["ceremony", "-k", "3", "--bits", "99999999"],
    ["ceremony", "--timeout", "nan"], ["ceremony", "-k", "x"], ["ceremony", "-k", "300"],
    ["party", "--index", "1", "--credentials", "/nonexistent-edgeacc"],
    ["party", "--index", "1", "--credentials", "/tmp", "--listen", "nocolon"],
    ["credentials", "/proc/edgeacc-no-such-dir"], ["credentials", "/tmp/edgeacc-rt", "-k", "-3"], [],
], ids=lambda a: "_".join(a) or "none")
def test_dkg_cli_bad_arguments_exit_with_a_message(args):
    out = _cli("edgeacc.dkg", *args)
    assert out.returncode != 0 and "Traceback" not in out.stderr + out.stdout
    assert "error" in out.stderr
    assert not os.path.exists("/tmp/edgeacc-rt")


@pytest.mark.parametrize("items", ["foo", "-5", "1", "99999999999999999999", "1e3", "2.5"])
def test_engine_cli_bad_items_exit_with_a_message(items):
    out = _cli("edgeacc", "--items", items)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--items" in out.stderr


def test_messages_never_print_a_huge_int(known):
    P, acc = known["P"], known["acc"]
    huge_odd, huge_even = 3 ** 20_000, 2 ** 70_000
    calls = [
        lambda: acc.add(huge_odd * 5), lambda: acc.add(huge_even), lambda: acc.witness(huge_odd),
        lambda: acc.value_at(-huge_odd), lambda: edgeacc.verify_membership(P, huge_odd, 3, 4),
        lambda: edgeacc.batch_verify(P, [(4, huge_even, 4)]), lambda: edgeacc.batch_verify(P, [(4, 3, 4)], security=huge_odd),
        lambda: edgeacc.multi_exp(P, [huge_odd], [1]), lambda: edgeacc.multi_exp(P, [3], [-huge_odd]),
        lambda: edgeacc.multi_exp(P, [3], [5], param=huge_odd), lambda: Params(huge_even + 1),
        lambda: edgeacc.shamir_trick(P, 4, huge_even, 4, 3), lambda: poe.prove(P, 4, -huge_odd),
        lambda: edgeacc.MembershipProof(3, huge_odd, 4).to_bytes(P),
        lambda: edgeacc.generate_insecure_params(huge_odd), lambda: edgeacc.root_factory(P, 4, [3], arity=huge_odd),
    ]
    for call in calls:
        with pytest.raises(EdgeaccError) as info:
            call()
        assert len(str(info.value)) < 300, str(info.value)[:300]


def test_an_element_is_accumulated_at_most_once(known):
    acc = edgeacc.Accumulator(known["P"], known["P"].generator(b"set"))
    x, y = known["xs"][:2]
    acc.add(x)
    before = acc.value
    for attempt in (lambda: acc.add(x), lambda: acc.add_many([y, x]), lambda: acc.add_many([y, y])):
        with pytest.raises(InvalidArgument, match="already accumulated"):
            attempt()
        assert acc.value == before and acc.elements == (x,)
    acc.add(y)
    assert len(acc) == 2


def test_set_membership_never_proves_a_composite_element(known):
    """The aggregated witness of {a, b} satisfies W^(a*b) = v: listing a*b as one 'element'
    must not make verify_set_membership claim that a*b is a member."""
    acc, xs = known["acc"], known["xs"]
    proof = edgeacc.prove_set_membership(acc, [0, 1])
    assert edgeacc.verify_set_membership(known["P"], [xs[0], xs[1]], acc.value, proof)
    with pytest.raises(InvalidExponent, match="prime"):
        edgeacc.verify_set_membership(known["P"], [xs[0] * xs[1]], acc.value, proof)


@pytest.mark.parametrize("y", ["zero", "one", "minus-one", "N", "p", "non-canonical"])
def test_decode_element_refuses_degenerate_encodings(known, y):
    P, n = known["P"], known["P"].n
    value = {"zero": 0, "one": 1, "minus-one": n - 1, "N": n, "p": known["p"],
             "non-canonical": n - 4}[y]
    raw = value.to_bytes(P.element_bytes + (value >= 1 << (8 * P.element_bytes)), "big")
    with pytest.raises(edgeacc.errors.EncodingError):
        edgeacc.decode_element(P, raw)


# Point 13, fuzzed: hostile objects (not just hostile values) through every entry point.

class _IndexRaises:
    def __index__(self):
        raise RecursionError("hostile __index__")


class _IterRaises:
    def __iter__(self):
        raise MemoryError("hostile __iter__")


class _LenLies(list):
    def __len__(self):
        raise ValueError("hostile __len__")


class _WeirdInt(int):
    def __eq__(self, other):
        raise ZeroDivisionError("hostile __eq__")

    __hash__ = int.__hash__

    def __lt__(self, other):
        raise IndexError("hostile __lt__")

    __le__ = __gt__ = __ge__ = __lt__


def _nested(depth):
    value: list = [3]
    for _ in range(depth):
        value = [value]
    return value


def _hostile():
    from hypothesis import strategies as st

    np = pytest.importorskip("numpy")
    objects = st.sampled_from([
        _IndexRaises(), _IterRaises(), _LenLies([1, 2]), _WeirdInt(7), _WeirdInt(2 ** 600 + 1),
        _nested(5000), np.int64(5), np.uint8(3), np.float32(3), np.array([3, 5]), float("nan"),
        complex(3, 0), memoryview(b"\x03"), bytearray(b"\x03"), frozenset({3}), range(3, 9, 2),
        iter([3, 5]), {3: 5}, ..., NotImplemented, type, object(),
    ])
    return st.one_of(objects, st.lists(objects, max_size=3), st.lists(st.tuples(objects, objects, objects),
                                                                    max_size=2))


def _entry_points(P, acc, a, b):
    return [
        lambda: Params(a), lambda: Params(P.n, insecure=a), lambda: edgeacc.Accumulator(P, a),
        lambda: edgeacc.Accumulator(P, P.generator(b"h")).add(a),
        lambda: edgeacc.Accumulator(P, P.generator(b"h")).add_many(a), lambda: acc.witness(a),
        lambda: acc.witnesses(a), lambda: acc.all_witnesses(threads=a), lambda: acc.verify(a, b),
        lambda: acc.updated_witness(a, b), lambda: acc.updated_witnesses(a, b), lambda: acc.value_at(a),
        lambda: acc.aggregate_witness(a), lambda: edgeacc.verify_membership(P, a, b, a),
        lambda: edgeacc.batch_verify(P, a), lambda: edgeacc.batch_verify(P, [(a, b, a)]),
        lambda: edgeacc.batch_verify(P, [], security=a, threads=b), lambda: edgeacc.multi_exp(P, a, b),
        lambda: edgeacc.multi_exp(P, [3], [5], method=a, param=b), lambda: edgeacc.MultiExpTable(P, a),
        lambda: edgeacc.MultiExpTable(P, [3], group_size=a), lambda: edgeacc.MultiExpTable(P, [3])(a),
        lambda: edgeacc.MultiExpTable(P, [3]).eval(a, threads=b),
        lambda: edgeacc.shamir_trick(P, a, b, a, b), lambda: edgeacc.aggregate_witnesses(P, a),
        lambda: edgeacc.root_factory(P, a, b), lambda: edgeacc.root_factory(P, 4, [3], arity=a, threads=b),
        lambda: edgeacc.update_witnesses(P, a, b), lambda: edgeacc.update_witness(P, a, b),
        lambda: poe.prove(P, a, b), lambda: poe.verify(P, a, b, a, poe.PoEProof(b)),
        lambda: poe.prove_set_membership(acc, a), lambda: poe.verify_set_membership(P, a, b, a),
        lambda: poe.verify_set_membership(P, [a], 4, poe.SetMembershipProof(a, poe.PoEProof(b))),
        lambda: poe.PoEProof.from_bytes(P, a), lambda: poe.SetMembershipProof.from_bytes(P, a),
        lambda: edgeacc.MembershipProof.from_bytes(P, a), lambda: edgeacc.MembershipProof(a, b, a).to_bytes(P),
        lambda: edgeacc.MembershipProof(a, b, a).verify(P, a, b), lambda: edgeacc.encode_element(P, a),
        lambda: edgeacc.decode_element(P, a), lambda: edgeacc.hash_to_prime(a),
        lambda: edgeacc.check_representative(a, b, a), lambda: edgeacc.is_first_representative(a, b, a),
        lambda: P.generator(a), lambda: edgeacc.generate_insecure_params(a, seed=b), lambda: edgeacc.powm(a, b, a),
    ]


def test_hostile_objects_raise_only_edgeacc_errors(known):
    from hypothesis import given, settings

    P, acc = known["P"], known["acc"]

    @settings(max_examples=40)
    @given(a=_hostile(), b=_hostile())
    def run(a, b):
        for call in _entry_points(P, acc, a, b):
            try:
                call()
            except EdgeaccError as exc:
                assert len(str(exc)) < 2000
            except Exception as exc:  # the failure below is the test
                pytest.fail(f"{type(exc).__name__} escaped: {exc!r:.200}")

    run()
    assert len(acc) == 12


def test_hostile_objects_every_pair(known):
    """The deterministic sweep behind the hypothesis test: each hostile object, alone, in a
    list, and inside (w, x, v) / (w, x) tuples, against every entry point."""
    np = pytest.importorskip("numpy")
    P, acc = known["P"], known["acc"]
    objects = [_LenLies([1, 2]), _IterRaises(), _IndexRaises(), _WeirdInt(7), _WeirdInt(2 ** 600 + 1),
               _nested(5000), np.array([3, 5]), np.float32(3), float("nan"), complex(3, 0),
               range(3, 9, 2), {3: 5}, ..., type, object(), memoryview(b"\x03"), np.uint64(2 ** 63)]
    firsts = objects + [[o] for o in objects] + [[(o, o, o)] for o in objects] + [[(o, o)] for o in objects]
    for a in firsts:
        for b in objects[:6] + [3]:
            for call in _entry_points(P, acc, a, b):
                try:
                    call()
                except EdgeaccError:
                    pass
                except Exception as exc:  # the failure below is the test
                    pytest.fail(f"{type(exc).__name__} escaped: {exc!r:.200}")
    assert len(acc) == 12


def test_batch_errors_name_the_callers_index_when_statements_repeat(known):
    good = _honest(known, 1)[0]
    with pytest.raises(InvalidElement, match="witness 3"):
        edgeacc.batch_verify(known["P"], [good, good, good, (0, good[1], good[2])])
    with pytest.raises(InvalidExponent, match="element 2"):
        edgeacc.batch_verify(known["P"], [good, good, (good[0], 4, good[2])])
