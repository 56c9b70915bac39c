"""The exception hierarchy of edgeacc: every exception the package raises derives from
:class:`EdgeaccError`. Subclasses also derive from the matching builtin (ValueError,
TypeError) so generic handlers keep working."""


class EdgeaccError(Exception):
    """Base class of every exception raised by edgeacc."""


def brief(value, limit: int = 64) -> str:
    """An int for an error message: in full up to `limit` bits, else its size and leading hex
    digits (a message never prints a huge attacker-chosen integer in decimal)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return type(value).__name__
    if value.bit_length() <= limit:
        return str(value)
    sign = "-" if value < 0 else ""
    return f"{sign}<{abs(value).bit_length()}-bit int 0x{abs(value):x}"[:40] + "...>"


class EdgeaccTypeError(EdgeaccError, TypeError):
    """An argument has the wrong type (e.g. a float or str where an int is required)."""


class ReadOnlyError(EdgeaccError, AttributeError):
    """An immutable object (edgeacc.Params) was assigned to."""


class InvalidArgument(EdgeaccError, ValueError):
    """An argument has the right type but an invalid value."""


class InvalidModulus(InvalidArgument):
    """A modulus is zero, negative, even, too small, prime, or has a small factor."""


class InvalidExponent(InvalidArgument):
    """An exponent is zero or negative."""


class InvalidElement(InvalidArgument):
    """A group element is outside 1 < y < N-1 or shares a factor with N."""


class OutOfMemory(EdgeaccError, MemoryError):
    """The C core could not allocate memory (an error, never a verdict)."""


class SearchExhausted(EdgeaccError):
    """A bounded search (hash-to-prime nonces) found nothing."""


class EncodingError(EdgeaccError, ValueError):
    """Serialised bytes are malformed: wrong length, version, or non-canonical value."""


class VerificationError(EdgeaccError):
    """A proof did not verify (raised only by APIs whose contract is to raise)."""


class DkgError(EdgeaccError):
    """Distributed modulus generation failed; no modulus was produced."""


class ShareInconsistency(DkgError):
    """A share or broadcast value failed a consistency check: some party sent a wrong value."""


class ProtocolError(DkgError):
    """A message was malformed, out of order, unauthenticated, or the parties disagree on
    public values (parameters, session, the final N)."""


class PartyTimeout(DkgError, TimeoutError):
    """A party did not send an expected message in time (dropped or stalled)."""


class PeerDisconnected(DkgError, ConnectionError):
    """A party's channel closed before the ceremony finished."""


class CandidatesExhausted(DkgError):
    """No RSA modulus was found within the candidate budget (expected only when a party
    keeps sending wrong values that slip past the cheap checks)."""
