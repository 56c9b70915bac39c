/* ea_rootfactory.c - RootFactory: all witnesses by divide and conquer, with shared squaring
 * chains (on the IFMA kernels of ea_ifma.h where they apply, else on ea_mont) or, where the
 * crypto_mb lanes apply, lane-parallel chains below one shared-chain top (ea_fastexp.h). */
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

/* ---- Lane-parallel RootFactory: binary splits level by level; each child's base is its
 * parent's raised by the sibling's product, an independent chain of exponentiations by
 * products of consecutive elements (at most EA_LANE_EXP_BITS bits each), 8 chains at a time.
 * No shared squaring chain, but 8 lanes cost about as much as 1.5 single chains. */

typedef struct {
    const mpz_t *xs;
    mpz_srcptr n;
    const mpz_t *base;      /* per chain: the parent's base */
    mpz_t *res;             /* per chain: base^(prod xs[a[i]..b[i])) */
    const size_t *a, *b;
    size_t nchains, per_task;
    int lanes;
} lane_level;

/* e = product of xs[*j..b) while it fits one lane exponent (at least one element); *j moves. */
static void next_step(mpz_t e, const mpz_t *xs, size_t *j, size_t b)
{
    size_t bits = mpz_sizeinbase(xs[*j], 2);
    mpz_set(e, xs[(*j)++]);
    while (*j < b && bits + mpz_sizeinbase(xs[*j], 2) <= EA_LANE_EXP_BITS) {
        bits += mpz_sizeinbase(xs[*j], 2);
        mpz_mul(e, e, xs[(*j)++]);
    }
}

static int lane_level_task(void *arg, size_t t)
{
    lane_level *lv = arg;
    size_t lo = t * lv->per_task, hi = lo + lv->per_task, g, i, m;
    size_t cursor[EA_LANES], idx[EA_LANES];
    mpz_t cur[EA_LANES], nxt[EA_LANES], e[EA_LANES];
    int rc = EA_OK;
    if (hi > lv->nchains)
        hi = lv->nchains;
    for (i = 0; i < EA_LANES; i++)
        mpz_inits(cur[i], nxt[i], e[i], NULL);
    for (g = lo; g < hi && rc == EA_OK; g += EA_LANES) {
        size_t width = hi - g < EA_LANES ? hi - g : EA_LANES;
        if (!lv->lanes) {           /* few chains: one exponentiation by the whole product */
            for (i = g; i < g + width && rc == EA_OK; i++) {
                rc = ea_product(e[0], lv->xs + lv->a[i], lv->b[i] - lv->a[i]);
                if (rc == EA_OK)
                    ea_fast_powm(lv->res[i], lv->base[i], e[0], lv->n);
            }
            continue;
        }
        for (i = 0; i < width; i++) {
            cursor[i] = lv->a[g + i];
            mpz_set(cur[i], lv->base[g + i]);
        }
        for (;;) {                  /* one step of every unfinished chain of the group */
            mpz_t sb[EA_LANES], se[EA_LANES], so[EA_LANES];
            for (i = 0, m = 0; i < width; i++) {
                if (cursor[i] == lv->b[g + i])
                    continue;
                next_step(e[i], lv->xs, &cursor[i], lv->b[g + i]);
                idx[m] = i;
                sb[m][0] = cur[i][0]; se[m][0] = e[i][0]; so[m][0] = nxt[i][0];
                m++;
            }
            if (m == 0)
                break;
            if ((rc = ea_fast_powm_many(so, (const mpz_t *)sb, (const mpz_t *)se, m, lv->n)) != EA_OK)
                break;
            for (i = 0; i < m; i++) {   /* so[] are the structs of nxt[]: swap them in */
                __mpz_struct tmp = cur[idx[i]][0];
                cur[idx[i]][0] = so[i][0];
                nxt[idx[i]][0] = tmp;
            }
        }
        for (i = 0; i < width; i++)
            mpz_swap(lv->res[g + i], cur[i]);
    }
    for (i = 0; i < EA_LANES; i++)
        mpz_clears(cur[i], nxt[i], e[i], NULL);
    return rc;
}

/* From this many elements the lane tree starts with MAX_ARITY nodes from rf_top_open: one
 * shared-chain node of arity MAX_ARITY (its children's chains share the squarings, which lanes
 * cannot, and the top levels have too few chains to fill the lanes anyway), or with threads,
 * parallel powms down to 2^d >= threads nodes of arity MAX_ARITY / 2^d each (the shared chain
 * is serial). */
#define TOP_SHARED_MIN 16

/* The root expanded on the GMP path into MAX_ARITY nodes (ranges lo/hi, bases). */
static int rf_lanes_top(size_t *lo, size_t *hi, mpz_t *bases, size_t *nodes, const mpz_t base,
                        const mpz_t *xs, size_t count, const mpz_t n, unsigned threads)
{
    ea_mont ctx;
    ea_mont_work w;
    rf_env env;
    rf_top top;
    size_t j, i, parts = 1;
    mp_limb_t *B;
    int rc = ea_mont_open(&ctx, &w, &B, 1, n);
    if (rc != EA_OK)
        return rc;
    while (parts < threads && parts < MAX_ARITY / 2)
        parts *= 2;
    env.ctx = &ctx; env.out = NULL; env.xs = xs; env.arity = MAX_ARITY / (unsigned)parts;
    ea_mont_to(B, base, &ctx);
    rc = rf_top_open(&top, &env, B, count, (unsigned)parts);
    if (rc == EA_OK) {
        *nodes = 0;
        for (j = 0; j < top.nodes; j++)
            for (i = 0; i < top.ex.subk[j]; i++, (*nodes)++) {
                lo[*nodes] = top.ex.subcut[j * (env.arity + 1) + i];
                hi[*nodes] = top.ex.subcut[j * (env.arity + 1) + i + 1];
                ea_mont_from(bases[*nodes], LIMB(top.ex.sub, j * env.arity + i, ctx.n), &ctx, &w);
            }
        rf_top_close(&top);
    }
    ea_mont_close(&ctx, &w, B);
    return rc;
}

/* The lane tree from base over xs[0..count), count >= 1. */
static int rf_lanes(mpz_t *out, const mpz_t base, const mpz_t *xs, size_t count,
                    const mpz_t n, unsigned threads)
{
    size_t nodes = 1, k, i, c, *lo = malloc(count * sizeof *lo), *hi = malloc(count * sizeof *hi);
    size_t *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b);
    mpz_t *bases = malloc(count * sizeof(mpz_t)), *res = malloc(count * sizeof(mpz_t));
    int rc = EA_OK;
    if (lo == NULL || hi == NULL || a == NULL || b == NULL || bases == NULL || res == NULL) {
        free(lo); free(hi); free(a); free(b); free(bases); free(res);
        return EA_ERR_NOMEM;
    }
    for (i = 0; i < count; i++) {
        mpz_init(bases[i]);
        mpz_init(res[i]);
    }
    lo[0] = 0; hi[0] = count;
    mpz_set(bases[0], base);
    if (count >= TOP_SHARED_MIN)
        rc = rf_lanes_top(lo, hi, bases, &nodes, base, xs, count, n, threads);
    while (nodes > 0 && rc == EA_OK) {
        lane_level lv;
        size_t groups, tasks;
        /* chains of this level: children of the nodes of size >= 2; leaves are done */
        for (k = 0, c = 0; k < nodes; k++) {
            size_t mid = lo[k] + (hi[k] - lo[k]) / 2;
            if (hi[k] - lo[k] == 1) {
                mpz_swap(out[lo[k]], bases[k]);
                continue;
            }
            mpz_set(res[c], bases[k]);          /* left child: raised by the right half */
            a[c] = mid; b[c] = hi[k]; c++;
            mpz_set(res[c], bases[k]);          /* right child: raised by the left half */
            a[c] = lo[k]; b[c] = mid; c++;
        }
        if (c == 0)
            break;
        for (i = 0; i < c; i++)
            mpz_swap(bases[i], res[i]);         /* bases[i]: chain i's starting base */
        lv.xs = xs; lv.n = n; lv.base = (const mpz_t *)bases; lv.res = res; lv.a = a; lv.b = b;
        lv.nchains = c;
        /* time per level, in single-chain units: lanes ~2.3 per group of 8, singles 1 each */
        groups = (c + EA_LANES - 1) / EA_LANES;
        lv.lanes = 2.3 * (double)((groups + threads - 1) / threads)
                   < (double)((c + threads - 1) / threads);
        tasks = lv.lanes ? (groups < threads ? groups : threads) : (c < threads ? c : threads);
        lv.per_task = lv.lanes ? EA_LANES * ((groups + tasks - 1) / tasks) : (c + tasks - 1) / tasks;
        rc = ea_parallel_run(lane_level_task, &lv, (c + lv.per_task - 1) / lv.per_task, threads);
        nodes = rc == EA_OK ? c : 0;      /* the children, in the chains' order */
        for (i = 0, k = 0; i < c && rc == EA_OK; i += 2, k += 2) {
            lo[k] = a[i + 1]; hi[k] = a[i];         /* left child  [lo, mid) */
            lo[k + 1] = a[i]; hi[k + 1] = b[i];     /* right child [mid, hi) */
            mpz_swap(bases[k], res[i]);
            mpz_swap(bases[k + 1], res[i + 1]);
        }
    }
    for (i = 0; i < count; i++) {
        mpz_clear(bases[i]);
        mpz_clear(res[i]);
    }
    free(lo); free(hi); free(a); free(b); free(bases); free(res);
    return rc;
}

/* ---- RootFactory on the IFMA lanes (ea_ifma.h). Bases stay in the lanes' Montgomery form
 * (R = 2^2080, 40 limbs of 52 bits) from the root to the leaves. A level with few nodes expands
 * each on the single-operation kernel (one squaring chain, the arity-8 exponents' buckets in
 * lanes); a level with many nodes runs 8 of them at once, one per lane, each lane its own
 * squaring chain and buckets for arity-RF_LANE_ARITY exponents. */
#define L52 40
#ifndef RF_LANE_ARITY
#define RF_LANE_ARITY 4
#endif
/* Fewer active nodes than this: each on the single kernel (a lane product costs about 6
 * single ones, and the single chain serves 8 exponents). */
#ifndef RF_LANE_MIN_NODES
#define RF_LANE_MIN_NODES 8
#endif

typedef struct {
    const ea_ifma_lanes *lanes;
    mpz_srcptr n;
    const mpz_t *xs;
    const size_t *lo, *hi;      /* active node j: xs[lo[j]..hi[j]), size >= 2 */
    const uint64_t *base;       /* node j's base: L52 limbs */
    size_t nodes;
    unsigned arity, per_task;   /* per_task: nodes per task (8 in lanes, 1 on the single kernel) */
    size_t *cut;                /* node j: arity + 1 part boundaries (empty parts at the end) */
    uint64_t *child;            /* node j part i: base at (j * arity + i) * L52 */
} rf_ifma_level;

/* E[i] = prod_{j != i} of the parts of [lo, hi) cut into k = min(arity, size) (cut: arity + 1
 * boundaries; E[i] = 0 for the empty parts i >= k). */
static int rf_parts(mpz_t *E, size_t *cut, const mpz_t *xs, size_t lo, size_t hi, unsigned arity)
{
    size_t size = hi - lo, k = arity < size ? arity : size, i;
    mpz_t P[MAX_ARITY], pre;
    int rc = EA_OK;
    for (i = 0; i <= arity; i++)
        cut[i] = i <= k ? lo + size * i / k : hi;
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

static int rf_ifma_task(void *arg, size_t t)
{
    rf_ifma_level *lv = arg;
    size_t first = t * lv->per_task, m = lv->nodes - first, a = lv->arity, i, j;
    mpz_t E[EA_LANES * MAX_ARITY];
    int rc = EA_OK;
    if (m > lv->per_task)
        m = lv->per_task;
    for (i = 0; i < m * a; i++)
        mpz_init(E[i]);
    for (j = 0; j < m && rc == EA_OK; j++)
        rc = rf_parts(E + j * a, lv->cut + (first + j) * (a + 1), lv->xs, lv->lo[first + j],
                      lv->hi[first + j], lv->arity);
    if (rc == EA_OK && lv->per_task == 1)
        rc = ea_ifma_shared_chain(lv->lanes, lv->child + first * a * L52,
                                  lv->base + first * L52, (const mpz_t *)E, a, lv->n);
    else if (rc == EA_OK)
        rc = ea_ifma_chains(lv->lanes, lv->child + first * a * L52, lv->base + first * L52,
                            (const mpz_t *)E, m, a);
    for (i = 0; i < m * a; i++)
        mpz_clear(E[i]);
    return rc;
}

static int rf_ifma(mpz_t *out, const mpz_t base, const mpz_t *xs, size_t count, const mpz_t n,
                   unsigned threads)
{
    size_t cap = count / 2 + 1, nodes = 1, j, i, leaves;
    size_t *lo = malloc(count * sizeof *lo), *hi = malloc(count * sizeof *hi);
    size_t *cut = malloc(cap * (MAX_ARITY + 1) * sizeof *cut);
    uint64_t *bases = malloc(count * L52 * sizeof *bases);
    uint64_t *child = malloc(cap * MAX_ARITY * L52 * sizeof *child);
    ea_ifma_lanes *lanes = ea_ifma_lanes_new(n);
    int rc = EA_OK;
    if (lo == NULL || hi == NULL || cut == NULL || bases == NULL || child == NULL
        || lanes == NULL || !ea_ifma1_to_mont(bases, base, n))
        rc = EA_ERR_NOMEM;
    lo[0] = 0; hi[0] = count;
    while (rc == EA_OK && nodes > 0) {
        rf_ifma_level lv;
        size_t active = 0, next = 0;
        for (j = 0; j < nodes && rc == EA_OK; j++) {     /* leaves out; active nodes to the front */
            if (hi[j] - lo[j] == 1) {
                if (!ea_ifma1_from_mont(out[lo[j]], bases + j * L52, n))
                    rc = EA_ERR_NOMEM;
                continue;
            }
            lo[active] = lo[j]; hi[active] = hi[j];
            memmove(bases + active * L52, bases + j * L52, L52 * sizeof *bases);
            active++;
        }
        if (rc != EA_OK || active == 0)
            break;
        lv.lanes = lanes; lv.n = n; lv.xs = xs; lv.lo = lo; lv.hi = hi; lv.base = bases;
        lv.nodes = active; lv.cut = cut; lv.child = child;
        lv.per_task = active < RF_LANE_MIN_NODES ? 1 : EA_LANES;
        lv.arity = lv.per_task == 1 ? MAX_ARITY : RF_LANE_ARITY;
        rc = ea_parallel_run(rf_ifma_task, &lv, (active + lv.per_task - 1) / lv.per_task,
                             threads);
        for (j = 0; j < active && rc == EA_OK; j++)    /* the children, in order */
            for (i = 0; i < lv.arity; i++) {
                const size_t *c = cut + j * (lv.arity + 1);
                if (c[i + 1] == c[i])
                    continue;
                lo[next] = c[i]; hi[next] = c[i + 1];
                memcpy(bases + next * L52, child + (j * lv.arity + i) * L52, L52 * sizeof *bases);
                next++;
            }
        nodes = next;
    }
    (void)leaves;
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
    if (arity == 0)     /* the IFMA shared chains: their squarings and 8 bucket lanes pay most */
        arity = ea_ifma_apply(n) ? MAX_ARITY : 4;
    if (arity < 2 || arity > MAX_ARITY)
        return EA_ERR_ARGUMENT;
    if (count == 0)
        return EA_OK;
    if (out == NULL || xs == NULL)
        return EA_ERR_ARGUMENT;
    if ((rc = ea_check_exponents(NULL, xs, count, EA_RULE_ELEMENT)) != EA_OK)
        return rc;
    if (getenv("RF_OLD") == NULL && ea_ifma_apply(n))
        return rf_ifma(out, base, xs, count, n, threads < 1 ? 1 : threads);
    if (ea_fast_lanes_apply(n))
        return rf_lanes(out, base, xs, count, n, threads < 1 ? 1 : threads);
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
