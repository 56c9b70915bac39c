"""Every class of bad input raises an edgeacc exception, checked before GMP sees it.

GMP aborts or raises SIGFPE on some inputs (zero modulus, negative exponent with a
non-invertible base), which would kill the test runner; so each case runs in its own
subprocess and the test reads back which exception it raised (or how it died).
"""
import subprocess
import sys
import textwrap

import pytest

PRELUDE = textwrap.dedent("""
    import gmpy2, edgeacc
    from edgeacc import _core
    P = edgeacc.Params.rsa2048()
    p = int(gmpy2.next_prime(2**300)); q = int(gmpy2.next_prime(2**301))
    T = edgeacc.Params(p * q, insecure=True)
    acc = edgeacc.Accumulator(P, P.generator(b"bad"))
    x, k = edgeacc.hash_to_prime(b"e")
    acc.add(x)
    w = acc.witness(0)
""")

CASES = {
    # exponents
    "powm negative exponent": ("edgeacc.powm(3, -1, P.n)", "InvalidExponent"),
    "powm zero exponent": ("edgeacc.powm(3, 0, P.n)", "InvalidExponent"),
    "verify zero element": ("edgeacc.verify_membership(P, w, 0, acc.value)", "InvalidExponent"),
    "verify negative element": ("edgeacc.verify_membership(P, w, -x, acc.value)", "InvalidExponent"),
    "update_witness negative": ("edgeacc.update_witness(P, w, [-3])", "InvalidExponent"),
    "product negative factor": ("_core.product([3, -5])", "InvalidExponent"),
    "powm_product zero exponent": ("_core.powm_product(5, [3, 0], P.n)", "InvalidExponent"),
    "add zero": ("acc.add(0)", "InvalidExponent"),
    "add even": ("acc.add(2**255)", "InvalidExponent"),
    "verify element one": ("edgeacc.verify_membership(P, acc.value, 1, acc.value)", "InvalidExponent"),
    "batch verify element one": ("edgeacc.batch_verify(P, [(acc.value, 1, acc.value)])", "InvalidExponent"),
    # moduli
    "powm zero modulus": ("edgeacc.powm(3, 5, 0)", "InvalidModulus"),
    "powm even modulus": ("edgeacc.powm(3, 5, 2**64)", "InvalidModulus"),
    "powm negative modulus": ("edgeacc.powm(3, 5, -P.n)", "InvalidModulus"),
    "powm modulus one": ("edgeacc.powm(0, 5, 1)", "InvalidModulus"),
    "params zero": ("edgeacc.Params(0)", "InvalidModulus"),
    "params even": ("edgeacc.Params(P.n + 1)", "InvalidModulus"),
    "params tiny insecure": ("edgeacc.Params(15, insecure=True)", "InvalidModulus"),
    "verify zero modulus": ("_core.verify_membership(w, x, acc.value, 0)", "InvalidModulus"),
    # group elements
    "powm base >= N": ("edgeacc.powm(P.n, 5, P.n)", "InvalidElement"),
    "powm negative base": ("edgeacc.powm(-2, 5, P.n)", "InvalidElement"),
    "verify witness >= N": ("edgeacc.verify_membership(P, P.n + 5, x, acc.value)", "InvalidElement"),
    "verify witness 0": ("edgeacc.verify_membership(P, 0, x, acc.value)", "InvalidElement"),
    "verify witness 1": ("edgeacc.verify_membership(P, 1, x, acc.value)", "InvalidElement"),
    "verify witness -1": ("edgeacc.verify_membership(P, P.n - 1, x, acc.value)", "InvalidElement"),
    "verify value >= N": ("edgeacc.verify_membership(P, w, x, 2 * P.n)", "InvalidElement"),
    "witness not coprime": ("edgeacc.verify_membership(T, p, x, 4)", "InvalidElement"),
    "value not coprime": ("edgeacc.verify_membership(T, 4, x, 3 * q)", "InvalidElement"),
    "accumulator bad generator": ("edgeacc.Accumulator(T, p)", "InvalidElement"),
    "update_witness zero witness": ("edgeacc.update_witness(P, 0, [x])", "InvalidElement"),
    "encode element >= N": ("edgeacc.encode_element(P, P.n)", "InvalidElement"),
    "decode truncated": ("edgeacc.decode_element(P, b'\\\\x01' * 255)", "EncodingError"),
    # data and arguments
    "hash empty data": ("edgeacc.hash_to_prime(b'')", "InvalidArgument"),
    "check_representative empty": ("edgeacc.check_representative(b'', x, k)", "InvalidArgument"),
    "check nonce too large": ("_core.check_representative(b'd', b'e', x, 2**40, 256)", "InvalidArgument"),
    "witness index out of range": ("acc.witness(5)", "InvalidArgument"),
    "witness negative index": ("acc.witness(-1)", "InvalidArgument"),
    "value_at out of range": ("acc.value_at(7)", "InvalidArgument"),
    # types
    "hash str data": ("edgeacc.hash_to_prime('text')", "EdgeaccTypeError"),
    "hash None": ("edgeacc.hash_to_prime(None)", "EdgeaccTypeError"),
    "powm float exponent": ("edgeacc.powm(3, 2.0, P.n)", "EdgeaccTypeError"),
    "powm str base": ("edgeacc.powm('3', 2, P.n)", "EdgeaccTypeError"),
    "powm bool exponent": ("edgeacc.powm(3, True, P.n)", "EdgeaccTypeError"),
    "add float": ("acc.add(3.0)", "EdgeaccTypeError"),
    "verify str witness": ("edgeacc.verify_membership(P, 'w', x, acc.value)", "EdgeaccTypeError"),
    "params str": ("edgeacc.Params('123')", "EdgeaccTypeError"),
    "accumulator bad params": ("edgeacc.Accumulator(P.n, 4)", "EdgeaccTypeError"),
    "witness float index": ("acc.witness(0.0)", "EdgeaccTypeError"),
}


def _run(expr):
    code = PRELUDE + textwrap.dedent(f"""
        try:
            {expr}
        except edgeacc.errors.EdgeaccError as exc:
            print("RAISED", type(exc).__name__, "|", exc)
        except BaseException as exc:
            print("FOREIGN", type(exc).__name__, "|", exc)
        else:
            print("NO EXCEPTION")
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_raises_edgeacc_error(name):
    expr, expected = CASES[name]
    proc = _run(expr)
    assert proc.returncode == 0, f"process died with {proc.returncode}: {proc.stderr[-500:]}"
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith(f"RAISED {expected} |"), line
    assert len(line.split("|", 1)[1].strip()) > 10, "the message must say what is wrong"
