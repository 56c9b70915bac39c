# Raw declarations of the few GMP calls the bindings need (conversion and lifetimes only;
# all arithmetic lives in csrc/).
cdef extern from "gmp.h" nogil:
    ctypedef struct __mpz_struct:
        pass
    ctypedef __mpz_struct mpz_t[1]
    ctypedef __mpz_struct *mpz_ptr
    ctypedef const __mpz_struct *mpz_srcptr

    void mpz_init(mpz_ptr)
    void mpz_clear(mpz_ptr)
    void mpz_set_si(mpz_ptr, long)
    void mpz_neg(mpz_ptr, mpz_srcptr)
    long mpz_get_si(mpz_srcptr)
    int mpz_fits_slong_p(mpz_srcptr)
    int mpz_sgn(mpz_srcptr)
    size_t mpz_sizeinbase(mpz_srcptr, int)
    void mpz_import(mpz_ptr, size_t count, int order, size_t size, int endian, size_t nails,
                    const void *op)
    void *mpz_export(void *rop, size_t *countp, int order, size_t size, int endian,
                     size_t nails, mpz_srcptr op)
    int mpz_cmp(mpz_srcptr, mpz_srcptr)
    void mpz_swap(mpz_ptr, mpz_ptr)
