"""The exception hierarchy of the ledger: everything it raises on bad input or a fault derives
from :class:`LedgerError`. A rejected block or transaction leaves every chain unchanged."""
from __future__ import annotations


class LedgerError(Exception):
    """Base class of every exception raised by the ledger package."""


class EncodingError(LedgerError, ValueError):
    """Bytes are not a valid canonical encoding (truncated, trailing data, bad magic/version)."""


class ValidationError(LedgerError):
    """A block or transaction breaks a rule of the chain."""


class ValidationRejected(ValidationError):
    """An application validator of the chain (Network.add_validator) refused a Type-I
    transaction, so a peer does not endorse it; raised to the submitter when too few peers
    accept it to meet the endorsement policy."""


class WrongChain(ValidationError):
    """A block or transaction names another chain than the one it is offered to."""


class WrongHeight(ValidationError):
    """A block's height is not the next height of the chain."""


class SpeculationRefused(WrongHeight):
    """A block offered on top of a parent not yet applied cannot be checked before it (its
    parent carries status transactions): it is checked once the parent is applied."""


class BrokenLink(ValidationError):
    """A block's previous-digest does not match the chain's last block."""


class MerkleMismatch(ValidationError):
    """A block's Merkle root or transaction count does not match its transactions."""


class AccumulatorMismatch(ValidationError):
    """A block's accumulator element, nonce or value is not the one the chain implies."""


class ReplayedTransaction(ValidationError):
    """A transaction id is already on the chain (or twice in one block)."""


class UnprovenAnswer(ValidationError):
    """A remote peer's answer does not prove what it claims (a receipt without the endorsed
    header of its block and the Merkle path of the transaction in it)."""


class StaleStatus(ValidationError):
    """A Type-II/Type-III status does not advance past the last one recorded."""


class IdentityError(ValidationError):
    """A certificate or signature problem."""


class UnknownCertificate(IdentityError):
    """A fingerprint names no certificate issued by the deployment's CA."""


class RevokedCertificate(IdentityError):
    """A certificate is on the CA's revocation list."""


class CertificateNotValid(IdentityError):
    """A certificate signs at a time outside its validity period (expired or not yet valid)."""


class StaleRevocationList(IdentityError):
    """A revocation list older than the installed one, or one that would undo a revocation."""


class UnauthorizedSigner(IdentityError):
    """A certificate's role or chain does not allow this signature."""


class BadSignature(IdentityError):
    """A signature does not verify under the named certificate."""


class AccessDenied(IdentityError):
    """A service refuses what this identity asks: etcd lets each chain's peers write their own
    chain's keys only (ledger.cluster.etcdauth)."""


class EndorsementError(IdentityError):
    """A block's endorsements do not satisfy the chain's policy."""


class StorageError(LedgerError):
    """The on-disk state is unreadable, inconsistent or fails re-validation."""


class ObjectIntegrityError(StorageError):
    """An object in the content-addressed store does not hash to its address."""


class ChainIntegrityError(StorageError):
    """A chain disagrees with a record of it held elsewhere: another layer's anchor (a Type-II
    or Type-III status), another peer's copy, or the peer's own memory. Raised before anything
    is written, so the evidence stays on disk. `chain_id`, `height`, `expected` (the recorded
    digest) and `found` (the chain's digest there, None when it has no such block) say where."""

    def __init__(self, message: str, *, chain_id: str, height: int, expected: bytes,
                 found: bytes | None) -> None:
        super().__init__(message)
        self.chain_id, self.height, self.expected, self.found = chain_id, height, expected, found


class RollbackDetected(ChainIntegrityError):
    """A chain no longer holds a block that was recorded: it was cut back."""


class ForkDetected(ChainIntegrityError):
    """A chain holds another block than the one recorded at that height: it was rewritten."""


class CommitPending(LedgerError):
    """The transaction is in a block that reached disk on some peers but fewer than the
    policy's quorum. It is not lost and must not be signed again: submit the same transaction
    again for its receipt once the lagging peers caught up (on the next commit or on open).
    `receipt` says where it is, `durable` on how many peers, `quorum` how many are needed."""

    def __init__(self, message: str, *, receipt, durable: int, quorum: int) -> None:
        super().__init__(message)
        self.receipt, self.durable, self.quorum = receipt, durable, quorum


class NotFound(LedgerError, KeyError):
    """No such transaction, block, chain, identity or object."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ConfigurationError(LedgerError, ValueError):
    """A deployment or network setting is invalid."""


class ArgumentError(ConfigurationError, TypeError):
    """An argument of a public entry point has the wrong type or an invalid value; the
    message names the argument (ledger.checks raises it)."""


class ServiceUnavailable(LedgerError):
    """A peer, the block cutter or the ordering service (etcd) cannot be reached or has no
    quorum now (the distributed deployment). Nothing was acknowledged: submit the same signed
    transaction again later (idempotent), never a re-signed copy."""


class ServerBusy(ServiceUnavailable):
    """A server holds as many calls of a method (submission streams) as it takes: use the
    method the message names (Submit) instead."""


class TransactionTooLarge(ValidationError):
    """A transaction does not fit in one block of the ordering service's request limit: put
    the bulk bytes in the object store and submit their digest (ledger.ObjectRef)."""


class TermQuotaExceeded(ServiceUnavailable):
    """An endorser keeps every proposal it endorsed for an unfilled height until the log ends
    the proposer's term (ledger.cluster.follower, "Terms"), and at most a quota of them per
    term: past it, it endorses nothing more of that term. Nothing was acknowledged; a block
    cutter its own store refuses so resigns, a new term starts, and the transaction may be
    submitted again."""
