/* ea_status.h - status codes returned by every public edgeacc C function. */
#ifndef EA_STATUS_H
#define EA_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    EA_OK = 0,
    EA_ERR_MODULUS = 1,      /* modulus zero, even, or too small */
    EA_ERR_EXPONENT = 2,     /* exponent not positive */
    EA_ERR_ELEMENT = 3,      /* group element outside 1 < y < N-1 or not coprime to N */
    EA_ERR_ARGUMENT = 4,     /* other invalid argument (empty data, bad size, NULL) */
    EA_ERR_NOMEM = 5,        /* allocation failed */
    EA_ERR_EXHAUSTED = 6,    /* a bounded search ran out of candidates */
    EA_ERR_NOT_INVERTIBLE = 7,
    EA_ERR_RANDOM = 8        /* the OS random source failed */
} ea_status;

#ifdef __cplusplus
}
#endif
#endif
