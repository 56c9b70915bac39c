/* ea_check.h - argument rules for lists of exponents and bases, each reporting the first
 * item that breaks it, so the bindings only convert and map the status to an exception. */
#ifndef EA_CHECK_H
#define EA_CHECK_H

#include <stddef.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* Rules for exponents. An accumulator element is an odd x >= 3 (x = 1 or an even x would
 * let a trivial witness verify); an accumulated element must also be a probable prime (a
 * composite x = a*b would give the divisor a a forged witness). */
enum {
    EA_RULE_NONNEG = 0,     /* x >= 0 */
    EA_RULE_POSITIVE = 1,   /* x > 0 */
    EA_RULE_ELEMENT = 2,    /* x odd, x >= 3 */
    EA_RULE_PRIME = 3       /* x odd, x >= 3, and a probable prime (BPSW) */
};

/* ea_check_exponent(x, rule): EA_OK iff x satisfies rule, else EA_ERR_EXPONENT
 * (EA_ERR_ARGUMENT for an unknown rule). */
int ea_check_exponent(const mpz_t x, int rule);

/* ea_check_exponents(&first_bad, xs, count, rule): EA_OK iff every xs[i] satisfies rule, else
 * EA_ERR_EXPONENT with *first_bad = the lowest failing index (*first_bad = count on EA_OK). */
int ea_check_exponents(size_t *first_bad, const mpz_t *xs, size_t count, int rule);

/* ea_check_bases(&first_bad, bs, count, n): EA_OK iff 0 <= bs[i] < n for every i, else
 * EA_ERR_ELEMENT with *first_bad = the lowest failing index; n must be an odd modulus >= 3. */
int ea_check_bases(size_t *first_bad, const mpz_t *bs, size_t count, const mpz_t n);

/* ea_check_elements(&first_bad, ys, count, n): EA_OK iff every ys[i] satisfies
 * 1 < y < n-1 and gcd(y, n) = 1, else EA_ERR_ELEMENT with *first_bad = the lowest bad index.
 * One gcd for the whole list: a prime of n divides prod ys mod n iff it divides some ys[i]. */
int ea_check_elements(size_t *first_bad, const mpz_t *ys, size_t count, const mpz_t n);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
