/* ea_prime.c - hash-to-prime: SHA-256 candidates, small-prime sieve, then BPSW. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_CTX: a struct copy per candidate beats EVP */
#include <string.h>
#include <openssl/sha.h>
#include "ea_prime.h"
#include "ea_ifma.h"
#include "ea_sieve_table.h"

/* GMP >= 6.2 replaces the first 24 Miller-Rabin rounds by one Baillie-PSW test, so 24 is
 * exactly BPSW; older GMP gets 25 plain rounds (DESIGN.md section 2). */
#if __GNU_MP_RELEASE >= 60200
#define EA_PRIME_REPS 24
#else
#define EA_PRIME_REPS 25
#endif

int ea_is_probable_prime(const mpz_t x)
{
    return mpz_probab_prime_p(x, EA_PRIME_REPS) != 0;
}

static int check_h2p_args(const unsigned char *domain, size_t dlen, const unsigned char *data,
                          size_t len, unsigned bits)
{
    if (domain == NULL || dlen == 0 || dlen > 255 || data == NULL || len == 0)
        return EA_ERR_ARGUMENT;
    if (bits < 16 || bits > EA_H2P_MAX_BITS || bits % 8 != 0)
        return EA_ERR_ARGUMENT;
    return EA_OK;
}

static void prefix_context(SHA256_CTX *ctx, const unsigned char *domain, size_t dlen,
                           const unsigned char *data, size_t len)
{
    unsigned char dl = (unsigned char)dlen;
    SHA256_Init(ctx);
    SHA256_Update(ctx, &dl, 1);
    SHA256_Update(ctx, domain, dlen);
    SHA256_Update(ctx, data, len);
}

static void candidate_from_prefix(mpz_t c, const SHA256_CTX *prefix, uint32_t nonce, unsigned bits)
{
    SHA256_CTX ctx = *prefix;
    unsigned char be[4], digest[SHA256_DIGEST_LENGTH];
    be[0] = (unsigned char)(nonce >> 24);
    be[1] = (unsigned char)(nonce >> 16);
    be[2] = (unsigned char)(nonce >> 8);
    be[3] = (unsigned char)nonce;
    SHA256_Update(&ctx, be, 4);
    SHA256_Final(digest, &ctx);
    digest[0] |= 0x80;
    digest[bits / 8 - 1] |= 0x01;
    mpz_import(c, bits / 8, 1, 1, 1, 0, digest);
}

/* 1 if c has no odd prime factor below EA_SIEVE_BOUND (c is larger than all of them). */
static int passes_sieve(const mpz_t c)
{
#if GMP_NUMB_BITS == 64 && !defined(__GMP_SHORT_LIMB)
    const mp_limb_t *limbs = mpz_limbs_read(c);
    mp_size_t n = mpz_size(c);
    int g, i;
    for (g = 0; g < EA_SIEVE_GROUPS; g++) {
        uint64_t r = mpn_mod_1(limbs, n, ea_sieve_group_product[g]);
        for (i = ea_sieve_group_start[g]; i < ea_sieve_group_start[g + 1]; i++)
            if (r * ea_sieve_inverse[i] <= ea_sieve_limit[i])
                return 0;
    }
    return 1;
#else
    int i;
    for (i = 0; i < EA_SIEVE_PRIMES; i++)
        if (mpz_divisible_ui_p(c, ea_sieve_prime[i]))
            return 0;
    return 1;
#endif
}

int ea_hash_candidate(mpz_t c, const unsigned char *domain, size_t dlen,
                      const unsigned char *data, size_t len, uint32_t nonce, unsigned bits)
{
    SHA256_CTX prefix;
    int rc = check_h2p_args(domain, dlen, data, len, bits);
    if (rc != EA_OK)
        return rc;
    prefix_context(&prefix, domain, dlen, data, len);
    candidate_from_prefix(c, &prefix, nonce, bits);
    return EA_OK;
}

/* The search with the sieve's survivors Fermat-tested 8 at a time on the IFMA lanes: the
 * first survivor, in nonce order, that passes Fermat and BPSW is the answer, exactly as in
 * the one-by-one search (a prime passes Fermat; BPSW decides every candidate that does). */
static int search_in_lanes(mpz_t x, uint32_t *nonce, const SHA256_CTX *prefix, unsigned bits,
                           uint32_t max_nonce)
{
    mpz_t c[8];
    uint32_t ks[8], k = 0;
    unsigned char pass[8];
    size_t m, i;
    int rc = EA_ERR_EXHAUSTED;
    for (i = 0; i < 8; i++)
        mpz_init(c[i]);
    while (k < max_nonce && rc == EA_ERR_EXHAUSTED) {
        for (m = 0; m < 8 && k < max_nonce; k++) {
            candidate_from_prefix(c[m], prefix, k, bits);
            if (passes_sieve(c[m]))
                ks[m++] = k;
        }
        if (m == 0 || !ea_ifma_fermat8(pass, (const mpz_t *)c, m))
            memset(pass, 1, sizeof pass);
        for (i = 0; i < m; i++)
            if (pass[i] && ea_is_probable_prime(c[i])) {
                mpz_set(x, c[i]);
                *nonce = ks[i];
                rc = EA_OK;
                break;
            }
    }
    for (i = 0; i < 8; i++)
        mpz_clear(c[i]);
    return rc;
}

int ea_hash_to_prime(mpz_t x, uint32_t *nonce, const unsigned char *domain, size_t dlen,
                     const unsigned char *data, size_t len, unsigned bits, uint32_t max_nonce)
{
    SHA256_CTX prefix;
    uint32_t k;
    int rc = check_h2p_args(domain, dlen, data, len, bits);
    if (rc != EA_OK)
        return rc;
    prefix_context(&prefix, domain, dlen, data, len);
    if (bits <= 256 && ea_ifma_fermat_apply())
        return search_in_lanes(x, nonce, &prefix, bits, max_nonce);
    for (k = 0; k < max_nonce; k++) {
        candidate_from_prefix(x, &prefix, k, bits);
        if (passes_sieve(x) && ea_is_probable_prime(x)) {
            *nonce = k;
            return EA_OK;
        }
    }
    return EA_ERR_EXHAUSTED;
}

int ea_check_representative(int *ok, const mpz_t x, uint32_t nonce, const unsigned char *domain,
                            size_t dlen, const unsigned char *data, size_t len, unsigned bits)
{
    mpz_t c;
    int rc;
    *ok = 0;
    mpz_init(c);
    rc = ea_hash_candidate(c, domain, dlen, data, len, nonce, bits);
    if (rc == EA_OK)
        *ok = mpz_cmp(c, x) == 0 && ea_is_probable_prime(c);
    mpz_clear(c);
    return rc;
}
