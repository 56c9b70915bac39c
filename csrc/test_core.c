/* test_core.c - standalone C smoke test: builds without Python (make -C csrc test). */
#include <stdio.h>
#include <string.h>
#include "edgeacc.h"
#include "ea_check.h"
#include "ea_ifma.h"
#include "ea_ifma1.h"
#include "ea_fastexp.h"
#include "ea_mont4.h"
#include "ea_sieve.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); return 1; } } while (0)

/* ea_powm against mpz_powm on moduli around the single-operation kernels' sizes (ea_ifma1.h:
 * 1537..2048 bits; OpenSSL or GMP elsewhere), with the edge bases 0, 1, N-1 and exponents from
 * 1 to longer than the modulus. */
static int test_single_powm(void)
{
    static const unsigned sizes[] = { 2048, 2048, 2047, 1537, 1536, 1024 };
    gmp_randstate_t rs;
    mpz_t n, b, e, r, want;
    size_t s;
    int i, j;
    gmp_randinit_default(rs);
    mpz_inits(n, b, e, r, want, NULL);
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        mpz_urandomb(n, rs, sizes[s]);
        mpz_setbit(n, sizes[s] - 1);
        mpz_setbit(n, 0);
        if (s == 0) {                                   /* 2^2048 - 1: every limb full */
            mpz_ui_pow_ui(n, 2, 2048);
            mpz_sub_ui(n, n, 1);
        }
        for (i = 0; i < 6; i++)
            for (j = 0; j < 6; j++) {
                static const unsigned ebits[] = { 1, 2, 17, 256, 2100, 9000 };
                if (i < 3)
                    mpz_set_si(b, i < 2 ? i : -1);
                else
                    mpz_urandomm(b, rs, n);
                if (mpz_sgn(b) < 0)
                    mpz_add(b, b, n);
                mpz_urandomb(e, rs, ebits[j]);
                mpz_setbit(e, ebits[j] - 1);
                mpz_powm(want, b, e, n);
                CHECK(ea_powm(r, b, e, n) == EA_OK && mpz_cmp(r, want) == 0);
                CHECK(ea_powm(b, b, e, n) == EA_OK && mpz_cmp(b, want) == 0);   /* r = b */
            }
    }
    /* the kernel itself: exponent 0, and a base outside [0, n) is left to GMP */
    mpz_ui_pow_ui(n, 2, 2048);
    mpz_sub_ui(n, n, 1);
    if (ea_ifma1_apply(n)) {
        mpz_set_ui(e, 0);
        mpz_set_ui(b, 5);
        CHECK(ea_ifma1_powm(r, b, e, n) == 1 && mpz_cmp_ui(r, 1) == 0);
        mpz_set_ui(e, 3);
        CHECK(ea_ifma1_powm(r, n, e, n) == 0);
        mpz_set_si(b, -2);
        CHECK(ea_ifma1_powm(r, b, e, n) == 0);
    }
    /* ea_check_elements' unit product (on the IFMA kernel where it applies): modulo
     * 2^2048 - 1 = 3 * 5 * 17 * ..., a multiple of 17 among units is found, units pass */
    {
        mpz_t ys[9];
        size_t bad = 0;
        mpz_ui_pow_ui(n, 2, 2048);
        mpz_sub_ui(n, n, 1);
        for (i = 0; i < 9; i++) {
            mpz_init(ys[i]);
            do
                mpz_urandomm(ys[i], rs, n);
            while (ea_check_element(ys[i], n) != EA_OK);
        }
        CHECK(ea_check_elements(&bad, (const mpz_t *)ys, 9, n) == EA_OK && bad == 9);
        mpz_mul_ui(ys[6], ys[6], 17);
        mpz_mod(ys[6], ys[6], n);
        CHECK(ea_check_elements(&bad, (const mpz_t *)ys, 9, n) == EA_ERR_ELEMENT && bad == 6);
        for (i = 0; i < 9; i++)
            mpz_clear(ys[i]);
    }
    mpz_clears(n, b, e, r, want, NULL);
    gmp_randclear(rs);
    return 0;
}

/* ea_ifma1's product on limb patterns random operands never give: a step whose low limb of
 * a0 b_i + acc is 0 while its high part is not (a0 = 2^51, b_i = 2: the step's carry must be
 * 0, its quotient digit 0), zero limbs, and all-ones limbs; against mpz through
 * ea_ifma1_unit_product (p = y0 y1 R^-2 mod N, R = 2^2080), modulo 2^2048 - 1 and a random N. */
static int test_ifma1_limb_patterns(void)
{
    gmp_randstate_t rs;
    mpz_t n, ys[2], want, got, rinv;
    int m, k, j;
    gmp_randinit_default(rs);
    mpz_inits(n, ys[0], ys[1], want, got, rinv, NULL);
    for (m = 0; m < 2; m++) {
        if (m == 0) {
            mpz_ui_pow_ui(n, 2, 2048);
            mpz_sub_ui(n, n, 1);
        } else {
            mpz_urandomb(n, rs, 2048);
            mpz_setbit(n, 2047);
            mpz_setbit(n, 0);
        }
        if (!ea_ifma1_apply(n))
            break;                          /* (no IFMA here: the GMP paths are tested elsewhere) */
        mpz_ui_pow_ui(rinv, 2, 2080);
        CHECK(mpz_invert(rinv, rinv, n));
        for (k = 0; k < 6; k++) {
            for (j = 0; j < 2; j++) {
                mpz_set_ui(ys[j], 0);
                switch ((k + j) % 3) {
                case 0:                     /* every 52-bit limb 2^51 (a) or 2 (b): low limbs 0 */
                    for (int l = 0; l < 39; l++)
                        mpz_setbit(ys[j], (mp_bitcnt_t)(52 * l + (j ? 1 : 51)));
                    break;
                case 1:                     /* all ones below N */
                    mpz_sub_ui(ys[j], n, 1 + (unsigned long)k);
                    break;
                default:                    /* sparse: a few limbs, the rest zero */
                    mpz_setbit(ys[j], (mp_bitcnt_t)(52 * (k + 3) + 51));
                    mpz_setbit(ys[j], 1);
                }
                mpz_mod(ys[j], ys[j], n);
            }
            CHECK(ea_ifma1_unit_product(got, (const mpz_t *)ys, 2, n) == 1);
            mpz_mul(want, ys[0], ys[1]);
            mpz_mul(want, want, rinv);
            mpz_mul(want, want, rinv);
            mpz_mod(want, want, n);
            CHECK(mpz_cmp(got, want) == 0);
        }
    }
    mpz_clears(n, ys[0], ys[1], want, got, rinv, NULL);
    gmp_randclear(rs);
    return 0;
}

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

/* ea_ifma_multi_exp_beside: mpz_powm's product on both lane plans (9 bases: power tables; 200:
 * buckets, tables on 3 threads), the side task run exactly once on 1..3 threads, and its
 * failure returned. */
typedef struct { int calls, rc; } side_probe;

static int probe_side(void *arg, size_t index)
{
    side_probe *p = arg;
    __atomic_add_fetch(&p->calls, 1, __ATOMIC_RELAXED);
    return index == 0 ? p->rc : EA_ERR_ARGUMENT;
}

static int check_multi_exp_side_task(void)
{
    static const size_t counts[] = { 9, 200 };
    gmp_randstate_t rs;
    mpz_t n, b[200], e[200], r, want, t;
    size_t s, j;
    unsigned th;
    side_probe probe;
    gmp_randinit_default(rs);
    mpz_inits(n, r, want, t, NULL);
    mpz_urandomb(n, rs, 2048);
    mpz_setbit(n, 2047);
    mpz_setbit(n, 0);
    if (!ea_ifma_apply(n)) {
        mpz_clears(n, r, want, t, NULL);
        gmp_randclear(rs);
        return 0;
    }
    for (j = 0; j < 200; j++) {
        mpz_init(b[j]); mpz_init(e[j]);
        mpz_urandomm(b[j], rs, n);
        mpz_urandomb(e[j], rs, j % 3 ? 384 : 130);  /* short exponents: rounds without them */
    }
    for (s = 0; s < sizeof counts / sizeof counts[0]; s++) {
        mpz_set_ui(want, 1);
        for (j = 0; j < counts[s]; j++) {
            mpz_powm(t, b[j], e[j], n);
            mpz_mul(want, want, t);
            mpz_mod(want, want, n);
        }
        for (th = 1; th <= 3; th++) {
            probe.calls = 0; probe.rc = EA_OK;
            CHECK(ea_ifma_multi_exp_beside(r, (const mpz_t *)b, (const mpz_t *)e, counts[s], n, th,
                                           probe_side, &probe) == EA_OK);
            CHECK(probe.calls == 1 && mpz_cmp(r, want) == 0);
            probe.calls = 0; probe.rc = EA_ERR_ELEMENT;
            CHECK(ea_ifma_multi_exp_beside(r, (const mpz_t *)b, (const mpz_t *)e, counts[s], n, th,
                                           probe_side, &probe) == EA_ERR_ELEMENT);
            CHECK(probe.calls == 1);
        }
    }
    for (j = 0; j < 200; j++) { mpz_clear(b[j]); mpz_clear(e[j]); }
    mpz_clears(n, r, want, t, NULL);
    gmp_randclear(rs);
    return 0;
}

/* ea_mont4.h's product and square against mpz on 256-bit moduli: every limb full
 * (2^256 - 189), a small top limb (2^192 + ...), random ones; operands 0, 1, n - 1, n - 2, all-ones
 * limbs below n and random (a wrong carry is a silent wrong answer: the carry-heavy ones first). */
static int test_mont4(void)
{
#ifdef EA_MONT4_COMPILED
    gmp_randstate_t rs;
    mpz_t n, a, b, want, rinv, got;
    uint64_t N[4], A[4], B[4], R[4];
    size_t count;
    int m, i, j, k;
    if (!(ea_fast_paths() & EA_PATH_MULX))
        return 0;                                   /* no BMI2/ADX here, or EDGEACC_PORTABLE */
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 4);
    mpz_inits(n, a, b, want, rinv, got, NULL);
    for (m = 0; m < 40; m++) {
        if (m == 0) {
            mpz_ui_pow_ui(n, 2, 256);
            mpz_sub_ui(n, n, 189);
        } else if (m == 1) {
            mpz_ui_pow_ui(n, 2, 192);
            mpz_add_ui(n, n, 133);
        } else {
            mpz_urandomb(n, rs, m % 2 ? 256 : 200 + (unsigned)m);
            mpz_setbit(n, m % 2 ? 255 : 199 + (unsigned)m);
            mpz_setbit(n, 0);
        }
        memset(N, 0, sizeof N);
        mpz_export(N, &count, -1, 8, 0, 0, n);
        uint64_t ninv = 1;
        for (i = 0; i < 7; i++)
            ninv *= 2 - N[0] * ninv;
        ninv = 0 - ninv;
        mpz_set_ui(rinv, 0);
        mpz_setbit(rinv, 256);
        CHECK(mpz_invert(rinv, rinv, n));
        for (i = 0; i < 12; i++)
            for (j = 0; j < 12; j++) {
                mpz_ptr ops[2] = { a, b };
                int sel[2] = { i, j };
                for (k = 0; k < 2; k++) {
                    switch (sel[k]) {
                    case 0: mpz_set_ui(ops[k], 0); break;
                    case 1: mpz_set_ui(ops[k], 1); break;
                    case 2: mpz_sub_ui(ops[k], n, 1); break;
                    case 3: mpz_sub_ui(ops[k], n, 2); break;
                    case 4: mpz_set_ui(ops[k], 0); mpz_setbit(ops[k], mpz_sizeinbase(n, 2) - 1);
                            mpz_sub_ui(ops[k], ops[k], 1); break;   /* all ones below n's top bit */
                    default: mpz_urandomm(ops[k], rs, n);
                    }
                }
                memset(A, 0, sizeof A); memset(B, 0, sizeof B);
                mpz_export(A, &count, -1, 8, 0, 0, a);
                mpz_export(B, &count, -1, 8, 0, 0, b);
                mpz_mul(want, a, b); mpz_mul(want, want, rinv); mpz_mod(want, want, n);
                ea_mont4_mul(R, A, B, N, ninv);
                mpz_import(got, 4, -1, 8, 0, 0, R);
                CHECK(mpz_cmp(got, want) == 0);
                ea_mont4_mul(A, A, B, N, ninv);             /* r aliasing a */
                mpz_import(got, 4, -1, 8, 0, 0, A);
                CHECK(mpz_cmp(got, want) == 0);
                memset(A, 0, sizeof A);                     /* (A was overwritten) */
                mpz_export(A, &count, -1, 8, 0, 0, a);
                mpz_add(want, a, b); mpz_mod(want, want, n);
                ea_mont4_add(R, A, B, N);
                mpz_import(got, 4, -1, 8, 0, 0, R);
                CHECK(mpz_cmp(got, want) == 0);
                mpz_sub(want, a, b); mpz_mod(want, want, n);
                ea_mont4_sub(R, A, B, N);
                mpz_import(got, 4, -1, 8, 0, 0, R);
                CHECK(mpz_cmp(got, want) == 0);
                mpz_sub(want, b, a); mpz_mod(want, want, n);
                ea_mont4_sub(R, B, A, N);
                mpz_import(got, 4, -1, 8, 0, 0, R);
                CHECK(mpz_cmp(got, want) == 0);
                mpz_mul(want, b, b); mpz_mul(want, want, rinv); mpz_mod(want, want, n);
                ea_mont4_sqr(R, B, N, ninv);
                mpz_import(got, 4, -1, 8, 0, 0, R);
                CHECK(mpz_cmp(got, want) == 0);
                ea_mont4_sqr(B, B, N, ninv);                /* r aliasing a */
                mpz_import(got, 4, -1, 8, 0, 0, B);
                CHECK(mpz_cmp(got, want) == 0);
            }
    }
    mpz_clears(n, a, b, want, rinv, got, NULL);
    gmp_randclear(rs);
#endif
    return 0;
}

#ifdef EA_SIEVE_FOLD
/* x (below 2^256) as 4 limbs, low first. */
static void to_limbs4(uint64_t *l, const mpz_t x)
{
    size_t count = 0;
    l[0] = l[1] = l[2] = l[3] = 0;
    mpz_export(l, &count, -1, 8, 0, 0, x);
}

/* How many of the edge values of each group of tab (0, all-ones limbs, one full limb, m,
 * multiples of m +- 1 up to the largest below 2^256, random) ea_sieve_fold4 gets wrong: r must
 * be x / 2^64 mod m, i.e. r 2^64 = x (mod m). */
static int fold_mismatches(const ea_sieve_group *tab, int groups, gmp_randstate_t rs)
{
    mpz_t x, top, k, r;
    uint64_t l[4];
    int g, v, bad = 0;
    mpz_inits(x, top, k, r, NULL);
    mpz_ui_pow_ui(top, 2, 256);
    mpz_sub_ui(top, top, 1);
    for (g = 0; g < groups; g++) {
        unsigned long m = (unsigned long)tab[g].m;
        for (v = 0; v < 40; v++) {
            switch (v) {
            case 0: mpz_set_ui(x, 0); break;
            case 1: mpz_set(x, top); break;                         /* all-ones limbs */
            case 2: case 3: case 4: case 5:                          /* one full limb */
                mpz_set_ui(x, 0); mpz_setbit(x, 64 * (unsigned)(v - 1)); mpz_sub_ui(x, x, 1);
                if (v > 2) { mpz_set_ui(k, 0); mpz_setbit(k, 64 * (unsigned)(v - 2)); mpz_sub_ui(k, k, 1);
                             mpz_sub(x, x, k); }
                break;
            case 6: mpz_set_ui(x, m); break;
            case 7: mpz_set_ui(x, m - 1); break;
            case 8: mpz_set_ui(x, m + 1); break;
            case 9: case 10: case 11:                                 /* the largest multiple, +-1 */
                mpz_fdiv_q_ui(x, top, m); mpz_mul_ui(x, x, m);
                if (v == 10) mpz_sub_ui(x, x, 1);
                if (v == 11) mpz_add_ui(x, x, 1);
                if (mpz_cmp(x, top) > 0) mpz_sub_ui(x, x, 2);
                break;
            default:
                if (v < 25) {                                         /* random multiples +-1 */
                    mpz_urandomb(k, rs, 256 - 63);
                    mpz_mul_ui(x, k, m);
                    if (v % 3 == 1) mpz_add_ui(x, x, 1);
                    else if (v % 3 == 2 && mpz_sgn(x) > 0) mpz_sub_ui(x, x, 1);
                } else {
                    mpz_urandomb(x, rs, v % 2 ? 256 : 64 * (unsigned)(v % 4) + 1);
                }
            }
            to_limbs4(l, x);
            mpz_set_ui(r, 0);
            mpz_import(r, 1, -1, 8, 0, 0, &(uint64_t){ ea_sieve_fold4(l, &tab[g]) });
            mpz_mul_2exp(r, r, 64);
            if (mpz_fdiv_ui(r, m) != mpz_fdiv_ui(x, m))
                bad++;
        }
    }
    mpz_clears(x, top, k, r, NULL);
    return bad;
}
#endif

/* 1 iff x is free of the odd primes below EA_SIEVE_BOUND, by a gcd with their product. */
static int sieve_truth(const mpz_t x, const mpz_t primorial)
{
    mpz_t g;
    int free;
    mpz_init(g);
    mpz_gcd(g, x, primorial);
    free = mpz_cmp_ui(g, 1) == 0;
    mpz_clear(g);
    return free;
}

/* The sieve (ea_sieve.h): the fold against mpz_fdiv_ui on every group, and a table with one wrong
 * constant caught; the three versions against a gcd with the primes' product on multiples of
 * each prime (+- 2), values free of them, 1- to 6-limb sizes. */
static int test_sieve(void)
{
    gmp_randstate_t rs;
    mpz_t primorial, x, y;
    int i, j, want;
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 14);
    mpz_inits(primorial, x, y, NULL);
    mpz_set_ui(primorial, 1);
    for (i = 0; i < EA_SIEVE_PRIMES; i++)
        mpz_mul_ui(primorial, primorial, ea_sieve_prime[i]);
    CHECK(ea_sieve_prime[EA_SIEVE_PRIMES - 1] < EA_SIEVE_BOUND && ea_sieve_prime[0] == 3);
    CHECK(ea_sieve_groups[EA_SIEVE_GROUPS].start == EA_SIEVE_PRIMES);
    for (i = 0; i < EA_SIEVE_GROUPS; i++) {                  /* each m is its primes' product */
        mpz_set_ui(x, 1);
        for (j = (int)ea_sieve_groups[i].start; j < (int)ea_sieve_groups[i + 1].start; j++)
            mpz_mul_ui(x, x, ea_sieve_prime[j]);
        CHECK(mpz_cmp_ui(x, (unsigned long)ea_sieve_groups[i].m) == 0 && ea_sieve_groups[i].m < (1ull << 62));
    }
#ifdef EA_SIEVE_FOLD
    {
        static ea_sieve_group bad[EA_SIEVE_GROUPS + 1];
        CHECK(fold_mismatches(ea_sieve_groups, EA_SIEVE_GROUPS, rs) == 0);
        for (j = 0; j < 4; j++) {                            /* one wrong constant: caught */
            memcpy(bad, ea_sieve_groups, sizeof bad);
            switch (j) {
            case 0: bad[EA_SIEVE_GROUPS / 2].b1 += 1; break;
            case 1: bad[EA_SIEVE_GROUPS - 1].b2 ^= 4; break;
            case 2: bad[0].b3 -= 1; break;
            default: bad[3].minv += 2; break;
            }
            CHECK(fold_mismatches(bad, EA_SIEVE_GROUPS, rs) > 0);
        }
    }
#endif
    for (i = 0; i < 6000; i++) {
        int limbs = 1 + i % 6;
        if (i < 4 * EA_SIEVE_PRIMES) {   /* p times a cofactor free of the primes (p alone finds it), +- 2 */
            do {
                mpz_urandomb(y, rs, (mp_bitcnt_t)(64 * limbs - 12));
                mpz_setbit(y, 0);
            } while (!sieve_truth(y, primorial));
            mpz_mul_ui(x, y, ea_sieve_prime[i % EA_SIEVE_PRIMES]);
            if (i / EA_SIEVE_PRIMES == 2) mpz_add_ui(x, x, 2);
            if (i / EA_SIEVE_PRIMES == 3) mpz_sub_ui(x, x, 2);
        } else if (i % 2) {                                  /* free of the small primes */
            do {
                mpz_urandomb(x, rs, (mp_bitcnt_t)(64 * limbs));
                mpz_setbit(x, 0);
            } while (!sieve_truth(x, primorial));
        } else {
            mpz_urandomb(x, rs, (mp_bitcnt_t)(64 * limbs));
        }
        want = sieve_truth(x, primorial);
        CHECK(ea_sieve_passes_mpz(x) == want);
        CHECK(ea_sieve_passes(x) == want);
#ifdef EA_SIEVE_LIMB64
        if (mpz_sgn(x) > 0)
            CHECK(ea_sieve_passes_mod1(mpz_limbs_read(x), (mp_size_t)mpz_size(x)) == want);
#endif
#ifdef EA_SIEVE_FOLD
        if (mpz_size(x) <= 4) {
            uint64_t l[4];
            to_limbs4(l, x);
            CHECK(ea_sieve_passes4(l) == want);
        }
#endif
    }
    mpz_set_ui(x, 0);
    CHECK(ea_sieve_passes(x) == 0 && ea_sieve_passes_mpz(x) == 0);
    mpz_clears(primorial, x, y, NULL);
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
    CHECK(test_ifma1_limb_patterns() == 0);
    CHECK(test_single_powm() == 0);
    CHECK(test_mont4() == 0);
    CHECK(test_sieve() == 0);
    CHECK(check_multi_exp_side_task() == 0);
    puts("csrc ok");
    return 0;
}
