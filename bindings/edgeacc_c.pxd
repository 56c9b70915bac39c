# Raw declarations of csrc/edgeacc.h, named as in C.
from libc.stdint cimport uint32_t
from gmp cimport mpz_t, mpz_ptr, mpz_srcptr

cdef extern from "edgeacc.h" nogil:
    ctypedef enum ea_status:
        EA_OK
        EA_ERR_MODULUS
        EA_ERR_EXPONENT
        EA_ERR_ELEMENT
        EA_ERR_ARGUMENT
        EA_ERR_NOMEM
        EA_ERR_EXHAUSTED
        EA_ERR_NOT_INVERTIBLE

    int EA_H2P_MAX_BITS

    int ea_check_modulus(mpz_srcptr n)
    int ea_check_element(mpz_srcptr y, mpz_srcptr n)
    int ea_powm(mpz_ptr r, mpz_srcptr base, mpz_srcptr exp, mpz_srcptr n)
    int ea_powm_sec(mpz_ptr r, mpz_srcptr base, mpz_srcptr exp, mpz_srcptr n)
    int ea_jacobi(int *j, mpz_srcptr a, mpz_srcptr n)
    int ea_canonical(mpz_ptr r, mpz_srcptr y, mpz_srcptr n)
    int ea_equal_pm(mpz_srcptr a, mpz_srcptr b, mpz_srcptr n)
    int ea_verify_membership(mpz_srcptr w, mpz_srcptr x, mpz_srcptr v, mpz_srcptr n, int *ok)
    unsigned long ea_smallest_factor(mpz_srcptr n, unsigned long bound)

    int ea_is_probable_prime(mpz_srcptr x)
    int ea_hash_candidate(mpz_ptr c, const unsigned char *domain, size_t dlen,
                          const unsigned char *data, size_t len, uint32_t nonce, unsigned bits)
    int ea_hash_to_prime(mpz_ptr x, uint32_t *nonce, const unsigned char *domain, size_t dlen,
                         const unsigned char *data, size_t len, unsigned bits, uint32_t max_nonce)
    int ea_check_representative(int *ok, mpz_srcptr x, uint32_t nonce,
                                const unsigned char *domain, size_t dlen,
                                const unsigned char *data, size_t len, unsigned bits)

    int ea_product(mpz_ptr r, const mpz_t *xs, size_t count)
    int ea_powm_product(mpz_ptr r, mpz_srcptr base, const mpz_t *xs, size_t count, mpz_srcptr n)
