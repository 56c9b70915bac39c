/* ea_multiexp.c - simultaneous multi-exponentiation (subset tables, windows, buckets). */
#include <stdlib.h>
#include <string.h>
#include "ea_multiexp.h"
#include "ea_group.h"
#include "ea_thread.h"


/* Fold the per-thread operation counts and the combining thread's into *ops (if asked). */
static void add_thread_ops(ea_opcount *ops, const ea_opcount *parts, unsigned threads,
                           const ea_mont_work *w)
{
    unsigned k;
    if (ops == NULL)
        return;
    for (k = 0; k < threads; k++) {
        ops->mul += parts[k].mul;
        ops->sqr += parts[k].sqr;
    }
    ops->mul += w->ops.mul;
}

static size_t max_bits(const mpz_t *exps, size_t count)
{
    size_t j, b = 0;
    for (j = 0; j < count; j++)
        if (mpz_sgn(exps[j]) > 0 && mpz_sizeinbase(exps[j], 2) > b)
            b = mpz_sizeinbase(exps[j], 2);
    return b;
}

/* Cost model in multiplications (a squaring counts 0.87 of a multiplication, as measured on
 * 2048-bit moduli). */
#define SQR_WEIGHT 0.87

/* One group of m bases: 2^m - m - 1 table products, one lookup per bit with a non-zero index. */
static double cost_group(size_t bits, unsigned m)
{
    double full = (double)(1u << m);
    return full - m - 1 + (double)bits * (1.0 - 1.0 / full);
}

static double cost_tables(size_t t, size_t bits, unsigned c)
{
    unsigned rem = (unsigned)(t % c);
    return SQR_WEIGHT * (double)bits + (double)(t / c) * cost_group(bits, c)
           + (rem ? cost_group(bits, rem) : 0.0);
}

static double cost_window(size_t t, size_t bits, unsigned k)
{
    return SQR_WEIGHT * (double)bits + (double)t * ((double)(1u << (k - 1)) + (double)bits / (k + 1));
}

/* Per window: t bucket products, less the 2^c first uses (copies), plus 2 * 2^c to combine
 * the buckets (counts measured at t = 1025 and 4097 match this to within 1%). */
static double cost_buckets(size_t t, size_t bits, unsigned c)
{
    double windows = (double)((bits + c - 1) / c);
    return SQR_WEIGHT * (double)bits + windows * ((double)t + (double)(1u << c));
}

/* The cheapest method and parameter by the cost model, and its cost in multiplications. */
static double choose(int *method, unsigned *param, size_t count, size_t bits)
{
    unsigned c;
    double best = -1.0, cost;
    if (bits == 0)
        bits = 1;
    for (c = 1; c <= 10; c++) {
        cost = cost_tables(count, bits, c);
        if (best < 0 || cost < best) {
            best = cost; *method = EA_MEXP_TABLES; *param = c;
        }
    }
    for (c = 1; c <= EA_MEXP_MAX_WINDOW; c++) {
        cost = cost_window(count, bits, c);
        if (cost < best) {
            best = cost; *method = EA_MEXP_WINDOW; *param = c;
        }
    }
    for (c = 2; c <= EA_MEXP_MAX_TABLE_C; c++) {
        cost = cost_buckets(count, bits, c);
        if (cost < best) {
            best = cost; *method = EA_MEXP_BUCKETS; *param = c;
        }
    }
    return best;
}

void ea_mexp_choose(int *method, unsigned *param, size_t count, size_t bits)
{
    (void)choose(method, param, count, bits);
}

double ea_mexp_cost(size_t count, size_t bits)
{
    int method;
    unsigned param;
    return choose(&method, &param, count, bits);
}

/* The cost model's best parameter for a given method. */
static unsigned best_param(int method, size_t count, size_t bits)
{
    unsigned c, best_c = 1, hi = method == EA_MEXP_WINDOW ? EA_MEXP_MAX_WINDOW
                                 : method == EA_MEXP_TABLES ? 10 : EA_MEXP_MAX_TABLE_C;
    double best = -1.0, cost;
    if (bits == 0)
        bits = 1;
    for (c = method == EA_MEXP_BUCKETS ? 2 : 1; c <= hi; c++) {
        cost = method == EA_MEXP_WINDOW ? cost_window(count, bits, c)
             : method == EA_MEXP_TABLES ? cost_tables(count, bits, c)
             : cost_buckets(count, bits, c);
        if (best < 0 || cost < best) {
            best = cost;
            best_c = c;
        }
    }
    return best_c;
}

/* Subset tables: tab holds 2^c entries per group, T[S] = prod_{j in S} base_j. */
static void build_tables(mp_limb_t *tab, const mp_limb_t *bases, size_t count, unsigned c,
                         const ea_mont *ctx, ea_mont_work *w)
{
    mp_size_t n = ctx->n;
    size_t g, groups = (count + c - 1) / c, full = (size_t)1 << c;
    for (g = 0; g < groups; g++) {
        mp_limb_t *T = LIMB(tab, g * full, n);
        size_t s, members = count - g * c < c ? count - g * c : c;
        for (s = 1; s < ((size_t)1 << members); s++) {
            size_t low = s & (~s + 1), rest = s & (s - 1);
            if (rest == 0) {
                unsigned j = 0;
                while (((size_t)1 << j) != low)
                    j++;
                mpn_copyi(LIMB(T, s, n), LIMB(bases, g * c + j, n), n);
            } else {
                ea_mont_mul(LIMB(T, s, n), LIMB(T, rest, n), LIMB(T, low, n), ctx, w);
            }
        }
    }
}

/* One squaring chain over bit positions; per position one lookup per group. */
static void chain_tables(mp_limb_t *acc, int *started, const mp_limb_t *tab, const mpz_t *exps,
                         size_t count, unsigned c, size_t g0, size_t g1, size_t bits,
                         const ea_mont *ctx, ea_mont_work *w)
{
    mp_size_t n = ctx->n;
    size_t full = (size_t)1 << c, g, i;
    for (i = bits; i-- > 0;) {
        if (*started)
            ea_mont_sqr(acc, acc, ctx, w);
        for (g = g0; g < g1; g++) {
            size_t j, idx = 0, first = g * c, last = first + c < count ? first + c : count;
            for (j = first; j < last; j++)
                idx |= (size_t)ea_exp_bits(exps[j], i, 1) << (j - first);
            if (idx)
                ea_mont_mul_into(acc, started, LIMB(tab, g * full + idx, n), ctx, w);
        }
    }
}

static int mexp_tables(mp_limb_t *acc, const mp_limb_t *bases, const mpz_t *exps, size_t count,
                       unsigned c, const ea_mont *ctx, ea_mont_work *w, int *started)
{
    size_t groups = (count + c - 1) / c;
    mp_limb_t *tab = ea_mont_alloc(ctx, groups << c);
    if (tab == NULL)
        return EA_ERR_NOMEM;
    build_tables(tab, bases, count, c, ctx, w);
    chain_tables(acc, started, tab, exps, count, c, 0, groups, max_bits(exps, count), ctx, w);
    free(tab);
    return EA_OK;
}

/* Interleaved sliding windows: odd powers b, b^3, ..., b^(2^k - 1) per base. */
static int mexp_window(mp_limb_t *acc, const mp_limb_t *bases, const mpz_t *exps, size_t count,
                       unsigned k, const ea_mont *ctx, ea_mont_work *w, int *started)
{
    mp_size_t n = ctx->n;
    size_t j, i, bits = max_bits(exps, count), half = (size_t)1 << (k - 1);
    mp_limb_t *tab = ea_mont_alloc(ctx, count * half + 1);
    long *next = malloc((count + 1) * sizeof(long));   /* low bit of the pending window */
    unsigned *digit = malloc((count + 1) * sizeof(unsigned));
    long *top = malloc((count + 1) * sizeof(long));     /* where the next scan starts */
    if (tab == NULL || next == NULL || digit == NULL || top == NULL) {
        free(tab); free(next); free(digit); free(top);
        return EA_ERR_NOMEM;
    }
    for (j = 0; j < count; j++) {
        mp_limb_t *T = LIMB(tab, j * half, n), *sq = LIMB(tab, count * half, n);
        mpn_copyi(T, LIMB(bases, j, n), n);
        if (half > 1) {
            ea_mont_sqr(sq, T, ctx, w);
            for (i = 1; i < half; i++)
                ea_mont_mul(LIMB(T, i, n), LIMB(T, i - 1, n), sq, ctx, w);
        }
        top[j] = mpz_sgn(exps[j]) > 0 ? (long)mpz_sizeinbase(exps[j], 2) - 1 : -1;
        next[j] = -1;
    }
    /* Find each base's next window: highest set bit h at or below top, window [l, h]. */
#define NEXT_WINDOW(j)                                                            \
    do {                                                                          \
        long h = top[j], l;                                                       \
        while (h >= 0 && !ea_exp_bits(exps[j], (size_t)h, 1))                         \
            h--;                                                                  \
        if (h < 0) { next[j] = -1; break; }                                       \
        l = h - (long)k + 1 > 0 ? h - (long)k + 1 : 0;                            \
        while (!ea_exp_bits(exps[j], (size_t)l, 1))                                   \
            l++;                                                                  \
        digit[j] = ea_exp_bits(exps[j], (size_t)l, (unsigned)(h - l + 1));            \
        next[j] = l;                                                              \
        top[j] = l - 1;                                                           \
    } while (0)
    for (j = 0; j < count; j++)
        NEXT_WINDOW(j);
    for (i = bits; i-- > 0;) {
        if (*started)
            ea_mont_sqr(acc, acc, ctx, w);
        for (j = 0; j < count; j++) {
            if (next[j] == (long)i) {
                ea_mont_mul_into(acc, started, LIMB(tab, j * half + (digit[j] - 1) / 2, n), ctx, w);
                NEXT_WINDOW(j);
            }
        }
    }
#undef NEXT_WINDOW
    free(tab); free(next); free(digit); free(top);
    return EA_OK;
}

/* Pippenger: per c-bit window, bucket d collects the bases whose digit is d. */
static int mexp_buckets(mp_limb_t *acc, const mp_limb_t *bases, const mpz_t *exps, size_t count,
                        unsigned c, const ea_mont *ctx, ea_mont_work *w, int *started)
{
    mp_size_t n = ctx->n;
    size_t bits = max_bits(exps, count), nb = (size_t)1 << c, win, j;
    mp_limb_t *bucket = ea_mont_alloc(ctx, nb + 2), *run, *tot;
    unsigned char *used = malloc(nb);
    if (bucket == NULL || used == NULL) {
        free(bucket); free(used);
        return EA_ERR_NOMEM;
    }
    run = LIMB(bucket, nb, n);
    tot = LIMB(bucket, nb + 1, n);
    for (win = (bits + c - 1) / c; win-- > 0;) {
        int ts = 0;
        unsigned s;
        if (*started)
            for (s = 0; s < c; s++)
                ea_mont_sqr(acc, acc, ctx, w);
        memset(used, 0, nb);
        for (j = 0; j < count; j++) {
            unsigned dig = ea_exp_bits(exps[j], win * c, c);
            if (dig) {
                int u = used[dig];
                ea_mont_mul_into(LIMB(bucket, dig, n), &u, LIMB(bases, j, n), ctx, w);
                used[dig] = 1;
            }
        }
        ea_mont_bucket_combine(tot, &ts, run, bucket, used, nb, ctx, w);
        if (ts)
            ea_mont_mul_into(acc, started, tot, ctx, w);
    }
    free(bucket); free(used);
    return EA_OK;
}

int ea_mexp_mont(mp_limb_t *acc, const mp_limb_t *bases, const mpz_t *exps, size_t count,
                 int method, unsigned param, const ea_mont *ctx, ea_mont_work *w)
{
    int started = 0, rc = EA_OK;
    size_t j;
    for (j = 0; j < count; j++)
        if (mpz_sgn(exps[j]) < 0)
            return EA_ERR_EXPONENT;
    if (method == EA_MEXP_AUTO)
        ea_mexp_choose(&method, &param, count, max_bits(exps, count));
    else if (param == 0)
        param = best_param(method, count, max_bits(exps, count));
    if (count > 0) {
        switch (method) {
        case EA_MEXP_TABLES:
            if (param > EA_MEXP_MAX_TABLE_C)
                return EA_ERR_ARGUMENT;
            rc = mexp_tables(acc, bases, exps, count, param, ctx, w, &started);
            break;
        case EA_MEXP_WINDOW:
            if (param > EA_MEXP_MAX_WINDOW)
                return EA_ERR_ARGUMENT;
            rc = mexp_window(acc, bases, exps, count, param, ctx, w, &started);
            break;
        case EA_MEXP_BUCKETS:
            if (param > EA_MEXP_MAX_TABLE_C)
                return EA_ERR_ARGUMENT;
            rc = mexp_buckets(acc, bases, exps, count, param, ctx, w, &started);
            break;
        default:
            return EA_ERR_ARGUMENT;
        }
    }
    if (rc == EA_OK && !started)
        mpn_copyi(acc, ctx->one, ctx->n);
    return rc;
}

typedef struct {
    mp_limb_t *parts;          /* one result per part */
    const mp_limb_t *bases;
    const mpz_t *exps;
    size_t count, nparts;
    int method;
    unsigned param;
    const ea_mont *ctx;
    ea_opcount *ops;           /* one per part */
} split_job;

static int split_task(void *arg, size_t k)
{
    split_job *job = arg;
    size_t lo = job->count * k / job->nparts, hi = job->count * (k + 1) / job->nparts;
    ea_mont_work w;
    int rc = ea_mont_work_init(&w, job->ctx);
    if (rc != EA_OK)
        return rc;
    rc = ea_mexp_mont(LIMB(job->parts, k, job->ctx->n), LIMB(job->bases, lo, job->ctx->n),
                      job->exps + lo, hi - lo, job->method, job->param, job->ctx, &w);
    job->ops[k] = w.ops;
    ea_mont_work_clear(&w);
    return rc;
}

int ea_mexp_mont_threads(mp_limb_t *acc, const mp_limb_t *bases, const mpz_t *exps,
                         size_t count, int method, unsigned param, const ea_mont *ctx,
                         unsigned threads, ea_opcount *ops)
{
    split_job job;
    ea_mont_work w;
    size_t k;
    int rc;
    if (threads < 1)
        threads = 1;
    if (threads > count / 2)
        threads = count / 2 > 0 ? (unsigned)(count / 2) : 1;
    if (method == EA_MEXP_AUTO && param == 0)
        ea_mexp_choose(&method, &param, (count + threads - 1) / threads, max_bits(exps, count));
    job.nparts = threads;
    job.parts = ea_mont_alloc(ctx, threads);
    job.ops = calloc(threads, sizeof(ea_opcount));
    if ((rc = ea_mont_work_init(&w, ctx)) != EA_OK || job.parts == NULL || job.ops == NULL) {
        free(job.parts); free(job.ops);
        if (rc == EA_OK)
            ea_mont_work_clear(&w);
        return EA_ERR_NOMEM;
    }
    job.bases = bases; job.exps = exps; job.count = count;
    job.method = method; job.param = param; job.ctx = ctx;
    rc = ea_parallel_run(split_task, &job, threads, threads);
    if (rc == EA_OK) {
        mpn_copyi(acc, job.parts, ctx->n);
        for (k = 1; k < threads; k++)
            ea_mont_mul(acc, acc, LIMB(job.parts, k, ctx->n), ctx, &w);
        add_thread_ops(ops, job.ops, threads, &w);
    }
    ea_mont_work_clear(&w);
    free(job.parts); free(job.ops);
    return rc;
}

/* Check 0 <= b < n for every base and e >= 0 for every exponent. */
static int check_inputs(const mpz_t *bases, const mpz_t *exps, size_t count, const mpz_t n)
{
    size_t j;
    int rc = ea_check_modulus(n);
    if (rc != EA_OK)
        return rc;
    if (count > 0 && (bases == NULL || exps == NULL))
        return EA_ERR_ARGUMENT;
    for (j = 0; j < count; j++) {
        if (bases != NULL && (mpz_sgn(bases[j]) < 0 || mpz_cmp(bases[j], n) >= 0))
            return EA_ERR_ELEMENT;
        if (mpz_sgn(exps[j]) < 0)
            return EA_ERR_EXPONENT;
    }
    return EA_OK;
}

int ea_multi_exp(mpz_t r, const mpz_t *bases, const mpz_t *exps, size_t count, const mpz_t n,
                 int method, unsigned param, unsigned threads, ea_opcount *ops)
{
    ea_mont ctx;
    ea_mont_work w;
    mp_limb_t *B, *acc;
    size_t j;
    int rc = check_inputs(bases, exps, count, n);
    if (rc != EA_OK)
        return rc;
    if ((rc = ea_mont_open(&ctx, &w, &B, count + 1, n)) != EA_OK)
        return rc;
    acc = LIMB(B, count, ctx.n);
    for (j = 0; j < count; j++)
        ea_mont_to(LIMB(B, j, ctx.n), bases[j], &ctx);
    rc = ea_mexp_mont_threads(acc, B, exps, count, method, param, &ctx, threads, ops);
    if (rc == EA_OK)
        ea_mont_from(r, acc, &ctx, &w);
    ea_mont_close(&ctx, &w, B);
    return rc;
}

int ea_mexp_table_init(ea_mexp_table *t, const mpz_t *bases, size_t count, const mpz_t n,
                       unsigned c)
{
    ea_mont_work w;
    mp_limb_t *B;
    size_t j;
    int rc = check_inputs(bases, NULL, 0, n);
    if (rc != EA_OK)
        return rc;
    if (c < 1 || c > EA_MEXP_MAX_TABLE_C || count == 0 || bases == NULL)
        return EA_ERR_ARGUMENT;
    for (j = 0; j < count; j++)
        if (mpz_sgn(bases[j]) < 0 || mpz_cmp(bases[j], n) >= 0)
            return EA_ERR_ELEMENT;
    if ((rc = ea_mont_init(&t->ctx, n)) != EA_OK)
        return rc;
    t->count = count;
    t->c = c;
    t->groups = (count + c - 1) / c;
    t->tab = ea_mont_alloc(&t->ctx, t->groups << c);
    B = ea_mont_alloc(&t->ctx, count);
    if (t->tab == NULL || B == NULL || ea_mont_work_init(&w, &t->ctx) != EA_OK) {
        free(t->tab); free(B);
        ea_mont_clear(&t->ctx);
        return EA_ERR_NOMEM;
    }
    for (j = 0; j < count; j++)
        ea_mont_to(LIMB(B, j, t->ctx.n), bases[j], &t->ctx);
    build_tables(t->tab, B, count, c, &t->ctx, &w);
    ea_mont_work_clear(&w);
    free(B);
    return EA_OK;
}

typedef struct {
    const ea_mexp_table *t;
    const mpz_t *exps;
    mp_limb_t *parts;
    int *started;
    ea_opcount *ops;
    size_t nparts, bits;
} table_job;

static int table_task(void *arg, size_t k)
{
    table_job *job = arg;
    const ea_mexp_table *t = job->t;
    size_t g0 = t->groups * k / job->nparts, g1 = t->groups * (k + 1) / job->nparts;
    ea_mont_work w;
    int rc = ea_mont_work_init(&w, &t->ctx);
    if (rc != EA_OK)
        return rc;
    job->started[k] = 0;
    chain_tables(LIMB(job->parts, k, t->ctx.n), &job->started[k], t->tab, job->exps, t->count,
                 t->c, g0, g1, job->bits, &t->ctx, &w);
    job->ops[k] = w.ops;
    ea_mont_work_clear(&w);
    return EA_OK;
}

int ea_mexp_table_eval(mpz_t r, const ea_mexp_table *t, const mpz_t *exps, size_t count,
                       unsigned threads, ea_opcount *ops)
{
    table_job job;
    ea_mont_work w;
    mp_limb_t *acc;
    size_t k;
    int rc, started = 0;
    if (count != t->count || exps == NULL)
        return EA_ERR_ARGUMENT;
    for (k = 0; k < count; k++)
        if (mpz_sgn(exps[k]) < 0)
            return EA_ERR_EXPONENT;
    if (threads < 1)
        threads = 1;
    if (threads > t->groups)
        threads = (unsigned)t->groups;
    job.t = t; job.exps = exps; job.nparts = threads; job.bits = max_bits(exps, count);
    job.parts = ea_mont_alloc(&t->ctx, threads + 1);
    job.started = calloc(threads, sizeof(int));
    job.ops = calloc(threads, sizeof(ea_opcount));
    if (job.parts == NULL || job.started == NULL || job.ops == NULL
        || ea_mont_work_init(&w, &t->ctx) != EA_OK) {
        free(job.parts); free(job.started); free(job.ops);
        return EA_ERR_NOMEM;
    }
    acc = LIMB(job.parts, threads, t->ctx.n);
    rc = ea_parallel_run(table_task, &job, threads, threads);
    if (rc == EA_OK) {
        for (k = 0; k < threads; k++)
            if (job.started[k])
                ea_mont_mul_into(acc, &started, LIMB(job.parts, k, t->ctx.n), &t->ctx, &w);
        if (!started)
            mpn_copyi(acc, t->ctx.one, t->ctx.n);
        ea_mont_from(r, acc, &t->ctx, &w);
        add_thread_ops(ops, job.ops, threads, &w);
    }
    ea_mont_work_clear(&w);
    free(job.parts); free(job.started); free(job.ops);
    return rc;
}

void ea_mexp_table_clear(ea_mexp_table *t)
{
    free(t->tab);
    t->tab = NULL;
    ea_mont_clear(&t->ctx);
}
