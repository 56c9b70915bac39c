/* test_mont.c - ea_mont's two kernels (GMP's mpn calls; the mulx/adcx/adox rows of ea_mulx.h)
 * against each other and mpz, limb for limb: products, squares, aliasing, ea_mont_from, on
 * 32-limb moduli with full, all-ones and small top limbs, and the carry-heavy inputs (all-ones
 * limbs, R - 1 >= N) beside 0, 1, N - 1 and random ones. A wrong carry is a silent wrong answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ea_mont.h"
#include "ea_mulx.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d %s (case %d)\n", __FILE__, __LINE__, #cond, kase); return 1; } } while (0)
#define K 32

static int kase;

/* the value a*b*R^{-1} mod n in [0, R) congruence and range checks on a result r */
static int check_value(const mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b, const mpz_t n,
                       int reduced)
{
    mpz_t za, zb, zr, want, rinv;
    int ok;
    mpz_inits(za, zb, zr, want, rinv, NULL);
    mpz_import(za, K, -1, sizeof(mp_limb_t), 0, 0, a);
    mpz_import(zb, K, -1, sizeof(mp_limb_t), 0, 0, b);
    mpz_import(zr, K, -1, sizeof(mp_limb_t), 0, 0, r);
    mpz_setbit(rinv, 64 * K);
    ok = mpz_invert(rinv, rinv, n);
    mpz_mul(want, za, zb);
    mpz_mul(want, want, rinv);
    mpz_mod(want, want, n);
    mpz_sub(za, zr, want);
    ok = ok && mpz_divisible_p(za, n) && (!reduced || mpz_cmp(zr, n) < 0);
    mpz_clears(za, zb, zr, want, rinv, NULL);
    return ok;
}

static void fill(mp_limb_t *a, int kind, const mp_limb_t *m, gmp_randstate_t rs)
{
    mpz_t z;
    int i;
    switch (kind) {
    case 0: mpn_zero(a, K); break;
    case 1: mpn_zero(a, K); a[0] = 1; break;
    case 2: mpn_copyi(a, m, K); a[0] -= 1; break;                          /* N - 1 */
    case 3: for (i = 0; i < K; i++) a[i] = ~(mp_limb_t)0; break;            /* R - 1 >= N */
    case 4: mpn_copyi(a, m, K); break;                                      /* N itself */
    default:
        mpz_init(z);
        if (kind == 5)
            mpz_urandomb(z, rs, 64 * K);
        else
            mpz_rrandomb(z, rs, 64 * K);                                    /* long runs of 1s and 0s */
        mpn_zero(a, K);
        mpz_export(a, NULL, -1, sizeof(mp_limb_t), 0, 0, z);
        mpz_clear(z);
    }
}

static int reduced_input(const mp_limb_t *a, const mp_limb_t *m)
{
    return mpn_cmp(a, m, K) < 0;
}

int main(void)
{
    gmp_randstate_t rs;
    mpz_t n, z;
    ea_mont ctx;
    ea_mont_work w;
    mp_limb_t a[K], b[K], r0[K], r1[K], al[K];
    int s, i, j, t, usable = ea_mulx_usable();
    gmp_randinit_default(rs);
    mpz_inits(n, z, NULL);
    kase = -1;
    CHECK(usable == 0 || usable == 1);
#ifndef EA_MULX_COMPILED
    CHECK(usable == 0);
#endif
    for (s = 0; s < 40; s++) {
        switch (s) {
        case 0: mpz_set_ui(n, 0); mpz_setbit(n, 2048); mpz_sub_ui(n, n, 1); break;   /* all ones */
        case 1: mpz_set_ui(n, 0); mpz_setbit(n, 1984); mpz_add_ui(n, n, 1); break;   /* top limb 1 */
        case 2: mpz_set_ui(n, 0); mpz_setbit(n, 2047); mpz_add_ui(n, n, 1); break;
        case 3: mpz_set_ui(n, 0); mpz_setbit(n, 2048); mpz_sub_ui(n, n, 189); break; /* N = R - 189 */
        default:
            if (s % 2) mpz_rrandomb(n, rs, 1985 + (unsigned)(s * 13) % 64);
            else mpz_urandomb(n, rs, 2048);
            mpz_setbit(n, s % 3 ? 2047 : 1984 + (unsigned)s % 64);
            mpz_setbit(n, 0);
        }
        CHECK(mpz_size(n) == K);
        CHECK(ea_mont_init(&ctx, n) == EA_OK && ea_mont_work_init(&w, &ctx) == EA_OK);
        CHECK(ctx.kernel == (usable ? EA_MONT_MULX : EA_MONT_GMP) || getenv("EDGEACC_PORTABLE"));
        for (i = 0; i < 9; i++)
            for (j = 0; j < 9; j++)
                for (t = 0; t < (i >= 5 || j >= 5 ? 4 : 1); t++) {
                    kase = s * 1000 + i * 100 + j * 10 + t;
                    fill(a, i, ctx.m, rs);
                    fill(b, j, ctx.m, rs);
                    /* products: GMP's kernel, then the mulx rows, into fresh and aliased r */
                    ctx.kernel = EA_MONT_GMP;
                    ea_mont_mul(r0, a, b, &ctx, &w);
                    CHECK(check_value(r0, a, b, n, reduced_input(a, ctx.m) && reduced_input(b, ctx.m)));
                    if (usable) {
                        ctx.kernel = EA_MONT_MULX;
                        ea_mont_mul(r1, a, b, &ctx, &w);
                        CHECK(mpn_cmp(r0, r1, K) == 0);
                        mpn_copyi(al, a, K);
                        ea_mont_mul(al, al, b, &ctx, &w);                  /* r aliases a */
                        CHECK(mpn_cmp(r0, al, K) == 0);
                        mpn_copyi(al, b, K);
                        ea_mont_mul(al, a, al, &ctx, &w);                  /* r aliases b */
                        CHECK(mpn_cmp(r0, al, K) == 0);
                    }
                    /* squares */
                    ctx.kernel = EA_MONT_GMP;
                    ea_mont_sqr(r0, a, &ctx, &w);
                    CHECK(check_value(r0, a, a, n, reduced_input(a, ctx.m)));
                    if (usable) {
                        ctx.kernel = EA_MONT_MULX;
                        ea_mont_sqr(r1, a, &ctx, &w);
                        CHECK(mpn_cmp(r0, r1, K) == 0);
                        mpn_copyi(al, a, K);
                        ea_mont_mul(al, al, al, &ctx, &w);                 /* a == b: the square */
                        CHECK(mpn_cmp(r0, al, K) == 0);
                    }
                }
        /* ea_mont_to / ea_mont_from round trip on both kernels */
        for (t = 0; t < 2; t++) {
            if (t == 1 && !usable)
                break;
            ctx.kernel = t ? EA_MONT_MULX : EA_MONT_GMP;
            for (i = 0; i < 6; i++) {
                kase = s * 1000 + 900 + t * 10 + i;
                if (i < 2) mpz_set_ui(z, (unsigned long)i);
                else if (i == 2) mpz_sub_ui(z, n, 1);
                else mpz_urandomm(z, rs, n);
                ea_mont_to(a, z, &ctx);
                ea_mont_from(z, a, &ctx, &w);
                ea_mont_to(b, z, &ctx);
                CHECK(mpn_cmp(a, b, K) == 0);
            }
        }
        ea_mont_work_clear(&w);
        ea_mont_clear(&ctx);
    }
    mpz_clears(n, z, NULL);
    gmp_randclear(rs);
    printf("mont ok (%s kernel checked)\n", usable ? "mulx and gmp" : "gmp");
    return 0;
}
