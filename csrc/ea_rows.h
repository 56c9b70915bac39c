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

/* ea_rows_import(out, rows, count, width): out[i] = row i (width big-endian bytes); out[i]
 * initialised by the caller. */
void ea_rows_import(mpz_t *out, const unsigned char *rows, size_t count, size_t width);

/* ea_rows_weights(rs, count, security): rs[i] <- (rs[i] mod 2^security) | 1: fresh random
 * rows become odd security-bit weights (as edgeacc.batch._weights draws them). */
void ea_rows_weights(mpz_t *rs, size_t count, unsigned security);

/* ea_rows_canonical(key, nb, w, n, scratch): key = min(w, n - w) as nb big-endian bytes and 1
 * if 0 <= w < n (n of at most nb bytes); 0 (key zeroed) for any other w, which the caller
 * rejects: an out-of-range w = n + y must not be merged with the statement of y. scratch: an
 * initialised mpz of the caller. */
int ea_rows_canonical(unsigned char *key, size_t nb, const mpz_t w, const mpz_t n,
                       mpz_t scratch);

#ifdef __cplusplus
}
#endif
#endif
