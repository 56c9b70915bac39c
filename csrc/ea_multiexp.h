/* ea_multiexp.h - the internal side of ea_mexp.h: multi-exponentiation on Montgomery
 * operands (ea_mont.h) and the layout of ea_mexp_table, which the library and the Python
 * bindings allocate in place (ea_mexp_table_init/clear). Not installed. */
#ifndef EA_MULTIEXP_H
#define EA_MULTIEXP_H

#include <stddef.h>
#include <gmp.h>
#include "ea_mexp.h"
#include "ea_mont.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ea_mexp_mont(acc, bases, exps, count, method, param, ctx, w): acc (Montgomery form) =
 * prod bases[j]^exps[j], bases given in Montgomery form as count*n consecutive limbs,
 * exps >= 0. param 0 = chosen by the cost model. Single-threaded; w counts the operations. */
int ea_mexp_mont(mp_limb_t *acc, const mp_limb_t *bases, const mpz_t *exps, size_t count,
                 int method, unsigned param, const ea_mont *ctx, ea_mont_work *w);

/* ea_mexp_mont_threads(acc, bases, exps, count, method, param, ctx, threads, ops): as
 * ea_mexp_mont with the bases split into `threads` balanced contiguous parts computed in
 * parallel (each part runs its own squaring chain); ops (may be NULL) receives the sums. */
int ea_mexp_mont_threads(mp_limb_t *acc, const mp_limb_t *bases, const mpz_t *exps,
                         size_t count, int method, unsigned param, const ea_mont *ctx,
                         unsigned threads, ea_opcount *ops);

/* ea_mexp_cost(count, bits): the cost model's estimate for the best method, in Montgomery
 * multiplications (a squaring counts SQR_WEIGHT of one): the one model that also weighs
 * other strategies (ea_batch.c: lanes against the weighted test). */
double ea_mexp_cost(size_t count, size_t bits);

/* A reusable precomputed table for a fixed list of bases: 2^c subset products per group of
 * c bases, kept in Montgomery form. */
struct ea_mexp_table {
    ea_mont ctx;
    size_t count;
    unsigned c;
    size_t groups;
    mp_limb_t *tab;      /* groups * 2^c entries of n limbs; entry 0 of each group unused */
};

/* ea_mexp_table_init(t, bases, count, n, c): precompute; 1 <= c <= EA_MEXP_MAX_TABLE_C,
 * 0 <= bases[j] < n. On success the caller must call ea_mexp_table_clear. */
int ea_mexp_table_init(ea_mexp_table *t, const mpz_t *bases, size_t count, const mpz_t n,
                       unsigned c);
/* ea_mexp_table_clear(t): free the table. */
void ea_mexp_table_clear(ea_mexp_table *t);

#ifdef __cplusplus
}
#endif
#endif
