/* ea_ifma1.h - (internal) one 2048-bit modular exponentiation with AVX-512 IFMA (DESIGN.md 3,
 * Single operations): "almost Montgomery" multiplication of numbers held as 40 limbs of 52 bits
 * in five 512-bit registers (the amm52x40_x1 scheme of OpenSSL 3.x's rsaz-*-avx512), and a
 * sliding-window exponentiation on it. Not constant time: for public exponents only (secret
 * ones take ea_powm_sec). Used where cpuid reports IFMA and EDGEACC_PORTABLE is not set
 * (EA_PATH_IFMA of ea_fast_paths); results are bit-identical to GMP's. */
#ifndef EA_IFMA1_H
#define EA_IFMA1_H

#include <gmp.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EA_IFMA1_MIN_BITS 1537      /* below this OpenSSL's mulx code is faster */
#define EA_IFMA1_MAX_BITS 2048      /* R = 2^2080 > 4N */

/* ea_ifma1_apply(n): 1 iff ea_ifma1_powm runs for modulus n here (CPU, build, size). */
int ea_ifma1_apply(const mpz_t n);

/* ea_ifma1_powm(r, b, e, n): r = b^e mod n; ea_ifma1_apply(n), 0 <= b < n, e >= 0. r may alias
 * b or e. 0 (r untouched) if the per-thread context could not be allocated. */
int ea_ifma1_powm(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t n);

#ifdef __cplusplus
}
#endif
#endif
