/* ea_prime.h - hash-to-prime representatives (DESIGN.md section 2). */
#ifndef EA_PRIME_H
#define EA_PRIME_H

#include <stddef.h>
#include <stdint.h>
#include <gmp.h>
#include "ea_api.h"
#include "ea_status.h"

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

#define EA_H2P_MAX_BITS 256

/* ea_is_probable_prime(x): 1 if x passes BPSW (trial division below 4096, the strong test to
 * base 2, the strong Lucas test with Selfridge's parameters; exact below 2^64), else 0. */
int ea_is_probable_prime(const mpz_t x);

/* ea_hash_candidate(c, domain, dlen, data, len, nonce, bits):
 * c = SHA-256(u8(dlen) || domain || data || be32(nonce)) truncated to bits, top and low bit set. */
int ea_hash_candidate(mpz_t c, const unsigned char *domain, size_t dlen,
                      const unsigned char *data, size_t len, uint32_t nonce, unsigned bits);

/* ea_hash_to_prime(x, &nonce, domain, dlen, data, len, bits, max_nonce):
 * x = the first candidate (nonce = 0, 1, ...) that is a probable prime. */
int ea_hash_to_prime(mpz_t x, uint32_t *nonce, const unsigned char *domain, size_t dlen,
                     const unsigned char *data, size_t len, unsigned bits, uint32_t max_nonce);

/* ea_check_representative(&ok, x, nonce, ...): *ok = (x is candidate `nonce` and prime). */
int ea_check_representative(int *ok, const mpz_t x, uint32_t nonce, const unsigned char *domain,
                            size_t dlen, const unsigned char *data, size_t len, unsigned bits);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
