/* ea_modulus.h - cheap screens that refuse obviously weak RSA moduli (DESIGN.md 2).
 * A modulus that passes proves nothing: whoever made a caller-supplied N may know its
 * factors. The screens only refuse the moduli anyone can factor at once. */
#ifndef EA_MODULUS_H
#define EA_MODULUS_H

#include <stdint.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* What ea_screen_modulus found (a verdict, separate from the status code). */
enum {
    EA_WEAK_NOT_SCREENED = -1,  /* a screen could not run (the status says why): no verdict */
    EA_WEAK_NONE = 0,           /* passed every screen */
    EA_WEAK_PERFECT_POWER = 1,  /* N = r^k with k >= 2 */
    EA_WEAK_PRIME = 2,          /* N is a probable prime: its group order is known */
    EA_WEAK_SMALL_FACTOR = 3,   /* a prime factor below the trial-division bound */
    EA_WEAK_NEAR_SQUARE = 4,    /* Fermat's method from ceil(sqrt N) found a factor: |p-q| small */
    EA_WEAK_PSEUDOPRIME = 5,    /* a^(N-1) = 1 for a small base a (Carmichael-like): N - 1 is a
                                 * public multiple of a's order, so roots of a are computable */
    EA_WEAK_SMOOTH_ORDER = 6    /* Pollard p-1: the order of 2 mod a prime factor is smooth */
};

#define EA_TRIAL_BOUND_MAX ((uint64_t)1 << 32)
#define EA_PM1_BOUND_MAX ((unsigned long)1 << 24)
#define EA_SCREEN_PM1_BOUND ((unsigned long)1 << 18)

/* ea_pm1_factor(factor, n, bound): Pollard's p-1, stage 1: factor = gcd(2^E - 1, n) for E the
 * product of the prime powers <= bound, when that splits n; factor = n when every prime factor
 * at once has a bound-smooth order of 2 (also weak); else 0. n odd >= 3, bound <= 2^24. */
int ea_pm1_factor(mpz_t factor, const mpz_t n, unsigned long bound);

/* ea_trial_factor(&p, n, bound, threads): p = the smallest prime p < bound dividing n, or 0
 * if none; n odd >= 3 (2 is reported for even n), bound <= 2^32. Primes below 2^16 are tried
 * one by one; above, a segmented sieve feeds the primes into a running product mod n (one
 * Montgomery multiplication per n limbs of primes) and a gcd per range, run on `threads`
 * threads. */
int ea_trial_factor(uint32_t *p, const mpz_t n, uint64_t bound, unsigned threads);

/* ea_fermat_factor(factor, n, steps): factor = a - b for the first a = ceil(sqrt n) + i,
 * i < steps, with a^2 - n = b^2 and a - b > 1 (found iff |p - q| is below about
 * sqrt(8 * steps) * n^(1/4) for n = pq), else factor = 0. n odd >= 3. */
int ea_fermat_factor(mpz_t factor, const mpz_t n, unsigned long steps);

/* ea_screen_modulus(&weakness, factor, n, bound, steps, threads): perfect power, probable
 * prime, Fermat's method with `steps` steps, trial division below bound, Fermat pseudoprime
 * to the bases 2..13, then Pollard p-1 to EA_SCREEN_PM1_BOUND (2^18; 2^14 when
 * bound < 2^32, a test screen); *weakness = the first EA_WEAK_* found (factor = the factor found,
 * else 0). n odd >= 3. On any status but EA_OK, *weakness = EA_WEAK_NOT_SCREENED. */
int ea_screen_modulus(int *weakness, mpz_t factor, const mpz_t n, uint64_t bound,
                      unsigned long steps, unsigned threads);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
