"""edgeacc: an RSA accumulator engine in C/GMP (DESIGN.md section 8 is the API contract)."""
from edgeacc import errors
from edgeacc.accumulator import Accumulator, update_witness, verify_membership
from edgeacc.batch import (MultiExpTable, aggregate_witnesses, batch_verify, multi_exp,
                           root_factory, shamir_trick, update_witnesses)
from edgeacc import poe
from edgeacc.poe import (PoEProof, SetMembershipProof, prove_set_membership,
                         verify_set_membership)
from edgeacc.encoding import MembershipProof, decode_element, encode_element
from edgeacc.params import Params, generate_insecure_params
from edgeacc.primes import check_representative, hash_to_prime, is_first_representative
from edgeacc._core import powm

__version__ = "0.1.0"

__all__ = [
    "Accumulator",
    "MembershipProof",
    "MultiExpTable",
    "Params",
    "PoEProof",
    "SetMembershipProof",
    "aggregate_witnesses",
    "batch_verify",
    "multi_exp",
    "poe",
    "prove_set_membership",
    "root_factory",
    "shamir_trick",
    "update_witnesses",
    "verify_set_membership",
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
