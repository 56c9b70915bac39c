/* ea_witness.c - RootFactory with shared squaring chains, witness update, aggregation. */
#include <stdlib.h>
#include "ea_witness.h"
#include "ea_fastexp.h"
#include "ea_acc.h"
#include "ea_check.h"
#include "ea_group.h"
#include "ea_mont.h"
#include "ea_multiexp.h"
#include "ea_thread.h"

#define LIMB(p, i, n) ((p) + (size_t)(i) * (size_t)(n))
#define MAX_ARITY 8
#define MAX_BUCKET_BITS 12
/* Below this many elements RootFactory does not split over threads. */
#define PAR_MIN 8

/* Bucket window for k exponents of `bits` bits: minimise bits/c + 2^(c+1) per exponent. */
static unsigned bucket_bits(size_t bits)
{
    unsigned c, best = 1;
    double bc = -1.0;
    for (c = 1; c <= MAX_BUCKET_BITS; c++) {
        double cost = (double)bits / c + 2.0 * (double)(1u << c);
        if (bc < 0 || cost < bc) {
            bc = cost;
            best = c;
        }
    }
    return best;
}

/* out[i] (Montgomery form) = B^exps[i]: cur runs over B^(2^(c*win)); each exponent's bucket d
 * collects the powers whose c-bit digit is d; then out = prod_d bucket[d]^d. */
static int shared_base_mont(mp_limb_t *out, const mp_limb_t *B, const mpz_t *exps, size_t k,
                            const ea_mont *ctx, ea_mont_work *w)
{
    mp_size_t n = ctx->n;
    size_t i, bits = 0, nb, win, nwin;
    unsigned c, s;
    mp_limb_t *bucket, *cur, *run;
    unsigned char *used;
    for (i = 0; i < k; i++)
        if (mpz_sgn(exps[i]) > 0 && mpz_sizeinbase(exps[i], 2) > bits)
            bits = mpz_sizeinbase(exps[i], 2);
    c = bucket_bits(bits ? bits : 1);
    nb = (size_t)1 << c;
    bucket = ea_mont_alloc(ctx, k * nb + 2);
    used = calloc(k * nb, 1);
    if (bucket == NULL || used == NULL) {
        free(bucket); free(used);
        return EA_ERR_NOMEM;
    }
    cur = LIMB(bucket, k * nb, n);
    run = LIMB(bucket, k * nb + 1, n);
    mpn_copyi(cur, B, n);
    nwin = (bits + c - 1) / c;
    for (win = 0; win < nwin; win++) {
        if (win > 0)
            for (s = 0; s < c; s++)
                ea_mont_sqr(cur, cur, ctx, w);
        for (i = 0; i < k; i++) {
            unsigned d = ea_exp_bits(exps[i], win * c, c);
            if (d) {
                mp_limb_t *bk = LIMB(bucket, i * nb + d, n);
                if (used[i * nb + d])
                    ea_mont_mul(bk, bk, cur, ctx, w);
                else
                    mpn_copyi(bk, cur, n);
                used[i * nb + d] = 1;
            }
        }
    }
    for (i = 0; i < k; i++) {
        int rs = 0, ts = 0;
        size_t d;
        mp_limb_t *o = LIMB(out, i, n);
        for (d = nb - 1; d >= 1; d--) {
            if (used[i * nb + d]) {
                if (rs)
                    ea_mont_mul(run, run, LIMB(bucket, i * nb + d, n), ctx, w);
                else
                    mpn_copyi(run, LIMB(bucket, i * nb + d, n), n);
                rs = 1;
            }
            if (rs) {
                if (ts)
                    ea_mont_mul(o, o, run, ctx, w);
                else
                    mpn_copyi(o, run, n);
                ts = 1;
            }
        }
        if (!ts)
            mpn_copyi(o, ctx->one, n);
    }
    free(bucket); free(used);
    return EA_OK;
}

int ea_powm_shared_base(mpz_t *out, const mpz_t base, const mpz_t *exps, size_t k,
                        const mpz_t n)
{
    ea_mont ctx;
    ea_mont_work w;
    mp_limb_t *B;
    size_t i;
    int rc = ea_check_base(base, n);
    if (rc != EA_OK)
        return rc;
    if (k > 0 && (out == NULL || exps == NULL))
        return EA_ERR_ARGUMENT;
    for (i = 0; i < k; i++)
        if (mpz_sgn(exps[i]) < 0)
            return EA_ERR_EXPONENT;
    if ((rc = ea_mont_init(&ctx, n)) != EA_OK)
        return rc;
    B = ea_mont_alloc(&ctx, k + 1);
    if (B == NULL || ea_mont_work_init(&w, &ctx) != EA_OK) {
        free(B);
        ea_mont_clear(&ctx);
        return EA_ERR_NOMEM;
    }
    ea_mont_to(LIMB(B, k, ctx.n), base, &ctx);
    rc = shared_base_mont(B, LIMB(B, k, ctx.n), exps, k, &ctx, &w);
    for (i = 0; rc == EA_OK && i < k; i++)
        ea_mont_from(out[i], LIMB(B, i, ctx.n), &ctx, &w);
    ea_mont_work_clear(&w);
    free(B);
    ea_mont_clear(&ctx);
    return rc;
}

typedef struct {
    const ea_mont *ctx;
    mpz_t *out;
    const mpz_t *xs;
    unsigned arity;
} rf_env;

/* One node [lo, hi) with base B (Montgomery form): split into k = min(arity, size) parts and
 * set child i's base C[i] = B^(prod of the other parts), with one shared squaring chain.
 * cut receives the k + 1 part boundaries. */
static int rf_expand(const rf_env *env, const mp_limb_t *B, size_t lo, size_t hi,
                     mp_limb_t *C, size_t *cut, size_t *k_out, ea_mont_work *w)
{
    size_t size = hi - lo, k, i;
    mpz_t P[MAX_ARITY], E[MAX_ARITY], pre;
    int rc = EA_OK;
    k = env->arity < size ? env->arity : size;
    *k_out = k;
    for (i = 0; i <= k; i++)
        cut[i] = lo + size * i / k;
    mpz_init(pre);
    for (i = 0; i < k; i++) {
        mpz_init(P[i]);
        mpz_init(E[i]);
        if (rc == EA_OK)
            rc = ea_product(P[i], env->xs + cut[i], cut[i + 1] - cut[i]);
    }
    /* E[i] = prod_{j != i} P[j] by prefix and suffix products. */
    mpz_set_ui(pre, 1);
    for (i = 0; i < k; i++) {
        mpz_set(E[i], pre);
        mpz_mul(pre, pre, P[i]);
    }
    mpz_set_ui(pre, 1);
    for (i = k; i-- > 0;) {
        mpz_mul(E[i], E[i], pre);
        mpz_mul(pre, pre, P[i]);
    }
    if (rc == EA_OK)
        rc = shared_base_mont(C, B, (const mpz_t *)E, k, env->ctx, w);
    for (i = 0; i < k; i++) {
        mpz_clear(P[i]);
        mpz_clear(E[i]);
    }
    mpz_clear(pre);
    return rc;
}

/* Sequential RootFactory below node [lo, hi) with base B (Montgomery form). */
static int rf_seq(const rf_env *env, const mp_limb_t *B, size_t lo, size_t hi, ea_mont_work *w)
{
    size_t k, i, cut[MAX_ARITY + 1];
    mp_limb_t *C;
    int rc;
    if (hi - lo == 1) {
        ea_mont_from(env->out[lo], B, env->ctx, w);
        return EA_OK;
    }
    C = ea_mont_alloc(env->ctx, env->arity);
    if (C == NULL)
        return EA_ERR_NOMEM;
    rc = rf_expand(env, B, lo, hi, C, cut, &k, w);
    for (i = 0; rc == EA_OK && i < k; i++)
        rc = rf_seq(env, LIMB(C, i, env->ctx->n), cut[i], cut[i + 1], w);
    free(C);
    return rc;
}

/* Parallel top of the tree: the node ranges of level d are cut[j]..cut[j+1]; level l node j
 * covers level-d nodes j*2^(d-l) .. (j+1)*2^(d-l). Going down one level, each child's base is
 * its parent's raised by the sibling's product (one GMP powm per child, all children of a
 * level in parallel). */
typedef struct {
    const rf_env *env;
    const size_t *cut;          /* 2^d + 1 boundaries */
    const mp_limb_t *parent;    /* level l bases */
    mp_limb_t *child;           /* level l+1 bases */
    size_t span;                /* leaves per child at level l+1 */
} rf_level;

static int rf_child_task(void *arg, size_t q)
{
    rf_level *lv = arg;
    const ea_mont *ctx = lv->env->ctx;
    size_t p = q / 2, first = p * 2 * lv->span, mid = first + lv->span, last = mid + lv->span;
    size_t olo = q % 2 ? lv->cut[first] : lv->cut[mid];    /* the sibling's elements */
    size_t ohi = q % 2 ? lv->cut[mid] : lv->cut[last];
    ea_mont_work w;
    mpz_t e, b;
    int rc = ea_mont_work_init(&w, ctx);
    if (rc != EA_OK)
        return rc;
    mpz_init(e);
    mpz_init(b);
    rc = ea_product(e, lv->env->xs + olo, ohi - olo);
    if (rc == EA_OK) {
        ea_mont_from(b, LIMB(lv->parent, p, ctx->n), ctx, &w);
        ea_fast_powm(b, b, e, ctx->nz);
        ea_mont_to(LIMB(lv->child, q, ctx->n), b, ctx);
    }
    mpz_clear(e);
    mpz_clear(b);
    ea_mont_work_clear(&w);
    return rc;
}

typedef struct {
    const rf_env *env;
    const size_t *cut;          /* node j of the binary top: cut[j] .. cut[j+1] */
    const mp_limb_t *bases;
    mp_limb_t *sub;             /* arity bases per node */
    size_t *subcut;             /* arity + 1 boundaries per node */
    size_t *subk;
} rf_expand_job;

static int rf_expand_task(void *arg, size_t j)
{
    rf_expand_job *job = arg;
    const rf_env *env = job->env;
    size_t a = env->arity;
    ea_mont_work w;
    int rc = ea_mont_work_init(&w, env->ctx);
    if (rc != EA_OK)
        return rc;
    if (job->cut[j + 1] - job->cut[j] == 1) {          /* a leaf: nothing to expand */
        mpn_copyi(LIMB(job->sub, j * a, env->ctx->n), LIMB(job->bases, j, env->ctx->n),
                  env->ctx->n);
        job->subcut[j * (a + 1)] = job->cut[j];
        job->subcut[j * (a + 1) + 1] = job->cut[j + 1];
        job->subk[j] = 1;
    } else {
        rc = rf_expand(env, LIMB(job->bases, j, env->ctx->n), job->cut[j], job->cut[j + 1],
                       LIMB(job->sub, j * a, env->ctx->n), job->subcut + j * (a + 1),
                       &job->subk[j], &w);
    }
    ea_mont_work_clear(&w);
    return rc;
}

typedef struct {
    const rf_env *env;
    const rf_expand_job *ex;
} rf_pool_job;

/* Task q: subtree q % arity of top node q / arity (tasks past a node's k do nothing). */
static int rf_subtree_task(void *arg, size_t q)
{
    rf_pool_job *job = arg;
    const rf_env *env = job->env;
    size_t a = env->arity, j = q / a, i = q % a;
    const size_t *cut = job->ex->subcut + j * (a + 1);
    ea_mont_work w;
    int rc;
    if (i >= job->ex->subk[j])
        return EA_OK;
    if ((rc = ea_mont_work_init(&w, env->ctx)) != EA_OK)
        return rc;
    rc = rf_seq(env, LIMB(job->ex->sub, j * a + i, env->ctx->n), cut[i], cut[i + 1], &w);
    ea_mont_work_clear(&w);
    return rc;
}

/* Parallel RootFactory: d binary levels of GMP powms (children of a level in parallel) down to
 * 2^d >= threads nodes; each node then expanded with one shared chain (in parallel); the
 * resulting 2^d * arity subtrees run from a dynamic pool. The work equals the sequential
 * tree's except the d powm levels. */
static int rf_par(const rf_env *env, const mp_limb_t *B, size_t count, unsigned threads)
{
    const ea_mont *ctx = env->ctx;
    size_t d = 0, nodes, l, j, a = env->arity, *cut, *subcut, *subk;
    mp_limb_t *cur, *next, *sub;
    int rc = EA_OK;
    if (threads <= 1 || count < PAR_MIN) {
        ea_mont_work w;
        if ((rc = ea_mont_work_init(&w, ctx)) != EA_OK)
            return rc;
        rc = rf_seq(env, B, 0, count, &w);
        ea_mont_work_clear(&w);
        return rc;
    }
    while (((size_t)1 << d) < (size_t)threads && ((size_t)2 << d) <= count)
        d++;
    nodes = (size_t)1 << d;
    cut = malloc((nodes + 1) * sizeof *cut);
    subcut = malloc(nodes * (a + 1) * sizeof *subcut);
    subk = malloc(nodes * sizeof *subk);
    cur = ea_mont_alloc(ctx, nodes);
    next = ea_mont_alloc(ctx, nodes);
    sub = ea_mont_alloc(ctx, nodes * a);
    if (cut == NULL || subcut == NULL || subk == NULL || cur == NULL || next == NULL || sub == NULL) {
        free(cut); free(subcut); free(subk); free(cur); free(next); free(sub);
        return EA_ERR_NOMEM;
    }
    for (j = 0; j <= nodes; j++)
        cut[j] = count * j / nodes;
    mpn_copyi(cur, B, ctx->n);
    for (l = 0; l < d && rc == EA_OK; l++) {
        rf_level lv;
        mp_limb_t *t;
        lv.env = env; lv.cut = cut; lv.parent = cur; lv.child = next;
        lv.span = nodes >> (l + 1);
        rc = ea_parallel_run(rf_child_task, &lv, (size_t)2 << l, threads);
        t = cur; cur = next; next = t;
    }
    if (rc == EA_OK) {
        rf_expand_job ex;
        ex.env = env; ex.cut = cut; ex.bases = cur; ex.sub = sub; ex.subcut = subcut;
        ex.subk = subk;
        rc = ea_parallel_run(rf_expand_task, &ex, nodes, threads);
        if (rc == EA_OK) {
            rf_pool_job pj;
            pj.env = env; pj.ex = &ex;
            rc = ea_parallel_run(rf_subtree_task, &pj, nodes * a, threads);
        }
    }
    free(cut); free(subcut); free(subk); free(cur); free(next); free(sub);
    return rc;
}

int ea_root_factory(mpz_t *out, const mpz_t base, const mpz_t *xs, size_t count,
                    const mpz_t n, unsigned arity, unsigned threads)
{
    ea_mont ctx;
    rf_env env;
    mp_limb_t *B;
    int rc = ea_check_base(base, n);
    if (rc != EA_OK)
        return rc;
    if (arity == 0)
        arity = 4;
    if (arity < 2 || arity > MAX_ARITY)
        return EA_ERR_ARGUMENT;
    if (count == 0)
        return EA_OK;
    if (out == NULL || xs == NULL)
        return EA_ERR_ARGUMENT;
    if ((rc = ea_check_exponents(NULL, xs, count, EA_RULE_ELEMENT)) != EA_OK)
        return rc;
    if ((rc = ea_mont_init(&ctx, n)) != EA_OK)
        return rc;
    B = ea_mont_alloc(&ctx, 1);
    if (B == NULL) {
        ea_mont_clear(&ctx);
        return EA_ERR_NOMEM;
    }
    ea_mont_to(B, base, &ctx);
    env.ctx = &ctx; env.out = out; env.xs = xs; env.arity = arity;
    rc = rf_par(&env, B, count, threads < 1 ? 1 : threads);
    free(B);
    ea_mont_clear(&ctx);
    return rc;
}

typedef struct {
    mpz_t *out;
    const mpz_t *bases;
    const mpz_srcptr e, n;
    size_t count, parts;
} many_job;

static int many_task(void *arg, size_t k)
{
    many_job *job = arg;
    size_t i, lo = job->count * k / job->parts, hi = job->count * (k + 1) / job->parts;
    for (i = lo; i < hi; i++)
        ea_fast_powm(job->out[i], job->bases[i], job->e, job->n);
    return EA_OK;
}

int ea_powm_many_bases(mpz_t *out, const mpz_t *bases, size_t count, const mpz_t e,
                       const mpz_t n, unsigned threads)
{
    many_job job = { out, bases, e, n, count, 1 };
    size_t i;
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (mpz_sgn(e) <= 0)
        return EA_ERR_EXPONENT;
    if (count > 0 && (out == NULL || bases == NULL))
        return EA_ERR_ARGUMENT;
    for (i = 0; i < count; i++)
        if (mpz_sgn(bases[i]) <= 0 || mpz_cmp(bases[i], n) >= 0)
            return EA_ERR_ELEMENT;
    if (threads < 1)
        threads = 1;
    job.parts = threads < count ? threads : (count ? count : 1);
    return ea_parallel_run(many_task, &job, job.parts, threads);
}

int ea_shamir_trick(mpz_t r, const mpz_t wa, const mpz_t xa, const mpz_t wb, const mpz_t xb,
                    const mpz_t n)
{
    mpz_t g, a, b, B[2], E[2];
    int rc;
    if ((rc = ea_check_element(wa, n)) != EA_OK || (rc = ea_check_element(wb, n)) != EA_OK)
        return rc;
    if ((rc = ea_check_exponent(xa, EA_RULE_ELEMENT)) != EA_OK
        || (rc = ea_check_exponent(xb, EA_RULE_ELEMENT)) != EA_OK)
        return rc;
    mpz_inits(g, a, b, B[0], B[1], E[0], E[1], NULL);
    mpz_gcdext(g, a, b, xa, xb);                 /* a*xa + b*xb = g */
    if (mpz_cmp_ui(g, 1) != 0) {
        rc = EA_ERR_NOT_INVERTIBLE;
    } else {
        /* r = wa^b * wb^a; a negative exponent inverts its base (units: gcd(w, n) = 1). */
        mpz_set(B[0], wa);
        mpz_set(B[1], wb);
        mpz_abs(E[0], b);
        mpz_abs(E[1], a);
        /* units after ea_check_element, so the inverses exist; checked all the same */
        if ((mpz_sgn(b) < 0 && !mpz_invert(B[0], B[0], n))
            || (mpz_sgn(a) < 0 && !mpz_invert(B[1], B[1], n)))
            rc = EA_ERR_NOT_INVERTIBLE;
        else
            rc = ea_multi_exp(r, (const mpz_t *)B, (const mpz_t *)E, 2, n, EA_MEXP_AUTO, 0, 1,
                              NULL);
    }
    mpz_clears(g, a, b, B[0], B[1], E[0], E[1], NULL);
    return rc;
}

static int aggregate_range(mpz_t r, mpz_t X, const mpz_t *ws, const mpz_t *xs, size_t lo,
                           size_t hi, const mpz_t n)
{
    mpz_t rr, XR;
    size_t mid;
    int rc;
    if (hi - lo == 1) {
        mpz_set(r, ws[lo]);
        mpz_set(X, xs[lo]);
        return EA_OK;
    }
    mid = lo + (hi - lo) / 2;
    mpz_init(rr);
    mpz_init(XR);
    rc = aggregate_range(r, X, ws, xs, lo, mid, n);
    if (rc == EA_OK)
        rc = aggregate_range(rr, XR, ws, xs, mid, hi, n);
    if (rc == EA_OK)
        rc = ea_shamir_trick(r, r, X, rr, XR, n);
    if (rc == EA_OK)
        mpz_mul(X, X, XR);
    mpz_clear(rr);
    mpz_clear(XR);
    return rc;
}

int ea_aggregate(mpz_t r, mpz_t X, const mpz_t *ws, const mpz_t *xs, size_t count,
                 const mpz_t n)
{
    size_t i;
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (count == 0 || ws == NULL || xs == NULL)
        return EA_ERR_ARGUMENT;
    for (i = 0; i < count; i++)
        if ((rc = ea_check_element(ws[i], n)) != EA_OK)
            return rc;
    if ((rc = ea_check_exponents(NULL, xs, count, EA_RULE_ELEMENT)) != EA_OK)
        return rc;
    return aggregate_range(r, X, ws, xs, 0, count, n);
}
