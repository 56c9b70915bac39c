/* ea_rows.c - fixed-width big-endian rows to and from mpz. */
#include <string.h>
#include "ea_rows.h"

void ea_rows_import(mpz_t *out, const unsigned char *rows, size_t count, size_t width)
{
    size_t i;
    for (i = 0; i < count; i++) {
        if (width)
            mpz_import(out[i], width, 1, 1, 1, 0, rows + i * width);
        else
            mpz_set_ui(out[i], 0);
    }
}

void ea_rows_weights(mpz_t *rs, size_t count, unsigned security)
{
    size_t i;
    for (i = 0; i < count; i++) {
        mpz_fdiv_r_2exp(rs[i], rs[i], security);
        mpz_setbit(rs[i], 0);
    }
}

int ea_rows_canonical(unsigned char *key, size_t nb, const mpz_t w, const mpz_t n,
                      mpz_t scratch)
{
    mpz_srcptr k = w;
    size_t len, cnt = 0;
    memset(key, 0, nb);
    if (mpz_sgn(w) < 0 || mpz_cmp(w, n) >= 0)
        return 0;               /* not a residue: no key (w = n + y must not pass as y) */
    mpz_sub(scratch, n, w);
    if (mpz_cmp(scratch, w) < 0)
        k = scratch;
    len = mpz_sgn(k) ? (mpz_sizeinbase(k, 2) + 7) / 8 : 0;
    if (len > nb)
        return 0;
    if (len)
        mpz_export(key + nb - len, &cnt, 1, 1, 1, 0, k);
    return 1;
}
