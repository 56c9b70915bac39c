"""IoT devices and their signed readings (paper section V.A).

A device holds an Ed25519 key in an X.509 certificate issued by the deployment's CA (role
`device`; when the certificate names an organisation, that is the only edge chain it may report
to). A constrained device delegates signing to a peer of its edge; the reading then names that
peer as signer and says it was delegated, and a verifier accepts it only from a peer
certificate of the chain the reading is recorded on, for a device the CA bound to that chain:
the binding is the operator's word that the edge's peers may sign for it. (An unbound device
reports to any edge, so a delegated reading of it would let every edge's peers make up its
readings.) The certificate does not say whether a bound device is constrained: the peers of
its edge can sign readings in its name either way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledger import checks
from ledger.errors import IdentityError
from ledger.identity import Identity, Member, TrustStore
from ledger.provenance.encoding import decode_tensors, encode_tensors, sha256
from ledger.provenance.errors import DeviceError
from ledger.provenance.records import validate_body

_READING_DOMAIN = b"edgeacc/provenance/reading/v1\x00"


@dataclass(frozen=True)
class SignedReading:
    """One reading as it leaves the device: canonical bytes and the signature over them."""

    device: str
    device_fingerprint: bytes
    signer_fingerprint: bytes
    delegated: bool
    data: bytes
    signature: bytes
    nonrevoked: bytes = b""     # the device's NonRevocationProof (ledger.revocation), if any

    def __post_init__(self) -> None:
        """A reading comes from anyone: fields of the wrong type are a DeviceError here."""
        for name, size in (("device_fingerprint", 32), ("signer_fingerprint", 32), ("data", None),
                           ("signature", 64), ("nonrevoked", None)):
            value = getattr(self, name)
            if type(value) is not bytes or (size is not None and len(value) != size):
                raise DeviceError(f"reading.{name} must be {size or 'some'} bytes")
        if type(self.device) is not str or type(self.delegated) is not bool:
            raise DeviceError("reading.device must be a str and reading.delegated a bool")

    @property
    def digest(self) -> bytes:
        return sha256(self.data)

    def record(self) -> dict[str, object]:
        """The Type-I transaction body; the transaction's object pointer adds (prt, digest)."""
        body = {
            "kind": "reading",
            "device": self.device,
            "device_fp": self.device_fingerprint.hex(),
            "signer_fp": self.signer_fingerprint.hex(),
            "delegated": self.delegated,
            "signature": self.signature.hex(),
        }
        if self.nonrevoked:
            body["nonrevoked"] = self.nonrevoked.hex()
        return body

    @classmethod
    def from_record(cls, record: dict[str, object], data: bytes) -> "SignedReading":
        """The reading a Type-I body and its object make (RecordError for a malformed body)."""
        body = validate_body(record, "reading")
        return cls(body["device"], bytes.fromhex(body["device_fp"]), bytes.fromhex(body["signer_fp"]),
                   body["delegated"], data, bytes.fromhex(body["signature"]),
                   bytes.fromhex(body.get("nonrevoked", "")))


def encode_reading(device: str, sequence: int, pixels: np.ndarray, label: int) -> bytes:
    """Canonical bytes of one reading; the device name and sequence number are inside, so a
    signature cannot be replayed for another device or position."""
    return encode_tensors({"x": np.asarray(pixels, np.uint8).reshape(-1), "y": np.asarray(label, np.int64)},
                          {"device": device, "seq": str(sequence)})


def decode_reading(data: bytes) -> tuple[str, int, np.ndarray, int]:
    """(device, sequence, pixels, label) from the bytes encode_reading makes; DeviceError (or
    TensorEncodingError) for anything else.

    >>> decode_reading(encode_reading("sensor-1", 7, np.arange(4), 3))[:2]
    ('sensor-1', 7)
    >>> decode_reading(encode_tensors({"x": np.zeros(4, np.uint8)}))
    Traceback (most recent call last):
    ...
    ledger.provenance.errors.DeviceError: a reading has tensors x (uint8 pixels) and y (an int64 label), metadata device and seq
    """
    tensors, metadata = decode_tensors(data)
    x, y = tensors.get("x"), tensors.get("y")
    if set(tensors) != {"x", "y"} or set(metadata) != {"device", "seq"} or x.dtype != np.uint8 \
            or x.ndim != 1 or y.dtype != np.int64 or y.shape != ():
        raise DeviceError("a reading has tensors x (uint8 pixels) and y (an int64 label), metadata device and seq")
    device, sequence = metadata["device"], metadata["seq"]
    if not device or not 0 < len(sequence) <= 20 or not sequence.isascii() or not sequence.isdigit() \
            or str(int(sequence)) != sequence:
        raise DeviceError("a reading names its device and a decimal sequence number")
    return device, int(sequence), x, int(y)


class Device:
    """A sensor with a CA-issued identity; `delegate` signs for it when it is constrained."""

    def __init__(self, identity: Identity, delegate: Identity | None = None) -> None:
        checks.instance(identity, Identity, "identity")
        if delegate is not None:
            checks.instance(delegate, Identity, "delegate")
        if identity.role != "device":
            raise DeviceError(f"{identity.name} holds a {identity.role} certificate, not a device one")
        if delegate is not None and (delegate.role != "peer" or identity.chain_id is None
                                     or identity.chain_id != delegate.chain_id):
            raise DeviceError(f"{identity.name} may delegate only to a peer of its own edge chain (the one it is bound to)")
        self.identity = identity
        self.delegate = delegate
        self.sequence = 0
        self.nonrevoked = b""   # its current NonRevocationProof bytes, sent with every reading

    @property
    def name(self) -> str:
        return self.identity.name

    def read(self, pixels: np.ndarray, label: int) -> SignedReading:
        """Sign the next reading (with the delegate's key when the device is constrained)."""
        self.sequence += 1
        data = encode_reading(self.name, self.sequence, pixels, label)
        signer = self.delegate or self.identity
        return SignedReading(self.name, self.identity.fingerprint, signer.fingerprint,
                             self.delegate is not None, data, signer.sign(_READING_DOMAIN + data),
                             self.nonrevoked)


def check_reading_record(trust: TrustStore, body: dict, data: bytes, chain_id: str,
                         signed_at_ms: int | None = None) -> Member:
    """A recorded reading (its Type-I body and object bytes) checked as verify_reading checks
    it: the one rule of the recorder, the endorsing peers and the auditor. `signed_at_ms`: the
    timestamp of the block that records it (None: now, before it is recorded)."""
    return verify_reading(trust, SignedReading.from_record(body, data), chain_id, signed_at_ms)


def verify_reading(trust: TrustStore, reading: SignedReading, chain_id: str | None = None,
                   signed_at_ms: int | None = None) -> Member:
    """Check certificate, role, chain and signature; returns the device's Member.

    `chain_id` is the edge chain the reading is recorded on. The certificates must be valid at
    `signed_at_ms`, the timestamp of the block that records the reading (None: now); a reading
    carries no time of its own that its signer could choose. Raises DeviceError for an unknown,
    revoked or expired device, a device bound to another chain, a delegate that is not a peer
    of the chain, a reading that names another device, or a signature that does not verify."""
    checks.instance(trust, TrustStore, "trust")
    checks.instance(reading, SignedReading, "reading")
    checks.optional_text(chain_id, "chain_id")
    try:
        device = trust.resolve(reading.device_fingerprint, roles=("device",), valid_at_ms=signed_at_ms)
        if chain_id is not None and device.chain_id not in (None, chain_id):
            raise DeviceError(f"{device.name} reports to {device.chain_id}, not {chain_id}")
        if device.name != reading.device:
            raise DeviceError(f"reading names {reading.device!r} but the certificate is {device.name!r}")
        named_device, _, _, _ = decode_reading(reading.data)
        if named_device != device.name:
            raise DeviceError(f"reading bytes name {named_device!r}, signed as {device.name!r}")
        if reading.delegated:
            if device.chain_id is None:
                raise DeviceError(f"{device.name} is bound to no edge chain: no peer signs for it")
            signer = trust.resolve(reading.signer_fingerprint, roles=("peer",), chain_id=device.chain_id,
                                   valid_at_ms=signed_at_ms)
        elif reading.signer_fingerprint != reading.device_fingerprint:
            raise DeviceError(f"reading of {device.name} signed by another key without delegation")
        else:
            signer = device
        signer.verify(reading.signature, _READING_DOMAIN + reading.data)
    except IdentityError as exc:
        raise DeviceError(f"reading of {reading.device!r}: {exc}") from exc
    return device
