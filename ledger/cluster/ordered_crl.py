"""The CA's revocation lists as entries of a chain's log: revocation ordered by log position.

An entry of the log is a block or a CRL entry (CRL_ENTRY_MAGIC, then the CRL's DER). A CRL
entry needs no endorsement - its authority is the CA's signature - so any peer of the chain
appends one when it holds revocations its log has not ordered yet (node.Node._fence_if_due);
no peer can keep it out by refusing to sign (an empty "fence" block that needed the policy's
endorsements could be blocked by the revoked key's holder and one dishonest peer).

Revocation in the ordered chain is this and nothing else. From the slot of a CRL entry on, a
follower refuses every block that a certificate it revokes endorsed, or whose transaction it
signed, whatever the block's date, and before that slot it takes such a block whatever the
block's date and whatever its own crl.pem says (OrderedRevocations.check; ledger.cluster.follower
argues why): the log's order decides, not clocks or the moment a CRL reached a peer. The
date of a revocation counts only where a peer judges live (admission, endorsement, the
transport): there a certificate is refused once its CRL is effective or once the log ordered
it (check_signer), so a cutter builds no block every follower would skip. The entry also
installs the CRL in the follower's trust store (when it is not older than the installed one):
the log distributes it.

The entries a follower took (those revoking a serial no earlier one did: alike for every
follower of the log) are kept beside its store, each with the chain's height at its entry (the
blocks the log ordered before it, alike for every follower), and checked again on load. The
log's prefix holding them may be trimmed: then the checkpoint replacing it carries them, with
their heights, under the attestations of a quorum (follower.checkpoint_message covers
revocations_digest of them), and a peer that joins or repairs after the trim takes them from
there before any later block. A restarted peer refuses the same blocks as before - those from
an entry's height on, not the ones before the entry, which a peer whose store is behind the
kept file (a repaired or restored store) reads again and must take like every other follower did.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ledger.cluster.transport import number, pack, unpack
from ledger.errors import EncodingError, LedgerError, RevokedCertificate, StorageError
from ledger.identity import TrustStore
from ledger.objects import write_local

CRL_ENTRY_MAGIC = b"EACRL\x01"  # (a block's encoding starts with the block magic: never this)
REVOCATIONS_DOMAIN = b"EAOR"     # revocations_digest: the ordered CRL entries below a checkpoint


def keep_file(path: Path, data: bytes) -> None:
    """Replace `path` by `data` durably (objects.write_local, through `path`.tmp: one a crash
    left behind is discarded first); OSError otherwise."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    write_local(str(tmp), str(path.absolute()), data)  # (absolute: its directory is fsynced)


def crl_entry(crl: x509.CertificateRevocationList) -> bytes:
    """The log entry of `crl`."""
    return CRL_ENTRY_MAGIC + crl.public_bytes(serialization.Encoding.DER)


def is_crl_entry(data: bytes) -> bool:
    return bytes(data[:len(CRL_ENTRY_MAGIC)]) == CRL_ENTRY_MAGIC


def encode_ordered(entries) -> bytes:
    """(height, CRL DER) pairs as one field (the kept file's, a checkpoint's)."""
    return pack(*(pack(b"%d" % height, der) for height, der in entries))


def decode_ordered(data: bytes) -> tuple[tuple[int, bytes], ...]:
    """encode_ordered's pairs; EncodingError otherwise."""
    pairs = [unpack(p, 2, "an ordered revocation list") for p in unpack(data, what="ordered revocation lists")]
    return tuple((number(h, "the height of an ordered revocation list"), bytes(der)) for h, der in pairs)


def revocations_digest(entries) -> bytes:
    """What a checkpoint's attestations sign of the ordered CRL entries it replaces."""
    return hashlib.sha256(REVOCATIONS_DOMAIN + encode_ordered(entries)).digest()


class OrderedRevocations:
    """The certificate serials the CRL entries of one chain's log revoked, as a follower read
    them, each from the height of the first entry revoking it; kept at `path` (None: in
    memory only)."""

    def __init__(self, trust: TrustStore, path: Path | None = None) -> None:
        self.trust, self.path = trust, path
        self._from_height: dict[int, int] = {}  # serial -> the first height it signs no block at
        self._entries: list[tuple[int, bytes]] = []  # (height, DER) of each entry taken, as kept at `path`
        self._lock = threading.Lock()
        self._ordered_crl: x509.CertificateRevocationList | None = None  # a CRL unordered() found all ordered
        if path is not None and path.exists():
            try:
                kept = decode_ordered(path.read_bytes())
            except (OSError, LedgerError) as exc:
                raise StorageError(f"cannot read the ordered revocation lists {path}: {exc}") from None
            for height, der in kept:
                self._add(der, height, keep=False)
            self._entries = list(kept)  # (a later entry is kept beside them, not instead)

    @property
    def serials(self) -> frozenset[int]:
        return frozenset(self._from_height)

    def take(self, data: bytes, height: int) -> None:
        """Take the CRL entry `data` (is_crl_entry), read after the log's blocks 0..height-1:
        UnknownCertificate unless the CA signed it (the entry is then skipped like any invalid
        one)."""
        self._add(bytes(data[len(CRL_ENTRY_MAGIC):]), height, keep=True)

    def take_listed(self, entries) -> None:
        """Take the (height, DER) entries a checkpoint carries for the log's trimmed prefix,
        in their order (each as `take` would have, had this follower read the prefix)."""
        for height, der in entries:
            self._add(der, height, keep=True)

    def listed(self, up_to: int) -> tuple[tuple[int, bytes], ...]:
        """The entries taken with heights up to `up_to`: those the log ordered before its block
        `up_to` (a checkpoint there replaces them)."""
        return tuple(e for e in self._entries if e[0] <= up_to)

    def _add(self, der: bytes, height: int, keep: bool) -> None:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError as exc:
            raise EncodingError(f"a CRL entry is not a revocation list: {exc}") from None
        revoked = self.trust.offer_revocation_list(crl)  # (the CA's signature, checked once)
        with self._lock:
            fresh = set(revoked) - set(self._from_height)
            if fresh:
                if keep:  # (durably first: a failed write leaves the entry to be read again)
                    self._keep((height, der))
                self._from_height = {**self._from_height, **dict.fromkeys(fresh, height)}

    def _keep(self, entry: tuple[int, bytes]) -> None:
        if self.path is not None:
            try:
                keep_file(self.path, encode_ordered(self._entries + [entry]))
            except OSError as exc:
                raise StorageError(f"cannot keep the ordered revocation lists at {self.path}: {exc}") from None
        self._entries.append(entry)

    def unordered(self) -> x509.CertificateRevocationList | None:
        """The trust store's CRL when it revokes a serial the log has not ordered (then this
        peer appends it), else None."""
        crl = self.trust.revocation_list
        if crl is None or crl is self._ordered_crl:
            return None
        if not {r.serial_number for r in crl} - self._from_height.keys():
            self._ordered_crl = crl  # (serials stay ordered: not read again every poll)
            return None
        return crl

    def check_signer(self, fp: bytes, height: int | None = None) -> None:
        """RevokedCertificate if the CRL entries read so far revoke the certificate of `fp`
        for a block at `height` (None: any block still to come - what admission, endorsement
        and the cutter ask); a certificate unknown here is the caller's to refuse."""
        from_height = self._from_height
        if not from_height:
            return
        try:
            serial = self.trust.serial_of(fp)
        except LedgerError:
            return
        first = from_height.get(serial)
        if first is not None and (height is None or height >= first):
            raise RevokedCertificate(f"certificate {bytes(fp).hex()[:16]} is revoked by a revocation list the "
                                     "chain's log ordered")

    def check(self, block) -> None:
        """RevokedCertificate if a certificate the ordered CRLs revoke endorsed `block` or
        signed one of its transactions, `block` coming after the entry (its height at or above
        the entry's), at any date."""
        self.check_endorsers(block.signed)
        self.check_submitters(block)

    def check_endorsers(self, signed) -> None:
        """check's part that needs only the signed header (a follower decides it before it
        fetches the body)."""
        for fp, _ in signed.endorsements if self._from_height else ():
            self.check_signer(fp, signed.header.height)

    def check_submitters(self, block) -> None:
        """check's part that needs the transactions."""
        for fp in dict.fromkeys(tx.submitter for tx in block.transactions) if self._from_height else ():
            self.check_signer(fp, block.height)
