/* ea_poke.c - non-interactive PoKE2 (Boneh-Bunz-Fisch), challenge as ea_poke.h describes. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "ea_poke.h"
#include "ea_group.h"
#include "ea_mexp.h"
#include "ea_prime.h"

#define LIT_LEN(s) (sizeof(s) - 1)
#define CHALLENGE_BYTES (EA_POKE2_CHALLENGE_BITS / 8)
#define ALPHA_BYTES (EA_POKE2_ALPHA_BITS / 8)

/* out = min(y, n - y) big-endian in exactly width bytes. */
static void put_canonical(unsigned char *out, size_t width, const mpz_t y, const mpz_t n)
{
    mpz_t c;
    size_t size, count = 0;
    mpz_init(c);
    ea_canonical(c, y, n);
    size = (mpz_sizeinbase(c, 2) + 7) / 8;
    memset(out, 0, width);
    mpz_export(out + width - size, &count, 1, 1, 1, 0, c);
    mpz_clear(c);
}

/* data = SHA-256(N in its width) || elements (canonical, N's width) || ctx, in a new buffer. */
static int statement_data(unsigned char **out, size_t *out_len, const mpz_srcptr *elements,
                          size_t count, const unsigned char *ctx, size_t ctx_len, const mpz_t n)
{
    size_t width = (mpz_sizeinbase(n, 2) + 7) / 8, len, i, written = 0;
    unsigned char *data, *p;
    int rc;
    if ((rc = ea_check_modulus(n)) != EA_OK)
        return rc;
    for (i = 0; i < count; i++)
        if ((rc = ea_check_element(elements[i], n)) != EA_OK)
            return rc;
    if (ctx_len > EA_POKE2_MAX_CONTEXT || (ctx_len > 0 && ctx == NULL))
        return EA_ERR_ARGUMENT;
    len = SHA256_DIGEST_LENGTH + count * width + ctx_len;
    if ((data = malloc(len)) == NULL)
        return EA_ERR_NOMEM;
    p = data + SHA256_DIGEST_LENGTH;
    mpz_export(p, &written, 1, 1, 1, 0, n);     /* N in its width, hashed first */
    SHA256(p, width, data);
    for (i = 0; i < count; i++, p += width)
        put_canonical(p, width, elements[i], n);
    if (ctx_len > 0)
        memcpy(p, ctx, ctx_len);
    *out = data;
    *out_len = len;
    return EA_OK;
}

int ea_poke2_base(mpz_t h, const mpz_t g, const mpz_t u, const mpz_t w, const unsigned char *ctx,
                  size_t ctx_len, const mpz_t n)
{
    mpz_srcptr elements[3] = {g, u, w};
    unsigned char *data;
    size_t len;
    int rc = statement_data(&data, &len, elements, 3, ctx, ctx_len, n);
    if (rc != EA_OK)
        return rc;
    rc = ea_hash_to_group(h, n, EA_POKE2_BASE_DOMAIN, data, len);
    free(data);
    return rc;
}

int ea_poke2_challenge(mpz_t l, mpz_t alpha, const mpz_t g, const mpz_t u, const mpz_t w,
                       const mpz_t z, const unsigned char *ctx, size_t ctx_len, const mpz_t n)
{
    mpz_srcptr elements[4] = {g, u, w, z};
    size_t len, count = 0;
    unsigned char *data, lbytes[CHALLENGE_BYTES], digest[SHA256_DIGEST_LENGTH], dl;
    uint32_t nonce = 0;
    SHA256_CTX sha;
    int rc = statement_data(&data, &len, elements, 4, ctx, ctx_len, n);
    if (rc != EA_OK)
        return rc;
    rc = ea_hash_to_prime(l, &nonce, (const unsigned char *)EA_POKE2_DOMAIN,
                          LIT_LEN(EA_POKE2_DOMAIN), data, len, EA_POKE2_CHALLENGE_BITS,
                          EA_H2P_MAX_NONCE);
    if (rc == EA_OK) {
        memset(lbytes, 0, sizeof lbytes);
        mpz_export(lbytes, &count, 1, 1, 1, 0, l);  /* l has exactly CHALLENGE_BITS bits */
        dl = (unsigned char)LIT_LEN(EA_POKE2_ALPHA_DOMAIN);
        SHA256_Init(&sha);
        SHA256_Update(&sha, &dl, 1);
        SHA256_Update(&sha, EA_POKE2_ALPHA_DOMAIN, LIT_LEN(EA_POKE2_ALPHA_DOMAIN));
        SHA256_Update(&sha, data, len);
        SHA256_Update(&sha, lbytes, sizeof lbytes);
        SHA256_Final(digest, &sha);
        mpz_import(alpha, ALPHA_BYTES, 1, 1, 1, 0, digest);
    }
    free(data);
    return rc;
}

/* base = u * h^alpha mod n */
static void challenge_base(mpz_t base, const mpz_t h, const mpz_t u, const mpz_t alpha,
                           const mpz_t n)
{
    mpz_powm(base, h, alpha, n);
    mpz_mul(base, base, u);
    mpz_mod(base, base, n);
}

int ea_poke2_prove(mpz_t z, mpz_t Q, mpz_t r, const mpz_t g, const mpz_t u, const mpz_t w,
                   const mpz_t x, const unsigned char *ctx, size_t ctx_len, const mpz_t n)
{
    mpz_t l, alpha, q, base, zz, h;
    int rc;
    if (mpz_sgn(x) <= 0 || mpz_sizeinbase(x, 2) <= EA_POKE2_CHALLENGE_BITS)
        return EA_ERR_EXPONENT;
    mpz_inits(l, alpha, q, base, zz, h, NULL);
    rc = ea_poke2_base(h, g, u, w, ctx, ctx_len, n);
    if (rc == EA_OK) {
        mpz_powm(zz, h, x, n);
        rc = ea_poke2_challenge(l, alpha, g, u, w, zz, ctx, ctx_len, n);
    }
    if (rc == EA_OK) {
        mpz_fdiv_qr(q, r, x, l);
        challenge_base(base, h, u, alpha, n);
        mpz_powm(Q, base, q, n);
        ea_canonical(z, zz, n);
        ea_canonical(Q, Q, n);
    }
    mpz_clears(l, alpha, q, base, zz, h, NULL);
    return rc;
}

int ea_poke2_verify(int *ok, const mpz_t g, const mpz_t u, const mpz_t w, const mpz_t z,
                    const mpz_t Q, const mpz_t r, const unsigned char *ctx, size_t ctx_len,
                    const mpz_t n)
{
    mpz_t l, alpha, B[2], E[2], lhs, rhs, h;
    int rc;
    if (ok == NULL)
        return EA_ERR_ARGUMENT;
    *ok = 0;
    if ((rc = ea_check_modulus(n)) != EA_OK || (rc = ea_check_element(Q, n)) != EA_OK)
        return rc;
    mpz_inits(l, alpha, B[0], B[1], E[0], E[1], lhs, rhs, h, NULL);
    rc = ea_poke2_base(h, g, u, w, ctx, ctx_len, n);
    if (rc == EA_OK)
        rc = ea_poke2_challenge(l, alpha, g, u, w, z, ctx, ctx_len, n);
    if (rc == EA_OK && mpz_sgn(r) >= 0 && mpz_cmp(r, l) < 0) {
        mpz_set(B[0], Q);
        mpz_set(E[0], l);
        challenge_base(B[1], h, u, alpha, n);
        mpz_set(E[1], r);
        rc = ea_multi_exp(lhs, (const mpz_t *)B, (const mpz_t *)E, mpz_sgn(r) ? 2 : 1, n,
                          EA_MEXP_AUTO, 0, 1, NULL);
        mpz_powm(rhs, z, alpha, n);
        mpz_mul(rhs, rhs, w);
        mpz_mod(rhs, rhs, n);
        if (rc == EA_OK)
            *ok = ea_equal_pm(lhs, rhs, n);
    }
    mpz_clears(l, alpha, B[0], B[1], E[0], E[1], lhs, rhs, h, NULL);
    return rc;
}
