/* test_batch.c - standalone C tests of the batch engine: multi-exponentiation (every method
 * against a naive product of mpz_powm), batch verification with bisection, RootFactory,
 * witness update, Shamir's trick and the PoE. make -C csrc test */
#include <stdio.h>
#include <stdlib.h>
#include "edgeacc.h"
#include "ea_multiexp.h"  /* internal: a table on the stack (ea_mexp_table_init) */

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); return 1; } } while (0)
#define T 24

static gmp_randstate_t rs;

/* A 512-bit odd modulus from two random primes (test only). */
static void make_modulus(mpz_t n)
{
    mpz_t p, q;
    mpz_inits(p, q, NULL);
    mpz_urandomb(p, rs, 256); mpz_setbit(p, 255); mpz_nextprime(p, p);
    mpz_urandomb(q, rs, 256); mpz_setbit(q, 255); mpz_nextprime(q, q);
    mpz_mul(n, p, q);
    mpz_clears(p, q, NULL);
}

static void naive(mpz_t r, mpz_t *b, mpz_t *e, size_t t, const mpz_t n)
{
    mpz_t x;
    size_t j;
    mpz_init(x);
    mpz_set_ui(r, 1);
    for (j = 0; j < t; j++) {
        mpz_powm(x, b[j], e[j], n);
        mpz_mul(r, r, x);
        mpz_mod(r, r, n);
    }
    mpz_clear(x);
}

static int test_multiexp(const mpz_t n)
{
    mpz_t b[T], e[T], r, want;
    size_t t, j;
    int m;
    unsigned p;
    ea_mexp_table tab;
    mpz_inits(r, want, NULL);
    for (j = 0; j < T; j++) {
        mpz_init(b[j]); mpz_init(e[j]);
        mpz_urandomm(b[j], rs, n);
        mpz_urandomb(e[j], rs, 64 + 37 * j);
    }
    mpz_set_ui(e[3], 0);                          /* zero exponents are allowed */
    mpz_set_ui(b[5], 0);                          /* and a zero base */
    for (t = 0; t <= T; t += (t < 9 ? 1 : 5)) {
        naive(want, b, e, t, n);
        for (m = EA_MEXP_AUTO; m <= EA_MEXP_BUCKETS; m++)
            for (p = 0; p <= 7; p += (m == EA_MEXP_AUTO ? 8 : 1)) {
                ea_opcount ops = {0, 0};
                CHECK(ea_multi_exp(r, (const mpz_t *)b, (const mpz_t *)e, t, n, m, p, 1, &ops) == EA_OK);
                CHECK(mpz_cmp(r, want) == 0);
                CHECK(ea_multi_exp(r, (const mpz_t *)b, (const mpz_t *)e, t, n, m, p, 3, NULL) == EA_OK);
                CHECK(mpz_cmp(r, want) == 0);
            }
        if (t > 0) {
            CHECK(ea_mexp_table_init(&tab, (const mpz_t *)b, t, n, 4) == EA_OK);
            CHECK(ea_mexp_table_eval(r, &tab, (const mpz_t *)e, t, 2, NULL) == EA_OK);
            CHECK(mpz_cmp(r, want) == 0);
            CHECK(ea_mexp_table_eval(r, &tab, (const mpz_t *)e, t + 1, 1, NULL) == EA_ERR_ARGUMENT);
            ea_mexp_table_clear(&tab);
        }
    }
    mpz_set_si(e[0], -1);
    CHECK(ea_multi_exp(r, (const mpz_t *)b, (const mpz_t *)e, 2, n, 0, 0, 1, NULL) == EA_ERR_EXPONENT);
    mpz_set_ui(e[0], 1);
    mpz_set(b[0], n);
    CHECK(ea_multi_exp(r, (const mpz_t *)b, (const mpz_t *)e, 2, n, 0, 0, 1, NULL) == EA_ERR_ELEMENT);
    for (j = 0; j < T; j++) { mpz_clear(b[j]); mpz_clear(e[j]); }
    mpz_clears(r, want, NULL);
    return 0;
}

static int test_witness_batch(const mpz_t n)
{
    enum { M = 37 };
    mpz_t xs[M], ws[M], rs_[M], g, v, e, tmp, l, Q, agg, X;
    size_t vidx[M], i, j;
    unsigned char bad[M];
    int ok;
    unsigned th, ar;
    mpz_inits(g, v, e, tmp, l, Q, agg, X, NULL);
    mpz_set_ui(g, 4);
    for (i = 0; i < M; i++) {
        mpz_init(xs[i]); mpz_init(ws[i]); mpz_init(rs_[i]);
        mpz_urandomb(xs[i], rs, 64); mpz_setbit(xs[i], 63); mpz_nextprime(xs[i], xs[i]);
        mpz_urandomb(rs_[i], rs, 64); mpz_setbit(rs_[i], 0);
        vidx[i] = 0;
    }
    CHECK(ea_powm_product(v, g, (const mpz_t *)xs, M, n) == EA_OK);
    for (ar = 2; ar <= 8; ar += 2)
        for (th = 1; th <= 3; th++) {
            CHECK(ea_root_factory(ws, g, (const mpz_t *)xs, M, n, ar, th) == EA_OK);
            for (i = 0; i < M; i++) {
                CHECK(ea_verify_membership(ws[i], xs[i], v, n, &ok) == EA_OK && ok);
            }
        }
    /* all good */
    CHECK(ea_batch_verify(bad, (const mpz_t *)ws, (const mpz_t *)xs, (const mpz_t *)rs_, vidx, M,
                          (const mpz_t *)&v, 1, n, 2, NULL) == EA_OK);
    for (i = 0; i < M; i++) CHECK(bad[i] == 0);
    /* -w is the same element: still good */
    mpz_sub(ws[3], n, ws[3]);
    /* two bad ones: wrong witness at 7, tampered at 30 */
    mpz_set(tmp, ws[7]); mpz_set(ws[7], ws[8]);
    mpz_add_ui(ws[30], ws[30], 2);
    for (th = 1; th <= 4; th++) {
        CHECK(ea_batch_verify(bad, (const mpz_t *)ws, (const mpz_t *)xs, (const mpz_t *)rs_, vidx, M,
                              (const mpz_t *)&v, 1, n, th, NULL) == EA_OK);
        for (i = 0; i < M; i++) CHECK(bad[i] == (i == 7 || i == 30));
    }
    mpz_set(ws[7], tmp);
    mpz_sub_ui(ws[30], ws[30], 2);
    mpz_set_ui(ws[0], 1);
    CHECK(ea_batch_verify(bad, (const mpz_t *)ws, (const mpz_t *)xs, (const mpz_t *)rs_, vidx, M,
                          (const mpz_t *)&v, 1, n, 1, NULL) == EA_ERR_ELEMENT);
    mpz_set_ui(ws[0], 4);
    /* batched element check names the first bad element; the unweighted check accepts a
     * valid batch (and, being forgeable, is used only by benchmarks and attack tests) */
    {
        size_t first = 99;
        CHECK(ea_check_elements(&first, (const mpz_t *)ws, M, n) == EA_OK && first == M);
        mpz_set(tmp, ws[9]);
        mpz_sub_ui(ws[9], n, 1);
        CHECK(ea_check_elements(&first, (const mpz_t *)ws, M, n) == EA_ERR_ELEMENT && first == 9);
        mpz_set(ws[9], tmp);
        mpz_set(ws[12], n);            /* n itself: out of range */
        CHECK(ea_check_elements(&first, (const mpz_t *)ws, M, n) == EA_ERR_ELEMENT && first == 12);
        mpz_set(ws[12], tmp);
        CHECK(ea_root_factory(ws, g, (const mpz_t *)xs, M, n, 0, 1) == EA_OK);
        {
            mpz_t vs[8];
            ea_opcount ops = {0, 0};
            for (j = 0; j < 8; j++) mpz_init_set(vs[j], v);
            CHECK(ea_batch_check_unweighted(&ok, (const mpz_t *)ws, (const mpz_t *)xs, (const mpz_t *)vs, 8, n, 8, &ops) == EA_OK && ok);
            CHECK(ops.sqr == 63 && ops.mul >= 247 + 7);
            CHECK(ea_batch_check_unweighted(&ok, (const mpz_t *)ws + 1, (const mpz_t *)xs, (const mpz_t *)vs, 8, n, 4, NULL) == EA_OK && !ok);
            for (j = 0; j < 8; j++) mpz_clear(vs[j]);
        }
    }
    /* shared-base powering */
    {
        mpz_t out[3], ex[3];
        for (j = 0; j < 3; j++) { mpz_init(out[j]); mpz_init(ex[j]); mpz_urandomb(ex[j], rs, 300 * (j + 1)); }
        mpz_set_ui(ex[1], 0);
        CHECK(ea_powm_shared_base(out, g, (const mpz_t *)ex, 3, n) == EA_OK);
        for (j = 0; j < 3; j++) { mpz_powm(tmp, g, ex[j], n); CHECK(mpz_cmp(tmp, out[j]) == 0); }
        for (j = 0; j < 3; j++) { mpz_clear(out[j]); mpz_clear(ex[j]); }
    }
    /* witness update: every witness by one product */
    CHECK(ea_root_factory(ws, g, (const mpz_t *)xs, M, n, 0, 1) == EA_OK);
    mpz_set_ui(e, 1000003);
    CHECK(ea_powm_many_bases(ws, (const mpz_t *)ws, M, e, n, 2) == EA_OK);
    mpz_powm(v, v, e, n);
    for (i = 0; i < M; i++)
        CHECK(ea_verify_membership(ws[i], xs[i], v, n, &ok) == EA_OK && ok);
    /* Shamir's trick and aggregation */
    CHECK(ea_shamir_trick(agg, ws[0], xs[0], ws[1], xs[1], n) == EA_OK);
    mpz_mul(tmp, xs[0], xs[1]);
    CHECK(ea_verify_membership(agg, tmp, v, n, &ok) == EA_OK && ok);
    CHECK(ea_shamir_trick(agg, ws[0], xs[0], ws[0], xs[0], n) == EA_ERR_NOT_INVERTIBLE);
    CHECK(ea_aggregate(agg, X, (const mpz_t *)ws, (const mpz_t *)xs, M, n) == EA_OK);
    CHECK(ea_verify_membership(agg, X, v, n, &ok) == EA_OK && ok);
    /* PoE */
    mpz_set_str(l, "340282366920938463463374607431768211297", 10);
    mpz_nextprime(l, l);
    CHECK(ea_poe_prove(Q, agg, X, l, n) == EA_OK);
    CHECK(ea_poe_verify(&ok, agg, X, v, Q, l, n) == EA_OK && ok);
    mpz_add_ui(Q, Q, 1);
    CHECK(ea_poe_verify(&ok, agg, X, v, Q, l, n) == EA_OK && !ok);
    for (i = 0; i < M; i++) { mpz_clear(xs[i]); mpz_clear(ws[i]); mpz_clear(rs_[i]); }
    mpz_clears(g, v, e, tmp, l, Q, agg, X, NULL);
    return 0;
}

int main(void)
{
    mpz_t n;
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 2024);
    mpz_init(n);
    make_modulus(n);
    if (test_multiexp(n) || test_witness_batch(n))
        return 1;
    mpz_clear(n);
    gmp_randclear(rs);
    puts("csrc batch ok");
    return 0;
}
