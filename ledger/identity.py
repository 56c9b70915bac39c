"""Permissioned identities: a deployment CA issues Ed25519 X.509 certificates to peers,
devices and clients, and revokes them through a CRL it signs.

A certificate's subject carries the holder's name (CN), role (OU: peer, client, device) and,
for peers and for devices bound to their edge, the chain it serves (O). Identities are named by the SHA-256 fingerprint of the
certificate's DER encoding.

Validity dates. A certificate signs only within its validity period and the CA's
(TrustStore.resolve), judged like revocation: at a time every honest peer agrees on, not at
each peer's clock. A transaction or endorsement in a block counts at the block's timestamp,
which its endorsers sign; a block is dated no earlier than its parent and, when endorsed, no
later than each endorser's clock plus MAX_CLOCK_SKEW_MS (ledger.chain). So every peer that
replays the chain decides alike, and a block once valid stays valid after its signers'
certificates expire. The transaction's own timestamp, which its signer chooses, decides
nothing. What a dishonest signer can do with a backdated time: nothing alone (it does not
date the block); with the proposer and enough endorsers colluding, date a block back to its
parent's time at the earliest, so a certificate expired since the chain's last block cannot
sign; and an honest endorser refuses a block dated before its clock minus the skew
(ledger.chain.check_fresh), so a block cut after an idle spell cannot borrow its parent's date. A not-yet-valid certificate can sign at most
MAX_CLOCK_SKEW_MS early (a block dated ahead). Issued certificates default to
DEFAULT_MEMBER_DAYS, the CA to DEFAULT_CA_DAYS, and none outlives its CA.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nacl.bindings
import nacl.exceptions
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from cryptography.exceptions import UnsupportedAlgorithm

from ledger import checks
from ledger.errors import (ArgumentError, BadSignature, CertificateNotValid, ConfigurationError, NotFound, RevokedCertificate,
                           StaleRevocationList, StorageError, UnauthorizedSigner, UnknownCertificate)

ROLES = ("peer", "client", "device")
_UNREADABLE = (OSError, ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion)  # what loading PEM raises
# a time before every revocation (x509 dates start in year 1): resolve(at_ms=BEFORE_REVOCATIONS)
# refuses no certificate for its CRL entry (the cluster's followers judge revocation by the
# log's order instead: ledger.cluster.ordered_crl)
BEFORE_REVOCATIONS = -(1 << 63)
DEFAULT_CA_DAYS = 3650     # the deployment CA's certificate (and its revocation lists' nextUpdate)
DEFAULT_MEMBER_DAYS = 365  # a peer's, client's or device's: re-issue yearly
_BACKDATE = datetime.timedelta(minutes=5)  # notBefore this far back: clocks a little behind the CA's


def fingerprint(cert: x509.Certificate) -> bytes:
    """SHA-256 of the certificate's DER encoding: how transactions name signers."""
    checks.instance(cert, x509.Certificate, "cert")
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _ms(when: datetime.datetime) -> int:
    return int(when.timestamp() * 1000)


def _lifetime(days, name: str) -> datetime.timedelta:
    return datetime.timedelta(days=checks.integer(days, name, lo=1, hi=100 * 366))


def _name(common_name: str, role: str | None = None, chain_id: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if role:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role))
    if chain_id:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, chain_id))
    return x509.Name(attrs)


def _attr(cert: x509.Certificate, oid) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


@dataclass(frozen=True)
class Member:
    """A certificate the CA issued: who signs, in which role, for which chain."""

    name: str
    role: str
    chain_id: str | None
    fingerprint: bytes
    certificate: x509.Certificate
    public_key: Ed25519PublicKey
    valid_from_ms: int   # the certificate's notBefore, or the CA's when later
    valid_until_ms: int  # its notAfter, or the CA's when earlier

    @cached_property
    def key_bytes(self) -> bytes:
        """The raw 32-byte Ed25519 public key (two certificates of one key are one signer)."""
        return _raw(self.public_key)

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise BadSignature unless `signature` is this member's signature of `message`.

        libsodium (PyNaCl, also pyca) checks it: twice as fast as OpenSSL here, and it
        releases the GIL, so peers validating in parallel threads use both cores."""
        signature, message = checks.data(signature, "signature"), checks.data(message, "message")
        if len(signature) != 64:
            raise BadSignature(f"bad signature by {self.name}")
        try:
            nacl.bindings.crypto_sign_open(signature + message, self.key_bytes)
        except nacl.exceptions.BadSignatureError:
            raise BadSignature(f"bad signature by {self.name}") from None


class Identity:
    """A private key with its certificate: something that can sign."""

    def __init__(self, key: Ed25519PrivateKey, cert: x509.Certificate) -> None:
        checks.instance(key, Ed25519PrivateKey, "key")
        checks.instance(cert, x509.Certificate, "cert")
        if _raw(key.public_key()) != _raw(_public_key(cert)):
            raise ConfigurationError("the private key does not belong to the certificate")
        self.key = key
        # libsodium's form of the same key (seed || public key): Ed25519 signatures are
        # deterministic, so it signs exactly as pyca does, in 0.6x of the time
        seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
        self._signing_key = nacl.bindings.crypto_sign_seed_keypair(seed)[1]
        self.certificate = cert
        self.fingerprint = fingerprint(cert)
        self.name = _attr(cert, NameOID.COMMON_NAME) or ""
        self.role = _attr(cert, NameOID.ORGANIZATIONAL_UNIT_NAME) or ""
        self.chain_id = _attr(cert, NameOID.ORGANIZATION_NAME)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of `message` with this identity's key."""
        return nacl.bindings.crypto_sign(checks.data(message, "message"), self._signing_key)[:64]

    def __repr__(self) -> str:
        return f"Identity({self.name!r}, role={self.role!r}, chain={self.chain_id!r})"


class CertificateAuthority:
    """The deployment's CA: issues certificates and keeps the revocation list current."""

    def __init__(self, key: Ed25519PrivateKey, cert: x509.Certificate) -> None:
        checks.instance(key, Ed25519PrivateKey, "key")
        checks.instance(cert, x509.Certificate, "cert")
        if _raw(key.public_key()) != _raw(_public_key(cert)):
            raise ConfigurationError("the CA key does not belong to the CA certificate")
        self.key = key
        self.certificate = cert

    @classmethod
    def create(cls, name: str = "edgeacc deployment CA", lifetime_days: int = DEFAULT_CA_DAYS) -> "CertificateAuthority":
        """A new CA with a fresh Ed25519 key and a self-signed certificate valid for
        `lifetime_days`."""
        _check_name(name, "name")
        lifetime = _lifetime(lifetime_days, "lifetime_days")
        key = Ed25519PrivateKey.generate()
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, None)
        )
        return cls(key, cert)

    def issue(self, name: str, role: str, chain_id: str | None = None,
              lifetime_days: int = DEFAULT_MEMBER_DAYS) -> Identity:
        """A fresh Ed25519 key and a certificate for it, valid for `lifetime_days` (at most
        until the CA's certificate expires)."""
        key = Ed25519PrivateKey.generate()
        return Identity(key, self._certify(key.public_key(), name, role, chain_id, lifetime_days))

    def issue_transport(self, name: str, role: str, chain_id: str | None = None,
                        lifetime_days: int = DEFAULT_MEMBER_DAYS
                        ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """A fresh ECDSA P-256 key and a TLS certificate for it, with the subject `issue`
        gives (and the name as its DNS name, which gRPC's hostname check matches). gRPC's TLS
        library does not negotiate Ed25519 handshake signatures, so a member's transport key
        is its own; the ledger's signatures stay Ed25519."""
        key = ec.generate_private_key(ec.SECP256R1())
        return key, self._certify(key.public_key(), name, role, chain_id, lifetime_days, dns_name=True)

    def recertify(self, member: "Member", lifetime_days: int = DEFAULT_MEMBER_DAYS) -> x509.Certificate:
        """A new certificate of `member`'s key, name, role and chain, valid for `lifetime_days`
        (capped by the CA's own): a renewal. The old certificate stays valid until it ends, and
        the ledger counts one key or name once whichever signed."""
        checks.instance(member, Member, "member")
        return self._certify(member.public_key, member.name, member.role, member.chain_id, lifetime_days)

    def _certify(self, public_key, name: str, role: str, chain_id: str | None, lifetime_days: int, *,
                 dns_name: bool = False) -> x509.Certificate:
        _check_name(name, "name")
        if role not in ROLES:
            raise ConfigurationError(f"role must be one of {ROLES}, got {checks.shown(role)}")
        if chain_id is not None:
            _check_name(chain_id, "chain_id")
        if role == "peer" and not chain_id:
            raise ConfigurationError("a peer certificate must name its chain")
        lifetime = _lifetime(lifetime_days, "lifetime_days")
        now = _now()
        until = min(now + lifetime, self.certificate.not_valid_after_utc)
        if until <= now:
            raise ConfigurationError("the CA's certificate has expired: it issues nothing")
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name, role, chain_id)).issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if dns_name:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        return builder.sign(self.key, None)

    def revocation_list(self, revoked: dict[int, datetime.datetime]) -> x509.CertificateRevocationList:
        """A CRL signed by this CA naming the serial numbers in `revoked` (serial -> when)."""
        checks.instance(revoked, dict, "revoked")
        for serial, when in revoked.items():
            checks.integer(serial, "revoked serial", lo=1, hi=(1 << 159) - 1)
            checks.instance(when, datetime.datetime, "revocation time")
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - datetime.timedelta(minutes=5))
            .next_update(max(self.certificate.not_valid_after_utc, now))
        )
        for serial, when in sorted(revoked.items()):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
        return builder.sign(self.key, None)


class TrustStore:
    """What every peer checks signatures against: the CA certificate, the certificates it
    issued, and its current CRL. Thread-safe; the CRL may be replaced while peers run."""

    def __init__(self, ca_cert: x509.Certificate) -> None:
        checks.instance(ca_cert, x509.Certificate, "ca_cert")
        self.ca_certificate = ca_cert
        self._ca_key = _public_key(ca_cert)
        self._members: dict[bytes, Member] = {}
        self._revoked: dict[int, int] = {}  # serial -> revocation time (ms since epoch)
        self._crl_issued_ms = -1  # lastUpdate of the installed CRL
        self._crl: x509.CertificateRevocationList | None = None
        self._lock = threading.Lock()
        # SHA-256 of a TLS certificate's DER -> what check_transport read from it once its CA
        # signature verified (every call presents the certificate again)
        self._transport: dict[bytes, tuple] = {}

    def add_certificate(self, cert: x509.Certificate) -> Member:
        """Admit a certificate after checking the CA signed it; returns its Member."""
        checks.instance(cert, x509.Certificate, "cert")
        try:
            self._ca_key.verify(cert.signature, cert.tbs_certificate_bytes)
            issuer = cert.issuer
        except (InvalidSignature, ValueError):
            raise UnknownCertificate("certificate is not signed by the deployment CA") from None
        if issuer != self.ca_certificate.subject:
            raise UnknownCertificate("certificate names another issuer")
        key = _public_key(cert, UnknownCertificate)
        try:
            role = _attr(cert, NameOID.ORGANIZATIONAL_UNIT_NAME)
            name, chain_id = _attr(cert, NameOID.COMMON_NAME) or "", _attr(cert, NameOID.ORGANIZATION_NAME)
        except ValueError as exc:
            raise UnknownCertificate(f"certificate has a malformed subject: {exc}") from None
        if role not in ROLES:
            raise UnknownCertificate("certificate must carry a known role")
        try:
            valid_from = max(_ms(cert.not_valid_before_utc), _ms(self.ca_certificate.not_valid_before_utc))
            valid_until = min(_ms(cert.not_valid_after_utc), _ms(self.ca_certificate.not_valid_after_utc))
        except ValueError as exc:
            raise UnknownCertificate(f"certificate has malformed validity dates: {exc}") from None
        member = Member(name, role, chain_id, fingerprint(cert), cert, key, valid_from, valid_until)
        with self._lock:
            self._members[member.fingerprint] = member
        return member

    def set_revocation_list(self, crl: x509.CertificateRevocationList) -> None:
        """Install a CRL after checking the CA signed it and that it replaces the installed one:
        issued no earlier, and undoing no revocation (every serial revoked stays revoked, from
        the same time or earlier). An old CRL the CA once signed, replayed by whoever
        distributes the trust material, would otherwise re-admit revoked certificates."""
        self._install(crl, *self.checked_revocations(crl))

    def offer_revocation_list(self, crl: x509.CertificateRevocationList) -> dict[int, int]:
        """{serial: revocation time in ms} of a CRL the CA signed (UnknownCertificate
        otherwise), checked once, and installed when set_revocation_list would take it; an
        older one is only read (a CRL the log ordered: its revocations count wherever it
        stands, ledger.cluster.ordered_crl)."""
        revoked, issued_ms = self.checked_revocations(crl)
        try:
            self._install(crl, revoked, issued_ms)
        except StaleRevocationList:
            pass  # (this store holds a newer one)
        return revoked

    def _install(self, crl: x509.CertificateRevocationList, revoked: dict[int, int], issued_ms: int) -> None:
        """set_revocation_list's rules for `crl`, whose CA signature gave `revoked`, `issued_ms`."""
        with self._lock:
            if issued_ms < self._crl_issued_ms:
                raise StaleRevocationList("revocation list is older than the installed one")
            undone = [s for s, when in self._revoked.items() if revoked.get(s, when + 1) > when]
            if undone:
                raise StaleRevocationList(f"revocation list would undo or postpone {len(undone)} revocation(s) "
                                          "of the installed one")
            self._revoked, self._crl_issued_ms, self._crl = revoked, issued_ms, crl

    def checked_revocations(self, crl: x509.CertificateRevocationList) -> tuple[dict[int, int], int]:
        """({serial: revocation time in ms}, issue time in ms) of a CRL the CA signed, without
        installing it; UnknownCertificate otherwise."""
        checks.instance(crl, x509.CertificateRevocationList, "crl")
        try:
            if not crl.is_signature_valid(self._ca_key):
                raise UnknownCertificate("revocation list is not signed by the deployment CA")
            revoked = {r.serial_number: int(r.revocation_date_utc.timestamp() * 1000) for r in crl}
            return revoked, int(crl.last_update_utc.timestamp() * 1000)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise UnknownCertificate(f"revocation list is malformed: {exc}") from None

    @property
    def revocation_list(self) -> x509.CertificateRevocationList | None:
        """The installed CRL (None before one is)."""
        with self._lock:
            return self._crl

    def serial_of(self, fp: bytes) -> int:
        """The certificate serial of member `fp` (revoked or not); UnknownCertificate otherwise."""
        with self._lock:
            member = self._members.get(fp)
        if member is None:
            raise UnknownCertificate(f"unknown certificate {bytes(fp).hex()[:16]}")
        return member.certificate.serial_number

    def revocations_until(self, at_ms: int) -> tuple[tuple[int, int], ...]:
        """(serial, revocation time in ms) of every revocation effective at or before `at_ms`,
        sorted: what can invalidate a signature made before then."""
        at_ms = checks.integer(at_ms, "at_ms")
        with self._lock:
            return tuple(sorted((serial, when) for serial, when in self._revoked.items() if when <= at_ms))

    def check_transport(self, cert: x509.Certificate, *, roles: tuple[str, ...] = ROLES,
                        chain_id: str | None = None) -> tuple[str, str, str | None]:
        """(name, role, chain) of a TLS certificate a caller presented, if the deployment CA
        signed it, it is not revoked, and it may act in one of `roles` (for `chain_id` when
        given); UnknownCertificate / RevokedCertificate / UnauthorizedSigner otherwise."""
        checks.instance(cert, x509.Certificate, "cert")
        checks.instance(roles, tuple, "roles")
        chain_id = checks.optional_text(chain_id, "chain_id")
        name, role, holder_chain, serial, not_before, not_after = self._transport_facts(cert)
        if not not_before <= _now() <= not_after:
            raise UnknownCertificate(f"certificate of {name} is not valid now")
        with self._lock:
            revoked = serial in self._revoked
        if revoked:
            raise RevokedCertificate(f"certificate of {name} is revoked")
        if role not in roles:
            raise UnauthorizedSigner(f"{name} is a {role}, not one of {roles}")
        if chain_id is not None and holder_chain != chain_id:
            raise UnauthorizedSigner(f"{name} serves chain {holder_chain!r}, not {chain_id!r}")
        return name, role, holder_chain

    def _transport_facts(self, cert: x509.Certificate) -> tuple:
        """(name, role, chain, serial, not before, not after) of a certificate the CA signed,
        verified once per certificate (its DER's SHA-256); UnknownCertificate otherwise."""
        digest = cert.fingerprint(hashes.SHA256())
        facts = self._transport.get(digest)
        if facts is None:
            try:
                self._ca_key.verify(cert.signature, cert.tbs_certificate_bytes)
                issuer = cert.issuer
                facts = (_attr(cert, NameOID.COMMON_NAME) or "", _attr(cert, NameOID.ORGANIZATIONAL_UNIT_NAME),
                         _attr(cert, NameOID.ORGANIZATION_NAME), cert.serial_number, cert.not_valid_before_utc,
                         cert.not_valid_after_utc)
            except (InvalidSignature, ValueError):
                raise UnknownCertificate("certificate is not signed by the deployment CA") from None
            if issuer != self.ca_certificate.subject:
                raise UnknownCertificate("certificate names another issuer")
            with self._lock:
                if len(self._transport) >= 4096:
                    self._transport.clear()
                self._transport[digest] = facts
        return facts

    def members(self) -> list[Member]:
        """Every admitted certificate."""
        with self._lock:
            return list(self._members.values())

    def by_name(self, name: str) -> Member:
        """The member whose certificate has this common name."""
        checks.text(name, "name")
        for m in self.members():
            if m.name == name:
                return m
        raise NotFound(f"no certificate named {checks.shown(name)}")

    def resolve(self, fp: bytes, *, roles: tuple[str, ...] = ROLES, chain_id: str | None = None,
                at_ms: int | None = None, valid_at_ms: int | None = None) -> Member:
        """The member with fingerprint `fp`, if it may sign in one of `roles` (for `chain_id`
        when given), was not revoked before `at_ms` (ever, when None; BEFORE_REVOCATIONS:
        whatever the CRL says, the caller judging revocation by another rule) and its
        certificate is valid at `valid_at_ms` (default `at_ms`, or now when both are None;
        required with BEFORE_REVOCATIONS): the time its signature counts at, a block's timestamp
        for what the block holds (module docstring). RevokedCertificate, CertificateNotValid,
        UnauthorizedSigner or UnknownCertificate otherwise."""
        fp = checks.data(fp, "fp")
        checks.instance(roles, tuple, "roles")
        chain_id = checks.optional_text(chain_id, "chain_id")
        at_ms = None if at_ms is None else checks.integer(at_ms, "at_ms", lo=-(1 << 63))
        if valid_at_ms is None and at_ms == BEFORE_REVOCATIONS:
            raise ArgumentError("valid_at_ms is required when revocation is judged by another rule")
        valid_at_ms = at_ms if valid_at_ms is None else checks.integer(valid_at_ms, "valid_at_ms", lo=-(1 << 63))
        if valid_at_ms is None:
            valid_at_ms = _ms(_now())
        with self._lock:
            member = self._members.get(fp)
            revoked_at = self._revoked.get(member.certificate.serial_number) if member else None
        if member is None:
            raise UnknownCertificate(f"unknown certificate {fp.hex()[:16]}")
        if revoked_at is not None and (at_ms is None or revoked_at <= at_ms):
            raise RevokedCertificate(f"certificate of {member.name} is revoked")
        if not member.valid_from_ms <= valid_at_ms <= member.valid_until_ms:
            raise CertificateNotValid(f"certificate of {member.name} is not valid at {_shown_time(valid_at_ms)} "
                                      f"(valid {_shown_time(member.valid_from_ms)} to {_shown_time(member.valid_until_ms)})")
        if member.role not in roles:
            raise UnauthorizedSigner(f"{member.name} is a {member.role}, not one of {roles}")
        if chain_id is not None and member.chain_id != chain_id:
            raise UnauthorizedSigner(f"{member.name} serves chain {member.chain_id!r}, not {chain_id!r}")
        return member


def _shown_time(ms: int) -> str:
    try:
        return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms"


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _public_key(cert: x509.Certificate, error: type = ConfigurationError) -> Ed25519PublicKey:
    """The certificate's Ed25519 key; `error` for any other (or an unparseable) key."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise error(f"certificate carries an unreadable key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise error("certificate must carry an Ed25519 key")
    return key


def _check_name(value, name: str) -> str:
    """A certificate subject field: 1..64 UTF-8 bytes (X.509's bounds for a CN)."""
    try:
        size = len(checks.text(value, name).encode("utf-8"))
    except UnicodeEncodeError:
        raise ConfigurationError(f"{name} is not encodable as UTF-8") from None
    if not 1 <= size <= 64:
        raise ConfigurationError(f"{name} must be 1..64 UTF-8 bytes, got {size}")
    return value


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Write an unencrypted PKCS#8 PEM key to a new file readable by its owner only: the file
    is created with mode 0600 (never written first and restricted after), and an existing
    file is not overwritten (StorageError). `key` is an Ed25519 ledger key or an ECDSA
    transport key."""
    checks.instance(key, (Ed25519PrivateKey, ec.EllipticCurvePrivateKey), "key")
    path = checks.path(path, "path")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise StorageError(f"cannot create key file {path}: {exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise StorageError(f"cannot write key file {path}: {exc}") from None


def _load_pem(path: Path, load, what: str):
    path = checks.path(path, "path")
    try:
        return load(path.read_bytes())
    except _UNREADABLE as exc:
        raise StorageError(f"cannot read {what} {path}: {exc}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a PEM Ed25519 private key (StorageError if it is not one)."""
    key = _load_pem(path, lambda data: serialization.load_pem_private_key(data, password=None), "key")
    if not isinstance(key, Ed25519PrivateKey):
        raise StorageError(f"{path} is not an Ed25519 key")
    return key


def save_certificate(cert: x509.Certificate, path: Path) -> None:
    """Write a PEM certificate."""
    checks.instance(cert, x509.Certificate, "cert")
    path = checks.path(path, "path")
    try:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise StorageError(f"cannot write certificate {path}: {exc}") from None


def load_certificate(path: Path) -> x509.Certificate:
    """Read a PEM certificate (StorageError if it is not one)."""
    return _load_pem(path, x509.load_pem_x509_certificate, "certificate")


def load_revocation_list(path: Path) -> x509.CertificateRevocationList:
    """Read a PEM CRL (StorageError if it is not one)."""
    return _load_pem(path, x509.load_pem_x509_crl, "revocation list")
