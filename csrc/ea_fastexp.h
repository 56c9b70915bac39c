/* ea_fastexp.h - (internal) the fast exponentiation kernels and their run-time dispatch
 * (DESIGN.md 3, Lanes). Three paths compute bit-identical results:
 *   GMP      - mpz_powm; everywhere, and the only path when EDGEACC_PORTABLE=1 is set;
 *   IFMA1    - the engine's own single-operation AVX-512 IFMA kernel (ea_ifma1.h) for single
 *              operations modulo 1537..2048-bit N, where cpuid reports IFMA;
 *   OpenSSL  - libcrypto's BN_mod_exp_mont (mulx/adx Montgomery code) for other single ones;
 *   lanes    - Intel crypto_mb's mbx_exp2048_mb8: 8 independent exponentiations at once with
 *              AVX-512 IFMA, when the build found crypto_mb (EA_HAVE_CRYPTO_MB) and cpuid
 *              reports IFMA; 2048-bit moduli and exponents of at most 2048 bits;
 *   IFMA     - the engine's own 8-lane IFMA Montgomery kernel for multi-exponentiations
 *              (ea_ifma.h), where cpuid reports IFMA; needs no crypto_mb.
 * Below them, where cpuid reports BMI2 and ADX (EA_PATH_MULX): ea_mont's 32-limb products (the
 * GMP-side batch paths) take the mulx/adcx/adox rows of ea_mulx.h, and the primality tests of
 * 256-bit hash-to-prime candidates the 4-limb Montgomery product and square of ea_mont4.h;
 * GMP's mpn calls and mpz_powm elsewhere.
 * The choice is made once per process (the environment is read at the first call). */
#ifndef EA_FASTEXP_H
#define EA_FASTEXP_H

#include <stddef.h>
#include <gmp.h>
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EA_LANES 8              /* exponentiations per lane call */
#define EA_LANE_MOD_BITS 2048   /* the modulus size the lane kernel takes */
#define EA_LANE_EXP_BITS 2048   /* the largest exponent of one lane call */
/* A last lane group of fewer items runs as single exponentiations where the own IFMA kernel
 * takes them (a lane call costs about as much as 6 of those; as 2 of OpenSSL's). */
#define EA_LANE_MIN_ITEMS 6

/* Bits of ea_fast_paths(). */
enum {
    EA_PATH_LANES_COMPILED = 1,     /* built with crypto_mb */
    EA_PATH_LANES_CPU = 2,          /* cpuid: AVX-512 F and IFMA, enabled by the OS */
    EA_PATH_PORTABLE = 4,           /* EDGEACC_PORTABLE=1 forces GMP everywhere */
    EA_PATH_OPENSSL = 8,            /* single exponentiations use OpenSSL */
    EA_PATH_LANES = 16,             /* independent exponentiations use the lanes */
    EA_PATH_IFMA = 32,              /* multi-exponentiations use the own IFMA lanes (ea_ifma.h) */
    EA_PATH_MULX = 64               /* mulx kernels: ea_mulx.h (32 limbs), ea_mont4.h (4 limbs) */
};

/* ea_fast_paths(): the EA_PATH_* bits of this build and process. */
unsigned ea_fast_paths(void);

/* ea_fast_lanes_apply(n): 1 iff ea_fast_powm_many runs lanes for this modulus. */
int ea_fast_lanes_apply(const mpz_t n);

/* ea_fast_powm(r, b, e, n): r = b^e mod n; n odd >= 3, 0 <= b < n, e >= 0 (callers check).
 * r may alias b or e. */
void ea_fast_powm(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t n);

/* ea_fast_powm_many(out, bases, exps, count, n): out[i] = bases[i]^exps[i] mod n, independent
 * items, 8 at a time in lanes where they apply (exponents longer than EA_LANE_EXP_BITS and
 * leftover single items take ea_fast_powm). Preconditions as ea_fast_powm; out[i] must not
 * alias an input. EA_OK or EA_ERR_NOMEM. */
int ea_fast_powm_many(mpz_t *out, const mpz_t *bases, const mpz_t *exps, size_t count,
                      const mpz_t n);

#ifdef __cplusplus
}
#endif
#endif
