/* ea_batch.c - batch verification by random linear combination and bisection. */
#include <stdlib.h>
#include <string.h>
#include "ea_batch.h"
#include "ea_batch_by.h"
#include "ea_check.h"
#include "ea_fastexp.h"
#include "ea_ifma.h"
#include "ea_ifma1.h"
#include "ea_group.h"
#include "ea_multiexp.h"
#include "ea_thread.h"

typedef struct {
    const ea_mont *ctx;
    const mp_limb_t *W;     /* witnesses, Montgomery form */
    const mp_limb_t *VI;    /* inverses of the values, Montgomery form */
    const mpz_t *e;         /* x_j * r_j */
    const mpz_t *rs;
    const size_t *vidx;
    size_t count, nvals, ngroups;
    unsigned char *bad;
    ea_opcount *ops;        /* one per group */
} batch_job;

/* Scratch for checking a sub-range: bases/exponents for the items and the value inverses. */
typedef struct {
    mp_limb_t *B, *acc;
    mpz_t *E;
    size_t *slot;           /* value index -> position in B, or (size_t)-1 */
    ea_mont_work w;
} check_scratch;

/* Weighted check of items lo..hi-1: *ok = 1 iff the combination is +-1. */
static int check_range(int *ok, const batch_job *job, check_scratch *s, size_t lo, size_t hi)
{
    mp_size_t n = job->ctx->n;
    size_t j, m = 0, k;
    int rc;
    for (j = lo; j < hi; j++) {
        mpn_copyi(LIMB(s->B, m, n), LIMB(job->W, j, n), n);
        mpz_set(s->E[m], job->e[j]);
        m++;
    }
    for (j = lo; j < hi; j++) {
        k = job->vidx[j];
        if (s->slot[k] == (size_t)-1) {
            s->slot[k] = m;
            mpn_copyi(LIMB(s->B, m, n), LIMB(job->VI, k, n), n);
            mpz_set(s->E[m], job->rs[j]);
            m++;
        } else {
            mpz_add(s->E[s->slot[k]], s->E[s->slot[k]], job->rs[j]);
        }
    }
    for (j = lo; j < hi; j++)
        s->slot[job->vidx[j]] = (size_t)-1;
    rc = ea_mexp_mont(s->acc, s->B, (const mpz_t *)s->E, m, EA_MEXP_AUTO, 0, job->ctx, &s->w);
    *ok = rc == EA_OK && ea_mont_is_pm_one(s->acc, job->ctx);
    return rc;
}

/* Items lo..hi-1 are known to fail together: find the failing ones. */
static int bisect(const batch_job *job, check_scratch *s, size_t lo, size_t hi)
{
    size_t mid;
    int ok, rc;
    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;
        if ((rc = check_range(&ok, job, s, lo, mid)) != EA_OK)
            return rc;
        if (ok) {               /* the left half holds, so the right half fails */
            lo = mid;
            continue;
        }
        if ((rc = bisect(job, s, lo, mid)) != EA_OK)
            return rc;
        if ((rc = check_range(&ok, job, s, mid, hi)) != EA_OK)
            return rc;
        if (ok)
            return EA_OK;
        lo = mid;
    }
    job->bad[lo] = 1;           /* a single item whose weighted check fails is false */
    return EA_OK;
}

static int group_task(void *arg, size_t g)
{
    batch_job *job = arg;
    size_t lo = job->count * g / job->ngroups, hi = job->count * (g + 1) / job->ngroups;
    size_t j, cap = hi - lo + job->nvals;
    check_scratch s;
    int ok = 1, rc;
    if (hi <= lo)
        return EA_OK;
    s.B = ea_mont_alloc(job->ctx, cap + 1);
    s.E = malloc(cap * sizeof(mpz_t));
    s.slot = malloc(job->nvals * sizeof(size_t));
    if (s.B == NULL || s.E == NULL || s.slot == NULL || ea_mont_work_init(&s.w, job->ctx) != EA_OK) {
        free(s.B); free(s.E); free(s.slot);
        return EA_ERR_NOMEM;
    }
    s.acc = LIMB(s.B, cap, job->ctx->n);
    for (j = 0; j < cap; j++)
        mpz_init(s.E[j]);
    for (j = 0; j < job->nvals; j++)
        s.slot[j] = (size_t)-1;
    rc = check_range(&ok, job, &s, lo, hi);
    if (rc == EA_OK && !ok)
        rc = bisect(job, &s, lo, hi);
    job->ops[g] = s.w.ops;
    for (j = 0; j < cap; j++)
        mpz_clear(s.E[j]);
    ea_mont_work_clear(&s.w);
    free(s.B); free(s.E); free(s.slot);
    return rc;
}

/* Lane-parallel independent checks: each statement ws[j]^xs[j] = +-vals[vidx[j]] on its own
 * (exact, no weights), the items split over threads in chunks of whole lane groups. */
typedef struct {
    const mpz_t *ws, *xs, *vals;
    const size_t *vidx;
    mpz_srcptr n;
    size_t count, chunk;
    unsigned char *bad;
} lanes_job;

static int lanes_task(void *arg, size_t g)
{
    lanes_job *job = arg;
    size_t lo = g * job->chunk, hi = lo + job->chunk > job->count ? job->count : lo + job->chunk;
    size_t j, m = hi - lo;
    mpz_t *r = malloc((m ? m : 1) * sizeof(mpz_t));
    int rc;
    if (r == NULL)
        return EA_ERR_NOMEM;
    for (j = 0; j < m; j++)
        mpz_init(r[j]);
    rc = ea_fast_powm_many(r, job->ws + lo, job->xs + lo, m, job->n);
    for (j = 0; rc == EA_OK && j < m; j++)
        job->bad[lo + j] = !ea_equal_pm(r[j], job->vals[job->vidx[lo + j]], job->n);
    for (j = 0; j < m; j++)
        mpz_clear(r[j]);
    free(r);
    return rc;
}

/* A crypto_mb lane call (8 exponentiations of b bits) costs about LANE_CALL_PER_BIT * b +
 * LANE_CALL_FIXED GMP Montgomery multiplications, a single exponentiation on the own IFMA
 * kernel SINGLE_PER_BIT * b: measured against ea_ifma_cost's 8-lane product (1.8) in one run,
 * 256-bit exponents: a call takes the time of 386 8-lane products, a single one of 59 (35
 * since ea_ifma1's quotient digits left the vector-to-scalar path: 107 -> 64 us on a Zen 5,
 * where t = 2 is then checked faster item by item, 65 against 75 us an item, and t = 3 by
 * the weighted product, 56 against 62). Single exponentiations are not split over threads
 * below a lane group: a spawned thread starts ~15 us late and joins ~16 us after its last
 * product, so two items on two threads took 76 us an item against 65 on one. */
#define LANE_CALL_PER_BIT 2.6
#define LANE_CALL_FIXED 30.0
#define SINGLE_PER_BIT 0.25

/* Estimated time (GMP multiplications) of checking count items of b-bit exponents on their
 * own, as check_each splits them: whole lane groups per thread, a short last group (or every
 * item, without crypto_mb's lanes) as single exponentiations. */
static double each_cost(size_t count, size_t b, unsigned threads, const mpz_t n)
{
    size_t groups = (count + EA_LANES - 1) / EA_LANES;
    size_t chunk = EA_LANES * ((groups + threads - 1) / threads);     /* check_each's split */
    size_t items = chunk < count ? chunk : count, rem = items % EA_LANES;
    double call = LANE_CALL_PER_BIT * (double)b + LANE_CALL_FIXED;
    double single = ea_ifma1_apply(n) ? SINGLE_PER_BIT * (double)b : ea_mexp_cost(1, b);
    if (!ea_fast_lanes_apply(n) || b > EA_LANE_EXP_BITS)
        return (double)items * single;
    return (double)(items / EA_LANES) * call
           + (rem >= EA_LANE_MIN_ITEMS ? call : (double)rem * single);
}

/* The strategy the cost model prefers (all sound: lanes check every statement exactly; the
 * IFMA kernel computes the same weighted product as the GMP path). */
static int choose_strategy(const mpz_t *xs, const mpz_t *rs, size_t count, size_t nvals,
                           const mpz_t n, unsigned threads)
{
    size_t j, xbits = 0, rbits = 0;
    double each, weighted, ifma = -1.0;
    for (j = 0; j < count; j++) {
        size_t b = mpz_sizeinbase(xs[j], 2), c = mpz_sizeinbase(rs[j], 2);
        xbits = b > xbits ? b : xbits;
        rbits = c > rbits ? c : rbits;
    }
    weighted = ea_mexp_cost((count + threads - 1) / threads + nvals, xbits + rbits);
    each = each_cost(count, xbits, threads, n);
    if (ea_ifma_apply(n))
        ifma = ea_ifma_cost(count + nvals, xbits + rbits, threads);
    if (each < weighted && (ifma < 0 || each <= ifma))
        return EA_BATCH_LANES;
    if (ifma >= 0 && ifma < weighted)
        return EA_BATCH_IFMA;
    return EA_BATCH_WEIGHTED;
}

/* Independent checks of every item, 8 at a time where lanes apply, over threads. */
static int check_each(unsigned char *bad, const mpz_t *ws, const mpz_t *xs, const size_t *vidx,
                      size_t count, const mpz_t *vals, const mpz_t n, unsigned threads)
{
    lanes_job lj;
    size_t groups = (count + EA_LANES - 1) / EA_LANES;
    lj.ws = ws; lj.xs = xs; lj.vals = vals; lj.vidx = vidx; lj.n = n; lj.count = count;
    lj.bad = bad;
    lj.chunk = EA_LANES * ((groups + threads - 1) / threads);
    return ea_parallel_run(lanes_task, &lj, (count + lj.chunk - 1) / lj.chunk, threads);
}

/* The weighted product's terms, built once for either kernel: exps[j] = xs[j] rs[j] for the
 * witnesses, then exps[count + k] = R_k = sum_{vidx[j] = k} rs[j] for the values, whose
 * inverses are inv[k]. */
typedef struct {
    mpz_t *exps, *inv;
    size_t count, nvals;
} weighted_terms;

static void terms_clear(weighted_terms *t)
{
    size_t j;
    if (t->exps != NULL)
        for (j = 0; j < t->count + t->nvals; j++)
            mpz_clear(t->exps[j]);
    if (t->inv != NULL)
        for (j = 0; j < t->nvals; j++)
            mpz_clear(t->inv[j]);
    free(t->exps);
    free(t->inv);
}

static int terms_init(weighted_terms *t, const mpz_t *xs, const mpz_t *rs, const size_t *vidx,
                      size_t count, const mpz_t *vals, size_t nvals, const mpz_t n)
{
    size_t j;
    t->count = count;
    t->nvals = nvals;
    t->exps = malloc((count + nvals) * sizeof(mpz_t));
    t->inv = malloc(nvals * sizeof(mpz_t));
    if (t->exps == NULL || t->inv == NULL) {
        free(t->exps); free(t->inv);
        t->exps = t->inv = NULL;
        return EA_ERR_NOMEM;
    }
    for (j = 0; j < count + nvals; j++)
        mpz_init(t->exps[j]);
    for (j = 0; j < nvals; j++)
        mpz_init(t->inv[j]);
    for (j = 0; j < count; j++) {
        mpz_mul(t->exps[j], xs[j], rs[j]);
        mpz_add(t->exps[count + vidx[j]], t->exps[count + vidx[j]], rs[j]);
    }
    for (j = 0; j < nvals; j++)
        if (!mpz_invert(t->inv[j], vals[j], n))     /* no unit: fails the element rule */
            return EA_ERR_NOT_INVERTIBLE;
    return EA_OK;
}

/* The element rule of every witness and value (range and unit), as a side task. */
typedef struct {
    const mpz_t *ws, *vals;
    size_t count, nvals;
    mpz_srcptr n;
} elements_job;

static int check_all_elements(void *arg, size_t unused)
{
    const elements_job *job = arg;
    int rc = ea_check_elements(NULL, job->ws, job->count, job->n);
    (void)unused;
    return rc != EA_OK ? rc : ea_check_elements(NULL, job->vals, job->nvals, job->n);
}

/* The weighted test on the IFMA lanes: one product of every w_j^(x_j r_j) and v_k^(-R_k),
 * the element rule checked beside it (the product of bases below n is defined either way);
 * if it is not +-1, every item is checked on its own. */
static int weighted_ifma(unsigned char *bad, const mpz_t *ws, const mpz_t *xs,
                         const weighted_terms *t, const size_t *vidx, const mpz_t *vals,
                         const mpz_t n, unsigned threads, elements_job *elements)
{
    size_t m = t->count + t->nvals, j;
    mpz_t *B = malloc(m * sizeof(mpz_t)), r, one;
    int rc;
    if (B == NULL)
        return EA_ERR_NOMEM;
    for (j = 0; j < m; j++)
        mpz_init_set(B[j], j < t->count ? ws[j] : t->inv[j - t->count]);
    mpz_inits(r, one, NULL);
    mpz_set_ui(one, 1);
    rc = ea_ifma_multi_exp_beside(r, (const mpz_t *)B, (const mpz_t *)t->exps, m, n, threads,
                                  check_all_elements, elements);
    if (rc == EA_OK) {
        if (ea_equal_pm(r, one, n))
            memset(bad, 0, t->count);
        else
            rc = check_each(bad, ws, xs, vidx, t->count, vals, n, threads);
    }
    for (j = 0; j < m; j++)
        mpz_clear(B[j]);
    mpz_clears(r, one, NULL);
    free(B);
    return rc;
}

/* The weighted test on ea_mont (GMP), over `threads` groups, with bisection. */
static int weighted_gmp(unsigned char *bad, const mpz_t *ws, const mpz_t *rs,
                        const weighted_terms *t, const size_t *vidx, const mpz_t n,
                        unsigned threads, ea_opcount *ops)
{
    ea_mont ctx;
    batch_job job;
    mp_limb_t *W = NULL, *VI = NULL;
    size_t j, g, count = t->count;
    int rc;
    if ((rc = ea_mont_init(&ctx, n)) != EA_OK)
        return rc;
    if (threads > count)
        threads = (unsigned)count;
    W = ea_mont_alloc(&ctx, count);
    VI = ea_mont_alloc(&ctx, t->nvals);
    job.ops = calloc(threads, sizeof(ea_opcount));
    if (W == NULL || VI == NULL || job.ops == NULL) {
        rc = EA_ERR_NOMEM;
        goto done;
    }
    for (j = 0; j < t->nvals; j++)
        ea_mont_to(LIMB(VI, j, ctx.n), t->inv[j], &ctx);
    for (j = 0; j < count; j++)
        ea_mont_to(LIMB(W, j, ctx.n), ws[j], &ctx);
    job.ctx = &ctx; job.W = W; job.VI = VI; job.e = (const mpz_t *)t->exps; job.rs = rs;
    job.vidx = vidx; job.count = count; job.nvals = t->nvals; job.ngroups = threads;
    job.bad = bad;
    memset(bad, 0, count);
    rc = ea_parallel_run(group_task, &job, threads, threads);
    if (ops != NULL)
        for (g = 0; g < threads; g++) {
            ops->mul += job.ops[g].mul;
            ops->sqr += job.ops[g].sqr;
        }
done:
    free(W); free(VI); free(job.ops);
    ea_mont_clear(&ctx);
    return rc;
}

int ea_batch_verify_by(int strategy, unsigned char *bad, const mpz_t *ws, const mpz_t *xs,
                       const mpz_t *rs, const size_t *vidx, size_t count, const mpz_t *vals,
                       size_t nvals, const mpz_t n, unsigned threads, ea_opcount *ops)
{
    weighted_terms terms;
    elements_job elements;
    size_t j;
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (count == 0)
        return EA_OK;
    if (bad == NULL || ws == NULL || xs == NULL || rs == NULL || vidx == NULL || vals == NULL
        || strategy < EA_BATCH_AUTO || strategy > EA_BATCH_IFMA)
        return EA_ERR_ARGUMENT;
    memset(bad, 1, count);      /* fail closed: every status but EA_OK leaves "all false" */
    /* below n first (what the kernels need); the whole element rule before any answer */
    if (ea_check_bases(NULL, ws, count, n) != EA_OK
        || ea_check_bases(NULL, vals, nvals, n) != EA_OK)
        return EA_ERR_ELEMENT;
    if ((rc = ea_check_exponents(NULL, xs, count, EA_RULE_ELEMENT)) != EA_OK
        || (rc = ea_check_exponents(NULL, rs, count, EA_RULE_POSITIVE)) != EA_OK)
        return rc;
    for (j = 0; j < count; j++)
        if (vidx[j] >= nvals)
            return EA_ERR_ARGUMENT;
    if (threads < 1)
        threads = 1;
    if (strategy == EA_BATCH_AUTO)
        strategy = choose_strategy(xs, rs, count, nvals, n, threads);
    if (strategy == EA_BATCH_IFMA && !ea_ifma_apply(n))
        strategy = EA_BATCH_WEIGHTED;
    elements.ws = ws; elements.vals = vals; elements.count = count; elements.nvals = nvals;
    elements.n = n;
    if (strategy != EA_BATCH_IFMA && (rc = check_all_elements(&elements, 0)) != EA_OK)
        return rc;
    if (strategy == EA_BATCH_LANES)
        rc = check_each(bad, ws, xs, vidx, count, vals, n, threads);
    else if ((rc = terms_init(&terms, xs, rs, vidx, count, vals, nvals, n)) == EA_OK)
        rc = strategy == EA_BATCH_IFMA
             ? weighted_ifma(bad, ws, xs, &terms, vidx, vals, n, threads, &elements)
             : weighted_gmp(bad, ws, rs, &terms, vidx, n, threads, ops);
    else if (rc == EA_ERR_NOT_INVERTIBLE)   /* a value that is no unit, not checked yet */
        rc = EA_ERR_ELEMENT;
    if (strategy != EA_BATCH_LANES)
        terms_clear(&terms);
    if (rc != EA_OK)
        memset(bad, 1, count);
    return rc;
}

int ea_batch_verify(unsigned char *bad, const mpz_t *ws, const mpz_t *xs, const mpz_t *rs,
                    const size_t *vidx, size_t count, const mpz_t *vals, size_t nvals,
                    const mpz_t n, unsigned threads, ea_opcount *ops)
{
    return ea_batch_verify_by(EA_BATCH_AUTO, bad, ws, xs, rs, vidx, count, vals, nvals, n,
                              threads, ops);
}

int ea_batch_check_unweighted(int *ok, const mpz_t *ws, const mpz_t *xs, const mpz_t *vs,
                              size_t count, const mpz_t n, unsigned c, ea_opcount *ops)
{
    ea_mont ctx;
    ea_mont_work w;
    mp_limb_t *B, *lhs, *rhs, *tmp;
    size_t j;
    int rc = ea_check_modulus(n);
    *ok = 0;
    if (rc != EA_OK)
        return rc;
    if (count == 0 || ws == NULL || xs == NULL || vs == NULL || c < 1 || c > EA_MEXP_MAX_TABLE_C)
        return EA_ERR_ARGUMENT;
    if ((rc = ea_check_elements(NULL, ws, count, n)) != EA_OK
        || (rc = ea_check_elements(NULL, vs, count, n)) != EA_OK)
        return rc;
    for (j = 0; j < count; j++) {
        if (mpz_sgn(xs[j]) <= 0)
            return EA_ERR_EXPONENT;
    }
    if ((rc = ea_mont_open(&ctx, &w, &B, count + 3, n)) != EA_OK)
        return rc;
    lhs = LIMB(B, count, ctx.n);
    rhs = LIMB(B, count + 1, ctx.n);
    tmp = LIMB(B, count + 2, ctx.n);
    for (j = 0; j < count; j++)
        ea_mont_to(LIMB(B, j, ctx.n), ws[j], &ctx);
    rc = ea_mexp_mont(lhs, B, xs, count, EA_MEXP_TABLES, c, &ctx, &w);
    if (rc == EA_OK) {
        /* Protocol 3 line 9: X = X_1 * ... * X_t; compare g = +-X. */
        ea_mont_to(rhs, vs[0], &ctx);
        for (j = 1; j < count; j++) {
            ea_mont_to(tmp, vs[j], &ctx);
            ea_mont_mul(rhs, rhs, tmp, &ctx, &w);
        }
        if (mpn_cmp(lhs, rhs, ctx.n) == 0)
            *ok = 1;
        else {
            /* lhs = -rhs iff lhs + rhs = N exactly */
            mp_limb_t cy = mpn_add_n(tmp, lhs, rhs, ctx.n);
            *ok = cy == 0 && mpn_cmp(tmp, ctx.m, ctx.n) == 0;
        }
    }
    if (ops != NULL) {
        ops->mul += w.ops.mul;
        ops->sqr += w.ops.sqr;
    }
    ea_mont_close(&ctx, &w, B);
    return rc;
}
