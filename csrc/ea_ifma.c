/* ea_ifma.c - 8-lane AVX-512 IFMA almost-Montgomery multiplication and squaring, radix 2^52,
 * the lane-parallel bucket multi-exponentiation and the lane chains of RootFactory. All lanes share one modulus N < 2^2048; a lane
 * vector of a number is L = 40 __m512i words, word i holding limb i of the 8 lanes. Values
 * stay in [0, 2N): with R = 2^(52 L) > 4N, the almost-Montgomery product of two such values
 * is again below 2N (no final subtraction inside the loop). */
#define _POSIX_C_SOURCE 200809L
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ea_ifma.h"
#include "ea_fastexp.h"
#include "ea_ifma1.h"
#include "ea_mont.h"
#include "ea_thread.h"

#define L 40                         /* 52-bit limbs: 2080 bits */
#define LANES 8
#define MASK52 ((uint64_t)0xfffffffffffffULL)
#define VEC(p, k) ((p) + (size_t)(k) * L * LANES)   /* k-th lane vector of an array */
#define MAX_C 12

/* Cost of one 8-lane product and of one single-operation product (ea_ifma1.h) in GMP
 * Montgomery multiplications (measured: about 2.1 us per 8 lanes and 0.36 us for a single one
 * against 1.18 us for a GMP 2048-bit multiplication; the single one scaled by 0.62 when its
 * quotient digits left the vector-to-scalar path: 282 -> 175 ns on a Zen 5, same plans at
 * t = 8, 16, 1024 in one run). */
#define LANE_PRODUCT_COST 1.8
#define SINGLE_PRODUCT_COST 0.19

#ifdef EA_IFMA_COMPILED
#include <immintrin.h>

/* Lane vectors on 64-byte boundaries: a 512-bit load across two cache lines costs double. */
static void *alloc64(size_t size)
{
    void *p;
    return posix_memalign(&p, 64, size ? size : 64) == 0 ? p : NULL;
}

typedef struct {
    uint64_t m[L * LANES];          /* N in every lane */
    uint64_t k0[LANES];             /* -N^{-1} mod 2^52 in every lane */
    uint64_t one[L * LANES];        /* R mod N in every lane */
} ifma_ctx;

/* r = positions nl .. 2nl-1 of a reduced sum (position nl-1 and below are 0 mod 2^52, carried
 * up already), as nl normalised 52-bit limbs. */
__attribute__((target("avx512f"), always_inline))
static inline void store_high(uint64_t *r, __m512i *res, int nl)
{
    const __m512i mask = _mm512_set1_epi64((long long)MASK52);
    int j;
    for (j = nl; j < 2 * nl; j++) {
        res[j + 1] = _mm512_add_epi64(res[j + 1], _mm512_srli_epi64(res[j], 52));
        _mm512_storeu_si512((void *)(r + LANES * (j - nl)), _mm512_and_si512(res[j], mask));
    }
}

/* r = a*b/R mod N (almost: r < 2N for a, b < 2N); r may alias a or b. a_bcast: a holds one
 * number's L scalar limbs, used in every lane. Row i adds a*b_i + N*u_i; each position of the
 * row takes its four products in one chain, independent of the other positions, so the
 * multipliers stay busy (a chain along the row would wait on every product's latency). */
__attribute__((target("avx512f,avx512ifma"), always_inline))
static inline void amm_n(uint64_t *r, const uint64_t *a, int a_bcast, const uint64_t *b,
                  const uint64_t *m, const uint64_t *k0p, int nl)
{
    __m512i res[2 * L + 1];
    const __m512i zero = _mm512_setzero_si512();
    const __m512i k0 = _mm512_loadu_si512((const void *)k0p);
#define A_LIMB(j) (a_bcast ? _mm512_set1_epi64((long long)a[j]) \
                           : _mm512_loadu_si512((const void *)(a + LANES * (j))))
#define M_LIMB(j) _mm512_loadu_si512((const void *)(m + LANES * (j)))
    int i, j;
    for (j = 0; j <= 2 * nl; j++)
        res[j] = zero;
    for (i = 0; i < nl; i++) {
        const __m512i bi = _mm512_loadu_si512((const void *)(b + LANES * i));
        __m512i ap = A_LIMB(0), mp = M_LIMB(0), t, u;
        /* position i is complete once a_0 * b_i is in: the quotient digit comes from it */
        t = _mm512_madd52lo_epu64(res[i], ap, bi);
        u = _mm512_madd52lo_epu64(zero, t, k0);
        t = _mm512_madd52lo_epu64(t, mp, u);
        /* t = 0 mod 2^52 now: its high part is carried into position i + 1 */
        res[i + 1] = _mm512_add_epi64(res[i + 1], _mm512_srli_epi64(t, 52));
        for (j = 1; j < nl; j++) {
            const __m512i aj = A_LIMB(j), mj = M_LIMB(j);
            __m512i s = res[i + j];
            s = _mm512_madd52lo_epu64(s, aj, bi);
            s = _mm512_madd52lo_epu64(s, mj, u);
            s = _mm512_madd52hi_epu64(s, ap, bi);
            res[i + j] = _mm512_madd52hi_epu64(s, mp, u);
            ap = aj;
            mp = mj;
        }
        res[i + nl] = _mm512_madd52hi_epu64(_mm512_madd52hi_epu64(res[i + nl], ap, bi), mp, u);
    }
#undef A_LIMB
#undef M_LIMB
    store_high(r, res, nl);
}

__attribute__((target("avx512f,avx512ifma")))
static void amm(uint64_t *r, const uint64_t *a, int a_bcast, const uint64_t *b,
                const ifma_ctx *ctx)
{
    amm_n(r, a, a_bcast, b, ctx->m, ctx->k0, L);
}

/* r = a^2/R mod N, almost, as amm_n(r, a, 0, a, ...) and the same limbs (the quotient digits
 * of a Montgomery reduction are unique); r may alias a; nl even. First the square, column by
 * column: each pair a_i a_j, i < j, once (its low half to column i + j, its high half to the
 * next), doubled, plus the squares; each column is stored once. Then the reduction two rows
 * at a time (each position loaded and stored once per two rows). 3/4 of amm_n's products:
 * measured 1.23 us against 1.45 us. */
__attribute__((target("avx512f,avx512ifma"), always_inline))
static inline void ams_n(uint64_t *r, const uint64_t *a, const uint64_t *m, const uint64_t *k0p,
                         int nl)
{
    __m512i q[2 * L + 2];
    const __m512i zero = _mm512_setzero_si512();
    const __m512i k0 = _mm512_loadu_si512((const void *)k0p);
#define A_LIMB(j) _mm512_loadu_si512((const void *)(a + LANES * (j)))
#define M_LIMB(j) _mm512_loadu_si512((const void *)(m + LANES * (j)))
    int i, j, s;
    __m512i hprev = zero;
    for (s = 0; s < 2 * nl - 1; s++) {      /* pairs i < j, i + j = s: lows to s, highs to s+1 */
        __m512i lo0 = zero, lo1 = zero, hi0 = zero, hi1 = zero, d;
        int first = s - nl + 1 > 0 ? s - nl + 1 : 0;
        for (i = first; 2 * i + 2 < s; i += 2) {
            const __m512i x0 = A_LIMB(i), y0 = A_LIMB(s - i);
            const __m512i x1 = A_LIMB(i + 1), y1 = A_LIMB(s - i - 1);
            lo0 = _mm512_madd52lo_epu64(lo0, x0, y0);
            hi0 = _mm512_madd52hi_epu64(hi0, x0, y0);
            lo1 = _mm512_madd52lo_epu64(lo1, x1, y1);
            hi1 = _mm512_madd52hi_epu64(hi1, x1, y1);
        }
        if (2 * i < s) {
            const __m512i x0 = A_LIMB(i), y0 = A_LIMB(s - i);
            lo0 = _mm512_madd52lo_epu64(lo0, x0, y0);
            hi0 = _mm512_madd52hi_epu64(hi0, x0, y0);
        }
        lo0 = _mm512_add_epi64(lo0, lo1);
        /* column s = 2 (lows of s + highs of s - 1) + the square of a_{s/2} */
        lo0 = _mm512_slli_epi64(_mm512_add_epi64(lo0, hprev), 1);
        hprev = _mm512_add_epi64(hi0, hi1);
        d = A_LIMB(s / 2);
        q[s] = s % 2 == 0 ? _mm512_madd52lo_epu64(lo0, d, d) : _mm512_madd52hi_epu64(lo0, d, d);
    }
    {   /* column 2nl - 1: the highs of s = 2nl - 2 and the high square of a_{nl-1} */
        const __m512i d = A_LIMB(nl - 1);
        q[2 * nl - 1] = _mm512_madd52hi_epu64(_mm512_slli_epi64(hprev, 1), d, d);
    }
    q[2 * nl] = q[2 * nl + 1] = zero;
    for (i = 0; i < nl; i += 2) {       /* rows i, i + 1 of the reduction */
        const __m512i m0 = M_LIMB(0), m1 = M_LIMB(1);
        __m512i t, u0, u1, mp, mq;
        t = q[i];
        u0 = _mm512_madd52lo_epu64(zero, t, k0);
        t = _mm512_madd52lo_epu64(t, m0, u0);
        t = _mm512_add_epi64(q[i + 1], _mm512_srli_epi64(t, 52));
        t = _mm512_madd52hi_epu64(_mm512_madd52lo_epu64(t, m1, u0), m0, u0);
        u1 = _mm512_madd52lo_epu64(zero, t, k0);
        t = _mm512_madd52lo_epu64(t, m0, u1);
        q[i + 2] = _mm512_add_epi64(q[i + 2], _mm512_srli_epi64(t, 52));
        mp = m1; mq = m0;               /* m_{j-1}, m_{j-2} */
        for (j = 2; j < nl; j++) {
            const __m512i mj = M_LIMB(j);
            __m512i x = q[i + j];
            x = _mm512_madd52lo_epu64(x, mj, u0);
            x = _mm512_madd52lo_epu64(x, mp, u1);
            x = _mm512_madd52hi_epu64(x, mp, u0);
            q[i + j] = _mm512_madd52hi_epu64(x, mq, u1);
            mq = mp; mp = mj;
        }
        t = _mm512_madd52hi_epu64(q[i + nl], mp, u0);
        t = _mm512_madd52lo_epu64(t, mp, u1);
        q[i + nl] = _mm512_madd52hi_epu64(t, mq, u1);
        q[i + nl + 1] = _mm512_madd52hi_epu64(q[i + nl + 1], mp, u1);
    }
#undef A_LIMB
#undef M_LIMB
    store_high(r, q, nl);
}
__attribute__((target("avx512f,avx512ifma")))
static void ams(uint64_t *r, const uint64_t *a, const ifma_ctx *ctx)
{
    ams_n(r, a, ctx->m, ctx->k0, L);
}

/* A lane vector gathered from rows: lane l takes bucket idx[l] of `buckets` (vectors). */
__attribute__((target("avx512f")))
static void gather_n(uint64_t *out, const uint64_t *buckets, const long long *idx, int nl)
{
    __m512i vi = _mm512_loadu_si512((const void *)idx);
    int i;
    for (i = 0; i < nl; i++)
        _mm512_storeu_si512((void *)(out + LANES * i),
                            _mm512_i64gather_epi64(vi, (const void *)(buckets + LANES * i), 8));
}

static void gather(uint64_t *out, const uint64_t *buckets, const long long *idx)
{
    gather_n(out, buckets, idx, L);
}

__attribute__((target("avx512f")))
static void scatter(uint64_t *buckets, const uint64_t *in, const long long *idx)
{
    __m512i vi = _mm512_loadu_si512((const void *)idx);
    int i;
    for (i = 0; i < L; i++)
        _mm512_i64scatter_epi64((void *)(buckets + LANES * i), vi,
                                _mm512_loadu_si512((const void *)(in + LANES * i)), 8);
}

static void to_limbs(uint64_t *out, size_t stride, const mpz_t x)
{
    ea_limbs52(out, stride, x, L);
}

static void ctx_init(ifma_ctx *ctx, const mpz_t n)
{
    mpz_t t;
    uint64_t k0;
    int i, l;
    uint64_t limbs[L];
    mpz_init_set_ui(t, 1);
    mpz_mul_2exp(t, t, 52 * L);
    mpz_mod(t, t, n);
    to_limbs(limbs, 1, t);
    for (i = 0; i < L; i++)
        for (l = 0; l < LANES; l++)
            ctx->one[i * LANES + l] = limbs[i];
    to_limbs(limbs, 1, n);
    for (i = 0; i < L; i++)
        for (l = 0; l < LANES; l++)
            ctx->m[i * LANES + l] = limbs[i];
    k0 = ea_neg_inv52(limbs[0]);
    for (l = 0; l < LANES; l++)
        ctx->k0[l] = k0;
    mpz_clear(t);
}

/* The two lane methods of ea_ifma_multi_exp share c-bit windows, 8 per round (one per lane),
 * and one Horner combination of the windows on the single-operation kernel (a squaring per
 * bit, a product per window). Buckets (Pippenger): per round `count` products into 2^c buckets
 * and 2^(c+1) to combine them. Power tables: every base's b^0 .. b^(2^c - 1) once (2^c - 2
 * lane products per 8 bases), then per round count - 1 products of gathered powers and no
 * combination: cheaper for few bases (a batch of 8..32 statements). The rounds run from the
 * top down and the combination takes each round's windows as soon as they are done (see
 * run_pipeline), so on several threads it overlaps the rounds below. */
typedef struct {
    int tables;                     /* 1: power tables, 0: buckets */
    unsigned c;
    double cost;                    /* in GMP multiplications, the wall time on the threads */
} lane_plan;

#define TAB_MAX_C 5                 /* a group's table: 2^c lane vectors (80 KiB at c = 5) */

/* The cheapest method and window for count bases, bits-bit exponents and `threads` threads.
 * The table groups split over the threads; then the combination (serial, at least a squaring
 * per exponent bit) waits for the top round and overlaps the others, so the rest takes the
 * longest of top round + combination, all rounds and the combination over the threads, and
 * the busiest thread's whole rounds. */
static lane_plan plan_for(size_t count, size_t bits, unsigned threads)
{
    lane_plan best = {0, 2, -1.0}, p;
    size_t th = threads > 1 ? threads : 1, groups = (count + LANES - 1) / LANES;
    for (p.tables = 0; p.tables <= 1; p.tables++)
        for (p.c = 2; p.c <= (p.tables ? TAB_MAX_C : MAX_C); p.c++) {
            size_t windows = (bits + p.c - 1) / p.c, rounds = (windows + LANES - 1) / LANES;
            double prep = 0.0, round, horner, critical, spread;
            if (p.tables) {
                prep = (double)((groups + th - 1) / th) * (double)((1u << p.c) - 2);
                round = (double)count - 1.0;
            } else {
                round = (double)count + 2.0 * (double)(1u << p.c);
            }
            horner = SINGLE_PRODUCT_COST * (double)(bits + windows);
            critical = LANE_PRODUCT_COST * round + horner;
            spread = (LANE_PRODUCT_COST * round * (double)rounds + horner) / (double)th;
            if (spread < LANE_PRODUCT_COST * round * (double)((rounds + th - 1) / th))
                spread = LANE_PRODUCT_COST * round * (double)((rounds + th - 1) / th);
            p.cost = LANE_PRODUCT_COST * prep + (critical > spread ? critical : spread);
            if (best.cost < 0 || p.cost < best.cost)
                best = p;
        }
    return best;
}

/* Lane buckets (nb lane vectors): every bucket = 1; lane l of bucket idx[l] *= x (L scalar
 * limbs, the same in every lane; lanes with nothing to collect point at bucket 0, unused);
 * acc = prod_d bucket_d^d by running products from the top bucket down (run: scratch). */
static void buckets_init(uint64_t *buckets, size_t nb, const ifma_ctx *ctx)
{
    size_t d;
    for (d = 0; d < nb; d++)
        memcpy(VEC(buckets, d), ctx->one, L * LANES * sizeof(uint64_t));
}

static void buckets_collect(uint64_t *buckets, uint64_t *tmp, const uint64_t *x,
                            const long long *idx, const ifma_ctx *ctx)
{
    gather(tmp, buckets, idx);
    amm(tmp, x, 1, tmp, ctx);
    scatter(buckets, tmp, idx);
}

static void buckets_combine(uint64_t *acc, uint64_t *run, const uint64_t *buckets, size_t nb,
                            const ifma_ctx *ctx)
{
    size_t d;
    memcpy(run, ctx->one, L * LANES * sizeof(uint64_t));
    memcpy(acc, ctx->one, L * LANES * sizeof(uint64_t));
    for (d = nb - 1; d >= 1; d--) {
        amm(run, run, 0, VEC(buckets, d), ctx);
        amm(acc, acc, 0, run, ctx);
    }
}

typedef struct {
    const ifma_ctx *ctx;
    const uint64_t *B;              /* count bases, Montgomery form, L scalar limbs each */
    const mpz_t *exps;
    size_t count, windows;
    unsigned c;
    uint64_t *S;                    /* per window: prod_d bucket_d^d, Montgomery form, L limbs */
} pip_job;

/* Round q: windows 8q .. 8q+7, one per lane. */
static int pip_round(void *arg, size_t q)
{
    pip_job *job = arg;
    const ifma_ctx *ctx = job->ctx;
    size_t nb = (size_t)1 << job->c, j, d, k0 = q * LANES;
    uint64_t *buckets = alloc64((nb + 3) * L * LANES * sizeof(uint64_t));
    uint64_t *tmp, *run, *acc;
    long long idx[LANES];
    int l;
    if (buckets == NULL)
        return EA_ERR_NOMEM;
    tmp = VEC(buckets, nb);
    run = VEC(buckets, nb + 1);
    acc = VEC(buckets, nb + 2);
    buckets_init(buckets, nb, ctx);
    for (j = 0; j < job->count; j++) {
        int any = 0;
        for (l = 0; l < LANES; l++) {
            size_t win = k0 + (size_t)l;
            unsigned dig = win < job->windows ? ea_exp_bits(job->exps[j], win * job->c, job->c) : 0;
            idx[l] = (long long)dig * L * LANES + l;
            any |= dig != 0;
        }
        if (!any)
            continue;
        buckets_collect(buckets, tmp, job->B + j * L, idx, ctx);
    }
    buckets_combine(acc, run, buckets, nb, ctx);    /* S = prod_d bucket_d^d */
    for (l = 0; l < LANES && k0 + (size_t)l < job->windows; l++)
        for (d = 0; d < L; d++)
            job->S[(k0 + (size_t)l) * L + d] = acc[d * LANES + (size_t)l];
    free(buckets);
    return EA_OK;
}

/* Montgomery forms B[j] = bases[j] R mod N (ea_ifma1.h), part k of `parts`; threads take the
 * parts from CONV_PARALLEL bases on (below, starting them costs more than it saves). */
#define CONV_PARALLEL 256

typedef struct {
    uint64_t *B;
    const mpz_t *bases;
    mpz_srcptr n;
    size_t count, parts;
} conv_job;

static int conv_part(void *arg, size_t k)
{
    conv_job *job = arg;
    size_t j, hi = job->count * (k + 1) / job->parts;
    for (j = job->count * k / job->parts; j < hi; j++)
        if (!ea_ifma1_to_mont(job->B + j * L, job->bases[j], job->n))
            return EA_ERR_NOMEM;
    return EA_OK;
}

/* Power tables of bases 8g .. 8g+7 (lane l: base 8g+l; lanes past count repeat base 8g):
 * 2^c lane vectors, vector d = b^d. */
typedef struct {
    const ifma_ctx *ctx;
    const mpz_t *bases, *exps;
    mpz_srcptr n;
    size_t count, windows;
    unsigned c;
    uint64_t *T;                    /* per group of 8 bases: its table, 2^c lane vectors */
    uint64_t *S;                    /* per window: prod_j b_j^digit, Montgomery form, L limbs */
    const size_t *order;            /* the groups in the order of their tables */
} tab_job;

/* The table of group order[k]. */
static int tab_group(void *arg, size_t k)
{
    tab_job *job = arg;
    size_t nt = (size_t)1 << job->c, d, i, l, g = job->order[k];
    uint64_t *T = job->T + g * nt * L * LANES, b[L];
    memcpy(VEC(T, 0), job->ctx->one, L * LANES * sizeof(uint64_t));
    for (l = 0; l < LANES; l++) {     /* Montgomery form: b * R mod N */
        size_t j = g * LANES + l < job->count ? g * LANES + l : g * LANES;
        if (!ea_ifma1_to_mont(b, job->bases[j], job->n))
            return EA_ERR_NOMEM;
        for (i = 0; i < L; i++)
            VEC(T, 1)[i * LANES + l] = b[i];
    }
    for (d = 2; d < nt; d++)
        amm(VEC(T, d), VEC(T, d - 1), 0, VEC(T, 1), job->ctx);
    return EA_OK;
}

/* The tables in the order the rounds need them, from the top: top[k] = 1 + the highest round
 * with a nonzero digit of group order[k] (0: none), non-increasing. The values' weight sums
 * are shorter than the witnesses' exponents, so their group comes last. */
static void tab_order(size_t *order, size_t *top, const mpz_t *exps, size_t count, unsigned c)
{
    size_t groups = (count + LANES - 1) / LANES, g, j, k;
    for (g = 0; g < groups; g++) {
        size_t bits = 0, t;
        for (j = g * LANES; j < count && j < (g + 1) * LANES; j++)
            if (mpz_sgn(exps[j]) > 0 && mpz_sizeinbase(exps[j], 2) > bits)
                bits = mpz_sizeinbase(exps[j], 2);
        t = bits ? (bits - 1) / c / LANES + 1 : 0;
        for (k = g; k > 0 && top[k - 1] < t; k--) {     /* insertion, stable */
            top[k] = top[k - 1];
            order[k] = order[k - 1];
        }
        top[k] = t;
        order[k] = g;
    }
}

/* Round q: windows 8q .. 8q+7, one per lane: S = prod_j T_j[digit of window]. */
static int tab_round(void *arg, size_t q)
{
    tab_job *job = arg;
    size_t nt = (size_t)1 << job->c, j, d, k0 = q * LANES;
    uint64_t *acc = alloc64(2 * L * LANES * sizeof(uint64_t)), *g;
    long long idx[LANES];
    int l, started = 0;
    if (acc == NULL)
        return EA_ERR_NOMEM;
    g = VEC(acc, 1);
    for (j = 0; j < job->count; j++) {
        int any = 0;
        for (l = 0; l < LANES; l++) {
            size_t win = k0 + (size_t)l;
            unsigned dig = win < job->windows ? ea_exp_bits(job->exps[j], win * job->c, job->c) : 0;
            idx[l] = (long long)dig * L * LANES + (long long)(j % LANES);
            any |= dig != 0;
        }
        if (!any)
            continue;
        gather(started ? g : acc, job->T + (j / LANES) * nt * L * LANES, idx);
        if (started)
            amm(acc, acc, 0, g, job->ctx);
        started = 1;
    }
    if (!started)
        memcpy(acc, job->ctx->one, L * LANES * sizeof(uint64_t));
    for (l = 0; l < LANES && k0 + (size_t)l < job->windows; l++)
        for (d = 0; d < L; d++)
            job->S[(k0 + (size_t)l) * L + d] = acc[d * LANES + (size_t)l];
    free(acc);
    return EA_OK;
}

/* ---- the pipeline: preparation tasks (tables, conversions), then the rounds from the top
 * down; worker 0 also combines (Horner, ea_ifma1_horner) each round's windows once that round
 * and the ones above it are done. A round waits only for the preparations it reads (the
 * short exponents of the values leave the top rounds without their table): worker 0 takes
 * the next round before a preparation, the others a preparation first. On one thread that is
 * the plain order; on two the combination of the top rounds runs while the other thread does
 * the rounds below, so the serial part (a squaring per exponent bit) no longer follows all
 * the lane work. The shared counters are atomic and a worker with nothing to take spins (a
 * task lasts 10-100 us; waking a sleeping thread costs as much in a VM), yielding the CPU
 * after a few microseconds (more threads than cores, or a worker preempted). */
typedef struct {
    ea_task_fn prep, round;         /* prep(prep_job, i), i < nprep; round(round_job, q) */
    void *prep_job, *round_job;
    size_t nprep, rounds, windows;
    const size_t *prep_top;         /* rounds q < prep_top[i] read prep i (non-increasing) */
    unsigned c;
    const uint64_t *S;              /* per window: its product, written by round() */
    mpz_srcptr n;
    ea_task_fn side;                /* side(side_arg, 0): once, off the combination's path */
    void *side_arg;
    size_t prep_claimed, round_claimed, side_claimed;   /* rounds are claimed from the top */
    size_t active;                  /* workers inside pipeline_worker */
    unsigned char *prep_done, *round_done;
    uint64_t *x;                    /* the combination so far, Montgomery form */
    int rc;
} pipeline;

#define SPIN_BEFORE_YIELD 256       /* pause instructions (~60 ns each), then sched_yield */

/* Windows 8q .. 8q+7 of the top-down combination (the top window starts it). */
static int combine_round(pipeline *p, size_t q)
{
    size_t lo = q * LANES, hi = lo + LANES < p->windows ? lo + LANES : p->windows;
    if (q + 1 == p->rounds) {
        memcpy(p->x, p->S + (hi - 1) * L, L * sizeof(uint64_t));
        hi--;
    }
    return ea_ifma1_horner(p->x, p->S + lo * L, hi - lo, p->c, p->n) ? EA_OK : EA_ERR_NOMEM;
}

/* Claims the next of `total` tasks (counter *next), or returns total. */
static size_t claim(size_t *next, size_t total)
{
    size_t i = __atomic_load_n(next, __ATOMIC_RELAXED);
    while (i < total && !__atomic_compare_exchange_n(next, &i, i + 1, 0, __ATOMIC_ACQ_REL,
                                                     __ATOMIC_RELAXED))
        ;
    return i;
}

/* Runs prep i (1), or 0 if every prep is claimed. */
static int take_prep(pipeline *p, int *rc)
{
    size_t i = claim(&p->prep_claimed, p->nprep);
    if (i >= p->nprep)
        return 0;
    *rc = p->prep(p->prep_job, i);
    __atomic_store_n(&p->prep_done[i], 1, __ATOMIC_RELEASE);
    return 1;
}

/* Runs the next round from the top (1) if its preps are done, else 0. */
static int take_round(pipeline *p, int *rc)
{
    size_t k = __atomic_load_n(&p->round_claimed, __ATOMIC_RELAXED), q, i;
    while (k < p->rounds) {
        q = p->rounds - 1 - k;
        for (i = 0; i < p->nprep && p->prep_top[i] > q; i++)
            if (!__atomic_load_n(&p->prep_done[i], __ATOMIC_ACQUIRE))
                return 0;
        if (__atomic_compare_exchange_n(&p->round_claimed, &k, k + 1, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            *rc = p->round(p->round_job, q);
            __atomic_store_n(&p->round_done[q], 1, __ATOMIC_RELEASE);
            return 1;
        }
    }
    return 0;
}

/* Runs the side task if no worker has taken it yet (1), else 0. */
static int take_side(pipeline *p, int *rc)
{
    if (p->side == NULL || claim(&p->side_claimed, 1) != 0)
        return 0;
    *rc = p->side(p->side_arg, 0);
    return 1;
}

static void spin(size_t *spins)
{
    if (++*spins < SPIN_BEFORE_YIELD)
        __builtin_ia32_pause();
    else
        sched_yield();
}

static int pipeline_worker(void *arg, size_t index)
{
    pipeline *p = arg;
    size_t combined = 0, spins = 0;
    int combiner = index == 0, rc = EA_OK;
    __atomic_add_fetch(&p->active, 1, __ATOMIC_ACQ_REL);
    while (rc == EA_OK && __atomic_load_n(&p->rc, __ATOMIC_RELAXED) == EA_OK) {
        if (combiner && combined < p->rounds
            && __atomic_load_n(&p->round_done[p->rounds - 1 - combined], __ATOMIC_ACQUIRE)) {
            rc = combine_round(p, p->rounds - 1 - combined);
            combined++;
        } else if (combiner ? take_round(p, &rc) || take_prep(p, &rc)
                                  || (combined == p->rounds && take_side(p, &rc))
                            : take_prep(p, &rc) || take_side(p, &rc) || take_round(p, &rc)) {
            ;                       /* the side task: never in the chain's way, nor last */
        } else if (combiner ? combined == p->rounds
                            : __atomic_load_n(&p->round_claimed, __ATOMIC_RELAXED) == p->rounds) {
            break;
        } else {                    /* a task another worker claimed is under way */
            spin(&spins);
            continue;
        }
        spins = 0;
    }
    if (rc != EA_OK)
        __atomic_store_n(&p->rc, rc, __ATOMIC_RELAXED);
    /* the caller joins the others next: waiting here is cheaper than a wake-up from join */
    __atomic_sub_fetch(&p->active, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&p->active, __ATOMIC_ACQUIRE) > 0)
        spin(&spins);
    return EA_OK;
}

/* r = the combination of every round's windows, out of Montgomery form. */
static int run_pipeline(mpz_t r, pipeline *p, unsigned threads)
{
    int rc;
    p->prep_done = calloc(p->nprep + p->rounds, 1);
    p->round_done = p->prep_done + p->nprep;
    p->x = alloc64(L * sizeof(uint64_t));
    p->prep_claimed = p->round_claimed = p->side_claimed = p->active = 0;
    p->rc = p->prep_done == NULL || p->x == NULL ? EA_ERR_NOMEM : EA_OK;
    rc = p->rc;
    if (rc == EA_OK && (rc = ea_parallel_run(pipeline_worker, p, threads, threads)) == EA_OK)
        rc = p->rc;
    if (rc == EA_OK && !ea_ifma1_from_mont(r, p->x, p->n))
        rc = EA_ERR_NOMEM;
    free(p->prep_done); free(p->x);
    return rc;
}

/* ---- base-2 strong probable-prime tests of 8 candidates with different moduli ---- */
#define FL 5                        /* 260 bits: moduli below 2^258 */
#define FWIN 4

/* amm_n at the candidates' width: a constant limb count lets the compiler unroll it. */
__attribute__((target("avx512f,avx512ifma")))
static void amm_candidate(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *m,
                       const uint64_t *k0)
{
    amm_n(r, a, 0, b, m, k0, FL);
}

/* t = 2^(52 FL) mod c for odd c of bl bits: 2^bl - c, doubled up (c's top bit is set). */
static void montgomery_one(mpz_t t, const mpz_t c)
{
    size_t bl = mpz_sizeinbase(c, 2), i;
    mpz_set_ui(t, 0);
    mpz_setbit(t, bl);
    mpz_sub(t, t, c);
    if (52 * FL - bl > 16) {                    /* short moduli: one division */
        mpz_mul_2exp(t, t, 52 * FL - bl);
        mpz_mod(t, t, c);
        return;
    }
    for (i = bl; i < 52 * FL; i++) {
        mpz_mul_2exp(t, t, 1);
        if (mpz_cmp(t, c) >= 0)
            mpz_sub(t, t, c);
    }
}

int ea_ifma_strong_base2_8(unsigned char *pass, const mpz_t *c, size_t count)
{
    uint64_t m[FL * LANES], k0[LANES], tab[(1u << FWIN) * FL * LANES], x[FL * LANES];
    uint64_t y[FL * LANES], unit[FL * LANES], minus1[FL * LANES], g[FL * LANES];
    uint64_t limbs[FL];
    long long idx[LANES];
    mpz_t t, e[LANES];
    size_t l, i, bits = 0, win, s[LANES], smax = 0, r;
    unsigned char done[LANES];
    if (count == 0 || count > LANES)
        return 0;
    for (l = 0; l < count; l++)
        if (mpz_even_p(c[l]) || mpz_cmp_ui(c[l], 3) <= 0 || mpz_sizeinbase(c[l], 2) > 256)
            return 0;
    mpz_init(t);
    for (l = 0; l < LANES; l++) {
        mpz_srcptr cl = c[l < count ? l : 0];
        size_t d;
        mpz_init(e[l]);
        mpz_sub_ui(e[l], cl, 1);                /* c - 1 = e 2^s, e odd */
        s[l] = mpz_scan1(e[l], 0);
        mpz_tdiv_q_2exp(e[l], e[l], s[l]);
        if (s[l] > smax)
            smax = s[l];
        ea_limbs52(limbs, 1, cl, FL);
        for (i = 0; i < FL; i++) {
            m[i * LANES + l] = limbs[i];
            minus1[i * LANES + l] = limbs[i] - (i == 0);   /* c - 1: c is odd, no borrow */
            unit[i * LANES + l] = i == 0;
        }
        k0[l] = ea_neg_inv52(limbs[0]);
        montgomery_one(t, cl);                  /* Montgomery forms of 2^d: R, 2R, 4R, ... */
        for (d = 0; d < (1u << FWIN); d++) {
            if (d > 0) {
                mpz_mul_2exp(t, t, 1);
                if (mpz_cmp(t, cl) >= 0)
                    mpz_sub(t, t, cl);
            }
            ea_limbs52(tab + d * FL * LANES + l, LANES, t, FL);
        }
        if (mpz_sizeinbase(e[l], 2) > bits)
            bits = mpz_sizeinbase(e[l], 2);
    }
    /* x = 2^e by fixed 4-bit windows from the top; the exponent digits differ per lane */
    memcpy(x, tab, sizeof x);                   /* 2^0 */
    for (win = (bits + FWIN - 1) / FWIN; win-- > 0;) {
        for (i = 0; i < FWIN; i++)
            amm_candidate(x, x, x, m, k0);
        for (l = 0; l < LANES; l++)
            idx[l] = (long long)ea_exp_bits(e[l], win * FWIN, FWIN) * FL * LANES + (long long)l;
        gather_n(g, tab, idx, FL);
        amm_candidate(x, x, g, m, k0);
    }
    /* x^(2^r) for r < s: passes at 1 (r = 0 only) or c - 1. Out of Montgomery form, an AMM
     * by 1 gives a value in [0, c], so the limbs compare exactly. */
    memset(done, 0, sizeof done);
    memset(pass, 0, count);
    for (r = 0; r < smax; r++) {
        if (r > 0)
            amm_candidate(x, x, x, m, k0);
        amm_candidate(y, x, unit, m, k0);
        for (l = 0; l < count; l++) {
            int one = 1, neg = 1;
            if (done[l] || r >= s[l])
                continue;
            for (i = 0; i < FL; i++) {
                one &= y[i * LANES + l] == unit[i * LANES + l];
                neg &= y[i * LANES + l] == minus1[i * LANES + l];
            }
            if (neg || (one && r == 0))
                pass[l] = 1;
            if (neg || one)                     /* 1 after r > 0: a nontrivial root of 1 */
                done[l] = 1;
        }
    }
    mpz_clear(t);
    for (l = 0; l < LANES; l++)
        mpz_clear(e[l]);
    return 1;
}

/* ---- one base, up to 8 exponents: the shared squaring chain on the single-operation kernel
 * (ea_ifma1.h), the 8 exponents' bucket multiplications in one lane product per window (lane
 * l: exponent l). Both work in the same Montgomery domain (R = 2^2080), so the chain's value
 * goes to the lanes as it is. */
#define SB_MAX_C 12

static int shared_chain(uint64_t *out, const uint64_t *B, const mpz_t *exps, size_t k,
                        const ifma_ctx *ctx, const mpz_t n)
{
    size_t bits = 1, l, d, win, nwin, nb;
    uint64_t *buckets, *tmp, *run, *acc, cur[L];
    long long idx[LANES];
    unsigned c = 2, s;
    double best = -1.0;
    if (k == 0 || k > LANES)
        return EA_ERR_ARGUMENT;
    for (l = 0; l < k; l++)
        if (mpz_sgn(exps[l]) > 0 && mpz_sizeinbase(exps[l], 2) > bits)
            bits = mpz_sizeinbase(exps[l], 2);
    for (s = 2; s <= SB_MAX_C; s++) {           /* lane products: windows + bucket combination */
        double cost = (double)((bits + s - 1) / s) + 2.0 * (double)(1u << s);
        if (best < 0 || cost < best) {
            best = cost;
            c = s;
        }
    }
    nb = (size_t)1 << c;
    nwin = (bits + c - 1) / c;
    buckets = alloc64((nb + 3) * L * LANES * sizeof(uint64_t));
    if (buckets == NULL)
        return EA_ERR_NOMEM;
    tmp = VEC(buckets, nb);
    run = VEC(buckets, nb + 1);
    acc = VEC(buckets, nb + 2);
    buckets_init(buckets, nb, ctx);
    memcpy(cur, B, sizeof cur);
    for (win = 0; win < nwin; win++) {
        int any = 0;
        for (l = 0; l < LANES; l++) {
            unsigned dig = l < k ? ea_exp_bits(exps[l], win * c, c) : 0;
            idx[l] = (long long)dig * L * LANES + (long long)l;
            any |= dig != 0;
        }
        if (any)                                /* the buckets' lines, during the squarings */
            for (l = 0; l < LANES; l++)
                for (d = 0; d < L; d++)
                    __builtin_prefetch(buckets + idx[l] + d * LANES);
        if (win > 0 && !ea_ifma1_sqr(cur, c, n)) {
            free(buckets);
            return EA_ERR_NOMEM;
        }
        if (any)
            buckets_collect(buckets, tmp, cur, idx, ctx);
    }
    buckets_combine(acc, run, buckets, nb, ctx);
    for (l = 0; l < k; l++)
        for (d = 0; d < L; d++)
            out[l * L + d] = acc[d * LANES + l];
    free(buckets);
    return EA_OK;
}

int ea_ifma_shared_base(mp_limb_t *out, const mp_limb_t *B, const mpz_t *exps, size_t k,
                        const ea_mont *mont, ea_mont_work *w)
{
    ifma_ctx *ctx;
    uint64_t *res;
    size_t l;
    mpz_t v;
    int rc = EA_OK;
    if (k == 0 || k > LANES)
        return EA_ERR_ARGUMENT;
    ctx = alloc64(sizeof *ctx);
    res = malloc((k + 1) * L * sizeof *res);
    if (ctx == NULL || res == NULL) {
        free(ctx); free(res);
        return EA_ERR_NOMEM;
    }
    ctx_init(ctx, mont->nz);
    mpz_init(v);
    ea_mont_from(v, B, mont, w);                /* ea_mont form -> R = 2^2080 and back */
    if (!ea_ifma1_to_mont(res + k * L, v, mont->nz))
        rc = EA_ERR_NOMEM;
    if (rc == EA_OK)
        rc = shared_chain(res, res + k * L, exps, k, ctx, mont->nz);
    for (l = 0; l < k && rc == EA_OK; l++) {
        if (!ea_ifma1_from_mont(v, res + l * L, mont->nz))
            rc = EA_ERR_NOMEM;
        else
            ea_mont_to(LIMB(out, l, mont->n), v, mont);
    }
    mpz_clear(v);
    free(res); free(ctx);
    return rc;
}

/* ---- lane chains: 8 bases, one per lane, each with its own squaring chain and up to k
 * exponents (bucket method per lane and exponent). The buckets of lane l lie together (L
 * scalar limbs each), so one bucket product touches 5 cache lines per lane; the digits are
 * known ahead, so the next window's buckets are prefetched during its squarings. */
#define CHAIN_MAX_C 10

struct ea_ifma_lanes {
    ifma_ctx ctx;
};

ea_ifma_lanes *ea_ifma_lanes_new(const mpz_t n)
{
    ea_ifma_lanes *lc = alloc64(sizeof *lc);
    if (lc != NULL)
        ctx_init(&lc->ctx, n);
    return lc;
}

void ea_ifma_lanes_free(ea_ifma_lanes *lc)
{
    free(lc);
}

int ea_ifma_shared_chain(const ea_ifma_lanes *lc, uint64_t *out, const uint64_t *base,
                         const mpz_t *exps, size_t k, const mpz_t n)
{
    return shared_chain(out, base, exps, k, &lc->ctx, n);
}

/* Lane vector out from rows: lane l takes the L scalar limbs at words off[l] of rows. */
__attribute__((target("avx512f")))
static void gather_rows(uint64_t *out, const uint64_t *rows, const long long *off)
{
    __m512i vi = _mm512_loadu_si512((const void *)off);
    const __m512i step = _mm512_set1_epi64(1);
    int i;
    for (i = 0; i < L; i++, vi = _mm512_add_epi64(vi, step))
        _mm512_storeu_si512((void *)(out + LANES * i),
                            _mm512_i64gather_epi64(vi, (const void *)rows, 8));
}

__attribute__((target("avx512f")))
static void scatter_rows(uint64_t *rows, const uint64_t *in, const long long *off)
{
    __m512i vi = _mm512_loadu_si512((const void *)off);
    const __m512i step = _mm512_set1_epi64(1);
    int i;
    for (i = 0; i < L; i++, vi = _mm512_add_epi64(vi, step))
        _mm512_i64scatter_epi64((void *)rows, vi,
                                _mm512_loadu_si512((const void *)(in + LANES * i)), 8);
}

static void prefetch_rows(const uint64_t *rows, const long long *off)
{
    int l, q;
    for (l = 0; l < LANES; l++)
        for (q = 0; q < L * 8; q += 64)
            __builtin_prefetch((const char *)(rows + off[l]) + q);
}

/* Bucket window for chains of `bits` bits: per exponent bits/c products plus 2^(c+1) to
 * combine the buckets. */
static unsigned chain_window(size_t bits)
{
    unsigned c, best = 1;
    double bc = -1.0;
    for (c = 1; c <= CHAIN_MAX_C; c++) {
        double cost = (double)((bits + c - 1) / c) + 2.0 * (double)(1u << c);
        if (bc < 0 || cost < bc) {
            bc = cost;
            best = c;
        }
    }
    return best;
}

int ea_ifma_chains(const ea_ifma_lanes *lc, uint64_t *out, const uint64_t *bases,
                   const mpz_t *exps, size_t m, size_t k)
{
    const ifma_ctx *ctx = &lc->ctx;
    size_t bits = 1, nb, nwin, win, i, l, d, j, nvec;
    uint64_t *buckets, *cur, *tmp, *run, *acc;
    long long *off;
    unsigned c, s;
    if (m == 0 || m > LANES || k == 0)
        return EA_ERR_ARGUMENT;
    for (i = 0; i < m * k; i++)
        if (mpz_sgn(exps[i]) > 0 && mpz_sizeinbase(exps[i], 2) > bits)
            bits = mpz_sizeinbase(exps[i], 2);
    c = chain_window(bits);
    nb = (size_t)1 << c;
    nwin = (bits + c - 1) / c;
    nvec = LANES * k * nb;                      /* buckets, in per-lane blocks of k * nb */
    buckets = alloc64((nvec + 4 * LANES) * L * sizeof(uint64_t));
    off = malloc(k * LANES * sizeof *off);
    if (buckets == NULL || off == NULL) {
        free(buckets); free(off);
        return EA_ERR_NOMEM;
    }
    cur = buckets + nvec * L;
    tmp = VEC(cur, 1);
    run = VEC(cur, 2);
    acc = VEC(cur, 3);
    for (d = 0; d < nvec; d++)                  /* every bucket = 1 (R mod N) */
        for (j = 0; j < L; j++)
            buckets[d * L + j] = ctx->one[j * LANES];
    for (j = 0; j < L; j++)
        for (l = 0; l < LANES; l++)
            cur[j * LANES + l] = l < m ? bases[l * L + j] : ctx->one[j * LANES];
#define BUCKET(l, i, d) ((long long)((((l) * k + (i)) * nb + (d)) * L))
    for (win = 0; win < nwin; win++) {
        unsigned any = 0;
        for (i = 0; i < k; i++)                 /* this window's buckets, fetched ahead */
            for (l = 0; l < LANES; l++) {
                unsigned dig = l < m ? ea_exp_bits(exps[l * k + i], win * c, c) : 0;
                off[i * LANES + l] = BUCKET(l, i, dig);
                any |= (unsigned)(dig != 0) << i;
            }
        for (i = 0; i < k; i++)
            if (any >> i & 1)
                prefetch_rows(buckets, off + i * LANES);
        if (win > 0)
            for (s = 0; s < c; s++)
                ams(cur, cur, ctx);
        for (i = 0; i < k; i++) {
            if (!(any >> i & 1))
                continue;
            gather_rows(tmp, buckets, off + i * LANES);
            amm(tmp, tmp, 0, cur, ctx);
            scatter_rows(buckets, tmp, off + i * LANES);
        }
    }
    for (i = 0; i < k; i++) {                   /* out = prod_d bucket_d^d, per lane */
        memcpy(run, ctx->one, L * LANES * sizeof(uint64_t));
        memcpy(acc, ctx->one, L * LANES * sizeof(uint64_t));
        for (d = nb - 1; d >= 1; d--) {
            for (l = 0; l < LANES; l++)
                off[l] = BUCKET(l, i, d);
            gather_rows(tmp, buckets, off);
            amm(run, run, 0, tmp, ctx);
            amm(acc, acc, 0, run, ctx);
        }
        for (l = 0; l < m; l++)
            for (j = 0; j < L; j++)
                out[(l * k + i) * L + j] = acc[j * LANES + l];
    }
#undef BUCKET
    free(buckets); free(off);
    return EA_OK;
}
#endif

int ea_ifma_strong_base2_apply(void)
{
#ifdef EA_IFMA_COMPILED
    return (ea_fast_paths() & EA_PATH_IFMA) != 0;
#else
    return 0;
#endif
}

#ifndef EA_IFMA_COMPILED
int ea_ifma_strong_base2_8(unsigned char *pass, const mpz_t *c, size_t count)
{
    (void)pass; (void)c; (void)count;
    return 0;
}

int ea_ifma_shared_base(mp_limb_t *out, const mp_limb_t *B, const mpz_t *exps, size_t k,
                        const ea_mont *mont, ea_mont_work *w)
{
    (void)out; (void)B; (void)exps; (void)k; (void)mont; (void)w;
    return EA_ERR_ARGUMENT;
}

ea_ifma_lanes *ea_ifma_lanes_new(const mpz_t n)
{
    (void)n;
    return NULL;
}

void ea_ifma_lanes_free(ea_ifma_lanes *lc)
{
    (void)lc;
}

int ea_ifma_chains(const ea_ifma_lanes *lc, uint64_t *out, const uint64_t *bases,
                   const mpz_t *exps, size_t m, size_t k)
{
    (void)lc; (void)out; (void)bases; (void)exps; (void)m; (void)k;
    return EA_ERR_ARGUMENT;
}

int ea_ifma_shared_chain(const ea_ifma_lanes *lc, uint64_t *out, const uint64_t *base,
                         const mpz_t *exps, size_t k, const mpz_t n)
{
    (void)lc; (void)out; (void)base; (void)exps; (void)k; (void)n;
    return EA_ERR_ARGUMENT;
}
#endif

int ea_ifma_apply(const mpz_t n)
{
#ifdef EA_IFMA_COMPILED
    return (ea_fast_paths() & EA_PATH_IFMA) && mpz_sizeinbase(n, 2) <= EA_IFMA_MAX_BITS
           && mpz_sizeinbase(n, 2) > 1024;
#else
    (void)n;
    return 0;
#endif
}

/* A spawned thread starts ~15 us late and joins ~16 us after its last task (ea_thread.c),
 * about this many GMP multiplications once a call on more than one thread: it is what made
 * two items on two threads slower by the weighted product than as two single exponentiations
 * on one (70 against 66 us an item), which the plans alone rated the other way. */
#define THREAD_START_COST 30.0

double ea_ifma_cost(size_t count, size_t bits, unsigned threads)
{
#ifdef EA_IFMA_COMPILED
    return plan_for(count, bits ? bits : 1, threads).cost + (threads > 1 ? THREAD_START_COST : 0.0);
#else
    (void)count; (void)bits; (void)threads;
    return 1e300;
#endif
}

int ea_ifma_multi_exp(mpz_t r, const mpz_t *bases, const mpz_t *exps, size_t count,
                      const mpz_t n, unsigned threads)
{
    return ea_ifma_multi_exp_beside(r, bases, exps, count, n, threads, NULL, NULL);
}

int ea_ifma_multi_exp_beside(mpz_t r, const mpz_t *bases, const mpz_t *exps, size_t count,
                             const mpz_t n, unsigned threads, ea_task_fn side, void *side_arg)
{
#ifdef EA_IFMA_COMPILED
    /* the conversions and the final combination run on the single-operation kernel
     * (ea_ifma1.h), which works in the same Montgomery domain (R = 2^2080) */
    ifma_ctx *ctx = alloc64(sizeof *ctx);
    lane_plan plan;
    size_t j, bits = 1, windows, groups = (count + LANES - 1) / LANES;
    uint64_t *B = NULL, *S, *T = NULL;
    size_t *top, *order;            /* per prep: rounds reading it; the groups, by their top */
    pipeline pl;
    tab_job tj;
    pip_job pj;
    conv_job cj;
    int rc;
    if (threads < 1)
        threads = 1;
    for (j = 0; j < count; j++)
        if (mpz_sgn(exps[j]) > 0 && mpz_sizeinbase(exps[j], 2) > bits)
            bits = mpz_sizeinbase(exps[j], 2);
    plan = plan_for(count, bits, threads);
    windows = (bits + plan.c - 1) / plan.c;
    S = malloc(windows * L * sizeof(uint64_t));
    if (plan.tables)
        T = alloc64((groups ? groups : 1) * ((size_t)L * LANES * sizeof(uint64_t) << plan.c));
    else
        B = alloc64((count ? count : 1) * L * sizeof(uint64_t));
    top = malloc(2 * (groups + threads) * sizeof(size_t));
    if (ctx == NULL || S == NULL || (plan.tables ? T == NULL : B == NULL) || top == NULL) {
        free(ctx); free(B); free(S); free(T); free(top);
        return EA_ERR_NOMEM;
    }
    order = top + groups + threads;
    ctx_init(ctx, n);
    pl.windows = windows; pl.rounds = (windows + LANES - 1) / LANES; pl.c = plan.c; pl.S = S;
    pl.n = n; pl.side = side; pl.side_arg = side_arg; pl.prep_top = top;
    if (plan.tables) {          /* each group converts its own bases */
        tab_order(order, top, exps, count, plan.c);
        tj.ctx = ctx; tj.bases = bases; tj.n = n; tj.exps = exps; tj.count = count;
        tj.windows = windows; tj.c = plan.c; tj.T = T; tj.S = S; tj.order = order;
        pl.prep = tab_group; pl.round = tab_round; pl.prep_job = pl.round_job = &tj;
        for (pl.nprep = 0; pl.nprep < groups && top[pl.nprep] > 0; pl.nprep++)
            ;                           /* a group of zero exponents needs no table */
    } else {
        cj.B = B; cj.bases = bases; cj.n = n; cj.count = count;
        cj.parts = count >= CONV_PARALLEL ? threads : 1;
        pj.ctx = ctx; pj.B = B; pj.exps = exps; pj.count = count; pj.windows = windows;
        pj.c = plan.c; pj.S = S;
        pl.prep = conv_part; pl.round = pip_round; pl.prep_job = &cj; pl.round_job = &pj;
        pl.nprep = cj.parts;
        for (j = 0; j < cj.parts; j++)
            top[j] = pl.rounds;         /* every round reads every base */
    }
    rc = run_pipeline(r, &pl, threads);
    free(B); free(S); free(T); free(ctx); free(top);
    return rc;
#else
    (void)r; (void)bases; (void)exps; (void)count; (void)n; (void)threads; (void)side;
    (void)side_arg;
    return EA_ERR_ARGUMENT;
#endif
}
