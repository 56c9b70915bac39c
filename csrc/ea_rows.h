/* ea_rows.h - (internal) batch inputs as fixed-width big-endian rows (the bindings' buffer
 * protocol path, issue 12): import without per-item conversions, the verifier's weights from
 * random bytes, and the statement key that makes w and N - w one witness. */
#ifndef EA_ROWS_H
#define EA_ROWS_H

#include <stddef.h>
#include <gmp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ea_be_import(out, b, len): out = the big-endian number of len bytes at b (initialised). */
void ea_be_import(mpz_t out, const unsigned char *b, size_t len);

/* ea_rows_import(out, rows, count, width): out[i] = row i (width big-endian bytes); out[i]
 * initialised by the caller. */
void ea_rows_import(mpz_t *out, const unsigned char *rows, size_t count, size_t width);

/* ea_rows_weights(rs, count, security): rs[i] <- (rs[i] mod 2^security) | 1: fresh random
 * rows become odd security-bit weights (as edgeacc.batch._weights draws them). */
void ea_rows_weights(mpz_t *rs, size_t count, unsigned security);

/* ea_rows_statements(owner, distinct, count, first_bad, ws, xs, t, xw, n): merge the t rows
 * (ws[i], xs row i of xw bytes) into distinct statements, w and n - w being one witness:
 * owner[i] = the statement of row i, distinct[0..count) = the first row of each statement, in
 * row order. EA_ERR_ELEMENT with *first_bad = i if ws[i] is outside [0, n) (w = n + y must not
 * be merged with the statement of y); EA_ERR_NOMEM. owner, distinct: t entries each. */
int ea_rows_statements(size_t *owner, size_t *distinct, size_t *count, size_t *first_bad,
                       const mpz_t *ws, const unsigned char *xs, size_t t, size_t xw,
                       const mpz_t n);

#ifdef __cplusplus
}
#endif
#endif
