/* ea_ifma1.h - (internal) one 2048-bit modular exponentiation with AVX-512 IFMA (DESIGN.md 3,
 * Single operations): "almost Montgomery" multiplication of numbers held as 40 limbs of 52 bits
 * in five 512-bit registers (the amm52x40_x1 scheme of OpenSSL 3.x's rsaz-*-avx512), and a
 * sliding-window exponentiation on it. Not constant time: for public exponents only (secret
 * ones take ea_powm_sec). Used where cpuid reports IFMA and EDGEACC_PORTABLE is not set
 * (EA_PATH_IFMA of ea_fast_paths); results are bit-identical to GMP's. */
#ifndef EA_IFMA1_H
#define EA_IFMA1_H

#include <stddef.h>
#include <stdint.h>
#include <gmp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ea_limbs52(out, stride, x, nl): x (0 <= x < 2^(52 nl)) as nl 52-bit limbs, `stride` words
 * apart (1 for one number, 8 for a lane of ea_ifma.h's vectors). */
static inline void ea_limbs52(uint64_t *out, size_t stride, const mpz_t x, int nl)
{
    size_t i, bit;
    for (i = 0, bit = 0; i < (size_t)nl; i++, bit += 52) {
        size_t w = bit / 64, sh = bit % 64;
        uint64_t v = (uint64_t)mpz_getlimbn(x, (mp_size_t)w) >> sh;
        if (sh > 12)
            v |= (uint64_t)mpz_getlimbn(x, (mp_size_t)w + 1) << (64 - sh);
        out[i * stride] = v & (((uint64_t)1 << 52) - 1);
    }
}

/* ea_neg_inv52(m0): -m0^{-1} mod 2^52 for odd m0, the Montgomery digit factor (Newton's
 * iteration doubles the correct low bits: 1, 2, 4, ..., 64). */
static inline uint64_t ea_neg_inv52(uint64_t m0)
{
    uint64_t inv = 1;
    int i;
    for (i = 0; i < 6; i++)
        inv *= 2 - m0 * inv;
    return (0 - inv) & (((uint64_t)1 << 52) - 1);
}

#define EA_IFMA1_MIN_BITS 1537      /* below this OpenSSL's mulx code is faster */
#define EA_IFMA1_MAX_BITS 2048      /* R = 2^2080 > 4N */

/* ea_ifma1_apply(n): 1 iff ea_ifma1_powm runs for modulus n here (CPU, build, size). */
int ea_ifma1_apply(const mpz_t n);

/* ea_ifma1_powm(r, b, e, n): r = b^e mod n; ea_ifma1_apply(n), e >= 0. r may alias b or e.
 * 0 (r untouched) if b is outside [0, n) or the per-thread context could not be allocated. */
int ea_ifma1_powm(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t n);

/* The Montgomery-domain helpers below share R = 2^2080 with ea_ifma.h's lanes and work modulo
 * any odd N < 2^2048 where ea_fast_paths() has EA_PATH_IFMA. Each returns 0 (outputs untouched)
 * if the per-thread context could not be allocated. */

/* ea_ifma1_to_mont(out, b, n): out = b R mod N as 40 normalised 52-bit limbs, below 2N;
 * 0 <= b < n. */
int ea_ifma1_to_mont(uint64_t *out, const mpz_t b, const mpz_t n);

/* ea_ifma1_from_mont(r, x, n): r = x / R mod N, in [0, N), for a Montgomery-form x (40 limbs,
 * below 2N). */
int ea_ifma1_from_mont(mpz_t r, const uint64_t *x, const mpz_t n);

/* ea_ifma1_sqr(x, times, n): `times` Montgomery squarings of x in place (40 limbs, below 2N):
 * the Montgomery form of v^(2^times) for x that of v. */
int ea_ifma1_sqr(uint64_t *x, unsigned times, const mpz_t n);

/* ea_ifma1_horner(x, S, k, c, n): k Horner steps of a c-bit windowed multi-exponentiation,
 * top window first: x = x^(2^c) S_i for i = k-1 down to 0, in place (Montgomery forms, 40 limbs
 * each, below 2N). Resumable: the windows may come in several calls, as they are ready. */
int ea_ifma1_horner(uint64_t *x, const uint64_t *S, size_t k, unsigned c, const mpz_t n);

/* ea_ifma1_unit_product(p, ys, count, n): p = prod ys[j] * R^(-count) mod N, in [0, N): a unit
 * iff every ys[j] is; 0 <= ys[j] < n, count >= 1. */
int ea_ifma1_unit_product(mpz_t p, const mpz_t *ys, size_t count, const mpz_t n);

#ifdef __cplusplus
}
#endif
#endif
