#include "core/csv_write.h"

#include <csv.h>
#include <string.h>

/* Commas, quotes and line breaks need quotes; so do edge blanks, which readers may trim. */
static int needs_quotes(const char *s)
{
    size_t len = strlen(s);
    if (len && (s[0] == ' ' || s[len - 1] == ' ' || s[0] == '\t' || s[len - 1] == '\t'))
        return 1;
    return strpbrk(s, ",\"\r\n") != NULL;
}

int vb_csv_field(FILE *f, const char *s)
{
    if (!needs_quotes(s))
        return fputs(s, f) < 0 ? -1 : 0;
    return csv_fwrite(f, s, strlen(s)) == 0 ? 0 : -1;
}

int vb_csv_write_row(FILE *f, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        if (vb_csv_field(f, fields[i] ? fields[i] : ""))
            return -1;
    }
    fputc('\n', f);
    return ferror(f) ? -1 : 0;
}

int vb_csv_encode(char *buf, size_t size, const char *s)
{
    size_t len = strlen(s);
    if (!needs_quotes(s)) {
        if (len + 1 > size)
            return -1;
        memcpy(buf, s, len + 1);
        return (int)len;
    }
    size_t need = csv_write(NULL, 0, s, len);
    if (need + 1 > size)
        return -1;
    csv_write(buf, size, s, len);
    buf[need] = 0;
    return (int)need;
}
