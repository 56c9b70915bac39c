"""The exception hierarchy of edgeacc: every exception the package raises derives from
:class:`EdgeaccError`. Subclasses also derive from the matching builtin (ValueError,
TypeError) so generic handlers keep working."""


class EdgeaccError(Exception):
    """Base class of every exception raised by edgeacc."""


class EdgeaccTypeError(EdgeaccError, TypeError):
    """An argument has the wrong type (e.g. a float or str where an int is required)."""


class InvalidArgument(EdgeaccError, ValueError):
    """An argument has the right type but an invalid value."""


class InvalidModulus(InvalidArgument):
    """A modulus is zero, negative, even, too small, prime, or has a small factor."""


class InvalidExponent(InvalidArgument):
    """An exponent is zero or negative."""


class InvalidElement(InvalidArgument):
    """A group element is outside 1 < y < N-1 or shares a factor with N."""


class SearchExhausted(EdgeaccError):
    """A bounded search (hash-to-prime nonces) found nothing."""


class EncodingError(EdgeaccError, ValueError):
    """Serialised bytes are malformed: wrong length, version, or non-canonical value."""


class VerificationError(EdgeaccError):
    """A proof did not verify (raised only by APIs whose contract is to raise)."""
