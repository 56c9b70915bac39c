/* ea_witness.h - many witnesses at once: RootFactory, witness update, aggregation
 * (Shamir's trick). DESIGN.md 2-3. Callers own every mpz_t. */
#ifndef EA_WITNESS_H
#define EA_WITNESS_H

#include <stddef.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* ea_powm_shared_base(out, base, exps, k, n): out[i] = base^exps[i] mod n for i < k with
 * one squaring chain of base shared by all k exponents (Yao/bucket digits); exps >= 0,
 * 0 < base < n. */
int ea_powm_shared_base(mpz_t *out, const mpz_t base, const mpz_t *exps, size_t k,
                        const mpz_t n);

/* ea_root_factory(out, base, xs, count, n, arity, threads):
 * out[i] = base^(prod_{j != i} xs[j]) mod n for every i < count, by divide and conquer: split
 * the set into `arity` parts (2..8), raise the base by the product of the other parts (one
 * shared squaring chain per node), recurse. arity 0 = default: where the IFMA kernels apply, the
 * shape is chosen level by level (8 nodes' chains at once in lanes, or a single chain of arity
 * 8, or two exponentiations per node while a level has fewer nodes than threads), else 4. The
 * work runs on up to `threads` threads. xs accumulator elements (odd >= 3, EA_RULE_ELEMENT,
 * else EA_ERR_EXPONENT); 0 < base < n. */
int ea_root_factory(mpz_t *out, const mpz_t base, const mpz_t *xs, size_t count,
                    const mpz_t n, unsigned arity, unsigned threads);

/* ea_powm_many_bases(out, bases, count, e, n, threads): out[i] = bases[i]^e mod n (witness
 * update of many witnesses by the product e of a batch of new elements); e > 0, 0 < bases < n;
 * the bases are split over `threads` threads. */
int ea_powm_many_bases(mpz_t *out, const mpz_t *bases, size_t count, const mpz_t e,
                       const mpz_t n, unsigned threads);

/* ea_shamir_trick(r, wa, xa, wb, xb, n): from wa^xa = +-v and wb^xb = +-v with
 * gcd(xa, xb) = 1, r with r^(xa*xb) = +-v: r = wa^b * wb^a where a*xa + b*xb = 1.
 * EA_ERR_NOT_INVERTIBLE if gcd(xa, xb) != 1. wa, wb valid elements; xa, xb odd >= 3. */
int ea_shamir_trick(mpz_t r, const mpz_t wa, const mpz_t xa, const mpz_t wb, const mpz_t xb,
                    const mpz_t n);

/* ea_aggregate(r, X, ws, xs, count, n): one witness r for the whole set, r^X = +-v with
 * X = prod xs, by Shamir's trick over a balanced tree; xs odd >= 3 and pairwise coprime,
 * count >= 1. */
int ea_aggregate(mpz_t r, mpz_t X, const mpz_t *ws, const mpz_t *xs, size_t count,
                 const mpz_t n);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
