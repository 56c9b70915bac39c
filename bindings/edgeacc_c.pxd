# Raw declarations of csrc/edgeacc.h, named as in C.
from libc.stdint cimport uint32_t, uint64_t
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
        EA_ERR_RANDOM

    int EA_H2P_MAX_BITS

    # ea_protocol.h: the protocol constants (string macros are const char *)
    const char *EA_H2P_DOMAIN
    int EA_H2P_BITS
    unsigned long EA_H2P_MAX_NONCE
    const char *EA_GENERATOR_DOMAIN
    int EA_GENERATOR_EXTRA_BYTES
    int EA_MIN_SECURE_BITS
    int EA_MIN_INSECURE_BITS
    int EA_MAX_MODULUS_BYTES
    const char *EA_RSA2048_HEX
    const char *EA_MEMBERSHIP_PROOF_MAGIC
    int EA_MEMBERSHIP_PROOF_VERSION
    int EA_BATCH_SECURITY_BITS
    const char *EA_LEDGER_PROOF_MAGIC
    int EA_LEDGER_PROOF_VERSION
    const char *EA_LEDGER_HEADER_MAGIC
    int EA_LEDGER_BLOCK_VERSION
    const char *EA_LEDGER_TX_MAGIC
    int EA_LEDGER_TX_VERSION
    int EA_LEDGER_TX_KIND_MAX
    const char *EA_LEDGER_ELEMENT_DOMAIN
    int EA_LEDGER_DIGEST_BYTES
    int EA_LEDGER_SIGNATURE_BYTES
    int EA_LEDGER_MAX_CHAIN_ID
    const char *EA_LEDGER_CHAIN_ID_CHARS
    unsigned long EA_LEDGER_MAX_PROOF_PART
    unsigned long EA_LEDGER_MAX_PAYLOAD_BYTES
    int EA_LEDGER_MAX_URL_BYTES
    int EA_LEDGER_MAX_ELEMENT_BYTES
    int EA_LEDGER_REPRESENTATIVE_BYTES

    const char *ea_version()

    int ea_check_modulus(mpz_srcptr n)
    int ea_check_element(mpz_srcptr y, mpz_srcptr n)
    int ea_powm(mpz_ptr r, mpz_srcptr base, mpz_srcptr exp, mpz_srcptr n)
    int ea_powm_sec(mpz_ptr r, mpz_srcptr base, mpz_srcptr exp, mpz_srcptr n)
    int ea_jacobi(int *j, mpz_srcptr a, mpz_srcptr n)
    int ea_canonical(mpz_ptr r, mpz_srcptr y, mpz_srcptr n)
    int ea_equal_pm(mpz_srcptr a, mpz_srcptr b, mpz_srcptr n)
    int ea_verify_membership(mpz_srcptr w, mpz_srcptr x, mpz_srcptr v, mpz_srcptr n, int *ok)
    int ea_derive_generator(mpz_ptr g, mpz_srcptr n, const unsigned char *chain_id, size_t len)
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

    # ea_mont.h / ea_multiexp.h
    ctypedef struct ea_opcount:
        unsigned long mul
        unsigned long sqr

    # The layout is internal (ea_multiexp.h, which _core.pyx includes to embed the table);
    # other extensions hold one by pointer: ea_mexp_table_new / ea_mexp_table_free.
    ctypedef struct ea_mexp_table:
        size_t count
        unsigned c
        size_t groups

    enum:
        EA_MEXP_AUTO
        EA_MEXP_TABLES
        EA_MEXP_WINDOW
        EA_MEXP_BUCKETS
        EA_MEXP_MAX_TABLE_C
        EA_MEXP_MAX_WINDOW

    void ea_mexp_choose(int *method, unsigned *param, size_t count, size_t bits)
    int ea_multi_exp(mpz_ptr r, const mpz_t *bases, const mpz_t *exps, size_t count, mpz_srcptr n,
                     int method, unsigned param, unsigned threads, ea_opcount *ops)
    int ea_mexp_table_init(ea_mexp_table *t, const mpz_t *bases, size_t count, mpz_srcptr n,
                           unsigned c)
    int ea_mexp_table_eval(mpz_ptr r, const ea_mexp_table *t, const mpz_t *exps, size_t count,
                           unsigned threads, ea_opcount *ops)
    void ea_mexp_table_clear(ea_mexp_table *t)
    int ea_mexp_table_new(ea_mexp_table **t, const mpz_t *bases, size_t count, mpz_srcptr n,
                          unsigned c)
    void ea_mexp_table_free(ea_mexp_table *t)

    # ea_batch.h
    int ea_check_elements(size_t *first_bad, const mpz_t *ys, size_t count, mpz_srcptr n)
    int ea_batch_verify(unsigned char *bad, const mpz_t *ws, const mpz_t *xs, const mpz_t *rs,
                        const size_t *vidx, size_t count, const mpz_t *vals, size_t nvals,
                        mpz_srcptr n, unsigned threads, ea_opcount *ops)
    int ea_batch_check_unweighted(int *ok, const mpz_t *ws, const mpz_t *xs, const mpz_t *vs,
                                  size_t count, mpz_srcptr n, unsigned c, ea_opcount *ops)

    # ea_witness.h
    int ea_powm_shared_base(mpz_t *out, mpz_srcptr base, const mpz_t *exps, size_t k, mpz_srcptr n)
    int ea_root_factory(mpz_t *out, mpz_srcptr base, const mpz_t *xs, size_t count, mpz_srcptr n,
                        unsigned arity, unsigned threads)
    int ea_powm_many_bases(mpz_t *out, const mpz_t *bases, size_t count, mpz_srcptr e, mpz_srcptr n,
                           unsigned threads)
    int ea_shamir_trick(mpz_ptr r, mpz_srcptr wa, mpz_srcptr xa, mpz_srcptr wb, mpz_srcptr xb,
                        mpz_srcptr n)
    int ea_aggregate(mpz_ptr r, mpz_ptr X, const mpz_t *ws, const mpz_t *xs, size_t count,
                     mpz_srcptr n)

    # ea_check.h
    enum:
        EA_RULE_NONNEG
        EA_RULE_POSITIVE
        EA_RULE_ELEMENT
        EA_RULE_PRIME
    int ea_check_exponent(mpz_srcptr x, int rule)
    int ea_check_exponents(size_t *first_bad, const mpz_t *xs, size_t count, int rule)
    int ea_check_bases(size_t *first_bad, const mpz_t *bs, size_t count, mpz_srcptr n)

    # ea_modulus.h
    enum:
        EA_WEAK_NOT_SCREENED
        EA_WEAK_NONE
        EA_WEAK_PERFECT_POWER
        EA_WEAK_PRIME
        EA_WEAK_SMALL_FACTOR
        EA_WEAK_NEAR_SQUARE
        EA_WEAK_PSEUDOPRIME
        EA_WEAK_SMOOTH_ORDER
    int ea_screen_modulus(int *weakness, mpz_ptr factor, mpz_srcptr n, uint64_t bound,
                          unsigned long steps, unsigned threads)

    # ea_poe.h
    int ea_poe_prove(mpz_ptr Q, mpz_srcptr w, mpz_srcptr X, mpz_srcptr l, mpz_srcptr n)
    int ea_poe_verify(int *ok, mpz_srcptr w, mpz_srcptr X, mpz_srcptr v, mpz_srcptr Q,
                      mpz_srcptr l, mpz_srcptr n)

    # ea_bytes.h: the byte-level API (no GMP types)
    ctypedef struct ea_inclusion:
        int ok
        int reason
        const unsigned char *tx
        size_t tx_len
        unsigned char tx_id[32]
        int tx_kind
        uint64_t height
        unsigned char previous[32]
        uint64_t timestamp_ms
        unsigned char merkle_root[32]
        uint32_t tx_count
    enum:
        EA_INCLUSION_OK
        EA_INCLUSION_MALFORMED
        EA_INCLUSION_WRONG_CHAIN
        EA_INCLUSION_WRONG_HEIGHT
        EA_INCLUSION_NOT_INTERLOCKED
        EA_INCLUSION_MERKLE
        EA_INCLUSION_ACCUMULATOR
    int ea_bytes_rsa2048(unsigned char *out, size_t out_len)
    int ea_bytes_hash_to_prime(unsigned char *x, uint32_t *nonce, const unsigned char *data, size_t len)
    int ea_bytes_check_representative(int *ok, const unsigned char *data, size_t len,
                                      const unsigned char *x, size_t x_len, uint32_t nonce)
    int ea_bytes_generator(unsigned char *g, size_t g_len, const unsigned char *n, size_t n_len,
                           const unsigned char *chain_id, size_t id_len)
    int ea_bytes_verify_membership(int *ok, const unsigned char *w, size_t w_len,
                                   const unsigned char *x, size_t x_len, const unsigned char *v,
                                   size_t v_len, const unsigned char *n, size_t n_len)
    int ea_bytes_batch_verify(unsigned char *bad, int *all_ok, const unsigned char *ws,
                              const unsigned char *xs, size_t x_len, const unsigned char *vs,
                              size_t count, const unsigned char *n, size_t n_len, unsigned threads)
    int ea_bytes_verify_inclusion(ea_inclusion *result, const unsigned char *proof, size_t proof_len,
                                  const unsigned char *chain_id, size_t id_len,
                                  const unsigned char *acc, size_t acc_len, uint64_t acc_height,
                                  const unsigned char *n, size_t n_len)
    const char *ea_inclusion_reason_name(int reason)

# ---- issue 14: non-membership, PoKE2 (ea_nonmem.h, ea_poke.h) ----
cdef extern from "edgeacc.h" nogil:
    const char *EA_POKE2_DOMAIN
    const char *EA_POKE2_ALPHA_DOMAIN
    int EA_POKE2_CHALLENGE_BITS
    int EA_POKE2_ALPHA_BITS
    int EA_POKE2_MAX_CONTEXT
    const char *EA_POKE2_PROOF_MAGIC
    const char *EA_NONMEM_PROOF_MAGIC
    const char *EA_NONMEM_SET_PROOF_MAGIC
    const char *EA_UPDATE_PROOF_MAGIC
    const char *EA_UPDATE_CONTEXT
    int EA_UPDATE_ADD
    int EA_UPDATE_DELETE
    int EA_ACC_PROOF_VERSION

    int ea_nonmem_create(mpz_ptr a, mpz_ptr B, mpz_srcptr g, mpz_srcptr X, mpz_srcptr y, mpz_srcptr n)
    int ea_nonmem_verify(int *ok, mpz_srcptr g, mpz_srcptr v, mpz_srcptr y, mpz_srcptr a, mpz_srcptr B,
                         mpz_srcptr n)
    int ea_nonmem_batch_create(mpz_t *as_, mpz_t *Bs, mpz_srcptr g, mpz_srcptr v, mpz_srcptr X,
                               const mpz_t *ys, size_t count, mpz_srcptr n, unsigned threads)
    int ea_nonmem_update_add(mpz_ptr a2, mpz_ptr B2, mpz_srcptr a, mpz_srcptr B, mpz_srcptr y,
                             mpz_srcptr v_old, mpz_srcptr v_new, mpz_srcptr Z, mpz_srcptr n)
    int ea_nonmem_update_delete(mpz_ptr a2, mpz_ptr B2, mpz_srcptr a, mpz_srcptr B, mpz_srcptr y,
                                mpz_srcptr v_new, mpz_srcptr D, mpz_srcptr n)
    int ea_nonmem_batch_verify(unsigned char *bad, mpz_srcptr g, mpz_srcptr v, const mpz_t *ys,
                               const mpz_t *as_, const mpz_t *Bs, const mpz_t *rs, size_t count,
                               mpz_srcptr n)

    int ea_poke2_challenge(mpz_ptr l, mpz_ptr alpha, mpz_srcptr g, mpz_srcptr u, mpz_srcptr w,
                           mpz_srcptr z, const unsigned char *ctx, size_t ctx_len, mpz_srcptr n)
    int ea_poke2_prove(mpz_ptr z, mpz_ptr Q, mpz_ptr r, mpz_srcptr g, mpz_srcptr u, mpz_srcptr w,
                       mpz_srcptr x, const unsigned char *ctx, size_t ctx_len, mpz_srcptr n)
    int ea_poke2_verify(int *ok, mpz_srcptr g, mpz_srcptr u, mpz_srcptr w, mpz_srcptr z, mpz_srcptr Q,
                        mpz_srcptr r, const unsigned char *ctx, size_t ctx_len, mpz_srcptr n)
