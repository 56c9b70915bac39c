/* ea_mexp.h - simultaneous multi-exponentiation prod b_j^{e_j} mod N (DESIGN.md 3).
 * Three methods share one squaring chain over the exponent bits:
 *   EA_MEXP_TABLES  - 2^c subset-product tables for groups of c bases (paper Protocol 3,
 *                     generalised; c = t is the paper's single 2^t table);
 *   EA_MEXP_WINDOW  - interleaved sliding windows, a table of odd powers per base;
 *   EA_MEXP_BUCKETS - Pippenger's bucket method over c-bit exponent windows (large t).
 * EA_MEXP_AUTO picks the method and its parameter from a cost model over t and exponent size.
 * The public part: the Montgomery-level entry points and the table's layout are internal
 * (ea_multiexp.h).
 * Callers own every mpz_t. */
#ifndef EA_MEXP_H
#define EA_MEXP_H

#include <stddef.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

enum {
    EA_MEXP_AUTO = 0,
    EA_MEXP_TABLES = 1,
    EA_MEXP_WINDOW = 2,
    EA_MEXP_BUCKETS = 3
};

#define EA_MEXP_MAX_TABLE_C 16   /* largest subset-table group / bucket window */
#define EA_MEXP_MAX_WINDOW 12    /* largest sliding window */

/* ea_mexp_choose(&method, &param, count, bits): the method and parameter the cost model
 * prefers for `count` bases with exponents of at most `bits` bits. */
void ea_mexp_choose(int *method, unsigned *param, size_t count, size_t bits);

/* ea_multi_exp(r, bases, exps, count, n, method, param, threads, ops):
 * r = prod bases[j]^exps[j] mod n; 0 <= bases[j] < n, exps[j] >= 0, odd n >= 3; r = 1 mod n
 * when count = 0. ops may be NULL. */
int ea_multi_exp(mpz_t r, const mpz_t *bases, const mpz_t *exps, size_t count, const mpz_t n,
                 int method, unsigned param, unsigned threads, ea_opcount *ops);

/* A reusable precomputed table for a fixed list of bases: 2^c subset products per group of
 * c bases, kept in Montgomery form; opaque here. */
typedef struct ea_mexp_table ea_mexp_table;

/* ea_mexp_table_new(&t, bases, count, n, c): allocate and precompute a table;
 * 1 <= c <= EA_MEXP_MAX_TABLE_C, 0 <= bases[j] < n. On success free it with
 * ea_mexp_table_free; on failure *t = NULL. */
int ea_mexp_table_new(ea_mexp_table **t, const mpz_t *bases, size_t count, const mpz_t n,
                      unsigned c);
/* ea_mexp_table_eval(r, t, exps, count, threads, ops): r = prod bases[j]^exps[j] mod n,
 * count must equal the table's count; exps >= 0. ops may be NULL. */
int ea_mexp_table_eval(mpz_t r, const ea_mexp_table *t, const mpz_t *exps, size_t count,
                       unsigned threads, ea_opcount *ops);
/* ea_mexp_table_free(t): free a table from ea_mexp_table_new (NULL is ignored). */
void ea_mexp_table_free(ea_mexp_table *t);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
