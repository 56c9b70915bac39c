/* ea_ifma.h - (internal) an own 8-lane AVX-512 IFMA Montgomery multiplication (52-bit limbs)
 * and the lane-parallel bucket multi-exponentiation built on it (DESIGN.md 3, Lanes): the
 * c-bit windows of Pippenger's method are independent until the final combination, so 8
 * windows run at once, one per lane; and lane chains for RootFactory (ea_ifma_chains: 8
 * bases, each its own squaring chain and buckets in its lane). Compiled on x86-64 GCC/Clang (target attributes, no
 * global -m flags); used only where cpuid reports IFMA and EDGEACC_PORTABLE is not set
 * (ea_fast_paths). Results are bit-identical to GMP's. */
#ifndef EA_IFMA_H
#define EA_IFMA_H

#include <stddef.h>
#include <stdint.h>
#include <gmp.h>
#include "ea_status.h"
#include "ea_mont.h"
#include "ea_thread.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EA_IFMA_COMPILED 1
#endif

#define EA_IFMA_MAX_BITS 2048       /* moduli up to 2048 bits: R = 2^2080 > 4N */

/* ea_ifma_apply(n): 1 iff ea_ifma_multi_exp runs for modulus n here (CPU, build, size). */
int ea_ifma_apply(const mpz_t n);

/* ea_ifma_cost(count, bits, threads): estimated time of ea_ifma_multi_exp on `threads`
 * threads in GMP Montgomery multiplications (the unit of ea_mexp_cost), for the cost models. */
double ea_ifma_cost(size_t count, size_t bits, unsigned threads);

/* ea_ifma_multi_exp(r, bases, exps, count, n, threads): r = prod bases[j]^exps[j] mod n;
 * 0 <= bases[j] < n, exps[j] >= 0, ea_ifma_apply(n). EA_OK or EA_ERR_NOMEM. */
int ea_ifma_multi_exp(mpz_t r, const mpz_t *bases, const mpz_t *exps, size_t count,
                      const mpz_t n, unsigned threads);

/* ea_ifma_multi_exp_beside(..., side, side_arg): ea_ifma_multi_exp, and side(side_arg, 0) once
 * meanwhile: on two or more threads by one that does not combine the windows (after its
 * tables), so a check the result depends on stays off the serial combination; on one thread
 * last. A status of side but EA_OK is returned (r then unset; the lane work stops early). */
int ea_ifma_multi_exp_beside(mpz_t r, const mpz_t *bases, const mpz_t *exps, size_t count,
                             const mpz_t n, unsigned threads, ea_task_fn side, void *side_arg);

/* ea_ifma_shared_base(out, B, exps, k, mont, w): out[i] = B^exps[i] (ea_mont forms, 1 <= k <= 8
 * exponents >= 0): one squaring chain on the single-operation kernel (ea_ifma1.h), the k
 * exponents' bucket products in lanes.
 * Only where ea_ifma_apply(mont's N). EA_OK, EA_ERR_NOMEM or EA_ERR_ARGUMENT. */
int ea_ifma_shared_base(mp_limb_t *out, const mp_limb_t *B, const mpz_t *exps, size_t k,
                        const ea_mont *mont, ea_mont_work *w);

/* A context for lane chains modulo one N (ea_ifma_apply(N)), read-only once made: threads may
 * share it. ea_ifma_lanes_new returns NULL on allocation failure (or where not compiled). */
typedef struct ea_ifma_lanes ea_ifma_lanes;
ea_ifma_lanes *ea_ifma_lanes_new(const mpz_t n);
void ea_ifma_lanes_free(ea_ifma_lanes *lc);

/* ea_ifma_chains(lc, out, bases, exps, m, k): for m <= 8 chains l, each in its own lane,
 * out[(l k + i) * 40 ...] = bases[l * 40 ...]^exps[l k + i] for i < k exponents >= 0; numbers
 * are Montgomery forms of ea_ifma1.h (R = 2^2080, 40 limbs of 52 bits, below 2N). One squaring
 * chain per lane, its exponents' bucket products in the same lane. EA_OK, EA_ERR_NOMEM or
 * EA_ERR_ARGUMENT. */
int ea_ifma_chains(const ea_ifma_lanes *lc, uint64_t *out, const uint64_t *bases,
                   const mpz_t *exps, size_t m, size_t k);

/* ea_ifma_shared_chain(lc, out, base, exps, k, n): out[i * 40 ...] = base^exps[i] for
 * 1 <= k <= 8 exponents >= 0 (forms as ea_ifma_chains; n: lc's modulus), as ea_ifma_shared_base.
 * EA_OK, EA_ERR_NOMEM or EA_ERR_ARGUMENT. */
int ea_ifma_shared_chain(const ea_ifma_lanes *lc, uint64_t *out, const uint64_t *base,
                         const mpz_t *exps, size_t k, const mpz_t n);

/* ea_ifma_strong_base2_8(pass, c, count): pass[l] = (c[l] is a strong probable prime to base
 * 2: with c[l] - 1 = e 2^s, e odd, 2^e = 1 or 2^(e 2^r) = -1 mod c[l] for some r < s) for
 * count <= 8 odd 3 < c[l] < 2^256, 8 at once. Only where ea_ifma_strong_base2_apply(); returns
 * 0 (pass untouched) if the inputs do not fit. */
int ea_ifma_strong_base2_apply(void);
int ea_ifma_strong_base2_8(unsigned char *pass, const mpz_t *c, size_t count);

#ifdef __cplusplus
}
#endif
#endif
