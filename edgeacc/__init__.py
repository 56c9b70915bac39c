"""edgeacc: an RSA accumulator engine in C/GMP (DESIGN.md section 8 is the API contract)."""
import os as _os


def _require_extension() -> None:
    """Fail with what to run when the C extension is missing (a source tree not yet built)."""
    import importlib.util

    if importlib.util.find_spec("edgeacc._core") is not None:
        return
    here = _os.path.dirname(_os.path.abspath(__file__))
    source_tree = _os.path.isfile(_os.path.join(here, "..", "bindings", "_core.pyx"))
    hint = (f"you are importing edgeacc from its source tree ({_os.path.dirname(here)}) and "
            "its C extension is not built there: run `python setup.py build_ext --inplace` "
            "in that directory, or `pip install .` and import it from another directory"
            if source_tree else "reinstall the package: `pip install --force-reinstall edgeacc`")
    raise ImportError(f"edgeacc's C extension edgeacc._core is missing: {hint}")


_require_extension()

from edgeacc import _core, errors  # noqa: E402 (after the extension check)
from edgeacc.accumulator import Accumulator, update_witness, verify_membership
from edgeacc.batch import (MultiExpTable, aggregate_witnesses, batch_verify, batch_verify_buffers, multi_exp,
                           root_factory, shamir_trick, update_witnesses)
from edgeacc import poe
from edgeacc.poe import (PoEProof, SetMembershipProof, prove_set_membership,
                         verify_set_membership)
from edgeacc.encoding import MembershipProof, decode_element, encode_element
from edgeacc import nonmem, poke, updates
from edgeacc.nonmem import (NonMembershipWitness, SetNonMembershipProof, batch_verify_nonmembership,
                            nonmembership_witness, prove_set_nonmembership, update_nonmembership_after_delete,
                            update_nonmembership_witness, update_witness_after_delete,
                            verify_nonmembership, verify_set_nonmembership)
from edgeacc.poke import PoKE2Proof
from edgeacc.updates import BatchUpdateProof, verify_update
from edgeacc.params import Params, generate_insecure_params
from edgeacc.primes import check_representative, hash_to_prime, is_first_representative
from edgeacc._core import build_info, powm

__version__ = _core.version()  # EDGEACC_VERSION_STRING in csrc/ea_api.h, the one version


def get_include() -> str:
    """The directory of the engine's public C headers and Cython .pxd files.

    For other extensions: `include_dirs=[edgeacc.get_include()]` (C) and
    `cythonize(..., include_path=[edgeacc.get_include()])` (`from edgeacc_c cimport ...`);
    link against the C library (`pkg-config --libs edgeacc`, csrc/Makefile).
    """
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "include")


__all__ = [
    "Accumulator",
    "BatchUpdateProof",
    "NonMembershipWitness",
    "PoKE2Proof",
    "SetNonMembershipProof",
    "batch_verify_nonmembership",
    "nonmem",
    "nonmembership_witness",
    "poke",
    "prove_set_nonmembership",
    "update_nonmembership_after_delete",
    "update_nonmembership_witness",
    "update_witness_after_delete",
    "updates",
    "verify_nonmembership",
    "verify_set_nonmembership",
    "verify_update",
    "MembershipProof",
    "MultiExpTable",
    "Params",
    "PoEProof",
    "SetMembershipProof",
    "aggregate_witnesses",
    "batch_verify",
    "batch_verify_buffers",
    "build_info",
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
    "get_include",
    "hash_to_prime",
    "is_first_representative",
    "powm",
    "update_witness",
    "verify_membership",
]
