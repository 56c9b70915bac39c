/* ea_batch.h - sound batch verification of membership statements w_j^{x_j} = +-v_j
 * (DESIGN.md 3, Correction): small-exponents test with the caller's random weights, and
 * bisection to name the failing statements. Callers own every mpz_t. */
#ifndef EA_BATCH_H
#define EA_BATCH_H

#include <stddef.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* ea_batch_verify(bad, ws, xs, rs, vidx, count, vals, nvals, n, threads, ops):
 * statement j is ws[j]^xs[j] = +-vals[vidx[j]] (mod n). With the weights rs[j] > 0 (fresh
 * random odd lambda-bit numbers drawn by the verifier), checks
 *     prod_j ws[j]^(xs[j]*rs[j]) * prod_k vals[k]^(-R_k) = +-1,  R_k = sum_{vidx[j]=k} rs[j],
 * as one multi-exponentiation; on failure bisects (a half that passes clears its items, and
 * then the other half is known to fail). Sets bad[j] = 1 for the statements found false,
 * 0 otherwise; on any status but EA_OK every bad[j] = 1 (never "all hold" by accident).
 * A cost model picks the kernel: the weighted product on the engine's IFMA lanes (ea_ifma.h)
 * or on GMP (split into `threads` groups, each bisected), or every statement checked on its
 * own (exact; the weights unused), 8 at a time where crypto_mb's lanes apply (ea_fastexp.h);
 * a failing IFMA product also checks every statement on its own. ops (the GMP test's
 * multiplications and squarings, when that test ran) does not change the choice.
 * Every ws[j] and vals[k] must satisfy 1 < y < n-1, gcd(y, n) = 1 (else EA_ERR_ELEMENT);
 * xs[j] odd >= 3 and rs[j] > 0 (else EA_ERR_EXPONENT); vidx[j] < nvals. ops may be NULL. */
int ea_batch_verify(unsigned char *bad, const mpz_t *ws, const mpz_t *xs, const mpz_t *rs,
                    const size_t *vidx, size_t count, const mpz_t *vals, size_t nvals,
                    const mpz_t n, unsigned threads, ea_opcount *ops);

/* ea_batch_check_unweighted(&ok, ws, xs, vs, count, n, c, ops): the paper's Protocol 3
 * check prod ws[j]^xs[j] = +-prod vs[j], with 2^c subset tables (c = count is the paper's
 * single 2^t table). FORGEABLE (Bezout): for benchmarks and attack tests only. */
int ea_batch_check_unweighted(int *ok, const mpz_t *ws, const mpz_t *xs, const mpz_t *vs,
                              size_t count, const mpz_t n, unsigned c, ea_opcount *ops);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
