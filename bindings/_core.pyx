# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False
"""Low-level bindings of the edgeacc C core, named after the C functions.

Every wrapper converts and checks its arguments before any GMP call (GMP aborts or raises
SIGFPE on some inputs), then releases the GIL around the C work. Users want the high-level
API in :mod:`edgeacc`; this module is its engine room.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.stdint cimport uint32_t
from libc.stdlib cimport malloc, free

from gmp cimport (mpz_t, mpz_init, mpz_clear, mpz_set_si, mpz_neg, mpz_sgn, mpz_sizeinbase,
                  mpz_import, mpz_export, mpz_fits_slong_p, mpz_get_si)
cimport edgeacc_c as c

from edgeacc import errors

H2P_MAX_BITS = c.EA_H2P_MAX_BITS
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
        raise MemoryError()
    if rc == c.EA_ERR_EXHAUSTED:
        raise errors.SearchExhausted("no probable prime among the allowed nonces")
    raise errors.EdgeaccError(f"unknown status {rc} from the C core")


cdef object _as_int(object obj, str what):
    """Accept int or gmpy2.mpz (anything exact with __index__), never bool/float/str."""
    if type(obj) is int:
        return obj
    if isinstance(obj, (bool, float, str, bytes)) or not hasattr(obj, "__index__"):
        raise errors.EdgeaccTypeError(f"{what} must be an int (or gmpy2.mpz), got {type(obj).__name__}")
    return obj.__index__()


cdef int _to_mpz(mpz_t z, object obj, str what) except -1:
    """Python int -> mpz through a big-endian byte buffer (no decimal strings)."""
    cdef object v = _as_int(obj, what)
    cdef bytes raw
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


cdef class _MpzArray:
    """An owned C array of mpz_t filled from a Python sequence of positive ints."""
    cdef mpz_t *items
    cdef size_t count

    def __cinit__(self, values, str what):
        cdef size_t i
        seq = list(values)
        self.count = 0
        self.items = <mpz_t *>malloc(max(len(seq), 1) * sizeof(mpz_t))
        if self.items == NULL:
            raise MemoryError()
        for i in range(len(seq)):
            mpz_init(self.items[i])
            self.count = i + 1
            _to_mpz(self.items[i], seq[i], what)
            if mpz_sgn(self.items[i]) <= 0:
                raise errors.InvalidExponent(f"{what} must be positive (item {i})")

    def __dealloc__(self):
        cdef size_t i
        if self.items != NULL:
            for i in range(self.count):
                mpz_clear(self.items[i])
            free(self.items)


cdef int _require_modulus(mpz_t n) except -1:
    if mpz_sgn(n) <= 0:
        raise errors.InvalidModulus("modulus must be a positive odd integer >= 3, got a non-positive one")
    return _check(c.ea_check_modulus(n))


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
    _check(c.ea_check_element(zy.z, zn.z))


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


def canonical(y, n):
    """ea_canonical: min(y, n - y), the representative of y's class in Z_n^*/{+-1}."""
    cdef _Mpz zy = _Mpz(), zn = _Mpz(), zr = _Mpz()
    _to_mpz(zy.z, y, "element")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _check(c.ea_check_element(zy.z, zn.z))
    _check(c.ea_canonical(zr.z, zy.z, zn.z))
    return _from_mpz(zr.z)


def equal_pm(a, b, n):
    """ea_equal_pm: a = +-b (mod n), for a, b already reduced into [0, n)."""
    cdef _Mpz za = _Mpz(), zb = _Mpz(), zn = _Mpz()
    _to_mpz(za.z, a, "element")
    _to_mpz(zb.z, b, "element")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _check(c.ea_check_element(za.z, zn.z))
    _check(c.ea_check_element(zb.z, zn.z))
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
    if mpz_sgn(zx.z) <= 0:
        raise errors.InvalidExponent("element (exponent) must be a positive integer")
    with nogil:  # ea_verify_membership validates w and v itself (one gcd for both)
        rc = c.ea_verify_membership(zw.z, zx.z, zv.z, zn.z, &ok)
    _check(rc)
    return bool(ok)


def smallest_factor(n, unsigned long bound):
    """ea_smallest_factor: the smallest prime p < bound dividing n, or 0."""
    cdef _Mpz zn = _Mpz()
    cdef unsigned long p
    _to_mpz(zn.z, n, "n")
    if mpz_sgn(zn.z) <= 0:
        raise errors.InvalidArgument("n must be positive")
    with nogil:
        p = c.ea_smallest_factor(zn.z, bound)
    return p


def is_probable_prime(x):
    """ea_is_probable_prime: BPSW (GMP >= 6.2)."""
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


def hash_candidate(domain, data, uint32_t nonce, unsigned bits):
    """ea_hash_candidate: SHA-256(u8(len(domain)) || domain || data || be32(nonce)), top/low bit set."""
    cdef bytes d = _as_bytes(domain, "domain"), m = _as_bytes(data, "data")
    cdef _Mpz zc = _Mpz()
    _check_h2p(d, m, bits)
    _check(c.ea_hash_candidate(zc.z, <const unsigned char *>d, len(d),
                               <const unsigned char *>m, len(m), nonce, bits))
    return _from_mpz(zc.z)


def hash_to_prime(domain, data, unsigned bits, uint32_t max_nonce):
    """ea_hash_to_prime: (x, nonce) for the first candidate that is a probable prime."""
    cdef bytes d = _as_bytes(domain, "domain"), m = _as_bytes(data, "data")
    cdef const unsigned char *dp
    cdef const unsigned char *mp
    cdef size_t dl, ml
    cdef _Mpz zx = _Mpz()
    cdef uint32_t nonce = 0
    cdef int rc
    _check_h2p(d, m, bits)
    dp, dl, mp, ml = <const unsigned char *>d, len(d), <const unsigned char *>m, len(m)
    with nogil:
        rc = c.ea_hash_to_prime(zx.z, &nonce, dp, dl, mp, ml, bits, max_nonce)
    _check(rc)
    return _from_mpz(zx.z), nonce


def check_representative(domain, data, x, nonce, unsigned bits):
    """ea_check_representative: x is candidate `nonce` of data and a probable prime."""
    cdef bytes d = _as_bytes(domain, "domain"), m = _as_bytes(data, "data")
    cdef const unsigned char *dp
    cdef const unsigned char *mp
    cdef size_t dl, ml
    cdef _Mpz zx = _Mpz()
    cdef int ok = 0, rc
    cdef uint32_t k
    _check_h2p(d, m, bits)
    k_int = _as_int(nonce, "nonce")
    if not 0 <= k_int <= _MAX_NONCE_LIMIT:
        raise errors.InvalidArgument("nonce must be in 0..2**32-1")
    k = k_int
    _to_mpz(zx.z, x, "representative")
    if mpz_sgn(zx.z) <= 0:
        return False
    dp, dl, mp, ml = <const unsigned char *>d, len(d), <const unsigned char *>m, len(m)
    with nogil:
        rc = c.ea_check_representative(&ok, zx.z, k, dp, dl, mp, ml, bits)
    _check(rc)
    return bool(ok)


def product(xs):
    """ea_product: the product of positive ints by a product tree."""
    cdef _MpzArray arr = _MpzArray(xs, "factor")
    cdef _Mpz zr = _Mpz()
    cdef int rc
    with nogil:
        rc = c.ea_product(zr.z, <const mpz_t *>arr.items, arr.count)
    _check(rc)
    return _from_mpz(zr.z)


def powm_product(base, xs, n):
    """ea_powm_product: base^(prod xs) mod n with one exponentiation; base if xs is empty."""
    cdef _Mpz zb = _Mpz(), zn = _Mpz(), zr = _Mpz()
    cdef _MpzArray arr
    cdef int rc
    _to_mpz(zb.z, base, "base")
    _to_mpz(zn.z, n, "modulus")
    _require_modulus(zn.z)
    _check(c.ea_check_element(zb.z, zn.z))
    arr = _MpzArray(xs, "exponent")
    with nogil:
        rc = c.ea_powm_product(zr.z, zb.z, <const mpz_t *>arr.items, arr.count, zn.z)
    _check(rc)
    return _from_mpz(zr.z)
