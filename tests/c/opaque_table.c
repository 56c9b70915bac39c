/* Must NOT compile against the public headers: the table's layout is internal. */
#include <edgeacc.h>
unsigned long layout = sizeof(ea_mexp_table);
