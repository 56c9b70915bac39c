"""Bad input to the batch / PoE / serialisation API and to the C-integer parameters of
``_core`` raises an edgeacc exception (found by fuzzing; each case used to leak a bare
TypeError / OverflowError / IndexError / AttributeError / ValueError, hang, or pass bad
values through unchecked). Same subprocess harness as test_bad_input.py."""
import pytest

from test_bad_input import _run

PRELUDE_EXTRA = """
from edgeacc.encoding import MembershipProof
pp = edgeacc.poe.PoEProof(w)
"""

CASES = {
    # C integer parameters: no bare OverflowError/TypeError, no float truncation
    "hash_candidate negative nonce": ("_core.hash_candidate(b'd', b'e', -1, 256)", "InvalidArgument"),
    "hash_candidate float nonce": ("_core.hash_candidate(b'd', b'e', 1.5, 256)", "EdgeaccTypeError"),
    "hash_to_prime negative bits": ("_core.hash_to_prime(b'd', b'e', -1, 100)", "InvalidArgument"),
    "hash_to_prime None max_nonce": ("_core.hash_to_prime(b'd', b'e', 256, None)", "EdgeaccTypeError"),
    "check_representative huge bits": ("_core.check_representative(b'd', b'e', x, 0, 2**70)", "InvalidArgument"),
    "mexp_choose negative": ("_core.mexp_choose(-1, 100)", "InvalidArgument"),
    "smallest_factor negative bound": ("_core.smallest_factor(P.n, -1)", "InvalidArgument"),
    "smallest_factor huge bound (hang)": ("_core.smallest_factor(P.n, 2**64 - 1)", "InvalidArgument"),
    "core multi_exp str method": ("_core.multi_exp([2], [3], P.n, method='2')", "EdgeaccTypeError"),
    "core multi_exp negative param": ("_core.multi_exp([2], [3], P.n, method=1, param=-1)", "InvalidArgument"),
    "multi_exp huge param": ("edgeacc.multi_exp(P, [2], [3], param=2**70)", "InvalidArgument"),
    "table negative group_size": ("edgeacc.MultiExpTable(P, [2], group_size=-1)", "InvalidArgument"),
    "table float group_size": ("edgeacc.MultiExpTable(P, [2], group_size=1.0)", "EdgeaccTypeError"),
    "root_factory negative arity": ("edgeacc.root_factory(P, w, [3, 5], arity=-1)", "InvalidArgument"),
    "root_factory None arity": ("edgeacc.root_factory(P, w, [3, 5], arity=None)", "EdgeaccTypeError"),
    "unweighted negative group": ("_core._batch_check_unweighted([w], [x], [acc.value], P.n, group_size=-1)", "InvalidArgument"),
    # sequences
    "core product None": ("_core.product(None)", "EdgeaccTypeError"),
    "core multi_exp bytes": ("_core.multi_exp(b'ab', b'ab', P.n)", "EdgeaccTypeError"),
    "core batch_verify int vidx": ("_core.batch_verify([w], [x], [3], 5, [acc.value], P.n)", "EdgeaccTypeError"),
    "multi_exp None": ("edgeacc.multi_exp(P, None, None)", "EdgeaccTypeError"),
    "table None": ("edgeacc.MultiExpTable(P, None)", "EdgeaccTypeError"),
    "root_factory int elements": ("edgeacc.root_factory(P, w, 5)", "EdgeaccTypeError"),
    "update_witnesses None": ("edgeacc.update_witnesses(P, None, [x])", "EdgeaccTypeError"),
    "add_many None": ("acc.add_many(None)", "EdgeaccTypeError"),
    "update_witness None": ("edgeacc.update_witness(P, w, None)", "EdgeaccTypeError"),
    "verify_set_membership None": ("edgeacc.verify_set_membership(P, None, acc.value, None)", "EdgeaccTypeError"),
    # aggregate_witnesses pairs
    "aggregate short pair": ("edgeacc.aggregate_witnesses(P, [(w,)])", "EdgeaccTypeError"),
    "aggregate bytes pair": ("edgeacc.aggregate_witnesses(P, [b'ab'])", "EdgeaccTypeError"),
    "aggregate triple": ("edgeacc.aggregate_witnesses(P, [(w, x, 1)])", "EdgeaccTypeError"),
    "aggregate None": ("edgeacc.aggregate_witnesses(P, None)", "EdgeaccTypeError"),
    # update_witnesses with nothing new still validates
    "update_witnesses empty bad witness": ("edgeacc.update_witnesses(P, [0], [])", "InvalidElement"),
    "updated_witnesses empty bad witness": ("acc.updated_witnesses([P.n], len(acc))", "InvalidElement"),
    "update_witnesses empty bad threads": ("edgeacc.update_witnesses(P, [w], [], threads=0)", "InvalidArgument"),
    # params must be Params
    "verify_membership None params": ("edgeacc.verify_membership(None, w, x, acc.value)", "EdgeaccTypeError"),
    "update_witness None params": ("edgeacc.update_witness(None, w, [x])", "EdgeaccTypeError"),
    "poe verify None params": ("edgeacc.poe.verify(None, w, 2**200 + 1, acc.value, pp)", "EdgeaccTypeError"),
    "encode None params": ("edgeacc.encode_element(None, w)", "EdgeaccTypeError"),
    "PoE from_bytes None params": ("edgeacc.PoEProof.from_bytes(None, b'x')", "EdgeaccTypeError"),
    "prove_set_membership None": ("edgeacc.prove_set_membership(None, [0])", "EdgeaccTypeError"),
    "set proof with non-PoE": ("edgeacc.SetMembershipProof(w, None).to_bytes(P)", "EdgeaccTypeError"),
    # MembershipProof serialisation
    "membership proof float element": ("MembershipProof(1.5, 0, w).to_bytes(P)", "EdgeaccTypeError"),
    "membership proof float nonce": ("MembershipProof(x, 0.5, w).to_bytes(P)", "EdgeaccTypeError"),
    "membership proof str nonce": ("MembershipProof(x, '5', w).to_bytes(P)", "EdgeaccTypeError"),
    "membership proof from None": ("MembershipProof.from_bytes(P, None)", "EdgeaccTypeError"),
    "membership proof from str": ("MembershipProof.from_bytes(P, 'abc')", "EdgeaccTypeError"),
    # moduli and test parameters
    "params prime square": ("edgeacc.Params(p * p, insecure=True)", "InvalidModulus"),
    "params prime cube": ("edgeacc.Params(q ** 3, insecure=True)", "InvalidModulus"),
    "insecure params str bits": ("edgeacc.generate_insecure_params('512')", "EdgeaccTypeError"),
    "insecure params float bits": ("edgeacc.generate_insecure_params(256.5)", "EdgeaccTypeError"),
    # a huge index is reported, not a ValueError from int -> str conversion
    "witness huge index": ("acc.witness(2**100000 + 1)", "InvalidArgument"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_batch_input_raises_edgeacc_error(name):
    expr, expected = CASES[name]
    proc = _run(PRELUDE_EXTRA.strip().replace("\n", "; ") + "; " + expr)
    assert proc.returncode == 0, f"process died with {proc.returncode}: {proc.stderr[-500:]}"
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith(f"RAISED {expected} |"), line
    assert len(line.split("|", 1)[1].strip()) > 10, "the message must say what is wrong"
