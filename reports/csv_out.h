/* CSV output through libcsv: plain fields are written as they are, fields holding a
 * comma, quote, CR/LF or edge spaces are quoted by csv_fwrite. */
#ifndef VB_CSV_OUT_H
#define VB_CSV_OUT_H

#include <stddef.h>
#include <stdio.h>

/* Writes fields[0..n) as one CSV record ending in "\n". Returns 0, or -1 when the stream
 * reports an error. */
int vb_csv_write_row(FILE *f, const char *const *fields, size_t n);

#endif
