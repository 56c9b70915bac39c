/* ea_nonmem.h - non-membership witnesses (Li-Li-Xue, Bezout) and their updates after
 * additions and deletions, batch creation by divide and conquer, weighted batch verification
 * (DESIGN.md 2). For a prime y not in the accumulator v = g^X: a*X + b*y = 1 with 0 <= a < y
 * gives the witness (a, B = g^b); it verifies as v^a * B^y = +-g (mod n). Callers own every
 * mpz_t. */
#ifndef EA_NONMEM_H
#define EA_NONMEM_H

#include <stddef.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* ea_nonmem_create(a, B, g, X, y, n): the witness of y against g^X: a = X^-1 mod y,
 * B = g^((1 - a*X) / y). g a valid element, X > 0, y odd >= 3; EA_ERR_NOT_INVERTIBLE when
 * gcd(X, y) != 1 (y divides the accumulated product: it is no non-member). */
int ea_nonmem_create(mpz_t a, mpz_t B, const mpz_t g, const mpz_t X, const mpz_t y,
                     const mpz_t n);

/* ea_nonmem_verify(&ok, g, v, y, a, B, n): ok = (0 <= a < y and v^a * B^y = +-g mod n).
 * g, v, B valid elements (else EA_ERR_ELEMENT); y odd >= 3 (else EA_ERR_EXPONENT). */
int ea_nonmem_verify(int *ok, const mpz_t g, const mpz_t v, const mpz_t y, const mpz_t a,
                     const mpz_t B, const mpz_t n);

/* ea_nonmem_batch_create(as, Bs, g, v, X, ys, count, n, threads): the witnesses of every ys[i]
 * against v = g^X with one exponentiation by ~|X| bits (the witness of prod ys) and a
 * divide-and-conquer descent (a node's witness (A, B) for Y = Y_L * Y_R gives the left child
 * (A mod Y_L, v^(A div Y_L) * B^Y_R)): O(t log t) exponentiation work by the ys' size.
 * ys odd >= 3 and coprime to X (else EA_ERR_NOT_INVERTIBLE), count >= 1; v must be g^X (the
 * outputs are witnesses against v, and only then). The halves of the tree run on up to
 * `threads` threads (0 or 1: the caller's only). */
int ea_nonmem_batch_create(mpz_t *as, mpz_t *Bs, const mpz_t g, const mpz_t v, const mpz_t X,
                           const mpz_t *ys, size_t count, const mpz_t n, unsigned threads);

/* ea_nonmem_update_add(a2, B2, a, B, y, v_old, v_new, Z, n): the witness of y against
 * v_new = v_old^Z from its witness (a, B) against v_old: with c = Z^-1 mod y,
 * d = (Z*c - 1) / y, a2 = a*c mod y, q = a*c div y: B2 = B * v_new^q * v_old^(-a*d).
 * EA_ERR_NOT_INVERTIBLE when gcd(Z, y) != 1 (y was added). Z odd >= 3, 0 <= a < y. */
int ea_nonmem_update_add(mpz_t a2, mpz_t B2, const mpz_t a, const mpz_t B, const mpz_t y,
                         const mpz_t v_old, const mpz_t v_new, const mpz_t Z, const mpz_t n);

/* ea_nonmem_update_delete(a2, B2, a, B, y, v_new, D, n): the witness of y against v_new with
 * v_new^D = v_old (the elements of product D deleted): a2 = a*D mod y, B2 = B * v_new^(a*D div y).
 * EA_ERR_NOT_INVERTIBLE when gcd(D, y) != 1 (y was deleted: a member). D odd >= 3, 0 <= a < y. */
int ea_nonmem_update_delete(mpz_t a2, mpz_t B2, const mpz_t a, const mpz_t B, const mpz_t y,
                            const mpz_t v_new, const mpz_t D, const mpz_t n);

/* ea_nonmem_batch_verify(bad, g, v, ys, as, Bs, rs, count, n): statement j is
 * v^as[j] * Bs[j]^ys[j] = +-g with 0 <= as[j] < ys[j]. With the verifier's fresh random
 * weights rs[j] > 0 checks prod_j (v^as[j] Bs[j]^ys[j] g^-1)^rs[j] = +-1 as one
 * multi-exponentiation and bisects on failure; bad[j] = 1 for the false statements (every
 * bad[j] = 1 on any status but EA_OK). g, v, Bs valid elements, ys odd >= 3, rs > 0. */
int ea_nonmem_batch_verify(unsigned char *bad, const mpz_t g, const mpz_t v, const mpz_t *ys,
                           const mpz_t *as, const mpz_t *Bs, const mpz_t *rs, size_t count,
                           const mpz_t n);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
