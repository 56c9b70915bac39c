/* ea_group.h - arithmetic in Z_N^* / {+1, -1}. Callers own every mpz_t. */
#ifndef EA_GROUP_H
#define EA_GROUP_H

#include <stddef.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* ea_check_modulus(n): EA_OK iff n is odd and n >= 3. */
int ea_check_modulus(const mpz_t n);

/* ea_check_element(y, n): EA_OK iff 1 < y < n-1 and gcd(y, n) = 1. */
int ea_check_element(const mpz_t y, const mpz_t n);

/* ea_check_base(base, n): EA_OK iff n is an odd modulus >= 3 and 0 < base < n. */
int ea_check_base(const mpz_t base, const mpz_t n);

/* ea_powm(r, base, exp, n): r = base^exp mod n; exp > 0, n odd >= 3, 0 <= base < n. */
int ea_powm(mpz_t r, const mpz_t base, const mpz_t exp, const mpz_t n);

/* ea_powm_sec(r, base, exp, n): as ea_powm, but with GMP's side-channel silent mpz_powm_sec;
 * for exponents that are secrets (shares in distributed modulus generation). */
int ea_powm_sec(mpz_t r, const mpz_t base, const mpz_t exp, const mpz_t n);

/* ea_jacobi(&j, a, n): j = Jacobi symbol (a/n) for odd n >= 3. */
int ea_jacobi(int *j, const mpz_t a, const mpz_t n);

/* ea_canonical(r, y, n): r = min(y, n - y), the representative of {y, -y}. */
int ea_canonical(mpz_t r, const mpz_t y, const mpz_t n);

/* ea_equal_pm(a, b, n): 1 if a = +-b (mod n), else 0. Inputs reduced mod n. */
int ea_equal_pm(const mpz_t a, const mpz_t b, const mpz_t n);

/* ea_verify_membership(w, x, v, n, *ok): *ok = (w^x = +-v mod n); x odd >= 3 (EA_RULE_ELEMENT:
 * x = 1 or an even x would let a trivial witness verify), else EA_ERR_EXPONENT. */
int ea_verify_membership(const mpz_t w, const mpz_t x, const mpz_t v, const mpz_t n, int *ok);

/* ea_hash_to_group(r, n, domain, msg, len): r = (H mod n)^2 mod n, H the SHA-256 counter-mode
 * expansion of msg under domain to |n| + EA_GENERATOR_EXTRA_BYTES bytes (ea_protocol.h); n a
 * checked modulus. A square nobody chose, with no known relation to any other element. */
int ea_hash_to_group(mpz_t r, const mpz_t n, const char *domain, const unsigned char *msg,
                     size_t len);

/* ea_derive_generator(g, n, chain_id, len): the generator of chain_id (len > 0) under n,
 * g = (H mod n)^2 mod n with H as ea_protocol.h describes (nobody chooses it); EA_ERR_ELEMENT
 * in the (factor-revealing) event that g is not a valid element. */
int ea_derive_generator(mpz_t g, const mpz_t n, const unsigned char *chain_id, size_t len);

/* ea_smallest_factor(n, bound): smallest prime p < bound dividing n, or 0 if none. */
unsigned long ea_smallest_factor(const mpz_t n, unsigned long bound);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
