/* edgeacc.h - public C API of the edgeacc engine (C99 on GMP; no Python): the headers below
 * are the installed ones (csrc/Makefile, setup.py) and their functions the exported symbols.
 * Link: pkg-config --cflags --libs edgeacc. */
#ifndef EDGEACC_H
#define EDGEACC_H

#include "ea_api.h"
#include "ea_status.h"
#include "ea_group.h"
#include "ea_prime.h"
#include "ea_acc.h"
#include "ea_mexp.h"
#include "ea_batch.h"
#include "ea_witness.h"
#include "ea_poe.h"
#include "ea_nonmem.h"
#include "ea_poke.h"
#include "ea_modulus.h"
#include "ea_check.h"
#include "ea_protocol.h"
#include "ea_bytes.h"

#endif
