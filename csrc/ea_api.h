/* ea_api.h - what every public header shares: the library version, the export markers and
 * the operation counts that public functions report. */
#ifndef EA_API_H
#define EA_API_H

/* The version of the library and of the edgeacc distribution (setup.py reads it here). */
#define EDGEACC_VERSION_MAJOR 0
#define EDGEACC_VERSION_MINOR 1
#define EDGEACC_VERSION_PATCH 0
#define EDGEACC_VERSION_STRING "0.1.0"
/* One comparable number: 10000 * major + 100 * minor + patch. */
#define EDGEACC_VERSION \
    (EDGEACC_VERSION_MAJOR * 10000 + EDGEACC_VERSION_MINOR * 100 + EDGEACC_VERSION_PATCH)

/* The library is built with -fvisibility=hidden (csrc/Makefile): the declarations between
 * EA_API_BEGIN and EA_API_END in the public headers are its only exported symbols.
 * EA_NO_EXPORT (the Python extension, which links the sources in) exports none. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(EA_NO_EXPORT)
#define EA_API_BEGIN _Pragma("GCC visibility push(default)")
#define EA_API_END _Pragma("GCC visibility pop")
#else
#define EA_API_BEGIN
#define EA_API_END
#endif

#ifdef __cplusplus
extern "C" {
#endif
EA_API_BEGIN

/* Counts of Montgomery multiplications and squarings (for the paper-reproduction benchmark). */
typedef struct {
    unsigned long mul;
    unsigned long sqr;
} ea_opcount;

/* ea_version(): EDGEACC_VERSION_STRING of the library actually linked. */
const char *ea_version(void);
/* ea_version_number(): EDGEACC_VERSION of the library actually linked. */
int ea_version_number(void);

EA_API_END
#ifdef __cplusplus
}
#endif
#endif
