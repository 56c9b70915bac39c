/* test_core.c - standalone C smoke test: builds without Python (make -C csrc test). */
#include <stdio.h>
#include <string.h>
#include "edgeacc.h"
#include "ea_ifma.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); return 1; } } while (0)

/* Reference: x is a strong probable prime to base 2 (odd x > 3). */
static int strong_base2_ref(const mpz_t x)
{
    mpz_t d, y, m1;
    unsigned long s, r;
    int pass;
    mpz_inits(d, y, m1, NULL);
    mpz_sub_ui(m1, x, 1);
    s = mpz_scan1(m1, 0);
    mpz_tdiv_q_2exp(d, m1, s);
    mpz_set_ui(y, 2);
    mpz_powm(y, y, d, x);
    pass = mpz_cmp_ui(y, 1) == 0 || mpz_cmp(y, m1) == 0;
    for (r = 1; r < s && !pass; r++) {
        mpz_powm_ui(y, y, 2, x);
        pass = mpz_cmp(y, m1) == 0;
    }
    mpz_clears(d, y, m1, NULL);
    return pass;
}

/* The IFMA lanes' base-2 strong test against the reference: strong pseudoprimes to base 2,
 * Carmichael numbers, primes p = k 2^s + 1 with long squaring tails, random odd numbers. */
static int check_strong_base2_lanes(void)
{
    static const char *fixed[] = {
        "2047", "3277", "4033", "561", "1105", "3215031751", "3825123056546413051",
        "318665857834031151167461", "3317044064679887385961981", "5459", "5777", "10877",
    };
    mpz_t c[8];
    unsigned char pass[8];
    gmp_randstate_t rs;
    size_t i, l, round;
    if (!ea_ifma_strong_base2_apply())
        return 0;
    gmp_randinit_default(rs);
    for (l = 0; l < 8; l++)
        mpz_init(c[l]);
    for (round = 0; round < 40; round++) {
        for (l = 0; l < 8; l++) {
            i = round * 8 + l;
            if (i < sizeof fixed / sizeof fixed[0]) {
                mpz_set_str(c[l], fixed[i], 10);
            } else if (round % 4 == 1) {        /* k 2^s + 1, s up to 200, a prime */
                mpz_urandomb(c[l], rs, 56);
                mpz_mul_2exp(c[l], c[l], (mp_bitcnt_t)(l * 25));
                mpz_nextprime(c[l], c[l]);
            } else {
                mpz_urandomb(c[l], rs, 16 + (mp_bitcnt_t)(round * 6 + l) % 241);
                mpz_setbit(c[l], 0);
                mpz_setbit(c[l], 3);
                if (round % 4 == 2)
                    mpz_nextprime(c[l], c[l]);
            }
        }
        if (!ea_ifma_strong_base2_8(pass, (const mpz_t *)c, 8))
            return 1;
        for (l = 0; l < 8; l++)
            if (pass[l] != strong_base2_ref(c[l])) {
                gmp_fprintf(stderr, "FAIL lane strong test of %Zd\n", c[l]);
                return 1;
            }
    }
    for (l = 0; l < 8; l++)
        mpz_clear(c[l]);
    gmp_randclear(rs);
    return 0;
}

int main(void)
{
    mpz_t n, g, x, v, w, zero, xs[3];
    uint32_t k;
    int ok, i;
    const unsigned char dom[] = "edgeacc/h2p";
    mpz_inits(n, g, x, v, w, zero, NULL);
    /* 2^127 - 1 times 2^89 - 1: a toy modulus, enough for the C-level checks. */
    mpz_ui_pow_ui(n, 2, 127); mpz_sub_ui(n, n, 1);
    mpz_ui_pow_ui(x, 2, 89); mpz_sub_ui(x, x, 1); mpz_mul(n, n, x);
    mpz_set_ui(g, 4);
    CHECK(check_strong_base2_lanes() == 0);
    CHECK(ea_powm(v, g, zero, n) == EA_ERR_EXPONENT);
    CHECK(ea_powm(v, g, g, zero) == EA_ERR_MODULUS);
    for (i = 0; i < 3; i++) {
        unsigned char data[1] = { (unsigned char)('a' + i) };
        mpz_init(xs[i]);
        CHECK(ea_hash_to_prime(xs[i], &k, dom, sizeof dom - 1, data, 1, 256, 1u << 20) == EA_OK);
        CHECK(ea_check_representative(&ok, xs[i], k, dom, sizeof dom - 1, data, 1, 256) == EA_OK && ok);
    }
    CHECK(ea_powm_product(v, g, (const mpz_t *)xs, 3, n) == EA_OK);
    CHECK(ea_powm_product(w, g, (const mpz_t *)xs + 1, 2, n) == EA_OK);   /* witness of xs[0] */
    CHECK(ea_verify_membership(w, xs[0], v, n, &ok) == EA_OK && ok);
    CHECK(ea_verify_membership(w, xs[1], v, n, &ok) == EA_OK && !ok);
    mpz_sub(w, n, w);                                                     /* -w: same class */
    CHECK(ea_verify_membership(w, xs[0], v, n, &ok) == EA_OK && ok);
    for (i = 0; i < 3; i++) mpz_clear(xs[i]);
    mpz_clears(n, g, x, v, w, zero, NULL);
    puts("csrc ok");
    return 0;
}
