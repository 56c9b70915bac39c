# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False
"""Low-level bindings of the edgeacc C core, named after the C functions.

Every wrapper converts and checks its arguments before any GMP call (GMP aborts or raises
SIGFPE on some inputs), then releases the GIL around the C work. Users want the high-level
API in :mod:`edgeacc`; this module is its engine room.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset, memcpy

from gmp cimport (mpz_t, mpz_init, mpz_clear, mpz_set_si, mpz_neg, mpz_sgn, mpz_sizeinbase,
                  mpz_import, mpz_export, mpz_fits_slong_p, mpz_get_si, mpz_cmp, mpz_swap)
cimport edgeacc_c as c

cdef extern from "ea_multiexp.h":
    pass  # internal header: the complete ea_mexp_table that MultiExpTable embeds

cdef extern from *:
    """
    /* z = v (an exact int) straight from CPython's digits into GMP's limbs, no bytes object
     * in between (mpz_import's path for nail bits goes byte by byte); 0 where the int layout
     * is not the one read here (PyPy, CPython >= 3.12: the caller goes through bytes). At
     * t = 1024 the bytes route was ~5% of batch_verify, all of it serial. */
    static int ea_pylong_to_mpz(mpz_ptr z, PyObject *v)
    {
    #if !defined(PYPY_VERSION) && PY_VERSION_HEX < 0x030C0000 && GMP_NAIL_BITS == 0
        Py_ssize_t size = Py_SIZE(v);
        size_t nd = (size_t)(size < 0 ? -size : size), k = 0, i;
        size_t nlimbs = (nd * PyLong_SHIFT + GMP_NUMB_BITS - 1) / GMP_NUMB_BITS;
        const digit *d = ((PyLongObject *)v)->ob_digit;
        mp_limb_t *limbs, acc = 0;
        unsigned fill = 0;          /* bits in acc */
        if (nd == 0) {
            mpz_set_ui(z, 0);
            return 1;
        }
        limbs = mpz_limbs_write(z, (mp_size_t)nlimbs);
        for (i = 0; i < nd; i++) {
            mp_limb_t x = d[i];
            acc |= x << fill;
            fill += PyLong_SHIFT;
            if (fill >= GMP_NUMB_BITS) {        /* the digit's top fill bits start the next */
                limbs[k++] = acc;
                fill -= GMP_NUMB_BITS;
                acc = x >> (PyLong_SHIFT - fill);
            }
        }
        if (k < nlimbs)
            limbs[k++] = acc;
        mpz_limbs_finish(z, size < 0 ? -(mp_size_t)k : (mp_size_t)k);
        return 1;
    #else
        (void)z; (void)v;
        return 0;
    #endif
    }
    """
    int ea_pylong_to_mpz(mpz_t z, object v)

from operator import index as _operator_index

from edgeacc import errors

H2P_MAX_BITS = c.EA_H2P_MAX_BITS

# The protocol constants of csrc/ea_protocol.h, the one place that defines them.
H2P_DOMAIN = <bytes>c.EA_H2P_DOMAIN
H2P_BITS = c.EA_H2P_BITS
H2P_MAX_NONCE = c.EA_H2P_MAX_NONCE
GENERATOR_DOMAIN = <bytes>c.EA_GENERATOR_DOMAIN
MIN_SECURE_BITS = c.EA_MIN_SECURE_BITS
MIN_INSECURE_BITS = c.EA_MIN_INSECURE_BITS
RSA_2048 = int((<bytes>c.EA_RSA2048_HEX).decode(), 16)
MEMBERSHIP_PROOF_MAGIC = <bytes>c.EA_MEMBERSHIP_PROOF_MAGIC
MEMBERSHIP_PROOF_VERSION = c.EA_MEMBERSHIP_PROOF_VERSION
BATCH_SECURITY_BITS = c.EA_BATCH_SECURITY_BITS
# The C copies of the ledger's layout constants (the ledger owns them; tests compare).
LEDGER_LAYOUT = {
    "PROOF_MAGIC": <bytes>c.EA_LEDGER_PROOF_MAGIC, "PROOF_VERSION": c.EA_LEDGER_PROOF_VERSION,
    "HEADER_MAGIC": <bytes>c.EA_LEDGER_HEADER_MAGIC, "BLOCK_VERSION": c.EA_LEDGER_BLOCK_VERSION,
    "TX_MAGIC": <bytes>c.EA_LEDGER_TX_MAGIC, "TX_VERSION": c.EA_LEDGER_TX_VERSION,
    "TX_KIND_MAX": c.EA_LEDGER_TX_KIND_MAX, "ELEMENT_DOMAIN": <bytes>c.EA_LEDGER_ELEMENT_DOMAIN,
    "DIGEST_BYTES": c.EA_LEDGER_DIGEST_BYTES, "SIGNATURE_BYTES": c.EA_LEDGER_SIGNATURE_BYTES,
    "MAX_CHAIN_ID": c.EA_LEDGER_MAX_CHAIN_ID,
    "CHAIN_ID_CHARS": (<bytes>c.EA_LEDGER_CHAIN_ID_CHARS).decode(),
    "MAX_PROOF_PART": c.EA_LEDGER_MAX_PROOF_PART,
    "MAX_PAYLOAD_BYTES": c.EA_LEDGER_MAX_PAYLOAD_BYTES, "MAX_URL_BYTES": c.EA_LEDGER_MAX_URL_BYTES,
    "MAX_ELEMENT_BYTES": c.EA_LEDGER_MAX_ELEMENT_BYTES,
    "REPRESENTATIVE_BYTES": c.EA_LEDGER_REPRESENTATIVE_BYTES,
}


def version() -> str:
    """The C library's version (EDGEACC_VERSION_STRING): the version of the distribution."""
    return c.ea_version().decode()
_MAX_NONCE_LIMIT = 0xFFFFFFFF


cdef int _check(int rc) except -1:
    """Map a C status code to the edgeacc exception hierarchy (the only place that does)."""
    if rc == c.EA_OK:
        return 0
    if rc == c.EA_ERR_MODULUS:
        raise errors.InvalidModulus("modulus must be an odd integer >= 3")
    if rc == c.EA_ERR_EXPONENT:
        raise errors.InvalidExponent("exponent must be a positive integer")
    if rc == c.EA_ERR_ELEMENT:
        raise errors.InvalidElement("group element must satisfy 1 < y < N-1 and gcd(y, N) = 1")
    if rc == c.EA_ERR_ARGUMENT:
        raise errors.InvalidArgument("invalid argument to the C core")
    if rc == c.EA_ERR_NOMEM:
        raise errors.OutOfMemory("the C core could not allocate memory")
    if rc == c.EA_ERR_EXHAUSTED:
        raise errors.SearchExhausted("no probable prime among the allowed nonces")
    if rc == c.EA_ERR_RANDOM:
        raise errors.EdgeaccError("the operating system's random source failed")
    raise errors.EdgeaccError(f"unknown status {rc} from the C core")


cdef object _index(object obj, str what):
    """operator.index(obj): an exact int (an int subclass's own methods never run after it);
    whatever a hostile __index__ raises becomes an EdgeaccTypeError."""
    try:
        return _operator_index(obj)
    except Exception:
        raise errors.EdgeaccTypeError(f"{what}: __index__ of {type(obj).__name__} failed") from None


cdef object _as_int(object obj, str what):
    """Accept int or gmpy2.mpz (anything exact with __index__), never bool/float/str."""
    if type(obj) is int:
        return obj
    if isinstance(obj, (bool, float, str, bytes)) or not hasattr(type(obj), "__index__"):
        raise errors.EdgeaccTypeError(f"{what} must be an int (or gmpy2.mpz), got {type(obj).__name__}")
    return _index(obj, what)


cdef object _small_int(object obj, str what, object lo, object hi):
    """A plain int in lo..hi for a C integer parameter (no float truncation, no bool, and an
    edgeacc exception instead of Cython's OverflowError/TypeError)."""
    if isinstance(obj, (bool, float, str, bytes)) or not hasattr(type(obj), "__index__"):
        raise errors.EdgeaccTypeError(f"{what} must be an int, got {type(obj).__name__}")
    v = _index(obj, what)
    if not lo <= v <= hi:
        raise errors.InvalidArgument(f"{what} must be in {lo}..{hi}")
    return v


cdef list _as_list(object values, str what):
    """A new list from a sequence argument (always a copy: the loops below index it without
    bounds checks while an item's __index__ or another thread may mutate the caller's list);
    str/bytes (iterables of characters or bytes) and non-iterables are type errors."""
    if isinstance(values, list):
        return list(<list>values)
    if isinstance(values, (str, bytes, bytearray, memoryview)) or not hasattr(values, "__iter__"):
        raise errors.EdgeaccTypeError(f"the {what} list must be a sequence of ints, got {type(values).__name__}")
    try:
        return list(values)
    except Exception:
        raise errors.EdgeaccTypeError(f"the {what} list could not be iterated") from None


cdef int _to_mpz(mpz_t z, object obj, str what) except -1:
    """Python int -> mpz from its digits, else through a big-endian byte buffer."""
    cdef object v = _as_int(obj, what)
    cdef bytes raw
    if ea_pylong_to_mpz(z, v):
        return 0
    if -0x3FFFFFFFFFFFFFFF <= v <= 0x3FFFFFFFFFFFFFFF:
        mpz_set_si(z, <long>v)
        return 0
    raw = abs(v).to_bytes((abs(v).bit_length() + 7) // 8, "big")
    mpz_import(z, len(raw), 1, 1, 1, 0, <const char *>raw)
    if v < 0:
        mpz_neg(z, z)
    return 0


cdef object _from_mpz(mpz_t z):
    """mpz -> Python int."""
    cdef size_t count = 0
    cdef size_t nbytes
    cdef bytes buf
    if mpz_fits_slong_p(z):
        return mpz_get_si(z)
    nbytes = (mpz_sizeinbase(z, 2) + 7) // 8
    buf = PyBytes_FromStringAndSize(NULL, nbytes)
    mpz_export(PyBytes_AS_STRING(buf), &count, 1, 1, 1, 0, z)
    v = int.from_bytes(buf[:count], "big")
    return -v if mpz_sgn(z) < 0 else v


cdef class _Mpz:
    """One owned mpz_t: init in __cinit__, clear in __dealloc__."""
    cdef mpz_t z

    def __cinit__(self):
        mpz_init(self.z)

    def __dealloc__(self):
        mpz_clear(self.z)


cdef class _MpzVec:
    """An owned C array of mpz_t filled from a Python sequence of ints of any sign; the
    wrappers check signs and ranges themselves."""
    cdef mpz_t *items
    cdef size_t count

    def __cinit__(self, values, str what):
        cdef size_t i
        seq = _as_list(values, what)
        self.count = 0
        self.items = <mpz_t *>malloc(max(len(seq), 1) * sizeof(mpz_t))
        if self.items == NULL:
            raise errors.OutOfMemory(f"cannot allocate the {what} list")
        for i in range(len(seq)):
            mpz_init(self.items[i])
            self.count = i + 1
            _to_mpz(self.items[i], seq[i], what)

    def __dealloc__(self):
        cdef size_t i
        if self.items != NULL:
            for i in range(self.count):
                mpz_clear(self.items[i])
            free(self.items)

    cdef list to_list(self):
        cdef size_t i
        return [_from_mpz(self.items[i]) for i in range(self.count)]


RULE_NONNEG = c.EA_RULE_NONNEG
RULE_POSITIVE = c.EA_RULE_POSITIVE
RULE_ELEMENT = c.EA_RULE_ELEMENT
RULE_PRIME = c.EA_RULE_PRIME
_RULE_TEXT = {
    c.EA_RULE_NONNEG: "non-negative",
    c.EA_RULE_POSITIVE: "positive",
    c.EA_RULE_ELEMENT: "an odd integer >= 3 (an accumulator element)",
    c.EA_RULE_PRIME: "a prime representative (an odd probable prime >= 3)",
}


cdef int _require_exponents(_MpzVec vec, int rule, str what) except -1:
    """The C rule (ea_check_exponents) for every item; the error names the first that fails."""
    cdef size_t bad = 0
    if c.ea_check_exponents(&bad, <const mpz_t *>vec.items, vec.count, rule) != c.EA_OK:
        raise errors.InvalidExponent(f"{what} {bad} must be {_RULE_TEXT[rule]}, "
                                     f"got {errors.brief(_from_mpz(vec.items[bad]))}")
    return 0


cdef int _require_exponent(mpz_t x, int rule, str what) except -1:
    if c.ea_check_exponent(x, rule) != c.EA_OK:
        raise errors.InvalidExponent(f"{what} must be {_RULE_TEXT[rule]}, got {errors.brief(_from_mpz(x))}")
    return 0


def check_exponents(xs, rule, what="element"):
    """ea_check_exponents: raise InvalidExponent naming the first item of xs that breaks the
    rule (RULE_NONNEG, RULE_POSITIVE, RULE_ELEMENT, RULE_PRIME)."""
    cdef int r = _small_int(rule, "rule", c.EA_RULE_NONNEG, c.EA_RULE_PRIME)
    cdef _MpzVec vec = _MpzVec(xs, what)
    _require_exponents(vec, r, what)


def check_exponent(x, rule, what="element"):
    """ea_check_exponent: raise InvalidExponent unless x satisfies the rule."""
    cdef int r = _small_int(rule, "rule", c.EA_RULE_NONNEG, c.EA_RULE_PRIME)
    cdef _Mpz zx = _Mpz()
    _to_mpz(zx.z, x, what)
    _require_exponent(zx.z, r, what)


cdef int _require_modulus(mpz_t n) except -1:
    if mpz_sgn(n) <= 0:
        raise errors.InvalidModulus("modulus must be a positive odd integer >= 3, got a non-positive one")
    return _check(c.ea_check_modulus(n))


cdef int _require_element(mpz_t y, mpz_t n, str what) except -1:
    """Raise InvalidElement, naming the argument, unless 1 < y < n-1 and gcd(y, n) = 1."""
    if c.ea_check_element(y, n) != c.EA_OK:
        raise errors.InvalidElement(f"{what} must be a group element: 1 < {what} < N-1 and gcd({what}, N) = 1")
    return 0


def check_modulus(n):
    """Raise InvalidModulus unless n is an odd integer >= 3."""
    cdef _Mpz zn = _Mpz()
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)


def check_element(y, n):
    """Raise InvalidElement unless 1 < y < n-1 and gcd(y, n) = 1."""
    cdef _Mpz zy = _Mpz(), zn = _Mpz()
    _to_mpz(zy.z, y, "element")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zy.z, zn.z, "element")


cdef object _powm(object base, object exp, object n, bint secret):
    cdef _Mpz zb = _Mpz(), ze = _Mpz(), zn = _Mpz(), zr = _Mpz()
    cdef int rc
    _to_mpz(zb.z, base, "base")
    _to_mpz(ze.z, exp, "exponent")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    if mpz_sgn(ze.z) <= 0:
        raise errors.InvalidExponent("exponent must be a positive integer")
    with nogil:
        if secret:
            rc = c.ea_powm_sec(zr.z, zb.z, ze.z, zn.z)
        else:
            rc = c.ea_powm(zr.z, zb.z, ze.z, zn.z)
    if rc == c.EA_ERR_ELEMENT:
        raise errors.InvalidElement("base must satisfy 0 <= base < modulus")
    _check(rc)
    return _from_mpz(zr.z)


def powm(base, exp, n):
    """ea_powm: base^exp mod n for 0 <= base < n, exp > 0, odd n >= 3."""
    return _powm(base, exp, n, False)


def powm_sec(base, exp, n):
    """ea_powm_sec: base^exp mod n with GMP's side-channel silent mpz_powm_sec (secret exp)."""
    return _powm(base, exp, n, True)


def jacobi(a, n):
    """ea_jacobi: the Jacobi symbol (a/n) for odd n >= 3."""
    cdef _Mpz za = _Mpz(), zn = _Mpz()
    cdef int j = 0
    _to_mpz(za.z, a, "a")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _check(c.ea_jacobi(&j, za.z, zn.z))
    return j


def derive_generator(n, chain_id):
    """ea_derive_generator: the generator of chain_id (non-empty bytes) under n."""
    cdef bytes m = _as_bytes(chain_id, "chain_id")
    cdef _Mpz zn = _Mpz(), zg = _Mpz()
    cdef const unsigned char *mp = m
    cdef size_t ml = len(m)
    cdef int rc
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    if ml == 0:
        raise errors.InvalidArgument("chain_id must not be empty")
    with nogil:
        rc = c.ea_derive_generator(zg.z, zn.z, mp, ml)
    _check(rc)
    return _from_mpz(zg.z)


def canonical(y, n):
    """ea_canonical: min(y, n - y), the representative of y's class in Z_n^*/{+-1}."""
    cdef _Mpz zy = _Mpz(), zn = _Mpz(), zr = _Mpz()
    _to_mpz(zy.z, y, "element")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zy.z, zn.z, "element")
    _check(c.ea_canonical(zr.z, zy.z, zn.z))
    return _from_mpz(zr.z)


def equal_pm(a, b, n):
    """ea_equal_pm: a = +-b (mod n), for a, b already reduced into [0, n)."""
    cdef _Mpz za = _Mpz(), zb = _Mpz(), zn = _Mpz()
    _to_mpz(za.z, a, "element")
    _to_mpz(zb.z, b, "element")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(za.z, zn.z, "element")
    _require_element(zb.z, zn.z, "element")
    return bool(c.ea_equal_pm(za.z, zb.z, zn.z))


def verify_membership(w, x, v, n):
    """ea_verify_membership: True iff w^x = +-v (mod n). Raises on malformed input."""
    cdef _Mpz zw = _Mpz(), zx = _Mpz(), zv = _Mpz(), zn = _Mpz()
    cdef int ok = 0, rc
    _to_mpz(zw.z, w, "witness")
    _to_mpz(zx.z, x, "element")
    _to_mpz(zv.z, v, "accumulator value")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_exponent(zx.z, c.EA_RULE_ELEMENT, "element")
    with nogil:  # ea_verify_membership validates w and v itself (one gcd for both)
        rc = c.ea_verify_membership(zw.z, zx.z, zv.z, zn.z, &ok)
    _check(rc)
    return bool(ok)


_MAX_FACTOR_BOUND = 1 << 24


def smallest_factor(n, bound):
    """ea_smallest_factor: the smallest prime p < bound dividing n, or 0 (bound <= 2**24:
    trial division is linear in the bound)."""
    cdef _Mpz zn = _Mpz()
    cdef unsigned long p
    cdef unsigned long b = _small_int(bound, "bound", 0, _MAX_FACTOR_BOUND)
    _to_mpz(zn.z, n, "n")
    if mpz_sgn(zn.z) <= 0:
        raise errors.InvalidArgument("n must be positive")
    with nogil:
        p = c.ea_smallest_factor(zn.z, b)
    return p


WEAK_NOT_SCREENED = c.EA_WEAK_NOT_SCREENED
WEAK_NONE = c.EA_WEAK_NONE
WEAK_PERFECT_POWER = c.EA_WEAK_PERFECT_POWER
WEAK_PRIME = c.EA_WEAK_PRIME
WEAK_SMALL_FACTOR = c.EA_WEAK_SMALL_FACTOR
WEAK_NEAR_SQUARE = c.EA_WEAK_NEAR_SQUARE
WEAK_PSEUDOPRIME = c.EA_WEAK_PSEUDOPRIME
WEAK_SMOOTH_ORDER = c.EA_WEAK_SMOOTH_ORDER
TRIAL_BOUND_MAX = 1 << 32


def screen_modulus(n, bound, steps, threads=1):
    """ea_screen_modulus: (weakness, factor) for odd n >= 3 - perfect power, probable prime,
    Fermat with `steps` steps from ceil(sqrt n), trial division by every prime below
    `bound` (<= 2**32), Fermat pseudoprime to small bases, Pollard p-1; weakness is
    WEAK_NONE when every screen passed."""
    cdef _Mpz zn = _Mpz(), zf = _Mpz()
    cdef int weakness = 0, rc
    cdef uint64_t b = _small_int(bound, "bound", 0, TRIAL_BOUND_MAX)
    cdef unsigned long st = _small_int(steps, "steps", 0, 1 << 24)
    cdef unsigned th = _threads(threads)
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    with nogil:
        rc = c.ea_screen_modulus(&weakness, zf.z, zn.z, b, st, th)
    _check(rc)
    return weakness, _from_mpz(zf.z)


def is_probable_prime(x):
    """ea_is_probable_prime: BPSW (strong base-2 and strong Lucas tests, Selfridge's D)."""
    cdef _Mpz zx = _Mpz()
    cdef int r
    _to_mpz(zx.z, x, "x")
    if mpz_sgn(zx.z) <= 0:
        return False
    with nogil:
        r = c.ea_is_probable_prime(zx.z)
    return bool(r)


cdef int _check_h2p(bytes domain, bytes data, unsigned bits) except -1:
    if not 0 < len(domain) <= 255:
        raise errors.InvalidArgument("domain must be 1..255 bytes")
    if len(data) == 0:
        raise errors.InvalidArgument("data must not be empty")
    if bits < 16 or bits > c.EA_H2P_MAX_BITS or bits % 8:
        raise errors.InvalidArgument(f"bits must be a multiple of 8 in 16..{c.EA_H2P_MAX_BITS}")
    return 0


cdef bytes _as_bytes(object data, str what):
    if isinstance(data, bytes):
        return <bytes>data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise errors.EdgeaccTypeError(f"{what} must be bytes, got {type(data).__name__}")


def hash_candidate(domain, data, nonce, bits):
    """ea_hash_candidate: SHA-256(u8(len(domain)) || domain || data || be32(nonce)), top/low bit set."""
    cdef bytes d = _as_bytes(domain, "domain"), m = _as_bytes(data, "data")
    cdef _Mpz zc = _Mpz()
    cdef uint32_t k = _small_int(nonce, "nonce", 0, _MAX_NONCE_LIMIT)
    cdef unsigned b = _small_int(bits, "bits", 0, c.EA_H2P_MAX_BITS)
    _check_h2p(d, m, b)
    _check(c.ea_hash_candidate(zc.z, <const unsigned char *>d, len(d),
                               <const unsigned char *>m, len(m), k, b))
    return _from_mpz(zc.z)


def hash_to_prime(domain, data, bits, max_nonce):
    """ea_hash_to_prime: (x, nonce) for the first candidate that is a probable prime."""
    cdef bytes d = _as_bytes(domain, "domain"), m = _as_bytes(data, "data")
    cdef const unsigned char *dp
    cdef const unsigned char *mp
    cdef size_t dl, ml
    cdef _Mpz zx = _Mpz()
    cdef uint32_t nonce = 0
    cdef int rc
    cdef unsigned nbits = _small_int(bits, "bits", 0, c.EA_H2P_MAX_BITS)
    cdef uint32_t kmax = _small_int(max_nonce, "max_nonce", 0, _MAX_NONCE_LIMIT)
    _check_h2p(d, m, nbits)
    dp, dl, mp, ml = <const unsigned char *>d, len(d), <const unsigned char *>m, len(m)
    with nogil:
        rc = c.ea_hash_to_prime(zx.z, &nonce, dp, dl, mp, ml, nbits, kmax)
    _check(rc)
    return _from_mpz(zx.z), nonce


def check_representative(domain, data, x, nonce, bits):
    """ea_check_representative: x is candidate `nonce` of data and a probable prime."""
    cdef bytes d = _as_bytes(domain, "domain"), m = _as_bytes(data, "data")
    cdef const unsigned char *dp
    cdef const unsigned char *mp
    cdef size_t dl, ml
    cdef _Mpz zx = _Mpz()
    cdef int ok = 0, rc
    cdef uint32_t k
    cdef unsigned nbits = _small_int(bits, "bits", 0, c.EA_H2P_MAX_BITS)
    _check_h2p(d, m, nbits)
    k_int = _as_int(nonce, "nonce")
    if not 0 <= k_int <= _MAX_NONCE_LIMIT:
        raise errors.InvalidArgument("nonce must be in 0..2**32-1")
    k = k_int
    _to_mpz(zx.z, x, "representative")
    if mpz_sgn(zx.z) <= 0:
        return False
    dp, dl, mp, ml = <const unsigned char *>d, len(d), <const unsigned char *>m, len(m)
    with nogil:
        rc = c.ea_check_representative(&ok, zx.z, k, dp, dl, mp, ml, nbits)
    _check(rc)
    return bool(ok)


def product(xs):
    """ea_product: the product of positive ints by a product tree."""
    cdef _MpzVec arr = _MpzVec(xs, "factor")
    cdef _Mpz zr = _Mpz()
    cdef int rc
    _require_exponents(arr, c.EA_RULE_POSITIVE, "factor")
    with nogil:
        rc = c.ea_product(zr.z, <const mpz_t *>arr.items, arr.count)
    _check(rc)
    return _from_mpz(zr.z)


def powm_product(base, xs, n):
    """ea_powm_product: base^(prod xs) mod n with one exponentiation; base if xs is empty."""
    cdef _Mpz zb = _Mpz(), zn = _Mpz(), zr = _Mpz()
    cdef _MpzVec arr
    cdef int rc
    _to_mpz(zb.z, base, "base")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zb.z, zn.z, "base")
    arr = _MpzVec(xs, "exponent")
    _require_exponents(arr, c.EA_RULE_POSITIVE, "exponent")
    with nogil:
        rc = c.ea_powm_product(zr.z, zb.z, <const mpz_t *>arr.items, arr.count, zn.z)
    _check(rc)
    return _from_mpz(zr.z)


# ---------------------------------------------------------------------------------------------
# Batch engine: multi-exponentiation, batch verification, RootFactory, aggregation, PoE.


MEXP_AUTO = c.EA_MEXP_AUTO
MEXP_TABLES = c.EA_MEXP_TABLES
MEXP_WINDOW = c.EA_MEXP_WINDOW
MEXP_BUCKETS = c.EA_MEXP_BUCKETS
MEXP_MAX_TABLE_C = c.EA_MEXP_MAX_TABLE_C
MEXP_MAX_WINDOW = c.EA_MEXP_MAX_WINDOW


cdef int _require_elements(_MpzVec vec, mpz_t n, str what) except -1:
    """Every item must satisfy 1 < y < n-1 and gcd(y, n) = 1 (as verify_membership demands)."""
    cdef size_t first = 0
    if c.ea_check_elements(&first, <const mpz_t *>vec.items, vec.count, n) != c.EA_OK:
        raise errors.InvalidElement(f"{what} {first} must satisfy 1 < y < N-1 and gcd(y, N) = 1")
    return 0


cdef int _require_bases(_MpzVec vec, mpz_t n) except -1:
    """0 <= b < n for every base (as powm demands), by ea_check_bases."""
    cdef size_t bad = 0
    if c.ea_check_bases(&bad, <const mpz_t *>vec.items, vec.count, n) != c.EA_OK:
        raise errors.InvalidElement(f"base {bad} must satisfy 0 <= base < modulus")
    return 0


cdef unsigned _threads(object threads) except 0:
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise errors.EdgeaccTypeError("threads must be an int")
    if not 1 <= threads <= 256:
        raise errors.InvalidArgument("threads must be in 1..256")
    return <unsigned>threads


cdef int _method_param(int method, unsigned param) except -1:
    if method not in (c.EA_MEXP_AUTO, c.EA_MEXP_TABLES, c.EA_MEXP_WINDOW, c.EA_MEXP_BUCKETS):
        raise errors.InvalidArgument("method must be MEXP_AUTO, MEXP_TABLES, MEXP_WINDOW or MEXP_BUCKETS")
    if method == c.EA_MEXP_WINDOW and param > c.EA_MEXP_MAX_WINDOW:
        raise errors.InvalidArgument(f"window must be 0..{c.EA_MEXP_MAX_WINDOW}")
    if method in (c.EA_MEXP_TABLES, c.EA_MEXP_BUCKETS) and param > c.EA_MEXP_MAX_TABLE_C:
        raise errors.InvalidArgument(f"group size / bucket window must be 0..{c.EA_MEXP_MAX_TABLE_C}")
    return 0


def mexp_choose(count, bits):
    """ea_mexp_choose: (method, param) the cost model picks for count bases of `bits` bits."""
    cdef int method = 0
    cdef unsigned param = 0
    cdef size_t cnt = _small_int(count, "count", 0, <size_t>-1)
    cdef size_t nbits = _small_int(bits, "bits", 0, <size_t>-1)
    c.ea_mexp_choose(&method, &param, cnt, nbits)
    return method, param


def multi_exp(bases, exps, n, method=0, param=0, threads=1, bint count_ops=False):
    """ea_multi_exp: prod bases[j]^exps[j] mod n (0 <= base < n, exps >= 0).

    With count_ops=True returns (result, multiplications, squarings) in Montgomery operations.
    """
    cdef _Mpz zn = _Mpz(), zr = _Mpz()
    cdef _MpzVec B, E
    cdef c.ea_opcount ops
    cdef unsigned th = _threads(threads)
    cdef int rc
    cdef int meth = _small_int(method, "method", 0, 255)
    cdef unsigned prm = _small_int(param, "param", 0, 255)
    ops.mul = 0
    ops.sqr = 0
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _method_param(meth, prm)
    B = _MpzVec(bases, "base")
    E = _MpzVec(exps, "exponent")
    if B.count != E.count:
        raise errors.InvalidArgument(f"{B.count} bases but {E.count} exponents")
    _require_bases(B, zn.z)
    _require_exponents(E, c.EA_RULE_NONNEG, "exponent")
    with nogil:
        rc = c.ea_multi_exp(zr.z, <const mpz_t *>B.items, <const mpz_t *>E.items, B.count, zn.z,
                            meth, prm, th, &ops)
    _check(rc)
    if count_ops:
        return _from_mpz(zr.z), ops.mul, ops.sqr
    return _from_mpz(zr.z)


cdef class MultiExpTable:
    """ea_mexp_table: 2^c subset-product tables for a fixed list of bases, reused across
    evaluations prod bases[j]^exps[j] mod n."""
    cdef c.ea_mexp_table tab
    cdef bint ready
    cdef readonly size_t count
    cdef readonly unsigned group_size

    def __cinit__(self, bases, n, group_size=6):
        cdef _Mpz zn = _Mpz()
        cdef _MpzVec B
        cdef int rc
        cdef unsigned gs
        self.ready = False
        _to_mpz(zn.z, n, "modulus")
        _require_modulus(zn.z)
        gs = _small_int(group_size, "group_size", 1, MEXP_MAX_TABLE_C)
        B = _MpzVec(bases, "base")
        if B.count == 0:
            raise errors.InvalidArgument("a table needs at least one base")
        _require_bases(B, zn.z)
        with nogil:
            rc = c.ea_mexp_table_init(&self.tab, <const mpz_t *>B.items, B.count, zn.z, gs)
        _check(rc)
        self.ready = True
        self.count = B.count
        self.group_size = gs

    def __dealloc__(self):
        if self.ready:
            c.ea_mexp_table_clear(&self.tab)

    def eval(self, exps, threads=1):
        """prod bases[j]^exps[j] mod n for exps >= 0 (one per base)."""
        cdef _Mpz zr = _Mpz()
        cdef _MpzVec E = _MpzVec(exps, "exponent")
        cdef unsigned th = _threads(threads)
        cdef int rc
        if E.count != self.count:
            raise errors.InvalidArgument(f"table has {self.count} bases, got {E.count} exponents")
        _require_exponents(E, c.EA_RULE_NONNEG, "exponent")
        with nogil:
            rc = c.ea_mexp_table_eval(zr.z, &self.tab, <const mpz_t *>E.items, E.count, th, NULL)
        _check(rc)
        return _from_mpz(zr.z)


cdef extern from "ea_batch_by.h" nogil:
    # internal (not in the installed headers): ea_batch_verify by a named strategy
    int EA_BATCH_AUTO, EA_BATCH_WEIGHTED, EA_BATCH_LANES, EA_BATCH_IFMA
    int ea_batch_verify_by(int strategy, unsigned char *bad, const mpz_t *ws, const mpz_t *xs,
                           const mpz_t *rs, const size_t *vidx, size_t count, const mpz_t *vals,
                           size_t nvals, const mpz_t n, unsigned threads, c.ea_opcount *ops)

BATCH_AUTO = EA_BATCH_AUTO
BATCH_WEIGHTED = EA_BATCH_WEIGHTED
BATCH_LANES = EA_BATCH_LANES
BATCH_IFMA = EA_BATCH_IFMA


def batch_verify(ws, xs, rs, vidx, vals, n, threads=1, bint count_ops=False,
                 int strategy=BATCH_AUTO):
    """ea_batch_verify: the indices j for which ws[j]^xs[j] != +-vals[vidx[j]] (mod n), found
    with the caller's weights rs (> 0) by one weighted multi-exponentiation and bisection, or
    by checking each item in lanes (the cost model's choice). ``strategy`` (BATCH_*) forces
    one; ``count_ops`` returns (failed, multiplications, squarings), counted by the weighted
    GMP test only (0, 0 when another strategy ran)."""
    cdef _Mpz zn = _Mpz()
    cdef _MpzVec W, X, R, V
    cdef size_t *vi = NULL
    cdef unsigned char *bad = NULL
    cdef size_t i, count
    cdef c.ea_opcount ops
    cdef unsigned th = _threads(threads)
    cdef int rc
    ops.mul = 0
    ops.sqr = 0
    if strategy < EA_BATCH_AUTO or strategy > EA_BATCH_IFMA:
        raise errors.InvalidArgument("strategy must be one of BATCH_AUTO, BATCH_WEIGHTED, "
                                     "BATCH_LANES, BATCH_IFMA")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    W = _MpzVec(ws, "witness")
    X = _MpzVec(xs, "element")
    R = _MpzVec(rs, "weight")
    V = _MpzVec(vals, "accumulator value")
    idx = _as_list(vidx, "vidx entry")
    count = W.count
    if X.count != count or R.count != count or len(idx) != count:
        raise errors.InvalidArgument("ws, xs, rs and vidx must have the same length")
    vi = <size_t *>malloc(max(count, 1) * sizeof(size_t))
    bad = <unsigned char *>malloc(max(count, 1))
    try:
        if vi == NULL or bad == NULL:
            raise errors.OutOfMemory("cannot allocate the batch index lists")
        for i in range(count):
            k = idx[i]
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < V.count:
                raise errors.InvalidArgument(f"vidx[{i}] must index vals")
            vi[i] = <size_t>k
        with nogil:
            rc = ea_batch_verify_by(strategy, bad, <const mpz_t *>W.items,
                                      <const mpz_t *>X.items, <const mpz_t *>R.items, vi, count,
                                      <const mpz_t *>V.items, V.count, zn.z, th,
                                      &ops if count_ops else NULL)
        if rc == c.EA_ERR_ELEMENT or rc == c.EA_ERR_EXPONENT:
            # the C checks (one pass, in C) failed: the same checks here name the item
            _require_elements(W, zn.z, "witness")
            _require_elements(V, zn.z, "accumulator value")
            _require_exponents(X, c.EA_RULE_ELEMENT, "element")
            _require_exponents(R, c.EA_RULE_POSITIVE, "weight")
        _check(rc)
        failed = [i for i in range(count) if bad[i]]
    finally:
        free(vi)
        free(bad)
    if count_ops:
        return failed, ops.mul, ops.sqr
    return failed


def _batch_check_unweighted(ws, xs, vs, n, group_size=8):
    """ea_batch_check_unweighted: the paper's Protocol 3 (prod w^x = +-prod v), FORGEABLE.
    Returns (ok, multiplications, squarings). For benchmarks and attack tests only."""
    cdef _Mpz zn = _Mpz()
    cdef _MpzVec W, X, V
    cdef c.ea_opcount ops
    cdef int ok = 0, rc
    cdef unsigned gs = _small_int(group_size, "group_size", 1, MEXP_MAX_TABLE_C)
    ops.mul = 0
    ops.sqr = 0
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    W = _MpzVec(ws, "witness")
    X = _MpzVec(xs, "element")
    V = _MpzVec(vs, "accumulator value")
    if X.count != W.count or V.count != W.count or W.count == 0:
        raise errors.InvalidArgument("ws, xs and vs must be non-empty and of the same length")
    _require_elements(W, zn.z, "witness")
    _require_elements(V, zn.z, "accumulator value")
    _require_exponents(X, c.EA_RULE_ELEMENT, "element")
    with nogil:
        rc = c.ea_batch_check_unweighted(&ok, <const mpz_t *>W.items, <const mpz_t *>X.items,
                                         <const mpz_t *>V.items, W.count, zn.z, gs, &ops)
    _check(rc)
    return bool(ok), ops.mul, ops.sqr


cdef _MpzVec _outputs(size_t count):
    return _MpzVec([0] * count, "output")


def powm_shared_base(base, exps, n):
    """ea_powm_shared_base: [base^e mod n for e in exps] with one shared squaring chain."""
    cdef _Mpz zb = _Mpz(), zn = _Mpz()
    cdef _MpzVec E, out
    cdef int rc
    _to_mpz(zb.z, base, "base")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    if mpz_sgn(zb.z) <= 0 or mpz_cmp(zb.z, zn.z) >= 0:
        raise errors.InvalidElement("base must satisfy 0 < base < modulus")
    E = _MpzVec(exps, "exponent")
    _require_exponents(E, c.EA_RULE_NONNEG, "exponent")
    out = _outputs(E.count)
    with nogil:
        rc = c.ea_powm_shared_base(out.items, zb.z, <const mpz_t *>E.items, E.count, zn.z)
    _check(rc)
    return out.to_list()


def root_factory(base, xs, n, arity=0, threads=1):
    """ea_root_factory: [base^(prod of xs except xs[i]) mod n for each i], divide and conquer."""
    cdef _Mpz zb = _Mpz(), zn = _Mpz()
    cdef _MpzVec X, out
    cdef unsigned th = _threads(threads)
    cdef int rc
    cdef unsigned ar = _small_int(arity, "arity", 0, 8)
    _to_mpz(zb.z, base, "base")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zb.z, zn.z, "base")
    if ar != 0 and not 2 <= ar <= 8:
        raise errors.InvalidArgument("arity must be 0 (default) or 2..8")
    X = _MpzVec(xs, "element")
    _require_exponents(X, c.EA_RULE_ELEMENT, "element")
    out = _outputs(X.count)
    with nogil:
        rc = c.ea_root_factory(out.items, zb.z, <const mpz_t *>X.items, X.count, zn.z, ar, th)
    _check(rc)
    return out.to_list()


def powm_many_bases(bases, e, n, threads=1):
    """ea_powm_many_bases: [b^e mod n for b in bases] (e > 0), split over threads."""
    cdef _Mpz ze = _Mpz(), zn = _Mpz()
    cdef _MpzVec B, out
    cdef unsigned th = _threads(threads)
    cdef int rc
    _to_mpz(ze.z, e, "exponent")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    if mpz_sgn(ze.z) <= 0:
        raise errors.InvalidExponent("exponent must be a positive integer")
    B = _MpzVec(bases, "base")
    _require_elements(B, zn.z, "base")
    out = _outputs(B.count)
    with nogil:
        rc = c.ea_powm_many_bases(out.items, <const mpz_t *>B.items, B.count, ze.z, zn.z, th)
    _check(rc)
    return out.to_list()


def shamir_trick(wa, xa, wb, xb, n):
    """ea_shamir_trick: from wa^xa = +-v and wb^xb = +-v (gcd(xa, xb) = 1), r with
    r^(xa*xb) = +-v."""
    cdef _Mpz zwa = _Mpz(), zxa = _Mpz(), zwb = _Mpz(), zxb = _Mpz(), zn = _Mpz(), zr = _Mpz()
    cdef int rc
    _to_mpz(zwa.z, wa, "witness")
    _to_mpz(zxa.z, xa, "element")
    _to_mpz(zwb.z, wb, "witness")
    _to_mpz(zxb.z, xb, "element")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zwa.z, zn.z, "witness")
    _require_element(zwb.z, zn.z, "witness")
    _require_exponent(zxa.z, c.EA_RULE_ELEMENT, "element xa")
    _require_exponent(zxb.z, c.EA_RULE_ELEMENT, "element xb")
    with nogil:
        rc = c.ea_shamir_trick(zr.z, zwa.z, zxa.z, zwb.z, zxb.z, zn.z)
    if rc == c.EA_ERR_NOT_INVERTIBLE:
        raise errors.InvalidArgument("elements must be coprime (distinct prime representatives)")
    _check(rc)
    return _from_mpz(zr.z)


def aggregate(ws, xs, n):
    """ea_aggregate: (w, X) with w^X = +-v for X = prod xs, from witnesses ws[i]^xs[i] = +-v."""
    cdef _Mpz zn = _Mpz(), zr = _Mpz(), zX = _Mpz()
    cdef _MpzVec W, X
    cdef int rc
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    W = _MpzVec(ws, "witness")
    X = _MpzVec(xs, "element")
    if W.count != X.count or W.count == 0:
        raise errors.InvalidArgument("ws and xs must be non-empty and of the same length")
    _require_elements(W, zn.z, "witness")
    _require_exponents(X, c.EA_RULE_ELEMENT, "element")
    with nogil:
        rc = c.ea_aggregate(zr.z, zX.z, <const mpz_t *>W.items, <const mpz_t *>X.items, W.count, zn.z)
    if rc == c.EA_ERR_NOT_INVERTIBLE:
        raise errors.InvalidArgument("elements must be pairwise coprime (distinct prime representatives)")
    _check(rc)
    return _from_mpz(zr.z), _from_mpz(zX.z)


def poe_prove(w, X, l, n):
    """ea_poe_prove: Q = w^floor(X/l) mod n, for X >= l > 2."""
    cdef _Mpz zw = _Mpz(), zX = _Mpz(), zl = _Mpz(), zn = _Mpz(), zQ = _Mpz()
    cdef int rc
    _to_mpz(zw.z, w, "base")
    _to_mpz(zX.z, X, "exponent")
    _to_mpz(zl.z, l, "challenge")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zw.z, zn.z, "base")
    if mpz_sgn(zl.z) <= 0 or mpz_cmp(zX.z, zl.z) < 0:
        raise errors.InvalidExponent("exponent must be at least the challenge prime")
    with nogil:
        rc = c.ea_poe_prove(zQ.z, zw.z, zX.z, zl.z, zn.z)
    _check(rc)
    return _from_mpz(zQ.z)


def poe_verify(w, X, v, Q, l, n):
    """ea_poe_verify: Q^l * w^(X mod l) = +-v (mod n)."""
    cdef _Mpz zw = _Mpz(), zX = _Mpz(), zv = _Mpz(), zQ = _Mpz(), zl = _Mpz(), zn = _Mpz()
    cdef int ok = 0, rc
    _to_mpz(zw.z, w, "base")
    _to_mpz(zX.z, X, "exponent")
    _to_mpz(zv.z, v, "result")
    _to_mpz(zQ.z, Q, "proof")
    _to_mpz(zl.z, l, "challenge")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zw.z, zn.z, "base")
    _require_element(zv.z, zn.z, "result")
    _require_element(zQ.z, zn.z, "proof")
    if mpz_sgn(zX.z) <= 0 or mpz_sgn(zl.z) <= 0:
        raise errors.InvalidExponent("exponent and challenge must be positive")
    with nogil:
        rc = c.ea_poe_verify(&ok, zw.z, zX.z, zv.z, zQ.z, zl.z, zn.z)
    _check(rc)
    return bool(ok)


# ---------------------------------------------------------------------------------------------
# Issue 14: non-membership witnesses (ea_nonmem.h) and PoKE2 (ea_poke.h).

POKE2_DOMAIN = <bytes>c.EA_POKE2_DOMAIN
POKE2_ALPHA_DOMAIN = <bytes>c.EA_POKE2_ALPHA_DOMAIN
POKE2_CHALLENGE_BITS = c.EA_POKE2_CHALLENGE_BITS
POKE2_ALPHA_BITS = c.EA_POKE2_ALPHA_BITS
POKE2_MAX_CONTEXT = c.EA_POKE2_MAX_CONTEXT
POKE2_PROOF_MAGIC = <bytes>c.EA_POKE2_PROOF_MAGIC
NONMEM_PROOF_MAGIC = <bytes>c.EA_NONMEM_PROOF_MAGIC
NONMEM_SET_PROOF_MAGIC = <bytes>c.EA_NONMEM_SET_PROOF_MAGIC
UPDATE_PROOF_MAGIC = <bytes>c.EA_UPDATE_PROOF_MAGIC
UPDATE_CONTEXT = <bytes>c.EA_UPDATE_CONTEXT
UPDATE_ADD = c.EA_UPDATE_ADD
UPDATE_DELETE = c.EA_UPDATE_DELETE
ACC_PROOF_VERSION = c.EA_ACC_PROOF_VERSION


cdef int _check_nonmem(int rc, str what) except -1:
    if rc == c.EA_ERR_NOT_INVERTIBLE:
        raise errors.InvalidArgument(f"{what} shares a factor with the accumulated product: "
                                     "it is accumulated, so it has no non-membership witness")
    return _check(rc)


cdef int _require_canonical_a(mpz_t a, mpz_t y) except -1:
    if mpz_sgn(a) < 0 or mpz_cmp(a, y) >= 0:
        raise errors.InvalidArgument("witness part a must satisfy 0 <= a < y")
    return 0


def nonmem_create(g, X, y, n):
    """ea_nonmem_create: (a, B) with a*X + b*y = 1, 0 <= a < y, B = g^b mod n."""
    cdef _Mpz zg = _Mpz(), zX = _Mpz(), zy = _Mpz(), zn = _Mpz(), za = _Mpz(), zB = _Mpz()
    cdef int rc
    _to_mpz(zg.z, g, "generator")
    _to_mpz(zX.z, X, "accumulated product")
    _to_mpz(zy.z, y, "element")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zg.z, zn.z, "generator")
    _require_exponent(zX.z, c.EA_RULE_POSITIVE, "accumulated product")
    _require_exponent(zy.z, c.EA_RULE_ELEMENT, "element")
    with nogil:
        rc = c.ea_nonmem_create(za.z, zB.z, zg.z, zX.z, zy.z, zn.z)
    _check_nonmem(rc, "element")
    return _from_mpz(za.z), _from_mpz(zB.z)


def nonmem_verify(g, v, y, a, B, n):
    """ea_nonmem_verify: True iff 0 <= a < y and v^a * B^y = +-g (mod n)."""
    cdef _Mpz zg = _Mpz(), zv = _Mpz(), zy = _Mpz(), za = _Mpz(), zB = _Mpz(), zn = _Mpz()
    cdef int ok = 0, rc
    _to_mpz(zg.z, g, "generator")
    _to_mpz(zv.z, v, "accumulator value")
    _to_mpz(zy.z, y, "element")
    _to_mpz(za.z, a, "witness part a")
    _to_mpz(zB.z, B, "witness part B")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zg.z, zn.z, "generator")
    _require_element(zv.z, zn.z, "accumulator value")
    _require_element(zB.z, zn.z, "witness part B")
    _require_exponent(zy.z, c.EA_RULE_ELEMENT, "element")
    with nogil:
        rc = c.ea_nonmem_verify(&ok, zg.z, zv.z, zy.z, za.z, zB.z, zn.z)
    _check(rc)
    return bool(ok)


def nonmem_batch_create(g, v, X, ys, n, threads=1):
    """ea_nonmem_batch_create: [(a_i, B_i)] for every ys[i] against v = g^X (divide and conquer)."""
    cdef _Mpz zg = _Mpz(), zv = _Mpz(), zX = _Mpz(), zn = _Mpz()
    cdef _MpzVec Y, A, B
    cdef unsigned th = _threads(threads)
    cdef int rc
    _to_mpz(zg.z, g, "generator")
    _to_mpz(zv.z, v, "accumulator value")
    _to_mpz(zX.z, X, "accumulated product")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zg.z, zn.z, "generator")
    _require_element(zv.z, zn.z, "accumulator value")
    _require_exponent(zX.z, c.EA_RULE_POSITIVE, "accumulated product")
    Y = _MpzVec(ys, "element")
    if Y.count == 0:
        raise errors.InvalidArgument("elements must not be empty")
    _require_exponents(Y, c.EA_RULE_ELEMENT, "element")
    A = _outputs(Y.count)
    B = _outputs(Y.count)
    with nogil:
        rc = c.ea_nonmem_batch_create(A.items, B.items, zg.z, zv.z, zX.z, <const mpz_t *>Y.items,
                                      Y.count, zn.z, th)
    _check_nonmem(rc, "an element")
    return list(zip(A.to_list(), B.to_list()))


def nonmem_update_add(a, B, y, v_old, v_new, Z, n):
    """ea_nonmem_update_add: y's witness against v_new = v_old^Z from (a, B) against v_old."""
    cdef _Mpz za = _Mpz(), zB = _Mpz(), zy = _Mpz(), zo = _Mpz(), zw = _Mpz(), zZ = _Mpz(), zn = _Mpz()
    cdef _Mpz za2 = _Mpz(), zB2 = _Mpz()
    cdef int rc
    for z, obj, what in ((za, a, "witness part a"), (zB, B, "witness part B"), (zy, y, "element"),
                         (zo, v_old, "old accumulator value"), (zw, v_new, "new accumulator value"),
                         (zZ, Z, "product of the added elements"), (zn, n, "modulus")):
        _to_mpz((<_Mpz>z).z, obj, what)
    _require_modulus(zn.z)
    _require_element(zB.z, zn.z, "witness part B")
    _require_element(zo.z, zn.z, "old accumulator value")
    _require_element(zw.z, zn.z, "new accumulator value")
    _require_exponent(zy.z, c.EA_RULE_ELEMENT, "element")
    _require_exponent(zZ.z, c.EA_RULE_ELEMENT, "product of the added elements")
    _require_canonical_a(za.z, zy.z)
    with nogil:
        rc = c.ea_nonmem_update_add(za2.z, zB2.z, za.z, zB.z, zy.z, zo.z, zw.z, zZ.z, zn.z)
    _check_nonmem(rc, "the element (now added)")
    return _from_mpz(za2.z), _from_mpz(zB2.z)


def nonmem_update_delete(a, B, y, v_new, D, n):
    """ea_nonmem_update_delete: y's witness against v_new (v_new^D = v_old) from (a, B)."""
    cdef _Mpz za = _Mpz(), zB = _Mpz(), zy = _Mpz(), zw = _Mpz(), zD = _Mpz(), zn = _Mpz()
    cdef _Mpz za2 = _Mpz(), zB2 = _Mpz()
    cdef int rc
    for z, obj, what in ((za, a, "witness part a"), (zB, B, "witness part B"), (zy, y, "element"),
                         (zw, v_new, "new accumulator value"),
                         (zD, D, "product of the deleted elements"), (zn, n, "modulus")):
        _to_mpz((<_Mpz>z).z, obj, what)
    _require_modulus(zn.z)
    _require_element(zB.z, zn.z, "witness part B")
    _require_element(zw.z, zn.z, "new accumulator value")
    _require_exponent(zy.z, c.EA_RULE_ELEMENT, "element")
    _require_exponent(zD.z, c.EA_RULE_ELEMENT, "product of the deleted elements")
    _require_canonical_a(za.z, zy.z)
    with nogil:
        rc = c.ea_nonmem_update_delete(za2.z, zB2.z, za.z, zB.z, zy.z, zw.z, zD.z, zn.z)
    _check_nonmem(rc, "the element (among the deleted)")
    return _from_mpz(za2.z), _from_mpz(zB2.z)


def nonmem_batch_verify(g, v, ys, as_, Bs, rs, n):
    """ea_nonmem_batch_verify: the indices j with v^as[j] * Bs[j]^ys[j] != +-g (or as[j] not in
    0..ys[j]-1), found with the caller's weights rs by one multi-exponentiation and bisection."""
    cdef _Mpz zg = _Mpz(), zv = _Mpz(), zn = _Mpz()
    cdef _MpzVec Y, A, B, R
    cdef unsigned char *bad = NULL
    cdef size_t i, count
    cdef int rc
    _to_mpz(zg.z, g, "generator")
    _to_mpz(zv.z, v, "accumulator value")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _require_element(zg.z, zn.z, "generator")
    _require_element(zv.z, zn.z, "accumulator value")
    Y = _MpzVec(ys, "element")
    A = _MpzVec(as_, "witness part a")
    B = _MpzVec(Bs, "witness part B")
    R = _MpzVec(rs, "weight")
    count = Y.count
    if A.count != count or B.count != count or R.count != count:
        raise errors.InvalidArgument("ys, as, Bs and rs must have the same length")
    _require_elements(B, zn.z, "witness part B")
    _require_exponents(Y, c.EA_RULE_ELEMENT, "element")
    _require_exponents(R, c.EA_RULE_POSITIVE, "weight")
    bad = <unsigned char *>malloc(max(count, 1))
    if bad == NULL:
        raise errors.OutOfMemory("cannot allocate the batch verdicts")
    try:
        with nogil:
            rc = c.ea_nonmem_batch_verify(bad, zg.z, zv.z, <const mpz_t *>Y.items,
                                          <const mpz_t *>A.items, <const mpz_t *>B.items,
                                          <const mpz_t *>R.items, count, zn.z)
        _check(rc)
        return [i for i in range(count) if bad[i]]
    finally:
        free(bad)


cdef bytes _context(object ctx):
    cdef bytes b = _as_bytes(ctx, "context")
    if len(b) > c.EA_POKE2_MAX_CONTEXT:
        raise errors.InvalidArgument(f"context must be at most {c.EA_POKE2_MAX_CONTEXT} bytes")
    return b


def poke2_challenge(g, u, w, z, ctx, n):
    """ea_poke2_challenge: (l, alpha) of the PoKE2 statement u^x = w with z = h^x (h: ea_poke2_base)."""
    cdef _Mpz zg = _Mpz(), zu = _Mpz(), zw = _Mpz(), zz = _Mpz(), zn = _Mpz(), zl = _Mpz(), za = _Mpz()
    cdef bytes b = _context(ctx)
    cdef const unsigned char *bp = b
    cdef size_t bl = len(b)
    cdef int rc
    for z_, obj, what in ((zg, g, "generator"), (zu, u, "base"), (zw, w, "result"), (zz, z, "proof z"),
                          (zn, n, "modulus")):
        _to_mpz((<_Mpz>z_).z, obj, what)
    _require_modulus(zn.z)
    for z_, what in ((zg, "generator"), (zu, "base"), (zw, "result"), (zz, "proof z")):
        _require_element((<_Mpz>z_).z, zn.z, what)
    with nogil:
        rc = c.ea_poke2_challenge(zl.z, za.z, zg.z, zu.z, zw.z, zz.z, bp, bl, zn.z)
    _check(rc)
    return _from_mpz(zl.z), _from_mpz(za.z)


def poke2_prove(g, u, w, x, ctx, n):
    """ea_poke2_prove: (z, Q, r), the PoKE2 that u^x = w (x of more than 128 bits)."""
    cdef _Mpz zg = _Mpz(), zu = _Mpz(), zw = _Mpz(), zx = _Mpz(), zn = _Mpz()
    cdef _Mpz zz = _Mpz(), zQ = _Mpz(), zr = _Mpz()
    cdef bytes b = _context(ctx)
    cdef const unsigned char *bp = b
    cdef size_t bl = len(b)
    cdef int rc
    for z_, obj, what in ((zg, g, "generator"), (zu, u, "base"), (zw, w, "result"), (zx, x, "exponent"),
                          (zn, n, "modulus")):
        _to_mpz((<_Mpz>z_).z, obj, what)
    _require_modulus(zn.z)
    for z_, what in ((zg, "generator"), (zu, "base"), (zw, "result")):
        _require_element((<_Mpz>z_).z, zn.z, what)
    if mpz_sgn(zx.z) <= 0 or mpz_sizeinbase(zx.z, 2) <= c.EA_POKE2_CHALLENGE_BITS:
        raise errors.InvalidExponent(f"exponent must exceed {c.EA_POKE2_CHALLENGE_BITS} bits")
    with nogil:
        rc = c.ea_poke2_prove(zz.z, zQ.z, zr.z, zg.z, zu.z, zw.z, zx.z, bp, bl, zn.z)
    _check(rc)
    return _from_mpz(zz.z), _from_mpz(zQ.z), _from_mpz(zr.z)


def poke2_verify(g, u, w, z, Q, r, ctx, n):
    """ea_poke2_verify: True iff 0 <= r < l and Q^l (u g^alpha)^r = +-w z^alpha."""
    cdef _Mpz zg = _Mpz(), zu = _Mpz(), zw = _Mpz(), zz = _Mpz(), zQ = _Mpz(), zr = _Mpz(), zn = _Mpz()
    cdef bytes b = _context(ctx)
    cdef const unsigned char *bp = b
    cdef size_t bl = len(b)
    cdef int ok = 0, rc
    for z_, obj, what in ((zg, g, "generator"), (zu, u, "base"), (zw, w, "result"), (zz, z, "proof z"),
                          (zQ, Q, "proof Q"), (zr, r, "proof r"), (zn, n, "modulus")):
        _to_mpz((<_Mpz>z_).z, obj, what)
    _require_modulus(zn.z)
    for z_, what in ((zg, "generator"), (zu, "base"), (zw, "result"), (zz, "proof z"), (zQ, "proof Q")):
        _require_element((<_Mpz>z_).z, zn.z, what)
    with nogil:
        rc = c.ea_poke2_verify(&ok, zg.z, zu.z, zw.z, zz.z, zQ.z, zr.z, bp, bl, zn.z)
    _check(rc)
    return bool(ok)


# ---- issue 12: fast kernels (OpenSSL single exponentiations, crypto_mb lanes) ----

cdef extern from "ea_fastexp.h":
    unsigned ea_fast_paths()
    unsigned EA_PATH_LANES_COMPILED, EA_PATH_LANES_CPU, EA_PATH_PORTABLE, EA_PATH_OPENSSL
    unsigned EA_PATH_LANES, EA_PATH_IFMA, EA_PATH_MULX


def build_info():
    """Which exponentiation kernels this build has and this process uses (csrc/ea_fastexp.h):
    ``lanes_compiled`` (built with crypto_mb), ``lanes_cpu`` (cpuid: AVX-512 IFMA),
    ``portable`` (EDGEACC_PORTABLE=1 forces GMP), ``single`` ("ifma": the engine's own IFMA
    kernel for 1537..2048-bit moduli and OpenSSL for other sizes, "openssl", or "gmp") and
    ``lanes`` ("crypto_mb" or None: independent exponentiations, 2048-bit moduli) and
    ``multi_exp`` ("ifma": the engine's own IFMA lanes for the weighted batch test's
    multi-exponentiation modulo 1025..2048-bit moduli, or "gmp") and ``mont`` ("mulx": the
    mulx/adcx/adox rows of csrc/ea_mulx.h for the Montgomery products modulo 1985..2048-bit
    moduli of the GMP-side paths, where cpuid reports BMI2 and ADX; or "gmp") and ``prime``
    (the kernel of the strong base-2 test of 256-bit hash-to-prime candidates: "ifma" lanes,
    "mulx" - the 4-limb Montgomery asm of csrc/ea_mont4.h, same cpuid condition - or "gmp")."""
    cdef unsigned p = ea_fast_paths()
    return {
        "lanes_compiled": bool(p & EA_PATH_LANES_COMPILED),
        "lanes_cpu": bool(p & EA_PATH_LANES_CPU),
        "portable": bool(p & EA_PATH_PORTABLE),
        "single": "ifma" if p & EA_PATH_IFMA else "openssl" if p & EA_PATH_OPENSSL else "gmp",
        "lanes": "crypto_mb" if p & EA_PATH_LANES else None,
        "multi_exp": "ifma" if p & EA_PATH_IFMA else "gmp",
        "mont": "mulx" if p & EA_PATH_MULX else "gmp",
        "prime": "ifma" if p & EA_PATH_IFMA else "mulx" if p & EA_PATH_MULX else "gmp",
    }


cdef extern from "ea_mont.h":
    int EA_MONT_GMP, EA_MONT_MULX
    int ea_mont_raw_mul(mpz_t r, const mpz_t a, const mpz_t b, const mpz_t n, int kernel) nogil


def _mont_mul(a, b, n, kernel="auto"):
    """ea_mont_mul (internal, for tests): a*b*R^{-1} as csrc/ea_mont.c reduces it (R = 2^(64 *
    limbs of n); a == b takes ea_mont_sqr), on the kernel this process picks for n ("auto"),
    on GMP's mpn calls ("gmp") or on the mulx rows ("mulx": InvalidArgument where they do not
    apply). 0 <= a, b < R; the result is < R, congruent to a*b/R mod n, < n when a*b < R*n."""
    cdef _Mpz za = _Mpz(), zb = _Mpz(), zn = _Mpz(), zr = _Mpz()
    cdef int k, rc
    _to_mpz(za.z, a, "a")
    _to_mpz(zb.z, b, "b")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    if kernel == "auto":
        k = -1
    elif kernel == "gmp":
        k = EA_MONT_GMP
    elif kernel == "mulx":
        k = EA_MONT_MULX
    else:
        raise errors.InvalidArgument(f"kernel must be 'auto', 'gmp' or 'mulx', got {kernel!r}")
    with nogil:
        rc = ea_mont_raw_mul(zr.z, za.z, zb.z, zn.z, k)
    _check(rc)
    return _from_mpz(zr.z)


cdef extern from "ea_ifma.h":
    int ea_ifma_apply(const mpz_t n) nogil
    int ea_ifma_multi_exp(mpz_t r, const mpz_t *bases, const mpz_t *exps, size_t count,
                          const mpz_t n, unsigned threads) nogil


def _ifma_multi_exp(bases, exps, n, threads=1):
    """ea_ifma_multi_exp (internal, for tests): prod bases[j]^exps[j] mod n on the IFMA lanes
    (power tables or buckets, as its cost model plans for the count and threads); None where
    the lanes do not apply to n. 0 <= bases[j] < n, exps[j] >= 0."""
    cdef _Mpz zn = _Mpz(), zr = _Mpz()
    cdef _MpzVec B, E
    cdef unsigned th = _threads(threads)
    cdef int rc
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    if not ea_ifma_apply(zn.z):
        return None
    B = _MpzVec(bases, "base")
    E = _MpzVec(exps, "exponent")
    if B.count != E.count:
        raise errors.InvalidArgument("bases and exps must have the same length")
    _require_bases(B, zn.z)
    _require_exponents(E, c.EA_RULE_NONNEG, "exponent")
    with nogil:
        rc = ea_ifma_multi_exp(zr.z, <const mpz_t *>B.items, <const mpz_t *>E.items, B.count,
                               zn.z, th)
    _check(rc)
    return _from_mpz(zr.z)


# ---- issue 12: batch inputs as fixed-width big-endian rows (buffer protocol) ----

cdef extern from "ea_rows.h":
    void ea_rows_import(mpz_t *out, const unsigned char *rows, size_t count, size_t width) nogil
    void ea_rows_weights(mpz_t *rs, size_t count, unsigned security) nogil
    int ea_rows_statements(size_t *owner, size_t *distinct, size_t *count, size_t *first_bad,
                           const mpz_t *ws, const unsigned char *xs, size_t t, size_t xw,
                           const mpz_t n) nogil

cdef _MpzVec _zeros(size_t count, str what):
    """An _MpzVec of count zeros, without a Python int per item."""
    cdef _MpzVec vec = _MpzVec((), what)
    cdef size_t i
    free(vec.items)
    vec.items = <mpz_t *>malloc(max(count, 1) * sizeof(mpz_t))
    if vec.items == NULL:
        raise errors.OutOfMemory(f"cannot allocate the {what} list")
    for i in range(count):
        mpz_init(vec.items[i])
        vec.count = i + 1
    return vec


cdef _MpzVec _vec_of_rows(const unsigned char[:, ::1] rows, str what):
    """An _MpzVec of the rows of a C-contiguous uint8 buffer, each a big-endian number; no
    Python int per row."""
    cdef Py_ssize_t t = rows.shape[0], width = rows.shape[1]
    cdef _MpzVec vec = _zeros(t, what)
    if t and width:
        ea_rows_import(vec.items, &rows[0, 0], t, width)
    return vec


def batch_verify_rows(const unsigned char[:, ::1] ws, const unsigned char[:, ::1] xs, v, n,
                      const unsigned char[:, ::1] rs, unsigned security, threads=1):
    """ea_batch_verify over rows: statement j is ws[j]^xs[j] = +-v (mod n), ws and xs rows of
    big-endian bytes; rs holds one row of random bytes per statement, taken mod 2^security
    and made odd as the weight. Each distinct statement (w up to sign, x) is checked once;
    returns the indices of the false rows."""
    return prepare_rows(ws, xs, v, n, rs, security).verify(threads)


cdef class _RowBatch:
    """Rows imported, checked and merged into distinct statements, ready for the C verifier
    (split from batch_verify_rows so the benchmark can time the verifier alone)."""
    cdef _Mpz zn
    cdef _MpzVec W, X, R, V
    cdef size_t *owner
    cdef size_t *distinct
    cdef size_t t, count

    def __dealloc__(self):
        free(self.owner)
        free(self.distinct)

    def verify(self, threads=1):
        """The indices of the false rows."""
        cdef size_t count = self.count, first_bad = 0, i
        cdef size_t *vi = NULL
        cdef unsigned char *bad = NULL
        cdef unsigned th = _threads(threads)
        cdef int rc
        if self.zn is None:     # an empty _RowBatch() would hand the C verifier None vectors
            raise errors.InvalidArgument("a row batch comes from prepare_rows")
        vi = <size_t *>calloc(max(count, 1), sizeof(size_t))
        bad = <unsigned char *>malloc(max(count, 1))
        try:
            if vi == NULL or bad == NULL:
                raise errors.OutOfMemory("cannot allocate the batch index lists")
            with nogil:
                rc = c.ea_batch_verify(bad, <const mpz_t *>self.W.items,
                                       <const mpz_t *>self.X.items, <const mpz_t *>self.R.items,
                                       vi, count, <const mpz_t *>self.V.items, 1, self.zn.z, th,
                                       NULL)
            if rc == c.EA_ERR_ELEMENT:
                # the first bad distinct statement is the first bad row's (first occurrences)
                if c.ea_check_elements(&first_bad, <const mpz_t *>self.W.items, self.W.count,
                                       self.zn.z) != c.EA_OK:
                    raise errors.InvalidElement(f"witness {self.distinct[first_bad]} must satisfy "
                                                "1 < y < N-1 and gcd(y, N) = 1")
                _require_elements(self.V, self.zn.z, "accumulator value")
            _check(rc)
            return [i for i in range(self.t) if bad[self.owner[i]]]
        finally:
            free(vi)
            free(bad)


cdef _MpzVec _gathered(_MpzVec src, const size_t *rows, size_t count, str what):
    """The items src[rows[0..count)], moved out of src."""
    cdef _MpzVec out = _zeros(count, what)
    cdef size_t j
    for j in range(count):
        mpz_swap(out.items[j], src.items[rows[j]])
    return out


def prepare_rows(const unsigned char[:, ::1] ws, const unsigned char[:, ::1] xs, v, n,
                 const unsigned char[:, ::1] rs, unsigned security):
    """The _RowBatch of batch_verify_rows' arguments (every check but the C verifier's)."""
    cdef _Mpz zn = _Mpz()
    cdef _MpzVec W, X, R
    cdef size_t t = ws.shape[0], xw = xs.shape[1], first_bad = 0
    cdef const unsigned char *xp = &xs[0, 0] if t and xw else NULL
    cdef int rc
    cdef _RowBatch batch = _RowBatch()
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    if <size_t>xs.shape[0] != t or <size_t>rs.shape[0] != t:
        raise errors.InvalidArgument("witnesses, elements and weights must have the same number of rows")
    # a weight of fewer random bits than `security` (or none) would weaken the batch test
    if security < 1 or (t and security > 8 * <size_t>rs.shape[1]):
        raise errors.InvalidArgument(f"security must be 1..{8 * rs.shape[1]} bits (the weight rows' width)")
    W = _vec_of_rows(ws, "witness")
    X = _vec_of_rows(xs, "element")
    R = _vec_of_rows(rs, "weight")
    batch.V = _MpzVec([v], "accumulator value")
    _require_exponents(X, c.EA_RULE_ELEMENT, "element")
    # ws and v: the C call checks them (one pass); only a failure runs the indexed check
    ea_rows_weights(R.items, t, security)
    # one check per statement: repeats with an order-2 error would cancel in the product
    batch.owner = <size_t *>malloc(max(t, 1) * sizeof(size_t))
    batch.distinct = <size_t *>malloc(max(t, 1) * sizeof(size_t))
    if batch.owner == NULL or batch.distinct == NULL:
        raise errors.OutOfMemory("cannot allocate the statement lists")
    with nogil:
        rc = ea_rows_statements(batch.owner, batch.distinct, &batch.count, &first_bad,
                                <const mpz_t *>W.items, xp, t, xw, zn.z)
    if rc == c.EA_ERR_ELEMENT:
        raise errors.InvalidElement(f"witness {first_bad} must satisfy 1 < y < N-1 and gcd(y, N) = 1")
    _check(rc)
    if batch.count != t:
        W = _gathered(W, batch.distinct, batch.count, "witness")
        X = _gathered(X, batch.distinct, batch.count, "element")
        R = _gathered(R, batch.distinct, batch.count, "weight")
    batch.zn, batch.W, batch.X, batch.R, batch.t = zn, W, X, R, t
    return batch
