/* ea_sieve.h - (internal) the small-prime sieve of hash-to-prime candidates (ea_prime.c): is x
 * free of the odd primes below EA_SIEVE_BOUND? Header-only (the C tests include it): three
 * versions of one predicate, which test_core.c compares with each other and with mpz.
 *  - ea_sieve_passes4: 64-bit limbs, x below 2^256 as 4 limbs (low first, zero-padded). Per
 *    group of primes (product m < 2^62) a fold without division (ea_sieve_fold4), then the
 *    multiply-by-inverse divisibility test per prime. The hash-to-prime hot path.
 *  - ea_sieve_passes_mod1: 64-bit limbs, any size: mpn_mod_1 per group (it normalises and
 *    inverts m on each call), then the same per-prime test.
 *  - ea_sieve_passes_mpz: any limb size (the portable branch): mpz_divisible_ui_p per prime. */
#ifndef EA_SIEVE_H
#define EA_SIEVE_H

#include <stdint.h>
#include <gmp.h>
#include "ea_sieve_table.h"

#if GMP_NUMB_BITS == 64 && !defined(__GMP_SHORT_LIMB)
#define EA_SIEVE_LIMB64 1
#if defined(__SIZEOF_INT128__)
#define EA_SIEVE_FOLD 1

/* r < 2^64 with r = x / 2^64 (mod g->m) for x = l[0] + l[1] B + l[2] B^2 + l[3] B^3 (B = 2^64):
 * s = l0 + l1 (B mod m) + l2 (B^2 mod m) + l3 (B^3 mod m) < B (1 + 3m) < 2^128 (m < 2^62), then
 * (s + q m) / B with q = s (-m^-1) mod B (exact: the low limb cancels) < 4m <= 2^64. */
static inline uint64_t ea_sieve_fold4(const uint64_t *l, const ea_sieve_group *g)
{
    __extension__ typedef unsigned __int128 u128;   /* GCC and Clang on 64-bit targets */
    u128 s = (u128)l[1] * g->b1 + (u128)l[2] * g->b2 + (u128)l[3] * g->b3 + l[0];
    uint64_t q = (uint64_t)s * g->minv;
    u128 t = (u128)q * g->m;
    /* the low limbs sum to 0 mod B: to B (a carry) unless both are 0 */
    return (uint64_t)(s >> 64) + (uint64_t)(t >> 64) + ((uint64_t)s != 0);
}

/* 1 iff no odd prime below EA_SIEVE_BOUND divides x (4 limbs, low first). */
static inline int ea_sieve_passes4(const uint64_t *l)
{
    const ea_sieve_group *g;
    for (g = ea_sieve_groups; g < ea_sieve_groups + EA_SIEVE_GROUPS; g++) {
        uint64_t r = ea_sieve_fold4(l, g);
        uint32_t i;
        for (i = g->start; i < g[1].start; i++)
            if (r * ea_sieve_inverse[i] <= ea_sieve_limit[i])
                return 0;
    }
    return 1;
}
#endif

/* 1 iff no odd prime below EA_SIEVE_BOUND divides {limbs, n} (n >= 1). */
static inline int ea_sieve_passes_mod1(const mp_limb_t *limbs, mp_size_t n)
{
    int g;
    uint32_t i;
    for (g = 0; g < EA_SIEVE_GROUPS; g++) {
        uint64_t r = mpn_mod_1(limbs, n, ea_sieve_groups[g].m);
        for (i = ea_sieve_groups[g].start; i < ea_sieve_groups[g + 1].start; i++)
            if (r * ea_sieve_inverse[i] <= ea_sieve_limit[i])
                return 0;
    }
    return 1;
}
#endif

static inline int ea_sieve_passes_mpz(const mpz_t x)
{
    int i;
    for (i = 0; i < EA_SIEVE_PRIMES; i++)
        if (mpz_divisible_ui_p(x, ea_sieve_prime[i]))
            return 0;
    return 1;
}

/* 1 iff no odd prime below EA_SIEVE_BOUND divides x (x >= 0), on the fastest version here. */
static inline int ea_sieve_passes(const mpz_t x)
{
#ifdef EA_SIEVE_LIMB64
    mp_size_t n = mpz_size(x);
    const mp_limb_t *limbs = mpz_limbs_read(x);
#ifdef EA_SIEVE_FOLD
    if (n <= 4) {
        uint64_t l[4] = {0, 0, 0, 0};
        mp_size_t i;
        for (i = 0; i < n; i++)
            l[i] = limbs[i];
        return ea_sieve_passes4(l);
    }
#endif
    if (n == 0)
        return 0;                               /* every prime divides 0 */
    return ea_sieve_passes_mod1(limbs, n);
#else
    return ea_sieve_passes_mpz(x);
#endif
}

#endif
