"""Exceptions of the provenance layer.

Every error derives from ProvenanceError, itself a ledger LedgerError, so callers catch one
hierarchy for the whole ledger package."""
from __future__ import annotations

from ledger.errors import LedgerError


class ProvenanceError(LedgerError):
    """Base of every exception raised by ledger.provenance."""


class TensorEncodingError(ProvenanceError, ValueError):
    """Bytes that are not the canonical encoding of a set of tensors."""


class DeviceError(ProvenanceError):
    """An unknown device, a certificate not issued by the deployment's CA, or a bad signature."""


class RecordError(ProvenanceError):
    """A training record that is inconsistent with the run or the ledger."""
