/* A program of another project using the installed library through pkg-config only:
 *   cc consumer.c $(pkg-config --cflags --libs edgeacc) -o consumer
 * Accumulates three records over a small modulus, checks a witness, a wrong witness, a
 * batch, a reusable table and the version; prints one line per check, exits 0 if all hold. */
#include <stdio.h>
#include <string.h>
#include <gmp.h>
#include <edgeacc.h>

static int failures = 0;

static void check(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "ok" : "FAILED");
    failures += !ok;
}

int main(void)
{
    static const char *records[3] = {"alpha", "beta", "gamma"};
    static const unsigned char domain[] = "consumer";
    mpz_t n, g, x[3], w, acc, two, r;
    uint32_t nonce;
    int ok, i;
    unsigned char bad[1];
    size_t vidx[1] = {0};

    check("version", strcmp(ea_version(), EDGEACC_VERSION_STRING) == 0 &&
                         ea_version_number() == EDGEACC_VERSION);
    /* n = p*q for two fixed primes (a toy modulus: a test, not a deployment) */
    mpz_init_set_str(n, "d5c1f3c2a4a6e8b0c91d2e3f4a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d", 16);
    mpz_nextprime(n, n);
    mpz_init_set_str(g, "f1e2d3c4b5a697887766554433221100ffeeddccbbaa99887766554433221101", 16);
    mpz_nextprime(g, g);
    mpz_mul(n, n, g);
    mpz_set_ui(g, 65537);
    for (i = 0; i < 3; i++) {
        mpz_init(x[i]);
        check("hash_to_prime",
              ea_hash_to_prime(x[i], &nonce, domain, sizeof domain - 1,
                               (const unsigned char *)records[i], strlen(records[i]), 256,
                               1u << 20) == EA_OK);
    }
    mpz_inits(w, acc, two, r, NULL);
    check("accumulate", ea_powm_product(acc, g, (const mpz_t *)x, 3, n) == EA_OK);
    check("witness", ea_powm_product(w, g, (const mpz_t *)x + 1, 2, n) == EA_OK);
    check("verify", ea_verify_membership(w, x[0], acc, n, &ok) == EA_OK && ok);
    check("verify rejects another element",
          ea_verify_membership(w, x[1], acc, n, &ok) == EA_OK && !ok);
    mpz_set_ui(two, 0x10001);
    mpz_setbit(two, 127); /* an odd 128-bit batch weight */
    check("batch_verify",
          ea_batch_verify(bad, (const mpz_t *)&w, (const mpz_t *)x, (const mpz_t *)&two, vidx, 1,
                          (const mpz_t *)&acc, 1, n, 1, NULL) == EA_OK && bad[0] == 0);
    {
        ea_mexp_table *table = NULL;
        mpz_t bases[2], exps[2], direct;
        mpz_init_set(bases[0], g); mpz_init_set(bases[1], w);
        mpz_init_set(exps[0], x[0]); mpz_init_set(exps[1], x[1]);
        mpz_init(direct);
        check("table", ea_mexp_table_new(&table, (const mpz_t *)bases, 2, n, 2) == EA_OK &&
                           ea_mexp_table_eval(r, table, (const mpz_t *)exps, 2, 1, NULL) == EA_OK &&
                           ea_multi_exp(direct, (const mpz_t *)bases, (const mpz_t *)exps, 2, n,
                                        EA_MEXP_AUTO, 0, 1, NULL) == EA_OK &&
                           mpz_cmp(r, direct) == 0);
        ea_mexp_table_free(table);
        mpz_clears(bases[0], bases[1], exps[0], exps[1], direct, NULL);
    }
    mpz_set_ui(two, 1000);
    check("an even modulus is a status, not a crash", ea_powm(r, g, x[0], two) == EA_ERR_MODULUS);
    printf("edgeacc %s: %d failures\n", ea_version(), failures);
    for (i = 0; i < 3; i++)
        mpz_clear(x[i]);
    mpz_clears(n, g, w, acc, two, r, NULL);
    return failures != 0;
}
