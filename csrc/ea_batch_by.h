/* ea_batch_by.h - (internal) ea_batch_verify with a named strategy, for the tests and the
 * benchmarks that compare the strategies its cost model chooses from. */
#ifndef EA_BATCH_BY_H
#define EA_BATCH_BY_H

#include "ea_batch.h"

enum {
    EA_BATCH_AUTO = 0,          /* the cost model's choice (ea_batch_verify) */
    EA_BATCH_WEIGHTED = 1,      /* the weighted test on ea_mont (GMP), with bisection */
    EA_BATCH_LANES = 2,         /* every statement on its own (8 at a time in crypto_mb's
                                 * lanes where they apply) */
    EA_BATCH_IFMA = 3           /* the weighted product in IFMA lanes (where ea_ifma_apply,
                                 * else WEIGHTED); if it is not +-1, every item on its own */
};

/* ea_batch_verify_by(strategy, ...): ea_batch_verify's arguments and answer by `strategy`
 * (every strategy reports an item valid only if its statement holds). ops (may be NULL)
 * receives the multiplications and squarings of the WEIGHTED test when that one ran. */
int ea_batch_verify_by(int strategy, unsigned char *bad, const mpz_t *ws, const mpz_t *xs,
                       const mpz_t *rs, const size_t *vidx, size_t count, const mpz_t *vals,
                       size_t nvals, const mpz_t n, unsigned threads, ea_opcount *ops);

#endif
