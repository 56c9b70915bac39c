/* mont_product.c - one 2048-bit Montgomery product (ea_mont_mul, ea_mont_sqr) on each kernel of
 * csrc/ea_mont.c, GMP's mpn calls against the mulx rows (csrc/ea_mulx.h), measured alternately
 * in one process (CPU time, best of 9 rounds of 20,000 dependent calls), and the parts (mpn_mul_n,
 * mpn_sqr against ea_mulx_mul32, ea_mulx_sqr32). Build and run from the repository root:
 *   make -C csrc libedgeacc.a && cc -O2 -Icsrc bench/mont_product.c csrc/libedgeacc.a \
 *       -lgmp -lcrypto -lpthread -o /tmp/mont_product && /tmp/mont_product */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>
#include "ea_mont.h"
#include "ea_mulx.h"

#define REPS 20000
#define ROUNDS 9

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void)
{
    gmp_randstate_t rs;
    mpz_t n, z;
    ea_mont ctx;
    ea_mont_work w;
    mp_limb_t a[32], b[32], t[64];
    double best[2][4] = { { 1e9, 1e9, 1e9, 1e9 }, { 1e9, 1e9, 1e9, 1e9 } }, t0, s;
    int r, k, i, kern;
    gmp_randinit_default(rs);
    mpz_inits(n, z, NULL);
    mpz_urandomb(n, rs, 2048);
    mpz_setbit(n, 2047);
    mpz_setbit(n, 0);
    if (ea_mont_init(&ctx, n) != EA_OK || ea_mont_work_init(&w, &ctx) != EA_OK)
        return 1;
    mpz_urandomm(z, rs, n);
    ea_mont_to(a, z, &ctx);
    mpz_urandomm(z, rs, n);
    ea_mont_to(b, z, &ctx);
    if (!ea_mulx_usable())
        printf("mulx kernel not usable here: both columns are GMP\n");
    for (r = 0; r < ROUNDS; r++)
        for (kern = 0; kern < 2; kern++) {
            ctx.kernel = kern && ea_mulx_usable() ? EA_MONT_MULX : EA_MONT_GMP;
            t0 = cpu_now();
            for (k = 0; k < REPS; k++)
                ea_mont_mul(a, a, b, &ctx, &w);
            s = cpu_now() - t0; if (s < best[kern][0]) best[kern][0] = s;
            t0 = cpu_now();
            for (k = 0; k < REPS; k++)
                ea_mont_sqr(a, a, &ctx, &w);
            s = cpu_now() - t0; if (s < best[kern][1]) best[kern][1] = s;
            t0 = cpu_now();
            for (k = 0; k < REPS; k++) {
                if (ctx.kernel == EA_MONT_MULX) ea_mulx_mul32(t, a, b); else mpn_mul_n(t, a, b, 32);
                a[5] ^= t[40];
            }
            s = cpu_now() - t0; if (s < best[kern][2]) best[kern][2] = s;
            t0 = cpu_now();
            for (k = 0; k < REPS; k++) {
                if (ctx.kernel == EA_MONT_MULX) ea_mulx_sqr32(t, a); else mpn_sqr(t, a, 32);
                a[5] ^= t[40];
            }
            s = cpu_now() - t0; if (s < best[kern][3]) best[kern][3] = s;
        }
    for (i = 0; i < 4; i++) {
        static const char *name[] = { "ea_mont_mul", "ea_mont_sqr", "product only (mul)", "product only (sqr)" };
        printf("%-20s gmp %.3f us  mulx %.3f us  ratio %.3f\n", name[i], best[0][i] / REPS * 1e6,
               best[1][i] / REPS * 1e6, best[1][i] / best[0][i]);
    }
    ea_mont_work_clear(&w);
    ea_mont_clear(&ctx);
    mpz_clears(n, z, NULL);
    gmp_randclear(rs);
    return 0;
}
