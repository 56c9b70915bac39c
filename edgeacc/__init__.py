"""edgeacc: an RSA accumulator engine in C/GMP (DESIGN.md section 8 is the API contract)."""
from edgeacc import errors
from edgeacc.accumulator import Accumulator, update_witness, verify_membership
from edgeacc.encoding import MembershipProof, decode_element, encode_element
from edgeacc.params import Params, generate_insecure_params
from edgeacc.primes import check_representative, hash_to_prime, is_first_representative
from edgeacc._core import powm

__version__ = "0.1.0"

__all__ = [
    "Accumulator",
    "MembershipProof",
    "Params",
    "check_representative",
    "decode_element",
    "encode_element",
    "errors",
    "generate_insecure_params",
    "hash_to_prime",
    "is_first_representative",
    "powm",
    "update_witness",
    "verify_membership",
]
