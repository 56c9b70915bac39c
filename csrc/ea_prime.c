/* ea_prime.c - hash-to-prime: SHA-256 candidates, small-prime sieve, then BPSW. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_CTX: a struct copy per candidate beats EVP */
#include <string.h>
#include <openssl/sha.h>
#include "ea_prime.h"
#include "ea_fastexp.h"
#include "ea_ifma.h"
#include "ea_mont.h"
#include "ea_mont4.h"
#include "ea_sieve.h"

/* ---- BPSW (DESIGN.md section 2): trial division by the odd primes below EA_SIEVE_BOUND, a
 * strong probable-prime test to base 2, then a strong Lucas test with Selfridge's parameters
 * (method A: the first D of 5, -7, 9, -11, ... with (D/x) = -1, P = 1, Q = (1 - D)/4). One
 * predicate on every path and GMP version; it is GMP's mpz_probab_prime_p(x, 24) (GMP >= 6.2:
 * trial division, base-2 strong test, the same strong Lucas test) except on a BPSW pseudoprime,
 * none of which is known. The search runs the base-2 test in IFMA lanes and only the Lucas
 * test here; the Lucas test is in Montgomery form on mpn (GMP's own recomputes a division
 * inverse per reduction). Where cpuid reports BMI2 and ADX (EA_PATH_MULX), 256-bit candidates
 * take both tests in Montgomery form on ea_mont4.h's asm product and square instead. */

#if defined(EA_MONT4_COMPILED) && GMP_NUMB_BITS == 64
#define MULX4 1
#endif

/* 1 iff 4-limb candidates take the tests on ea_mont4.h (read once per search or test). */
static int mulx4_apply(void)
{
#ifdef MULX4
    return (ea_fast_paths() & EA_PATH_MULX) != 0;
#else
    return 0;
#endif
}

typedef struct {
    const mp_limb_t *n;
    mp_size_t k;                    /* limbs of n */
    mp_limb_t ninv;                 /* -n^{-1} mod 2^GMP_NUMB_BITS */
    mp_limb_t *t;                   /* 2k limbs of scratch */
    int asm4;                       /* k == 4 and ea_mont4.h applies */
} lmont;

#if GMP_NUMB_BITS == 64 && defined(__SIZEOF_INT128__)
#define LMONT4 1
/* lmont_mul for 4 limbs (256-bit candidates) inline, by rows (CIOS): the mpn calls' overhead
 * is most of a 4-limb product. */
static void lmont_mul4(mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b, const lmont *m)
{
    __extension__ typedef unsigned __int128 u128;   /* GCC and Clang on 64-bit targets */
    uint64_t t[6] = {0, 0, 0, 0, 0, 0}, q;
    const mp_limb_t *n = m->n;
    int i, j;
#pragma GCC unroll 4
    for (i = 0; i < 4; i++) {
        u128 c = 0;
#pragma GCC unroll 4
        for (j = 0; j < 4; j++) {
            c += (u128)a[j] * b[i] + t[j];
            t[j] = (uint64_t)c;
            c >>= 64;
        }
        c += t[4];
        t[4] = (uint64_t)c;
        t[5] = (uint64_t)(c >> 64);
        q = t[0] * m->ninv;
        c = ((u128)q * n[0] + t[0]) >> 64;
#pragma GCC unroll 4
        for (j = 1; j < 4; j++) {
            c += (u128)q * n[j] + t[j];
            t[j - 1] = (uint64_t)c;
            c >>= 64;
        }
        c += t[4];
        t[3] = (uint64_t)c;
        t[4] = t[5] + (uint64_t)(c >> 64);
    }
    if (t[4] || mpn_cmp(t, n, 4) >= 0)
        mpn_sub_n(t, t, n, 4);
    r[0] = t[0]; r[1] = t[1]; r[2] = t[2]; r[3] = t[3];
}
#endif

/* r = a*b/B^k mod n (a, b < n); r may alias a or b. */
static void lmont_mul(mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b, const lmont *m)
{
    mp_limb_t *u = m->t;
    mp_size_t i, k = m->k;
#ifdef MULX4
    if (m->asm4) {
        if (a == b)
            ea_mont4_sqr((uint64_t *)r, (const uint64_t *)a, (const uint64_t *)m->n, m->ninv);
        else
            ea_mont4_mul((uint64_t *)r, (const uint64_t *)a, (const uint64_t *)b, (const uint64_t *)m->n, m->ninv);
        return;
    }
#endif
#ifdef LMONT4
    if (k == 4) {
        lmont_mul4(r, a, b, m);
        return;
    }
#endif
    if (a == b)
        mpn_sqr(m->t, a, k);
    else
        mpn_mul_n(m->t, a, b, k);
    for (i = 0; i < k; i++, u++)    /* REDC: each step clears a low limb, keeps its carry */
        u[0] = mpn_addmul_1(u, m->n, k, u[0] * m->ninv);
    if (mpn_add_n(r, u, m->t, k) || mpn_cmp(r, m->n, k) >= 0)
        mpn_sub_n(r, r, m->n, k);
}

static void lmont_sub(mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b, const lmont *m)
{
#ifdef MULX4
    if (m->asm4) {
        ea_mont4_sub((uint64_t *)r, (const uint64_t *)a, (const uint64_t *)b, (const uint64_t *)m->n);
        return;
    }
#endif
    if (mpn_sub_n(r, a, b, m->k))
        mpn_add_n(r, r, m->n, m->k);
}

static void lmont_add(mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b, const lmont *m)
{
#ifdef MULX4
    if (m->asm4) {
        ea_mont4_add((uint64_t *)r, (const uint64_t *)a, (const uint64_t *)b, (const uint64_t *)m->n);
        return;
    }
#endif
    if (mpn_add_n(r, a, b, m->k) || mpn_cmp(r, m->n, m->k) >= 0)
        mpn_sub_n(r, r, m->n, m->k);
}

/* r = a (k limbs): inline for 4 (mpn_copyi is a call) */
static void lmont_copy(mp_limb_t *r, const mp_limb_t *a, const lmont *m)
{
    if (m->k == 4) {
        r[0] = a[0]; r[1] = a[1]; r[2] = a[2]; r[3] = a[3];
    } else {
        mpn_copyi(r, a, m->k);
    }
}

/* r = v * B^k mod n as k limbs (v any integer). */
static void lmont_from(mp_limb_t *r, mpz_t scratch, const mpz_t v, const mpz_t n, mp_size_t k)
{
    size_t count = 0;
    mpz_mul_2exp(scratch, v, (mp_bitcnt_t)k * GMP_NUMB_BITS);
    mpz_mod(scratch, scratch, n);
    mpn_zero(r, k);
    mpz_export(r, &count, -1, sizeof(mp_limb_t), 0, 0, scratch);
}

/* Selfridge's D for odd x > 1 that is not a square; 0 if a D with (D/x) = 0 shows x composite
 * (|D| < x is then a proper factor's multiple) or x is a square. */
static long selfridge_d(const mpz_t x)
{
    long d = 5;
    for (;;) {
        int j = mpz_si_kronecker(d, x);
        if (j == -1)
            return d;
        if (j == 0 && mpz_cmpabs_ui(x, (unsigned long)(d < 0 ? -d : d)) > 0)
            return 0;
        if (d == 17 && mpz_perfect_square_p(x))   /* (D/x) = -1 never happens for a square */
            return 0;
        d = d > 0 ? -(d + 2) : -(d - 2);
    }
}

/* The strong Lucas test for odd x > 1 without a factor below EA_SIEVE_BOUND: with
 * x + 1 = d 2^s, d odd, x passes iff U_d = 0 or V_{d 2^r} = 0 (mod x) for some 0 <= r < s.
 * U_d = 0 iff 2 V_{d+1} = P V_d (D is invertible), so one chain of (V_k, V_{k+1}, Q^k) does. */
static int strong_lucas(const mpz_t x, int mulx4)
{
    long dsel = selfridge_d(x);
    mp_size_t k = mpz_size(x);
    mp_limb_t *w;
    mp_limb_t *v0, *v1, *qk, *qm, *two, *q, *t, *one, *mone, *zero;
    mpz_t dz, sc, work;
    mp_bitcnt_t s, b;
    lmont m;
    int pass = 0, qneg = dsel == 5;  /* Q = -1: Q^k = +-1 without products, as GMP's strongfibo */
    long qv = (1 - dsel) / 4, aq = qv < 0 ? -qv : qv, j;
    long qadds = aq >= 2 && aq <= 4 ? aq : 0;   /* 2 <= |Q| <= 4: Q^{k+1} by |Q| - 1 additions */
    if (dsel == 0)
        return 0;
    mpz_init2(work, (mp_bitcnt_t)k * 12 * GMP_NUMB_BITS);   /* GMP's allocator, as elsewhere */
    w = mpz_limbs_write(work, k * 12);
    v0 = w; v1 = w + k; qk = w + 2 * k; qm = w + 3 * k; two = w + 4 * k; q = w + 5 * k;
    t = w + 6 * k; one = w + 7 * k; mone = w + 8 * k;
    m.n = mpz_limbs_read(x);
    m.k = k;
    m.t = w + 9 * k;
    zero = w + 11 * k;
    mpn_zero(zero, k);
    m.asm4 = mulx4 && k == 4;
    m.ninv = ea_mont_neg_inv(m.n[0]);
    mpz_inits(dz, sc, NULL);
    mpz_add_ui(dz, x, 1);
    s = mpz_scan1(dz, 0);
    mpz_tdiv_q_2exp(dz, dz, s);                  /* d */
    mpz_set_ui(sc, 2);
    lmont_from(two, sc, sc, x, k);
    mpz_set_si(sc, (1 - dsel) / 4);
    lmont_from(q, sc, sc, x, k);
    mpz_set_ui(sc, 1);
    lmont_from(one, sc, sc, x, k);
    mpn_sub_n(mone, m.n, one, k);
    mpn_copyi(v1, one, k);                       /* V_1 = P = 1 and Q^0 = 1 */
    lmont_copy(qk, one, &m);
    mpn_copyi(v0, two, k);                       /* V_0 = 2 */
    for (b = mpz_sizeinbase(dz, 2); b-- > 0;) {
        lmont_mul(t, v0, v1, &m);
        lmont_sub(t, t, qk, &m);                 /* V_{2k+1} = V_k V_{k+1} - P Q^k */
        if (mpz_tstbit(dz, b)) {
            if (qneg) {                          /* Q^{k+1} */
                lmont_sub(qm, zero, qk, &m);
            } else if (qadds) {                  /* Q^k |Q| by additions, negated if Q < 0 */
                lmont_add(qm, qk, qk, &m);
                for (j = 2; j < qadds; j++)
                    lmont_add(qm, qm, qk, &m);
                if (qv < 0)
                    lmont_sub(qm, zero, qm, &m);
            } else {
                lmont_mul(qm, qk, q, &m);
            }
            lmont_mul(v1, v1, v1, &m);
            lmont_sub(v1, v1, qm, &m);
            lmont_sub(v1, v1, qm, &m);           /* V_{2k+2} = V_{k+1}^2 - 2 Q^{k+1} */
            lmont_copy(v0, t, &m);
            if (qneg)                            /* Q^{2k+1} */
                lmont_copy(qk, mone, &m);
            else
                lmont_mul(qk, qk, qm, &m);
        } else {
            lmont_mul(v0, v0, v0, &m);
            lmont_sub(v0, v0, qk, &m);
            lmont_sub(v0, v0, qk, &m);           /* V_{2k} = V_k^2 - 2 Q^k */
            lmont_copy(v1, t, &m);
            if (qneg)                            /* Q^{2k} */
                lmont_copy(qk, one, &m);
            else
                lmont_mul(qk, qk, qk, &m);
        }
    }
    lmont_add(t, v1, v1, &m);
    pass = mpn_cmp(t, v0, k) == 0 || mpn_zero_p(v0, k);
    for (b = 1; b < s && !pass; b++) {           /* V_{2j} = V_j^2 - 2 Q^j */
        lmont_mul(v0, v0, v0, &m);
        lmont_sub(v0, v0, qk, &m);
        lmont_sub(v0, v0, qk, &m);
        pass = mpn_zero_p(v0, k);
        if (qneg)
            lmont_copy(qk, one, &m);
        else if (b + 1 < s)
            lmont_mul(qk, qk, qk, &m);
    }
    mpz_clears(dz, sc, work, NULL);
    return pass;
}

/* The strong probable-prime test to base 2 for odd x > 3. */
static int strong_base2(const mpz_t x)
{
    mpz_t d, y;
    mp_bitcnt_t s, r;
    int pass;
    mpz_inits(d, y, NULL);
    mpz_sub_ui(d, x, 1);
    s = mpz_scan1(d, 0);
    mpz_tdiv_q_2exp(d, d, s);
    mpz_set_ui(y, 2);
    mpz_powm(y, y, d, x);
    mpz_add_ui(d, y, 1);
    pass = mpz_cmp_ui(y, 1) == 0 || mpz_cmp(d, x) == 0;
    for (r = 1; r < s && !pass && mpz_cmp_ui(y, 1) != 0; r++) {
        mpz_mul(y, y, y);
        mpz_mod(y, y, x);
        mpz_add_ui(d, y, 1);
        pass = mpz_cmp(d, x) == 0;
    }
    mpz_clears(d, y, NULL);
    return pass;
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

/* The candidate's bits / 8 bytes (big-endian) at the start of digest, top and low bit set. */
static void candidate_digest(unsigned char *digest, const SHA256_CTX *prefix, uint32_t nonce,
                             unsigned bits)
{
    SHA256_CTX ctx = *prefix;
    unsigned char be[4];
    be[0] = (unsigned char)(nonce >> 24);
    be[1] = (unsigned char)(nonce >> 16);
    be[2] = (unsigned char)(nonce >> 8);
    be[3] = (unsigned char)nonce;
    SHA256_Update(&ctx, be, 4);
    SHA256_Final(digest, &ctx);
    digest[0] |= 0x80;
    digest[bits / 8 - 1] |= 0x01;
}

static void candidate_from_prefix(mpz_t c, const SHA256_CTX *prefix, uint32_t nonce, unsigned bits)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    candidate_digest(digest, prefix, nonce, bits);
    mpz_import(c, bits / 8, 1, 1, 1, 0, digest);
}

#ifdef EA_SIEVE_FOLD
static uint64_t load_be64(const unsigned char *p)   /* (compilers make this one load and bswap) */
{
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32
        | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 | (uint64_t)p[7];
}
#endif

/* Candidate `nonce` into c and 1 if it passes the sieve, else 0 (c is then unspecified). Where
 * the sieve folds 4 limbs, it sieves the digest's limbs before any mpz is written. */
static int sieved_candidate(mpz_t c, const SHA256_CTX *prefix, uint32_t nonce, unsigned bits)
{
#ifdef EA_SIEVE_FOLD
    unsigned char digest[SHA256_DIGEST_LENGTH];
    uint64_t l[4] = {0, 0, 0, 0};
    mp_limb_t *w;
    unsigned i, nb = bits / 8;
    candidate_digest(digest, prefix, nonce, bits);
    if (nb == 32) {
        for (i = 0; i < 4; i++)
            l[i] = load_be64(digest + 24 - 8 * i);
    } else {
        for (i = 0; i < nb; i++)                 /* byte nb - 1 - i is bits 8i..8i+7 */
            l[i / 8] |= (uint64_t)digest[nb - 1 - i] << (8 * (i % 8));
    }
    if (!ea_sieve_passes4(l))
        return 0;
    w = mpz_limbs_write(c, 4);
    for (i = 0; i < 4; i++)
        w[i] = l[i];
    mpz_limbs_finish(c, 4);
    return 1;
#else
    candidate_from_prefix(c, prefix, nonce, bits);
    return ea_sieve_passes(c);
#endif
}

#ifdef MULX4
static int eq4(const uint64_t *a, const uint64_t *b)
{
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

/* one = 2^256 mod n (4 limbs, n odd, n[3] != 0): 1 in Montgomery form. */
static void mont4_one(uint64_t *one, const uint64_t *n)
{
    if (n[3] >> 63) {                                /* n > 2^255: 2^256 - n < n */
        mpn_neg((mp_limb_t *)one, (const mp_limb_t *)n, 4);
    } else {
        mp_limb_t r256[5] = {0, 0, 0, 0, 1}, q[2];
        mpn_tdiv_qr(q, (mp_limb_t *)one, 0, r256, 5, (const mp_limb_t *)n, 4);
    }
}

/* strong_base2 for odd 4-limb x (x > EA_SIEVE_BOUND^2) in Montgomery form on ea_mont4.h: 2^d by
 * squarings and doublings (a doubling is an addition: the base is 2) over the bits of x - 1
 * above its s low zeros (x - 1 = d 2^s), then s - 1 squarings. No mpz and no GMP call. */
static int strong_base2_mulx4(const mpz_t x)
{
    const uint64_t *n = (const uint64_t *)mpz_limbs_read(x);
    uint64_t ninv, one[4], mone[4], y[4], xm1[4] = {n[0] & ~(uint64_t)1, n[1], n[2], n[3]};
    unsigned s, r;
    int b, pass;
    ninv = ea_mont_neg_inv(n[0]);
    mont4_one(one, n);
    for (s = 0; (xm1[s / 64] >> (s % 64) & 1) == 0; s++)
        ;                                            /* x > 1: x - 1 has a set bit */
    b = 255 - __builtin_clzll(n[3]) - 1;             /* below the top bit (x - 1's too: x odd) */
    mpn_sub_n((mp_limb_t *)mone, (const mp_limb_t *)n, (const mp_limb_t *)one, 4);   /* -1 */
    ea_mont4_add(y, one, one, n);                    /* 2: d's top bit */
    for (; b >= (int)s; b--) {
        ea_mont4_sqr(y, y, n, ninv);
        if (xm1[b / 64] >> (b % 64) & 1)
            ea_mont4_add(y, y, y, n);
    }
    pass = eq4(y, one) || eq4(y, mone);
    for (r = 1; r < s && !pass && !eq4(y, one); r++) {
        ea_mont4_sqr(y, y, n, ninv);
        pass = eq4(y, mone);
    }
    return pass;
}
#endif

/* The strong test to base 2 on the kernel `mulx4` selects (4-limb x only). */
static int strong_base2_on(const mpz_t x, int mulx4)
{
#ifdef MULX4
    if (mulx4 && mpz_size(x) == 4)
        return strong_base2_mulx4(x);
#endif
    (void)mulx4;
    return strong_base2(x);
}

/* The rest of BPSW for x > EA_SIEVE_BOUND that passed the sieve. */
static int bpsw_after_sieve(const mpz_t x, int mulx4)
{
    return strong_base2_on(x, mulx4) && strong_lucas(x, mulx4);
}

int ea_is_probable_prime(const mpz_t x)
{
    int i;
    if (mpz_cmp_ui(x, 2) < 0)
        return 0;
    if (mpz_even_p(x))
        return mpz_cmp_ui(x, 2) == 0;
    if (mpz_cmp_ui(x, (unsigned long)EA_SIEVE_BOUND * EA_SIEVE_BOUND) >= 0)
        return ea_sieve_passes(x) && bpsw_after_sieve(x, mulx4_apply());
    for (i = 0; i < EA_SIEVE_PRIMES; i++) {      /* below the bound squared: exact */
        unsigned long p = ea_sieve_prime[i];
        if (p * p > mpz_get_ui(x))
            break;
        if (mpz_divisible_ui_p(x, p))
            return 0;
    }
    return 1;
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

/* The search with the sieve's survivors given the base-2 strong test 8 at a time on the IFMA
 * lanes: the first survivor, in nonce order, that passes it and the strong Lucas test is the
 * answer, exactly as in the one-by-one search (the lanes compute strong_base2). */
static int search_in_lanes(mpz_t x, uint32_t *nonce, const SHA256_CTX *prefix, unsigned bits,
                           uint32_t max_nonce)
{
    mpz_t c[8];
    uint32_t ks[8], k = 0;
    unsigned char pass[8];
    size_t m, i;
    int rc = EA_ERR_EXHAUSTED, mulx4 = mulx4_apply();
    for (i = 0; i < 8; i++)
        mpz_init(c[i]);
    while (k < max_nonce && rc == EA_ERR_EXHAUSTED) {
        for (m = 0; m < 8 && k < max_nonce; k++) {
            if (sieved_candidate(c[m], prefix, k, bits))
                ks[m++] = k;
        }
        if (m > 0 && !ea_ifma_strong_base2_8(pass, (const mpz_t *)c, m))
            for (i = 0; i < m; i++)
                pass[i] = (unsigned char)strong_base2_on(c[i], mulx4);
        for (i = 0; i < m; i++)
            if (pass[i] && strong_lucas(c[i], mulx4)) {
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
    int mulx4, rc = check_h2p_args(domain, dlen, data, len, bits);
    if (rc != EA_OK)
        return rc;
    prefix_context(&prefix, domain, dlen, data, len);
    if (bits <= 256 && ea_ifma_strong_base2_apply())
        return search_in_lanes(x, nonce, &prefix, bits, max_nonce);
    mulx4 = mulx4_apply();
    for (k = 0; k < max_nonce; k++) {
        if (sieved_candidate(x, &prefix, k, bits) && bpsw_after_sieve(x, mulx4)) {
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
