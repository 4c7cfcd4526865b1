/* CSV output through libcsv: fields are quoted (csv_write's rules) only when they hold a
 * comma, quote, CR or LF, so ordinary files read back with any CSV reader. */
#ifndef VB_CSVOUT_H
#define VB_CSVOUT_H

#include <stdio.h>

/* Write one field to f (no separator). Returns 0 or -1 on write error. */
int vb_csv_field(FILE *f, const char *s);
/* Write fields[0..n) (NULL = empty) as one record ending in "\n". Returns 0, or -1 when
 * the stream reports an error. */
int vb_csv_write_row(FILE *f, const char *const *fields, size_t n);
/* Encode one field into buf (NUL-terminated); returns the length, or -1 if it does not fit. */
int vb_csv_encode(char *buf, size_t size, const char *s);

#endif
