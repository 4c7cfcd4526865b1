#include "core/parse.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int vb_parse_long(const char *text, long lo, long hi, long *out)
{
    if (!text || !*text || strchr(" \t\n\r\f\v", text[0]))
        return -1;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int vb_parse_int(const char *text, int lo, int hi, int *out)
{
    long v;
    if (vb_parse_long(text, lo, hi, &v))
        return -1;
    *out = (int)v;
    return 0;
}

int vb_parse_uint(const char *text, uint64_t max, uint64_t *out)
{
    if (!text || !*text)
        return -1;
    uint64_t v = 0;
    for (const char *s = text; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned digit = (unsigned)(*s - '0');
        if (digit > max || v > (max - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

int vb_parse_real(const char *text, int allow_inf, double *out)
{
    if (!text || !*text)
        return VB_PARSE_SYNTAX;
    const char *body = text + (text[0] == '+' || text[0] == '-');
    if (!strcasecmp(body, "inf") || !strcasecmp(body, "infinity")) {
        if (!allow_inf)
            return VB_PARSE_SYNTAX;
        *out = text[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    /* strtod also reads "nan", hex floats and leading blanks: only plain decimal text
     * (digits, sign, point, exponent) is a number here. */
    for (const char *s = text; *s; s++)
        if (!strchr("0123456789+-.eE", *s))
            return VB_PARSE_SYNTAX;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end)
        return VB_PARSE_SYNTAX;
    if (errno == ERANGE && isinf(v))
        return VB_PARSE_RANGE; /* underflow to 0 or a denormal is a fine value */
    *out = v;
    return 0;
}

int vb_parse_double(const char *text, double lo, double hi, double *out)
{
    double v;
    if (vb_parse_real(text, 0, &v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int vb_parse_int_list(const char *text, int lo, int hi, int *out, int max, int *n)
{
    if (!text || !*text)
        return -1;
    int count = 0;
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[32];
        if (len == 0 || len >= sizeof item || count == max)
            return -1;
        memcpy(item, p, len);
        item[len] = 0;
        if (vb_parse_int(item, lo, hi, &out[count]))
            return -1;
        count++;
        if (!comma)
            break;
        p = comma + 1;
    }
    *n = count;
    return 0;
}
