/* ea_rows.c - fixed-width big-endian rows to and from mpz. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ea_rows.h"
#include "ea_status.h"

#define LIMB_BYTES sizeof(mp_limb_t)

/* The big-endian number of len bytes at b (mpz_import with 1-byte words goes byte by byte
 * through a generic loop: a third of the row path's time at t = 10^5). */
void ea_be_import(mpz_t out, const unsigned char *b, size_t len)
{
    size_t limbs = (len + LIMB_BYTES - 1) / LIMB_BYTES, k, i;
    mp_limb_t *d;
    if (len == 0 || GMP_NAIL_BITS != 0) {
        mpz_import(out, len, 1, 1, 1, 0, b);
        return;
    }
    d = mpz_limbs_write(out, (mp_size_t)limbs);
    for (k = 0; k < limbs; k++) {           /* limb k: the bytes ending LIMB_BYTES * k from the end */
        size_t end = len - k * LIMB_BYTES, start = end > LIMB_BYTES ? end - LIMB_BYTES : 0;
        mp_limb_t v = 0;
        if (end - start == LIMB_BYTES)
            for (i = 0; i < LIMB_BYTES; i++)    /* a constant count: one byte-swapped load */
                v = v << 8 | b[start + i];
        else
            for (i = start; i < end; i++)
                v = v << 8 | b[i];
        d[k] = v;
    }
    mpz_limbs_finish(out, (mp_size_t)limbs);
}

void ea_rows_import(mpz_t *out, const unsigned char *rows, size_t count, size_t width)
{
    size_t i;
    for (i = 0; i < count; i++)
        ea_be_import(out[i], rows + i * width, width);
}

void ea_rows_weights(mpz_t *rs, size_t count, unsigned security)
{
    size_t i;
    for (i = 0; i < count; i++) {
        mpz_fdiv_r_2exp(rs[i], rs[i], security);
        mpz_setbit(rs[i], 0);
    }
}

/* key = the limbs of min(w, n - w), zero-padded to nl limbs, and 1 if 0 <= w < n (n of at
 * most nl limbs); 0 for any other w: an out-of-range w = n + y must not be merged with the
 * statement of y. Keys are compared for equality only, so limb order is as good as bytes. */
static int canonical(unsigned char *key, size_t nl, const mpz_t w, const mpz_t n,
                     mpz_t scratch)
{
    mpz_srcptr k = w;
    if (mpz_sgn(w) < 0 || mpz_cmp(w, n) >= 0)
        return 0;               /* not a residue: no key (w = n + y must not pass as y) */
    mpz_sub(scratch, n, w);
    if (mpz_cmp(scratch, w) < 0)
        k = scratch;
    memset(key, 0, nl * LIMB_BYTES);
    if (mpz_size(k))
        memcpy(key, mpz_limbs_read(k), mpz_size(k) * LIMB_BYTES);
    return 1;
}

/* tag: the key's first 8 bytes as a number, compared before the key itself (any total order
 * serves that puts equal keys side by side) */
struct keyed { uint64_t tag; const unsigned char *key; size_t len, row; };

/* by tag, key, then row: the first row of a statement heads its run */
static int by_key(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    int c = x->tag != y->tag ? (x->tag > y->tag ? 1 : -1) : memcmp(x->key, y->key, x->len);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

static int same_key(const struct keyed *x, const struct keyed *y)
{
    return x->tag == y->tag && memcmp(x->key, y->key, x->len) == 0;
}

int ea_rows_statements(size_t *owner, size_t *distinct, size_t *count, size_t *first_bad,
                       const mpz_t *ws, const unsigned char *xs, size_t t, size_t xw,
                       const mpz_t n)
{
    size_t nl = mpz_size(n), len = xw + nl * LIMB_BYTES, i, k = 0;
    unsigned char *keys = malloc(t * len + 1);
    struct keyed *order = malloc((t ? t : 1) * sizeof *order);
    size_t *head = malloc((t ? t : 1) * sizeof *head);
    int rc = EA_OK;
    mpz_t scratch;
    mpz_init(scratch);
    if (keys == NULL || order == NULL || head == NULL) {
        rc = EA_ERR_NOMEM;
        goto done;
    }
    for (i = 0; i < t; i++) {
        unsigned char *key = keys + i * len;    /* x first: shorter, ends most comparisons */
        if (!canonical(key + xw, nl, ws[i], n, scratch)) {
            *first_bad = i;
            rc = EA_ERR_ELEMENT;
            goto done;
        }
        if (xw)
            memcpy(key, xs + i * xw, xw);
        memcpy(&order[i].tag, key, sizeof order[i].tag);    /* len >= one limb >= 8 */
        order[i].key = key;
        order[i].len = len;
        order[i].row = i;
    }
    /* a sort, not a hash table: O(t log t) whatever rows a prover crafts */
    qsort(order, t, sizeof *order, by_key);
    for (i = 0; i < t; i++)
        head[order[i].row] = i && same_key(&order[i], &order[i - 1])
                             ? head[order[i - 1].row] : order[i].row;
    for (i = 0; i < t; i++) {   /* distinct statements numbered in the order of their first row */
        if (head[i] == i) {
            owner[i] = k;
            distinct[k++] = i;
        } else
            owner[i] = owner[head[i]];
    }
    *count = k;
done:
    mpz_clear(scratch);
    free(keys);
    free(order);
    free(head);
    return rc;
}
