/* powm_probe.c -- micro-benchmark for mpz_powm (not part of the package).
 *
 * Times mpz_powm with a random 2048-bit odd modulus, a 2048-bit base and
 * both a 2048-bit and a 256-bit exponent. Reports the median per-call time
 * (µs) over REPS timed calls after WARMUP untimed calls.
 *
 * Build against system GMP:      gcc -O2 powm_probe.c -o probe_sys -lgmp
 * Build against a static prefix: gcc -O2 -I$P/include powm_probe.c -o probe \
 *                                    $P/lib/libgmp.a
 * Usage: ./probe [reps] [seed]
 */
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define WARMUP 20

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double bench(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t m,
                    int reps, double *samples) {
    for (int i = 0; i < WARMUP; i++) mpz_powm(r, b, e, m);
    for (int i = 0; i < reps; i++) {
        double t0 = now_us();
        mpz_powm(r, b, e, m);
        samples[i] = now_us() - t0;
    }
    qsort(samples, reps, sizeof *samples, cmp_double);
    return reps % 2 ? samples[reps / 2]
                    : 0.5 * (samples[reps / 2 - 1] + samples[reps / 2]);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    unsigned long seed = argc > 2 ? strtoul(argv[2], NULL, 10) : 12345;
    if (reps < 1) reps = 1;
    double *samples = malloc(sizeof(double) * reps);

    gmp_randstate_t rs;
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, seed);

    mpz_t m, b, e2048, e256, r, chk;
    mpz_inits(m, b, e2048, e256, r, chk, NULL);
    mpz_urandomb(m, rs, 2048);
    mpz_setbit(m, 2047); mpz_setbit(m, 0);           /* exactly 2048 bits, odd */
    mpz_urandomb(b, rs, 2048); mpz_setbit(b, 2047);
    mpz_mod(b, b, m);                                /* 2048-bit-ish base < m */
    mpz_urandomb(e2048, rs, 2048); mpz_setbit(e2048, 2047);
    mpz_urandomb(e256, rs, 256);   mpz_setbit(e256, 255);

    double t2048 = bench(r, b, e2048, m, reps, samples);
    /* checksum so different builds can be checked for identical results */
    unsigned long ck = mpz_fdiv_ui(r, 1000000007UL);
    double t256 = bench(r, b, e256, m, reps, samples);
    ck ^= mpz_fdiv_ui(r, 1000000007UL);

    printf("gmp %s limb=%d reps=%d  powm2048_exp2048_us=%.2f  "
           "powm2048_exp256_us=%.2f  check=%lu\n",
           gmp_version, mp_bits_per_limb, reps, t2048, t256, ck);

    mpz_clears(m, b, e2048, e256, r, chk, NULL);
    gmp_randclear(rs);
    free(samples);
    return 0;
}
