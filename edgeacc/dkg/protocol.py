"""One party's side of the ceremony, and the in-process runner used by tests.

Round structure of one batch of candidate pairs (all values batched per round):

1. ``sieve``: Shamir-share a random unit a_i mod M per candidate prime (degree d over Z_M),
   plus a degree-2d zero sharing; the parties multiply the k shared a_i pairwise (BGW, a
   degree-reduction round ``reduce`` per tree level) and convert the product to additive
   shares u_i of a = prod a_i mod M. Each party turns u_i into its integer share p_i, so
   p = sum p_i = a (mod M) has no prime factor dividing M.
2. ``field``: Shamir-share p_i, q_i (degree d) and h_i (degree 2d, h_i(0) = 0) over Z_P.
3. ``nshare``: broadcast the share of (sum p)(sum q) + sum h; interpolate N; check it.
4. Public trial division of N; ``bf1`` commits then reveals one Boneh–Franklin value per
   survivor (the commit round also compares digests of everyone's list of N values).
5. For a candidate that passes: ``full`` runs the gcd(N, p+q-1) = 1 check (BGW over Z_N)
   together with the remaining soundness_bits-1 Boneh–Franklin rounds; ``confirm`` checks
   that every party accepted the same N.
"""
from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from edgeacc.dkg import math as dm
from edgeacc.dkg.wire import LocalHub, Network, TranscriptEntry, describe, encode
from edgeacc.errors import (
    CandidatesExhausted,
    DkgError,
    EdgeaccTypeError,
    InvalidArgument,
    PeerDisconnected,
    ProtocolError,
    ShareInconsistency,
)
from edgeacc import _checks
from edgeacc.params import IN_PROCESS_CEREMONY, MAX_GENERATED_BITS, MIN_INSECURE_BITS, Params

PROTOCOL_VERSION = "edgeacc-dkg/1"
MIN_PARTIES = 3
MAX_PARTIES = 64


@dataclass(frozen=True)
class DkgConfig:
    """Public parameters every party must agree on (checked in the first round).

    ``threshold`` is the Shamir degree d: coalitions of up to d honest-but-curious parties
    learn nothing about p, q; k >= 2d + 1 is required and k > 2d + 1 adds a redundancy check
    on every broadcast share. ``soundness_bits`` is lambda: a composite N passes all
    Boneh–Franklin rounds with probability <= 2^-lambda.
    """

    parties: int = 3
    bits: int = 2048
    threshold: int | None = None
    soundness_bits: int = 80
    batch_size: int = 128
    max_candidates: int | None = None
    timeout: float = 60.0

    @property
    def degree(self) -> int:
        return (self.parties - 1) // 2 if self.threshold is None else self.threshold

    def validate(self) -> None:
        """Raise InvalidArgument (EdgeaccTypeError for a wrong type) unless the parameters
        make a working ceremony."""
        _checks.small_int(self.parties, "parties", 0, MAX_PARTIES)
        _checks.small_int(self.bits, "bits", 0, MAX_GENERATED_BITS)
        if self.threshold is not None:
            _checks.small_int(self.threshold, "threshold", 0, MAX_PARTIES)
        _checks.small_int(self.soundness_bits, "soundness_bits", 0, 1024)
        _checks.small_int(self.batch_size, "batch_size", 0, 1 << 16)
        if self.max_candidates is not None:
            _checks.small_int(self.max_candidates, "max_candidates", 1, 1 << 40)
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) \
                or not 0 < self.timeout < 1e6:
            raise InvalidArgument("timeout must be a number of seconds in (0, 1e6)")
        if self.parties < MIN_PARTIES:
            raise InvalidArgument(f"distributed generation needs at least {MIN_PARTIES} parties")
        if self.bits < MIN_INSECURE_BITS or self.bits % 2:
            raise InvalidArgument(f"bits must be even and >= {MIN_INSECURE_BITS}")
        if not 1 <= self.degree or 2 * self.degree + 1 > self.parties:
            raise InvalidArgument("threshold d must satisfy 1 <= d and 2d + 1 <= parties")
        if self.soundness_bits < 1 or self.batch_size < 1:
            raise InvalidArgument("soundness_bits and batch_size must be positive")

    @staticmethod
    def checked(config) -> "DkgConfig":
        """config, validated; EdgeaccTypeError if it is not a DkgConfig."""
        if not isinstance(config, DkgConfig):
            raise EdgeaccTypeError(f"config must be an edgeacc.dkg.DkgConfig, got {type(config).__name__}")
        config.validate()
        return config

    def candidate_budget(self) -> int:
        """Candidate pairs tried before giving up: 30 times the expectation by default (the
        chance of an honest run needing that many is below e^-30)."""
        if self.max_candidates is not None:
            return self.max_candidates
        return int(30 * dm.layout(self.bits, self.parties).expected_candidates()) + self.batch_size

    def public_fields(self) -> list:
        return [PROTOCOL_VERSION, self.parties, self.bits, self.degree, self.soundness_bits,
                self.batch_size, self.candidate_budget()]


@dataclass
class PartyStats:
    """What one party did and sent (traffic figures include the message tags)."""

    index: int
    candidates: int = 0  # candidate pairs (p, q) whose N was computed
    trial_division_survivors: int = 0
    biprimality_tests: int = 0  # first-round Boneh–Franklin tests
    full_tests: int = 0  # candidates that reached the gcd + lambda-round stage
    batches: int = 0
    wall_seconds: float = 0.0
    messages_sent: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class DkgResult:
    """The outcome of a ceremony: the modulus as Params and per-party statistics."""

    params: Params
    stats: list[PartyStats]
    wall_seconds: float
    config: DkgConfig

    @property
    def n(self) -> int:
        return self.params.n


class Party:
    """Party ``index`` (1-based) of a ceremony, talking through ``network``.

    Its secret state is its additive shares of the current candidates; after acceptance
    they are dropped unless ``keep_shares`` (tests only) keeps them in ``kept_shares``.
    """

    def __init__(self, index: int, config: DkgConfig, network: Network, keep_shares: bool = False):
        config = DkgConfig.checked(config)
        index = _checks.small_int(index, "index", 1, config.parties)
        if not isinstance(network, Network):
            raise EdgeaccTypeError(f"network must be an edgeacc.dkg.wire.Network, got {type(network).__name__}")
        keep_shares = _checks.boolean(keep_shares, "keep_shares")
        self.index = index
        self.config = config
        self.net = network
        self.keep_shares = keep_shares
        self.kept_shares: tuple[int, int] | None = None
        self.stats = PartyStats(index=index)
        self.session = b""
        self.layout = dm.layout(config.bits, config.parties)
        self._batch_number = 0

    # -- the run ------------------------------------------------------------------------

    def run(self) -> int:
        """Run the ceremony; return N or raise a DkgError subclass."""
        start = time.perf_counter()
        try:
            self.open_session()
            budget = self.config.candidate_budget()
            while self.stats.candidates < budget:
                size = min(self.config.batch_size, budget - self.stats.candidates)
                n = self._batch(size)
                if n is not None:
                    self._confirm(n)
                    return n
            raise CandidatesExhausted(
                f"party {self.index}: no RSA modulus after {self.stats.candidates} candidates "
                f"(about {self.layout.expected_candidates():.0f} expected); a party may be "
                "sending wrong shares"
            )
        finally:
            self.stats.wall_seconds = time.perf_counter() - start
            traffic = self.net.traffic
            self.stats.messages_sent, self.stats.bytes_sent = traffic.messages_sent, traffic.bytes_sent
            self.stats.messages_received = traffic.messages_received
            self.stats.bytes_received = traffic.bytes_received

    def open_session(self) -> None:
        """Agree on the public parameters and derive a session id from everyone's nonce."""
        nonce = secrets.token_bytes(32)
        mine = self.config.public_fields()
        self.net.broadcast("hello", [mine, nonce])
        nonces = {self.index: nonce}
        for peer, message in self.net.gather("hello").items():
            theirs, their_nonce = _unpack(message, 2, peer, "hello")
            if theirs != mine:
                raise ProtocolError(f"party {peer} runs different parameters ({describe(theirs)}) "
                                    f"than ours {mine}")
            nonces[peer] = their_nonce
        ordered = [nonces[j] for j in range(1, self.config.parties + 1)]
        self.session = hashlib.sha256(b"edgeacc/dkg/session\x00" + encode([mine, ordered])).digest()

    def _batch(self, size: int) -> int | None:
        """Try ``size`` candidate pairs; return the accepted N or None."""
        self._batch_number += 1
        self.stats.batches += 1
        tag = f"b{self._batch_number}"
        sieved = self._sieve(2 * size, tag)
        p_shares = [dm.additive_share(u, self.index, self.layout) for u in sieved[0::2]]
        q_shares = [dm.additive_share(u, self.index, self.layout) for u in sieved[1::2]]
        moduli = self._compute_moduli(p_shares, q_shares, tag)
        self.stats.candidates += size
        survivors = [c for c, n in enumerate(moduli) if dm.survives_trial_division(n, self.layout)]
        self.stats.trial_division_survivors += len(survivors)
        self.stats.biprimality_tests += len(survivors)
        values = []
        for c in survivors:
            gamma = dm.public_gamma(self.session, moduli[c], b"first")
            values.append(
                dm.biprimality_value(gamma, moduli[c], p_shares[c], q_shares[c], self.index)
                if gamma else 0
            )
        # The commit round runs even with no survivors: it is where views are compared.
        view = hashlib.sha256(encode(moduli)).digest()
        revealed = self._exchange_committed(values, f"{tag}/bf1", view)
        for slot, c in enumerate(survivors):
            column = [revealed[j][slot] for j in range(self.config.parties)]
            if 0 in column or not dm.biprimality_holds(column, moduli[c]):
                continue
            self.stats.full_tests += 1
            if self.full_biprimality_test(moduli[c], p_shares[c], q_shares[c], f"{tag}/full{c}"):
                if self.keep_shares:
                    self.kept_shares = (p_shares[c], q_shares[c])
                return moduli[c]
        return None

    # -- sieving: additive shares of a random unit mod M ----------------------------------

    def _sieve(self, count: int, tag: str) -> list[int]:
        """Additive shares (mod M) of ``count`` values a = prod_i a_i, each a_i a random unit
        mod M chosen by party i: BGW over Z_M (M's primes all exceed k - 1)."""
        k, d, m = self.config.parties, self.config.degree, self.layout.sieve_modulus
        units = [dm.random_unit(m) for _ in range(count)]
        unit_shares = [dm.share(a, d, k, m) for a in units]
        zero_shares = [dm.share(0, 2 * d, k, m) for _ in range(count)]
        received = self._exchange_private(
            lambda peer: [[s[peer - 1] for s in unit_shares], [z[peer - 1] for z in zero_shares]],
            f"{tag}/sieve",
            parts=2,
            length=count,
        )
        factors = [received[j][0] for j in range(k)]  # my shares of a_1 .. a_k
        zero = [sum(received[j][1][v] for j in range(k)) % m for v in range(count)]
        level = 0
        while len(factors) > 2:
            level += 1
            pairs = [(factors[i], factors[i + 1]) for i in range(0, len(factors) - 1, 2)]
            products = [[x * y % m for x, y in zip(a, b)] for a, b in pairs]
            carried = [factors[-1]] if len(factors) % 2 else []
            factors = self._reduce_degree(products, m, f"{tag}/reduce{level}") + carried
        weight = dm.lagrange_at_zero(range(1, k + 1), m)[self.index - 1]
        return [(x * y + z) * weight % m for x, y, z in zip(factors[0], factors[1], zero)]

    def _reduce_degree(self, vectors: list[list[int]], modulus: int, tag: str) -> list[list[int]]:
        """BGW degree reduction: reshare each degree-2d share with degree d and recombine
        with the Lagrange weights at 0."""
        k, d = self.config.parties, self.config.degree
        subshares = [[dm.share(value, d, k, modulus) for value in vector] for vector in vectors]
        received = self._exchange_private(
            lambda peer: [[s[peer - 1] for s in vector] for vector in subshares],
            tag,
            parts=len(vectors),
            length=len(vectors[0]),
        )
        weights = dm.lagrange_at_zero(range(1, k + 1), modulus)
        return [
            [sum(weights[j] * received[j][v][e] for j in range(k)) % modulus
             for e in range(len(vectors[v]))]
            for v in range(len(vectors))
        ]

    # -- N = pq by BGW over Z_P ---------------------------------------------------------

    def _compute_moduli(self, p_shares: list[int], q_shares: list[int], tag: str) -> list[int]:
        k, d, prime = self.config.parties, self.config.degree, self.layout.field_prime
        p_poly = [dm.share(v, d, k, prime) for v in p_shares]
        q_poly = [dm.share(v, d, k, prime) for v in q_shares]
        h_poly = [dm.share(0, 2 * d, k, prime) for _ in p_shares]
        received = self._exchange_private(
            lambda peer: [[s[peer - 1] for s in poly] for poly in (p_poly, q_poly, h_poly)],
            f"{tag}/field",
            parts=3,
            length=len(p_shares),
        )
        my_n_shares = [
            sum(received[j][0][c] for j in range(k))
            * sum(received[j][1][c] for j in range(k))
            + sum(received[j][2][c] for j in range(k))
            for c in range(len(p_shares))
        ]
        my_n_shares = [v % prime for v in my_n_shares]
        published = self._exchange_public(my_n_shares, f"{tag}/nshare", len(p_shares))
        moduli = []
        for c in range(len(p_shares)):
            column = [published[j][c] for j in range(k)]
            n = dm.interpolate_at_zero(column, 2 * d, prime)
            if n is None:
                raise ShareInconsistency(
                    f"party {self.index}: the N-shares of candidate {c} in {tag} do not lie on "
                    f"one degree-{2 * d} polynomial: a party sent a wrong share"
                )
            if not dm.plausible_modulus(n, self.layout):
                raise ShareInconsistency(
                    f"party {self.index}: candidate {c} in {tag} interpolates to a value that no "
                    "honest run can produce (wrong size or residue): a party sent a wrong share"
                )
            moduli.append(n)
        return moduli

    # -- the final test -------------------------------------------------------------------

    def full_biprimality_test(self, n: int, p_share: int, q_share: int, tag: str) -> bool:
        """The distributed test that accepts N = sum(p_i) * sum(q_i): every party calls it
        with its own shares (after :meth:`open_session`); it returns True at every party iff
        gcd(N, p + q - 1) = 1 (Boneh–Franklin's side condition, by BGW over Z_N with a
        shared random r: z = r (p + q - 1) mod N is revealed) and soundness_bits - 1 more
        Boneh–Franklin rounds, committed before anyone reveals."""
        k, d = self.config.parties, self.config.degree
        values = []
        for round_number in range(1, self.config.soundness_bits):
            gamma = dm.public_gamma(self.session, n, b"full" + round_number.to_bytes(4, "big"))
            values.append(dm.biprimality_value(gamma, n, p_share, q_share, self.index) if gamma else 0)
        r_poly = dm.share(dm.random_below(n), d, k, n)
        s_poly = dm.share(dm.gcd_test_term(p_share, q_share, self.index), d, k, n)
        z_poly = dm.share(0, 2 * d, k, n)
        salt = secrets.token_bytes(16)
        commitment = self._commitment(values, salt, tag)
        received = self._exchange_private(
            lambda peer: [r_poly[peer - 1], s_poly[peer - 1], z_poly[peer - 1], commitment],
            f"{tag}/shares",
            parts=4,
            length=None,
        )
        my_z = (sum(received[j][0] for j in range(k)) * sum(received[j][1] for j in range(k))
                + sum(received[j][2] for j in range(k))) % n
        self.net.broadcast(f"{tag}/reveal", [my_z, values, salt])
        z_shares, revealed = [0] * k, [[] for _ in range(k)]
        z_shares[self.index - 1], revealed[self.index - 1] = my_z, values
        for peer, message in self.net.gather(f"{tag}/reveal").items():
            z, their_values, their_salt = _unpack(message, 3, peer, tag)
            if self._commitment(their_values, their_salt, tag, peer) != received[peer - 1][3]:
                raise ShareInconsistency(f"party {peer}'s revealed values do not match its commitment")
            z_shares[peer - 1], revealed[peer - 1] = z, their_values
        z = dm.interpolate_at_zero(z_shares, 2 * d, n)
        if z is None:
            raise ShareInconsistency(f"party {self.index}: gcd-test shares are inconsistent")
        if math.gcd(z, n) != 1:
            return False
        return all(
            0 not in column and dm.biprimality_holds(column, n)
            for column in zip(*revealed)
        )

    def _confirm(self, n: int) -> None:
        """Every party must have accepted the same N in the same session."""
        digest = hashlib.sha256(b"edgeacc/dkg/confirm\x00" + self.session + encode(n)).digest()
        self.net.broadcast("confirm", digest)
        for peer, theirs in self.net.gather("confirm").items():
            if theirs != digest:
                raise ProtocolError(f"party {peer} accepted a different modulus or session")

    # -- message patterns ------------------------------------------------------------------

    def _exchange_private(self, outgoing: Callable[[int], list], tag: str, parts: int,
                          length: int | None) -> list[list]:
        """Send each peer its own message, receive theirs; index k-1 of the result is party
        k's message (my own included, as I would have sent it to myself)."""
        for peer in self.net.peers:
            self.net.send(peer, tag, outgoing(peer))
        result: list[list] = [[] for _ in range(self.config.parties)]
        result[self.index - 1] = outgoing(self.index)
        for peer, message in self.net.gather(tag).items():
            _unpack(message, parts, peer, tag)
            if length is not None and any(
                not isinstance(part, list) or len(part) != length for part in message
            ):
                raise ProtocolError(f"party {peer} sent a '{tag}' message of the wrong shape")
            result[peer - 1] = message
        return result

    def _exchange_public(self, values: list[int], tag: str, length: int) -> list[list[int]]:
        """Broadcast ``values`` and collect everyone's, in party order."""
        self.net.broadcast(tag, values)
        result: list[list[int]] = [[] for _ in range(self.config.parties)]
        result[self.index - 1] = values
        for peer, message in self.net.gather(tag).items():
            if not isinstance(message, list) or len(message) != length:
                raise ProtocolError(f"party {peer} sent a '{tag}' message of the wrong shape")
            result[peer - 1] = message
        return result

    def _commitment(self, values: list[int], salt: bytes, tag: str, party: int | None = None) -> bytes:
        owner = self.index if party is None else party
        return hashlib.sha256(
            b"edgeacc/dkg/commit\x00" + self.session + encode([owner, tag, values, salt])
        ).digest()

    def _exchange_committed(self, values: list[int], tag: str, view: bytes) -> list[list[int]]:
        """Commit to ``values``, then reveal: nobody can choose theirs after seeing others'.
        The commit round also compares ``view`` (a digest of the public values the values
        depend on), so a party that sent different broadcasts to different peers is caught."""
        salt = secrets.token_bytes(16)
        self.net.broadcast(f"{tag}/commit", [self._commitment(values, salt, tag), view])
        commitments = {}
        for peer, message in self.net.gather(f"{tag}/commit").items():
            commitments[peer], their_view = _unpack(message, 2, peer, tag)
            if their_view != view:
                raise ProtocolError(
                    f"party {self.index}: party {peer} derived different moduli in {tag}: "
                    "some party sent inconsistent N-shares")
        self.net.broadcast(f"{tag}/reveal", [values, salt])
        result: list[list[int]] = [[] for _ in range(self.config.parties)]
        result[self.index - 1] = values
        for peer, message in self.net.gather(f"{tag}/reveal").items():
            their_values, their_salt = _unpack(message, 2, peer, tag)
            if not isinstance(their_values, list) or len(their_values) != len(values):
                raise ProtocolError(f"party {peer} revealed the wrong number of values")
            if self._commitment(their_values, their_salt, tag, peer) != commitments[peer]:
                raise ShareInconsistency(f"party {peer}'s revealed values do not match its commitment")
            result[peer - 1] = their_values
        return result


def _unpack(message, parts: int, peer: int, tag: str) -> list:
    if not isinstance(message, list) or len(message) != parts:
        raise ProtocolError(f"party {peer} sent a malformed '{tag}' message")
    return message


@dataclass
class LocalRun:
    """An in-process ceremony: the result and the party objects (tests inspect them)."""

    result: DkgResult
    parties: list[Party] = field(default_factory=list)

    def transcript(self, index: int) -> list[TranscriptEntry]:
        transcript = self.parties[index - 1].net.traffic.transcript
        if transcript is None:
            raise InvalidArgument("run with record_transcripts=True to keep transcripts")
        return transcript


NetworkWrapper = Callable[[int, Network], Network]


def run_in_process(config: DkgConfig, *, record_transcripts: bool = False, keep_shares: bool = False,
                   network_wrapper: NetworkWrapper | None = None) -> LocalRun:
    """Run all k parties as threads of this process over in-memory channels.

    For tests and experiments: this one process holds every party's shares, so it is not a
    dealer-free ceremony. ``network_wrapper(index, network)`` lets tests inject faults.
    """
    config = DkgConfig.checked(config)
    hub = LocalHub(config.parties)
    parties = []
    for index in range(1, config.parties + 1):
        network: Network = hub.network(index, config.timeout, record_transcripts)
        if network_wrapper is not None:
            network = network_wrapper(index, network)
        parties.append(Party(index, config, network, keep_shares))
    outcomes: dict[int, int | BaseException] = {}

    def run(party: Party) -> None:
        try:
            outcomes[party.index] = party.run()
        except BaseException as exc:  # reported to the caller below
            outcomes[party.index] = exc
        finally:
            party.net.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(p,), daemon=True) for p in parties]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    n = _agreed_modulus(outcomes)
    params = Params._labelled(n, IN_PROCESS_CEREMONY)   # this process saw every share
    return LocalRun(DkgResult(params, [p.stats for p in parties], wall, config), parties)


def _agreed_modulus(outcomes: dict) -> int:
    """The common N, or the most informative error: a party's own failure rather than the
    disconnects it caused at the others."""
    errors = [outcomes[i] for i in sorted(outcomes) if isinstance(outcomes[i], BaseException)]
    if errors:
        primary = [e for e in errors if not isinstance(e, PeerDisconnected)] or errors
        if isinstance(primary[0], DkgError):
            raise primary[0]
        raise DkgError(f"a party failed: {primary[0]!r}") from primary[0]
    moduli = set(outcomes.values())
    if len(moduli) != 1:
        raise ProtocolError("parties finished with different moduli")
    return moduli.pop()


def generate_modulus(k: int = 3, bits: int = 2048, *, threshold: int | None = None,
                     soundness_bits: int = 80, batch_size: int = 128,
                     timeout: float = 60.0, processes: bool = False) -> DkgResult:
    """Generate an RSA modulus N = pq with k parties and no dealer.

    ``processes=True`` runs each party as its own OS process over mutually authenticated
    TLS on loopback (see :func:`edgeacc.dkg.party.run_ceremony`); the default runs them as
    threads of this process, which is fine for tests but means this process saw every
    share: such a modulus is dealer-equivalent and comes back with source
    ``"in-process-ceremony"`` and ``insecure=True`` whatever its size. Only a multi-process
    ceremony of at least 2048 bits gives ``source == "ceremony"`` and ``secure``.

    >>> from edgeacc.dkg import generate_modulus
    >>> result = generate_modulus(k=3, bits=256)
    >>> result.params.bits, result.params.source, result.params.insecure
    (256, 'in-process-ceremony', True)
    """
    config = DkgConfig(parties=k, bits=bits, threshold=threshold, soundness_bits=soundness_bits,
                       batch_size=batch_size, timeout=timeout)
    if processes:
        from edgeacc.dkg.party import run_ceremony

        return run_ceremony(config)
    return run_in_process(config).result


__all__ = ["DkgConfig", "DkgResult", "LocalRun", "Party", "PartyStats", "generate_modulus",
           "run_in_process"]
