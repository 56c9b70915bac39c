/* ea_poe.h - Wesolowski / Boneh-Bunz-Fisch non-interactive proof of exponentiation:
 * w^X = +-v proven by Q = w^floor(X/l) for a challenge prime l the caller derives by
 * hashing (w, v, X); checked with a two-base exponentiation of l-sized exponents. */
#ifndef EA_POE_H
#define EA_POE_H

#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* ea_poe_prove(Q, w, X, l, n): Q = w^floor(X/l) mod n; w a valid element, X >= l > 2. */
int ea_poe_prove(mpz_t Q, const mpz_t w, const mpz_t X, const mpz_t l, const mpz_t n);

/* ea_poe_verify(&ok, w, X, v, Q, l, n): *ok = (Q^l * w^(X mod l) = +-v mod n). w, v, Q valid
 * elements (else EA_ERR_ELEMENT); X > 0, l > 2. */
int ea_poe_verify(int *ok, const mpz_t w, const mpz_t X, const mpz_t v, const mpz_t Q,
                  const mpz_t l, const mpz_t n);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
