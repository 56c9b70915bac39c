/* ea_rootfactory.c - RootFactory: all witnesses by divide and conquer, with shared squaring
 * chains: where the IFMA kernels apply (ea_ifma.h), the tree of rf_ifma (8 nodes' chains at once
 * in lanes, few nodes on the single-operation kernel), else nodes of a fixed arity on ea_mont
 * (or, for an explicit arity, on ea_ifma_shared_base). */
#include <stdlib.h>
#include <string.h>
#include "ea_ifma1.h"
#include "ea_witness.h"
#include "ea_fastexp.h"
#include "ea_acc.h"
#include "ea_check.h"
#include "ea_group.h"
#include "ea_ifma.h"
#include "ea_mont.h"
#include "ea_multiexp.h"
#include "ea_thread.h"

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
    if (k >= 1 && k <= 8 && ea_ifma_apply(ctx->nz))    /* faster at every size measured */
        return ea_ifma_shared_base(out, B, exps, k, ctx, w);
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
                int u = used[i * nb + d];
                ea_mont_mul_into(LIMB(bucket, i * nb + d, n), &u, cur, ctx, w);
                used[i * nb + d] = 1;
            }
        }
    }
    for (i = 0; i < k; i++) {
        int ts = 0;
        mp_limb_t *o = LIMB(out, i, n);
        ea_mont_bucket_combine(o, &ts, run, LIMB(bucket, i * nb, n), used + i * nb, nb, ctx, w);
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
    if ((rc = ea_check_exponents(NULL, exps, k, EA_RULE_NONNEG)) != EA_OK)
        return rc;
    if ((rc = ea_mont_open(&ctx, &w, &B, k + 1, n)) != EA_OK)
        return rc;
    ea_mont_to(LIMB(B, k, ctx.n), base, &ctx);
    rc = shared_base_mont(B, LIMB(B, k, ctx.n), exps, k, &ctx, &w);
    for (i = 0; rc == EA_OK && i < k; i++)
        ea_mont_from(out[i], LIMB(B, i, ctx.n), &ctx, &w);
    ea_mont_close(&ctx, &w, B);
    return rc;
}

typedef struct {
    const ea_mont *ctx;
    mpz_t *out;
    const mpz_t *xs;
    unsigned arity;
} rf_env;

/* E[i] = prod_{j != i} of the parts cut[0..arity] (k non-empty ones; E[i] = 0 for the rest). */
static int rf_parts(mpz_t *E, const size_t *cut, const mpz_t *xs, unsigned arity)
{
    size_t k = 0, i;
    mpz_t P[MAX_ARITY], pre;
    int rc = EA_OK;
    while (k < arity && cut[k + 1] > cut[k])
        k++;
    mpz_init_set_ui(pre, 1);
    for (i = 0; i < k; i++) {
        mpz_init(P[i]);
        if (rc == EA_OK)
            rc = ea_product(P[i], xs + cut[i], cut[i + 1] - cut[i]);
        mpz_set(E[i], pre);
        mpz_mul(pre, pre, P[i]);
    }
    mpz_set_ui(pre, 1);
    for (i = k; i-- > 0;) {
        mpz_mul(E[i], E[i], pre);
        mpz_mul(pre, pre, P[i]);
        mpz_clear(P[i]);
    }
    for (i = k; i < arity; i++)
        mpz_set_ui(E[i], 0);
    mpz_clear(pre);
    return rc;
}

/* One node [lo, hi) with base B (Montgomery form): split into k = min(arity, size) parts and
 * set child i's base C[i] = B^(prod of the other parts), with one shared squaring chain.
 * cut receives the k + 1 part boundaries. */
static int rf_expand(const rf_env *env, const mp_limb_t *B, size_t lo, size_t hi,
                     mp_limb_t *C, size_t *cut, size_t *k_out, ea_mont_work *w)
{
    size_t size = hi - lo, k, i;
    mpz_t E[MAX_ARITY];
    int rc;
    k = env->arity < size ? env->arity : size;
    *k_out = k;
    for (i = 0; i <= k; i++)
        cut[i] = lo + size * i / k;
    for (i = 0; i < k; i++)
        mpz_init(E[i]);
    rc = rf_parts(E, cut, env->xs, (unsigned)k);
    if (rc == EA_OK)
        rc = shared_base_mont(C, B, (const mpz_t *)E, k, env->ctx, w);
    for (i = 0; i < k; i++)
        mpz_clear(E[i]);
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

/* The top of a parallel tree: d binary levels of powms (children of a level in parallel) down
 * to 2^d >= threads nodes, each then expanded with one shared chain (in parallel) into up to
 * env->arity parts: part i of node j has base sub[j * arity + i] and range
 * subcut[j * (arity + 1) + i] .. + 1 (subk[j] parts). */
typedef struct {
    rf_expand_job ex;
    size_t nodes;
} rf_top;

static void rf_top_close(rf_top *top)
{
    free((void *)top->ex.cut); free(top->ex.subcut); free(top->ex.subk); free(top->ex.sub);
}

static int rf_top_open(rf_top *top, const rf_env *env, const mp_limb_t *B, size_t count,
                       unsigned threads)
{
    const ea_mont *ctx = env->ctx;
    size_t d = 0, nodes, l, j, a = env->arity, *cut;
    mp_limb_t *cur, *next;
    int rc = EA_OK;
    while (((size_t)1 << d) < (size_t)threads && ((size_t)2 << d) <= count)
        d++;
    top->nodes = nodes = (size_t)1 << d;
    top->ex.env = env;
    top->ex.cut = cut = malloc((nodes + 1) * sizeof *cut);
    top->ex.subcut = malloc(nodes * (a + 1) * sizeof *top->ex.subcut);
    top->ex.subk = malloc(nodes * sizeof *top->ex.subk);
    top->ex.sub = ea_mont_alloc(ctx, nodes * a);
    cur = ea_mont_alloc(ctx, nodes);
    next = ea_mont_alloc(ctx, nodes);
    if (cut == NULL || top->ex.subcut == NULL || top->ex.subk == NULL || top->ex.sub == NULL
        || cur == NULL || next == NULL) {
        rf_top_close(top); free(cur); free(next);
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
    top->ex.bases = cur;
    if (rc == EA_OK)
        rc = ea_parallel_run(rf_expand_task, &top->ex, nodes, threads);
    free(cur); free(next);
    top->ex.bases = NULL;
    if (rc != EA_OK)
        rf_top_close(top);
    return rc;
}

/* Parallel RootFactory: the top (rf_top_open), then its nodes * arity subtrees from a dynamic
 * pool. The work equals the sequential tree's except the d powm levels. */
static int rf_par(const rf_env *env, const mp_limb_t *B, size_t count, unsigned threads)
{
    rf_top top;
    rf_pool_job pj;
    int rc;
    if (threads <= 1 || count < PAR_MIN) {
        ea_mont_work w;
        if ((rc = ea_mont_work_init(&w, env->ctx)) != EA_OK)
            return rc;
        rc = rf_seq(env, B, 0, count, &w);
        ea_mont_work_clear(&w);
        return rc;
    }
    if ((rc = rf_top_open(&top, env, B, count, threads)) != EA_OK)
        return rc;
    pj.env = env; pj.ex = &top.ex;
    rc = ea_parallel_run(rf_subtree_task, &pj, top.nodes * env->arity, threads);
    rf_top_close(&top);
    return rc;
}

/* ---- RootFactory on the IFMA lanes (ea_ifma.h). Bases stay in the lanes' Montgomery form
 * (R = 2^2080, 40 limbs of 52 bits) from the root to the leaves. Each level expands its nodes
 * in one of three ways (rf_mode):
 *   RF_LANES  - 8 nodes at once, one per lane, each lane its own squaring chain and buckets for
 *               its RF_LANE_ARITY exponents (ea_ifma_chains): the cheapest per node;
 *   RF_SINGLE - a node on the single-operation kernel, one squaring chain for MAX_ARITY
 *               exponents whose buckets go in lanes (ea_ifma_shared_chain): for levels with
 *               too few nodes to fill the lanes of every thread;
 *   RF_POWM   - the two children of a node by two independent exponentiations: while a level
 *               has fewer nodes than threads (the root), so that every thread works. */
#define L52 40
#define RF_LANE_ARITY 4
/* A group of 8 nodes in lanes costs about as much as this many nodes on the single kernel, per
 * level of the tree (about 5 on a quiet machine: 1.23 us per lane squaring, 1.45 us per lane
 * product, 0.38 us per single one; 7-8 under load, which slows the lanes more). */
#define RF_LANE_GROUP_COST 7

enum rf_mode { RF_LANES, RF_SINGLE, RF_POWM };

typedef struct {
    const ea_ifma_lanes *lanes;
    mpz_srcptr n;
    const mpz_t *xs;
    const uint64_t *base;       /* active node j's base: L52 limbs at j * L52 */
    size_t nodes;
    enum rf_mode mode;
    unsigned arity;
    const size_t *cut;          /* node j: arity + 1 part boundaries (empty parts at the end) */
    uint64_t *child;            /* node j part i: base at (j * arity + i) * L52 */
} rf_ifma_level;

/* RF_POWM task q: child q % 2 of node q / 2 = the node's base ^ (the other half's product). */
static int rf_powm_task(rf_ifma_level *lv, size_t q)
{
    const size_t *cut = lv->cut + q / 2 * 3;
    size_t side = q % 2, lo = cut[1 - side], hi = cut[2 - side];
    mpz_t e, b;
    int rc;
    mpz_init(e);
    mpz_init(b);
    rc = ea_product(e, lv->xs + lo, hi - lo);
    if (rc == EA_OK && !ea_ifma1_from_mont(b, lv->base + q / 2 * L52, lv->n))
        rc = EA_ERR_NOMEM;
    if (rc == EA_OK) {
        ea_fast_powm(b, b, e, lv->n);
        if (!ea_ifma1_to_mont(lv->child + q * L52, b, lv->n))
            rc = EA_ERR_NOMEM;
    }
    mpz_clear(e);
    mpz_clear(b);
    return rc;
}

/* Task t: RF_LANES nodes 8t .. 8t+7, RF_SINGLE node t, RF_POWM one child. */
static int rf_ifma_task(void *arg, size_t t)
{
    rf_ifma_level *lv = arg;
    size_t per = lv->mode == RF_LANES ? EA_LANES : 1, first = t * per, m = lv->nodes - first;
    size_t a = lv->arity, i, j;
    mpz_t E[EA_LANES * MAX_ARITY];
    int rc = EA_OK;
    if (lv->mode == RF_POWM)
        return rf_powm_task(lv, t);
    if (m > per)
        m = per;
    for (i = 0; i < m * a; i++)
        mpz_init(E[i]);
    for (j = 0; j < m && rc == EA_OK; j++)
        rc = rf_parts(E + j * a, lv->cut + (first + j) * (a + 1), lv->xs, lv->arity);
    if (rc == EA_OK && lv->mode == RF_SINGLE)
        rc = ea_ifma_shared_chain(lv->lanes, lv->child + first * a * L52,
                                  lv->base + first * L52, (const mpz_t *)E, a, lv->n);
    else if (rc == EA_OK)
        rc = ea_ifma_chains(lv->lanes, lv->child + first * a * L52, lv->base + first * L52,
                            (const mpz_t *)E, m, a);
    for (i = 0; i < m * a; i++)
        mpz_clear(E[i]);
    return rc;
}

/* The way to expand a level of `active` nodes on `threads` threads (wall time per level). */
static enum rf_mode rf_choose(size_t active, unsigned threads)
{
    size_t groups = (active + EA_LANES - 1) / EA_LANES;
    if (active < threads)
        return RF_POWM;
    return RF_LANE_GROUP_COST * ((groups + threads - 1) / threads)
           <= (active + threads - 1) / threads ? RF_LANES : RF_SINGLE;
}

static int rf_ifma(mpz_t *out, const mpz_t base, const mpz_t *xs, size_t count, const mpz_t n,
                   unsigned threads)
{
    size_t cap = count / 2 + 1, nodes = 1, slots = 0, j, i;
    size_t *lo = malloc(count * sizeof *lo), *hi = malloc(count * sizeof *hi);
    size_t *cut = malloc(cap * (MAX_ARITY + 1) * sizeof *cut);
    uint64_t *bases = malloc(count * L52 * sizeof *bases), *child = NULL;
    ea_ifma_lanes *lanes = ea_ifma_lanes_new(n);
    int rc = EA_OK;
    if (lo == NULL || hi == NULL || cut == NULL || bases == NULL || lanes == NULL
        || !ea_ifma1_to_mont(bases, base, n))
        rc = EA_ERR_NOMEM;
    else {
        lo[0] = 0;
        hi[0] = count;
    }
    while (rc == EA_OK && nodes > 0) {
        rf_ifma_level lv;
        size_t active = 0, next = 0, tasks;
        for (j = 0; j < nodes && rc == EA_OK; j++) {    /* leaves out; active nodes to the front */
            if (hi[j] - lo[j] == 1) {
                if (!ea_ifma1_from_mont(out[lo[j]], bases + j * L52, n))
                    rc = EA_ERR_NOMEM;
                continue;
            }
            lo[active] = lo[j];
            hi[active] = hi[j];
            memmove(bases + active * L52, bases + j * L52, L52 * sizeof *bases);
            active++;
        }
        if (rc != EA_OK || active == 0)
            break;
        lv.lanes = lanes; lv.n = n; lv.xs = xs; lv.base = bases; lv.nodes = active;
        lv.cut = cut;
        lv.mode = rf_choose(active, threads);
        lv.arity = lv.mode == RF_POWM ? 2 : lv.mode == RF_LANES ? RF_LANE_ARITY : MAX_ARITY;
        for (j = 0, i = 2; j < active; j++)             /* no exponent slots left empty */
            if (hi[j] - lo[j] > i)
                i = hi[j] - lo[j];
        if (lv.arity > i)
            lv.arity = (unsigned)i;
        if (active * lv.arity > slots) {                /* the children's bases, this level */
            free(child);
            slots = active * lv.arity;
            if ((child = malloc(slots * L52 * sizeof *child)) == NULL) {
                rc = EA_ERR_NOMEM;
                break;
            }
        }
        for (j = 0; j < active; j++) {                  /* k = min(arity, size) parts */
            size_t size = hi[j] - lo[j], k = lv.arity < size ? lv.arity : size;
            for (i = 0; i <= lv.arity; i++)
                cut[j * (lv.arity + 1) + i] = i <= k ? lo[j] + size * i / k : hi[j];
        }
        tasks = lv.mode == RF_LANES ? (active + EA_LANES - 1) / EA_LANES
                : lv.mode == RF_POWM ? 2 * active : active;
        lv.child = child;
        rc = ea_parallel_run(rf_ifma_task, &lv, tasks, threads);
        for (j = 0; j < active && rc == EA_OK; j++)     /* the children, in order */
            for (i = 0; i < lv.arity; i++) {
                const size_t *c = cut + j * (lv.arity + 1);
                if (c[i + 1] == c[i])
                    continue;
                lo[next] = c[i];
                hi[next] = c[i + 1];
                memcpy(bases + next * L52, child + (j * lv.arity + i) * L52, L52 * sizeof *bases);
                next++;
            }
        nodes = next;
    }
    ea_ifma_lanes_free(lanes);
    free(lo); free(hi); free(cut); free(bases); free(child);
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
    if (arity != 0 && (arity < 2 || arity > MAX_ARITY))
        return EA_ERR_ARGUMENT;
    if (count == 0)
        return EA_OK;
    if (out == NULL || xs == NULL)
        return EA_ERR_ARGUMENT;
    if ((rc = ea_check_exponents(NULL, xs, count, EA_RULE_ELEMENT)) != EA_OK)
        return rc;
    if (arity == 0 && ea_ifma_apply(n))    /* the tree's shape chosen level by level */
        return rf_ifma(out, base, xs, count, n, threads < 1 ? 1 : threads);
    if (arity == 0)
        arity = 4;
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
