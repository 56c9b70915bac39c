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


class BrokenLink(ValidationError):
    """A block's previous-digest does not match the chain's last block."""


class MerkleMismatch(ValidationError):
    """A block's Merkle root or transaction count does not match its transactions."""


class AccumulatorMismatch(ValidationError):
    """A block's accumulator element, nonce or value is not the one the chain implies."""


class ReplayedTransaction(ValidationError):
    """A transaction id is already on the chain (or twice in one block)."""


class StaleStatus(ValidationError):
    """A Type-II/Type-III status does not advance past the last one recorded."""


class IdentityError(ValidationError):
    """A certificate or signature problem."""


class UnknownCertificate(IdentityError):
    """A fingerprint names no certificate issued by the deployment's CA."""


class RevokedCertificate(IdentityError):
    """A certificate is on the CA's revocation list."""


class UnauthorizedSigner(IdentityError):
    """A certificate's role or chain does not allow this signature."""


class BadSignature(IdentityError):
    """A signature does not verify under the named certificate."""


class EndorsementError(IdentityError):
    """A block's endorsements do not satisfy the chain's policy."""


class StorageError(LedgerError):
    """The on-disk state is unreadable, inconsistent or fails re-validation."""


class ObjectIntegrityError(StorageError):
    """An object in the content-addressed store does not hash to its address."""


class NotFound(LedgerError, KeyError):
    """No such transaction, block, chain, identity or object."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ConfigurationError(LedgerError, ValueError):
    """A deployment or network setting is invalid."""


class ArgumentError(ConfigurationError, TypeError):
    """An argument of a public entry point has the wrong type or an invalid value; the
    message names the argument (ledger.checks raises it)."""
