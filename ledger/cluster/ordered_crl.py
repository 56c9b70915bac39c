"""The CA's revocation lists as entries of a chain's log: revocation ordered by log position.

An entry of the log is a block or a CRL entry (CRL_ENTRY_MAGIC, then the CRL's DER). A CRL
entry needs no endorsement - its authority is the CA's signature - so any peer of the chain
appends one when it holds revocations its log has not ordered yet (node.Node._order_revocations);
no peer can keep it out by refusing to sign (an empty "fence" block that needed the policy's
endorsements could be blocked by the revoked key's holder and one dishonest peer).

From the slot of a CRL entry on, a follower refuses every block that a certificate it revokes
endorsed, or whose transaction it signed, whatever the block's date (OrderedRevocations.check):
the log's order decides, not clocks, so a block the revoked key co-signed and dated before its
revocation is skipped by every honest follower once it comes after the entry. The entry also
installs the CRL in the follower's trust store (when it is not older than the installed one):
the log distributes it.

The serials a follower took from CRL entries are kept beside its store (its own state, each
entry checked again on load), each with the chain's height at its entry (the blocks the log
ordered before it, alike for every follower): the log's prefix holding them may be trimmed,
and a restarted peer must refuse the same blocks as before - those from that height on, not
the ones before the entry, which a peer whose store is behind the kept file (a repaired or
restored store) reads again and must take like every other follower did. A peer that joins after such a trim learns the CRL
from its trust directory instead, sees revocations its log lacks, and appends the entry again.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ledger.cluster.transport import number, pack, unpack
from ledger.errors import EncodingError, LedgerError, RevokedCertificate, StaleRevocationList, StorageError
from ledger.identity import TrustStore

CRL_ENTRY_MAGIC = b"EACRL\x01"  # (a block's encoding starts with the block magic: never this)


def crl_entry(crl: x509.CertificateRevocationList) -> bytes:
    """The log entry of `crl`."""
    return CRL_ENTRY_MAGIC + crl.public_bytes(serialization.Encoding.DER)


def is_crl_entry(data: bytes) -> bool:
    return bytes(data[:len(CRL_ENTRY_MAGIC)]) == CRL_ENTRY_MAGIC


class OrderedRevocations:
    """The certificate serials the CRL entries of one chain's log revoked, as a follower read
    them, each from the height of the first entry revoking it; kept at `path` (None: in
    memory only)."""

    def __init__(self, trust: TrustStore, path: Path | None = None) -> None:
        self.trust, self.path = trust, path
        self._from_height: dict[int, int] = {}  # serial -> the first height it signs no block at
        self._kept: list[bytes] = []  # pack(height, DER) of each entry taken, as kept at `path`
        self._lock = threading.Lock()
        if path is not None and path.exists():
            try:
                kept = [unpack(k, 2, "an ordered revocation list")
                        for k in unpack(path.read_bytes(), what="ordered revocation lists")]
                heights = [number(h, "the height of an ordered revocation list") for h, _ in kept]
            except (OSError, LedgerError) as exc:
                raise StorageError(f"cannot read the ordered revocation lists {path}: {exc}") from None
            for height, (_, der) in zip(heights, kept):
                self._add(bytes(der), height, keep=False)
            self._kept = [pack(h, der) for h, der in kept]  # (a later entry is kept beside them, not instead)

    @property
    def serials(self) -> frozenset[int]:
        return frozenset(self._from_height)

    def take(self, data: bytes, height: int) -> None:
        """Take the CRL entry `data` (is_crl_entry), read after the log's blocks 0..height-1:
        UnknownCertificate unless the CA signed it (the entry is then skipped like any invalid
        one)."""
        self._add(bytes(data[len(CRL_ENTRY_MAGIC):]), height, keep=True)

    def _add(self, der: bytes, height: int, keep: bool) -> None:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError as exc:
            raise EncodingError(f"a CRL entry is not a revocation list: {exc}") from None
        revoked, _ = self.trust.checked_revocations(crl)
        with self._lock:
            fresh = set(revoked) - set(self._from_height)
            if fresh:
                if keep:  # (durably first: a failed write leaves the entry to be read again)
                    self._keep(pack(b"%d" % height, der))
                self._from_height = {**self._from_height, **dict.fromkeys(fresh, height)}
        try:
            self.trust.set_revocation_list(crl)
        except StaleRevocationList:
            pass  # this peer holds a newer one already (CRLs only grow: its serials are in it)

    def _keep(self, kept: bytes) -> None:
        if self.path is not None:
            tmp = self.path.with_name(self.path.name + ".tmp")
            try:
                with open(tmp, "wb") as f:
                    f.write(pack(*self._kept, kept))
                    f.flush()
                    os.fsync(f.fileno())
                tmp.replace(self.path)
            except OSError as exc:
                raise StorageError(f"cannot keep the ordered revocation lists at {self.path}: {exc}") from None
        self._kept.append(kept)

    def unordered(self) -> x509.CertificateRevocationList | None:
        """The trust store's CRL when it revokes a serial the log has not ordered (then this
        peer appends it), else None."""
        crl = self.trust.revocation_list
        if crl is None or not {r.serial_number for r in crl} - self._from_height.keys():
            return None
        return crl

    def check(self, block) -> None:
        """RevokedCertificate if a certificate the ordered CRLs revoke endorsed `block` or
        signed one of its transactions, `block` coming after the entry (its height at or above
        the entry's), at any date."""
        from_height = self._from_height
        if not from_height:
            return
        signers = [fp for fp, _ in block.signed.endorsements] + [tx.submitter for tx in block.transactions]
        for fp in dict.fromkeys(signers):
            try:
                serial = self.trust.serial_of(fp)
            except LedgerError:
                continue  # unknown: the block's own checks decide
            if block.height >= from_height.get(serial, block.height + 1):
                raise RevokedCertificate(f"block {block.height} is signed by a certificate a revocation list "
                                         "earlier in the log revokes")
