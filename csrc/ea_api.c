/* ea_api.c - the version of the linked library; heap-allocated multi-exponentiation tables
 * for callers that see ea_mexp_table only as an opaque type (the public header). */
#include <stdlib.h>
#include "ea_api.h"
#include "ea_multiexp.h"

const char *ea_version(void)
{
    return EDGEACC_VERSION_STRING;
}

int ea_version_number(void)
{
    return EDGEACC_VERSION;
}

int ea_mexp_table_new(ea_mexp_table **t, const mpz_t *bases, size_t count, const mpz_t n,
                      unsigned c)
{
    ea_mexp_table *table;
    int rc;
    if (t == NULL)
        return EA_ERR_ARGUMENT;
    *t = NULL;
    table = malloc(sizeof *table);
    if (table == NULL)
        return EA_ERR_NOMEM;
    rc = ea_mexp_table_init(table, bases, count, n, c);
    if (rc != EA_OK) {
        free(table);
        return rc;
    }
    *t = table;
    return EA_OK;
}

void ea_mexp_table_free(ea_mexp_table *t)
{
    if (t == NULL)
        return;
    ea_mexp_table_clear(t);
    free(t);
}
