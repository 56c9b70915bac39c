"""Distributed modulus generation, in-process mode: correctness, privacy of the transcript,
detection of wrong shares, the biprimality test on known composites, dropped parties."""
import doctest
import math
import random
import threading

import pytest

import edgeacc
import edgeacc.dkg.protocol
from edgeacc import _core
from edgeacc.dkg import DkgConfig, Party, run_in_process
from edgeacc.dkg import math as dm
from edgeacc.dkg.wire import LocalHub, Network, decode, encode
from edgeacc.errors import (
    CandidatesExhausted,
    DkgError,
    InvalidArgument,
    PartyTimeout,
    ProtocolError,
    ShareInconsistency,
)

SMALL = 256  # bits of N in fast tests (Params marks it insecure)


class TamperingNetwork(Network):
    """Wraps a party's network and passes every outgoing payload through ``tamper``."""

    def __init__(self, inner: Network, tamper):
        super().__init__(inner.index, inner.parties, inner.timeout)
        self.inner, self.tamper, self.traffic = inner, tamper, inner.traffic

    def send(self, peer, tag, payload):
        payload = self.tamper(peer, tag, payload)
        if payload is not None:  # None: the message is dropped
            self.inner.send(peer, tag, payload)

    def receive(self, peer, tag):
        return self.inner.receive(peer, tag)

    def close(self):
        self.inner.close()


def tamper_party(index, tamper):
    def wrap(i, network):
        return TamperingNetwork(network, tamper) if i == index else network
    return wrap


def ints_in(value):
    if isinstance(value, int):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from ints_in(item)


def transcript_mentions(transcript, secret):
    """True if any message holds ``secret`` as an integer or as a byte string (big- or
    little-endian, minimal or padded to a word multiple)."""
    width = (secret.bit_length() + 7) // 8
    needles = {secret.to_bytes(w, order) for w in (width, -(-width // 8) * 8)
               for order in ("big", "little")}
    for entry in transcript:
        if secret in ints_in(decode(entry.data)):
            return True
        if any(needle in entry.data for needle in needles):
            return True
    return False


@pytest.fixture(scope="module")
def honest_run():
    return run_in_process(DkgConfig(parties=3, bits=SMALL, timeout=20),
                          record_transcripts=True, keep_shares=True)


def shares_of(run):
    p = sum(party.kept_shares[0] for party in run.parties)
    q = sum(party.kept_shares[1] for party in run.parties)
    return p, q


def test_product_of_shares_is_n(honest_run):
    p, q = shares_of(honest_run)
    n = honest_run.result.n
    assert p * q == n
    assert _core.is_probable_prime(p) and _core.is_probable_prime(q) and p != q
    assert p % 4 == 3 and q % 4 == 3
    assert n.bit_length() == SMALL and honest_run.result.params.bits == SMALL
    first, *others = [party.kept_shares for party in honest_run.parties]
    assert first[0] % 4 == 3 and first[1] % 4 == 3
    assert all(s % 4 == 0 for pair in others for s in pair)


def test_every_party_reports_the_same_work(honest_run):
    stats = honest_run.result.stats
    assert len({(s.candidates, s.trial_division_survivors, s.biprimality_tests) for s in stats}) == 1
    assert all(s.messages_sent > 0 and s.bytes_received > 0 for s in stats)
    assert stats[0].trial_division_survivors <= stats[0].candidates


def test_five_parties_product_of_shares_is_n():
    run = run_in_process(DkgConfig(parties=5, bits=SMALL, timeout=20), keep_shares=True)
    p, q = shares_of(run)
    assert p * q == run.result.n and _core.is_probable_prime(p) and _core.is_probable_prime(q)


def test_no_transcript_contains_p_or_q(honest_run):
    p, q = shares_of(honest_run)
    for index in range(1, 4):
        transcript = honest_run.transcript(index)
        assert transcript, "recording must have captured messages"
        # Control: the search does find a value the party really sent.
        sent = next(e for e in transcript if e.direction == "sent" and any(ints_in(decode(e.data))))
        assert transcript_mentions(transcript, max(ints_in(decode(sent.data))))
        assert not transcript_mentions(transcript, p), f"party {index} saw p"
        assert not transcript_mentions(transcript, q), f"party {index} saw q"


def test_modulus_works_as_accumulator_params(honest_run):
    params = honest_run.result.params
    assert params.insecure
    acc = edgeacc.Accumulator(params, params.generator(b"dkg"))
    x, _ = edgeacc.hash_to_prime(b"record")
    acc.add(x)
    assert acc.verify(x, acc.witness(0))


def field_share_corrupted(peer, tag, payload):
    if tag == "b1/field" and peer == 3:
        payload[0][0] += 1  # one Shamir share of p_2 sent to party 3
    return payload


def test_wrong_private_share_is_detected():
    with pytest.raises(ShareInconsistency, match="wrong share"):
        run_in_process(DkgConfig(parties=3, bits=SMALL, timeout=20),
                       network_wrapper=tamper_party(2, field_share_corrupted))


def test_wrong_broadcast_share_is_detected_with_redundancy():
    def corrupt(peer, tag, payload):
        if tag == "b1/nshare":
            payload = [v + 1 for v in payload]
        return payload

    config = DkgConfig(parties=4, threshold=1, bits=SMALL, timeout=20)  # k > 2d + 1
    with pytest.raises(ShareInconsistency, match="degree-2 polynomial"):
        run_in_process(config, network_wrapper=tamper_party(2, corrupt))


def shift_preserving_residues():
    """The N-share offset that moves the interpolated N by 12M when party 2 adds it: N keeps
    its size and its residues mod 12M, so no check on N itself can see it with k = 3."""
    lay = dm.layout(SMALL, 3)
    prime = lay.field_prime
    weight_inverse = pow(dm.lagrange_at_zero(range(1, 4), prime)[1], -1, prime)
    return 12 * lay.sieve_modulus * weight_inverse % prime, prime


class ShiftingParty(Party):
    """Party 2 adds the shift to its broadcast N-shares and uses the shifted values itself,
    so every party sees the same wrong N = pq + 12M."""

    def _exchange_public(self, values, tag, length):
        if tag.endswith("/nshare"):
            shift, prime = shift_preserving_residues()
            values = [(v + shift) % prime for v in values]
        return super()._exchange_public(values, tag, length)


def test_consistent_wrong_n_is_never_accepted():
    """The biprimality test must reject every N = pq + 12M: the run ends without a modulus."""
    config = DkgConfig(parties=3, bits=SMALL, timeout=20, max_candidates=400)
    hub = LocalHub(3)
    parties = [cls(i, config, hub.network(i, 20.0))
               for i, cls in ((1, Party), (2, ShiftingParty), (3, Party))]
    outcomes = run_parties(parties, lambda party: party.run())
    assert all(isinstance(outcome, CandidatesExhausted) for outcome in outcomes.values())
    assert parties[0].stats.biprimality_tests > 0  # the wrong N did reach the test


def test_inconsistent_broadcast_is_detected():
    """Party 2 sends the shifted N-shares to the others but keeps the true ones itself."""
    shift, prime = shift_preserving_residues()

    def shift_outgoing(peer, tag, payload):
        if tag.endswith("/nshare"):
            payload = [(v + shift) % prime for v in payload]
        return payload

    with pytest.raises(ProtocolError, match="derived different moduli"):
        run_in_process(DkgConfig(parties=3, bits=SMALL, timeout=20),
                       network_wrapper=tamper_party(2, shift_outgoing))


def test_revealing_other_than_committed_is_detected():
    def change_reveal(peer, tag, payload):
        if tag.endswith("/bf1/reveal"):
            values, salt = payload
            payload = [[v ^ 1 for v in values], salt]
        return payload

    with pytest.raises(ShareInconsistency, match="commitment"):
        run_in_process(DkgConfig(parties=3, bits=SMALL, timeout=20),
                       network_wrapper=tamper_party(3, change_reveal))


def test_wrong_sieving_share_never_yields_a_wrong_modulus():
    """A bad share in the sieve only makes p, q unsieved: the run either stops on the
    public residue check or ends with an N that really is the product of two primes."""
    def corrupt(peer, tag, payload):
        if tag == "b1/sieve":
            payload[0][0] += 1
        return payload

    try:
        run = run_in_process(DkgConfig(parties=3, bits=SMALL, timeout=20), keep_shares=True,
                             network_wrapper=tamper_party(2, corrupt))
    except ShareInconsistency:
        return
    p, q = shares_of(run)
    assert p * q == run.result.n and _core.is_probable_prime(p) and _core.is_probable_prime(q)


def test_dropped_party_times_out():
    silent = threading.Event()

    def go_silent(peer, tag, payload):
        if tag.endswith("/nshare"):
            silent.set()  # from here on party 3 sends nothing, as if its host died
        return None if silent.is_set() else payload

    with pytest.raises(PartyTimeout, match="party 3"):
        run_in_process(DkgConfig(parties=3, bits=SMALL, timeout=1.0),
                       network_wrapper=tamper_party(3, go_silent))


def test_parameter_mismatch_aborts():
    hub = LocalHub(3)
    configs = {1: DkgConfig(parties=3, bits=SMALL, timeout=5),
               2: DkgConfig(parties=3, bits=SMALL, timeout=5),
               3: DkgConfig(parties=3, bits=SMALL, timeout=5, soundness_bits=40)}
    parties = [Party(i, configs[i], hub.network(i, 5.0)) for i in (1, 2, 3)]
    errors = run_parties(parties, lambda party: party.open_session())
    assert any(isinstance(e, ProtocolError) for e in errors.values())


def run_parties(parties, action):
    """Run ``action(party)`` for each party in its own thread; return results or errors."""
    outcomes = {}

    def run(party):
        try:
            outcomes[party.index] = action(party)
        except DkgError as exc:
            outcomes[party.index] = exc
        finally:
            party.net.close()

    threads = [threading.Thread(target=run, args=(p,)) for p in parties]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def random_prime(bits, rng, residue=3):
    while True:
        c = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
        if c % 4 == residue and _core.is_probable_prime(c):
            return c


def split_into_shares(value, parties, rng):
    """Additive shares with the Boneh–Franklin residues: first = 3 (mod 4), others 0."""
    others = [4 * rng.getrandbits(value.bit_length() - 4) for _ in range(parties - 1)]
    first = value - sum(others)
    assert first > 0 and first % 4 == 3
    return [first] + others


def distributed_test(p, q, parties=3, seed=1):
    rng = random.Random(seed)
    p_shares, q_shares = split_into_shares(p, parties, rng), split_into_shares(q, parties, rng)
    config = DkgConfig(parties=parties, bits=SMALL, timeout=20, soundness_bits=40)
    hub = LocalHub(parties)
    members = [Party(i, config, hub.network(i, 20.0)) for i in range(1, parties + 1)]

    def act(party):
        party.open_session()
        i = party.index - 1
        return party.full_biprimality_test(p * q, p_shares[i], q_shares[i], "t")

    return run_parties(members, act)


@pytest.mark.parametrize("parties", [3, 4])
def test_biprimality_test_accepts_a_true_rsa_modulus(parties):
    rng = random.Random(11)
    p, q = random_prime(128, rng), random_prime(128, rng)
    assert set(distributed_test(p, q, parties).values()) == {True}


def composites(rng):
    r, s = random_prime(64, rng, residue=1), random_prime(64, rng, residue=3)
    prime = random_prime(128, rng)
    yield r * s, prime  # p = r s is composite, p = 3 (mod 4)
    yield prime, prime  # N = p^2
    t = random_prime(40, rng, residue=3)
    yield t * t * t, prime  # p a prime cube


@pytest.mark.parametrize("case", range(3))
def test_biprimality_test_rejects_known_composites(case):
    p, q = list(composites(random.Random(5)))[case]
    assert not (_core.is_probable_prime(p) and _core.is_probable_prime(q) and p != q)
    outcomes = distributed_test(p, q)
    assert set(outcomes.values()) == {False}


def test_shamir_roundtrip_and_redundancy():
    prime = dm.next_prime(1 << 80)
    shares = dm.share(12345, 2, 7, prime)
    assert dm.interpolate_at_zero(shares, 2, prime) == 12345
    assert dm.interpolate_at_zero(shares, 6, prime) == 12345
    shares[5] = (shares[5] + 1) % prime
    assert dm.interpolate_at_zero(shares, 2, prime) is None


def test_layout_makes_candidates_free_of_small_factors():
    lay = dm.layout(512, 3)
    assert math.gcd(lay.sieve_modulus, 6) == 1 and lay.multiplier_bound > 1 << 32
    units = [dm.random_unit(lay.sieve_modulus) for _ in range(3)]
    a = math.prod(units) % lay.sieve_modulus
    u = [random.randrange(lay.sieve_modulus) for _ in range(2)]
    u.append((a - sum(u)) % lay.sieve_modulus)
    p = sum(dm.additive_share(v, i + 1, lay) for i, v in enumerate(u))
    assert p % 12 == 11 and math.gcd(p, lay.sieve_modulus) == 1
    assert p.bit_length() == 256 and (p * p).bit_length() == 512


def test_encoding_roundtrip_and_malformed_input():
    value = ["tag", [0, 1, 2**300, b"\x00raw", []]]
    assert decode(encode(value)) == value
    with pytest.raises(ProtocolError):
        decode(encode(value)[:-1])
    with pytest.raises(ProtocolError):
        decode(encode(value) + b"x")


@pytest.mark.parametrize("kwargs", [{"parties": 2}, {"bits": 255}, {"bits": 128},
                                    {"parties": 3, "threshold": 2}, {"soundness_bits": 0}])
def test_bad_configuration_is_rejected(kwargs):
    with pytest.raises(InvalidArgument):
        DkgConfig(**kwargs).validate()


def test_docstrings_run():
    result = doctest.testmod(edgeacc.dkg.protocol)
    assert result.attempted > 0 and result.failed == 0
