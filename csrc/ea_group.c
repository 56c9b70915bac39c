/* ea_group.c - arithmetic in Z_N^* / {+1, -1}. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "ea_group.h"
#include "ea_fastexp.h"
#include "ea_check.h"
#include "ea_protocol.h"

int ea_check_modulus(const mpz_t n)
{
    if (mpz_cmp_ui(n, 3) < 0 || mpz_even_p(n))
        return EA_ERR_MODULUS;
    return EA_OK;
}

int ea_check_element(const mpz_t y, const mpz_t n)
{
    int rc = ea_check_modulus(n);
    mpz_t t;
    if (rc != EA_OK)
        return rc;
    if (mpz_cmp_ui(y, 1) <= 0)
        return EA_ERR_ELEMENT;
    mpz_init(t);
    mpz_sub_ui(t, n, 1);
    if (mpz_cmp(y, t) >= 0) {
        mpz_clear(t);
        return EA_ERR_ELEMENT;
    }
    mpz_gcd(t, y, n);
    rc = mpz_cmp_ui(t, 1) == 0 ? EA_OK : EA_ERR_ELEMENT;
    mpz_clear(t);
    return rc;
}

int ea_check_base(const mpz_t base, const mpz_t n)
{
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    return mpz_sgn(base) > 0 && mpz_cmp(base, n) < 0 ? EA_OK : EA_ERR_ELEMENT;
}

static int check_powm_args(const mpz_t base, const mpz_t exp, const mpz_t n)
{
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (mpz_sgn(exp) <= 0)
        return EA_ERR_EXPONENT;
    if (mpz_sgn(base) < 0 || mpz_cmp(base, n) >= 0)
        return EA_ERR_ELEMENT;
    return EA_OK;
}

int ea_powm(mpz_t r, const mpz_t base, const mpz_t exp, const mpz_t n)
{
    int rc = check_powm_args(base, exp, n);
    if (rc == EA_OK)
        ea_fast_powm(r, base, exp, n);
    return rc;
}

int ea_powm_sec(mpz_t r, const mpz_t base, const mpz_t exp, const mpz_t n)
{
    int rc = check_powm_args(base, exp, n);
    if (rc == EA_OK)
        mpz_powm_sec(r, base, exp, n);
    return rc;
}

int ea_jacobi(int *j, const mpz_t a, const mpz_t n)
{
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    *j = mpz_jacobi(a, n);
    return EA_OK;
}

int ea_canonical(mpz_t r, const mpz_t y, const mpz_t n)
{
    int rc = ea_check_modulus(n);
    mpz_t neg;
    if (rc != EA_OK)
        return rc;
    if (mpz_sgn(y) < 0 || mpz_cmp(y, n) >= 0)
        return EA_ERR_ELEMENT;
    mpz_init(neg);
    mpz_sub(neg, n, y);
    if (mpz_cmp(neg, y) < 0)
        mpz_swap(r, neg);
    else
        mpz_set(r, y);
    mpz_clear(neg);
    return EA_OK;
}

int ea_equal_pm(const mpz_t a, const mpz_t b, const mpz_t n)
{
    mpz_t s;
    int eq;
    if (mpz_cmp(a, b) == 0)
        return 1;
    mpz_init(s);
    mpz_add(s, a, b);
    eq = mpz_cmp(s, n) == 0;
    mpz_clear(s);
    return eq;
}

/* 1 < y < n-1, without the gcd. */
static int in_open_range(const mpz_t y, const mpz_t n)
{
    int ok;
    mpz_t t;
    if (mpz_cmp_ui(y, 1) <= 0)
        return 0;
    mpz_init(t);
    mpz_sub_ui(t, n, 1);
    ok = mpz_cmp(y, t) < 0;
    mpz_clear(t);
    return ok;
}

int ea_verify_membership(const mpz_t w, const mpz_t x, const mpz_t v, const mpz_t n, int *ok)
{
    int rc = ea_check_modulus(n);
    mpz_t r, wv;
    *ok = 0;
    if (rc != EA_OK)
        return rc;
    if (!in_open_range(w, n) || !in_open_range(v, n))
        return EA_ERR_ELEMENT;
    if ((rc = ea_check_exponent(x, EA_RULE_ELEMENT)) != EA_OK)
        return rc;
    mpz_inits(r, wv, NULL);
    /* One gcd checks both: gcd(w v mod n, n) = 1 iff w and v are units. */
    mpz_mul(wv, w, v);
    mpz_mod(wv, wv, n);
    mpz_gcd(r, wv, n);
    if (mpz_cmp_ui(r, 1) != 0) {
        rc = EA_ERR_ELEMENT;
    } else {
        ea_fast_powm(r, w, x, n);
        *ok = ea_equal_pm(r, v, n);
    }
    mpz_clears(r, wv, NULL);
    return rc;
}

unsigned long ea_smallest_factor(const mpz_t n, unsigned long bound)
{
    unsigned long p;
    if (bound > 2 && mpz_even_p(n))
        return 2;
    /* Odd trial divisors; composite ones never hit first, so the first hit is prime. */
    for (p = 3; p < bound; p += 2) {
        if (mpz_cmp_ui(n, p) <= 0)
            break;
        if (mpz_divisible_ui_p(n, p))
            return p;
    }
    return 0;
}

/* out = the first len bytes of SHA-256(u8(dlen) || domain || be32(counter) || msg), counter
 * = 0, 1, ... (SHA-256 in counter mode). */
static void expand_hash(unsigned char *out, size_t len, const char *domain,
                        const unsigned char *msg, size_t mlen)
{
    unsigned char dl = (unsigned char)strlen(domain), be[4], digest[SHA256_DIGEST_LENGTH];
    uint32_t counter;
    size_t done = 0, take;
    SHA256_CTX ctx;
    for (counter = 0; done < len; counter++) {
        be[0] = (unsigned char)(counter >> 24);
        be[1] = (unsigned char)(counter >> 16);
        be[2] = (unsigned char)(counter >> 8);
        be[3] = (unsigned char)counter;
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, &dl, 1);
        SHA256_Update(&ctx, domain, dl);
        SHA256_Update(&ctx, be, 4);
        SHA256_Update(&ctx, msg, mlen);
        SHA256_Final(digest, &ctx);
        take = len - done < sizeof digest ? len - done : sizeof digest;
        memcpy(out + done, digest, take);
        done += take;
    }
}

int ea_hash_to_group(mpz_t r, const mpz_t n, const char *domain, const unsigned char *msg,
                     size_t len)
{
    unsigned char *h;
    size_t hlen;
    mpz_t t;
    int rc;
    hlen = (mpz_sizeinbase(n, 2) + 7) / 8 + EA_GENERATOR_EXTRA_BYTES;
    h = malloc(hlen);
    if (h == NULL)
        return EA_ERR_NOMEM;
    expand_hash(h, hlen, domain, msg, len);
    mpz_init(t);
    mpz_import(t, hlen, 1, 1, 1, 0, h);
    free(h);
    mpz_mod(t, t, n);
    mpz_powm_ui(t, t, 2, n);
    rc = ea_check_element(t, n);
    if (rc == EA_OK)
        mpz_set(r, t);
    mpz_clear(t);
    return rc;
}

int ea_derive_generator(mpz_t g, const mpz_t n, const unsigned char *chain_id, size_t len)
{
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (chain_id == NULL || len == 0)
        return EA_ERR_ARGUMENT;
    return ea_hash_to_group(g, n, EA_GENERATOR_DOMAIN, chain_id, len);
}
