/* ea_acc.h - accumulator updates and witnesses: exponentiation by a product of elements. */
#ifndef EA_ACC_H
#define EA_ACC_H

#include <stddef.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* ea_product(r, xs, count): r = xs[0] * ... * xs[count-1] by a balanced product tree
 * (r = 1 when count = 0). Every xs[i] must be positive. */
int ea_product(mpz_t r, const mpz_t *xs, size_t count);

/* ea_powm_product(r, base, xs, count, n): r = base^(xs[0] * ... * xs[count-1]) mod n,
 * one exponentiation by the product (r = base when count = 0). Accumulator add_many, witness
 * from a stored prefix, and witness update are all this call. 0 < base < n. */
int ea_powm_product(mpz_t r, const mpz_t base, const mpz_t *xs, size_t count, const mpz_t n);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
