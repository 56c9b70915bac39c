"""Device revocation by accumulator (issue 14): the CA's CRL stays the operator's source, and
what verifiers check is a revocation accumulator kept on the main chain.

- Every device certificate has a representative x = hash_to_prime(DOMAIN || fingerprint).
  The accumulator starts at the deployment's revocation generator g (derived, nobody chooses
  it); revoking a batch of devices is a Type-I revocation record on the main chain: its
  sequence number, the fingerprints, the values before and after, and the edgeacc batch-update
  proof (PoE + PoKE2) that the transition is exactly that batch.
- Main-chain peers admit a record only if it continues the chain's revocation state (next
  sequence, value_before = the current value, proof valid for exactly those elements, none
  revoked before) and the CA's CRL revokes every certificate it names, so only the operator
  can revoke; the registry applies a committed record only under the same CRL rule (as of
  its block's time). Replaying the main chain applies the records in order; one that does
  not continue the state (two racing submissions) is skipped by every verifier alike.
- A device's reading carries a NonRevocationProof: the sequence it is for and the
  non-membership witness of the device's representative. An edge accepts it only against its
  own view - the state as of the main-chain height its latest Type-III status reports - so a
  revocation takes effect on every edge at the next interlock, and a witness for an older
  sequence (stale) is refused. Devices bring their witness forward from the published records
  (update_proof), one exponentiation by the record's batch each.

RevocationState and the record and proof encodings are pure (no I/O); RevocationRegistry ties
them to a Network through its public API (blocks, statuses, validators).
"""
from __future__ import annotations

import functools
import math
import struct
import threading
import weakref
from dataclasses import dataclass
from typing import Iterable, Sequence

import edgeacc
from edgeacc.errors import EdgeaccError

from ledger import checks
from ledger.errors import (EncodingError, IdentityError, LedgerError, RevokedCertificate, ValidationError,
                           ValidationRejected)
from ledger.tx import Transaction, TxKind

MAGIC = b"EARV"                 # a revocation record's payload
PROOF_MAGIC = b"EANR"           # a reading's non-revocation proof
VERSION = 1
DOMAIN = b"edgeacc/revocation/v1/"
GENERATOR_ID = b"edgeacc/revocation"
FINGERPRINT_BYTES = 32
MAX_BATCH = 4096
REVOKE_ATTEMPTS = 8
# CRL dates have whole seconds and Network.revoke rounds "now" up to the next one: a record
# committed within that second after its revocation is backed by the CRL.
CRL_DATE_SLACK_MS = 1000


class RevocationError(ValidationError):
    """A revocation record or non-revocation proof is malformed or does not verify."""


class DeviceRevoked(RevocationError):
    """The device's certificate is in the revocation accumulator."""


class StaleProof(RevocationError):
    """A non-revocation proof is for another revocation sequence than the verifier's."""


@functools.lru_cache(maxsize=4096)
def device_element(fingerprint: bytes) -> int:
    """The representative of a certificate fingerprint in the revocation accumulator (cached:
    every reading's check needs its device's)."""
    if type(fingerprint) is not bytes or len(fingerprint) != FINGERPRINT_BYTES:
        raise RevocationError(f"a fingerprint is {FINGERPRINT_BYTES} bytes")
    return edgeacc.hash_to_prime(DOMAIN + fingerprint)[0]


def generator(params: edgeacc.Params) -> int:
    """The revocation accumulator's generator under the deployment's modulus."""
    return params.generator(GENERATOR_ID)


# The accumulator starts at g^GENESIS (an element no certificate has), so every device has a
# non-membership witness from the start and a reading always carries one.
GENESIS = edgeacc.hash_to_prime(DOMAIN + b"genesis")[0]


def _element_bytes(params: edgeacc.Params, y: int) -> bytes:
    return edgeacc.encode_element(params, y)


def _canonical(params: edgeacc.Params, y: int) -> int:
    return edgeacc.decode_element(params, edgeacc.encode_element(params, y))


def _decode_element(params: edgeacc.Params, data: bytes, what: str) -> int:
    try:
        return edgeacc.decode_element(params, data)
    except EdgeaccError as exc:
        raise EncodingError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class RevocationRecord:
    """Revocation number `sequence` (1, 2, ...): the certificates `fingerprints` are added to
    the accumulator, value_before -> value_after, with the batch-update proof."""

    sequence: int
    fingerprints: tuple[bytes, ...]
    value_before: int
    value_after: int
    proof: edgeacc.BatchUpdateProof

    def elements(self) -> list[int]:
        return [device_element(fp) for fp in self.fingerprints]

    def to_payload(self, params: edgeacc.Params) -> bytes:
        """MAGIC | u8 version | be32 sequence | be16 count | count x 32-byte fingerprints |
        value_before | value_after (canonical, N's width) | BatchUpdateProof.to_bytes."""
        return (MAGIC + struct.pack(">BIH", VERSION, self.sequence, len(self.fingerprints))
                + b"".join(self.fingerprints) + _element_bytes(params, self.value_before)
                + _element_bytes(params, self.value_after) + self.proof.to_bytes(params))

    @classmethod
    def from_payload(cls, params: edgeacc.Params, data: bytes) -> "RevocationRecord":
        """The record `data` encodes, strictly (EncodingError for anything else)."""
        if type(data) is not bytes or len(data) < 11 or data[:4] != MAGIC:
            raise EncodingError("not a revocation record")
        version, sequence, count = struct.unpack(">BIH", data[4:11])
        if version != VERSION or sequence == 0 or not 0 < count <= MAX_BATCH:
            raise EncodingError("revocation record: bad version, sequence or count")
        k = params.element_bytes
        end = 11 + count * FINGERPRINT_BYTES
        if len(data) < end + 2 * k:
            raise EncodingError("revocation record is truncated")
        fps = tuple(data[11 + i * FINGERPRINT_BYTES:11 + (i + 1) * FINGERPRINT_BYTES] for i in range(count))
        if len(set(fps)) != count:
            raise EncodingError("revocation record names a certificate twice")
        before = _decode_element(params, data[end:end + k], "value_before")
        after = _decode_element(params, data[end + k:end + 2 * k], "value_after")
        try:
            proof = edgeacc.BatchUpdateProof.from_bytes(params, data[end + 2 * k:])
        except EdgeaccError as exc:
            raise EncodingError(f"revocation record proof: {exc}") from None
        if proof.kind != "add" or proof.count != count:
            raise EncodingError("revocation record proof is not an addition of its certificates")
        return cls(sequence, fps, before, after, proof)


def is_revocation_payload(payload: bytes) -> bool:
    """Whether a Type-I payload claims to be a revocation record (its validator decides)."""
    return type(payload) is bytes and payload[:4] == MAGIC


@dataclass(frozen=True)
class NonRevocationProof:
    """The non-membership witness of a device's representative against revocation value
    number `sequence` (0: before any revocation)."""

    sequence: int
    witness: edgeacc.NonMembershipWitness

    def to_bytes(self, params: edgeacc.Params) -> bytes:
        """PROOF_MAGIC | u8 version | be32 sequence | NonMembershipWitness.to_bytes."""
        return PROOF_MAGIC + struct.pack(">BI", VERSION, self.sequence) + self.witness.to_bytes(params)

    @classmethod
    def from_bytes(cls, params: edgeacc.Params, data: bytes) -> "NonRevocationProof":
        if type(data) is not bytes or len(data) < 9 or data[:4] != PROOF_MAGIC or data[4] != VERSION:
            raise EncodingError("not a non-revocation proof")
        try:
            witness = edgeacc.NonMembershipWitness.from_bytes(params, data[9:])
        except EdgeaccError as exc:
            raise EncodingError(f"non-revocation proof: {exc}") from None
        return cls(struct.unpack(">I", data[5:9])[0], witness)


class RevocationState:
    """The revocation accumulator after `sequence` records: its value, the revoked
    fingerprints and the product of their representatives. Immutable: applied() returns the
    next state."""

    def __init__(self, params: edgeacc.Params, sequence: int = 0, value: int | None = None,
                 revoked: frozenset = frozenset(), product: int = GENESIS) -> None:
        self.params = params
        self.g = generator(params)
        self.sequence = sequence
        self.value = edgeacc.update_witness(params, self.g, [GENESIS]) if value is None else value
        self.revoked = revoked
        self.product = product          # of every accumulated representative, GENESIS included

    def next_record(self, fingerprints: Sequence[bytes]) -> RevocationRecord:
        """The operator's record revoking `fingerprints` (none revoked before)."""
        fps = tuple(fingerprints)
        if not fps or len(set(fps)) != len(fps) or self.revoked & set(fps):
            raise RevocationError("revoke a non-empty set of certificates not revoked yet")
        elements = [device_element(fp) for fp in fps]
        value = _canonical(self.params, edgeacc.update_witness(self.params, self.value, elements))
        proof = edgeacc.updates.prove_update(self.params, self.g, "add", self.value, value, elements)
        return RevocationRecord(self.sequence + 1, fps, _canonical(self.params, self.value), value, proof)

    def check_record(self, record: RevocationRecord) -> None:
        """RevocationError unless `record` continues this state exactly."""
        checks.exact(record, RevocationRecord, "record")
        if record.sequence != self.sequence + 1:
            raise RevocationError(f"revocation {record.sequence} does not follow {self.sequence}")
        if edgeacc.encode_element(self.params, record.value_before) != edgeacc.encode_element(self.params, self.value):
            raise RevocationError(f"revocation {record.sequence} starts from another value")
        if self.revoked & set(record.fingerprints):
            raise RevocationError(f"revocation {record.sequence} names a certificate revoked before")
        if not edgeacc.verify_update(self.params, self.g, record.value_before, record.value_after, record.proof,
                                     elements=record.elements()):
            raise RevocationError(f"revocation {record.sequence}: the update proof does not verify")

    def applied(self, record: RevocationRecord) -> "RevocationState":
        self.check_record(record)
        return RevocationState(self.params, record.sequence, record.value_after,
                               self.revoked | set(record.fingerprints),
                               self.product * math.prod(record.elements()))

    def issue(self, fingerprint: bytes) -> NonRevocationProof:
        """The non-revocation proof of a certificate not revoked (the operator issues it; one
        exponentiation by the product of the revoked representatives)."""
        if fingerprint in self.revoked:
            raise DeviceRevoked("the certificate is revoked")
        witness = edgeacc.nonmembership_witness(self.params, self.g, self.product, device_element(fingerprint))
        return NonRevocationProof(self.sequence, witness)

    def check_not_revoked(self, fingerprint: bytes, proof: NonRevocationProof) -> None:
        """DeviceRevoked, StaleProof or RevocationError unless `proof` shows the certificate is
        not in this state's accumulator (one constant-size check)."""
        checks.exact(proof, NonRevocationProof, "proof")
        if fingerprint in self.revoked:
            raise DeviceRevoked("the device's certificate is revoked")
        if proof.sequence != self.sequence:
            raise StaleProof(f"non-revocation proof for revocation {proof.sequence}, the verifier is at {self.sequence}")
        try:
            ok = edgeacc.verify_nonmembership(self.params, self.g, self.value, device_element(fingerprint), proof.witness)
        except EdgeaccError as exc:
            raise RevocationError(f"malformed non-revocation proof: {exc}") from None
        if not ok:
            raise RevocationError("the non-revocation proof does not verify")


def replay(params: edgeacc.Params, records: Iterable[RevocationRecord]) -> RevocationState:
    """The state after the records in chain order; a record that does not continue the state
    is skipped (the same rule for every verifier)."""
    state = RevocationState(params)
    for record in records:
        try:
            state = state.applied(record)
        except RevocationError:
            continue
    return state


def update_proof(params: edgeacc.Params, fingerprint: bytes, proof: NonRevocationProof,
                 records: Iterable[RevocationRecord]) -> NonRevocationProof:
    """A device's proof brought forward over the published records after its sequence
    (each record's update proof is checked first, each must start where the one before
    ended, and the result must verify against the last one's value: a stale proof or a
    record of another history is a RevocationError, not a witness that fails later).
    DeviceRevoked if a record revokes it."""
    checks.exact(proof, NonRevocationProof, "proof")
    y = device_element(fingerprint)
    g = generator(params)
    value = None        # the value the proof is for, once a record names it
    for record in records:
        if record.sequence <= proof.sequence:
            continue
        if record.sequence != proof.sequence + 1:
            raise RevocationError(f"revocation {proof.sequence + 1} is missing")
        if fingerprint in record.fingerprints:
            raise DeviceRevoked(f"revocation {record.sequence} revokes the device")
        if value is not None and _canonical(params, record.value_before) != _canonical(params, value):
            raise RevocationError(f"revocation {record.sequence} does not continue revocation {proof.sequence}")
        if not edgeacc.verify_update(params, g, record.value_before, record.value_after, record.proof,
                                     elements=record.elements()):
            raise RevocationError(f"revocation {record.sequence}: the update proof does not verify")
        witness = edgeacc.update_nonmembership_witness(params, y, proof.witness, record.value_before,
                                                       record.value_after, record.elements())
        proof, value = NonRevocationProof(record.sequence, witness), record.value_after
    if value is not None and not edgeacc.verify_nonmembership(params, g, value, y, proof.witness):
        raise RevocationError(f"the updated proof does not verify against revocation {proof.sequence}: "
                              "the proof was stale or the records are of another history")
    return proof


class RevocationRegistry:
    """The revocation accumulator of a Network: records on its main chain, each edge's view as
    of its latest Type-III status. `RevocationRegistry.install(net)` registers the main-chain
    validator; `RevocationRegistry.of(net)` is the installed one (None if none)."""

    _installed: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
    _install_lock = threading.Lock()

    def __init__(self, network) -> None:
        self.network = network
        self.params = network.params
        self._lock = threading.Lock()
        self._revoke_lock = threading.Lock()                # revoke(): one record in flight
        self._scanned = 0                                   # main-chain blocks read so far
        self._records: list[tuple[int, int, RevocationRecord]] = []  # (main height, block ms, record)
        self._states = [RevocationState(self.params)]       # _states[i]: after the first i records

    @classmethod
    def install(cls, network) -> "RevocationRegistry":
        with cls._install_lock:
            registry = cls._installed.get(network)
            if registry is None:
                registry = cls._installed[network] = cls(network)
                network.add_validator(network.main_chain_id, registry._validate)
        return registry

    @classmethod
    def of(cls, network) -> "RevocationRegistry | None":
        return cls._installed.get(network)

    def _validate(self, peer_name: str, tx: Transaction) -> None:
        """The main chain's rule for revocation records (other records pass untouched)."""
        if not is_revocation_payload(tx.payload):
            return
        record = RevocationRecord.from_payload(self.params, tx.payload)
        self._check_crl(record)
        self.main_state().check_record(record)

    def _check_crl(self, record: RevocationRecord, at_ms: int | None = None) -> None:
        """RevocationError unless the CA's CRL revokes every certificate `record` names, by
        `at_ms` (now when None): only the CA revokes. Checked when a peer endorses the record
        (now) and when the record is applied (as of its block's time, so every registry,
        however late it reads the chain and whatever the CA revokes afterwards, applies the
        same records)."""
        for fp in record.fingerprints:
            try:
                self.network.trust.resolve(fp, at_ms=at_ms)
            except RevokedCertificate:
                continue
            except IdentityError as exc:
                raise RevocationError(f"revocation {record.sequence} names an unknown certificate: {exc}") from None
            raise RevocationError(f"revocation {record.sequence} names a certificate the CRL does not revoke")

    def records(self, upto_height: int | None = None) -> list[RevocationRecord]:
        """The revocation records on the main chain in blocks up to `upto_height` (all when
        None), in chain order."""
        with self._lock:
            self._scan()
            return [r for h, _, r in self._records if upto_height is None or h <= upto_height]

    def _scan(self) -> None:
        """Read the main-chain blocks committed since the last scan (under self._lock)."""
        main = self.network.main_chain_id
        height = self.network.peer(main).height
        for h in range(self._scanned, height):
            block = self.network.block(main, h)
            for tx in block.transactions:
                if tx.kind == TxKind.RECORD and is_revocation_payload(tx.payload):
                    try:
                        self._records.append((h, block.header.timestamp_ms,
                                              RevocationRecord.from_payload(self.params, tx.payload)))
                    except EncodingError:
                        continue    # malformed: never applied
        self._scanned = max(self._scanned, height)

    def _state(self, upto_height: int | None) -> RevocationState:
        """replay() of the records up to `upto_height` that the CRL backs, each record checked
        once."""
        with self._lock:
            self._scan()
            count = sum(1 for h, _, _ in self._records if upto_height is None or h <= upto_height)
            while len(self._states) <= count:
                state = self._states[-1]
                _, at_ms, record = self._records[len(self._states) - 1]
                try:
                    self._check_crl(record, at_ms + CRL_DATE_SLACK_MS)
                    state = state.applied(record)
                except RevocationError:
                    pass    # skipped, as replay() does
                self._states.append(state)
            return self._states[count]

    def main_state(self) -> RevocationState:
        """The state after every revocation record on the main chain."""
        return self._state(None)

    def edge_state(self, chain_id: str) -> RevocationState:
        """The state an edge verifies against: as of the main-chain height of its latest
        Type-III status (nothing revoked before its first). The main chain holds the records
        and has no Type-III of itself: its view is main_state()."""
        if chain_id == self.network.main_chain_id:
            return self.main_state()
        statuses = self.network.peer(chain_id).statuses(self.network.main_chain_id)
        return self._state(statuses[-1].source_height if statuses else -1)

    def check_reading(self, chain_id: str, device_fingerprint: bytes, proof: bytes | None) -> None:
        """RevocationError (DeviceRevoked, StaleProof) unless `proof` (a reading's
        NonRevocationProof bytes) shows the device unrevoked in `chain_id`'s view."""
        state = self.edge_state(chain_id)
        if not proof:
            raise RevocationError("a reading must carry the device's non-revocation proof")
        state.check_not_revoked(device_fingerprint, NonRevocationProof.from_bytes(self.params, proof))

    def revoke(self, names: Sequence[str], timeout: float = 60.0) -> RevocationRecord:
        """The operator's revocation: the CRL first (network.revoke), then the record on the
        main chain; returns when the committed revocation state revokes every name. Two
        records for the same sequence may both commit (the second is skipped on replay), so
        this registry submits one at a time and resubmits until the state holds them."""
        fps = []
        for name in names:
            fps.append(self.network.identity(name).fingerprint)
            self.network.revoke(name)
        signer = self.network.identity(f"{self.network.main_chain_id}.peer0")
        with self._revoke_lock:
            for _ in range(REVOKE_ATTEMPTS):
                state = self.main_state()
                record = state.next_record([fp for fp in fps if fp not in state.revoked])
                try:
                    self.network.submit(self.network.main_chain_id, record.to_payload(self.params),
                                        signer=signer).result(timeout)
                except ValidationRejected:
                    pass    # another revocation took this sequence first
                if self.main_state().revoked.issuperset(fps):
                    return record
        raise RevocationError(f"revocation lost to concurrent revocations {REVOKE_ATTEMPTS} times")
