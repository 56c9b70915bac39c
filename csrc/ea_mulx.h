/* ea_mulx.h - (internal) 2048-bit (32-limb) Montgomery rows in x86-64 inline asm with
 * mulx/adcx/adox: two carry chains per row (CF for the low halves, OF for the high halves),
 * so a row of limb products runs without the single-chain add/adc of a mul-based kernel.
 * The product and the square are one Karatsuba step over 16-limb halves (rows for the
 * product, straight-line squares from tools/gen_mulx_sqr.py), the REDC 32 rows of 32 limbs.
 * ea_mont (ea_mont.c) uses them behind ea_mont_mul/ea_mont_sqr where the modulus has 32 limbs
 * and cpuid reports BMI2 and ADX; the results are the GMP path's, limb for limb.
 * Compiled only for x86-64 with a GNU-C compiler (EA_MULX_COMPILED); elsewhere this is empty
 * and ea_mulx_usable() is 0. No state: every call works on its arguments only. */
#ifndef EA_MULX_H
#define EA_MULX_H

#include <gmp.h>

#if defined(__GNUC__) && defined(__x86_64__) && GMP_NUMB_BITS == 64 && !defined(EA_NO_MULX)
#define EA_MULX_COMPILED 1
#endif

#define EA_MULX_LIMBS 32

/* ea_mulx_usable(): 1 if the kernel is compiled and cpuid reports BMI2 (mulx) and ADX
 * (adcx/adox), else 0. */
int ea_mulx_usable(void);

#ifdef EA_MULX_COMPILED
/* ea_mulx_mul32(t, a, b): t (64 limbs) = a * b (32 limbs each), one Karatsuba step over 16-limb
 * row products (768 mulx); t may not overlap a or b. */
void ea_mulx_mul32(mp_limb_t *t, const mp_limb_t *a, const mp_limb_t *b);
/* ea_mulx_sqr32(t, a): t (64 limbs) = a^2 (32 limbs): three 16-limb squares (each the products
 * a_i a_j, i < j, once, doubled, plus the squares) and a Karatsuba step, 408 mulx against the
 * product's 768; t may not overlap a. */
void ea_mulx_sqr32(mp_limb_t *t, const mp_limb_t *a);
/* ea_mulx_redc32(r, t, m, minv): r (32 limbs) = t * 2^-2048 mod m, as ea_mont's REDC: t (64
 * limbs, destroyed) < 2^2048 * m gives r < m; minv = -m^{-1} mod 2^64. r may not overlap t. */
void ea_mulx_redc32(mp_limb_t *r, mp_limb_t *t, const mp_limb_t *m, mp_limb_t minv);
#endif

#endif
