"""Exceptions of the provenance layer.

Every error derives from ProvenanceError, itself a LedgerError, so callers catch one hierarchy
for the whole package (and EdgeaccError above it when the ledger derives from the engine's)."""
from __future__ import annotations


class ProvenanceError(Exception):
    """Base of every exception raised by ledger.provenance."""


class EncodingError(ProvenanceError):
    """Bytes that are not the canonical encoding of a set of tensors."""


class DeviceError(ProvenanceError):
    """An unknown device, a certificate not issued by the deployment's CA, or a bad signature."""


class RecordError(ProvenanceError):
    """A training record that is inconsistent with the run or the ledger."""
