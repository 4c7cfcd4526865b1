/* The one number parser for outside text (options, environment, data files): the whole text
 * must be the number (no blanks, no trailing junk, no empty text), in the range given.
 * Each returns 0 and sets *out, or -1 leaving *out alone; callers name the option or file
 * and the range in their message (see cli/options.h, which does that for options). */
#ifndef VB_PARSE_H
#define VB_PARSE_H

#include <stdint.h>

/* Decimal integer with an optional leading '-' (or '+'), within [lo, hi]. */
int vb_parse_long(const char *text, long lo, long hi, long *out);
/* The same into an int (lo and hi must fit an int). */
int vb_parse_int(const char *text, int lo, int hi, int *out);
/* Decimal digits only (no sign, no blanks), at most max: counts and indices in data files. */
int vb_parse_uint(const char *text, uint64_t max, uint64_t *out);
/* A finite decimal or exponent number within [lo, hi]; NaN, infinities, hex floats and
 * values that overflow are refused. */
int vb_parse_double(const char *text, double lo, double hi, double *out);
/* A decimal or exponent number, for data files: 0; VB_PARSE_SYNTAX for anything else (NaN,
 * hex floats, blanks, junk); VB_PARSE_RANGE when it overflows a double. With allow_inf,
 * "inf"/"infinity" (any case, optional sign) are the infinities. */
enum { VB_PARSE_SYNTAX = -1, VB_PARSE_RANGE = -2 };
int vb_parse_real(const char *text, int allow_inf, double *out);
/* A comma-separated list of ints, each in [lo, hi], at most max entries, none empty. */
int vb_parse_int_list(const char *text, int lo, int hi, int *out, int max, int *n);

#endif
