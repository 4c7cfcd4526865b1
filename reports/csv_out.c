#include "reports/csv_out.h"

#include <csv.h>
#include <string.h>

static int needs_quotes(const char *s, size_t len)
{
    if (len && (s[0] == ' ' || s[len - 1] == ' ' || s[0] == '\t' || s[len - 1] == '\t'))
        return 1;
    return strpbrk(s, ",\"\r\n") != NULL;
}

int vb_csv_write_row(FILE *f, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = fields[i] ? fields[i] : "";
        size_t len = strlen(s);
        if (i)
            fputc(',', f);
        if (needs_quotes(s, len)) {
            if (csv_fwrite(f, s, len))
                return -1;
        } else {
            fwrite(s, 1, len, f);
        }
    }
    fputc('\n', f);
    return ferror(f) ? -1 : 0;
}
